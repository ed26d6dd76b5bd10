"""Training an :class:`~dsp_rnn.audio.AudioRNN`: :class:`AudioCorpus`, a folder of audio with
its frame features, and :class:`AudioTask`, the audio family's training task.

:class:`AudioTask` implements :class:`dsp_rnn.training.task.TrainTask` structurally (this
package does not import the trainer): random windows of ``window`` samples starting on a
frame boundary of a training file, drawn with the trainer's generator, each with the true
past of its file as the starting state (the last ``lpc_order`` samples and the last
excitation; the GRU starts at rest); the loss is the NLL of the target codes in **bits**,
and validation is the exact NLL in bits per sample of the held-out files
(:func:`evaluate_nll`), which the trainer logs as ``valid_nll``.

>>> import tempfile, os
>>> from dsp_rnn.music import write_audio
>>> d = tempfile.mkdtemp()
>>> x = 0.3 * torch.sin(torch.arange(8000) * 2 * torch.pi * 220 / 16000)
>>> _ = write_audio(os.path.join(d, "a.wav"), x, sample_rate=16000)
>>> corpus = AudioCorpus.from_folder(d, FeatureConfig(), cache_dir=os.path.join(d, "c"))
>>> task = AudioTask(AudioRNNConfig(gru_units=8, embedding_size=4, conditioning_size=4), corpus)
>>> task.check(); task.train_size()
8000
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from dsp_rnn.audio.cache import cached_features
from dsp_rnn.audio.features import FeatureConfig
from dsp_rnn.audio.model import (
    AudioRNN,
    AudioRNNConfig,
    AudioState,
    FrameInputs,
    conditioning_inputs,
)
from dsp_rnn.audio.synthesis import lpc_analysis
from dsp_rnn.errors import InputError
from dsp_rnn.filters import preemphasis
from dsp_rnn.music.audio_folder import AudioFolder
from dsp_rnn.music.folder import Skipped

__all__ = [
    "FAMILY",
    "AudioItem",
    "AudioCorpus",
    "AudioBatch",
    "AudioTask",
    "score_files",
    "evaluate_nll",
]

FAMILY = "audio"
"""The registry name of sample-level audio models (``"family"`` in their ``config.json``)."""

_LN2 = math.log(2.0)
_BLOCK_FRAMES = 100  # frames per block when scoring whole files


@dataclass(frozen=True)
class AudioItem:
    """One file ready for the model (float32 numpy arrays).

    Attributes:
        path: the file.
        signal: ``(T,)`` the pre-emphasised signal at the features' rate.
        excitation: ``(T,)`` its LPC residual ``e_t = s_t - p_t``.
        conditioning: ``(F, n_bands + 3)`` :func:`~dsp_rnn.audio.conditioning_inputs`.
        lpc: ``(F, lpc_order + 1)`` the frames' predictors.
        residual_power: ``(F,)`` the frames' predicted residual power (the Levinson error
            of the band envelope), for the linear twin's residual distribution.
    """

    path: Path
    signal: np.ndarray = field(repr=False)
    excitation: np.ndarray = field(repr=False)
    conditioning: np.ndarray = field(repr=False)
    lpc: np.ndarray = field(repr=False)
    residual_power: np.ndarray = field(repr=False)

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[0])


@dataclass(frozen=True)
class AudioCorpus:
    """Train and validation files with their features, all of one :class:`FeatureConfig`.

    Attributes:
        train, valid: the files of each split.
        features: the feature settings.
        summary: one line about the data.
        skipped: files of the folder that were not used, with reasons.
    """

    train: list[AudioItem]
    valid: list[AudioItem]
    features: FeatureConfig
    summary: str
    skipped: list[Skipped] = field(default_factory=list)

    @classmethod
    def from_folder(
        cls,
        root: str | os.PathLike[str],
        features: FeatureConfig,
        *,
        valid_fraction: float = 0.1,
        cache_dir: str | os.PathLike[str] | None = None,
        use_cache: bool = True,
        max_seconds: float | None = None,
    ) -> AudioCorpus:
        """Every usable audio file under ``root`` (recursively), mono at the features'
        rate, split by content hash (:class:`dsp_rnn.music.AudioFolder`: unreadable files
        are skipped with a reason), with features from the cache
        (:func:`~dsp_rnn.audio.cached_features`).

        Raises:
            InputError: ``root`` does not exist. AudioError: no usable file.
        """
        folder = AudioFolder(root, sample_rate=features.sample_rate,
                             window=features.hop_samples, valid_fraction=valid_fraction,
                             max_seconds=max_seconds)  # fmt: skip
        splits: dict[str, list[AudioItem]] = {"train": [], "valid": []}
        for name, items in splits.items():
            for path in folder.split(name):  # type: ignore[arg-type]
                feats = cached_features(path, config=features, cache_dir=cache_dir,
                                        use_cache=use_cache)  # fmt: skip
                items.append(_item(path, folder.audio(path), feats.lpc,
                                   conditioning_inputs(feats), feats.residual_power,
                                   features))  # fmt: skip
        return cls(splits["train"], splits["valid"], features, folder.summary(),
                   list(folder.skipped))  # fmt: skip


def _item(path: Path, audio: torch.Tensor, lpc: np.ndarray, cond: np.ndarray,
          residual_power: np.ndarray, features: FeatureConfig) -> AudioItem:  # fmt: skip
    """The pre-emphasised signal and its excitation (the features' frames must cover it)."""
    s = preemphasis(audio.to(torch.float32), features.preemphasis)
    n_frames = -(-s.shape[0] // features.hop_samples)
    a = torch.from_numpy(lpc[:n_frames]).to(torch.float32)
    e = lpc_analysis(s, a, hop_samples=features.hop_samples)
    return AudioItem(path, s.numpy(), e.numpy(), cond[:n_frames].astype(np.float32),
                     a.numpy(), np.asarray(residual_power[:n_frames], np.float64))  # fmt: skip


@dataclass(frozen=True)
class AudioBatch:
    """Windows of audio for one optimiser step.

    Attributes:
        signal: ``(B, window)`` pre-emphasised samples.
        frames: the windows' :class:`~dsp_rnn.audio.FrameInputs`.
        state: each window's starting state (its file's past; the GRU at rest).
    """

    signal: torch.Tensor
    frames: FrameInputs
    state: AudioState


def _window(item: AudioItem, t0: int, n: int, hop: int):
    """Signal, conditioning, lpc and starting state of ``item[t0 : t0 + n]`` (numpy)."""
    order = item.lpc.shape[1] - 1
    f0, f1 = t0 // hop, -(-(t0 + n) // hop)
    past = item.signal[max(0, t0 - order) : t0]
    past = np.pad(past, (order - past.shape[0], 0))
    exc = item.excitation[t0 - 1] if t0 > 0 else 0.0
    return (item.signal[t0 : t0 + n], item.conditioning[f0:f1], item.lpc[f0:f1], past,
            np.float32(exc))  # fmt: skip


@dataclass(frozen=True)
class AudioTask:
    """An :class:`~dsp_rnn.audio.AudioRNN` of ``config`` to train on ``corpus``.

    Args:
        config: the model's sizes; its feature settings must be the corpus's.
        corpus: train and validation files (:meth:`AudioCorpus.from_folder`).
        valid_seconds: score at most this much audio of the validation files each epoch
            (default 60 s; None = all of it).
        epoch_seconds: an epoch is this much audio in training windows, or the whole
            training set if it is shorter (default 300 s: on a large folder validation, the
            best model and a metrics row come every few minutes, not once per pass over
            hours of audio); None = the whole training set.

    Raises:
        InputError: a bad ``valid_seconds`` or ``epoch_seconds``.
    """

    config: AudioRNNConfig
    corpus: AudioCorpus = field(repr=False)
    valid_seconds: float | None = 60.0
    epoch_seconds: float | None = 300.0

    family = FAMILY
    metric = "nll"
    metric_label = "NLL per sample (bits)"

    def __post_init__(self) -> None:
        for name in ("valid_seconds", "epoch_seconds"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                                  or not v > 0):  # fmt: skip
                raise InputError(f"{name}: expected a number > 0 or None, got {v!r}")

    @property
    def summary(self) -> str:
        return self.corpus.summary

    def settings(self) -> dict[str, Any]:
        return {"model_config": self.config.to_dict(), "valid_seconds": self.valid_seconds,
                "epoch_seconds": self.epoch_seconds}  # fmt: skip

    def restore(self, saved: dict[str, Any], run: Path) -> AudioTask:
        settings = saved.get("task") or {}
        task = replace(self, config=AudioRNNConfig.from_dict(settings["model_config"]),
                       valid_seconds=settings.get("valid_seconds", 60.0),
                       epoch_seconds=settings.get("epoch_seconds", self.epoch_seconds))  # fmt: skip
        task._check_data(run)
        return task

    def check(self) -> None:
        self._check_data(None)

    def model_config(self) -> dict[str, Any]:
        return self.config.to_dict()

    def build(self) -> AudioRNN:
        return AudioRNN(self.config)

    def train_size(self) -> int:
        """Samples per epoch: the training set's, at most ``epoch_seconds`` of audio."""
        total = sum(item.n_samples for item in self.corpus.train)
        if self.epoch_seconds is None:
            return total
        return min(total, max(1, round(self.epoch_seconds * self.config.sample_rate)))

    def sample_batch(
        self, rng: np.random.Generator, *, batch_size: int, window: int, part: slice
    ) -> AudioBatch:
        """Windows of ``window`` samples starting on frame boundaries: a file drawn in
        proportion to its possible starts, then a start uniformly.

        Raises:
            InputError: no training file holds ``window`` samples.
        """
        hop = self.config.hop_samples
        items = [it for it in self.corpus.train if it.n_samples >= window]
        if not items:
            longest = max(it.n_samples for it in self.corpus.train)
            raise InputError(f"window: {window} samples, longer than every training file "
                             f"(the longest has {longest}); pass a shorter window")  # fmt: skip
        starts = np.array([(it.n_samples - window) // hop + 1 for it in items])
        which = rng.choice(len(items), size=batch_size, p=starts / starts.sum())
        frame = rng.integers(0, starts[which])
        rows = [_window(items[i], int(f) * hop, window, hop)
                for i, f in zip(which[part], frame[part], strict=True)]  # fmt: skip
        s, cond, lpc, past, exc = (np.stack(col) for col in zip(*rows, strict=True))
        state = AudioState(torch.zeros(len(rows), self.config.gru_units),
                           torch.from_numpy(past), torch.from_numpy(exc))  # fmt: skip
        frames = FrameInputs(torch.from_numpy(cond), torch.from_numpy(lpc))
        return AudioBatch(torch.from_numpy(s), frames, state)

    def loss(self, net: nn.Module, batch: AudioBatch) -> tuple[torch.Tensor, int]:
        model = cast(AudioRNN, getattr(net, "module", net))  # net: the model or its DDP
        device = model.out.weight.device
        signal = batch.signal.to(device)
        frames = FrameInputs(batch.frames.conditioning.to(device), batch.frames.lpc.to(device))
        state = AudioState(*(t.to(device) for t in vars(batch.state).values()))
        logits, _ = net(signal, frames, state)
        target = model.target_codes(signal, frames, state)
        nats = nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="sum")
        return nats / _LN2, int(target.numel())

    def validate(self, model: nn.Module) -> dict[str, float] | None:
        if not self.corpus.valid:
            return None
        v = evaluate_nll(cast(AudioRNN, model), self.corpus.valid, max_seconds=self.valid_seconds)
        return {"nll": v["nll_bits_per_sample"]}

    def _check_data(self, run: Path | None) -> None:
        if not self.corpus.train:
            raise InputError("no training files")
        if self.corpus.features != self.config.features:
            who = "the model" if run is None else f"{run}: the run's model"
            raise InputError(f"{who} uses the features {self.config.features}, the data was "
                             f"prepared with {self.corpus.features}")  # fmt: skip


@torch.no_grad()
def score_files(
    model: AudioRNN,
    items: list[AudioItem],
    block_bits: Callable[
        [torch.Tensor, FrameInputs, AudioState | None], tuple[torch.Tensor, AudioState]
    ],
    *,
    budget: float = math.inf,
) -> dict[str, Any]:
    """Bits per sample of whole files under ``model``: every file from rest, in blocks of
    100 frames with the state carried (equal to one call), the model in eval mode.

    Args:
        model: the model (its device and hop).
        items: the files (:class:`AudioItem`), scored in order.
        block_bits: ``(signal (1, T), frames, state) -> (bits, new state)`` of one block;
            ``bits`` summed.
        budget: stop after this many samples (a multiple of the hop); default all.

    Returns:
        ``{"nll_bits_per_sample", "samples", "files"}``.
    """
    was_training = model.training
    model.eval()
    hop, device = model.config.hop_samples, model.out.weight.device
    total, n, files = 0.0, 0, 0
    try:
        for item in items:
            if n >= budget:
                break
            stop = int(min(item.n_samples, budget - n))
            state, files = None, files + 1
            for t0 in range(0, stop, _BLOCK_FRAMES * hop):
                t1 = min(t0 + _BLOCK_FRAMES * hop, stop)
                f0, f1 = t0 // hop, -(-t1 // hop)
                signal = torch.from_numpy(item.signal[None, t0:t1]).to(device)
                frames = FrameInputs(
                    torch.from_numpy(item.conditioning[None, f0:f1]).to(device),
                    torch.from_numpy(item.lpc[None, f0:f1]).to(device),
                )
                bits, state = block_bits(signal, frames, state)
                total += float(bits.sum())
                n += t1 - t0
    finally:
        model.train(was_training)
    return {"nll_bits_per_sample": total / max(n, 1), "samples": n, "files": files}


@torch.no_grad()
def evaluate_nll(model: AudioRNN, items: list[AudioItem], *,
                 max_seconds: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Exact NLL of whole files in bits per sample (:func:`score_files` of
    :meth:`AudioRNN.nll_bits`): every file from rest, in blocks of 100 frames with the state
    carried (equal to one call).

    Args:
        model: the model.
        items: the files (:class:`AudioItem`), scored in order.
        max_seconds: stop after this much audio (cut at a frame boundary); None = all.

    Returns:
        ``{"nll_bits_per_sample", "samples", "files"}``.
    """
    c = model.config
    hop = c.hop_samples
    budget = (
        math.inf if max_seconds is None else max(hop, int(max_seconds * c.sample_rate) // hop * hop)
    )
    return score_files(model, items, model.nll_bits, budget=budget)
