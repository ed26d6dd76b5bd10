"""PhasedLSTMCell against a direct implementation of Neil, Pfeiffer & Liu (2016)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp_rnn.cells import PhasedLSTMCell
from dsp_rnn.errors import InputError, NonFiniteError, ShapeError

from .conftest import rel_err, seeds

pytestmark = pytest.mark.usefixtures("one_thread")


F64 = torch.float64


def reference_gate(t: float, tau: float, s: float, r_on: float, alpha: float) -> float:
    """The paper's eq. (3), one unit, one timestamp, plain Python floats."""
    phi = math.fmod(t - s, tau)
    phi = (phi + tau if phi < 0 else phi) / tau
    if phi < r_on / 2:
        return 2 * phi / r_on
    if phi < r_on:
        return 2 - 2 * phi / r_on
    return alpha * phi


def reference_forward(cell: PhasedLSTMCell, x: torch.Tensor, times: torch.Tensor, alpha: float):
    """Eqs. (1)-(5) of the paper with torch.nn.LSTMCell's gates, written out per unit."""
    w_ih, w_hh, bias = (p.detach().double() for p in (cell.weight_ih, cell.weight_hh, cell.bias))
    tau = cell.period.detach().double().tolist()
    shift = cell.shift.detach().double().tolist()
    r_on = cell.r_on.detach().double().tolist()
    n_b, n_t, _ = x.shape
    n_h = cell.hidden_size
    h = torch.zeros(n_b, n_h, dtype=F64)
    c = torch.zeros(n_b, n_h, dtype=F64)
    hs = []
    for t in range(n_t):
        z = x[:, t].double() @ w_ih.T + h @ w_hh.T + bias
        i, f, g, o = torch.sigmoid(z[:, :n_h]), torch.sigmoid(z[:, n_h : 2 * n_h]), \
            torch.tanh(z[:, 2 * n_h : 3 * n_h]), torch.sigmoid(z[:, 3 * n_h :])  # fmt: skip
        c_tilde = f * c + i * g
        h_tilde = o * torch.tanh(c_tilde)
        k = torch.tensor(
            [[reference_gate(float(times[b, t]), tau[j], shift[j], r_on[j], alpha)
              for j in range(n_h)] for b in range(n_b)], dtype=F64,
        )  # fmt: skip
        c = k * c_tilde + (1 - k) * c
        h = k * h_tilde + (1 - k) * h
        hs.append(h)
    return torch.stack(hs, 1), h, c


def _irregular_times(rng, n_b, n_t, start=0.0):
    return torch.from_numpy(start + np.cumsum(rng.exponential(0.7, (n_b, n_t)), 1))


@settings(max_examples=15, deadline=None)
@given(seed=seeds, training=st.booleans())
def test_time_gate_equals_the_paper(seed, training):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed % 2**31)
    cell = PhasedLSTMCell(1, 6, period_range=(0.5, 20.0), r_on=0.2, leak=0.01).double()
    with torch.no_grad():
        cell.r_on_logit.uniform_(-3.0, 1.0)
        cell.shift.uniform_(-5.0, 25.0)
    cell.train(training)
    times = torch.from_numpy(rng.uniform(-30.0, 80.0, (3, 40)))
    k = cell.time_gate(times).detach()
    alpha = 0.01 if training else 0.0
    tau, s, r = (v.detach().tolist() for v in (cell.period, cell.shift, cell.r_on))
    ref = torch.tensor(
        [[[reference_gate(float(times[b, t]), tau[j], s[j], r[j], alpha) for j in range(6)]
          for t in range(40)] for b in range(3)], dtype=F64,
    )  # fmt: skip
    assert float((k.detach() - ref).abs().max()) < 1e-12
    assert float(k.min()) >= 0 and float(k.max()) <= 1


