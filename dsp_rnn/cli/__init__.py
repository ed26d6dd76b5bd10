"""The dsp-rnn command line (python cli.py is the same).

One line per problem, no traceback: exit 2 for usage errors, 1 for failures. Every output
is checked before any work starts (its folder must exist; nothing is replaced without
--overwrite).

One module per command group: :mod:`~dsp_rnn.cli.filters` (design, filter),
:mod:`~dsp_rnn.cli.data` (data inspect, data grid), :mod:`~dsp_rnn.cli.compare` (compare,
fit), :mod:`~dsp_rnn.cli.model` (train, generate, ensemble, eval),
:mod:`~dsp_rnn.cli.render` (render) and :mod:`~dsp_rnn.cli.audio` (resynth);
:mod:`~dsp_rnn.cli.common` holds the parser, the argument types and the output checks they
share. Building the parser imports no torch:
each command loads what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys

from dsp_rnn.cli import audio, compare, data, filters, model, render, track
from dsp_rnn.cli.common import Parser
from dsp_rnn.errors import DspRnnError

__all__ = ["main", "build_parser"]

DESCRIPTION = (
    "Filters and recurrent networks for audio and music: design and apply filters, compare "
    "them with their RNN twins, learn effects, train note-grid models and generate music."
)


def build_parser() -> argparse.ArgumentParser:
    """The ``dsp-rnn`` parser with every command."""
    from dsp_rnn import __version__

    parser = Parser(prog="dsp-rnn", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the version and exit")  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (filters, data, compare, model, render, audio, track):
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``dsp-rnn`` with ``argv`` (default: the process's arguments); the exit code."""
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
