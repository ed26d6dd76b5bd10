"""The probabilistic reading of a linear cell: :class:`KalmanCell`, the Kalman filter of a
:class:`~dsp_rnn.cells.StateSpaceCell` whose state is driven by noise and whose output is
observed through noise.

With ``s_t`` the cell's state before step ``t`` (the state the ``StateSpaceCell`` carries)::

    s_{t+1} = A s_t + B u_t + w_t,   w_t ~ N(0, Q)
    z_t     = C s_t + D u_t + v_t,   v_t ~ N(0, R)

``u`` is the cell's known input and ``z`` a noisy observation of its output. The cell runs
:func:`~dsp_rnn.filters.kalman_filter` on that model under the cell protocol; its state is
the Gaussian belief about the next ``s``, so a sequence cut into blocks gives exactly the
one-shot result.
"""

from __future__ import annotations

from typing import Any

import torch

from dsp_rnn.cells.base import Cell, check_sequence, check_step
from dsp_rnn.cells.state_space import StateSpaceCell
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters.kalman import KalmanFiltered, LinearGaussian, kalman_filter

__all__ = ["KalmanCell"]


def _covariance(M: Any, size: int, name: str, dtype: torch.dtype) -> torch.Tensor:
    """A ``(size, size)`` covariance from a matrix, a vector (diagonal) or a number."""
    t = torch.as_tensor(M, dtype=dtype)
    if t.ndim == 0:
        t = t * torch.eye(size, dtype=dtype)
    elif t.ndim == 1 and t.shape[0] == size:
        t = torch.diag(t)
    if t.shape != (size, size):
        raise ShapeError(
            f"{name}: expected a number, a vector ({size},) or a matrix ({size}, {size}), got "
            f"shape {tuple(t.shape)}"
        )
    if not bool(torch.isfinite(t).all()) or not torch.allclose(t, t.T):
        raise InputError(f"{name}: expected a finite symmetric matrix, got {t.tolist()}")
    return t


