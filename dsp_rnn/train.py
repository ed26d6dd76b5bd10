"""Train a GridRNN: TBPTT windows, Adam with clipping, validation each epoch, early stopping,
atomic checkpoints, exact resume, and data parallelism under ``torchrun``.

A run folder ``RUN/`` holds:

* ``weights.safetensors`` + ``config.json``: the model with the best validation NLL so far (the
  last one when there is no validation data), loadable by ``dsp-rnn generate/eval``;
* ``train_state.safetensors``: everything needed to continue exactly (weights, Adam moments,
  numpy and torch RNG states, step, counters), written before the first step, every
  ``checkpoint_every`` steps, every ``checkpoint_minutes`` of wall time, when interrupted
  and at the end (each write atomic, so a ``kill -9`` loses at most one interval);
* ``metrics.jsonl`` (one row per epoch) and ``curve.png``.

SIGINT (Ctrl-C) and SIGTERM stop training cleanly: the step under way is finished, the state
is saved as at a checkpoint (``resume=True`` continues exactly), and
:class:`TrainingInterrupted` (a ``KeyboardInterrupt``) is raised; a second signal stops at
once without saving. The previous signal handlers are restored when :func:`train` returns.
Under ``torchrun`` every rank catches the signals, the ranks agree on the step to stop at
(one small all-reduce per step), only rank 0 writes, and all ranks leave together.

Loss: the negative log-likelihood of each window (nats) divided by ``batch * window``.
Under ``torchrun`` every rank draws the same global batch of windows (same seed) and reads
only its own share of them (``rank::world_size``); DistributedDataParallel averages the
gradients, so N processes follow the same trajectory as one process with the same global
batch (up to float rounding).
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp_rnn.checkpoint import (
    CONFIG,
    WEIGHTS,
    atomic_write_bytes,
    load_tensors,
    optimizer_from_tensors,
    optimizer_to_tensors,
    read_metadata,
    save_model,
    save_tensors,
)
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.gridrnn.config import GridRNNConfig
from dsp_rnn.gridrnn.data import Corpus, padded_batches, sample_windows
from dsp_rnn.gridrnn.model import GridRNN, GridState

__all__ = ["TrainConfig", "TrainingInterrupted", "train", "evaluate", "write_json", "STATE_FILE",
           "METRICS_FILE", "RUN_FILES"]  # fmt: skip

STATE_FILE = "train_state.safetensors"
METRICS_FILE = "metrics.jsonl"
CURVE_FILE = "curve.png"
RUN_FILES = (STATE_FILE, WEIGHTS, CONFIG, METRICS_FILE, CURVE_FILE)
"""The files :func:`train` writes into a run folder (besides its own ``.*.part`` temporaries)."""


class TrainingInterrupted(KeyboardInterrupt):
    """:func:`train` stopped on SIGINT or SIGTERM.

    A ``KeyboardInterrupt``, so a script stops as it would on Ctrl-C.

    Attributes:
        signum: the signal (``signal.SIGINT`` or ``signal.SIGTERM``).
        saved: True when the state was saved at ``step`` (the first signal); False after a
            second signal, which stops without saving (the last checkpoint, at ``step``,
            stays).
        step: the step of the state on disk.
        result: the summary :func:`train` returns (``stop`` is ``"interrupted"``).
        rank: this process's rank (0 without torchrun); only rank 0 writes.
    """

    def __init__(self, signum: int, step: int, result: dict, *, saved: bool, rank: int) -> None:
        name = signal.Signals(signum).name
        what = f"saved the state at step {step}" if saved else f"last saved state: step {step}"
        super().__init__(f"training interrupted by {name}; {what}")
        self.signum, self.step, self.result, self.saved, self.rank = (
            signum, step, result, saved, rank)  # fmt: skip

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """130, the shell's code for an interrupted command, for SIGINT and SIGTERM alike:
        both mean "stopped on request, state saved", and the message names the signal."""
        return 130


class _Abort(BaseException):  # not an Exception: no ``except Exception`` swallows it
    """A second signal while training: stop now, without saving."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _StopSignals:
    """Turns SIGINT/SIGTERM into a flag the training loop reads between steps (main thread
    only: elsewhere Python cannot install handlers and the defaults stay)."""

    def __init__(self) -> None:
        self.signum = 0
        self.saving = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: object) -> None:
        if not self.signum:
            self.signum = signum
        elif not self.saving:
            raise _Abort(signum)


