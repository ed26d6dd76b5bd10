"""Feedback delay networks (FDN) and Gerzon's unitary multichannel allpass network.

An FDN is a linear RNN whose recurrence runs through delay lines: ``N`` delay lines of
``m_i`` samples, a feedback matrix ``A`` (orthogonal or unitary), input gains ``B``,
output gains ``C``, a direct path ``d`` and per-line gains ``gamma`` (absorption)::

    s[n] = gamma * (v delayed by m)[n]        # delay-line outputs, s_i[n] = gamma_i v_i[n - m_i]
    y[n] = C s[n] + d x[n]
    v[n] = A s[n] + B x[n]                    # delay-line inputs

    H(z) = C (I - Gamma D(z) A)^-1 Gamma D(z) B + d,   D(z) = diag(z^-m_1, ..., z^-m_N)

(equivalently ``C (D(z)^-1 - A)^-1 B + d`` with ``D`` absorbing ``Gamma``). With ``A``
orthogonal and ``gamma = 1`` the loop is lossless: the energy in the delay lines is kept
exactly while no input arrives. :func:`rt60_to_gains` picks ``gamma_i = 10^(-3 m_i / (T60
fs))`` so every mode decays by 60 dB in ``T60`` seconds (Jot and Chaigne 1991).

Processing runs in blocks of ``L <= min(m_i)`` samples: within such a block every ``s[n]``
comes from the delay lines (written at least ``m_i >= L`` samples earlier), so a block is a
few matrix products on ``(..., N, L)`` tensors. Everything is plain torch: differentiable by
autograd, any device, float32/float64 (complex when the feedback matrix is unitary complex).

References:
    J.-M. Jot, A. Chaigne, "Digital delay networks for designing artificial reverberators",
    90th AES Convention, 1991. M. A. Gerzon, "Unitary (energy-preserving) multichannel
    networks with feedback", Electronics Letters 12(11), 1976. S. J. Schlecht, "Allpass
    feedback delay networks", IEEE Trans. Signal Processing 69, 2021.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp_rnn._tuning import rt60_to_gain
from dsp_rnn._validate import (
    as_tensor,
    check_finite,
    check_int,
    check_positive,
    check_sample_rate,
    check_seed,
)
from dsp_rnn.errors import InputError, ShapeError, UnstableFilterError
from dsp_rnn.filters.allpass import TensorLike
from dsp_rnn.filters.analysis import frequency_grid

__all__ = [
    "householder_matrix",
    "hadamard_matrix",
    "random_orthogonal",
    "random_unitary",
    "check_unitary",
    "rt60_to_gains",
    "fdn",
    "fdn_freqz",
    "gerzon_allpass",
    "gerzon_freqz",
    "FDN",
    "GerzonAllpass",
]

_REAL = {torch.complex64: torch.float32, torch.complex128: torch.float64}
_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


# ----------------------------------------------------------------------------- matrices
def _check_size(n: Any) -> int:
    return check_int(n, "n", minimum=1)


def householder_matrix(n: int, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The Householder reflection ``I - (2 / n) 1 1^T``, a classic orthogonal FDN matrix.

    Args:
        n: size, >= 1.
        dtype: float dtype (default float32; computed in float64, then rounded once).

    Shape:
        ``(n, n)``.

    Returns:
        A symmetric orthogonal matrix (its own inverse); every entry is ``+-2/n`` or
        ``1 - 2/n``, so it mixes every line into every other (Jot 1991).

    Raises:
        InputError: ``n`` is not an integer >= 1.

    Example:
        >>> householder_matrix(4)
        tensor([[ 0.5000, -0.5000, -0.5000, -0.5000],
                [-0.5000,  0.5000, -0.5000, -0.5000],
                [-0.5000, -0.5000,  0.5000, -0.5000],
                [-0.5000, -0.5000, -0.5000,  0.5000]])
    """
    n = _check_size(n)
    eye = torch.eye(n, dtype=torch.float64)  # built in float64, then rounded once to dtype
    return (eye - torch.full((n, n), 2.0 / n, dtype=torch.float64)).to(dtype)


