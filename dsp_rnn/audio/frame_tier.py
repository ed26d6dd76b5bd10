"""The frame tier: a small GRU over frame features that generates its own feature sequence.

A sample-level audio model is conditioned on frame features (:class:`~dsp_rnn.audio.Features`).
To generate with no input audio, the frame tier models those features autoregressively, one
frame of ``hop_ms`` at a time: from the previous frame's feature vector a GRU predicts a
diagonal Gaussian over the next frame's (normalised) vector. Sampled vectors are turned back
into a :class:`~dsp_rnn.audio.Features` that :func:`~dsp_rnn.audio.vocode` (or a
sample-level model) can render.

The frame vector (:func:`frame_vectors`), ``vector_size = n_bands + 3`` values per frame in
physical units:

====================  ======================  =============================================
index                 value                   unit
====================  ======================  =============================================
``0 .. n_bands - 1``  ``cepstrum``            dB (orthonormal DCT of the band energies)
``n_bands``           ``log(f0_hz)``          natural log of Hz
``n_bands + 1``       ``periodicity``         ``[0, 1]``, the voicing (no separate flag)
``n_bands + 2``       ``energy_db``           dB
====================  ======================  =============================================

The model works on the vector normalised per dimension, ``(v - mean) / std``, with ``mean``
and ``std`` computed from training data by :func:`fit_normalisation` and kept in the module
as buffers (so they are saved with its ``state_dict``).

Back to features (:func:`features_from_vectors`): the band energies are the inverse DCT of
the cepstrum (:func:`~dsp_rnn.audio.band_energy_from_cepstrum`), the predictor ``lpc`` and
``residual_power`` are computed from them by :func:`~dsp_rnn.audio.lpc_from_band_energy`
(exactly as :func:`~dsp_rnn.audio.features` does), ``f0_hz`` is clamped to the feature
config's ``[f0_min_hz, f0_max_hz]`` and ``periodicity`` to ``[0, 1]``.

Training: :func:`fit_frame_tier` fits a tier with Adam on random windows of a few feature
sequences (a few hundred steps on CPU for small data); :meth:`FrameTier.nll` is the loss
for any other training loop.

References:
    J. Chung et al., "Empirical evaluation of gated recurrent neural networks on sequence
    modeling", 2014 (the GRU); A. Graves, "Generating sequences with recurrent neural
    networks", 2013 (an RNN emitting a mixture density per step, here one diagonal Gaussian).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dsp_rnn._atomic import write_bytes
from dsp_rnn._tensor_io import load_tensors, load_weights, save_tensors
from dsp_rnn._validate import as_tensor, check_finite, check_int, check_seed
from dsp_rnn.audio.features import (
    FeatureConfig,
    Features,
    band_energy_from_cepstrum,
    band_filters,
    lpc_from_band_energy,
)
from dsp_rnn.errors import CheckpointError, InputError, ShapeError

__all__ = [
    "FrameTierConfig",
    "FrameStats",
    "FrameTierState",
    "GaussianParams",
    "FrameTier",
    "FrameTierFit",
    "frame_vectors",
    "features_from_vectors",
    "fit_normalisation",
    "fit_frame_tier",
    "MAX_NORMALISED",
    "FRAME_TIER_WEIGHTS",
    "FRAME_TIER_CONFIG",
    "save_frame_tier",
    "load_frame_tier",
]

FRAME_TIER_WEIGHTS = "frame_tier.safetensors"
"""The file of a saved tier's weights and normalisation (:func:`save_frame_tier`)."""
FRAME_TIER_CONFIG = "frame_tier.json"
"""The file of a saved tier's :class:`FrameTierConfig` as JSON (:func:`save_frame_tier`)."""
_FORMAT = 1

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
MAX_NORMALISED = 6.0
"""Sampling keeps each drawn frame within this many standard deviations of the training
data's mean, per dimension (:meth:`FrameTier.sample_vectors`): a tier fitted on little
data, fed a draw far from anything it has seen, can otherwise widen its next prediction
step after step until the frames overflow to inf."""


