"""Checkpoint files: safetensors tensors + JSON, written atomically, never unpickled.

A *model folder* holds ``weights.safetensors`` and ``config.json`` (``{"family": ...,
"config": {...}, "metadata": {...}}``; the same JSON is kept in the safetensors header, so
the weights file alone is enough). A *training state* is one safetensors file with every
tensor (weights, optimiser moments, torch RNG) and the rest as JSON in its header, so one
rename makes it atomic: a ``kill -9`` loses at most the interval since the last one.

``torch.load`` is never used: loading reads tensors and JSON only. Which model a folder
holds, and how to build it, is :mod:`dsp_rnn.training.registry`'s business; this module
only reads and writes the files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from dsp_rnn._atomic import write_bytes
from dsp_rnn._tensor_io import (
    CONFIG,
    FORMAT_VERSION,
    WEIGHTS,
    load_tensors,
    read_metadata,
    read_model_weights,
    save_tensors,
)
from dsp_rnn.errors import CheckpointError

__all__ = [
    "FORMAT_VERSION",
    "WEIGHTS",
    "CONFIG",
    "save_tensors",
    "load_tensors",
    "read_metadata",
    "write_model_files",
    "read_model_files",
    "resolve_model",
    "default_model_dir",
    "optimizer_to_tensors",
    "optimizer_from_tensors",
]

_PACKAGE = Path(__file__).resolve().parents[1]  # dsp_rnn/


def write_model_files(folder: str | Path, tensors: dict[str, torch.Tensor], *, family: str,
                      config: dict[str, Any], metadata: dict[str, Any]) -> Path:  # fmt: skip
    """Write a model folder: ``weights.safetensors`` (``tensors``, the JSON in its header)
    and ``config.json`` (``{"family", "config", "metadata"}``), each atomically, replacing
    old ones. The folder must exist.

    ``metadata`` gains ``format_version``. Returns the folder.
    """
    out = Path(folder)
    doc = {"family": family, "config": config,
           "metadata": {"format_version": FORMAT_VERSION, **metadata}}  # fmt: skip
    save_tensors(out / WEIGHTS, tensors, doc)
    text = json.dumps(doc, indent=2) + "\n"
    write_bytes(out / CONFIG, text.encode(), overwrite=True, error=CheckpointError)
    return out


def read_model_files(name_or_path: str | Path | None) -> tuple[Path, dict[str, torch.Tensor], dict]:
    """``(weights file, tensors, {"family"?, "config", "metadata"})`` of a model folder, a
    weights file or a shipped model name (``None`` = the shipped default).

    ``config.json`` beside the weights wins over the copy in the weights header.

    Raises:
        CheckpointError: missing or damaged files, no model config.
    """
    p = resolve_model(name_or_path)
    weights = p / WEIGHTS if p.is_dir() else p
    tensors, doc = read_model_weights(weights)
    return weights, tensors, doc


def default_model_dir() -> Path:
    """The default model shipped inside the package (``dsp_rnn/_models/default``); in a
    checkout without it, ``models/default`` beside the package."""
    inside = _PACKAGE / "_models" / "default"
    beside = _PACKAGE.parent / "models" / "default"
    return inside if inside.is_dir() or not beside.is_dir() else beside


def resolve_model(name_or_path: str | Path | None) -> Path:
    """A model folder or weights file from a path, a run folder, or a shipped model name.

    ``None`` or ``"default"`` is the shipped default model.

    Raises:
        CheckpointError: nothing of that name.
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
