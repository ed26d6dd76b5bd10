"""Learning a linear-Gaussian model from observations: EM and gradient ascent on the exact
likelihood, plus the model's spectral factor (the transfer function that is identifiable).

Both learners work on a time-invariant :class:`~dsp_rnn.filters.LinearGaussian` (``A, C,
Q, R`` of shapes ``(n, n), (m, n), (n, n), (m, m)``) and any number of sequences with NaN
for missing coordinates. They share the smoother's expected sufficient statistics: for EM
they give the M-step in closed form (Shumway & Stoffer 1982; missing coordinates are
latent, so their conditional moments given the observed ones enter the statistics), and by
Fisher's identity (``grad log p(y) = E[grad log p(x, y) | y]``) they give the exact gradient
of the log-likelihood, so gradient fitting costs one compiled smoother pass per step
(:func:`kalman_log_likelihood`) instead of backpropagating through the recursion.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from dsp_rnn._validate import check_int
from dsp_rnn.errors import InputError
from dsp_rnn.filters.kalman import LinearGaussian, kalman_smoother

__all__ = [
    "KalmanFit",
    "LinearGaussianModule",
    "fit_em",
    "fit_gradient",
    "kalman_log_likelihood",
    "spectral_factor",
]

PARAMETERS = ("A", "C", "Q", "R", "m0", "P0")


@dataclass(frozen=True)
class KalmanFit:
    """What :func:`fit_em` and :func:`fit_gradient` return.

    Attributes:
        model: the fitted model (detached tensors).
        log_likelihoods: total log-likelihood of all sequences (nats) of the model before
            each iteration and after the last, ``(iterations + 1,)``.
    """

    model: LinearGaussian
    log_likelihoods: Tensor


def _sym(P: Tensor) -> Tensor:
    return 0.5 * (P + P.transpose(-1, -2))


def _fields(model: LinearGaussian) -> tuple[Tensor, ...]:
    return (model.A, model.C, model.Q, model.R, model.m0, model.P0)


def _check_invariant(model: LinearGaussian, name: str) -> None:
    if not isinstance(model, LinearGaussian):
        raise InputError(f"{name}: expected a LinearGaussian, got {type(model).__name__}")
    dims = [t.ndim for t in _fields(model)]
    if dims != [2, 2, 2, 2, 1, 2]:
        raise InputError(
            f"{name}: learning needs a time-invariant model (A, C, Q, R matrices, m0 (n,), "
            f"P0 (n, n)); got tensors of {dims} dimensions"
        )


def _learn_set(learn: Iterable[str]) -> frozenset[str]:
    names = frozenset(learn)
    unknown = names - set(PARAMETERS)
    if unknown:
        raise InputError(f"learn: expected names among {PARAMETERS}, got {sorted(unknown)}")
    return names


def _batched(y: Tensor) -> Tensor:
    if not isinstance(y, Tensor):
        raise InputError(f"y: expected a torch.Tensor, got {type(y).__name__}")
    return y[None] if y.ndim == 2 else y


def _statistics(y: Tensor, model: LinearGaussian) -> tuple[dict[str, Tensor], Tensor]:
    """Expected sufficient statistics per sequence (summed over time) and the
    log-likelihoods ``(B,)``, from one smoother pass (no gradient)."""
    with torch.no_grad():
        s = kalman_smoother(y, model)
        C, R = (t.to(s.means.dtype) for t in (model.C, model.R))
        y = y.to(s.means.dtype)
        ms, Ps = s.means, s.covariances  # (B, T, n), (B, T, n, n)
        Exx = Ps + ms[..., :, None] * ms[..., None, :]
        S10 = (s.lag_one_covariances + ms[:, 1:, :, None] * ms[:, :-1, None, :]).sum(1)
        o = (~torch.isnan(y)).to(y.dtype)  # (B, T, m)
        y0 = torch.nan_to_num(y, nan=0.0)
        Ey = y0
        Cov_yy = Cov_yx = None
        if bool((o < 1).any()):
            # missing coordinates are latent: y_m | y_o, x ~ N(G x + h, R_m|o)
            u = 1 - o
            oo = o[..., :, None] * o[..., None, :]
            W = torch.linalg.inv(R * oo + torch.diag_embed(u)) * oo  # R_oo^{-1}, embedded
            M = (R * (u[..., :, None] * o[..., None, :])) @ W  # R_mo R_oo^{-1}
            G = u[..., None] * C - M @ (o[..., None] * C)  # (B, T, m, n)
            h = (M @ y0[..., None])[..., 0]
            R_cond = R * (u[..., :, None] * u[..., None, :]) - M @ (
                R * (o[..., :, None] * u[..., None, :])
            )
            Ey = o * y0 + (G @ ms[..., None])[..., 0] + h
            Cov_yx = G @ Ps
            Cov_yy = Cov_yx @ G.transpose(-1, -2) + R_cond
        Eyy = Ey[..., :, None] * Ey[..., None, :]
        Eyx = Ey[..., :, None] * ms[..., None, :]
        if Cov_yy is not None and Cov_yx is not None:
            Eyy = Eyy + Cov_yy
            Eyx = Eyx + Cov_yx
        stats = {
            "Sxx": Exx.sum(1),
            "S00": Exx[:, :-1].sum(1),
            "S11": Exx[:, 1:].sum(1),
            "S10": S10,
            "Syy": Eyy.sum(1),
            "Syx": Eyx.sum(1),
            "x0": ms[:, 0],
            "P0": Ps[:, 0],
        }
    return stats, s.log_likelihood


def fit_em(
    y: Tensor,
    init: LinearGaussian,
    n_iter: int = 50,
    *,
    learn: Iterable[str] = PARAMETERS,
) -> KalmanFit:
    """Expectation-maximisation of a linear-Gaussian model's parameters.

    Each iteration runs the RTS smoother (E-step, lag-one covariances included) and sets
    the learned parameters to their closed-form maximisers (M-step; ``Q``, ``R``, ``P0``
    symmetrised). The log-likelihood never decreases from one iteration to the next.

    Args:
        y: observations, NaN = missing coordinate.
        init: the starting model (time-invariant); it fixes ``n`` and the dtype.
        n_iter: EM iterations, ``>= 0`` (default 50).
        learn: the names of the parameters to update (default all of ``"A", "C", "Q", "R",
            "m0", "P0"``); the others stay as in ``init``. With one sequence, learning
            ``m0`` and ``P0`` shrinks ``P0`` towards the smoothed covariance of ``x_0``.

    Shape:
        y ``(B, T, m)`` or ``(T, m)``, ``T >= 2``.

    Returns:
        :class:`KalmanFit`: the model and the log-likelihood before each iteration and
        after the last.

    Raises:
        InputError: a time-varying ``init``, unknown names in ``learn``. ShapeError: as
        :func:`~dsp_rnn.filters.kalman_filter`.

    Properties: no gradient; CPU (compiled smoother) and CUDA; float32 and float64.

    References: R. H. Shumway & D. S. Stoffer, "An approach to time series smoothing and
    forecasting using the EM algorithm", J. Time Series Analysis 3 (1982); Z. Ghahramani &
    G. Hinton, "Parameter estimation for linear dynamical systems" (1996).

    Example:
        >>> import torch
        >>> true = LinearGaussian(A=torch.tensor([[0.9]]), C=torch.eye(1), Q=torch.eye(1),
        ...                       R=torch.eye(1), m0=torch.zeros(1), P0=torch.eye(1))
        >>> y = torch.randn(4, 100, 1, generator=torch.Generator().manual_seed(0))
        >>> fit = fit_em(y, true, n_iter=5)
        >>> bool((fit.log_likelihoods.diff() >= 0).all())
        True
    """
    _check_invariant(init, "init")
    n_iter = check_int(n_iter, "n_iter", minimum=0)
    names = _learn_set(learn)
    y = _batched(y)
    model = LinearGaussian(*(t.detach().clone() for t in _fields(init)))
    lls = []
    for it in range(n_iter + 1):
        stats, ll = _statistics(y, model)
        lls.append(ll.sum())
        if it == n_iter:
            break
        model = _m_step(stats, model, names, y.shape[1])
    return KalmanFit(model, torch.stack(lls))


def _m_step(
    stats: dict[str, Tensor], model: LinearGaussian, names: frozenset[str], T: int
) -> LinearGaussian:
    s = {k: v.sum(0) for k, v in stats.items()}
    B = stats["x0"].shape[0]
    A, C, Q, R, m0, P0 = _fields(model)
    dt = s["Sxx"].dtype
    A, C, Q, R, m0, P0 = (t.to(dt) for t in (A, C, Q, R, m0, P0))
    if "A" in names:
        A = torch.linalg.solve(s["S00"], s["S10"].T).T  # S10 S00^{-1}
    if "Q" in names:
        AS = A @ s["S10"].T
        Q = _sym(s["S11"] - AS - AS.T + A @ s["S00"] @ A.T) / (B * (T - 1))
    if "C" in names:
        C = torch.linalg.solve(s["Sxx"], s["Syx"].T).T  # Syx Sxx^{-1}
    if "R" in names:
        CS = C @ s["Syx"].T
        R = _sym(s["Syy"] - CS - CS.T + C @ s["Sxx"] @ C.T) / (B * T)
    if "m0" in names:
        m0 = stats["x0"].mean(0)
    if "P0" in names:
        d0 = stats["x0"] - m0
        P0 = _sym((stats["P0"] + d0[:, :, None] * d0[:, None, :]).mean(0))
    return LinearGaussian(A, C, Q, R, m0, P0)


class _FisherLogLikelihood(torch.autograd.Function):
    """Log-likelihood ``(B,)`` forward (compiled smoother); backward by Fisher's identity."""

    @staticmethod
    def forward(ctx: Any, y: Tensor, *params: Tensor) -> Tensor:  # type: ignore[override]
        model = LinearGaussian(*params)
        stats, ll = _statistics(y, model)
        ctx.stats = stats
        ctx.T = y.shape[1]
        ctx.save_for_backward(*params)
        return ll

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        A, C, Q, R, m0, P0 = ctx.saved_tensors
        T = ctx.T
        w = g.to(A.dtype)

        def total(name: str) -> Tensor:
            v = ctx.stats[name]
            return (w.reshape(-1, *([1] * (v.ndim - 1))) * v).sum(0)

        S00, S10, S11 = total("S00"), total("S10"), total("S11")
        Sxx, Syx, Syy = total("Sxx"), total("Syx"), total("Syy")
        n1, n_all, n0 = w.sum() * (T - 1), w.sum() * T, w.sum()
        Qi, Ri, P0i = (torch.linalg.inv(M) for M in (Q, R, P0))
        gA = Qi @ (S10 - A @ S00)
        AS = A @ S10.T
        gQ = 0.5 * Qi @ (S11 - AS - AS.T + A @ S00 @ A.T - n1 * Q) @ Qi
        gC = Ri @ (Syx - C @ Sxx)
        CS = C @ Syx.T
        gR = 0.5 * Ri @ (Syy - CS - CS.T + C @ Sxx @ C.T - n_all * R) @ Ri
        d0 = ctx.stats["x0"] - m0
        gm0 = P0i @ (w[:, None] * d0).sum(0)
        S0 = (w[:, None, None] * (ctx.stats["P0"] + d0[:, :, None] * d0[:, None, :])).sum(0)
        gP0 = 0.5 * P0i @ (S0 - n0 * P0) @ P0i
        return (None, gA, gC, _sym(gQ), _sym(gR), gm0, _sym(gP0))


