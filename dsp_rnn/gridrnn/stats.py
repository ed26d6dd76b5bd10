"""Musical statistics of note grids, to compare samples with training data: the in-key share
(:func:`key_share`), summary figures over pieces (:func:`grid_stats`) and the per-piece
statistics of :data:`STATISTICS` (:func:`piece_stats`) that :mod:`dsp_rnn.gridrnn.quality`
compares set against set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from dsp_rnn.errors import InputError
from dsp_rnn.music.grid import NoteGrid

__all__ = [
    "DIATONIC",
    "MAX_INTERVAL",
    "MAX_DURATION",
    "STATISTICS",
    "Statistic",
    "key_share",
    "grid_stats",
    "piece_stats",
]

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


MAX_INTERVAL = 12  # interval histograms: -12 .. +12 semitones, larger leaps clipped
MAX_DURATION = 16  # note-length histogram: 1 .. 16 steps, longer notes in the last bin


@dataclass(frozen=True)
class Statistic:
    """One per-piece statistic.

    Attributes:
        name: key in :func:`piece_stats`'s result.
        kind: ``"scalar"`` (a float) or ``"histogram"`` (a normalised vector).
        label: short human name (table rows, plot titles).
        unit: unit of a scalar (``""`` for a share).
        description: what is measured, exactly.
    """

    name: str
    kind: Literal["scalar", "histogram"]
    label: str
    unit: str
    description: str


STATISTICS: tuple[Statistic, ...] = (
    Statistic("mean_pitch", "scalar", "mean pitch", "MIDI",
              "mean MIDI pitch over all sounding note-steps"),
    Statistic("mean_lowest", "scalar", "mean lowest voice", "MIDI",
              "lowest sounding pitch of each non-empty step, averaged over those steps"),
    Statistic("mean_highest", "scalar", "mean highest voice", "MIDI",
              "highest sounding pitch of each non-empty step, averaged over those steps"),
    Statistic("mean_span", "scalar", "mean span", "semitones",
              "highest minus lowest pitch of each non-empty step, averaged"),
    Statistic("polyphony", "scalar", "polyphony", "notes",
              "sounding notes per non-empty step"),
    Statistic("empty_rate", "scalar", "empty steps", "",
              "share of steps where nothing sounds"),
    Statistic("in_scale", "scalar", "in scale", "",
              "share of sounding note-steps inside the best-fitting diatonic scale (of the 12; "
              "a minor key counts as its relative major's natural-minor scale)"),
    Statistic("top_leap", "scalar", "top-voice leap", "semitones",
              "mean |change| of the highest pitch between consecutive non-empty steps"),
    Statistic("bottom_leap", "scalar", "bottom-voice leap", "semitones",
              "mean |change| of the lowest pitch between consecutive non-empty steps"),
    Statistic("mean_duration", "scalar", "note length", "steps",
              "mean length of a note (a held run, from its onset) in grid steps"),
    Statistic("pitch_classes", "histogram", "pitch classes", "",
              "12-bin pitch-class histogram of sounding note-steps (C first), normalised"),
    Statistic("top_intervals", "histogram", "top-voice intervals", "",
              f"histogram of the highest pitch's change between consecutive non-empty steps, "
              f"bins -{MAX_INTERVAL}..{MAX_INTERVAL} semitones (clipped), normalised"),
    Statistic("bottom_intervals", "histogram", "bottom-voice intervals", "",
              f"the same for the lowest pitch, bins -{MAX_INTERVAL}..{MAX_INTERVAL}"),
    Statistic("durations", "histogram", "note lengths", "",
              f"histogram of note lengths, bins 1..{MAX_DURATION} steps (longer notes in the "
              "last bin), normalised"),
)  # fmt: skip


def piece_stats(grid: NoteGrid) -> dict[str, float | np.ndarray]:
    """The statistics of :data:`STATISTICS` for one piece.

    Pitches are MIDI numbers (``grid.low_pitch`` + column). A statistic a piece does not
    define is NaN (a silent piece has no mean pitch; one non-empty step has no interval):
    a NaN float for a scalar, an all-NaN vector for a histogram. Note lengths come from the
    grid's onsets (a held run starts at an onset or after silence).

    Raises:
        InputError: the grid has no steps.

    >>> from dsp_rnn.music.grid import GridNote, NoteGrid
    >>> g = NoteGrid.from_notes([GridNote(60, 0, 3), GridNote(72, 2, 3)], n_steps=4)
    >>> float(piece_stats(g)["empty_rate"]), float(piece_stats(g)["mean_duration"])
    (0.25, 2.0)
    """
    if not isinstance(grid, NoteGrid):
        raise InputError(f"piece_stats: expected a NoteGrid, got {type(grid).__name__}")
    if grid.n_steps == 0:
        raise InputError("piece_stats: the grid has no steps")
    play = np.asarray(grid.play, bool)
    pitches = grid.low_pitch + np.arange(grid.n_pitches)
    per_key = play.sum(0)
    n_notes = int(per_key.sum())
    rows = np.flatnonzero(play.any(1))
    nan = float("nan")
    out: dict[str, float | np.ndarray] = {"empty_rate": 1.0 - len(rows) / grid.n_steps}
    if n_notes == 0:
        for s in STATISTICS:
            if s.name != "empty_rate":
                out[s.name] = nan if s.kind == "scalar" else np.full(_bins(s.name), nan)
        return out
    sub = play[rows]
    low = pitches[np.argmax(sub, 1)]
    high = pitches[grid.n_pitches - 1 - np.argmax(sub[:, ::-1], 1)]
    out["mean_pitch"] = float((per_key * pitches).sum() / n_notes)
    out["mean_lowest"] = float(low.mean())
    out["mean_highest"] = float(high.mean())
    out["mean_span"] = float((high - low).mean())
    out["polyphony"] = n_notes / len(rows)
    out["in_scale"] = key_share(play, grid.low_pitch)[0]
    pcs = np.bincount(pitches % 12, weights=per_key, minlength=12)
    out["pitch_classes"] = pcs / n_notes
    for voice, track in (("top", high), ("bottom", low)):
        steps = np.diff(track)
        out[f"{voice}_leap"] = float(np.abs(steps).mean()) if len(steps) else nan
        out[f"{voice}_intervals"] = _histogram(
            np.clip(steps, -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL, 2 * MAX_INTERVAL + 1
        )
    _, starts, ends = grid.segments()
    lengths = ends - starts
    out["mean_duration"] = float(lengths.mean())
    out["durations"] = _histogram(np.minimum(lengths, MAX_DURATION) - 1, MAX_DURATION)
    return {s.name: out[s.name] for s in STATISTICS}


def _bins(name: str) -> int:
    return {"pitch_classes": 12, "durations": MAX_DURATION}.get(name, 2 * MAX_INTERVAL + 1)


def _histogram(index: np.ndarray, bins: int) -> np.ndarray:
    if len(index) == 0:
        return np.full(bins, np.nan)
    return np.bincount(index, minlength=bins) / len(index)
