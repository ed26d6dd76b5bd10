"""dsp-rnn train on audio: which model a data path is for, and the audio model's task.

``dsp-rnn train DIR`` trains a note-grid model on MIDI files or a JSB JSON, a sample-level
audio model (:class:`dsp_rnn.audio.AudioRNN`) on audio files, and a learned voice's
note-to-feature network (:class:`dsp_rnn.voice.VoiceNet`) on a folder of audio files with
same-stem MIDI files (:func:`dsp_rnn.music.pair_folder`); :func:`data_kind` tells them apart
by the files (or by ``--model``). After the sample model's training, an
audio run also fits its :class:`~dsp_rnn.audio.FrameTier` on the training split's features
(:func:`fit_run_frame_tier`), which ``dsp-rnn generate`` draws features from.
"""

from __future__ import annotations

import argparse
import functools
import os
from pathlib import Path
from typing import Any, Literal

from dsp_rnn.cli.common import nonneg_int, positive_int
from dsp_rnn.errors import InputError
from dsp_rnn.music.outputs import MIDI_SUFFIXES

__all__ = ["AUDIO_WINDOW", "AUDIO_BATCH", "GRID_BATCH", "GRID_WINDOW", "FRAME_TIER_STEPS",
           "VOICE_WINDOW", "VOICE_BATCH", "data_kind", "audio_task", "voice_task",
           "finish_voice", "add_audio_flags", "fit_run_frame_tier"]  # fmt: skip

Kind = Literal["grid", "audio", "voice"]
GRID_WINDOW = 48  # time steps per TBPTT window of a note-grid model
AUDIO_WINDOW = 800  # samples per window of an audio model (5 frames at 16 kHz)
AUDIO_BATCH = 16  # windows per step of an audio model
GRID_BATCH = 4  # windows per step of a note-grid model
VOICE_WINDOW = 200  # frames per window of a voice's feature network (2 s at 10 ms)
VOICE_BATCH = 8  # windows per step of a voice's feature network
FRAME_TIER_STEPS = 300  # Adam steps of an audio run's frame tier (about 10 s on one CPU core)
_GRID_ONLY = {
    "init": None,
    "init_member": None,
    "transpose": 0,
    "start_share": 0.0,
    "steps_per_quarter": None,
    "beat_period": None,
    "tempo": None,
    "register_features": False,
}  # flag -> its default


def _audio_endings() -> tuple[str, ...]:
    from dsp_rnn.music.audio import AUDIO_EXTENSIONS

    return AUDIO_EXTENSIONS


@functools.cache
def _paired(path: str) -> Any:
    """:func:`~dsp_rnn.music.pair_folder` of ``path``, once per process (data_kind and
    voice_task both need it)."""
    from dsp_rnn.music.pairs import pair_folder

    return pair_folder(path)


def data_kind(data: str | os.PathLike[str], model: Kind | None = None) -> Kind:
    """``"grid"`` for a JSB ``.json``, a MIDI file or a folder of MIDI files; ``"audio"`` for
    an audio file or a folder of audio files (searched recursively); ``"voice"`` for a
    folder of both where most audio files pair with a same-stem MIDI file that lines up
    (:func:`~dsp_rnn.music.pair_folder`); ``model`` when given.

    Raises:
        InputError: a folder with both kinds of files where most audio files do not pair,
            or with neither, and no ``model``; ``--model voice`` for a file.
    """
    if model == "voice" and not Path(data).is_dir():
        raise InputError(f"{data}: a voice trains on a folder of audio files with same-stem "
                         "MIDI files, not on a file")  # fmt: skip
    if model is not None:
        return model
    path, audio = Path(data), _audio_endings()
    if path.is_file():
        suffix = path.suffix.lower()
        return "audio" if suffix in audio else "grid"
    n_midi = n_audio = 0
    for _, _, names in os.walk(path):
        for name in names:
            suffix = Path(name).suffix.lower()
            n_midi += suffix in MIDI_SUFFIXES
            n_audio += suffix in audio
    if n_midi and n_audio:
        paired = _paired(str(path))
        if 2 * len(paired.pairs) > n_audio:
            return "voice"
        raise InputError(f"{path}: holds both MIDI ({n_midi}) and audio ({n_audio}) files, "
                         f"but only {len(paired.pairs)} audio files pair with a same-stem MIDI "
                         f"file that lines up ({paired.summary()}); pass --model voice (a "
                         "learned voice on the pairs), --model grid (note-grid model on the "
                         "MIDI) or --model audio (sample model on the audio), or split the "
                         "folder")  # fmt: skip
    if not (n_midi or n_audio):
        raise InputError(f"{path}: no MIDI ({', '.join(MIDI_SUFFIXES)}) or audio "
                         f"({', '.join(audio)}) files in it or below it")  # fmt: skip
    return "audio" if n_audio else "grid"


