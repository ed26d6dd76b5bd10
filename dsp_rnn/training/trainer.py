"""One trainer for every model family: TBPTT windows, Adam(W) with clipping and a cosine
schedule, validation each epoch, early stopping, atomic checkpoints, exact resume, and data
parallelism under ``torchrun``.

The model family plugs in through a :class:`~dsp_rnn.training.task.TrainTask`. A run folder
``RUN/`` holds:

* ``weights.safetensors`` + ``config.json``: the model with the best validation metric so far
  (the last one when there is no validation data), loadable by
  :func:`~dsp_rnn.training.load_model`, ``dsp-rnn generate`` and ``dsp-rnn eval``;
* ``train_state.safetensors``: everything needed to continue exactly (weights, optimiser
  moments, numpy and torch RNG states, the :class:`Counters`), written before the first
  step, every ``checkpoint_every`` steps, every ``checkpoint_minutes`` of wall time, when
  interrupted and at the end (each write atomic, so a ``kill -9`` loses at most one
  interval);
* ``metrics.jsonl`` (one row per epoch) and ``curve.png``.

SIGINT (Ctrl-C) and SIGTERM stop training cleanly: the step under way is finished, the state
is saved as at a checkpoint (``resume=True`` continues exactly), and
:class:`TrainingInterrupted` (a ``KeyboardInterrupt``) is raised; a second signal stops at
once without saving. The previous signal handlers are restored when :func:`train` returns.
Under ``torchrun`` every rank catches the signals, the ranks agree on the step to stop at
(one small all-reduce per step), only rank 0 writes, and all ranks leave together.

Loss: the task's summed loss of a batch divided by ``batch * window``. Under ``torchrun``
every rank draws the same global batch of windows (same seed) and keeps only its own share
(``rank::world_size`` rows in order); DistributedDataParallel averages the gradients, so N
processes follow the same trajectory as one process with the same global batch (up to float
rounding).
"""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp_rnn._atomic import is_temporary
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.training.checkpoint import (
    WEIGHTS,
    load_tensors,
    optimizer_from_tensors,
    optimizer_to_tensors,
    save_tensors,
    write_model_files,
)
from dsp_rnn.training.config import TrainConfig
from dsp_rnn.training.run_folder import (
    CURVE_FILE,
    METRICS_FILE,
    STATE_FILE,
    best_saved_metric,
    plot_curve,
    read_metrics,
    run_folder_contents,
    saved_step,
    write_metrics,
)
from dsp_rnn.training.task import TrainTask

__all__ = ["Counters", "TrainingInterrupted", "train"]


@dataclass
class Counters:
    """Where a run stands; saved in the training state, so a resumed run goes on exactly.

    Attributes:
        step: optimiser steps taken.
        epoch: epochs finished.
        best: the best validation metric so far (None before the first).
        bad_epochs: epochs since it last improved.
        seconds: training wall time (validation included), summed over sessions.
        stop: why training stopped (None while it runs).
        epoch_loss, epoch_items: the summed loss and its item count since the epoch began.
    """

    step: int = 0
    epoch: int = 0
    best: float | None = None
    bad_epochs: int = 0
    seconds: float = 0.0
    stop: str | None = None
    epoch_loss: float = 0.0
    epoch_items: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Counters:
        data = dict(data)
        if "epoch_steps" in data:  # the name in states written by earlier versions
            data.setdefault("epoch_items", data.pop("epoch_steps"))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


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


