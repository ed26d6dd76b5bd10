"""The note source of a learned voice: the harmonic part of its excitation, made from the
notes themselves.

The sample model draws the excitation one sample at a time from frame features; a frame
vector holds one ``f0`` and one periodicity, which a chord does not have, and a small
model trained for minutes on a CPU draws shaped noise more readily than the harmonics of
four notes at once. The notes are known exactly, so the voice makes the periodic part of
its excitation from them, as a source-filter synthesiser or a vocoder would, and leaves the
rest to the sample model:

- every sounding note contributes a band-limited impulse train at its pitch (harmonics
  ``k f0`` up to ``max_harmonic_hz``, equal amplitudes, unit mean power; the Dirichlet
  kernel in closed form), starting in phase at its note-on, weighted by its velocity and
  its envelope: a linear attack of ``attack_s`` from the exact note-on time, then 1 while
  the note is held, then an exponential release reaching -60 dB ``release_s`` after the
  note-off, where it stops; with ``decay_s`` set, its weight also falls by 60 dB every
  ``decay_s`` from its note-on (a struck or plucked string: a new note stands out of the
  older ones);
- the weighted sum of the sounding notes' trains is divided by the root of the sum of the
  squared weights: unit mean power where their partials do not coincide (the frame's level
  comes from the predicted features);
- the **gate** is the largest envelope of the sounding notes: 1 while any note is held,
  dying away with the last release, exactly 0 where no note has sounded for ``release_s``;
- with ``noise_decay_s`` set, the sample model's part follows the onsets
  (:func:`noise_envelope`): full at each note-on, falling by 60 dB over ``noise_decay_s``
  (a hammer's or a pluck's noise); None keeps it level (an organ's wind).

:func:`dsp_rnn.voice.voice_blocks` passes ``sqrt(harmonic_share)`` of this source, times
the frame's residual RMS, through the frame's synthesis filter (the predicted spectral
envelope), adds ``sqrt(1 - harmonic_share)`` of the sample model's signal, and multiplies
the sum by the gate. Every value depends only on the absolute sample index, so a piece
rendered block by block gives the same samples whatever the blocks.

A voice folder keeps its :class:`SourceConfig` in ``source.json``: ``release_s`` measured on
its training audio (:func:`measure_release_s`) and ``harmonic_share`` chosen on its
validation pairs (:func:`dsp_rnn.voice.tune_source`).

>>> from dsp_rnn.voice.roll import score_notes
>>> from dsp_rnn.music import Note
>>> notes = score_notes([Note(69, 100, 0, 480, 0.01, 0.5)]).notes
>>> e, gate = note_source(notes, 0, 16000, 16000, SourceConfig(release_s=0.2))
>>> float(gate[159]), float(gate[200]), float(gate[11210])  # before, attack, gone
(0.0, 1.0, 0.0)
>>> round(float(np.mean(e[1000:8000] ** 2)), 2)  # unit power while held
1.0
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.voice.roll import NoteArray, score_notes

__all__ = ["SOURCE", "SourceConfig", "note_source", "noise_envelope", "measure_release_s",
           "read_source", "write_source"]  # fmt: skip

SOURCE = "source.json"
"""The file of a voice folder that holds its :class:`SourceConfig`."""

_CUT_DB = -60.0  # a note's release stops at this level


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and low <= value <= high
    ):  # fmt: skip
        raise InputError(f"{name}: expected a number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class SourceConfig:
    """How a learned voice makes the harmonic part of its excitation from the notes.

    Args:
        harmonic_share: the share of the excitation's power that comes from the notes'
            impulse trains, in [0, 1]; the rest is the sample model's (default 0.8).
        attack_s: each note's linear attack from its note-on, in [0, 1] s (default 0.002).
        release_s: each note dies away to -60 dB this long after its note-off, and the
            voice is silent where no note has sounded for this long; in [0.001, 10] s
            (default 0.3).
        max_harmonic_hz: the highest harmonic, in Hz (default 7200: 0.45 of 16 kHz; capped
            at 0.45 of the sample rate).
        decay_s: each note's weight among the sounding notes falls by 60 dB this long after
            its note-on, in [0.01, 100] s; None (default): held notes keep their weight.
        noise_decay_s: the sample model's part falls by 60 dB this long after the latest
            note-on, in [0.01, 100] s; None (default): it stays level.
    """

    harmonic_share: float = 0.8
    attack_s: float = 0.002
    release_s: float = 0.3
    max_harmonic_hz: float = 7200.0
    decay_s: float | None = None
    noise_decay_s: float | None = None

    def __post_init__(self) -> None:
        _number(self.harmonic_share, "harmonic_share", 0.0, 1.0)
        _number(self.attack_s, "attack_s", 0.0, 1.0)
        _number(self.release_s, "release_s", 1e-3, 10.0)
        _number(self.max_harmonic_hz, "max_harmonic_hz", 1.0, 1e6)
        for name in ("decay_s", "noise_decay_s"):
            if getattr(self, name) is not None:
                _number(getattr(self, name), name, 0.01, 100.0)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> SourceConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            InputError: not an object, unknown keys or bad values.
        """
        if not isinstance(data, dict):
            raise InputError(f"source: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        extra = set(data) - known
        if extra:
            raise InputError(f"source: unknown setting(s) {', '.join(sorted(extra))}")
        return cls(**data)


def read_source(folder: str | os.PathLike[str]) -> SourceConfig:
    """The :class:`SourceConfig` of a voice folder (``source.json``; the defaults when the
    folder has none).

    Raises:
        CheckpointError: an unreadable or invalid ``source.json``.
    """
    path = Path(folder) / SOURCE
    if not path.is_file():
        return SourceConfig()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return SourceConfig.from_dict(doc.get("source") if isinstance(doc, dict) else doc)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, InputError, TypeError) as exc:
        raise CheckpointError(f"{path}: expected a voice's source settings ({exc})") from None


