"""The JSB Chorales JSON (Boulanger-Lewandowski et al. 2012, re-released by C.-Z. A. Huang).

``{"train": [...], "valid": [...], "test": [...]}``; a piece is a list of time steps, a step
the list of MIDI pitches sounding. Held and repeated notes are not told apart, so a note
starts (onset) at a step where its pitch was silent the step before.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dsp_rnn.errors import InputError
from dsp_rnn.music.grid import PIANO_KEYS, PIANO_LOW, NoteGrid

__all__ = ["load_jsb", "jsb_steps_per_quarter"]

SPLITS = ("train", "valid", "test")


def jsb_steps_per_quarter(path: str | Path) -> int:
    """1 for the quarter-note file, 4 for the sixteenth-note one (from the file name)."""
    return 4 if "16th" in Path(path).name else 1


def load_jsb(
    path: str | Path,
    split: str = "train",
    *,
    steps_per_quarter: int | None = None,
    low_pitch: int = PIANO_LOW,
    n_pitches: int = PIANO_KEYS,
) -> list[NoteGrid]:
    """Load one split of a JSB JSON file as NoteGrids over the 88 piano keys.

    Args:
        path: ``jsb-chorales-quarter.json`` or ``jsb-chorales-16th.json``.
        split: ``"train"``, ``"valid"`` or ``"test"``.
        steps_per_quarter: grid resolution; default from the file name (1 or 4).
        low_pitch, n_pitches: the pitch range (default the 88 keys, 21..108).

    Raises:
        InputError: missing file, bad JSON, unknown split, pitches outside the range.
    """
    p = Path(path)
    if split not in SPLITS:
        raise InputError(f"split must be one of {SPLITS}, got {split!r}")
    try:
        data = json.loads(p.read_text())
    except OSError as exc:
        raise InputError(f"{p}: cannot read JSB file ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or split not in data:
        raise InputError(f"{p}: expected a JSON object with a {split!r} list")
    spq = steps_per_quarter or jsb_steps_per_quarter(p)
    grids = []
    for i, piece in enumerate(data[split]):
        play = np.zeros((len(piece), n_pitches), dtype=bool)
        for t, step in enumerate(piece):
            for pitch in step:
                col = int(pitch) - low_pitch
                if not 0 <= col < n_pitches:
                    raise InputError(f"{p}: {split}[{i}] step {t} pitch {pitch} outside range")
                play[t, col] = True
        onset = play & ~np.vstack([np.zeros((1, n_pitches), bool), play[:-1]])
        velocity = np.where(play, 80, 0).astype(np.uint8)
        grids.append(NoteGrid(play, onset, velocity, low_pitch, spq, 120.0, (4, 4),
                              f"{p.name}:{split}[{i}]"))  # fmt: skip
    return grids
