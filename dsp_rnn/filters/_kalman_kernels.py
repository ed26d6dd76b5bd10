"""Numba CPU kernels of the Kalman filter and RTS smoother (the no-gradient path).

The same recursions as :mod:`dsp_rnn.filters.kalman` (Joseph-form update, Cholesky
solves, per-coordinate missing values by selecting the observed rows), one sequence per
``prange`` iteration, every small matrix product written out as loops. Covariances are
exactly symmetric: the lower triangle is computed and mirrored (the torch path averages
``P`` and ``P^T``; the two agree to rounding). Arrays (``B`` sequences, ``T`` steps,
state ``n``, observation ``m``)::

    y (B, T, m)      NaN = missing
    A (TA, n, n)     TA in {1, T - 1, T}: A[t - 1] maps step t - 1 to t (A[0] if TA == 1)
    C (TC, m, n)     TC in {1, T}; likewise Q (TQ, n, n) with A, R (TR, m, m) with C
    b (Bb, Tb, n)    transition offsets (zeros (1, 1, n) when none), Bb in {1, B}
    d (Bd, Td, m)    observation offsets
    m0 (B, n), P0 (B, n, n)

A sequence whose innovation (or predicted) covariance is not positive definite gets
``status[i] = t + 1`` (the step, from 1) and stops; 0 means it ran to the end.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from dsp_rnn import _numba_cache  # noqa: F401  (before any cache=True kernel)

__all__ = ["kalman_filter_kernel", "rts_smoother_kernel", "kalman_means_kernel", "rts_means_kernel"]

_LOG_2PI = math.log(2 * math.pi)


@njit(cache=True)
def _cholesky(S, k, L):  # pragma: no cover - compiled
    """Lower Cholesky factor of ``S[:k, :k]`` into ``L``; False if not positive definite."""
    for j in range(k):
        s = S[j, j]
        for p in range(j):
            s -= L[j, p] * L[j, p]
        if not s > 0.0:
            return False
        ljj = math.sqrt(s)
        L[j, j] = ljj
        for i in range(j + 1, k):
            s = S[i, j]
            for p in range(j):
                s -= L[i, p] * L[j, p]
            L[i, j] = s / ljj
    return True


@njit(cache=True)
def _cho_solve(L, k, X, cols):  # pragma: no cover - compiled
    """Solve ``(L L^T) X = X`` in place for ``X[:k, :cols]``."""
    for c in range(cols):
        for i in range(k):
            s = X[i, c]
            for p in range(i):
                s -= L[i, p] * X[p, c]
            X[i, c] = s / L[i, i]
        for i in range(k - 1, -1, -1):
            s = X[i, c]
            for p in range(i + 1, k):
                s -= L[p, i] * X[p, c]
            X[i, c] = s / L[i, i]


@njit(parallel=True, cache=True, fastmath={"contract"})
def kalman_filter_kernel(
    y, A, C, Q, R, b, d, m0, P0, means, covs, pmeans, pcovs, step_ll, gains, chols, status
):  # pragma: no cover - compiled
    """Fill ``means, covs, pmeans, pcovs (B, T, ...)`` and ``step_ll (B, T)``; with
    ``gains (B, T, m, n)`` and ``chols (B, T, m, m)`` not empty, also each step's ``K^T``
    and Cholesky factor of the innovation covariance (rows of the observed coordinates, in
    order), for :func:`kalman_means_kernel`."""
    B, T, m = y.shape
    n = A.shape[1]
    for i_ in prange(B):
        i = np.int64(i_)
        x = m0[i].copy()
        P = 0.5 * (P0[i] + P0[i].T)
        xn = np.empty(n, y.dtype)
        AP = np.empty((n, n), y.dtype)
        idx = np.empty(m, np.int64)
        e = np.empty(m, y.dtype)
        PCt = np.empty((n, m), y.dtype)
        S = np.empty((m, m), y.dtype)
        L = np.zeros((m, m), y.dtype)
        Kt = np.empty((m, n), y.dtype)
        IKC = np.empty((n, n), y.dtype)
        KR = np.empty((n, m), y.dtype)
        bi = i if b.shape[0] > 1 else np.int64(0)
        di = i if d.shape[0] > 1 else np.int64(0)
        for t in range(T):
            if t > 0:
                ta = t - 1 if A.shape[0] > 1 else 0
                tq = t - 1 if Q.shape[0] > 1 else 0
                tb = t - 1 if b.shape[1] > 1 else 0
                for r in range(n):
                    s = b[bi, tb, r]
                    for c in range(n):
                        s += A[ta, r, c] * x[c]
                    xn[r] = s
                for r in range(n):
                    x[r] = xn[r]
                for r in range(n):
                    for c in range(n):
                        s = 0.0
                        for p in range(n):
                            s += A[ta, r, p] * P[p, c]
                        AP[r, c] = s
                for r in range(n):  # the lower triangle, mirrored: exactly symmetric
                    for c in range(r + 1):
                        s = 0.5 * (Q[tq, r, c] + Q[tq, c, r])
                        for p in range(n):
                            s += AP[r, p] * A[ta, c, p]
                        P[r, c] = s
                        P[c, r] = s
            for r in range(n):
                pmeans[i, t, r] = x[r]
                for c in range(n):
                    pcovs[i, t, r, c] = P[r, c]
            tc = t if C.shape[0] > 1 else 0
            tr = t if R.shape[0] > 1 else 0
            td = t if d.shape[1] > 1 else 0
            k = 0
            for j in range(m):
                if not math.isnan(y[i, t, j]):
                    idx[k] = j
                    k += 1
            ll = 0.0
            if k > 0:
                for a in range(k):
                    j = idx[a]
                    s = y[i, t, j] - d[di, td, j]
                    for c in range(n):
                        s -= C[tc, j, c] * x[c]
                    e[a] = s
                for r in range(n):  # P C_k^T
                    for a in range(k):
                        j = idx[a]
                        s = 0.0
                        for p in range(n):
                            s += P[r, p] * C[tc, j, p]
                        PCt[r, a] = s
                for a in range(k):  # C_k P C_k^T + R_k, symmetric
                    for a2 in range(a + 1):
                        j, j2 = idx[a], idx[a2]
                        s = 0.5 * (R[tr, j, j2] + R[tr, j2, j])
                        for p in range(n):
                            s += C[tc, j, p] * PCt[p, a2]
                        S[a, a2] = s
                        S[a2, a] = s
                if not _cholesky(S, k, L):
                    status[i] = t + 1
                    break
                for a in range(k):
                    for c in range(n):
                        Kt[a, c] = PCt[c, a]
                _cho_solve(L, k, Kt, n)  # K^T = S^{-1} C_k P
                if gains.shape[0] > 0:
                    gains[i, t, :k] = Kt[:k]
                    chols[i, t, :k, :k] = L[:k, :k]
                for r in range(n):
                    s = 0.0
                    for a in range(k):
                        s += Kt[a, r] * e[a]
                    x[r] += s
                for r in range(n):  # I - K C_k
                    for c in range(n):
                        s = 1.0 if r == c else 0.0
                        for a in range(k):
                            s -= Kt[a, r] * C[tc, idx[a], c]
                        IKC[r, c] = s
                for r in range(n):  # K R_k
                    for a in range(k):
                        s = 0.0
                        for a2 in range(k):
                            s += Kt[a2, r] * R[tr, idx[a2], idx[a]]
                        KR[r, a] = s
                for r in range(n):  # (I - K C) P
                    for c in range(n):
                        s = 0.0
                        for p in range(n):
                            s += IKC[r, p] * P[p, c]
                        AP[r, c] = s
                for r in range(n):  # ... (I - K C)^T + K R K^T, symmetric
                    for c in range(r + 1):
                        s = 0.0
                        for p in range(n):
                            s += AP[r, p] * IKC[c, p]
                        for a in range(k):
                            s += KR[r, a] * Kt[a, c]
                        P[r, c] = s
                        P[c, r] = s
                quad = 0.0
                logdet = 0.0
                for a in range(k):  # z = L^{-1} e
                    s = e[a]
                    for p in range(a):
                        s -= L[a, p] * e[p]
                    e[a] = s / L[a, a]
                    quad += e[a] * e[a]
                    logdet += 2.0 * math.log(L[a, a])
                ll = -0.5 * (quad + logdet + k * _LOG_2PI)
            for r in range(n):
                means[i, t, r] = x[r]
                for c in range(n):
                    covs[i, t, r, c] = P[r, c]
            step_ll[i, t] = ll


@njit(parallel=True, cache=True, fastmath={"contract"})
def rts_smoother_kernel(
    A, means, covs, pmeans, pcovs, smeans, scovs, lag, gains, status
):  # pragma: no cover - compiled
    """Fill ``smeans, scovs (B, T, ...)`` and ``lag (B, T - 1, n, n)`` from a filter's
    results; ``lag[t] = Cov[x_{t+1}, x_t | all y] = P^s_{t+1} J_t^T``; with ``gains (B,
    T - 1, n, n)`` not empty, also ``J_t^T`` for :func:`rts_means_kernel`."""
    B, T, n = means.shape
    for i_ in prange(B):
        i = np.int64(i_)
        L = np.zeros((n, n), means.dtype)
        Jt = np.empty((n, n), means.dtype)
        D = np.empty((n, n), means.dtype)
        JD = np.empty((n, n), means.dtype)
        dx = np.empty(n, means.dtype)
        for r in range(n):
            smeans[i, T - 1, r] = means[i, T - 1, r]
            for c in range(n):
                scovs[i, T - 1, r, c] = covs[i, T - 1, r, c]
        for t in range(T - 2, -1, -1):
            ta = t if A.shape[0] > 1 else 0
            for r in range(n):
                for c in range(n):
                    D[r, c] = pcovs[i, t + 1, r, c]
            if not _cholesky(D, n, L):
                status[i] = t + 1
                break
            for r in range(n):  # J^T = Pp^{-1} A P_t
                for c in range(n):
                    s = 0.0
                    for p in range(n):
                        s += A[ta, r, p] * covs[i, t, p, c]
                    Jt[r, c] = s
            _cho_solve(L, n, Jt, n)
            if gains.shape[0] > 0:
                gains[i, t] = Jt
            for r in range(n):
                dx[r] = smeans[i, t + 1, r] - pmeans[i, t + 1, r]
            for r in range(n):
                s = means[i, t, r]
                for p in range(n):
                    s += Jt[p, r] * dx[p]
                smeans[i, t, r] = s
            for r in range(n):
                for c in range(n):
                    D[r, c] = scovs[i, t + 1, r, c] - pcovs[i, t + 1, r, c]
            for r in range(n):  # J D
                for c in range(n):
                    s = 0.0
                    for p in range(n):
                        s += Jt[p, r] * D[p, c]
                    JD[r, c] = s
            for r in range(n):  # P_t + J D J^T, symmetric
                for c in range(r + 1):
                    s = covs[i, t, r, c]
                    for p in range(n):
                        s += JD[r, p] * Jt[p, c]
                    scovs[i, t, r, c] = s
                    scovs[i, t, c, r] = s
            for r in range(n):  # P^s_{t+1} J^T
                for c in range(n):
                    s = 0.0
                    for p in range(n):
                        s += scovs[i, t + 1, r, p] * Jt[p, c]
                    lag[i, t, r, c] = s


@njit(parallel=True, cache=True, fastmath={"contract"})
def kalman_means_kernel(
    y, A, C, b, d, m0, gains, chols, means, pmeans, step_ll
):  # pragma: no cover - compiled
    """The filter's means and log-likelihoods of every sequence from gains shared by all
    (one covariance recursion, :func:`kalman_filter_kernel` with ``gains[0]``,
    ``chols[0]``): valid when every sequence has the same initial covariance and the same
    missing coordinates."""
    B, T, m = y.shape
    n = A.shape[1]
    for i_ in prange(B):
        i = np.int64(i_)
        x = m0[i].copy()
        xn = np.empty(n, y.dtype)
        e = np.empty(m, y.dtype)
        bi = i if b.shape[0] > 1 else np.int64(0)
        di = i if d.shape[0] > 1 else np.int64(0)
        for t in range(T):
            if t > 0:
                ta = t - 1 if A.shape[0] > 1 else 0
                tb = t - 1 if b.shape[1] > 1 else 0
                for r in range(n):
                    s = b[bi, tb, r]
                    for c in range(n):
                        s += A[ta, r, c] * x[c]
                    xn[r] = s
                for r in range(n):
                    x[r] = xn[r]
            for r in range(n):
                pmeans[i, t, r] = x[r]
            tc = t if C.shape[0] > 1 else 0
            td = t if d.shape[1] > 1 else 0
            k = 0
            for j in range(m):
                if not math.isnan(y[i, t, j]):
                    s = y[i, t, j] - d[di, td, j]
                    for c in range(n):
                        s -= C[tc, j, c] * x[c]
                    e[k] = s
                    k += 1
            ll = 0.0
            if k > 0:
                for r in range(n):
                    s = 0.0
                    for a in range(k):
                        s += gains[0, t, a, r] * e[a]
                    x[r] += s
                quad = 0.0
                logdet = 0.0
                for a in range(k):
                    s = e[a]
                    for p in range(a):
                        s -= chols[0, t, a, p] * e[p]
                    e[a] = s / chols[0, t, a, a]
                    quad += e[a] * e[a]
                    logdet += 2.0 * math.log(chols[0, t, a, a])
                ll = -0.5 * (quad + logdet + k * _LOG_2PI)
            for r in range(n):
                means[i, t, r] = x[r]
            step_ll[i, t] = ll


@njit(parallel=True, cache=True, fastmath={"contract"})
def rts_means_kernel(gains, means, pmeans, smeans):  # pragma: no cover - compiled
    """Smoothed means of every sequence from shared smoother gains ``gains[0, t] = J_t^T``."""
    B, T, n = means.shape
    for i_ in prange(B):
        i = np.int64(i_)
        for r in range(n):
            smeans[i, T - 1, r] = means[i, T - 1, r]
        for t in range(T - 2, -1, -1):
            for r in range(n):
                s = means[i, t, r]
                for p in range(n):
                    s += gains[0, t, p, r] * (smeans[i, t + 1, p] - pmeans[i, t + 1, p])
                smeans[i, t, r] = s
