"""Differentiable IIR filtering: ``lfilter`` and ``sosfilt`` on torch tensors.

Signals are shaped ``(..., time)``. Coefficients may carry leading dimensions that broadcast
against the signal's, so a network can predict one filter per example. With ``zi`` given
both functions return ``(y, zf)`` and processing audio block by block equals one shot.

On the CPU the recursion runs in fused numba kernels (:mod:`dsp_rnn.filters._kernels`);
the backward pass is the adjoint filter run backwards in time by the same kind of kernel,
so no autograd graph is built over samples. Under ``create_graph=True`` (gradients of
gradients) the backward recomputes the cascade with the torch path below and differentiates
that, so higher derivatives work everywhere. On other devices (CUDA) a block state-space
method in plain torch is used: exact to float tolerance, differentiable by autograd.
"""

from __future__ import annotations

import numpy as np
import torch

from dsp_rnn._threads import keeps_torch_threads
from dsp_rnn._validate import as_tensor, check_finite, common_dtype
from dsp_rnn.errors import InputError, NonFiniteError, ShapeError, UnstableFilterError
from dsp_rnn.filters import _kernels


def _pick(kernel, n_ch: int, n_t: int):  # type: ignore[no-untyped-def]
    """The kernel to run (:func:`._kernels.pick`), leaving torch's thread count as it was
    (:func:`dsp_rnn._threads.keeps_torch_threads`)."""
    return keeps_torch_threads(_kernels.pick(kernel, n_ch, n_t))


__all__ = ["lfilter", "sosfilt"]


# ----------------------------------------------------------------------------- autograd glue
def _empty(shape, dtype):
    """An uninitialised CPU tensor allocated by numpy.

    numpy asks the kernel for transparent huge pages on large arrays, torch's default CPU
    allocator does not: for a 123 MB output that is ~10 ms of page faults instead of ~60 ms.
    """
    return torch.from_numpy(np.empty(shape, dtype=torch.empty((), dtype=dtype).numpy().dtype))


def _contiguous(t):
    return t if t.is_contiguous() else torch.from_numpy(np.ascontiguousarray(t.numpy()))


