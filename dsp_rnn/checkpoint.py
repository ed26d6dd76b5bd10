"""Checkpoints: safetensors tensors + JSON, written atomically, never unpickled.

A *model folder* holds ``weights.safetensors`` and ``config.json`` (``{"config": {...},
"metadata": {...}}``; the config is also kept in the safetensors header, so the weights file
alone is enough). A *training state* is one safetensors file with every tensor (weights,
optimiser moments, torch RNG) and the rest as JSON in its header, so one ``os.replace``
makes it atomic: a ``kill -9`` loses at most the interval since the last one.

``torch.load`` is never used: loading reads tensors and JSON only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from dsp_rnn.errors import CheckpointError

__all__ = [
    "FORMAT_VERSION",
    "WEIGHTS",
    "CONFIG",
    "atomic_write_bytes",
    "save_tensors",
    "load_tensors",
    "read_metadata",
    "save_model",
    "load_model",
    "resolve_model",
    "default_model_dir",
    "optimizer_to_tensors",
    "optimizer_from_tensors",
]

FORMAT_VERSION = 1
WEIGHTS = "weights.safetensors"
CONFIG = "config.json"


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.part")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    except BaseException:  # an error or an interrupt: leave no half-written file behind
        tmp.unlink(missing_ok=True)
        raise
    return out


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """One safetensors file: ``tensors`` plus ``meta`` (JSON) in the header, atomically.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> p = save_tensors(f"{d}/x.safetensors", {"a": torch.arange(3.0)}, {"step": 7})
    >>> t, m = load_tensors(p); t["a"].tolist(), m["step"]
    ([0.0, 1.0, 2.0], 7)
    """
    from safetensors.torch import save

    clean = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    header = {"json": json.dumps(meta), "format_version": str(FORMAT_VERSION)}
    return atomic_write_bytes(path, save(clean, metadata=header))


def load_tensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Inverse of :func:`save_tensors`. Raises :class:`CheckpointError` on a bad file."""
    return _read(path, with_tensors=True)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The JSON of a :func:`save_tensors` file, reading its header only (no tensors).

    Raises :class:`CheckpointError` on a missing or damaged file.
    """
    return _read(path, with_tensors=False)[1]


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


def default_model_dir() -> Path:
    """The default model shipped inside the package (``dsp_rnn/_models/default``); in a
    checkout without it, ``models/default`` beside the package."""
    inside = Path(__file__).resolve().parent / "_models" / "default"
    beside = Path(__file__).resolve().parent.parent / "models" / "default"
    return inside if inside.is_dir() or not beside.is_dir() else beside


def resolve_model(name_or_path: str | Path | None) -> Path:
    """A model folder or weights file from a path, a run folder, or a shipped model name.

    ``None`` or ``"default"`` is the shipped default model.
    """
    if name_or_path is None or str(name_or_path) == "default":
        return default_model_dir()
    p = Path(name_or_path)
    if p.exists():
        return p
    shipped = default_model_dir().parent / str(name_or_path)
    if not p.is_absolute() and shipped.is_dir():
        return shipped
    raise CheckpointError(f"{p}: no such model folder, weights file or shipped model name")


def save_model(folder: str | Path, model: torch.nn.Module, metadata: dict[str, Any]) -> Path:
    """Write ``weights.safetensors`` and ``config.json`` into ``folder`` (each atomically).

    The model must have a ``config`` with ``to_dict()`` (e.g. :class:`GridRNN`).
    """
    out = Path(folder)
    config = model.config.to_dict()  # type: ignore[union-attr,operator]
    meta = {"format_version": FORMAT_VERSION, "model": type(model).__name__, **metadata}
    members = getattr(model, "members", None)
    if members is not None:  # a GridEnsemble: how many GridRNNs to build before loading
        meta["ensemble_size"] = len(members)
    save_tensors(out / WEIGHTS, model.state_dict(), {"config": config, "metadata": meta})
    text = json.dumps({"config": config, "metadata": meta}, indent=2) + "\n"
    atomic_write_bytes(out / CONFIG, text.encode())
    return out


def load_model(name_or_path: str | Path | None = None):
    """Load a :class:`~dsp_rnn.gridrnn.GridRNN` or a
    :class:`~dsp_rnn.gridrnn.GridEnsemble` (eval mode) and its metadata.

    Args:
        name_or_path: a model folder (``weights.safetensors`` + ``config.json``), a weights
            file, or a shipped model name; ``None`` = the shipped default.

    Returns:
        ``(model, metadata)``.

    Raises:
        CheckpointError: missing or damaged files, weights that do not fit the config.
    """
    from dsp_rnn.errors import InputError
    from dsp_rnn.gridrnn.config import GridRNNConfig
    from dsp_rnn.gridrnn.model import GridRNN

    p = resolve_model(name_or_path)
    weights = p / WEIGHTS if p.is_dir() else p
    tensors, meta = load_tensors(weights)
    config_file = weights.parent / CONFIG
    if config_file.is_file():
        try:
            meta = json.loads(config_file.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{config_file}: unreadable config ({exc})") from None
    if "config" not in meta:
        raise CheckpointError(f"{weights}: no model config in {CONFIG} or in the weights header")
    info = meta.get("metadata", {})
    try:
        config = GridRNNConfig.from_dict(meta["config"])
        if info.get("model") == "GridEnsemble":
            from dsp_rnn.gridrnn.ensemble import GridEnsemble

            model: torch.nn.Module = GridEnsemble(config, int(info.get("ensemble_size", 0)))
        else:
            model = GridRNN(config)
    except (InputError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{weights}: bad model config ({exc})") from None
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "mismatch"
        raise CheckpointError(f"{weights}: weights do not fit the config ({first})") from None
    model.eval()
    return model, dict(meta.get("metadata", {}))


def optimizer_to_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimiser's state as ``(tensors, json)`` (tensor values split out by name)."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    state_json: dict[str, dict[str, Any]] = {}
    for idx, entry in sd["state"].items():
        state_json[str(idx)] = {}
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{idx}.{key}"] = value
                state_json[str(idx)][key] = {"tensor": f"{idx}.{key}"}
            else:
                state_json[str(idx)][key] = value
    return tensors, {"state": state_json, "param_groups": sd["param_groups"]}


def optimizer_from_tensors(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], data: dict
) -> None:
    """Inverse of :func:`optimizer_to_tensors`: load the state into ``opt``."""
    state: dict[int, dict[str, Any]] = {}
    for idx, entry in data["state"].items():
        state[int(idx)] = {
            k: tensors[v["tensor"]] if isinstance(v, dict) and "tensor" in v else v
            for k, v in entry.items()
        }
    groups = [
        {k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in data["param_groups"]
    ]
    opt.load_state_dict({"state": state, "param_groups": groups})