def _distributed() -> tuple[int, int]:
    """``(rank, world_size)``; initialises the process group under torchrun: gloo, since
    the models train on the CPU (NCCL, picked on a machine with a GPU, would refuse their
    CPU tensors)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size()


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def _check_run_folder(run: Path, *, resume: bool, overwrite: bool) -> list[Path]:
    """The files of an earlier run in ``run`` (to replace or resume); refuses a folder
    with other files, and a run without ``resume`` or ``overwrite``."""
    if resume and overwrite:
        raise InputError("pass --resume (continue the run) or --overwrite (start it again), "
                         "not both")  # fmt: skip
    ours, foreign = run_folder_contents(run)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise InputError(f"{run}: exists and is not empty ({shown}: not a run's files); "
                         "choose a new --out (--resume and --overwrite only take a run "
                         "folder)")  # fmt: skip
    has_run = any(p.name in (STATE_FILE, WEIGHTS) for p in ours)
    if has_run and not (resume or overwrite):
        at = saved_step(run / STATE_FILE)
        what = "a run" if at is None else f"a run at step {at}"
        raise InputError(f"{run}: exists and is not empty ({what}); continue it with --resume, "
                         "pass --overwrite to start it again (replaces its files), or choose a "
                         "new --out")  # fmt: skip
    return ours


def _load_state(run: Path, task: TrainTask) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The saved state of ``run``, checked to be a run of ``task``'s family."""
    try:
        tensors, meta = load_tensors(run / STATE_FILE)
    except CheckpointError as exc:
        raise CheckpointError(f"{exc}; pass --overwrite instead of --resume to start the "
                              "run again") from None  # fmt: skip
    family = meta.get("family")
    if family is not None and family != task.family:
        raise InputError(f"{run}: a run of a {family} model, not of a {task.family} model; "
                         "resume it with its own kind of data, or choose a new --out")  # fmt: skip
    return tensors, meta


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.weight_decay > 0:
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=config.lr)


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def train(
    task: TrainTask,
    out: str | Path,
    config: TrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train (or continue training) ``task``'s model into the run folder ``out``.

    Args:
        task: the model family and its data (a :class:`~dsp_rnn.training.task.TrainTask`,
            e.g. :class:`dsp_rnn.gridrnn.task.GridTask`). On resume its data is kept and its
            settings (model config, batch options) come from the saved state.
        out: the run folder; must be new or empty unless ``resume`` or ``overwrite``.
        config: a :class:`TrainConfig` (on resume, only ``steps``, ``max_minutes`` and
            ``progress`` are taken from it; the rest comes from the saved state).
        resume: continue from ``out/train_state.safetensors`` exactly where it stopped. A
            folder with no state yet (new, empty, or left by a run killed before its first
            write) starts from step 0. A state already at ``config.steps`` or beyond is left
            as it is: nothing is written and the summary's ``stop`` is ``"already done"``.
        overwrite: start again in a folder that holds a run, removing the files a run
            writes (:data:`~dsp_rnn.training.run_folder.RUN_FILES`) first; other files are
            never removed.

    Returns:
        a summary dict: ``steps``, ``epochs``, ``best_valid_<metric>``, ``seconds``,
        ``stop`` (``"steps"``, ``"time"``, ``"epochs"``, ``"early stopping"``,
        ``"already done"``), ``run``, ``resumed_from`` (the step continued from, None for a
        new run).

    Raises:
        InputError: ``out`` holds files that are not a run's; a run in ``out`` without
            ``resume`` or ``overwrite``; data that does not fit the model; a run of another
            model family.
        CheckpointError: ``resume`` with a damaged or unreadable state.
        TrainingInterrupted: SIGINT or SIGTERM (after saving the state, see the module).
    """
    run = Path(out)
    ours = _check_run_folder(run, resume=resume, overwrite=overwrite)
    rank, world = _distributed()
    saved = _load_state(run, task) if resume and (run / STATE_FILE).is_file() else None
    if saved is not None:
        meta = saved[1]
        task = task.restore(meta, run)
        overrides = {"steps": config.steps, "max_minutes": config.max_minutes,
                     "progress": config.progress}  # fmt: skip
        config = TrainConfig.from_dict({**meta["train_config"], **overrides})
    else:
        task.check()
    if config.batch_size % world:
        raise InputError(f"batch_size {config.batch_size} must divide by world size {world}")
    c = Counters.from_dict(saved[1]["counters"]) if saved is not None else Counters()
    c.stop = None  # continue: the steps/time limits are checked again below
    resumed_from = c.step if saved is not None else None
    best_key = f"best_valid_{task.metric}"

    def summary() -> dict[str, Any]:
        return {"steps": c.step, "epochs": c.epoch, best_key: c.best,
                "seconds": round(c.seconds, 1), "stop": c.stop, "run": str(run),
                "resumed_from": resumed_from}  # fmt: skip

    if saved is not None and config.steps is not None and c.step >= config.steps:
        c.stop = "already done"
        return summary()  # every rank decides the same, from the same file
    _barrier(world)  # every rank has looked at the folder before rank 0 writes to it

    torch.manual_seed(config.seed)
    model = task.build()
    opt = _optimizer(model, config)
    rng = np.random.default_rng(config.seed)
    if saved is not None:
        tensors, meta = saved
        model.load_state_dict(_prefixed(tensors, "model."))
        optimizer_from_tensors(opt, _prefixed(tensors, "optim."), meta["optim"])
        rng.bit_generator.state = meta["numpy_rng"]
        torch.set_rng_state(tensors["rng.torch"])
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model)

    per_epoch = max(1, math.ceil(task.train_size() / (config.batch_size * config.window)))
    local = config.batch_size // world
    part = slice(rank * local, (rank + 1) * local)
    model_config = task.model_config()
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    meta_base = {"family": task.family, "data": task.summary, "task": task.settings(),
                 "model_config": model_config, "train_config": asdict(config),
                 "world_size": world, "parameters": parameters}  # fmt: skip
    sig = _StopSignals()
    every_s = None if config.checkpoint_minutes is None else 60.0 * config.checkpoint_minutes
    limit_s = None if config.max_minutes is None else 60.0 * config.max_minutes
    written: dict[str, Any] = {"step": c.step, "at": time.monotonic()}  # the state on disk

    def save_state() -> None:
        written.update(step=c.step, at=time.monotonic())
        if rank != 0:
            return
        ot, oj = optimizer_to_tensors(opt)
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        tensors.update({f"optim.{k}": v for k, v in ot.items()})
        tensors["rng.torch"] = torch.get_rng_state()
        meta = {**meta_base, "optim": oj, "numpy_rng": rng.bit_generator.state,
                "counters": asdict(c)}  # fmt: skip
        saving, sig.saving = sig.saving, True  # a second signal waits for the write
        try:
            save_tensors(run / STATE_FILE, tensors, meta)
        finally:
            sig.saving = saving

    def save_best(metrics: dict[str, Any]) -> None:
        if rank == 0:
            info = {"model": type(model).__name__, "data": task.summary, "task": task.settings(),
                    "train_config": asdict(config), "world_size": world,
                    "parameters": parameters, "step": c.step, "epoch": c.epoch,
                    "training_seconds": round(c.seconds, 1), "metrics": metrics}  # fmt: skip
            write_model_files(run, model.state_dict(), family=task.family, config=model_config,
                              metadata=info)  # fmt: skip

    def agreed_stop() -> tuple[int, bool]:
        """``(signal or 0, time limit reached)``, the same on every rank."""
        flags = [sig.signum, int(limit_s is not None and c.seconds >= limit_s)]
        if world > 1:  # ranks may see a signal one step apart: stop at the same step
            import torch.distributed as dist

            t = torch.tensor(flags, dtype=torch.int64, device=next(model.parameters()).device)
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
            flags = [int(v) for v in t.tolist()]
        return flags[0], bool(flags[1])

    bar = None
    stop_signal = 0
    try:
        with sig:
            if rank == 0:
                for old in ours:  # a fresh start, or temporaries a killed run left
                    if overwrite or is_temporary(old.name):
                        old.unlink(missing_ok=True)
                run.mkdir(parents=True, exist_ok=True)
                if resume:
                    _rewind_outputs(run, c, task.metric, model_config)
            if saved is None:
                save_state()  # resumable from the start: a kill never leaves a dead end
            if config.progress and rank == 0:
                from tqdm import tqdm

                bar = tqdm(total=config.steps, initial=c.step, unit="step", dynamic_ncols=True)
            model.train()
            clock, done_here = time.perf_counter(), 0
            while c.stop is None:
                if config.steps is not None and c.step >= config.steps:
                    c.stop = "steps"
                    break
                stop_signal, over_time = agreed_stop()
                if stop_signal:
                    c.stop = "interrupted"
                    break
                if over_time:
                    c.stop = "time"
                    break
                t_start = time.perf_counter()
                batch = task.sample_batch(rng, batch_size=config.batch_size,
                                          window=config.window, part=part)  # fmt: skip
                total, n = task.loss(net, batch)
                loss = total / (local * config.window)
                for group in opt.param_groups:
                    group["lr"] = config.learning_rate(c.step)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
                opt.step()
                c.step += 1
                c.epoch_loss += float(total.detach())
                c.epoch_items += int(n)
                c.seconds += time.perf_counter() - t_start
                done_here += 1
                if bar is not None:
                    rate = done_here / max(time.perf_counter() - clock, 1e-9)
                    bar.set_postfix(loss=f"{float(total.detach()) / max(int(n), 1):.3f}",
                                    steps_s=f"{rate:.2f}", refresh=False)  # fmt: skip
                    bar.update(1)
                if c.step % per_epoch == 0:
                    _end_epoch(task, model, config, c, run, rank, bar, save_best)
                if c.step % config.checkpoint_every == 0 or (
                    every_s is not None and time.monotonic() - written["at"] >= every_s
                ):
                    save_state()
            sig.saving = True  # from here on a second signal waits: the state is written
            save_state()
            if rank == 0 and not (run / WEIGHTS).exists():
                save_best({"step": c.step, "note": "no epoch finished; last weights"})
            _barrier(world)  # leave together: a rank tearing gloo down while rank 0 writes aborts
    except _Abort as exc:
        c.stop = "interrupted"
        raise TrainingInterrupted(exc.signum, written["step"], summary(), saved=False,
                                  rank=rank) from None  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    if stop_signal:
        raise TrainingInterrupted(stop_signal, c.step, summary(), saved=True, rank=rank)
    return summary()


def _end_epoch(
    task: TrainTask,
    model: nn.Module,
    config: TrainConfig,
    c: Counters,
    run: Path,
    rank: int,
    bar: Any,
    save_best: Callable[[dict[str, Any]], None],
) -> None:
    """Validation, the best model, a metrics row and the curve at the end of an epoch."""
    c.epoch += 1
    row: dict[str, Any] = {"epoch": c.epoch, "step": c.step,
                           f"train_{task.metric}": c.epoch_loss / max(c.epoch_items, 1),
                           "seconds": round(c.seconds, 2)}  # fmt: skip
    c.epoch_loss, c.epoch_items = 0.0, 0
    t_eval = time.perf_counter()
    was_training = model.training
    model.eval()
    with torch.no_grad():
        valid = task.validate(model)
    model.train(was_training)
    if valid is not None:
        row.update({f"valid_{k}": v for k, v in valid.items()})
        value = float(valid[task.metric])
        if c.best is None or value < c.best:
            c.best, c.bad_epochs = value, 0
            save_best(row)
        else:
            c.bad_epochs += 1
            if c.bad_epochs >= config.patience:
                c.stop = "early stopping"
    else:
        save_best(row)
    c.seconds += time.perf_counter() - t_eval
    if rank == 0:
        with open(run / METRICS_FILE, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        plot_curve(read_metrics(run), run / CURVE_FILE, metric=task.metric,
                   label=task.metric_label)  # fmt: skip
        if bar is not None:
            bar.write(json.dumps(row))
    if c.epoch >= config.epochs:
        c.stop = "epochs"


def _rewind_outputs(run: Path, c: Counters, metric: str, model_config: dict[str, Any]) -> None:
    """After a crash between checkpoints: drop metric rows newer than the state, and keep
    the best model written after it (its validation metric becomes the one to beat) when it
    is a model of this configuration."""
    rows = read_metrics(run)
    kept = [r for r in rows if r["step"] <= c.step]
    if len(kept) != len(rows):
        write_metrics(run, kept)
    saved = best_saved_metric(run, f"valid_{metric}", model_config)
    if saved is not None and (c.best is None or saved < c.best):
        c.best = saved
