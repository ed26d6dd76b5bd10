"""The sample-level audio family in the registry: :class:`~dsp_rnn.audio.AudioRNN` models
load from a model folder (the :class:`~dsp_rnn.audio.AudioRNNConfig` as JSON and the
safetensors weights; nothing is unpickled) and evaluate on a folder of audio
(:func:`evaluate_audio`: NLL in bits per sample beside the linear twin's, copy-synthesis
distances beside the LPC and WORLD vocoders', a spectrogram). A run folder also holds the
run's :class:`~dsp_rnn.audio.FrameTier` (``frame_tier.safetensors`` + ``frame_tier.json``,
:func:`~dsp_rnn.audio.save_frame_tier`): the model loads as an :class:`AudioModel` carrying
it, and generating a file draws frame features from the tier, then renders them with the
sample-level generator (:func:`dsp_rnn.audio.generator.synthesize`).

>>> from dsp_rnn.audio import AudioRNN, AudioRNNConfig
>>> m = AudioRNN(AudioRNNConfig(gru_units=8, embedding_size=4, conditioning_size=4))
>>> config, meta = AUDIO.parts(m)
>>> AUDIO.load(config, meta, m.state_dict(), source="x").config == m.config
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp_rnn._tensor_io import load_weights
from dsp_rnn.audio.copy_synthesis import PEERS
from dsp_rnn.audio.frame_tier import FRAME_TIER_CONFIG, FrameTier, load_frame_tier
from dsp_rnn.audio.model import AudioRNN, AudioRNNConfig
from dsp_rnn.audio.task import FAMILY
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.music.outputs import MIDI_SUFFIXES
from dsp_rnn.training.generate import Evaluation, Generated, GenerateRequest, check_length
from dsp_rnn.training.registry import Family

__all__ = ["AUDIO", "AudioModel", "DEFAULT_EVAL_SECONDS", "evaluate_audio"]

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


DEFAULT_EVAL_SECONDS = 60.0
"""Audio scored by :func:`evaluate_audio` (and ``dsp-rnn eval --audio``) by default: the
sample RNN runs per sample, so the time is bounded by the audio, not the folder."""


def evaluate_audio(
    model: AudioRNN,
    data: str | Path,
    *,
    split: str = "test",
    seconds: float | None = DEFAULT_EVAL_SECONDS,
    seed: int = 0,
    peers: Sequence[str] = PEERS,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    """An audio model's likelihoods and copy synthesis on a folder of audio files.

    Metrics (``Evaluation.metrics``, JSON-able):

    - ``nll_bits_per_sample``, ``samples``, ``files``: the model's exact NLL on its own
      target (the LPC excitation's codes, or the signal's with ``lpc=False``: what
      training logs as ``valid_nll``);
    - ``nll_rows``: ``[{"system", "nll_bits_per_sample", "samples", "files"}]`` for
      ``"model"`` and ``"linear_twin"`` (the LPC predictor with a per-frame Laplace
      residual), every row on the same variable, ``nll_variable``: the pre-emphasised
      signal's mu-law code (:func:`~dsp_rnn.audio.signal_code_nll`,
      :func:`~dsp_rnn.audio.linear_twin_nll`);
    - ``copy_synthesis``: one :meth:`~dsp_rnn.audio.CopySynthesisRow.to_dict` per system
      (``"model"``, then ``peers``): level-matched MR-STFT distance and log-mel L1 (dB),
      the mean over files and each file's (:func:`~dsp_rnn.audio.copy_synthesis`);
    - ``parameters``, ``lpc``, ``skipped`` (unreadable files), ``midi_files`` (MIDI files
      in the folder, left out: a folder of audio and MIDI pairs), ``seconds`` (the
      budget), ``seed``.

    ``Evaluation.plot(path, title)`` writes the spectrograms of the first file and its
    resyntheses (:func:`~dsp_rnn.audio.plot_resynthesis`).

    Args:
        model: the :class:`~dsp_rnn.audio.AudioRNN`.
        data: a folder of audio files (recursive; unreadable files are skipped).
        split: ``"test"`` scores every usable file (a held-out folder); ``"train"`` or
            ``"valid"`` the files of that content-hash split (as training draws it, a
            tenth held out).
        seconds: score and resynthesise at most this much audio (each measurement over
            the same files, in order; default 60 s); None = all of it.
        seed: the draws of the model's resynthesis and the LPC vocoder's noise.
        peers: the copy-synthesis peers (default ``("lpc_vocoder", "world")``; WORLD's
            row says it is missing where pyworld does not import).
        progress: called as ``progress(done, 4)`` after each of the four measurements
            (own-target NLL, signal-code NLL, linear twin, copy synthesis).

    Raises:
        InputError: a bad ``split`` or ``seconds``; no file in the split. AudioError: a
            folder with no usable audio file.
    """
    from dsp_rnn.audio.copy_synthesis import Resynthesis, copy_synthesis, plot_resynthesis
    from dsp_rnn.audio.scoring import linear_twin_nll, signal_code_nll
    from dsp_rnn.audio.task import AudioCorpus, evaluate_nll

    if split not in _SPLITS:
        raise InputError(f"split: expected one of {', '.join(_SPLITS)}, got {split!r}")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not (seconds > 0 and math.isfinite(seconds))):  # fmt: skip
        raise InputError(f"seconds: expected a number > 0 or None, got {seconds!r}")
    c = model.config
    corpus = AudioCorpus.from_folder(data, c.features,
                                     valid_fraction=0.0 if split == "test" else 0.1)  # fmt: skip
    items = corpus.valid if split == "valid" else corpus.train
    if not items:
        raise InputError(f"{data}: no file in the {split!r} split")

    def done(stage: int) -> None:
        if progress is not None:
            progress(stage, 4)

    metrics: dict[str, Any] = dict(evaluate_nll(model, items, max_seconds=seconds))
    done(1)
    rows = [{"system": "model", **signal_code_nll(model, items, max_seconds=seconds)}]
    done(2)
    rows.append({"system": "linear_twin", **linear_twin_nll(items, c.features,
                                                            bits=c.mu_law_bits,
                                                            max_seconds=seconds)})  # fmt: skip
    done(3)
    first: list[Resynthesis] = []
    copies = copy_synthesis(model, items, seed=seed, peers=peers, max_seconds=seconds,
                            on_file=lambda r: first.append(r) if not first else None)  # fmt: skip
    done(4)
    variable = f"{c.mu_law_bits}-bit mu-law code of the pre-emphasised signal"
    midi = [s for s in corpus.skipped if s.path.suffix.lower() in MIDI_SUFFIXES]
    skipped = len(corpus.skipped) - len(midi)  # MIDI files beside the audio are not faults
    metrics.update(parameters=model.count_parameters(), lpc=c.lpc, skipped=skipped,
                   midi_files=len(midi),
                   seconds=seconds, seed=seed, nll_variable=variable, nll_rows=rows,
                   copy_synthesis=[row.to_dict() for row in copies])  # fmt: skip
    kind = "LPC excitation" if c.lpc else "mu-law signal"
    lines = [f"{data} ({split}): NLL {metrics['nll_bits_per_sample']:.3f} bits per sample on "
             f"the model's own target ({kind}, {c.n_codes} codes; {metrics['files']} files, "
             f"{metrics['samples'] / c.sample_rate:.1f} s at {c.sample_rate} Hz; "
             f"{skipped} skipped" + (f", {len(midi)} MIDI files left out)" if midi else ")"),
             f"NLL in bits per sample of the {variable}:"]  # fmt: skip
    lines += [f"  {row['system']:<12} {row['nll_bits_per_sample']:7.3f}" for row in rows]
    lines.append("copy synthesis, level-matched (MR-STFT distance, log-mel L1 in dB; mean "
                 f"over {len(copies[0].files)} files):")  # fmt: skip
    for row in copies:
        if row.missing is not None:
            lines.append(f"  {row.system:<12} missing: {row.missing}")
        else:
            lines.append(f"  {row.system:<12} {row.mr_stft:7.3f} {row.log_mel_l1:7.2f}")

    def plot(path: Path, title: str) -> Path:
        heading = f"copy synthesis of {Path(first[0].path).name}"
        return plot_resynthesis(first[0], path, title=f"{title}: {heading}" if title else "")

    return Evaluation(metrics, tuple(lines), plot if first else None)


def _evaluate(model: AudioRNN, data: str | Path | None, *, split: str, samples: int,
              bars: float, temperature: float, seed: int,
              progress: Callable[[int, int], None] | None,
              seconds: float | None = DEFAULT_EVAL_SECONDS) -> Evaluation:  # fmt: skip
    """:func:`evaluate_audio` through the registry (``evaluate_model``): ``bars`` and
    ``temperature`` concern samples, which this family does not draw; ``progress`` counts
    the measurements."""
    if data is None:
        raise InputError("audio models are evaluated on a folder of audio files; pass one")
    if samples:
        raise InputError("samples: audio models cannot draw samples for evaluation yet; "
                         "pass samples=0")  # fmt: skip
    return evaluate_audio(model, data, split=split, seconds=seconds, seed=seed,
                          progress=progress)  # fmt: skip


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