def kalman_log_likelihood(y: Tensor, model: LinearGaussian) -> Tensor:
    """The exact log-likelihood of each sequence, with a cheap exact gradient.

    Same value as ``kalman_filter(y, model).log_likelihood``, but the backward pass does not
    go through the recursion: by Fisher's identity the gradient with respect to ``A, C, Q,
    R, m0, P0`` is the posterior expectation of the complete-data log-density's gradient,
    which the smoother's statistics give in closed form. The forward pass runs the compiled
    smoother. Gradients of ``Q``, ``R``, ``P0`` are symmetric (as for a symmetric matrix).

    Args:
        y: observations, NaN = missing coordinate; no gradient flows to ``y``.
        model: a time-invariant :class:`~dsp_rnn.filters.LinearGaussian`.

    Shape:
        y ``(B, T, m)`` or ``(T, m)`` -> ``(B,)`` in nats.

    Raises:
        InputError: a time-varying model, or ``y`` requiring grad.

    Properties: differentiable in the model's tensors (first order); CPU and CUDA; float32
    and float64.

    References: R. A. Fisher's identity, e.g. O. Cappé, E. Moulines & T. Rydén,
    "Inference in Hidden Markov Models" (2005), 10.2.3.

    Example:
        >>> import torch
        >>> A = torch.tensor([[0.5]], requires_grad=True)
        >>> model = LinearGaussian(A, torch.eye(1), torch.eye(1), torch.eye(1),
        ...                        torch.zeros(1), torch.eye(1))
        >>> kalman_log_likelihood(torch.ones(1, 20, 1), model).sum().backward()
        >>> A.grad.shape
        torch.Size([1, 1])
    """
    _check_invariant(model, "model")
    if isinstance(y, Tensor) and y.requires_grad:
        raise InputError("y: kalman_log_likelihood gives no gradient to y; use kalman_filter")
    y = _batched(y)
    out: Tensor = _FisherLogLikelihood.apply(y, *_fields(model))
    return out


