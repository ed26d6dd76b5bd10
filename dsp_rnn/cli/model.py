"""dsp-rnn train, generate, ensemble and eval: note-grid models, and audio models (train, eval)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dsp_rnn.cli.audio_train import (
    AUDIO_BATCH,
    AUDIO_WINDOW,
    GRID_BATCH,
    GRID_WINDOW,
    VOICE_BATCH,
    VOICE_WINDOW,
    add_audio_flags,
    audio_task,
    data_kind,
    finish_voice,
    fit_run_frame_tier,
    voice_task,
)
from dsp_rnn.cli.common import (
    OVERWRITE_HELP,
    float_range,
    image_file,
    input_file,
    int_range,
    nonneg_float,
    nonneg_int,
    output_file,
    output_folder,
    positive_float,
    positive_int,
    random_seed,
    seed_int,
    stderr_is_tty,
    threads_int,
    writing,
)
from dsp_rnn.cli.render import (
    add_render_flags,
    check_render_target,
    learned_voice,
    render_learned,
    render_options,
)
from dsp_rnn.errors import DspRnnError, InputError
from dsp_rnn.music.outputs import AUDIO_SUFFIXES, MAX_STEPS, MIDI_SUFFIXES
from dsp_rnn.music.shipped import SHIPPED_JSB

__all__ = ["register"]

LONG_PIECE = 1_000  # generate: a progress bar from this many steps on, even off a terminal
TEMPO = float_range(0.0, 1000.0, lo_open=True, what="a tempo > 0 and <= 1000 bpm")


def _threads(args: argparse.Namespace) -> None:
    """One torch thread by default: these LSTMs run many small matrix products, which gain
    little from a second thread and lose a lot when the cores are shared (JSB epoch: 24 s
    with 1 thread, 125 s with 2 beside another busy process on a 2-core machine)."""
    import torch

    torch.set_num_threads(args.threads)


def _cmd_train(args: argparse.Namespace) -> int:
    from dsp_rnn.training import STATE_FILE, TrainConfig, TrainingInterrupted, train

    if args.steps is not None and args.steps < 1:
        raise InputError(f"--steps {args.steps}: expected at least 1 optimiser step (no steps "
                         "would leave an untrained model)")  # fmt: skip
    overwrite = bool(getattr(args, "overwrite", False))
    if args.resume and overwrite:
        raise InputError("pass --resume (continue the run) or --overwrite (start it again), "
                         "not both")  # fmt: skip
    _threads(args)
    kind = data_kind(args.data, getattr(args, "model", None))
    if getattr(args, "sample_model", None) is not None and kind != "voice":
        raise InputError(
            f"--sample-model: for learned voices; {args.data} trains a {kind} model (pass "
            "--model voice on a folder of audio and MIDI pairs)"
        )
    windows = {"audio": AUDIO_WINDOW, "voice": VOICE_WINDOW, "grid": GRID_WINDOW}
    batches = {"audio": AUDIO_BATCH, "voice": VOICE_BATCH, "grid": GRID_BATCH}
    if args.window is None:
        args.window = windows[kind]
    if args.batch_size is None:
        args.batch_size = batches[kind]
    state = Path(args.out) / STATE_FILE
    if kind == "audio":
        task = audio_task(args)
    elif kind == "voice":
        task = voice_task(args)
    else:
        task = _grid_task(args, state)
    config = TrainConfig(
        steps=args.steps, epochs=args.epochs, batch_size=args.batch_size, window=args.window,
        lr=args.lr, weight_decay=args.weight_decay, lr_decay_steps=args.lr_decay_steps,
        clip_grad_norm=args.clip, patience=args.patience,
        checkpoint_every=args.checkpoint_every, max_minutes=args.max_minutes, seed=args.seed,
        checkpoint_minutes=getattr(args, "checkpoint_minutes", 1.0) or None,
        progress=not args.quiet,
    )  # fmt: skip
    print(task.summary)
    if args.resume and not state.is_file():
        print(f"{args.out}: no saved train state; starting from step 0")
    try:
        result = train(task, args.out, config, resume=args.resume, overwrite=overwrite)
    except TrainingInterrupted as stop:
        if stop.rank == 0:
            print(json.dumps(stop.result), flush=True)
            print(_interrupted_message(args, stop), file=sys.stderr, flush=True)
        return stop.exit_code
    if kind == "audio":
        line = fit_run_frame_tier(task, args.out, steps=args.frame_tier_steps, seed=args.seed,
                                  resume=args.resume)  # fmt: skip
        if line is not None:
            print(line)
    if kind == "voice":
        print(finish_voice(args, task))
    if result["stop"] == "already done":
        print(f"{args.out}: already at step {result['steps']}, at or past --steps {args.steps}; "
              "nothing to do (a larger --steps trains on)")  # fmt: skip
    print(json.dumps(result))
    return 0


def _grid_task(args: argparse.Namespace, state: Path) -> Any:
    """The note-grid model's task of ``dsp-rnn train`` on MIDI or JSB."""
    from dsp_rnn.gridrnn.config import GridRNNConfig
    from dsp_rnn.gridrnn.data import load_corpus
    from dsp_rnn.gridrnn.task import GridTask

    spq, data_spq = args.steps_per_quarter, _jsb_resolution(args.data)
    if data_spq is not None and spq is not None and spq != data_spq:
        raise InputError(f"--steps-per-quarter {spq}: {args.data} holds {data_spq} step(s) per "
                         "quarter note (from its name); drop the flag or use the JSB file of "
                         "that resolution")  # fmt: skip
    if args.resume and state.is_file() and data_spq is None and spq is None:
        spq = _saved_resolution(state)  # a MIDI folder: read it at the run's resolution
    corpus = load_corpus(args.data, steps_per_quarter=spq)
    for line in corpus.skipped:
        print(f"skipped {line}")
    spq = corpus.steps_per_quarter
    model_config = GridRNNConfig(
        kind=args.kind, steps_per_quarter=spq, beat_period=args.beat_period or 4 * spq,
        time_hidden=args.time_hidden, time_layers=args.time_layers,
        pitch_hidden=args.pitch_hidden, pitch_layers=args.pitch_layers, dropout=args.dropout,
        articulation=corpus.articulation, tempo_bpm=args.tempo or (90.0 if spq == 1 else 100.0),
        output_transpose=_output_transpose(args.data, data_spq),
        register_features=bool(getattr(args, "register_features", False)),
    )  # fmt: skip
    init = None
    if args.init is not None and not (args.resume and state.is_file()):
        model_config, init = _init_weights(args, model_config)
    return GridTask(model_config, corpus, transpose=args.transpose,
                    start_share=args.start_share, init=init)  # fmt: skip


