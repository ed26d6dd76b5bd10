"""Notes at the frame rate of the audio features: the input of a learned voice.

A learned voice reads the notes as a piano roll on the frames of its audio features
(:class:`~dsp_rnn.audio.FeatureConfig`: 10 ms at 16 kHz by default). Frame ``t`` covers
``[t * hop_s, (t + 1) * hop_s)``. Per key of ``low_pitch .. high_pitch`` (default the 88
piano keys) the roll holds :data:`CHANNELS` values:

==========  ===========================================================================
channel     value at frame ``t``
==========  ===========================================================================
play        1 while the note sounds (``start_s < (t + 1) hop_s`` and ``end_s > t hop_s``)
onset       1 at the note's first frame, ``floor(start_s / hop_s)``
offset      1 at the frame holding the note's end, ``floor(end_s / hop_s)``
velocity    ``velocity / 127`` while the note sounds
attack      ``exp(-(t hop_s - start_s) / onset_tau_s)`` while it sounds: time since onset
release     ``exp(-(t hop_s - end_s) / release_tau_s)`` after it ends: time since offset
==========  ===========================================================================

Overlapping notes of one key take the largest value per channel. Every value of frame
``t`` depends only on notes that start at or before frame ``t`` (and on their ends once
reached), so a model that reads the roll causally cannot hear a note before it starts.
Drum notes (channel 10) and keys outside the range are left out (counted by
:func:`score_notes`).

The roll is computed for any block of frames from the note list (:func:`note_roll`), so a
long piece is never held as a dense roll.

>>> from dsp_rnn.music import Note
>>> notes = score_notes([Note(60, 127, 0, 480, 0.0, 0.05)]).notes
>>> roll = note_roll(notes, 0, 8, RollConfig())
>>> roll.shape, roll[:, 39, 0].tolist()  # key 60 is the 40th of 21..108; play channel
((8, 88, 6), [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from dsp_rnn._validate import check_int
from dsp_rnn.errors import InputError

__all__ = ["CHANNELS", "RollConfig", "NoteArray", "ScoreNotes", "score_notes", "note_roll"]

CHANNELS = ("play", "onset", "offset", "velocity", "attack", "release")
"""The values of each key per frame, in order (see the module's description)."""

_CUT = 1e-3  # a release trace below this is zero: it bounds how far back a block looks


@dataclass(frozen=True)
class RollConfig:
    """The piano roll's keys, frame rate and time constants.

    Args:
        sample_rate, hop_samples: the frames' rate: ``hop_s = hop_samples / sample_rate``
            (default 160 samples at 16 kHz: 10 ms, the audio features' frames).
        low_pitch, high_pitch: the keys, MIDI numbers ``0 <= low <= high <= 127`` (default
            21..108, the piano's 88).
        onset_tau_s: time constant of the attack trace in seconds, > 0 (default 0.1).
        release_tau_s: time constant of the release trace in seconds, > 0 (default 0.1).
    """

    sample_rate: int = 16000
    hop_samples: int = 160
    low_pitch: int = 21
    high_pitch: int = 108
    onset_tau_s: float = 0.1
    release_tau_s: float = 0.1

    def __post_init__(self) -> None:
        check_int(self.sample_rate, "sample_rate", minimum=1)
        check_int(self.hop_samples, "hop_samples", minimum=1)
        check_int(self.low_pitch, "low_pitch", minimum=0, maximum=127)
        check_int(self.high_pitch, "high_pitch", minimum=self.low_pitch, maximum=127)
        for name in ("onset_tau_s", "release_tau_s"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (math.isfinite(value) and value > 0)
            ):
                raise InputError(f"{name}: expected a number of seconds > 0, got {value!r}")

    @property
    def hop_s(self) -> float:
        return self.hop_samples / self.sample_rate

    @property
    def n_keys(self) -> int:
        return self.high_pitch - self.low_pitch + 1

    @property
    def input_size(self) -> int:
        """Values per frame: ``n_keys * len(CHANNELS)``."""
        return self.n_keys * len(CHANNELS)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class NoteArray(NamedTuple):
    """Notes as arrays, sorted by start (``(n,)`` each).

    Attributes:
        start_s, end_s: float64 seconds, ``end_s > start_s``.
        pitch: int64 MIDI numbers.
        velocity: float64 in ``1 .. 127``.
    """

    start_s: np.ndarray
    end_s: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray

    def __len__(self) -> int:
        return int(self.start_s.shape[0])

    @property
    def end_time_s(self) -> float:
        """The last note-off (0 for no notes)."""
        return float(self.end_s.max()) if len(self) else 0.0


class ScoreNotes(NamedTuple):
    """:func:`score_notes`'s result: the notes kept and how many were left out, by reason."""

    notes: NoteArray
    skipped: dict[str, int]


def score_notes(source: Any, config: RollConfig | None = None) -> ScoreNotes:
    """The pitched notes of a MIDI file, a :class:`~dsp_rnn.music.Score`, a
    :class:`~dsp_rnn.music.NoteGrid` or a sequence of :class:`~dsp_rnn.music.Note` as a
    :class:`NoteArray` (drums and keys outside the
    config's range left out and counted).

    Raises:
        InputError: another kind of source, or a note with times that are not finite and
            >= 0. MidiError: an unreadable MIDI file.
    """
    from dsp_rnn.music.grid import NoteGrid
    from dsp_rnn.music.midi import Note, Score, read_midi

    cfg = config or RollConfig()
    if isinstance(source, (str, os.PathLike)):
        source = read_midi(Path(source), sustain=True)  # the pedal holds notes
    if isinstance(source, NoteGrid):
        step_s = 60.0 / (source.tempo_bpm * source.steps_per_quarter)
        notes: Sequence[Any] = [Note(n.pitch, n.velocity, 0, 0, n.start * step_s,
                                     n.end * step_s) for n in source.to_notes()]  # fmt: skip
    elif isinstance(source, Score):
        notes = source.notes
    elif isinstance(source, Sequence):
        notes = source
    else:
        raise InputError(f"notes: expected a MIDI path, a Score, a NoteGrid or a sequence of "
                         f"Notes, got {type(source).__name__}")  # fmt: skip
    rows, skipped = [], {"drums": 0, "out of range": 0}
    for i, n in enumerate(notes):
        try:
            start, end = float(n.start_s), float(n.end_s)
            pitch, vel, chan = int(n.pitch), int(n.velocity), int(getattr(n, "channel", 0))
        except (AttributeError, TypeError, ValueError) as exc:
            raise InputError(f"notes[{i}]: expected a Note, got {n!r}") from exc
        if not (math.isfinite(start) and math.isfinite(end) and 0 <= start):
            raise InputError(f"notes[{i}]: times must be finite and >= 0, got {start}..{end}")
        if chan == 9:
            skipped["drums"] += 1
        elif not cfg.low_pitch <= pitch <= cfg.high_pitch:
            skipped["out of range"] += 1
        else:
            rows.append((start, max(end, start + 1e-3), pitch, min(max(vel, 1), 127)))
    rows.sort()
    arr = np.array(rows, np.float64).reshape(-1, 4)
    return ScoreNotes(
        NoteArray(arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].astype(np.int64),
                  arr[:, 3].copy()),
        {k: v for k, v in skipped.items() if v},
    )  # fmt: skip


