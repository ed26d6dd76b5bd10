"""Publish a finished temporary file under its final name, never over a file by accident."""

from __future__ import annotations

import os
from pathlib import Path

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
