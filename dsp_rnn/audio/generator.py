"""CPU generation with :class:`~dsp_rnn.audio.AudioRNN`: a compiled per-sample loop.

The torch model is exported once (:func:`export_weights`) into float32 numpy arrays, with
LPCNet's trick: each input embedding's share of the GRU's input product is a table
(``table[code] = W_ih[:, part] @ embedding[code]``, the first table holding ``b_ih``), and
the conditioning's share is computed once per frame (the frame MLP in numpy). A numba
kernel then runs the GRU, the output layer, the sampling, the LPC prediction ``p_t`` and
``s_t = p_t + decode(e_t)`` sample by sample, all streams of a batch per step in one
matrix product; the pre-emphasised result is de-emphasised with
:func:`dsp_rnn.filters.deemphasis`.

Seeding: stream ``k`` of a call with ``seed`` draws its uniforms from
``numpy.random.default_rng(seed + k)``, so stream ``k`` of a batch is the single-stream run
with seed ``seed + k``.

Clamping: the generated pre-emphasised sample ``s_t`` is clamped to ``[-1, 1]`` (the range
its mu-law code can say; this keeps the synthesis filter bounded whatever the network
draws). De-emphasis can raise a peak up to ``1 / (1 - preemphasis)``: the output is not
clipped here; the file writers turn a piece down that would clip (:func:`limit_peak`), and
never clip it.

References:
    J.-M. Valin and J. Skoglund, "LPCNet: Improving neural speech synthesis through linear
    prediction", ICASSP 2019 (section 3.4: the embedding x input-weight tables).

>>> from dsp_rnn.audio import AudioRNN, AudioRNNConfig, features
>>> torch.manual_seed(0) and None
>>> m = AudioRNN(AudioRNNConfig(gru_units=16, embedding_size=8, conditioning_size=8))
>>> t = np.arange(1600) / 16000
>>> y = synthesize(m, features(0.3 * np.sin(2 * np.pi * 220 * t), 16000), seed=0, streams=2)
>>> y.shape, y.dtype, bool(np.abs(limit_peak(y)[0]).max() <= 1.0)
((2, 1600), dtype('float32'), True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dsp_rnn._atomic import check_target
from dsp_rnn._validate import check_int, check_seed
from dsp_rnn.audio import _generator_kernels as _k
from dsp_rnn.audio.cache import cached_features
from dsp_rnn.audio.features import Features
from dsp_rnn.audio.model import AudioRNN, AudioRNNConfig, conditioning_inputs
from dsp_rnn.errors import AudioError, InputError, ShapeError
from dsp_rnn.filters import deemphasis
from dsp_rnn.music.audio import mu_law_decode, write_audio

__all__ = [
    "AudioWeights",
    "export_weights",
    "synthesize",
    "teacher_forced_log_probs",
    "resynth",
    "limit_peak",
]


@dataclass(frozen=True)
class AudioWeights:
    """An :class:`~dsp_rnn.audio.AudioRNN` as float32 numpy arrays for the kernel.

    Attributes:
        config: the model's config.
        mlp: ``(w1 (C, n_in), b1 (C,), w2 (C, C), b2 (C,))`` the frame MLP.
        w_cond: ``(3H, C)`` the conditioning's columns of the GRU's input weights.
        table_signal: ``(K, 3H)`` input product of each code of ``s_(t-1)``, plus ``b_ih``.
        table_prediction, table_excitation: ``(K, 3H)`` of ``p_t`` and ``e_(t-1)``
            (``(1, 3H)`` zeros with ``lpc=False``).
        w_hh, b_hh: ``(3H, H)``, ``(3H,)`` the GRU's recurrent weights (gates r, z, n).
        w_out, b_out: ``(K, H)``, ``(K,)`` the output layer.
        decode: ``(K,)`` float64 value of each code (:func:`dsp_rnn.music.mu_law_decode`).
    """

    config: AudioRNNConfig
    mlp: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    w_cond: np.ndarray
    table_signal: np.ndarray
    table_prediction: np.ndarray
    table_excitation: np.ndarray
    w_hh: np.ndarray
    b_hh: np.ndarray
    w_out: np.ndarray
    b_out: np.ndarray
    decode: np.ndarray


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().cpu().to(torch.float32).numpy())


def export_weights(model: AudioRNN) -> AudioWeights:
    """The float32 arrays and tables the kernel runs (see the module's description).

    Raises:
        InputError: ``model`` is not an :class:`~dsp_rnn.audio.AudioRNN`.
    """
    if not isinstance(model, AudioRNN):
        raise InputError(f"model: expected an AudioRNN, got {type(model).__name__}")
    c = model.config
    n_emb = c.embedding_size
    with torch.no_grad():
        p = {name: t.detach().cpu().float() for name, t in model.state_dict().items()}
        w_ih = p["gru.weight_ih_l0"]  # (3H, n_in): columns [s, (p, e), cond]
        table_s = p["embed_signal.weight"] @ w_ih[:, :n_emb].T + p["gru.bias_ih_l0"]  # (K, 3H)
        col = n_emb
        if c.lpc:
            w_p, w_e = w_ih[:, col : col + n_emb], w_ih[:, col + n_emb : col + 2 * n_emb]
            table_p = p["embed_prediction.weight"] @ w_p.T
            table_e = p["embed_excitation.weight"] @ w_e.T
            col += 2 * n_emb
        else:
            table_p = table_e = torch.zeros(1, int(w_ih.shape[0]))
        w1, b1, w2, b2 = (
            _np(p[f"conditioning.{i}.{k}"]) for i in (0, 2) for k in ("weight", "bias")
        )
        decode = mu_law_decode(torch.arange(c.n_codes), c.n_codes).double().numpy()
        return AudioWeights(
            c, (w1, b1, w2, b2), _np(w_ih[:, col:]), _np(table_s), _np(table_p), _np(table_e),
            _np(p["gru.weight_hh_l0"]), _np(p["gru.bias_hh_l0"]), _np(p["out.weight"]),
            _np(p["out.bias"]), np.ascontiguousarray(decode),
        )  # fmt: skip


def _weights(model: AudioRNN | AudioWeights) -> AudioWeights:
    return model if isinstance(model, AudioWeights) else export_weights(model)


def _feature_list(weights: AudioWeights, features: Features | Sequence[Features],
                  streams: int) -> list[Features]:  # fmt: skip
    streams = check_int(streams, "streams", minimum=1)
    if isinstance(features, Features):
        feats = [features] * streams
    else:
        feats = list(features)
        if not feats or not all(isinstance(f, Features) for f in feats):
            raise InputError("features: expected a Features or a non-empty list of Features")
        if streams not in (1, len(feats)):
            raise InputError(f"streams: expected 1 or len(features) = {len(feats)} with a "
                             f"list of features, got {streams}")  # fmt: skip
    cfg = weights.config.features
    for f in feats:
        if f.config != cfg:
            raise InputError(f"features: computed with {f.config}, the model expects {cfg}")
    n_frames = {f.n_frames for f in feats}
    if len(n_frames) != 1:
        raise ShapeError(f"features: expected one frame count for all streams, got "
                         f"{sorted(n_frames)}")  # fmt: skip
    return feats


def _conditioning_gates(weights: AudioWeights, feats: Features) -> np.ndarray:
    """``(F, 3H)`` float32: the conditioning's share of the GRU's input product per frame
    (the frame MLP ``tanh(W2 tanh(W1 x + b1) + b2)`` in numpy, then ``w_cond``)."""
    w1, b1, w2, b2 = weights.mlp
    x = conditioning_inputs(feats)  # (F, n_in)
    cond = np.tanh(np.tanh(x @ w1.T + b1) @ w2.T + b2)  # (F, C)
    return np.ascontiguousarray((cond @ weights.w_cond.T).astype(np.float32))


def _run(weights: AudioWeights, feats: list[Features], *, uniforms: np.ndarray,
         temperature: float, forced: np.ndarray | None) -> tuple[np.ndarray, ...]:  # fmt: skip
    c = weights.config
    n_t = feats[0].n_frames * c.hop_samples
    gates = np.ascontiguousarray(np.stack([_conditioning_gates(weights, f) for f in feats]))
    a = np.ascontiguousarray(np.stack([f.lpc for f in feats]).astype(np.float64))
    mu = np.float32(c.n_codes - 1)
    log1p_mu = np.float32(torch.log1p(torch.tensor(c.n_codes - 1.0)).item())
    n_s = len(feats)
    signal = np.zeros((n_s, n_t), np.float64)
    log_prob = np.zeros((n_s, n_t), np.float64)
    hidden = np.zeros((n_s, c.gru_units), np.float32)  # at rest
    hist = np.zeros((n_s, max(c.lpc_order, 1)), np.float64)
    prev_e = np.zeros(n_s, np.float64)
    teacher = forced is not None
    forced_arr = forced if forced is not None else np.zeros((1, 1), np.float64)
    _k.run_streams(weights.table_signal, weights.table_prediction, weights.table_excitation,
                   gates, np.ascontiguousarray(weights.w_hh.T), weights.b_hh,
                   np.ascontiguousarray(weights.w_out.T), weights.b_out, a,
                   c.hop_samples, c.lpc, weights.decode, mu, log1p_mu, uniforms,
                   float(temperature), teacher, forced_arr, hidden, hist, prev_e, signal,
                   log_prob)  # fmt: skip
    return signal, log_prob


def synthesize(
    model: AudioRNN | AudioWeights,
    features: Features | Sequence[Features],
    *,
    seed: int,
    temperature: float = 1.0,
    streams: int = 1,
) -> np.ndarray:
    """Generate audio from frame features with the sample RNN, sample by sample on the CPU.

    Args:
        model: an :class:`~dsp_rnn.audio.AudioRNN` (exported on each call) or its
            :func:`export_weights` (export once for many calls).
        features: the frame features of every stream (``streams`` copies), or one
            :class:`~dsp_rnn.audio.Features` per stream (a list; same frame count).
        seed: stream ``k`` draws from ``numpy.random.default_rng(seed + k)``
            (``0 <= seed``, ``seed + streams <= 2**63``).
        temperature: sampling from ``softmax(logits / temperature)``, ``>= 0``; 0 takes
            the most likely code (default 1).
        streams: independent streams in one kernel call (default 1).

    Shape:
        Returns ``(streams, n_frames * hop_samples)`` float32 at the model's sample rate.

    Returns:
        The de-emphasised audio, bounded by ``1 / (1 - preemphasis)`` and not clipped (see
        the module's description and :func:`limit_peak`).

    Raises:
        InputError: bad ``seed``, ``temperature`` or ``streams``; features of another
            config. ShapeError: streams of unequal frame counts.

    Properties: numpy and numba, not differentiable; CPU; deterministic given ``seed``.
    """
    w = _weights(model)
    feats = _feature_list(w, features, streams)
    seed = check_seed(seed)
    check_seed(seed + len(feats) - 1, "seed + streams - 1")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not (math.isfinite(temperature) and temperature >= 0)
    ):
        raise InputError(f"temperature: expected a number >= 0, got {temperature!r}")
    n_t = feats[0].n_frames * w.config.hop_samples
    uniforms = np.stack([np.random.default_rng(seed + k).random(n_t) for k in range(len(feats))])
    s, _ = _run(w, feats, uniforms=uniforms, temperature=float(temperature), forced=None)
    coeff = w.config.features.preemphasis
    y = deemphasis(torch.from_numpy(s), coeff).numpy() if coeff != 0.0 else s
    return np.asarray(y, dtype=np.float32)


def limit_peak(signal: np.ndarray, *, peak_db: float = -1.0) -> tuple[np.ndarray, float]:
    """Turn ``signal`` down to ``peak_db`` dBFS if its peak is above full scale (0 dBFS);
    leave it as it is otherwise. Never clips.

    Returns:
        ``(signal, gain_db)``: the float32 signal and the gain applied (0 when unchanged).

    Example:
        >>> y, g = limit_peak(np.array([0.5, -2.0]))
        >>> round(float(np.abs(y).max()), 4), round(g, 2)
        (0.8913, -7.02)
    """
    from dsp_rnn.synth import peak_gain  # the renderer's level rule, numpy only

    y = np.asarray(signal, dtype=np.float32)
    peak = float(np.abs(y).max()) if y.size else 0.0
    if not peak > 1.0:
        return y, 0.0
    gain = peak_gain(peak, peak_db=peak_db)
    return (y * np.float32(gain)).astype(np.float32), 20.0 * math.log10(gain)


def teacher_forced_log_probs(
    model: AudioRNN | AudioWeights,
    signal: np.ndarray,
    features: Features | Sequence[Features],
) -> np.ndarray:
    """Natural-log probability of each sample's code given the true past, by the kernel.

    The same per-sample step as :func:`synthesize`, reading the given signal instead of
    drawing: equal to ``log_softmax`` of :class:`~dsp_rnn.audio.AudioRNN`'s teacher-forced
    logits at its target codes.

    Args:
        model: the model or its :func:`export_weights`.
        signal: ``(streams, n_frames * hop_samples)`` pre-emphasised samples (values
            beyond ``[-1, 1]`` are clamped, as generation would).
        features: one per stream, or one for all.

    Returns:
        ``(streams, time)`` float64.
    """
    w = _weights(model)
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 2:
        raise ShapeError(f"signal: expected (streams, time), got {x.shape}")
    feats = _feature_list(w, features, x.shape[0] if isinstance(features, Features) else 1)
    n_t = feats[0].n_frames * w.config.hop_samples
    if x.shape != (len(feats), n_t):
        raise ShapeError(f"signal: expected {(len(feats), n_t)}, got {x.shape}")
    x = np.ascontiguousarray(np.clip(x, -1.0, 1.0))
    return _run(w, feats, uniforms=np.zeros((1, 1)), temperature=1.0, forced=x)[1]


def resynth(
    model: AudioRNN,
    in_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    seed: int,
    temperature: float = 1.0,
    overwrite: bool = False,
) -> Path:
    """Analyse an audio file and generate it again from its features with ``model``.

    The features of ``in_path`` (mixed to mono, resampled to the model's rate; computed
    directly, no cache) drive :func:`synthesize`; the result is written to ``out_path``
    at the model's sample rate by :func:`dsp_rnn.music.write_audio` (atomically, PCM_16).

    Args:
        model: an :class:`~dsp_rnn.audio.AudioRNN`.
        in_path: the audio file to resynthesise.
        out_path: the file to write (its folder must exist).
        seed, temperature: as :func:`synthesize`.
        overwrite: replace an existing ``out_path`` (default ``False``: refuse, before any
            work).

    Returns:
        The path written.

    Raises:
        AudioError: an unreadable input; an existing output without ``overwrite``.
    """
    if not isinstance(model, AudioRNN):
        raise InputError(f"model: expected an AudioRNN, got {type(model).__name__}")
    out = Path(out_path)
    check_target(out, overwrite, AudioError)
    feats = cached_features(in_path, config=model.config.features, use_cache=False)
    y = synthesize(model, feats, seed=seed, temperature=temperature)[0][: feats.n_samples]
    y, _ = limit_peak(y)  # as long as the input, not padded to whole frames
    return write_audio(out, y, sample_rate=model.config.sample_rate, overwrite=overwrite)