def _output_transpose(data: str, data_spq: int | None) -> int:
    """Where a model writes its music for a user: a JSB file's pieces are moved by whole
    octaves into the chorales' written register (the quarter-note file sits an octave above
    it; likelihoods stay in the file's encoding); a MIDI folder is written as it is."""
    from dsp_rnn.music.jsb import written_register_offset

    return 0 if data_spq is None else written_register_offset(data)


def _jsb_resolution(data: str) -> int | None:
    """Steps per quarter note of a JSB JSON file (from its name); None for a MIDI folder."""
    from dsp_rnn.music.jsb import jsb_steps_per_quarter

    return jsb_steps_per_quarter(data) if Path(data).suffix.lower() == ".json" else None


def _saved_resolution(state: Path) -> int | None:
    """The steps per quarter of the run whose state this is (None if unreadable: train
    reports the damage)."""
    from dsp_rnn.gridrnn.task import saved_model_config
    from dsp_rnn.training.checkpoint import read_metadata

    try:
        return saved_model_config(read_metadata(state)).steps_per_quarter
    except (DspRnnError, KeyError, TypeError, ValueError):
        return None


def _interrupted_message(args: argparse.Namespace, stop) -> str:
    """Two lines: what was saved, and the command that continues the run."""
    import shlex

    from dsp_rnn.training import STATE_FILE

    again = ["dsp-rnn", "train", str(args.data), "--out", str(args.out), "--resume"]
    if args.steps is not None:
        again += ["--steps", str(args.steps)]
    if args.max_minutes is not None:
        again += ["--max-minutes", f"{args.max_minutes:g}"]
    if args.threads != 1:
        again += ["--threads", str(args.threads)]
    state = Path(args.out) / STATE_FILE
    if stop.saved:
        head = (f"interrupted by {stop.signal_name} at step {stop.step}; saved {state} (the "
                f"model so far is usable as {args.out})")  # fmt: skip
    else:
        head = (f"stopped by a second {stop.signal_name} without saving; {state} holds step "
                f"{stop.step}")  # fmt: skip
    return f"dsp-rnn train: {head}\ncontinue with: {shlex.join(again)}"


