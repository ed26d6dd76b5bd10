"""What a model family gives the trainer: the :class:`TrainTask` protocol.

The trainer (:func:`dsp_rnn.training.train`) knows nothing of notes, audio or filters. It asks
a task for a model, for batches of TBPTT windows drawn from the task's data with the
trainer's random generator, for the summed loss of a batch, and for validation metrics;
it owns everything else (optimiser, schedule, clipping, checkpoints, resume, signals,
logging, DDP). A family implements the protocol structurally, so its package never imports
:mod:`dsp_rnn.training` (the GridRNN's task is :class:`dsp_rnn.gridrnn.task.GridTask`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

__all__ = ["TrainTask"]


@runtime_checkable
class TrainTask(Protocol):
    """A model family's training job on its data.

    Attributes:
        family: the registry name written into the run's ``config.json`` (``"gridrnn"``),
            so :func:`~dsp_rnn.training.load_model` can load the run.
        metric: name of the per-item loss, lower is better (``"nll"``): metrics rows hold
            ``train_<metric>`` and ``valid_<metric>``, and early stopping watches the latter.
        metric_label: the loss's axis label on the curve, with its unit.
        summary: one line about the data, saved with the model.
    """

    @property
    def family(self) -> str: ...

    @property
    def metric(self) -> str: ...

    @property
    def metric_label(self) -> str: ...

    @property
    def summary(self) -> str: ...

    def settings(self) -> dict[str, Any]:
        """JSON of everything that rebuilds this task's model and batches (the model config
        and the batch options, not the data); saved in the training state."""
        ...

    def restore(self, saved: dict[str, Any], run: Path) -> TrainTask:
        """This task's data with the settings of the run ``run`` (``saved`` is the whole
        metadata of its training state); raises ``InputError`` (naming ``run``) when the
        data does not fit the run's model."""
        ...

    def check(self) -> None:
        """Before a new run: raise ``InputError`` when the data does not fit the model."""
        ...

    def model_config(self) -> dict[str, Any]:
        """The model's config as ``config.json`` holds it (compared on resume)."""
        ...

    def build(self) -> nn.Module:
        """A new model (the trainer has seeded torch's generator just before)."""
        ...

    def train_size(self) -> int:
        """Time steps in the training data: an epoch is this many window steps."""
        ...

    def sample_batch(
        self, rng: np.random.Generator, *, batch_size: int, window: int, part: slice
    ) -> Any:
        """Rows ``part`` of a batch of ``batch_size`` windows of ``window`` steps.

        Every process draws the whole batch (the same random numbers, so ``rng`` stays in
        step across processes) and keeps its own rows. A batch must be a function of the
        generator's state alone, so a resumed run draws what an uninterrupted one would.
        """
        ...

    def loss(self, net: nn.Module, batch: Any) -> tuple[torch.Tensor, int]:
        """``(total, n)``: the loss summed over the batch (a scalar with gradient) and the
        number of items it covers. The trainer minimises ``total / (rows * window)`` and
        reports ``total / n``.

        ``net`` is the model, or its ``DistributedDataParallel`` wrapper (then the model is
        ``net.module``): call ``net`` for the forward pass.
        """
        ...

    def validate(self, model: nn.Module) -> dict[str, float] | None:
        """Metrics on the validation data, ``metric`` among them (lower is better); None
        when there is none (each epoch's model is then kept). Called in eval mode without
        gradients."""
        ...
