"""Training an :class:`~dsp_rnn.cells.SRNN`: :class:`SequenceCorpus`, sequences of
observations, and :class:`SRNNTask`, the stochastic RNN family's training task.

:class:`SRNNTask` implements :class:`dsp_rnn.training.task.TrainTask` structurally (this
package does not import the trainer): random windows of ``window`` steps of the training
sequences (a sequence drawn in proportion to its length, the start uniform over the
positions where a whole window fits), each with the observation before it and the model at
rest; the loss is the negative ELBO in nats, and validation is the negative ELBO per time
step of the whole held-out sequences (:func:`evaluate_bound`, one latent path per sequence
drawn from a fixed seed), which the trainer logs as ``valid_nll_bound``.

Data: real-valued sequences (a Gaussian SRNN), e.g. drawn from a known linear-Gaussian
system by :func:`sample_linear_gaussian`, or the JSB Chorales as 88-key piano rolls
(:meth:`SequenceCorpus.from_jsb`, a Bernoulli SRNN).

>>> import torch
>>> from dsp_rnn.cells import SRNNConfig
>>> corpus = SequenceCorpus.from_arrays([np.zeros((20, 2), np.float32)], [])
>>> task = SRNNTask(SRNNConfig(observation_size=2, linear=True), corpus)
>>> task.check(); task.train_size()
20
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from dsp_rnn.cells.stochastic import SRNN, SRNNConfig
from dsp_rnn.errors import InputError
from dsp_rnn.filters.kalman import LinearGaussian

__all__ = ["FAMILY", "SequenceCorpus", "SRNNBatch", "SRNNTask", "evaluate_bound",
           "jsb_rolls", "padded", "sample_linear_gaussian"]  # fmt: skip

FAMILY = "srnn"
"""The registry name of stochastic RNNs (``"family"`` in their ``config.json``)."""

_VALID_SEED = 20160531  # the latent paths of validation: the same every epoch


@dataclass(frozen=True)
class SequenceCorpus:
    """Train and validation sequences, each a float32 array ``(steps, features)``.

    Attributes:
        train, valid: the sequences of each split.
        summary: one line about the data.
        binary: every value is 0 or 1 (a Bernoulli model can learn it).
    """

    train: list[np.ndarray] = field(repr=False)
    valid: list[np.ndarray] = field(repr=False)
    summary: str = ""
    binary: bool = False

    @property
    def features(self) -> set[int]:
        """The feature counts found in the sequences."""
        return {int(s.shape[1]) for s in self.train + self.valid}

    @classmethod
    def from_arrays(cls, train: Sequence[Any], valid: Sequence[Any],
                    summary: str | None = None) -> SequenceCorpus:  # fmt: skip
        """Sequences from arrays (or tensors) ``(steps, features)`` or a stacked
        ``(n, steps, features)``.

        Raises:
            InputError: not 2-D sequences, non-finite values.
        """

        def clean(seqs: Sequence[Any], name: str) -> list[np.ndarray]:
            out = []
            for i, s in enumerate(seqs):
                a = np.asarray(s.detach().cpu() if isinstance(s, torch.Tensor) else s,
                               dtype=np.float32)  # fmt: skip
                if a.ndim != 2 or a.shape[0] == 0:
                    raise InputError(f"{name}[{i}]: expected (steps, features) with steps > 0, "
                                     f"got shape {a.shape}")  # fmt: skip
                if not np.isfinite(a).all():
                    raise InputError(f"{name}[{i}]: holds NaN or inf values")
                out.append(a)
            return out

        tr, va = clean(train, "train"), clean(valid, "valid")
        binary = all(bool(np.isin(a, (0.0, 1.0)).all()) for a in tr + va)
        if summary is None:
            summary = (f"{len(tr)} training and {len(va)} validation sequences, "
                       f"{sum(len(a) for a in tr)} training steps")  # fmt: skip
        return cls(tr, va, summary, binary)

    @classmethod
    def from_jsb(cls, path: str | Path | None = None, *, valid_split: str = "valid",
                 ) -> SequenceCorpus:  # fmt: skip
        """The JSB Chorales as 88-key piano rolls (0/1, one step per quarter note with the
        quarter-note file): the ``train`` split and ``valid_split`` (default ``"valid"``).

        Raises:
            InputError: a missing or bad file (:func:`dsp_rnn.music.jsb.load_jsb`).
        """
        from dsp_rnn.music import jsb

        p = Path(path) if path is not None else jsb.default_jsb_path()
        tr = jsb_rolls(p, "train")
        va = jsb_rolls(p, valid_split)
        return cls(tr, va, f"{p.name}: {len(tr)} train pieces ({sum(map(len, tr))} steps), "
                           f"{len(va)} {valid_split} pieces", True)  # fmt: skip


def jsb_rolls(path: str | Path | None, split: str) -> list[np.ndarray]:
    """One JSB split as float32 piano rolls ``(steps, 88)`` (1 = the key sounds)."""
    from dsp_rnn.music import jsb

    return [g.play.astype(np.float32) for g in jsb.load_jsb(path, split)]


def padded(seqs: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences ``(steps_i, m)`` stacked with zeros after their ends: ``x (n, T, m)`` and
    ``mask (n, T)`` (True inside a sequence)."""
    T = max(len(s) for s in seqs)
    x = np.zeros((len(seqs), T, seqs[0].shape[1]), np.float32)
    mask = np.zeros((len(seqs), T), bool)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
        mask[i, : len(s)] = True
    return torch.from_numpy(x), torch.from_numpy(mask)


