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

:func:`sos2tf`, :func:`zpk2tf`, :func:`tf2ss` and :func:`sos2ss` are plain torch,
differentiable and batched over leading dims. The others find roots or eigenvalues with
numpy/scipy in float64, take one filter, and are not differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import scipy.signal
import torch
import torch.nn.functional as F

from dsp_rnn._validate import as_tensor, check_finite, common_dtype
from dsp_rnn.errors import InputError, NonFiniteError, ShapeError

__all__ = [
    "as_sos",
    "as_tf",
    "tf2sos",
    "sos2tf",
    "tf2zpk",
    "zpk2tf",
    "zpk2sos",
    "sos2zpk",
    "tf2ss",
    "ss2tf",
    "sos2ss",
    "ss2sos",
]

_PAIRINGS = (None, "nearest", "keep_odd", "minimal")


# ----------------------------------------------------------------------------- validation
def as_sos(sos: Any, name: str = "sos") -> torch.Tensor:
    """Second-order sections as a checked float tensor (the one SOS coercion of the package).

    Args:
        sos: rows ``[b0 b1 b2 a0 a1 a2]`` (tensor, array or nested list); the dtype rule is
            :func:`~dsp_rnn._validate.as_tensor`'s.
        name: the argument's name in messages (default ``"sos"``).

    Shape:
        ``(..., n_sections >= 1, 6)``, returned unchanged (not normalised by ``a0``).

    Raises:
        ShapeError: another shape. NonFiniteError: NaN/inf. InputError: ``a0 == 0`` in a
        section, or not numbers.

    Example:
        >>> as_sos([[1.0, 0.0, 0.0, 1.0, -0.5, 0.0]]).shape
        torch.Size([1, 6])
    """
    t = as_tensor(sos, name)
    if t.ndim < 2 or t.shape[-1] != 6 or t.shape[-2] == 0:
        raise ShapeError(
            f"{name}: expected shape (..., n_sections >= 1, 6) with rows [b0 b1 b2 a0 a1 a2], "
            f"got {tuple(t.shape)}"
        )
    check_finite(t, name)
    zero = t[..., 3].detach() == 0
    if bool(zero.any()):
        where = tuple(int(i) for i in torch.nonzero(zero)[0].tolist())
        raise InputError(
            f"{name}: expected a0 != 0 in every section, found a0 == 0 in section at index {where}"
        )
    return t