def audio_task(args: argparse.Namespace) -> Any:
    """The :class:`~dsp_rnn.audio.AudioTask` of ``dsp-rnn train`` on audio.

    Raises:
        InputError: a note-grid-only flag given; no usable audio file.
    """
    from dsp_rnn.audio import AudioCorpus, AudioRNNConfig, AudioTask, FeatureConfig

    given = [n for n, default in _GRID_ONLY.items() if getattr(args, n, default) != default]
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        raise InputError(f"{flags}: for note-grid models; {args.data} is audio")
    config = AudioRNNConfig(features=FeatureConfig(), gru_units=args.gru_units,
                            embedding_size=args.embedding_size,
                            conditioning_size=args.conditioning_size,
                            lpc=not args.no_lpc)  # fmt: skip
    corpus = AudioCorpus.from_folder(args.data, config.features)
    midi = [s for s in corpus.skipped if s.path.suffix.lower() in MIDI_SUFFIXES]
    for line in corpus.skipped:
        if line not in midi:
            print(f"skipped {line}")
    if midi:  # a folder of pairs: one line, not one per MIDI file
        print(f"left out {len(midi)} MIDI files: an audio model reads the audio (--model voice "
              "trains a learned voice on audio and MIDI pairs)")  # fmt: skip
    return AudioTask(config, corpus)


def voice_task(args: argparse.Namespace) -> Any:
    """The :class:`~dsp_rnn.voice.VoiceTask` of ``dsp-rnn train`` on a paired folder; each
    file left out is printed with its reason (unpaired, misaligned, broken).

    Raises:
        InputError: a note-grid-only flag given; no pair; a ``--sample-model`` that does
            not load or reads other features.
    """
    from dsp_rnn.audio import FeatureConfig
    from dsp_rnn.errors import CheckpointError
    from dsp_rnn.voice import VoiceCorpus, VoiceNetConfig, VoiceTask, load_sample_model

    given = [n for n, default in _GRID_ONLY.items() if getattr(args, n, default) != default]
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        raise InputError(f"{flags}: for note-grid models; {args.data} trains a voice")
    config = VoiceNetConfig(features=FeatureConfig(), hidden=args.voice_hidden,
                            projection=args.voice_projection)  # fmt: skip
    if args.sample_model is not None:
        try:
            model = load_sample_model(args.sample_model)
        except CheckpointError as exc:
            raise InputError(f"--sample-model {args.sample_model}: {exc}") from None
        if model.config.features != config.features:
            raise InputError(f"--sample-model {args.sample_model}: reads features "
                             f"{model.config.features}, the voice predicts "
                             f"{config.features}")  # fmt: skip
    paired = _paired(str(args.data))
    for line in paired.skipped:
        print(f"skipped {line}")
    corpus = VoiceCorpus.from_pairs(paired, config)
    return VoiceTask(config, corpus)


def finish_voice(args: argparse.Namespace, task: Any) -> str:
    """After a voice's training: copy ``--sample-model`` into the voice folder
    (:func:`~dsp_rnn.voice.add_sample_model`) and fit its note source to the recordings
    (:func:`~dsp_rnn.voice.tune_source`: the release on up to 60 training pairs, the
    harmonic share on up to 3 validation pairs), written as ``source.json``; lines saying
    what the folder holds."""
    from dsp_rnn.voice import SAMPLE_MODEL, add_sample_model, load_voice, tune_source, write_source

    out = Path(args.out)
    if args.sample_model is not None:
        where = add_sample_model(out, args.sample_model)
        line = f"sample model: copied {args.sample_model} to {where}"
    elif (out / SAMPLE_MODEL / "config.json").is_file():
        line = f"sample model: kept {out / SAMPLE_MODEL}"
    else:
        return (f"sample model: none yet; train one with dsp-rnn train {args.data} --model "
                f"audio --out RUN and add it with dsp-rnn train {args.data} --out {out} "
                "--resume --steps 1 --sample-model RUN (--steps 1: no further "
                "training)")  # fmt: skip
    corpus = task.corpus
    tuned = tune_source(load_voice(out), corpus.valid or corpus.train,
                        release_pairs=corpus.train[:60], seed=args.seed)  # fmt: skip
    path = write_source(out, tuned.source, tuned.notes())
    src = tuned.source
    shares = ", ".join(f"{k}: {v:.3f} / {100 * tuned.timing[k]:.0f}%"
                       for k, v in tuned.distances.items())  # fmt: skip
    decays = ", ".join(f"{k}: {v:.3f} / {100 * tuned.decay_timing[k]:.0f}%"
                       for k, v in tuned.decay_distances.items())  # fmt: skip
    decay = "none" if src.decay_s is None else f"{src.decay_s:g} s"
    noise = "none" if src.noise_decay_s is None else f"{src.noise_decay_s:g} s"
    return (f"{line}\nnote source: release {src.release_s:.2f} s, harmonic share "
            f"{src.harmonic_share:g}, noise decay {noise}, note decay {decay} (MR-STFT "
            "distance / onsets within 10 ms, by share[/noise decay]: "
            f"{shares}; by note decay: {decays}; the recordings' onsets within 10 ms: "
            f"{100 * tuned.reference_timing:.0f}%) in {path}")  # fmt: skip


