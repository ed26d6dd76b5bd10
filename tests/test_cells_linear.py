"""StateSpaceCell and IIRCell: filter twins, conversions, realisations, stability, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings

from dsp_rnn.cells import IIRCell, StateSpaceCell
from dsp_rnn.errors import InputError, ShapeError, UnstableFilterError
from dsp_rnn.filters import butter, cheby1, freqz, lfilter, poles, sosfilt, sosfreqz, tf2ss

from .conftest import orders, random_stable_ba, random_stable_sos, rel_err, seeds

pytestmark = pytest.mark.usefixtures("one_thread")


FEW = settings(max_examples=15, deadline=None)


def _x(rng, batch, n_t, features=1, dtype=torch.float64):
    return torch.from_numpy(rng.standard_normal((batch, n_t, features))).to(dtype)


def _cerr(h, ref) -> float:
    """Relative error of complex responses (``rel_err`` would drop the imaginary part)."""
    return rel_err(torch.view_as_real(h.detach()), torch.view_as_real(ref))


def _loop(cell, x, state=None):
    ys = []
    for t in range(x.shape[1]):
        y_t, state = cell.step(x[:, t], state)
        ys.append(y_t)
    return torch.stack(ys, 1), state


# ----------------------------------------------------------------------------- twins
@FEW
@given(order=orders, seed=seeds)
def test_state_space_twin_matches_sosfilt_float64(order, seed):
    rng = np.random.default_rng(seed)
    sos = torch.from_numpy(random_stable_sos(rng, order))
    x = _x(rng, 3, 400)
    cell = StateSpaceCell.from_filter(sos)
    y, state = cell(x)
    assert y.dtype == torch.float64 and y.shape == (3, 400, 1)
    assert rel_err(y[..., 0], sosfilt(sos, x[..., 0])) < 1e-12
    # the state is sosfilt's zf, without the always-zero slot of first-order sections
    _, zf = sosfilt(sos, x[..., 0], torch.zeros(3, sos.shape[0], 2, dtype=torch.float64))
    first = (sos[:, 2] == 0) & (sos[:, 5] == 0)
    live = torch.stack([torch.ones_like(first), ~first], -1).reshape(-1)
    assert state.shape == (3, int(live.sum()))
    assert rel_err(state, zf.reshape(3, -1)[:, live]) < 1e-12


@FEW
@given(order=orders, seed=seeds)
def test_state_space_twin_matches_sosfilt_float32(order, seed):
    rng = np.random.default_rng(seed)
    sos64 = random_stable_sos(rng, order, max_radius=0.9)
    sos = torch.from_numpy(sos64.astype(np.float32))
    x = _x(rng, 2, 300, dtype=torch.float32)
    y, _ = StateSpaceCell.from_filter(sos)(x)
    assert y.dtype == torch.float32
    ref = scipy.signal.sosfilt(sos64, x[..., 0].double().numpy())
    assert rel_err(y[..., 0], ref) < 1e-4
    assert rel_err(y[..., 0], sosfilt(sos, x[..., 0])) < 1e-6


@FEW
@given(order=orders, seed=seeds)
def test_state_space_twin_of_transfer_function_and_state_space(order, seed):
    rng = np.random.default_rng(seed)
    b, a = (torch.from_numpy(v) for v in random_stable_ba(rng, order))
    x = _x(rng, 2, 300)
    ref = lfilter(b, a, x[..., 0])
    y_tf, _ = StateSpaceCell.from_filter((b, a))(x)
    y_ss, _ = StateSpaceCell.from_filter(tf2ss(b, a))(x)
    assert rel_err(y_tf[..., 0], ref) < 1e-7
    assert rel_err(y_ss[..., 0], ref) < 1e-7


@FEW
@given(order=orders, seed=seeds)
def test_to_filter_of_from_filter_has_the_same_response(order, seed):
    rng = np.random.default_rng(seed)
    sos = torch.from_numpy(random_stable_sos(rng, order))
    back = StateSpaceCell.from_filter(sos).to_filter()
    _, h_ref = sosfreqz(sos, n_freqs=256)
    _, h = sosfreqz(back, n_freqs=256)
    assert back.shape == sos.shape and not back.requires_grad
    assert _cerr(h, h_ref) < 1e-13
    b, a = (torch.from_numpy(v) for v in random_stable_ba(rng, order))
    cell = StateSpaceCell.from_filter((b, a))
    _, h_tf = freqz(b, a, n_freqs=256)
    assert _cerr(cell.freqz(256)[1], h_tf) < 1e-8
    assert _cerr(sosfreqz(cell.to_filter(), n_freqs=256)[1], h_tf) < 1e-8


def test_transfer_matrix_of_sos_is_a_mimo_twin():
    rng = np.random.default_rng(11)
    sos = torch.from_numpy(np.stack([[random_stable_sos(rng, 4) for _ in range(3)]
                                     for _ in range(2)]))  # fmt: skip
    cell = StateSpaceCell.from_filter(sos)  # (output 2, input 3, 2 sections, 6)
    assert (cell.output_size, cell.input_size, cell.state_size) == (2, 3, 24)
    x = _x(rng, 2, 200, 3)
    y, _ = cell(x)
    ref = torch.stack([sum(sosfilt(sos[j, i], x[..., i]) for i in range(3)) for j in range(2)], -1)
    assert rel_err(y, ref) < 1e-13
    assert torch.equal(cell.to_filter(), sos)
    assert cell.freqz(64)[1].shape == (2, 3, 64)


def test_odd_sections_are_first_order_and_state_size_counts_live_states():
    sos = torch.tensor(
        [[1.0, 0.5, 0.0, 1.0, -0.5, 0.0], [1.0, 0.2, 0.3, 1.0, -0.4, 0.2]], dtype=torch.float64
    )
    cell = StateSpaceCell.from_filter(sos)
    assert cell.state_size == 3
    assert StateSpaceCell(7).state_size == 7 and StateSpaceCell(7).n_sections == 4
    x = _x(np.random.default_rng(0), 2, 100)
    y, state = cell(x)
    _, zf = sosfilt(sos, x[..., 0], torch.zeros(2, 2, 2, dtype=torch.float64))
    assert rel_err(state, zf.reshape(2, 4)[:, [0, 2, 3]]) < 1e-14
    assert float(zf[:, 0, 1].abs().max()) == 0.0  # the dropped slot is always zero


# ----------------------------------------------------------------------------- realisation
@pytest.mark.parametrize(
    "state_size,input_size,output_size", [(1, 1, 1), (5, 1, 1), (8, 1, 1), (12, 2, 3), (6, 3, 1)]
)
def test_state_space_matrices_realise_the_cell(state_size, input_size, output_size):
    torch.manual_seed(state_size)
    cell = StateSpaceCell(state_size, input_size, output_size).double()
    A, B, C, D = cell.state_space()
    assert A.shape == (state_size, state_size) and B.shape == (state_size, input_size)
    assert C.shape == (output_size, state_size) and D.shape == (output_size, input_size)
    x = _x(np.random.default_rng(1), 2, 60, input_size)
    h = torch.randn(2, state_size, dtype=torch.float64)
    y, h_end = cell(x, h)
    ys = []
    for t in range(x.shape[1]):  # y_t = C h_{t-1} + D x_t, h_t = A h_{t-1} + B x_t
        ys.append(h @ C.T + x[:, t] @ D.T)
        h = h @ A.T + x[:, t] @ B.T
    assert rel_err(torch.stack(ys, 1), y) < 1e-13
    assert rel_err(h, h_end) < 1e-13
    assert torch.equal(cell.A, A) and torch.equal(cell.D, D)


def test_transition_eigenvalues_are_the_filter_poles():
    sos = butter(6, 2000.0, sample_rate=48000, dtype=torch.float64)
    eig = torch.linalg.eigvals(StateSpaceCell.from_filter(sos).A)
    ref = poles(sos)
    dist = (eig[:, None] - ref.reshape(-1)[None, :]).abs().amin(1)
    assert float(dist.detach().max()) < 1e-9


def test_state_space_gradients_equal_the_step_recursion():
    torch.manual_seed(3)
    cell = StateSpaceCell(12, 2, 2).double()  # four paths of order 3
    x = _x(np.random.default_rng(3), 2, 40, 2).requires_grad_()
    h0 = torch.randn(2, 12, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 40, 2, dtype=torch.float64)
    grads = []
    for run in (lambda: cell(x, h0), lambda: _loop(cell, x, h0)):
        y, h = run()
        loss = (y * w).sum() + h.square().sum()
        grads.append(torch.autograd.grad(loss, [x, h0, *cell.parameters()]))
    for g_fast, g_loop in zip(*grads, strict=True):
        assert rel_err(g_fast, g_loop) < 1e-11


def test_state_dict_round_trip_keeps_section_orders():
    sos = torch.tensor(
        [[1.0, 0.5, 0.0, 1.0, -0.5, 0.0], [1.0, 0.2, 0.3, 1.0, -0.4, 0.2]], dtype=torch.float64
    )
    cell = StateSpaceCell.from_filter(sos)
    other = StateSpaceCell(2).double()
    other.load_state_dict(cell.state_dict())
    x = _x(np.random.default_rng(4), 1, 50)
    assert other.state_size == 3
    assert torch.equal(other(x)[0], cell(x)[0])


# ----------------------------------------------------------------------------- IIRCell
@pytest.mark.parametrize("parameterization", ["triangle", "polar"])
def test_iir_cell_from_sos_round_trip_float64(parameterization):
    sos = cheby1(8, 1.0, 3000.0, sample_rate=48000, dtype=torch.float64)
    cell = IIRCell.from_sos(sos, parameterization=parameterization)
    assert cell.state_size == 8 and cell.to_sos().shape == (4, 6)
    assert float((cell.to_sos() - sos).abs().max()) < 1e-12
    x = _x(np.random.default_rng(5), 2, 300)
    assert rel_err(cell(x)[0][..., 0], sosfilt(sos, x[..., 0])) < 1e-10


@FEW
@given(order=orders, seed=seeds)
def test_iir_cell_triangle_represents_every_stable_section(order, seed):
    rng = np.random.default_rng(seed)
    sos = torch.from_numpy(random_stable_sos(rng, order, max_radius=0.99))
    cell = IIRCell.from_sos(sos)
    _, h_ref = sosfreqz(sos, n_freqs=128)
    assert _cerr(cell.freqz(128)[1], h_ref) < 1e-9
    p = cell.poles().detach()
    dist = (p.reshape(-1)[:, None] - poles(sos).reshape(-1)[None, :]).abs().amin(1)
    assert float(dist.max()) < 1e-6


@pytest.mark.parametrize("parameterization", ["triangle", "polar"])
@pytest.mark.parametrize("target", ["radius", "outside"])
def test_iir_cell_stays_stable_under_a_large_learning_rate(parameterization, target):
    torch.manual_seed(7)
    cell = IIRCell(4, parameterization=parameterization)
    opt = torch.optim.Adam(cell.parameters(), lr=1.0)
    # a target whose poles lie at radius 1.2: the optimum is out of reach
    bad = torch.tensor([[1.0, 0.0, 0.0, 1.0, -2.4 * np.cos(w), 1.44] for w in (0.1, 0.7, 1.5, 3.0)])
    worst = 0.0
    for _ in range(1000):
        opt.zero_grad()
        if target == "radius":
            loss = -cell.poles().abs().sum()
        else:
            loss = (cell.sos - bad).square().sum()
        loss.backward()
        opt.step()
        worst = max(worst, float(cell.poles().detach().abs().max()))
    assert worst < 1.0
    assert worst <= cell.r_max + 1e-6
    radius = poles(cell.to_sos().double()).abs()
    assert float(radius.max()) < 1.0 and float(radius.max()) > 0.99  # pushed to the edge


def test_iir_cell_learns_through_sosfilt_and_matches_the_step_gradient():
    torch.manual_seed(8)
    cell = IIRCell(2).double()
    x = _x(np.random.default_rng(8), 2, 64)
    grads = []
    for run in (lambda: cell(x), lambda: _loop(cell, x)):
        y, _ = run()
        grads.append(torch.autograd.grad(y.square().mean(), list(cell.parameters())))
    for g_fast, g_loop in zip(*grads, strict=True):
        assert rel_err(g_fast, g_loop) < 1e-11


# ----------------------------------------------------------------------------- errors
def test_linear_cells_raise_typed_errors():
    with pytest.raises(InputError, match="multiple of input_size"):
        StateSpaceCell(5, input_size=2)
    with pytest.raises(InputError, match="state_size"):
        StateSpaceCell(0)
    cell = StateSpaceCell(4)
    with pytest.raises(ShapeError, match=r"\(batch, time, 1\)"):
        cell(torch.zeros(2, 10))
    with pytest.raises(ShapeError, match="state_size=4"):
        cell(torch.zeros(2, 10, 1), torch.zeros(2, 3))
    with pytest.raises(ShapeError, match=r"\(batch, 1\)"):
        cell.step(torch.zeros(2, 10, 1))
    with pytest.raises(ShapeError, match="tuple of 3"):
        StateSpaceCell.from_filter(([1.0], [1.0], [1.0]))
    with pytest.raises(ShapeError, match="n_sections"):
        StateSpaceCell.from_filter(torch.zeros(3, 5))
    with pytest.raises(InputError, match="r_max"):
        IIRCell(2, r_max=1.0)
    with pytest.raises(InputError, match="parameterization"):
        IIRCell(2, parameterization="cartesian")
    with pytest.raises(UnstableFilterError, match="pole radius 1.1"):
        IIRCell.from_sos(torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0, 1.21]]))
    with pytest.raises(InputError, match="raise r_max"):
        IIRCell.from_sos(torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0, 0.81]]), r_max=0.8)
    with pytest.raises(InputError, match="distinct real poles"):
        IIRCell.from_sos(torch.tensor([[1.0, 0.0, 0.0, 1.0, -0.3, 0.02]]), parameterization="polar")
    with pytest.raises(ShapeError, match=r"\(n_sections, 6\)"):
        IIRCell.from_sos(torch.zeros(1, 1, 2, 6) + torch.tensor([1.0, 0, 0, 1, 0, 0]))


def test_iircell_log_frequency_start_spreads_resonances_and_is_seeded():
    from dsp_rnn.cells import IIRCell

    before = torch.random.get_rng_state()
    a = IIRCell.log_frequency(64, sample_rate=48_000, low_hz=50, high_hz=10_000, seed=3)
    assert torch.equal(torch.random.get_rng_state(), before)  # its own generator
    b = IIRCell.log_frequency(64, sample_rate=48_000, low_hz=50, high_hz=10_000, seed=3)
    assert torch.equal(a.to_sos(), b.to_sos())
    den = a.to_sos().detach().double()[:, 4:]
    hz = torch.acos(-den[:, 0] / (1 + den[:, 1])) * 48_000 / (2 * math.pi)  # cookbook w0
    assert bool(((hz > 49) & (hz < 10_100)).all())
    below_1k = float((hz < 1000).double().mean())  # log-uniform: 57% below 1 kHz
    assert 0.4 < below_1k < 0.75
    assert bool(a.poles().abs().max() < a.r_max)
    with pytest.raises(InputError, match="low_hz"):
        IIRCell.log_frequency(2, sample_rate=8000, low_hz=100, high_hz=5000)
