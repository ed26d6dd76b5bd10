"""Classic IIR designs as second-order sections: :func:`butter`, :func:`cheby1`,
:func:`cheby2` and :func:`ellip`.

Each calls ``scipy.signal`` with ``output='sos'`` in float64 and returns a tensor of shape
``(n_sections, 6)`` with rows ``[b0 b1 b2 a0 a1 a2]`` and ``a0 == 1`` (``dtype`` keyword,
default ``torch.float32``), ready for :func:`dsp_rnn.filters.sosfilt`. They are not
differentiable; the differentiable cookbook biquads are :mod:`dsp_rnn.filters.design`.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.signal
import torch

from dsp_rnn._filter_kinds import BTYPES
from dsp_rnn._validate import (
    check_finite,
    check_frequency,
    check_int,
    check_positive,
    check_sample_rate,
)
from dsp_rnn.errors import InputError

__all__ = ["butter", "cheby1", "cheby2", "ellip"]


def _check_order(order: Any) -> int:
    return check_int(order, "order", minimum=1)


def _check_cutoff(cutoff_hz: Any, btype: str, sample_rate: float) -> float | tuple[float, float]:
    if btype not in BTYPES:
        raise InputError(f"btype: expected one of {', '.join(BTYPES)}, got btype={btype!r}")
    sr = check_sample_rate(sample_rate)
    values = np.asarray(
        cutoff_hz.detach().cpu() if isinstance(cutoff_hz, torch.Tensor) else cutoff_hz, dtype=float
    ).reshape(-1)
    want = 1 if btype in ("lowpass", "highpass") else 2
    if values.size != want:
        raise InputError(
            f"cutoff_hz: btype={btype!r} expects "
            f"{'one frequency' if want == 1 else 'a pair (low, high)'} in Hz, "
            f"got cutoff_hz={np.asarray(cutoff_hz).tolist()!r}"
        )
    check_frequency(values, sr, "cutoff_hz")
    if want == 1:
        return float(values[0])
    if not values[0] < values[1]:
        raise InputError(
            f"cutoff_hz: expected low < high for btype={btype!r}, got cutoff_hz=({values[0]:g}, "
            f"{values[1]:g})"
        )
    return float(values[0]), float(values[1])


def _classic(fn: Callable, order: Any, cutoff_hz: Any, btype: str, sample_rate: float,
             dtype: torch.dtype, **kw: float) -> torch.Tensor:  # fmt: skip
    n = _check_order(order)
    wn = _check_cutoff(cutoff_hz, btype, sample_rate)
    sos = fn(n, Wn=wn, btype=btype, output="sos", fs=float(sample_rate), **kw)
    out = torch.from_numpy(np.ascontiguousarray(sos, dtype=np.float64))
    check_finite(out, f"{fn.__name__} design")
    return out.to(dtype)


_CLASSIC_DOC = """

    Args:
        order: filter order, an integer ``>= 1`` (band designs have ``2 * order`` poles).{extra}
        cutoff_hz: edge frequency in Hz, ``0 < cutoff_hz < sample_rate / 2``; a pair
            ``(low, high)`` with ``low < high`` for ``'bandpass'`` and ``'bandstop'``.
        btype: ``'lowpass'`` (default), ``'highpass'``, ``'bandpass'`` or ``'bandstop'``.
        sample_rate: sample rate in Hz, ``> 0`` (keyword-only).
        dtype: output dtype (default ``torch.float32``); the design itself runs in float64.

    Shape:
        Output ``(n_sections, 6)``, ``n_sections = ceil(order / 2)`` (``order`` for band
        designs).

    Returns:
        Second-order sections ``[b0 b1 b2 1 a1 a2]``, exactly ``scipy.signal.{name}(...,
        output='sos')`` cast to ``dtype``.

    Raises:
        InputError: bad ``order``, ``btype``, cutoff(s) outside ``(0, sample_rate/2)``{raises}.

    Properties: not differentiable (designed by scipy on the CPU); move the result with
    ``.to(device)``.