@dataclass(frozen=True)
class FrameTierConfig:
    """The settings of a :class:`FrameTier`.

    Args:
        features: the :class:`~dsp_rnn.audio.FeatureConfig` of the frames it models
            (default :class:`~dsp_rnn.audio.FeatureConfig`: 20 bands, so 23 values a frame).
        hidden: GRU width, >= 1 (default 64).
        layers: GRU layers, 1 or 2 (default 1).
        min_log_std: lower bound of the predicted log standard deviation, in normalised
            units (default -5, i.e. 0.7 % of a dimension's spread); it keeps the likelihood
            bounded on dimensions that barely vary.
    """

    features: FeatureConfig = field(default_factory=FeatureConfig)
    hidden: int = 64
    layers: int = 1
    min_log_std: float = -5.0

    def __post_init__(self) -> None:
        if not isinstance(self.features, FeatureConfig):
            raise InputError(f"features: expected a FeatureConfig, got {self.features!r}")
        check_int(self.hidden, "hidden", minimum=1)
        check_int(self.layers, "layers", minimum=1, maximum=2)
        if isinstance(self.min_log_std, bool) or not isinstance(self.min_log_std, (int, float)):
            raise InputError(f"min_log_std: expected a number, got {self.min_log_std!r}")
        if not (math.isfinite(self.min_log_std) and self.min_log_std < 0.0):
            raise InputError(
                f"min_log_std: expected a finite number < 0, got min_log_std={self.min_log_std}"
            )

    @property
    def vector_size(self) -> int:
        """Values per frame: ``n_bands + 3`` (cepstrum, log f0, periodicity, energy)."""
        return self.features.n_bands + 3


class FrameStats(NamedTuple):
    """Per-dimension normalisation statistics of frame vectors (:func:`fit_normalisation`).

    Attributes:
        mean: ``(vector_size,)`` float64, in the vector's units.
        std: ``(vector_size,)`` float64, > 0.
    """

    mean: np.ndarray
    std: np.ndarray


class FrameTierState(NamedTuple):
    """What the tier carries from one block of frames to the next.

    Attributes:
        hidden: the GRU state ``(layers, batch, hidden)``.
        previous: ``(batch, vector_size)`` the last frame seen, normalised (the input of
            the next step).
    """

    hidden: torch.Tensor
    previous: torch.Tensor

    def detach(self) -> FrameTierState:
        """Cut the graph (truncated backpropagation through time)."""
        return FrameTierState(self.hidden.detach(), self.previous.detach())


class GaussianParams(NamedTuple):
    """A diagonal Gaussian over the normalised frame vector, per frame.

    Attributes:
        mean: ``(batch, time, vector_size)``.
        log_std: ``(batch, time, vector_size)``, >= the config's ``min_log_std``.
    """

    mean: torch.Tensor
    log_std: torch.Tensor


class FrameTierFit(NamedTuple):
    """The result of :func:`fit_frame_tier`: the trained tier (eval mode) and the loss of
    each step (mean NLL per frame, nats)."""

    tier: FrameTier
    losses: list[float]


# ------------------------------------------------------------------ vectors <-> features
def _check_config(feats: Features, config: FeatureConfig, what: str) -> None:
    if feats.config != config:
        raise InputError(
            f"{what}: features computed with {feats.config}, expected the tier's {config}"
        )


def frame_vectors(feats: Features) -> np.ndarray:
    """The frame vectors of a :class:`~dsp_rnn.audio.Features` (layout in the module's
    description).

    Shape:
        Returns ``(n_frames, n_bands + 3)`` float64, physical units.

    Example:
        >>> t = np.arange(1600) / 16000
        >>> from dsp_rnn.audio import features
        >>> frame_vectors(features(0.3 * np.sin(2 * np.pi * 220 * t), 16000)).shape
        (10, 23)
    """
    if not isinstance(feats, Features):
        raise InputError(f"feats: expected a Features, got {type(feats).__name__}")
    f0_hz = np.maximum(feats.f0_hz.astype(np.float64), np.finfo(np.float64).tiny)
    return np.concatenate(
        [
            feats.cepstrum.astype(np.float64),
            np.log(f0_hz)[:, None],
            feats.periodicity.astype(np.float64)[:, None],
            feats.energy_db.astype(np.float64)[:, None],
        ],
        axis=1,
    )


