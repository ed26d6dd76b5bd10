"""Per-note input features of the biaxial GridRNN (pure functions, no parameters).

Two families, both causal in the chain-rule order (time, then pitch from low to high):

* time features of note ``n`` at step ``t`` look at step ``t - 1`` only: the play/onset
  neighbourhood ``n - k .. n + k``, the pitch-class histogram relative to the note, plus
  constants (pitch class one-hot, pitch position) and the beat position of step ``t``;
  optionally (``register=True``) the absolute register of step ``t - 1``: its lowest,
  highest and mean sounding key, a silent-step flag and the note's distance to the lowest
  and highest key (:func:`register_features`);
* below features of note ``n`` at step ``t`` look at the notes already decided at step ``t``
  below ``n``: the note just below (play, onset), the play window ``n - 12 .. n - 1``, the
  pitch-class histogram of the notes below relative to ``n``, and their count.

Shape convention: a grid tensor is ``(batch, time, pitch, 2)`` float, the last axis
``(play, onset)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "time_feature_size",
    "BELOW_SIZE",
    "REGISTER_SIZE",
    "register_features",
    "time_features",
    "below_features",
    "below_features_at",
    "derive_onsets",
]

BELOW_WINDOW = 12
BELOW_SIZE = 2 + BELOW_WINDOW + 12 + 1
REGISTER_SIZE = 6
REGISTER_DISTANCE_SCALE = 24.0


def time_feature_size(neighbourhood: int, beat_period: int, register: bool = False) -> int:
    """Features per note from the previous step: ``2 (2k+1) + 12 + 12 + 1 + beat_period``,
    plus ``REGISTER_SIZE`` with ``register``.

    >>> time_feature_size(12, 4), time_feature_size(12, 4, register=True)
    (79, 85)
    """
    size = 2 * (2 * neighbourhood + 1) + 12 + 12 + 1 + beat_period
    return size + (REGISTER_SIZE if register else 0)


def register_features(prev_play: torch.Tensor) -> torch.Tensor:
    """Absolute register of a step, seen by every note of the next step.

    Per note ``n``: ``lowest / (P-1)``, ``highest / (P-1)``, ``mean / (P-1)`` of the keys
    sounding in ``prev_play``, a flag for a silent step, and ``(n - lowest) / 24``,
    ``(highest - n) / 24`` (semitones in two octaves). A silent step gives zeros and the flag.

    Shape: prev_play ``(..., pitch)`` in {0, 1} -> ``(..., pitch, REGISTER_SIZE)``.

    >>> play = torch.zeros(88); play[[39, 51]] = 1.0
    >>> f = register_features(play)
    >>> [round(float(v), 3) for v in f[39]]
    [0.448, 0.586, 0.517, 0.0, 0.0, 0.5]
    >>> register_features(torch.zeros(88))[5].tolist()
    [0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    """
    p = prev_play.shape[-1]
    keys = torch.arange(p, device=prev_play.device, dtype=prev_play.dtype)
    on = prev_play > 0
    any_on = on.any(-1, keepdim=True)  # (..., 1)
    big = torch.full_like(prev_play, float(p))
    lowest = torch.where(on, keys.expand_as(prev_play), big).amin(-1, keepdim=True)
    highest = torch.where(on, keys.expand_as(prev_play), -big).amax(-1, keepdim=True)
    count = prev_play.sum(-1, keepdim=True)
    mean = (prev_play * keys).sum(-1, keepdim=True) / count.clamp_min(1.0)
    zero = torch.zeros_like(count)
    lowest = torch.where(any_on, lowest, zero)
    highest = torch.where(any_on, highest, zero)
    mask = any_on.to(prev_play.dtype)
    scale = float(max(p - 1, 1))
    per_step = torch.cat([lowest / scale, highest / scale, mean / scale, 1.0 - mask], -1)
    below = torch.where(any_on, (keys - lowest) / REGISTER_DISTANCE_SCALE, zero)  # (..., P)
    above = torch.where(any_on, (highest - keys) / REGISTER_DISTANCE_SCALE, zero)
    per_step = per_step[..., None, :].expand(*prev_play.shape, 4)
    return torch.cat([per_step, below[..., None], above[..., None]], -1)


def derive_onsets(play: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
    """Onsets of data without articulation: play now and not at the step before.

    Shape: play ``(batch, time, pitch)``; previous ``(batch, pitch)`` (the step before the
    first, default silence) -> ``(batch, time, pitch)``.

    >>> derive_onsets(torch.tensor([[[1.0], [1.0], [0.0], [1.0]]])).flatten().tolist()
    [1.0, 0.0, 0.0, 1.0]
    """
    before = torch.zeros_like(play[:, :1]) if previous is None else previous[:, None]
    shifted = torch.cat([before, play[:, :-1]], 1)
    return play * (1 - shifted)


def _relative_pc(hist: torch.Tensor, low_pitch: int, n_pitches: int) -> torch.Tensor:
    """``hist (..., 12)`` absolute pitch-class counts -> ``(..., pitch, 12)`` relative to each
    note: entry ``j`` counts pitch class ``pc(note) + j``."""
    pcs = (torch.arange(n_pitches, device=hist.device) + low_pitch) % 12
    index = (pcs[:, None] + torch.arange(12, device=hist.device)) % 12  # (P, 12)
    return hist[..., index]  # (..., P, 12)


def _pc_onehot(low_pitch: int, n_pitches: int, device, dtype) -> torch.Tensor:
    pcs = (torch.arange(n_pitches, device=device) + low_pitch) % 12
    return F.one_hot(pcs, 12).to(dtype)  # (P, 12)


def time_features(
    grid: torch.Tensor,
    *,
    low_pitch: int,
    neighbourhood: int,
    beat_period: int,
    t0: int | torch.Tensor = 0,
    previous: torch.Tensor | None = None,
    register: bool = False,
) -> torch.Tensor:
    """Features of every note at every step from the step before it.

    Args:
        grid: ``(batch, time, pitch, 2)`` play/onset in {0, 1}.
        low_pitch: MIDI pitch of key 0.
        neighbourhood: semitones either side seen at the previous step.
        beat_period: steps per bar (beat position is ``(t0 + t) mod beat_period``).
        t0: absolute index of the first step (int or ``(batch,)`` tensor).
        previous: ``(batch, pitch, 2)``, the step before the first (default silence).
        register: append :func:`register_features` of the step before (default off).

    Shape:
        -> ``(batch, time, pitch, time_feature_size(neighbourhood, beat_period, register))``.

    >>> g = torch.zeros(1, 3, 88, 2)
    >>> time_features(g, low_pitch=21, neighbourhood=12, beat_period=4).shape
    torch.Size([1, 3, 88, 79])
    """
    b, t, p, _ = grid.shape
    before = torch.zeros_like(grid[:, :1]) if previous is None else previous[:, None]
    prev = torch.cat([before, grid[:, :-1]], 1)  # (B, T, P, 2)
    k = neighbourhood
    padded = F.pad(prev, (0, 0, k, k))  # (B, T, P + 2k, 2)
    neigh = padded.unfold(2, 2 * k + 1, 1)  # (B, T, P, 2, 2k+1)
    neigh = neigh.reshape(b, t, p, 2 * (2 * k + 1))
    onehot = _pc_onehot(low_pitch, p, grid.device, grid.dtype)  # (P, 12)
    hist = prev[..., 0] @ onehot  # (B, T, 12)
    rel = _relative_pc(hist, low_pitch, p)  # (B, T, P, 12)
    position = (torch.arange(p, device=grid.device, dtype=grid.dtype) / p)[:, None]
    const = torch.cat([onehot, position], 1).expand(b, t, p, 13)
    steps = torch.as_tensor(t0, device=grid.device).reshape(-1, 1) + torch.arange(
        t, device=grid.device
    )  # (B or 1, T)
    beat = F.one_hot(steps % beat_period, beat_period).to(grid.dtype)
    beat = beat.expand(b, t, beat_period)[:, :, None].expand(b, t, p, beat_period)
    if register:
        return torch.cat([neigh, rel, const, beat, register_features(prev[..., 0])], -1)
    return torch.cat([neigh, rel, const, beat], -1)


def below_features(grid: torch.Tensor, *, low_pitch: int) -> torch.Tensor:
    """Features of every note from the notes below it at the same step (teacher forcing).

    Shape: grid ``(batch, time, pitch, 2)`` -> ``(batch, time, pitch, BELOW_SIZE)``.

    >>> g = torch.zeros(1, 1, 88, 2); g[0, 0, 40] = 1.0
    >>> f = below_features(g, low_pitch=21)
    >>> f[0, 0, 41, :2].tolist(), float(f[0, 0, 41, -1]), float(f[0, 0, 40, -1])
    ([1.0, 1.0], 0.25, 0.0)
    """
    b, t, p, _ = grid.shape
    below = F.pad(grid, (0, 0, 1, 0))[:, :, :p]  # (B, T, P, 2): the note just below
    play = grid[..., 0]
    window = F.pad(play, (BELOW_WINDOW, 0)).unfold(2, BELOW_WINDOW, 1)[:, :, :p]  # (B,T,P,12)
    onehot = _pc_onehot(low_pitch, p, grid.device, grid.dtype)
    cum = torch.cumsum(play[..., None] * onehot, 2)  # inclusive (B, T, P, 12)
    cum = F.pad(cum, (0, 0, 1, 0))[:, :, :p]  # exclusive: strictly below
    pcs = (torch.arange(p, device=grid.device) + low_pitch) % 12
    index = (pcs[:, None] + torch.arange(12, device=grid.device)) % 12  # (P, 12)
    rel = torch.gather(cum, 3, index.expand(b, t, p, 12))
    count = rel.sum(-1, keepdim=True) / 4.0
    return torch.cat([below, window, rel, count], -1)


def below_features_at(current: torch.Tensor, n: int, *, low_pitch: int) -> torch.Tensor:
    """:func:`below_features` of note ``n`` alone, from a partly decided step (sampling).

    Args:
        current: ``(batch, pitch, 2)``; only keys ``< n`` are read.
        n: the key being decided.

    Shape: -> ``(batch, BELOW_SIZE)``.
    """
    b, p, _ = current.shape
    below = current[:, n - 1] if n > 0 else current.new_zeros(b, 2)
    play = current[:, :n, 0]
    window = F.pad(play, (BELOW_WINDOW, 0))[:, -BELOW_WINDOW:] if n else play.new_zeros(b, 12)
    if n == 0:
        window = current.new_zeros(b, BELOW_WINDOW)
    onehot = _pc_onehot(low_pitch, n, current.device, current.dtype)  # (n, 12)
    hist = play @ onehot  # (B, 12)
    pc = (n + low_pitch) % 12
    rel = torch.roll(hist, -pc, 1)  # entry j = class pc + j
    count = rel.sum(-1, keepdim=True) / 4.0
    return torch.cat([below, window, rel, count], -1)
