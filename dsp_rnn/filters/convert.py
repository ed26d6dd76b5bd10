"""Conversions between filter representations, named like ``scipy.signal`` (``<from>2<to>``).

Representations (all discrete time, real coefficients, SISO):

- **tf** ``(b, a)``: coefficients of ``z^-1`` as in ``lfilter``,
  ``H(z) = (b0 + b1 z^-1 + ...) / (a0 + a1 z^-1 + ...)``, ``a0 != 0``. When ``b`` and ``a``
  differ in length the shorter one is read as zero-padded *on the right*; this is what
  ``lfilter`` does, and differs from scipy's ``tf2zpk``/``tf2ss``, which read descending
  powers of ``z`` (the same thing when the lengths are equal).
- **zpk** ``(z, p, k)``: ``H(z) = k * prod(z - z_i) / prod(z - p_i)`` exactly; complex
  tensors ``z`` and ``p`` and a real gain ``k`` (0-dim tensor). Fewer zeros than poles means
  zeros at infinity, i.e. a pure delay (``b0 == 0``); scipy instead adds the missing zeros
  at the origin, which changes the filter by a delay. Both agree whenever the counts match.
- **sos** ``(..., n_sections, 6)``: rows ``[b0 b1 b2 a0 a1 a2]``, section 0 applied first.
- **ss** ``(A, B, C, D)``: ``x[n+1] = A x[n] + B u[n]``, ``y[n] = C x[n] + D u[n]`` with
  ``A (n, n)``, ``B (n, 1)``, ``C (1, n)``, ``D (1, 1)`` (scipy's layout).


These functions convert among tf, zpk and sos; state space is
:mod:`dsp_rnn.filters.state_space`, and the checks of sos and tf input are
:mod:`dsp_rnn.filters.coerce` (:func:`~dsp_rnn.filters.coerce.as_sos`,
:func:`~dsp_rnn.filters.coerce.as_tf`). :func:`sos2tf` and :func:`zpk2tf` are plain torch,
differentiable and batched over leading dims. The others find roots with numpy/scipy in
float64, take one filter, and are not differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F

from dsp_rnn._validate import check_finite
from dsp_rnn.errors import InputError, NonFiniteError, ShapeError
from dsp_rnn.filters._conversion import (
    check_pairing,
    check_single,
    finish_sos,
    pad_tf,
    scipy_zpk2sos,
    to_numpy,
)
from dsp_rnn.filters.coerce import as_sos, as_tf

__all__ = [
    "tf2sos",
    "sos2tf",
    "tf2zpk",
    "zpk2tf",
    "zpk2sos",
    "sos2zpk",
]


def _complex_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def _real_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype in (torch.complex128, torch.float64) else torch.float32


def _as_roots(value: Any, name: str) -> torch.Tensor:
    """Zeros or poles: 1-D (possibly empty) real or complex values -> complex tensor."""
    if isinstance(value, torch.Tensor):
        t = value
    else:
        arr = _asarray(value, name)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise InputError(f"{name}: expected numbers, got {arr.dtype} ({type(value).__name__})")
        t = torch.from_numpy(np.array(arr, dtype=np.complex128 if arr.dtype.kind == "c" else float))
    if not (t.is_complex() or t.is_floating_point()):
        t = t.to(torch.float32)
    if t.ndim != 1:
        raise ShapeError(f"{name}: expected a 1-D list of roots, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t.detach()).all()):
        raise NonFiniteError(f"{name}: expected finite roots, got {t.detach().tolist()}")
    return t if t.is_complex() else t.to(_complex_dtype(t.dtype))


def _asarray(value: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise InputError(f"{name}: expected numbers, got {type(value).__name__} ({exc})") from exc


def _as_gain(k: Any, dtype: torch.dtype) -> torch.Tensor:
    """One real gain. Complex values pass only with a zero imaginary part (as scipy's)."""
    if isinstance(k, torch.Tensor):
        kt = k
    else:
        arr = _asarray(k, "k")
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise InputError(f"k: expected one real number, got {k!r} ({type(k).__name__})")
        kt = torch.from_numpy(
            np.array(arr, dtype=np.complex128 if arr.dtype.kind == "c" else float)
        )
    if kt.numel() != 1:
        raise InputError(f"k: expected one real gain, got shape {tuple(kt.shape)}")
    if kt.is_complex():
        if float(kt.detach().imag.abs().max()) != 0.0:
            raise InputError(
                f"k: expected a real gain (the filter has real coefficients), got complex "
                f"k={complex(kt.detach().reshape(()))}"
            )
        kt = kt.real
    if not kt.is_floating_point():
        kt = kt.to(torch.float64)
    check_finite(kt, "k")
    return kt.reshape(()).to(dtype)


# ----------------------------------------------------------------------------- torch algebra
def _polymul(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Product of polynomials (coefficient lists, same variable), batched: (..., m) x (..., n)."""
    n = q.shape[-1]
    out = F.pad(p * q[..., :1], (0, n - 1))
    for k in range(1, n):
        out = out + F.pad(p * q[..., k : k + 1], (k, n - 1 - k))
    return out


# ----------------------------------------------------------------------------- tf <-> sos
def tf2sos(b: Any, a: Any, *, pairing: str | None = None) -> torch.Tensor:
    """Transfer function ``(b, a)`` to second-order sections (``scipy.signal.tf2sos``).

    Args:
        b: numerator coefficients of ``z^-1``.
        a: denominator coefficients of ``z^-1``, ``a0 != 0``.
        pairing: how poles and zeros are paired into sections: ``None`` (scipy's default,
            ``'nearest'``), ``'nearest'``, ``'keep_odd'`` or ``'minimal'`` (see
            :func:`zpk2sos`).

    Shape:
        ``b (M + 1,)``, ``a (N + 1,)`` -> ``(n_sections, 6)``,
        ``n_sections = ceil(max(M, N) / 2)`` (at least 1).

    Returns:
        SOS with ``a0 == 1``, in the float dtype of the inputs; same values as scipy's
        whenever ``b0 != 0`` (with ``b0 == 0`` the delay is kept here, where scipy drops it).

    Raises:
        ShapeError: batched or empty input. NonFiniteError: NaN/inf. InputError: ``a0 == 0``,
        bad ``pairing``.

    Properties: not differentiable (root finding in numpy, float64).

    Example:
        >>> sos = tf2sos([1.0, 2.0, 1.0], [1.0, -0.5, 0.25])
        >>> [round(v, 9) for v in sos[0].tolist()]
        [1.0, 2.0, 1.0, 1.0, -0.5, 0.25]
    """
    bt, at = as_tf(b, a)
    check_single(bt, "b", 1)
    check_single(at, "a", 1)
    check_pairing(pairing)
    bp, ap = pad_tf(bt, at)
    bn, an = to_numpy(bp), to_numpy(ap)
    nz = np.nonzero(bn)[0]
    delay = int(nz[0]) if nz.size else 0
    bs = bn[delay:] if nz.size else np.zeros(1)
    z, p, k = scipy.signal.tf2zpk(bs, an)
    sos, used = scipy_zpk2sos(z, p, k, pairing)
    sos = finish_sos(sos, used, delay)
    return torch.from_numpy(np.ascontiguousarray(sos)).to(dtype=bt.dtype, device=bt.device)


def sos2tf(sos: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Second-order sections to one transfer function ``(b, a)`` (``scipy.signal.sos2tf``).

    Multiplies the sections' polynomials; sections are first normalised by their ``a0``.

    Args:
        sos: second-order sections ``[b0 b1 b2 a0 a1 a2]``, ``a0 != 0``.

    Shape:
        ``(..., n_sections, 6)`` -> ``b, a`` each ``(..., 2 * n_sections + 1)``.

    Returns:
        ``(b, a)`` with ``a0 == 1``.

    Raises:
        ShapeError: last dim not 6 or no sections. NonFiniteError: NaN/inf. InputError:
        ``a0 == 0``.

    Properties: plain torch, differentiable, batched; CPU or CUDA. High orders in tf form
    are badly conditioned: keep SOS for filtering.

    Example:
        >>> b, a = sos2tf(torch.tensor([[1.0, 1.0, 0.0, 1.0, -0.5, 0.0]] * 2))
        >>> b.tolist(), a.tolist()
        ([1.0, 2.0, 1.0, 0.0, 0.0], [1.0, -1.0, 0.25, 0.0, 0.0])
    """
    t = as_sos(sos)
    t = t / t[..., 3:4]
    b, a = t[..., 0, :3], t[..., 0, 3:]
    for s in range(1, t.shape[-2]):
        b = _polymul(b, t[..., s, :3])
        a = _polymul(a, t[..., s, 3:])
    return b, a


# ----------------------------------------------------------------------------- tf <-> zpk
def tf2zpk(b: Any, a: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Transfer function ``(b, a)`` to zeros, poles and gain (``scipy.signal.tf2zpk``).

    ``b`` and ``a`` are zero-padded on the right to one length ``L``, so there are ``L - 1``
    poles; leading zeros of ``b`` (a delay) are zeros at infinity and are left out, so there
    may be fewer zeros than poles.

    Args:
        b: numerator coefficients of ``z^-1``.
        a: denominator coefficients of ``z^-1``, ``a0 != 0``.

    Shape:
        ``b (M + 1,)``, ``a (N + 1,)`` -> ``z (<= L - 1,)``, ``p (L - 1,)``, ``k ()``.

    Returns:
        ``(z, p, k)``: complex zeros and poles (complex128 for float64 input, else
        complex64) and the real gain ``k = b_first_nonzero / a0``.

    Raises:
        ShapeError: batched or empty input. NonFiniteError: NaN/inf. InputError: ``a0 == 0``.

    Properties: not differentiable (numpy ``roots``, float64).

    Example:
        >>> z, p, k = tf2zpk([2.0, -1.0], [1.0, -0.5])
        >>> z.tolist(), p.tolist(), float(k)
        ([(0.5+0j)], [(0.5+0j)], 2.0)
    """
    bt, at = as_tf(b, a)
    check_single(bt, "b", 1)
    check_single(at, "a", 1)
    bp, ap = pad_tf(bt, at)
    bn, an = to_numpy(bp), to_numpy(ap)
    nz = np.nonzero(bn)[0]
    bs = bn[nz[0] :] if nz.size else np.zeros(1)
    zeros = np.roots(bs) if nz.size else np.zeros(0)
    poles = np.roots(an)
    poles = np.concatenate([poles, np.zeros(len(an) - 1 - len(poles))])  # np.roots drops none
    k = bs[0] / an[0]
    cdt = _complex_dtype(bt.dtype)
    return (
        torch.from_numpy(zeros.astype(np.complex128)).to(dtype=cdt, device=bt.device),
        torch.from_numpy(poles.astype(np.complex128)).to(dtype=cdt, device=bt.device),
        torch.tensor(float(k), dtype=bt.dtype, device=bt.device),
    )


def zpk2tf(z: Any, p: Any, k: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Zeros, poles and gain to a transfer function ``(b, a)`` (``scipy.signal.zpk2tf``).

    Args:
        z: zeros (real or complex; complex ones in conjugate pairs). May be empty.
        p: poles, at least as many as zeros (else the filter is not causal).
        k: real gain.

    Shape:
        ``z (n_z,)``, ``p (n_p,)``, ``k ()`` -> ``b, a`` each ``(n_p + 1,)``; ``b`` starts with
        ``n_p - n_z`` zeros (the delay of the zeros at infinity).

    Returns:
        Real ``(b, a)`` with ``a0 == 1``; float64 for complex128/float64 roots, else float32.
        Equal to scipy's when ``n_z == n_p``.

    Raises:
        ShapeError: roots not 1-D. NonFiniteError: NaN/inf. InputError: more zeros than
        poles, or roots not in conjugate pairs (the polynomial is not real).

    Properties: plain torch, differentiable w.r.t. ``z``, ``p`` and ``k``.

    Example:
        >>> b, a = zpk2tf([-1.0], [0.5], 0.5)
        >>> b.tolist(), a.tolist()
        ([0.5, 0.5], [1.0, -0.5])
    """
    zt, pt = _as_roots(z, "z"), _as_roots(p, "p")
    cdt = torch.complex128 if torch.complex128 in (zt.dtype, pt.dtype) else torch.complex64
    zt, pt = zt.to(cdt), pt.to(device=zt.device, dtype=cdt)
    rdt = _real_dtype(cdt)
    kt = _as_gain(k, rdt).to(zt.device)
    if zt.shape[-1] > pt.shape[-1]:
        raise InputError(
            f"z, p: more zeros ({zt.shape[-1]}) than poles ({pt.shape[-1]}) is not a causal "
            "discrete-time filter"
        )

    def poly(roots: torch.Tensor) -> torch.Tensor:
        c = torch.ones(1, dtype=cdt, device=zt.device)
        for r in roots.unbind(-1):
            c = _polymul(c, torch.stack([torch.ones_like(r), -r]))
        return c

    bc = F.pad(poly(zt), (pt.shape[-1] - zt.shape[-1], 0))
    ac = poly(pt)
    for name, c in (("z", bc), ("p", ac)):
        scale = float(c.detach().abs().max())
        tol = 100 * torch.finfo(rdt).eps * max(c.shape[-1], 1)
        if float(c.detach().imag.abs().max()) > tol * max(scale, 1e-300):
            raise InputError(
                f"{name}: complex roots must come in conjugate pairs for a real filter, got "
                f"{(zt if name == 'z' else pt).detach().tolist()}"
            )
    return kt * bc.real, ac.real


# ----------------------------------------------------------------------------- zpk <-> sos
def zpk2sos(z: Any, p: Any, k: Any, *, pairing: str | None = None) -> torch.Tensor:
    """Zeros, poles and gain to second-order sections (``scipy.signal.zpk2sos``).

    Args:
        z: zeros (complex ones in conjugate pairs); fewer zeros than poles means zeros at
            infinity (a delay), which is kept here.
        p: poles (complex ones in conjugate pairs), at least as many as zeros.
        k: real gain.
        pairing: ``None`` (``'nearest'``), ``'nearest'``, ``'keep_odd'`` or ``'minimal'``.
            With ``'minimal'`` a section with one pole is first order (``b2 = a2 = 0``)
            where scipy stores it right-aligned with ``a0 = 0``; root sets on which scipy's
            ``'minimal'`` fails are paired as ``'keep_odd'`` (same sections count, same
            system).

    Shape:
        ``z (n_z,)``, ``p (n_p,)`` -> ``(ceil(n_p / 2), 6)`` (at least 1 section).

    Returns:
        SOS with ``a0 == 1`` in every row; float64 for complex128/float64 roots, else
        float32. Equal to scipy's when ``n_z == n_p`` (up to the row layout of
        ``'minimal'``).

    Raises:
        ShapeError, NonFiniteError, InputError: more zeros than poles, unpaired complex
        roots, bad ``pairing``.

    Properties: not differentiable (scipy, float64).

    Example:
        >>> zpk2sos([-1.0, -1.0], [0.5, 0.5], 0.25).tolist()
        [[0.25, 0.5, 0.25, 1.0, -1.0, 0.25]]
    """
    zt, pt = _as_roots(z, "z"), _as_roots(p, "p")
    rdt = torch.float64 if torch.complex128 in (zt.dtype, pt.dtype) else torch.float32
    kt = _as_gain(k, rdt)
    check_pairing(pairing)
    n_z, n_p = zt.shape[0], pt.shape[0]
    if n_z > n_p:
        raise InputError(
            f"z, p: more zeros ({n_z}) than poles ({n_p}) is not a causal discrete-time filter"
        )
    try:
        sos, used = scipy_zpk2sos(to_numpy(zt), to_numpy(pt), float(kt), pairing)
    except ValueError as exc:
        raise InputError(f"zpk2sos: {exc} (z={zt.tolist()}, p={pt.tolist()})") from exc
    sos = finish_sos(sos, used, n_p - n_z)
    return torch.from_numpy(np.ascontiguousarray(sos)).to(dtype=rdt, device=zt.device)


def sos2zpk(sos: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Second-order sections to zeros, poles and gain (``scipy.signal.sos2zpk``).

    Each section contributes two poles (a pole at the origin where ``a2 == 0``) and the
    roots of ``b0 z^2 + b1 z + b2``; a section with ``b0 == 0`` has zeros at infinity, which
    are left out (scipy puts them at the origin, changing the filter by a delay).

    Args:
        sos: one cascade ``[b0 b1 b2 a0 a1 a2]``, ``a0 != 0``.

    Shape:
        ``(n_sections, 6)`` -> ``z (<= 2 n_sections,)``, ``p (2 n_sections,)``, ``k ()``.

    Returns:
        ``(z, p, k)``: complex zeros and poles (complex128 for float64, else complex64) and
        the real gain.

    Raises:
        ShapeError: not ``(n_sections, 6)``. NonFiniteError: NaN/inf. InputError: ``a0 == 0``.

    Properties: not differentiable (numpy, float64).

    Example:
        >>> z, p, k = sos2zpk(torch.tensor([[1.0, 0.0, -0.25, 1.0, 0.0, 0.0]], dtype=torch.float64))
        >>> sorted(round(v.real, 9) for v in z.tolist()), p.tolist(), float(k)
        ([-0.5, 0.5], [0j, 0j], 1.0)
    """
    t = as_sos(sos)
    check_single(t, "sos", 2)
    arr = to_numpy(t)
    zeros, poles, k = [], [], 1.0
    for b0, b1, b2, a0, a1, a2 in arr:
        num = np.trim_zeros(np.array([b0, b1, b2]), "f")
        if num.size == 0:  # the section is zero: so is the filter
            k = 0.0
        else:
            k *= num[0] / a0
            zeros.append(np.roots(num))  # num.size - 1 roots, trailing zeros give 0
        pr = np.roots([a0, a1, a2])
        poles.append(np.concatenate([pr, np.zeros(2 - pr.size)]))
    cdt = _complex_dtype(t.dtype)
    z = np.concatenate(zeros) if zeros and k != 0.0 else np.zeros(0)
    return (
        torch.from_numpy(z.astype(np.complex128)).to(dtype=cdt, device=t.device),
        torch.from_numpy(np.concatenate(poles).astype(np.complex128)).to(
            dtype=cdt, device=t.device
        ),
        torch.tensor(float(k), dtype=t.dtype, device=t.device),
    )