def features_from_vectors(
    vectors: Any, config: FeatureConfig | None = None, *, n_samples: int | None = None
) -> Features:
    """A :class:`~dsp_rnn.audio.Features` from frame vectors (inverse of
    :func:`frame_vectors`).

    The band energies are the inverse DCT of the cepstrum; ``lpc`` and ``residual_power``
    come from them through :func:`~dsp_rnn.audio.lpc_from_band_energy`; ``f0_hz`` is
    clamped to ``[config.f0_min_hz, config.f0_max_hz]`` and ``periodicity`` to ``[0, 1]``.

    Args:
        vectors: ``(n_frames, n_bands + 3)`` frame vectors in physical units, finite.
        config: the feature settings (default :class:`~dsp_rnn.audio.FeatureConfig`).
        n_samples: the signal length (default ``n_frames * hop_samples``); it must give the
            same frame count, ``ceil(n_samples / hop_samples) == n_frames``.

    Returns:
        :class:`~dsp_rnn.audio.Features`.

    Raises:
        ShapeError: not ``(n_frames, n_bands + 3)`` with at least one frame.
        NonFiniteError: NaN or inf. InputError: an ``n_samples`` of another frame count.
    """
    cfg = config or FeatureConfig()
    v = check_finite(as_tensor(vectors, "vectors", dtype=torch.float64), "vectors")
    size = cfg.n_bands + 3
    if v.ndim != 2 or v.shape[1] != size or v.shape[0] == 0:
        raise ShapeError(f"vectors: expected (n_frames >= 1, {size}), got {tuple(v.shape)}")
    arr = v.detach().cpu().numpy()
    n_frames, nb = arr.shape[0], cfg.n_bands
    if n_samples is None:
        n_samples = n_frames * cfg.hop_samples
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    if -(-n_samples // cfg.hop_samples) != n_frames:
        raise InputError(
            f"n_samples: expected ceil(n_samples / hop_samples) == n_frames={n_frames}, got "
            f"n_samples={n_samples}, hop_samples={cfg.hop_samples}"
        )
    cepstrum = arr[:, :nb].astype(np.float32)
    band_db = band_energy_from_cepstrum(cepstrum).astype(np.float32)
    f0_hz = np.clip(np.exp(np.minimum(arr[:, nb], 700.0)), cfg.f0_min_hz, cfg.f0_max_hz)
    res = lpc_from_band_energy(band_db, cfg)
    _, centres = band_filters(cfg.sample_rate, cfg.n_fft, cfg.n_bands)
    return Features(
        config=cfg,
        n_samples=n_samples,
        band_hz=centres,
        band_energy_db=band_db,
        cepstrum=cepstrum,
        f0_hz=f0_hz.astype(np.float32),
        periodicity=np.clip(arr[:, nb + 1], 0.0, 1.0).astype(np.float32),
        energy_db=arr[:, nb + 2].astype(np.float32),
        lpc=res.a,
        residual_power=res.error,
    )


def fit_normalisation(features_list: Sequence[Features], *, min_std: float = 1e-3) -> FrameStats:
    """Per-dimension mean and standard deviation of the frame vectors of training data.

    Args:
        features_list: one or more :class:`~dsp_rnn.audio.Features`, all of one config.
        min_std: floor of each standard deviation, in the vector's units (default 1e-3),
            so a dimension that never varies (a constant pitch) normalises to zero instead
            of dividing by zero.

    Returns:
        :class:`FrameStats` over all frames of all items.

    Raises:
        InputError: an empty list, mixed configs, or ``min_std <= 0``.
    """
    items = list(features_list)
    if not items:
        raise InputError("features_list: expected at least one Features, got none")
    if not (isinstance(min_std, (int, float)) and min_std > 0 and math.isfinite(min_std)):
        raise InputError(f"min_std: expected a finite number > 0, got min_std={min_std!r}")
    vectors = [frame_vectors(f) for f in items]
    for i, f in enumerate(items[1:], start=1):
        _check_config(f, items[0].config, f"features_list[{i}]")
    stacked = np.concatenate(vectors, axis=0)
    return FrameStats(stacked.mean(0), np.maximum(stacked.std(0), float(min_std)))


# ----------------------------------------------------------------------------- the module
class FrameTier(nn.Module):
    """A GRU over frame vectors emitting a diagonal Gaussian over the next frame.

    ``params, state = tier(frames, state)`` is teacher-forced: the parameters at frame ``t``
    depend on frames ``< t`` only (frame 0 on a learned start vector, or on ``state``).
    Per step: ``h_t = GRU(x_(t-1), h_(t-1))``, then ``[mean, raw] = W [h_t, x_(t-1)]`` and
    ``log_std = min_log_std + softplus(raw - min_log_std)``, all on normalised vectors
    ``x = (v - mean_buffer) / std_buffer``.

    Args:
        config: a :class:`FrameTierConfig`.
        stats: normalisation statistics (:func:`fit_normalisation`); default zero mean,
            unit std (set them later with :meth:`set_normalisation`).

    Shape:
        ``frames (batch, time, vector_size)`` in physical units -> :class:`GaussianParams`
        ``(batch, time, vector_size)`` each, over the normalised vector.

    Properties: differentiable; CPU and CUDA; float32 (float64 after ``.double()``).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> tier = FrameTier(FrameTierConfig(hidden=8))
        >>> params, state = tier(torch.zeros(2, 5, 23))
        >>> params.mean.shape, tier.nll(torch.zeros(2, 5, 23)).shape
        (torch.Size([2, 5, 23]), torch.Size([2, 5]))
        >>> feats, _ = tier.sample(4, seed=0)
        >>> feats.n_frames, feats.lpc.shape
        (4, (4, 17))
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, config: FrameTierConfig | None = None, stats: FrameStats | None = None):
        super().__init__()
        self.config = c = config or FrameTierConfig()
        d = c.vector_size
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("std", torch.ones(d))
        self.start = nn.Parameter(torch.zeros(d))
        self.gru = nn.GRU(d, c.hidden, c.layers, batch_first=True)
        self.head = nn.Linear(c.hidden + d, 2 * d)
        if stats is not None:
            self.set_normalisation(stats)

    # ------------------------------------------------------------------ normalisation
    def set_normalisation(self, stats: FrameStats) -> None:
        """Store ``stats`` (:func:`fit_normalisation`) in the ``mean`` and ``std`` buffers."""
        d = self.config.vector_size
        mean = check_finite(as_tensor(stats.mean, "stats.mean", dtype=torch.float64), "mean")
        std = check_finite(as_tensor(stats.std, "stats.std", dtype=torch.float64), "std")
        if mean.shape != (d,) or std.shape != (d,):
            raise ShapeError(
                f"stats: expected mean and std of shape ({d},), got {tuple(mean.shape)} and "
                f"{tuple(std.shape)}"
            )
        if bool((std <= 0).any()):
            raise InputError(f"stats.std: expected every value > 0, got min {float(std.min())}")
        with torch.no_grad():
            self.mean.copy_(mean)
            self.std.copy_(std)

    def normalise(self, frames: torch.Tensor) -> torch.Tensor:
        """``(v - mean) / std`` on the last axis ``(..., vector_size)``."""
        return (frames - self.mean) / self.std

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        """``x * std + mean`` on the last axis ``(..., vector_size)``."""
        return x * self.std + self.mean

    # ------------------------------------------------------------------ teacher forcing
    def _frames(self, frames: Any) -> torch.Tensor:
        d = self.config.vector_size
        t = as_tensor(frames, "frames", dtype=self.mean.dtype, device=self.mean.device)
        if t.ndim != 3 or t.shape[2] != d or t.shape[1] == 0:
            raise ShapeError(f"frames: expected (batch, time >= 1, {d}), got {tuple(t.shape)}")
        return check_finite(t, "frames")

    def initial_state(self, batch: int) -> FrameTierState:
        """The state at rest: zero GRU state, the learned start vector as previous frame."""
        c = self.config
        hidden = self.mean.new_zeros(c.layers, batch, c.hidden)
        return FrameTierState(hidden, self.start.expand(batch, -1))

    def _params(self, h: torch.Tensor, prev: torch.Tensor) -> GaussianParams:
        out = self.head(torch.cat([h, prev], dim=-1))  # (B, T, 2D)
        mean, raw = out.chunk(2, dim=-1)
        floor = self.config.min_log_std
        return GaussianParams(mean, floor + F.softplus(raw - floor))

    def forward(
        self, frames: Any, state: FrameTierState | None = None
    ) -> tuple[GaussianParams, FrameTierState]:
        """Teacher-forced parameters of every frame given the frames before it.

        Args:
            frames: ``(batch, time, vector_size)`` frame vectors in physical units
                (:func:`frame_vectors`), finite, ``time >= 1``.
            state: the state after the previous block (default: at rest).

        Returns:
            ``(params, state)``: :class:`GaussianParams` ``(batch, time, vector_size)`` and
            the state after the last frame.
        """
        x = self.normalise(self._frames(frames))  # (B, T, D)
        b = x.shape[0]
        if state is None:
            state = self.initial_state(b)
        prev = torch.cat([state.previous[:, None, :].to(x.dtype), x[:, :-1]], dim=1)  # (B,T,D)
        h, hidden = self.gru(prev, state.hidden.contiguous())  # (B, T, H)
        return self._params(h, prev), FrameTierState(hidden, x[:, -1])

    def nll(self, frames: Any, state: FrameTierState | None = None) -> torch.Tensor:
        """Negative log-likelihood of each frame (nats, of the normalised vector: add
        ``log(std).sum()`` for the density in physical units).

        Shape:
            ``frames (batch, time, vector_size)`` -> ``(batch, time)``.
        """
        x = self.normalise(self._frames(frames))
        params, _ = self(frames, state)
        z = (x - params.mean) * torch.exp(-params.log_std)
        return (0.5 * z**2 + params.log_std + _HALF_LOG_2PI).sum(-1)

    # ------------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample_vectors(
        self,
        n_frames: int,
        *,
        temperature: float = 1.0,
        seed: int = 0,
        state: FrameTierState | None = None,
    ) -> tuple[np.ndarray, FrameTierState]:
        """Draw ``n_frames`` frame vectors one at a time (physical units).

        Each drawn frame, normalised, is clamped to ``[-MAX_NORMALISED, MAX_NORMALISED]``
        (:data:`MAX_NORMALISED` standard deviations of the training data) before it is
        returned and fed back, so a tier fitted on little data cannot run away to inf.

        Args:
            n_frames: frames to draw, >= 1.
            temperature: scale of the standard deviation, >= 0 (default 1; 0 follows the
                mean).
            seed: seed of the draws (default 0); the same seed, state and weights give the
                same vectors.
            state: continue from this state (batch 1), e.g. after a teacher-forced prefix;
                default at rest.

        Returns:
            ``(vectors (n_frames, vector_size) float64, state)``.
        """
        n_frames = check_int(n_frames, "n_frames", minimum=1)
        seed = check_seed(seed)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            raise InputError(f"temperature: expected a number, got {temperature!r}")
        if not (math.isfinite(temperature) and temperature >= 0.0):
            raise InputError(f"temperature: expected a finite number >= 0, got {temperature}")
        if state is None:
            state = self.initial_state(1)
        if state.previous.shape != (1, self.config.vector_size):
            raise ShapeError(
                f"state: expected batch 1, got previous of shape {tuple(state.previous.shape)}"
            )
        device = self.mean.device
        gen = torch.Generator(device=device).manual_seed(seed)
        hidden, prev = state.hidden.contiguous(), state.previous.to(self.mean.dtype)
        out = []
        for _ in range(n_frames):
            h, hidden = self.gru(prev[:, None, :], hidden)  # (1, 1, H)
            params = self._params(h[:, 0], prev)  # (1, D)
            eps = torch.randn(prev.shape, generator=gen, device=device, dtype=prev.dtype)
            draw = params.mean + temperature * torch.exp(params.log_std) * eps
            prev = draw.clamp(-MAX_NORMALISED, MAX_NORMALISED)  # stay near the data
            out.append(prev)
        vectors = self.denormalise(torch.cat(out, dim=0))  # (T, D)
        return vectors.double().cpu().numpy(), FrameTierState(hidden, prev)

    def sample(
        self,
        n_frames: int,
        *,
        temperature: float = 1.0,
        seed: int = 0,
        state: FrameTierState | None = None,
    ) -> tuple[Features, FrameTierState]:
        """Draw ``n_frames`` frames and turn them into a :class:`~dsp_rnn.audio.Features`
        (:func:`features_from_vectors`) that :func:`~dsp_rnn.audio.vocode` can render.

        Arguments as :meth:`sample_vectors`. Returns ``(features, state)``; the features
        cover ``n_frames * hop_samples`` samples.
        """
        vectors, state = self.sample_vectors(
            n_frames, temperature=temperature, seed=seed, state=state
        )
        return features_from_vectors(vectors, self.config.features), state


# ------------------------------------------------------------------------------ training
def fit_frame_tier(
    features_list: Sequence[Features],
    *,
    steps: int = 300,
    seed: int = 0,
    config: FrameTierConfig | None = None,
    window_frames: int = 64,
    batch_size: int = 8,
    learning_rate: float = 3e-3,
) -> FrameTierFit:
    """Fit a :class:`FrameTier` to a few feature sequences with Adam.

    The normalisation comes from :func:`fit_normalisation` of the data; each step draws
    ``batch_size`` windows of ``window_frames`` frames (uniformly over every start of every
    sequence, shorter sequences giving shorter windows for all) and minimises their mean
    NLL per frame, each window starting at rest. For larger data, use
    :meth:`FrameTier.nll` as the loss of your own loop.

    Args:
        features_list: training features, all computed with ``config.features``.
        steps: Adam steps, >= 1 (default 300).
        seed: seed of the initial weights and of the windows (default 0).
        config: the tier's settings (default :class:`FrameTierConfig` with the features'
            config).
        window_frames: frames per window, >= 2 (default 64).
        batch_size: windows per step, >= 1 (default 8).
        learning_rate: Adam's step size, > 0 (default 3e-3).

    Returns:
        :class:`FrameTierFit` ``(tier, losses)``; the tier in eval mode on the CPU.

    Raises:
        InputError: bad settings, no data, or features of another config.

    Properties: CPU; deterministic for a given seed.
    """
    items = list(features_list)
    if not items:
        raise InputError("features_list: expected at least one Features, got none")
    steps = check_int(steps, "steps", minimum=1)
    seed = check_seed(seed)
    window_frames = check_int(window_frames, "window_frames", minimum=2)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if not (isinstance(learning_rate, (int, float)) and 0 < learning_rate < math.inf):
        raise InputError(f"learning_rate: expected a number > 0, got {learning_rate!r}")
    cfg = config or FrameTierConfig(features=items[0].config)
    for i, f in enumerate(items):
        _check_config(f, cfg.features, f"features_list[{i}]")
    stats = fit_normalisation(items)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        tier = FrameTier(cfg, stats)
    data = [torch.from_numpy(frame_vectors(f)).float() for f in items]
    length = min(window_frames, min(v.shape[0] for v in data))
    starts = [(i, s) for i, v in enumerate(data) for s in range(v.shape[0] - length + 1)]
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(tier.parameters(), lr=learning_rate)
    losses: list[float] = []
    tier.train()
    for _ in range(steps):
        pick = rng.integers(len(starts), size=batch_size)
        windows = [starts[k] for k in pick]
        batch = torch.stack([data[i][s : s + length] for i, s in windows])  # (B, L, D)
        loss = tier.nll(batch).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    tier.eval()
    return FrameTierFit(tier, losses)


# ------------------------------------------------------------------------------ save / load
def save_frame_tier(folder: str | Path, tier: FrameTier) -> Path:
    """Write ``tier`` into ``folder``: :data:`FRAME_TIER_WEIGHTS` (its ``state_dict``, the
    normalisation buffers included, as safetensors) and :data:`FRAME_TIER_CONFIG` (its
    :class:`FrameTierConfig` as JSON), each atomically, replacing old ones. Nothing is
    pickled. The weights are written first, so a tier is loadable only once both are there.

    Args:
        folder: an existing folder (a run or model folder).
        tier: the :class:`FrameTier` to save.

    Returns:
        ``folder`` as a :class:`~pathlib.Path`.

    Raises:
        InputError: ``tier`` is not a :class:`FrameTier`.
        CheckpointError: ``folder`` is missing or cannot be written.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> tier = FrameTier(FrameTierConfig(hidden=8))
        >>> load_frame_tier(save_frame_tier(d, tier)).config == tier.config
        True
    """
    if not isinstance(tier, FrameTier):
        raise InputError(f"tier: expected a FrameTier, got {type(tier).__name__}")
    out = Path(folder)
    if not out.is_dir():
        raise CheckpointError(f"{out}: no such folder to save the frame tier in")
    c = tier.config
    doc = {
        "format_version": _FORMAT,
        "config": {
            "features": dataclasses.asdict(c.features),
            "hidden": c.hidden,
            "layers": c.layers,
            "min_log_std": c.min_log_std,
        },
    }
    save_tensors(out / FRAME_TIER_WEIGHTS, tier.state_dict(), {"format_version": _FORMAT})
    text = json.dumps(doc, indent=2) + "\n"
    write_bytes(out / FRAME_TIER_CONFIG, text.encode(), overwrite=True, error=CheckpointError)
    return out


def load_frame_tier(folder: str | Path) -> FrameTier:
    """The :class:`FrameTier` saved in ``folder`` by :func:`save_frame_tier` (eval mode, on
    the CPU); the same seed then draws the same frames as the saved tier.

    Raises:
        CheckpointError: either file missing, damaged JSON or safetensors, a bad config, or
            weights that do not fit the config (the message names the file).
    """
    src = Path(folder)
    config_path, weights_path = src / FRAME_TIER_CONFIG, src / FRAME_TIER_WEIGHTS
    if not config_path.is_file():
        raise CheckpointError(f"{config_path}: no such frame tier file")
    try:
        doc = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config_path}: not a readable frame tier config ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
        raise CheckpointError(f"{config_path}: expected a JSON object with a 'config' object")
    version = doc.get("format_version", _FORMAT)
    if not isinstance(version, int) or version > _FORMAT:
        raise CheckpointError(f"{config_path}: frame tier format version {version!r}, this "
                              f"dsp_rnn reads up to {_FORMAT}")  # fmt: skip
    settings = dict(doc["config"])
    try:
        features = settings.pop("features")
        if not isinstance(features, dict):
            raise TypeError(f"features: expected an object, got {features!r}")
        config = FrameTierConfig(features=FeatureConfig(**features), **settings)
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise CheckpointError(f"{config_path}: bad frame tier config ({exc})") from None
    tensors, _ = load_tensors(weights_path)
    tier = FrameTier(config)
    load_weights(tier, tensors, source=weights_path)
    return tier
