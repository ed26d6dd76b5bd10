"""The JSB Chorales JSON (Boulanger-Lewandowski et al. 2012, re-released by C.-Z. A. Huang).

``{"train": [...], "valid": [...], "test": [...]}``; a piece is a list of time steps, a step
the list of MIDI pitches sounding. Held and repeated notes are not told apart, so a note
starts (onset) at a step where its pitch was silent the step before.

A checkout of the repository ships the quarter-note file as
``data/jsb/jsb-chorales-quarter.json`` (provenance and licence in ``data/jsb/README.md``);
:func:`default_jsb_path` finds it. An installed wheel does not carry it: pass a path.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dsp_rnn.errors import InputError
from dsp_rnn.music.grid import PIANO_KEYS, PIANO_LOW, NoteGrid
from dsp_rnn.music.shipped import SHIPPED_JSB

__all__ = [
    "load_jsb",
    "jsb_steps_per_quarter",
    "default_jsb_path",
    "JSBNotFoundError",
    "WRITTEN_CHORALE_MEAN_PITCH",
    "written_register_offset",
]

SPLITS = ("train", "valid", "test")

# Median over pieces of the mean MIDI pitch of the 368 four-part Bach chorales in music21's
# corpus, read in their written keys (bench/bench_written_register.py measures it).
WRITTEN_CHORALE_MEAN_PITCH = 61.4


class JSBNotFoundError(InputError, FileNotFoundError):
    """The JSB file shipped with a checkout is absent (e.g. an installed wheel)."""


def default_jsb_path() -> Path:
    """The JSB quarter-note file shipped in a checkout (``data/jsb/jsb-chorales-quarter.json``).

    Raises:
        JSBNotFoundError: the file is not there, as in an installed wheel, which does not
            carry the data; pass the path of a JSB JSON file instead (``--jsb PATH``).
    """
    if not SHIPPED_JSB.is_file():
        raise JSBNotFoundError(
            f"JSB Chorales file not found at {SHIPPED_JSB}: it ships with a checkout of the "
            "dsp-rnn repository (data/jsb/), not with an installed package; pass the path of "
            "jsb-chorales-quarter.json (--jsb PATH on the command line)"
        )
    return SHIPPED_JSB


def jsb_steps_per_quarter(path: str | Path) -> int:
    """1 for the quarter-note file, 4 for the sixteenth-note one (from the file name)."""
    return 4 if "16th" in Path(path).name else 1


def load_jsb(
    path: str | Path | None = None,
    split: str = "train",
    *,
    steps_per_quarter: int | None = None,
    low_pitch: int = PIANO_LOW,
    n_pitches: int = PIANO_KEYS,
) -> list[NoteGrid]:
    """Load one split of a JSB JSON file as NoteGrids over the 88 piano keys.

    Args:
        path: ``jsb-chorales-quarter.json`` or ``jsb-chorales-16th.json``; default (None)
            the file shipped in a checkout (:func:`default_jsb_path`).
        split: ``"train"``, ``"valid"`` or ``"test"``.
        steps_per_quarter: grid resolution; default from the file name (1 or 4).
        low_pitch, n_pitches: the pitch range (default the 88 keys, 21..108).

    Raises:
        JSBNotFoundError: no path given (or the shipped file's path) and the file is absent.
        InputError: missing file, bad JSON, unknown split, pitches outside the range.
    """
    if path is None or Path(path).resolve() == SHIPPED_JSB:
        path = default_jsb_path()
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


def written_register_offset(path: str | Path | None = None) -> int:
    """Whole octaves (in semitones) that move a JSB file's pieces to the chorales' written
    register: ``-12`` for the quarter-note file, which sits about an octave above it, ``0``
    for the sixteenth-note file, which keeps the written pitch (and the written keys).

    The offset is measured, not looked up by name: the median over the train pieces of each
    piece's mean pitch, moved by whole octaves to the nearest of
    :data:`WRITTEN_CHORALE_MEAN_PITCH`. Whole octaves keep every piece's key.

    Raises:
        InputError: the file is not a JSB JSON file, or its train split holds no notes.
    """
    means = []
    for grid in load_jsb(path, "train"):
        per_key = np.asarray(grid.play, bool).sum(0)
        if per_key.any():
            pitches = grid.low_pitch + np.arange(grid.n_pitches)
            means.append(float((per_key * pitches).sum() / per_key.sum()))
    if not means:
        raise InputError(f"{path}: the train split holds no notes; no register to measure")
    return -12 * round((float(np.median(means)) - WRITTEN_CHORALE_MEAN_PITCH) / 12.0)
