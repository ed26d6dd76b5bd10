"""dsp-rnn render: a MIDI file to audio with our voices and reverb, or a SoundFont; a folder
of MIDI files to a paired folder (each piece's audio beside a copy of its MIDI file).

The render options are shared with dsp-rnn generate --out x.wav (add_render_flags,
render_options, check_render_target). No torch is imported on this path, unless --voice
names a learned voice (a voice folder, :mod:`dsp_rnn.voice`): then the notes are played by
its network and sample model (render_learned).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dsp_rnn.cli.common import (
    OVERWRITE_HELP,
    float_range,
    input_file,
    output_file,
    output_folder,
    positive_float,
    seed_int,
    stderr_is_tty,
)
from dsp_rnn.errors import InputError
from dsp_rnn.music.outputs import AUDIO_SUFFIXES

__all__ = [
    "VOICES",
    "add_render_flags",
    "render_options",
    "render_from_args",
    "check_render_target",
    "learned_voice",
    "render_learned",
    "register",
]

VOICES = ("gm", "ks", "subtractive", "additive", "sine")
DEFAULT_RT60_S = 1.8  # our voices' reverb unless --reverb says otherwise (a learned voice: dry)


_RT60 = float_range(0.05, 30.0, what="0 (dry) or an RT60 from 0.05 to 30 seconds")


def _rt60(text: str) -> float:
    value = float_range(what="0 (dry) or an RT60 from 0.05 to 30 seconds")(text)
    return 0.0 if value == 0 else _RT60(text)


def add_render_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("rendering")
    g.add_argument("--voice", default=None, metavar="VOICE",
                   help="our voice for every note: ks (Karplus-Strong string), subtractive, "
                        "additive (organ), sine; gm = by General MIDI program (default for "
                        "render; generate defaults to ks); learned (the shipped learned "
                        "organ voice); or a learned voice folder "
                        "(dsp-rnn train PAIRS --out VOICE), which plays the notes with its "
                        "networks (dry unless --reverb is given)")  # fmt: skip
    g.add_argument("--no-drums", action="store_true",
                   help="leave out channel 10 (default: our drum kit plays it)")  # fmt: skip
    g.add_argument("--soundfont", metavar="F.sf2",
                   help="render through FluidSynth with this SoundFont instead (default: "
                        "none, our voices)")  # fmt: skip
    g.add_argument("--reverb", type=_rt60, default=None, metavar="RT60_S",
                   help="FDN reverb time in seconds: 0 for dry, or 0.05 to 30 (default "
                        "1.8; a learned voice is dry unless it is given)")  # fmt: skip
    g.add_argument("--wet", type=float_range(0.0, 1.0, what="a mix from 0 to 1"), default=0.25,
                   help="reverb mix 0..1 (default 0.25)")  # fmt: skip
    g.add_argument("--sample-rate", type=int, default=44_100,
                   choices=(16_000, 22_050, 44_100, 48_000),
                   help="Hz (default 44100; 16000 is the audio models' rate)")  # fmt: skip
    g.add_argument("--channels", type=int, default=2, choices=(1, 2),
                   help="1 mono, 2 stereo (default 2)")  # fmt: skip
    g.add_argument("--mono", action="store_const", const=1, dest="channels",
                   help="the same as --channels 1")  # fmt: skip
    g.add_argument("--format", default="16", choices=("16", "24", "float"),
                   help="sample format: 16-bit, 24-bit or 32-bit float (default 16; .flac "
                        "holds 16 or 24)")  # fmt: skip
    g.add_argument("--peak-db", type=float_range(-60.0, -0.1), default=-1.0,
                   help="normalise the peak to this dBFS, -60 to -0.1 (default -1)")  # fmt: skip
    g.add_argument("--max-seconds", type=positive_float, default=4 * 3600.0,
                   help="refuse longer pieces, > 0 (default 14400 = 4 h)")  # fmt: skip


class _RenderBar:
    """A progress callback of :func:`dsp_rnn.synth.render_file`: a bar of seconds of audio
    on a terminal (opened at the first call, unless ``--quiet``); :meth:`close` ends it."""

    def __init__(self, sample_rate: int, quiet: bool) -> None:
        self.sample_rate, self.quiet, self.bar = sample_rate, quiet, None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None and not self.quiet and stderr_is_tty():
            from tqdm import tqdm

            self.bar = tqdm(total=1.0, unit="s audio", desc="render", leave=False)
        if self.bar is not None:
            self.bar.total = round(total / self.sample_rate, 1)
            self.bar.n = round(done / self.sample_rate, 1)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def learned_voice(args: argparse.Namespace) -> Path | None:
    """The learned voice folder ``--voice`` names, or None for one of our synth voices.

    A folder of that name comes first, then a voice shipped inside the package
    (:func:`dsp_rnn.music.shipped_voices`, such as ``learned``). Nothing is loaded.

    Raises:
        InputError: a ``--voice`` that is neither one of :data:`VOICES`, a folder nor a
            shipped voice (the message lists the built-in and shipped voices).
    """
    from dsp_rnn.music.shipped import find_voice, shipped_voices

    value = getattr(args, "voice", None)
    if value is None or value in VOICES:
        return None
    found = find_voice(value)
    if found is not None:
        return found
    names = ", ".join(shipped_voices()) or "none"
    raise InputError(f"--voice {value}: expected one of {', '.join(VOICES)} (built in), "
                     f"{names} (shipped learned voices) or a learned voice folder (dsp-rnn "
                     "train PAIRS --out VOICE --model voice); no such folder")  # fmt: skip


def render_learned(source: Any, out: Path, args: argparse.Namespace, *, seed: int) -> str:
    """Play ``source`` (a MIDI path or a Score) with the learned voice ``--voice`` into
    ``out`` (:func:`dsp_rnn.voice.render_voice_file`) with the flags of
    :func:`add_render_flags`; the report's one-line summary. Only the voice folder's own
    files are loaded."""
    bar = _RenderBar(args.sample_rate, getattr(args, "quiet", False))
    try:
        report = learned_renderer(args, seed=seed, progress=bar)(source, out, args.overwrite)
    finally:
        bar.close()
    return report.summary()


def learned_renderer(args: argparse.Namespace, *, seed: int,
                     progress: Any = None) -> Callable[[Any, Path, bool], Any]:  # fmt: skip
    """Load the learned voice ``--voice`` once; a function ``(source, out, overwrite) ->
    RenderReport`` that plays a MIDI path or Score with it into ``out`` with the flags of
    :func:`add_render_flags` (:func:`dsp_rnn.voice.render_voice_file`)."""
    from dsp_rnn.synth import Reverb
    from dsp_rnn.voice import load_voice, render_voice_file

    folder = learned_voice(args)
    if folder is None:
        raise InputError("--voice: expected a learned voice folder")
    if args.soundfont is not None:
        raise InputError(f"--soundfont and --voice {folder}: pass one of them (a learned voice "
                         "plays the notes itself)")  # fmt: skip
    voice = load_voice(folder)
    reverb = None
    if args.reverb is not None and args.reverb > 0 and args.wet > 0:
        reverb = Reverb(sample_rate=args.sample_rate, rt60_s=args.reverb, wet=args.wet,
                        channels=args.channels)  # fmt: skip

    def play(source: Any, out: Path, overwrite: bool) -> Any:
        return render_voice_file(
            voice, source, out, seed=seed, sample_rate=args.sample_rate,
            channels=args.channels, subtype=args.format, peak_db=args.peak_db, reverb=reverb,
            max_seconds=args.max_seconds, overwrite=overwrite, progress=progress,
        )  # fmt: skip

    return play


def render_options(args: argparse.Namespace, *, default_voice: str | None) -> dict[str, Any]:
    """The keyword arguments of :func:`dsp_rnn.synth.render_file` from the flags of
    :func:`add_render_flags` (``--voice`` or else ``default_voice``), with a progress bar
    on a terminal as ``progress`` (call its ``close()`` when the render is over);
    ``overwrite`` is the caller's."""
    from dsp_rnn.synth import Reverb

    reverb = None
    rt60 = DEFAULT_RT60_S if args.reverb is None else args.reverb
    if rt60 > 0 and args.wet > 0:
        reverb = Reverb(sample_rate=args.sample_rate, rt60_s=rt60, wet=args.wet,
                        channels=args.channels)  # fmt: skip
    voice = args.voice or default_voice
    return {"sample_rate": args.sample_rate, "channels": args.channels, "subtype": args.format,
            "voice": None if voice == "gm" else voice, "reverb": reverb,
            "drums": not args.no_drums, "peak_db": args.peak_db, "soundfont": args.soundfont,
            "max_seconds": args.max_seconds,
            "progress": _RenderBar(args.sample_rate, getattr(args, "quiet", False))}  # fmt: skip


