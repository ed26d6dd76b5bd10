"""The sample-level audio model (LPCNet-style): a GRU that predicts the excitation of the LPC
filter, sample by sample, conditioned on frame features.

The model works on the pre-emphasised signal ``s`` (the domain of
:class:`~dsp_rnn.audio.FeatureConfig`'s predictors). Per frame, a small MLP turns the
frame's features (cepstrum, log f0, periodicity, energy: :func:`conditioning_inputs`) into
a conditioning vector, repeated for the frame's ``hop_samples`` samples. Per sample, with
``p_t = -sum_k a_k s_(t-k)`` the frame predictor's prediction
(:func:`~dsp_rnn.audio.lpc_prediction`) and ``e_t = s_t - p_t`` the excitation:

- ``lpc=True`` (LPCNet): the GRU reads embeddings of the mu-law codes of ``s_(t-1)``,
  ``p_t`` and ``e_(t-1)`` and the conditioning, and its output layer gives logits over the
  ``2**mu_law_bits`` mu-law codes of ``e_t``; the signal is ``s_t = p_t + e_t``, so the
  network only models what the linear filter cannot predict;
- ``lpc=False`` (the plain mu-law sample RNN, WaveRNN/SampleRNN-style ablation): the GRU
  reads the embedding of ``s_(t-1)``'s code and the conditioning, and the logits are over
  the codes of ``s_t``.

Values beyond ``[-1, 1]`` (a pre-emphasised peak, a large prediction) are clamped to the
outermost code before mu-law coding: the codes are a quantisation, and the clamp is part
of it.

State follows ``y, state = f(x, state)``: :class:`AudioState` holds the GRU's hidden vector
and the signal's past that the next block needs (the last ``lpc_order`` samples for the
prediction and ``s_(t-1)``, and ``e_(t-1)``), so a signal run in frame-aligned blocks gives
the logits of one call.

References:
    J.-M. Valin and J. Skoglund, "LPCNet: Improving neural speech synthesis through linear
    prediction", ICASSP 2019. N. Kalchbrenner et al., "Efficient neural audio synthesis"
    (WaveRNN), ICML 2018.

>>> m = AudioRNN(AudioRNNConfig(gru_units=16, embedding_size=8, conditioning_size=8))
>>> s = 0.1 * torch.randn(2, 320)
>>> frames = FrameInputs(torch.zeros(2, 2, 23), torch.eye(17)[:1].repeat(2, 2, 1))
>>> logits, state = m(s, frames)
>>> logits.shape, state.hidden.shape, m.nll_bits(s, frames)[0].shape
(torch.Size([2, 320, 256]), torch.Size([2, 16]), torch.Size([2, 320]))
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp_rnn._validate import check_int
from dsp_rnn.audio.features import FeatureConfig, Features
from dsp_rnn.audio.synthesis import lpc_prediction
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.music.audio import mu_law_decode, mu_law_encode

__all__ = [
    "AudioRNNConfig",
    "AudioRNN",
    "AudioState",
    "FrameInputs",
    "conditioning_inputs",
    "frame_inputs",
    "mu_law_codes",
]

_LN2 = math.log(2.0)


@dataclass(frozen=True)
class AudioRNNConfig:
    """Sizes and data conventions of :class:`AudioRNN`.

    Args:
        features: the frame features the model is conditioned on (sample rate, hop, LPC
            order, bands, pre-emphasis); default :class:`~dsp_rnn.audio.FeatureConfig`
            (16 kHz, 160-sample hop, order 16, 20 bands).
        gru_units: the sample-rate GRU's width (default 128: small enough for a CPU).
        embedding_size: width of each mu-law code embedding (default 64).
        conditioning_size: width of the frame conditioning vector (default 64).
        lpc: model the LPC excitation (True, default) or the signal itself (False).
        mu_law_bits: bits of the mu-law codes (default 8: 256 codes).

    Raises:
        InputError: a size below 1, ``mu_law_bits`` outside 2..16, a non-bool ``lpc``.
    """

    features: FeatureConfig = field(default_factory=FeatureConfig)
    gru_units: int = 128
    embedding_size: int = 64
    conditioning_size: int = 64
    lpc: bool = True
    mu_law_bits: int = 8

    def __post_init__(self) -> None:
        if not isinstance(self.features, FeatureConfig):
            raise InputError(f"features: expected a FeatureConfig, got {self.features!r}")
        for name in ("gru_units", "embedding_size", "conditioning_size"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, minimum=1))
        bits = check_int(self.mu_law_bits, "mu_law_bits", minimum=2, maximum=16)
        object.__setattr__(self, "mu_law_bits", bits)
        if not isinstance(self.lpc, bool):
            raise InputError(f"lpc: expected True or False, got {self.lpc!r}")

    @property
    def sample_rate(self) -> int:
        return self.features.sample_rate

    @property
    def hop_samples(self) -> int:
        return self.features.hop_samples

    @property
    def lpc_order(self) -> int:
        return self.features.lpc_order

    @property
    def n_codes(self) -> int:
        return 1 << self.mu_law_bits

    @property
    def n_conditioning_inputs(self) -> int:
        """Per-frame inputs: the cepstrum, log f0, periodicity and energy."""
        return self.features.n_bands + 3

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AudioRNNConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            InputError: unknown keys or bad values.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        extra = set(data) - known
        if extra:
            raise InputError(f"AudioRNNConfig: unknown setting(s) {', '.join(sorted(extra))}")
        kwargs = dict(data)
        if isinstance(kwargs.get("features"), dict):
            try:
                kwargs["features"] = FeatureConfig(**kwargs["features"])
            except TypeError as exc:
                raise InputError(f"features: {exc}") from None
        return cls(**kwargs)


@dataclass(frozen=True)
class FrameInputs:
    """The per-frame inputs of a block: conditioning features and LPC predictors.

    Attributes:
        conditioning: ``(B, F, n_bands + 3)`` float, :func:`conditioning_inputs` per frame.
        lpc: ``(B, F, lpc_order + 1)`` predictors with ``lpc[..., 0] == 1``.
    """

    conditioning: torch.Tensor
    lpc: torch.Tensor


@dataclass(frozen=True)
class AudioState:
    """What one block leaves for the next.

    Attributes:
        hidden: ``(B, gru_units)`` the GRU's hidden vector.
        past: ``(B, lpc_order)`` the last samples of the pre-emphasised signal, oldest
            first (``past[:, -1]`` is ``s_(t-1)``).
        excitation: ``(B,)`` the last excitation ``e_(t-1)``.
    """

    hidden: torch.Tensor
    past: torch.Tensor
    excitation: torch.Tensor


def mu_law_codes(x: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Mu-law codes of ``x`` clamped to ``[-1, 1]`` (:func:`dsp_rnn.music.mu_law_encode`).

    Shape: any ``(...)``, int64 codes in ``[0, 2**bits - 1]``.

    >>> mu_law_codes(torch.tensor([-3.0, 0.0, 1.0]))
    tensor([  0, 128, 255])
    """
    return mu_law_encode(x.detach().clamp(-1.0, 1.0), 1 << bits)


