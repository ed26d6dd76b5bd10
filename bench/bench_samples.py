"""Sample quality of GridRNN models against the JSB test pieces, as a listener would judge it.

For each model (the shipped default and any run folders given) draw N pieces of B bars at a
temperature, with the same seeds for every model, and compare them with the JSB test split
statistic by statistic (dsp_rnn.gridrnn.quality, after Yang & Lerch 2020): mean pitch,
lowest and highest voice, span, polyphony, empty steps, in-scale share, outer-voice leaps,
note length, and the pitch-class, interval and note-length histograms. Per statistic the
table gives the test pieces' 1st..99th percentile range, the medians, the share of samples
inside the range and two overlap areas (of the values, and of the sample-to-sample vs
sample-to-test distance distributions). The test NLL is not here: `dsp-rnn eval` gives it.

Run: python bench/bench_samples.py [--models default RUN ...] [--samples 100] [--bars 16]
     [--temperature 1] [--seed 0] [--jsb PATH] [--png out.png] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
from _common import machine_line  # noqa: E402

from dsp_rnn.gridrnn.quality import evaluate_samples  # noqa: E402
from dsp_rnn.music.jsb import load_jsb  # noqa: E402
from dsp_rnn.training import load_model  # noqa: E402


def _png_for(base: Path, label: str, several: bool) -> Path:
    if not several:
        return base
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label.strip("/"))
    return base.with_name(f"{base.stem}-{safe}{base.suffix or '.png'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["default"],
                        help="'default' (the shipped model) and/or run folders")  # fmt: skip
    parser.add_argument("--samples", type=int, default=100, help="pieces per model")
    parser.add_argument("--bars", type=float, default=16.0, help="4/4 bars per piece")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0, help="first seed (same for all models)")
    parser.add_argument("--jsb", default=None, help="JSB JSON (default: data/jsb/ in the checkout)")
    parser.add_argument("--png", default=None, help="distribution plots (one file per model)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tests: dict[int, list] = {}
    out = []
    if not args.json:
        print(machine_line(("torch", "numpy", "scipy")))
        print(f"{args.samples} samples of {args.bars:g} bars per model, temperature "
              f"{args.temperature:g}, seeds from {args.seed}; reference: JSB test "
              "split\n")  # fmt: skip
    for name in args.models:
        model, _ = load_model(name)
        spq = model.config.steps_per_quarter
        if spq not in tests:
            tests[spq] = load_jsb(args.jsb, "test", steps_per_quarter=spq)
        t0 = time.perf_counter()
        report = evaluate_samples(model, tests[spq], args.samples, bars=args.bars,
                                  temperature=args.temperature, seed=args.seed)  # fmt: skip
        seconds = time.perf_counter() - t0
        report.settings["model"] = name
        png = None
        if args.png:
            png = _png_for(Path(args.png), name, len(args.models) > 1)
            report.plot(png, title=f"{name}, T={args.temperature:g}")
        if args.json:
            out.append({"model": name, "seconds": seconds, **report.to_dict()})
            continue
        print(f"## {name}\n")
        print(report.table())
        tail = f"; wrote {png}" if png else ""
        print(f"\n({seconds:.1f} s to sample and compare{tail})\n")
    if args.json:
        print(json.dumps({"models": out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