def hadamard_matrix(n: int, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The normalised Sylvester-Hadamard matrix ``H_n / sqrt(n)`` (orthogonal, dense mixing).

    Args:
        n: size, a power of two (1, 2, 4, 8, ...).
        dtype: float dtype (default float32).

    Shape:
        ``(n, n)``.

    Returns:
        An orthogonal matrix whose entries all have magnitude ``1 / sqrt(n)``.

    Raises:
        InputError: ``n`` is not a power of two.

    Example:
        >>> (hadamard_matrix(2) * 2**0.5).round()
        tensor([[ 1.,  1.],
                [ 1., -1.]])
    """
    n = _check_size(n)
    if n & (n - 1):
        raise InputError(f"n: expected a power of two for a Hadamard matrix, got n={n}")
    h = torch.ones((1, 1), dtype=torch.float64)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return (h / math.sqrt(n)).to(dtype)


def random_orthogonal(n: int, *, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A random orthogonal matrix, Haar-distributed (QR of a Gaussian matrix, signs fixed).

    Args:
        n: size, >= 1.
        seed: seed of a private generator (the global RNG is untouched).
        dtype: float dtype (default float32; computed in float64).

    Shape:
        ``(n, n)``.

    Returns:
        ``Q`` with ``Q^T Q = I``.

    Raises:
        InputError: bad ``n`` or ``seed``.

    References:
        F. Mezzadri, "How to generate random matrices from the classical compact groups",
        Notices of the AMS 54(5), 2007.

    Example:
        >>> q = random_orthogonal(5, seed=0, dtype=torch.float64)
        >>> torch.allclose(q.T @ q, torch.eye(5, dtype=torch.float64))
        True
    """
    n, seed = _check_size(n), check_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn((n, n), generator=gen, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).to(dtype)


def random_unitary(n: int, *, seed: int, dtype: torch.dtype = torch.complex64) -> torch.Tensor:
    """A random complex unitary matrix, Haar-distributed (for complex FDN / Gerzon networks).

    Args:
        n: size, >= 1.
        seed: seed of a private generator.
        dtype: complex dtype (default complex64; computed in complex128).

    Shape:
        ``(n, n)``.

    Returns:
        ``U`` with ``U^H U = I``.

    Raises:
        InputError: bad ``n``, ``seed`` or a non-complex ``dtype``.

    Example:
        >>> u = random_unitary(3, seed=1, dtype=torch.complex128)
        >>> torch.allclose(u.mH @ u, torch.eye(3, dtype=torch.complex128))
        True
    """
    n, seed = _check_size(n), check_seed(seed)
    if dtype not in _REAL:
        raise InputError(f"dtype: expected complex64 or complex128, got {dtype}")
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn((2, n, n), generator=gen, dtype=torch.float64) / math.sqrt(2)
    q, r = torch.linalg.qr(torch.complex(z[0], z[1]))
    d = torch.diagonal(r)
    return (q * (d / d.abs())).to(dtype)


def rt60_to_gains(
    delays_samples: Sequence[float] | torch.Tensor,
    rt60_seconds: TensorLike,
    *,
    sample_rate: float,
) -> torch.Tensor:
    """Per-line gains that make every mode of a lossless FDN decay 60 dB in ``rt60_seconds``.

    ``g_i = 10^(-3 m_i / (T60 fs))``: a line of ``m_i`` samples loses ``60 m_i / (T60 fs)``
    dB per pass, i.e. 60 dB per ``T60`` seconds whatever the path.

    Args:
        delays_samples: delay-line lengths ``m_i`` in samples, > 0.
        rt60_seconds: reverberation time in seconds, > 0; scalar, per line ``(N,)``, or any
            shape broadcasting against ``(N,)``; differentiable.
        sample_rate: sample rate in Hz, > 0.

    Shape:
        delays ``(N,)``, rt60 broadcasting -> gains ``(..., N)``.

    Returns:
        Gains in ``(0, 1)``.

    Raises:
        InputError: a delay or ``rt60_seconds`` not > 0, a bad sample rate.

    References:
        Jot and Chaigne, 90th AES Convention, 1991.

    Example:
        >>> rt60_to_gains([4800, 9600], 1.0, sample_rate=48000.0)  # 10^-0.3, 10^-0.6
        tensor([0.5012, 0.2512])
    """
    sr = check_sample_rate(sample_rate)
    check_positive(rt60_seconds, "rt60_seconds")
    check_positive(delays_samples, "delays_samples")
    t60 = as_tensor(rt60_seconds, "rt60_seconds")
    m = torch.as_tensor(
        np.asarray(
            delays_samples.detach().cpu()
            if isinstance(delays_samples, torch.Tensor)
            else delays_samples,
            dtype=np.float64,
        ).reshape(-1),
        dtype=t60.dtype,
        device=t60.device,
    )
    try:
        return rt60_to_gain(m, t60, sr)
    except RuntimeError as exc:
        raise ShapeError(
            f"rt60_seconds: expected a shape broadcasting against ({m.shape[0]},), "
            f"got {tuple(t60.shape)}"
        ) from exc


# ----------------------------------------------------------------------------- validation
def _check_delays(delays: Any) -> list[int]:
    if isinstance(delays, torch.Tensor):
        delays = delays.detach().cpu().reshape(-1).tolist()
    if isinstance(delays, np.ndarray):
        delays = delays.reshape(-1).tolist()
    if isinstance(delays, (str, bytes)) or not isinstance(delays, Sequence) or len(delays) == 0:
        raise InputError(
            f"delays_samples: expected a non-empty sequence of integers, got {delays!r}"
        )
    out = []
    for i, m in enumerate(delays):
        ok = not isinstance(m, bool) and isinstance(m, (int, float, np.integer, np.floating))
        if not ok or not math.isfinite(float(m)) or float(m) != int(m) or int(m) < 1:
            raise InputError(
                f"delays_samples: expected integer delays >= 1 sample, got "
                f"delays_samples[{i}]={m!r}"
            )
        out.append(int(m))
    return out


def _as_matrix(value: Any, name: str) -> torch.Tensor:
    """A real or complex tensor (matrix or gains); real values follow ``as_tensor``'s rule."""
    if isinstance(value, torch.Tensor) and value.is_complex():
        t = value
    elif not isinstance(value, torch.Tensor) and np.iscomplexobj(np.asarray(value)):
        arr = np.asarray(value)
        t = torch.from_numpy(
            arr.astype(np.complex128 if arr.dtype == np.complex128 else np.complex64)
        )
    else:
        t = as_tensor(value, name)
    return check_finite(t, name)


def _unitary_tolerance(dtype: torch.dtype) -> float:
    return 1e-9 if dtype in (torch.float64, torch.complex128) else 1e-5


def _unitary_deviation(a: torch.Tensor) -> float:
    """``max |A^H A - I|``, computed in double precision."""
    ad = a.detach().to(torch.complex128 if a.is_complex() else torch.float64)
    eye = torch.eye(a.shape[-1], dtype=ad.dtype, device=ad.device)
    return float((ad.mH @ ad - eye).abs().max())


def check_unitary(a: torch.Tensor, n: int, name: str = "feedback_matrix") -> None:
    """Refuse a matrix that is not ``(n, n)`` and orthogonal (real) or unitary (complex):
    ``max |A^H A - I| <= 1e-9`` in double precision, ``1e-5`` in single.

    Raises:
        ShapeError: not ``(n, n)``. InputError: not orthogonal/unitary (the message gives
            the deviation).

    Example:
        >>> check_unitary(householder_matrix(3), 3)  # passes silently
    """
    if a.shape != (n, n):
        raise ShapeError(
            f"{name}: expected shape ({n}, {n}) for {n} delay lines, got {tuple(a.shape)}"
        )
    dev, tol = _unitary_deviation(a), _unitary_tolerance(a.dtype)
    if not dev <= tol:
        kind = "unitary" if a.is_complex() else "orthogonal"
        raise InputError(
            f"{name}: expected an {kind} matrix (max |A^H A - I| <= {tol:g} for {a.dtype}), "
            f"found max |A^H A - I| = {dev:.3g}"
        )


class _Net:
    """Validated FDN parameters in MIMO form: A (N, N), B (N, n_in), C (n_out, N), d, gamma."""

    def __init__(
        self,
        delays_samples: Any,
        feedback_matrix: Any,
        input_gains: Any,
        output_gains: Any,
        direct_gain: Any,
        line_gains: Any,
        *,
        check_matrix: bool = True,
    ) -> None:
        self.delays = _check_delays(delays_samples)
        n = len(self.delays)
        a = _as_matrix(feedback_matrix, "feedback_matrix")
        if check_matrix:
            check_unitary(a, n, "feedback_matrix")
        real = _REAL.get(a.dtype, a.dtype)
        b = (
            torch.ones(n, dtype=real)
            if input_gains is None
            else _as_matrix(input_gains, "input_gains")
        )
        c = (
            torch.ones(n, dtype=real)
            if output_gains is None
            else _as_matrix(output_gains, "output_gains")
        )
        gam = (
            torch.ones(n, dtype=real) if line_gains is None else as_tensor(line_gains, "line_gains")
        )
        d = _as_matrix(direct_gain, "direct_gain")
        for name, t in (
            ("input_gains", b),
            ("output_gains", c),
            ("line_gains", gam),
            ("direct_gain", d),
        ):
            check_finite(t, name)
        if b.ndim not in (1, 2) or b.shape[0] != n:
            raise ShapeError(
                f"input_gains: expected shape ({n},) or ({n}, n_inputs), got {tuple(b.shape)}"
            )
        if c.ndim not in (1, 2) or c.shape[-1] != n:
            raise ShapeError(
                f"output_gains: expected shape ({n},) or (n_outputs, {n}), got {tuple(c.shape)}"
            )
        if gam.shape != (n,):
            raise ShapeError(f"line_gains: expected shape ({n},), got {tuple(gam.shape)}")
        bad = gam.detach().abs() > 1
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            raise UnstableFilterError(
                f"line_gains: expected |line_gains| <= 1 (1 = lossless), got "
                f"line_gains[{i}]={float(gam[i]):g}"
            )
        self.siso_in, self.siso_out = b.ndim == 1, c.ndim == 1
        self.b = b[:, None] if self.siso_in else b
        self.c = c[None, :] if self.siso_out else c
        n_out, n_in = self.c.shape[0], self.b.shape[1]
        try:
            self.d = torch.broadcast_to(d, (n_out, n_in))
        except RuntimeError as exc:
            raise ShapeError(
                f"direct_gain: expected a scalar or a shape broadcasting to (n_outputs={n_out}, "
                f"n_inputs={n_in}), got {tuple(d.shape)}"
            ) from exc
        self.a, self.gamma = a, gam

    def params(self) -> list[torch.Tensor]:
        return [self.a, self.b, self.c, self.d, self.gamma]


def _gerzon_net(delays_samples: Any, feedback_matrix: Any, gain: Any) -> _Net:
    """Gerzon's network as an FDN: A = U G, B = U K, C = K, d = -G, K = sqrt(I - G^2)."""
    delays = _check_delays(delays_samples)
    n = len(delays)
    u = _as_matrix(feedback_matrix, "feedback_matrix")
    check_unitary(u, n, "feedback_matrix")
    g = check_finite(as_tensor(gain, "gain"), "gain")
    if g.ndim > 1 or (g.ndim == 1 and g.shape[0] not in (1, n)):
        raise ShapeError(f"gain: expected a scalar or shape ({n},), got {tuple(g.shape)}")
    bad = g.detach().abs() >= 1
    if bool(bad.any()):
        raise UnstableFilterError(
            f"gain: expected |gain| < 1 (poles inside the unit circle), got "
            f"gain={float(g.detach()[bad].reshape(-1)[0]):g}"
        )
    if g.dtype != torch.float64:
        g = g.to(_REAL.get(u.dtype, u.dtype))
    g = torch.broadcast_to(g, (n,))
    k = torch.sqrt(1 - g * g)
    return _Net(delays, u * g, u * k, torch.diag(k), -torch.diag(g), None, check_matrix=False)


# ----------------------------------------------------------------------------- core
def _write_index(delays: list[int], length: int, device: torch.device) -> torch.Tensor:
    """Where each slot of the updated delay lines comes from in ``cat([old, new block])``."""
    total, pos, parts = sum(delays), 0, []
    for i, m in enumerate(delays):
        keep = torch.arange(pos + length, pos + m)  # old values that stay (shifted left)
        new = total + i * length + torch.arange(length)  # this block's v_i
        parts += [keep, new]
        pos += m
    return torch.cat(parts).to(device)


def _as_signal(value: Any, name: str) -> torch.Tensor:
    """A signal or state: real or complex (a complex network's state is complex), >= 1-D."""
    t = _as_matrix(value, name)
    if t.ndim < 1:
        raise ShapeError(f"{name}: expected at least 1 dimension(s), got shape {tuple(t.shape)}")
    return t


def _run(
    net: _Net, x: Any, state: Any, block_size: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    x = _as_signal(x, "x")
    n, n_in = len(net.delays), net.b.shape[1]
    total = sum(net.delays)
    if not net.siso_in:
        if x.ndim < 2 or x.shape[-2] != n_in:
            raise ShapeError(
                f"x: expected shape (..., n_inputs={n_in}, time) for input_gains of shape "
                f"{tuple(net.b.shape)}, got {tuple(x.shape)}"
            )
    xm = x[..., None, :] if net.siso_in else x  # (..., n_in, T)
    s0 = None
    if state is not None:
        s0 = _as_signal(state, "state")
        if s0.shape[-1] != total:
            raise ShapeError(
                f"state: expected shape (..., {total}) (sum of delays_samples), "
                f"got {tuple(s0.shape)}"
            )
    tensors = [xm, *net.params()] + ([] if s0 is None else [s0])
    real = (
        torch.float64
        if any(_REAL.get(t.dtype, t.dtype) == torch.float64 for t in tensors)
        else torch.float32
    )
    dtype = _COMPLEX[real] if any(t.is_complex() for t in tensors) else real
    dev = x.device
    a, b, c, d, gam = (t.to(dtype=dtype, device=dev) for t in net.params())
    xm = xm.to(dtype)
    sshape = () if s0 is None else s0.shape[:-1]
    try:
        batch = torch.broadcast_shapes(xm.shape[:-2], sshape)
    except RuntimeError as exc:
        raise ShapeError(
            f"leading dims do not broadcast: x {tuple(x.shape)}, state shape {tuple(sshape)}"
        ) from exc
    n_t = xm.shape[-1]
    xm = xm.expand(batch + xm.shape[-2:])
    if s0 is None:
        buf = torch.zeros(batch + (total,), dtype=dtype, device=dev)
    else:
        buf = s0.to(dtype=dtype, device=dev).expand(batch + (total,))
    m_min = min(net.delays)
    if block_size is None:
        length = m_min
    else:
        length = check_int(block_size, "block_size", minimum=1)
        if length > m_min:
            raise InputError(
                f"block_size: expected 1 <= block_size <= min(delays_samples)={m_min}, "
                f"got block_size={length}"
            )
    offsets = torch.tensor(np.cumsum([0] + net.delays[:-1]), device=dev)
    index: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    gam_col = gam[:, None]
    ys = []
    for t0 in range(0, n_t, length):
        xb = xm[..., t0 : t0 + length]  # (..., n_in, L)
        n_b = xb.shape[-1]
        if n_b not in index:
            read = (offsets[:, None] + torch.arange(n_b, device=dev)).reshape(-1)
            index[n_b] = (read, _write_index(net.delays, n_b, dev))
        read, write = index[n_b]
        s = buf.index_select(-1, read).unflatten(-1, (n, n_b)) * gam_col  # (..., N, L)
        ys.append(c @ s + d @ xb)  # (..., n_out, L)
        v = a @ s + b @ xb  # (..., N, L)
        buf = torch.cat([buf, v.flatten(-2)], -1).index_select(-1, write)
    y = torch.cat(ys, -1) if ys else torch.zeros(batch + (c.shape[0], 0), dtype=dtype, device=dev)
    return (y[..., 0, :] if net.siso_out else y), buf


def _freqz(
    net: _Net, n_freqs: int, whole: bool, sample_rate: float | None
) -> tuple[torch.Tensor, torch.Tensor]:
    w, freqs, _, _ = frequency_grid(n_freqs, whole=whole, sample_rate=sample_rate)
    params = [t.detach() for t in net.params()]
    a, b, c, d, gam = (t.cpu().to(torch.complex128) for t in params)
    m = torch.tensor(net.delays, dtype=torch.float64)
    gd = gam * torch.exp(-1j * w[:, None] * m)  # Gamma D(e^jw), (F, N)
    eye = torch.eye(len(net.delays), dtype=torch.complex128)
    lhs = eye - gd[:, :, None] * a  # I - Gamma D A
    x, info = torch.linalg.solve_ex(lhs, gd[:, :, None] * b)
    h = c @ x + d  # (F, n_out, n_in)
    singular = info != 0  # I - Gamma D A singular: a pole (or a hidden mode) on the grid
    if bool(singular.any()):
        nan = complex(math.nan, math.nan)
        h = torch.where(singular[:, None, None], torch.full_like(h, nan), h)
    h = h.permute(1, 2, 0)
    if net.siso_out:
        h = h[0]
    if net.siso_in:
        h = h[..., 0, :]
    wide = any(_REAL.get(t.dtype, t.dtype) == torch.float64 for t in params)
    return freqs, h.to(torch.complex128 if wide else torch.complex64)


# ----------------------------------------------------------------------------- public API
def fdn(
    x: torch.Tensor,
    *,
    delays_samples: Sequence[int],
    feedback_matrix: TensorLike,
    input_gains: TensorLike | None = None,
    output_gains: TensorLike | None = None,
    direct_gain: TensorLike = 0.0,
    line_gains: TensorLike | None = None,
    state: torch.Tensor | None = None,
    block_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a feedback delay network (Jot): ``y = C s + d x``, ``v = A s + B x``, ``s = gamma D v``.

    Args:
        x: input signal, time last: ``(..., time)`` when ``input_gains`` is ``(N,)``,
            ``(..., n_inputs, time)`` when it is ``(N, n_inputs)``; real or complex.
        delays_samples: ``N`` integer delay-line lengths, each >= 1 sample (mutually prime
            lengths give the densest echoes).
        feedback_matrix: ``A``, ``(N, N)``, orthogonal (or complex unitary), checked to
            ``1e-5`` (float32) / ``1e-9`` (float64). See :func:`householder_matrix`,
            :func:`hadamard_matrix`, :func:`random_orthogonal`.
        input_gains: ``B``, ``(N,)`` (one input) or ``(N, n_inputs)``; default ones.
        output_gains: ``C``, ``(N,)`` (one output) or ``(n_outputs, N)``; default ones.
        direct_gain: ``d``, scalar or broadcasting to ``(n_outputs, n_inputs)``; default 0.
        line_gains: ``gamma``, ``(N,)``, ``|gamma_i| <= 1`` (1 = lossless, allowed); default
            ones. See :func:`rt60_to_gains`.
        state: delay-line contents from a previous call, ``(..., sum(delays_samples))``: line
            0's ``m_0`` past inputs ``v_0`` (oldest first), then line 1's, ... Default zeros.
            Complex when the network is (a unitary matrix, or complex gains or input).
        block_size: samples per vectorised step, ``1 <= block_size <= min(delays_samples)``
            (default the maximum, ``min(delays_samples)``); the result does not depend on it.

    Shape:
        x ``(..., [n_inputs,] time)`` -> y ``(..., [n_outputs,] time)``; state
        ``(..., sum(delays_samples))``.

    Returns:
        ``(y, state)``; passing ``state`` to the next call makes block-by-block processing
        equal one shot.

    Raises:
        InputError: non-integer or < 1 delays, a non-orthogonal matrix, bad ``block_size``.
        UnstableFilterError: ``|line_gains| > 1``.  ShapeError: mismatched shapes.
        NonFiniteError: NaN or inf anywhere.

    Properties: differentiable (autograd) in ``x``, every gain, the matrix and ``state``;
    any device; float32/float64, complex with a unitary matrix.

    References:
        Jot and Chaigne, 90th AES Convention, 1991.

    Example:
        >>> x = torch.zeros(8, dtype=torch.float64); x[0] = 1
        >>> a = hadamard_matrix(2, dtype=torch.float64)
        >>> y, state = fdn(x, delays_samples=[2, 3], feedback_matrix=a)
        >>> y  # first pass at 2 and 3, then mixed by A: 4 (2+2), 5 (2+3, 3+2), 6 (3+3), ...
        tensor([ 0.0000,  0.0000,  1.0000,  1.0000,  0.7071,  1.4142, -0.2071,  1.5000],
               dtype=torch.float64)
        >>> round(float(state.pow(2).sum()), 12)  # lossless: the lines keep the energy B^T B
        2.0
    """
    net = _Net(delays_samples, feedback_matrix, input_gains, output_gains, direct_gain, line_gains)
    return _run(net, x, state, block_size)


def fdn_freqz(
    *,
    delays_samples: Sequence[int],
    feedback_matrix: TensorLike,
    input_gains: TensorLike | None = None,
    output_gains: TensorLike | None = None,
    direct_gain: TensorLike = 0.0,
    line_gains: TensorLike | None = None,
    n_freqs: int = 512,
    whole: bool = False,
    sample_rate: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact frequency response ``H = C (I - Gamma D A)^-1 Gamma D B + d`` of an FDN.

    One complex ``N x N`` solve per frequency (``torch.linalg.solve``, complex128), on
    scipy.signal.freqz's grid ``w_k = pi k / n_freqs`` (``2 pi k / n_freqs`` if ``whole``).

    Args:
        delays_samples, feedback_matrix, input_gains, output_gains, direct_gain,
        line_gains: as :func:`fdn`.
        n_freqs: number of frequencies, >= 1 (default 512).
        whole: cover ``[0, 2 pi)`` instead of ``[0, pi)``.
        sample_rate: when given, ``freqs`` are in Hz; otherwise rad/sample.

    Shape:
        freqs ``(n_freqs,)``; H ``([n_outputs,] [n_inputs,] n_freqs)`` (SISO sides dropped as
        in :func:`fdn`).

    Returns:
        ``(freqs, H)``, H complex128 when any parameter is float64, else complex64. A
        frequency where ``I - Gamma D A`` is exactly singular gives NaN: a lossless loop
        (``line_gains`` 1) can have a pole, or a mode that the gains cancel, on the unit
        circle, e.g. at DC for a matrix with eigenvalue 1 (Householder, Hadamard).

    Raises:
        as :func:`fdn`; InputError for a bad ``n_freqs`` or ``sample_rate``.

    Example:
        >>> freqs, h = fdn_freqz(delays_samples=[3], feedback_matrix=[[1.0]], line_gains=[0.5],
        ...                      n_freqs=2)
        >>> h  # 0.5 z^-3 / (1 - 0.5 z^-3) at w = 0 and w = pi/2
        tensor([ 1.0000+0.0000j, -0.2000+0.4000j])
    """
    net = _Net(delays_samples, feedback_matrix, input_gains, output_gains, direct_gain, line_gains)
    return _freqz(net, n_freqs, whole, sample_rate)


def gerzon_allpass(
    x: torch.Tensor,
    *,
    delays_samples: Sequence[int],
    feedback_matrix: TensorLike,
    gain: TensorLike,
    state: torch.Tensor | None = None,
    block_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gerzon's unitary multichannel allpass: the matrix generalisation of Schroeder's.

    With an orthogonal (or unitary) ``U``, delays ``D(z) = diag(z^-m_i)`` and gains
    ``G = diag(g)``, ``|g_i| < 1``, ``K = sqrt(I - G^2)``, the network scatters inputs
    ``x`` and delay outputs ``s`` into outputs ``y`` and delay inputs ``v`` through the
    orthogonal (unitary) matrix ``S``::

        [y]   [I 0] [-G  K] [x]          y = -G x + K s
        [v] = [0 U] [ K  G] [s],         v = U (K x + G s),    s = D(z) v

    Since ``S`` is orthogonal, ``|y|^2 + |v|^2 = |x|^2 + |s|^2`` at every sample: the network
    is lossless (input energy = output energy + change of the energy held in the delay
    lines), hence paraunitary (Gerzon 1976)::

        H(z) = -G + K (I - D(z) U G)^-1 D(z) U K

    and ``H(e^jw)^H H(e^jw) = I`` at every frequency. For a scalar ``g`` this is
    ``H(z) = (I - g D(z) U)^-1 (D(z) U - g I)``, the Schroeder allpass ``(z^-m - g) / (1 - g
    z^-m)`` with the scalar delay replaced by the unitary matrix ``D(z) U``. It runs as the FDN
    ``A = U G``, ``B = U K``, ``C = K``, ``d = -G`` (see :func:`fdn`).

    Args:
        x: ``N``-channel input, ``(..., N, time)``; real or complex.
        delays_samples: ``N`` integer delays >= 1.
        feedback_matrix: ``U``, ``(N, N)`` orthogonal or unitary (checked).
        gain: ``g``, scalar or ``(N,)``, ``|g| < 1``; differentiable.
        state: delay-line contents ``(..., sum(delays_samples))`` as in :func:`fdn`.
        block_size: as in :func:`fdn`.

    Shape:
        x ``(..., N, time)`` -> y ``(..., N, time)``; state ``(..., sum(delays_samples))``.

    Returns:
        ``(y, state)``.

    Raises:
        InputError: bad delays, non-orthogonal ``U``.  UnstableFilterError: ``|g| >= 1``.
        ShapeError: mismatched shapes.  NonFiniteError: NaN or inf.

    Properties: differentiable by autograd; any device; float32/float64/complex.

    References:
        M. A. Gerzon, Electronics Letters 12(11), 1976; M. J. Poletti, "A unitary
        reverberator for reduced colouration in assisted reverberation systems",
        Inter-Noise 1995; S. J. Schlecht, IEEE Trans. Signal Processing 69, 2021.

    Example:
        >>> x = torch.randn(2, 50, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> u = random_orthogonal(2, seed=0, dtype=torch.float64)
        >>> y, state = gerzon_allpass(x, delays_samples=[3, 5], feedback_matrix=u, gain=0.7)
        >>> e_in, e_out = x.pow(2).sum(), y.pow(2).sum() + state.pow(2).sum()
        >>> bool(torch.isclose(e_in, e_out, rtol=1e-12))  # lossless
        True
    """
    return _run(_gerzon_net(delays_samples, feedback_matrix, gain), x, state, block_size)


def gerzon_freqz(
    *,
    delays_samples: Sequence[int],
    feedback_matrix: TensorLike,
    gain: TensorLike,
    n_freqs: int = 512,
    whole: bool = False,
    sample_rate: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact matrix frequency response of :func:`gerzon_allpass` (unitary at every frequency).

    Args:
        delays_samples, feedback_matrix, gain: as :func:`gerzon_allpass`.
        n_freqs, whole, sample_rate: as :func:`fdn_freqz`.

    Shape:
        freqs ``(n_freqs,)``; H ``(N, N, n_freqs)``.

    Returns:
        ``(freqs, H)``.

    Raises:
        as :func:`gerzon_allpass`.

    Example:
        >>> u = householder_matrix(3, dtype=torch.float64)
        >>> _, h = gerzon_freqz(delays_samples=[2, 3, 5], feedback_matrix=u, gain=0.5, n_freqs=64)
        >>> hh = h.permute(2, 0, 1)
        >>> bool(torch.allclose(hh.mH @ hh, torch.eye(3, dtype=torch.complex128), atol=1e-12))
        True
    """
    return _freqz(_gerzon_net(delays_samples, feedback_matrix, gain), n_freqs, whole, sample_rate)


# ----------------------------------------------------------------------------- modules
def _store(module: nn.Module, name: str, value: torch.Tensor, learnable: bool) -> None:
    if learnable and not value.is_complex():
        setattr(module, name, nn.Parameter(value.detach().clone()))
    else:
        module.register_buffer(name, value.detach().clone())


def _refit_matrix(a: torch.Tensor, old_dtype: torch.dtype) -> torch.Tensor:
    """The feedback matrix after a module cast it from ``old_dtype`` to ``a.dtype``.

    A matrix orthogonal (unitary) to ``old_dtype``'s rounding can fail the check in a wider
    dtype (float32's ``1e-8`` errors against float64's ``1e-9`` tolerance). Such a matrix is
    made orthogonal to the new dtype's rounding: the Householder matrix (the default) is
    rebuilt in the new dtype, any other is replaced by the nearest orthogonal (unitary)
    matrix, ``U V^H`` from its SVD in double precision, a change of the size of the old
    rounding. A matrix that passes the new check, or fails the old one, is kept as it is.
    """
    dev = _unitary_deviation(a)
    if dev <= _unitary_tolerance(a.dtype) or dev > _unitary_tolerance(old_dtype):
        return a
    house = householder_matrix(a.shape[-1], dtype=torch.float64).to(a)
    if float((a - house).abs().max()) <= _unitary_tolerance(old_dtype):
        return house
    ad = a.detach().to(torch.complex128 if a.is_complex() else torch.float64)
    u, _, vh = torch.linalg.svd(ad)
    return (u @ vh).to(a)


class _NetworkModule(nn.Module):
    """Shared by :class:`FDN` and :class:`GerzonAllpass`: the delay lines, and a feedback
    matrix that stays orthogonal (unitary) in whatever dtype the module is cast to."""

    feedback_matrix: torch.Tensor

    def __init__(self, delays_samples: list[int]) -> None:
        super().__init__()
        self.delays_samples = delays_samples

    @property
    def state_size(self) -> int:
        """Length of the state: ``sum(delays_samples)``."""
        return sum(self.delays_samples)

    def _apply(self, fn: Any, recurse: bool = True) -> _NetworkModule:
        old_dtype = self.feedback_matrix.dtype
        super()._apply(fn, recurse)
        if self.feedback_matrix.dtype != old_dtype:  # .double(), .float(), .to(dtype)
            self.feedback_matrix = _refit_matrix(self.feedback_matrix, old_dtype)
        return self


class FDN(_NetworkModule):
    """Feedback delay network module (see :func:`fdn`); the gains are learnable parameters.

    Args:
        delays_samples: ``N`` integer delays >= 1.
        feedback_matrix: ``(N, N)`` orthogonal/unitary; default :func:`householder_matrix`.
        input_gains, output_gains, direct_gain, line_gains: as :func:`fdn` (defaults: ones,
            ones, 0, ones), stored in the matrix's real dtype.
        learnable: store the gains as ``nn.Parameter`` (default ``True``); the feedback
            matrix is always a buffer (keep it orthogonal).

    Casting the module to a wider dtype (``.double()``) keeps the feedback matrix orthogonal
    (unitary) in that dtype: the Householder matrix is rebuilt exactly, another matrix is
    replaced by the nearest orthogonal one (a change of the size of the old dtype's rounding).

    Shape:
        x ``(..., [n_inputs,] time)`` -> y ``(..., [n_outputs,] time)``; state
        ``(..., sum(delays_samples))``.

    Example:
        >>> net = FDN.from_rt60([400, 500], 1.0, sample_rate=8000.0)
        >>> net.line_gains  # 10^(-3 m / (T60 fs))
        Parameter containing:
        tensor([0.7079, 0.6494], requires_grad=True)
        >>> x = torch.zeros(1000); x[0] = 1
        >>> y, state = net(x)
        >>> y[400].item() == net.line_gains[0].item(), state.shape
        (True, torch.Size([900]))
    """

    def __init__(
        self,
        delays_samples: Sequence[int],
        feedback_matrix: TensorLike | None = None,
        *,
        input_gains: TensorLike | None = None,
        output_gains: TensorLike | None = None,
        direct_gain: TensorLike = 0.0,
        line_gains: TensorLike | None = None,
        learnable: bool = True,
    ) -> None:
        delays = _check_delays(delays_samples)
        super().__init__(delays)
        if feedback_matrix is None:
            feedback_matrix = householder_matrix(len(delays))
        net = _Net(delays, feedback_matrix, input_gains, output_gains, direct_gain, line_gains)
        real = _REAL.get(net.a.dtype, net.a.dtype)
        self.siso_in, self.siso_out = net.siso_in, net.siso_out
        self.register_buffer("feedback_matrix", net.a.detach().clone())
        gains = {
            "input_gains": net.b[:, 0] if net.siso_in else net.b,
            "output_gains": net.c[0] if net.siso_out else net.c,
            "direct_gain": as_tensor(direct_gain, "direct_gain"),
            "line_gains": net.gamma,
        }
        for name, value in gains.items():
            _store(self, name, value if value.is_complex() else value.to(real), learnable)

    @classmethod
    def from_rt60(
        cls,
        delays_samples: Sequence[int],
        rt60_seconds: float,
        *,
        sample_rate: float,
        feedback_matrix: TensorLike | None = None,
        **kwargs: Any,
    ) -> FDN:
        """An FDN whose line gains give the reverberation time ``rt60_seconds`` (see
        :func:`rt60_to_gains`); other keyword arguments go to the constructor."""
        delays = _check_delays(delays_samples)
        gains = rt60_to_gains(delays, rt60_seconds, sample_rate=sample_rate)
        real = torch.float32
        if feedback_matrix is not None:
            a = _as_matrix(feedback_matrix, "feedback_matrix")
            real = _REAL.get(a.dtype, a.dtype)
        return cls(delays, feedback_matrix, line_gains=gains.to(real), **kwargs)

    def _net(self) -> _Net:
        return _Net(
            self.delays_samples,
            self.feedback_matrix,
            self.input_gains,
            self.output_gains,
            self.direct_gain,
            self.line_gains,
        )

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, state) = fdn(x, ..., state)`` with this module's parameters."""
        return _run(self._net(), x, state, None)

    def freqz(
        self, n_freqs: int = 512, whole: bool = False, sample_rate: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact frequency response, see :func:`fdn_freqz`."""
        return _freqz(self._net(), n_freqs, whole, sample_rate)


class GerzonAllpass(_NetworkModule):
    """Gerzon's unitary multichannel allpass as a module (see :func:`gerzon_allpass`).

    Args:
        delays_samples: ``N`` integer delays >= 1.
        feedback_matrix: ``U``, orthogonal or unitary ``(N, N)``; default Householder.
        gain: ``g``, scalar or ``(N,)``, ``|g| < 1``.
        learnable: store ``gain`` as an ``nn.Parameter`` (default ``True``).

    A cast to a wider dtype keeps ``U`` orthogonal (unitary) in it, as for :class:`FDN`.

    Shape:
        x ``(..., N, time)`` -> y ``(..., N, time)``; state ``(..., sum(delays_samples))``.

    Example:
        >>> ap = GerzonAllpass([3, 4, 7, 11], hadamard_matrix(4, dtype=torch.float64), gain=0.6)
        >>> _, h = ap.freqz(256)
        >>> hh = h.permute(2, 0, 1)  # (freq, N, N)
        >>> float((hh.mH @ hh - torch.eye(4)).abs().max()) < 1e-12
        True
    """

    def __init__(
        self,
        delays_samples: Sequence[int],
        feedback_matrix: TensorLike | None = None,
        *,
        gain: TensorLike = 0.7,
        learnable: bool = True,
    ) -> None:
        delays = _check_delays(delays_samples)
        super().__init__(delays)
        if feedback_matrix is None:
            feedback_matrix = householder_matrix(len(delays))
        u = _as_matrix(feedback_matrix, "feedback_matrix")
        _gerzon_net(delays, u, gain)  # validates
        self.register_buffer("feedback_matrix", u.detach().clone())
        _store(self, "gain", as_tensor(gain, "gain").to(_REAL.get(u.dtype, u.dtype)), learnable)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, state) = gerzon_allpass(x, ..., state)`` with this module's parameters."""
        net = _gerzon_net(self.delays_samples, self.feedback_matrix, self.gain)
        return _run(net, x, state, None)

    def freqz(
        self, n_freqs: int = 512, whole: bool = False, sample_rate: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact matrix frequency response ``(N, N, n_freqs)``, see :func:`gerzon_freqz`."""
        net = _gerzon_net(self.delays_samples, self.feedback_matrix, self.gain)
        return _freqz(net, n_freqs, whole, sample_rate)
