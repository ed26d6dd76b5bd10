"""A small, deterministic corpus of four-voice chorale-like pieces, made by the project.

Each piece walks a diatonic chord progression in a major or minor key, voiced for soprano,
alto, tenor and bass with smooth voice leading, in quarter notes with occasional passing
eighths and a final cadence. Nothing is copied from any existing work.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dsp_rnn.music.grid import GridNote, NoteGrid

__all__ = ["make_demo_piece", "make_demo_midi"]

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 11)  # harmonic minor
# chord progressions as scale degrees (0 = tonic); they end on a cadence V -> I
PROGRESSIONS = (
    (0, 3, 4, 0, 5, 1, 4, 0),
    (0, 5, 3, 4, 0, 3, 4, 0),
    (0, 1, 4, 0, 3, 0, 4, 0),
    (0, 3, 0, 4, 5, 3, 4, 0),
    (0, 4, 5, 2, 3, 0, 4, 0),
)
RANGES = ((60, 79), (55, 72), (48, 67), (36, 60))  # soprano, alto, tenor, bass


def _chord_pitches(key: int, scale: tuple[int, ...], degree: int) -> set[int]:
    classes = {(key + scale[(degree + k) % 7]) % 12 for k in (0, 2, 4)}
    return {p for p in range(30, 90) if p % 12 in classes}


def _voice(prev: int | None, options: list[int], rng: np.random.Generator) -> int:
    if prev is None:
        return int(options[len(options) // 2])
    costs = np.array([abs(p - prev) + rng.random() * 1.5 for p in options])
    return int(options[int(np.argmin(costs))])


def make_demo_piece(seed: int, *, bars: int = 8, steps_per_quarter: int = 4) -> NoteGrid:
    """One piece as a NoteGrid (4/4, 2 chords per bar), deterministic from ``seed``."""
    rng = np.random.default_rng(seed)
    key = int(rng.integers(-5, 7))
    scale = MINOR if rng.random() < 0.35 else MAJOR
    tempo = float(rng.choice([72.0, 84.0, 96.0, 108.0]))
    prog = PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))]
    n_chords = bars * 2
    degrees = [prog[i % len(prog)] for i in range(n_chords - 2)] + [4, 0]
    spq = steps_per_quarter
    half = 2 * spq  # a chord lasts a half note
    notes: list[GridNote] = []
    prev: list[int | None] = [None] * 4
    for c, degree in enumerate(degrees):
        pitches = _chord_pitches(key, scale, degree)
        t0 = c * half
        for v, (lo, hi) in enumerate(RANGES):
            options = sorted(p for p in pitches if lo <= p <= hi)
            if v == 3:  # the bass prefers the root
                roots = [p for p in options if (p - key - scale[degree]) % 12 == 0]
                options = roots or options
            pitch = _voice(prev[v], options, rng)
            if v > 0 and prev[v - 1] is not None:
                pitch = min(pitch, notes[-1].pitch - 1) if notes else pitch
            last = c == n_chords - 1
            if not last and v == 0 and rng.random() < 0.5:
                # soprano: two quarters, sometimes with a passing eighth
                step = int(rng.choice([-2, -1, 1, 2]))
                second = int(np.clip(pitch + step, lo, hi))
                notes.append(GridNote(pitch, t0, t0 + spq, int(rng.integers(70, 100))))
                notes.append(GridNote(second, t0 + spq, t0 + half, int(rng.integers(65, 95))))
            else:
                dur = 2 * half if last else half
                notes.append(GridNote(pitch, t0, t0 + dur, int(rng.integers(60, 95))))
            prev[v] = pitch
    return NoteGrid.from_notes(notes, steps_per_quarter=spq, tempo_bpm=tempo,
                               time_signature=(4, 4), source=f"demo-{seed:03d}")  # fmt: skip


def make_demo_midi(out_dir: str | Path, *, n_pieces: int = 24, seed: int = 0,
                   overwrite: bool = False) -> list[Path]:  # fmt: skip
    """Write ``n_pieces`` demo pieces as ``demo_000.mid`` ... into ``out_dir`` (made, with
    its parents, if missing: a demo corpus is a folder tree of its own)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_pieces):
        bars = 8 + 4 * ((seed + i) % 3)
        grid = make_demo_piece(seed * 1000 + i, bars=bars)
        paths.append(grid.to_midi(out / f"demo_{i:03d}.mid", overwrite=overwrite))
    return paths
