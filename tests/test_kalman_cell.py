"""KalmanCell: the cell protocol (block-wise == one shot, step == sequence, batch == items),
equality with kalman_filter on the cell's model, and the filter twin's limit (nothing
observed: the StateSpaceCell itself)."""

from __future__ import annotations

import pytest
import torch

from dsp_rnn.cells import KalmanCell, StateSpaceCell
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters import LinearGaussian, kalman_filter

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64


def make(mimo: bool = False, seed: int = 0) -> tuple[KalmanCell, torch.Tensor]:
    torch.manual_seed(seed)
    lin = StateSpaceCell(4, 2, 1) if mimo else StateSpaceCell(3)
    cell = KalmanCell(lin, process_noise=0.05, observation_noise=0.2).double()
    g = torch.Generator().manual_seed(seed + 1)
    u = torch.randn(3, 40, lin.input_size, generator=g, dtype=F64)
    with torch.no_grad():
        clean, _ = lin.double()(u)
    z = clean + 0.4 * torch.randn(clean.shape, generator=g, dtype=F64)
    z[:, ::5] = float("nan")
    z[1, 7:12] = float("nan")
    return cell, torch.cat([u, z], -1)


def _run_blocks(cell, x, cuts, state=None):
    ys = []
    for a, b in zip([0, *cuts], [*cuts, x.shape[1]], strict=True):
        y, state = cell(x[:, a:b], state)
        ys.append(y)
    return torch.cat(ys, 1), state


@pytest.mark.parametrize("grad", [False, True], ids=["compiled", "autograd"])
@pytest.mark.parametrize("mimo", [False, True], ids=["siso", "mimo"])
def test_blockwise_equals_one_shot(grad, mimo):
    cell, x = make(mimo)
    with torch.set_grad_enabled(grad):
        y, (m, P) = cell(x)
        for cuts in ([1, 2, 3], [7, 19, 20, 33], [13]):
            yb, (mb, Pb) = _run_blocks(cell, x, cuts)
            torch.testing.assert_close(yb, y, atol=1e-12, rtol=0)
            torch.testing.assert_close(mb, m, atol=1e-12, rtol=0)
            torch.testing.assert_close(Pb, P, atol=1e-12, rtol=0)
    assert y.requires_grad == grad


def test_step_loop_equals_sequence_and_empty_block_keeps_the_state():
    cell, x = make()
    with torch.no_grad():
        y, state = cell(x)
        s, ys = None, []
        for t in range(x.shape[1]):
            y_t, s = cell.step(x[:, t], s)
            ys.append(y_t)
        torch.testing.assert_close(torch.stack(ys, 1), y, atol=1e-12, rtol=0)
        y0, s0 = cell(x[:, :0], state)
        assert y0.shape == (3, 0, 1) and torch.equal(s0[0], state[0])


def test_equals_kalman_filter_on_the_cells_model():
    cell, x = make(mimo=True)
    lin = cell.cell
    with torch.no_grad():
        A, B, C, D = lin.state_space()
        u, z = x[..., :2], x[..., 2:]
        model = LinearGaussian(A, C, cell.Q, cell.R, torch.zeros(4, dtype=F64), cell.P0)
        ref = kalman_filter(z, model, transition_offsets=u @ B.T, observation_offsets=u @ D.T)
        f, (m, P) = cell.filter(x)
        y, _ = cell(x)
    torch.testing.assert_close(f.means, ref.means, atol=1e-12, rtol=0)
    torch.testing.assert_close(f.log_likelihood, ref.log_likelihood, atol=1e-10, rtol=0)
    torch.testing.assert_close(y, ref.means @ C.T + u @ D.T, atol=1e-12, rtol=0)
    # the state is the prediction of the next step
    torch.testing.assert_close(m, ref.means[:, -1] @ A.T + u[:, -1] @ B.T, atol=1e-12, rtol=0)
    torch.testing.assert_close(P, A @ ref.covariances[:, -1] @ A.T + cell.Q, atol=1e-12, rtol=0)


@pytest.mark.parametrize("mimo", [False, True], ids=["siso", "mimo"])
def test_nothing_observed_is_the_state_space_cell_itself(mimo):
    cell, x = make(mimo)
    n_in = cell.cell.input_size
    x = x.clone()
    x[..., n_in:] = float("nan")
    with torch.no_grad():
        y, (m, _) = cell(x)
        y_lin, h = cell.cell(x[..., :n_in])
    torch.testing.assert_close(y, y_lin, atol=1e-10, rtol=0)
    torch.testing.assert_close(m, h, atol=1e-10, rtol=0)


def test_observing_reduces_the_error_and_the_variance_is_calibrated():
    torch.manual_seed(3)
    lin = StateSpaceCell(2).double()
    cell = KalmanCell(lin, process_noise=0.5, observation_noise=0.25).double()
    g = torch.Generator().manual_seed(4)
    with torch.no_grad():
        A, B, C, D = lin.state_space()
        u = torch.randn(4, 300, 1, generator=g, dtype=F64)
        s, clean = torch.zeros(4, 2, dtype=F64), []
        for t in range(300):  # the state is driven by noise the cell does not see
            clean.append(s @ C.T + u[:, t] @ D.T)
            s = s @ A.T + u[:, t] @ B.T + 0.5**0.5 * torch.randn(4, 2, generator=g, dtype=F64)
        clean = torch.stack(clean, 1)
        z = clean + 0.5 * torch.randn(clean.shape, generator=g, dtype=F64)
        blind, _ = cell(torch.cat([u, torch.full_like(z, float("nan"))], -1))
        seen, _ = cell(torch.cat([u, z], -1))
    err_blind = (blind - clean).pow(2).mean()
    err_seen = (seen - clean).pow(2).mean()
    err_raw = (z - clean).pow(2).mean()
    assert float(err_seen) < 0.85 * min(float(err_blind), float(err_raw))
    # and the filter knows how far off it is: its variance of C s matches the error
    with torch.no_grad():
        f, _ = cell.filter(torch.cat([u, z], -1))
    predicted = (C @ f.covariances @ C.T).mean()
    assert abs(float(predicted) / float(err_seen) - 1) < 0.15