@dataclass
class TrainConfig:
    """How to train.

    Attributes:
        steps: stop after this many optimiser steps (None = until early stopping/epochs).
        epochs: at most this many epochs (an epoch = as many windows' steps as the train
            split has steps).
        batch_size: windows per optimiser step (the global batch under torchrun).
        window: steps per TBPTT window.
        lr: Adam learning rate.
        weight_decay: decoupled weight decay (AdamW) per unit learning rate; 0 = plain Adam.
        lr_decay_steps: cosine decay of the learning rate from ``lr`` to ``lr / 20`` over this
            many steps, then constant (None = constant ``lr``). A function of the step alone,
            so resuming needs no scheduler state.
        clip_grad_norm: max global gradient norm.
        transpose: random transposition of each window by up to this many semitones (0 = off).
        start_share: share of the windows that start at a piece's first step, from silence
            (0 = uniform starts; see :func:`~dsp_rnn.gridrnn.data.sample_windows`).
        patience: stop after this many epochs without a better validation NLL.
        checkpoint_every: write ``train_state.safetensors`` every this many steps.
        checkpoint_minutes: ...and after this many minutes of wall time since the last write
            (None = by steps only), so a ``kill -9`` loses at most about this much work.
        max_minutes: stop (and checkpoint) after this much training wall time.
        seed: seeds weights, windows and dropout.
        progress: show a tqdm bar (rank 0).
    """

    steps: int | None = None
    epochs: int = 1000
    batch_size: int = 4
    window: int = 48
    lr: float = 2e-3
    weight_decay: float = 0.0
    lr_decay_steps: int | None = None
    clip_grad_norm: float = 1.0
    transpose: int = 0
    start_share: float = 0.0
    patience: int = 6
    checkpoint_every: int = 200
    checkpoint_minutes: float | None = 1.0
    max_minutes: float | None = None
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "window", "checkpoint_every", "patience"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name}: expected an integer >= 1, got {name}={v!r}")
        if self.steps is not None and (
            isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1
        ):
            raise InputError(f"steps: expected an integer >= 1 or None, got {self.steps!r} "
                             "(no steps would leave an untrained model)")  # fmt: skip
        for name in ("checkpoint_minutes", "max_minutes"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not v > 0):  # fmt: skip
                raise InputError(f"{name}: expected a number > 0 or None, got {v!r}")
        if self.lr_decay_steps is not None and self.lr_decay_steps < 1:
            raise InputError(f"lr_decay_steps: expected >= 1 or None, got {self.lr_decay_steps}")
        if not (isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay < 10):
            raise InputError(f"weight_decay: expected 0 <= value < 10, got {self.weight_decay!r}")
        if not self.lr > 0 or not self.clip_grad_norm > 0:
            raise InputError(f"lr and clip_grad_norm must be > 0, got {self.lr}, "
                             f"{self.clip_grad_norm}")  # fmt: skip
        if isinstance(self.start_share, bool) or not (
            isinstance(self.start_share, (int, float)) and 0 <= self.start_share <= 1
        ):
            raise InputError(f"start_share: expected a share from 0 to 1, got {self.start_share!r}")
        if not isinstance(self.transpose, int) or not 0 <= self.transpose <= 12:
            raise InputError(f"transpose: expected 0..12 semitones, got {self.transpose!r}")

    def learning_rate(self, step: int) -> float:
        """The learning rate of optimiser step ``step`` (0-based).

        >>> TrainConfig(lr=1e-3, lr_decay_steps=10).learning_rate(10)
        5e-05
        """
        if self.lr_decay_steps is None:
            return self.lr
        x = min(step / self.lr_decay_steps, 1.0)
        floor = self.lr / 20
        return floor + (self.lr - floor) * 0.5 * (1 + math.cos(math.pi * x))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@torch.no_grad()
