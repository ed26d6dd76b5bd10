"""Filter design: Audio EQ Cookbook biquads, differentiable, as second-order sections.

Every design returns second-order sections (SOS), shape ``(..., n_sections, 6)`` with rows
``[b0 b1 b2 a0 a1 a2]`` and ``a0 == 1``, ready for :func:`dsp_rnn.filters.sosfilt`.

The cookbook biquads (``biquad_*``) are plain torch: their parameters may be Python floats
or tensors with leading (batch) dims, and the coefficients are differentiable with respect
to ``f0_hz``, ``q`` and ``gain_db``. One design per batch element: parameters of shape
``(...)`` (broadcast together) give SOS of shape ``(..., 1, 6)``. The classic designs
(:func:`~dsp_rnn.filters.classic.butter`, ``cheby1``, ``cheby2``, ``ellip``) are
:mod:`dsp_rnn.filters.classic`.

References:
    R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients"
    (Audio EQ Cookbook), https://www.w3.org/TR/audio-eq-cookbook/
"""

from __future__ import annotations

import math
from typing import Any

import torch

from dsp_rnn._validate import (
    as_tensor,
    check_finite,
    check_frequency,
    check_positive,
    check_sample_rate,
    common_dtype,
)
from dsp_rnn.errors import InputError

__all__ = [
    "BUTTERWORTH_Q",
    "biquad_lowpass",
    "biquad_highpass",
    "biquad_bandpass",
    "biquad_notch",
    "biquad_peaking",
    "biquad_lowshelf",
    "biquad_highshelf",
    "biquad_allpass",
]

#: ``1 / sqrt(2)``: the Q of a second-order Butterworth section (maximally flat passband),
#: and for the shelves the Q that equals the cookbook's shelf slope ``S = 1``.
BUTTERWORTH_Q = 1.0 / math.sqrt(2.0)

_Param = float | torch.Tensor


# ----------------------------------------------------------------------------- cookbook core
def _prepare(
    f0_hz: Any,
    q: Any,
    sample_rate: float,
    gain_db: Any = None,
    dtype: torch.dtype | None = None,
) -> tuple[list[torch.Tensor], torch.dtype]:
    """Validate and broadcast the design parameters; return float64 tensors + output dtype."""
    sr = check_sample_rate(sample_rate)
    named = [("f0_hz", f0_hz), ("q", q)] + ([("gain_db", gain_db)] if gain_db is not None else [])
    # computed in float64 (Python numbers are not rounded to float32 first)
    tensors = [as_tensor(v, name, dtype=torch.float64) for name, v in named]
    for (name, _), t in zip(named, tensors, strict=True):
        check_finite(t, name)
    check_frequency(tensors[0], sr, "f0_hz")
    check_positive(tensors[1], "q")
    user_tensors = [v for _, v in named if isinstance(v, torch.Tensor)]
    out_dtype = dtype if dtype is not None else common_dtype(*user_tensors)
    device = user_tensors[0].device if user_tensors else None
    try:
        shape = torch.broadcast_shapes(*(t.shape for t in tensors))
    except RuntimeError as exc:
        shapes = ", ".join(
            f"{n} {tuple(t.shape)}" for (n, _), t in zip(named, tensors, strict=True)
        )
        raise InputError(f"design parameters do not broadcast: {shapes}") from exc
    tensors = [t.to(dtype=torch.float64, device=device).expand(shape) for t in tensors]
    return tensors, out_dtype