def note_roll(notes: NoteArray, start_frame: int, n_frames: int, config: RollConfig) -> np.ndarray:
    """The roll of frames ``start_frame .. start_frame + n_frames - 1``.

    Args:
        notes: the notes (:func:`score_notes`), keys within the config's range.
        start_frame: the first frame, >= 0.
        n_frames: frames, >= 0.
        config: the :class:`RollConfig`.

    Shape:
        Returns ``(n_frames, n_keys, len(CHANNELS))`` float32 (reshape to ``(n_frames,
        input_size)`` for a network).

    Properties: numpy; the same frames whatever the block they are computed in.
    """
    f0 = check_int(start_frame, "start_frame", minimum=0)
    n = check_int(n_frames, "n_frames", minimum=0)
    hop = config.hop_s
    out = np.zeros((n, config.n_keys, len(CHANNELS)), np.float32)
    if n == 0 or len(notes) == 0:
        return out
    t0, t1 = f0 * hop, (f0 + n) * hop
    reach = config.release_tau_s * math.log(1.0 / _CUT)
    near = np.nonzero((notes.start_s < t1) & (notes.end_s + reach > t0))[0]
    times = (f0 + np.arange(n)) * hop  # (n,) each frame's start
    for i in near:
        start, end = float(notes.start_s[i]), float(notes.end_s[i])
        key = int(notes.pitch[i]) - config.low_pitch
        first, last = math.floor(start / hop), math.floor(end / hop)
        frames = f0 + np.arange(n)
        sounding = (start < times + hop) & (end > times)
        col = out[:, key]
        if sounding.any():
            col[sounding, 0] = 1.0
            col[sounding, 3] = np.maximum(col[sounding, 3], notes.velocity[i] / 127.0)
            since = np.maximum(times[sounding] - start, 0.0)
            col[sounding, 4] = np.maximum(col[sounding, 4], np.exp(-since / config.onset_tau_s))
        col[frames == first, 1] = 1.0
        col[frames == last, 2] = 1.0
        after = times >= end
        if after.any():
            trace = np.exp(-(times[after] - end) / config.release_tau_s)
            trace[trace < _CUT] = 0.0
            col[after, 5] = np.maximum(col[after, 5], trace)
    return out