def write_source(folder: str | os.PathLike[str], config: SourceConfig,
                 notes: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """Write ``config`` as the voice folder's ``source.json`` (atomically), with ``notes``
    (how it was measured) beside it."""
    from dsp_rnn._atomic import write_bytes

    doc = {"source": config.to_dict(), "measured": dict(notes or {})}
    path = Path(folder) / SOURCE
    write_bytes(path, (json.dumps(doc, indent=2) + "\n").encode(), overwrite=True,
                error=CheckpointError)  # fmt: skip
    return path


def _fall(seconds: np.ndarray, span_s: float) -> np.ndarray:
    """The gain that falls by 60 dB every ``span_s``, ``seconds`` after it starts."""
    return np.exp(seconds * (_CUT_DB / 20.0 * math.log(10.0) / span_s))


def _envelope(start_s: float, end_s: float, t: np.ndarray, cfg: SourceConfig) -> np.ndarray:
    """One note's envelope at the times ``t`` (s): the attack, 1 while held, the release
    down to -60 dB and then 0."""
    since = t - start_s
    env = np.clip(since / cfg.attack_s, 0.0, 1.0) if cfg.attack_s > 0 else (since >= 0) * 1.0
    after = t - end_s
    released = np.where(after < cfg.release_s, _fall(after, cfg.release_s), 0.0)
    return np.where(after > 0, env * released, env)


def note_source(
    notes: NoteArray, start_sample: int, n_samples: int, sample_rate: int,
    config: SourceConfig | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The harmonic source and the gate of samples ``start_sample .. + n_samples - 1``.

    Args:
        notes: the notes (:func:`~dsp_rnn.voice.score_notes`).
        start_sample: the block's first sample, >= 0.
        n_samples: samples, >= 0.
        sample_rate: Hz.
        config: the :class:`SourceConfig` (default settings when None).

    Shape:
        Returns ``(source, gate)``, each ``(n_samples,)`` float64: the mix of the
        sounding notes' impulse trains (see the module's description; 0 where none
        sounds) and the gate in [0, 1].

    Properties: numpy; the same samples whatever the block they are computed in.
    """
    cfg = config or SourceConfig()
    n = int(n_samples)
    source, gate = np.zeros(n), np.zeros(n)
    if n == 0 or len(notes) == 0:
        return source, gate
    t = (int(start_sample) + np.arange(n)) / sample_rate
    margin = 2.0 / sample_rate  # wide: the envelopes decide, so every block agrees
    near = np.nonzero((notes.start_s < t[-1] + margin)
                      & (notes.end_s + cfg.release_s > t[0] - margin))[0]  # fmt: skip
    if near.size == 0:
        return source, gate
    top = min(cfg.max_harmonic_hz, 0.45 * sample_rate)
    mix, power = np.zeros(n), np.zeros(n)
    for i in near:  # one note at a time, in order: memory O(n) however dense the chord
        env = _envelope(notes.start_s[i], notes.end_s[i], t, cfg)
        gate = np.maximum(gate, env)
        weight = env * (notes.velocity[i] / 127.0)
        since = t - notes.start_s[i]
        if cfg.decay_s is not None:
            weight = weight * _fall(np.maximum(since, 0.0), cfg.decay_s)
        f0 = 440.0 * 2.0 ** ((float(notes.pitch[i]) - 69.0) / 12.0)
        m = float(max(1, math.floor(top / f0)))  # harmonics below the top
        cycles = f0 * since
        x = 2.0 * math.pi * (cycles - np.floor(cycles))
        half = np.sin(0.5 * x)
        small = np.abs(half) < 1e-9
        dirichlet = np.where(small, m, np.sin(0.5 * m * x) * np.cos(0.5 * (m + 1) * x)
                             / np.where(small, 1.0, half))  # fmt: skip
        mix += weight * (math.sqrt(2.0 / m) * dirichlet)  # a unit-power train, weighted
        power += weight**2
    source = np.where(power > 0, mix / np.sqrt(np.where(power > 0, power, 1.0)), 0.0)
    return source, gate


def noise_envelope(
    notes: NoteArray, start_sample: int, n_samples: int, sample_rate: int,
    config: SourceConfig | None = None,
) -> np.ndarray:  # fmt: skip
    """The gain of the sample model's part on samples ``start_sample .. + n_samples - 1``:
    ``10 ** (-3 (t - s) / noise_decay_s)`` with ``s`` the latest note-on at or before ``t``
    (0 before the first), or 1 everywhere when ``noise_decay_s`` is None.

    Shape:
        Returns ``(n_samples,)`` float64 in [0, 1].

    Properties: numpy; the same samples whatever the block they are computed in.
    """
    cfg = config or SourceConfig()
    n = int(n_samples)
    if cfg.noise_decay_s is None:
        return np.ones(n)
    t = (int(start_sample) + np.arange(n)) / sample_rate
    starts = notes.start_s  # sorted
    latest = np.searchsorted(starts, t, side="right") - 1  # index of the latest note-on
    since = t - starts[np.maximum(latest, 0)] if starts.size else np.zeros(n)
    return np.where(latest >= 0, _fall(since, cfg.noise_decay_s), 0.0)


def measure_release_s(pairs: Any, *, quantile: float = 0.9, floor_db: float = -60.0,
                      hop_s: float = 0.01) -> float:  # fmt: skip
    """How long the recordings take to die away after their last note-off: per pair, the
    time from the MIDI file's last note-off until the audio's frame RMS (``hop_s`` frames)
    stays ``floor_db`` below the file's loudest frame, and the ``quantile`` of that over
    the pairs, within [0.01, 10] s.

    Args:
        pairs: :class:`~dsp_rnn.music.Pair`-like items with ``audio`` and ``midi`` paths.

    Raises:
        InputError: no pair with notes and audio past its last note-off.
    """
    import torch

    from dsp_rnn.music.audio import read_audio

    times = []
    for pair in pairs:
        notes = score_notes(Path(pair.midi)).notes  # the notes a voice plays
        audio, sr = read_audio(pair.audio, dtype=torch.float64)  # mono
        y = audio.numpy()
        hop = max(1, round(hop_s * sr))
        n_frames = len(y) // hop
        end_s = notes.end_time_s
        if not len(notes) or math.floor(end_s / (hop / sr)) >= n_frames:
            continue  # no note, or no audio after the last note-off
        rms = np.sqrt(np.mean(y[: n_frames * hop].reshape(n_frames, hop) ** 2, axis=1))
        level = 20 * np.log10(np.maximum(rms, 1e-12))
        loud = np.nonzero(level > level.max() + floor_db)[0]
        last_loud = loud[-1] if loud.size else -1
        times.append(max(0.0, (last_loud + 1) * hop / sr - end_s))
    if not times:
        raise InputError("release: no pair with notes and audio after its last note-off")
    return float(np.clip(np.quantile(times, quantile), 0.01, 10.0))