def _sos(
    b0: torch.Tensor,
    b1: torch.Tensor,
    b2: torch.Tensor,
    a0: torch.Tensor,
    a1: torch.Tensor,
    a2: torch.Tensor,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Stack one normalised SOS row per design: (...) coefficients -> (..., 1, 6)."""
    row = torch.stack([b0 / a0, b1 / a0, b2 / a0, torch.ones_like(a0), a1 / a0, a2 / a0], -1)
    return row.unsqueeze(-2).to(dtype)  # (..., 1, 6)


def _w0(f0_hz: torch.Tensor, q: torch.Tensor, sample_rate: float):
    w0 = 2.0 * math.pi * f0_hz / float(sample_rate)
    return torch.cos(w0), torch.sin(w0) / (2.0 * q)  # cos(w0), alpha


# ----------------------------------------------------------------------------- cookbook designs
# Shared docstring pieces are written out in full in each function on purpose: IDEs and
# readers of the source see the complete contract.


def biquad_lowpass(
    f0_hz: _Param,
    *,
    q: _Param = BUTTERWORTH_Q,
    sample_rate: float,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Second-order lowpass, ``H(s) = 1 / (s^2 + s/Q + 1)`` bilinear-transformed (cookbook LPF).

    Args:
        f0_hz: cutoff frequency in Hz (-3 dB at the default Q), ``0 < f0_hz < sample_rate/2``.
        q: quality factor, ``> 0`` (default ``1/sqrt(2)``: Butterworth, no peak).
        sample_rate: sample rate in Hz, ``> 0``.
        dtype: output dtype; default float64 if a tensor parameter is float64, else float32.
            The coefficients are computed in float64 either way.

    Shape:
        ``f0_hz`` and ``q`` are floats or tensors ``(...)`` that broadcast; output ``(..., 1, 6)``.

    Returns:
        One normalised second-order section ``[b0 b1 b2 1 a1 a2]`` per design.

    Raises:
        InputError: ``f0_hz`` outside ``(0, sample_rate/2)``, ``q <= 0``, bad ``sample_rate``,
            or parameters that do not broadcast.
        NonFiniteError: NaN or inf in a parameter.

    Properties: differentiable w.r.t. ``f0_hz`` and ``q`` (plain torch); computed on the
    device of the tensor parameters (CPU or CUDA).

    References:
        Audio EQ Cookbook, LPF. Same formula as ``torchaudio.functional.lowpass_biquad``.

    Example:
        >>> sos = biquad_lowpass(1000.0, sample_rate=48000)
        >>> sos.shape
        torch.Size([1, 6])
        >>> round(float(sos[0, :3].sum() / sos[0, 3:].sum()), 4)  # DC gain (float32)
        1.0
    """
    (f0, qq), dt = _prepare(f0_hz, q, sample_rate, dtype=dtype)
    c, alpha = _w0(f0, qq, sample_rate)
    b1 = 1.0 - c
    return _sos(b1 / 2, b1, b1 / 2, 1.0 + alpha, -2.0 * c, 1.0 - alpha, dt)


def biquad_highpass(
    f0_hz: _Param,
    *,
    q: _Param = BUTTERWORTH_Q,
    sample_rate: float,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Second-order highpass, ``H(s) = s^2 / (s^2 + s/Q + 1)`` bilinear-transformed (cookbook HPF).

    Args:
        f0_hz: cutoff frequency in Hz (-3 dB at the default Q), ``0 < f0_hz < sample_rate/2``.
        q: quality factor, ``> 0`` (default ``1/sqrt(2)``: Butterworth, no peak).
        sample_rate: sample rate in Hz, ``> 0``.
        dtype: output dtype; default float64 if a tensor parameter is float64, else float32.

    Shape:
        ``f0_hz`` and ``q`` are floats or tensors ``(...)`` that broadcast; output ``(..., 1, 6)``.

    Returns:
        One normalised second-order section ``[b0 b1 b2 1 a1 a2]`` per design.

    Raises:
        InputError: ``f0_hz`` outside ``(0, sample_rate/2)``, ``q <= 0``, bad ``sample_rate``.
        NonFiniteError: NaN or inf in a parameter.

    Properties: differentiable w.r.t. ``f0_hz`` and ``q``; CPU or CUDA.

    References:
        Audio EQ Cookbook, HPF. Same formula as ``torchaudio.functional.highpass_biquad``.

    Example:
        >>> sos = biquad_highpass(1000.0, sample_rate=48000)
        >>> abs(float(sos[0, :3].sum())) < 1e-7  # no DC
        True
    """
    (f0, qq), dt = _prepare(f0_hz, q, sample_rate, dtype=dtype)
    c, alpha = _w0(f0, qq, sample_rate)
    b0 = (1.0 + c) / 2
    return _sos(b0, -(1.0 + c), b0, 1.0 + alpha, -2.0 * c, 1.0 - alpha, dt)


def biquad_bandpass(
    f0_hz: _Param,
    *,
    q: _Param = BUTTERWORTH_Q,
    sample_rate: float,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Second-order bandpass with 0 dB peak gain, ``H(s) = (s/Q) / (s^2 + s/Q + 1)``.

    Args:
        f0_hz: centre frequency in Hz, ``0 < f0_hz < sample_rate/2``.
        q: quality factor, ``> 0`` (default ``1/sqrt(2)``); bandwidth ~ ``f0_hz / q``.
        sample_rate: sample rate in Hz, ``> 0``.
        dtype: output dtype; default float64 if a tensor parameter is float64, else float32.

    Shape:
        ``f0_hz`` and ``q`` are floats or tensors ``(...)`` that broadcast; output ``(..., 1, 6)``.

    Returns:
        One normalised second-order section ``[b0 b1 b2 1 a1 a2]`` per design.

    Raises:
        InputError: ``f0_hz`` outside ``(0, sample_rate/2)``, ``q <= 0``, bad ``sample_rate``.
        NonFiniteError: NaN or inf in a parameter.

    Properties: differentiable w.r.t. ``f0_hz`` and ``q``; CPU or CUDA.

    References:
        Audio EQ Cookbook, BPF (constant 0 dB peak gain). Same formula as
        ``torchaudio.functional.bandpass_biquad(..., const_skirt_gain=False)``.

    Example:
        >>> import cmath, math
        >>> b0, b1, b2, a0, a1, a2 = biquad_bandpass(1000.0, q=2.0, sample_rate=8000)[0].tolist()
        >>> z = cmath.exp(-2j * math.pi * 1000 / 8000)  # z^-1 at f0
        >>> round(abs((b0 + b1 * z + b2 * z * z) / (a0 + a1 * z + a2 * z * z)), 5)
        1.0
    """
    (f0, qq), dt = _prepare(f0_hz, q, sample_rate, dtype=dtype)
    c, alpha = _w0(f0, qq, sample_rate)
    return _sos(alpha, torch.zeros_like(alpha), -alpha, 1.0 + alpha, -2.0 * c, 1.0 - alpha, dt)


def biquad_notch(
    f0_hz: _Param,
    *,
    q: _Param = BUTTERWORTH_Q,
    sample_rate: float,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Second-order notch (band-reject), ``H(s) = (s^2 + 1) / (s^2 + s/Q + 1)``.

    Args:
        f0_hz: notch frequency in Hz, ``0 < f0_hz < sample_rate/2``.
        q: quality factor, ``> 0`` (default ``1/sqrt(2)``); higher is narrower.
        sample_rate: sample rate in Hz, ``> 0``.
        dtype: output dtype; default float64 if a tensor parameter is float64, else float32.

    Shape:
        ``f0_hz`` and ``q`` are floats or tensors ``(...)`` that broadcast; output ``(..., 1, 6)``.

    Returns:
        One normalised second-order section ``[b0 b1 b2 1 a1 a2]`` per design.

    Raises:
        InputError: ``f0_hz`` outside ``(0, sample_rate/2)``, ``q <= 0``, bad ``sample_rate``.
        NonFiniteError: NaN or inf in a parameter.

    Properties: differentiable w.r.t. ``f0_hz`` and ``q``; CPU or CUDA.

    References:
        Audio EQ Cookbook, notch. Same formula as ``torchaudio.functional.bandreject_biquad``.

    Example:
        >>> sos = biquad_notch(1000.0, q=4.0, sample_rate=4000)  # f0 = fs/4: z^-1 = -1j
        >>> b0, b1, b2 = sos[0, :3].tolist()
        >>> abs(complex(b0 - b2, -b1)) < 1e-7  # the numerator vanishes at f0
        True
    """
    (f0, qq), dt = _prepare(f0_hz, q, sample_rate, dtype=dtype)
    c, alpha = _w0(f0, qq, sample_rate)
    one = torch.ones_like(c)
    return _sos(one, -2.0 * c, one, 1.0 + alpha, -2.0 * c, 1.0 - alpha, dt)


def biquad_peaking(
    f0_hz: _Param,
    *,
    gain_db: _Param,
    q: _Param = BUTTERWORTH_Q,
    sample_rate: float,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Peaking EQ: ``gain_db`` at ``f0_hz``, 0 dB far from it (cookbook peakingEQ).

    Args:
        f0_hz: centre frequency in Hz, ``0 < f0_hz < sample_rate/2``.
        gain_db: gain at ``f0_hz`` in dB, finite (negative cuts).
        q: quality factor, ``> 0`` (default ``1/sqrt(2)``); higher is narrower.
        sample_rate: sample rate in Hz, ``> 0``.
        dtype: output dtype; default float64 if a tensor parameter is float64, else float32.

    Shape:
        ``f0_hz``, ``gain_db`` and ``q`` are floats or tensors ``(...)`` that broadcast;
        output ``(..., 1, 6)``.

    Returns:
        One normalised second-order section ``[b0 b1 b2 1 a1 a2]`` per design.

    Raises:
        InputError: ``f0_hz`` outside ``(0, sample_rate/2)``, ``q <= 0``, bad ``sample_rate``.
        NonFiniteError: NaN or inf in a parameter (``gain_db`` included).

    Properties: differentiable w.r.t. ``f0_hz``, ``q`` and ``gain_db``; CPU or CUDA.

    References:
        Audio EQ Cookbook, peakingEQ (``A = 10^(gain_db/40)``). Same formula as
        ``torchaudio.functional.equalizer_biquad``.

    Example:
        >>> import cmath, math
        >>> sos = biquad_peaking(1000.0, gain_db=6.0, sample_rate=8000, dtype=torch.float64)
        >>> b0, b1, b2, a0, a1, a2 = sos[0].tolist()
        >>> z = cmath.exp(-2j * math.pi * 1000 / 8000)
        >>> round(20 * math.log10(abs((b0 + b1 * z + b2 * z * z) / (a0 + a1 * z + a2 * z * z))), 6)
        6.0
    """
    (f0, qq, g), dt = _prepare(f0_hz, q, sample_rate, gain_db, dtype=dtype)
    c, alpha = _w0(f0, qq, sample_rate)
    amp = torch.pow(10.0, g / 40.0)
    return _sos(
        1.0 + alpha * amp,
        -2.0 * c,
        1.0 - alpha * amp,
        1.0 + alpha / amp,
        -2.0 * c,
        1.0 - alpha / amp,
        dt,
    )


def _shelf(lowshelf: bool, f0_hz, gain_db, q, sample_rate, dtype) -> torch.Tensor:
    (f0, qq, g), dt = _prepare(f0_hz, q, sample_rate, gain_db, dtype=dtype)
    c, alpha = _w0(f0, qq, sample_rate)
    amp = torch.pow(10.0, g / 40.0)
    t1 = 2.0 * torch.sqrt(amp) * alpha
    # the high shelf is the low shelf with cos(w0) -> -cos(w0) and b1, a1 negated
    sgn = 1.0 if lowshelf else -1.0
    t2 = sgn * (amp - 1.0) * c
    t3 = sgn * (amp + 1.0) * c
    return _sos(
        amp * ((amp + 1.0) - t2 + t1),
        sgn * 2.0 * amp * ((amp - 1.0) - t3),
        amp * ((amp + 1.0) - t2 - t1),
        (amp + 1.0) + t2 + t1,
        -sgn * 2.0 * ((amp - 1.0) + t3),
        (amp + 1.0) + t2 - t1,
        dt,
    )


def biquad_lowshelf(
    f0_hz: _Param,
    *,
    gain_db: _Param,
    q: _Param = BUTTERWORTH_Q,
    sample_rate: float,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Low shelf: ``gain_db`` at DC, 0 dB at Nyquist (cookbook lowShelf).

    The cookbook states the shelf's steepness either as ``Q`` or as the shelf slope ``S``,
    related by ``1/Q = sqrt((A + 1/A) * (1/S - 1) + 2)`` with ``A = 10^(gain_db/40)``. This
    function takes ``q`` (as torchaudio's ``bass_biquad`` does); the default
    ``q = 1/sqrt(2)`` is exactly ``S = 1``, the steepest slope that stays monotonic, for any
    gain. Larger ``q`` gives a bump/dip next to the shelf.

    Args:
        f0_hz: shelf midpoint in Hz (gain ``gain_db / 2`` there), ``0 < f0_hz < sample_rate/2``.
        gain_db: shelf gain in dB, finite.
        q: shelf quality factor, ``> 0`` (default ``1/sqrt(2)``, i.e. ``S = 1``).
        sample_rate: sample rate in Hz, ``> 0``.
        dtype: output dtype; default float64 if a tensor parameter is float64, else float32.

    Shape:
        ``f0_hz``, ``gain_db`` and ``q`` are floats or tensors ``(...)`` that broadcast;
        output ``(..., 1, 6)``.

    Returns:
        One normalised second-order section ``[b0 b1 b2 1 a1 a2]`` per design.

    Raises:
        InputError: ``f0_hz`` outside ``(0, sample_rate/2)``, ``q <= 0``, bad ``sample_rate``.
        NonFiniteError: NaN or inf in a parameter.

    Properties: differentiable w.r.t. ``f0_hz``, ``q`` and ``gain_db``; CPU or CUDA.

    References:
        Audio EQ Cookbook, lowShelf. Same formula as ``torchaudio.functional.bass_biquad``.

    Example:
        >>> import math
        >>> sos = biquad_lowshelf(200.0, gain_db=-12.0, sample_rate=48000, dtype=torch.float64)
        >>> round(20 * math.log10(float(sos[0, :3].sum() / sos[0, 3:].sum())), 6)  # DC gain
        -12.0
    """
    return _shelf(True, f0_hz, gain_db, q, sample_rate, dtype)


def biquad_highshelf(
    f0_hz: _Param,
    *,
    gain_db: _Param,
    q: _Param = BUTTERWORTH_Q,
    sample_rate: float,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """High shelf: 0 dB at DC, ``gain_db`` at Nyquist (cookbook highShelf).

    Shelf slope as in :func:`biquad_lowshelf`: ``q`` relates to the cookbook's ``S`` by
    ``1/Q = sqrt((A + 1/A) * (1/S - 1) + 2)``; the default ``q = 1/sqrt(2)`` is ``S = 1``.

    Args:
        f0_hz: shelf midpoint in Hz (gain ``gain_db / 2`` there), ``0 < f0_hz < sample_rate/2``.
        gain_db: shelf gain in dB, finite.
        q: shelf quality factor, ``> 0`` (default ``1/sqrt(2)``, i.e. ``S = 1``).
        sample_rate: sample rate in Hz, ``> 0``.
        dtype: output dtype; default float64 if a tensor parameter is float64, else float32.

    Shape:
        ``f0_hz``, ``gain_db`` and ``q`` are floats or tensors ``(...)`` that broadcast;
        output ``(..., 1, 6)``.

    Returns:
        One normalised second-order section ``[b0 b1 b2 1 a1 a2]`` per design.

    Raises:
        InputError: ``f0_hz`` outside ``(0, sample_rate/2)``, ``q <= 0``, bad ``sample_rate``.
        NonFiniteError: NaN or inf in a parameter.

    Properties: differentiable w.r.t. ``f0_hz``, ``q`` and ``gain_db``; CPU or CUDA.

    References:
        Audio EQ Cookbook, highShelf. Same formula as ``torchaudio.functional.treble_biquad``.

    Example:
        >>> import math
        >>> sos = biquad_highshelf(4000.0, gain_db=6.0, sample_rate=48000, dtype=torch.float64)
        >>> b0, b1, b2, a0, a1, a2 = sos[0].tolist()
        >>> round(20 * math.log10(abs((b0 - b1 + b2) / (a0 - a1 + a2))), 6)  # gain at Nyquist
        6.0
    """
    return _shelf(False, f0_hz, gain_db, q, sample_rate, dtype)


def biquad_allpass(
    f0_hz: _Param,
    *,
    q: _Param = BUTTERWORTH_Q,
    sample_rate: float,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Second-order allpass: ``|H| = 1`` everywhere, phase ``-pi`` at ``f0_hz`` (cookbook APF).

    Args:
        f0_hz: frequency of 180 degrees phase shift in Hz, ``0 < f0_hz < sample_rate/2``.
        q: quality factor, ``> 0`` (default ``1/sqrt(2)``); higher gives a faster phase turn.
        sample_rate: sample rate in Hz, ``> 0``.
        dtype: output dtype; default float64 if a tensor parameter is float64, else float32.

    Shape:
        ``f0_hz`` and ``q`` are floats or tensors ``(...)`` that broadcast; output ``(..., 1, 6)``.

    Returns:
        One normalised second-order section ``[b0 b1 b2 1 a1 a2]`` per design.

    Raises:
        InputError: ``f0_hz`` outside ``(0, sample_rate/2)``, ``q <= 0``, bad ``sample_rate``.
        NonFiniteError: NaN or inf in a parameter.

    Properties: differentiable w.r.t. ``f0_hz`` and ``q``; CPU or CUDA.

    References:
        Audio EQ Cookbook, APF. Same formula as ``torchaudio.functional.allpass_biquad``.

    Example:
        >>> sos = biquad_allpass(1000.0, q=2.0, sample_rate=48000, dtype=torch.float64)
        >>> torch.allclose(sos[0, :3], sos[0, 3:].flip(-1))  # numerator = reversed denominator
        True
    """
    (f0, qq), dt = _prepare(f0_hz, q, sample_rate, dtype=dtype)
    c, alpha = _w0(f0, qq, sample_rate)
    return _sos(1.0 - alpha, -2.0 * c, 1.0 + alpha, 1.0 + alpha, -2.0 * c, 1.0 - alpha, dt)