def _spd_raw(M: Tensor) -> Tensor:
    """Unconstrained parameters of an SPD matrix: the Cholesky factor with log diagonal."""
    L = torch.linalg.cholesky(M)
    return torch.tril(L, -1) + torch.diag_embed(torch.log(torch.diagonal(L)))


def _spd(raw: Tensor) -> Tensor:
    L = torch.tril(raw, -1) + torch.diag_embed(torch.exp(torch.diagonal(raw)))
    return L @ L.T


class LinearGaussianModule(nn.Module):
    """A learnable time-invariant linear-Gaussian model: ``A, C, m0`` free, ``Q, R, P0``
    symmetric positive definite by construction (``L L^T``, ``L`` lower triangular with a
    positive (exponentiated) diagonal).

    Args:
        init: the starting :class:`~dsp_rnn.filters.LinearGaussian` (time-invariant; its
            covariances positive definite); the module takes its dtype.

    Shape:
        ``forward(y)``: ``(B, T, m)`` or ``(T, m)`` -> log-likelihoods ``(B,)`` (nats), by
        :func:`kalman_log_likelihood`.

    Example:
        >>> import torch
        >>> init = LinearGaussian(torch.eye(2) * 0.5, torch.ones(1, 2), torch.eye(2),
        ...                       torch.eye(1), torch.zeros(2), torch.eye(2))
        >>> module = LinearGaussianModule(init)
        >>> torch.allclose(module.model().Q, init.Q)
        True
    """

    def __init__(self, init: LinearGaussian) -> None:
        super().__init__()
        _check_invariant(init, "init")
        A, C, Q, R, m0, P0 = (t.detach().clone() for t in _fields(init))
        self.A = nn.Parameter(A)
        self.C = nn.Parameter(C)
        self.m0 = nn.Parameter(m0)
        self.Q_raw = nn.Parameter(_spd_raw(Q))
        self.R_raw = nn.Parameter(_spd_raw(R))
        self.P0_raw = nn.Parameter(_spd_raw(P0))

    def model(self) -> LinearGaussian:
        """The current model (differentiable in the parameters)."""
        return LinearGaussian(
            self.A, self.C, _spd(self.Q_raw), _spd(self.R_raw), self.m0, _spd(self.P0_raw)
        )

    def parameters_of(self, names: Iterable[str]) -> list[nn.Parameter]:
        """The parameters behind the named model tensors (``"Q"`` -> ``Q_raw``, ...)."""
        attr = {"A": "A", "C": "C", "m0": "m0", "Q": "Q_raw", "R": "R_raw", "P0": "P0_raw"}
        return [getattr(self, attr[name]) for name in _learn_set(names)]

    def forward(self, y: Tensor) -> Tensor:
        return kalman_log_likelihood(y, self.model())


