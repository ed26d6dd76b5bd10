"""lfilter / sosfilt: second-order gradients (create_graph=True) and scalar coefficients."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from dsp_rnn.cells import StateSpaceCell
from dsp_rnn.errors import InputError
from dsp_rnn.filters import allpass1, filtering, lfilter, sosfilt

from .conftest import random_stable_ba, random_stable_sos, rel_err

F64 = torch.float64


def _t(a, grad=True):
    return torch.tensor(np.asarray(a), dtype=F64).requires_grad_(grad)


# ----------------------------------------------------------------------------- double backward
@pytest.mark.parametrize("with_zi", [False, True])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_lfilter_gradgradcheck(order, with_zi):
    rng = np.random.default_rng(100 + order)
    b, a = random_stable_ba(rng, order, max_radius=0.8)
    a = a * 1.5  # a0 != 1: the normalisation is differentiated too
    x = _t(rng.standard_normal((2, 9)))
    inputs = [x, _t(b), _t(a)]
    if with_zi:
        inputs.append(_t(rng.standard_normal((2, order))))

        def fn(x, b, a, zi):
            y, zf = lfilter(b, a, x, zi)
            return y, zf

    else:

        def fn(x, b, a):
            return lfilter(b, a, x)

    assert torch.autograd.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("n_sections", [1, 2, 3])
def test_sosfilt_gradgradcheck_per_batch_coefficients(n_sections):
    rng = np.random.default_rng(200 + n_sections)
    sos = np.stack([random_stable_sos(rng, 2 * n_sections, max_radius=0.8) for _ in range(2)])
    inputs = [
        _t(rng.standard_normal((2, 8))),
        _t(sos),
        _t(rng.standard_normal((2, n_sections, 2))),
    ]

    def fn(x, sos, zi):
        return sosfilt(sos, x, zi)

    assert torch.autograd.gradgradcheck(fn, inputs)


def test_sosfilt_gradgradcheck_partial_inputs():
    """Only some inputs need gradients: the others stay constants in the graph."""
    rng = np.random.default_rng(3)
    sos = torch.from_numpy(random_stable_sos(rng, 4, max_radius=0.8))
    x = _t(rng.standard_normal((3, 10)))
    assert torch.autograd.gradgradcheck(lambda x: sosfilt(sos, x) ** 2, [x])
    sos_g = sos.clone().requires_grad_()
    x0 = x.detach()
    assert torch.autograd.gradgradcheck(lambda s: sosfilt(s, x0), [sos_g])


def test_create_graph_gradient_equals_kernel_gradient():
    rng = np.random.default_rng(4)
    sos = _t(random_stable_sos(rng, 6))
    x = _t(rng.standard_normal((2, 300)))
    zi = _t(rng.standard_normal((2, 3, 2)))
    y, zf = sosfilt(sos, x, zi)
    w = torch.from_numpy(rng.standard_normal((2, 300)))
    loss = (y * w).sum() + zf.square().sum()
    fast = torch.autograd.grad(loss, (x, sos, zi), retain_graph=True)
    graph = torch.autograd.grad(loss, (x, sos, zi), create_graph=True)
    for g_fast, g_graph in zip(fast, graph, strict=True):
        assert g_graph.requires_grad
        assert rel_err(g_graph, g_fast) < 1e-10


def test_first_order_backward_keeps_the_kernels(monkeypatch):
    """Without create_graph the torch recomputation is never entered."""

    def fail(*args, **kwargs):
        raise AssertionError("first-order backward went through the torch path")

    monkeypatch.setattr(filtering, "_cascade_torch", fail)
    rng = np.random.default_rng(5)
    sos = _t(random_stable_sos(rng, 4))
    x = _t(rng.standard_normal((2, 50)))
    sosfilt(sos, x).square().sum().backward()
    assert x.grad is not None and sos.grad is not None
    with pytest.raises(AssertionError, match="torch path"):
        torch.autograd.grad(sosfilt(sos, x).square().sum(), x, create_graph=True)


def test_hessian_vector_product_matches_finite_difference():
    """d/dc of the gradient through a filter, checked against a central difference."""
    rng = np.random.default_rng(6)
    x = torch.from_numpy(rng.standard_normal(64))
    target = torch.from_numpy(rng.standard_normal(64))

    def grad_at(c):
        c = c.detach().requires_grad_()
        loss = lfilter(torch.ones(1, dtype=F64), torch.stack([c.new_ones(()), -c]), x) - target
        (g,) = torch.autograd.grad(loss.square().sum(), c, create_graph=True)
        return c, g

    c, g = grad_at(torch.tensor(0.6, dtype=F64))
    (h,) = torch.autograd.grad(g, c)
    eps = 1e-6
    fd = (
        grad_at(torch.tensor(0.6 + eps, dtype=F64))[1]
        - grad_at(torch.tensor(0.6 - eps, dtype=F64))[1]
    )
    fd = fd.detach() / (2 * eps)
    assert abs(float(h) - float(fd)) < 1e-5 * abs(float(fd))


def test_allpass1_double_backward():
    rng = np.random.default_rng(7)
    x = _t(rng.standard_normal((2, 12)))
    coeff = _t([0.3, -0.5])
    assert torch.autograd.gradgradcheck(lambda x, c: allpass1(x, c), [x, coeff])


def test_state_space_cell_gradient_penalty():
    """A gradient penalty (create_graph=True) backpropagates into the cell's parameters."""
    torch.manual_seed(0)
    cell = StateSpaceCell(4).double()
    x = torch.randn(2, 30, 1, dtype=F64, requires_grad=True)
    params = dict(cell.named_parameters())
    names = list(params)

    def penalty(*values):
        y, _ = torch.func.functional_call(cell, dict(zip(names, values, strict=True)), (x,))
        (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
        return gx.square().sum()

    values = [p.detach().clone().requires_grad_() for p in params.values()]
    grads = torch.autograd.grad(penalty(*values), values)
    assert all(bool(torch.isfinite(g).all()) for g in grads)
    assert any(float(g.abs().max()) > 0 for g in grads)
    assert torch.autograd.gradcheck(penalty, values)


# ----------------------------------------------------------------------------- scalar b, a
_SCALARS = {
    "float": lambda v: v,
    "int": lambda v: int(v),
    "list": lambda v: [v],
    "numpy64": lambda v: np.float64(v),
    "numpy32": lambda v: np.float32(v),
    "tensor0d": lambda v: torch.tensor(v, dtype=F64),
    "tensor1d": lambda v: torch.tensor([v], dtype=F64),
    "array0d": lambda v: np.array(v),
}


@pytest.mark.parametrize("kind_a", list(_SCALARS))
@pytest.mark.parametrize("kind_b", list(_SCALARS))
def test_lfilter_scalar_coefficients_match_scipy(kind_b, kind_a):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 40))
    b, a = _SCALARS[kind_b](3.0), _SCALARS[kind_a](2.0)
    y = lfilter(b, a, torch.from_numpy(x))
    ref = scipy.signal.lfilter(np.asarray(b), np.asarray(a), x)
    assert y.shape == ref.shape
    assert rel_err(y, ref) < 1e-6  # float32 coefficients for Python numbers


