"""The machinery the cascade-form linear cells share: :class:`CascadeCell` (the sections as
SOS, ``freqz``, ``state_space``, ``sosfilt`` forward and a per-step path) and its helpers.

See :mod:`dsp_rnn.cells.state_space` for the conventions.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dsp_rnn._validate import as_tensor, check_int
from dsp_rnn.cells.base import Cell, check_sequence, check_step
from dsp_rnn.errors import ShapeError
from dsp_rnn.filters.analysis import sosfreqz
from dsp_rnn.filters.filtering import sosfilt

__all__ = ["CascadeCell", "path_state_space", "unit_noise_numerators"]


class CascadeCell(Cell):
    """Shared machinery of the cascade-form linear cells (:class:`StateSpaceCell`,
    :class:`IIRCell`).

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
                a_p, b_p, c_p, d_p = path_state_space(
                    num[j, i], den[j, i], self._orders[j, i].tolist()
                )
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


def path_state_space(
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


def unit_noise_numerators(a1: torch.Tensor, a2: torch.Tensor) -> torch.Tensor:
    """Random numerators near ``[g, 0, 0]``, ``g`` giving each section unit white-noise gain.

    The power gain of ``1 / (1 + a1 z^-1 + a2 z^-2)`` (stable) is
    ``(1 + a2) / ((1 - a2) ((1 + a2)^2 - a1^2))``, so a cascade starts with an output of
    about the input's level whatever its random poles.
    """
    power = (1 + a2) / ((1 - a2) * ((1 + a2) ** 2 - a1**2))
    num = torch.tensor([1.0, 0.0, 0.0]) + 0.1 * torch.randn(a1.shape + (3,))
    return (num * power.rsqrt()[..., None]).float()
