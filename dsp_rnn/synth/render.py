"""Render notes (a MIDI file, a Score, a NoteGrid) to audio with our voices and reverb.

Three layers:

- :func:`render_blocks` streams raw float32 blocks ``(channels, block)``: every note is
  rendered whole by its voice when its block comes and added into a ring buffer as long
  as the longest note, and each finished block goes through the reverb
  (``y, state = reverb(x, state)``). Memory stays flat in the length of the piece; the
  samples do not depend on the block size.
- :func:`render` gathers the blocks and peak-normalises: the one-shot array.
- :func:`render_file` streams to a .wav in two passes (raw float to a temporary file while
  measuring the peak, then scaled into the final format), written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Union, runtime_checkable

import numpy as np

from dsp_rnn._validate import check_int
from dsp_rnn.errors import InputError
from dsp_rnn.synth import _kernels as k
from dsp_rnn.synth.drums import DrumKit
from dsp_rnn.synth.reverb import Reverb
from dsp_rnn.synth.voices import Voice, gm_voice_name, make_voice

if TYPE_CHECKING:  # the renderer imports them lazily: no torch, fast start
    from dsp_rnn.music.grid import NoteGrid
    from dsp_rnn.music.midi import Score

__all__ = [
    "NotePlayer",
    "NotePlan",
    "plan_notes",
    "render_blocks",
    "render",
    "SAMPLE_RATES",
    "scale_block",
    "peak_gain",
    "as_reverb",
]

SAMPLE_RATES = (16_000, 22_050, 44_100, 48_000)
MAX_NOTE_S = 60.0  # a held note longer than this is cut (with its release) to keep memory flat
_KIT = DrumKit()
MIN_NOTE_S = 0.02  # a shorter note (a zero-length note-on/off pair) is held this long

Source = Union[str, Path, "Score", "NoteGrid", Sequence[Any]]


@runtime_checkable
class NotePlayer(Protocol):
    """A voice that plays a whole piece itself, such as a learned voice
    (:class:`dsp_rnn.voice.LearnedVoice`): :func:`render` and
    :func:`~dsp_rnn.synth.render_file` hand it the piece when it is their ``voice``.

    ``play`` returns ``(channels, time)`` float32 normalised as :func:`render` does;
    ``play_file`` writes the file as :func:`~dsp_rnn.synth.render_file` does and returns
    its :class:`~dsp_rnn.synth.RenderReport`. Drums are left out.
    """

    def play(self, source: Any, *, sample_rate: int, channels: int, reverb: Reverb | None,
             peak_db: float | None, seed: int) -> np.ndarray: ...  # fmt: skip

    def play_file(self, source: Any, path: Any, *, sample_rate: int, channels: int,
                  subtype: str, reverb: Reverb | None, peak_db: float | None,
                  max_seconds: float, memory_budget_mb: float, seed: int, overwrite: bool,
                  progress: Any) -> Any: ...  # fmt: skip


@dataclass
class NotePlan:
    """Notes ready to render, sorted by start: sample positions, voices, pan gains."""

    sample_rate: int
    channels: int
    start: np.ndarray  # int64 first sample
    length: np.ndarray  # int64 samples incl. release
    pitch: np.ndarray
    velocity: np.ndarray
    duration_s: np.ndarray
    voice: np.ndarray  # index into voices
    gains: np.ndarray  # (n, channels) pan gains
    voices: list[Voice]
    total_samples: int
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.start.shape[0])


def _note_rows(source: Any) -> tuple[list[tuple], str]:
    """(start_s, end_s, pitch, velocity, program, channel, track) rows from any source."""
    from dsp_rnn.music.grid import NoteGrid
    from dsp_rnn.music.midi import Score, read_midi

    if isinstance(source, (str, Path)):
        source = read_midi(source, sustain=True)  # the pedal holds notes, as it does on a piano
    if isinstance(source, NoteGrid):
        step_s = 60.0 / (source.tempo_bpm * source.steps_per_quarter)
        rows = [(n.start * step_s, n.end * step_s, n.pitch, n.velocity, 0, 0, 0)
                for n in source.to_notes()]  # fmt: skip
        return rows, source.source or "<NoteGrid>"
    if isinstance(source, Score):
        return [
            (n.start_s, n.end_s, n.pitch, n.velocity, n.program, n.channel, n.track)
            for n in source.notes
        ], source.source
    if isinstance(source, Sequence):
        rows = []
        for i, n in enumerate(source):
            try:
                rows.append((float(n.start_s), float(n.end_s), int(n.pitch), int(n.velocity),
                             int(getattr(n, "program", 0)), int(getattr(n, "channel", 0)),
                             int(getattr(n, "track", 0))))  # fmt: skip
            except (AttributeError, TypeError, ValueError) as exc:
                raise InputError(
                    f"notes[{i}]: expected a Note with start_s, end_s, pitch, velocity, got {n!r}"
                ) from exc
        return rows, "<notes>"
    raise InputError(
        f"expected a MIDI path, a Score, a NoteGrid or a sequence of Notes, got "
        f"{type(source).__name__}"
    )


def _pan_gains(keys: list[tuple[int, int, int]], channels: int) -> dict[tuple, np.ndarray]:
    """Spread instruments (track, channel, program) evenly over +-0.6 (constant power)."""
    groups = sorted(set(keys))
    out = {}
    for i, key in enumerate(groups):
        if channels == 1:
            out[key] = np.ones(1)
            continue
        pan = 0.0 if len(groups) == 1 else -0.6 + 1.2 * i / (len(groups) - 1)
        theta = (pan + 1.0) * math.pi / 4.0
        out[key] = np.array([math.cos(theta), math.sin(theta)]) * math.sqrt(2.0)
    return out


def plan_notes(
    source: Source,
    *,
    sample_rate: int = 44_100,
    channels: int = 2,
    voice: str | Voice | None = None,
    drums: bool = True,
    tail_s: float = 0.0,
) -> NotePlan:
    """Sort notes, pick voices (``voice`` for every pitched note, else by General MIDI
    program; channel 10 plays the :class:`~dsp_rnn.synth.drums.DrumKit` unless ``drums``
    is False), place them in samples and stereo. Notes left out (drums when
    ``drums=False``, notes a voice cannot play above Nyquist) are counted in
    ``skipped``."""
    if isinstance(sample_rate, bool) or sample_rate not in SAMPLE_RATES:
        raise InputError(f"sample_rate: expected one of {SAMPLE_RATES} Hz, got {sample_rate!r}")
    if channels not in (1, 2):
        raise InputError(f"channels: expected 1 (mono) or 2 (stereo), got {channels!r}")
    rows, _ = _note_rows(source)
    fixed = make_voice(voice) if isinstance(voice, str) else voice
    voices: list[Voice] = []
    index: dict[str, int] = {}
    skipped = {"drums": 0, "out of range": 0, "cut to 60 s": 0}
    kept = []
    for start_s, end_s, pitch, vel, program, chan, track in rows:
        if not (math.isfinite(start_s) and math.isfinite(end_s)) or start_s < 0:
            raise InputError(f"note times must be finite and >= 0, got {start_s!r}..{end_s!r}")
        if chan == 9:
            if not drums:
                skipped["drums"] += 1
                continue
            v: Voice = _KIT
        elif fixed is None:
            v = make_voice(gm_voice_name(program) or "ks")
        else:
            v = fixed
        if not (0 <= pitch <= 127) or not v.playable(pitch, sample_rate):
            skipped["out of range"] += 1
            continue
        dur = max(end_s - start_s, MIN_NOTE_S)  # a zero-length note still sounds
        if dur > MAX_NOTE_S:
            skipped["cut to 60 s"] += 1
            dur = MAX_NOTE_S
        if v.name not in index:
            index[v.name] = len(voices)
            voices.append(v)
        kept.append((int(round(start_s * sample_rate)), pitch, vel, dur, index[v.name],
                     (track, chan, program)))  # fmt: skip
    kept.sort(key=lambda r: (r[0], r[1]))
    pans = _pan_gains([r[5] for r in kept], channels)
    n = len(kept)
    start = np.array([r[0] for r in kept], np.int64)
    length = np.array([voices[r[4]].note_samples(r[3], r[1], sample_rate) for r in kept], np.int64)
    end = int((start + length).max()) if n else 0
    total = end + int(round(tail_s * sample_rate)) if n else 0
    return NotePlan(
        sample_rate=sample_rate, channels=channels, start=start, length=length,
        pitch=np.array([r[1] for r in kept], np.int64),
        velocity=np.array([min(max(r[2], 1), 127) for r in kept], np.int64),
        duration_s=np.array([r[3] for r in kept], np.float64),
        voice=np.array([r[4] for r in kept], np.int64),
        gains=np.stack([pans[r[5]] for r in kept]) if n else np.zeros((0, channels)),
        voices=voices, total_samples=total, skipped={k_: v for k_, v in skipped.items() if v},
    )  # fmt: skip


def render_blocks(
    plan: NotePlan,
    *,
    reverb: Reverb | None = None,
    block_size: int = 16_384,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """Raw float32 blocks ``(channels, <= block_size)`` of the whole plan, in order.

    The result does not depend on ``block_size`` (tested bit for bit). No normalisation:
    :func:`render` and :func:`dsp_rnn.synth.render_file` scale afterwards.
    """
    check_int(block_size, "block_size", minimum=1)
    if reverb is not None and (reverb.channels != plan.channels
                               or reverb.sample_rate != plan.sample_rate):  # fmt: skip
        raise InputError(
            f"reverb: expected channels={plan.channels}, sample_rate={plan.sample_rate}, got "
            f"channels={reverb.channels}, sample_rate={reverb.sample_rate}"
        )
    longest = int(plan.length.max()) if len(plan) else 0
    size = 1 << max(int(longest + block_size).bit_length(), 10)
    ring = np.zeros((plan.channels, size))
    state = None
    i, n = 0, len(plan)
    sr = plan.sample_rate
    for t0 in range(0, plan.total_samples, block_size):
        t1 = min(t0 + block_size, plan.total_samples)
        while i < n and plan.start[i] < t1:
            v = plan.voices[plan.voice[i]]
            note_seed = (seed * 1_000_003 + i) & 0x7FFFFFFF
            v.add_note(ring, int(plan.start[i]), plan.gains[i], int(plan.pitch[i]),
                       int(plan.velocity[i]), float(plan.duration_s[i]), sample_rate=sr,
                       seed=note_seed)  # fmt: skip
            i += 1
        block = k.ring_take(ring, t0, t1 - t0).T  # (channels, n) view of interleaved frames
        if reverb is not None:
            block, state = reverb(block, state)
        yield block


def scale_block(block: np.ndarray, gain: float) -> np.ndarray:
    """``block * gain`` in float32 (one rule for the one-shot and the streamed paths)."""
    return (block * np.float32(gain)).astype(np.float32, copy=False)


def peak_gain(peak: float, *, peak_db: float | None) -> float:
    """Gain that brings ``peak`` to ``peak_db`` dBFS (``None``: unity, only turned down
    when the peak would reach full scale, to -0.1 dBFS)."""
    if peak <= 0.0:
        return 1.0
    if peak_db is None:
        limit = 10.0 ** (-0.1 / 20.0)
        return 1.0 if peak < limit else limit / peak
    return 10.0 ** (peak_db / 20.0) / peak


def render(
    source: Source,
    *,
    sample_rate: int = 44_100,
    channels: int = 2,
    voice: str | Voice | NotePlayer | None = None,
    drums: bool = True,
    reverb: Reverb | bool | None = True,
    peak_db: float | None = -1.0,
    block_size: int = 16_384,
    seed: int = 0,
) -> np.ndarray:
    """Render to one float32 array ``(channels, time)``, peak-normalised to ``peak_db``.

    Args:
        source: a .mid path, a :class:`~dsp_rnn.music.Score`, a
            :class:`~dsp_rnn.music.NoteGrid` or a sequence of Notes.
        sample_rate: 16000, 22050, 44100 or 48000 Hz.
        channels: 1 or 2.
        voice: ``"ks"``, ``"subtractive"``, ``"additive"``, ``"sine"``, a voice object, or
            None for the General MIDI mapping (:func:`~dsp_rnn.synth.gm_voice_name`); or a
            :class:`NotePlayer` such as a learned voice (``render(piece,
            voice=load_voice("learned"))``), which plays the piece itself (its drums left
            out; ``seed`` seeds its draws).
        drums: play channel 10 on the drum kit (default); False leaves it out.
        reverb: True for the default :class:`Reverb`, a Reverb, or None/False for dry.
        peak_db: normalise the peak to this many dBFS (default -1); None keeps the level
            (turned down only if it would clip).

    Example:
        >>> from dsp_rnn.music import Note
        >>> notes = [Note(60, 100, 0, 480, 0.0, 0.5)]
        >>> y = render(notes, sample_rate=22050, channels=1, voice="ks", reverb=None)
        >>> y.shape[0], round(float(np.abs(y).max()), 4)
        (1, 0.8913)
    """
    rev = as_reverb(reverb, sample_rate, channels)
    if isinstance(voice, NotePlayer):
        return voice.play(source, sample_rate=sample_rate, channels=channels, reverb=rev,
                          peak_db=peak_db, seed=seed)  # fmt: skip
    plan = plan_notes(source, sample_rate=sample_rate, channels=channels, voice=voice,
                      drums=drums, tail_s=rev.tail_s if rev else 0.0)  # fmt: skip
    blocks = list(render_blocks(plan, reverb=rev, block_size=block_size, seed=seed))
    y = np.concatenate(blocks, axis=1) if blocks else np.zeros((channels, 0), np.float32)
    peak = float(np.abs(y).max()) if y.size else 0.0
    return scale_block(y, peak_gain(peak, peak_db=peak_db))


def as_reverb(reverb: Reverb | bool | None, sample_rate: int, channels: int) -> Reverb | None:
    """The renderers' ``reverb`` argument as a :class:`Reverb` or ``None``: ``True`` is the
    default room for ``sample_rate`` and ``channels``, ``False``/``None`` is dry.

    Raises:
        InputError: anything else.
    """
    if reverb is True:
        return Reverb(sample_rate=sample_rate, channels=channels)
    if reverb is None or reverb is False:
        return None
    if not isinstance(reverb, Reverb):
        raise InputError(f"reverb: expected True, False, None or a Reverb, got {reverb!r}")
    return reverb
