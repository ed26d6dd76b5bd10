"""The filter <-> cell twin protocol (cells.FilterTwin): every linear cell round-trips."""

from __future__ import annotations

import pytest
import torch

from dsp_rnn.cells import (
    ElmanCell,
    FilterTwin,
    GRUCell,
    IIRCell,
    LSTMCell,
    OrthogonalCell,
    PhasedLSTMCell,
    StateSpaceCell,
)
from dsp_rnn.errors import InputError
from dsp_rnn.filters import FDN, butter, householder_matrix, random_orthogonal, sosfilt, sosfreqz

from .conftest import rel_err

F64 = torch.float64


def _signal(n: int = 300) -> torch.Tensor:
    return torch.randn(n, dtype=F64, generator=torch.Generator().manual_seed(0))


def test_linear_cells_are_twins_and_the_others_are_not():
    for cell in (StateSpaceCell(3), IIRCell(2), OrthogonalCell(4)):
        assert isinstance(cell, FilterTwin)
    for cell in (ElmanCell(1, 2), GRUCell(1, 2), LSTMCell(1, 2), PhasedLSTMCell(1, 2)):
        assert not isinstance(cell, FilterTwin)


def test_former_names_are_the_same_methods():
    assert IIRCell.from_sos.__func__ is IIRCell.from_filter.__func__
    assert OrthogonalCell.from_matrix.__func__ is OrthogonalCell.from_filter.__func__


@pytest.mark.parametrize("cls", [StateSpaceCell, IIRCell])
@pytest.mark.parametrize("as_tf", [False, True])
def test_cascade_cells_round_trip(cls, as_tf):
    sos = butter(5, 3000.0, sample_rate=16000, dtype=F64)
    system = sos
    if as_tf:
        from dsp_rnn.filters import sos2tf

        system = sos2tf(sos)
    cell = cls.from_filter(system)
    _, h_ref = sosfreqz(sos, n_freqs=256)
    _, h_twin = sosfreqz(cell.to_filter(), n_freqs=256)
    assert rel_err(h_twin, h_ref) < 1e-9
    x = _signal()
    with torch.no_grad():
        y_cell, _ = cell(x[None, :, None])
    assert rel_err(y_cell[0, :, 0], sosfilt(sos, x)) < 1e-9


@pytest.mark.parametrize("n_in, n_out", [(1, 1), (2, 3)])
def test_orthogonal_cell_round_trips_an_fdn_with_unit_delays(n_in, n_out):
    g = torch.Generator().manual_seed(1)
    n = 4
    b = torch.randn(n, n_in, dtype=F64, generator=g)
    c = torch.randn(n_out, n, dtype=F64, generator=g)
    d = torch.randn(n_out, n_in, dtype=F64, generator=g)
    net = FDN(
        [1] * n,
        random_orthogonal(n, seed=3, dtype=F64),
        input_gains=b[:, 0] if n_in == 1 else b,
        output_gains=c[0] if n_out == 1 else c,
        direct_gain=d[0, 0] if n_in == n_out == 1 else d,
    )
    cell = OrthogonalCell.from_filter(net)
    twin = cell.to_filter()
    assert isinstance(twin, FDN) and twin.delays_samples == [1] * n
    _, h_ref = net.freqz(64)
    _, h_twin = twin.freqz(64)
    assert rel_err(h_twin, h_ref) < 1e-10
    x = torch.randn(n_in, 200, dtype=F64, generator=g)
    with torch.no_grad():
        y_net, _ = net(x[0] if n_in == 1 else x)
        y_cell, _ = cell(x.T[None])
    y_net = y_net if n_out > 1 else y_net[None]
    assert rel_err(y_cell[0].T, y_net) < 1e-10


def test_orthogonal_cell_round_trips_a_matrix():
    h = householder_matrix(4, dtype=F64)
    twin = OrthogonalCell.from_filter(h).to_filter()
    assert rel_err(twin.feedback_matrix, h) < 1e-12


@pytest.mark.parametrize("kwargs", [dict(activation="tanh"), dict(unitary=True)])
def test_orthogonal_cell_without_a_linear_twin_says_so(kwargs):
    with pytest.raises(InputError, match="activation='identity'"):
        OrthogonalCell(4, **kwargs).to_filter()
