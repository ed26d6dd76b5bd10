"""dsp-rnn compare (a designed filter against its RNN twin or a fitted cell) and
dsp-rnn fit (learn an effect from a dry/wet pair of audio files).

Both check every output path before any work and never replace an existing file unless
--overwrite is given; files are written to a temporary name, then renamed.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from dsp_rnn._filter_kinds import CLASSIC_KINDS
from dsp_rnn.cli.common import (
    OVERWRITE_HELP,
    float_range,
    input_file,
    nonneg_int,
    output_file,
    output_folder,
    positive_float,
    positive_int,
    seed_int,
    threads_int,
    writing,
)
from dsp_rnn.cli.filters import add_design_flags, design_from_args
from dsp_rnn.errors import AudioError, InputError

__all__ = ["register", "make_cell", "CELL_KINDS"]

#: ``--cell`` / ``--against`` names -> cell classes of :mod:`dsp_rnn.cells`.
CELL_KINDS = {
    "statespace": "StateSpaceCell",
    "iir": "IIRCell",
    "lstm": "LSTMCell",
    "gru": "GRUCell",
    "elman": "ElmanCell",
}


def make_cell(kind: str, size: int) -> tuple[Any, dict[str, Any]]:
    """A fresh one-in, one-out cell and its constructor kwargs.

    ``size`` is the state size for ``statespace``, twice the number of biquad sections for
    ``iir`` (rounded up) and the hidden units for ``lstm``, ``gru`` and ``elman``.
    """
    import dsp_rnn.cells as cells
    from dsp_rnn._validate import check_int

    if kind not in CELL_KINDS:
        raise InputError(f"cell: expected one of {', '.join(CELL_KINDS)}, got {kind!r}")
    size = check_int(size, "hidden", minimum=1)
    if kind == "statespace":
        kwargs: dict[str, Any] = {"state_size": size}
    elif kind == "iir":
        kwargs = {"n_sections": -(-size // 2)}
    else:
        kwargs = {"input_size": 1, "hidden_size": size, "output_size": 1}
    return getattr(cells, CELL_KINDS[kind])(**kwargs), kwargs


def _check_outputs(folder: Path, files: list[Path], overwrite: bool) -> None:
    """The output folder can be made (its parent exists) or used; each file in it is new
    unless ``--overwrite``."""
    output_folder(folder, must_be_empty=False)
    if folder.is_dir():
        for path in files:
            output_file(path, overwrite)


def _set_threads(n: int) -> None:
    import numba
    import torch

    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


def _fit_kwargs(args: argparse.Namespace, kind: str, sample_rate: float) -> dict[str, Any]:
    linear = kind in ("statespace", "iir")
    return {
        "sample_rate": sample_rate,
        "steps": args.steps,
        "lr": args.lr if args.lr is not None else (2e-2 if linear else 5e-3),
        "window": args.window,
        "warmup": args.warmup,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "progress": not args.quiet,
    }


def _cmd_compare(args: argparse.Namespace) -> int:
    import torch

    from dsp_rnn.compare import compare

    out = Path(args.out)
    targets = _compare_targets(args)
    png, txt = targets[:2]
    curve_png = out / "fit_curve.png"
    kind = args.against
    exact = len(targets) == 2
    if args.steps is None:
        args.steps = 0 if exact else 500
    _set_threads(args.threads)
    sos = design_from_args(args)
    sr = args.sample_rate
    import dsp_rnn.cells as cells

    fitted = None
    cell: Any
    if exact and kind == "statespace":
        cell = cells.StateSpaceCell.from_filter(sos)
        label = "StateSpaceCell.from_filter (exact twin)"
    elif exact:
        cell = cells.IIRCell.from_sos(sos)
        label = "IIRCell.from_sos (exact twin)"
    else:
        from dsp_rnn.compare import fit

        torch.manual_seed(args.seed)
        size = args.hidden if kind not in ("statespace", "iir") else 2 * sos.shape[0]
        cell, _ = make_cell(kind, size)
        fitted = fit(cell, sos, **_fit_kwargs(args, kind, sr))
        label = f"{type(cell).__name__} (fitted, {fitted.steps} steps)"
    design = f"{args.kind} design" + (f", order {args.order}" if args.kind in CLASSIC_KINDS else "")
    result = compare(cell, sos, sample_rate=sr, labels=(label, design))
    out.mkdir(exist_ok=True)  # its parent was checked to exist
    text = result.summary()
    ow = args.overwrite
    if fitted is not None:
        text += f"\nfit: {fitted.steps} steps in {fitted.seconds:.1f} s, best ESR {fitted.esr:.3e}"
        with writing(curve_png, ow) as tmp:
            fitted.plot(tmp, title=label)
    with writing(txt, ow) as tmp:
        tmp.write_text(text + "\n")
    with writing(png, ow) as tmp:
        result.plot(tmp)
    print(text)
    print(f"wrote {', '.join(str(p) for p in targets)}")
    return 0


def _compare_targets(args: argparse.Namespace) -> list[Path]:
    out = Path(args.out)
    exact = (args.steps is None and args.against in ("statespace", "iir")) or args.steps == 0
    if args.steps == 0 and args.against not in ("statespace", "iir"):
        raise InputError(f"--steps 0: {args.against} has no exact twin of a filter; use "
                         "--steps N > 0")  # fmt: skip
    names = ["compare.png", "compare.txt"] + ([] if exact else ["fit_curve.png"])
    return [out / n for n in names]


def _check_compare(args: argparse.Namespace) -> None:
    _check_outputs(Path(args.out), _compare_targets(args), args.overwrite)


def _fit_targets(args: argparse.Namespace) -> list[Path]:
    out = Path(args.out)  # the first two: dsp_rnn.compare's WEIGHTS and CONFIG (not imported
    # here: the check runs before torch is loaded)
    names = ["weights.safetensors", "config.json", "curve.png", "processed.wav"]
    return [out / n for n in names]


def _check_fit(args: argparse.Namespace) -> None:
    input_file(args.input, "an audio file")
    input_file(args.target, "an audio file")
    _check_outputs(Path(args.out), _fit_targets(args), args.overwrite)


def _read_audio(path: Path) -> tuple[Any, int]:
    import numpy as np
    import soundfile as sf

    input_file(path, "an audio file")
    try:
        audio, sr = sf.read(str(path), dtype="float64", always_2d=True)
    except Exception as exc:  # noqa: BLE001 - soundfile raises several types
        raise AudioError(f"{path}: cannot read audio ({exc})") from exc
    if audio.shape[0] == 0:
        raise AudioError(f"{path}: no samples")
    if not np.isfinite(audio).all():
        raise AudioError(f"{path}: holds NaN or infinite samples")
    return np.ascontiguousarray(audio.T), int(sr)  # (channels, time)


def _cmd_fit(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf
    import torch

    from dsp_rnn.compare import esr, fit, run_cell, save_cell

    src, tgt, out = Path(args.input), Path(args.target), Path(args.out)
    files = _fit_targets(args)
    _set_threads(args.threads)
    dry, sr = _read_audio(src)
    wet, sr_wet = _read_audio(tgt)
    if sr_wet != sr:
        raise AudioError(f"{tgt}: sample rate {sr_wet} Hz, but {src} has {sr} Hz")
    if wet.shape[0] != dry.shape[0]:
        raise AudioError(f"{tgt}: {wet.shape[0]} channel(s), but {src} has {dry.shape[0]}")
    if wet.shape[1] != dry.shape[1]:
        raise AudioError(
            f"{tgt}: {wet.shape[1]} samples, but {src} has {dry.shape[1]}; the pair must be "
            "aligned and of equal length"
        )
    torch.manual_seed(args.seed)
    cell, kwargs = make_cell(args.cell, args.hidden)
    x, y = torch.from_numpy(dry), torch.from_numpy(wet)  # (channels, time)
    fit_kwargs = _fit_kwargs(args, args.cell, float(sr))
    result = fit(cell, y, x, pre_emphasis=args.pre_emphasis, **fit_kwargs)
    with torch.no_grad():
        processed = run_cell(cell, x.to(torch.float32)).double()
    whole = esr(processed, y)
    meta = {
        "sample_rate": sr,
        "input": src.name,
        "target": tgt.name,
        "steps": result.steps,
        "seconds": round(result.seconds, 2),
        "esr_validation": result.esr,
        "esr_whole_file": whole,
        "settings": {k: v for k, v in fit_kwargs.items() if k != "progress"}
        | {"pre_emphasis": args.pre_emphasis},
    }
    out.mkdir(exist_ok=True)  # its parent was checked to exist
    save_cell(cell, out, kwargs, metadata=meta, overwrite=True)  # checked before any work
    ow = args.overwrite
    with writing(files[2], ow) as tmp:
        result.plot(tmp, title=f"{args.cell}, {args.hidden}")
    with writing(files[3], ow) as tmp:
        sf.write(str(tmp), processed.numpy().T.astype(np.float32), sr, subtype="FLOAT")
    peak = float(processed.abs().max())
    print(
        f"fitted {type(cell).__name__}({', '.join(f'{k}={v}' for k, v in kwargs.items())}) "
        f"in {result.steps} steps, {result.seconds:.1f} s: ESR {whole:.3e} on the whole file "
        f"(SNR {-10 * math.log10(max(whole, 1e-300)):.1f} dB), peak {peak:.3f}"
    )
    print(f"wrote {', '.join(str(p) for p in files)}")
    return 0


def _add_fit_flags(p: argparse.ArgumentParser, steps_default: int | None) -> None:
    if steps_default:
        p.add_argument("--steps", type=positive_int, default=steps_default,
                       help="optimiser steps, >= 1")  # fmt: skip
    else:
        p.add_argument("--steps", type=nonneg_int,
                       help="optimiser steps, >= 0 (default 0 = exact twin for statespace/iir, "
                            "500 for lstm/gru/elman)")  # fmt: skip
    p.add_argument("--lr", type=positive_float,
                   help="Adam learning rate, > 0 (default 2e-2 linear, 5e-3 RNN)")  # fmt: skip
    p.add_argument("--window", type=positive_int, default=1024,
                   help="TBPTT window in samples, >= 1")  # fmt: skip
    p.add_argument("--warmup", type=nonneg_int, default=0,
                   help="warm-up samples without loss, >= 0")  # fmt: skip
    p.add_argument("--batch-size", type=positive_int, default=16,
                   help="segments per batch, >= 1")  # fmt: skip
    p.add_argument("--seed", type=seed_int, default=0, help="seeds initialisation and data")
    p.add_argument("--out", required=True,
                   help="output folder, created if its parent exists (required, no "
                        "default)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=threads_int, default=1,
                   help="CPU threads for torch and the filter kernels (default 1: small "
                        "recurrent cells run fastest on one thread)")  # fmt: skip


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``compare`` and ``fit`` to the top-level parser."""
    p = sub.add_parser(
        "compare",
        help="compare a designed filter with its RNN twin or a fitted cell (plot + summary)",
        description="Compare a designed filter with its RNN twin or a cell fitted to it.",
    )
    add_design_flags(p)
    p.add_argument("--against", choices=("statespace", "iir", "lstm", "gru", "elman"),
                   required=True,
                   help="the cell to compare with (required, no default)")  # fmt: skip
    p.add_argument("--hidden", type=positive_int, default=16,
                   help="hidden units of lstm/gru/elman, >= 1")  # fmt: skip
    _add_fit_flags(p, None)
    p.set_defaults(func=_cmd_compare, check=_check_compare)
    p.epilog = (
        "--steps: default 0 (exact twin) for statespace/iir, 500 for lstm/gru/elman; "
        "N > 0 fits a fresh cell to the filter for N steps from white noise. Writes "
        "OUT/compare.png and OUT/compare.txt (and OUT/fit_curve.png when fitting)."
    )
    p = sub.add_parser("fit", help="learn an effect from a dry/wet pair of audio files",
                       description="Learn an effect from a dry/wet pair of audio "
                                   "files.")  # fmt: skip
    p.add_argument("--input", required=True,
                   help="dry audio file: wav, flac, ogg (required, no default)")  # fmt: skip
    p.add_argument("--target", required=True,
                   help="wet audio file: same rate, length, channels (required, no "
                        "default)")  # fmt: skip
    p.add_argument("--cell", choices=tuple(CELL_KINDS), default="lstm", help="the cell to fit")
    p.add_argument("--hidden", type=positive_int, default=16,
                   help="hidden units (state size if linear), >= 1")  # fmt: skip
    p.add_argument("--pre-emphasis", type=float_range(-1.0, 1.0, lo_open=True, hi_open=True),
                   help="ESR pre-emphasis 1 - c z^-1, -1 < c < 1, e.g. 0.85 (default: "
                        "none)")  # fmt: skip
    _add_fit_flags(p, 500)
    p.set_defaults(func=_cmd_fit, check=_check_fit)
    p.epilog = (
        "Writes OUT/weights.safetensors + OUT/config.json (load with "
        "dsp_rnn.compare.load_cell), OUT/curve.png and OUT/processed.wav."
    )