def _check_generate(args: argparse.Namespace) -> None:
    """Before the model is loaded: the output, the primer, the note bounds (the length:
    generate() refuses one over --max-steps before it loads the model)."""
    out = Path(args.out)
    if out.suffix.lower() in AUDIO_SUFFIXES:
        check_render_target(out, args)
    elif out.suffix.lower() in MIDI_SUFFIXES:
        output_file(out, args.overwrite)
    else:
        raise InputError(
            f"{out}: expected a .mid output path, or audio ({', '.join(AUDIO_SUFFIXES)}) to "
            f"render it"
        )
    input_file(args.primer, "a MIDI file")
    if args.max_notes is not None and args.max_notes < args.min_notes:
        raise InputError(f"--max-notes {args.max_notes}: expected at least --min-notes "
                         f"{args.min_notes}")  # fmt: skip


def _init_weights(args: argparse.Namespace, data_config):
    """``--init MODEL [--init-member K]``: the config and weights to fine-tune from. The
    model's sizes and features are kept (size flags do not apply); its resolution, keys and
    articulation must be the data's (checked by the trainer)."""
    from dataclasses import replace

    from dsp_rnn.gridrnn.ensemble import GridEnsemble
    from dsp_rnn.gridrnn.model import GridRNN
    from dsp_rnn.training import registry

    model, _ = registry.load_model(args.init)
    if not isinstance(model, (GridRNN, GridEnsemble)):
        raise InputError(f"--init {args.init}: not a note-grid model")
    if isinstance(model, GridEnsemble):
        if args.init_member is None or args.init_member >= len(model.members):
            n = len(model.members)
            raise InputError(f"--init {args.init}: a mixture of {n} models; pick one with "
                             f"--init-member 0..{n - 1}")  # fmt: skip
        model = model.members[args.init_member]
    elif args.init_member is not None:
        raise InputError(f"--init-member: {args.init} is a single model, not a mixture")
    config = replace(model.config, dropout=args.dropout,
                     output_transpose=data_config.output_transpose)  # fmt: skip
    return config, {k: v.detach().clone() for k, v in model.state_dict().items()}


