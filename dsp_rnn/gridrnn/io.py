"""A GridRNN or GridEnsemble to and from the parts of a model folder.

The files themselves (safetensors weights, ``config.json``, atomic writes) are
:mod:`dsp_rnn.training.checkpoint`'s; this module says what a note-grid model puts in them
and builds the model back from them: ``config`` is the :class:`GridRNNConfig` as JSON,
``metadata["model"]`` names the class and ``metadata["ensemble_size"]`` the number of
members of a mixture. Nothing is executed or unpickled.

>>> m = GridRNN(GridRNNConfig(time_hidden=8, pitch_hidden=8))
>>> config, meta = checkpoint_parts(m)
>>> from_checkpoint(config, meta, m.state_dict(), source="x").config == m.config
True
"""

from __future__ import annotations

from typing import Any

import torch

from dsp_rnn._tensor_io import load_weights
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.gridrnn.config import GridRNNConfig
from dsp_rnn.gridrnn.ensemble import GridEnsemble
from dsp_rnn.gridrnn.model import GridRNN

__all__ = ["checkpoint_parts", "from_checkpoint"]


def checkpoint_parts(model: GridRNN | GridEnsemble) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config, metadata)`` that :func:`from_checkpoint` needs to rebuild ``model``."""
    meta: dict[str, Any] = {"model": type(model).__name__}
    if isinstance(model, GridEnsemble):
        meta["ensemble_size"] = len(model.members)
    return model.config.to_dict(), meta


def from_checkpoint(
    config: dict[str, Any],
    metadata: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    *,
    source: str,
) -> GridRNN | GridEnsemble:
    """The model (eval mode) of a model folder's config, metadata and weights.

    Args:
        config: the :class:`GridRNNConfig` as JSON.
        metadata: ``model`` (``"GridRNN"`` or ``"GridEnsemble"``) and, for a mixture,
            ``ensemble_size``.
        tensors: the ``state_dict``.
        source: the file, named in errors.

    Raises:
        CheckpointError: a bad config, or weights that do not fit it.
    """
    try:
        c = GridRNNConfig.from_dict(config)
        model: GridRNN | GridEnsemble
        if metadata.get("model") == "GridEnsemble":
            model = GridEnsemble(c, int(metadata.get("ensemble_size", 0)))
        else:
            model = GridRNN(c)
    except (InputError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: bad model config ({exc})") from None
    load_weights(model, tensors, source=source)
    return model
