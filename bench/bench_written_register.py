"""Where `dsp-rnn generate` writes its notes, against real chorale MIDI, not the JSB encoding.

The JSB JSON encodes the chorales about an octave above their written pitch, so a model can
match the JSB test pieces and still write sopranos near E6. This bench takes the Bach
chorales of music21's corpus (four-part pieces only, read from their MusicXML at sixteenth
notes), writes N pieces with `dsp-rnn generate` (the shipped default or a run, seeds
0..N-1, MIDI files read back with our reader), and reports per-piece mean pitch, mean
lowest, mean highest voice and span: the chorales' 1st..99th percentile range and median,
the JSB test pieces' medians for the same statistics, and the share of generated files
inside the chorales' range.

Needs the bench extra music21 (its corpus ships with the package; nothing is downloaded).

Run: python bench/bench_written_register.py [--model default] [--seeds 100] [--bars 16]
     [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line  # noqa: E402

from dsp_rnn.gridrnn.quality import piece_stats  # noqa: E402
from dsp_rnn.music.grid import GridNote, NoteGrid  # noqa: E402

STATS = ("mean_pitch", "mean_lowest", "mean_highest", "mean_span")
SPQ = 4


def chorale_grids() -> list[NoteGrid]:
    """The four-part Bach chorales of music21's corpus as sixteenth-note grids."""
    from music21 import corpus

    grids = []
    for path in corpus.getComposer("bach"):
        score = corpus.parse(path)
        if len(score.parts) != 4:
            continue
        notes = []
        for n in score.flatten().notes:
            start = round(float(n.offset) * SPQ)
            length = max(1, round(float(n.duration.quarterLength) * SPQ))
            for p in n.pitches:
                notes.append(GridNote(int(p.midi), start, start + length))
        if notes:
            grids.append(NoteGrid.from_notes(notes, steps_per_quarter=SPQ))
    return grids


def generated_grids(model: str, seeds: int, bars: float) -> list[NoteGrid]:
    """Files written by `dsp-rnn generate`, read back with our MIDI reader."""
    from dsp_rnn.cli import main as cli_main
    from dsp_rnn.music.midi import read_midi

    grids = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            path = Path(tmp) / f"seed{seed}.mid"
            argv = ["generate", "--out", str(path), "--seed", str(seed), "--bars", f"{bars:g}",
                    "--quiet"]  # fmt: skip
            if model != "default":
                argv += ["--model", model]
            with contextlib.redirect_stdout(io.StringIO()):
                code = cli_main(argv)
            if code != 0:
                raise SystemExit(f"dsp-rnn generate failed for seed {seed} (exit {code})")
            grids.append(NoteGrid.from_score(read_midi(path), steps_per_quarter=SPQ))
    return grids


def _values(grids: list[NoteGrid]) -> dict[str, np.ndarray]:
    rows = [piece_stats(g) for g in grids]
    return {s: np.array([float(r[s]) for r in rows]) for s in STATS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="'default' or a run folder")
    parser.add_argument("--seeds", type=int, default=100, help="files to generate")
    parser.add_argument("--bars", type=float, default=16.0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    from dsp_rnn.music.jsb import load_jsb

    t0 = time.perf_counter()
    ref = _values(chorale_grids())
    jsb = _values(load_jsb(None, "test", steps_per_quarter=1))
    gen = _values(generated_grids(args.model, args.seeds, args.bars))
    seconds = time.perf_counter() - t0
    rows = {}
    for s in STATS:
        r = ref[s][np.isfinite(ref[s])]
        lo, hi = np.percentile(r, [1, 99])
        g = gen[s]
        rows[s] = {
            "chorales_p1": float(lo), "chorales_p99": float(hi),
            "chorales_median": float(np.median(r)),
            "jsb_test_median": float(np.nanmedian(jsb[s])),
            "generated_median": float(np.nanmedian(g)),
            "generated_inside": float(np.mean((g >= lo) & (g <= hi))),
        }  # fmt: skip
    n_ref = int(np.isfinite(ref["mean_pitch"]).sum())
    if args.json:
        print(json.dumps({"model": args.model, "seeds": args.seeds, "bars": args.bars,
                          "chorales": n_ref, "seconds": seconds, "stats": rows}))  # fmt: skip
        return 0
    print(machine_line(("torch", "numpy", "music21")))
    seeds = f"seeds 0..{args.seeds - 1}, {args.bars:g} bars"
    print(
        f"model {args.model}: {args.seeds} files from `dsp-rnn generate` ({seeds}) against "
        f"{n_ref} four-part chorales of music21's corpus\n"
    )
    print(
        "| statistic | chorales p1..p99 | chorales median | JSB quarter-note test median "
        "| generated median | generated inside |"
    )
    print("|---|---|---|---|---|---|")
    for s, r in rows.items():
        print(
            f"| {s} | {r['chorales_p1']:.1f}..{r['chorales_p99']:.1f} "
            f"| {r['chorales_median']:.1f} | {r['jsb_test_median']:.1f} "
            f"| {r['generated_median']:.1f} | {100 * r['generated_inside']:.0f}% |"
        )
    print(f"\n({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
