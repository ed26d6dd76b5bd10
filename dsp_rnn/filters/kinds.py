"""Every filter design (the cookbook biquads of :mod:`dsp_rnn.filters.design`, the classic
designs of :mod:`dsp_rnn.filters.classic`) behind one function, chosen by name.

:func:`design_filter` maps a design name (``"lowpass"``, ``"peaking"``, ``"butter"``, ...) and
one set of keyword parameters onto the matching design function, so that a caller that picks
the design at run time (a command line, a config file, a sweep) needs no dispatch of its own.
The result is exactly what the named function returns.
"""

from __future__ import annotations

from typing import Any

import torch

from dsp_rnn._filter_kinds import BIQUAD_KINDS, BTYPES, CLASSIC_KINDS, FILTER_KINDS
from dsp_rnn.errors import InputError
from dsp_rnn.filters import classic, design

__all__ = ["BIQUAD_KINDS", "CLASSIC_KINDS", "FILTER_KINDS", "BTYPES", "design_filter"]

# BIQUAD_KINDS, CLASSIC_KINDS, FILTER_KINDS and BTYPES live in dsp_rnn._filter_kinds (it
# imports nothing, so the command line reads them without loading torch)
_GAIN_KINDS = ("peaking", "lowshelf", "highshelf")


def design_filter(
    kind: str,
    f0_hz: Any,
    *,
    sample_rate: float,
    f1_hz: float | None = None,
    q: Any = design.BUTTERWORTH_Q,
    gain_db: Any = 0.0,
    order: int = 4,
    btype: str = "lowpass",
    ripple_db: float = 1.0,
    attenuation_db: float = 60.0,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Design the filter named ``kind`` as second-order sections.

    Args:
        kind: one of :data:`FILTER_KINDS`: a cookbook biquad (``lowpass``, ``highpass``,
            ``bandpass``, ``notch``, ``peaking``, ``lowshelf``, ``highshelf``, ``allpass``)
            or a classic design (``butter``, ``cheby1``, ``cheby2``, ``ellip``).
        f0_hz: centre/cutoff frequency in Hz, ``0 < f0_hz < sample_rate/2``; for the
            classic designs the lower band edge when ``f1_hz`` is given. A tensor (with
            batch dims) is passed on as is to the biquads, so they stay differentiable.
        sample_rate: sample rate in Hz, ``> 0`` (keyword-only).
        f1_hz: upper band edge in Hz for the classic ``bandpass``/``bandstop`` designs
            (default None: a single cutoff); not accepted by the biquads.
        q: biquad quality factor, ``> 0`` (default ``1/sqrt(2)``); biquads only.
        gain_db: gain in dB of ``peaking``, ``lowshelf`` and ``highshelf`` (default 0);
            the other designs do not use it.
        order: classic design order, ``>= 1`` (default 4).
        btype: classic band type, one of :data:`BTYPES` (default ``'lowpass'``).
        ripple_db: passband ripple in dB, ``> 0`` (default 1), of ``cheby1`` and ``ellip``.
        attenuation_db: stopband attenuation in dB, ``> 0`` (default 60), of ``cheby2`` and
            ``ellip``.
        dtype: output dtype (default None: each design function's own default, float32
            unless a biquad parameter is a float64 tensor).

    Shape:
        Biquads: ``(..., 1, 6)``, the batch dims those of the tensor parameters (``(1, 6)``
        for numbers). Classic designs: ``(n_sections, 6)``.

    Returns:
        Normalised sections ``[b0 b1 b2 1 a1 a2]``, the same as calling
        ``biquad_<kind>(...)`` or ``butter``/``cheby1``/``cheby2``/``ellip`` directly.

    Raises:
        InputError: unknown ``kind``, ``f1_hz`` given to a biquad, or any parameter the
            design function refuses (frequencies outside ``(0, sample_rate/2)``, ...).

    Properties: biquads differentiable w.r.t. ``f0_hz``, ``q`` and ``gain_db`` (CPU or
    CUDA); classic designs are not (scipy on the CPU).

    Example:
        >>> import torch
        >>> from dsp_rnn.filters import biquad_peaking, butter
        >>> sos = design_filter("peaking", 1000.0, gain_db=6.0, sample_rate=48000)
        >>> torch.equal(sos, biquad_peaking(1000.0, gain_db=6.0, sample_rate=48000))
        True
        >>> band = design_filter("butter", 300.0, f1_hz=3000.0, btype="bandpass", order=2,
        ...                      sample_rate=16000, dtype=torch.float64)
        >>> torch.equal(band, butter(2, (300.0, 3000.0), btype="bandpass", sample_rate=16000,
        ...                          dtype=torch.float64))
        True
    """
    if kind not in FILTER_KINDS:
        raise InputError(f"kind: expected one of {', '.join(FILTER_KINDS)}, got kind={kind!r}")
    if kind in BIQUAD_KINDS:
        if f1_hz is not None:
            raise InputError(
                f"f1_hz: only the classic designs ({', '.join(CLASSIC_KINDS)}) take a band "
                f"edge pair; {kind} takes f0_hz and q, got f1_hz={f1_hz!r}"
            )
        kwargs: dict[str, Any] = {"q": q, "sample_rate": sample_rate, "dtype": dtype}
        if kind in _GAIN_KINDS:
            kwargs["gain_db"] = gain_db
        return getattr(design, f"biquad_{kind}")(f0_hz, **kwargs)
    cutoff = f0_hz if f1_hz is None else (f0_hz, f1_hz)
    extra: dict[str, Any] = {
        "btype": btype,
        "sample_rate": sample_rate,
        "dtype": torch.float32 if dtype is None else dtype,
    }
    if kind == "butter":
        return classic.butter(order, cutoff, **extra)
    if kind == "cheby1":
        return classic.cheby1(order, ripple_db, cutoff, **extra)
    if kind == "cheby2":
        return classic.cheby2(order, attenuation_db, cutoff, **extra)
    return classic.ellip(order, ripple_db, attenuation_db, cutoff, **extra)