def conditioning_inputs(feats: Features) -> np.ndarray:
    """The model's per-frame inputs, scaled to about unit range.

    Columns: the cepstrum (``c0 / (20 sqrt(n_bands))``, the others ``/ 10``: dB), ``log2(f0
    / 200 Hz)``, the periodicity, and ``(energy_db + 40) / 20``.

    Shape: ``(n_frames, n_bands + 3)`` float32.
    """
    cep = feats.cepstrum.astype(np.float64) / 10.0
    cep[:, 0] = feats.cepstrum[:, 0] / (20.0 * math.sqrt(feats.cepstrum.shape[1]))
    f0 = np.log2(np.maximum(feats.f0_hz.astype(np.float64), 1.0) / 200.0)
    energy = (feats.energy_db.astype(np.float64) + 40.0) / 20.0
    cols = [cep, f0[:, None], feats.periodicity[:, None].astype(np.float64), energy[:, None]]
    return np.concatenate(cols, axis=1).astype(np.float32)


def frame_inputs(feats: Features, *, start_frame: int = 0, n_frames: int | None = None,
                 dtype: torch.dtype = torch.float32) -> FrameInputs:  # fmt: skip
    """:class:`FrameInputs` of frames ``start_frame ..`` of one signal, batch of one.

    Shape: ``conditioning (1, F, n_bands + 3)``, ``lpc (1, F, lpc_order + 1)``.
    """
    stop = feats.n_frames if n_frames is None else start_frame + n_frames
    cond = torch.from_numpy(conditioning_inputs(feats)[start_frame:stop]).to(dtype)
    lpc = torch.from_numpy(feats.lpc[start_frame:stop]).to(dtype)
    return FrameInputs(cond[None], lpc[None])