def evaluate(model: GridRNN, pieces: list[np.ndarray], *, max_steps: int = 4096) -> dict:
    """Exact NLL per time step (nats) and frame accuracy of whole pieces.

    NLL per step: ``-log P`` of every piece summed, divided by the number of steps (every
    step of every piece weighs the same; with ``articulation`` off, the play plane only: the
    JSB metric). Frame accuracy (Bay et al. 2009): ``TP / (TP + FP + FN)`` over all notes,
    predicting ``P(play) > 0.5`` given the true past and the true notes below.

    Returns:
        ``{"nll_per_step", "frame_accuracy", "steps", "pieces"}``.
    """
    was_training = model.training
    model.eval()
    total, steps, tp, fp, fn = 0.0, 0, 0, 0, 0
    for grid, mask, _ in padded_batches(pieces, max_steps=max_steps):
        grid = model.prepare(grid)
        logits, _ = model(grid)
        lp = model.note_log_probs(grid, logits).sum(-1)  # (B, T)
        total += float((lp * mask).sum())
        steps += int(mask.sum())
        pred = (logits[..., 0] > 0) & mask[..., None]
        true = (grid[..., 0] > 0.5) & mask[..., None]
        tp += int((pred & true).sum())
        fp += int((pred & ~true).sum())
        fn += int((~pred & true).sum())
    model.train(was_training)
    return {
        "nll_per_step": -total / max(steps, 1),
        "frame_accuracy": tp / max(tp + fp + fn, 1),
        "steps": steps,
        "pieces": len(pieces),
    }


