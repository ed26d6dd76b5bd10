"""NoteGrid: a piano roll with play, onset and velocity planes on a steps-per-quarter grid.

Rows are time steps, columns pitches (column ``i`` is MIDI pitch ``low_pitch + i``). A
cell that plays without an onset continues the note above it; an onset starts a new note
(so repeated notes stay apart). The grid carries its steps per quarter, tempo and metre,
and converts to and from note lists and MIDI files exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np

from dsp_rnn.errors import InputError, MidiError
from dsp_rnn.music.midi import Score

__all__ = ["NoteGrid", "GridNote", "PIANO_LOW", "PIANO_KEYS"]

PIANO_LOW = 21  # A0
PIANO_KEYS = 88


@dataclass(frozen=True)
class GridNote:
    """A note on the grid: MIDI pitch, first step, end step (exclusive), velocity 1..127."""

    pitch: int
    start: int
    end: int
    velocity: int = 80


@dataclass(eq=False)
class NoteGrid:
    """Time steps x pitches.

    Attributes:
        play: bool ``(steps, n_pitches)``, the pitch sounds during the step.
        onset: bool ``(steps, n_pitches)``, a note starts at the step (implies play).
        velocity: uint8 ``(steps, n_pitches)``, the sounding note's velocity (0 when silent).
        low_pitch: MIDI pitch of column 0.
        steps_per_quarter: grid resolution (4 = sixteenth notes, 1 = quarter notes).
        tempo_bpm: quarter notes per minute.
        time_signature: ``(numerator, denominator)``.
    """

    play: np.ndarray
    onset: np.ndarray
    velocity: np.ndarray
    low_pitch: int = PIANO_LOW
    steps_per_quarter: int = 4
    tempo_bpm: float = 120.0
    time_signature: tuple[int, int] = (4, 4)
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        shapes = {self.play.shape, self.onset.shape, self.velocity.shape}
        if len(shapes) != 1 or self.play.ndim != 2:
            raise InputError(
                f"NoteGrid: play, onset and velocity must share one (steps, pitches) shape, got "
                f"{self.play.shape}, {self.onset.shape}, {self.velocity.shape}"
            )
        if self.steps_per_quarter < 1:
            raise InputError(f"steps_per_quarter must be >= 1, got {self.steps_per_quarter}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoteGrid):
            return NotImplemented
        return (
            self._meta_key() == other._meta_key()
            and np.array_equal(self.play, other.play)
            and np.array_equal(self.onset, other.onset)
            and np.array_equal(self.velocity, other.velocity)
        )

    def _meta_key(self) -> tuple:
        return (self.low_pitch, self.steps_per_quarter, self.tempo_bpm, tuple(self.time_signature))

    # ------------------------------------------------------------------ shape
    @property
    def n_steps(self) -> int:
        return int(self.play.shape[0])

    @property
    def n_pitches(self) -> int:
        return int(self.play.shape[1])

    @property
    def seconds_per_step(self) -> float:
        return 60.0 / self.tempo_bpm / self.steps_per_quarter

    @classmethod
    def empty(cls, n_steps: int, *, low_pitch: int = PIANO_LOW, n_pitches: int = PIANO_KEYS,
              **meta) -> NoteGrid:  # fmt: skip
        z = np.zeros((n_steps, n_pitches), dtype=bool)
        return cls(z, z.copy(), np.zeros((n_steps, n_pitches), np.uint8), low_pitch, **meta)

    # ------------------------------------------------------------------ notes
    @classmethod
    def from_notes(cls, notes: list[GridNote], *, n_steps: int | None = None,
                   low_pitch: int = PIANO_LOW, n_pitches: int = PIANO_KEYS,
                   **meta) -> NoteGrid:  # fmt: skip
        """Build a grid from notes; pitches outside the range raise :class:`InputError`.

        Overlapping notes of one pitch merge (the later onset restarts the note).
        """
        last = max((n.end for n in notes), default=0)
        grid = cls.empty(max(last, n_steps or 0), low_pitch=low_pitch, n_pitches=n_pitches,
                         **meta)  # fmt: skip
        play, onset, velocity = grid.play, grid.onset, grid.velocity
        for n in sorted(notes, key=lambda n: (n.start, n.pitch)):
            col = n.pitch - low_pitch
            if not 0 <= col < n_pitches:
                raise InputError(
                    f"note pitch {n.pitch} outside the grid's range "
                    f"{low_pitch}..{low_pitch + n_pitches - 1}"
                )
            if n.end <= n.start:
                continue
            play[n.start : n.end, col] = True
            onset[n.start, col] = True
            velocity[n.start, col] = min(max(n.velocity, 1), 127)
        # one velocity per note (the one it started with), also where notes overlapped
        cols, starts, ends = grid.segments()
        flat = velocity.T.reshape(-1)  # column-major view of a copy
        first = cols * grid.n_steps + starts
        lengths = ends - starts
        idx = np.repeat(first, lengths) + (
            np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        )
        flat[idx] = np.repeat(flat[first], lengths)
        grid.velocity = np.ascontiguousarray(flat.reshape(n_pitches, -1).T)
        return grid

    def segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every note as (column, start step, end step), vectorised, ordered by column."""
        play = self.play
        prev = np.vstack([np.zeros((1, self.n_pitches), bool), play[:-1]])
        starts = self.onset & play | (play & ~prev)
        cont = play & ~starts  # cells that continue the note above them
        # column-major with a False separator after each column
        x = np.vstack([cont, np.zeros((1, self.n_pitches), bool)]).T.reshape(-1)
        pos = np.arange(x.size)
        next_false = np.minimum.accumulate(np.where(~x, pos, x.size)[::-1])[::-1]
        col, step = np.nonzero(starts.T)
        flat = col * (self.n_steps + 1) + step
        end = step + (next_false[np.minimum(flat + 1, x.size - 1)] - flat)
        return col, step, end

    def to_notes(self) -> list[GridNote]:
        """Notes, sorted by (start, pitch): each onset or play-after-silence starts one."""
        cols, starts, ends = self.segments()
        vel = self.velocity[starts, cols]
        order = np.lexsort((cols, starts))
        return [GridNote(self.low_pitch + int(cols[i]), int(starts[i]), int(ends[i]),
                         int(vel[i]) or 80) for i in order]  # fmt: skip

    # ------------------------------------------------------------------ scores and MIDI
    @classmethod
    def from_score(cls, score: Score, *, steps_per_quarter: int = 4, low_pitch: int = PIANO_LOW,
                   n_pitches: int = PIANO_KEYS, include_drums: bool = False,
                   max_steps: int = 200_000) -> NoteGrid:  # fmt: skip
        """Quantise a score's notes (in ticks, so tempo changes do not blur the grid).

        Starts and ends round to the nearest step; every note keeps at least one step.
        Notes outside the pitch range are dropped. Grids longer than ``max_steps`` raise.
        """
        tpb = score.ticks_per_beat
        notes = []
        for n in score.notes:
            if n.is_drum and not include_drums:
                continue
            start = int(round(n.start_tick * steps_per_quarter / tpb))
            end = max(start + 1, int(round(n.end_tick * steps_per_quarter / tpb)))
            if low_pitch <= n.pitch < low_pitch + n_pitches:
                notes.append(GridNote(n.pitch, start, end, n.velocity))
        n_steps = max((n.end for n in notes), default=0)
        if n_steps > max_steps:
            raise MidiError(
                f"{score.source}: {n_steps} grid steps at {steps_per_quarter} per quarter, more "
                f"than the limit of {max_steps}"
            )
        sig = score.time_signatures[0][1:] if score.time_signatures else (4, 4)
        return cls.from_notes(notes, low_pitch=low_pitch, n_pitches=n_pitches,
                              steps_per_quarter=steps_per_quarter, tempo_bpm=score.tempo_bpm,
                              time_signature=(int(sig[0]), int(sig[1])),
                              source=score.source)  # fmt: skip

    def to_midi_file(self, *, ticks_per_beat: int = 480, program: int = 0,
                     channel: int = 0) -> mido.MidiFile:  # fmt: skip
        """A type-1 mido file: a conductor track (tempo, metre) and one note track."""
        if ticks_per_beat % self.steps_per_quarter:
            raise InputError(
                f"ticks_per_beat={ticks_per_beat} must be a multiple of steps_per_quarter="
                f"{self.steps_per_quarter}"
            )
        tps = ticks_per_beat // self.steps_per_quarter
        mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
        num, den = self.time_signature
        mid.tracks.append(mido.MidiTrack([
            mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(self.tempo_bpm)),
            mido.MetaMessage("time_signature", numerator=num, denominator=den),
            mido.MetaMessage("end_of_track"),
        ]))  # fmt: skip
        events = []  # (tick, order, message): offs before ons at the same tick
        for n in self.to_notes():
            events.append((n.start * tps, 1, n.pitch, n.velocity))
            events.append((n.end * tps, 0, n.pitch, 0))
        events.sort()
        track = mido.MidiTrack([mido.Message("program_change", program=program, channel=channel)])
        now = 0
        for tick, is_on, pitch, vel in events:
            kind = "note_on" if is_on else "note_off"
            track.append(mido.Message(kind, note=pitch, velocity=vel if is_on else 0,
                                      channel=channel, time=tick - now))  # fmt: skip
            now = tick
        track.append(mido.MetaMessage("end_of_track"))
        mid.tracks.append(track)
        return mid

    def to_midi(self, path: str | Path, *, overwrite: bool = False, **kwargs) -> Path:
        """Write a .mid file atomically (temporary file, then rename); never overwrites
        an existing file unless ``overwrite``. Its folder must exist.

        Raises:
            InputError: the file exists (without ``overwrite``), is a folder, or its folder
                is missing, a file or not writable.
        """
        from dsp_rnn._atomic import atomic_file, check_target

        out = Path(path)
        check_target(out, overwrite, InputError)
        mid = self.to_midi_file(**kwargs)
        with atomic_file(out, overwrite, InputError) as fh:
            mid.save(file=fh)
        return out

    # ------------------------------------------------------------------ edits
    def with_range(self, low_pitch: int, n_pitches: int) -> NoteGrid:
        """Crop or pad the pitch axis to ``low_pitch .. low_pitch + n_pitches - 1``."""
        out = NoteGrid.empty(self.n_steps, low_pitch=low_pitch, n_pitches=n_pitches,
                             **self._meta())  # fmt: skip
        lo = max(low_pitch, self.low_pitch)
        hi = min(low_pitch + n_pitches, self.low_pitch + self.n_pitches)
        if hi > lo:
            src = slice(lo - self.low_pitch, hi - self.low_pitch)
            dst = slice(lo - low_pitch, hi - low_pitch)
            out.play[:, dst] = self.play[:, src]
            out.onset[:, dst] = self.onset[:, src]
            out.velocity[:, dst] = self.velocity[:, src]
        return out

    def transpose(self, semitones: int) -> NoteGrid:
        """Shift every note by ``semitones``; raises if a sounding note leaves the range."""
        if semitones == 0:
            return self.copy()
        cols = np.flatnonzero(self.play.any(0))
        if len(cols) and not (0 <= cols[0] + semitones and cols[-1] + semitones < self.n_pitches):
            raise InputError(
                f"transposing by {semitones} moves pitches "
                f"{self.low_pitch + cols[0]}..{self.low_pitch + cols[-1]} outside the range "
                f"{self.low_pitch}..{self.low_pitch + self.n_pitches - 1}"
            )
        return NoteGrid(np.roll(self.play, semitones, 1), np.roll(self.onset, semitones, 1),
                        np.roll(self.velocity, semitones, 1), self.low_pitch,
                        **self._meta())  # fmt: skip

    def pitch_span(self) -> tuple[int, int] | None:
        """Lowest and highest sounding MIDI pitch, or None when silent."""
        cols = np.flatnonzero(self.play.any(0))
        return (
            (self.low_pitch + int(cols[0]), self.low_pitch + int(cols[-1])) if len(cols) else None
        )

    def copy(self) -> NoteGrid:
        return NoteGrid(self.play.copy(), self.onset.copy(), self.velocity.copy(),
                        self.low_pitch, **self._meta())  # fmt: skip

    def _meta(self) -> dict:
        return {"steps_per_quarter": self.steps_per_quarter, "tempo_bpm": self.tempo_bpm,
                "time_signature": self.time_signature, "source": self.source}  # fmt: skip

    # ------------------------------------------------------------------ storage (no pickle)
    _MAGIC = b"DSPGRID1"

    def to_bytes(self) -> bytes:
        """A compact binary record (header, bit-packed planes, velocities); no pickle."""
        header = np.array([self.low_pitch, self.steps_per_quarter, self.time_signature[0],
                           self.time_signature[1], self.n_pitches, self.n_steps],
                          np.int64).tobytes() + np.float64(self.tempo_bpm).tobytes()  # fmt: skip
        return (self._MAGIC + header + np.packbits(self.play, axis=1).tobytes()
                + np.packbits(self.onset, axis=1).tobytes() + self.velocity.tobytes())  # fmt: skip

    @classmethod
    def from_bytes(cls, data: bytes | memoryview, *, source: str = "") -> NoteGrid:
        """Inverse of :meth:`to_bytes`; raises :class:`InputError` on a damaged record."""
        if bytes(data[:8]) != cls._MAGIC or len(data) < 64:
            raise InputError(f"{source or 'grid record'}: not a NoteGrid record")
        low, spq, num, den, n_p, n_t = np.frombuffer(data, np.int64, 6, 8).tolist()
        tempo = float(np.frombuffer(data, np.float64, 1, 56)[0])
        packed = (n_p + 7) // 8
        need = 64 + 2 * n_t * packed + n_t * n_p
        if len(data) != need or n_t < 0 or n_p <= 0:
            raise InputError(f"{source or 'grid record'}: truncated NoteGrid record")
        planes = np.frombuffer(data, np.uint8, 2 * n_t * packed, 64).reshape(2, n_t, packed)
        bits = np.unpackbits(planes, axis=2, count=n_p).view(bool)  # 0/1 bytes are valid bools
        play, onset = bits[0], bits[1]
        vel = np.frombuffer(data, np.uint8, n_t * n_p, 64 + 2 * n_t * packed).reshape(n_t, n_p)
        if not vel.flags.writeable:  # records read from immutable bytes
            vel = vel.copy()
        return cls(play, onset, vel, low, spq, tempo, (num, den), source)