def as_tf(b: Any, a: Any, *, pad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """A transfer function ``(b, a)`` as checked float tensors of one dtype (the one
    transfer-function coercion of the package).

    Args:
        b, a: coefficients of ``z^-1``; a scalar (``freqz``'s default ``a=1``) is a
            one-coefficient polynomial. Not normalised by ``a0``.
        pad: zero-pad the shorter of ``b``, ``a`` on the right to one length and broadcast
            their leading dims (default ``False``: lengths and leading dims as given).

    Shape:
        ``b (..., M + 1)``, ``a (..., N + 1)``; with ``pad``, both ``(..., max(M, N) + 1)``.

    Raises:
        ShapeError: no coefficients, or (with ``pad``) leading dims that do not broadcast.
        NonFiniteError: NaN/inf. InputError: ``a0 == 0``, or not numbers.

    Example:
        >>> as_tf([1.0], 1.0, pad=False)
        (tensor([1.]), tensor([1.]))
    """
    bt, at = as_tensor(b, "b"), as_tensor(a, "a")
    bt, at = (t.reshape(1) if t.ndim == 0 else t for t in (bt, at))
    for name, t in (("b", bt), ("a", at)):
        if t.shape[-1] == 0:
            raise ShapeError(
                f"{name}: expected at least one coefficient, got shape {tuple(t.shape)}"
            )
        check_finite(t, name)
    zero = at[..., 0].detach() == 0
    if bool(zero.any()):
        raise InputError(
            f"a: expected a0 != 0 (the leading denominator coefficient), got a={_short(at)}"
        )
    dtype = common_dtype(bt, at)
    bt, at = bt.to(dtype), at.to(dtype=dtype, device=bt.device)
    return _pad_tf(bt, at) if pad else (bt, at)


def _short(t: torch.Tensor, n: int = 8) -> str:
    flat = t.detach().reshape(-1).tolist()
    body = ", ".join(f"{v:.6g}" for v in flat[:n])
    return f"[{body}{', ...' if len(flat) > n else ''}] (shape {tuple(t.shape)})"


def _pad_tf(b: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad b and a on the right to one length and broadcast their leading dims."""
    n = max(b.shape[-1], a.shape[-1])
    b = F.pad(b, (0, n - b.shape[-1]))
    a = F.pad(a, (0, n - a.shape[-1]))
    try:
        batch = torch.broadcast_shapes(b.shape[:-1], a.shape[:-1])
    except RuntimeError as exc:
        raise ShapeError(
            f"b {tuple(b.shape)} and a {tuple(a.shape)}: leading dims do not broadcast"
        ) from exc
    return b.expand(batch + (n,)), a.expand(batch + (n,))


def _single(t: torch.Tensor, name: str, ndim: int) -> None:
    if t.ndim != ndim:
        raise ShapeError(
            f"{name}: this conversion takes one filter ({ndim}-D), got shape {tuple(t.shape)}; "
            "loop over a batch"
        )


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


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.complex128 if t.is_complex() else np.float64)


def _check_pairing(pairing: str | None) -> None:
    if not (pairing is None or isinstance(pairing, str)) or pairing not in _PAIRINGS:
        raise InputError(f"pairing: expected one of {_PAIRINGS}, got pairing={pairing!r}")


# ----------------------------------------------------------------------------- torch algebra
def _polymul(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Product of polynomials (coefficient lists, same variable), batched: (..., m) x (..., n)."""
    n = q.shape[-1]
    out = F.pad(p * q[..., :1], (0, n - 1))
    for k in range(1, n):
        out = out + F.pad(p * q[..., k : k + 1], (k, n - 1 - k))
    return out


def _scipy_zpk2sos(z: np.ndarray, p: np.ndarray, k: float, pairing: str | None):
    """``scipy.signal.zpk2sos``; returns ``(sos, pairing used)``.

    scipy's ``'minimal'`` pairing fails (IndexError) on some root sets, e.g. two real poles
    paired with a real zero when only complex zeros are left. Those fall back to
    ``'keep_odd'``: the same number of sections and the same system.
    """
    try:
        return scipy.signal.zpk2sos(z, p, k, pairing=pairing), pairing
    except IndexError:
        if pairing != "minimal":
            raise
        return scipy.signal.zpk2sos(z, p, k, pairing="keep_odd"), "keep_odd"


def _finish_sos(sos: np.ndarray, pairing: str | None, delay: int) -> np.ndarray:
    """scipy's SOS of the zeros and poles -> ours: the delay kept, ``a0 == 1`` in every row.

    With ``'minimal'`` scipy adds no zeros at the origin, so its sections are already the
    exact ``k prod(z - z_i) / prod(z - p_i)``, delay included; but a section with fewer than
    two poles is stored right-aligned in powers of ``z`` (``a0 == 0``). Shifting both
    polynomials of such a row left multiplies them by the same power of ``z``: same section,
    ``a0 != 0``. The other pairings fill up with zeros at the origin, undone by the delay.
    """
    if pairing != "minimal":
        sos = _delay_sos(sos, delay)
    sos = np.array(sos, dtype=np.float64)
    for row in sos:
        nz = np.flatnonzero(row[3:])
        shift = int(nz[0]) if nz.size else 0
        if shift:  # a causal section: b has at least as many leading zeros as a
            row[:3] = np.concatenate([row[shift:3], np.zeros(shift)])
            row[3:] = np.concatenate([row[3 + shift :], np.zeros(shift)])
    return sos / sos[:, 3:4]


def _delay_sos(sos: np.ndarray, delay: int) -> np.ndarray:
    """Multiply an SOS cascade by z^-delay: shift numerators that end in an exact zero."""
    sos = sos.copy()
    for _ in range(delay):
        free = np.nonzero(sos[:, 2] == 0)[0]
        if free.size:
            s = int(free[0])
            sos[s, :3] = [0.0, sos[s, 0], sos[s, 1]]
        else:  # no exact zero at the origin to spare: one more section
            sos = np.vstack([sos, [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]])
    return sos


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
    _single(bt, "b", 1)
    _single(at, "a", 1)
    _check_pairing(pairing)
    bp, ap = _pad_tf(bt, at)
    bn, an = _np(bp), _np(ap)
    nz = np.nonzero(bn)[0]
    delay = int(nz[0]) if nz.size else 0
    bs = bn[delay:] if nz.size else np.zeros(1)
    z, p, k = scipy.signal.tf2zpk(bs, an)
    sos, used = _scipy_zpk2sos(z, p, k, pairing)
    sos = _finish_sos(sos, used, delay)
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
    _single(bt, "b", 1)
    _single(at, "a", 1)
    bp, ap = _pad_tf(bt, at)
    bn, an = _np(bp), _np(ap)
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
    _check_pairing(pairing)
    n_z, n_p = zt.shape[0], pt.shape[0]
    if n_z > n_p:
        raise InputError(
            f"z, p: more zeros ({n_z}) than poles ({n_p}) is not a causal discrete-time filter"
        )
    try:
        sos, used = _scipy_zpk2sos(_np(zt), _np(pt), float(kt), pairing)
    except ValueError as exc:
        raise InputError(f"zpk2sos: {exc} (z={zt.tolist()}, p={pt.tolist()})") from exc
    sos = _finish_sos(sos, used, n_p - n_z)
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
    _single(t, "sos", 2)
    arr = _np(t)
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


# ----------------------------------------------------------------------------- state space
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
    bp, ap = _pad_tf(bt, at)
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
    _single(At, "A", 2)
    num, den = scipy.signal.ss2tf(_np(At), _np(Bt), _np(Ct), _np(Dt))
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
    _single(At, "A", 2)
    _check_pairing(pairing)
    a, b, c, d = (_np(t) for t in (At, Bt, Ct, Dt))
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
    sos, used = _scipy_zpk2sos(zeros, poles, k, pairing)
    sos = _finish_sos(sos, used, n - len(zeros))
    return torch.from_numpy(np.ascontiguousarray(sos)).to(dtype=At.dtype, device=At.device)


def _conjugate_clean(r: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Make nearly-real roots exactly real so scipy's conjugate-pair check passes."""
    r = np.asarray(r, dtype=np.complex128).copy()
    small = np.abs(r.imag) <= tol * np.maximum(np.abs(r), 1.0)
    r[small] = r[small].real
    return r