def render_from_args(source: Any, out: Path, args: argparse.Namespace, *,
                     default_voice: str | None) -> str:  # fmt: skip
    """Render ``source`` to ``out`` with the flags of :func:`add_render_flags`; the
    report's one-line summary."""
    from dsp_rnn.synth import render_file

    options = render_options(args, default_voice=default_voice)
    try:
        report = render_file(source, out, overwrite=args.overwrite, **options)
    finally:
        options["progress"].close()
    return report.summary()


def check_render_target(out: Path, args: argparse.Namespace) -> None:
    """Before any work: ``out`` is an audio file name whose ending can hold ``--format``,
    in an existing, writable folder, and new unless ``--overwrite``."""
    suffix = out.suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise InputError(
            f"{out}: expected an audio file name ending in {', '.join(AUDIO_SUFFIXES)}"
        )
    if suffix == ".flac" and args.format == "float":
        raise InputError(f"{out}: FLAC holds 16- or 24-bit samples; use --format 16 or 24, "
                         "or a .wav/.aiff name for --format float")  # fmt: skip
    output_file(out, args.overwrite)
    if args.soundfont is not None:
        input_file(args.soundfont, "a SoundFont (.sf2) file")
    learned_voice(args)  # a --voice that is neither ours nor a folder: refused before work


