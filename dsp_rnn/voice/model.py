"""The note-to-feature network of a learned voice: a causal GRU from the piano roll at the
frame rate to the frame vectors of an audio model.

Per frame ``t`` (:mod:`dsp_rnn.voice.roll`), the roll ``r_t`` (``n_keys x 6`` values) is
projected by a linear layer and ``tanh`` to ``x_t``, a GRU runs over the frames, and a
linear layer reads ``[h_t, x_t]`` to predict the frame vector ``v_t``
(:func:`~dsp_rnn.audio.frame_vectors`: cepstrum, log f0, periodicity, energy) normalised
per dimension, ``(v_t - mean) / std``, with ``mean`` and ``std`` of the training data kept
as buffers. Nothing reads a later frame, so the prediction at ``t`` depends on the notes
up to frame ``t`` only (causal in time). The sample model
(:class:`~dsp_rnn.audio.AudioRNN`) then renders the predicted features: one for the whole
mix, polyphony coming from the roll.

Training minimises the L1 distance of the normalised vectors (the median of what the audio
does for a given roll: YIN's pitch of a chord jumps between its notes, and a mean would
fall between them).

>>> import torch
>>> net = VoiceNet(VoiceNetConfig(hidden=8, projection=8))
>>> y, h = net(torch.zeros(2, 5, net.config.roll.input_size))
>>> y.shape, h.shape
(torch.Size([2, 5, 23]), torch.Size([1, 2, 8]))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from dsp_rnn._validate import as_tensor, check_finite, check_int
from dsp_rnn.audio.features import FeatureConfig
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.voice.roll import RollConfig

__all__ = ["VoiceNetConfig", "VoiceNet"]


@dataclass(frozen=True)
class VoiceNetConfig:
    """Sizes and data conventions of :class:`VoiceNet`.

    Args:
        features: the audio features it predicts (default
            :class:`~dsp_rnn.audio.FeatureConfig`: 20 bands, so 23 values per frame).
        roll: the piano roll it reads (default :class:`~dsp_rnn.voice.RollConfig` on the
            features' frames, keys 21..108).
        projection: width of the roll's projection, >= 1 (default 64).
        hidden: GRU units, >= 1 (default 128).
        layers: GRU layers, 1 or 2 (default 1).

    Raises:
        InputError: bad sizes, or a roll on other frames than the features'.
    """

    features: FeatureConfig = field(default_factory=FeatureConfig)
    roll: RollConfig | None = None
    projection: int = 64
    hidden: int = 128
    layers: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.features, FeatureConfig):
            raise InputError(f"features: expected a FeatureConfig, got {self.features!r}")
        f = self.features
        if self.roll is None:
            roll = RollConfig(sample_rate=f.sample_rate, hop_samples=f.hop_samples)
            object.__setattr__(self, "roll", roll)
        elif not isinstance(self.roll, RollConfig):
            raise InputError(f"roll: expected a RollConfig, got {self.roll!r}")
        r = self.roll_config
        if (r.sample_rate, r.hop_samples) != (f.sample_rate, f.hop_samples):
            raise InputError(
                f"roll: frames of {r.hop_samples} samples at {r.sample_rate} Hz, the "
                f"features' are {f.hop_samples} at {f.sample_rate} Hz"
            )
        check_int(self.projection, "projection", minimum=1)
        check_int(self.hidden, "hidden", minimum=1)
        check_int(self.layers, "layers", minimum=1, maximum=2)

    @property
    def roll_config(self) -> RollConfig:
        """The roll's config (``roll`` is never None after construction)."""
        return cast(RollConfig, self.roll)

    @property
    def vector_size(self) -> int:
        """Values per frame vector: ``n_bands + 3``."""
        return self.features.n_bands + 3

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VoiceNetConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            InputError: unknown keys or bad values.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        extra = set(data) - known
        if extra:
            raise InputError(f"VoiceNetConfig: unknown setting(s) {', '.join(sorted(extra))}")
        kwargs = dict(data)
        try:
            if isinstance(kwargs.get("features"), dict):
                kwargs["features"] = FeatureConfig(**kwargs["features"])
            if isinstance(kwargs.get("roll"), dict):
                kwargs["roll"] = RollConfig(**kwargs["roll"])
        except TypeError as exc:
            raise InputError(f"VoiceNetConfig: {exc}") from None
        return cls(**kwargs)


class VoiceNet(nn.Module):
    """The causal note-to-feature GRU of ``config`` (see the module's description).

    ``y, h = net(roll, h)``: ``roll (B, T, input_size)`` -> ``y (B, T, vector_size)``
    normalised frame vectors, ``h (layers, B, hidden)`` the GRU state after the block
    (``None`` = at rest), so a piece runs block by block with the results of one call.

    Properties: differentiable; CPU and CUDA; float32.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, config: VoiceNetConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or VoiceNetConfig()
        d = c.vector_size
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("std", torch.ones(d))
        self.project = nn.Linear(c.roll_config.input_size, c.projection)
        self.gru = nn.GRU(c.projection, c.hidden, c.layers, batch_first=True)
        self.head = nn.Linear(c.hidden + c.projection, d)

    def count_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def set_normalisation(self, mean: Any, std: Any) -> None:
        """Store the training data's per-dimension ``mean`` and ``std`` ``(vector_size,)``
        (physical units; every ``std > 0``)."""
        d = self.config.vector_size
        m = check_finite(as_tensor(mean, "mean", dtype=torch.float32), "mean")
        s = check_finite(as_tensor(std, "std", dtype=torch.float32), "std")
        if m.shape != (d,) or s.shape != (d,):
            raise ShapeError(f"mean, std: expected ({d},) each, got {tuple(m.shape)}, "
                             f"{tuple(s.shape)}")  # fmt: skip
        if bool((s <= 0).any()):
            raise InputError(f"std: expected every value > 0, got min {float(s.min())}")
        with torch.no_grad():
            self.mean.copy_(m)
            self.std.copy_(s)

    def normalise(self, vectors: torch.Tensor) -> torch.Tensor:
        """``(v - mean) / std`` on the last axis ``(..., vector_size)``."""
        return (vectors - self.mean) / self.std

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        """``x * std + mean`` on the last axis ``(..., vector_size)``: physical units."""
        return x * self.std + self.mean

    def forward(
        self, roll: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised frame vectors of every frame given the roll up to it.

        Args:
            roll: ``(B, T, input_size)`` the roll (:func:`~dsp_rnn.voice.note_roll`
                reshaped), ``T >= 1``.
            state: ``(layers, B, hidden)`` after the previous block, or None (at rest).

        Returns:
            ``(y, state)``: ``y (B, T, vector_size)`` and the state after the block.

        Raises:
            ShapeError: a roll of another width.
        """
        n_in = self.config.roll_config.input_size
        if roll.ndim != 3 or roll.shape[2] != n_in or roll.shape[1] == 0:
            raise ShapeError(f"roll: expected (batch, time >= 1, {n_in}), got "
                             f"{tuple(roll.shape)}")  # fmt: skip
        x = torch.tanh(self.project(roll.to(self.head.weight.dtype)))  # (B, T, P)
        h, state = self.gru(x, state)  # (B, T, H)
        return self.head(torch.cat([h, x], dim=-1)), state  # (B, T, D)

    @torch.no_grad()
    def vectors(self, roll: np.ndarray, state: torch.Tensor | None = None
                ) -> tuple[np.ndarray, torch.Tensor]:  # fmt: skip
        """Frame vectors in physical units for one piece's block of roll.

        Shape:
            ``roll (T, input_size)`` -> ``(T, vector_size)`` float64, and the state.
        """
        y, state = self(torch.from_numpy(np.asarray(roll, np.float32))[None], state)
        return self.denormalise(y[0]).double().numpy(), state