def fit_run_frame_tier(task: Any, run: str | os.PathLike[str], *, steps: int, seed: int,
                       resume: bool) -> str | None:  # fmt: skip
    """Fit the frame tier of an audio run on the training split's cached features and save
    it into ``run`` (:func:`~dsp_rnn.audio.save_frame_tier`); one line saying what was done,
    or ``None`` when ``steps`` is 0.

    On ``resume`` a tier already in the run is kept (it depends on the data only, not on
    the sample model); otherwise the tier is fitted again.

    Args:
        task: the run's :class:`~dsp_rnn.audio.AudioTask`.
        run: the run folder (it exists once training has saved the model).
        steps: Adam steps of :func:`~dsp_rnn.audio.fit_frame_tier`, >= 0 (0: no tier).
        seed: seed of the tier's weights and windows.
        resume: keep a tier the run already holds.
    """
    from dsp_rnn.audio import (
        FRAME_TIER_CONFIG,
        FRAME_TIER_WEIGHTS,
        FrameTierConfig,
        cached_features,
        fit_frame_tier,
        save_frame_tier,
    )

    if steps == 0:
        return None
    folder = Path(run)
    saved = [folder / FRAME_TIER_CONFIG, folder / FRAME_TIER_WEIGHTS]
    if resume and all(p.is_file() for p in saved):
        return f"frame tier: kept {folder / FRAME_TIER_CONFIG}"
    features = task.config.features
    feats = [cached_features(item.path, config=features) for item in task.corpus.train]
    fit = fit_frame_tier(feats, steps=steps, seed=seed, config=FrameTierConfig(features=features))
    save_frame_tier(folder, fit.tier)
    return (
        f"frame tier: {steps} steps on {len(feats)} files, NLL {fit.losses[0]:.2f} -> "
        f"{fit.losses[-1]:.2f} nats per frame; saved {folder / FRAME_TIER_CONFIG}"
    )


def add_audio_flags(p: argparse.ArgumentParser) -> None:
    """The audio model's flags of ``dsp-rnn train``."""
    g = p.add_argument_group("audio models (a folder of audio files)")
    g.add_argument("--model", choices=("grid", "audio", "voice"),
                   help="the model to train (default: from the files: MIDI or JSB -> grid, "
                        "audio -> audio, audio with same-stem MIDI -> voice)")  # fmt: skip
    g.add_argument("--gru-units", type=positive_int, default=128,
                   help="sample-rate GRU units, >= 1")  # fmt: skip
    g.add_argument("--embedding-size", type=positive_int, default=64,
                   help="width of each mu-law code embedding, >= 1")  # fmt: skip
    g.add_argument("--conditioning-size", type=positive_int, default=64,
                   help="width of the frame conditioning, >= 1")  # fmt: skip
    g.add_argument("--frame-tier-steps", type=nonneg_int, default=FRAME_TIER_STEPS,
                   help="Adam steps of the frame tier fitted after training (generate draws "
                        "features from it), >= 0; 0 skips it; on --resume a tier the run "
                        f"holds is kept (default {FRAME_TIER_STEPS})")  # fmt: skip
    g.add_argument("--no-lpc", action="store_true",
                   help="model the mu-law signal itself, without the LPC filter (the "
                        "ablation)")  # fmt: skip
    v = p.add_argument_group("learned voices (a folder of audio files with same-stem MIDI "
                             "files)")  # fmt: skip
    v.add_argument("--sample-model", metavar="RUN",
                   help="the audio run (dsp-rnn train DIR --model audio) whose sample model "
                        "renders the voice's features; copied into the voice folder after "
                        "training, and the voice's note source then fitted to the "
                        "recordings (source.json) (default: none yet)")  # fmt: skip
    v.add_argument(
        "--voice-hidden",
        type=positive_int,
        default=128,
        help="GRU units of the note-to-feature network, >= 1 (default 128)",
    )
    v.add_argument(
        "--voice-projection",
        type=positive_int,
        default=64,
        help="width of its piano-roll projection, >= 1 (default 64)",
    )
