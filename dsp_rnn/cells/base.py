"""The one protocol every cell follows, and truncated BPTT shared by all trainers.

``y, state = cell(x, state=None)`` runs a whole sequence, ``x: (batch, time, features)``;
``y_t, state = cell.step(x_t, state)`` runs one step, ``x_t: (batch, features)``. ``state``
is whatever the cell needs (a tensor or a tuple of tensors) and is returned so that a long
signal can be processed window by window with identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from dsp_rnn._validate import check_int
from dsp_rnn.errors import InputError, ShapeError

__all__ = [
    "Cell",
    "FilterTwin",
    "State",
    "check_sequence",
    "check_step",
    "describe_state",
    "detach_state",
    "TBPTTConfig",
    "tbptt_windows",
    "tbptt_step",
]

State = Any  # a tensor, a tuple of tensors, or None


@runtime_checkable
class FilterTwin(Protocol):
    """A cell with an exact linear-systems twin in :mod:`dsp_rnn.filters`.

    ``cls.from_filter(f)`` builds the cell that reproduces the filter ``f``, and
    ``cell.to_filter()`` returns the filter the cell is (detached): for every ``f`` a cell
    accepts, ``to_filter(from_filter(f))`` has ``f``'s frequency response, and the cell's
    output on a signal ``x (batch, time, 1)`` is the filter's output on ``x``.

    ========================  ==========================================  ===================
    cell                      ``from_filter`` takes                        ``to_filter`` gives
    ========================  ==========================================  ===================
    ``StateSpaceCell``        SOS, ``(b, a)``, ``(A, B, C, D)``            SOS
    ``IIRCell``               SOS ``(n_sections, 6)`` or ``(b, a)``        SOS
    ``OrthogonalCell``        an orthogonal/unitary matrix, an FDN or      an FDN with unit
                              a Gerzon allpass (unit delays)               delays
    ========================  ==========================================  ===================

    Example:
        >>> from dsp_rnn.cells import GRUCell, IIRCell
        >>> isinstance(IIRCell(2), FilterTwin), isinstance(GRUCell(1, 2), FilterTwin)
        (True, False)
    """

    @classmethod
    def from_filter(cls, system: Any, /, **kwargs: Any) -> Any: ...

    def to_filter(self) -> Any: ...


class Cell(nn.Module):
    """Base class: subclasses implement :meth:`forward` and :meth:`step`.

    Attributes:
        input_size: features per input step.
        output_size: features per output step.
    """

    input_size: int
    output_size: int

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """Run a whole sequence. Default: loop :meth:`step` over time (subclasses go faster).

        Shape:
            x ``(batch, time, input_size)`` -> y ``(batch, time, output_size)``.
        """
        check_sequence(x, self.input_size, type(self).__name__)
        ys = []
        for t in range(x.shape[1]):
            y_t, state = self.step(x[:, t], state)
            ys.append(y_t)
        if not ys:
            return x.new_zeros(x.shape[0], 0, self.output_size), state
        return torch.stack(ys, 1), state

    def step(self, x_t: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        """One time step: ``x_t (batch, input_size)`` -> ``y_t (batch, output_size)``."""
        raise NotImplementedError

    def initial_state(self, batch_size: int) -> State:
        """The state a sequence starts from when ``state=None`` (zeros), for ``batch_size``.

        Useful to make the initial state a leaf that requires grad (gradient diagnostics).
        """
        raise NotImplementedError


def check_sequence(
    x: torch.Tensor, features: int, who: str, *, dtype: torch.dtype | None = None
) -> None:
    """Raise :class:`ShapeError` unless ``x`` is ``(batch, time, features)``.

    With ``dtype`` given, also raise :class:`InputError` when ``x`` has another dtype (cells
    whose weights are of one dtype; convert the cell with ``.double()`` / ``.float()``).
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or x.shape[-1] != features:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ShapeError(f"{who}: expected x of shape (batch, time, {features}), got {shape}")
    if dtype is not None and x.dtype != dtype:
        raise InputError(
            f"{who}: expected x of dtype {dtype} (the cell's), got {x.dtype}; convert x or "
            "the cell (cell.double() / cell.float())"
        )


