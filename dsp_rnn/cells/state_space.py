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

from dsp_rnn._validate import as_tensor, check_int
from dsp_rnn.cells.base import Cell, check_sequence, check_step
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters.analysis import sosfreqz
from dsp_rnn.filters.convert import as_sos, ss2sos, tf2sos
from dsp_rnn.filters.filtering import sosfilt

__all__ = ["StateSpaceCell"]


class _CascadeCell(Cell):
    """Shared machinery of the cascade-form linear cells (not public).

    Subclasses set ``_orders`` (a long buffer ``(O, I, S)`` of section orders 1 or 2) and
    implement :meth:`_coefficients`, returning the normalised numerators ``(O, I, S, 3)`` and
    denominators ``[a1, a2]`` ``(O, I, S, 2)``; first-order sections must have
    ``b2 = a2 = 0``.
    """

    _orders: torch.Tensor
    _live: torch.Tensor

    def _set_orders(self, orders: torch.Tensor) -> None:
        self.register_buffer("_orders", orders.to(torch.long))
        slots = torch.stack([torch.ones_like(orders), orders == 2], -1).reshape(-1)
        self.register_buffer("_live", torch.nonzero(slots)[:, 0], persistent=False)
        self._all_live = bool(slots.all())
        self.output_size, self.input_size, self.n_sections = orders.shape

    def _coefficients(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any, **kw: Any) -> None:
        # a saved cell may have other section orders (from_filter): adopt them and reshape
        orders = state_dict.get(prefix + "_orders")
        if orders is not None and not torch.equal(orders.cpu(), self._orders.cpu()):
            self._set_orders(orders)
            for name, param in list(self._parameters.items()):
                saved = state_dict.get(prefix + name)
                if param is not None and saved is not None and saved.shape != param.shape:
                    setattr(self, name, nn.Parameter(param.new_empty(saved.shape)))
        super()._load_from_state_dict(state_dict, prefix, *args, **kw)

    # ------------------------------------------------------------------ views of the system
    @property
    def state_size(self) -> int:
        """Number of state variables (the order of the system, summed over paths)."""
        return int(self._live.numel())

    def _sos_full(self) -> torch.Tensor:
        num, den = self._coefficients()
        return torch.cat([num, torch.ones_like(num[..., :1]), den], -1)  # (O, I, S, 6)

    @property
    def sos(self) -> torch.Tensor:
        """The sections as SOS rows ``[b0 b1 b2 1 a1 a2]``, differentiable.

        Shape ``(n_sections, 6)`` for one input and one output, else
        ``(output_size, input_size, n_sections, 6)``.
        """
        full = self._sos_full()
        return full[0, 0] if self.input_size == self.output_size == 1 else full

    def to_filter(self) -> torch.Tensor:
        """The SOS that reproduce the cell (a detached copy of :attr:`sos`)."""
        return self.sos.detach().clone()

    def freqz(
        self,
        n_freqs: int = 512,
        whole: bool = False,
        sample_rate: float | None = None,
        freqs: Any = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Frequency response of the cell (see :func:`~dsp_rnn.filters.sosfreqz`).

        Differentiable in the parameters. ``H`` is ``(F,)`` for one input and one output,
        else ``(output_size, input_size, F)``.
        """
        return sosfreqz(
            self.sos, n_freqs=n_freqs, whole=whole, sample_rate=sample_rate, freqs=freqs
        )

    def state_space(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The matrices ``(A, B, C, D)`` of the cell, in the basis of its state.

        ``h_t = A h_{t-1} + B x_t``, ``y_t = C h_{t-1} + D x_t``; ``A (n, n)``,
        ``B (n, input_size)``, ``C (output_size, n)``, ``D (output_size, input_size)`` with
        ``n = state_size``. Differentiable functions of the parameters.
        """
        num, den = self._coefficients()
        n_out, n_in = self.output_size, self.input_size
        blocks, bs, cs, ds = [], [], [], []
        for j in range(n_out):
            for i in range(n_in):
                a_p, b_p, c_p, d_p = _path_ss(num[j, i], den[j, i], self._orders[j, i].tolist())
                blocks.append(a_p)
                eye_i = torch.eye(n_in, dtype=num.dtype, device=num.device)[i : i + 1]
                eye_j = torch.eye(n_out, dtype=num.dtype, device=num.device)[:, j : j + 1]
                bs.append(b_p @ eye_i)  # (n_p, I): driven by input i only
                cs.append(eye_j @ c_p)  # (O, n_p): read into output j only
                ds.append(d_p[0, 0])
        d = torch.stack(ds).reshape(n_out, n_in)
        return torch.block_diag(*blocks), torch.cat(bs, 0), torch.cat(cs, 1), d

    # ------------------------------------------------------------------ state
    def initial_state(self, batch_size: int) -> torch.Tensor:
        """Zeros ``(batch_size, state_size)`` in the dtype of the parameters."""
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        ref = self._coefficients()[0]
        return torch.zeros(batch_size, self.state_size, dtype=ref.dtype, device=ref.device)

    def _unpack(self, state: Any, batch: int, ref: torch.Tensor) -> torch.Tensor:
        """``(batch, state_size)`` -> sosfilt's ``zi`` ``(batch, O, I, S, 2)``."""
        shape = (batch, self.output_size, self.input_size, self.n_sections, 2)
        if state is None:
            return ref.new_zeros(shape)
        h = as_tensor(state, "state")
        if h.shape != (batch, self.state_size):
            raise ShapeError(
                f"{type(self).__name__}: expected state of shape (batch={batch}, "
                f"state_size={self.state_size}), got {tuple(h.shape)}"
            )
        if self._all_live:
            return h.reshape(shape)
        full = h.new_zeros(batch, 2 * self._orders.numel())
        return full.index_copy(1, self._live, h).reshape(shape)

    def _pack(self, zf: torch.Tensor) -> torch.Tensor:
        flat = zf.reshape(zf.shape[0], -1)
        return flat if self._all_live else flat.index_select(1, self._live)

    # ------------------------------------------------------------------ running
    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run a whole sequence through the ``sosfilt`` kernels (see the class docstring)."""
        check_sequence(x, self.input_size, type(self).__name__)
        batch = x.shape[0]
        sos = self._sos_full()
        zi = self._unpack(state, batch, sos)
        if self.input_size == self.output_size == 1:
            y, zf = sosfilt(sos[0, 0], x[..., 0], zi[:, 0, 0], check_stable=False)  # (B, T)
            return y.unsqueeze(-1), self._pack(zf)
        xt = x.transpose(1, 2)[:, None]  # (B, 1, I, T)
        y, zf = sosfilt(sos, xt, zi, check_stable=False)  # (B, O, I, T), (B, O, I, S, 2)
        return y.sum(2).transpose(1, 2), self._pack(zf)

    def step(
        self, x_t: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One time step, the DF2T section equations in plain torch.

        Shape:
            x_t ``(batch, input_size)`` -> y_t ``(batch, output_size)``; state
            ``(batch, state_size)``.
        """
        check_step(x_t, self.input_size, type(self).__name__)
        num, den = self._coefficients()
        batch = x_t.shape[0]
        zi = self._unpack(state, batch, num)
        inp = x_t[:, None, :].expand(batch, self.output_size, self.input_size)  # (B, O, I)
        zf = []
        for s in range(self.n_sections):
            b0, b1, b2 = num[..., s, 0], num[..., s, 1], num[..., s, 2]
            a1, a2 = den[..., s, 0], den[..., s, 1]
            out = b0 * inp + zi[..., s, 0]
            zf.append(torch.stack([b1 * inp - a1 * out + zi[..., s, 1], b2 * inp - a2 * out], -1))
            inp = out
        return inp.sum(-1), self._pack(torch.stack(zf, -2))


def _path_ss(
    num: torch.Tensor, den: torch.Tensor, orders: list[int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(A, B, C, D) of one cascade of DF2T sections (``num (S, 3)``, ``den (S, 2)``)."""
    parts = []
    for s, order in enumerate(orders):
        b0, b1, b2 = num[s]
        a1, a2 = den[s]
        one, zero = torch.ones_like(a1), torch.zeros_like(a1)
        if order == 2:
            a_s = torch.stack([torch.stack([-a1, one]), torch.stack([-a2, zero])])
            b_s = torch.stack([b1 - a1 * b0, b2 - a2 * b0])[:, None]
            c_s = torch.stack([one, zero])[None, :]
        else:
            a_s, b_s, c_s = -a1.reshape(1, 1), (b1 - a1 * b0).reshape(1, 1), one.reshape(1, 1)
        parts.append((a_s, b_s, c_s, b0.reshape(1, 1)))
    a_mat, b_vec, c_vec, d_val = parts[0]
    for a_s, b_s, c_s, d_s in parts[1:]:  # section s is driven by the cascade so far
        n, k = a_mat.shape[0], a_s.shape[0]
        top = torch.cat([a_mat, a_mat.new_zeros(n, k)], 1)
        a_mat = torch.cat([top, torch.cat([b_s @ c_vec, a_s], 1)], 0)
        b_vec = torch.cat([b_vec, b_s @ d_val], 0)
        c_vec = torch.cat([d_s @ c_vec, c_s], 1)
        d_val = d_s @ d_val
    return a_mat, b_vec, c_vec, d_val


def _unit_noise_numerators(a1: torch.Tensor, a2: torch.Tensor) -> torch.Tensor:
    """Random numerators near ``[g, 0, 0]``, ``g`` giving each section unit white-noise gain.

    The power gain of ``1 / (1 + a1 z^-1 + a2 z^-2)`` (stable) is
    ``(1 + a2) / ((1 - a2) ((1 + a2)^2 - a1^2))``, so a cascade starts with an output of
    about the input's level whatever its random poles.
    """
    power = (1 + a2) / ((1 - a2) * ((1 + a2) ** 2 - a1**2))
    num = torch.tensor([1.0, 0.0, 0.0]) + 0.1 * torch.randn(a1.shape + (3,))
    return (num * power.rsqrt()[..., None]).float()


def _section_orders(sos: torch.Tensor) -> torch.Tensor:
    """Order of each section: 1 where ``b2 == a2 == 0`` (a first-order section), else 2."""
    first = (sos[..., 2] == 0) & (sos[..., 5] == 0)
    return torch.where(first, 1, 2)


class StateSpaceCell(_CascadeCell):
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
        num = _unit_noise_numerators(a1, a2)
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
