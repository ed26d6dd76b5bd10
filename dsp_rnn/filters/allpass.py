"""Allpass sections: first and second order, and the first-order Thiran allpass.

Every filter here has ``|H(e^{jw})| = 1`` at every frequency by construction, for every
parameter value that passes validation; only the phase (group delay) is shaped. Each comes
as a transfer function (``*_tf`` -> ``(b, a)``, usable with :func:`lfilter` or any
``freqz``) and a function that filters a signal (scipy style: ``zi`` in, ``(y, zf)`` out).
The delay-line allpasses (Schroeder, nested) are in :mod:`dsp_rnn.filters.schroeder`, the
:class:`torch.nn.Module` wrappers in :mod:`dsp_rnn.filters.allpass_modules`.

Equations (``z^-1`` is one sample of delay):

- first order:   ``H(z) = (c + z^-1) / (1 + c z^-1)``, ``|c| < 1``;
- second order:  ``H(z) = (a2 + a1 z^-1 + z^-2) / (1 + a1 z^-1 + a2 z^-2)`` with
  ``a1 = -(1 + a2) cos w0`` so that ``H(e^{j w0}) = -1``; ``a2 = r^2`` (pole radius ``r``)
  or from ``q`` as in the Audio EQ Cookbook;
- Thiran:        the first-order section with ``c = (1 - d) / (1 + d)`` delays by ``d``
  samples at DC, maximally flat (the fractional part of a Schroeder loop delay).

References:
    R. Bristow-Johnson, "Audio EQ Cookbook". J.-P. Thiran, "Recursive digital filters with
    maximally flat group delay", IEEE Trans. Circuit Theory, 1971. U. Zölzer (ed.), DAFX,
    2nd ed., 2011.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from dsp_rnn import _tuning
from dsp_rnn._validate import (
    as_tensor,
    check_finite,
    check_frequency,
    check_positive,
    check_sample_rate,
)
from dsp_rnn.errors import InputError, UnstableFilterError
from dsp_rnn.filters.filtering import lfilter

__all__ = [
    "check_allpass_gain",
    "thiran1_coeff",
    "allpass1_coeff",
    "allpass1_tf",
    "allpass1",
    "allpass2_tf",
    "allpass2",
]

#: What the allpass and network functions accept for a parameter: a tensor (differentiable),
#: a number, a sequence of numbers or a numpy array.
TensorLike = torch.Tensor | float | Sequence[float] | np.ndarray


# ----------------------------------------------------------------------------- validation
def check_allpass_gain(
    value: Any, name: str = "gain", *, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """A feedback gain or allpass coefficient as a tensor: finite, and ``|g| < 1``.

    ``|g| < 1`` keeps the poles of every allpass in this package strictly inside the unit
    circle (the Schroeder and nested allpasses, the first-order and Thiran sections, the
    pole radius of the second-order one).

    Args:
        value: the gain(s): a number, sequence, array or tensor (a tensor keeps its dtype
            and its autograd graph).
        name: the parameter's name in error messages (default ``"gain"``).
        dtype: convert to this dtype (default: as :func:`~dsp_rnn._validate.as_tensor`).

    Shape:
        any; returned unchanged.

    Returns:
        The gain(s) as a tensor.

    Raises:
        UnstableFilterError: ``|g| >= 1``.  NonFiniteError: NaN or inf.
        InputError: not numeric (or complex).

    Example:
        >>> check_allpass_gain([0.5, -0.25])
        tensor([ 0.5000, -0.2500])
    """
    g = check_finite(as_tensor(value, name, dtype=dtype), name)
    bad = g.detach().abs() >= 1
    if bool(bad.any()):
        v = float(g.detach()[bad].reshape(-1)[0])
        raise UnstableFilterError(
            f"{name}: expected |{name}| < 1 (poles strictly inside the unit circle), "
            f"got {name}={v:g}"
        )
    return g


def thiran1_coeff(delay_samples: float) -> float:
    """Coefficient of the first-order Thiran allpass ``(c + z^-1) / (1 + c z^-1)``.

    Its group delay at DC is exactly ``delay_samples`` and maximally flat around DC.

    Args:
        delay_samples: the delay ``d > 0`` in samples (most accurate for ``0.5 <= d < 1.5``).

    Returns:
        ``c = (1 - d) / (1 + d)``, with ``|c| < 1`` for every ``d > 0``.

    Raises:
        InputError: ``delay_samples`` is not a finite number > 0.

    References:
        J.-P. Thiran, IEEE Trans. Circuit Theory CT-18(6), 1971.

    Example:
        >>> thiran1_coeff(1.0), round(thiran1_coeff(0.5), 6)
        (0.0, 0.333333)
    """
    check_positive(delay_samples, "delay_samples")
    return _tuning.thiran1_coeff(float(delay_samples))


# ----------------------------------------------------------------------------- first order
def allpass1_coeff(break_hz: TensorLike, *, sample_rate: float) -> torch.Tensor:
    """Coefficient ``c`` of a first-order allpass whose phase is -90 degrees at ``break_hz``.

    ``c = (tan(pi f / fs) - 1) / (tan(pi f / fs) + 1)`` (bilinear design); the phase runs
    from 0 at DC to -180 degrees at Nyquist.

    Args:
        break_hz: break frequency in Hz, ``0 < break_hz < sample_rate / 2``; a tensor keeps
            its leading dims and is differentiable.
        sample_rate: sample rate in Hz, > 0.

    Shape:
        ``break_hz`` ``(...)`` -> ``c`` ``(...)``.

    Returns:
        The coefficient(s), ``|c| < 1``.

    Raises:
        InputError: a frequency outside ``(0, sample_rate / 2)`` or a bad sample rate.

    References:
        U. Zölzer (ed.), DAFX, 2nd ed., 2011, section 2.2 (allpass-based filters).

    Example:
        >>> allpass1_coeff(1000.0, sample_rate=4000.0)  # fs/4: a pure one-sample delay
        tensor(0.)
    """
    sr = check_sample_rate(sample_rate)
    check_frequency(break_hz, sr, "break_hz")
    f = as_tensor(break_hz, "break_hz")
    t = torch.tan(math.pi * f / sr)
    return (t - 1) / (t + 1)


def allpass1_tf(coeff: TensorLike) -> tuple[torch.Tensor, torch.Tensor]:
    """Transfer function of ``H(z) = (c + z^-1) / (1 + c z^-1)``.

    Args:
        coeff: ``c``, ``|c| < 1``; differentiable.

    Shape:
        ``coeff`` ``(...)`` -> ``b``, ``a`` ``(..., 2)``.

    Returns:
        ``(b, a)`` = ``([c, 1], [1, c])``.

    Raises:
        UnstableFilterError: ``|c| >= 1``.  NonFiniteError: NaN or inf.

    Example:
        >>> allpass1_tf(0.5)
        (tensor([0.5000, 1.0000]), tensor([1.0000, 0.5000]))
    """
    c = check_allpass_gain(coeff, "coeff")
    one = torch.ones_like(c)
    return torch.stack([c, one], -1), torch.stack([one, c], -1)


def allpass1(
    x: torch.Tensor, coeff: TensorLike, zi: torch.Tensor | None = None
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Filter ``x`` through the first-order allpass ``(c + z^-1) / (1 + c z^-1)``.

    Args:
        x: signal, time last.
        coeff: ``c``, ``|c| < 1`` (see :func:`allpass1_coeff`); leading dims broadcast
            against ``x``'s.
        zi: optional initial state (the one-value DF2T state of :func:`lfilter`); when given,
            ``(y, zf)`` is returned.

    Shape:
        x ``(..., time)``, coeff ``(...)``, zi/zf ``(..., 1)``, y ``(..., time)``.

    Returns:
        ``y``, or ``(y, zf)`` when ``zi`` is given.

    Raises:
        UnstableFilterError: ``|c| >= 1``.  NonFiniteError: NaN/inf in ``x`` or ``coeff``.

    Properties: differentiable in ``x``, ``coeff`` and ``zi``; CPU and CUDA; float32/64.

    Example:
        >>> allpass1(torch.tensor([1.0, 0.0, 0.0]), 0.5)  # impulse response c, 1-c^2, ...
        tensor([ 0.5000,  0.7500, -0.3750])
    """
    b, a = allpass1_tf(coeff)
    return lfilter(b, a, x, zi, check_stable=False)