def check_step(x_t: torch.Tensor, features: int, who: str) -> None:
    """Raise :class:`ShapeError` unless ``x_t`` is ``(batch, features)`` (one time step)."""
    if not isinstance(x_t, torch.Tensor) or x_t.ndim != 2 or x_t.shape[-1] != features:
        shape = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
        raise ShapeError(f"{who}.step: expected x_t of shape (batch, {features}), got {shape}")


def describe_state(state: Any) -> Any:
    """What a state looks like, for error messages: the shapes of a tuple's tensors (the
    types of anything else), or the type of a non-tuple."""
    if isinstance(state, (tuple, list)):
        return [tuple(s.shape) if isinstance(s, torch.Tensor) else type(s) for s in state]
    return type(state)


def detach_state(state: State) -> State:
    """Cut the graph at a window boundary (the 'truncated' in truncated BPTT)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)


@dataclass
class TBPTTConfig:
    """Truncated back-propagation through time.

    Attributes:
        window: steps per gradient window (> 0).
        warmup: steps run without loss at the start of each sequence, so the state is
            settled before the loss counts (0 = none).
        clip_grad_norm: max global gradient norm (``None`` = no clipping).
    """

    window: int = 1024
    warmup: int = 0
    clip_grad_norm: float | None = 1.0

    def __post_init__(self) -> None:
        check_int(self.window, "window", minimum=1)
        check_int(self.warmup, "warmup", minimum=0)
        if self.clip_grad_norm is not None and not (
            isinstance(self.clip_grad_norm, (int, float)) and self.clip_grad_norm > 0
        ):
            raise InputError(
                f"clip_grad_norm: expected a number > 0 or None, got {self.clip_grad_norm!r}"
            )


def tbptt_windows(n_steps: int, cfg: TBPTTConfig) -> Iterator[tuple[int, int, bool]]:
    """Yield ``(start, stop, counts)`` windows covering ``n_steps``; warm-up ones don't count."""
    pos = 0
    if cfg.warmup > 0:
        yield 0, min(cfg.warmup, n_steps), False
        pos = min(cfg.warmup, n_steps)
    while pos < n_steps:
        stop = min(pos + cfg.window, n_steps)
        yield pos, stop, True
        pos = stop


def tbptt_step(
    cell: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    cfg: TBPTTConfig,
    state: State = None,
    *,
    times: torch.Tensor | None = None,
) -> tuple[float, State]:
    """One pass of truncated BPTT over ``x``/``target`` ``(batch, time, features)``.

    Each window runs the cell from the (detached) state of the previous one, back-propagates
    the window's loss and takes an optimiser step (gradient norm clipped). Returns the mean
    loss over the counted windows (weighted by their length) and the final state. With
    ``times`` ``(batch, time)`` given (timestamped cells such as :class:`PhasedLSTMCell`),
    each window gets its slice as ``cell(x, state, times=...)``.
    """

    def run(start: int, stop: int, state: State) -> tuple[torch.Tensor, State]:
        if times is None:
            return cell(x[:, start:stop], state)
        return cell(x[:, start:stop], state, times=times[..., start:stop])

    total, count = 0.0, 0
    for start, stop, counts in tbptt_windows(x.shape[1], cfg):
        if not counts:
            with torch.no_grad():
                _, state = run(start, stop, state)
            continue
        y, state = run(start, stop, state)
        loss = loss_fn(y, target[:, start:stop])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(cell.parameters(), cfg.clip_grad_norm)
        optimizer.step()
        state = detach_state(state)
        total += float(loss.detach()) * (stop - start)
        count += stop - start
    return total / max(count, 1), state
