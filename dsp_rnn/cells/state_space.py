"""The linear RNN twin of an IIR filter: :class:`StateSpaceCell` (a cascade state space).

A linear RNN ``h_t = A h_{t-1} + B x_t``, ``y_t = C h_{t-1} + D x_t`` *is* an IIR filter. Any
such system of order ``n`` (single input, single output) has a realisation in which ``A`` is
block lower-triangular with ``2 x 2`` blocks, the cascade of second-order sections: the state
is the sections' direct-form II transposed (DF2T) state, exactly the ``zi`` of
:func:`~dsp_rnn.filters.sosfilt`. The cells here are parameterised in that form, so that

- a whole sequence runs through the fused, differentiable ``sosfilt`` kernels (no loop over
  time in Python; the backward pass is the adjoint filter);
- the state carried from one call to the next is the kernels' state, so block-wise
  processing equals one shot exactly;
- ``A, B, C, D`` are available (:meth:`state_space`) as differentiable functions of the
  section coefficients, and converting to and from SOS is exact.

Conventions: ``y_t = C h_{t-1} + D x_t`` then ``h_t = A h_{t-1} + B x_t`` (scipy's
``x[n+1] = A x[n] + B u[n]``, ``y[n] = C x[n] + D u[n]``): the state passed in is the state
*before* the step, as ``zi`` is for ``sosfilt``. Multiple inputs/outputs form a transfer
matrix: output ``j`` is the sum over inputs ``i`` of input ``i`` through its own cascade
``(j, i)`` (block-diagonal ``A``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dsp_rnn._validate import check_int
from dsp_rnn.cells._cascade import CascadeCell, unit_noise_numerators
from dsp_rnn.cells.base import Cell
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters.coerce import as_sos
from dsp_rnn.filters.convert import tf2sos
from dsp_rnn.filters.state_space import ss2sos

__all__ = ["StateSpaceCell"]


def _section_orders(sos: torch.Tensor) -> torch.Tensor:
    """Order of each section: 1 where ``b2 == a2 == 0`` (a first-order section), else 2."""
    first = (sos[..., 2] == 0) & (sos[..., 5] == 0)
    return torch.where(first, 1, 2)


class StateSpaceCell(CascadeCell):
    """A learnable linear RNN in cascade form: the RNN twin of an IIR filter.

    ``h_t = A h_{t-1} + B x_t``, ``y_t = C h_{t-1} + D x_t`` (output from the state *before*
    the update, scipy's state-space convention). ``A, B, C, D`` are those of a cascade of
    second-order sections in direct form II transposed (:meth:`state_space`): the
    parameters are the sections' normalised coefficients, ``numerator`` ``[b0, b1, b2]`` and
    ``denominator`` ``[a1, a2]``, all free (the cell can become unstable, which is what a
    linear RNN does; use :class:`~dsp_rnn.cells.IIRCell` for stability by construction).
    An odd order ends the cascade with a first-order section (``b2 = a2 = 0``, one state).
    With several inputs/outputs every pair ``(output j, input i)`` has its own cascade of
    order ``state_size / (input_size * output_size)`` (a transfer matrix of cascades).

    Whole sequences run through :func:`~dsp_rnn.filters.sosfilt` (fused numba kernels,
    adjoint backward); the state is the kernels' ``zi``, so block-wise equals one shot.
    Every parameter starts random (global torch RNG): stable poles of radius 0.3 to 0.8,
    numerators near ``[g, 0, 0]`` with ``g`` giving each section unit white-noise gain.

    Args:
        state_size: order of the system, ``>= 1``; a multiple of ``input_size *
            output_size``.
        input_size: features per input step (default 1).
        output_size: features per output step (default 1).

    Shape:
        x ``(batch, time, input_size)`` -> y ``(batch, time, output_size)``; state
        ``(batch, state_size)``: each section's DF2T state ``[z1, z2]`` (``[z1]`` for a
        first-order section), path ``(j, i)`` after path ``(j, i - 1)``, sections in
        cascade order.

    Raises:
        InputError: bad sizes. ShapeError (calls): x or state of the wrong shape.

    Properties: differentiable in x, state and parameters; CPU (numba) and CUDA (torch
    block method); float32 and float64 (``.double()``).

    Example:
        >>> import torch
        >>> from dsp_rnn.filters import butter, sosfilt
        >>> sos = butter(4, 1000.0, sample_rate=48000, dtype=torch.float64)
        >>> cell = StateSpaceCell.from_filter(sos)
        >>> x = torch.randn(2, 500, 1, dtype=torch.float64)
        >>> y, state = cell(x)
        >>> bool(torch.allclose(y[..., 0], sosfilt(sos, x[..., 0]))), tuple(state.shape)
        (True, (2, 4))
    """

    def __init__(self, state_size: int, input_size: int = 1, output_size: int = 1) -> None:
        super().__init__()
        state_size = check_int(state_size, "state_size", minimum=1)
        input_size = check_int(input_size, "input_size", minimum=1)
        output_size = check_int(output_size, "output_size", minimum=1)
        paths = input_size * output_size
        if state_size % paths:
            raise InputError(
                f"state_size: expected a multiple of input_size * output_size = {paths} (one "
                f"cascade per input/output pair), got state_size={state_size}"
            )
        order = state_size // paths
        n_sec = -(-order // 2)
        orders = torch.full((output_size, input_size, n_sec), 2, dtype=torch.long)
        if order % 2:
            orders[..., -1] = 1
        self._set_orders(orders)
        radius = 0.3 + 0.5 * torch.rand(orders.shape)
        theta = torch.pi * torch.rand(orders.shape)
        real_pole = 0.8 * (2 * torch.rand(orders.shape) - 1)
        first = orders == 1
        a1 = torch.where(first, -real_pole, -2 * radius * torch.cos(theta))
        a2 = torch.where(first, 0.0, radius**2)
        num = unit_noise_numerators(a1, a2)
        num[..., 2] = torch.where(first, 0.0, num[..., 2])
        self.numerator = nn.Parameter(num)
        self.denominator = nn.Parameter(torch.stack([a1, a2], -1))

    def _coefficients(self) -> tuple[torch.Tensor, torch.Tensor]:
        second = (self._orders == 2).to(self.numerator.dtype)
        num = torch.cat([self.numerator[..., :2], self.numerator[..., 2:] * second[..., None]], -1)
        den = torch.stack([self.denominator[..., 0], self.denominator[..., 1] * second], -1)
        return num, den

    @property
    def A(self) -> torch.Tensor:
        """The transition matrix ``(state_size, state_size)`` (see :meth:`state_space`)."""
        return self.state_space()[0]

    @property
    def B(self) -> torch.Tensor:
        """The input matrix ``(state_size, input_size)``."""
        return self.state_space()[1]

    @property
    def C(self) -> torch.Tensor:
        """The output matrix ``(output_size, state_size)``."""
        return self.state_space()[2]

    @property
    def D(self) -> torch.Tensor:
        """The direct (feed-through) matrix ``(output_size, input_size)``."""
        return self.state_space()[3]

    @classmethod
    def from_filter(cls, system: Any) -> StateSpaceCell:
        """The cell that reproduces a filter: SOS, ``(b, a)`` or ``(A, B, C, D)``.

        Args:
            system: second-order sections ``(n_sections, 6)`` (or a transfer matrix of them,
                ``(output_size, input_size, n_sections, 6)``); a ``tuple`` ``(b, a)`` of
                ``z^-1`` coefficients (converted by :func:`~dsp_rnn.filters.tf2sos`); or a
                ``tuple`` ``(A, B, C, D)`` of a SISO state space (converted by
                :func:`~dsp_rnn.filters.ss2sos`; the cell's state is then the cascade's,
                not the given realisation's). The filter need not be stable.

        Returns:
            A :class:`StateSpaceCell` in the filter's float dtype whose output equals
            ``sosfilt(sos, x)`` (``lfilter(b, a, x)``) to float tolerance; sections with
            ``b2 == a2 == 0`` become first-order sections with one state.

        Raises:
            ShapeError: SOS not ``(S, 6)`` / ``(O, I, S, 6)``, or a tuple of another length.
            NonFiniteError: NaN/inf. InputError: ``a0 == 0``.

        Example:
            >>> import torch
            >>> b, a = torch.tensor([1.0, 0.5]), torch.tensor([1.0, -0.5])
            >>> cell = StateSpaceCell.from_filter((b, a))  # first order: one state
            >>> cell.state_size, cell.to_filter()[0, [0, 1, 4]].tolist()
            (1, [1.0, 0.5, -0.5])
        """
        if isinstance(system, tuple):
            if len(system) == 2:
                sos = tf2sos(*system)
            elif len(system) == 4:
                sos = ss2sos(*system)
            else:
                raise ShapeError(
                    f"system: expected SOS, a tuple (b, a) or a tuple (A, B, C, D), got a "
                    f"tuple of {len(system)} items"
                )
        else:
            sos = as_sos(system)
        if sos.ndim not in (2, 4):
            raise ShapeError(
                "system: expected SOS of shape (n_sections, 6) or (output_size, input_size, "
                f"n_sections, 6), got {tuple(sos.shape)}"
            )
        sos = sos.detach()
        sos = sos / sos[..., 3:4]
        full = sos if sos.ndim == 4 else sos[None, None]
        orders = _section_orders(full)
        cell = cls.__new__(cls)
        Cell.__init__(cell)
        cell._set_orders(orders)
        cell.numerator = nn.Parameter(full[..., :3].clone())
        cell.denominator = nn.Parameter(full[..., 4:].clone())
        return cell
