"""System identification: train a cell to reproduce a filter, a callable or a recorded pair.

The loss is the error-to-signal ratio with optional pre-emphasis (:func:`dsp_rnn.compare.
esr_loss`), the training truncated back-propagation through time with warm-up
(:func:`dsp_rnn.cells.base.tbptt_step`), the optimiser Adam.

References:
    A. Wright, E.-P. Damskägg, V. Välimäki, "Real-time black-box modelling with recurrent
    neural networks", DAFx 2019 (ESR loss with pre-emphasis, warm-up, TBPTT).
"""

from __future__ import annotations

import copy
import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp_rnn._validate import as_tensor, check_finite, check_int, check_sample_rate, check_seed
from dsp_rnn.compare.metrics import esr, esr_loss, pre_emphasis_taps
from dsp_rnn.compare.systems import (
    System,
    as_system,
    is_cell,
    module_device,
    module_dtype,
    run_cell,
    system_output,
)
from dsp_rnn.errors import InputError, ShapeError

__all__ = ["FitResult", "fit"]


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes:
        cell: the fitted cell (the same object passed in, with its best weights).
        curve: ``(step, ESR)`` on the validation signal, step 0 before training.
        train_loss: ``(step, loss)`` of every optimiser step (ESR with pre-emphasis).
        esr: validation ESR of the returned weights.
        seconds: wall time of the training loop (evaluations included).
        steps: optimiser steps taken.
    """

    cell: nn.Module
    curve: list[tuple[int, float]]
    train_loss: list[tuple[int, float]] = field(repr=False)
    esr: float
    seconds: float
    steps: int

    def plot(self, path: str | Path, *, title: str = "") -> Path:
        """Write the training curve (ESR against step, log scale) as an image (PNG, SVG,
        ...) in an existing folder (:func:`~dsp_rnn.compare.plots.plot_fit_curve`)."""
        from dsp_rnn.compare.plots import plot_fit_curve

        return plot_fit_curve(self, path, title=title)


def _rms_range(noise_rms: Any) -> tuple[float, float]:
    pair = noise_rms if isinstance(noise_rms, (tuple, list)) else (noise_rms, noise_rms)
    if len(pair) != 2 or not all(
        isinstance(v, numbers.Real) and math.isfinite(float(v)) and float(v) > 0 for v in pair
    ):
        raise InputError(f"noise_rms: expected a number > 0 or (low, high), got {noise_rms!r}")
    lo, hi = float(pair[0]), float(pair[1])
    if lo > hi:
        raise InputError(f"noise_rms: expected low <= high, got {noise_rms!r}")
    return lo, hi


def _as_pair(target: Any, x: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(x, y) as (N, T) when ``target`` is a recorded output of ``x``'s shape, else None."""
    if not isinstance(target, (torch.Tensor, np.ndarray)):
        return None
    if x is None:
        if target.ndim >= 1 and target.shape[-1] != 6:
            raise InputError(
                f"target: a recorded output (shape {tuple(target.shape)}) needs its input x"
            )
        return None
    x_t = as_tensor(x, "x", min_ndim=1)
    y_t = as_tensor(target, "target", min_ndim=1)
    if tuple(y_t.shape) != tuple(x_t.shape):
        if y_t.ndim == 2 and y_t.shape[-1] == 6:
            return None  # second-order sections
        raise ShapeError(
            f"target: a recorded output must have the input's shape {tuple(x_t.shape)}, "
            f"got {tuple(y_t.shape)}"
        )
    check_finite(x_t, "x")
    check_finite(y_t, "target")
    return x_t.reshape(-1, x_t.shape[-1]), y_t.reshape(-1, y_t.shape[-1])


