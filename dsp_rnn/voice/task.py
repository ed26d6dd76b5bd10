"""Training the note-to-feature network: :class:`VoiceCorpus`, a folder of audio and MIDI
pairs with their frame vectors, and :class:`VoiceTask`, the voice family's training task.

:class:`VoiceTask` implements :class:`dsp_rnn.training.task.TrainTask` structurally (this
package does not import the trainer). A pair gives the roll of its MIDI file
(:func:`~dsp_rnn.voice.note_roll`, computed per window from the notes) and the frame
vectors of its audio (:func:`~dsp_rnn.audio.frame_vectors` of the cached
:func:`~dsp_rnn.audio.features`). Windows of ``window`` frames start anywhere in a file,
the GRU at rest (the roll itself says which notes already sound and for how long); the
loss is the L1 distance of the normalised vectors, averaged over the vector's values and
summed over frames; validation scores the held-out pairs whole, from rest.

Why two stages: the sample model (:class:`~dsp_rnn.audio.AudioRNN`) is trained
teacher-forced on true features already (an ordinary audio run on the same audio), and the
feature network's targets are cheap to compute and to fit; training the two jointly would
have to backpropagate through the sample model's sampling, a discrete draw per sample.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from dsp_rnn.audio.cache import cached_features
from dsp_rnn.audio.frame_tier import frame_vectors
from dsp_rnn.errors import InputError
from dsp_rnn.music.folder import Skipped, split_of
from dsp_rnn.music.pairs import PairedFolder, pair_folder
from dsp_rnn.voice.model import VoiceNet, VoiceNetConfig
from dsp_rnn.voice.roll import NoteArray, note_roll, score_notes

__all__ = ["FAMILY", "VoiceItem", "VoiceCorpus", "VoiceBatch", "VoiceTask", "evaluate_l1"]

FAMILY = "voice"
"""The registry name of learned voices' feature networks (``"family"`` in ``config.json``)."""

_BLOCK = 1000  # frames per block when scoring whole files


@dataclass(frozen=True)
class VoiceItem:
    """One pair ready for training.

    Attributes:
        audio, midi: the files.
        notes: the MIDI file's pitched notes in the roll's range.
        vectors: ``(F, vector_size)`` float32 frame vectors of the audio.
    """

    audio: Path
    midi: Path
    notes: NoteArray = field(repr=False)
    vectors: np.ndarray = field(repr=False)

    @property
    def n_frames(self) -> int:
        return int(self.vectors.shape[0])


@dataclass(frozen=True)
class VoiceCorpus:
    """The pairs of a folder, split into train and validation by the audio's content hash.

    Attributes:
        train, valid: the pairs of each split.
        config: the network config the data was prepared for (features and roll).
        summary: one line about the data.
        skipped: files left out, with reasons (unpaired, misaligned, broken).
    """

    train: list[VoiceItem]
    valid: list[VoiceItem]
    config: VoiceNetConfig
    summary: str
    skipped: list[Skipped] = field(default_factory=list)

    @classmethod
    def from_pairs(
        cls,
        paired: PairedFolder,
        config: VoiceNetConfig,
        *,
        valid_fraction: float = 0.1,
        cache_dir: str | os.PathLike[str] | None = None,
        max_files: int | None = None,
    ) -> VoiceCorpus:
        """The pairs of ``paired`` (:func:`~dsp_rnn.music.pair_folder`) with their frame
        vectors (from the feature cache) and notes.

        Args:
            paired: the folder's pairs.
            config: the network config (its features and roll).
            valid_fraction: share of the pairs held out, by content hash (default 0.1).
            cache_dir: the feature cache (default :func:`~dsp_rnn.audio.cached_features`').
            max_files: use at most this many pairs, in path order (default all).

        Raises:
            InputError: no pair.
        """
        import hashlib

        pairs = list(paired.pairs)[: max_files if max_files is not None else None]
        if not pairs:
            raise InputError(f"{paired.root}: no audio file with a same-stem MIDI file that "
                             f"lines up ({paired.summary()})")  # fmt: skip
        splits: dict[str, list[VoiceItem]] = {"train": [], "valid": []}
        for audio, midi in pairs:
            feats = cached_features(audio, config=config.features, cache_dir=cache_dir)
            notes = score_notes(midi, config.roll_config).notes
            digest = hashlib.sha1(audio.read_bytes()).hexdigest()
            item = VoiceItem(audio, midi, notes, frame_vectors(feats).astype(np.float32))
            splits[split_of(digest, valid_fraction)].append(item)
        if not splits["train"]:
            splits["train"], splits["valid"] = splits["valid"], []
        seconds = sum(it.n_frames for it in _all_items(splits)) * config.roll_config.hop_s
        summary = (f"{paired.root}: {len(splits['train'])} training and {len(splits['valid'])} "
                   f"validation pairs ({seconds / 60:.1f} min of audio); "
                   f"{len(paired.skipped)} files left out")  # fmt: skip
        return cls(splits["train"], splits["valid"], config, summary, paired.skipped)

    @classmethod
    def from_folder(cls, root: str | os.PathLike[str], config: VoiceNetConfig,
                    **options: Any) -> VoiceCorpus:  # fmt: skip
        """:meth:`from_pairs` of :func:`~dsp_rnn.music.pair_folder` ``(root)``."""
        return cls.from_pairs(pair_folder(root), config, **options)


