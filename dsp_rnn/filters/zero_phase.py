"""Initial states and zero-phase filtering on torch tensors, like their ``scipy.signal`` namesakes.

- :func:`lfilter_zi`, :func:`sosfilt_zi`: the steady state of a unit step, to start a
  filter without a transient;
- :func:`lfiltic`: the state that past outputs (and inputs) leave behind;
- :func:`filtfilt`, :func:`sosfiltfilt`: forward-backward filtering with scipy's edge
  padding (``method='pad'``), zero phase and the squared magnitude response.

States use the layouts of :func:`~dsp_rnn.filters.lfilter` (``(..., N)``, ``N =
max(len(a), len(b)) - 1``) and :func:`~dsp_rnn.filters.sosfilt` (``(..., n_sections, 2)``:
sections next to the state axis, where scipy puts them first). Signals are ``(..., time)``;
coefficients may carry leading dims that broadcast against the signal's. Everything is
plain torch around the filters, so it is differentiable and runs on any device.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from dsp_rnn._validate import as_tensor, check_finite, check_int
from dsp_rnn.errors import InputError, ShapeError, UnstableFilterError
from dsp_rnn.filters.coerce import as_sos, as_tf
from dsp_rnn.filters.filtering import lfilter, sosfilt

__all__ = ["lfilter_zi", "sosfilt_zi", "lfiltic", "filtfilt", "sosfiltfilt"]

_PADTYPES = ("odd", "even", "constant", None)


# ----------------------------------------------------------------------------- helpers
def _pad(x: torch.Tensor, padtype: str | None, padlen: Any, default: int):
    """Extend ``x`` at both ends as ``scipy.signal.filtfilt`` does; returns (edge, ext)."""
    if not (padtype is None or isinstance(padtype, str)) or padtype not in _PADTYPES:
        raise InputError(f"padtype: expected one of {_PADTYPES}, got padtype={padtype!r}")
    if padlen is not None:
        padlen = check_int(padlen, "padlen", minimum=0)
    edge = 0 if padtype is None else (default if padlen is None else padlen)
    n_t = x.shape[-1]
    if n_t <= edge:
        raise ShapeError(
            f"x: expected more than padlen={edge} samples along time (the edge extension), "
            f"got {n_t}; pass a smaller padlen or padtype=None"
        )
    if edge == 0:
        return 0, x
    first, last = x[..., :1], x[..., -1:]
    left = x[..., 1 : edge + 1].flip(-1)  # x[edge], ..., x[1]
    right = x[..., n_t - edge - 1 : n_t - 1].flip(-1)  # x[-2], ..., x[-edge-1]
    if padtype == "odd":
        left, right = 2 * first - left, 2 * last - right
    elif padtype == "constant":
        left, right = first.expand_as(left), last.expand_as(right)
    return edge, torch.cat([left, x, right], -1)


# ----------------------------------------------------------------------------- initial states
def lfilter_zi(b: Any, a: Any) -> torch.Tensor:
    """Steady state of :func:`lfilter` for a unit step input (``scipy.signal.lfilter_zi``).

    Solves ``zi = A zi + B`` for the direct-form-II-transposed state. Scale it by the
    first sample to start a filter in steady state (no transient), as :func:`filtfilt` does.

    Args:
        b: numerator coefficients ``b0 .. bM`` (a scalar is ``[b]``).
        a: denominator coefficients ``a0 .. aK``, ``a0 != 0`` (a scalar is ``[a]``).

    Shape:
        ``b (..., M + 1)``, ``a (..., K + 1)`` -> ``zi (..., N)``, ``N = max(M, K)``; leading
        dims broadcast.

    Returns:
        The state, in the layout of :func:`lfilter`'s ``zi``.

    Raises:
        ShapeError: no coefficients, or leading dims that do not broadcast.
        NonFiniteError: NaN/inf. InputError: ``a0 == 0``.
        UnstableFilterError: a pole at ``z = 1``, where no steady state exists.

    Properties: plain torch, differentiable in ``b`` and ``a``; CPU or CUDA.

    Example:
        >>> import torch
        >>> from dsp_rnn.filters import lfilter
        >>> b, a = torch.tensor([0.5, 0.5]), torch.tensor([1.0, -0.5])
        >>> x = torch.full((4,), 2.0)
        >>> y, zf = lfilter(b, a, x, lfilter_zi(b, a) * x[..., :1])
        >>> y  # already settled at the DC gain 2 times the step: no transient
        tensor([4., 4., 4., 4.])
    """
    bt, at = as_tf(b, a, pad=True)  # (..., n) both
    bt, at = bt / at[..., :1], at / at[..., :1]
    batch, n = bt.shape[:-1], bt.shape[-1]
    if n == 1:
        return bt.new_zeros(batch + (0,))
    order = n - 1
    # I - A^T of scipy's companion matrix: first column 1 + a1, a2, ..., superdiagonal -1
    eye = torch.eye(order, dtype=bt.dtype, device=bt.device)
    shift = torch.diag(torch.ones(order - 1, dtype=bt.dtype, device=bt.device), 1)
    m = eye - shift + F.pad(at[..., 1:, None], (0, order - 1))
    rhs = bt[..., 1:] - at[..., 1:] * bt[..., :1]
    zi, info = torch.linalg.solve_ex(m, rhs[..., None])
    if bool((info != 0).any()) or not bool(torch.isfinite(zi.detach()).all()):
        raise UnstableFilterError(
            "a: expected no pole at z = 1 (sum(a) != 0), found a pole at DC; a step input "
            "has no steady state"
        )
    return zi[..., 0]


def sosfilt_zi(sos: Any) -> torch.Tensor:
    """Steady state of :func:`sosfilt` for a unit step input (``scipy.signal.sosfilt_zi``).

    Each section's :func:`lfilter_zi`, scaled by the DC gain of the sections before it.

    Args:
        sos: second-order sections ``[b0 b1 b2 a0 a1 a2]``, ``a0 != 0``.

    Shape:
        ``sos (..., n_sections, 6)`` -> ``zi (..., n_sections, 2)``: :func:`sosfilt`'s
        layout (scipy's is ``(n_sections, ..., 2)``). To scale it by the first sample of a
        signal ``x (..., time)``, multiply by ``x[..., :1, None]`` (shape ``(..., 1, 1)``).

    Returns:
        The state, ready for :func:`sosfilt`'s ``zi``.

    Raises:
        ShapeError: not ``(..., n_sections >= 1, 6)``. NonFiniteError: NaN/inf.
        InputError: ``a0 == 0``. UnstableFilterError: a pole at ``z = 1``.

    Properties: plain torch, differentiable in ``sos``; CPU or CUDA.

    Example:
        >>> import torch
        >>> from dsp_rnn.filters import butter, sosfilt
        >>> sos = butter(4, 1000.0, sample_rate=48000, dtype=torch.float64)
        >>> x = torch.full((2, 5), 3.0, dtype=torch.float64)  # two steps of height 3
        >>> y, zf = sosfilt(sos, x, zi=sosfilt_zi(sos) * x[..., :1, None])
        >>> bool(torch.allclose(y, x))  # a lowpass in steady state passes DC unchanged
        True
    """
    t = as_sos(sos)
    t = t / t[..., 3:4]
    zi = lfilter_zi(t[..., :3], t[..., 3:])  # (..., S, 2)
    dc = t[..., :3].sum(-1) / t[..., 3:].sum(-1)  # (..., S)
    scale = torch.cumprod(torch.cat([torch.ones_like(dc[..., :1]), dc[..., :-1]], -1), -1)
    return zi * scale[..., None]


def lfiltic(b: Any, a: Any, y: Any, x: Any = None) -> torch.Tensor:
    """State of :func:`lfilter` left by past outputs and inputs (``scipy.signal.lfiltic``).

    Args:
        b: numerator coefficients ``b0 .. bM``.
        a: denominator coefficients ``a0 .. aK``, ``a0 != 0``.
        y: past outputs, most recent first: ``y[..., 0] = y[-1]``, ``y[..., 1] = y[-2]``, ...;
            missing ones are zero, extra ones are ignored.
        x: past inputs in the same order (default: all zero).

    Shape:
        ``b (..., M + 1)``, ``a (..., K + 1)``, ``y (..., Ly)``, ``x (..., Lx)`` ->
        ``zi (..., N)`` with ``N = max(M, K)``; leading dims broadcast.

    Returns:
        The state, in the layout of :func:`lfilter`'s ``zi``.

    Raises:
        ShapeError: no coefficients, or leading dims that do not broadcast.
        NonFiniteError: NaN/inf. InputError: ``a0 == 0``.

    Properties: plain torch, differentiable in every argument; CPU or CUDA.

    Example:
        >>> import torch
        >>> from dsp_rnn.filters import lfilter
        >>> b, a = torch.tensor([1.0]), torch.tensor([1.0, -0.5])
        >>> y_past = torch.tensor([4.0])  # the filter last output 4
        >>> lfilter(b, a, torch.zeros(3), lfiltic(b, a, y_past))[0]  # keeps decaying
        tensor([2.0000, 1.0000, 0.5000])
    """
    bt, at = as_tf(b, a)
    yt = as_tensor(y, "y", dtype=bt.dtype, device=bt.device)
    yt = check_finite(yt.reshape(1) if yt.ndim == 0 else yt, "y")
    m, k = bt.shape[-1] - 1, at.shape[-1] - 1
    n = max(m, k)
    if x is None:
        xt = bt.new_zeros((m,))
    else:
        xt = as_tensor(x, "x", dtype=bt.dtype, device=bt.device)
        xt = check_finite(xt.reshape(1) if xt.ndim == 0 else xt, "x")
    try:
        batch = torch.broadcast_shapes(bt.shape[:-1], at.shape[:-1], yt.shape[:-1], xt.shape[:-1])
    except RuntimeError as exc:
        raise ShapeError(
            f"leading dims do not broadcast: b {tuple(bt.shape)}, a {tuple(at.shape)}, "
            f"y {tuple(yt.shape)}, x {tuple(xt.shape)}"
        ) from exc
    xt = F.pad(xt, (0, max(m - xt.shape[-1], 0)))[..., :m]
    yt = F.pad(yt, (0, max(k - yt.shape[-1], 0)))[..., :k]
    zero = bt.new_zeros(batch)
    zi = []
    for i in range(n):
        acc = zero
        if i < m:
            acc = acc + (bt[..., i + 1 :] * xt[..., : m - i]).sum(-1)
        if i < k:
            acc = acc - (at[..., i + 1 :] * yt[..., : k - i]).sum(-1)
        zi.append(acc.expand(batch))
    if not zi:
        return bt.new_zeros(batch + (0,))
    return torch.stack(zi, -1) / at[..., :1]


# ----------------------------------------------------------------------------- zero phase
def filtfilt(b: Any, a: Any, x: Any, padtype: str | None = "odd", padlen: int | None = None):
    """Zero-phase filtering with ``B(z) / A(z)``, forward then backward (``scipy.signal.filtfilt``).

    The signal is extended at both ends, filtered forward starting in steady state
    (:func:`lfilter_zi` times the first sample), filtered again time-reversed the same way,
    reversed back and trimmed. The result has zero phase and magnitude ``|H|^2``; equal to
    scipy's ``filtfilt(..., method='pad')``.

    Args:
        b: numerator coefficients (a scalar is ``[b]``).
        a: denominator coefficients, ``a0 != 0`` (a scalar is ``[a]``).
        x: the signal; time is the last axis.
        padtype: edge extension before filtering: ``'odd'`` (default; point
            reflection about the end samples), ``'even'`` (mirror), ``'constant'`` (repeat
            the end samples) or ``None`` (no extension).
        padlen: samples added at each end, default ``3 * max(len(a), len(b))``; ``x`` must
            be longer. Ignored when ``padtype`` is ``None``.

    Shape:
        ``b (..., M + 1)``, ``a (..., K + 1)``, ``x (..., time)`` -> ``y (..., time)`` with
        the broadcast leading dims.

    Returns:
        The filtered signal.

    Raises:
        ShapeError: ``x`` not longer than the padding, or shapes that do not broadcast.
        InputError: bad ``padtype``/``padlen``, ``a0 == 0``. NonFiniteError: NaN/inf.
        UnstableFilterError: a pole on or outside the unit circle.

    Properties: differentiable in ``b``, ``a`` and ``x``; CPU and CUDA; float32/64.

    Example:
        >>> import torch
        >>> x = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0])
        >>> filtfilt(torch.tensor([0.5, 0.5]), 1.0, x, padtype=None)  # symmetric smoothing
        tensor([0.0000, 0.2500, 0.5000, 0.2500, 0.0000])
    """
    bt, at = as_tf(b, a)
    xt = as_tensor(x, "x", min_ndim=1)
    edge, ext = _pad(xt, padtype, padlen, 3 * max(bt.shape[-1], at.shape[-1]))
    zi = lfilter_zi(bt, at)
    y, _ = lfilter(bt, at, ext, zi * ext[..., :1])
    y, _ = lfilter(bt, at, y.flip(-1), zi * y[..., -1:])
    return y.flip(-1)[..., edge : y.shape[-1] - edge]


def sosfiltfilt(sos: Any, x: Any, padtype: str | None = "odd", padlen: int | None = None):
    """Zero-phase filtering through second-order sections (``scipy.signal.sosfiltfilt``).

    As :func:`filtfilt`, with :func:`sosfilt` and :func:`sosfilt_zi`; equal to scipy's.

    Args:
        sos: second-order sections ``[b0 b1 b2 a0 a1 a2]``, ``a0 != 0``.
        x: the signal; time is the last axis.
        padtype: edge extension before filtering: ``'odd'`` (default; point
            reflection about the end samples), ``'even'`` (mirror), ``'constant'`` (repeat
            the end samples) or ``None`` (no extension).
        padlen: samples added at each end, default ``3 * (2 * n_sections + 1 - n1)`` with
            ``n1 = min(#sections with b2 == 0, #sections with a2 == 0)`` (scipy's rule);
            ``x`` must be longer. Ignored when ``padtype`` is ``None``.

    Shape:
        ``sos (..., n_sections, 6)``, ``x (..., time)`` -> ``y (..., time)`` with the
        broadcast leading dims.

    Returns:
        The filtered signal.

    Raises:
        ShapeError: ``x`` not longer than the padding, or shapes that do not broadcast.
        InputError: bad ``padtype``/``padlen``, ``a0 == 0``. NonFiniteError: NaN/inf.
        UnstableFilterError: a pole on or outside the unit circle.

    Properties: differentiable in ``sos`` and ``x``; CPU and CUDA; float32/64.

    Example:
        >>> import torch
        >>> from dsp_rnn.filters import butter, sosfilt
        >>> sos = butter(2, 500.0, sample_rate=8000, dtype=torch.float64)
        >>> x = torch.sin(2 * torch.pi * 50 / 8000 * torch.arange(400.0, dtype=torch.float64))
        >>> err = lambda y: round(float((y - x).abs().max()), 2)
        >>> err(sosfiltfilt(sos, x)), err(sosfilt(sos, x))  # a passband tone: no lag
        (0.01, 0.15)
    """
    t = as_sos(sos)
    xt = as_tensor(x, "x", min_ndim=1)
    n_sec = t.shape[-2]
    # sections that are first order in both b and a do not lengthen the filter (as scipy)
    flat = t.detach().reshape(-1, n_sec, 6)
    first_order = min(int((flat[..., 2] == 0).all(0).sum()), int((flat[..., 5] == 0).all(0).sum()))
    edge, ext = _pad(xt, padtype, padlen, 3 * (2 * n_sec + 1 - first_order))
    zi = sosfilt_zi(t)
    y, _ = sosfilt(t, ext, zi * ext[..., :1, None])
    y, _ = sosfilt(t, y.flip(-1), zi * y[..., -1:, None])
    return y.flip(-1)[..., edge : y.shape[-1] - edge]
