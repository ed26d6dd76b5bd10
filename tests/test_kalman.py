"""The Kalman filter and RTS smoother against exact references.

- brute force: condition the joint Gaussian of all states and observations (float64, 1e-8),
  time-invariant, time-varying, with offsets and with per-coordinate missing values;
- the log-likelihood is the multivariate normal log-density of the stacked observations;
- pykalman's own example data (its stored reference results) and pykalman itself;
- gradcheck on the likelihood; a batch equals its items; 10,000 steps of a badly
  conditioned system keep the covariances symmetric positive definite.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters import LinearGaussian, kalman_filter, kalman_smoother

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


# ----------------------------------------------------------------------------- helpers
def _spd(g: torch.Generator, n: int, scale: float = 1.0) -> torch.Tensor:
    M = torch.randn(n, n, generator=g, dtype=F64)
    return scale * (M @ M.T / n + 0.3 * torch.eye(n, dtype=F64))


def _stable(g: torch.Generator, n: int, radius: float = 0.9) -> torch.Tensor:
    M = torch.randn(n, n, generator=g, dtype=F64)
    return radius * M / torch.linalg.eigvals(M).abs().max()


def random_model(seed: int, n: int, m: int, T: int | None = None) -> LinearGaussian:
    """A random model; time-varying (``T`` entries per matrix) when ``T`` is given."""
    g = torch.Generator().manual_seed(seed)
    k = () if T is None else (T,)

    def many(fn):
        return fn() if T is None else torch.stack([fn() for _ in range(T)])

    return LinearGaussian(
        A=many(lambda: _stable(g, n)),
        C=torch.randn(*k, m, n, generator=g, dtype=F64),
        Q=many(lambda: _spd(g, n, 0.5)),
        R=many(lambda: _spd(g, m, 0.3)),
        m0=torch.randn(n, generator=g, dtype=F64),
        P0=_spd(g, n),
    )


def sample(model: LinearGaussian, B: int, T: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    n, m = model.state_size, model.observation_size

    def at(M, t):
        return M[t] if M.ndim == 3 else M

    x = model.m0 + torch.randn(B, n, generator=g, dtype=F64) @ torch.linalg.cholesky(model.P0).T
    ys = []
    for t in range(T):
        if t:
            w = (
                torch.randn(B, n, generator=g, dtype=F64)
                @ torch.linalg.cholesky(at(model.Q, t - 1)).T
            )
            x = x @ at(model.A, t - 1).T + w
        v = torch.randn(B, m, generator=g, dtype=F64) @ torch.linalg.cholesky(at(model.R, t)).T
        ys.append(x @ at(model.C, t).T + v)
    return torch.stack(ys, 1)


def joint(model: LinearGaussian, T: int, b=None, d=None):
    """Mean and covariance of the stacked states ``X (T n)`` and observations ``Y (T m)``."""
    n, m = model.state_size, model.observation_size

    def at(M, t):
        return M[t] if M.ndim == 3 else M

    # X = mu + G eps, eps = (x_0 - m0, w_0, ..., w_{T-2}) ~ N(0, blockdiag(P0, Q_0, ...))
    G = torch.zeros(T * n, T * n, dtype=F64)
    mu = torch.zeros(T, n, dtype=F64)
    mu[0] = model.m0
    G[:n, :n] = torch.eye(n, dtype=F64)
    for t in range(1, T):
        At = at(model.A, t - 1)
        G[t * n : (t + 1) * n] = At @ G[(t - 1) * n : t * n]
        G[t * n : (t + 1) * n, t * n : (t + 1) * n] = torch.eye(n, dtype=F64)
        mu[t] = At @ mu[t - 1] + (0 if b is None else b[t - 1])
    noise = torch.block_diag(model.P0, *[at(model.Q, t) for t in range(T - 1)])
    Sxx = G @ noise @ G.T
    H = torch.block_diag(*[at(model.C, t) for t in range(T)])
    Rb = torch.block_diag(*[at(model.R, t) for t in range(T)])
    my = (H @ mu.reshape(-1)).reshape(T, m) + (0 if d is None else d)
    return mu.reshape(-1), Sxx, my.reshape(-1), H @ Sxx, H @ Sxx @ H.T + Rb


def condition(mx, Sxx, my, Syx, Syy, y, keep):
    """``E[X | Y_keep]``, ``Cov[X | Y_keep]`` and ``log p(Y_keep)`` (MultivariateNormal)."""
    if not keep.any():
        return mx, Sxx, torch.zeros((), dtype=F64)
    yk, myk = y[keep], my[keep]
    Syy_k, Syx_k = Syy[keep][:, keep], Syx[keep]
    gain = torch.linalg.solve(Syy_k, Syx_k).T
    mean = mx + gain @ (yk - myk)
    cov = Sxx - gain @ Syx_k
    ll = torch.distributions.MultivariateNormal(myk, Syy_k).log_prob(yk)
    return mean, cov, ll


def brute_force(model, y, b=None, d=None):
    """Filtered and smoothed means/covariances and the log-likelihood of one sequence."""
    T, m = y.shape
    n = model.state_size
    mx, Sxx, my, Syx, Syy = joint(model, T, b, d)
    flat = y.reshape(-1)
    observed = ~torch.isnan(flat)
    step = torch.arange(T).repeat_interleave(m)
    fm, fP = [], []
    for t in range(T):
        mean, cov, _ = condition(mx, Sxx, my, Syx, Syy, flat, observed & (step <= t))
        fm.append(mean[t * n : (t + 1) * n])
        fP.append(cov[t * n : (t + 1) * n, t * n : (t + 1) * n])
    mean, cov, ll = condition(mx, Sxx, my, Syx, Syy, flat, observed)
    sm = mean.reshape(T, n)
    sP = torch.stack([cov[t * n : (t + 1) * n, t * n : (t + 1) * n] for t in range(T)])
    lag = torch.stack([cov[(t + 1) * n : (t + 2) * n, t * n : (t + 1) * n] for t in range(T - 1)])
    return torch.stack(fm), torch.stack(fP), sm, sP, lag, ll


def assert_near(a, b, atol=1e-8):
    torch.testing.assert_close(a.detach(), b, atol=atol, rtol=0)


def tracked(model: LinearGaussian) -> LinearGaussian:
    """The model with every tensor requiring grad: the autograd path instead of the compiled
    (numba) one, which runs when no gradient is tracked."""
    fields = (model.A, model.C, model.Q, model.R, model.m0, model.P0)
    return LinearGaussian(*(t.detach().clone().requires_grad_() for t in fields))


PATHS = ["compiled", "autograd"]


# ----------------------------------------------------------------------------- brute force
CASES = {
    "invariant": dict(n=3, m=2, varying=False, missing=False, offsets=False),
    "time_varying": dict(n=3, m=2, varying=True, missing=False, offsets=False),
    "missing_per_coordinate": dict(n=3, m=3, varying=False, missing=True, offsets=False),
    "varying_missing_offsets": dict(n=2, m=3, varying=True, missing=True, offsets=True),
    "one_observation": dict(n=4, m=1, varying=False, missing=True, offsets=True),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", list(CASES))
def test_filter_and_smoother_equal_brute_force_conditioning(case, path):
    c = CASES[case]
    T, B = 7, 3
    model = random_model(1, c["n"], c["m"], T if c["varying"] else None)
    y = sample(model, B, T, seed=2)
    if c["missing"]:
        mask = torch.rand(B, T, c["m"], generator=torch.Generator().manual_seed(3)) < 0.35
        mask[0, 2] = True  # a whole step missing: a pure prediction
        mask[1, 0, 0] = True  # the first step partly missing
        y = y.masked_fill(mask, float("nan"))
    b = d = None
    if c["offsets"]:
        g = torch.Generator().manual_seed(4)
        b = torch.randn(T - 1, c["n"], generator=g, dtype=F64)
        d = torch.randn(T, c["m"], generator=g, dtype=F64)
    run_model = tracked(model) if path == "autograd" else model
    out = kalman_smoother(y, run_model, transition_offsets=b, observation_offsets=d)
    assert out.means.requires_grad == (path == "autograd")
    for i in range(B):
        fm, fP, sm, sP, lag, ll = brute_force(model, y[i], b, d)
        assert_near(out.filtered.means[i], fm)
        assert_near(out.filtered.covariances[i], fP)
        assert_near(out.means[i], sm)
        assert_near(out.covariances[i], sP)
        assert_near(out.lag_one_covariances[i], lag)
        assert_near(out.log_likelihood[i], ll)
        assert_near(out.filtered.step_log_likelihoods[i].sum(), ll)


@pytest.mark.parametrize("path", PATHS)
def test_log_likelihood_is_the_stacked_observations_density(path):
    model = random_model(5, 2, 2)
    T = 12
    y = sample(model, 4, T, seed=6)
    _, _, my, _, Syy = joint(model, T)
    dist = torch.distributions.MultivariateNormal(my, Syy)
    run_model = tracked(model) if path == "autograd" else model
    assert_near(kalman_filter(y, run_model).log_likelihood, dist.log_prob(y.reshape(4, -1)))


def test_compiled_and_autograd_paths_agree_on_a_long_batch():
    model = random_model(17, 4, 3)
    y = sample(model, 5, 300, seed=18)
    y[:, ::5, 1] = float("nan")
    y[2, 10:20] = float("nan")
    a = kalman_smoother(y, model)
    g = kalman_smoother(y, tracked(model))
    for x, ref in [
        (g.means, a.means),
        (g.covariances, a.covariances),
        (g.lag_one_covariances, a.lag_one_covariances),
        (g.filtered.predicted_covariances, a.filtered.predicted_covariances),
        (g.filtered.step_log_likelihoods, a.filtered.step_log_likelihoods),
    ]:
        assert_near(x, ref, atol=1e-10)


def test_shared_covariances_equal_per_sequence_ones():
    # one P0 and one missing pattern for all: covariances and gains are computed once
    model = random_model(31, 3, 2)
    y = sample(model, 4, 50, seed=32)
    y[:, 7, 1] = float("nan")
    y[:, 20] = float("nan")
    shared = kalman_smoother(y, model)
    assert shared.covariances.stride(0) == 0  # an expanded view
    per = LinearGaussian(
        model.A, model.C, model.Q, model.R, model.m0, model.P0.expand(4, 3, 3).clone()
    )
    each = kalman_smoother(y, per)
    assert each.covariances.stride(0) != 0
    for a, b in [
        (shared.means, each.means),
        (shared.covariances, each.covariances),
        (shared.lag_one_covariances, each.lag_one_covariances),
        (shared.filtered.means, each.filtered.means),
        (shared.filtered.predicted_means, each.filtered.predicted_means),
        (shared.filtered.step_log_likelihoods, each.filtered.step_log_likelihoods),
    ]:
        assert_near(a, b, atol=1e-12)


def test_predicted_moments_are_the_previous_step_pushed_through_the_model():
    model = random_model(7, 3, 2)
    f = kalman_filter(sample(model, 2, 6, seed=8), model)
    assert_near(f.predicted_means[:, 0], model.m0.expand(2, 3))
    assert_near(f.predicted_means[:, 1:], f.means[:, :-1] @ model.A.T)
    assert_near(
        f.predicted_covariances[:, 1:], model.A @ f.covariances[:, :-1] @ model.A.T + model.Q
    )


# ----------------------------------------------------------------------------- pykalman
def _robot():
    from pykalman.datasets import load_robot

    data = load_robot()
    y = torch.tensor(np.ma.filled(data.observations.astype(float), np.nan))

    def t(a):
        return torch.tensor(np.asarray(a), dtype=F64)

    model = LinearGaussian(
        A=t(data.transition_matrix),
        C=t(data.observation_matrix),
        Q=t(data.transition_covariance),
        R=t(data.observation_covariance),
        m0=t(data.initial_state_mean),
        P0=t(data.initial_state_covariance),
    )
    return data, y, model, t(data.transition_offsets), t(data.observation_offset)


def test_equals_pykalman_reference_results_on_its_robot_data():
    data, y, model, b, d = _robot()
    out = kalman_smoother(y, model, transition_offsets=b, observation_offsets=d)
    assert_near(out.filtered.means[0], torch.tensor(data.filtered_state_means), atol=1e-9)
    assert_near(
        out.filtered.covariances[0], torch.tensor(data.filtered_state_covariances), atol=1e-9
    )
    assert_near(out.means[0], torch.tensor(data.smoothed_state_means), atol=1e-9)
    assert_near(out.covariances[0], torch.tensor(data.smoothed_state_covariances), atol=1e-9)


def test_equals_pykalman_filter_smoother_and_loglikelihood():
    from pykalman import KalmanFilter

    data, y, model, b, d = _robot()
    kf = KalmanFilter(
        data.transition_matrix,
        data.observation_matrix,
        data.transition_covariance,
        data.observation_covariance,
        data.transition_offsets,
        data.observation_offset,
        data.initial_state_mean,
        data.initial_state_covariance,
    )
    fm, fP = kf.filter(data.observations)
    sm, sP = kf.smooth(data.observations)
    out = kalman_smoother(y, model, transition_offsets=b, observation_offsets=d)
    assert_near(out.filtered.means[0], torch.tensor(fm), atol=1e-9)
    assert_near(out.filtered.covariances[0], torch.tensor(fP), atol=1e-9)
    assert_near(out.means[0], torch.tensor(sm), atol=1e-9)
    assert_near(out.covariances[0], torch.tensor(sP), atol=1e-9)
    assert_near(out.log_likelihood[0], torch.tensor(kf.loglikelihood(data.observations)), atol=1e-7)


# ----------------------------------------------------------------------------- properties
def test_gradcheck_on_the_log_likelihood():
    model = random_model(9, 2, 2)
    y = sample(model, 2, 5, seed=10)
    y[0, 1, 0] = float("nan")
    observed = ~torch.isnan(y)

    def ll(A, C, Lq, Lr, m0, Lp, y_obs):
        yy = torch.full_like(y, float("nan")).masked_scatter(observed, y_obs)
        spd = [L @ L.T + 0.1 * torch.eye(L.shape[0], dtype=F64) for L in (Lq, Lr, Lp)]
        return (
            kalman_smoother(yy, LinearGaussian(A, C, spd[0], spd[1], m0, spd[2])).means.sum()
            + (
                kalman_filter(yy, LinearGaussian(A, C, spd[0], spd[1], m0, spd[2])).log_likelihood
            ).sum()
        )

    inputs = [
        model.A,
        model.C,
        torch.linalg.cholesky(model.Q),
        torch.linalg.cholesky(model.R),
        model.m0,
        torch.linalg.cholesky(model.P0),
        y[observed],
    ]
    inputs = [t.clone().requires_grad_() for t in inputs]
    assert torch.autograd.gradcheck(ll, inputs)


def test_a_batch_equals_its_items_and_2d_input_is_one_sequence():
    model = random_model(11, 3, 2)
    y = sample(model, 3, 9, seed=12)
    y[1, 4, 1] = float("nan")
    out = kalman_smoother(y, model)
    for i in range(3):
        one = kalman_smoother(y[i], model)
        assert_near(one.means[0], out.means[i], atol=1e-12)
        assert_near(one.covariances[0], out.covariances[i], atol=1e-12)
        assert_near(one.log_likelihood[0], out.log_likelihood[i], atol=1e-12)


def test_float32_in_float32_out_and_close_to_float64():
    model = random_model(13, 2, 2)
    y = sample(model, 2, 20, seed=14)
    out64 = kalman_smoother(y, model)
    m32 = LinearGaussian(
        *(t.float() for t in (model.A, model.C, model.Q, model.R, model.m0, model.P0))
    )
    out32 = kalman_smoother(y.float(), m32)
    assert out32.means.dtype == torch.float32 and out64.means.dtype == F64
    torch.testing.assert_close(out32.means.double(), out64.means, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("path", PATHS)
def test_covariances_stay_symmetric_positive_definite_over_10000_steps(path):
    # Badly conditioned: state scales 1e3 apart, a nearly singular transition, tiny noises.
    A = torch.tensor([[0.9999, 1.0, 0.0], [0.0, 0.9999, 1e-3], [0.0, 0.0, 0.5]], dtype=F64)
    S = torch.diag(torch.tensor([1e3, 1.0, 1e-3], dtype=F64))
    A = S @ A @ torch.linalg.inv(S)
    Q = torch.diag(torch.tensor([1e-2, 1e-8, 1e-14], dtype=F64))
    C = torch.tensor([[1.0, 0.0, 0.0], [1e-3, 1.0, 0.0]], dtype=F64)
    R = torch.diag(torch.tensor([1e-6, 1e2], dtype=F64))
    model = LinearGaussian(A, C, Q, R, torch.zeros(3, dtype=F64), 1e6 * torch.eye(3, dtype=F64))
    T = 10_000
    y = torch.randn(2, T, 2, generator=torch.Generator().manual_seed(15), dtype=F64)
    y[:, ::7, 0] = float("nan")
    out = kalman_smoother(y, tracked(model) if path == "autograd" else model)
    for P in (out.filtered.covariances, out.filtered.predicted_covariances, out.covariances):
        P = P.detach()
        assert torch.equal(P, P.transpose(-1, -2))
        assert bool((torch.linalg.eigvalsh(P) > 0).all())
    assert bool(torch.isfinite(out.log_likelihood).all())


def test_not_positive_definite_raises_on_both_paths():
    model = random_model(19, 2, 2)
    bad = LinearGaussian(model.A, model.C, model.Q, -torch.eye(2, dtype=F64), model.m0, model.P0)
    y = sample(model, 2, 4, seed=20)
    for m in (bad, tracked(bad)):
        with pytest.raises(torch.linalg.LinAlgError):
            kalman_filter(y, m)


def test_bad_shapes_raise_typed_errors():
    model = random_model(16, 3, 2)
    y = torch.zeros(2, 5, 2, dtype=F64)
    with pytest.raises(ShapeError, match=r"\(batch, time, 2\)"):
        kalman_filter(torch.zeros(2, 5, 3, dtype=F64), model)
    with pytest.raises(ShapeError, match="model.A"):
        kalman_filter(
            y,
            LinearGaussian(
                torch.eye(3, dtype=F64)[None].repeat(2, 1, 1),
                *(model.C, model.Q, model.R, model.m0, model.P0),
            ),
        )
    with pytest.raises(ShapeError, match="model.m0"):
        kalman_filter(
            y, LinearGaussian(model.A, model.C, model.Q, model.R, torch.zeros(2), model.P0)
        )
    with pytest.raises(ShapeError, match="observation_offsets"):
        kalman_filter(y, model, observation_offsets=torch.zeros(4, 2))
    with pytest.raises(InputError, match="LinearGaussian"):
        kalman_filter(y, (model.A, model.C))  # type: ignore[arg-type]
