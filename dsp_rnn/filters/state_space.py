"""Conversions to and from state space (``tf2ss``, ``ss2tf``, ``sos2ss``, ``ss2sos``), named
like ``scipy.signal``.

**ss** ``(A, B, C, D)``: ``x[n+1] = A x[n] + B u[n]``, ``y[n] = C x[n] + D u[n]`` with
``A (n, n)``, ``B (n, 1)``, ``C (1, n)``, ``D (1, 1)`` (scipy's layout); the other
representations (tf, zpk, sos) as in :mod:`dsp_rnn.filters.convert`.

:func:`tf2ss` and :func:`sos2ss` are plain torch, differentiable and batched over leading
dims. :func:`ss2tf` and :func:`ss2sos` find eigenvalues with numpy/scipy in float64, take
one filter, and are not differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import scipy.signal
import torch

from dsp_rnn._validate import as_tensor, check_finite, common_dtype
from dsp_rnn.errors import ShapeError
from dsp_rnn.filters._conversion import (
    check_pairing,
    check_single,
    finish_sos,
    pad_tf,
    scipy_zpk2sos,
    to_numpy,
)
from dsp_rnn.filters.coerce import as_sos, as_tf

__all__ = ["tf2ss", "ss2tf", "sos2ss", "ss2sos"]


def _as_ss(A: Any, B: Any, C: Any, D: Any) -> tuple[torch.Tensor, ...]:
    At = as_tensor(A, "A", min_ndim=2)
    n = At.shape[-1]
    Bt, Ct, Dt = (as_tensor(v, name) for v, name in ((B, "B"), (C, "C"), (D, "D")))
    if Dt.ndim < 2 and Dt.numel() != 1:
        raise ShapeError(f"D: expected one value (1, 1) for a SISO system, got {tuple(Dt.shape)}")
    Dt = Dt if Dt.ndim >= 2 else Dt.reshape(1, 1)  # a scalar D; (..., 1, 1) checked below
    want = {"A": (n, n), "B": (n, 1), "C": (1, n), "D": (1, 1)}
    for name, t in (("A", At), ("B", Bt), ("C", Ct), ("D", Dt)):
        if t.ndim < 2 or tuple(t.shape[-2:]) != want[name]:
            raise ShapeError(
                f"{name}: expected shape (..., {want[name][0]}, {want[name][1]}) for a SISO system "
                f"with {n} states (A {tuple(At.shape)}), got {tuple(t.shape)}"
            )
        check_finite(t, name)
    dtype = common_dtype(At, Bt, Ct, Dt)
    return tuple(t.to(dtype=dtype, device=At.device) for t in (At, Bt, Ct, Dt))


def tf2ss(b: Any, a: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Transfer function to state space, controller canonical form (``scipy.signal.tf2ss``).

    With ``b``, ``a`` padded to one length ``n + 1`` and normalised by ``a0``::

        A = [[-a1, -a2, ..., -an], [1, 0, ..., 0], ..., [0, ..., 1, 0]]
        B = [1, 0, ..., 0]^T,  C = [b1 - b0 a1, ..., bn - b0 an],  D = b0

    An order-0 filter (a gain) gets one dummy state with ``A = B = C = 0`` (as scipy).

    Args:
        b: numerator coefficients of ``z^-1``.
        a: denominator coefficients of ``z^-1``, ``a0 != 0``.

    Shape:
        ``b (..., M + 1)``, ``a (..., N + 1)`` -> ``A (..., n, n)``, ``B (..., n, 1)``,
        ``C (..., 1, n)``, ``D (..., 1, 1)`` with ``n = max(M, N)`` (1 if that is 0).

    Returns:
        ``(A, B, C, D)``; equal to scipy's when ``len(b) == len(a)``.

    Raises:
        ShapeError: empty or non-broadcasting. NonFiniteError: NaN/inf. InputError: ``a0 == 0``.

    Properties: plain torch, differentiable, batched; CPU or CUDA.

    Example:
        >>> import torch
        >>> b = torch.tensor([1.0, 0.5], dtype=torch.float64)
        >>> A, B, C, D = tf2ss(b, torch.tensor([1.0, -0.9], dtype=torch.float64))
        >>> A.tolist(), B.tolist(), C.tolist(), D.tolist()
        ([[0.9]], [[1.0]], [[1.4]], [[1.0]])
    """
    bt, at = as_tf(b, a)
    bp, ap = pad_tf(bt, at)
    bp, ap = bp / ap[..., :1], ap / ap[..., :1]
    batch, n = bp.shape[:-1], bp.shape[-1] - 1
    D = bp[..., :1].unsqueeze(-1)  # (..., 1, 1)
    if n == 0:
        zero = torch.zeros(batch + (1, 1), dtype=bp.dtype, device=bp.device)
        return zero, zero, zero, D
    shift = torch.eye(n - 1, n, dtype=bp.dtype, device=bp.device).expand(batch + (n - 1, n))
    A = torch.cat([-ap[..., None, 1:], shift], -2)  # (..., n, n)
    B = torch.zeros(batch + (n, 1), dtype=bp.dtype, device=bp.device)
    B[..., 0, 0] = 1.0
    C = (bp[..., 1:] - bp[..., :1] * ap[..., 1:]).unsqueeze(-2)  # (..., 1, n)
    return A, B, C, D