def _distributed() -> tuple[int, int]:
    """``(rank, world_size)``; initialises the process group under torchrun (gloo on CPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _plot_curve(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    x = [r["step"] for r in rows]
    ax.plot(x, [r["train_nll"] for r in rows], label="train (windows)")
    if any(r.get("valid_nll") is not None for r in rows):
        valid = [r.get("valid_nll", float("nan")) for r in rows]
        ax.plot(x, valid, label="valid (whole pieces)")
    ax.set(xlabel="optimiser step", ylabel="NLL per time step (nats)", title=path.parent.name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.part.png")
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)


def train(
    model_config: GridRNNConfig,
    corpus: Corpus,
    out: str | Path,
    config: TrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    init: dict[str, torch.Tensor] | None = None,
) -> dict:
    """Train (or continue training) a GridRNN on ``corpus`` into the run folder ``out``.

    Args:
        model_config: sizes (ignored when resuming a saved state: the saved one is used).
            Its resolution, pitch range and articulation must be the data's.
        corpus: train/valid pieces (see :func:`~dsp_rnn.gridrnn.data.load_corpus`).
        out: the run folder; must be new or empty unless ``resume`` or ``overwrite``.
        config: a :class:`TrainConfig` (on resume, only ``steps``, ``max_minutes`` and
            ``progress`` are taken from it; the rest comes from the saved state).
        resume: continue from ``out/train_state.safetensors`` exactly where it stopped. A
            folder with no state yet (new, empty, or left by a run killed before its first
            write) starts from step 0. A state already at ``config.steps`` or beyond is left
            as it is: nothing is written and the summary's ``stop`` is ``"already done"``.
        overwrite: start again in a folder that holds a run, removing the files a run
            writes (:data:`RUN_FILES`) first; other files are never removed.
        init: a GridRNN ``state_dict`` of ``model_config`` to start a new run from
            (fine-tuning) instead of random weights; ignored when resuming a saved state.

    Returns:
        a summary dict (steps, epochs, best validation NLL, seconds, stop reason, run,
        ``resumed_from``: the step continued from, None for a new run).

    Raises:
        InputError: ``out`` holds files that are not a run's; a run in ``out`` without
            ``resume`` or ``overwrite``; data that does not fit the model.
        CheckpointError: ``resume`` with a damaged or unreadable state.
        TrainingInterrupted: SIGINT or SIGTERM (after saving the state, see the module).
    """
    run = Path(out)
    if resume and overwrite:
        raise InputError("pass --resume (continue the run) or --overwrite (start it again), "
                         "not both")  # fmt: skip
    rank, world = _distributed()
    state_path = run / STATE_FILE
    ours, foreign = _run_folder_contents(run)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise InputError(f"{run}: exists and is not empty ({shown}: not a run's files); "
                         "choose a new --out (--resume and --overwrite only take a run "
                         "folder)")  # fmt: skip
    has_run = any(p.name in (STATE_FILE, WEIGHTS) for p in ours)
    if has_run and not (resume or overwrite):
        at = _saved_step(state_path)
        what = "a run" if at is None else f"a run at step {at}"
        raise InputError(f"{run}: exists and is not empty ({what}); continue it with --resume, "
                         "pass --overwrite to start it again (replaces its files), or choose a "
                         "new --out")  # fmt: skip
    saved: tuple[dict, dict] | None = None
    if resume and state_path.is_file():
        try:
            saved = load_tensors(state_path)
        except CheckpointError as exc:
            raise CheckpointError(f"{exc}; pass --overwrite instead of --resume to start the "
                                  "run again") from None  # fmt: skip
        meta = saved[1]
        model_config = GridRNNConfig.from_dict(meta["model_config"])
        overrides = {"steps": config.steps, "max_minutes": config.max_minutes,
                     "progress": config.progress}  # fmt: skip
        config = TrainConfig.from_dict({**meta["train_config"], **overrides})
    if config.batch_size % world:
        raise InputError(f"batch_size {config.batch_size} must divide by world size {world}")
    if not corpus.train:
        raise InputError("no training pieces")
    _check_data(model_config, corpus, run if saved is not None else None)
    c: dict[str, Any] = {"step": 0, "epoch": 0, "best": None, "bad_epochs": 0, "seconds": 0.0,
                         "stop": None, "epoch_loss": 0.0, "epoch_steps": 0}  # fmt: skip
    if saved is not None:
        c.update(saved[1]["counters"])
        c["stop"] = None  # continue: the steps/time limits are checked again below
    resumed_from = c["step"] if saved is not None else None

    def summary() -> dict:
        return {"steps": c["step"], "epochs": c["epoch"], "best_valid_nll": c["best"],
                "seconds": round(c["seconds"], 1), "stop": c["stop"], "run": str(run),
                "resumed_from": resumed_from}  # fmt: skip

    if saved is not None and config.steps is not None and c["step"] >= config.steps:
        c["stop"] = "already done"
        return summary()  # every rank decides the same, from the same file
    if world > 1:  # every rank has looked at the folder before rank 0 writes to it
        import torch.distributed as dist

        dist.barrier()

    torch.manual_seed(config.seed)
    model = GridRNN(model_config)
    if init is not None and saved is None:
        try:
            model.load_state_dict(init)
        except RuntimeError as exc:
            raise InputError(f"init: weights do not fit the model config ({exc})") from None
    opt: torch.optim.Optimizer = (
        torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        if config.weight_decay > 0
        else torch.optim.Adam(model.parameters(), lr=config.lr)
    )
    rng = np.random.default_rng(config.seed)
    if saved is not None:
        tensors, meta = saved
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        optimizer_from_tensors(
            opt, {k[6:]: v for k, v in tensors.items() if k.startswith("optim.")}, meta["optim"]
        )
        rng.bit_generator.state = meta["numpy_rng"]
        torch.set_rng_state(tensors["rng.torch"])
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model)

    train_steps = sum(len(p) for p in corpus.train)
    per_epoch = max(1, math.ceil(train_steps / (config.batch_size * config.window)))
    local = config.batch_size // world
    meta_base = {"data": corpus.summary, "model_config": model_config.to_dict(),
                 "train_config": asdict(config), "world_size": world,
                 "parameters": model.count_parameters()}  # fmt: skip
    sig = _StopSignals()
    every_s = None if config.checkpoint_minutes is None else 60.0 * config.checkpoint_minutes
    written = {"step": c["step"], "at": time.monotonic()}  # the state on disk

    def save_state() -> None:
        written.update(step=c["step"], at=time.monotonic())
        if rank != 0:
            return
        ot, oj = optimizer_to_tensors(opt)
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        tensors.update({f"optim.{k}": v for k, v in ot.items()})
        tensors["rng.torch"] = torch.get_rng_state()
        meta = {**meta_base, "optim": oj, "numpy_rng": rng.bit_generator.state, "counters": c}
        saving, sig.saving = sig.saving, True  # a second signal waits for the write
        try:
            save_tensors(state_path, tensors, meta)
        finally:
            sig.saving = saving

    def save_best(metrics: dict) -> None:
        if rank == 0:
            save_model(run, model, {**meta_base, "step": c["step"], "epoch": c["epoch"],
                                    "training_seconds": round(c["seconds"], 1),
                                    "metrics": metrics})  # fmt: skip

    def agreed_stop() -> tuple[int, bool]:
        """``(signal or 0, time limit reached)``, the same on every rank."""
        flags = [sig.signum, int(limit_s is not None and c["seconds"] >= limit_s)]
        if world > 1:  # ranks may see a signal one step apart: stop at the same step
            import torch.distributed as dist

            t = torch.tensor(flags, dtype=torch.int64, device=next(model.parameters()).device)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            flags = [int(v) for v in t.tolist()]
        return flags[0], bool(flags[1])

    bar = None
    limit_s = None if config.max_minutes is None else 60.0 * config.max_minutes
    stop_signal = 0
    try:
        with sig:
            if rank == 0:
                for old in ours:  # a fresh start, or temporaries a killed run left
                    if overwrite or _is_temporary(old.name):
                        old.unlink(missing_ok=True)
                run.mkdir(parents=True, exist_ok=True)
                if resume:
                    _rewind_outputs(run, c, model_config)
            if saved is None:
                save_state()  # resumable from the start: a kill never leaves a dead end
            if config.progress and rank == 0:
                from tqdm import tqdm

                bar = tqdm(total=config.steps, initial=c["step"], unit="step",
                           dynamic_ncols=True)  # fmt: skip
            model.train()
            clock, done_here = time.perf_counter(), 0
            while c["stop"] is None:
                if config.steps is not None and c["step"] >= config.steps:
                    c["stop"] = "steps"
                    break
                stop_signal, over_time = agreed_stop()
                if stop_signal:
                    c["stop"] = "interrupted"
                    break
                if over_time:
                    c["stop"] = "time"
                    break
                t_start = time.perf_counter()
                g, m, prev, t0 = sample_windows(
                    corpus.train,
                    rng,
                    batch_size=config.batch_size,
                    window=config.window,
                    transpose=config.transpose,
                    start_share=config.start_share,
                )
                sl = slice(rank * local, (rank + 1) * local)
                grid = torch.from_numpy(g[sl]).float()
                mask = torch.from_numpy(m[sl])
                previous = torch.from_numpy(prev[sl]).float()
                grid = model.prepare(grid, previous)
                logits, _ = net(grid, GridState(None, previous, torch.from_numpy(t0[sl])))
                lp = (model.note_log_probs(grid, logits).sum(-1) * mask).sum()
                loss = -lp / (local * config.window)
                for group in opt.param_groups:
                    group["lr"] = config.learning_rate(c["step"])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
                opt.step()
                c["step"] += 1
                c["epoch_loss"] += -float(lp.detach())
                c["epoch_steps"] += int(mask.sum())
                c["seconds"] += time.perf_counter() - t_start
                done_here += 1
                if bar is not None:
                    rate = done_here / max(time.perf_counter() - clock, 1e-9)
                    bar.set_postfix(loss=f"{-float(lp.detach()) / max(int(mask.sum()), 1):.3f}",
                                    steps_s=f"{rate:.2f}", refresh=False)  # fmt: skip
                    bar.update(1)
                if c["step"] % per_epoch == 0:
                    _end_epoch(model, corpus, config, c, run, rank, bar, save_best)
                if c["step"] % config.checkpoint_every == 0 or (
                    every_s is not None and time.monotonic() - written["at"] >= every_s
                ):
                    save_state()
            sig.saving = True  # from here on a second signal waits: the state is written
            save_state()
            if rank == 0 and not (run / WEIGHTS).exists():
                save_best({"step": c["step"], "note": "no epoch finished; last weights"})
            if world > 1:  # leave together: a rank tearing gloo down while rank 0 writes aborts
                import torch.distributed as dist

                dist.barrier()
    except _Abort as exc:
        c["stop"] = "interrupted"
        raise TrainingInterrupted(exc.signum, written["step"], summary(), saved=False,
                                  rank=rank) from None  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    if stop_signal:
        raise TrainingInterrupted(stop_signal, c["step"], summary(), saved=True, rank=rank)
    return summary()


def _end_epoch(model: GridRNN, corpus: Corpus, config: TrainConfig, c: dict[str, Any],
               run: Path, rank: int, bar: Any, save_best: Any) -> None:  # fmt: skip
    """Validation, the best model, a metrics row and the curve at the end of an epoch."""
    c["epoch"] += 1
    row: dict[str, Any] = {"epoch": c["epoch"], "step": c["step"],
                           "train_nll": c["epoch_loss"] / max(c["epoch_steps"], 1),
                           "seconds": round(c["seconds"], 2)}  # fmt: skip
    c["epoch_loss"], c["epoch_steps"] = 0.0, 0
    t_eval = time.perf_counter()
    if corpus.valid:
        v = evaluate(model, corpus.valid)
        row.update(valid_nll=v["nll_per_step"], valid_frame_accuracy=v["frame_accuracy"])
        if c["best"] is None or v["nll_per_step"] < c["best"]:
            c["best"], c["bad_epochs"] = v["nll_per_step"], 0
            save_best(row)
        else:
            c["bad_epochs"] += 1
            if c["bad_epochs"] >= config.patience:
                c["stop"] = "early stopping"
    else:
        save_best(row)
    c["seconds"] += time.perf_counter() - t_eval
    if rank == 0:
        with open(run / METRICS_FILE, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        _plot_curve(_read_metrics(run), run / CURVE_FILE)
        if bar is not None:
            bar.write(json.dumps(row))
    if c["epoch"] >= config.epochs:
        c["stop"] = "epochs"


def _is_temporary(name: str) -> bool:
    """A half-written file of :func:`atomic_write_bytes` or of the curve (a killed write)."""
    return (
        name.startswith(".")
        and name.endswith((".part", ".part.png"))
        and any(name.startswith(f".{f}.") for f in RUN_FILES)
    )


def _run_folder_contents(run: Path) -> tuple[list[Path], list[str]]:
    """``(paths a run wrote, names of anything else)`` in ``run``. The run's file names count
    as a run's only beside its state or weights (a lone ``config.json`` may be anyone's)."""
    if not run.exists():
        return [], []
    if not run.is_dir():
        raise InputError(f"{run}: not a folder; --out takes a run folder")
    entries = sorted(run.iterdir())
    has_run = (run / STATE_FILE).is_file() or (run / WEIGHTS).is_file()
    ours: list[Path] = []
    foreign: list[str] = []
    for p in entries:
        if p.is_file() and (_is_temporary(p.name) or (has_run and p.name in RUN_FILES)):
            ours.append(p)
        else:
            foreign.append(p.name)
    return ours, foreign


def _saved_step(state_path: Path) -> int | None:
    """The step of a saved state (header only), None when absent or unreadable."""
    try:
        return int(read_metadata(state_path)["counters"]["step"])
    except (CheckpointError, KeyError, TypeError, ValueError):
        return None


def _check_data(model_config: GridRNNConfig, corpus: Corpus, run: Path | None) -> None:
    """The data must be at the model's resolution, over its keys, with its articulation."""
    who = "the model" if run is None else f"{run}: the run's model"
    way = ("" if run is None else "; resume with the data the run was trained on, at "
           f"{model_config.steps_per_quarter} step(s) per quarter note")  # fmt: skip
    spq = model_config.steps_per_quarter
    if corpus.steps_per_quarter != spq:
        raise InputError(f"{who} works at {spq} step(s) per quarter note, the data at "
                         f"{corpus.steps_per_quarter}{way}")  # fmt: skip
    keys = {int(p.shape[1]) for p in corpus.train + corpus.valid}
    if keys != {model_config.n_pitches}:
        raise InputError(f"{who} has {model_config.n_pitches} keys, the data "
                         f"{', '.join(map(str, sorted(keys)))}{way}")  # fmt: skip
    if corpus.articulation != model_config.articulation:

        def kind(a: bool) -> str:
            return "onsets (MIDI)" if a else "no articulation (JSB)"

        raise InputError(f"{who} models {kind(model_config.articulation)}, the data has "
                         f"{kind(corpus.articulation)}{way}")  # fmt: skip


def _rewind_outputs(run: Path, c: dict[str, Any], model_config: GridRNNConfig) -> None:
    """After a crash between checkpoints: drop metric rows newer than the state, and keep
    the best model written after it (its validation NLL becomes the one to beat) when it
    is a model of this configuration."""
    rows = _read_metrics(run)
    kept = [r for r in rows if r["step"] <= c["step"]]
    if len(kept) != len(rows):
        text = "".join(json.dumps(r) + "\n" for r in kept)
        atomic_write_bytes(run / METRICS_FILE, text.encode())
    try:
        best = json.loads((run / CONFIG).read_text())
        saved = best["metadata"]["metrics"]["valid_nll"]
        same = best["config"] == model_config.to_dict()
    except (OSError, KeyError, TypeError, ValueError):
        return
    if same and saved is not None and (c["best"] is None or saved < c["best"]):
        c["best"] = saved


def _read_metrics(run: Path) -> list[dict]:
    path = run / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_json(path: Path, data: dict) -> None:
    """Atomic JSON file."""
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())
