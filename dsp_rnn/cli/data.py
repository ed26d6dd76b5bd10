"""dsp-rnn data ...: look at a folder of MIDI files, draw a piano roll, export the JSB
chorales as MIDI files, check a folder of audio and MIDI pairs."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from dsp_rnn.cli.common import (
    OVERWRITE_HELP,
    float_range,
    image_file,
    input_file,
    int_range,
    output_folder,
    positive_int,
    writing,
)
from dsp_rnn.errors import DspRnnError, InputError, OutputError

__all__ = ["register"]


def _cmd_inspect(args: argparse.Namespace) -> int:
    from dsp_rnn.music.folder import MidiFolder, default_cache_dir
    from dsp_rnn.music.midi import read_midi

    cache = None if args.no_cache else (args.cache_dir or default_cache_dir())
    folder = MidiFolder(args.path, steps_per_quarter=args.steps_per_quarter, cache_dir=cache,
                        jobs=args.jobs, progress=not args.quiet)  # fmt: skip
    tempi: Counter = Counter()
    sigs: Counter = Counter()
    seconds = 0.0
    for path in folder.paths:
        score = read_midi(path)  # cheap next to parsing all; gives tempo map and metre
        seconds += score.duration_s
        tempi.update(round(60e6 / us) for _, us in score.tempos)
        sigs.update(f"{n}/{d}" for _, n, d in score.time_signatures or [(0, 4, 4)])
    spans = [s for g in folder.grids if (s := g.pitch_span()) is not None]
    print(f"{args.path}: {folder.summary()}")
    if folder.grids:
        lo = min(s[0] for s in spans)
        hi = max(s[1] for s in spans)
        print(f"  duration {seconds / 60:.1f} min; pitch range {lo}..{hi}")
        print("  tempi (bpm): " + ", ".join(f"{t} x{c}" for t, c in tempi.most_common(8)))
        print("  time signatures: " + ", ".join(f"{s} x{c}" for s, c in sigs.most_common(8)))
    for path, warns in folder.warnings.items():
        for w in warns:
            print(f"  repaired {path}: {w}")
    for skipped in folder.skipped:
        print(f"  skipped {skipped}")
    return 0 if folder.grids else 1


def _cmd_grid(args: argparse.Namespace) -> int:
    import numpy as np

    from dsp_rnn.music.grid import NoteGrid
    from dsp_rnn.music.midi import read_midi
    from dsp_rnn.plotting import pyplot, save_figure

    plt = pyplot()
    out = Path(args.out)
    score = read_midi(args.input)
    grid = NoteGrid.from_score(score, steps_per_quarter=args.steps_per_quarter)
    span = grid.pitch_span()
    if span is None:
        raise DspRnnError(f"{args.input}: no notes to draw")
    lo, hi = span[0] - 2, span[1] + 2
    roll = grid.with_range(lo, hi - lo + 1)
    img = np.where(roll.play, 0.55, 0.0) + np.where(roll.onset, 0.45, 0.0)
    fig, ax = plt.subplots(figsize=(min(16, 3 + grid.n_steps / 24), 4.5))
    ax.imshow(img.T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
              extent=(0, grid.n_steps / args.steps_per_quarter, lo - 0.5, hi + 0.5), vmin=0,
              vmax=1)  # fmt: skip
    title = f"{Path(args.input).name}: {len(grid.to_notes())} notes (dark = onset)"
    ax.set(xlabel="quarter notes", ylabel="MIDI pitch", title=title)
    fig.tight_layout()
    with writing(out, args.overwrite) as tmp:
        save_figure(fig, tmp)
    for w in score.warnings:
        print(f"repaired: {w}")
    print(f"wrote {out}")
    return 0


# Church Organ: the instrument the chorales were sung with in Bach's services, and one that
# sounds every written note for its whole length (a piano's notes fade under a long chord);
# every General MIDI bank has it. --program picks another (0 piano, 52 choir aahs).
JSB_PROGRAM = 19
JSB_TEMPO_BPM = 80.0  # quarter notes per minute: a moderate chorale tempo (the file has none)
JSB_VELOCITY = 80  # mezzo-forte, as the file's grids carry; the file has no dynamics
_JSB_SPLITS = ("train", "valid", "test")


def _jsb_targets(out: Path, splits: tuple[str, ...], counts: dict[str, int]) -> list[Path]:
    return [out / f"jsb_{s}_{i:03d}.mid" for s in splits for i in range(counts[s])]


def _one_voice(grid: Any, voices: str) -> Any:
    """``grid`` with only its highest (``"top"``) or lowest (``"bottom"``) sounding note at
    each step (``"all"``: unchanged); a note starts where the kept pitch changes or the
    chorale strikes it again."""
    import dataclasses

    import numpy as np

    if voices == "all":
        return grid
    play = grid.play
    cols = np.arange(play.shape[1])
    sounding = play.any(1)
    pick = (np.where(play, cols, -1).max(1) if voices == "top"
            else np.where(play, cols, play.shape[1]).min(1))  # fmt: skip
    keep = np.zeros_like(play)
    keep[np.flatnonzero(sounding), pick[sounding]] = True
    before = np.vstack([np.zeros((1, play.shape[1]), bool), keep[:-1]])
    onset = keep & (~before | grid.onset)
    return dataclasses.replace(
        grid, play=keep, onset=onset, velocity=np.where(keep, grid.velocity, 0).astype(np.uint8)
    )


def _cmd_export_jsb(args: argparse.Namespace) -> int:
    import mido
    import numpy as np

    from dsp_rnn.music.jsb import load_jsb, written_register_offset

    out = Path(args.out)
    splits = _JSB_SPLITS if args.split == "all" else (args.split,)
    grids = {s: load_jsb(args.jsb, s) for s in splits}
    targets = _jsb_targets(out, splits, {s: len(g) for s, g in grids.items()})
    existing = [t for t in targets if t.exists()]
    if existing and not args.overwrite:
        raise OutputError(
            f"{existing[0]}: exists ({len(existing)} of the {len(targets)} files to write "
            "do); nothing was written; pass --overwrite to replace them"
        )
    offset = written_register_offset(args.jsb)
    out.mkdir(exist_ok=True)
    name = Path(args.jsb).name if args.jsb else "jsb-chorales-quarter.json"
    seconds, paths = 0.0, iter(targets)
    for split in splits:
        for i, grid in enumerate(grids[split]):
            played = _one_voice(grid, args.voices).transpose(offset)
            played.velocity = np.where(played.play, args.velocity, 0).astype(np.uint8)
            played.tempo_bpm = args.tempo
            mid = played.to_midi_file(program=args.program)
            mid.tracks[0].insert(
                0, mido.MetaMessage("track_name", name=f"JSB chorale {split}[{i}] ({name})")
            )
            with writing(next(paths), args.overwrite) as tmp:
                mid.save(tmp)
            seconds += played.n_steps * played.seconds_per_step
    print(
        f"wrote {len(targets)} MIDI files to {out} ({'+'.join(splits)}; {seconds / 60:.1f} min "
        f"at {args.tempo:g} bpm; program {args.program}; velocity {args.velocity}; voices "
        f"{args.voices}; "
        f"transposed {offset:+d} semitones to the written register)"
    )
    return 0


def _check_export_jsb(args: argparse.Namespace) -> None:
    input_file(args.jsb, "a JSB Chorales JSON file")
    output_folder(args.out, overwrite=True, must_be_empty=False)


def _cmd_pairs(args: argparse.Namespace) -> int:
    from dsp_rnn.music.pairs import pair_folder

    folder = pair_folder(args.path, onset_tolerance_s=args.onset_tolerance_ms / 1000,
                         duration_tolerance_s=args.duration_tolerance, release_s=args.release,
                         threshold_db=args.threshold_db)  # fmt: skip
    for kind in ("unpaired", "misaligned", "broken"):
        for skipped in getattr(folder, kind):
            print(f"{kind} {skipped}")
    if folder.pairs:
        offsets = sorted(abs(folder.alignment[p.audio].onset_offset_s) for p in folder.pairs)
        tails = [folder.alignment[p.audio].tail_s for p in folder.pairs]
        print(f"  onsets within {offsets[-1] * 1000:.0f} ms of the first note (median "
              f"{offsets[len(offsets) // 2] * 1000:.0f} ms); audio after the last note-off "
              f"{min(tails):.2f} to {max(tails):.2f} s")  # fmt: skip
    print(f"{args.path}: {folder.summary()}")
    return 0 if folder.pairs else 1


def _check_inspect(args: argparse.Namespace) -> None:
    if args.cache_dir and not args.no_cache:  # a cache folder may hold entries already
        output_folder(args.cache_dir, must_be_empty=False)


def _check_pairs(args: argparse.Namespace) -> None:
    if not Path(args.path).is_dir():
        raise InputError(f"{args.path}: expected a folder of audio files with same-stem MIDI "
                         "files")  # fmt: skip


def _check_grid(args: argparse.Namespace) -> None:
    input_file(args.input, "a MIDI file")
    image_file(args.out, args.overwrite)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``data inspect``, ``data grid``, ``data export-jsb`` and ``data pairs`` to the
    top-level parser."""
    data = sub.add_parser("data", help="inspect MIDI folders, draw piano rolls, export JSB, "
                                       "check audio/MIDI pairs",
                          description="Inspect MIDI folders, draw piano rolls, export the "
                                      "JSB chorales as MIDI files, check a folder of audio "
                                      "and MIDI pairs.")  # fmt: skip
    dsub = data.add_subparsers(dest="data_command", required=True)
    p = dsub.add_parser("inspect", help="files, durations, ranges, tempi; every skipped file",
                        description="List a MIDI folder's usable files, durations, pitch "
                                    "range, tempi and time signatures, and every skipped "
                                    "file with the reason.")  # fmt: skip
    p.add_argument("path", help="a MIDI file or a folder (searched recursively)")
    p.add_argument("--steps-per-quarter", type=positive_int, default=4,
                   help="grid resolution: steps per quarter note, >= 1")  # fmt: skip
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="worker processes for parsing, >= 1")  # fmt: skip
    p.add_argument("--cache-dir",
                   help="parsed-grid cache folder, created if its parent exists (default "
                        "~/.cache/dsp_rnn/grids, or $XDG_CACHE_HOME/dsp_rnn/grids)")  # fmt: skip
    p.add_argument("--no-cache", action="store_true", help="parse every file again")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_inspect, check=_check_inspect)
    p = dsub.add_parser("grid", help="draw a MIDI file's piano roll to a PNG",
                        description="Draw a MIDI file's piano roll to a PNG.")  # fmt: skip
    p.add_argument("input", help="a MIDI file")
    p.add_argument("--out", required=True,
                   help="PNG to write; its folder must exist (required, no default)")  # fmt: skip
    p.add_argument("--steps-per-quarter", type=positive_int, default=4,
                   help="grid resolution: steps per quarter note, >= 1")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.set_defaults(func=_cmd_grid, check=_check_grid)
    p = dsub.add_parser("export-jsb", help="write the JSB chorales as MIDI files",
                        description="Write each JSB chorale of a split as a Standard MIDI "
                                    "File (jsb_<split>_000.mid, ...) in the chorales' "
                                    "written register, ready to render to audio.")  # fmt: skip
    p.add_argument("--out", required=True,
                   help="folder to write into; created if its parent exists (required, no "
                        "default)")  # fmt: skip
    p.add_argument("--split", choices=(*_JSB_SPLITS, "all"), default="train",
                   help="which pieces: train (229), valid (76), test (77) or all (default "
                        "train)")  # fmt: skip
    p.add_argument("--jsb", metavar="FILE",
                   help="JSB JSON file (default: data/jsb/jsb-chorales-quarter.json of a "
                        "checkout)")  # fmt: skip
    p.add_argument("--tempo", type=float_range(10.0, 400.0), default=JSB_TEMPO_BPM,
                   metavar="BPM", help="quarter notes per minute, 10 to 400")  # fmt: skip
    p.add_argument("--program", type=int_range(0, 127), default=JSB_PROGRAM,
                   help="General MIDI program, 0 to 127 (default 19, church organ; 0 piano, "
                        "52 choir)")  # fmt: skip
    p.add_argument("--velocity", type=int_range(1, 127), default=JSB_VELOCITY,
                   help="note-on velocity of every note, 1 to 127")  # fmt: skip
    p.add_argument("--voices", choices=("all", "top", "bottom"), default="all",
                   help="all four parts, or only the highest (top: the soprano line) or "
                        "lowest (bottom: the bass line) note at each step, for monophonic "
                        "audio")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.set_defaults(func=_cmd_export_jsb, check=_check_export_jsb)
    p = dsub.add_parser("pairs", help="check a folder of audio files with same-stem MIDI files",
                        description="Pair each audio file with the MIDI file of the same stem "
                                    "beside it (recursively) and check that they line up: the "
                                    "audio ends within a release allowance after the last "
                                    "note-off, and its first onset is near the first note-on. "
                                    "Lists every unpaired, misaligned and broken file with the "
                                    "reason; exit status 1 when there is no pair.")  # fmt: skip
    p.add_argument("path", help="the folder (e.g. what dsp-rnn render MIDI_DIR OUT_DIR wrote)")
    p.add_argument("--onset-tolerance-ms", type=float_range(0.0), default=50.0,
                   help="largest distance between the first onset and the first note-on, "
                        "ms >= 0")  # fmt: skip
    p.add_argument("--release", type=float_range(0.0), default=5.0, metavar="SECONDS",
                   help="longest release and reverb tail after the last note-off, "
                        "s >= 0")  # fmt: skip
    p.add_argument("--duration-tolerance", type=float_range(0.0), default=0.25,
                   metavar="SECONDS", help="slack on the audio's length, s >= 0")  # fmt: skip
    p.add_argument("--threshold-db", type=float_range(0.0, lo_open=True), default=40.0,
                   help="the onset is where the energy first comes within this many dB of "
                        "its peak, > 0")  # fmt: skip
    p.set_defaults(func=_cmd_pairs, check=_check_pairs)
