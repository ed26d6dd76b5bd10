"""The biaxial GridRNN (Johnson 2017's form of the Grid LSTM of Kalchbrenner et al. 2015).

``logits = model(grid)`` runs the teacher-forced model over whole windows; ``log_prob(grid)``
is the exact log-likelihood by the chain rule over (time, pitch from low to high). Sampling
uses the same weights one step at a time (:meth:`GridRNN.time_step`,
:meth:`GridRNN.pitch_step`), see :mod:`dsp_rnn.gridrnn.sampler`.

Per note ``n`` at step ``t``::

    f  = time_features(step t-1)               (B, T, P, F)   neighbourhood, harmony, beat
                                                              (+ register, if configured)
    h  = TimeLSTM(f) over t, shared across n   (B, T, P, Ht)
    b  = below_features(step t, keys < n)      (B, T, P, Bf)  teacher forcing
    g  = PitchLSTM([h, b]) over n, shared over t (B, T, P, Hp)
    logits = W [g, h, f, b]                    (B, T, P, 2)   skip connections: h, f, b

Output 0 is the logit of P(play), output 1 of P(onset | play) (used when the config
models articulation). The time-only baseline drops ``b`` and ``g``.

References:
    D. D. Johnson, "Generating polyphonic music using tied parallel networks", EvoMUSART 2017.
    N. Kalchbrenner, I. Danihelka, A. Graves, "Grid Long Short-Term Memory", 2015.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dsp_rnn.errors import ShapeError
from dsp_rnn.gridrnn.config import GridRNNConfig
from dsp_rnn.gridrnn.features import (
    BELOW_SIZE,
    below_features,
    below_features_at,
    derive_onsets,
    time_feature_size,
    time_features,
)

__all__ = ["GridRNN", "GridState", "chain_log_prob"]


@dataclass
class GridState:
    """What the time axis carries from one step (or window) to the next.

    Attributes:
        lstm: time-LSTM ``(h, c)``, each ``(layers, batch * pitch, time_hidden)``.
        previous: ``(batch, pitch, 2)`` the last step seen.
        t: absolute index of the next step (for the beat position); a ``(batch,)`` tensor
            when windows of a batch start at different steps.
    """

    lstm: tuple[torch.Tensor, torch.Tensor] | None
    previous: torch.Tensor | None
    t: int | torch.Tensor = 0

    def detach(self) -> GridState:
        """Cut the graph (truncated BPTT)."""
        lstm = None if self.lstm is None else (self.lstm[0].detach(), self.lstm[1].detach())
        prev = None if self.previous is None else self.previous.detach()
        return GridState(lstm, prev, self.t)


class GridRNN(nn.Module):
    """Biaxial LSTM over a note grid, or the time-only baseline (``config.kind``).

    Args:
        config: a :class:`GridRNNConfig`.

    Shape:
        grid ``(batch, time, pitch, 2)`` float in {0, 1} (play, onset) -> logits of the same
        shape.

    Properties: differentiable; CPU and CUDA; float32 (float64 after ``.double()``).

    Example:
        >>> torch.manual_seed(0) is not None
        True
        >>> model = GridRNN(GridRNNConfig(time_hidden=8, time_layers=1, pitch_hidden=8,
        ...                               pitch_layers=1))
        >>> grid = torch.zeros(2, 5, 88, 2); grid[:, :, 39, 0] = 1.0
        >>> model(grid)[0].shape
        torch.Size([2, 5, 88, 2])
        >>> model.log_prob(grid).shape
        torch.Size([2])
    """

    def __init__(self, config: GridRNNConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.n_features = time_feature_size(c.neighbourhood, c.beat_period, c.register_features)
        drop = c.dropout if c.time_layers > 1 else 0.0
        self.time_lstm = nn.LSTM(self.n_features, c.time_hidden, c.time_layers,
                                 batch_first=True, dropout=drop)  # fmt: skip
        skip = c.time_hidden + self.n_features
        if c.kind == "biaxial":
            drop = c.dropout if c.pitch_layers > 1 else 0.0
            self.pitch_lstm: nn.LSTM | None = nn.LSTM(
                c.time_hidden + BELOW_SIZE, c.pitch_hidden, c.pitch_layers, batch_first=True,
                dropout=drop,
            )  # fmt: skip
            self.out_pitch: nn.Linear | None = nn.Linear(c.pitch_hidden + BELOW_SIZE, 2)
        else:
            self.pitch_lstm = None
            self.out_pitch = None
        self.out_time = nn.Linear(skip, 2, bias=c.kind != "biaxial")

    # ------------------------------------------------------------------ whole windows
    def prepare(self, grid: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
        """Check the shape; without articulation, rebuild onsets from play."""
        c = self.config
        if grid.ndim != 4 or grid.shape[2] != c.n_pitches or grid.shape[3] != 2:
            raise ShapeError(
                f"GridRNN: expected grid of shape (batch, time, {c.n_pitches}, 2), "
                f"got {tuple(grid.shape)}"
            )
        grid = grid.to(self.out_time.weight.dtype)
        if not c.articulation:
            prev = None if previous is None else previous[..., 0]
            grid = torch.stack([grid[..., 0], derive_onsets(grid[..., 0], prev)], -1)
        return grid

    def forward(
        self, grid: torch.Tensor, state: GridState | None = None
    ) -> tuple[torch.Tensor, GridState]:
        """Teacher-forced logits for every note of every step, and the state after the window.

        Args:
            grid: ``(batch, time, pitch, 2)``.
            state: the state after the previous window (None = start of a piece).
        """
        c = self.config
        prev = None if state is None else state.previous
        t0 = 0 if state is None else state.t
        grid = self.prepare(grid, prev)
        b, t, p, _ = grid.shape
        feats = time_features(grid, low_pitch=c.low_pitch, neighbourhood=c.neighbourhood,
                              beat_period=c.beat_period, t0=t0, previous=prev,
                              register=c.register_features)  # fmt: skip
        x = feats.permute(0, 2, 1, 3).reshape(b * p, t, self.n_features)  # (B*P, T, F)
        h, lstm = self.time_lstm(x, None if state is None else state.lstm)
        h = h.reshape(b, p, t, c.time_hidden).permute(0, 2, 1, 3)  # (B, T, P, Ht)
        logits = self.out_time(torch.cat([h, feats], -1))  # (B, T, P, 2)
        if self.pitch_lstm is not None and self.out_pitch is not None:
            below = below_features(grid, low_pitch=c.low_pitch)  # (B, T, P, Bf)
            xp = torch.cat([h, below], -1).reshape(b * t, p, -1)  # (B*T, P, Ht+Bf)
            g, _ = self.pitch_lstm(xp)
            g = g.reshape(b, t, p, c.pitch_hidden)
            logits = logits + self.out_pitch(torch.cat([g, below], -1))
        return logits, GridState(lstm, grid[:, -1], t0 + t)

    def note_log_probs(self, grid: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """Per-note log-probability terms ``(batch, time, pitch)`` of ``grid`` under ``logits``:
        ``log P(play)`` plus, with articulation, ``play * log P(onset | play)``."""
        grid = grid.to(logits.dtype)
        play = grid[..., 0]
        lp = -F.binary_cross_entropy_with_logits(logits[..., 0], play, reduction="none")
        if self.config.articulation:
            lo = -F.binary_cross_entropy_with_logits(logits[..., 1], grid[..., 1],
                                                     reduction="none")  # fmt: skip
            lp = lp + play * lo
        return lp

    def log_prob(
        self,
        grid: torch.Tensor,
        mask: torch.Tensor | None = None,
        state: GridState | None = None,
    ) -> torch.Tensor:
        """Exact log-likelihood of each grid, in nats, by the chain rule over (time, pitch).

        Args:
            grid: ``(batch, time, pitch, 2)``.
            mask: ``(batch, time)`` bool, the steps that count (padding excluded).
            state: continue from this state (default: start of a piece).

        Returns:
            ``(batch,)`` summed log-probabilities.
        """
        return chain_log_prob(self, grid, mask, state, None if state is None else state.previous)

    # ------------------------------------------------------------------ one step at a time
    def time_step(self, state: GridState) -> tuple[torch.Tensor, torch.Tensor, GridState]:
        """Advance the time axis by one step from ``state.previous``.

        Returns:
            ``h (batch, pitch, time_hidden)``, ``feats (batch, pitch, F)`` and the new state
            (its ``previous`` is still the old step: set it with :meth:`commit`).
        """
        c = self.config
        prev = state.previous
        if prev is None:
            raise ShapeError("GridRNN.time_step: the state has no previous step (use begin)")
        b, p, _ = prev.shape
        dummy = prev[:, None]  # the features of step t only read step t-1 (= previous)
        feats = time_features(
            dummy,
            low_pitch=c.low_pitch,
            neighbourhood=c.neighbourhood,
            beat_period=c.beat_period,
            t0=state.t,
            previous=prev,
            register=c.register_features,
        )[:, 0]
        h, lstm = self.time_lstm(feats.reshape(b * p, 1, -1), state.lstm)
        return h.reshape(b, p, c.time_hidden), feats, GridState(lstm, prev, state.t)

    def begin(self, batch_size: int) -> GridState:
        """The state before the first step of a piece (silence before it)."""
        w = self.out_time.weight
        prev = torch.zeros(batch_size, self.config.n_pitches, 2, dtype=w.dtype, device=w.device)
        return GridState(None, prev, 0)

    @staticmethod
    def commit(state: GridState, step: torch.Tensor) -> GridState:
        """The state after ``step (batch, pitch, 2)`` has been decided."""
        return GridState(state.lstm, step, state.t + 1)

    def pitch_step(
        self,
        h: torch.Tensor,
        feats: torch.Tensor,
        current: torch.Tensor,
        n: int,
        pitch_state: tuple[torch.Tensor, torch.Tensor] | None,
        base: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """Logits ``(batch, 2)`` of key ``n`` given keys ``< n`` of ``current (batch, pitch, 2)``.

        ``base`` = ``out_time([h, feats])`` for all keys ``(batch, pitch, 2)`` may be passed
        precomputed (it does not depend on the keys below).
        """
        if base is None:
            base = self.out_time(torch.cat([h, feats], -1))
        if self.pitch_lstm is None or self.out_pitch is None:
            return base[:, n], None
        below = below_features_at(current, n, low_pitch=self.config.low_pitch)  # (B, Bf)
        x = torch.cat([h[:, n], below], -1)[:, None]  # (B, 1, Ht+Bf)
        g, pitch_state = self.pitch_lstm(x, pitch_state)
        return base[:, n] + self.out_pitch(torch.cat([g[:, 0], below], -1)), pitch_state

    def count_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def chain_log_prob(
    model: Any,
    grid: torch.Tensor,
    mask: torch.Tensor | None,
    state: Any,
    previous: torch.Tensor | None,
) -> torch.Tensor:
    """Exact log-likelihood of each grid by the chain rule, in nats: the body of
    :meth:`GridRNN.log_prob` and of the mixture's, for any model with their interface
    (``prepare``, teacher-forced ``forward``, ``note_log_probs``).

    Args:
        model: a :class:`GridRNN` or a :class:`~dsp_rnn.gridrnn.GridEnsemble`.
        grid: ``(batch, time, pitch, 2)``.
        mask: ``(batch, time)`` bool, the steps that count (None: all).
        state: the model's state to continue from (None: the start of a piece).
        previous: the step before ``grid`` that ``state`` holds (None with ``state=None``).

    Returns:
        ``(batch,)`` summed log-probabilities.
    """
    grid = model.prepare(grid, previous)
    logits, _ = model(grid, state)
    lp = model.note_log_probs(grid, logits).sum(-1)  # (B, T)
    if mask is not None:
        lp = lp * mask.to(lp.dtype)
    return lp.sum(-1)
