"""Signal metrics for comparing a system with a reference, and the ESR training loss.

``ref`` is always the reference. Every metric sums over all samples and channels of signals
shaped ``(..., time)`` and is computed in float64.

References:
    A. Wright, E.-P. Damskägg, V. Välimäki, "Real-time black-box modelling with recurrent
    neural networks", DAFx 2019 (the error-to-signal ratio, pre-emphasis).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

from dsp_rnn._validate import as_tensor, check_finite, check_int
from dsp_rnn.errors import InputError, ShapeError

__all__ = [
    "esr",
    "snr_db",
    "max_abs_error",
    "log_spectral_distance",
    "pre_emphasis_taps",
    "esr_loss",
    "hann_frames",
]


def _pair(y: Any, ref: Any) -> tuple[torch.Tensor, torch.Tensor]:
    y_t = as_tensor(y, "y").detach().to(torch.float64)
    r_t = as_tensor(ref, "ref").detach().to(torch.float64)
    if y_t.shape != r_t.shape:
        raise ShapeError(
            f"y and ref: expected the same shape, got {tuple(y_t.shape)} and {tuple(r_t.shape)}"
        )
    return y_t, r_t


def esr(y: Any, ref: Any) -> float:
    """Error-to-signal ratio ``sum (y - ref)^2 / sum ref^2`` (``ref`` is the reference).

    Summed over every sample and channel, in float64. 0 when ``y == ref`` (also when both
    are silent); ``inf`` when ``ref`` is silent and ``y`` is not.

    Args:
        y: the signal under test.
        ref: the reference signal, same shape.

    Shape:
        ``(..., time)`` for both.

    Returns:
        The ESR (dimensionless, ``>= 0``).

    Raises:
        ShapeError: shapes differ.

    Example:
        >>> esr(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0]))
        0.5
    """
    y_t, r_t = _pair(y, ref)
    err = float((y_t - r_t).square().sum())
    sig = float(r_t.square().sum())
    if err == 0.0:
        return 0.0
    return err / sig if sig > 0.0 else math.inf


def snr_db(y: Any, ref: Any) -> float:
    """Signal-to-noise ratio ``10 log10(sum ref^2 / sum (y - ref)^2)`` in dB (``= -10 log10 ESR``).

    ``inf`` for identical signals.

    Example:
        >>> round(snr_db(torch.tensor([1.1, 2.0]), torch.tensor([1.0, 2.0])), 3)
        26.99
    """
    e = esr(y, ref)
    if e == 0.0:
        return math.inf
    return -10.0 * math.log10(e) if math.isfinite(e) else -math.inf


def max_abs_error(y: Any, ref: Any) -> float:
    """``max |y - ref|`` over every sample and channel.

    Example:
        >>> max_abs_error(torch.tensor([1.0, 2.0]), torch.tensor([1.5, 2.0]))
        0.5
    """
    y_t, r_t = _pair(y, ref)
    return float((y_t - r_t).abs().max()) if y_t.numel() else 0.0


def hann_frames(x: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Hann-windowed frames ``(..., n_frames, n_fft)`` (no padding; the tail is dropped)."""
    win = torch.hann_window(n_fft, periodic=True, dtype=x.dtype, device=x.device)
    return x.unfold(-1, n_fft, hop) * win


