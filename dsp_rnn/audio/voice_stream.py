"""Streaming generation with :class:`~dsp_rnn.audio.AudioRNN`: the compiled per-sample loop
of :func:`~dsp_rnn.audio.synthesize`, block by block with its state carried.

``y, state = synthesize_stream(model, features, state, seed=...)`` generates the samples of
one block of frames and returns what the next block needs: the GRU's hidden vector, the
last ``lpc_order`` samples of the pre-emphasised signal, the last excitation, the
de-emphasis filter's last output and each stream's random generator. A long piece is then
generated in blocks of any size with flat memory, and the samples do not depend on the
block size (tested bit for bit).

The per-sample loop is the generator kernel's own (:mod:`dsp_rnn.audio._generator_kernels`'s
``run_streams``, from the carried state), so a stream equals
:func:`~dsp_rnn.audio.synthesize` with the same seed to float rounding (the de-emphasis here
is the recursion ``y_t = s_t + c y_(t-1)`` in float64 in the kernel, not
:func:`dsp_rnn.filters.deemphasis`). Stream ``k`` draws its uniforms from
``numpy.random.default_rng(seed + k)``, one per sample, as :func:`synthesize` does.

>>> import numpy as np
>>> from dsp_rnn.audio import AudioRNN, AudioRNNConfig, features
>>> _ = torch.manual_seed(0)
>>> m = AudioRNN(AudioRNNConfig(gru_units=8, embedding_size=4, conditioning_size=4))
>>> feats = features(0.3 * np.sin(np.arange(3200) * 0.09), 16000)
>>> y1, state = synthesize_stream(m, slice_features(feats, 0, 12), seed=1)
>>> y2, state = synthesize_stream(m, slice_features(feats, 12, 20), state)
>>> whole, _ = synthesize_stream(m, feats, seed=1)
>>> bool(np.array_equal(np.concatenate([y1, y2], axis=1), whole))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from numba import njit

from dsp_rnn import _numba_cache  # noqa: F401  (before any cache=True kernel)
from dsp_rnn._validate import check_int, check_seed
from dsp_rnn.audio import _generator_kernels as _k
from dsp_rnn.audio.features import Features
from dsp_rnn.audio.generator import AudioWeights, export_weights
from dsp_rnn.audio.model import AudioRNN, conditioning_inputs
from dsp_rnn.errors import InputError, ShapeError

__all__ = ["StreamState", "synthesize_stream", "slice_features"]


@dataclass(frozen=True)
class StreamState:
    """What one block of :func:`synthesize_stream` leaves for the next (numpy, per stream).

    Attributes:
        hidden: ``(S, H)`` float32, the GRU's hidden vectors.
        history: ``(S, max(lpc_order, 1))`` float64, ``history[s, k - 1] = s_(t-k)`` of the
            pre-emphasised signal.
        excitation: ``(S,)`` float64, the last excitation ``e_(t-1)``.
        output: ``(S,)`` float64, the last de-emphasised sample ``y_(t-1)``.
        rngs: each stream's generator of uniforms (continued, not restarted).
        temperature: the sampling temperature of the stream.
        samples: samples generated so far.
    """

    hidden: np.ndarray
    history: np.ndarray
    excitation: np.ndarray
    output: np.ndarray
    rngs: tuple[np.random.Generator, ...]
    temperature: float
    samples: int = 0

    @property
    def streams(self) -> int:
        return int(self.hidden.shape[0])


def slice_features(feats: Features, start: int, stop: int) -> Features:
    """Frames ``start .. stop - 1`` of ``feats`` as a :class:`~dsp_rnn.audio.Features`
    (``n_samples`` is ``(stop - start) * hop_samples``).

    Raises:
        InputError: not ``0 <= start < stop <= n_frames``.
    """
    if not (0 <= start < stop <= feats.n_frames):
        raise InputError(f"frames: expected 0 <= start < stop <= {feats.n_frames}, got "
                         f"start={start}, stop={stop}")  # fmt: skip
    cut = slice(start, stop)
    return replace(
        feats, n_samples=(stop - start) * feats.hop_samples,
        band_energy_db=feats.band_energy_db[cut], cepstrum=feats.cepstrum[cut],
        f0_hz=feats.f0_hz[cut], periodicity=feats.periodicity[cut],
        energy_db=feats.energy_db[cut], lpc=feats.lpc[cut],
        residual_power=feats.residual_power[cut],
    )  # fmt: skip


@njit(cache=True)
def _deemphasis(signal, deemph, prev_y, out):  # pragma: no cover - compiled
    """``out[s, t] = signal[s, t] + deemph * out[s, t - 1]`` from ``prev_y (S,)`` (updated
    in place): the de-emphasis recursion, float64."""
    n_s, n_t = signal.shape
    for s in range(n_s):
        y = prev_y[s]
        for t in range(n_t):
            y = signal[s, t] + deemph * y
            out[s, t] = y
        prev_y[s] = y


def _initial(weights: AudioWeights, streams: int, seed: int, temperature: float) -> StreamState:
    c = weights.config
    return StreamState(
        hidden=np.zeros((streams, c.gru_units), np.float32),
        history=np.zeros((streams, max(c.lpc_order, 1)), np.float64),
        excitation=np.zeros(streams, np.float64), output=np.zeros(streams, np.float64),
        rngs=tuple(np.random.default_rng(seed + k) for k in range(streams)),
        temperature=temperature,
    )  # fmt: skip


def synthesize_stream(
    model: AudioRNN | AudioWeights,
    features: Features | list[Features],
    state: StreamState | None = None,
    *,
    seed: int = 0,
    temperature: float = 1.0,
    streams: int = 1,
) -> tuple[np.ndarray, StreamState]:
    """Generate the samples of one block of frames, continuing from ``state``.

    Args:
        model: an :class:`~dsp_rnn.audio.AudioRNN` or its
            :func:`~dsp_rnn.audio.export_weights` (export once for many blocks).
        features: this block's frames (:func:`slice_features`), one
            :class:`~dsp_rnn.audio.Features` for every stream or a list, one per stream.
        state: what the previous block returned; ``None`` starts at rest with ``seed``,
            ``temperature`` and ``streams`` (ignored when a state is given: it carries
            them).
        seed: stream ``k`` draws from ``numpy.random.default_rng(seed + k)``.
        temperature: sampling from ``softmax(logits / temperature)``, ``>= 0``.
        streams: independent streams (with one ``Features`` for all).

    Shape:
        Returns ``y (streams, n_frames * hop_samples)`` float32, de-emphasised, at the
        model's sample rate (not clipped: see :func:`~dsp_rnn.audio.limit_peak`).

    Returns:
        ``(y, state)``.

    Raises:
        InputError: bad ``seed``/``temperature``/``streams``, features of another config, a
            state of another model size. ShapeError: streams of unequal frame counts.

    Properties: numpy and numba; CPU; deterministic given the seed, whatever the blocks.
    """
    w = model if isinstance(model, AudioWeights) else export_weights(model)
    c = w.config
    if state is None:
        streams = check_int(streams, "streams", minimum=1)
        if not isinstance(features, Features):
            streams = len(features)
        seed = check_seed(seed)
        check_seed(seed + streams - 1, "seed + streams - 1")
        if (isinstance(temperature, bool) or not isinstance(temperature, (int, float))
                or not (math.isfinite(temperature) and temperature >= 0)):  # fmt: skip
            raise InputError(f"temperature: expected a number >= 0, got {temperature!r}")
        state = _initial(w, streams, seed, float(temperature))
    elif state.hidden.shape[1] != c.gru_units or state.history.shape[1] != max(c.lpc_order, 1):
        raise InputError(f"state: of a model with {state.hidden.shape[1]} GRU units and order "
                         f"{state.history.shape[1]}, this one has {c.gru_units} and "
                         f"{c.lpc_order}")  # fmt: skip
    feats = [features] * state.streams if isinstance(features, Features) else list(features)
    if len(feats) != state.streams or not all(isinstance(f, Features) for f in feats):
        raise InputError(f"features: expected one Features or {state.streams}, got {len(feats)}")
    for f in feats:
        if f.config != c.features:
            raise InputError(f"features: computed with {f.config}, the model expects "
                             f"{c.features}")  # fmt: skip
    if len({f.n_frames for f in feats}) != 1:
        raise ShapeError("features: expected one frame count for all streams")
    n_t = feats[0].n_frames * c.hop_samples
    w1, b1, w2, b2 = w.mlp
    gates = []
    for f in feats:
        cond = np.tanh(np.tanh(conditioning_inputs(f) @ w1.T + b1) @ w2.T + b2)  # (F, C)
        gates.append((cond @ w.w_cond.T).astype(np.float32))
    gates_arr = np.ascontiguousarray(np.stack(gates))  # (S, F, 3H)
    a = np.ascontiguousarray(np.stack([f.lpc for f in feats]).astype(np.float64))
    uniforms = np.ascontiguousarray(np.stack([rng.random(n_t) for rng in state.rngs]))
    mu = np.float32(c.n_codes - 1)
    log1p_mu = np.float32(torch.log1p(torch.tensor(c.n_codes - 1.0)).item())
    hidden, hist = state.hidden.copy(), state.history.copy()
    prev_e, prev_y = state.excitation.copy(), state.output.copy()
    signal = np.zeros((state.streams, n_t), np.float64)
    unused = np.zeros((1, 1), np.float64)  # teacher forcing's arrays
    _k.run_streams(w.table_signal, w.table_prediction, w.table_excitation, gates_arr,
                   np.ascontiguousarray(w.w_hh.T), w.b_hh, np.ascontiguousarray(w.w_out.T),
                   w.b_out, a, c.hop_samples, c.lpc, w.decode, mu, log1p_mu, uniforms,
                   state.temperature, False, unused, hidden, hist, prev_e, signal,
                   unused)  # fmt: skip
    out = np.empty_like(signal)
    _deemphasis(signal, float(c.features.preemphasis), prev_y, out)
    new = replace(state, hidden=hidden, history=hist, excitation=prev_e, output=prev_y,
                  samples=state.samples + n_t)  # fmt: skip
    return out.astype(np.float32), new