@torch.no_grad()
def evaluate_bound(model: SRNN, seqs: Sequence[np.ndarray], *, draws: int = 1,
                   seed: int = _VALID_SEED, batch_size: int = 64) -> dict[str, Any]:  # fmt: skip
    """The negative ELBO of whole sequences in nats per time step (an upper bound of the
    NLL), each sequence's bound averaged over ``draws`` latent paths from ``seed``.

    Returns:
        ``{"nll_bound_per_step", "steps", "sequences"}``.
    """
    was = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))  # similar lengths together
    p = next(model.parameters())
    total, steps = 0.0, 0
    for start in range(0, len(order), batch_size):
        chunk = [seqs[i] for i in order[start : start + batch_size]]
        x, mask = padded(chunk)
        x, mask = x.to(p), mask.to(p.device)
        for _ in range(draws):
            noise = torch.randn(x.shape[0], x.shape[1], model.config.latent_size,
                                generator=gen).to(p)  # fmt: skip
            total += float(model.elbo(x, mask=mask, noise=noise).sum()) / draws
        steps += int(mask.sum())
    model.train(was)
    return {"nll_bound_per_step": -total / max(steps, 1), "steps": steps,
            "sequences": len(seqs)}  # fmt: skip


@dataclass(frozen=True)
class SRNNBatch:
    """Windows of sequences for one optimiser step.

    Attributes:
        x: ``(B, window, m)`` observations (zeros after a sequence's end).
        mask: ``(B, window)`` bool, True inside a sequence.
        previous: ``(B, m)`` the observation before each window (zeros at a start).
    """

    x: torch.Tensor
    mask: torch.Tensor
    previous: torch.Tensor


