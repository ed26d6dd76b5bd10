"""The matplotlib setup every plot of the package shares: a headless pyplot and one way to
write a figure (atomically, into an existing folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dsp_rnn._atomic import atomic_path, check_target
from dsp_rnn.errors import OutputError

__all__ = ["pyplot", "save_figure", "DPI"]

#: Resolution of the written figures, dots per inch.
DPI = 110


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the headless Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path, *, overwrite: bool = True) -> Path:
    """Write ``fig`` to ``path`` and close it; the format comes from the name's ending.

    The image is written to a temporary name in the same folder, then renamed, so ``path``
    is never left half-written. The folder must exist: it is not created.

    Args:
        fig: a matplotlib figure (closed afterwards, also when writing fails).
        path: the image file (``.png``, ``.svg``, ``.pdf``, ...) in an existing folder.
        overwrite: replace an existing file (default True); False refuses it.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OutputError: the folder is missing, not a folder or read-only; ``path`` is a
            folder; or it exists and ``overwrite`` is False.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> fig, ax = pyplot().subplots()
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     out = save_figure(fig, Path(tmp) / "line.png")
        ...     out.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    out = Path(path)
    try:
        check_target(out, overwrite, OutputError)
        with atomic_path(out, overwrite, OutputError) as tmp:
            fig.savefig(tmp, dpi=DPI)
    finally:
        pyplot().close(fig)
    return out
