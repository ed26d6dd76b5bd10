"""The sample-level audio family in the registry: :class:`~dsp_rnn.audio.AudioRNN` models
load from a model folder (the :class:`~dsp_rnn.audio.AudioRNNConfig` as JSON and the
safetensors weights; nothing is unpickled) and evaluate on a folder of audio (exact NLL in
bits per sample). Generating audio through the registry is not there yet.

>>> from dsp_rnn.audio import AudioRNN, AudioRNNConfig
>>> m = AudioRNN(AudioRNNConfig(gru_units=8, embedding_size=4, conditioning_size=4))
>>> config, meta = AUDIO.parts(m)
>>> AUDIO.load(config, meta, m.state_dict(), source="x").config == m.config
True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dsp_rnn.audio.model import AudioRNN, AudioRNNConfig
from dsp_rnn.audio.task import FAMILY
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.training.generate import Evaluation
from dsp_rnn.training.registry import Family

__all__ = ["AUDIO"]

_SPLITS = ("test", "train", "valid")


def _parts(model: AudioRNN) -> tuple[dict[str, Any], dict[str, Any]]:
    return model.config.to_dict(), {"model": type(model).__name__}


def _load(config: dict[str, Any], metadata: dict[str, Any], tensors: dict[str, torch.Tensor],
          *, source: str) -> nn.Module:  # fmt: skip
    try:
        model = AudioRNN(AudioRNNConfig.from_dict(config))
    except (InputError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: bad audio model config ({exc})") from None
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "mismatch"
        raise CheckpointError(f"{source}: weights do not fit the config ({first})") from None
    model.eval()
    return model


def _evaluate(model: AudioRNN, data: str | Path | None, *, split: str, samples: int,
              bars: float, temperature: float, seed: int,
              progress: Callable[[int, int], None] | None) -> Evaluation:  # fmt: skip
    """Exact NLL in bits per sample of a folder of audio files.

    ``split``: ``"test"`` scores every usable file of the folder (a held-out folder);
    ``"train"`` or ``"valid"`` the files of that content-hash split (as training draws it,
    a tenth held out). ``bars``, ``temperature``, ``seed`` and ``progress`` concern
    samples, which this family does not draw yet.
    """
    from dsp_rnn.audio.task import AudioCorpus, evaluate_nll

    if data is None:
        raise InputError("audio models are evaluated on a folder of audio files; pass one")
    if split not in _SPLITS:
        raise InputError(f"split: expected one of {', '.join(_SPLITS)}, got {split!r}")
    if samples:
        raise InputError("samples: audio models cannot draw samples for evaluation yet; "
                         "pass samples=0")  # fmt: skip
    corpus = AudioCorpus.from_folder(data, model.config.features,
                                     valid_fraction=0.0 if split == "test" else 0.1)  # fmt: skip
    items = corpus.valid if split == "valid" else corpus.train
    if not items:
        raise InputError(f"{data}: no file in the {split!r} split")
    metrics: dict[str, Any] = dict(evaluate_nll(model, items))
    metrics.update(parameters=model.count_parameters(), lpc=model.config.lpc,
                   skipped=len(corpus.skipped))  # fmt: skip
    kind = "LPC excitation" if model.config.lpc else "mu-law signal"
    lines = (f"{data} ({split}): NLL {metrics['nll_bits_per_sample']:.3f} bits per sample "
             f"({kind}, {model.config.n_codes} codes; {metrics['files']} files, "
             f"{metrics['samples'] / model.config.sample_rate:.1f} s at "
             f"{model.config.sample_rate} Hz; {len(corpus.skipped)} skipped)",)  # fmt: skip
    return Evaluation(metrics, lines)


AUDIO = Family(
    name=FAMILY,
    model_types=(AudioRNN,),
    load=_load,
    parts=_parts,
    evaluate=_evaluate,
    describe="sample-level audio models (AudioRNN, LPCNet-style): NLL on audio folders",
)
