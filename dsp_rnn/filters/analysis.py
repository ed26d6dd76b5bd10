"""Analysis of linear systems: frequency and impulse responses, group delay, poles, stability.

A *system* (the :data:`System` alias) is either

- a tensor (or array) of second-order sections, shape ``(..., n_sections, 6)`` with rows
  ``[b0 b1 b2 a0 a1 a2]``, or
- a ``tuple`` ``(b, a)`` of transfer-function coefficients of ``z^-1`` as in ``lfilter``
  (shapes ``(..., M + 1)`` and ``(..., N + 1)``; the shorter is zero-padded on the right).

Only a ``tuple`` means ``(b, a)``: a list of two rows of six is read as SOS. Objects that
have their own ``.freqz(n_freqs=..., whole=..., sample_rate=...)`` method (the allpass and
feedback-delay networks) are accepted by :func:`freqz`, which calls that method.

Frequencies follow ``scipy.signal.freqz``: ``n_freqs`` points spaced evenly over
``[0, pi)`` (``[0, 2 pi)`` with ``whole=True``), returned in rad/sample, or in Hz when
``sample_rate`` is given. :func:`freqz`, :func:`sosfreqz` and :func:`group_delay` evaluate
the polynomials on the unit circle with complex exponentials in plain torch: differentiable
w.r.t. the coefficients (and explicit frequencies), batched over leading dims, CPU or CUDA.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import torch

from dsp_rnn._validate import check_int, check_sample_rate
from dsp_rnn.errors import InputError, ShapeError, UnstableFilterError
from dsp_rnn.filters.coerce import as_sos, as_tf

__all__ = [
    "System",
    "SupportsFreqz",
    "FrequencyGrid",
    "frequency_grid",
    "unit_circle",
    "freqz",
    "sosfreqz",
    "group_delay",
    "impulse_response",
    "poles",
    "zeros",
    "is_stable",
    "check_stable",
]

#: A linear system: SOS ``(..., n_sections, 6)`` (tensor, array or nested list) or a
#: ``tuple`` ``(b, a)`` of ``z^-1`` coefficients.
System = torch.Tensor | np.ndarray | tuple[Any, Any]


@runtime_checkable
class SupportsFreqz(Protocol):
    """Anything with its own frequency response method (allpass / FDN networks)."""

    def freqz(
        self, *, n_freqs: int = 512, whole: bool = False, sample_rate: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]: ...


# ----------------------------------------------------------------------------- helpers
def _is_tf(system: Any) -> bool:
    if isinstance(system, tuple):
        if len(system) != 2:
            raise InputError(
                f"system: a tuple must be (b, a), got a tuple of {len(system)} items; "
                "pass second-order sections as a tensor"
            )
        return True
    return False


class FrequencyGrid(NamedTuple):
    """Where a response is evaluated: ``w`` in rad/sample and the ``freqs`` reported (Hz
    with a sample rate, else ``w``); ``n_freqs``/``whole`` are set for scipy's evenly spaced
    grid (``w_k = span k / n_freqs``), ``None`` for explicit frequencies."""

    w: torch.Tensor
    freqs: torch.Tensor
    n_freqs: int | None
    whole: bool


def frequency_grid(
    n_freqs: int = 512,
    *,
    whole: bool = False,
    sample_rate: float | None = None,
    freqs: Any = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> FrequencyGrid:
    """The frequencies every response in this package is evaluated on (``scipy.signal.freqz``).

    Args:
        n_freqs: number of frequencies, ``>= 1`` (default 512), evenly spaced over
            ``[0, pi)`` or, with ``whole=True``, ``[0, 2 pi)`` (endpoint excluded).
        whole: the whole circle (default ``False``: up to Nyquist).
        sample_rate: Hz; when given, ``freqs`` are reported in Hz, else in rad/sample.
        freqs: explicit frequencies, 1-D (replaces ``n_freqs``/``whole``), in Hz when
            ``sample_rate`` is given, else rad/sample.
        dtype, device: of the returned tensors (default float64, CPU).

    Returns:
        A :class:`FrequencyGrid` ``(w, freqs, n_freqs, whole)``.

    Raises:
        InputError: bad ``n_freqs``, ``sample_rate`` or ``freqs``.

    Example:
        >>> frequency_grid(4, sample_rate=8000).freqs.tolist()
        [0.0, 1000.0, 2000.0, 3000.0]
    """
    sr = None if sample_rate is None else check_sample_rate(sample_rate)
    if freqs is not None:
        f = torch.as_tensor(freqs, dtype=dtype, device=device)
        if f.ndim != 1 or not bool(torch.isfinite(f.detach()).all()):
            raise InputError(f"freqs: expected a 1-D tensor of finite frequencies, got {f.shape}")
        f = f.to(dtype)
        return FrequencyGrid((f * (2.0 * math.pi / sr) if sr is not None else f), f, None, whole)
    n = check_int(n_freqs, "n_freqs", minimum=1)
    span = 2.0 * math.pi if whole else math.pi
    w = torch.arange(n, dtype=torch.float64, device=device) * (span / n)
    out = w * (sr / (2.0 * math.pi)) if sr is not None else w
    return FrequencyGrid(w.to(dtype), out.to(dtype), n, bool(whole))


def unit_circle(c: torch.Tensor, grid: FrequencyGrid, *, weighted: bool = False) -> torch.Tensor:
    """The polynomial ``sum_k c_k e^{-j w k}`` (times ``k`` if ``weighted``) on ``grid``.

    The one evaluation engine behind :func:`freqz`, :func:`sosfreqz`, :func:`group_delay`
    and the allpass modules' ``.freqz``. On the evenly spaced grid the sum is a folded FFT,
    exact for any length (the kernel is periodic in ``k`` with period ``n_freqs``, or
    ``2 n_freqs`` for the half circle); explicit frequencies use complex exponentials.

    Shape:
        ``c (..., N)`` real -> ``(..., F)`` complex (complex128 for float64 ``c``, else
        complex64).

    Properties: plain torch, differentiable w.r.t. ``c`` (and explicit frequencies); CPU
    or CUDA.
    """
    cplx = torch.complex128 if c.dtype == torch.float64 else torch.complex64
    k = torch.arange(c.shape[-1], dtype=c.dtype, device=c.device)
    coef = c * k if weighted else c
    if grid.n_freqs is not None:
        n = grid.n_freqs
        period = n if grid.whole else 2 * n
        n_fold = max(1, -(-coef.shape[-1] // period))
        coef = torch.nn.functional.pad(coef, (0, n_fold * period - coef.shape[-1]))
        folded = coef.reshape(coef.shape[:-1] + (n_fold, period)).sum(-2)
        return torch.fft.fft(folded, dim=-1)[..., :n].to(cplx)
    w = grid.w.to(device=c.device)
    phase = -w[:, None] * k.to(w.dtype)  # (F, N)
    basis = torch.polar(torch.ones_like(phase), phase)  # e^{-j w k}
    return coef.to(cplx) @ basis.to(cplx).transpose(0, 1)


def _quad_roots(c0: torch.Tensor, c1: torch.Tensor, c2: torch.Tensor) -> torch.Tensor:
    """Roots of c0 z^2 + c1 z + c2 (stable form); ``c0 == 0`` gives a root at infinity."""
    cplx = torch.complex128 if c0.dtype == torch.float64 else torch.complex64
    disc = (c1 * c1 - 4.0 * c0 * c2).to(cplx)
    sign = torch.where(c1 >= 0, 1.0, -1.0).to(c1.dtype)
    q = -(c1.to(cplx) + sign.to(cplx) * torch.sqrt(disc)) / 2.0
    inf = torch.full_like(q, complex(math.inf, 0.0))
    zero = torch.zeros_like(q)
    q_zero = q == 0
    c0_zero = c0 == 0
    r1 = torch.where(c0_zero, inf, q / torch.where(c0_zero, 1.0, c0).to(cplx))
    r2 = torch.where(
        q_zero, torch.where(c0_zero, inf, zero), c2.to(cplx) / torch.where(q_zero, 1, q)
    )
    return torch.stack([r1, r2], -1)


def _poly_roots(c: torch.Tensor) -> torch.Tensor:
    """Roots in z of c0 z^N + ... + cN, batched: (..., N + 1) -> (..., N); c0 == 0 gives inf."""
    n = c.shape[-1] - 1
    cplx = torch.complex128 if c.dtype == torch.float64 else torch.complex64
    if n == 0:
        return torch.zeros(c.shape[:-1] + (0,), dtype=cplx, device=c.device)
    if bool((c[..., 0] != 0).all()):
        comp = torch.zeros(c.shape[:-1] + (n, n), dtype=c.dtype, device=c.device)
        comp = comp + torch.diag_embed(torch.ones(n - 1, dtype=c.dtype, device=c.device), -1)
        comp = torch.cat([-(c[..., None, 1:] / c[..., None, :1]), comp[..., 1:, :]], -2)
        return torch.linalg.eigvals(comp)
    out = np.empty(c.shape[:-1] + (n,), dtype=np.complex128)  # leading zeros: per filter
    flat_c = c.detach().cpu().double().reshape(-1, n + 1).numpy()
    flat_o = out.reshape(-1, n)
    for i, row in enumerate(flat_c):
        nz = np.nonzero(row)[0]
        lead = int(nz[0]) if nz.size else n
        r = np.roots(row[lead:]) if nz.size else np.zeros(0)
        flat_o[i] = np.concatenate([r, np.full(n - r.size, np.inf + 0j)])
    return torch.from_numpy(out).to(dtype=cplx, device=c.device)


def _sos_roots(sos: torch.Tensor, numerator: bool) -> torch.Tensor:
    c = sos[..., :3] if numerator else sos[..., 3:]
    r = _quad_roots(c[..., 0], c[..., 1], c[..., 2])  # (..., S, 2)
    return r.reshape(r.shape[:-2] + (-1,))


# ----------------------------------------------------------------------------- responses
def freqz(
    b: Any,
    a: Any = 1.0,
    *,
    n_freqs: int = 512,
    whole: bool = False,
    sample_rate: float | None = None,
    freqs: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frequency response of ``B(z) / A(z)`` on the unit circle (``scipy.signal.freqz``).

    ``H(w) = sum_k b_k e^{-j w k} / sum_k a_k e^{-j w k}``. If ``b`` is an object with its own
    ``.freqz`` method (:class:`SupportsFreqz`: allpass/FDN networks), that method is called
    with ``n_freqs``, ``whole``, ``sample_rate`` (and ``freqs`` when given).

    Args:
        b: numerator coefficients of ``z^-1``, or an object with a ``.freqz`` method.
        a: denominator coefficients, ``a0 != 0`` (default ``1``: an FIR filter).
        n_freqs: number of frequencies, ``>= 1`` (default 512), evenly spaced over
            ``[0, pi)`` or, with ``whole=True``, ``[0, 2 pi)`` (endpoint excluded, as scipy).
        whole: use the whole circle (default ``False``: up to Nyquist).
        sample_rate: sample rate in Hz; when given, frequencies are in Hz (scipy's ``fs``),
            else in rad/sample.
        freqs: explicit frequencies (replaces ``n_freqs``/``whole``), in Hz when
            ``sample_rate`` is given, else in rad/sample (scipy's array ``worN``).

    Shape:
        ``b (..., M + 1)``, ``a (..., N + 1)`` (leading dims broadcast) ->
        ``freqs (F,)``, ``H (..., F)``.

    Returns:
        ``(freqs, H)``: real frequencies and the complex response (complex128 for float64
        coefficients, else complex64).

    Raises:
        ShapeError: empty coefficients or leading dims that do not broadcast.
        NonFiniteError: NaN/inf coefficients. InputError: ``a0 == 0``, bad ``n_freqs``,
        ``sample_rate`` or ``freqs``.

    Properties: plain torch, differentiable w.r.t. ``b``, ``a`` and ``freqs``; CPU or CUDA.

    Example:
        >>> f, h = freqz(torch.tensor([0.5, 0.5]), n_freqs=4, sample_rate=8000)
        >>> f.tolist(), [round(v, 4) for v in h.abs().tolist()]
        ([0.0, 1000.0, 2000.0, 3000.0], [1.0, 0.9239, 0.7071, 0.3827])
    """
    if isinstance(b, SupportsFreqz) and not isinstance(b, (torch.Tensor, np.ndarray)):
        if not (isinstance(a, numbers.Real) and float(a) == 1.0):
            raise InputError(f"a: must be left at 1 when b is a {type(b).__name__}, got a={a!r}")
        kwargs: dict[str, Any] = {"n_freqs": n_freqs, "whole": whole, "sample_rate": sample_rate}
        if freqs is not None:
            kwargs["freqs"] = freqs
        return b.freqz(**kwargs)
    bt, at = as_tf(b, a)
    try:
        torch.broadcast_shapes(bt.shape[:-1], at.shape[:-1])
    except RuntimeError as exc:
        raise ShapeError(
            f"b {tuple(bt.shape)} and a {tuple(at.shape)}: leading dims do not broadcast"
        ) from exc
    g = frequency_grid(
        n_freqs, whole=whole, sample_rate=sample_rate, freqs=freqs, dtype=bt.dtype, device=bt.device
    )
    return g.freqs, unit_circle(bt, g) / unit_circle(at, g)


