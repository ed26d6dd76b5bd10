"""Glue between torch tensors and the compiled Kalman kernels (:mod:`._kalman_kernels`):
arrays in, tensors out, and the shared-covariance shortcut.

When every sequence has the same initial covariance and misses the same coordinates, the
covariances and gains do not depend on the data: one covariance recursion runs
(:func:`kalman_filter_kernel` on one sequence) and every sequence's means follow from its
gains (:func:`kalman_means_kernel`); the covariances are returned as expanded views.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from dsp_rnn._threads import keeps_torch_threads
from dsp_rnn.filters import _kalman_kernels as _kk

# torch keeps its thread count across the parallel kernels (dsp_rnn._threads)
kalman_filter_kernel = keeps_torch_threads(_kk.kalman_filter_kernel)
kalman_means_kernel = keeps_torch_threads(_kk.kalman_means_kernel)
rts_means_kernel = keeps_torch_threads(_kk.rts_means_kernel)
rts_smoother_kernel = keeps_torch_threads(_kk.rts_smoother_kernel)


__all__ = ["as_array", "check_status", "filter_compiled", "smoother_compiled"]


def as_array(t: Tensor | None, shape: tuple[int, ...], dtype: torch.dtype) -> np.ndarray:
    """A contiguous numpy array of ``t`` (zeros of ``shape`` when None), 3-D for matrices."""
    if t is None:
        return np.zeros(shape, dtype=np.float64 if dtype == torch.float64 else np.float32)
    t = t.detach().to(dtype)
    if len(shape) == 3 and t.ndim == 2:
        t = t[None]
    return np.ascontiguousarray(t.numpy())


def filter_compiled(
    y: Tensor,
    A: Tensor,
    C: Tensor,
    Q: Tensor,
    R: Tensor,
    b: Tensor | None,
    d: Tensor | None,
    m0: Tensor,
    P0: Tensor,
    shared_P0: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The compiled filter: ``means, covariances, predicted means, predicted covariances,
    step log-likelihoods``; the covariances are shared (expanded) when ``shared_P0`` and
    every sequence misses the same coordinates."""
    B, T, m = y.shape
    n = A.shape[-1]
    dt = y.dtype
    yn = as_array(y, (), dt)
    arrays = [as_array(M, (1, 1, 1), dt) for M in (A, C, Q, R)]
    bn, dn = as_array(b, (1, 1, n), dt), as_array(d, (1, 1, m), dt)
    m0n = as_array(m0, (), dt)
    observed = ~np.isnan(yn)
    # One initial covariance and one missing pattern for all: the covariances and gains do
    # not depend on the data, so they are computed once and shared by every sequence.
    shared = B > 1 and shared_P0 and bool((observed == observed[:1]).all())
    Bc = 1 if shared else B
    P0n = as_array(P0[:Bc], (), dt)
    means, pmeans = np.empty((Bc, T, n), yn.dtype), np.empty((Bc, T, n), yn.dtype)
    covs, pcovs = np.empty((Bc, T, n, n), yn.dtype), np.empty((Bc, T, n, n), yn.dtype)
    step_ll = np.empty((Bc, T), yn.dtype)
    gains = np.zeros((1 if shared else 0, T, m, n), yn.dtype)
    chols = np.zeros((1 if shared else 0, T, m, m), yn.dtype)
    status = np.zeros(Bc, np.int64)
    kalman_filter_kernel(  # type: ignore[call-arg]
        yn[:Bc], *arrays, bn, dn, m0n[:Bc], P0n, means, covs, pmeans, pcovs, step_ll, gains,
        chols, status,
    )  # fmt: skip
    check_status(status, "innovation covariance C P C^T + R")
    cov, pcov = torch.from_numpy(covs), torch.from_numpy(pcovs)
    if shared:
        means, pmeans = np.empty((B, T, n), yn.dtype), np.empty((B, T, n), yn.dtype)
        step_ll = np.empty((B, T), yn.dtype)
        A_, C_ = arrays[0], arrays[1]
        kalman_means_kernel(  # type: ignore[call-arg]
            yn, A_, C_, bn, dn, m0n, gains, chols, means, pmeans, step_ll
        )
        cov, pcov = cov.expand(B, T, n, n), pcov.expand(B, T, n, n)
    return (torch.from_numpy(means), cov, torch.from_numpy(pmeans), pcov, torch.from_numpy(step_ll))


def check_status(status: np.ndarray, what: str) -> None:
    bad = np.flatnonzero(status)
    if bad.size:
        i = int(bad[0])
        raise torch.linalg.LinAlgError(
            f"kalman: the {what} is not positive definite at step {int(status[i]) - 1} of "
            f"sequence {i} ({bad.size} sequence(s) failed); R must be positive definite"
        )


def smoother_compiled(
    A: Tensor, f_means: Tensor, f_covs: Tensor, p_means: Tensor, p_covs: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """The compiled RTS pass: smoothed means, covariances and lag-one covariances; shared
    (expanded) covariances stay shared."""
    B, T, n = f_means.shape
    dt = f_means.dtype
    shared = B > 1 and f_covs.stride(0) == 0 and p_covs.stride(0) == 0
    Bc = 1 if shared else B
    An = as_array(A, (1, 1, 1), dt)
    arrays = [as_array(t[:Bc], (), dt) for t in (f_means, f_covs)]
    parrays = [as_array(t[:Bc], (), dt) for t in (p_means, p_covs)]
    means, covs = np.empty((Bc, T, n), arrays[0].dtype), np.empty((Bc, T, n, n), arrays[0].dtype)
    lag = np.empty((Bc, T - 1, n, n), arrays[0].dtype)
    gains = np.empty((1 if shared else 0, T - 1, n, n), arrays[0].dtype)
    status = np.zeros(Bc, np.int64)
    rts_smoother_kernel(An, *arrays, *parrays, means, covs, lag, gains, status)  # type: ignore[call-arg]
    check_status(status, "predicted covariance A P A^T + Q")
    cov, lag_t = torch.from_numpy(covs), torch.from_numpy(lag)
    if shared:
        means = np.empty((B, T, n), arrays[0].dtype)
        rts_means_kernel(  # type: ignore[call-arg]
            gains, as_array(f_means, (), dt), as_array(p_means, (), dt), means
        )
        cov, lag_t = cov.expand(B, T, n, n), lag_t.expand(B, T - 1, n, n)
    return torch.from_numpy(means), cov, lag_t
