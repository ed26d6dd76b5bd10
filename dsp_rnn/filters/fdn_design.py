"""Design of feedback delay networks: feedback matrices and line gains.

Orthogonal (real) or unitary (complex) feedback matrices keep an FDN's loop lossless:
:func:`householder_matrix`, :func:`hadamard_matrix`, :func:`random_orthogonal`,
:func:`random_unitary`, and :func:`check_unitary`, the check every network applies to its
matrix. :func:`rt60_to_gains` sets the per-line absorption for a reverberation time. The
networks themselves are in :mod:`dsp_rnn.filters.networks`.

References:
    J.-M. Jot, A. Chaigne, "Digital delay networks for designing artificial reverberators",
    90th AES Convention, 1991. F. Mezzadri, "How to generate random matrices from the
    classical compact groups", Notices of the AMS 54(5), 2007.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from dsp_rnn._tuning import rt60_to_gain
from dsp_rnn._validate import as_tensor, check_int, check_positive, check_sample_rate, check_seed
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters.allpass import TensorLike

__all__ = [
    "householder_matrix",
    "hadamard_matrix",
    "random_orthogonal",
    "random_unitary",
    "check_unitary",
    "rt60_to_gains",
]


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
    if dtype not in (torch.complex64, torch.complex128):
        raise InputError(f"dtype: expected complex64 or complex128, got {dtype}")
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn((2, n, n), generator=gen, dtype=torch.float64) / math.sqrt(2)
    q, r = torch.linalg.qr(torch.complex(z[0], z[1]))
    d = torch.diagonal(r)
    return (q * (d / d.abs())).to(dtype)


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


# ----------------------------------------------------------------------------- line gains
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
