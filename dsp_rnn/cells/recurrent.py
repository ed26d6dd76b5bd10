"""Elman (tanh), LSTM and GRU cells under the cell protocol, on ``torch.nn`` (cuDNN on GPU).

Each wraps ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` (``batch_first=True``) for whole sequences
and adds an optional linear readout ``y_t = W h_t + b`` of the top layer's state. ``step``
runs the same module on one time step, so stepping equals the whole sequence exactly. The
state is torch's: ``h (num_layers, batch, hidden_size)``, and ``(h, c)`` for the LSTM.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

from dsp_rnn._validate import check_int
from dsp_rnn.cells.base import Cell, check_sequence, check_step, describe_state
from dsp_rnn.errors import ShapeError

__all__ = ["ElmanCell", "LSTMCell", "GRUCell"]


class _TorchRNNCell(Cell):
    """Shared wrapper; subclasses set ``_module`` (the torch.nn class) and ``_n_state``."""

    _module: Callable[..., nn.RNNBase] = nn.RNN
    _n_state = 1  # tensors in the state: 1 (h) or 2 (h, c)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int | None = None,
        num_layers: int = 1,
    ) -> None:
        super().__init__()
        input_size = self.input_size = check_int(input_size, "input_size", minimum=1)
        hidden_size = self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        num_layers = self.num_layers = check_int(num_layers, "num_layers", minimum=1)
        if output_size is not None:
            output_size = check_int(output_size, "output_size", minimum=1)
        self.output_size = hidden_size if output_size is None else output_size
        kwargs: dict[str, Any] = {"batch_first": True}
        if self._module is nn.RNN:
            kwargs["nonlinearity"] = "tanh"
        self.rnn = self._module(input_size, hidden_size, num_layers, **kwargs)
        self.readout = None if output_size is None else nn.Linear(hidden_size, output_size)

    @property
    def _weight(self) -> torch.Tensor:
        return cast(torch.Tensor, self.rnn.weight_hh_l0)

    def initial_state(self, batch_size: int) -> Any:
        """Zeros: ``h (num_layers, batch_size, hidden_size)`` (``(h, c)`` for the LSTM)."""
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        h = self._weight.new_zeros(self.num_layers, batch_size, self.hidden_size)
        return h if self._n_state == 1 else (h, torch.zeros_like(h))

    def _check_state(self, state: Any, batch: int) -> None:
        if state is None:
            return
        shape = (self.num_layers, batch, self.hidden_size)
        parts = (state,) if self._n_state == 1 else state
        ok = isinstance(parts, (tuple, list)) and len(parts) == self._n_state
        ok = ok and all(isinstance(p, torch.Tensor) and tuple(p.shape) == shape for p in parts)
        if not ok:
            want = "h" if self._n_state == 1 else "(h, c), each"
            raise ShapeError(
                f"{type(self).__name__}: expected state {want} of shape (num_layers="
                f"{self.num_layers}, batch={batch}, hidden_size={self.hidden_size}), got "
                f"{describe_state(parts)}"
            )

    def forward(self, x: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """Run a whole sequence through the torch module (one fused call)."""
        name = type(self).__name__
        check_sequence(x, self.input_size, name, dtype=self._weight.dtype)
        self._check_state(state, x.shape[0])
        if x.shape[1] == 0:
            return x.new_zeros(x.shape[0], 0, self.output_size), (
                self.initial_state(x.shape[0]) if state is None else state
            )
        if state is not None and self._n_state == 2:
            state = tuple(state)
        out, state = self.rnn(x, state)
        return (out if self.readout is None else self.readout(out)), state

    def step(self, x_t: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        """One step: ``x_t (batch, input_size)`` -> ``y_t (batch, output_size)``."""
        check_step(x_t, self.input_size, type(self).__name__)
        y, state = self.forward(x_t[:, None], state)
        return y[:, 0], state

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class ElmanCell(_TorchRNNCell):
    """Elman RNN, ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, on ``torch.nn.RNN``.

    Args:
        input_size: features per input step, ``>= 1``.
        hidden_size: units per layer, ``>= 1``.
        output_size: size of a linear readout of the top layer (default ``None``: ``y = h``).
        num_layers: stacked layers (default 1).

    Shape:
        x ``(batch, time, input_size)`` -> y ``(batch, time, output_size or hidden_size)``;
        state ``h (num_layers, batch, hidden_size)``.

    Raises:
        InputError: bad sizes; x of another dtype than the cell. ShapeError (calls): x or
        state of the wrong shape.

    Properties: differentiable; CPU and CUDA (cuDNN); float32/float64 (``.double()``).

    References:
        J. L. Elman, "Finding structure in time", Cognitive Science 14(2), 1990.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> cell = ElmanCell(3, 8, output_size=2)
        >>> x = torch.randn(4, 10, 3)
        >>> y, h = cell(x)
        >>> y1, h1 = cell(x[:, :6])
        >>> y2, h2 = cell(x[:, 6:], h1)  # block-wise == one shot
        >>> y.shape, h.shape, bool(torch.allclose(torch.cat([y1, y2], 1), y, atol=1e-6))
        (torch.Size([4, 10, 2]), torch.Size([1, 4, 8]), True)
    """

    _module = nn.RNN


class LSTMCell(_TorchRNNCell):
    """Long short-term memory on ``torch.nn.LSTM`` (gates ``i, f, g, o``, no peepholes).

    Args:
        input_size: features per input step, ``>= 1``.
        hidden_size: units per layer, ``>= 1``.
        output_size: size of a linear readout of the top layer (default ``None``: ``y = h``).
        num_layers: stacked layers (default 1).

    Shape:
        x ``(batch, time, input_size)`` -> y ``(batch, time, output_size or hidden_size)``;
        state ``(h, c)``, each ``(num_layers, batch, hidden_size)``.

    Raises:
        InputError: bad sizes; x of another dtype than the cell. ShapeError (calls): x or
        state of the wrong shape.

    Properties: differentiable; CPU and CUDA (cuDNN); float32/float64 (``.double()``).

    References:
        S. Hochreiter, J. Schmidhuber, "Long short-term memory", Neural Computation 9(8),
        1997.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> cell = LSTMCell(1, 16, output_size=1)
        >>> y, (h, c) = cell(torch.randn(2, 50, 1))
        >>> y.shape, h.shape, c.shape
        (torch.Size([2, 50, 1]), torch.Size([1, 2, 16]), torch.Size([1, 2, 16]))
    """

    _module = nn.LSTM
    _n_state = 2


class GRUCell(_TorchRNNCell):
    """Gated recurrent unit on ``torch.nn.GRU``.

    Args:
        input_size: features per input step, ``>= 1``.
        hidden_size: units per layer, ``>= 1``.
        output_size: size of a linear readout of the top layer (default ``None``: ``y = h``).
        num_layers: stacked layers (default 1).

    Shape:
        x ``(batch, time, input_size)`` -> y ``(batch, time, output_size or hidden_size)``;
        state ``h (num_layers, batch, hidden_size)``.

    Raises:
        InputError: bad sizes; x of another dtype than the cell. ShapeError (calls): x or
        state of the wrong shape.

    Properties: differentiable; CPU and CUDA (cuDNN); float32/float64 (``.double()``).

    References:
        K. Cho et al., "Learning phrase representations using RNN encoder-decoder for
        statistical machine translation", EMNLP 2014.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> cell = GRUCell(2, 4, num_layers=2)
        >>> x = torch.randn(1, 5, 2)
        >>> y, h = cell(x)
        >>> y_t, h_t = cell.step(x[:, 0])
        >>> h.shape, bool(torch.allclose(y_t, y[:, 0]))
        (torch.Size([2, 1, 4]), True)
    """

    _module = nn.GRU
