"""Write files atomically: a temporary file beside the target, then a rename that never
replaces a file by accident."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from dsp_rnn.errors import DspRnnError


def publish(tmp: Path, path: Path, overwrite: bool, error: type[DspRnnError]) -> None:
    """Move ``tmp`` to ``path`` atomically; without ``overwrite`` an existing ``path``
    (even one that appeared meanwhile) raises ``error`` and is left alone."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # atomic "create if absent"
    except FileExistsError as exc:
        raise error(f"{path}: exists; pass overwrite=True to replace it") from exc
    except OSError:  # file systems without hard links: check, then rename
        if path.exists():
            raise error(f"{path}: exists; pass overwrite=True to replace it") from None
        os.replace(tmp, path)


def check_target(path: Path, overwrite: bool, error: type[DspRnnError]) -> None:
    """Refuse, with ``error``, a target that is a folder, lies in a missing folder, or
    exists while ``overwrite`` is False."""
    if path.is_dir():
        raise error(f"{path}: is a folder, expected a file name to write")
    if not path.parent.is_dir():
        raise error(f"{path}: folder {path.parent} does not exist")
    if path.exists() and not overwrite:
        raise error(f"{path}: exists; pass overwrite=True to replace it")


@contextmanager
def atomic_file(path: Path, overwrite: bool, error: type[DspRnnError]) -> Iterator[BinaryIO]:
    """An open binary file that becomes ``path`` (synced, then :func:`publish`) when the
    block ends without an exception; a failed write leaves nothing behind."""
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        # O_EXCL: never reuse an existing name; mode 0o666 lets the umask decide as usual
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        publish(tmp, path, overwrite, error)
    finally:
        tmp.unlink(missing_ok=True)