class KalmanCell(Cell):
    """The Kalman filter of a :class:`~dsp_rnn.cells.StateSpaceCell` under the cell
    protocol: noisy observations of the cell's output in, the filtered output out.

    Args:
        cell: the linear system (its ``state_space()`` gives ``A, B, C, D``; it stays a
            submodule, so its parameters are learnable through the filter).
        process_noise: ``Q``, covariance of the noise added to the state each step: a
            matrix ``(n, n)``, a vector (its diagonal) or a number (times the identity).
        observation_noise: ``R``, covariance of the observation noise, ``(output_size,
            output_size)`` (or vector / number), positive definite.
        initial_covariance: covariance of the first state when ``state=None`` (the mean
            is zero, the cell's rest state); default ``Q``.

    Shape:
        x ``(batch, time, input_size + output_size)``: the known input ``u`` then the
        observation ``z`` of each step (NaN = a missing coordinate; a step with all of
        ``z`` missing just follows the model). y ``(batch, time, output_size)``: the
        filtered output ``C E[s_t | z_0..z_t] + D u_t``. state ``(mean (batch, n),
        covariance (batch, n, n))``: the belief about the next state given everything so
        far; ``None`` = ``(0, initial_covariance)``.

    Raises:
        InputError: ``cell`` not a StateSpaceCell; covariances not finite and symmetric.
        ShapeError: covariances or x of the wrong shape.

    Properties: differentiable in x's observations, the state, ``Q, R`` (buffers) and the
    cell's parameters (autograd path); without gradients on CPU it runs the compiled
    filter; float32 and float64 (the cell's dtype, ``.double()``).

    Example:
        >>> import torch
        >>> from dsp_rnn.cells import StateSpaceCell
        >>> lin = StateSpaceCell.from_filter((torch.tensor([0.5]), torch.tensor([1.0, -0.5])))
        >>> kc = KalmanCell(lin, process_noise=0.1, observation_noise=1.0)
        >>> u = torch.randn(2, 50, 1)
        >>> z = torch.full((2, 50, 1), float("nan"))  # nothing observed: the cell itself
        >>> y, state = kc(torch.cat([u, z], -1))
        >>> torch.allclose(y, lin(u)[0], atol=1e-6)
        True
    """

    Q: torch.Tensor
    R: torch.Tensor
    P0: torch.Tensor

    def __init__(
        self,
        cell: StateSpaceCell,
        process_noise: Any,
        observation_noise: Any,
        initial_covariance: Any = None,
    ) -> None:
        super().__init__()
        if not isinstance(cell, StateSpaceCell):
            raise InputError(f"cell: expected a StateSpaceCell, got {type(cell).__name__}")
        self.cell = cell
        n, dtype = cell.state_size, cell.numerator.dtype
        self.state_size = n
        self.observation_size = cell.output_size
        self.input_size = cell.input_size + cell.output_size
        self.output_size = cell.output_size
        Q = _covariance(process_noise, n, "process_noise", dtype)
        R = _covariance(observation_noise, cell.output_size, "observation_noise", dtype)
        P0 = Q if initial_covariance is None else initial_covariance
        self.register_buffer("Q", Q)
        self.register_buffer("R", R)
        self.register_buffer("P0", _covariance(P0, n, "initial_covariance", dtype))

    def model(
        self, m0: torch.Tensor | None = None, P0: torch.Tensor | None = None
    ) -> tuple[LinearGaussian, torch.Tensor, torch.Tensor]:
        """The :class:`~dsp_rnn.filters.LinearGaussian` of the cell (and ``(B, D)``), with
        the given initial belief (default ``(0, initial_covariance)``)."""
        A, B, C, D = self.cell.state_space()
        if m0 is None:
            m0 = torch.zeros(self.state_size, dtype=A.dtype, device=A.device)
        P0 = self.P0 if P0 is None else P0
        return LinearGaussian(A=A, C=C, Q=self.Q, R=self.R, m0=m0, P0=P0), B, D

    def initial_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(zeros (batch, n), initial_covariance (batch, n, n))``."""
        P0 = self.P0
        mean = torch.zeros(batch_size, self.state_size, dtype=P0.dtype, device=P0.device)
        return mean, P0.expand(batch_size, -1, -1).clone()

    def _check_state(self, state: Any, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        if state is None:
            return self.initial_state(batch)
        n = self.state_size
        if (
            not isinstance(state, tuple)
            or len(state) != 2
            or tuple(state[0].shape) != (batch, n)
            or tuple(state[1].shape) != (batch, n, n)
        ):
            got = [tuple(s.shape) for s in state] if isinstance(state, tuple) else type(state)
            raise ShapeError(
                f"KalmanCell: expected state (mean ({batch}, {n}), covariance ({batch}, {n}, "
                f"{n})), got {got}"
            )
        return state[0], state[1]

    def filter(
        self, x: torch.Tensor, state: Any = None
    ) -> tuple[KalmanFiltered, tuple[torch.Tensor, torch.Tensor]]:
        """The whole filter result (means, covariances, log-likelihoods) and the next state.

        Shape:
            x ``(batch, time, input_size + output_size)``; results as
            :class:`~dsp_rnn.filters.KalmanFiltered` (``n = state_size``).
        """
        check_sequence(x, self.input_size, "KalmanCell")
        batch, T = x.shape[:2]
        mean, cov = self._check_state(state, batch)
        n_in = self.cell.input_size
        u, z = x[..., :n_in], x[..., n_in:]
        model, B, D = self.model(mean, cov)
        f = kalman_filter(z, model, transition_offsets=u @ B.T, observation_offsets=u @ D.T)
        last_m, last_P = f.means[:, -1], f.covariances[:, -1]
        A = model.A
        next_mean = last_m @ A.T + u[:, -1] @ B.T
        next_cov = A @ last_P @ A.T + self.Q
        return f, (next_mean, 0.5 * (next_cov + next_cov.transpose(-1, -2)))

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """Filter a sequence: ``x (batch, time, input_size + output_size)`` -> the filtered
        output ``(batch, time, output_size)`` and the next state."""
        check_sequence(x, self.input_size, "KalmanCell")
        if x.shape[1] == 0:
            return x.new_zeros(x.shape[0], 0, self.output_size), (
                self._check_state(state, x.shape[0])
            )
        f, state = self.filter(x, state)
        _, _, C, D = self.cell.state_space()
        y = f.means @ C.T + x[..., : self.cell.input_size] @ D.T  # (B, T, output_size)
        return y, state

    def step(self, x_t: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """One step: ``x_t (batch, input_size + output_size)`` -> ``(batch, output_size)``."""
        check_step(x_t, self.input_size, "KalmanCell")
        y, state = self(x_t[:, None], state)
        return y[:, 0], state
