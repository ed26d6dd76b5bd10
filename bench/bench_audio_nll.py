"""What the linear part buys: the LPC + GRU audio model against the plain mu-law GRU.

Both models are trained side by side (one thread each, the same minutes, the same seed and
sizes) with `dsp-rnn train` on one audio folder, then scored on the folder's held-out
(valid) split in bits per sample. Both score the 8-bit mu-law code of what they predict: the
LPC model the excitation's code, the plain GRU the signal's code; see the note printed with
the table. By default the folder is the project's synthetic demo corpus
(`dsp_rnn.music.make_demo_audio`); pass `--data DIR` for real recordings.

Run: python bench/bench_audio_nll.py [--data DIR] [--minutes 3] [--files 12] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line  # noqa: E402

ROWS = (("LPC + GRU", []), ("plain mu-law GRU", ["--no-lpc"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="audio folder (default: the demo corpus)")
    parser.add_argument("--minutes", type=float, default=3.0, help="training time per model")
    parser.add_argument("--files", type=int, default=12, help="demo corpus size")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    from dsp_rnn.training import evaluate_model

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else Path(tmp) / "demo"
        if args.data is None:
            from dsp_rnn.music import make_demo_audio

            make_demo_audio(data, n_files=args.files)
        t0 = time.perf_counter()
        runs = {}
        procs = []
        for name, flags in ROWS:
            run = Path(tmp) / name.replace(" ", "_").replace("+", "")
            runs[name] = run
            cmd = [sys.executable, "-m", "dsp_rnn.cli", "train", str(data), "--out", str(run),
                   "--model", "audio", "--max-minutes", f"{args.minutes:g}", "--threads", "1",
                   "--frame-tier-steps", "0", "--quiet", *flags]  # fmt: skip
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
        for p in procs:
            out, _ = p.communicate()
            if p.returncode != 0:
                raise SystemExit(f"training failed (exit {p.returncode}):\n{out}")
        rows = []
        for name, _ in ROWS:
            ev = evaluate_model(runs[name], data, split="valid")
            rows.append({"model": name, **ev.metrics})
        seconds = time.perf_counter() - t0
    if args.json:
        print(json.dumps({"data": args.data or "demo", "minutes": args.minutes, "rows": rows,
                          "seconds": seconds}))  # fmt: skip
        return 0
    print(machine_line(("torch", "numpy", "numba")))
    print(
        f"data: {args.data or f'demo corpus ({args.files} files)'}; {args.minutes:g} min of "
        "training per model, one thread each, side by side; held-out (valid) split\n"
    )
    keys = [k for k in rows[0] if k != "model"]
    print("| model | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for r in rows:
        cells = [f"{r[k]:.3f}" if isinstance(r[k], float) else str(r[k]) for k in keys]
        print(f"| {r['model']} | " + " | ".join(cells) + " |")
    print(
        "\nBits are of each model's own 8-bit mu-law target (the excitation's code for the "
        "LPC model, the signal's for the plain GRU): the same alphabet size, not the same "
        f"variable.\n({seconds:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
