"""Save and load fitted cells: safetensors weights + a JSON config, never pickle.

The model-folder layout of :mod:`dsp_rnn.training.checkpoint`: ``weights.safetensors`` (the cell's
``state_dict``, with the config also in its header) and ``config.json``::

    {"config": {"cell": "LSTMCell", "dtype": "float32",
                "kwargs": {"input_size": 1, "hidden_size": 16, "output_size": 1}},
     "metadata": {"format_version": 1, "model": "LSTMCell", ...}}

Both files are written atomically (a temporary file in the same folder, flushed, then
renamed), so a crash never leaves a half-written model. Loading builds the cell from an
allow-list of :mod:`dsp_rnn.cells` classes with the stored keyword arguments, then loads the
weights strictly; nothing in the folder is executed or unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dsp_rnn import cells
from dsp_rnn._atomic import write_bytes
from dsp_rnn._tensor_io import (
    CONFIG,
    FORMAT_VERSION,
    WEIGHTS,
    load_tensors,
    load_weights,
    save_tensors,
)
from dsp_rnn.errors import CheckpointError, DspRnnError

__all__ = ["CELL_CLASSES", "WEIGHTS", "CONFIG", "save_cell", "load_cell"]

#: Cell classes a config may name: the concrete ``*Cell`` classes :mod:`dsp_rnn.cells` exports.
CELL_CLASSES = tuple(n for n in cells.__all__ if n.endswith("Cell") and n != "Cell")
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def save_cell(
    cell: nn.Module,
    directory: str | Path,
    kwargs: dict[str, Any],
    *,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> tuple[Path, Path]:
    """Write ``cell`` to ``directory/weights.safetensors`` and ``directory/config.json``.

    Args:
        cell: a cell whose class is in :data:`CELL_CLASSES`.
        directory: the model folder (created if missing).
        kwargs: the constructor's keyword arguments (JSON values), so that
            ``type(cell)(**kwargs)`` builds a cell of the same shape.
        metadata: anything JSON-serialisable to keep with it (sample rate, ESR, data).
        overwrite: replace existing files (default ``False``: raise instead).

    Returns:
        The paths of the weights and of the config.

    Raises:
        DspRnnError: a file exists (without ``overwrite``), or the class or kwargs cannot
            be stored.

    Example:
        >>> import tempfile, torch
        >>> from dsp_rnn.cells import StateSpaceCell
        >>> cell = StateSpaceCell(2)
        >>> folder = tempfile.mkdtemp()
        >>> _ = save_cell(cell, folder, {"state_size": 2})
        >>> back, config = load_cell(folder)
        >>> bool(torch.equal(back.to_filter(), cell.to_filter())), config["cell"]
        (True, 'StateSpaceCell')
    """
    name = type(cell).__name__
    if name not in CELL_CLASSES:
        raise DspRnnError(f"cell: can save {', '.join(CELL_CLASSES)}, got {name}")
    dtype = next((p.dtype for p in cell.parameters() if p.is_floating_point()), torch.float32)
    config = {"cell": name, "kwargs": dict(kwargs), "dtype": str(dtype).replace("torch.", "")}
    meta = {"format_version": FORMAT_VERSION, "model": name, **(metadata or {})}
    try:
        text = json.dumps({"config": config, "metadata": meta}, indent=2, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise DspRnnError(f"config: kwargs and metadata must be JSON values ({exc})") from exc
    folder = Path(directory)
    weights, conf = folder / WEIGHTS, folder / CONFIG
    if not overwrite:
        for path in (weights, conf):
            if path.exists():
                raise DspRnnError(f"{path}: exists; pass overwrite=True to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    save_tensors(weights, cell.state_dict(), {"config": config, "metadata": meta})
    write_bytes(conf, (text + "\n").encode(), overwrite=True, error=CheckpointError)
    return weights, conf


def load_cell(directory: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Load a cell saved by :func:`save_cell`; returns ``(cell, config)`` (eval mode).

    ``config`` is ``{"cell", "kwargs", "dtype"}`` plus ``"metadata"``.

    Raises:
        CheckpointError: a missing or damaged file, a newer format, a class outside
            :data:`CELL_CLASSES`, or weights that do not fit the config.
    """
    folder = Path(directory)
    weights, conf = folder / WEIGHTS, folder / CONFIG
    for path in (conf, weights):
        if not path.is_file():
            raise CheckpointError(f"{path}: missing (expected {WEIGHTS} and {CONFIG})")
    try:
        data = json.loads(conf.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{conf}: not a readable JSON config ({exc})") from exc
    config = data.get("config") if isinstance(data, dict) else None
    if not isinstance(config, dict):
        raise CheckpointError(f"{conf}: expected an object with a 'config' entry")
    metadata = data.get("metadata", {})
    version = metadata.get("format_version", FORMAT_VERSION) if isinstance(metadata, dict) else 0
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{conf}: format version {version!r}, this dsp_rnn reads up to {FORMAT_VERSION}"
        )
    name, kwargs = config.get("cell"), config.get("kwargs")
    if name not in CELL_CLASSES or not hasattr(cells, str(name)):
        raise CheckpointError(f"{conf}: unknown cell class {name!r}")
    if not isinstance(kwargs, dict):
        raise CheckpointError(f"{conf}: expected 'kwargs' to be an object, got {kwargs!r}")
    dtype = _DTYPES.get(str(config.get("dtype")))
    if dtype is None:
        raise CheckpointError(
            f"{conf}: expected dtype float32 or float64, got {config.get('dtype')!r}"
        )
    try:
        cell = getattr(cells, name)(**kwargs).to(dtype)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{conf}: cannot build {name}(**{kwargs}) ({exc})") from exc
    state, _ = load_tensors(weights)
    load_weights(cell, state, source=weights, what=f"{name}(**{kwargs})")
    return cell, {**config, "metadata": metadata}
