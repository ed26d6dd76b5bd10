"""OrthogonalCell: orthogonality by construction, losslessness, network twins, activations."""

from __future__ import annotations

import pytest
import torch

from dsp_rnn.cells import OrthogonalCell
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters import (
    FDN,
    GerzonAllpass,
    hadamard_matrix,
    householder_matrix,
    random_orthogonal,
    random_unitary,
)

from .conftest import rel_err

pytestmark = pytest.mark.usefixtures("one_thread")


F64 = torch.float64


def _orth_dev(u: torch.Tensor) -> float:
    eye = torch.eye(u.shape[0], dtype=u.dtype)
    return float((u.mH @ u - eye).abs().max())


@pytest.mark.parametrize("unitary", [False, True])
def test_identity_activation_keeps_the_state_norm_over_10000_steps(unitary):
    torch.manual_seed(0)
    cell = OrthogonalCell(16, unitary=unitary).double()
    h0 = cell.initial_state(3) + torch.randn(3, 16, dtype=F64)
    with torch.no_grad():
        y, h = cell(torch.zeros(3, 10_000, 1, dtype=F64), h0)
    ratio = h.abs().norm(dim=1) / h0.abs().norm(dim=1)
    assert float((ratio - 1).abs().max()) < 1e-5
    assert float((ratio - 1).abs().max()) < 1e-11  # in fact: rounding only
    assert y.shape == (3, 10_000, 1) and bool(torch.isfinite(y).all())


@pytest.mark.parametrize("unitary", [False, True])
def test_transition_is_orthogonal_by_construction_even_after_training(unitary):
    torch.manual_seed(1)
    cell = OrthogonalCell(12, 2, 2, "modrelu", unitary=unitary).double()
    assert _orth_dev(cell.transition().detach()) < 1e-12
    opt = torch.optim.Adam(cell.parameters(), lr=0.05)
    x = torch.randn(4, 20, 2, dtype=F64)
    target = torch.randn(4, 20, 2, dtype=F64)
    for _ in range(20):
        opt.zero_grad()
        loss = (cell(x)[0] - target).square().mean()
        loss.backward()
        opt.step()
    u = cell.transition().detach()
    assert _orth_dev(u) < 1e-12
    assert float((u - torch.eye(12, dtype=u.dtype)).abs().max()) > 0.1  # it did move
    assert float(cell.skew.grad.abs().max()) > 0


@pytest.mark.parametrize(
    "matrix",
    [
        householder_matrix(5, dtype=F64),  # a reflection: det -1
        hadamard_matrix(8, dtype=F64),
        random_orthogonal(7, seed=3, dtype=F64),
        -torch.eye(4, dtype=F64),  # eigenvalue -1 twice: rotations by pi
        torch.diag(torch.tensor([-1.0, 1.0, -1.0], dtype=F64)),
        random_unitary(6, seed=4, dtype=torch.complex128),
    ],
)
def test_from_matrix_reproduces_the_matrix(matrix):
    cell = OrthogonalCell.from_matrix(matrix)
    u = cell.transition().detach()
    assert u.dtype == matrix.dtype and cell.unitary == matrix.is_complex()
    assert float((u - matrix).abs().max()) < 1e-12
    assert bool(cell.reflection) == (not matrix.is_complex() and float(torch.det(matrix)) < 0)


def test_from_matrix_float32_householder():
    cell = OrthogonalCell.from_matrix(householder_matrix(4))
    assert cell.skew.dtype == torch.float32
    assert float((cell.transition().detach() - householder_matrix(4)).abs().max()) < 1e-6


def test_unit_delay_lossless_fdn_twin():
    torch.manual_seed(2)
    net = FDN(
        [1, 1, 1, 1],
        hadamard_matrix(4, dtype=F64),
        input_gains=torch.randn(4, 2, dtype=F64),
        output_gains=torch.randn(3, 4, dtype=F64),
        direct_gain=torch.randn(3, 2, dtype=F64),
    )
    cell = OrthogonalCell.from_matrix(net)
    assert (cell.input_size, cell.output_size) == (2, 3)
    x = torch.randn(2, 2, 300, dtype=F64)
    state = torch.randn(2, 4, dtype=F64)
    y_net, s_net = net(x, state)
    y_cell, s_cell = cell(x.transpose(1, 2), state)
    assert rel_err(y_cell.transpose(1, 2), y_net) < 1e-12
    assert rel_err(s_cell, s_net) < 1e-12


def test_gerzon_network_gives_its_unitary_matrix():
    u = random_orthogonal(4, seed=5, dtype=F64)
    cell = OrthogonalCell.from_matrix(GerzonAllpass([2, 3, 5, 7], u, gain=0.5), activation="tanh")
    assert float((cell.transition().detach() - u).abs().max()) < 1e-12
    assert cell.activation == "tanh"


def test_activations_match_their_definitions():
    torch.manual_seed(6)
    x = torch.randn(2, 15, 3, dtype=F64)
    for activation in ("tanh", "modrelu"):
        for unitary in (False, True) if activation == "modrelu" else (False,):
            cell = OrthogonalCell(5, 3, 2, activation, unitary=unitary).double()
            if activation == "modrelu":
                with torch.no_grad():
                    cell.bias.copy_(torch.linspace(-0.3, 0.2, 5))
            u = cell.transition().detach()
            b, c = (cell._c(p).detach() for p in (cell.input_weight, cell.output_weight))
            d = cell.direct_weight.detach()
            h = cell.initial_state(2)
            ys = []
            for t in range(15):
                y = h @ c.T
                ys.append((y.real if unitary else y) + x[:, t] @ d.T)
                z = h @ u.T + x[:, t].to(h.dtype) @ b.T
                if activation == "tanh":
                    h = torch.tanh(z)
                else:  # modReLU: z / |z| relu(|z| + b)
                    h = torch.sgn(z) * torch.relu(z.abs() + cell.bias.detach())
            y_cell, h_cell = cell(x)
            assert rel_err(y_cell, torch.stack(ys, 1)) < 1e-13
            assert rel_err(torch.view_as_real(h_cell) if unitary else h_cell,
                           torch.view_as_real(h) if unitary else h) < 1e-13  # fmt: skip


def test_orthogonal_cell_typed_errors():
    with pytest.raises(InputError, match="activation"):
        OrthogonalCell(4, activation="relu")
    with pytest.raises(InputError, match="unitary"):
        OrthogonalCell(4, activation="tanh", unitary=True)
    with pytest.raises(InputError, match="hidden_size"):
        OrthogonalCell(0)
    with pytest.raises(InputError, match="orthogonal"):
        OrthogonalCell.from_matrix(torch.tensor([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ShapeError, match="square"):
        OrthogonalCell.from_matrix(torch.zeros(2, 3))
    cell = OrthogonalCell(4, 2)
    with pytest.raises(ShapeError, match=r"\(batch, time, 2\)"):
        cell(torch.zeros(3, 5, 1))
    with pytest.raises(InputError, match="dtype"):
        cell(torch.zeros(3, 5, 2, dtype=F64))
    with pytest.raises(ShapeError, match="hidden_size=4"):
        cell(torch.zeros(3, 5, 2), torch.zeros(3, 5))