def test_gradcheck_through_observations_state_and_parameters():
    cell, x = make()
    x = x[:2, :6].clone()
    obs = ~torch.isnan(x)
    m0 = torch.randn(2, 3, dtype=F64, requires_grad=True)
    P0 = torch.eye(3, dtype=F64).expand(2, 3, 3).clone().requires_grad_()

    def run(x_obs, m0, P0, num, den):
        xx = torch.full_like(x, float("nan")).masked_scatter(obs, x_obs)
        with torch.no_grad():
            cell.cell.numerator.copy_(num.detach())
            cell.cell.denominator.copy_(den.detach())
        y, (m, P) = cell(xx, (m0, 0.5 * (P0 + P0.transpose(-1, -2))))
        return y.sum() + m.sum() + P.sum()

    inputs = (x[obs].clone().requires_grad_(), m0, P0)
    assert torch.autograd.gradcheck(
        lambda a, b, c: run(a, b, c, cell.cell.numerator, cell.cell.denominator), inputs
    )
    # and the cell's own parameters
    cell.zero_grad()
    y, _ = cell(x)
    y.sum().backward()
    assert cell.cell.numerator.grad is not None
    assert bool(cell.cell.numerator.grad.abs().sum() > 0)


def test_bad_arguments_raise_typed_errors():
    lin = StateSpaceCell(2)
    with pytest.raises(InputError, match="StateSpaceCell"):
        KalmanCell(torch.nn.Linear(1, 1), 1.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ShapeError, match="process_noise"):
        KalmanCell(lin, torch.eye(3), 1.0)
    with pytest.raises(InputError, match="symmetric"):
        KalmanCell(lin, torch.tensor([[1.0, 0.5], [0.0, 1.0]]), 1.0)
    cell = KalmanCell(lin, 0.1, 1.0)
    with pytest.raises(ShapeError, match=r"\(batch, time, 2\)"):
        cell(torch.zeros(1, 5, 1))
    with pytest.raises(ShapeError, match="state"):
        cell(torch.zeros(1, 5, 2), (torch.zeros(2, 2), torch.zeros(2, 2, 2)))


# ----------------------------------------------------------------------------- compare
def _simulated_butterworth():
    from dsp_rnn.filters import butter

    lin = StateSpaceCell.from_filter(butter(2, 500.0, sample_rate=8000, dtype=F64))
    g = torch.Generator().manual_seed(5)
    A, B, C, D = lin.state_space()
    u = torch.randn(4, 300, 1, generator=g, dtype=F64)
    s, clean = torch.zeros(4, 2, dtype=F64), []
    with torch.no_grad():
        for t in range(300):
            clean.append(s @ C.T + u[:, t] @ D.T)
            s = s @ A.T + u[:, t] @ B.T + 1e-3**0.5 * torch.randn(4, 2, generator=g, dtype=F64)
    clean = torch.stack(clean, 1)
    z = clean + 0.05**0.5 * torch.randn(clean.shape, generator=g, dtype=F64)
    z[:, 100:140] = float("nan")
    return lin, torch.cat([u, z], -1), clean


def test_compare_estimates_bands_cover_the_truth_and_the_true_model_is_likelier(tmp_path):
    from dsp_rnn.compare import kalman_estimates

    lin, x, clean = _simulated_butterworth()
    true = KalmanCell(lin, process_noise=1e-3, observation_noise=0.05)
    wrong = KalmanCell(lin, process_noise=1e-3, observation_noise=0.5)
    est = kalman_estimates(true, x, truth=clean, reference=wrong, labels=("true", "wrong"))
    assert 0.9 < est.coverage["filtered"] <= 1.0 and 0.9 < est.coverage["smoothed"] <= 1.0
    r = est.rmse
    assert r["smoothed"] < r["filtered"] < 0.6 * r["observed"]
    assert est.reference_log_likelihood is not None
    assert bool((est.log_likelihood > est.reference_log_likelihood).all())
    # the bands widen where observations are missing
    gap, seen = est.output_smoothed_std[:, 110:130].mean(), est.output_smoothed_std[:, 50:90].mean()
    assert float(gap) > 1.5 * float(seen)
    assert "true: log-likelihood" in est.summary() and "coverage" in est.summary()
    out = est.plot(tmp_path / "estimates.png", sequence=1)
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_compare_estimates_of_a_linear_gaussian_model_equal_the_smoother():
    from dsp_rnn.compare import kalman_estimates
    from dsp_rnn.filters import kalman_smoother

    from .test_kalman import random_model, sample

    model = random_model(30, 3, 2)
    y = sample(model, 2, 30, seed=31)
    est = kalman_estimates(model, y)
    ref = kalman_smoother(y, model)
    torch.testing.assert_close(est.state_smoothed, ref.means)
    torch.testing.assert_close(est.output_smoothed, ref.means @ model.C.T)
    assert est.truth is None and est.rmse["smoothed"] != est.rmse["smoothed"]  # nan
    with pytest.raises(InputError, match="KalmanCell or a LinearGaussian"):
        kalman_estimates(StateSpaceCell(2), y)
    with pytest.raises(ShapeError, match="truth"):
        kalman_estimates(model, y, truth=torch.zeros(2, 30, 1))
