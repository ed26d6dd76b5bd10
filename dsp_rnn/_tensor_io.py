"""Tensor files: safetensors tensors + a JSON header, written atomically, never unpickled.

The file primitives every layer may use (model folders and training states in
:mod:`dsp_rnn.training.checkpoint`, fitted cells in :mod:`dsp_rnn.compare.cell_io`).
``torch.load`` is never used: loading reads tensors and JSON only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from dsp_rnn._atomic import write_bytes
from dsp_rnn.errors import CheckpointError

__all__ = ["FORMAT_VERSION", "WEIGHTS", "CONFIG", "save_tensors", "load_tensors",
           "read_metadata", "read_model_weights", "load_weights"]  # fmt: skip

FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
CONFIG = "config.json"


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """One safetensors file: ``tensors`` plus ``meta`` (JSON) in the header, written through
    :func:`dsp_rnn._atomic.write_bytes` (an old file is replaced; the folder must exist).

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> p = save_tensors(f"{d}/x.safetensors", {"a": torch.arange(3.0)}, {"step": 7})
    >>> t, m = load_tensors(p); t["a"].tolist(), m["step"]
    ([0.0, 1.0, 2.0], 7)
    """
    from safetensors.torch import save

    clean = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    header = {"json": json.dumps(meta), "format_version": str(FORMAT_VERSION)}
    out = Path(path)
    write_bytes(out, save(clean, metadata=header), overwrite=True, error=CheckpointError)
    return out


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Inverse of :func:`save_tensors`. Raises :class:`CheckpointError` on a bad file."""
    return _read(path, with_tensors=True)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON of a :func:`save_tensors` file, reading its header only (no tensors).

    Raises :class:`CheckpointError` on a missing or damaged file.
    """
    return _read(path, with_tensors=False)[1]


def read_model_weights(weights: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, {"family"?, "config", "metadata"})`` of a model's weights file; the
    ``config.json`` beside it, when there is one, wins over the copy in the header.

    Raises:
        CheckpointError: missing or damaged files, no model config.
    """
    weights = Path(weights)
    tensors, doc = load_tensors(weights)
    config_file = weights.parent / CONFIG
    if config_file.is_file():
        try:
            doc = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{config_file}: unreadable config ({exc})") from None
    if not isinstance(doc, dict) or "config" not in doc:
        raise CheckpointError(f"{weights}: no model config in {CONFIG} or in the weights header")
    return tensors, doc


def load_weights(
    module: torch.nn.Module,
    tensors: dict[str, torch.Tensor],
    *,
    source: str | Path,
    what: str = "the config",
) -> torch.nn.Module:
    """Load ``tensors`` into ``module`` (strict: every name, every shape) and put it in eval
    mode; a mismatch is a :class:`CheckpointError` naming ``source`` and ``what`` the weights
    were meant for.

    >>> w = {"weight": torch.ones(1, 2), "bias": torch.zeros(1)}
    >>> m = load_weights(torch.nn.Linear(2, 1), w, source="w.safetensors")
    >>> m.training, m.weight.tolist()
    (False, [[1.0, 1.0]])
    """
    try:
        module.load_state_dict(tensors, strict=True)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "mismatch"
        raise CheckpointError(f"{source}: weights do not fit {what} ({first})") from None
    return module.eval()


def _read(path: str | Path, *, with_tensors: bool) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint file")
    try:
        with safe_open(str(p), framework="pt") as fh:
            header = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()} if with_tensors else {}  # noqa: SIM118
        meta = json.loads(header.get("json", "{}"))
    except Exception as exc:  # safetensors raises several types on damaged files
        raise CheckpointError(f"{p}: not a readable safetensors checkpoint ({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{p}: checkpoint metadata is not a JSON object")
    version = int(header.get("format_version", FORMAT_VERSION))
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{p}: checkpoint format version {version}, this dsp_rnn reads up to {FORMAT_VERSION}"
        )
    return tensors, meta
