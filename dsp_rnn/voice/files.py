"""A learned voice on disk: a folder holding the note-to-feature network and its sample model.

A voice folder is the run folder of ``dsp-rnn train PAIRS --out VOICE --model voice``:

- ``weights.safetensors`` + ``config.json``: the :class:`~dsp_rnn.voice.VoiceNet`
  (``"family": "voice"``), written by the shared trainer (with its ``train_state``,
  ``metrics.jsonl`` and curve beside it);
- ``sample_model/weights.safetensors`` + ``sample_model/config.json``: a copy of the
  :class:`~dsp_rnn.audio.AudioRNN` that renders the features (``"family": "audio"``), so
  the folder is self-contained (:func:`add_sample_model` copies it from an audio run);
- ``source.json``: its :class:`~dsp_rnn.voice.SourceConfig`, how it makes the harmonic
  part of its excitation from the notes (the defaults when missing).

Nothing is pickled: tensors are safetensors, settings JSON.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dsp_rnn._atomic import write_bytes
from dsp_rnn._tensor_io import CONFIG, WEIGHTS, load_weights, read_model_weights, save_tensors
from dsp_rnn.audio.model import AudioRNN, AudioRNNConfig
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.music.shipped import find_voice, shipped_voices
from dsp_rnn.voice.model import VoiceNet, VoiceNetConfig
from dsp_rnn.voice.source import SourceConfig, read_source, write_source
from dsp_rnn.voice.task import FAMILY

__all__ = [
    "SAMPLE_MODEL",
    "LearnedVoice",
    "is_voice_folder",
    "load_voice",
    "voice_folder",
    "load_voice_net",
    "load_sample_model",
    "add_sample_model",
    "save_voice",
]

SAMPLE_MODEL = "sample_model"
"""The subfolder of a voice folder that holds its sample model."""


@dataclass(frozen=True)
class LearnedVoice:
    """A loaded learned voice.

    Attributes:
        net: the note-to-feature network (eval mode, CPU).
        sample_model: the sample model that renders its features (eval mode, CPU).
        path: the folder it was loaded from (None when built in memory).
        source: how it makes the harmonic part of its excitation from the notes
            (:class:`~dsp_rnn.voice.SourceConfig`, the folder's ``source.json``).
    """

    net: VoiceNet
    sample_model: AudioRNN
    path: Path | None = None
    source: SourceConfig = field(default_factory=SourceConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.net, VoiceNet):
            raise InputError(f"net: expected a VoiceNet, got {type(self.net).__name__}")
        if not isinstance(self.sample_model, AudioRNN):
            raise InputError(f"sample_model: expected an AudioRNN, got "
                             f"{type(self.sample_model).__name__}")  # fmt: skip
        if self.net.config.features != self.sample_model.config.features:
            raise InputError(f"the feature network predicts {self.net.config.features}, the "
                             f"sample model reads {self.sample_model.config.features}")  # fmt: skip
        if not isinstance(self.source, SourceConfig):
            raise InputError(f"source: expected a SourceConfig, got {type(self.source).__name__}")

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "<voice>"

    @property
    def sample_rate(self) -> int:
        return self.sample_model.config.sample_rate

    def play(self, source: Any, **options: Any) -> Any:
        """:func:`~dsp_rnn.voice.render_voice` of ``source`` with this voice: what
        ``dsp_rnn.synth.render(source, voice=this)`` calls (a
        :class:`~dsp_rnn.synth.NotePlayer`)."""
        from dsp_rnn.voice.render import render_voice

        return render_voice(self, source, **options)

    def play_file(self, source: Any, path: Any, **options: Any) -> Any:
        """:func:`~dsp_rnn.voice.render_voice_file` of ``source`` into ``path`` with this
        voice: what ``dsp_rnn.synth.render_file(source, path, voice=this)`` calls."""
        from dsp_rnn.voice.render import render_voice_file

        return render_voice_file(self, source, path, **options)


def _doc(folder: Path, family: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    config_path, weights_path = folder / CONFIG, folder / WEIGHTS
    if not config_path.is_file() or not weights_path.is_file():
        raise CheckpointError(f"{folder}: expected {CONFIG} and {WEIGHTS} of a {family} model")
    tensors, doc = read_model_weights(weights_path)
    if not isinstance(doc.get("config"), dict):
        raise CheckpointError(f"{config_path}: expected a JSON object with a 'config' object")
    if doc.get("family") != family:
        raise CheckpointError(f"{config_path}: a {doc.get('family', 'gridrnn')!r} model, "
                              f"expected a {family!r} one")  # fmt: skip
    return doc, tensors


def is_voice_folder(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder whose ``config.json`` names the voice family."""
    config = Path(path) / CONFIG
    try:
        return json.loads(config.read_text(encoding="utf-8")).get("family") == FAMILY
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return False


def load_voice_net(folder: str | os.PathLike[str]) -> VoiceNet:
    """The :class:`~dsp_rnn.voice.VoiceNet` of a voice folder (eval mode, CPU).

    Raises:
        CheckpointError: missing or damaged files, another family, a bad config.
    """
    src = Path(folder)
    doc, tensors = _doc(src, FAMILY)
    try:
        net = VoiceNet(VoiceNetConfig.from_dict(doc["config"]))
    except (InputError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{src / CONFIG}: bad voice config ({exc})") from None
    load_weights(net, tensors, source=src / WEIGHTS)
    return net.eval()


def load_sample_model(folder: str | os.PathLike[str]) -> AudioRNN:
    """The :class:`~dsp_rnn.audio.AudioRNN` of an audio run or model folder (eval mode,
    CPU; its frame tier is not needed by a voice and not loaded).

    Raises:
        CheckpointError: missing or damaged files, another family, a bad config.
    """
    src = Path(folder)
    doc, tensors = _doc(src, "audio")
    try:
        model = AudioRNN(AudioRNNConfig.from_dict(doc["config"]))
    except (InputError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{src / CONFIG}: bad audio model config ({exc})") from None
    load_weights(model, tensors, source=src / WEIGHTS)
    return model.eval()


def add_sample_model(voice: str | os.PathLike[str], run: str | os.PathLike[str]) -> Path:
    """Copy the sample model of the audio run ``run`` (its ``weights.safetensors`` and
    ``config.json``) into ``voice/sample_model/``, replacing one that is there.

    Returns:
        The copy's folder.

    Raises:
        CheckpointError: ``run`` is not a loadable audio model, or its features are not
            the voice network's (when the voice folder already holds one).
    """
    model = load_sample_model(run)  # check before copying
    dst = Path(voice) / SAMPLE_MODEL
    if (Path(voice) / CONFIG).is_file():
        net = load_voice_net(voice)
        if net.config.features != model.config.features:
            raise CheckpointError(f"{run}: the sample model reads features "
                                  f"{model.config.features}, the voice {voice} predicts "
                                  f"{net.config.features}")  # fmt: skip
    dst.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS, CONFIG):
        tmp = dst / f".{name}.copy"
        shutil.copyfile(Path(run) / name, tmp)
        os.replace(tmp, dst / name)
    return dst


def save_voice(folder: str | os.PathLike[str], voice: LearnedVoice,
               metadata: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """Write ``voice`` into ``folder`` (created if missing): the network as
    ``weights.safetensors`` + ``config.json`` and the sample model in ``sample_model/``,
    each file atomically. :func:`load_voice` reads it back.
    """
    out = Path(folder)
    parts = [(out, voice.net, FAMILY, voice.net.config.to_dict()),
             (out / SAMPLE_MODEL, voice.sample_model, "audio",
              voice.sample_model.config.to_dict())]  # fmt: skip
    for where, module, family, config in parts:
        where.mkdir(parents=True, exist_ok=True)
        doc = {"family": family, "config": config, "metadata": dict(metadata or {})}
        save_tensors(where / WEIGHTS, module.state_dict(), doc)
        text = json.dumps(doc, indent=2) + "\n"
        write_bytes(where / CONFIG, text.encode(), overwrite=True, error=CheckpointError)
    write_source(out, voice.source)
    return out


def voice_folder(path: str | os.PathLike[str]) -> Path:
    """The folder a voice name or path names: a folder of that name (relative to the
    current directory, or a path) first, else a voice shipped inside the package
    (:func:`~dsp_rnn.music.shipped_voices`, such as ``"learned"``).

    Nothing is loaded.

    Raises:
        CheckpointError: neither a folder nor a shipped voice; the message lists the
            shipped voices.
    """
    found = find_voice(path)
    if found is not None:
        return found
    src = Path(path)
    names = ", ".join(shipped_voices()) or "none"
    raise CheckpointError(f"{src}: no such voice folder (a folder written by dsp-rnn "
                          "train PAIRS --out VOICE --model voice) or shipped voice "
                          f"({names})")  # fmt: skip


def load_voice(path: str | os.PathLike[str]) -> LearnedVoice:
    """The learned voice of a voice folder (see the module's description), or of a voice
    shipped inside the package by name (:func:`voice_folder`: a folder of that name wins).

    Only the files of that folder are read; no other model is loaded.

    Raises:
        CheckpointError: neither a folder nor a shipped voice, not a voice folder, a
            missing sample model (the message says how to add one), damaged files, or a
            sample model of other features.
    """
    src = voice_folder(path)
    net = load_voice_net(src)
    if not (src / SAMPLE_MODEL / CONFIG).is_file():
        raise CheckpointError(f"{src}: no sample model in {src / SAMPLE_MODEL}; train one with "
                              f"dsp-rnn train PAIRS --model audio --out RUN and add it with "
                              f"dsp-rnn train PAIRS --out {src} --resume --steps 1 "
                              "--sample-model RUN (--steps 1: no further training)")  # fmt: skip
    model = load_sample_model(src / SAMPLE_MODEL)
    try:
        return LearnedVoice(net, model, src, read_source(src))
    except InputError as exc:
        raise CheckpointError(f"{src}: {exc}") from None
