"""Pre-emphasis ``1 - c z^-1`` and its inverse, de-emphasis ``1 / (1 - c z^-1)``.

Both follow the ``y, state = f(x, ..., state)`` protocol: without ``state`` only ``y`` is
returned; with it, ``(y, state)`` comes back and the returned state continues the next
block, so block-wise processing equals one shot. The state is one sample: the last input
(pre-emphasis) or the last output (de-emphasis), zero before the signal starts, as in
``torchaudio.functional.preemphasis`` / ``deemphasis`` and
``scipy.signal.lfilter([1, -c], 1, x)`` / ``lfilter(1, [1, -c], x)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dsp_rnn._validate import as_tensor, check_finite, common_dtype
from dsp_rnn.errors import ShapeError
from dsp_rnn.filters.filtering import lfilter

__all__ = ["preemphasis", "deemphasis"]


def _prepare(x: Any, coeff: Any, state: Any):
    """x (..., T), coeff (...) and state (..., 1) in one dtype, broadcast leading dims."""
    xt = as_tensor(x, "x", min_ndim=1)
    # a plain number takes x's dtype, so float64 signals get the exact coefficient
    plain = not isinstance(coeff, (torch.Tensor, np.ndarray))
    ct = check_finite(as_tensor(coeff, "coeff", dtype=xt.dtype if plain else None), "coeff")
    st = xt.new_zeros((1,)) if state is None else as_tensor(state, "state", min_ndim=1)
    if st.shape[-1] != 1:
        raise ShapeError(f"state: expected shape (..., 1), got {tuple(st.shape)}")
    check_finite(st, "state")
    dtype = common_dtype(xt, ct) if state is None else common_dtype(xt, ct, st)
    xt = xt.to(dtype)
    ct, st = (t.to(dtype=dtype, device=xt.device) for t in (ct, st))
    try:
        batch = torch.broadcast_shapes(xt.shape[:-1], ct.shape, st.shape[:-1])
    except RuntimeError as exc:
        raise ShapeError(
            f"leading dims do not broadcast: x {tuple(xt.shape)}, coeff {tuple(ct.shape)}, "
            f"state {tuple(st.shape)}"
        ) from exc
    return xt.expand(batch + xt.shape[-1:]), ct[..., None], st.expand(batch + (1,))


def preemphasis(x: Any, coeff: Any = 0.97, state: Any = None):
    """Pre-emphasis ``y[n] = x[n] - coeff * x[n - 1]`` (a first-order FIR highpass tilt).

    Args:
        x: the signal; time is the last axis.
        coeff: ``c`` (default 0.97), a number or a tensor whose dims broadcast against
            ``x``'s leading dims; differentiable.
        state: optional previous input sample ``x[-1]`` (zero by default). When given,
            ``(y, state)`` is returned, ``state`` being the last input sample.

    Shape:
        ``x (..., time)``, ``coeff ()`` or ``(...)``, ``state (..., 1)`` -> ``y (..., time)``,
        ``state (..., 1)`` with the broadcast leading dims.

    Returns:
        ``y``, or ``(y, state)`` when ``state`` is given.

    Raises:
        ShapeError: shapes that do not broadcast, ``state`` not ``(..., 1)``.
        NonFiniteError: NaN/inf in ``coeff`` or ``state``.

    Properties: plain torch, differentiable in ``x``, ``coeff`` and ``state``; CPU or CUDA.

    Example:
        >>> import torch
        >>> preemphasis(torch.tensor([1.0, 1.0, 1.0]), 0.5)
        tensor([1.0000, 0.5000, 0.5000])
    """
    xt, c, prev = _prepare(x, coeff, state)
    past = torch.cat([prev, xt[..., :-1]], -1)  # x[n - 1]
    y = xt - c * past
    if state is None:
        return y
    return y, (xt[..., -1:] if xt.shape[-1] else prev)


def deemphasis(x: Any, coeff: Any = 0.97, state: Any = None, *, check_stable: bool = True):
    """De-emphasis ``y[n] = x[n] + coeff * y[n - 1]``, the inverse of :func:`preemphasis`.

    Args:
        x: the signal; time is the last axis.
        coeff: ``c``, ``|c| < 1`` (default 0.97), a number or a tensor whose dims broadcast
            against ``x``'s leading dims; differentiable.
        state: optional previous output sample ``y[-1]`` (zero by default). When given,
            ``(y, state)`` is returned, ``state`` being the last output sample.
        check_stable: raise :class:`UnstableFilterError` for ``|coeff| >= 1`` (default
            ``True``).

    Shape:
        ``x (..., time)``, ``coeff ()`` or ``(...)``, ``state (..., 1)`` -> ``y (..., time)``,
        ``state (..., 1)`` with the broadcast leading dims.

    Returns:
        ``y``, or ``(y, state)`` when ``state`` is given.

    Raises:
        ShapeError: shapes that do not broadcast, ``state`` not ``(..., 1)``.
        NonFiniteError: NaN/inf. UnstableFilterError: ``|coeff| >= 1``.

    Properties: differentiable in ``x``, ``coeff`` and ``state`` (runs :func:`lfilter`);
    CPU and CUDA; float32/64.

    Example:
        >>> import torch
        >>> x = torch.tensor([1.0, 0.0, 0.0, 2.0])
        >>> deemphasis(preemphasis(x, 0.5), 0.5)  # the inverse
        tensor([1., 0., 0., 2.])
    """
    xt, c, prev = _prepare(x, coeff, state)
    a = torch.cat([torch.ones_like(c), -c], -1)  # (..., 2)
    y, _ = lfilter(torch.ones_like(c), a, xt, c * prev, check_stable=check_stable)
    if state is None:
        return y
    return y, (y[..., -1:] if xt.shape[-1] else prev)
