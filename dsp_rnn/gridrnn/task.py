"""Training a GridRNN: :class:`GridTask`, the note-grid family's training task, and
:func:`evaluate`, the exact likelihood of whole pieces.

:class:`GridTask` implements :class:`dsp_rnn.training.task.TrainTask` structurally (this
package does not import the trainer): windows of note grids drawn with
:func:`~dsp_rnn.gridrnn.data.sample_windows` (random transposition, a share of windows
from a piece's start), the negative log-likelihood in nats, validation NLL per time step and
frame accuracy on whole pieces, and the checks that the data fits the model.

>>> import numpy as np
>>> from dsp_rnn.gridrnn import GridRNNConfig
>>> from dsp_rnn.gridrnn.data import Corpus
>>> piece = np.zeros((16, 88, 2), np.uint8)
>>> task = GridTask(GridRNNConfig(time_hidden=8, pitch_hidden=8),
...                 Corpus([piece], [], 1, False, "one silent piece", []))
>>> task.check(); task.train_size()
16
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from dsp_rnn._validate import check_int
from dsp_rnn.errors import InputError
from dsp_rnn.gridrnn.config import GridRNNConfig
from dsp_rnn.gridrnn.data import Corpus, padded_batches, sample_windows
from dsp_rnn.gridrnn.ensemble import GridEnsemble
from dsp_rnn.gridrnn.model import GridRNN, GridState

__all__ = ["FAMILY", "GridBatch", "GridTask", "evaluate", "saved_model_config"]

FAMILY = "gridrnn"
"""The registry name of note-grid models (``"family"`` in their ``config.json``)."""


@dataclass(frozen=True)
class GridBatch:
    """Windows of note grids for one optimiser step.

    Attributes:
        grid: ``(B, window, P, 2)`` float32 play and onset planes.
        mask: ``(B, window)`` bool, True on steps inside a piece.
        previous: ``(B, P, 2)`` float32, the step before each window (zeros at a start).
        t0: ``(B,)`` int64, each window's first step in its piece.
    """

    grid: torch.Tensor
    mask: torch.Tensor
    previous: torch.Tensor
    t0: torch.Tensor


@dataclass(frozen=True)
class GridTask:
    """A :class:`GridRNN` of ``config`` to train on ``corpus``.

    Args:
        config: the model's sizes and data conventions; its resolution, keys and
            articulation must be the corpus's (checked by :meth:`check`).
        corpus: train and validation pieces (:func:`~dsp_rnn.gridrnn.data.load_corpus`).
        transpose: shift each window by a random ``-transpose..transpose`` semitones
            (0..12; 0 = off).
        start_share: share of the windows that start at a piece's first step, from silence
            (0..1; 0 = uniform starts).
        init: a GridRNN ``state_dict`` of ``config`` to start from (fine-tuning) instead of
            random weights; not part of the saved settings (a resumed run has its weights).

    Raises:
        InputError: ``transpose`` or ``start_share`` out of range.
    """

    config: GridRNNConfig
    corpus: Corpus = field(repr=False)
    transpose: int = 0
    start_share: float = 0.0
    init: dict[str, torch.Tensor] | None = field(default=None, repr=False)

    family = FAMILY
    metric = "nll"
    metric_label = "NLL per time step (nats)"

    def __post_init__(self) -> None:
        if isinstance(self.start_share, bool) or not (
            isinstance(self.start_share, (int, float)) and 0 <= self.start_share <= 1
        ):
            raise InputError(f"start_share: expected a share from 0 to 1, got {self.start_share!r}")
        # frozen: numpy integers are stored as Python ints (the settings are JSON)
        object.__setattr__(
            self, "transpose", check_int(self.transpose, "transpose", minimum=0, maximum=12)
        )

    @property
    def summary(self) -> str:
        return self.corpus.summary

    def settings(self) -> dict[str, Any]:
        return {"model_config": self.config.to_dict(), "transpose": self.transpose,
                "start_share": self.start_share}  # fmt: skip

    def restore(self, saved: dict[str, Any], run: Path) -> GridTask:
        settings = saved.get("task") or {  # states of earlier versions kept these elsewhere
            "model_config": saved["model_config"],
            "transpose": saved.get("train_config", {}).get("transpose", 0),
            "start_share": saved.get("train_config", {}).get("start_share", 0.0),
        }
        task = replace(self, config=GridRNNConfig.from_dict(settings["model_config"]),
                       transpose=int(settings["transpose"]),
                       start_share=float(settings["start_share"]), init=None)  # fmt: skip
        task._check_data(run)
        return task

    def check(self) -> None:
        self._check_data(None)

    def model_config(self) -> dict[str, Any]:
        return self.config.to_dict()

    def build(self) -> GridRNN:
        model = GridRNN(self.config)
        if self.init is not None:
            try:
                model.load_state_dict(self.init)
            except RuntimeError as exc:
                raise InputError(f"init: weights do not fit the model config ({exc})") from None
        return model

    def train_size(self) -> int:
        return sum(len(p) for p in self.corpus.train)

    def sample_batch(
        self, rng: np.random.Generator, *, batch_size: int, window: int, part: slice
    ) -> GridBatch:
        g, m, prev, t0 = sample_windows(self.corpus.train, rng, batch_size=batch_size,
                                        window=window, transpose=self.transpose,
                                        start_share=self.start_share)  # fmt: skip
        return GridBatch(
            torch.from_numpy(g[part]).float(),
            torch.from_numpy(m[part]),
            torch.from_numpy(prev[part]).float(),
            torch.from_numpy(t0[part]),
        )

    def loss(self, net: nn.Module, batch: GridBatch) -> tuple[torch.Tensor, int]:
        model = cast(GridRNN, getattr(net, "module", net))  # net: the model or its DDP
        grid = model.prepare(batch.grid, batch.previous)
        logits, _ = net(grid, GridState(None, batch.previous, batch.t0))
        lp = (model.note_log_probs(grid, logits).sum(-1) * batch.mask).sum()
        return -lp, int(batch.mask.sum())

    def validate(self, model: nn.Module) -> dict[str, float] | None:
        if not self.corpus.valid:
            return None
        v = evaluate(model, self.corpus.valid)  # type: ignore[arg-type]
        return {"nll": v["nll_per_step"], "frame_accuracy": v["frame_accuracy"]}

    def _check_data(self, run: Path | None) -> None:
        """The data must be at the model's resolution, over its keys, with its
        articulation (``run``: the run resumed, named in the message)."""
        c, corpus = self.config, self.corpus
        if not corpus.train:
            raise InputError("no training pieces")
        who = "the model" if run is None else f"{run}: the run's model"
        way = ("" if run is None else "; resume with the data the run was trained on, at "
               f"{c.steps_per_quarter} step(s) per quarter note")  # fmt: skip
        if corpus.steps_per_quarter != c.steps_per_quarter:
            raise InputError(f"{who} works at {c.steps_per_quarter} step(s) per quarter note, "
                             f"the data at {corpus.steps_per_quarter}{way}")  # fmt: skip
        keys = {int(p.shape[1]) for p in corpus.train + corpus.valid}
        if keys != {c.n_pitches}:
            raise InputError(f"{who} has {c.n_pitches} keys, the data "
                             f"{', '.join(map(str, sorted(keys)))}{way}")  # fmt: skip
        if corpus.articulation != c.articulation:

            def kind(a: bool) -> str:
                return "onsets (MIDI)" if a else "no articulation (JSB)"

            raise InputError(f"{who} models {kind(c.articulation)}, the data has "
                             f"{kind(corpus.articulation)}{way}")  # fmt: skip


def saved_model_config(saved: dict[str, Any]) -> GridRNNConfig:
    """The model config in a GridRNN run's training-state metadata (any version).

    Raises:
        InputError: no or a bad config.
        KeyError: no config in ``saved``.
    """
    settings = saved.get("task") or {}
    return GridRNNConfig.from_dict(settings.get("model_config") or saved["model_config"])


@torch.no_grad()
def evaluate(model: GridRNN | GridEnsemble, pieces: list[np.ndarray], *,
             max_steps: int = 4096) -> dict[str, Any]:  # fmt: skip
    """Exact NLL per time step (nats) and frame accuracy of whole pieces.

    NLL per step: ``-log P`` of every piece summed, divided by the number of steps (every
    step of every piece weighs the same; with ``articulation`` off, the play plane only: the
    JSB metric). Frame accuracy (Bay et al. 2009): ``TP / (TP + FP + FN)`` over all notes,
    predicting ``P(play) > 0.5`` given the true past and the true notes below.

    Args:
        model: a :class:`GridRNN` or :class:`GridEnsemble`.
        pieces: ``(steps, keys, 2)`` uint8 arrays over the model's keys.
        max_steps: steps per padded batch.

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
