"""The ``dsp-rnn`` command line (``python cli.py`` is the same).

One line per problem, no traceback: exit 2 for usage errors, 1 for failures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dsp_rnn.errors import DspRnnError

__all__ = ["main"]

BIQUADS = (
    "lowpass",
    "highpass",
    "bandpass",
    "notch",
    "peaking",
    "lowshelf",
    "highshelf",
    "allpass",
)
CLASSIC = ("butter", "cheby1", "cheby2", "ellip")


def _design(args: argparse.Namespace):
    """SOS tensor (float64) for the design flags shared by ``design`` and ``filter``."""
    import torch

    from dsp_rnn.filters import design

    kind, sr = args.kind, args.sample_rate
    if kind in BIQUADS:
        fn = getattr(design, f"biquad_{kind}")
        kwargs = {"q": args.q, "sample_rate": sr}
        if kind in ("peaking", "lowshelf", "highshelf"):
            kwargs["gain_db"] = args.gain_db
        return fn(torch.tensor(args.f0_hz, dtype=torch.float64), **kwargs).reshape(-1, 6)
    cutoff = args.f0_hz if args.f1_hz is None else (args.f0_hz, args.f1_hz)
    extra: dict = {"btype": args.btype, "sample_rate": sr, "dtype": torch.float64}
    if kind == "butter":
        return design.butter(args.order, cutoff, **extra)
    if kind == "cheby1":
        return design.cheby1(args.order, args.ripple_db, cutoff, **extra)
    if kind == "cheby2":
        return design.cheby2(args.order, args.attenuation_db, cutoff, **extra)
    return design.ellip(args.order, args.ripple_db, args.attenuation_db, cutoff, **extra)


def _add_design_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=BIQUADS + CLASSIC, help="biquad (cookbook) or classic design")
    p.add_argument("--f0-hz", type=float, required=True, help="centre/cutoff frequency (Hz)")
    p.add_argument("--f1-hz", type=float, help="upper band edge for band designs (Hz)")
    p.add_argument("--sample-rate", type=float, default=48_000.0, help="Hz (default 48000)")
    p.add_argument(
        "--q", type=float, default=0.7071067811865476, help="biquad Q (default 1/sqrt 2)"
    )
    p.add_argument("--gain-db", type=float, default=0.0, help="peaking/shelf gain (dB)")
    p.add_argument("--order", type=int, default=4, help="classic design order (default 4)")
    p.add_argument("--btype", default="lowpass", help="lowpass|highpass|bandpass|bandstop")
    p.add_argument("--ripple-db", type=float, default=1.0, help="passband ripple (dB)")
    p.add_argument("--attenuation-db", type=float, default=60.0, help="stopband attenuation (dB)")


def _cmd_design(args: argparse.Namespace) -> int:
    from dsp_rnn.filters.analysis import poles
    from dsp_rnn.plotting import plot_sos_response

    sos = _design(args)
    print(f"# {args.kind} SOS [b0 b1 b2 a0 a1 a2], sample_rate={args.sample_rate:g} Hz")
    for row in sos.tolist():
        print(" ".join(f"{v: .12g}" for v in row))
    print(f"# max pole radius {float(poles(sos).abs().max()):.6f}")
    if args.plot:
        out = plot_sos_response(sos, args.plot, sample_rate=args.sample_rate, title=args.kind)
        print(f"# wrote {out}")
    return 0


def _cmd_filter(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf
    import torch

    from dsp_rnn.errors import AudioError
    from dsp_rnn.filters import sosfilt

    src, dst = Path(args.input), Path(args.output)
    if dst.exists() and not args.overwrite:
        raise DspRnnError(f"{dst}: exists; pass --overwrite to replace it")
    if dst.resolve() == src.resolve():
        raise DspRnnError(f"{dst}: output would overwrite the input")
    try:
        audio, sr = sf.read(str(src), dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises several types
        raise AudioError(f"{src}: cannot read audio ({exc})") from exc
    args.sample_rate = float(sr)
    sos = _design(args)
    y = sosfilt(sos, torch.from_numpy(np.ascontiguousarray(audio.T))).numpy().T
    peak = float(np.abs(y).max()) if y.size else 0.0
    info = sf.info(str(src))
    subtype = info.subtype  # keep the input's format and sample type...
    promoted = peak >= 1.0 and subtype.startswith("PCM") and info.format in ("WAV", "AIFF")
    if promoted:  # ...unless integer samples would clip: then write float samples
        subtype = "FLOAT"
    tmp = dst.with_name(dst.name + ".part")
    sf.write(str(tmp), y, sr, subtype=subtype, format=info.format)
    tmp.replace(dst)
    print(
        f"wrote {dst} ({len(y)} samples, {y.shape[1]} ch, {sr} Hz, {subtype}, peak {peak:.3f}"
        + (", float samples to avoid clipping" if promoted else "")
        + ")"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dsp-rnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("design", help="design a filter, print its SOS, plot its response")
    _add_design_flags(p)
    p.add_argument("--plot", help="write a response PNG here")
    p.set_defaults(func=_cmd_design)
    p = sub.add_parser("filter", help="filter an audio file with a designed filter")
    p.add_argument("input", help="audio file (wav, flac, ogg)")
    p.add_argument("output", help="output audio file (never overwrites unless --overwrite)")
    _add_design_flags(p)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_filter)
    from dsp_rnn import cli_data

    cli_data.register(sub)
    from dsp_rnn import cli_compare

    cli_compare.register(sub)
    from dsp_rnn import cli_model

    cli_model.register(sub)
    from dsp_rnn import cli_render

    cli_render.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors
    try:
        return int(args.func(args))
    except DspRnnError as exc:
        print(f"dsp-rnn {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"dsp-rnn {args.command}: interrupted", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
