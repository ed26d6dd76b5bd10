"""Learning linear-Gaussian models: the Fisher-identity gradient equals autograd through the
filter, EM never lowers the likelihood, EM and gradient fitting recover a known system's
transfer function (its spectral factor, within 1 dB by dsp_rnn.compare), and the spectral
factor reproduces the model's output spectrum."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dsp_rnn.compare import compare
from dsp_rnn.errors import InputError
from dsp_rnn.filters import (
    LinearGaussian,
    LinearGaussianModule,
    fit_em,
    fit_gradient,
    kalman_filter,
    kalman_log_likelihood,
    spectral_factor,
)

from .test_kalman import random_model, sample

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def true_system() -> LinearGaussian:
    """A resonance at 0.2 x Nyquist (poles 0.9 e^{+-0.2 pi j}), one noisy observation."""
    r, th = 0.9, 0.2 * np.pi
    A = torch.tensor([[2 * r * np.cos(th), -(r**2)], [1.0, 0.0]], dtype=F64)
    return LinearGaussian(
        A=A,
        C=torch.tensor([[1.0, 0.5]], dtype=F64),
        Q=torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=F64) + 1e-6 * torch.eye(2, dtype=F64),
        R=torch.tensor([[0.5]], dtype=F64),
        m0=torch.zeros(2, dtype=F64),
        P0=torch.eye(2, dtype=F64),
    )


def start_model() -> LinearGaussian:
    return LinearGaussian(
        A=torch.tensor([[0.5, 0.1], [-0.1, 0.3]], dtype=F64),
        C=torch.tensor([[1.0, 1.0]], dtype=F64),
        Q=torch.eye(2, dtype=F64),
        R=torch.eye(1, dtype=F64),
        m0=torch.zeros(2, dtype=F64),
        P0=torch.eye(2, dtype=F64),
    )


def magnitude_error_db(learned: LinearGaussian, true: LinearGaussian) -> float:
    c = compare(spectral_factor(learned), spectral_factor(true), sample_rate=8000.0, band_db=40.0)
    return c.mag_diff_db_max


def test_fisher_gradient_equals_autograd_through_the_filter():
    model = random_model(21, 3, 2)
    y = sample(model, 3, 15, seed=22)
    y[0, 3, 1] = float("nan")
    y[1, 5] = float("nan")
    y[2, 0, 0] = float("nan")
    weights = torch.tensor([1.0, -0.5, 2.0], dtype=F64)

    def grads(fn):
        params = [t.clone().requires_grad_() for t in (model.A, model.C, model.Q, model.R)]
        params += [model.m0.clone().requires_grad_(), model.P0.clone().requires_grad_()]
        (fn(y, LinearGaussian(*params)) * weights).sum().backward()
        return [p.grad for p in params]

    fisher = grads(kalman_log_likelihood)
    auto = grads(lambda y, m: kalman_filter(y, m).log_likelihood)
    for f, a in zip(fisher, auto, strict=True):
        sym_a = 0.5 * (a + a.T) if a.ndim == 2 and a.shape[0] == a.shape[1] else a
        sym_f = 0.5 * (f + f.T) if f.ndim == 2 and f.shape[0] == f.shape[1] else f
        torch.testing.assert_close(sym_f, sym_a, atol=1e-8, rtol=1e-8)
    with torch.no_grad():
        torch.testing.assert_close(
            kalman_log_likelihood(y, model), kalman_filter(y, model).log_likelihood
        )


def test_em_increases_the_likelihood_monotonically_with_missing_values():
    true = random_model(23, 3, 2)
    y = sample(true, 4, 80, seed=24)
    y[:, ::6, 0] = float("nan")
    y[2, 10:14] = float("nan")
    fit = fit_em(y, random_model(25, 3, 2), n_iter=25)
    steps = fit.log_likelihoods.diff()
    assert bool((steps >= -1e-9 * fit.log_likelihoods.abs().max()).all()), steps
    assert float(fit.log_likelihoods[-1] - fit.log_likelihoods[0]) > 10.0
    for M in (fit.model.Q, fit.model.R, fit.model.P0):
        assert torch.equal(M, M.T)
        assert bool((torch.linalg.eigvalsh(M) > 0).all())


def test_em_keeps_what_it_is_not_asked_to_learn():
    init = start_model()
    y = sample(true_system(), 2, 50, seed=26)
    fit = fit_em(y, init, n_iter=3, learn=("A", "Q"))
    assert torch.equal(fit.model.C, init.C) and torch.equal(fit.model.R, init.R)
    assert not torch.equal(fit.model.A, init.A)
    with pytest.raises(InputError, match="learn"):
        fit_em(y, init, learn=("B",))


@pytest.mark.parametrize("method", ["em", "gradient"])
def test_learning_recovers_the_transfer_function_within_1_db(method):
    true = true_system()
    y = sample(true, 16, 500, seed=27)
    if method == "em":
        fit = fit_em(y, start_model(), n_iter=150, learn=("A", "C", "Q", "R"))
    else:
        fit = fit_gradient(y, start_model(), n_iter=100, learn=("A", "C", "Q", "R"))
    assert float(fit.log_likelihoods[-1]) > float(fit.log_likelihoods[0])
    assert magnitude_error_db(fit.model, true) < 1.0
    assert magnitude_error_db(start_model(), true) > 3.0  # the start is far off


def test_spectral_factor_reproduces_the_output_spectrum():
    model = true_system()
    b, a = spectral_factor(model)
    assert float(a[0]) == 1.0
    w = torch.linspace(0, np.pi, 64, dtype=F64)
    z = torch.exp(1j * w)
    k = torch.arange(b.shape[0], dtype=F64)
    zk = z[:, None] ** (-k)
    H = (zk @ b.to(torch.complex128)) / (zk @ a.to(torch.complex128))
    eye = torch.eye(2, dtype=torch.complex128)
    A, C, Q, R = (t.to(torch.complex128) for t in (model.A, model.C, model.Q, model.R))
    G = torch.stack([C @ torch.linalg.inv(zi * eye - A) for zi in z])  # (W, 1, 2)
    S = (G @ Q @ G.conj().transpose(-1, -2))[:, 0, 0].real + R[0, 0].real
    torch.testing.assert_close(H.abs() ** 2, S, rtol=1e-8, atol=0)


def test_module_parametrises_spd_covariances_and_rejects_time_varying_models():
    module = LinearGaussianModule(start_model())
    with torch.no_grad():
        module.Q_raw.copy_(torch.randn(2, 2, dtype=F64))
    assert bool((torch.linalg.eigvalsh(module.model().Q) > 0).all())
    varying = random_model(28, 2, 1, T=5)
    with pytest.raises(InputError, match="time-invariant"):
        fit_em(sample(varying, 1, 5, seed=0), varying)
    with pytest.raises(InputError, match="m = 1"):
        spectral_factor(random_model(29, 2, 2))