def _all_items(splits: dict[str, list[VoiceItem]]) -> list[VoiceItem]:
    return [*splits["train"], *splits["valid"]]


@dataclass(frozen=True)
class VoiceBatch:
    """Windows for one optimiser step: ``roll (B, W, input_size)``, ``target (B, W,
    vector_size)`` in physical units."""

    roll: torch.Tensor
    target: torch.Tensor


def _roll(item: VoiceItem, start: int, n: int, net_config: VoiceNetConfig) -> np.ndarray:
    r = note_roll(item.notes, start, n, net_config.roll_config)
    return r.reshape(n, -1)


@dataclass(frozen=True)
class VoiceTask:
    """A :class:`~dsp_rnn.voice.VoiceNet` of ``config`` to train on ``corpus``.

    Args:
        config: the network's sizes; its features and roll must be the corpus's.
        corpus: the pairs (:meth:`VoiceCorpus.from_folder`).
    """

    config: VoiceNetConfig
    corpus: VoiceCorpus = field(repr=False)

    family = FAMILY
    metric = "l1"
    metric_label = "L1 per value (normalised frame vector)"

    @property
    def summary(self) -> str:
        return self.corpus.summary

    def settings(self) -> dict[str, Any]:
        return {"model_config": self.config.to_dict()}

    def restore(self, saved: dict[str, Any], run: Path) -> VoiceTask:
        settings = saved.get("task") or {}
        task = replace(self, config=VoiceNetConfig.from_dict(settings["model_config"]))
        task._check_data(run)
        return task

    def check(self) -> None:
        self._check_data(None)

    def model_config(self) -> dict[str, Any]:
        return self.config.to_dict()

    def build(self) -> VoiceNet:
        """A new network, normalised by the training pairs' frame vectors."""
        net = VoiceNet(self.config)
        stacked = np.concatenate([it.vectors for it in self.corpus.train]).astype(np.float64)
        net.set_normalisation(stacked.mean(0), np.maximum(stacked.std(0), 1e-3))
        return net

    def train_size(self) -> int:
        return sum(item.n_frames for item in self.corpus.train)

    def sample_batch(
        self, rng: np.random.Generator, *, batch_size: int, window: int, part: slice
    ) -> VoiceBatch:
        """Windows of ``window`` frames: a file drawn in proportion to its possible starts,
        then a start uniformly.

        Raises:
            InputError: no training file holds ``window`` frames.
        """
        items = [it for it in self.corpus.train if it.n_frames >= window]
        if not items:
            longest = max(it.n_frames for it in self.corpus.train)
            raise InputError(f"window: {window} frames, longer than every training file "
                             f"(the longest has {longest}); pass a shorter window")  # fmt: skip
        starts = np.array([it.n_frames - window + 1 for it in items])
        which = rng.choice(len(items), size=batch_size, p=starts / starts.sum())
        first = rng.integers(0, starts[which])
        chosen = list(zip(which[part], first[part], strict=True))
        roll = np.stack([_roll(items[i], int(f), window, self.config) for i, f in chosen])
        target = np.stack([items[i].vectors[f : f + window] for i, f in chosen])
        return VoiceBatch(torch.from_numpy(roll), torch.from_numpy(target))

    def loss(self, net: nn.Module, batch: VoiceBatch) -> tuple[torch.Tensor, int]:
        model = cast(VoiceNet, getattr(net, "module", net))  # net: the model or its DDP
        device = model.head.weight.device
        y, _ = net(batch.roll.to(device))
        target = model.normalise(batch.target.to(device))
        total = (y - target).abs().sum() / model.config.vector_size
        return total, int(target.shape[0] * target.shape[1])

    def validate(self, model: nn.Module) -> dict[str, float] | None:
        if not self.corpus.valid:
            return None
        return {"l1": evaluate_l1(cast(VoiceNet, model), self.corpus.valid)}

    def _check_data(self, run: Path | None) -> None:
        if not self.corpus.train:
            raise InputError("no training pairs")
        c, d = self.config, self.corpus.config
        if (c.features, c.roll) != (d.features, d.roll):
            who = "the model" if run is None else f"{run}: the run's model"
            raise InputError(f"{who} reads features {c.features} and roll {c.roll}, the data "
                             f"was prepared for {d.features} and {d.roll}")  # fmt: skip


@torch.no_grad()
def evaluate_l1(model: VoiceNet, items: list[VoiceItem]) -> float:
    """Mean L1 distance per value of the normalised frame vectors over whole files, each
    from rest, in blocks of 1000 frames with the GRU state carried (equal to one call)."""
    was_training = model.training
    model.eval()
    device = model.head.weight.device
    total, n = 0.0, 0
    for item in items:
        state = None
        for f0 in range(0, item.n_frames, _BLOCK):
            f1 = min(f0 + _BLOCK, item.n_frames)
            roll = torch.from_numpy(_roll(item, f0, f1 - f0, model.config))[None].to(device)
            y, state = model(roll, state)
            target = model.normalise(torch.from_numpy(item.vectors[f0:f1]).to(device))
            total += float((y[0] - target).abs().sum()) / model.config.vector_size
            n += f1 - f0
    model.train(was_training)
    return total / max(n, 1) if n else math.nan