def fit_gradient(
    y: Tensor,
    init: LinearGaussian,
    n_iter: int = 100,
    *,
    learn: Iterable[str] = PARAMETERS,
    lr: float = 1.0,
) -> KalmanFit:
    """Maximum likelihood by L-BFGS on the exact log-likelihood (:class:`LinearGaussianModule`).

    Args:
        y: observations, NaN = missing coordinate.
        init: the starting model (time-invariant, covariances positive definite).
        n_iter: at most this many L-BFGS iterations, ``>= 0`` (default 100), with a strong
            Wolfe line search; each evaluates the likelihood and its gradient
            (:func:`kalman_log_likelihood`, one compiled smoother pass) about once.
        learn: the parameters to fit (default all); the others stay as in ``init``.
        lr: L-BFGS step length (default 1).

    Shape:
        y ``(B, T, m)`` or ``(T, m)``.

    Returns:
        :class:`KalmanFit`: the model and the total log-likelihood at every evaluation
        (line-search trials included, so not always increasing), then of the result.

    Raises:
        InputError: a time-varying ``init``, unknown names in ``learn``.

    Properties: CPU and CUDA; float32 and float64 (``init``'s dtype; float64 advised).

    Example:
        >>> import torch
        >>> init = LinearGaussian(torch.eye(1) * 0.5, torch.eye(1), torch.eye(1),
        ...                       torch.eye(1), torch.zeros(1), torch.eye(1))
        >>> y = torch.randn(4, 100, 1, generator=torch.Generator().manual_seed(0))
        >>> fit = fit_gradient(y, init, n_iter=5, learn=("A", "Q", "R"))
        >>> bool(fit.log_likelihoods[-1] > fit.log_likelihoods[0])
        True
    """
    n_iter = check_int(n_iter, "n_iter", minimum=0)
    names = _learn_set(learn)
    y = _batched(y)
    module = LinearGaussianModule(init)
    params = module.parameters_of(names)
    for p in module.parameters():
        p.requires_grad_(any(p is q for q in params))
    scale = 1.0 / float(y.shape[0] * y.shape[1])
    lls: list[Tensor] = []

    def closure() -> Tensor:
        opt.zero_grad()
        ll = module(y).sum()
        lls.append(ll.detach())
        loss = -ll * scale
        loss.backward()
        return loss

    if params and n_iter:
        opt = torch.optim.LBFGS(
            params,
            lr=lr,
            max_iter=n_iter,
            tolerance_grad=1e-9,
            tolerance_change=1e-12,
            line_search_fn="strong_wolfe",
        )
        opt.step(closure)
    with torch.no_grad():
        final = module.model()
        lls.append(kalman_log_likelihood(y, final).sum())
    model = LinearGaussian(*(t.detach().clone() for t in _fields(final)))
    return KalmanFit(model, torch.stack(lls))


