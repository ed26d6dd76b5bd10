"""The cell protocol for every cell: step == sequence, TBPTT == BPTT.

Block-wise == one shot, batch == items and gradcheck: tests/test_streaming_protocol.py.
"""

from __future__ import annotations

import copy

import pytest
import torch

from dsp_rnn.cells import (
    ElmanCell,
    GRUCell,
    IIRCell,
    LSTMCell,
    OrthogonalCell,
    PhasedLSTMCell,
    StateSpaceCell,
    TBPTTConfig,
    detach_state,
    tbptt_step,
    tbptt_windows,
)
from dsp_rnn.errors import InputError

from .conftest import rel_err

pytestmark = pytest.mark.usefixtures("one_thread")


F64 = torch.float64

FACTORIES = {
    "state_space_siso_odd": lambda: StateSpaceCell(5),
    "state_space_mimo": lambda: StateSpaceCell(6, 2, 1),
    "iir": lambda: IIRCell(3),
    "orthogonal_tanh": lambda: OrthogonalCell(6, 2, 2, "tanh"),
    "unitary_modrelu": lambda: OrthogonalCell(4, 2, 1, "modrelu", unitary=True),
    "phased_lstm": lambda: PhasedLSTMCell(2, 5, 3, period_range=(2.0, 10.0), r_on=0.3),
    "elman": lambda: ElmanCell(2, 4, 3),
    "lstm": lambda: LSTMCell(2, 4, 3, num_layers=2),
    "gru": lambda: GRUCell(2, 4),
}


def _make(name: str, seed: int = 0):
    torch.manual_seed(seed)
    cell = FACTORIES[name]().double()
    x = torch.randn(3, 40, cell.input_size, dtype=F64)
    return cell, x


def _flat(state) -> torch.Tensor:
    if isinstance(state, torch.Tensor):
        return torch.view_as_real(state).flatten() if state.is_complex() else state.flatten()
    return torch.cat([_flat(s) for s in state])


@pytest.mark.parametrize("name", FACTORIES)
def test_step_by_step_equals_the_whole_sequence(name):
    cell, x = _make(name, seed=1)
    state0 = cell.initial_state(3)
    y, state = cell(x, state0)
    ys, s = [], state0
    for t in range(x.shape[1]):
        y_t, s = cell.step(x[:, t], s)
        ys.append(y_t)
    assert rel_err(torch.stack(ys, 1), y) < 1e-13
    assert rel_err(_flat(s), _flat(state)) < 1e-13
    assert torch.equal(cell(x)[0], y)  # initial_state() is what state=None means


def _sgd_delta(cell, run) -> list[torch.Tensor]:
    before = [p.detach().clone() for p in cell.parameters()]
    run(torch.optim.SGD(cell.parameters(), lr=1.0))
    return [b - p.detach() for b, p in zip(before, cell.parameters(), strict=True)]


@pytest.mark.parametrize("name", FACTORIES)
def test_tbptt_gradient_equals_full_bptt_when_the_window_covers_the_sequence(name):
    cell, x = _make(name, seed=2)
    target = torch.randn(3, 40, cell.output_size, dtype=F64)
    loss_fn = torch.nn.functional.mse_loss
    ref = copy.deepcopy(cell)
    full = loss_fn(ref(x)[0], target)
    grads = torch.autograd.grad(full, list(ref.parameters()))
    cfg = TBPTTConfig(window=40, warmup=0, clip_grad_norm=None)
    out = {}

    def run(opt):
        out["loss"], out["state"] = tbptt_step(cell, x, target, loss_fn, opt, cfg)

    deltas = _sgd_delta(cell, run)
    assert abs(out["loss"] - float(full.detach())) < 1e-14
    for delta, grad in zip(deltas, grads, strict=True):
        assert rel_err(delta, grad) < 1e-12
    assert rel_err(_flat(out["state"]), _flat(ref(x)[1])) < 1e-13


@pytest.mark.parametrize("name", ["state_space_mimo", "orthogonal_tanh", "lstm", "phased_lstm"])
def test_tbptt_warmup_then_bptt_from_the_settled_state(name):
    cell, x = _make(name, seed=3)
    target = torch.randn(3, 40, cell.output_size, dtype=F64)
    loss_fn = torch.nn.functional.mse_loss
    ref = copy.deepcopy(cell)
    with torch.no_grad():
        _, warm = ref(x[:, :10])
    full = loss_fn(ref(x[:, 10:], warm)[0], target[:, 10:])
    grads = torch.autograd.grad(full, list(ref.parameters()))
    cfg = TBPTTConfig(window=30, warmup=10, clip_grad_norm=None)
    out = {}

    def run(opt):
        out["loss"], _ = tbptt_step(cell, x, target, loss_fn, opt, cfg)

    deltas = _sgd_delta(cell, run)
    assert abs(out["loss"] - float(full.detach())) < 1e-14
    for delta, grad in zip(deltas, grads, strict=True):
        assert rel_err(delta, grad) < 1e-12


def test_tbptt_short_windows_carry_the_state_and_clip_the_gradient():
    cell, x = _make("gru", seed=4)
    target = torch.randn(3, 40, cell.output_size, dtype=F64)
    loss_fn = torch.nn.functional.mse_loss
    with torch.no_grad():
        y_ref, state_ref = copy.deepcopy(cell)(x)
    cfg = TBPTTConfig(window=8, warmup=0, clip_grad_norm=None)
    loss, state = tbptt_step(
        cell, x, target, loss_fn, torch.optim.SGD(cell.parameters(), lr=0.0), cfg
    )
    assert abs(loss - float(loss_fn(y_ref, target))) < 1e-14  # equal windows: mean of means
    assert rel_err(state, state_ref) < 1e-14 and not state.requires_grad
    clip = 1e-3
    cfg = TBPTTConfig(window=40, warmup=0, clip_grad_norm=clip)
    deltas = _sgd_delta(cell, lambda opt: tbptt_step(cell, x, target, loss_fn, opt, cfg))
    norm = float(torch.sqrt(sum(d.square().sum() for d in deltas)))
    assert norm <= clip and abs(norm / clip - 1) < 1e-5  # torch divides by (norm + 1e-6)


def test_tbptt_passes_timestamps_window_by_window():
    cell, x = _make("phased_lstm", seed=5)
    times = torch.cumsum(torch.rand(3, 40, dtype=F64) + 0.1, 1)
    target = torch.randn(3, 40, cell.output_size, dtype=F64)
    with torch.no_grad():
        y_ref, _ = copy.deepcopy(cell)(x, times=times)
    cfg = TBPTTConfig(window=13, clip_grad_norm=None)
    opt = torch.optim.SGD(cell.parameters(), lr=0.0)
    loss_fn = torch.nn.functional.mse_loss
    loss, state = tbptt_step(cell, x, target, loss_fn, opt, cfg, times=times)
    want = sum(float(loss_fn(y_ref[:, a:b], target[:, a:b])) * (b - a) for a, b, _ in
               tbptt_windows(40, cfg)) / 40  # fmt: skip
    assert abs(loss - want) < 1e-14
    assert torch.equal(state[2], times[:, -1])


def test_detach_state_and_config_validation():
    h = torch.ones(2, requires_grad=True) * 2
    out = detach_state((h, (h, h)))
    assert not out[0].requires_grad and not out[1][1].requires_grad
    assert float(out[1][0][0]) == 2.0
    with pytest.raises(InputError, match="window"):
        TBPTTConfig(window=0)
    with pytest.raises(InputError, match="clip_grad_norm"):
        TBPTTConfig(clip_grad_norm=-1.0)
