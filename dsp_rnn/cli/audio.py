"""dsp-rnn resynth: an audio file analysed into frame features and generated again by a
sample-level audio model (:func:`dsp_rnn.audio.generator.resynth`, the compiled CPU loop).

Building the parser imports no torch: the command loads the model when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dsp_rnn.cli.common import (
    OVERWRITE_HELP,
    float_range,
    input_file,
    output_file,
    random_seed,
    seed_int,
)
from dsp_rnn.errors import InputError

__all__ = ["register"]


def _check_resynth(args: argparse.Namespace) -> None:
    src, out = input_file(args.input, "an audio file"), Path(args.output)
    if out.exists() and out.resolve() == src.resolve():  # type: ignore[union-attr]
        raise InputError(f"{out}: output would overwrite the input")
    output_file(out, args.overwrite)


def _cmd_resynth(args: argparse.Namespace) -> int:
    from dsp_rnn.audio.generator import resynth
    from dsp_rnn.training import registry

    model, meta = registry.load_model(args.model)
    if meta.get("family") != "audio":
        raise InputError(f"{args.model}: a {meta.get('family')} model, resynth needs an audio "
                         "model (dsp-rnn train on a folder of audio files)")  # fmt: skip
    seed = random_seed() if args.seed is None else args.seed
    out = resynth(model, args.input, args.output, seed=seed,  # type: ignore[arg-type]
                  temperature=args.temperature, overwrite=args.overwrite)  # fmt: skip
    if args.seed is None:
        print(f"seed {seed}: pass --seed {seed} to make this file again")
    print(f"wrote {out}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``resynth`` to the ``dsp-rnn`` parser."""
    p = sub.add_parser("resynth", help="analyse an audio file and generate it again with an "
                                       "audio model",
                       description="Analyse an audio file into frame features and generate "
                                   "it again, sample by sample, with a trained audio model "
                                   "(AudioRNN) on the CPU.")  # fmt: skip
    p.add_argument("input", help="audio file (.wav/.flac/...; mixed to mono, resampled to the "
                                 "model's rate)")  # fmt: skip
    p.add_argument("output", help="audio file to write at the model's rate (its folder must "
                                  "exist; never overwritten unless --overwrite)")  # fmt: skip
    p.add_argument("--model", required=True,
                   help="run folder or weights file of an audio model (required)")  # fmt: skip
    p.add_argument("--seed", type=seed_int,
                   help="seeds the draws (default: a random seed, printed so that the file "
                        "can be made again)")  # fmt: skip
    p.add_argument("--temperature", type=float_range(0.0, what="a temperature >= 0"),
                   default=1.0,
                   help="sampling temperature, >= 0: 0 takes the most likely code, below 1 "
                        "more predictable (default 1)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    p.set_defaults(func=_cmd_resynth, check=_check_resynth)
