"""The sample-level audio family in the registry: :class:`~dsp_rnn.audio.AudioRNN` models
load from a model folder (the :class:`~dsp_rnn.audio.AudioRNNConfig` as JSON and the
safetensors weights; nothing is unpickled) and evaluate on a folder of audio (exact NLL in
bits per sample). A run folder also holds the run's :class:`~dsp_rnn.audio.FrameTier`
(``frame_tier.safetensors`` + ``frame_tier.json``, :func:`~dsp_rnn.audio.save_frame_tier`):
the model loads as an :class:`AudioModel` carrying it, and generating a file draws frame
features from the tier, then renders them with the sample-level generator
(:func:`dsp_rnn.audio.generator.synthesize`).

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

import numpy as np
import torch
from torch import nn

from dsp_rnn._tensor_io import load_weights
from dsp_rnn.audio.frame_tier import FRAME_TIER_CONFIG, FrameTier, load_frame_tier
from dsp_rnn.audio.model import AudioRNN, AudioRNNConfig
from dsp_rnn.audio.task import FAMILY
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.training.generate import Evaluation, Generated, GenerateRequest, check_length
from dsp_rnn.training.registry import Family

__all__ = ["AUDIO", "AudioModel"]

_SPLITS = ("test", "train", "valid")


class AudioModel(AudioRNN):
    """An :class:`~dsp_rnn.audio.AudioRNN` loaded from a run or model folder, with the
    folder's frame tier (``None`` when it has none).

    The tier is kept out of the module tree on purpose: it is not in this model's
    ``state_dict`` (it lives in its own files, :func:`~dsp_rnn.audio.save_frame_tier`), so
    :func:`~dsp_rnn.training.save_model` writes the sample model alone and ``.to()`` does
    not move the tier (it samples on the CPU). Everything else is the ``AudioRNN``'s.

    Args:
        config: the sample model's :class:`~dsp_rnn.audio.AudioRNNConfig`.
        frame_tier: the run's :class:`~dsp_rnn.audio.FrameTier`, or ``None``.
    """

    frame_tier: FrameTier | None

    def __init__(self, config: AudioRNNConfig, frame_tier: FrameTier | None = None):
        super().__init__(config)
        self.__dict__["frame_tier"] = frame_tier  # not a submodule: see the class docstring


def _parts(model: AudioRNN) -> tuple[dict[str, Any], dict[str, Any]]:
    return model.config.to_dict(), {"model": "AudioRNN"}


def _load(config: dict[str, Any], metadata: dict[str, Any], tensors: dict[str, torch.Tensor],
          *, source: str) -> nn.Module:  # fmt: skip
    try:
        model = AudioModel(AudioRNNConfig.from_dict(config))
    except (InputError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: bad audio model config ({exc})") from None
    load_weights(model, tensors, source=source)
    folder = Path(source).parent
    if (folder / FRAME_TIER_CONFIG).is_file():
        tier = load_frame_tier(folder)
        if tier.config.features != model.config.features:
            raise CheckpointError(f"{folder / FRAME_TIER_CONFIG}: the frame tier models "
                                  f"features {tier.config.features}, the sample model reads "
                                  f"{model.config.features}")  # fmt: skip
        model.__dict__["frame_tier"] = tier
    return model


def _generate(model: AudioRNN, request: GenerateRequest) -> Generated:
    """Draw ``request.seconds`` of audio: the frame tier samples the frame features (seeded),
    the sample-level generator renders them at the same seed and temperature, and the WAV
    (or FLAC, AIFF) is written atomically at the model's sample rate (float samples, never
    clipped)."""
    from dsp_rnn.audio.frame_tier import features_from_vectors
    from dsp_rnn.errors import OutputError
    from dsp_rnn.music import write_audio
    from dsp_rnn.music.outputs import AUDIO_SUFFIXES

    cli = request.flag_style == "cli"
    out = request.out
    if out.suffix.lower() not in AUDIO_SUFFIXES:
        raise InputError(f"{out}: audio models write audio; pass an output path ending in "
                         f"{', '.join(AUDIO_SUFFIXES)}")  # fmt: skip
    tier = getattr(model, "frame_tier", None)
    if not isinstance(tier, FrameTier):
        how = ("dsp-rnn train DATA --out RUN --resume (a finished run fits a missing tier)"
               if cli else "save_frame_tier(RUN, fit_frame_tier(features).tier)")  # fmt: skip
        raise InputError(f"this audio model has no frame tier to draw features from (a run "
                         f"folder's {FRAME_TIER_CONFIG}); add one with {how}")  # fmt: skip
    if request.seconds is None:
        given = "--steps/--bars" if cli else "steps/bars"
        flag = "--seconds S" if cli else "seconds=S"
        raise InputError(f"audio models take their length in seconds: pass {flag} (not "
                         f"{given})")  # fmt: skip
    c = model.config
    hop = c.features.hop_samples
    n_samples = max(1, round(float(request.seconds) * c.sample_rate))
    n_frames = -(-n_samples // hop)
    check_length(request, n_frames)  # a frame tier's step is a frame
    try:
        from dsp_rnn.audio.generator import limit_peak, synthesize
    except ModuleNotFoundError:
        raise InputError("this dsp_rnn has no sample-level generator "
                         "(dsp_rnn.audio.generator.synthesize) yet; audio models cannot "
                         "generate files") from None  # fmt: skip
    vectors, _ = tier.sample_vectors(n_frames, temperature=request.temperature,
                                     seed=request.seed)  # fmt: skip
    feats = features_from_vectors(vectors, tier.config.features, n_samples=n_frames * hop)
    signal = np.asarray(synthesize(model, feats, seed=request.seed,
                                   temperature=request.temperature))  # fmt: skip
    signal = signal.reshape(-1)[:n_samples].astype(np.float32)
    if signal.shape[0] != n_samples or not np.isfinite(signal).all():
        raise OutputError(f"{out}: the generator gave {signal.shape[0]} samples (finite: "
                          f"{bool(np.isfinite(signal).all())}), expected {n_samples}")  # fmt: skip
    signal, gain_db = limit_peak(signal)  # turned down if it would clip, never clipped
    flac = out.suffix.lower() == ".flac"  # FLAC holds no FLOAT
    write_audio(out, signal, sample_rate=c.sample_rate, subtype="PCM_24" if flac else "FLOAT",
                overwrite=request.overwrite)  # fmt: skip
    peak = float(np.abs(signal).max()) if n_samples else 0.0
    summary = (f"{out} ({n_samples / c.sample_rate:.2f} s at {c.sample_rate} Hz, {n_frames} "
               f"frames, peak {peak:.3f}, gain {gain_db:.1f} dB)")  # fmt: skip
    return Generated(path=out, seed=request.seed, steps=n_frames,
                     seconds=n_samples / c.sample_rate, render=summary)  # fmt: skip


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
    generate=_generate,
    evaluate=_evaluate,
    describe="sample-level audio models (AudioRNN, LPCNet-style): NLL on audio folders, "
    "audio out through the run's frame tier",
)
