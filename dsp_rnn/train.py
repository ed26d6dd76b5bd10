"""Train a GridRNN: TBPTT windows, Adam with clipping, validation each epoch, early stopping,
atomic checkpoints, exact resume, and data parallelism under ``torchrun``.

A run folder ``RUN/`` holds:

* ``weights.safetensors`` + ``config.json``: the model with the best validation NLL so far (the
  last one when there is no validation data), loadable by ``dsp-rnn generate/eval``;
* ``train_state.safetensors``: everything needed to continue exactly (weights, Adam moments,
  numpy and torch RNG states, step, counters), written every ``checkpoint_every`` steps and
  at the end;
* ``metrics.jsonl`` (one row per epoch) and ``curve.png``.

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
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp_rnn.checkpoint import (
    atomic_write_bytes,
    load_tensors,
    optimizer_from_tensors,
    optimizer_to_tensors,
    save_model,
    save_tensors,
)
from dsp_rnn.errors import InputError
from dsp_rnn.gridrnn.config import GridRNNConfig
from dsp_rnn.gridrnn.data import Corpus, padded_batches, sample_windows
from dsp_rnn.gridrnn.model import GridRNN, GridState

__all__ = ["TrainConfig", "train", "evaluate", "write_json", "STATE_FILE", "METRICS_FILE"]

STATE_FILE = "train_state.safetensors"
METRICS_FILE = "metrics.jsonl"


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
        patience: stop after this many epochs without a better validation NLL.
        checkpoint_every: write ``train_state.safetensors`` every this many steps.
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
    patience: int = 6
    checkpoint_every: int = 200
    max_minutes: float | None = None
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "window", "checkpoint_every", "patience"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise InputError(f"{name}: expected an integer >= 1, got {name}={v!r}")
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps < 0):
            raise InputError(f"steps: expected an integer >= 0 or None, got {self.steps!r}")
        if self.lr_decay_steps is not None and self.lr_decay_steps < 1:
            raise InputError(f"lr_decay_steps: expected >= 1 or None, got {self.lr_decay_steps}")
        if not (isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay < 10):
            raise InputError(f"weight_decay: expected 0 <= value < 10, got {self.weight_decay!r}")
        if not self.lr > 0 or not self.clip_grad_norm > 0:
            raise InputError(f"lr and clip_grad_norm must be > 0, got {self.lr}, "
                             f"{self.clip_grad_norm}")  # fmt: skip
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
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def train(
    model_config: GridRNNConfig,
    corpus: Corpus,
    out: str | Path,
    config: TrainConfig,
    *,
    resume: bool = False,
) -> dict:
    """Train (or continue training) a GridRNN on ``corpus`` into the run folder ``out``.

    Args:
        model_config: sizes (ignored on resume: the saved one is used).
        corpus: train/valid pieces (see :func:`~dsp_rnn.gridrnn.data.load_corpus`).
        out: the run folder; must be new or empty unless ``resume``.
        config: a :class:`TrainConfig` (on resume, only ``steps``, ``max_minutes`` and
            ``progress`` are taken from it; the rest comes from the saved state).
        resume: continue from ``out/train_state.safetensors`` exactly where it stopped.

    Returns:
        a summary dict (steps, epochs, best validation NLL, seconds, stop reason).

    Raises:
        InputError: an existing non-empty ``out`` without ``resume``.
        CheckpointError: ``resume`` without a readable state.
    """
    run = Path(out)
    rank, world = _distributed()
    state_path = run / STATE_FILE
    saved: tuple[dict, dict] | None = None
    if resume:
        saved = load_tensors(state_path)
        meta = saved[1]
        model_config = GridRNNConfig.from_dict(meta["model_config"])
        overrides = {"steps": config.steps, "max_minutes": config.max_minutes,
                     "progress": config.progress}  # fmt: skip
        config = TrainConfig.from_dict({**meta["train_config"], **overrides})
    elif run.exists() and any(run.iterdir()):
        raise InputError(f"{run}: exists and is not empty; choose a new --out or pass --resume")
    if config.batch_size % world:
        raise InputError(f"batch_size {config.batch_size} must divide by world size {world}")
    if not corpus.train:
        raise InputError("no training pieces")

    torch.manual_seed(config.seed)
    model = GridRNN(model_config)
    opt: torch.optim.Optimizer = (
        torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        if config.weight_decay > 0
        else torch.optim.Adam(model.parameters(), lr=config.lr)
    )
    rng = np.random.default_rng(config.seed)
    c: dict[str, Any] = {"step": 0, "epoch": 0, "best": None, "bad_epochs": 0, "seconds": 0.0,
                         "stop": None, "epoch_loss": 0.0, "epoch_steps": 0}  # fmt: skip
    if saved is not None:
        tensors, meta = saved
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        optimizer_from_tensors(
            opt, {k[6:]: v for k, v in tensors.items() if k.startswith("optim.")}, meta["optim"]
        )
        rng.bit_generator.state = meta["numpy_rng"]
        torch.set_rng_state(tensors["rng.torch"])
        c.update(meta["counters"])
        c["stop"] = None  # continue: the steps/time limits are checked again below
        if rank == 0:
            _rewind_outputs(run, c)
    elif rank == 0:
        run.mkdir(parents=True, exist_ok=True)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model)

    train_steps = sum(len(p) for p in corpus.train)
    per_epoch = max(1, math.ceil(train_steps / (config.batch_size * config.window)))
    local = config.batch_size // world
    meta_base = {"data": corpus.summary, "model_config": model_config.to_dict(),
                 "train_config": asdict(config), "world_size": world,
                 "parameters": model.count_parameters()}  # fmt: skip

    def save_state() -> None:
        if rank != 0:
            return
        ot, oj = optimizer_to_tensors(opt)
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        tensors.update({f"optim.{k}": v for k, v in ot.items()})
        tensors["rng.torch"] = torch.get_rng_state()
        meta = {**meta_base, "optim": oj, "numpy_rng": rng.bit_generator.state, "counters": c}
        save_tensors(state_path, tensors, meta)

    def save_best(metrics: dict) -> None:
        if rank == 0:
            save_model(run, model, {**meta_base, "step": c["step"], "epoch": c["epoch"],
                                    "training_seconds": round(c["seconds"], 1),
                                    "metrics": metrics})  # fmt: skip

    bar = None
    if config.progress and rank == 0:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=c["step"], unit="step", dynamic_ncols=True)
    model.train()
    limit_s = None if config.max_minutes is None else 60.0 * config.max_minutes
    clock, done_here = time.perf_counter(), 0
    while c["stop"] is None:
        if config.steps is not None and c["step"] >= config.steps:
            c["stop"] = "steps"
            break
        if limit_s is not None and c["seconds"] >= limit_s:
            c["stop"] = "time"
            break
        t_start = time.perf_counter()
        g, m, prev, t0 = sample_windows(
            corpus.train,
            rng,
            batch_size=config.batch_size,
            window=config.window,
            transpose=config.transpose,
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
                _plot_curve(_read_metrics(run), run / "curve.png")
                if bar is not None:
                    bar.write(json.dumps(row))
            if c["epoch"] >= config.epochs:
                c["stop"] = "epochs"
        if c["step"] % config.checkpoint_every == 0:
            save_state()
    if bar is not None:
        bar.close()
    save_state()
    if rank == 0 and not (run / "weights.safetensors").exists():
        save_best({"step": c["step"], "note": "no epoch finished; last weights"})
    if world > 1:  # leave together: a rank tearing gloo down while rank 0 still writes aborts
        import torch.distributed as dist

        dist.barrier()
    return {"steps": c["step"], "epochs": c["epoch"], "best_valid_nll": c["best"],
            "seconds": round(c["seconds"], 1), "stop": c["stop"], "run": str(run)}  # fmt: skip


def _rewind_outputs(run: Path, c: dict[str, Any]) -> None:
    """After a crash between checkpoints: drop metric rows newer than the state, and keep
    the best model written after it (its validation NLL becomes the one to beat)."""
    rows = _read_metrics(run)
    kept = [r for r in rows if r["step"] <= c["step"]]
    if len(kept) != len(rows):
        text = "".join(json.dumps(r) + "\n" for r in kept)
        atomic_write_bytes(run / METRICS_FILE, text.encode())
    try:
        saved = json.loads((run / "config.json").read_text())["metadata"]["metrics"]["valid_nll"]
    except (OSError, KeyError, TypeError, ValueError):
        return
    if saved is not None and (c["best"] is None or saved < c["best"]):
        c["best"] = saved


def _read_metrics(run: Path) -> list[dict]:
    path = run / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_json(path: Path, data: dict) -> None:
    """Atomic JSON file."""
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())
