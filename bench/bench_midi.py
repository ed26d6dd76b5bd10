"""MIDI folder to grids: dsp_rnn.MidiFolder against pretty_midi (parse + piano roll).

A folder of N demo pieces (made by dsp_rnn.music.demo_midi) is loaded three ways in one run:
pretty_midi (PrettyMIDI + get_piano_roll at 8 frames per second ~ sixteenths at 120 bpm),
our first load (no cache: our SMF reader + quantised NoteGrid), and our cached reload.

Run: python bench/bench_midi.py [--files N]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, median_seconds  # noqa: E402

from dsp_rnn.music.demo_midi import make_demo_midi  # noqa: E402
from dsp_rnn.music.folder import MidiFolder  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    import pretty_midi

    work = Path(tempfile.mkdtemp(prefix="bench_midi_"))
    try:
        paths = make_demo_midi(work / "corpus", n_pieces=args.files, seed=7)
        size_kb = sum(p.stat().st_size for p in paths) / 1024

        def pm_load():
            return [pretty_midi.PrettyMIDI(str(p)).get_piano_roll(fs=8) for p in paths]

        def first_load():
            return MidiFolder(work / "corpus", cache_dir=None)

        cache = work / "cache"
        warm = MidiFolder(work / "corpus", cache_dir=cache)  # fills the cache
        assert len(warm) == args.files and not warm.skipped

        def cached_load():
            return MidiFolder(work / "corpus", cache_dir=cache)

        t_pm = median_seconds(pm_load, repeats=args.repeats, warmup=1)
        t_first = median_seconds(first_load, repeats=args.repeats, warmup=1)
        t_cached = median_seconds(cached_load, repeats=max(25, args.repeats), warmup=3)
        print(machine_line(("mido", "pretty_midi", "numpy")))
        print(
            f"folder: {args.files} files, {size_kb:.0f} KB; median of {args.repeats} "
            f"(cached reload: of {max(25, args.repeats)})\n"
        )
        print("| loader | total ms | ms/file | vs pretty_midi |")
        print("|---|---|---|---|")
        for name, t in (("pretty_midi parse + piano roll", t_pm),
                        ("dsp_rnn MidiFolder, first load", t_first),
                        ("dsp_rnn MidiFolder, cached reload", t_cached)):  # fmt: skip
            print(
                f"| {name} | {t * 1e3:.1f} | {t / args.files * 1e3:.2f} | {t_pm / t:.2f}x faster |"
            )
        print(f"\ncached reload is {t_first / t_cached:.0f}x faster than the first load")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
