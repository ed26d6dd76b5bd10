"""Pieces shared by every ``dsp-rnn`` subcommand: the parser class (one-line usage errors),
the help formatter (every flag shows its default), argument types that check ranges at
parse time, and the output/input checks run before any work starts.

Nothing here imports torch, numpy or soundfile: ``dsp-rnn render`` stays light.
"""

from __future__ import annotations

import argparse
import math
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from dsp_rnn._atomic import atomic_path, check_folder_target, check_target
from dsp_rnn.errors import InputError, OutputError

__all__ = [
    "Parser",
    "HelpFormatter",
    "int_range",
    "float_range",
    "positive_int",
    "nonneg_int",
    "positive_float",
    "nonneg_float",
    "finite_float",
    "seed_int",
    "threads_int",
    "output_file",
    "writing",
    "image_file",
    "output_folder",
    "input_file",
    "random_seed",
    "stderr_is_tty",
    "OVERWRITE_HELP",
]

OVERWRITE_HELP = "replace existing output files (otherwise nothing is overwritten)"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds ``(default: X)`` to every flag's help unless the text already says its default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower():
            return text
        return super()._get_help_string(action) or text


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (exit 2) naming the command, the
    flag, what was expected and what was found; ``--help`` shows every default."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(text: str, kind: type) -> float | int:
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _range_type(kind: type, lo, hi, lo_open: bool, hi_open: bool, what: str) -> Callable:
    def parse(text: str):
        value = _number(text, kind)
        if (
            (lo is not None and (value <= lo if lo_open else value < lo))
            or (hi is not None and (value >= hi if hi_open else value > hi))
        ):  # fmt: skip
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    parse.__name__ = what
    return parse


def int_range(lo: int | None = None, hi: int | None = None, what: str | None = None) -> Callable:
    """An argparse type: an integer with ``lo <= n <= hi`` (either bound may be None)."""
    if what is None:
        if hi is None:
            what = f"an integer >= {lo}"
        elif lo is None:
            what = f"an integer <= {hi}"
        else:
            what = f"an integer from {lo} to {hi}"
    return _range_type(int, lo, hi, False, False, what)


def float_range(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                hi_open: bool = False, what: str | None = None) -> Callable:  # fmt: skip
    """An argparse type: a finite number in the given range (open or closed ends)."""
    if what is None:
        parts = []
        if lo is not None:
            parts.append(f"{'>' if lo_open else '>='} {lo:g}")
        if hi is not None:
            parts.append(f"{'<' if hi_open else '<='} {hi:g}")
        what = "a number " + " and ".join(parts) if parts else "a finite number"
    return _range_type(float, lo, hi, lo_open, hi_open, what)


positive_int = int_range(1)
nonneg_int = int_range(0)
positive_float = float_range(0.0, lo_open=True)
nonneg_float = float_range(0.0)
finite_float = float_range()
seed_int = int_range(0, 2**63 - 1, what="a seed from 0 to 2**63-1")
threads_int = int_range(1, 1024, what="a thread count from 1 to 1024")


def output_file(path: str | Path, overwrite: bool) -> Path:
    """Check a file the command will write (before any work): its folder exists and is
    writable, it is not a folder, and it exists only with ``--overwrite``."""
    out = Path(path)
    check_target(out, overwrite, OutputError, flag="--overwrite")
    return out


@contextmanager
def writing(path: str | Path, overwrite: bool) -> Iterator[Path]:
    """A temporary name beside ``path`` for a writer to fill; it becomes ``path`` when the
    block ends without an error (:func:`dsp_rnn._atomic.atomic_path`; a file that appeared
    meanwhile is replaced only with ``--overwrite``)."""
    with atomic_path(Path(path), overwrite, OutputError, "--overwrite") as tmp:
        yield tmp


IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


def image_file(path: str | Path, overwrite: bool) -> Path:
    """:func:`output_file` for a plot, whose format comes from its name's ending."""
    out = Path(path)
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"{out}: expected an image file name ending in "
                         f"{', '.join(IMAGE_SUFFIXES)}")  # fmt: skip
    return output_file(out, overwrite)


def output_folder(path: str | Path, *, overwrite: bool = False, must_be_empty: bool = True,
                  hint: str | None = None) -> Path:  # fmt: skip
    """Check a folder the command will create or fill (before any work): it is a writable
    folder or can be created in an existing one (never a whole missing tree), and, when
    ``must_be_empty``, it is empty unless ``--overwrite`` (``hint`` replaces that advice)."""
    out = Path(path)
    check_folder_target(out, OutputError, overwrite=overwrite, must_be_empty=must_be_empty,
                        flag="--overwrite", hint=hint)  # fmt: skip
    return out


def input_file(path: str | Path | None, what: str = "file") -> Path | None:
    """Refuse a missing input file or a folder given where a file is expected."""
    if path is None:
        return None
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder, expected {what}")
    if not p.exists():
        raise InputError(f"{p}: no such file")
    return p


def random_seed() -> int:
    """A fresh seed for commands whose ``--seed`` defaults to 'random' (printed, so the
    result can be made again)."""
    return secrets.randbelow(1_000_000)


def stderr_is_tty() -> bool:
    """Whether standard error is a terminal (for progress bars); False when unknown."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
