"""The dsp-rnn command line (python cli.py is the same).

One line per problem, no traceback: exit 2 for usage errors, 1 for failures. Every output
is checked before any work starts (its folder must exist; nothing is replaced without
--overwrite).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dsp_rnn._cli_common import (
    OVERWRITE_HELP,
    Parser,
    finite_float,
    image_file,
    input_file,
    output_file,
    positive_float,
    positive_int,
)
from dsp_rnn.errors import DspRnnError, InputError

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
BTYPES = ("lowpass", "highpass", "bandpass", "bandstop")
DESCRIPTION = (
    "Filters and recurrent networks for audio and music: design and apply filters, compare "
    "them with their RNN twins, learn effects, train note-grid models and generate music."
)


def _design(args: argparse.Namespace):
    """SOS tensor (float64) for the design flags shared by ``design`` and ``filter``."""
    import torch

    from dsp_rnn.filters import design

    kind, sr = args.kind, args.sample_rate
    _check_band(args, sr)
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


def _check_band(args: argparse.Namespace, sr: float) -> None:
    """Band edges below Nyquist and in order, named by their flags."""
    nyquist = sr / 2
    where = f"the file's {sr:g} Hz" if args.command == "filter" else f"--sample-rate {sr:g}"
    for flag, value in (("--f0-hz", args.f0_hz), ("--f1-hz", args.f1_hz)):
        if value is not None and value >= nyquist:
            raise InputError(f"{flag} {value:g}: expected a frequency below {nyquist:g} Hz "
                             f"(half of {where})")  # fmt: skip
    if args.f1_hz is not None:
        if args.kind in BIQUADS:
            raise InputError(f"--f1-hz: only for the classic designs ({', '.join(CLASSIC)}); "
                             f"{args.kind} takes --f0-hz and --q")  # fmt: skip
        if args.f1_hz <= args.f0_hz:
            raise InputError(f"--f1-hz {args.f1_hz:g}: expected above --f0-hz {args.f0_hz:g}")


def _add_design_flags(p: argparse.ArgumentParser, *, sample_rate: bool = True) -> None:
    p.add_argument("kind", choices=BIQUADS + CLASSIC, help="biquad (cookbook) or classic design")
    p.add_argument("--f0-hz", type=positive_float, required=True,
                   help="centre/cutoff frequency in Hz, > 0 and below half the sample rate "
                        "(required, no default)")  # fmt: skip
    p.add_argument("--f1-hz", type=positive_float,
                   help="upper band edge in Hz for classic band designs (default: none, a "
                        "single cutoff)")  # fmt: skip
    if sample_rate:
        p.add_argument("--sample-rate", type=positive_float, default=48_000.0,
                       help="sample rate in Hz, > 0")  # fmt: skip
    p.add_argument("--q", type=positive_float, default=0.7071067811865476,
                   help="biquad Q, > 0 (default 1/sqrt 2 = 0.7071)")  # fmt: skip
    p.add_argument("--gain-db", type=finite_float, default=0.0, help="peaking/shelf gain (dB)")
    p.add_argument("--order", type=positive_int, default=4, help="classic design order, >= 1")
    p.add_argument("--btype", default="lowpass", choices=BTYPES, help="classic design type")
    p.add_argument("--ripple-db", type=positive_float, default=1.0,
                   help="passband ripple in dB, > 0 (cheby1, ellip)")  # fmt: skip
    p.add_argument("--attenuation-db", type=positive_float, default=60.0,
                   help="stopband attenuation in dB, > 0 (cheby2, ellip)")  # fmt: skip


def _cmd_design(args: argparse.Namespace) -> int:
    from dsp_rnn.filters.analysis import poles
    from dsp_rnn.plotting import plot_sos_response

    sos = _design(args)
    print(f"# {args.kind} SOS [b0 b1 b2 a0 a1 a2], sample_rate={args.sample_rate:g} Hz")
    for row in sos.tolist():
        print(" ".join(f"{v: .12g}" for v in row))
    print(f"# max pole radius {float(poles(sos).abs().max()):.6f}")
    if args.plot:
        from dsp_rnn._atomic import atomic_path
        from dsp_rnn.errors import OutputError

        out = Path(args.plot)
        with atomic_path(out, args.overwrite, OutputError, "--overwrite") as tmp:
            plot_sos_response(sos, tmp, sample_rate=args.sample_rate, title=args.kind)
        print(f"# wrote {out}")
    return 0


def _check_design(args: argparse.Namespace) -> None:
    if args.plot:
        image_file(args.plot, args.overwrite)


def _check_filter(args: argparse.Namespace) -> None:
    src = input_file(args.input, "an audio file")
    dst = output_file(args.output, args.overwrite)
    if dst.exists() and dst.resolve() == src.resolve():  # type: ignore[union-attr]
        raise InputError(f"{dst}: output would overwrite the input")


def _cmd_filter(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf
    import torch

    from dsp_rnn._atomic import atomic_path
    from dsp_rnn.errors import AudioError, OutputError
    from dsp_rnn.filters import sosfilt

    src, dst = Path(args.input), Path(args.output)
    try:
        audio, sr = sf.read(str(src), dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises several types
        raise AudioError(f"{src}: cannot read audio ({exc})") from exc
    args.sample_rate = float(sr)  # the filter is designed for the file's own rate
    sos = _design(args)
    y = sosfilt(sos, torch.from_numpy(np.ascontiguousarray(audio.T))).numpy().T
    peak = float(np.abs(y).max()) if y.size else 0.0
    info = sf.info(str(src))
    subtype = info.subtype  # keep the input's format and sample type...
    promoted = peak >= 1.0 and subtype.startswith("PCM") and info.format in ("WAV", "AIFF")
    if promoted:  # ...unless integer samples would clip: then write float samples
        subtype = "FLOAT"
    with atomic_path(dst, args.overwrite, OutputError, "--overwrite") as tmp:
        sf.write(str(tmp), y, sr, subtype=subtype, format=info.format)
    print(
        f"wrote {dst} ({len(y)} samples, {y.shape[1]} ch, {sr} Hz, {subtype}, peak {peak:.3f}"
        + (", float samples to avoid clipping" if promoted else "")
        + ")"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from dsp_rnn import __version__

    parser = Parser(prog="dsp-rnn", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the version and exit")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("design", help="design a filter, print its SOS, plot its response",
                       description="Design a filter, print its second-order sections, "
                                   "optionally plot its response.")  # fmt: skip
    _add_design_flags(p)
    p.add_argument("--plot", help="write a response PNG here (default: no plot)")
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.set_defaults(func=_cmd_design, check=_check_design)
    p = sub.add_parser("filter", help="filter an audio file with a designed filter",
                       description="Filter an audio file with a designed filter (designed "
                                   "for the file's own sample rate).")  # fmt: skip
    p.add_argument("input", help="audio file (wav, flac, ogg)")
    p.add_argument("output", help="output audio file (never overwrites unless --overwrite)")
    _add_design_flags(p, sample_rate=False)
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.set_defaults(func=_cmd_filter, check=_check_filter)
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
    name = " ".join(n for n in (args.command, getattr(args, "data_command", None)) if n)
    try:
        check = getattr(args, "check", None)
        if check is not None:  # outputs and inputs, before any work
            check(args)
        return int(args.func(args))
    except DspRnnError as exc:
        print(f"dsp-rnn {name}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # 130: the shell's code for a command stopped by Ctrl-C
        print(f"dsp-rnn {name}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. a full disk, or a folder made read-only meanwhile
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"dsp-rnn {name}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
