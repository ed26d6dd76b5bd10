"""Gradient-stability diagnostics: vanishing (tanh), flat (orthogonal), exploding (unstable)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dsp_rnn.cells import ElmanCell, LSTMCell, OrthogonalCell, StateSpaceCell
from dsp_rnn.compare import gradient_norms, plot_gradient_stability
from dsp_rnn.errors import InputError
from dsp_rnn.filters import impulse_response


def _resonator(radius: float, theta: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    b = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    a = torch.tensor([1.0, -2 * radius * math.cos(theta), radius**2], dtype=torch.float64)
    return b, a


def test_tanh_rnn_gradient_vanishes():
    torch.manual_seed(0)
    cell = ElmanCell(1, 32).double()
    g = gradient_norms(cell, 200)
    assert g.norms[0] == pytest.approx(1.0, rel=1e-12)  # a unit direction on h_n
    assert g.ratio < 1e-3
    assert np.all(np.diff(np.log(g.norms[1:50])) < 0.5)  # decays (no sustained growth)


def test_orthogonal_cell_gradient_is_flat():
    torch.manual_seed(0)
    cell = OrthogonalCell(16, activation="identity").double()
    g = gradient_norms(cell, 200)
    assert np.abs(g.relative() - 1.0).max() < 1e-6
    assert abs(g.ratio - 1.0) < 1e-6


def test_unstable_linear_cell_gradient_explodes_at_the_pole_radius():
    one_pole = (
        torch.tensor([1.0], dtype=torch.float64),
        torch.tensor([1.0, -1.05], dtype=torch.float64),
    )
    g = gradient_norms(StateSpaceCell.from_filter(one_pole), 200)
    assert np.allclose(g.norms, 1.05**g.lags, rtol=1e-10)  # exactly r^k
    assert g.ratio > 1e4
    for radius in (1.05, 0.95):  # a resonator: r^k times a bounded oscillation
        g = gradient_norms(StateSpaceCell.from_filter(_resonator(radius)), 200)
        slope = np.polyfit(g.lags[50:], np.log(g.norms[50:]), 1)[0]
        assert slope == pytest.approx(math.log(radius), rel=0.05)
        assert (g.ratio > 1e3) if radius > 1 else (g.ratio < 1e-3)


def test_input_gradient_of_a_linear_cell_is_its_impulse_response():
    b, a = _resonator(0.9)
    cell = StateSpaceCell.from_filter((b, a))
    g = gradient_norms(cell, 60, wrt="input", warmup=5)
    h = impulse_response((b, a), 60).abs().numpy()  # dy_n / dx_(n-k) = h[k]
    assert np.allclose(g.norms[:60], h, rtol=1e-10, atol=1e-14)


def test_lstm_tuple_state_and_parameters_untouched():
    torch.manual_seed(0)
    cell = LSTMCell(1, 8, output_size=1).double()
    before = {k: v.clone() for k, v in cell.state_dict().items()}
    g = gradient_norms(cell, 50, batch_size=3)
    assert g.norms[0] == pytest.approx(1.0, rel=1e-12) and len(g.lags) == 51
    assert np.all(np.isfinite(g.norms)) and g.ratio < 1.0
    assert all(p.requires_grad and p.grad is None for p in cell.parameters())
    assert all(torch.equal(v, cell.state_dict()[k]) for k, v in before.items())


def test_errors_and_plot(tmp_path):
    cell = StateSpaceCell.from_filter(_resonator(0.9))
    with pytest.raises(InputError, match="n_steps"):
        gradient_norms(cell, 0)
    with pytest.raises(InputError, match="wrt"):
        gradient_norms(cell, 5, wrt="weights")
    results = [
        gradient_norms(cell, 100, label="stable, r = 0.9"),
        gradient_norms(StateSpaceCell.from_filter(_resonator(1.02)), 100, label="r = 1.02"),
    ]
    assert "lag 100" in str(results[0])
    png = plot_gradient_stability(results, tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