# ----------------------------------------------------------------------------- second order
def allpass2_tf(
    f0_hz: TensorLike,
    *,
    sample_rate: float,
    q: TensorLike | None = None,
    radius: TensorLike | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Second-order allpass with phase -180 degrees at ``f0_hz``; give ``q`` or ``radius``.

    Both forms are the same family, ``a = [1, -(1 + a2) cos w0, a2]`` and ``b`` = ``a``
    reversed (so ``|H| = 1`` and ``H(e^{j w0}) = -1`` exactly), ``w0 = 2 pi f0_hz / fs``:
    with ``q`` it is the Audio EQ Cookbook allpass, ``alpha = sin(w0) / (2 q)``,
    ``a2 = (1 - alpha) / (1 + alpha)``; with ``radius`` ``a2 = r^2`` (``r`` is the pole
    radius when the poles are complex). Larger ``q`` / ``radius`` -> sharper phase turn.

    Args:
        f0_hz: centre frequency in Hz, ``0 < f0_hz < sample_rate / 2``.
        sample_rate: sample rate in Hz, > 0.
        q: quality factor, > 0 (exclusive with ``radius``).
        radius: pole radius, ``0 <= radius < 1`` (exclusive with ``q``).

    Shape:
        the parameters broadcast to ``(...)``; ``b``, ``a`` ``(..., 3)``.

    Returns:
        ``(b, a)``, ``a[..., 0] == 1``; differentiable in ``f0_hz``, ``q`` and ``radius``.

    Raises:
        InputError: neither or both of ``q`` / ``radius``; ``f0_hz`` out of range; ``q <= 0``.
        UnstableFilterError: ``radius >= 1``.

    References:
        R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients".

    Example:
        >>> b, a = allpass2_tf(1000.0, sample_rate=6000.0, radius=0.5)  # cos(w0) = 1/2
        >>> a.round(decimals=6), torch.equal(b, a.flip(-1))
        (tensor([ 1.0000, -0.6250,  0.2500]), True)
    """
    if (q is None) == (radius is None):
        raise InputError(
            f"allpass2: expected exactly one of q or radius, got q={q!r}, radius={radius!r}"
        )
    sr = check_sample_rate(sample_rate)
    check_frequency(f0_hz, sr, "f0_hz")
    f0 = as_tensor(f0_hz, "f0_hz")
    w0 = 2 * math.pi * f0 / sr
    if q is not None:
        check_positive(q, "q")
        qt = as_tensor(q, "q")
        alpha = torch.sin(w0) / (2 * qt)
        a1 = -2 * torch.cos(w0) / (1 + alpha)
        a2 = (1 - alpha) / (1 + alpha)
    else:
        r = check_finite(as_tensor(radius, "radius"), "radius")
        if bool((r.detach() < 0).any()):
            raise InputError(f"radius: expected 0 <= radius < 1, got radius={radius!r}")
        r = check_allpass_gain(r, "radius")
        a2 = r * r
        a1 = -(1 + a2) * torch.cos(w0)
    a1, a2 = torch.broadcast_tensors(a1, a2)
    one = torch.ones_like(a1)
    return torch.stack([a2, a1, one], -1), torch.stack([one, a1, a2], -1)


def allpass2(
    x: torch.Tensor,
    f0_hz: TensorLike,
    *,
    sample_rate: float,
    q: TensorLike | None = None,
    radius: TensorLike | None = None,
    zi: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Filter ``x`` through the second-order allpass of :func:`allpass2_tf`.

    Args:
        x: signal, time last.
        f0_hz, sample_rate, q, radius: as in :func:`allpass2_tf`.
        zi: optional two-value DF2T state (as :func:`lfilter`); then ``(y, zf)`` is returned.

    Shape:
        x ``(..., time)``; parameters ``(...)`` broadcast against x's leading dims;
        zi/zf ``(..., 2)``.

    Returns:
        ``y``, or ``(y, zf)`` when ``zi`` is given.

    Raises:
        as :func:`allpass2_tf`; NonFiniteError for NaN/inf in ``x``.

    Properties: differentiable in ``x``, the parameters and ``zi``; CPU and CUDA.

    Example:
        >>> x = torch.tensor([1.0, 0.0, 0.0])
        >>> allpass2(x, 1000.0, sample_rate=6000.0, radius=0.5).round(decimals=6)
        tensor([ 0.2500, -0.4688,  0.6445])
    """
    b, a = allpass2_tf(f0_hz, sample_rate=sample_rate, q=q, radius=radius)
    return lfilter(b, a, x, zi, check_stable=False)