class _Cascade(torch.autograd.Function):
    """y, zf = cascade(x, coef, zi) on (C, T), (C, S, 2N+1), (C, S, N) CPU tensors."""

    @staticmethod
    def forward(ctx, x, coef, zi):  # type: ignore[override]
        n_ch, n_t = x.shape
        n_sec, order = zi.shape[1], zi.shape[2]
        need_grad = any(ctx.needs_input_grad)
        xn = x.detach().contiguous().numpy()
        cn = coef.detach().contiguous().numpy()
        zn = zi.detach().contiguous().numpy()
        if order == 2 and n_sec > 1:  # chunks of four register-resident biquads
            n_pad = -(-n_sec // 4) * 4
            cn = np.concatenate([cn, np.zeros((n_ch, n_pad - n_sec, 5), cn.dtype)], 1)
            cn[:, n_sec:, 0] = 1.0  # identity sections
            zn = np.concatenate([zn, np.zeros((n_ch, n_pad - n_sec, 2), zn.dtype)], 1)
        else:
            n_pad = n_sec
        y = _empty((n_ch, n_t), x.dtype)
        zf = _empty((n_ch, n_pad, order), x.dtype)
        keep = need_grad and n_pad > 1
        mid = _empty((n_pad - 1, n_ch, n_t) if keep else (0, 0, 0), x.dtype)
        chk = np.zeros(n_ch)
        if order == 2 and n_sec > 1:
            src = xn
            none = np.empty((0, 0, 0), xn.dtype)
            for k in range(0, n_pad, 4):
                last = k + 4 == n_pad
                dst = y.numpy() if last else (mid.numpy()[k + 3] if keep else np.empty_like(xn))
                part = mid.numpy()[k : k + 3] if keep else none
                chk_k = np.empty(n_ch)
                _pick(_kernels.biquad4_forward, n_ch, n_t)(
                    src, cn[:, k : k + 4].copy(), zn[:, k : k + 4].copy(), dst,
                    zf.numpy()[:, k : k + 4], part, chk_k,
                )  # fmt: skip
                chk += chk_k
                src = dst
        else:
            kernel = _kernels.biquad_cascade_forward if order == 2 else _kernels.cascade_forward
            _pick(kernel, n_ch, n_t)(xn, cn, zn, y.numpy(), zf.numpy(), mid.numpy(), chk)
        if not np.isfinite(chk).all():
            channel = int(np.flatnonzero(~np.isfinite(chk))[0])
            check_finite(x[channel], "x")
            raise NonFiniteError(
                f"output: expected finite values, found overflow in flattened channel {channel} "
                f"(largest |coefficient| {float(coef.abs().max()):.3g}, dtype {x.dtype}); the "
                "filter's gain is too large for this dtype"
            )
        if need_grad:
            # the kernels' operands, then the inputs themselves for the differentiable
            # backward (create_graph=True); saved, so in-place changes are caught
            ctx.save_for_backward(x.detach(), y, mid, torch.from_numpy(cn), x, coef, zi)
        ctx.order, ctx.n_sec = order, n_sec
        return y, zf[:, :n_sec]

    @staticmethod
    def backward(ctx, gy, gzf):  # type: ignore[override]
        if torch.is_grad_enabled():  # create_graph=True: a backward autograd can differentiate
            return _backward_graph(ctx, gy, gzf)
        x, y, mid, coef = ctx.saved_tensors[:4]  # coef padded with identity sections
        n_ch, n_t = x.shape
        n_pad, order, n_sec = coef.shape[1], ctx.order, ctx.n_sec
        gy = torch.zeros_like(y) if gy is None else _contiguous(gy.to(y.dtype))
        gzf_pad = torch.zeros((n_ch, n_pad, order), dtype=y.dtype)
        if gzf is not None:
            gzf_pad[:, :n_sec] = gzf
        gzf = gzf_pad
        need_x, need_coef, need_zi = ctx.needs_input_grad
        gx = _empty(tuple(x.shape), x.dtype)
        gcoef = np.zeros(coef.shape)  # float64 sums
        gzi = np.empty((n_ch, n_pad, order))
        gn, xn, yn, mn, cn = gy.numpy(), x.numpy(), y.numpy(), mid.numpy(), coef.numpy()
        if order == 2 and n_pad > 1:  # chunks of four biquads, last chunk first
            kernel = _pick(_kernels.biquad4_backward, n_ch, n_t)
            carry = gn  # the adjoint entering the chunk; float64 between chunks
            between = np.empty((n_ch, n_t)) if n_pad > 4 else None
            for k in range(n_pad - 4, -1, -4):
                out = gx.numpy() if k == 0 else between
                gc_k, gzi_k = np.empty((n_ch, 4, 5)), np.empty((n_ch, 4, 2))
                kernel(
                    carry, xn if k == 0 else mn[k - 1], mn[k : k + 3],
                    yn if k + 4 == n_pad else mn[k + 3], np.ascontiguousarray(cn[:, k : k + 4]),
                    np.ascontiguousarray(gzf.numpy()[:, k : k + 4]), out, gc_k, gzi_k, need_coef,
                )  # fmt: skip
                gcoef[:, k : k + 4], gzi[:, k : k + 4] = gc_k, gzi_k
                carry = out
        elif order == 2:
            _pick(_kernels.biquad_backward, n_ch, n_t)(
                gn, xn, yn, cn, gzf.numpy(), gx.numpy(), gcoef, gzi
            )
        else:
            _pick(_kernels.cascade_backward, n_ch, n_t)(
                gn, xn, yn, mn, cn, gzf.numpy(), gx.numpy(), gcoef, gzi
            )
        return (
            gx if need_x else None,
            torch.from_numpy(gcoef[:, :n_sec]).to(x.dtype) if need_coef else None,
            torch.from_numpy(gzi[:, :n_sec]).to(x.dtype) if need_zi else None,
        )


def _backward_graph(ctx, gy, gzf):
    """The backward of :class:`_Cascade` as an autograd graph, for higher-order gradients.

    Recomputes the cascade through the torch block method (:func:`_cascade_torch`) from the
    saved inputs and differentiates it with ``create_graph=True``: the gradients come out
    connected to ``x``, ``coef``, ``zi`` and to ``gy``, ``gzf``. Used only when grad mode is
    on inside backward; first-order backward keeps the fused adjoint kernels.
    """
    inputs = ctx.saved_tensors[4:]
    needs = ctx.needs_input_grad
    with torch.enable_grad():
        leaves = [
            t if t.requires_grad else t.detach().requires_grad_(need)
            for t, need in zip(inputs, needs, strict=True)
        ]
        y, zf = _cascade_torch(*leaves)
        outs = [(o, g) for o, g in ((y, gy), (zf, gzf)) if g is not None]
        wrt = [t for t, need in zip(leaves, needs, strict=True) if need]
        grads = iter(
            torch.autograd.grad(
                [o for o, _ in outs],
                wrt,
                [g.to(o.dtype) for o, g in outs],
                create_graph=True,
                allow_unused=True,
            )
        )
    out = []
    for t, need in zip(leaves, needs, strict=True):
        g = next(grads) if need else None
        out.append(torch.zeros_like(t) if need and g is None else g)
    return tuple(out)


def _section_torch(x, coef, zi, block):
    """One DF2T section of order N on any device, block state-space method (autograd-able).

    x (C, T), coef (C, 2N+1), zi (C, N). Within a block of ``L`` samples the output is the
    truncated impulse response (a Toeplitz matmul) plus the response to the block's initial
    state; states hop from block to block through ``A^L``.
    """
    n_ch, n_t = x.shape
    order = zi.shape[1]
    b0, bk, ak = coef[:, 0], coef[:, 1 : order + 1], coef[:, order + 1 :]
    eye = torch.eye(order, dtype=x.dtype, device=x.device)
    a_mat = torch.zeros((n_ch, order, order), dtype=x.dtype, device=x.device)
    a_mat[:, :, 0] = -ak
    if order > 1:
        a_mat = a_mat + torch.diag_embed(torch.ones(order - 1, dtype=x.dtype, device=x.device), 1)
    b_vec = bk - ak * b0[:, None]  # (C, N)
    length = min(block, max(n_t, 1))
    # powers[k] = A^k, k = 0..L
    powers = [eye.expand(n_ch, order, order)]
    for _ in range(length):
        powers.append(a_mat @ powers[-1])
    pw = torch.stack(powers, 1)  # (C, L+1, N, N)
    obs = pw[:, :length, 0, :]  # C A^k, (C, L, N)
    ab = (pw[:, :length] @ b_vec[:, None, :, None])[..., 0]  # A^k B, (C, L, N)
    h = torch.cat([b0[:, None], ab[:, : length - 1, 0]], 1)  # (C, L)
    idx = torch.arange(length, device=x.device)
    lag = idx[:, None] - idx[None, :]
    toep = torch.where(
        lag >= 0, h[:, lag.clamp(min=0)], torch.zeros((), dtype=x.dtype, device=x.device)
    )
    kmat = ab.flip(1)  # A^(L-1-k) B, (C, L, N)
    n_blk = -(-n_t // length)
    xp = torch.nn.functional.pad(x, (0, n_blk * length - n_t)).view(n_ch, n_blk, length)
    drive = xp @ kmat  # (C, n_blk, N)
    a_l = pw[:, length]
    states = [zi]
    for j in range(n_blk - 1):
        states.append((a_l @ states[-1][..., None])[..., 0] + drive[:, j])
    st = torch.stack(states, 1)  # (C, n_blk, N)
    y = xp @ toep.transpose(1, 2) + st @ obs.transpose(1, 2)
    y = y.reshape(n_ch, n_blk * length)[:, :n_t]
    return y, _final_state(x, y, coef, zi)


def _final_state(x, y, coef, zi):
    """DF2T state after the last sample, from the signal tails (differentiable)."""
    order = zi.shape[1]
    n_t = x.shape[1]
    if n_t == 0:
        return zi
    # pre-history: the state zi acts as past inputs/outputs; extend with it when T < N
    zf = []
    for i in range(order):
        acc = zi[:, i + n_t] if i + n_t < order else torch.zeros_like(zi[:, 0])
        for k in range(order - i):
            t = n_t - 1 - k
            if t < 0:
                break
            acc = acc + coef[:, i + 1 + k] * x[:, t] - coef[:, order + 1 + i + k] * y[:, t]
        zf.append(acc)
    return torch.stack(zf, 1)


def _cascade(x, coef, zi):
    """Dispatch a (C, T) cascade to the numba kernels (CPU) or the torch path (others)."""
    if x.device.type == "cpu":
        return _Cascade.apply(x, coef, zi)  # checks x for NaN/inf inside the kernel
    check_finite(x, "x")
    y, zf = _cascade_torch(x, coef, zi)
    check_finite(y, "output")
    return y, zf


def _cascade_torch(x, coef, zi, block=256):
    """The device-agnostic cascade (used for CUDA; tested on CPU against the kernels)."""
    zfs = []
    for s in range(coef.shape[1]):
        x, zf = _section_torch(x, coef[:, s], zi[:, s], block)
        zfs.append(zf)
    return x, torch.stack(zfs, 1)


# ----------------------------------------------------------------------------- validation
def _prepare_signal(x):
    # NaN/inf in x are found by the kernels (CPU) or by _cascade (other devices)
    return as_tensor(x, "x", min_ndim=1)


def _coefficients(value, name, x, min_ndim=0):
    """Coefficients as a tensor; Python numbers and lists take the signal's precision (so
    ``lfilter([0.1], 1.0, x)`` on a float64 ``x`` filters with 0.1 in float64, as scipy)."""
    plain = not isinstance(value, (torch.Tensor, np.ndarray, np.generic))
    return as_tensor(value, name, dtype=x.dtype if plain else None, min_ndim=min_ndim)


def _check_sos_stable(a1, a2, name):
    # poles of z^2 + a1 z + a2 lie strictly inside the unit circle iff |a2| < 1 and |a1| < 1 + a2
    ok = (a2.abs() < 1) & (a1.abs() < 1 + a2)
    if not bool(ok.all()):
        bad = torch.nonzero(~ok)[0].tolist()
        p = torch.linalg.eigvals(
            torch.tensor(
                [[-float(a1[tuple(bad)]), -float(a2[tuple(bad)])], [1.0, 0.0]], dtype=torch.float64
            )
        )
        raise UnstableFilterError(
            f"{name}: expected every pole strictly inside the unit circle, found section at index "
            f"{tuple(bad)} with a1={float(a1[tuple(bad)]):.6g}, a2={float(a2[tuple(bad)]):.6g} "
            f"(pole radius {float(p.abs().max()):.6g}); pass check_stable=False to filter anyway"
        )


def _check_poly_stable(a, name):
    order = a.shape[-1] - 1
    if order == 0:
        return
    comp = torch.zeros(a.shape[:-1] + (order, order), dtype=torch.float64)
    comp[..., 0, :] = -a[..., 1:].detach().cpu().double()
    if order > 1:
        comp[..., 1:, :-1] += torch.eye(order - 1, dtype=torch.float64)
    radius = torch.linalg.eigvals(comp).abs().amax(-1)
    if bool((radius >= 1).any()):
        raise UnstableFilterError(
            f"{name}: expected every pole strictly inside the unit circle, found pole radius "
            f"{float(radius.max()):.6g}; pass check_stable=False to filter anyway"
        )


def _a0(a0, name):
    if bool((a0 == 0).any()):
        raise InputError(
            f"{name}: expected a0 != 0 (the leading denominator coefficient), found a0 == 0"
        )


def _flatten(batch, n_t, x, coef, zi, coef_tail, zi_tail):
    n_ch = batch.numel()
    xb = x.expand(batch + (n_t,)).reshape(n_ch, n_t).contiguous()
    cb = coef.expand(batch + coef_tail).reshape((n_ch,) + coef_tail).contiguous()
    zb = zi.expand(batch + zi_tail).reshape((n_ch,) + zi_tail).contiguous()
    return xb, cb, zb


# ----------------------------------------------------------------------------- public API
def sosfilt(sos, x, zi=None, *, check_stable: bool = True):
    """Filter ``x`` through a cascade of second-order sections (like ``scipy.signal.sosfilt``).

    Args:
        sos: second-order sections, ``[b0 b1 b2 a0 a1 a2]`` per row; ``a0 != 0`` (rows are
            normalised by it). Leading dims broadcast against ``x``'s leading dims.
        x: the signal; time is the last axis.
        zi: optional initial state of each section (direct form II transposed, the state
            ``scipy.signal.sosfilt`` uses, with sections moved next to the state axis).
            When given, ``(y, zf)`` is returned and ``zf`` can be passed as the next
            block's ``zi``.
        check_stable: raise :class:`UnstableFilterError` when a pole lies on or outside
            the unit circle (default ``True``).

    Shape:
        sos ``(..., n_sections, 6)``; x ``(..., time)``; zi and zf ``(..., n_sections, 2)``;
        y ``(..., time)`` with the broadcast leading dims.

    Returns:
        ``y``, or ``(y, zf)`` when ``zi`` is given.

    Raises:
        ShapeError: ``sos`` is not ``(..., n_sections, 6)``, or shapes do not broadcast.
        NonFiniteError: NaN or inf in ``x``, ``sos`` or ``zi``.
        InputError: ``a0 == 0``.
        UnstableFilterError: a pole on or outside the unit circle (with ``check_stable``).

    Properties: differentiable in ``x``, ``sos`` and ``zi`` (adjoint-filter backward);
    CPU (numba) and CUDA (torch block method); float32 and float64.

    Example:
        >>> import torch
        >>> sos = torch.tensor([[0.5, 0.5, 0.0, 1.0, 0.0, 0.0]])  # two-tap average
        >>> sosfilt(sos, torch.tensor([1.0, 0.0, 0.0, 2.0]))
        tensor([0.5000, 0.5000, 0.0000, 1.0000])
    """
    x = _prepare_signal(x)
    sos = _coefficients(sos, "sos", x, min_ndim=2)
    if sos.shape[-1] != 6:
        raise ShapeError(f"sos: expected shape (..., n_sections, 6), got {tuple(sos.shape)}")
    if sos.shape[-2] == 0:
        raise ShapeError(f"sos: expected at least one section, got shape {tuple(sos.shape)}")
    check_finite(sos, "sos")
    dtype = common_dtype(x, sos) if zi is None else common_dtype(x, sos, as_tensor(zi, "zi"))
    x = x.to(dtype)
    sos = sos.to(dtype=dtype, device=x.device)
    _a0(sos[..., 3], "sos")
    a0 = sos[..., 3:4]
    coef = torch.cat([sos[..., :3] / a0, sos[..., 4:6] / a0], -1)  # (..., S, 5)
    if check_stable:
        _check_sos_stable(coef[..., 3].detach(), coef[..., 4].detach(), "sos")
    n_sec, n_t = sos.shape[-2], x.shape[-1]
    return_state = zi is not None
    if zi is None:
        zi_t = torch.zeros((n_sec, 2), dtype=dtype, device=x.device)
    else:
        zi_t = as_tensor(zi, "zi", dtype=dtype, device=x.device, min_ndim=2)
        if zi_t.shape[-2:] != (n_sec, 2):
            raise ShapeError(
                f"zi: expected shape (..., n_sections={n_sec}, 2), got {tuple(zi_t.shape)}"
            )
        check_finite(zi_t, "zi")
    try:
        batch = torch.broadcast_shapes(x.shape[:-1], sos.shape[:-2], zi_t.shape[:-2])
    except RuntimeError as exc:
        raise ShapeError(
            f"leading dims do not broadcast: x {tuple(x.shape)}, sos {tuple(sos.shape)}, "
            f"zi {tuple(zi_t.shape)}"
        ) from exc
    xb, cb, zb = _flatten(batch, n_t, x, coef, zi_t, (n_sec, 5), (n_sec, 2))
    y, zf = _cascade(xb, cb, zb)
    y = y.reshape(batch + (n_t,))
    return (y, zf.reshape(batch + (n_sec, 2))) if return_state else y


def lfilter(b, a, x, zi=None, *, check_stable: bool = True):
    """Filter ``x`` with the rational transfer function ``B(z) / A(z)`` (like scipy's).

    Direct form II transposed, ``a`` normalised by ``a[..., 0]``; ``b`` and ``a`` are
    zero-padded to a common length ``N + 1``.

    Args:
        b: numerator coefficients ``b0 .. bM``; a scalar (number, numpy scalar, 0-d
            tensor) is the one-coefficient ``[b]``, as in scipy.
        a: denominator coefficients ``a0 .. aK``, ``a0 != 0``; a scalar is ``[a]``.
        x: the signal; time is the last axis.
        zi: optional initial state, as in ``scipy.signal.lfilter`` (``N`` values). When
            given, ``(y, zf)`` is returned.
        check_stable: raise :class:`UnstableFilterError` for a pole on or outside the unit
            circle (default ``True``).

    Shape:
        b ``(..., M + 1)``, a ``(..., K + 1)``, x ``(..., time)``, zi/zf ``(..., N)`` with
        ``N = max(M, K)``; leading dims broadcast.

    Returns:
        ``y``, or ``(y, zf)`` when ``zi`` is given.

    Raises:
        ShapeError, NonFiniteError, InputError (``a0 == 0``), UnstableFilterError.

    Properties: differentiable in ``x``, ``b``, ``a`` and ``zi``; CPU and CUDA; float32/64.

    Example:
        >>> import torch
        >>> lfilter(torch.tensor([1.0]), torch.tensor([1.0, -0.5]), torch.tensor([1.0, 0.0, 0.0]))
        tensor([1.0000, 0.5000, 0.2500])
    """
    x = _prepare_signal(x)
    b = _coefficients(b, "b", x)
    a = _coefficients(a, "a", x)
    b, a = (t.reshape(1) if t.ndim == 0 else t for t in (b, a))  # a scalar is [scalar]
    for name, t in (("b", b), ("a", a)):
        if t.shape[-1] == 0:
            raise ShapeError(
                f"{name}: expected at least one coefficient, got shape {tuple(t.shape)}"
            )
        check_finite(t, name)
    dtype = common_dtype(x, b, a)
    x, b, a = x.to(dtype), b.to(dtype=dtype, device=x.device), a.to(dtype=dtype, device=x.device)
    _a0(a[..., 0], "a")
    n1 = max(b.shape[-1], a.shape[-1])
    order = n1 - 1
    b = torch.nn.functional.pad(b, (0, n1 - b.shape[-1])) / a[..., :1]
    a = torch.nn.functional.pad(a, (0, n1 - a.shape[-1])) / a[..., :1]
    if check_stable:
        _check_poly_stable(a.detach(), "a")
    n_t = x.shape[-1]
    return_state = zi is not None
    if zi is not None:
        zi_t = as_tensor(zi, "zi", dtype=dtype, device=x.device, min_ndim=1)
        if zi_t.shape[-1] != order:
            raise ShapeError(f"zi: expected shape (..., {order}), got {tuple(zi_t.shape)}")
        check_finite(zi_t, "zi")
    else:
        zi_t = torch.zeros((order,), dtype=dtype, device=x.device)
    try:
        bshape = torch.broadcast_shapes(b.shape[:-1], a.shape[:-1])
        batch = torch.broadcast_shapes(x.shape[:-1], bshape, zi_t.shape[:-1])
    except RuntimeError as exc:
        raise ShapeError(
            f"leading dims do not broadcast: x {tuple(x.shape)}, b {tuple(b.shape)}, "
            f"a {tuple(a.shape)}, zi {tuple(zi_t.shape)}"
        ) from exc
    if order == 0:  # a pure gain
        y = (x * b[..., :1]).expand(batch + (n_t,))
        return (y, zi_t.expand(batch + (0,))) if return_state else y
    coef = torch.cat([b.expand(bshape + (n1,)), a.expand(bshape + (n1,))[..., 1:]], -1)
    xb, cb, zb = _flatten(batch, n_t, x, coef[..., None, :], zi_t[..., None, :],
                          (1, 2 * order + 1), (1, order))  # fmt: skip
    y, zf = _cascade(xb, cb, zb)
    y = y.reshape(batch + (n_t,))
    return (y, zf.reshape(batch + (order,))) if return_state else y
