"""Simple musical statistics of note grids, to compare samples with training data."""

from __future__ import annotations

import numpy as np

__all__ = ["DIATONIC", "key_share", "grid_stats"]

DIATONIC = np.array([0, 2, 4, 5, 7, 9, 11])


def key_share(play: np.ndarray, low_pitch: int = 21) -> tuple[float, int]:
    """Share of sounding notes (note-steps) inside the diatonic scale that holds the most of
    them (the key implied by the pitch-class histogram; a minor key shares its relative
    major's scale), and that scale's tonic pitch class.

    Args:
        play: bool ``(steps, pitch)``.

    >>> play = np.zeros((2, 88), bool); play[:, [39, 43, 46]] = True  # C E G
    >>> key_share(play)
    (1.0, 0)
    """
    pcs = (np.arange(play.shape[1]) + low_pitch) % 12
    hist = np.bincount(pcs, weights=play.sum(0), minlength=12)
    total = hist.sum()
    if total == 0:
        return 1.0, 0
    inside = [hist[(DIATONIC + k) % 12].sum() for k in range(12)]
    k = int(np.argmax(inside))
    return float(inside[k] / total), k


def grid_stats(plays: list[np.ndarray], low_pitch: int = 21) -> dict[str, float]:
    """Notes per step, in-key share and silent-step share over pieces (every step weighs the
    same; the key is found per piece).

    >>> s = grid_stats([np.eye(4, 88, 40, dtype=bool)])
    >>> s["notes_per_step"], s["silent_steps"]
    (1.0, 0.0)
    """
    steps = sum(len(p) for p in plays)
    notes = sum(int(p.sum()) for p in plays)
    silent = sum(int((p.sum(1) == 0).sum()) for p in plays)
    inside = sum(key_share(p, low_pitch)[0] * p.sum() for p in plays)
    return {
        "pieces": len(plays),
        "steps": steps,
        "notes_per_step": notes / max(steps, 1),
        "in_key_share": float(inside / max(notes, 1)),
        "silent_steps": silent / max(steps, 1),
    }