"""


def _classic_doc(name: str, extra: str = "", raises: str = "") -> Callable:
    def deco(fn: Callable) -> Callable:
        doc = fn.__doc__ or ""
        head, sep, example = doc.partition("\n    Example:")
        fn.__doc__ = (
            head.rstrip()
            + _CLASSIC_DOC.format(name=name, extra=extra, raises=raises).rstrip()
            + "\n"
            + sep
            + example
        )
        return fn

    return deco


@_classic_doc("butter")
def butter(
    order: int,
    cutoff_hz: float | tuple[float, float],
    *,
    btype: str = "lowpass",
    sample_rate: float,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Butterworth filter (maximally flat passband) as second-order sections.

    Example:
        >>> sos = butter(4, 1000.0, sample_rate=48000)
        >>> sos.shape, sos.dtype
        (torch.Size([2, 6]), torch.float32)
    """
    return _classic(scipy.signal.butter, order, cutoff_hz, btype, sample_rate, dtype)


def _check_db(value: Any, name: str) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name}: expected one number in dB, got {name}={value!r}")
    check_positive(value, name)
    return float(value)


@_classic_doc(
    "cheby1",
    extra="\n        ripple_db: peak-to-peak passband ripple in dB, ``> 0``.",
    raises=", ``ripple_db <= 0``",
)
def cheby1(
    order: int,
    ripple_db: float,
    cutoff_hz: float | tuple[float, float],
    *,
    btype: str = "lowpass",
    sample_rate: float,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Chebyshev type I filter (equiripple passband) as second-order sections.

    ``cutoff_hz`` is where the gain first drops below ``-ripple_db``.

    Example:
        >>> sos = cheby1(5, 1.0, (500.0, 2000.0), btype="bandpass", sample_rate=16000)
        >>> sos.shape
        torch.Size([5, 6])
    """
    rp = _check_db(ripple_db, "ripple_db")
    return _classic(scipy.signal.cheby1, order, cutoff_hz, btype, sample_rate, dtype, rp=rp)


@_classic_doc(
    "cheby2",
    extra="\n        attenuation_db: minimum stopband attenuation in dB, ``> 0``.",
    raises=", ``attenuation_db <= 0``",
)
def cheby2(
    order: int,
    attenuation_db: float,
    cutoff_hz: float | tuple[float, float],
    *,
    btype: str = "lowpass",
    sample_rate: float,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Chebyshev type II filter (equiripple stopband) as second-order sections.

    ``cutoff_hz`` is where the gain first reaches ``-attenuation_db``.

    Example:
        >>> sos = cheby2(4, 40.0, 3000.0, btype="highpass", sample_rate=16000)
        >>> sos.shape
        torch.Size([2, 6])
    """
    rs = _check_db(attenuation_db, "attenuation_db")
    return _classic(scipy.signal.cheby2, order, cutoff_hz, btype, sample_rate, dtype, rs=rs)


@_classic_doc(
    "ellip",
    extra=(
        "\n        ripple_db: peak-to-peak passband ripple in dB, ``> 0``."
        "\n        attenuation_db: minimum stopband attenuation in dB, ``> ripple_db``."
    ),
    raises=", ``ripple_db <= 0`` or ``attenuation_db <= ripple_db``",
)
def ellip(
    order: int,
    ripple_db: float,
    attenuation_db: float,
    cutoff_hz: float | tuple[float, float],
    *,
    btype: str = "lowpass",
    sample_rate: float,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Elliptic (Cauer) filter (equiripple pass- and stopband) as second-order sections.

    Example:
        >>> sos = ellip(6, 0.5, 60.0, 1000.0, sample_rate=48000, dtype=torch.float64)
        >>> sos.shape, bool((sos[:, 3] == 1).all())
        (torch.Size([3, 6]), True)
    """
    rp = _check_db(ripple_db, "ripple_db")
    rs = _check_db(attenuation_db, "attenuation_db")
    if not rs > rp:
        raise InputError(
            f"attenuation_db: must exceed ripple_db, got attenuation_db={rs:g}, ripple_db={rp:g}"
        )
    return _classic(scipy.signal.ellip, order, cutoff_hz, btype, sample_rate, dtype, rp=rp, rs=rs)