def _cmd_generate(args: argparse.Namespace) -> int:
    from dsp_rnn.training import generate

    _threads(args)
    out = Path(args.out)
    seed = random_seed() if args.seed is None else args.seed
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and not args.quiet and (stderr_is_tty() or total >= LONG_PIECE):
            from tqdm import tqdm

            bar = tqdm(total=total, unit="step", desc="sample", leave=False, mininterval=0.5)
        if bar is not None:
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

    audio = out.suffix.lower() in AUDIO_SUFFIXES
    if learned_voice(args) is not None:
        return _generate_with_voice(args, out, seed, progress)
    render = render_options(args, default_voice="ks") if audio else None
    try:
        made = generate(
            args.model, out, steps=args.steps, bars=args.bars, seconds=args.seconds,
            temperature=args.temperature, seed=seed, primer=args.primer, tempo_bpm=args.tempo,
            min_notes=args.min_notes, max_notes=args.max_notes, max_steps=args.max_steps,
            render=render, overwrite=args.overwrite, progress=progress, flag_style="cli",
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
        if render is not None:
            render["progress"].close()
    if audio:
        print(f"generated {made.describe()}")
        print(f"wrote {made.render}")
    else:
        print(f"wrote {out} ({made.describe()})")
    if args.seed is None:
        print(f"seed {seed}: pass --seed {seed} to make this piece again")
    return 0


def _generate_with_voice(args: argparse.Namespace, out: Path, seed: int, progress: Any) -> int:
    """``generate --out x.wav --voice VOICE``: sample the notes with the note-grid model
    into a temporary MIDI file beside ``out``, then play them with the learned voice (the
    same seed). The voice is loaded first, so a bad folder fails before any sampling."""
    import secrets

    from dsp_rnn.training import generate
    from dsp_rnn.voice import load_voice

    if out.suffix.lower() not in AUDIO_SUFFIXES:
        raise InputError(f"--voice {args.voice}: a learned voice plays the notes to audio; "
                         f"pass an --out ending in {', '.join(AUDIO_SUFFIXES)}")  # fmt: skip
    load_voice(args.voice)  # fail early on a bad folder (render_learned loads it again)
    notes = out.parent / f".{out.name}.{secrets.token_hex(6)}.mid"
    try:
        made = generate(
            args.model, notes, steps=args.steps, bars=args.bars, seconds=args.seconds,
            temperature=args.temperature, seed=seed, primer=args.primer, tempo_bpm=args.tempo,
            min_notes=args.min_notes, max_notes=args.max_notes, max_steps=args.max_steps,
            progress=progress, flag_style="cli",
        )  # fmt: skip
        summary = render_learned(notes, out, args, seed=seed)
    finally:
        notes.unlink(missing_ok=True)
    print(f"generated {made.describe()}")
    print(f"wrote {summary}")
    if args.seed is None:
        print(f"seed {seed}: pass --seed {seed} to make this piece again")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from dsp_rnn.training import registry

    _threads(args)
    model, _ = registry.load_model(args.model)
    name = args.model or "default"
    if registry.family_of(model).name == "audio":
        evaluation, data = _eval_audio(args, model, name)
    else:
        evaluation, data = _eval_grid(args, model, name)
    result = {**evaluation.metrics, "model": str(name), "data": str(data),
              "split": args.split}  # fmt: skip
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        print("\n".join(evaluation.lines))
    if evaluation.plot is not None and args.plot:
        what = (f"{args.split} audio, seed {args.seed}" if args.audio is not None else
                f"T={args.temperature:g}: {args.samples} samples vs {args.split}")  # fmt: skip
        with writing(args.plot, args.overwrite) as tmp:
            evaluation.plot(tmp, f"{Path(str(name)).name or name}, {what}")  # the run's name
        print(f"wrote {args.plot}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _eval_grid(args: argparse.Namespace, model: Any, name: str) -> tuple[Any, str]:
    """A note-grid model on a JSB split (likelihood, and sample statistics with
    --samples)."""
    from tqdm import tqdm

    from dsp_rnn.music import jsb
    from dsp_rnn.training import evaluate_model

    if args.audio is not None:
        raise InputError(f"--audio {args.audio}: {name} is a note-grid model; --audio is for "
                         "audio models (evaluate this one on JSB with --jsb FILE)")  # fmt: skip
    if args.seconds is not None:
        raise InputError(f"--seconds {args.seconds:g}: {name} is a note-grid model; --seconds "
                         "bounds the audio an audio model is evaluated on")  # fmt: skip
    if Path(args.jsb) == jsb.SHIPPED_JSB:
        jsb.default_jsb_path()  # missing (an installed package): says to pass --jsb
    if args.plot and not args.samples:
        raise InputError("--plot draws the statistics of samples: pass --samples N too")
    with tqdm(total=args.samples, desc="sampling", unit="piece", leave=False,
              disable=not (args.samples and stderr_is_tty())) as bar:  # fmt: skip
        evaluation = evaluate_model(
            model, args.jsb, split=args.split, samples=args.samples, bars=args.bars,
            temperature=args.temperature, seed=args.seed,
            progress=lambda done, total: bar.update(done - bar.n),
        )  # fmt: skip
    return evaluation, args.jsb


def _eval_audio(args: argparse.Namespace, model: Any, name: str) -> tuple[Any, str]:
    """An audio model on a folder of audio: NLL rows, copy synthesis, a spectrogram."""
    from dsp_rnn.training.audio_family import DEFAULT_EVAL_SECONDS, evaluate_audio

    if Path(args.jsb) != SHIPPED_JSB:
        raise InputError(f"--jsb {args.jsb}: {name} is an audio model; evaluate it on a "
                         "folder of audio files with --audio DIR")  # fmt: skip
    if args.audio is None:
        raise InputError(f"{name} is an audio model: pass --audio DIR, a folder of held-out "
                         "audio files (every file is scored with --split test)")  # fmt: skip
    if args.samples:
        raise InputError(f"--samples {args.samples}: audio models draw no samples for "
                         "evaluation; drop it")  # fmt: skip
    from tqdm import tqdm

    seconds = DEFAULT_EVAL_SECONDS if args.seconds is None else args.seconds
    with tqdm(total=4, desc="evaluating", unit="measure", leave=False,
              disable=not stderr_is_tty()) as bar:  # fmt: skip
        evaluation = evaluate_audio(
            model, args.audio, split=args.split, seconds=seconds, seed=args.seed,
            progress=lambda done, total: bar.update(done - bar.n),
        )  # fmt: skip
    return evaluation, args.audio


def _check_eval(args: argparse.Namespace) -> None:
    """Before the model is loaded: the data and the plot target (what depends on the
    model's family is checked once it is loaded, before any evaluation)."""
    from dsp_rnn.music import jsb

    if args.audio is not None:
        folder = Path(args.audio)
        if not folder.is_dir():
            what = "no such folder" if not folder.exists() else "a file, not a folder"
            raise InputError(f"--audio {folder}: {what}; expected a folder of audio files")
    elif Path(args.jsb) not in (SHIPPED_JSB, jsb.SHIPPED_JSB):  # the default: checked later
        input_file(args.jsb, "a JSB .json file")
    if args.plot:
        image_file(args.plot, args.overwrite)


def _cmd_ensemble(args: argparse.Namespace) -> int:
    from dsp_rnn.gridrnn.ensemble import GridEnsemble
    from dsp_rnn.gridrnn.model import GridRNN
    from dsp_rnn.training import registry

    out = Path(args.out)
    loaded = [registry.load_model(m) for m in args.models]
    if any(isinstance(m, GridEnsemble) for m, _ in loaded):
        raise InputError("ensemble: members must be single models (run folders), not ensembles")
    singles = [m for m, _ in loaded if isinstance(m, GridRNN)]
    if len(singles) != len(loaded):
        raise InputError("ensemble: members must be note-grid models (GridRNN run folders)")
    model = GridEnsemble.from_models(singles)
    members = [{"source": str(name), "metrics": meta.get("metrics", {})}
               for name, (_, meta) in zip(args.models, loaded, strict=True)]  # fmt: skip
    seconds = sum(float(meta.get("training_seconds", 0.0)) for _, meta in loaded)
    info = {"members": members, "parameters": model.count_parameters(),
            "training_seconds": seconds, "data": loaded[0][1].get("data", "")}  # fmt: skip
    out.mkdir(exist_ok=True)  # its parent was checked to exist
    registry.save_model(out, model, info)
    print(f"wrote {out} (a mixture of {len(members)} models, "
          f"{model.count_parameters()} parameters)")  # fmt: skip
    return 0


def _check_train(args: argparse.Namespace) -> None:
    """Before the data is read: the run folder can be made in an existing folder, or is a
    writable folder that is empty unless --resume or --overwrite."""
    if not Path(args.data).exists():
        raise InputError(f"{args.data}: no such file or folder")
    output_folder(args.out, overwrite=bool(getattr(args, "overwrite", False)),
                  must_be_empty=not args.resume,
                  hint="choose a new --out, pass --resume to continue the run in it, or "
                       "--overwrite to start it again")  # fmt: skip


def _check_ensemble(args: argparse.Namespace) -> None:
    output_folder(args.out, overwrite=args.overwrite)


def register(sub: argparse._SubParsersAction) -> None:
    """Add train, generate, ensemble and eval to the dsp-rnn parser."""
    p = sub.add_parser("train", help="train a note-grid model on MIDI or JSB, or an audio model "
                                     "on audio files",
                       description="Train a note-grid model on a MIDI folder or a JSB JSON "
                                   "file, or a sample-level audio model (LPCNet-style) on a "
                                   "folder of audio files; the files tell which (or "
                                   "--model).")  # fmt: skip
    p.add_argument("data", help="folder of MIDI files, a JSB .json file, or a folder of audio "
                                "files")  # fmt: skip
    p.add_argument("--out", required=True,
                   help="run folder, created if its parent exists; new or empty, unless "
                        "--resume or --overwrite (required, no default)")  # fmt: skip
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out exactly (from step 0 if it has no "
                        "state)")  # fmt: skip
    p.add_argument("--steps", type=positive_int,
                   help="stop after this many optimiser steps, >= 1 (default: no step "
                        "limit)")  # fmt: skip
    p.add_argument("--epochs", type=positive_int, default=1000,
                   help="at most this many epochs, >= 1")  # fmt: skip
    p.add_argument("--max-minutes", type=positive_float,
                   help="stop after this much training time, > 0 (default: no time "
                        "limit)")  # fmt: skip
    p.add_argument("--seed", type=seed_int, default=0, help="seeds weights, windows, dropout")
    p.add_argument("--kind", choices=("biaxial", "time"), default="biaxial",
                   help="biaxial (time and pitch LSTMs) or time (time LSTM only)")  # fmt: skip
    p.add_argument("--time-hidden", type=positive_int, default=64,
                   help="time-LSTM units, >= 1")  # fmt: skip
    p.add_argument("--time-layers", type=positive_int, default=2,
                   help="time-LSTM layers, >= 1")  # fmt: skip
    p.add_argument("--pitch-hidden", type=positive_int, default=48,
                   help="pitch-LSTM units, >= 1")  # fmt: skip
    p.add_argument("--pitch-layers", type=positive_int, default=2,
                   help="pitch-LSTM layers, >= 1")  # fmt: skip
    p.add_argument("--dropout", type=float_range(0.0, 1.0, hi_open=True,
                                                 what="a probability 0 <= p < 1"),
                   default=0.0, help="dropout probability, 0 <= p < 1")  # fmt: skip
    p.add_argument("--register-features", action="store_true",
                   help="add absolute-register inputs (lowest, highest, mean key of the step "
                        "before, note's distance to them) to the time features")  # fmt: skip
    p.add_argument("--beat-period", type=positive_int,
                   help="steps per bar, >= 1 (default 4 quarters)")  # fmt: skip
    p.add_argument("--steps-per-quarter", type=positive_int,
                   help="grid resolution, >= 1 (default: 4 for MIDI, from the name for "
                        "JSB)")  # fmt: skip
    p.add_argument("--batch-size", type=positive_int,
                   help=f"windows per step (global), >= 1 (default {GRID_BATCH} for a note-grid "
                        f"model, {AUDIO_BATCH} for an audio model)")  # fmt: skip
    p.add_argument("--window", type=positive_int,
                   help="steps per TBPTT window, >= 1 (default 48 time steps for a note-grid "
                        f"model, {AUDIO_WINDOW} samples for an audio model)")  # fmt: skip
    p.add_argument("--lr", type=positive_float, default=2e-3, help="learning rate, > 0")
    p.add_argument("--weight-decay", type=float_range(0.0, 10.0, hi_open=True), default=0.0,
                   help="AdamW decay, 0 <= w < 10 (default 0 = plain Adam)")  # fmt: skip
    p.add_argument("--lr-decay-steps", type=positive_int,
                   help="cosine decay to lr/20 over N steps, >= 1 (default: no "
                        "decay)")  # fmt: skip
    p.add_argument("--clip", type=positive_float, default=1.0, help="max gradient norm, > 0")
    p.add_argument("--start-share", type=float_range(0.0, 1.0, what="a share from 0 to 1"),
                   default=0.0,
                   help="share of the windows that start at a piece's first step, from silence "
                        "(teaches how pieces open; 0 = uniform starts)")  # fmt: skip
    p.add_argument("--init",
                   help="fine-tune: start from this model's weights (run folder, weights file "
                        "or shipped name; its sizes replace the size flags) (default: random "
                        "weights)")  # fmt: skip
    p.add_argument(
        "--init-member",
        type=nonneg_int,
        help="with --init of a mixture: which member to start from (default: none)",
    )
    p.add_argument("--transpose", type=int_range(0, 12), default=0,
                   help="augment: shift each window by up to N semitones, 0..12 (0 = "
                        "off)")  # fmt: skip
    p.add_argument("--patience", type=positive_int, default=6,
                   help="stop after this many epochs without improvement, >= 1")  # fmt: skip
    p.add_argument("--checkpoint-every", type=positive_int, default=200,
                   help="steps between saved training states, >= 1")  # fmt: skip
    p.add_argument("--checkpoint-minutes", type=nonneg_float, default=1.0,
                   help="also write the state after this many minutes of wall time (0 = "
                        "by steps only)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true",
                   help="start again in a run folder (removes the files a run wrote)")  # fmt: skip
    p.add_argument("--tempo", type=TEMPO,
                   help="default tempo of generated music in bpm, > 0 (default 90 for "
                        "quarter-note data, else 100)")  # fmt: skip
    p.add_argument("--threads", type=threads_int, default=1, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_audio_flags(p)
    p.set_defaults(func=_cmd_train, check=_check_train)

    p = sub.add_parser("generate", help="sample a piece from a model, write .mid or render .wav",
                       description="Sample a piece from a model; write it as MIDI or render "
                                   "it to audio.")  # fmt: skip
    p.add_argument("--model",
                   help="run folder, weights file or shipped name (default: the shipped "
                        "default model)")  # fmt: skip
    p.add_argument("--out", required=True,
                   help=".mid path, or .wav/.flac/.aiff to render; its folder must exist; "
                        "never overwritten unless --overwrite (required, no "
                        "default)")  # fmt: skip
    length = p.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int,
                        help="new grid steps, >= 1 (default: 16 bars)")  # fmt: skip
    length.add_argument("--bars", type=positive_float,
                        help="new bars of 4 quarters, > 0 (default 16)")  # fmt: skip
    length.add_argument("--seconds", type=positive_float,
                        help="seconds, > 0: of new notes at the tempo (default: 16 bars), "
                             "or of audio for an audio model (required there)")  # fmt: skip
    p.add_argument("--max-steps", type=positive_int, default=MAX_STEPS,
                   help="refuse, before sampling, pieces of more new steps than "
                        "this")  # fmt: skip
    p.add_argument("--temperature", type=positive_float, default=1.0,
                   help="sampling temperature, > 0: below 1 more predictable, above 1 more "
                        "varied")  # fmt: skip
    p.add_argument("--seed", type=seed_int,
                   help="seeds the draws (default: a random seed, printed so that the piece "
                        "can be made again)")  # fmt: skip
    p.add_argument("--primer", help="MIDI file to continue (default: none, start from silence)")
    p.add_argument("--min-notes", type=nonneg_int, default=0,
                   help="notes per step, at least (>= 0)")  # fmt: skip
    p.add_argument("--max-notes", type=positive_int,
                   help="notes per step, at most, >= 1 (default: no limit)")  # fmt: skip
    p.add_argument("--tempo", type=TEMPO,
                   help="bpm, > 0 (default: the primer's, else the model's)")  # fmt: skip
    p.add_argument("--threads", type=threads_int, default=1, help="torch CPU threads")
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--quiet", action="store_true",
                   help="no progress bar (default: a bar on a terminal, or for pieces of "
                        f"{LONG_PIECE} steps and more)")  # fmt: skip
    add_render_flags(p)
    p.set_defaults(func=_cmd_generate, check=_check_generate)

    p = sub.add_parser("ensemble", help="mix trained models note by note into one model",
                       description="Mix trained models note by note into one "
                                   "model.")  # fmt: skip
    p.add_argument("models", nargs="+", help="run folders or weights files (same config)")
    p.add_argument("--out", required=True,
                   help="model folder to write: new or empty (created if its parent exists) "
                        "unless --overwrite (required, no default)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true",
                   help="replace the model files in a non-empty --out")  # fmt: skip
    p.set_defaults(func=_cmd_ensemble, check=_check_ensemble)

    p = sub.add_parser("eval", help="evaluate a model: a note-grid model on JSB, an audio "
                                    "model on a folder of audio",
                       description="A note-grid model: NLL per time step and frame accuracy "
                                   "on a JSB split (and sample statistics with --samples). An "
                                   "audio model (--audio DIR): NLL in bits per sample beside "
                                   "the linear twin's, and copy-synthesis distances beside "
                                   "the LPC and WORLD vocoders'.")  # fmt: skip
    p.add_argument("model", help="run folder, weights file or shipped name ('default')")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--jsb", default=str(SHIPPED_JSB),
                      help="JSB JSON file, for note-grid models (default: the shipped "
                           "quarter-note file)")  # fmt: skip
    data.add_argument("--audio", metavar="DIR",
                      help="folder of audio files, for audio models (with --split test, the "
                           "default, every file is held out)")  # fmt: skip
    p.add_argument("--split", default="test", choices=("train", "valid", "test"),
                   help="which split (an audio folder: test = every file, train/valid = the "
                        "content-hash split training draws)")  # fmt: skip
    p.add_argument("--seconds", type=positive_float,
                   help="audio models: score and resynthesise at most this much audio, > 0 "
                        "(default 60; the model runs sample by sample)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument("--samples", type=nonneg_int, default=0,
                   help="also sample this many pieces and compare their statistics (register, "
                        "voicing, polyphony, intervals, note lengths, key) with the split's "
                        "pieces; 0 = likelihood only")  # fmt: skip
    p.add_argument(
        "--bars",
        type=positive_float,
        default=16.0,
        help="length of each sample in bars of 4 quarters, > 0",
    )
    p.add_argument(
        "--temperature",
        type=positive_float,
        default=1.0,
        help="sampling temperature of the samples, > 0",
    )
    p.add_argument(
        "--seed",
        type=seed_int,
        default=0,
        help="seeds the samples, or an audio model's resynthesis (fixed, so models compare "
        "on the same draws)",
    )
    p.add_argument("--plot", help="write a PNG here: a note-grid model's sample and test "
                                  "distributions (with --samples), an audio model's "
                                  "spectrograms of the first file and its resyntheses "
                                  "(default: no plot)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--threads", type=threads_int, default=1, help="torch CPU threads")
    p.set_defaults(func=_cmd_eval, check=_check_eval)
