"""The Kalman filter and Rauch-Tung-Striebel smoother on torch tensors, batched over sequences.

The linear-Gaussian state-space model (:class:`LinearGaussian`)::

    x_0 ~ N(m0, P0)
    x_{t+1} = A_t x_t + b_t + w_t,   w_t ~ N(0, Q_t)
    y_t     = C_t x_t + d_t + v_t,   v_t ~ N(0, R_t)

uses pykalman's first-step convention: the first observation ``y_0`` is of the initial
state ``x_0`` itself, and a time-varying ``A`` (``(T, n, n)``) maps step ``t`` to step
``t + 1`` (its last entry is unused). ``b_t`` and ``d_t`` are optional known offsets
(pykalman's ``transition_offsets`` and ``observation_offsets``, e.g. ``B u_t`` and ``D u_t``
of a state space driven by a known input ``u``).

The filter updates in Joseph form, symmetrises every covariance each step and solves with
Cholesky factors; the log-likelihood is exact, by the prediction-error decomposition.
Missing observations are NaN, per coordinate: the observed rows of ``C`` and ``R`` are kept
(a missing coordinate gets a zero row in ``C``, a unit variance in ``R`` and a zero
innovation, which is the same update as dropping the row), and a step with nothing observed
is a pure prediction. Everything is differentiable by autograd in the observations and
every model tensor; dtype follows the inputs (float64 stays float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters._kalman_compiled import filter_compiled, smoother_compiled

__all__ = [
    "LinearGaussian",
    "KalmanFiltered",
    "KalmanSmoothed",
    "kalman_filter",
    "kalman_smoother",
]

_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class LinearGaussian:
    """A linear-Gaussian state-space model (the module docstring has the equations).

    Args:
        A: state transition ``(n, n)``, or time-varying ``(T, n, n)`` or ``(T - 1, n, n)``
            (``A[t]`` maps step ``t`` to ``t + 1``; a ``T``-th entry is unused).
        C: observation matrix ``(m, n)`` or ``(T, m, n)``.
        Q: transition noise covariance ``(n, n)``, ``(T, n, n)`` or ``(T - 1, n, n)``
            (``Q[t]`` goes with ``A[t]``),
            symmetric positive semi-definite.
        R: observation noise covariance ``(m, m)`` or ``(T, m, m)``, symmetric positive
            definite.
        m0: mean of the initial state ``x_0``, ``(n,)`` (or ``(batch, n)``: one per sequence).
        P0: covariance of ``x_0``, ``(n, n)`` (or ``(batch, n, n)``), symmetric positive
            semi-definite.

    Example:
        >>> import torch
        >>> model = LinearGaussian(
        ...     A=torch.eye(2), C=torch.ones(1, 2), Q=0.1 * torch.eye(2), R=torch.eye(1),
        ...     m0=torch.zeros(2), P0=torch.eye(2))
        >>> model.state_size, model.observation_size
        (2, 1)
    """

    A: Tensor
    C: Tensor
    Q: Tensor
    R: Tensor
    m0: Tensor
    P0: Tensor

    @property
    def state_size(self) -> int:
        """``n``, the size of the state."""
        return int(self.A.shape[-1])

    @property
    def observation_size(self) -> int:
        """``m``, the size of one observation."""
        return int(self.C.shape[-2])


@dataclass(frozen=True)
class KalmanFiltered:
    """What :func:`kalman_filter` returns (``B`` sequences, ``T`` steps, state size ``n``).

    Attributes:
        means: ``E[x_t | y_0..y_t]``, ``(B, T, n)``.
        covariances: ``Cov[x_t | y_0..y_t]``, ``(B, T, n, n)``.
        predicted_means: ``E[x_t | y_0..y_{t-1}]`` (``m0`` at ``t = 0``), ``(B, T, n)``.
        predicted_covariances: ``Cov[x_t | y_0..y_{t-1}]``, ``(B, T, n, n)``.
        log_likelihood: ``log p(y_0..y_{T-1})`` of each sequence in nats, ``(B,)``.
        step_log_likelihoods: ``log p(y_t | y_0..y_{t-1})``, ``(B, T)`` (0 where nothing is
            observed).

    The covariances do not depend on the observed values. When every sequence has the same
    ``P0`` (a 2-D ``model.P0``) and the same missing coordinates, the compiled path runs
    the covariance recursion once and returns the covariances as an expanded view of one
    sequence's (stride 0 over the batch; ``.clone()`` before writing into them).
    """

    means: Tensor
    covariances: Tensor
    predicted_means: Tensor
    predicted_covariances: Tensor
    log_likelihood: Tensor
    step_log_likelihoods: Tensor


@dataclass(frozen=True)
class KalmanSmoothed:
    """What :func:`kalman_smoother` returns (shapes as in :class:`KalmanFiltered`).

    Attributes:
        means: ``E[x_t | all y]``, ``(B, T, n)``.
        covariances: ``Cov[x_t | all y]``, ``(B, T, n, n)``.
        log_likelihood: ``log p(all y)`` in nats, ``(B,)`` (the filter's).
        lag_one_covariances: ``Cov[x_{t+1}, x_t | all y]``, ``(B, T - 1, n, n)`` (what EM
            needs).
        filtered: the forward pass the smoother ran.
    """

    means: Tensor
    covariances: Tensor
    log_likelihood: Tensor
    lag_one_covariances: Tensor
    filtered: KalmanFiltered


def _sym(P: Tensor) -> Tensor:
    return 0.5 * (P + P.transpose(-1, -2))


def _matrix(M: Tensor, name: str, rows: int, cols: int, T: int, transition: bool) -> Tensor:
    """``M`` as ``(rows, cols)`` or ``(T, rows, cols)`` (``T - 1`` also for a transition
    quantity), checked."""
    if not isinstance(M, Tensor):
        raise InputError(f"model.{name}: expected a torch.Tensor, got {type(M).__name__}")
    lengths = (T, T - 1) if transition else (T,)
    if (
        M.shape[-2:] != (rows, cols)
        or M.ndim not in (2, 3)
        or (M.ndim == 3 and M.shape[0] not in lengths)
    ):
        what = f"T={T}" + (" or T - 1" if transition else "")
        raise ShapeError(
            f"model.{name}: expected shape ({rows}, {cols}) or ({what}, {rows}, {cols}), got "
            f"{tuple(M.shape)}"
        )
    return M


def _offsets(
    b: Tensor | None, name: str, size: int, batch: int, T: int, transition: bool
) -> Tensor | None:
    """An offset as ``(batch or 1, T or T - 1 or 1, size)``, or None."""
    if b is None:
        return None
    if not isinstance(b, Tensor):
        raise InputError(f"{name}: expected a torch.Tensor or None, got {type(b).__name__}")
    lengths = (T, T - 1) if transition else (T,)
    if b.ndim == 1 and b.shape[0] == size:
        return b[None, None]
    if b.ndim == 2 and b.shape[1] == size and b.shape[0] in lengths:
        return b[None]
    if b.ndim == 3 and b.shape[2] == size and b.shape[1] in lengths and b.shape[0] in (1, batch):
        return b
    what = f"T={T}" + (" or T - 1" if transition else "")
    raise ShapeError(
        f"{name}: expected shape ({size},), ({what}, {size}) or (batch={batch}, {what}, "
        f"{size}), got {tuple(b.shape)}"
    )


def _prepare(
    y: Tensor, model: LinearGaussian
) -> tuple[Tensor, bool, tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]]:
    """Check shapes; return y as ``(B, T, m)``, whether it was 2-D, and the model tensors
    (``m0 (B, n)``, ``P0 (B, n, n)``) in one float dtype."""
    if not isinstance(model, LinearGaussian):
        raise InputError(f"model: expected a LinearGaussian, got {type(model).__name__}")
    if not isinstance(y, Tensor):
        raise InputError(f"y: expected a torch.Tensor, got {type(y).__name__}")
    if model.A.ndim < 2 or model.C.ndim < 2:
        raise ShapeError(
            f"model.A, model.C: expected matrices, got shapes {tuple(model.A.shape)}, "
            f"{tuple(model.C.shape)}"
        )
    n, m = model.state_size, model.observation_size
    squeeze = y.ndim == 2
    if squeeze:
        y = y[None]
    if y.ndim != 3 or y.shape[-1] != m or y.shape[1] < 1:
        raise ShapeError(
            f"y: expected shape (batch, time, {m}) or (time, {m}) with time >= 1 (m from "
            f"model.C), got {tuple(y.shape) if not squeeze else tuple(y.shape[1:])}"
        )
    B, T = y.shape[:2]
    A = _matrix(model.A, "A", n, n, T, True)
    C = _matrix(model.C, "C", m, n, T, False)
    Q = _matrix(model.Q, "Q", n, n, T, True)
    R = _matrix(model.R, "R", m, m, T, False)
    m0, P0 = model.m0, model.P0
    if m0.shape not in ((n,), (B, n)):
        raise ShapeError(f"model.m0: expected shape ({n},) or ({B}, {n}), got {tuple(m0.shape)}")
    if P0.shape not in ((n, n), (B, n, n)):
        raise ShapeError(
            f"model.P0: expected shape ({n}, {n}) or ({B}, {n}, {n}), got {tuple(P0.shape)}"
        )
    tensors = (y, A, C, Q, R, m0, P0)
    if not all(t.is_floating_point() for t in tensors):
        raise InputError("y and the model's tensors: expected floating-point tensors")
    dtype = torch.promote_types(y.dtype, torch.float32)
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    y, A, C, Q, R, m0, P0 = (t.to(dtype) for t in tensors)
    return y, squeeze, (A, C, Q, R, m0.expand(B, n), P0.expand(B, n, n))


def kalman_filter(
    y: Tensor,
    model: LinearGaussian,
    *,
    transition_offsets: Tensor | None = None,
    observation_offsets: Tensor | None = None,
) -> KalmanFiltered:
    """Kalman filter: the state's distribution given the observations so far, and the
    exact log-likelihood.

    Convention (pykalman's): the first observation ``y_0`` is of ``x_0 ~ N(m0, P0)``
    itself (no prediction before it), and ``A[t]`` maps step ``t`` to ``t + 1``.

    Args:
        y: observations; NaN marks a missing coordinate (the others of that step are still
            used; a step with every coordinate missing is a pure prediction).
        model: the :class:`LinearGaussian` (time-varying matrices have ``T`` entries).
        transition_offsets: known ``b_t`` added to ``A_t x_t`` (maps ``t`` to ``t + 1``),
            ``(n,)``, ``(T, n)`` or ``(B, T, n)`` (``T - 1`` also accepted); default none.
        observation_offsets: known ``d_t`` added to ``C_t x_t``, ``(m,)``, ``(T, m)`` or
            ``(B, T, m)``; default none.

    Shape:
        y ``(B, T, m)`` or ``(T, m)``; the results are always batched, ``(B, T, ...)``
        (``B = 1`` for a 2-D ``y``).

    Returns:
        :class:`KalmanFiltered`: filtered and one-step predicted means and covariances,
        per-step and total log-likelihoods (nats).

    Raises:
        ShapeError: shapes that do not match the model. InputError: non-tensors, integer
        tensors. ``torch.linalg.LinAlgError`` when an innovation covariance is not positive
        definite (R must be positive definite).

    Properties: differentiable (autograd) in ``y`` (observed entries) and every model
    tensor; CPU and CUDA; float32 and float64 (the promoted dtype of the inputs). Two
    paths, equal to rounding: when no input requires grad (or under ``torch.no_grad`` /
    ``inference_mode``) on CPU, compiled numba kernels run the sequences in parallel;
    otherwise a torch recursion batched over sequences, which autograd differentiates.

    References: R. E. Kalman (1960); the Joseph form: Bucy & Joseph (1968); the
    prediction-error decomposition: Harvey, "Forecasting, Structural Time Series Models and
    the Kalman Filter" (1989), 3.4.

    Example:
        >>> import torch
        >>> model = LinearGaussian(A=torch.eye(1), C=torch.eye(1), Q=torch.eye(1),
        ...                        R=torch.eye(1), m0=torch.zeros(1), P0=torch.eye(1))
        >>> out = kalman_filter(torch.tensor([[2.0], [float("nan")]]), model)
        >>> out.means[0, :, 0].tolist(), out.covariances[0, :, 0, 0].tolist()
        ([1.0, 1.0], [0.5, 1.5])
    """
    y, _, (A, C, Q, R, m0, P0) = _prepare(y, model)
    B, T, m = y.shape
    n = A.shape[-1]
    b = _offsets(transition_offsets, "transition_offsets", n, B, T, True)
    d = _offsets(observation_offsets, "observation_offsets", m, B, T, False)
    b = None if b is None else b.to(y.dtype)
    d = None if d is None else d.to(y.dtype)
    if _compiled((y, A, C, Q, R, m0, P0, b, d)):
        means, covs, pmeans, pcovs, step_ll = filter_compiled(
            y, A, C, Q, R, b, d, m0, P0, model.P0.ndim == 2
        )
        return KalmanFiltered(means, covs, pmeans, pcovs, step_ll.sum(1), step_ll)
    return _filter_torch(y, A, C, Q, R, b, d, m0, P0)


def _compiled(tensors: tuple[Tensor | None, ...]) -> bool:
    """Whether the compiled (numba) path runs: CPU tensors and no gradient to track."""
    present = [t for t in tensors if t is not None]
    if any(t.device.type != "cpu" for t in present):
        return False
    return not (torch.is_grad_enabled() and any(t.requires_grad for t in present))


def _filter_torch(
    y: Tensor,
    A: Tensor,
    C: Tensor,
    Q: Tensor,
    R: Tensor,
    b: Tensor | None,
    d: Tensor | None,
    m0: Tensor,
    P0: Tensor,
) -> KalmanFiltered:
    B, T, m = y.shape
    n = A.shape[-1]
    observed = ~torch.isnan(y)  # (B, T, m)
    any_missing = not bool(observed.all())
    y0 = torch.where(observed, y, torch.zeros((), dtype=y.dtype))
    obs_f = observed.to(y.dtype)
    n_observed = obs_f.sum(-1)  # (B, T)
    eye_n = torch.eye(n, dtype=y.dtype, device=y.device)

    means, covs, pmeans, pcovs, lls = [], [], [], [], []
    x, P = m0, _sym(P0)
    for t in range(T):
        if t > 0:
            At = A[t - 1] if A.ndim == 3 else A
            Qt = Q[t - 1] if Q.ndim == 3 else Q
            x = x @ At.T  # (B, n)
            if b is not None:
                x = x + b[:, t - 1 if b.shape[1] > 1 else 0]
            P = _sym(At @ P @ At.T + Qt)  # (B, n, n)
        pmeans.append(x)
        pcovs.append(P)
        Ct = C[t] if C.ndim == 3 else C
        Rt = R[t] if R.ndim == 3 else R
        pred = x @ Ct.T  # (B, m)
        if d is not None:
            pred = pred + d[:, t if d.shape[1] > 1 else 0]
        if any_missing:
            o = obs_f[:, t]  # (B, m)
            Ct = Ct * o[:, :, None]  # (B, m, n): a missing row is zero
            Rt = Rt * (o[:, :, None] * o[:, None, :]) + torch.diag_embed(1 - o)
            e = (y0[:, t] - pred) * o  # (B, m)
        else:
            e = y0[:, t] - pred
        PCt = P @ Ct.transpose(-1, -2)  # (B, n, m)
        S = _sym(Ct @ PCt + Rt)  # (B, m, m)
        L = torch.linalg.cholesky(S)
        K = torch.cholesky_solve(PCt.transpose(-1, -2), L).transpose(-1, -2)  # (B, n, m)
        x = x + (K @ e[:, :, None])[..., 0]
        IKC = eye_n - K @ Ct
        P = _sym(IKC @ P @ IKC.transpose(-1, -2) + K @ Rt @ K.transpose(-1, -2))
        means.append(x)
        covs.append(P)
        z = torch.linalg.solve_triangular(L, e[:, :, None], upper=False)[..., 0]
        logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
        lls.append(-0.5 * ((z * z).sum(-1) + logdet + n_observed[:, t] * _LOG_2PI))
    step_ll = torch.stack(lls, 1)
    return KalmanFiltered(
        means=torch.stack(means, 1),
        covariances=torch.stack(covs, 1),
        predicted_means=torch.stack(pmeans, 1),
        predicted_covariances=torch.stack(pcovs, 1),
        log_likelihood=step_ll.sum(1),
        step_log_likelihoods=step_ll,
    )


def kalman_smoother(
    y: Tensor,
    model: LinearGaussian,
    *,
    transition_offsets: Tensor | None = None,
    observation_offsets: Tensor | None = None,
) -> KalmanSmoothed:
    """Rauch-Tung-Striebel smoother: the state's distribution given all the observations.

    Runs :func:`kalman_filter` (same arguments, same conventions, NaN = missing per
    coordinate), then the RTS backward pass; the smoother gains are computed for all steps
    at once from the filter's covariances (Cholesky solves batched over time).

    Shape:
        y ``(B, T, m)`` or ``(T, m)``; results ``(B, T, ...)``.

    Returns:
        :class:`KalmanSmoothed`: smoothed means and covariances, the log-likelihood, the
        lag-one covariances ``Cov[x_{t+1}, x_t | all y]`` and the filter's results.

    Raises:
        as :func:`kalman_filter`.

    Properties: differentiable; CPU and CUDA; float32 and float64; compiled without
    gradient tracking, as :func:`kalman_filter`.

    References: Rauch, Tung & Striebel (1965); the lag-one covariance as
    ``P^s_{t+1} J_t^T``: Shumway & Stoffer, "Time Series Analysis and Its Applications",
    property 6.3 (in its equivalent closed form).

    Example:
        >>> import torch
        >>> model = LinearGaussian(A=torch.eye(1), C=torch.eye(1), Q=torch.eye(1),
        ...                        R=torch.eye(1), m0=torch.zeros(1), P0=torch.eye(1))
        >>> out = kalman_smoother(torch.tensor([[2.0], [float("nan")]]), model)
        >>> out.means[0, :, 0].tolist(), out.covariances[0, :, 0, 0].tolist()
        ([1.0, 1.0], [0.5, 1.5])
    """
    f = kalman_filter(
        y, model, transition_offsets=transition_offsets, observation_offsets=observation_offsets
    )
    B, T, n = f.means.shape
    if T == 1:
        empty = f.covariances.new_zeros(B, 0, n, n)
        return KalmanSmoothed(f.means, f.covariances, f.log_likelihood, empty, f)
    A = model.A.to(f.means.dtype)
    A_t = A[: T - 1] if A.ndim == 3 else A  # (T-1, n, n) or (n, n): maps t to t+1
    if _compiled((f.means, f.covariances, A)):
        means, covs, lag = smoother_compiled(
            A_t, f.means, f.covariances, f.predicted_means, f.predicted_covariances
        )
        return KalmanSmoothed(means, covs, f.log_likelihood, lag, f)
    # J_t = P_t A_t^T Pp_{t+1}^{-1}, i.e. J_t^T = Pp_{t+1}^{-1} A_t P_t, for all t at once.
    Lp = torch.linalg.cholesky(f.predicted_covariances[:, 1:])  # (B, T-1, n, n)
    J = torch.cholesky_solve(A_t @ f.covariances[:, :-1], Lp).transpose(-1, -2)
    Jt = J.transpose(-1, -2)
    ms, Ps = [f.means[:, -1]], [f.covariances[:, -1]]
    x, P = ms[0], Ps[0]
    for t in range(T - 2, -1, -1):
        Jk = J[:, t]
        x = f.means[:, t] + (Jk @ (x - f.predicted_means[:, t + 1])[:, :, None])[..., 0]
        P = _sym(f.covariances[:, t] + Jk @ (P - f.predicted_covariances[:, t + 1]) @ Jt[:, t])
        ms.append(x)
        Ps.append(P)
    means = torch.stack(ms[::-1], 1)
    covs = torch.stack(Ps[::-1], 1)
    lag_one = covs[:, 1:] @ Jt  # Cov[x_{t+1}, x_t | all y]
    return KalmanSmoothed(means, covs, f.log_likelihood, lag_one, f)
