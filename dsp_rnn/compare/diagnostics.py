"""Gradient-stability diagnostics: how far back in time can a cell's gradient reach?

Back-propagation through time multiplies the gradient by one state Jacobian per step,
``dL/dh_{t-k} = (dh_{t-k+1}/dh_{t-k})^T ... (dh_t/dh_{t-1})^T dL/dh_t``. When these
Jacobians shrink vectors (a tanh RNN with a contracting recurrent matrix) the gradient
*vanishes* exponentially with the lag ``k`` and long-range dependencies cannot be learned;
when they stretch them (a linear recursion with a pole outside the unit circle) it
*explodes*. An orthogonal transition with identity activation keeps the norm exactly: this
is why orthogonal (Gerzon allpass) cells and lossless networks hold information.

:func:`gradient_norms` measures ``||dL/dh_{t-k}||`` (or ``||dL/dx_{t-k}||``) against the lag
``k`` for any cell of the protocol in :mod:`dsp_rnn.cells.base`;
:func:`plot_gradient_stability` draws several cells on one log-scaled plot.

References:
    Y. Bengio, P. Simard, P. Frasconi, "Learning long-term dependencies with gradient
    descent is difficult", IEEE Trans. Neural Networks 5(2), 1994.
    R. Pascanu, T. Mikolov, Y. Bengio, "On the difficulty of training recurrent neural
    networks", ICML 2013.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp_rnn._validate import check_float_dtype, check_int, check_seed
from dsp_rnn.compare.systems import module_device, module_dtype
from dsp_rnn.errors import InputError

__all__ = ["GradientNorms", "gradient_norms", "plot_gradient_stability"]


@dataclass
class GradientNorms:
    """Gradient norms of one cell against the time lag.

    Attributes:
        label: name of the cell (legend text).
        wrt: ``"state"`` (``||dL/dh_{t-k}||``) or ``"input"`` (``||dL/dx_{t-k}||``).
        lags: ``0 .. n_steps`` (``(n_steps + 1,)`` integers).
        norms: the gradient norm at each lag (``(n_steps + 1,)`` floats).
    """

    label: str
    wrt: str
    lags: np.ndarray = field(repr=False)
    norms: np.ndarray = field(repr=False)

    @property
    def ratio(self) -> float:
        """``norms[-1] / norms[0]``: the gain of the gradient over the whole lag range."""
        first = float(self.norms[0])
        return float(self.norms[-1]) / first if first != 0.0 else float("nan")

    def relative(self) -> np.ndarray:
        """``norms / norms[0]`` (``norms`` itself when ``norms[0] == 0``)."""
        first = float(self.norms[0])
        return self.norms / first if first != 0.0 else self.norms

    def __str__(self) -> str:
        n = len(self.lags) - 1
        return (
            f"{self.label}: ||dL/d{'h' if self.wrt == 'state' else 'x'}|| at lag {n} / lag 0 "
            f"= {self.ratio:.3e}"
        )


def _tensors(state: Any) -> list[torch.Tensor]:
    """Every tensor of a state (a tensor, or nested tuples/lists of them)."""
    if state is None:
        return []
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, (tuple, list)):
        return [t for s in state for t in _tensors(s)]
    if isinstance(state, Mapping):
        return [t for s in state.values() for t in _tensors(s)]
    return []


def _map_state(state: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    if isinstance(state, torch.Tensor):
        return fn(state)
    if isinstance(state, (tuple, list)):
        return type(state)(_map_state(s, fn) for s in state)
    if isinstance(state, Mapping):
        return {k: _map_state(v, fn) for k, v in state.items()}
    return state


def gradient_norms(
    cell: nn.Module,
    n_steps: int = 200,
    *,
    wrt: str = "state",
    batch_size: int = 1,
    input_scale: float = 1.0,
    warmup: int = 10,
    seed: int = 0,
    dtype: torch.dtype | None = None,
    label: str | None = None,
) -> GradientNorms:
    """Measure how the gradient of a loss at the last step decays or grows back in time.

    The cell runs ``warmup`` steps (no gradient) on seeded Gaussian input of standard
    deviation ``input_scale``, so that it has a typical state, then ``n_steps`` more steps.

    - ``wrt="state"`` (default): the loss is ``L = <v, h_n>``, a fixed random unit direction
      ``v`` (seeded) on the final state (all its tensors), and the result is
      ``||dL/dh_{n-k}||`` for ``k = 0 .. n_steps``; ``norms[0] == 1``. This is the product
      of state Jacobians of Bengio et al. (1994), independent of the output map. Runs
      :meth:`step` in a Python loop (keep ``n_steps`` in the hundreds).
    - ``wrt="input"``: ``L = <v, y_n>`` on the last output and the result is
      ``||dL/dx_{n-k}||`` (one whole-sequence forward, so fast paths are used; needs no
      access to the state). ``norms[0]`` is the direct feed-through and may be 0.

    With ``batch_size > 1``, ``v`` is one unit direction over the whole batch and each norm
    is taken over all items together.

    Args:
        cell: any cell of the protocol (``y, state = cell(x, state)``, ``cell.step``).
        n_steps: the largest lag, ``>= 1`` (default 200).
        wrt: ``"state"`` (default) or ``"input"``.
        batch_size: independent input sequences, ``>= 1`` (default 1).
        input_scale: standard deviation of the input, ``>= 0`` (default 1).
        warmup: steps run before the measured ones, ``>= 1`` for ``"state"`` (so the cell
            creates its state; default 10).
        seed: seeds the input and ``v`` (default 0).
        dtype: dtype of the input (default: the cell's parameters'); use a float64 cell
            for precise measurements.
        label: legend text (default: the cell's class name).

    Returns:
        A :class:`GradientNorms` (``.lags``, ``.norms``, ``.ratio``).

    Raises:
        InputError: bad ``n_steps``, ``wrt``, ``batch_size``, ``warmup``, ``seed``, ``dtype`` or
            ``input_scale``.

    Properties: the cell's parameters are not modified and get no ``.grad``; CPU or CUDA
    (the cell's device).

    References:
        Bengio, Simard & Frasconi (1994); Pascanu, Mikolov & Bengio (2013).

    Example:
        >>> import torch
        >>> from dsp_rnn.cells.base import Cell
        >>> class Leaky(Cell):  # h' = 0.5 h + x: the gradient halves every step
        ...     input_size = output_size = 1
        ...     def step(self, x_t, state=None):
        ...         h = x_t if state is None else 0.5 * state + x_t
        ...         return h, h
        >>> g = gradient_norms(Leaky(), 10, dtype=torch.float64)
        >>> g.norms[:3].tolist(), g.ratio == 0.5**10
        ([1.0, 0.5, 0.25], True)
    """
    n_steps = check_int(n_steps, "n_steps", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    warmup = check_int(warmup, "warmup", minimum=0)
    seed = check_seed(seed)
    if wrt not in ("state", "input"):
        raise InputError(f"wrt: expected 'state' or 'input', got wrt={wrt!r}")
    if wrt == "state" and warmup < 1:
        raise InputError(
            f"warmup: expected >= 1 with wrt='state' (the cell makes its state), got {warmup}"
        )
    if not (isinstance(input_scale, numbers.Real) and input_scale >= 0):
        raise InputError(f"input_scale: expected a number >= 0, got input_scale={input_scale!r}")
    dt = (module_dtype(cell) or torch.float32) if dtype is None else check_float_dtype(dtype)
    device = module_device(cell)
    gen = torch.Generator().manual_seed(seed)
    n_in = int(getattr(cell, "input_size", 1))
    total = warmup + n_steps
    x = float(input_scale) * torch.randn(
        batch_size, total, n_in, generator=gen, dtype=torch.float64
    )
    x = x.to(dtype=dt, device=device)
    grads_enabled = [p.requires_grad for p in cell.parameters()]
    for p in cell.parameters():
        p.requires_grad_(False)  # gradients w.r.t. states/inputs only
    try:
        with torch.enable_grad():
            if wrt == "state":
                norms = _state_norms(cell, x, warmup, n_steps, gen)
            else:
                norms = _input_norms(cell, x, warmup, n_steps, gen)
    finally:
        for p, req in zip(cell.parameters(), grads_enabled, strict=True):
            p.requires_grad_(req)
    return GradientNorms(
        label=label or type(cell).__name__,
        wrt=wrt,
        lags=np.arange(n_steps + 1),
        norms=norms,
    )


def _state_norms(
    cell: Any, x: torch.Tensor, warmup: int, n_steps: int, gen: torch.Generator
) -> np.ndarray:
    state = None
    with torch.no_grad():
        for t in range(warmup):
            _, state = cell.step(x[:, t], state)
    if not _tensors(state):
        raise InputError(f"{type(cell).__name__}: step() returned no state tensor; use wrt='input'")
    state = _map_state(
        state, lambda s: s.detach().clone().requires_grad_(s.is_floating_point() or s.is_complex())
    )
    states = [state]
    for t in range(n_steps):
        _, state = cell.step(x[:, warmup + t], state)
        for s in _tensors(state):
            if s.requires_grad and not s.is_leaf:
                s.retain_grad()
        states.append(state)
    final = [s for s in _tensors(state) if s.is_floating_point() or s.is_complex()]
    vs = [torch.randn(s.shape, generator=gen, dtype=torch.float64) for s in final]
    scale = torch.stack([v.square().sum() for v in vs]).sum().sqrt()  # unit over all tensors
    # L = Re <v, h_n> (a complex state of a unitary cell counts its real part)
    loss = sum(torch.real(s * (v / scale).to(s)).sum() for s, v in zip(final, vs, strict=True))
    loss.backward()  # type: ignore[union-attr]
    out = np.zeros(n_steps + 1)
    for i, st in enumerate(states):
        sq = sum(
            float(s.grad.detach().abs().double().square().sum())
            for s in _tensors(st)
            if s.grad is not None
        )
        out[n_steps - i] = float(np.sqrt(sq))
    return out


def _input_norms(
    cell: Any, x: torch.Tensor, warmup: int, n_steps: int, gen: torch.Generator
) -> np.ndarray:
    state = None
    if warmup:
        with torch.no_grad():
            _, state = cell(x[:, :warmup], None)
    xs = x[:, warmup:].detach().clone().requires_grad_(True)
    y, _ = cell(xs, state)  # (B, n_steps, out)
    v = torch.randn(y.shape[0], y.shape[-1], generator=gen, dtype=torch.float64)
    (y[:, -1] * (v / v.norm()).to(y)).sum().backward()
    if xs.grad is None:
        raise InputError(f"{type(cell).__name__}: its output does not depend on its input")
    g = xs.grad.detach().double().cpu().square().sum((0, 2)).sqrt()  # (n_steps,), by time
    out = np.zeros(n_steps + 1)
    out[:n_steps] = g.flip(0).numpy()  # lag k = n_steps - 1 - t
    out[n_steps] = 0.0  # the state before the window: not an input
    return out


def plot_gradient_stability(
    results: Iterable[GradientNorms] | Mapping[str, GradientNorms],
    path: str | Path,
    *,
    title: str = "Gradient norm against time lag (Bengio, Simard & Frasconi 1994)",
    ylim: tuple[float, float] | None = None,
) -> Path:
    """Plot several :class:`GradientNorms` on one log-scaled axis, each relative to lag 0.

    Args:
        results: the measurements (a mapping's keys replace the labels).
        path: output image (PNG, SVG, ...) in an existing folder; replaced if it exists.
        title: figure title.
        ylim: y-axis range (default: all values); curves leaving it are cut at the edge.

    Returns:
        The path written.

    Raises:
        OutputError: the folder of ``path`` is missing or read-only, or ``path`` is a folder.
    """
    from dsp_rnn.plotting import pyplot, save_figure

    plt = pyplot()
    items = (
        [(k, r) for k, r in results.items()]
        if isinstance(results, Mapping)
        else [(r.label, r) for r in results]
    )
    fig, ax = plt.subplots(figsize=(8, 4.8))
    tiny = np.finfo(np.float64).tiny
    for name, r in items:
        rel = r.relative().astype(np.float64)
        rel = np.where(rel > 0, rel, np.nan)
        ax.semilogy(
            r.lags, np.maximum(rel, tiny), lw=2, label=f"{name} (lag {r.lags[-1]}: {r.ratio:.2g})"
        )
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    wrt = items[0][1].wrt if items else "state"
    sym = "h" if wrt == "state" else "x"
    ax.set(
        xlabel="time lag k (steps)",
        ylabel=f"||dL/d{sym}_(t-k)|| / ||dL/d{sym}_t||",
        title=title,
    )
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