class AudioRNN(nn.Module):
    """The LPCNet-style sample RNN of ``config`` (see the module's description).

    Shape:
        ``signal (B, T)`` pre-emphasised samples; ``frames`` with ``F = ceil(T /
        hop_samples)`` frames (a block starts on a frame boundary) ->
        ``logits (B, T, 2**mu_law_bits)``.

    Properties: differentiable in the weights (not in the signal: its codes are
    quantised); CPU and CUDA.
    """

    def __init__(self, config: AudioRNNConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or AudioRNNConfig()
        k, n_emb = c.n_codes, c.embedding_size
        self.conditioning = nn.Sequential(
            nn.Linear(c.n_conditioning_inputs, c.conditioning_size), nn.Tanh(),
            nn.Linear(c.conditioning_size, c.conditioning_size), nn.Tanh(),
        )  # fmt: skip
        self.embed_signal = nn.Embedding(k, n_emb)
        n_in = n_emb + c.conditioning_size
        if c.lpc:
            self.embed_prediction = nn.Embedding(k, n_emb)
            self.embed_excitation = nn.Embedding(k, n_emb)
            n_in += 2 * n_emb
        self.gru = nn.GRU(n_in, c.gru_units, batch_first=True)
        self.out = nn.Linear(c.gru_units, k)

    def count_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def flops_per_second(self) -> float:
        """Multiply-adds x 2 per second of audio of the sample-rate part (GRU and output
        layer, teacher-forced; the frame MLP runs at the frame rate and is left out)."""
        c = self.config
        n_in = self.gru.input_size
        per_sample = 2 * (3 * (n_in + c.gru_units) * c.gru_units + c.gru_units * c.n_codes)
        return float(per_sample * c.sample_rate)

    def initial_state(self, batch: int, *, device: Any = None,
                      dtype: torch.dtype = torch.float32) -> AudioState:  # fmt: skip
        """The state at rest: zeros."""
        c = self.config
        return AudioState(torch.zeros(batch, c.gru_units, device=device, dtype=dtype),
                          torch.zeros(batch, c.lpc_order, device=device, dtype=dtype),
                          torch.zeros(batch, device=device, dtype=dtype))  # fmt: skip

    def _check(self, signal: torch.Tensor, frames: FrameInputs) -> None:
        c = self.config
        if signal.ndim != 2:
            raise ShapeError(f"signal: expected (batch, time), got {tuple(signal.shape)}")
        n_frames = -(-signal.shape[1] // c.hop_samples)
        want = (signal.shape[0], n_frames)
        if tuple(frames.conditioning.shape) != (*want, c.n_conditioning_inputs):
            raise ShapeError(f"frames.conditioning: expected {(*want, c.n_conditioning_inputs)} "
                             f"for signal {tuple(signal.shape)}, got "
                             f"{tuple(frames.conditioning.shape)}")  # fmt: skip
        if tuple(frames.lpc.shape) != (*want, c.lpc_order + 1):
            raise ShapeError(f"frames.lpc: expected {(*want, c.lpc_order + 1)} for signal "
                             f"{tuple(signal.shape)}, got {tuple(frames.lpc.shape)}")  # fmt: skip

    def _inputs(
        self, signal: torch.Tensor, frames: FrameInputs, state: AudioState
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The prediction ``p`` (B, T), the excitation ``e`` (B, T) and the new past."""
        c = self.config
        a = frames.lpc.to(signal.dtype)
        pred, past = lpc_prediction(signal, a, hop_samples=c.hop_samples, state=state.past)
        return pred, signal - pred, past

    def forward(
        self, signal: torch.Tensor, frames: FrameInputs, state: AudioState | None = None
    ) -> tuple[torch.Tensor, AudioState]:
        """Teacher-forced logits of every sample of ``signal`` given its past.

        Args:
            signal: ``(B, T)`` pre-emphasised samples (float).
            frames: the block's :class:`FrameInputs`, ``F = ceil(T / hop_samples)``.
            state: what the previous block left (default: at rest).

        Returns:
            ``(logits, state)``: ``logits (B, T, n_codes)`` over the codes of ``e_t`` (or
            ``s_t`` with ``lpc=False``), and the state after the block.

        Raises:
            ShapeError: shapes that do not fit the config.
        """
        c = self.config
        self._check(signal, frames)
        b, n_t = signal.shape
        if state is None:
            state = self.initial_state(b, device=signal.device, dtype=signal.dtype)
        pred, exc, past = self._inputs(signal, frames, state)
        prev_s = torch.cat([state.past[:, -1:].to(signal.dtype), signal[:, :-1]], 1)  # (B, T)
        cond = self.conditioning(frames.conditioning.to(self.out.weight.dtype))  # (B, F, C)
        cond = cond.repeat_interleave(c.hop_samples, dim=1)[:, :n_t]  # (B, T, C)
        parts = [self.embed_signal(mu_law_codes(prev_s, c.mu_law_bits))]
        if c.lpc:
            prev_e = torch.cat([state.excitation[:, None].to(signal.dtype), exc[:, :-1]], 1)
            parts += [self.embed_prediction(mu_law_codes(pred, c.mu_law_bits)),
                      self.embed_excitation(mu_law_codes(prev_e, c.mu_law_bits))]  # fmt: skip
        x = torch.cat([*parts, cond], -1)  # (B, T, n_in)
        y, h = self.gru(x, state.hidden[None].to(x.dtype))  # (B, T, H), (1, B, H)
        logits = self.out(y)  # (B, T, n_codes)
        return logits, AudioState(h[0], past, exc[:, -1].detach())

    def target_codes(
        self, signal: torch.Tensor, frames: FrameInputs, state: AudioState | None = None
    ) -> torch.Tensor:
        """``(B, T)`` the codes the logits predict: of ``e_t`` (``lpc=True``) or ``s_t``."""
        c = self.config
        self._check(signal, frames)
        if not c.lpc:
            return mu_law_codes(signal, c.mu_law_bits)
        if state is None:
            state = self.initial_state(signal.shape[0], device=signal.device, dtype=signal.dtype)
        return mu_law_codes(self._inputs(signal, frames, state)[1], c.mu_law_bits)

    def nll_bits(
        self, signal: torch.Tensor, frames: FrameInputs, state: AudioState | None = None
    ) -> tuple[torch.Tensor, AudioState]:
        """``(nll, state)``: ``-log2 P`` of each sample's code given the past, ``(B, T)``
        bits, with gradient; arguments as :meth:`forward`."""
        logits, new_state = self(signal, frames, state)
        target = self.target_codes(signal, frames, state)
        nats = nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none")
        return nats / _LN2, new_state

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes back to values in ``[-1, 1]`` (:func:`dsp_rnn.music.mu_law_decode`)."""
        return mu_law_decode(codes, self.config.n_codes)
