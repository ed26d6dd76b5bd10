"""How to train: :class:`TrainConfig`, the same for every model family."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from dsp_rnn._validate import check_int, check_seed
from dsp_rnn.errors import InputError

__all__ = ["TrainConfig"]


@dataclass
class TrainConfig:
    """How to train.

    Attributes:
        steps: stop after this many optimiser steps (None = until early stopping/epochs).
        epochs: at most this many epochs (an epoch = as many windows' steps as the training
            data has time steps).
        batch_size: windows per optimiser step (the global batch under torchrun).
        window: steps per TBPTT window.
        lr: Adam learning rate.
        weight_decay: decoupled weight decay (AdamW) per unit learning rate; 0 = plain Adam.
        lr_decay_steps: cosine decay of the learning rate from ``lr`` to ``lr / 20`` over this
            many steps, then constant (None = constant ``lr``). A function of the step alone,
            so resuming needs no scheduler state.
        clip_grad_norm: max global gradient norm.
        patience: stop after this many epochs without a better validation metric.
        checkpoint_every: write ``train_state.safetensors`` every this many steps.
        checkpoint_minutes: ...and after this many minutes of wall time since the last write
            (None = by steps only), so a ``kill -9`` loses at most about this much work.
        max_minutes: stop (and checkpoint) after this much training wall time.
        seed: seeds weights, windows and dropout.
        progress: show a tqdm bar (rank 0).

    Raises:
        InputError: a value out of range (the message names the field and the value).
    """

    steps: int | None = None
    epochs: int = 1000
    batch_size: int = 4
    window: int = 48
    lr: float = 2e-3
    weight_decay: float = 0.0
    lr_decay_steps: int | None = None
    clip_grad_norm: float = 1.0
    patience: int = 6
    checkpoint_every: int = 200
    checkpoint_minutes: float | None = 1.0
    max_minutes: float | None = None
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        # numpy integers are stored as Python ints (the config is written as JSON)
        for name in ("epochs", "batch_size", "window", "checkpoint_every", "patience"):
            setattr(self, name, check_int(getattr(self, name), name, minimum=1))
        if self.steps is not None:
            try:
                self.steps = check_int(self.steps, "steps", minimum=1)
            except InputError as exc:
                raise InputError(f"{exc} (no steps would leave an untrained model)") from None
        if self.lr_decay_steps is not None:
            self.lr_decay_steps = check_int(self.lr_decay_steps, "lr_decay_steps", minimum=1)
        self.seed = check_seed(self.seed)
        for name in ("checkpoint_minutes", "max_minutes"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not v > 0):  # fmt: skip
                raise InputError(f"{name}: expected a number > 0 or None, got {v!r}")
        if not (isinstance(self.weight_decay, (int, float)) and 0 <= self.weight_decay < 10):
            raise InputError(f"weight_decay: expected 0 <= value < 10, got {self.weight_decay!r}")
        if not self.lr > 0 or not self.clip_grad_norm > 0:
            raise InputError(f"lr and clip_grad_norm must be > 0, got {self.lr}, "
                             f"{self.clip_grad_norm}")  # fmt: skip

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
        """A config from :func:`dataclasses.asdict` output; unknown keys are ignored (a
        state saved by another version may hold options that moved elsewhere)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
