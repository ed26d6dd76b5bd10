"""Learned voices in the registry: the note-to-feature network (:class:`~dsp_rnn.voice.VoiceNet`)
of a voice folder loads from its ``config.json`` (the :class:`~dsp_rnn.voice.VoiceNetConfig`
as JSON) and safetensors weights, nothing unpickled. A voice plays notes rather than
writing a piece: ``dsp-rnn render IN.mid OUT.wav --voice VOICE`` and ``dsp-rnn generate
--out x.wav --voice VOICE`` use it (:func:`dsp_rnn.voice.load_voice` reads the folder with
its sample model).

>>> from dsp_rnn.voice import VoiceNet, VoiceNetConfig
>>> net = VoiceNet(VoiceNetConfig(hidden=8, projection=8))
>>> config, meta = VOICE.parts(net)
>>> VOICE.load(config, meta, net.state_dict(), source="x").config == net.config
True
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dsp_rnn._tensor_io import load_weights
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.training.generate import Generated, GenerateRequest
from dsp_rnn.training.registry import Family
from dsp_rnn.voice.model import VoiceNet, VoiceNetConfig
from dsp_rnn.voice.task import FAMILY

__all__ = ["VOICE"]


def _parts(model: VoiceNet) -> tuple[dict[str, Any], dict[str, Any]]:
    return model.config.to_dict(), {"model": "VoiceNet"}


def _load(config: dict[str, Any], metadata: dict[str, Any], tensors: dict[str, torch.Tensor],
          *, source: str) -> nn.Module:  # fmt: skip
    try:
        model = VoiceNet(VoiceNetConfig.from_dict(config))
    except (InputError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: bad voice config ({exc})") from None
    load_weights(model, tensors, source=source)
    return model.eval()


def _generate(model: VoiceNet, request: GenerateRequest) -> Generated:
    """A voice plays notes; it does not write pieces: say how to use it."""
    if request.flag_style == "cli":
        how = ("dsp-rnn generate --out x.wav --voice VOICE (a note-grid model writes the "
               "notes) or dsp-rnn render IN.mid OUT.wav --voice VOICE")  # fmt: skip
    else:
        how = "dsp_rnn.voice.render_voice_file(load_voice(VOICE), notes, path)"
    raise InputError(f"a learned voice plays notes, it does not write them: use {how}")


VOICE = Family(
    name=FAMILY,
    model_types=(VoiceNet,),
    load=_load,
    parts=_parts,
    generate=_generate,
    describe="learned voices' note-to-feature networks (VoiceNet): notes to audio features "
    "for a sample model",
)
