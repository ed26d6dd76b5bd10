"""Write files atomically: a temporary file beside the target, then a rename that never
replaces a file by accident. Missing folders are never created for a file target (only
:func:`check_folder_target`'s last folder may be). Every writer of the package goes through
here; this module imports neither torch nor numpy."""

from __future__ import annotations

import functools
import os
import re
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dsp_rnn.errors import DspRnnError

# The hidden temporaries of this module's writes (a killed write leaves one behind):
# atomic_file's ``.NAME.<hex>.tmp`` and atomic_path's ``.STEM.<hex>.partSUFFIX``; earlier
# versions left ``.NAME.<pid>.part`` and ``.NAME.<pid>.part.png``.


def _file_temporary(path: Path) -> Path:
    return path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"


def _path_temporary(path: Path) -> Path:
    return path.parent / f".{path.stem}.{secrets.token_hex(6)}.part{path.suffix}"


@functools.lru_cache(maxsize=16)
def _temporary_pattern(targets: tuple[str, ...] | None) -> re.Pattern[str]:
    def one(name: str | None) -> str:
        if name is None:  # any file
            full, stem, suffix = ".+", ".+", r"(?:\.[^.]+)?"
        else:
            full, stem, suffix = (re.escape(s) for s in (name, Path(name).stem, Path(name).suffix))
        return rf"\.{full}\.\w+\.(?:tmp|part|part\.png)|\.{stem}\.[0-9a-f]+\.part{suffix}"

    return re.compile("|".join(one(n) for n in (targets if targets is not None else [None])))


def is_temporary(name: str, targets: Iterable[str] | None = None) -> bool:
    """Whether the file name ``name`` is a hidden temporary of an atomic write (of
    :func:`atomic_file`, :func:`atomic_path` or an earlier version), one for a file named in
    ``targets`` when given (default: for any file).

    >>> is_temporary(".curve.0a1b2c3d4e5f.part.png", ["curve.png"])
    True
    >>> is_temporary(".notes.txt.1.tmp"), is_temporary(".notes.txt.1.tmp", ["curve.png"])
    (True, False)
    """
    pattern = _temporary_pattern(None if targets is None else tuple(targets))
    return pattern.fullmatch(name) is not None


def publish(tmp: Path, path: Path, overwrite: bool, error: type[DspRnnError],
            flag: str = "overwrite=True") -> None:  # fmt: skip
    """Move ``tmp`` to ``path`` atomically; without ``overwrite`` an existing ``path``
    (even one that appeared meanwhile) raises ``error`` (naming ``flag``) and is left
    alone."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic "create if absent"
    except FileExistsError as exc:
        raise error(f"{path}: exists; pass {flag} to replace it") from exc
    except OSError:  # file systems without hard links: check, then rename
        if path.exists():
            raise error(f"{path}: exists; pass {flag} to replace it") from None
        os.replace(tmp, path)


def check_parent(path: Path, error: type[DspRnnError]) -> None:
    """Refuse, with ``error``, a ``path`` whose folder is missing (never created here: the
    user makes their folder tree), is a file, or cannot be written to."""
    parent = path.parent
    if not parent.is_dir():
        for folder in (parent, *parent.parents):
            if folder.is_dir():
                break
            if folder.exists():
                raise error(f"{path}: {folder} is a file, not a folder")
        raise error(f"{path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise error(f"{path}: folder {parent} is not writable (permission denied)")


def check_target(path: Path, overwrite: bool, error: type[DspRnnError],
                 flag: str = "overwrite=True") -> None:  # fmt: skip
    """Refuse, with ``error``, a file target that is a folder, lies in a missing, non-folder
    or read-only folder, or exists while ``overwrite`` is False (the message names
    ``flag``: ``overwrite=True`` in the library, ``--overwrite`` on the command line)."""
    path = Path(path)
    if path.is_dir():
        raise error(f"{path}: is a folder, expected a file name to write")
    check_parent(path, error)
    if path.exists() and not overwrite:
        raise error(f"{path}: exists; pass {flag} to replace it")


def check_folder_target(path: Path, error: type[DspRnnError], *, overwrite: bool = False,
                        must_be_empty: bool = True, flag: str = "overwrite=True",
                        hint: str | None = None) -> None:  # fmt: skip
    """Refuse, with ``error``, an output folder that cannot be made or used: a file of that
    name, a missing, non-folder or read-only parent (only the last folder is ever created),
    a read-only folder, or (``must_be_empty``) a non-empty folder without ``overwrite``;
    ``hint`` replaces the advice to pass ``flag``."""
    path = Path(path)
    if not path.exists():
        check_parent(path, error)
        return
    if not path.is_dir():
        raise error(f"{path}: is a file, expected a folder")
    if not os.access(path, os.W_OK | os.X_OK):
        raise error(f"{path}: folder is not writable (permission denied)")
    if must_be_empty and not overwrite:
        try:
            used = any(path.iterdir())
        except OSError as exc:
            raise error(f"{path}: cannot read folder ({exc.strerror or exc})") from None
        if used:
            advice = hint or f"pass {flag} to replace what is in it"
            raise error(f"{path}: exists and is not empty; {advice}")


@contextmanager
def atomic_file(path: Path, overwrite: bool, error: type[DspRnnError],
                flag: str = "overwrite=True", *,
                sync: bool = True) -> Iterator[BinaryIO]:  # fmt: skip
    """An open binary file that becomes ``path`` (synced unless ``sync=False``, then
    :func:`publish`) when the block ends without an exception; a failed write leaves nothing
    behind."""
    tmp = _file_temporary(path)
    try:
        # O_EXCL: never reuse an existing name; mode 0o666 lets the umask decide as usual
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        publish(tmp, path, overwrite, error, flag)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes, *, overwrite: bool, error: type[DspRnnError],
                sync: bool = True) -> None:  # fmt: skip
    """Write ``data`` to ``path`` through :func:`atomic_file`."""
    with atomic_file(Path(path), overwrite, error, sync=sync) as fh:
        fh.write(data)


@contextmanager
def atomic_path(path: Path, overwrite: bool, error: type[DspRnnError],
                flag: str = "overwrite=True") -> Iterator[Path]:  # fmt: skip
    """A temporary file name beside ``path`` (same ending, so writers that go by the name
    pick the same format) that becomes ``path`` (:func:`publish`) when the block ends
    without an exception; a failed write leaves nothing behind."""
    path = Path(path)
    tmp = _path_temporary(path)
    try:
        yield tmp
        publish(tmp, path, overwrite, error, flag)
    finally:
        tmp.unlink(missing_ok=True)
