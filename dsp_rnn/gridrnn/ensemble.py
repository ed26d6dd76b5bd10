"""A mixture of GridRNNs: every conditional note probability is the members' mean.

``P(play | past, keys below) = mean_m P_m(play | ...)`` is itself a proper conditional, so
the mixture is an autoregressive model with an exact likelihood by the same chain rule and
the same sampler; members that err differently (trained from other seeds) give a better
likelihood than any of them. With articulation the onset mixes as a conditional too:
``P(onset | play) = mean_m P_m(play) P_m(onset | play) / mean_m P_m(play)``.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dsp_rnn._validate import check_int
from dsp_rnn.errors import InputError
from dsp_rnn.gridrnn.config import GridRNNConfig
from dsp_rnn.gridrnn.model import GridRNN, GridState, chain_log_prob

__all__ = ["GridEnsemble", "mix_logits"]


def mix_logits(logits: list[torch.Tensor], articulation: bool) -> torch.Tensor:
    """Logits ``(..., 2)`` of the mixture of the members' logits (play, onset | play),
    computed in log space (exact, no overflow). TorchScript-compatible: the sampler's
    compiled pitch loop calls it for every key."""
    if len(logits) == 1:
        return logits[0]
    stacked = torch.stack(logits)  # (M, ..., 2)
    on = F.logsigmoid(stacked[..., 0])
    play = torch.logsumexp(on, 0) - torch.logsumexp(F.logsigmoid(-stacked[..., 0]), 0)
    if articulation:
        onset = torch.logsumexp(on + F.logsigmoid(stacked[..., 1]), 0) - torch.logsumexp(
            on + F.logsigmoid(-stacked[..., 1]), 0
        )
    else:
        onset = torch.logsumexp(stacked[..., 1], 0) - math.log(len(logits))  # unused then
    return torch.stack([play, onset], -1)


class GridEnsemble(nn.Module):
    """``n_members`` GridRNNs of one config, mixed note by note.

    The same interface as :class:`GridRNN` for likelihoods (``forward``, ``log_prob``,
    ``note_log_probs``) and for :func:`~dsp_rnn.gridrnn.sample`; its state is the list of
    the members' states.
    """

    def __init__(self, config: GridRNNConfig, n_members: int) -> None:
        super().__init__()
        n_members = check_int(n_members, "n_members", minimum=1)
        self.config = config
        self.members = nn.ModuleList(GridRNN(config) for _ in range(n_members))

    @classmethod
    def from_models(cls, models: Sequence[GridRNN]) -> GridEnsemble:
        """Mix trained models; their configs must agree (dropout aside)."""
        if not models:
            raise InputError("from_models: expected at least one model")

        def key(m: GridRNN) -> dict:
            return {k: v for k, v in m.config.to_dict().items() if k != "dropout"}

        for i, m in enumerate(models[1:], 1):
            if key(m) != key(models[0]):
                raise InputError(f"models[{i}]: config differs from models[0]'s: {key(m)}")
        out = cls(models[0].config, len(models))
        for dst, src in zip(out.members, models, strict=True):
            dst.load_state_dict(src.state_dict())
        return out.eval()

    @property
    def models(self) -> list[GridRNN]:
        """The members, typed."""
        return [typing.cast(GridRNN, m) for m in self.members]

    def prepare(self, grid: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
        return self.models[0].prepare(grid, previous)

    def forward(
        self, grid: torch.Tensor, state: list[GridState] | None = None
    ) -> tuple[torch.Tensor, list[GridState]]:
        """Teacher-forced mixture logits ``(batch, time, pitch, 2)`` and the members' states."""
        states = state if state is not None else [None] * len(self.members)
        outs = [m(grid, s) for m, s in zip(self.models, states, strict=True)]
        logits = mix_logits([lg for lg, _ in outs], self.config.articulation)
        return logits, [s for _, s in outs]

    def note_log_probs(self, grid: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return self.models[0].note_log_probs(grid, logits)

    def log_prob(
        self,
        grid: torch.Tensor,
        mask: torch.Tensor | None = None,
        state: list[GridState] | None = None,
    ) -> torch.Tensor:
        """Exact log-likelihood of each grid under the mixture, in nats ``(batch,)``."""
        previous = None if state is None else state[0].previous
        return chain_log_prob(self, grid, mask, state, previous)

    def count_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