@dataclass(frozen=True)
class SRNNTask:
    """An :class:`~dsp_rnn.cells.SRNN` of ``config`` to train on ``corpus``.

    Args:
        config: the model; its ``observation_size`` must be the data's features, and a
            Bernoulli model needs 0/1 data.
        corpus: the sequences (:class:`SequenceCorpus`).
        valid_draws: latent paths per validation sequence (default 1).

    Single process: the loss calls :meth:`SRNN.elbo`, not the module's forward, so it is
    not run under ``torchrun``'s DistributedDataParallel.
    """

    config: SRNNConfig
    corpus: SequenceCorpus = field(repr=False)
    valid_draws: int = 1

    family = FAMILY
    metric = "nll_bound"
    metric_label = "negative ELBO per time step (nats)"

    @property
    def summary(self) -> str:
        return self.corpus.summary

    def settings(self) -> dict[str, Any]:
        return {"model_config": self.config.to_dict(), "valid_draws": self.valid_draws}

    def restore(self, saved: dict[str, Any], run: Path) -> SRNNTask:
        settings = saved.get("task") or {}
        task = replace(self, config=SRNNConfig.from_dict(settings["model_config"]),
                       valid_draws=int(settings.get("valid_draws", 1)))  # fmt: skip
        task._check_data(run)
        return task

    def check(self) -> None:
        self._check_data(None)

    def model_config(self) -> dict[str, Any]:
        return self.config.to_dict()

    def build(self) -> SRNN:
        return SRNN(self.config)

    def train_size(self) -> int:
        return sum(len(s) for s in self.corpus.train)

    def sample_batch(self, rng: np.random.Generator, *, batch_size: int, window: int,
                     part: slice) -> SRNNBatch:  # fmt: skip
        seqs = self.corpus.train
        lengths = np.array([len(s) for s in seqs], dtype=np.float64)
        picks = rng.choice(len(seqs), size=batch_size, p=lengths / lengths.sum())
        m = seqs[0].shape[1]
        x = np.zeros((batch_size, window, m), np.float32)
        mask = np.zeros((batch_size, window), bool)
        prev = np.zeros((batch_size, m), np.float32)
        for row, i in enumerate(picks):
            s = seqs[int(i)]
            t0 = int(rng.integers(0, max(1, len(s) - window + 1)))
            w = s[t0 : t0 + window]
            x[row, : len(w)], mask[row, : len(w)] = w, True
            if t0 > 0:
                prev[row] = s[t0 - 1]
        return SRNNBatch(torch.from_numpy(x[part]), torch.from_numpy(mask[part]),
                         torch.from_numpy(prev[part]))  # fmt: skip

    def loss(self, net: nn.Module, batch: SRNNBatch) -> tuple[torch.Tensor, int]:
        model = cast(SRNN, getattr(net, "module", net))
        p = next(model.parameters())
        mask = batch.mask.to(p.device)
        bound = model.elbo(batch.x.to(p), previous=batch.previous.to(p), mask=mask)
        return -bound.sum(), int(mask.sum())

    def validate(self, model: nn.Module) -> dict[str, float] | None:
        if not self.corpus.valid:
            return None
        v = evaluate_bound(cast(SRNN, model), self.corpus.valid, draws=self.valid_draws)
        return {"nll_bound": v["nll_bound_per_step"]}

    def _check_data(self, run: Path | None) -> None:
        c, corpus = self.config, self.corpus
        if not corpus.train:
            raise InputError("no training sequences")
        who = "the model" if run is None else f"{run}: the run's model"
        features = corpus.features
        if features != {c.observation_size}:
            raise InputError(f"{who} observes {c.observation_size} features per step, the "
                             f"data {', '.join(map(str, sorted(features)))}")  # fmt: skip
        if c.emission == "bernoulli" and not corpus.binary:
            raise InputError(f"{who} has a Bernoulli emission and needs 0/1 data; the data "
                             "holds other values (use emission='gaussian')")  # fmt: skip


def sample_linear_gaussian(model: LinearGaussian, n_sequences: int, n_steps: int, *,
                           generator: torch.Generator | None = None) -> torch.Tensor:  # fmt: skip
    """Observations ``(n_sequences, n_steps, m)`` drawn from a time-invariant
    :class:`~dsp_rnn.filters.LinearGaussian` (``x_0 ~ N(m0, P0)``, the first observation is
    of ``x_0``; ``P0``, ``Q`` and ``R`` positive definite), in the model's dtype.

    Raises:
        InputError: a time-varying model, or non-positive counts.
    """
    if model.A.ndim != 2 or model.C.ndim != 2 or model.m0.ndim != 1:
        raise InputError("sample_linear_gaussian: expected a time-invariant model with one "
                         "initial state")  # fmt: skip
    if n_sequences < 1 or n_steps < 1:
        raise InputError(f"sample_linear_gaussian: expected counts >= 1, got {n_sequences}, "
                         f"{n_steps}")  # fmt: skip
    dtype = model.A.dtype
    chol = [torch.linalg.cholesky(M.to(dtype)) for M in (model.P0, model.Q, model.R)]
    n, m = model.state_size, model.observation_size

    def draw(size: int, factor: torch.Tensor) -> torch.Tensor:
        return torch.randn(n_sequences, size, dtype=dtype, generator=generator) @ factor.T

    x = model.m0.to(dtype) + draw(n, chol[0])
    ys = []
    for _ in range(n_steps):
        ys.append(x @ model.C.to(dtype).T + draw(m, chol[2]))
        x = x @ model.A.T + draw(n, chol[1])
    return torch.stack(ys, 1)
