"""The model registry: one :func:`load_model` for every model family.

A model folder's ``config.json`` names its family (``"family": "gridrnn"``; folders written
before families existed have none and are note-grid models). Each family registers a
:class:`Family`: how to build its model from the folder's parts, what to save, how to
generate a file from it and how to evaluate it. :func:`load_model`,
:func:`~dsp_rnn.training.generate` and ``dsp-rnn eval`` dispatch through it, so they hold
no per-family code.

>>> sorted(families())
['audio', 'gridrnn', 'srnn', 'voice']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.training.checkpoint import CONFIG, read_model_files, write_model_files

if TYPE_CHECKING:
    from dsp_rnn.training.generate import Evaluation, Generated, GenerateRequest

__all__ = ["Family", "register", "unregister", "families", "get_family", "family_of",
           "load_model", "save_model", "LEGACY_FAMILY"]  # fmt: skip

LEGACY_FAMILY = "gridrnn"
"""The family of model folders whose ``config.json`` names none (written before families)."""


@dataclass(frozen=True)
class Family:
    """What a model family gives the registry.

    Attributes:
        name: the family's name, as ``config.json`` holds it (``"gridrnn"``).
        model_types: the classes of its models (to find the family of a model to save).
        load: ``load(config, metadata, tensors, source=...)``: the model in eval mode from a
            folder's parts (``source`` names the file in errors; raise ``CheckpointError``).
        parts: ``parts(model) -> (config, metadata)`` to save beside the weights.
        generate: ``generate(model, request) -> Generated``: write a piece to a file.
        evaluate: ``evaluate(model, data, **options) -> Evaluation``: metrics on a data set.
        describe: one line about the family, for error messages and listings.
    """

    name: str
    model_types: tuple[type, ...]
    load: Callable[..., nn.Module]
    parts: Callable[[Any], tuple[dict[str, Any], dict[str, Any]]]
    generate: Callable[[Any, GenerateRequest], Generated] | None = None
    evaluate: Callable[..., Evaluation] | None = None
    describe: str = ""


_FAMILIES: dict[str, Family] = {}


def register(family: Family, *, replace: bool = False) -> None:
    """Add ``family`` to the registry.

    Raises:
        InputError: a family of that name is registered and ``replace`` is False.
    """
    if family.name in _FAMILIES and not replace:
        raise InputError(f"model family {family.name!r} is already registered; pass "
                         "replace=True to replace it")  # fmt: skip
    _FAMILIES[family.name] = family


def unregister(name: str) -> Family:
    """Remove the family called ``name`` from the registry and return it (the undoing of
    :func:`register`, for a plug-in or a test that cleans up after itself). A built-in
    family comes back on the next look-up.

    Raises:
        InputError: no family of that name is registered.
    """
    if name not in _FAMILIES:
        raise InputError(f"model family {name!r} is not registered; registered: "
                         f"{', '.join(sorted(_FAMILIES)) or 'none'}")  # fmt: skip
    return _FAMILIES.pop(name)


def _builtins() -> None:
    if LEGACY_FAMILY not in _FAMILIES:
        from dsp_rnn.training.gridrnn_family import GRIDRNN

        register(GRIDRNN)
    if "audio" not in _FAMILIES:
        from dsp_rnn.training.audio_family import AUDIO

        register(AUDIO)
    if "srnn" not in _FAMILIES:
        from dsp_rnn.training.srnn_family import SRNN_FAMILY

        register(SRNN_FAMILY)
    if "voice" not in _FAMILIES:
        from dsp_rnn.training.voice_family import VOICE

        register(VOICE)


def families() -> dict[str, Family]:
    """The registered families by name."""
    _builtins()
    return dict(_FAMILIES)


def get_family(name: str, *, source: str | Path | None = None) -> Family:
    """The family called ``name``.

    Raises:
        CheckpointError: no such family (the message names ``source`` and the known ones).
    """
    known = families()
    if name not in known:
        where = f"{source}: " if source is not None else ""
        raise CheckpointError(f"{where}unknown model family {name!r}; this dsp_rnn knows "
                              f"{', '.join(sorted(known))}")  # fmt: skip
    return known[name]


def family_of(model: nn.Module) -> Family:
    """The family whose ``model_types`` include ``model``'s class.

    Raises:
        InputError: a model of no registered family.
    """
    for family in families().values():
        if isinstance(model, family.model_types):
            return family
    raise InputError(f"{type(model).__name__}: not a model of a registered family "
                     f"({', '.join(sorted(families()))})")  # fmt: skip


def load_model(name_or_path: str | Path | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Load a model of any registered family (eval mode) and its metadata.

    Args:
        name_or_path: a model folder or run folder (``weights.safetensors`` +
            ``config.json``), a weights file, or a shipped model name; ``None`` or
            ``"default"`` = the shipped default (a note-grid mixture).

    Returns:
        ``(model, metadata)``; ``metadata["family"]`` names its family.

    Raises:
        CheckpointError: missing or damaged files, an unknown family, weights that do not
            fit the config.

    >>> model, meta = load_model()
    >>> meta["family"], type(model).__name__
    ('gridrnn', 'GridEnsemble')
    """
    weights, tensors, doc = read_model_files(name_or_path)
    name = doc.get("family", LEGACY_FAMILY)
    source = weights.parent / CONFIG if (weights.parent / CONFIG).is_file() else weights
    family = get_family(str(name), source=source)
    metadata = doc.get("metadata") or {}
    if not isinstance(metadata, dict) or not isinstance(doc["config"], dict):
        raise CheckpointError(f"{source}: config and metadata must be JSON objects")
    model = family.load(doc["config"], metadata, tensors, source=str(weights))
    return model, {**metadata, "family": family.name}


def save_model(folder: str | Path, model: nn.Module, metadata: dict[str, Any]) -> Path:
    """Write ``model`` into ``folder`` (created if missing; ``weights.safetensors`` +
    ``config.json``, each atomically, replacing old ones), loadable by :func:`load_model`.

    Raises:
        InputError: a model of no registered family.
    """
    family = family_of(model)
    config, extra = family.parts(model)
    state: dict[str, torch.Tensor] = model.state_dict()
    Path(folder).mkdir(parents=True, exist_ok=True)
    return write_model_files(folder, state, family=family.name, config=config,
                             metadata={**extra, **metadata})  # fmt: skip