@pytest.mark.parametrize("training", [True, False])
def test_forward_equals_the_paper_equations_on_irregular_times(training):
    torch.manual_seed(1)
    rng = np.random.default_rng(1)
    cell = PhasedLSTMCell(3, 5, period_range=(1.0, 8.0), r_on=0.3).double().train(training)
    x = torch.from_numpy(rng.standard_normal((2, 30, 3)))
    times = _irregular_times(rng, 2, 30)
    y, (h, c, clock) = cell(x, times=times)
    y_ref, h_ref, c_ref = reference_forward(cell, x, times, cell.leak if training else 0.0)
    assert rel_err(y, y_ref) < 1e-13 and rel_err(h, h_ref) < 1e-13 and rel_err(c, c_ref) < 1e-13
    assert torch.equal(clock, times[:, -1])


def test_closed_gates_hold_the_state_exactly_in_eval():
    torch.manual_seed(2)
    cell = PhasedLSTMCell(2, 16, period_range=(5.0, 50.0), r_on=0.1).double().eval()
    x = torch.randn(1, 60, 2, dtype=F64)
    times = _irregular_times(np.random.default_rng(2), 1, 60)
    with torch.no_grad():
        y, _ = cell(x, times=times)
    k = cell.time_gate(times).detach()
    closed = k[0, 1:] == 0
    assert int(closed.sum()) > 100  # most units are closed most of the time
    assert torch.equal(y[0, 1:][closed], y[0, :-1][closed])
    opened = k[0, 1:] > 0.5
    assert float((y[0, 1:][opened] - y[0, :-1][opened]).abs().max()) > 1e-3


def test_default_times_continue_across_calls_and_equal_arange():
    torch.manual_seed(3)
    cell = PhasedLSTMCell(2, 4, 3, period_range=(2.0, 9.0), r_on=0.4).double()
    x = torch.randn(2, 25, 2, dtype=F64)
    y_default, state = cell(x)
    y_explicit, _ = cell(x, times=torch.arange(25, dtype=F64))
    assert torch.equal(y_default, y_explicit)
    assert state[2].tolist() == [24.0, 24.0]  # calls continue the clock: test_streaming_protocol


def test_gate_parameters_get_the_finite_difference_gradient():
    torch.manual_seed(4)
    cell = PhasedLSTMCell(1, 3, period_range=(3.0, 6.0), r_on=0.5, leak=0.05).double()
    x = torch.randn(1, 20, 1, dtype=F64)
    times = _irregular_times(np.random.default_rng(4), 1, 20)

    def loss() -> torch.Tensor:
        return cell(x, times=times)[0].square().sum()

    loss().backward()
    for param in (cell.log_period, cell.shift, cell.r_on_logit):
        grad = param.grad.clone()
        assert float(grad.abs().max()) > 1e-6
        for j in range(3):
            with torch.no_grad():
                param[j] += 1e-6
                up = float(loss())
                param[j] -= 2e-6
                down = float(loss())
                param[j] += 1e-6
            assert abs((up - down) / 2e-6 - float(grad[j])) < 1e-5 * max(1.0, abs(float(grad[j])))


def test_phased_lstm_typed_errors():
    with pytest.raises(InputError, match="r_on"):
        PhasedLSTMCell(1, 4, r_on=1.5)
    with pytest.raises(InputError, match="period_range"):
        PhasedLSTMCell(1, 4, period_range=(0.0, 1.0))
    with pytest.raises(InputError, match="leak"):
        PhasedLSTMCell(1, 4, leak=-1.0)
    cell = PhasedLSTMCell(2, 4)
    with pytest.raises(ShapeError, match=r"times: expected shape \(batch=3, time=5\)"):
        cell(torch.zeros(3, 5, 2), times=torch.zeros(3, 4))
    with pytest.raises(NonFiniteError, match="times"):
        cell(torch.zeros(1, 2, 2), times=torch.tensor([0.0, float("nan")]))
    with pytest.raises(ShapeError, match=r"\(h, c, clock\)"):
        cell(torch.zeros(3, 5, 2), (torch.zeros(3, 4), torch.zeros(3, 4)))
    with pytest.raises(InputError, match="dtype"):
        cell(torch.zeros(3, 5, 2, dtype=F64))
