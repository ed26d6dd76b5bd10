"""ElmanCell / LSTMCell / GRUCell against the torch.nn modules they wrap."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dsp_rnn.cells import ElmanCell, GRUCell, LSTMCell
from dsp_rnn.errors import InputError, ShapeError

from .conftest import rel_err

pytestmark = pytest.mark.usefixtures("one_thread")


F64 = torch.float64
CASES = [(ElmanCell, nn.RNN), (LSTMCell, nn.LSTM), (GRUCell, nn.GRU)]


@pytest.mark.parametrize("cls,reference", CASES)
@pytest.mark.parametrize("num_layers", [1, 2])
def test_wrappers_equal_the_torch_reference(cls, reference, num_layers):
    torch.manual_seed(num_layers)
    cell = cls(3, 6, output_size=2, num_layers=num_layers).double()
    ref = reference(3, 6, num_layers, batch_first=True).double()
    ref.load_state_dict(cell.rnn.state_dict())
    readout = nn.Linear(6, 2).double()
    readout.load_state_dict(cell.readout.state_dict())
    x = torch.randn(4, 33, 3, dtype=F64)
    h0 = torch.randn(num_layers, 4, 6, dtype=F64)
    state = (h0, torch.randn_like(h0)) if cls is LSTMCell else h0
    y, state_out = cell(x, state)
    out_ref, state_ref = ref(x, state)
    assert rel_err(y, readout(out_ref)) < 1e-14
    pairs = zip(state_out, state_ref, strict=True) if cls is LSTMCell else [(state_out, state_ref)]
    for got, want in pairs:
        assert rel_err(got, want) < 1e-14
    # same initial weights scheme as torch (uniform in +-1/sqrt(hidden))
    bound = 1 / 6**0.5
    assert float(cell.rnn.weight_hh_l0.detach().abs().max()) <= bound


@pytest.mark.parametrize("cls", [ElmanCell, LSTMCell, GRUCell])
def test_no_readout_means_y_is_the_top_hidden_state(cls):
    torch.manual_seed(5)
    cell = cls(2, 5, num_layers=2).double()
    x = torch.randn(3, 12, 2, dtype=F64)
    y, state = cell(x)
    h = state[0] if cls is LSTMCell else state
    assert cell.output_size == 5 and y.shape == (3, 12, 5)
    assert torch.equal(y[:, -1], h[-1])


def test_recurrent_typed_errors():
    with pytest.raises(InputError, match="num_layers"):
        LSTMCell(1, 4, num_layers=0)
    with pytest.raises(InputError, match="hidden_size"):
        GRUCell(1, -3)
    cell = LSTMCell(2, 4, num_layers=2)
    with pytest.raises(ShapeError, match=r"\(batch, time, 2\)"):
        cell(torch.zeros(3, 2))
    with pytest.raises(ShapeError, match=r"num_layers=2, batch=3, hidden_size=4"):
        cell(torch.zeros(3, 5, 2), torch.zeros(2, 3, 4))
    with pytest.raises(InputError, match="dtype"):
        cell(torch.zeros(3, 5, 2, dtype=F64))
    with pytest.raises(ShapeError, match=r"\(batch, 2\)"):
        ElmanCell(2, 4).step(torch.zeros(3, 1, 2))
