"""Phased LSTM (Neil, Pfeiffer & Liu 2016): an LSTM whose updates are gated by a clock.

Each hidden unit ``n`` has an oscillation of period ``tau_n``, phase shift ``s_n`` and open
ratio ``r_on,n``. At a timestamp ``t`` (in seconds, any spacing)::

    phi_t = ((t - s) mod tau) / tau
    k_t   = 2 phi_t / r_on          if phi_t < r_on / 2      (opening)
            2 - 2 phi_t / r_on      if phi_t < r_on          (closing)
            alpha phi_t             otherwise                (closed; leak alpha)
    c_t = k_t * c~_t + (1 - k_t) * c_{t-1},   h_t = k_t * h~_t + (1 - k_t) * h_{t-1}

where ``c~_t, h~_t`` are the usual LSTM updates from ``x_t, h_{t-1}, c_{t-1}``. While a unit's
gate is closed it keeps its memory, whatever the sampling rate; the leak ``alpha`` lets
gradients through closed gates during training only (``alpha = 0`` in ``eval()``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from dsp_rnn._validate import as_tensor, check_finite, check_int
from dsp_rnn.cells.base import Cell, check_sequence, check_step, describe_state
from dsp_rnn.errors import InputError, ShapeError

__all__ = ["PhasedLSTMCell"]

PhasedState = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class PhasedLSTMCell(Cell):
    """A Phased LSTM layer driven by real timestamps (irregular sampling works).

    The LSTM part follows ``torch.nn.LSTMCell`` (gates ``i, f, g, o``, no peepholes; weights
    ``weight_ih``, ``weight_hh``, ``bias``, uniform in ``+-1/sqrt(hidden_size)``). The time
    gate (module docstring) has learnable ``log_period`` (``tau = exp``), ``shift`` and
    ``r_on`` (through a sigmoid, so ``0 < r_on < 1``); the leak is a fixed setting. The
    state carries each sequence's clock, the timestamp of its last step, so that the
    default timestamps (one second per step) continue across calls: block-wise equals one
    shot with or without explicit ``times``.

    Args:
        input_size: features per input step.
        hidden_size: number of units.
        output_size: size of a linear readout of ``h`` (default ``None``: ``y = h``).
        period_range: initial periods are drawn log-uniformly in this range, in seconds
            (default ``(1.0, 1000.0)``); shifts uniformly in ``(0, period)``.
        r_on: initial open ratio, ``0 < r_on < 1`` (default 0.05, the paper's).
        leak: ``alpha``, the closed-gate slope in training, ``>= 0`` (default 1e-3).

    Shape:
        x ``(batch, time, input_size)``, times ``(batch, time)`` or ``(time,)`` ->
        y ``(batch, time, output_size or hidden_size)``; state ``(h, c, clock)`` with
        ``h, c (batch, hidden_size)`` and ``clock (batch,)``.

    Raises:
        InputError: bad sizes, ``period_range``, ``r_on`` or ``leak``; x of another dtype
        than the cell. ShapeError (calls): x, times or state of the wrong shape.
        NonFiniteError: NaN/inf timestamps.

    Properties: differentiable in x, state, weights and the gate parameters (through
    ``remainder``); any device; float32/float64. Loops over time in Python.

    References:
        D. Neil, M. Pfeiffer, S.-C. Liu, "Phased LSTM: Accelerating recurrent network
        training for long or event-based sequences", NeurIPS 2016.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> cell = PhasedLSTMCell(2, 8).eval()  # eval: no leak, closed gates hold exactly
        >>> times = torch.tensor([[0.0, 0.3, 1.7, 2.0, 9.5]])  # irregular, in seconds
        >>> y, (h, c, clock) = cell(torch.randn(1, 5, 2), times=times)
        >>> k = cell.time_gate(times)
        >>> y.shape, float(clock[0])
        (torch.Size([1, 5, 8]), 9.5)
        >>> closed = k[0, 1:] == 0  # units whose gate is shut keep their value
        >>> bool((y[0, 1:][closed] == y[0, :-1][closed]).all())
        True
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int | None = None,
        *,
        period_range: tuple[float, float] = (1.0, 1000.0),
        r_on: float = 0.05,
        leak: float = 1e-3,
    ) -> None:
        super().__init__()
        input_size = self.input_size = check_int(input_size, "input_size", minimum=1)
        hidden_size = self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        if output_size is not None:
            output_size = check_int(output_size, "output_size", minimum=1)
        self.output_size = hidden_size if output_size is None else output_size
        lo, hi = (float(v) for v in period_range)
        if not (0 < lo <= hi < math.inf):
            raise InputError(
                f"period_range: expected 0 < low <= high (seconds), got {period_range!r}"
            )
        if not 0 < r_on < 1:
            raise InputError(f"r_on: expected 0 < r_on < 1, got r_on={r_on!r}")
        if not 0 <= leak < math.inf:
            raise InputError(f"leak: expected a finite value >= 0, got leak={leak!r}")
        self.leak = float(leak)
        bound = 1 / math.sqrt(hidden_size)
        h4 = 4 * hidden_size
        self.weight_ih = nn.Parameter((2 * torch.rand(h4, input_size) - 1) * bound)
        self.weight_hh = nn.Parameter((2 * torch.rand(h4, hidden_size) - 1) * bound)
        self.bias = nn.Parameter((2 * torch.rand(h4) - 1) * bound)
        log_tau = math.log(lo) + (math.log(hi) - math.log(lo)) * torch.rand(hidden_size)
        self.log_period = nn.Parameter(log_tau)
        self.shift = nn.Parameter(torch.rand(hidden_size) * log_tau.exp())
        self.r_on_logit = nn.Parameter(torch.full((hidden_size,), math.log(r_on / (1 - r_on))))
        self.readout = None if output_size is None else nn.Linear(hidden_size, output_size)

    # ------------------------------------------------------------------ the time gate
    @property
    def period(self) -> torch.Tensor:
        """``tau`` per unit, seconds ``(hidden_size,)``."""
        return self.log_period.exp()

    @property
    def r_on(self) -> torch.Tensor:
        """Open ratio per unit ``(hidden_size,)``, in ``(0, 1)``."""
        return torch.sigmoid(self.r_on_logit)

    def time_gate(self, times: torch.Tensor) -> torch.Tensor:
        """``k_t`` for timestamps ``times (batch, time)`` -> ``(batch, time, hidden_size)``.

        Uses ``alpha = leak`` in training mode and ``alpha = 0`` in eval mode.
        """
        tau, r_on = self.period, self.r_on
        phi = torch.remainder(times[..., None] - self.shift, tau) / tau
        alpha = self.leak if self.training else 0.0
        return torch.where(
            phi < r_on / 2, 2 * phi / r_on, torch.where(phi < r_on, 2 - 2 * phi / r_on, alpha * phi)
        )

    # ------------------------------------------------------------------ state and times
    def initial_state(self, batch_size: int) -> PhasedState:
        """``(h, c, clock)``: zeros and a clock at -1 s (default timestamps start at 0)."""
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        w = self.weight_hh
        h = w.new_zeros(batch_size, self.hidden_size)
        return h, torch.zeros_like(h), w.new_full((batch_size,), -1.0)

    def _state(self, state: Any, batch: int) -> PhasedState:
        if state is None:
            return self.initial_state(batch)
        shapes = [(batch, self.hidden_size)] * 2 + [(batch,)]
        if (
            not isinstance(state, (tuple, list))
            or len(state) != 3
            or any(
                not isinstance(s, torch.Tensor) or tuple(s.shape) != shp
                for s, shp in zip(state, shapes, strict=True)
            )
        ):
            raise ShapeError(
                f"PhasedLSTMCell: expected state (h, c, clock) of shapes {shapes}, got "
                f"{describe_state(state)}"
            )
        h, c, clock = state
        return h, c, clock

    def _times(self, times: Any, batch: int, n_t: int, clock: torch.Tensor) -> torch.Tensor:
        if times is None:
            steps = torch.arange(1, n_t + 1, dtype=clock.dtype, device=clock.device)
            return clock[:, None] + steps
        t = check_finite(as_tensor(times, "times"), "times").to(clock.dtype)
        if t.ndim == 1:
            t = t.expand(batch, -1)
        if t.shape != (batch, n_t):
            raise ShapeError(
                f"times: expected shape (batch={batch}, time={n_t}) or ({n_t},), "
                f"got {tuple(t.shape)}"
            )
        return t

    # ------------------------------------------------------------------ running
    def forward(
        self, x: torch.Tensor, state: Any = None, *, times: Any = None
    ) -> tuple[torch.Tensor, PhasedState]:
        """Run a sequence at timestamps ``times`` (seconds; default: the clock + 1, 2, ...)."""
        check_sequence(x, self.input_size, "PhasedLSTMCell", dtype=self.weight_hh.dtype)
        batch, n_t = x.shape[:2]
        h, c, clock = self._state(state, batch)
        t = self._times(times, batch, n_t, clock)
        if n_t == 0:
            return x.new_zeros(batch, 0, self.output_size), (h, c, clock)
        gx = x @ self.weight_ih.T + self.bias  # (B, T, 4H)
        k = self.time_gate(t)  # (B, T, H)
        whh = self.weight_hh.T
        hs = []
        for i in range(n_t):
            h, c = self._update(gx[:, i] + h @ whh, h, c, k[:, i])
            hs.append(h)
        out = torch.stack(hs, 1)  # (B, T, H)
        y = out if self.readout is None else self.readout(out)
        return y, (h, c, t[:, -1])

    @staticmethod
    def _update(
        gates: torch.Tensor, h: torch.Tensor, c: torch.Tensor, k: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        i, f, g, o = gates.chunk(4, -1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        return k * h_new + (1 - k) * h, k * c_new + (1 - k) * c

    def step(
        self, x_t: torch.Tensor, state: Any = None, *, time: Any = None
    ) -> tuple[torch.Tensor, PhasedState]:
        """One step at timestamp ``time`` (seconds, scalar or ``(batch,)``; default clock + 1)."""
        check_step(x_t, self.input_size, "PhasedLSTMCell")
        t = None
        if time is not None:
            t = as_tensor(time, "time")
            t = t.reshape(-1, 1) if t.ndim == 1 else t.reshape(1)
        y, state = self.forward(x_t[:, None], state, times=t)
        return y[:, 0], state

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"output_size={self.output_size}, leak={self.leak:g}"
        )