def _check_render(args: argparse.Namespace) -> None:
    if Path(args.input).is_dir():
        output_folder(args.output, must_be_empty=False)
        if args.soundfont is not None:
            input_file(args.soundfont, "a SoundFont (.sf2) file")
        return
    src, out = input_file(args.input, "a MIDI file"), Path(args.output)
    if out.exists() and out.resolve() == src.resolve():  # type: ignore[union-attr]
        raise InputError(f"{out}: output would overwrite the input")
    check_render_target(out, args)


def _cmd_render(args: argparse.Namespace) -> int:
    src, out = Path(args.input), Path(args.output)
    learned = learned_voice(args) is not None
    if src.is_dir():
        return _render_folder(src, out, args, learned=learned)
    if learned:
        print(f"wrote {render_learned(src, out, args, seed=args.seed)}")
        return 0
    print(f"wrote {render_from_args(src, out, args, default_voice=None)}")
    return 0


def _render_folder(src: Path, out: Path, args: argparse.Namespace, *, learned: bool) -> int:
    """Render a folder (with our voices, a SoundFont, or the ``learned`` voice ``--voice``,
    loaded once): a bar of files on a terminal, each skipped file with its reason, the
    summary; exit status 1 only when no file was rendered."""
    from dsp_rnn.synth import render_folder

    options: dict[str, Any] = {}
    if learned:
        options["renderer"] = learned_renderer(args, seed=args.seed)
    else:
        options = render_options(args, default_voice=None)
        del options["progress"]  # the folder's bar counts files
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and not args.quiet and stderr_is_tty():
            from tqdm import tqdm

            bar = tqdm(total=total, unit="file", desc="render", leave=False)
        if bar is not None:
            bar.n = done
            bar.refresh()

    try:
        report = render_folder(src, out, overwrite=args.overwrite, progress=progress, **options)
    finally:
        if bar is not None:
            bar.close()
    for skipped in report.skipped:
        print(f"skipped {skipped}")
    print(report.summary())
    return 0 if report.rendered else 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``render`` to the ``dsp-rnn`` parser."""
    p = sub.add_parser("render", help="render a MIDI file (or a folder) to .wav (our synth or "
                                      "a SoundFont)",
                       description="Render a MIDI file to audio with our voices and reverb, "
                                   "or through a SoundFont. Given a folder, render every MIDI "
                                   "file in it and below to OUT/<relative name>.wav and copy "
                                   "the MIDI file beside it as OUT/<relative name>.mid: a "
                                   "folder of audio and MIDI pairs; files that cannot be "
                                   "rendered are listed with their reasons.")  # fmt: skip
    p.add_argument("input", help="MIDI file (.mid), or a folder of them (searched recursively)")
    p.add_argument("output", help="audio file (.wav/.flac/.aiff; its folder must exist), or for "
                                  "a folder input the output folder (created if its parent "
                                  "exists); never overwrites unless --overwrite")  # fmt: skip
    add_render_flags(p)
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seeds a learned voice's sample draws (default 0)")  # fmt: skip
    p.set_defaults(func=_cmd_render, check=_check_render)