def fit(
    cell: nn.Module,
    target: Any,
    x: Any = None,
    *,
    sample_rate: float,
    steps: int = 1000,
    lr: float = 1e-2,
    pre_emphasis: Any = None,
    warmup: int = 0,
    window: int = 1024,
    segment_windows: int = 1,
    batch_size: int = 16,
    noise_rms: float | tuple[float, float] = 0.3,
    val_samples: int | None = None,
    eval_every: int | None = None,
    clip_grad_norm: float | None = 1.0,
    lr_schedule: str = "cosine",
    lr_min: float | None = None,
    stop_esr: float | None = None,
    max_seconds: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> FitResult:
    """System identification: train ``cell`` to reproduce ``target`` (ESR loss, TBPTT).

    Two kinds of data:

    - ``target`` a system (SOS, ``(b, a)`` or a callable on ``(..., time)``): with ``x``
      ``None`` every batch is fresh seeded white noise of RMS ``noise_rms`` and the target
      is the system's output; with ``x`` given, crops of ``x`` (filtered as one signal).
    - ``target`` a recorded output, a tensor of ``x``'s shape ``(..., time)``: a recorded
      (input, output) pair; batches are random crops of it (channels are examples).

    Each batch holds ``batch_size`` segments of ``warmup + segment_windows * window``
    samples; :func:`dsp_rnn.cells.base.tbptt_step` runs the warm-up without loss, then takes
    one Adam step per window of ``window`` samples with the state carried over (detached).
    The loss is :func:`esr_loss` with ``pre_emphasis``. Every ``eval_every`` steps the ESR
    (no pre-emphasis) is measured on the validation signal: seeded white noise of
    ``val_samples`` (system targets, ``x`` None; held out) or the first ``val_samples`` of
    the data; the weights with the lowest validation ESR are kept and returned.

    Args:
        cell: a one-in, one-out cell (``input_size == output_size == 1``), trained in place.
        target: a system or a recorded output (see above).
        x: input signal ``(..., time)`` (required for a recorded pair).
        sample_rate: in Hz (default validation length: half a second).
        steps: optimiser steps, ``>= 1`` (default 1000).
        lr: Adam learning rate, ``> 0`` (default 1e-2).
        pre_emphasis: ``None`` (default), a coefficient ``c`` for ``1 - c z^-1`` (0.85 is
            usual for audio), or FIR taps.
        warmup: samples run without loss at the start of each segment (default 0).
        window: TBPTT window in samples (default 1024).
        segment_windows: windows per segment, the state carried through (default 1).
        batch_size: segments per batch (default 16).
        noise_rms: RMS of the white-noise excitation (default 0.3), or a range
            ``(low, high)``: each segment then gets an RMS drawn log-uniformly from it
            (nonlinear targets see every level), and the validation signal is four
            quarters at RMS log-spaced from ``low`` to ``high``.
        val_samples: validation length (default ``sample_rate // 2``).
        eval_every: steps between evaluations (default ``max(1, steps // 20)``).
        clip_grad_norm: global gradient-norm clip (default 1; ``None``: no clipping).
        lr_schedule: ``"cosine"`` (default: decay to ``lr_min`` over ``steps``) or
            ``"constant"``.
        lr_min: the cosine schedule's final learning rate (default ``lr / 100``). Adam
            moves every parameter by about the learning rate per step, so coefficients
            whose best values are small (the numerators of a narrow lowpass) need a small
            final rate to settle.
        stop_esr: stop as soon as the validation ESR falls below this (default: never).
        max_seconds: stop after this much wall time (default: never).
        seed: seeds the noise and the crops (not the cell's initialisation).
        progress: show a tqdm progress bar on stderr (default ``True``).

    Shape:
        ``x``/``target`` ``(..., time)``.

    Returns:
        A :class:`FitResult` (``.cell``, ``.curve`` of ``(step, ESR)``, ``.esr``, ``.plot``).

    Raises:
        InputError: bad settings or a cell that is not one-in, one-out. ShapeError: a
        recorded output whose shape differs from ``x``'s.

    Properties: trains on the cell's device and dtype.

    Example:
        >>> import torch
        >>> from dsp_rnn.cells.base import Cell
        >>> class Gain(Cell):
        ...     input_size = output_size = 1
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.g = torch.nn.Parameter(torch.tensor(0.1))
        ...     def step(self, x_t, state=None):
        ...         return self.g * x_t, state
        >>> res = fit(Gain(), lambda s: 0.5 * s, sample_rate=8000, steps=100, lr=0.02,
        ...           window=64, batch_size=4, progress=False)
        >>> res.curve[0][1] > 0.5 and res.esr < 1e-3  # ESR before and after
        True
    """
    sr = check_sample_rate(sample_rate)
    steps = check_int(steps, "steps", minimum=1)
    warmup = check_int(warmup, "warmup", minimum=0)
    window = check_int(window, "window", minimum=1)
    segment_windows = check_int(segment_windows, "segment_windows", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if eval_every is None:
        eval_every = max(1, steps // 20)
    eval_every = check_int(eval_every, "eval_every", minimum=1)
    if not (isinstance(lr, numbers.Real) and math.isfinite(lr) and lr > 0):
        raise InputError(f"lr: must be > 0 and finite, got lr={lr!r}")
    if lr_min is not None and not (isinstance(lr_min, numbers.Real) and 0 <= lr_min <= lr):
        raise InputError(f"lr_min: expected 0 <= lr_min <= lr, got lr_min={lr_min!r}, lr={lr}")
    if lr_schedule not in ("cosine", "constant"):
        raise InputError(f"lr_schedule: expected 'cosine' or 'constant', got {lr_schedule!r}")
    if not is_cell(cell):
        raise InputError(
            f"cell: expected a cell (an nn.Module with .step), got {type(cell).__name__}"
        )
    if getattr(cell, "input_size", 1) != 1 or getattr(cell, "output_size", 1) != 1:
        raise InputError(
            f"cell: expected input_size=1 and output_size=1, got input_size="
            f"{getattr(cell, 'input_size', '?')}, output_size={getattr(cell, 'output_size', '?')}"
        )
    taps = pre_emphasis_taps(pre_emphasis)
    rms_lo, rms_hi = _rms_range(noise_rms)
    dtype = module_dtype(cell) or torch.float32
    device = module_device(cell)
    seed = check_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    seg_len = warmup + segment_windows * window

    pair = _as_pair(target, x)
    system: Callable[[torch.Tensor], torch.Tensor] | None = None
    if pair is None:
        sys_ = as_system(target, None)
        system = sys_.run
        if x is not None:
            x_t = as_tensor(x, "x", min_ndim=1)
            check_finite(x_t, "x")
            x_t = x_t.reshape(-1, x_t.shape[-1]).to(torch.float64)
            with torch.no_grad():
                pair = (x_t, system_output(sys_, x_t))
    n_val = (
        (int(sr) // 2) if val_samples is None else check_int(val_samples, "val_samples", minimum=1)
    )
    if pair is not None:
        x_all = pair[0].to(dtype)
        y_all = pair[1].to(dtype)
        seg_len = min(seg_len, x_all.shape[-1])
        x_val, y_val = x_all[:, :n_val], y_all[:, :n_val]
    elif system is not None:
        vgen = torch.Generator().manual_seed(seed + 1_000_003)
        levels = torch.logspace(math.log10(rms_lo), math.log10(rms_hi), 4, dtype=torch.float64)
        quarter = (torch.arange(n_val) * 4) // n_val
        x_val = levels[quarter] * torch.randn(1, n_val, generator=vgen, dtype=torch.float64)
        with torch.no_grad():
            y_val = system_output(System("target", system, None, None), x_val).to(dtype)
        x_val = x_val.to(dtype)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        if pair is None:
            u = torch.rand(batch_size, 1, generator=gen, dtype=torch.float64)
            rms = rms_lo * (rms_hi / rms_lo) ** u  # log-uniform (constant if lo == hi)
            xb = rms * torch.randn(batch_size, seg_len, generator=gen, dtype=torch.float64)
            with torch.no_grad():
                yb = torch.as_tensor(system(xb)).to(torch.float64)  # type: ignore[misc]
            return xb.to(dtype), yb.to(dtype)
        n_ch, n_t = x_all.shape
        ch = torch.randint(0, n_ch, (batch_size,), generator=gen)
        start = torch.randint(0, n_t - seg_len + 1, (batch_size,), generator=gen)
        idx = start[:, None] + torch.arange(seg_len)
        return x_all[ch[:, None], idx], y_all[ch[:, None], idx]

    def evaluate() -> float:
        was_training = cell.training
        cell.eval()
        with torch.no_grad():
            y = run_cell(cell, x_val.to(device))
        cell.train(was_training)
        return esr(y.cpu(), y_val)

    from dsp_rnn.cells.base import TBPTTConfig, tbptt_step

    cfg = TBPTTConfig(window=window, warmup=warmup, clip_grad_norm=clip_grad_norm)
    optimizer = torch.optim.Adam(cell.parameters(), lr=float(lr))
    if lr_schedule == "cosine":
        sched: Any = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=steps, eta_min=float(lr) / 100 if lr_min is None else float(lr_min)
        )
    else:
        sched = None

    def loss_fn(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return esr_loss(y, t, taps)

    count = [0]  # optimiser steps so far (tbptt_step takes one per window)

    def after_step(*_: Any) -> None:
        if sched is not None:
            sched.step()
        count[0] += 1

    optimizer.register_step_post_hook(after_step)
    t0 = time.perf_counter()
    best = evaluate()
    best_state = copy.deepcopy(cell.state_dict())
    curve = [(0, best)]
    losses: list[tuple[int, float]] = []
    from tqdm.auto import tqdm

    bar = tqdm(
        total=steps, disable=not progress, desc="fit", unit="step", leave=False, mininterval=1.0
    )
    cell.train()
    next_eval = eval_every
    try:
        while count[0] < steps:
            xb, yb = batch()
            n_win = min(segment_windows, steps - count[0])
            length = min(warmup + n_win * window, xb.shape[-1])
            xb = xb[:, :length, None].to(device)  # (B, T, 1)
            yb = yb[:, :length, None].to(device)
            before = count[0]
            loss, _ = tbptt_step(cell, xb, yb, loss_fn, optimizer, cfg)
            losses.append((count[0], float(loss)))
            bar.update(count[0] - before)
            done = count[0] >= steps
            timeout = max_seconds is not None and time.perf_counter() - t0 > max_seconds
            if count[0] >= next_eval or done or timeout:
                next_eval = count[0] + eval_every
                val = evaluate()
                curve.append((count[0], val))
                if val < best:
                    best, best_state = val, copy.deepcopy(cell.state_dict())
                bar.set_postfix(loss=f"{loss:.3g}", esr=f"{val:.3g}")
                if stop_esr is not None and val < stop_esr:
                    break
            if timeout:
                break
    finally:
        bar.close()
    cell.load_state_dict(best_state)
    return FitResult(
        cell=cell,
        curve=curve,
        train_loss=losses,
        esr=best,
        seconds=time.perf_counter() - t0,
        steps=count[0],
    )