def sosfreqz(
    sos: Any,
    *,
    n_freqs: int = 512,
    whole: bool = False,
    sample_rate: float | None = None,
    freqs: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frequency response of second-order sections (``scipy.signal.sosfreqz``).

    The product of the sections' responses, each evaluated as in :func:`freqz` (no
    conversion to one transfer function, so high orders stay accurate).

    Args:
        sos: second-order sections ``[b0 b1 b2 a0 a1 a2]``, ``a0 != 0``.
        n_freqs: number of frequencies, ``>= 1`` (default 512).
        whole: evaluate ``[0, 2 pi)`` instead of ``[0, pi)`` (default ``False``).
        sample_rate: sample rate in Hz; frequencies in Hz when given, else rad/sample.
        freqs: explicit frequencies (Hz with ``sample_rate``, else rad/sample).

    Shape:
        ``sos (..., S, 6)`` -> ``freqs (F,)``, ``H (..., F)``.

    Returns:
        ``(freqs, H)`` as in :func:`freqz`.

    Raises:
        ShapeError: last dim not 6 or no sections. NonFiniteError: NaN/inf. InputError:
        ``a0 == 0``, bad ``n_freqs``, ``sample_rate`` or ``freqs``.

    Properties: plain torch, differentiable w.r.t. ``sos`` and ``freqs``; CPU or CUDA.

    Example:
        >>> from dsp_rnn.filters.classic import butter
        >>> f, h = sosfreqz(butter(4, 1000.0, sample_rate=48000), freqs=[0.0, 1000.0],
        ...                 sample_rate=48000)
        >>> [round(v, 3) for v in (20 * h.abs().log10()).tolist()]  # 0 dB, -3 dB at cutoff
        [0.0, -3.01]
    """
    t = as_sos(sos)
    g = frequency_grid(
        n_freqs, whole=whole, sample_rate=sample_rate, freqs=freqs, dtype=t.dtype, device=t.device
    )
    h = unit_circle(t[..., :3], g) / unit_circle(t[..., 3:], g)  # (..., S, F)
    return g.freqs, h.prod(-2)


def group_delay(
    system: System,
    *,
    n_freqs: int = 512,
    whole: bool = False,
    sample_rate: float | None = None,
    freqs: Any = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Group delay ``-d(phase)/dw`` in samples (``scipy.signal.group_delay``).

    For each polynomial ``P`` (the numerator and denominator, of each section),
    ``-d arg P(e^{jw}) / dw = Re(sum_k k p_k e^{-jwk} / P(e^{jw}))``; the group delay is the
    numerators' terms minus the denominators'. Where a numerator vanishes on the unit
    circle (a zero on it) the group delay is undefined; as scipy does, 0 is returned there
    (where ``|B| <= 10 eps sum |b_k|``).

    Args:
        system: SOS ``(..., S, 6)`` or a tuple ``(b, a)``.
        n_freqs: number of frequencies, ``>= 1`` (default 512).
        whole: evaluate ``[0, 2 pi)`` instead of ``[0, pi)`` (default ``False``).
        sample_rate: sample rate in Hz; frequencies in Hz when given, else rad/sample.
            The delay is in samples either way.
        freqs: explicit frequencies (Hz with ``sample_rate``, else rad/sample).

    Shape:
        -> ``freqs (F,)``, ``delay (..., F)``.

    Returns:
        ``(freqs, delay)``, delay real, in samples.

    Raises:
        ShapeError, NonFiniteError, InputError: as :func:`freqz` / :func:`sosfreqz`.

    Properties: plain torch, differentiable w.r.t. the coefficients; CPU or CUDA.

    Example:
        >>> f, gd = group_delay((torch.tensor([0.0, 0.0, 1.0]), torch.tensor([1.0])), n_freqs=3)
        >>> gd.tolist()  # a pure delay of 2 samples
        [2.0, 2.0, 2.0]
    """
    if _is_tf(system):
        b, a = as_tf(*system, pad=True)
        num, den = b.unsqueeze(-2), a.unsqueeze(-2)  # (..., 1, N + 1)
    else:
        t = as_sos(system)
        num, den = t[..., :3], t[..., 3:]  # (..., S, 3)
    g = frequency_grid(
        n_freqs,
        whole=whole,
        sample_rate=sample_rate,
        freqs=freqs,
        dtype=num.dtype,
        device=num.device,
    )
    eps = torch.finfo(num.dtype).eps

    def term(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        val = unit_circle(c, g)
        tiny = val.abs() <= 10 * eps * c.abs().sum(-1, keepdim=True)
        ratio = unit_circle(c, g, weighted=True) / torch.where(tiny, 1.0, val)
        return torch.where(tiny, 0.0, ratio.real), tiny

    tb, sing = term(num)
    ta, _ = term(den)
    gd = torch.where(sing, 0.0, tb - ta).sum(-2)
    return g.freqs, gd


def impulse_response(system: System, n_samples: int) -> torch.Tensor:
    """The first ``n_samples`` of the impulse response, via ``sosfilt`` or ``lfilter``.

    Args:
        system: SOS ``(..., S, 6)`` or a tuple ``(b, a)``.
        n_samples: number of samples, ``>= 1``.

    Shape:
        -> ``(..., n_samples)`` with the system's leading dims.

    Returns:
        ``h[n]``, ``n = 0 .. n_samples - 1``, in the system's float dtype.

    Raises:
        InputError: bad ``n_samples``; the errors of ``sosfilt`` / ``lfilter``, including
        :class:`UnstableFilterError` for a pole on or outside the unit circle.

    Properties: differentiable w.r.t. the coefficients (through the filter kernels); CPU
    or CUDA.

    Example:
        >>> impulse_response((torch.tensor([1.0]), torch.tensor([1.0, -0.5])), 4)
        tensor([1.0000, 0.5000, 0.2500, 0.1250])
    """
    from dsp_rnn.filters.filtering import lfilter, sosfilt  # heavy kernels: import on use

    n_samples = check_int(n_samples, "n_samples", minimum=1)
    if _is_tf(system):
        b, a = as_tf(*system)
        delta = torch.zeros(int(n_samples), dtype=b.dtype, device=b.device)
        delta[0] = 1.0
        return lfilter(b, a, delta)
    t = as_sos(system)
    delta = torch.zeros(int(n_samples), dtype=t.dtype, device=t.device)
    delta[0] = 1.0
    return sosfilt(t, delta)


# ----------------------------------------------------------------------------- poles, zeros
def poles(system: System) -> torch.Tensor:
    """Poles (roots of the denominator in ``z``) of a system.

    Args:
        system: SOS ``(..., S, 6)`` or a tuple ``(b, a)`` (padded to one length ``N + 1``).

    Shape:
        SOS -> ``(..., 2 S)`` (two per section, section by section); ``(b, a)`` -> ``(..., N)``.

    Returns:
        Complex poles (complex128 for float64, else complex64). A section with ``a2 == 0``
        has a pole at the origin.

    Raises:
        ShapeError, NonFiniteError, InputError (``a0 == 0``).

    Properties: plain torch (closed-form quadratic roots for SOS, companion-matrix
    eigenvalues for ``(b, a)``), differentiable for distinct poles; CPU or CUDA.

    Example:
        >>> poles(torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0, -0.25]])).real.sort().values.tolist()
        [-0.5, 0.5]
    """
    if _is_tf(system):
        b, a = as_tf(*system, pad=True)
        return _poly_roots(a)
    return _sos_roots(as_sos(system), numerator=False)


def zeros(system: System) -> torch.Tensor:
    """Zeros (roots of the numerator in ``z``) of a system.

    Leading zero numerator coefficients (a delay, e.g. ``b0 == 0`` in a section) put zeros
    at infinity; they are returned as ``complex(inf, 0)`` so shapes stay fixed.

    Args:
        system: SOS ``(..., S, 6)`` or a tuple ``(b, a)`` (padded to one length ``N + 1``).

    Shape:
        SOS -> ``(..., 2 S)``; ``(b, a)`` -> ``(..., N)``.

    Returns:
        Complex zeros (complex128 for float64, else complex64).

    Raises:
        ShapeError, NonFiniteError, InputError (``a0 == 0``).

    Properties: plain torch for SOS and for ``(b, a)`` with ``b0 != 0`` (differentiable for
    distinct zeros); numpy when ``b`` has leading zeros.

    Example:
        >>> zeros((torch.tensor([1.0, 0.0, -1.0]), torch.tensor([1.0]))).real.sort().values.tolist()
        [-1.0, 1.0]
    """
    if _is_tf(system):
        b, a = as_tf(*system, pad=True)
        return _poly_roots(b)
    return _sos_roots(as_sos(system), numerator=True)


def _radius(system: System) -> torch.Tensor:
    return poles(system).detach().abs()


def _check_tol(tol: float) -> float:
    if not (isinstance(tol, numbers.Real) and 0.0 <= float(tol) < 1.0):
        raise InputError(f"tol: expected 0 <= tol < 1, got tol={tol!r}")
    return float(tol)


def is_stable(system: System, *, tol: float = 0.0) -> bool:
    """True when every pole lies strictly inside the circle of radius ``1 - tol``.

    Args:
        system: SOS ``(..., S, 6)`` or a tuple ``(b, a)``; with leading dims, every filter
            of the batch must be stable.
        tol: stability margin, ``0 <= tol < 1`` (default 0: strictly inside the unit circle).

    Returns:
        ``bool``.

    Raises:
        ShapeError, NonFiniteError, InputError (``a0 == 0``, bad ``tol``).

    Example:
        >>> is_stable((torch.tensor([1.0]), torch.tensor([1.0, -0.9])))
        True
        >>> is_stable(torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0, -1.0]]))  # poles at +-1
        False
    """
    margin = _check_tol(tol)
    return bool((_radius(system) < 1.0 - margin).all())


def check_stable(system: System, *, tol: float = 0.0, name: str = "system") -> None:
    """Raise :class:`UnstableFilterError` unless every pole is inside radius ``1 - tol``.

    The message names the offending section (SOS: its index, leading dims included) or
    batch item (``(b, a)``), the pole and its radius.

    Args:
        system: SOS ``(..., S, 6)`` or a tuple ``(b, a)``.
        tol: stability margin, ``0 <= tol < 1`` (default 0).
        name: what to call the system in the message (default ``"system"``).

    Returns:
        ``None``.

    Raises:
        UnstableFilterError: a pole on or outside the circle of radius ``1 - tol``.
        ShapeError, NonFiniteError, InputError: as :func:`poles`, or bad ``tol``.

    Example:
        >>> check_stable(torch.tensor([[1.0, 0.0, 0.0, 1.0, -0.5, 0.0]]))  # stable: no error
        >>> check_stable(torch.tensor([[1.0, 0.0, 0.0, 1.0, -0.5, 0.0],
        ...                            [1.0, 0.0, 0.0, 1.0, -2.0, 0.0]]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dsp_rnn.errors.UnstableFilterError: system: ... z=2+0j (radius 2) in section (1,)
    """
    margin = _check_tol(tol)
    p = poles(system).detach()
    bad = p.abs() >= 1.0 - margin
    if not bool(bad.any()):
        return
    idx = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
    pole = complex(p[idx])
    if not _is_tf(system):
        where = f"section {idx[:-1] + (idx[-1] // 2,)}"  # two poles per section
    else:
        where = f"the denominator a of batch item {idx[:-1]}" if idx[:-1] else "the denominator a"
    z_text = f"{pole.real:.6g}{pole.imag + 0.0:+.6g}j"
    raise UnstableFilterError(
        f"{name}: expected every pole strictly inside the unit circle (radius < {1.0 - margin:g}), "
        f"found a pole at z={z_text} (radius {abs(pole):.6g}) in {where}"
    )