def log_spectral_distance(
    y: Any, ref: Any, *, n_fft: int = 2048, hop: int | None = None, eps: float = 1e-10
) -> float:
    """Log-spectral distance between ``y`` and the reference ``ref``, in dB.

    Both signals are cut into frames of ``n_fft`` samples (hop ``hop``, periodic Hann window,
    no padding), and ``P = |rfft(frame)|^2``. Powers are floored at ``eps`` times the
    reference's largest frame power (so differences more than ``-10 log10 eps`` dB below
    the reference's peak do not count). Then

    ``LSD = mean over frames of sqrt(mean over bins of (10 log10(P_y / P_ref))^2)``.

    Args:
        y: signal under test.
        ref: the reference, same shape.
        n_fft: frame length in samples (default 2048; reduced to the signal length when
            the signal is shorter).
        hop: hop in samples (default ``n_fft // 4``).
        eps: the floor, relative to the reference's peak power (default ``1e-10``: -100 dB).

    Shape:
        ``(..., time)`` for both; frames of every channel are averaged together.

    Returns:
        The distance in dB (0 for identical signals).

    Raises:
        ShapeError: shapes differ or the signal is empty. InputError: bad ``n_fft``/``hop``.

    Example:
        >>> x = torch.randn(4096, generator=torch.Generator().manual_seed(0))
        >>> round(log_spectral_distance(2 * x, x), 3)  # a 6 dB gain everywhere
        6.021
    """
    y_t, r_t = _pair(y, ref)
    n_t = y_t.shape[-1] if y_t.ndim else 0
    if n_t == 0:
        raise ShapeError("y and ref: expected at least one sample, got an empty signal")
    n_fft = min(check_int(n_fft, "n_fft", minimum=1), n_t)
    hop = max(1, n_fft // 4) if hop is None else check_int(hop, "hop", minimum=1)
    p_y = torch.fft.rfft(hann_frames(y_t, n_fft, hop)).abs().square()
    p_r = torch.fft.rfft(hann_frames(r_t, n_fft, hop)).abs().square()
    floor = max(float(eps) * float(p_r.max()), torch.finfo(torch.float64).tiny)
    diff_db = 10.0 * (p_y.clamp_min(floor).log10() - p_r.clamp_min(floor).log10())
    return float(diff_db.square().mean(-1).sqrt().mean())


def pre_emphasis_taps(pre_emphasis: Any) -> torch.Tensor | None:
    """FIR taps of a pre-emphasis filter: ``c`` -> ``[1, -c]`` (``1 - c z^-1``), or taps as given.

    Example:
        >>> pre_emphasis_taps(0.85)
        tensor([ 1.0000, -0.8500], dtype=torch.float64)
    """
    if pre_emphasis is None:
        return None
    if isinstance(pre_emphasis, numbers.Real) and not isinstance(pre_emphasis, bool):
        c = float(pre_emphasis)
        if not (math.isfinite(c) and -1.0 < c < 1.0):
            raise InputError(f"pre_emphasis: expected -1 < c < 1, got pre_emphasis={c:g}")
        return torch.tensor([1.0, -c], dtype=torch.float64)
    taps = as_tensor(pre_emphasis, "pre_emphasis", dtype=torch.float64)
    if taps.ndim != 1 or taps.numel() == 0:
        raise ShapeError(f"pre_emphasis: expected 1-D FIR taps, got shape {tuple(taps.shape)}")
    check_finite(taps, "pre_emphasis")
    return taps


def _emphasise(y: torch.Tensor, taps: torch.Tensor | None) -> torch.Tensor:
    """FIR filter along the last axis, keeping only fully-overlapped samples."""
    if taps is None:
        return y
    k = taps.to(y.dtype).flip(0).reshape(1, 1, -1)
    lead = y.shape[:-1]
    out = torch.nn.functional.conv1d(y.reshape(-1, 1, y.shape[-1]), k)
    return out.reshape(lead + (out.shape[-1],))


def esr_loss(y: torch.Tensor, target: torch.Tensor, pre_emphasis: Any = None) -> torch.Tensor:
    """Differentiable ESR loss ``sum (P t - P y)^2 / sum (P t)^2`` with pre-emphasis ``P``.

    ``P`` is the FIR filter of :func:`pre_emphasis_taps` (none by default), applied along the
    time axis (``y``/``target`` ``(..., time)``, or ``(batch, time, 1)`` as cells give).

    Example:
        >>> t = torch.tensor([1.0, 2.0, 3.0])
        >>> float(esr_loss(t, t)), round(float(esr_loss(2 * t, t, pre_emphasis=0.5)), 4)
        (0.0, 1.0)
    """
    if y.ndim == 3 and y.shape[-1] == 1:
        y, target = y[..., 0], target[..., 0]
    taps = pre_emphasis if isinstance(pre_emphasis, torch.Tensor) else None
    if taps is None:
        taps = pre_emphasis_taps(pre_emphasis)
    py, pt = _emphasise(y, taps), _emphasise(target, taps)
    return (pt - py).square().sum() / pt.square().sum().clamp_min(1e-20)
