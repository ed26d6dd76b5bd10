"""A writable home for numba's compiled-kernel cache, for every user.

Our kernels are compiled with ``cache=True``. numba keeps the cache beside the source
(``__pycache__``) or in the user's cache folder (``~/.cache/numba``); when neither can be
written (a system-wide install used by an account whose home is read-only, a container
user without a home) it refuses to define the kernels at all ("cannot cache function ...:
no locator available"), so importing the filters would fail. Importing this module first
points numba at a per-user folder under the system's temporary folder in that case only.
``NUMBA_CACHE_DIR`` set by the user is always respected.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from numba.core import config
from numba.misc.appdirs import AppDirs

__all__ = ["ensure_cache_dir"]


def _writable(folder: Path) -> bool:
    """True when files can be created in ``folder`` (made if missing), as numba checks."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def ensure_cache_dir() -> str | None:
    """Set ``numba.config.CACHE_DIR`` when numba would find no writable cache folder.

    Returns the folder set, or None when numba's own choice works (or the user chose one).
    """
    # numba sets its options at run time, hence the ignores
    if config.CACHE_DIR:  # type: ignore[attr-defined]
        return None
    if _writable(Path(__file__).parent / "filters" / "__pycache__"):
        return None
    if _writable(Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)):
        return None
    uid = getattr(os, "getuid", lambda: "user")()
    folder = Path(tempfile.gettempdir()) / f"dsp-rnn-numba-cache-{uid}"
    if not _writable(folder):
        return None  # nothing writable at all: numba's own error says so
    config.CACHE_DIR = str(folder)  # type: ignore[attr-defined]
    return str(folder)


ensure_cache_dir()
