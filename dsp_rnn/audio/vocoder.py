"""The LPC vocoder: the linear twin of an LPCNet-style model.

Where the model's network predicts the excitation sample by sample, the vocoder makes it
from the frame features alone: a pulse train at ``f0_hz`` mixed with white noise by the
frame's voicing, scaled to the frame's prediction-residual power, through the synthesis
filter ``1 / A(z)`` (:func:`~dsp_rnn.audio.lpc_synthesis`, i.e. :mod:`dsp_rnn.filters`)
and the de-emphasis :func:`dsp_rnn.filters.deemphasis`.

References:
    B. S. Atal and S. L. Hanauer, "Speech analysis and synthesis by linear prediction of
    the speech wave", JASA 50(2B), 1971; LPC-10 (FS-1015).
"""

from __future__ import annotations

import numpy as np
import torch

from dsp_rnn._validate import check_seed
from dsp_rnn.audio.features import Features
from dsp_rnn.audio.synthesis import lpc_synthesis
from dsp_rnn.errors import InputError
from dsp_rnn.filters import deemphasis

__all__ = ["voicing", "excitation", "vocode"]


def voicing(periodicity: np.ndarray, *, low: float = 0.4, high: float = 0.8) -> np.ndarray:
    """The voiced share of the excitation from the periodicity: 0 at or below ``low``, 1
    at or above ``high``, linear between (defaults 0.4 and 0.8; ``0 <= low < high <= 1``).

    Example:
        >>> voicing(np.array([0.2, 0.6, 0.9]))
        array([0. , 0.5, 1. ])
    """
    if not (0.0 <= low < high <= 1.0):
        raise InputError(f"low, high: expected 0 <= low < high <= 1, got {low}, {high}")
    return np.clip((np.asarray(periodicity, dtype=np.float64) - low) / (high - low), 0.0, 1.0)


def excitation(feats: Features, *, seed: int = 0) -> np.ndarray:
    """The vocoder's excitation: unit-power pulses and noise mixed by voicing, times the
    frame's residual RMS.

    The pulse train follows ``f0_hz`` interpolated linearly between frame centres (a phase
    accumulator, one pulse of height ``sqrt(sample_rate / f0_hz)`` per period, so its mean
    power is one); the noise is Gaussian with unit power; the voiced share ``v`` of
    :func:`voicing` mixes them as ``sqrt(v) pulses + sqrt(1 - v) noise``.

    Args:
        feats: the frame features.
        seed: seed of the noise (default 0).

    Shape:
        Returns ``(feats.n_samples,)`` float64.
    """
    seed = check_seed(seed)
    sr, hop, n = feats.sample_rate, feats.hop_samples, feats.n_samples
    t = np.arange(n)
    centres = np.arange(feats.n_frames) * hop + hop / 2
    f0 = np.interp(t, centres, feats.f0_hz.astype(np.float64))
    phase = np.cumsum(f0 / sr)
    pulses = np.zeros(n)
    at = np.flatnonzero(np.diff(np.floor(phase), prepend=0.0) > 0)
    pulses[at] = np.sqrt(sr / f0[at])
    frame_of = t // hop
    v = voicing(feats.periodicity)[frame_of]
    noise = np.random.default_rng(seed).standard_normal(n)
    gain = np.sqrt(np.maximum(feats.residual_power, 0.0))[frame_of]
    return gain * (np.sqrt(v) * pulses + np.sqrt(1.0 - v) * noise)


def vocode(feats: Features, *, seed: int = 0) -> torch.Tensor:
    """Synthesise a signal from its frame features with the linear model alone.

    :func:`excitation` through the per-frame synthesis filter ``1 / A(z)`` of
    ``feats.lpc`` (:func:`~dsp_rnn.audio.lpc_synthesis`), then de-emphasis by
    ``feats.config.preemphasis``.

    Args:
        feats: the frame features (:func:`~dsp_rnn.audio.features`).
        seed: seed of the noise (default 0).

    Shape:
        Returns ``(feats.n_samples,)`` at ``feats.sample_rate``.

    Returns:
        float32 tensor.

    Properties: not differentiable in the features (numpy excitation); CPU.

    Example:
        >>> from dsp_rnn.audio import features
        >>> t = np.arange(3200) / 16000
        >>> y = vocode(features(0.3 * np.sign(np.sin(2 * np.pi * 150 * t)), 16000))
        >>> y.shape, y.dtype
        (torch.Size([3200]), torch.float32)
    """
    e = torch.from_numpy(excitation(feats, seed=seed))
    s = lpc_synthesis(e, torch.from_numpy(feats.lpc), hop_samples=feats.hop_samples)
    c = feats.config.preemphasis
    if c != 0.0:
        s = deemphasis(s, c)
    return s.to(torch.float32)