def spectral_factor(model: LinearGaussian, *, n_iter: int = 10_000) -> tuple[Tensor, Tensor]:
    """The transfer function ``(b, a)`` that shapes unit white noise into the model's
    stationary output (one observation): ``sqrt(s) (1 + C (zI - A)^{-1} K)``, the
    innovations form with the steady-state predictor gain ``K`` and innovation variance
    ``s``.

    Unlike ``A, C, Q, R`` (defined up to a change of state basis), this is unique for a
    given output spectrum (monic numerator up to the gain, minimum phase), so it is what a
    learned model can be compared with: ``dsp_rnn.compare.compare(spectral_factor(true),
    spectral_factor(learned))``.

    Args:
        model: a time-invariant model with one observation (``m = 1``) and ``A`` stable.
        n_iter: maximum Riccati iterations for the steady-state covariance (stops when it
            settles to 1e-12 relative).

    Returns:
        ``(b, a)``: numerator and denominator in powers of ``z^-1``, length ``n + 1``,
        ``a[0] = 1``, in the model's dtype (detached).

    Raises:
        InputError: a time-varying model or ``m != 1``.

    Example:
        >>> import torch
        >>> model = LinearGaussian(torch.tensor([[0.5]]), torch.eye(1), torch.eye(1),
        ...                        torch.zeros(1, 1), torch.zeros(1), torch.eye(1))
        >>> b, a = spectral_factor(model)
        >>> [round(v, 6) for v in b.tolist()], a.tolist()
        ([1.0, 0.0], [1.0, -0.5])
    """
    _check_invariant(model, "model")
    if model.observation_size != 1:
        raise InputError(
            f"model: spectral_factor needs one observation (m = 1), got m = "
            f"{model.observation_size}"
        )
    A, C, Q, R = (t.detach() for t in (model.A, model.C, model.Q, model.R))
    P = Q.clone()
    for _ in range(check_int(n_iter, "n_iter", minimum=1)):
        s = C @ P @ C.T + R
        K = A @ P @ C.T / s
        P_next = _sym(A @ P @ A.T + Q - K @ s @ K.T)
        done = bool((P_next - P).abs().max() <= 1e-12 * P.abs().max().clamp_min(1e-300))
        P = P_next
        if done:
            break
    s = C @ P @ C.T + R
    K = A @ P @ C.T / s
    # characteristic polynomials: a(z) = det(zI - A), b(z) = det(zI - A + K C)
    a = _charpoly(A)
    b = _charpoly(A - K @ C) * torch.sqrt(s[0, 0])
    return b, a


def _charpoly(M: Tensor) -> Tensor:
    """Coefficients of ``det(zI - M)`` in descending powers of ``z`` (= ascending ``z^-1``)."""
    roots = torch.linalg.eigvals(M)
    coef = torch.ones(1, dtype=roots.dtype)
    for r in roots:
        coef = torch.cat([coef, torch.zeros(1, dtype=roots.dtype)]) - r * torch.cat(
            [torch.zeros(1, dtype=roots.dtype), coef]
        )
    return coef.real.to(M.dtype)
