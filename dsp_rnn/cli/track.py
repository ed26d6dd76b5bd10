"""dsp-rnn track: the pitch and loudness contour of a recording, smoothed with uncertainty
(:func:`dsp_rnn.compare.tracking.track_file`: pyin f0 and frame RMS as noisy observations,
unvoiced frames missing, a Kalman smoother), written as CSV and optionally plotted.

Building the parser imports no torch: the command loads what it needs when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dsp_rnn.cli.common import (
    OVERWRITE_HELP,
    float_range,
    image_file,
    input_file,
    output_file,
)
from dsp_rnn.errors import InputError

__all__ = ["register"]


def _check_track(args: argparse.Namespace) -> None:
    src = input_file(args.input, "an audio file")
    outs = [output_file(args.out, args.overwrite)]
    if Path(args.out).suffix.lower() != ".csv":
        raise InputError(f"{args.out}: expected a .csv file name for --out")
    if args.plot is not None:
        outs.append(image_file(args.plot, args.overwrite))
        if outs[1].resolve() == outs[0].resolve():
            raise InputError(f"{args.plot}: --plot and --out name the same file")
    for out in outs:
        if out.exists() and src is not None and out.resolve() == src.resolve():
            raise InputError(f"{out}: output would overwrite the input")
    if not args.fmin_hz < args.fmax_hz:
        raise InputError(f"--fmin-hz {args.fmin_hz:g} must be below --fmax-hz {args.fmax_hz:g}")


def _cmd_track(args: argparse.Namespace) -> int:
    from dsp_rnn.compare.tracking import track_file

    contour = track_file(args.input, fmin_hz=args.fmin_hz, fmax_hz=args.fmax_hz,
                         hop_seconds=args.hop_ms / 1000.0)  # fmt: skip
    contour.to_csv(args.out, overwrite=args.overwrite)
    print(f"wrote {args.out} ({contour.n_frames} frames)")
    if args.plot is not None:
        contour.plot(args.plot, overwrite=args.overwrite)
        print(f"wrote {args.plot}")
    voiced = sum(1 for f in contour.f0_hz if f == f)
    n = contour.noise
    print(f"{voiced} of {contour.n_frames} frames voiced; noise (std per frame): pitch "
          f"{n.pitch_observation:.3g} semitones observed, {n.pitch_process:.3g} process; level "
          f"{n.level_observation:.3g} dB observed, {n.level_process:.3g} process")  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``track`` to the ``dsp-rnn`` parser."""
    p = sub.add_parser("track", help="pitch and loudness contour of a recording, smoothed "
                                     "with uncertainty (Kalman)",
                       description="Track the pitch (pyin f0) and loudness (frame RMS in dB) "
                                   "of a recording and smooth them with a Kalman smoother "
                                   "(local level and velocity, noise fitted by maximum "
                                   "likelihood); unvoiced frames are missing pitch "
                                   "observations. Writes a CSV row per frame and, with "
                                   "--plot, a figure with -+2 std bands.")  # fmt: skip
    p.add_argument("input", help="audio file (.wav/.flac/...; mixed to mono)")
    p.add_argument("--out", required=True,
                   help="CSV file to write (required; columns time_s, f0_hz, "
                        "f0_hz_smoothed, f0_std_semitones, f0_hz_lower, f0_hz_upper, "
                        "voiced_probability, rms_db, rms_db_smoothed, rms_db_std)")  # fmt: skip
    p.add_argument("--plot", help="image file of the contour (.png/.svg/.pdf; default: none)")
    p.add_argument("--fmin-hz", type=float_range(0.0, lo_open=True), default=65.0,
                   help="lowest f0 searched, Hz")  # fmt: skip
    p.add_argument("--fmax-hz", type=float_range(0.0, lo_open=True), default=2000.0,
                   help="highest f0 searched, Hz (below half the sample rate)")  # fmt: skip
    p.add_argument("--hop-ms", type=float_range(1.0, 100.0), default=10.0,
                   help="frame hop in milliseconds, 1 to 100")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.set_defaults(func=_cmd_track, check=_check_track)