@pytest.mark.parametrize("kind", ["float", "numpy64", "tensor0d", "array0d"])
def test_lfilter_scalar_with_vector_other_side(kind):
    rng = np.random.default_rng(9)
    x = rng.standard_normal(50)
    b, a = np.array([0.5, -0.2, 0.1]), np.array([1.0, -0.6, 0.2])
    scalar = _SCALARS[kind](1.5)
    fir = lfilter(torch.from_numpy(b), scalar, torch.from_numpy(x))
    iir, zf = lfilter(scalar, torch.from_numpy(a), torch.from_numpy(x), torch.zeros(2, dtype=F64))
    assert rel_err(fir, scipy.signal.lfilter(b, np.asarray(scalar), x)) < 1e-6
    y_ref, zf_ref = scipy.signal.lfilter(np.asarray(scalar), a, x, zi=np.zeros(2))
    assert rel_err(iir, y_ref) < 1e-6
    assert rel_err(zf, zf_ref) < 1e-6


def test_lfilter_scalar_zero_a_is_typed():
    with pytest.raises(InputError, match="a0 != 0"):
        lfilter(1.0, 0.0, torch.ones(3))


def test_plain_python_coefficients_take_the_signal_precision():
    """Lists and numbers are not rounded to float32 before a float64 signal is filtered."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(200)
    b, a = [0.1, 0.3, -0.2], [1.0, -0.7, 0.1]
    y = lfilter(b, a, torch.from_numpy(x)).numpy()
    assert np.abs(y - scipy.signal.lfilter(b, a, x)).max() < 1e-14  # float32 0.1: ~1e-8
    assert np.abs(lfilter([0.1], 1.0, torch.from_numpy(x)).numpy() - 0.1 * x).max() < 1e-15
    sos = [[0.1, 0.2, 0.1, 1.0, -0.3, 0.2]]
    y = sosfilt(sos, torch.from_numpy(x)).numpy()
    assert np.abs(y - scipy.signal.sosfilt(sos, x)).max() < 1e-15
    assert lfilter(b, a, torch.ones(4)).dtype == torch.float32  # float32 signals stay float32