def ss2tf(A: Any, B: Any, C: Any, D: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """State space to a transfer function ``(b, a)`` (``scipy.signal.ss2tf``).

    ``a`` is the characteristic polynomial of ``A``; ``b`` is ``det(zI - A + BC) +
    (D - 1) det(zI - A)``, both of degree ``n``, so they read the same in powers of ``z^-1``.

    Args:
        A, B, C, D: SISO state space, ``A (n, n)``, ``B (n, 1)``, ``C (1, n)``, ``D (1, 1)``.

    Shape:
        -> ``b, a`` each ``(n + 1,)``.

    Returns:
        ``(b, a)`` with ``a0 == 1``, in the float dtype of the inputs.

    Raises:
        ShapeError: inconsistent shapes or batched input. NonFiniteError: NaN/inf.

    Properties: not differentiable (eigenvalues in numpy, float64); badly conditioned for
    high orders (use :func:`ss2sos`).

    Example:
        >>> b, a = ss2tf([[0.5]], [[1.0]], [[1.0]], [[0.0]])
        >>> b.tolist(), a.tolist()
        ([0.0, 1.0], [1.0, -0.5])
    """
    At, Bt, Ct, Dt = _as_ss(A, B, C, D)
    check_single(At, "A", 2)
    num, den = scipy.signal.ss2tf(to_numpy(At), to_numpy(Bt), to_numpy(Ct), to_numpy(Dt))
    return (
        torch.from_numpy(np.ascontiguousarray(num[0])).to(dtype=At.dtype, device=At.device),
        torch.from_numpy(np.ascontiguousarray(den)).to(dtype=At.dtype, device=At.device),
    )


def sos2ss(sos: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Second-order sections to one state space, coupled section by section (cascade form).

    Each section is put in controller canonical form (as :func:`tf2ss`) and the sections
    are chained, section 0 first: the output of section ``s - 1`` drives section ``s``.
    ``A`` is block lower triangular with the 2x2 section matrices on its diagonal, so its
    eigenvalues are the section poles exactly; this stays well conditioned at high orders
    where going through one transfer function does not. The state is the sections' states,
    section 0 first. The impulse response equals ``sosfilt``'s.

    Args:
        sos: second-order sections ``[b0 b1 b2 a0 a1 a2]``, ``a0 != 0``.

    Shape:
        ``(..., S, 6)`` -> ``A (..., 2S, 2S)``, ``B (..., 2S, 1)``, ``C (..., 1, 2S)``,
        ``D (..., 1, 1)``.

    Returns:
        ``(A, B, C, D)`` in the float dtype of ``sos``.

    Raises:
        ShapeError: last dim not 6 or no sections. NonFiniteError: NaN/inf. InputError:
        ``a0 == 0``.

    Properties: plain torch, differentiable, batched; CPU or CUDA.

    Example:
        >>> sos = torch.tensor([[1.0, 0.0, 0.0, 1.0, -0.5, 0.0], [1.0, 0.0, 0.0, 1.0, -0.5, 0.0]])
        >>> A, B, C, D = sos2ss(sos)
        >>> h = [float(D)] + [float(C @ torch.linalg.matrix_power(A, n) @ B) for n in range(3)]
        >>> h  # (1 - 0.5 z^-1)^-2: 1, 1, 0.75, 0.5
        [1.0, 1.0, 0.75, 0.5]
    """
    t = as_sos(sos)
    t = t / t[..., 3:4]
    A, B, C, D = tf2ss(t[..., 0, :3], t[..., 0, 3:])
    for s in range(1, t.shape[-2]):
        As, Bs, Cs, Ds = tf2ss(t[..., s, :3], t[..., s, 3:])
        top = torch.cat([A, torch.zeros(A.shape[:-1] + (2,), dtype=A.dtype, device=A.device)], -1)
        bottom = torch.cat([Bs @ C, As], -1)  # section s is driven by the cascade's output
        A = torch.cat([top, bottom], -2)  # (..., n + 2, n + 2)
        B = torch.cat([B, Bs @ D], -2)
        C = torch.cat([Ds @ C, Cs], -1)
        D = Ds @ D
    return A, B, C, D


def ss2sos(A: Any, B: Any, C: Any, D: Any, *, pairing: str | None = None) -> torch.Tensor:
    """State space to second-order sections, without going through a transfer function.

    Poles are the eigenvalues of ``A``; zeros are the finite generalised eigenvalues of the
    Rosenbrock pencil ``([[A, B], [C, D]], [[I, 0], [0, 0]])``; the gain is fitted to the
    state-space frequency response. Far better conditioned than ``ss2tf`` then ``tf2sos``
    (scipy's route) for high orders: for a 12th-order elliptic lowpass at 1 kHz / 48 kHz the
    response error is ~1e-11 here and ~70 % by that route. Zeros of high multiplicity
    remain ill-conditioned (as any eigenvalue problem): the 2N-fold zero at ``z = -1`` of
    a high-order narrow Butterworth lowpass comes back perturbed by ~``eps ** (1 / 2N)``;
    keep such filters in SOS form.

    Args:
        A, B, C, D: SISO state space, ``A (n, n)``, ``B (n, 1)``, ``C (1, n)``, ``D (1, 1)``.
        pairing: as in :func:`zpk2sos`.

    Shape:
        -> ``(ceil(n / 2), 6)``.

    Returns:
        SOS with ``a0 == 1`` and the same response as the state space, in its float dtype.

    Raises:
        ShapeError: inconsistent shapes or batched input. NonFiniteError: NaN/inf.
        InputError: bad ``pairing``.

    Properties: not differentiable (scipy eigenvalues, float64).

    Example:
        >>> sos = torch.tensor([[1.0, 0.2, 0.0, 1.0, -0.5, 0.1]], dtype=torch.float64)
        >>> back = ss2sos(*sos2ss(sos))
        >>> torch.allclose(back, sos)
        True
    """
    At, Bt, Ct, Dt = _as_ss(A, B, C, D)
    check_single(At, "A", 2)
    check_pairing(pairing)
    a, b, c, d = (to_numpy(t) for t in (At, Bt, Ct, Dt))
    n = a.shape[0]
    poles = scipy.linalg.eigvals(a)
    pencil = np.block([[a, b], [c, d]])
    mass = np.zeros((n + 1, n + 1))
    mass[:n, :n] = np.eye(n)
    alpha, beta = scipy.linalg.eigvals(pencil, mass, homogeneous_eigvals=True)
    scale = max(np.abs(pencil).max(), 1e-300)
    finite = np.abs(beta) > 1e-9 * np.maximum(np.abs(alpha), scale)
    zeros = alpha[finite] / beta[finite]
    # fit k in H(z) = k prod(z - z_i) / prod(z - p_i) to C (zI - A)^-1 B + D, least squares
    zs = np.exp(1j * np.linspace(0.1, np.pi - 0.1, 16))
    h = np.array([(c @ np.linalg.solve(zz * np.eye(n) - a, b))[0, 0] + d[0, 0] for zz in zs])
    g = np.array([np.prod(zz - zeros) / np.prod(zz - poles) for zz in zs])
    k = float(np.real(np.vdot(g, h)) / max(np.real(np.vdot(g, g)), 1e-300))
    if len(zeros) > n:  # numerical noise only: cannot have more finite zeros than states
        zeros = zeros[np.argsort(np.abs(zeros))[:n]]
    zeros = _conjugate_clean(zeros)
    poles = _conjugate_clean(poles)
    sos, used = scipy_zpk2sos(zeros, poles, k, pairing)
    sos = finish_sos(sos, used, n - len(zeros))
    return torch.from_numpy(np.ascontiguousarray(sos)).to(dtype=At.dtype, device=At.device)


def _conjugate_clean(r: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Make nearly-real roots exactly real so scipy's conjugate-pair check passes."""
    r = np.asarray(r, dtype=np.complex128).copy()
    small = np.abs(r.imag) <= tol * np.maximum(np.abs(r), 1.0)
    r[small] = r[small].real
    return r
