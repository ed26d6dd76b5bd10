"""dsp-rnn design (print a filter's sections, plot its response) and dsp-rnn filter (apply
one to an audio file), with the design flags that dsp-rnn compare shares."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dsp_rnn._filter_kinds import BIQUAD_KINDS, BTYPES, CLASSIC_KINDS, FILTER_KINDS
from dsp_rnn.cli.common import (
    OVERWRITE_HELP,
    finite_float,
    image_file,
    input_file,
    output_file,
    positive_float,
    positive_int,
    writing,
)
from dsp_rnn.errors import InputError

__all__ = [
    "add_design_flags",
    "design_from_args",
    "register",
]


def design_from_args(args: argparse.Namespace) -> Any:
    """The SOS tensor (float64) for the flags of :func:`add_design_flags`, after checking the
    band edges with messages that name the flags."""
    import torch

    from dsp_rnn.filters import design_filter

    _check_band(args, args.sample_rate)
    return design_filter(
        args.kind, args.f0_hz, f1_hz=args.f1_hz, sample_rate=args.sample_rate, q=args.q,
        gain_db=args.gain_db, order=args.order, btype=args.btype, ripple_db=args.ripple_db,
        attenuation_db=args.attenuation_db, dtype=torch.float64,
    ).reshape(-1, 6)  # fmt: skip


def _check_band(args: argparse.Namespace, sr: float) -> None:
    """Band edges below Nyquist and in order, named by their flags."""
    nyquist = sr / 2
    where = f"the file's {sr:g} Hz" if args.command == "filter" else f"--sample-rate {sr:g}"
    for flag, value in (("--f0-hz", args.f0_hz), ("--f1-hz", args.f1_hz)):
        if value is not None and value >= nyquist:
            raise InputError(f"{flag} {value:g}: expected a frequency below {nyquist:g} Hz "
                             f"(half of {where})")  # fmt: skip
    if args.f1_hz is not None:
        if args.kind in BIQUAD_KINDS:
            raise InputError(f"--f1-hz: only for the classic designs ({', '.join(CLASSIC_KINDS)}); "
                             f"{args.kind} takes --f0-hz and --q")  # fmt: skip
        if args.f1_hz <= args.f0_hz:
            raise InputError(f"--f1-hz {args.f1_hz:g}: expected above --f0-hz {args.f0_hz:g}")


def add_design_flags(p: argparse.ArgumentParser, *, sample_rate: bool = True) -> None:
    """The design flags: ``kind``, ``--f0-hz``, ``--f1-hz``, ``--sample-rate`` (unless the
    rate comes from elsewhere), ``--q``, ``--gain-db``, ``--order``, ``--btype``,
    ``--ripple-db``, ``--attenuation-db``."""
    p.add_argument("kind", choices=FILTER_KINDS, help="biquad (cookbook) or classic design")
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

    sos = design_from_args(args)
    print(f"# {args.kind} SOS [b0 b1 b2 a0 a1 a2], sample_rate={args.sample_rate:g} Hz")
    for row in sos.tolist():
        print(" ".join(f"{v: .12g}" for v in row))
    print(f"# max pole radius {float(poles(sos).abs().max()):.6f}")
    if args.plot:
        out = Path(args.plot)
        with writing(out, args.overwrite) as tmp:
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

    from dsp_rnn.errors import AudioError
    from dsp_rnn.filters import sosfilt

    src, dst = Path(args.input), Path(args.output)
    try:
        audio, sr = sf.read(str(src), dtype="float64", always_2d=True)
    except Exception as exc:  # soundfile raises several types
        raise AudioError(f"{src}: cannot read audio ({exc})") from exc
    args.sample_rate = float(sr)  # the filter is designed for the file's own rate
    sos = design_from_args(args)
    y = sosfilt(sos, torch.from_numpy(np.ascontiguousarray(audio.T))).numpy().T
    peak = float(np.abs(y).max()) if y.size else 0.0
    info = sf.info(str(src))
    subtype = info.subtype  # keep the input's format and sample type...
    promoted = peak >= 1.0 and subtype.startswith("PCM") and info.format in ("WAV", "AIFF")
    if promoted:  # ...unless integer samples would clip: then write float samples
        subtype = "FLOAT"
    with writing(dst, args.overwrite) as tmp:
        sf.write(str(tmp), y, sr, subtype=subtype, format=info.format)
    print(
        f"wrote {dst} ({len(y)} samples, {y.shape[1]} ch, {sr} Hz, {subtype}, peak {peak:.3f}"
        + (", float samples to avoid clipping" if promoted else "")
        + ")"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``design`` and ``filter`` to the ``dsp-rnn`` parser."""
    p = sub.add_parser("design", help="design a filter, print its SOS, plot its response",
                       description="Design a filter, print its second-order sections, "
                                   "optionally plot its response.")  # fmt: skip
    add_design_flags(p)
    p.add_argument("--plot", help="write a response PNG here (default: no plot)")
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.set_defaults(func=_cmd_design, check=_check_design)
    p = sub.add_parser("filter", help="filter an audio file with a designed filter",
                       description="Filter an audio file with a designed filter (designed "
                                   "for the file's own sample rate).")  # fmt: skip
    p.add_argument("input", help="audio file (wav, flac, ogg)")
    p.add_argument("output", help="output audio file (never overwrites unless --overwrite)")
    add_design_flags(p, sample_rate=False)
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.set_defaults(func=_cmd_filter, check=_check_filter)
