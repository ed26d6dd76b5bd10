"""Fit a learned voice's note source to its recordings: the release measured on the
training audio, the harmonic share and the notes' decay chosen on held-out pairs.

:func:`tune_source` renders the opening ``seconds`` of each of a few pairs at every
candidate ``harmonic_share`` (the same seed, so only the share changes) and scores each
render twice: its level-matched multi-resolution STFT distance to the recording
(:func:`~dsp_rnn.audio.mr_stft_distance`), and its timing, the share of the chord onsets
(distinct note-on times) with an onset detected within 10 ms
(``librosa.onset.onset_detect``, 4 ms hop, backtracked). It keeps the closest candidate
among those timed as well as the recordings themselves (the same detector on the reference
audio), less :data:`TIMING_SLACK`, or, where no candidate is, as well as the best
candidate, less the slack: the sample model's part fills the spectrum between the notes'
partials, and blurs their onsets unless it too follows them. The candidates are every
``harmonic_share`` with every ``noise_decay_s`` (None, the sample model's part held
level, first); then, with the pair chosen, each candidate ``decay_s`` (None, the notes
held level, first); ``release_s`` is
:func:`~dsp_rnn.voice.measure_release_s` of the pairs it is given for that. ``dsp-rnn train
PAIRS --out VOICE --sample-model RUN`` runs it once the voice has its sample model and
writes the result as the folder's ``source.json``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from dsp_rnn.errors import InputError
from dsp_rnn.music.audio import read_audio
from dsp_rnn.voice.files import LearnedVoice
from dsp_rnn.voice.mix import mix_blocks
from dsp_rnn.voice.render import model_blocks
from dsp_rnn.voice.roll import NoteArray, score_notes
from dsp_rnn.voice.source import SourceConfig, measure_release_s

__all__ = [
    "SHARES",
    "DECAYS_S",
    "NOISE_DECAYS_S",
    "TIMING_SLACK",
    "TunedSource",
    "chord_onset_errors_s",
    "timing_floor",
    "tune_source",
]

SHARES = (0.0, 0.5, 0.75, 0.9, 0.95, 0.98, 1.0)
"""The harmonic shares :func:`tune_source` tries by default."""
TIMING_SLACK = 0.05
"""How much lower a candidate's share of onsets within 10 ms may be than the recordings'
(or, where none reaches theirs, the best candidate's)."""
ONSET_TOLERANCE_S = 0.01
_ONSET_HOP = 64
DECAYS_S = (None, 8.0, 4.0, 2.0, 1.0)
"""The notes' decays (seconds to -60 dB; None: held level) :func:`tune_source` tries by
default."""
NOISE_DECAYS_S = (None, 1.0, 0.3, 0.1)
"""The sample model's part's decays after each note-on (seconds to -60 dB; None: held
level) :func:`tune_source` tries by default."""


class TunedSource(NamedTuple):
    """:func:`tune_source`'s result.

    Attributes:
        source: the chosen settings.
        distances: the mean distance per share tried (``"share"`` or
            ``"share/noise_decay_s"``; the notes held level).
        timing: the share of chord onsets within 10 ms per share tried.
        decay_distances: the mean distance per decay tried (``"none"``, or seconds), at
            the chosen share.
        decay_timing: the share of chord onsets within 10 ms per decay tried.
        reference_timing: the recordings' own share of chord onsets within 10 ms.
        pieces: the audio files it was measured on.
    """

    source: SourceConfig
    distances: dict[str, float]
    timing: dict[str, float]
    decay_distances: dict[str, float]
    decay_timing: dict[str, float]
    reference_timing: float
    pieces: list[str]

    def notes(self) -> dict[str, Any]:
        """What was measured, for ``source.json``."""
        return {"mr_stft_by_harmonic_share": dict(self.distances),
                "onsets_within_10ms_by_harmonic_share": dict(self.timing),
                "mr_stft_by_decay_s": dict(self.decay_distances),
                "onsets_within_10ms_by_decay_s": dict(self.decay_timing),
                "recordings_onsets_within_10ms": self.reference_timing,
                "pieces": self.pieces}  # fmt: skip


def chord_onset_errors_s(y: np.ndarray, sample_rate: int,
                         start_s: np.ndarray) -> tuple[np.ndarray, int]:  # fmt: skip
    """How well a render's onsets land on the notes: for each chord onset (each distinct
    note-on time of ``start_s``), the signed error in seconds (detected minus note-on) to
    the nearest onset detected in ``y`` (``librosa.onset.onset_detect``, 4 ms hop at
    16 kHz, backtracked; ``inf`` when none is), and the number of onsets detected."""
    import librosa

    chords = np.unique(np.round(np.asarray(start_s, np.float64), 4))
    found = librosa.onset.onset_detect(y=np.asarray(y, np.float32), sr=sample_rate,
                                       hop_length=_ONSET_HOP, backtrack=True,
                                       units="time")  # fmt: skip
    if len(found) == 0:
        return np.full(len(chords), np.inf), 0
    diff = np.asarray(found)[None, :] - chords[:, None]
    return diff[np.arange(len(chords)), np.argmin(np.abs(diff), axis=1)], len(found)


def _onset_hits(y: np.ndarray, rate: int, notes: NoteArray) -> tuple[int, int]:
    """(chord onsets with a detected onset within 10 ms, chord onsets)."""
    err, _ = chord_onset_errors_s(y, rate, notes.start_s)
    return int(np.sum(np.abs(err) <= ONSET_TOLERANCE_S + 1e-9)), len(err)


def timing_floor(timing: Sequence[float], reference: float) -> float:
    """The least timing a candidate may have to be chosen: the recordings' own timing, or
    the best candidate's where that is lower, less :data:`TIMING_SLACK`."""
    return min(max(timing), reference) - TIMING_SLACK


def _pick(scores: dict[Any, tuple[float, float]], reference: float) -> Any:
    """The key with the lowest distance among those timed at or above the floor."""
    floor = timing_floor([t for _, t in scores.values()], reference)
    fair = {k: d for k, (d, t) in scores.items() if t >= floor}
    return min(fair, key=lambda k: fair[k])


def _decay_name(decay_s: float | None) -> str:
    return "none" if decay_s is None else f"{decay_s:g}"


def _opening(notes: NoteArray, seconds: float) -> NoteArray:
    keep = notes.start_s < seconds
    return NoteArray(notes.start_s[keep], np.minimum(notes.end_s[keep], seconds),
                     notes.pitch[keep], notes.velocity[keep])  # fmt: skip


def _reference(path: Path, sample_rate: int, n: int) -> np.ndarray:
    y, _ = read_audio(path, sample_rate=sample_rate, dtype=torch.float64)  # mono
    return y.numpy()[:n]


def tune_source(
    voice: LearnedVoice,
    pairs: Sequence[Any],
    *,
    release_pairs: Sequence[Any] | None = None,
    shares: Sequence[float] = SHARES,
    decays_s: Sequence[float | None] = DECAYS_S,
    noise_decays_s: Sequence[float | None] = NOISE_DECAYS_S,
    seconds: float = 15.0,
    max_pairs: int = 3,
    seed: int = 0,
) -> TunedSource:
    """Choose ``harmonic_share`` and measure ``release_s`` for ``voice``.

    Args:
        voice: the voice (its other source settings are kept).
        pairs: held-out pairs (``audio``, ``midi``) to choose the share on; the first
            ``max_pairs`` with notes in their opening ``seconds`` are used.
        release_pairs: the pairs to measure the release on (default ``pairs``).
        shares: the candidate shares, each in [0, 1].
        decays_s: the candidate decays (:class:`~dsp_rnn.voice.SourceConfig`'s ``decay_s``);
            empty: keep the voice's.
        noise_decays_s: the candidate ``noise_decay_s``, tried with every share below 1;
            empty: keep the voice's.
        seconds: the opening rendered of each piece.
        max_pairs: pieces per share.
        seed: the sample model's seed (the same for every share).

    Raises:
        InputError: no pair with notes, or no candidate.
    """
    from dsp_rnn.audio.metrics import mr_stft_distance

    if not shares:
        raise InputError("shares: expected at least one harmonic share")
    release_s = measure_release_s(release_pairs if release_pairs is not None else pairs)
    base = dataclasses.replace(voice.source, release_s=release_s)
    rate, roll = voice.sample_rate, voice.net.config.roll_config
    pieces = []
    for pair in pairs:
        notes = _opening(score_notes(Path(pair.midi), roll).notes, seconds)
        if len(notes):
            pieces.append((Path(pair.audio), notes))
        if len(pieces) == max_pairs:
            break
    if not pieces:
        raise InputError("tune_source: no pair with notes in its opening "
                         f"{seconds:g} s")  # fmt: skip
    references = [_reference(a, rate, round(seconds * rate)) for a, _ in pieces]
    # the network and the sample model once: the source settings do not enter them
    learned = [list(model_blocks(voice, notes, seed=seed,
                                 tail_s=max(0.0, seconds - notes.end_time_s)))
               for _, notes in pieces]  # fmt: skip

    def score(source: SourceConfig) -> tuple[float, float]:
        candidate = dataclasses.replace(voice, source=source)
        distances, hits, onsets = [], 0, 0
        for (_, notes), ref, blocks in zip(pieces, references, learned, strict=True):
            y = np.concatenate(list(mix_blocks(candidate, notes, blocks)))
            n = min(len(ref), len(y))
            distances.append(mr_stft_distance(ref[:n], y[:n].astype(np.float64), rate))
            h, c = _onset_hits(y, rate, notes)
            hits, onsets = hits + h, onsets + c
        return float(np.mean(distances)), hits / max(onsets, 1)

    held = dataclasses.replace(base, decay_s=None) if decays_s else base
    noises: Sequence[float | None] = noise_decays_s or (held.noise_decay_s,)
    grid = {}
    for share in shares:
        for noise in noises if share < 1.0 else noises[:1]:
            key = f"{share:g}" if noise is None else f"{share:g}/{noise:g}"
            grid[key] = dataclasses.replace(held, harmonic_share=float(share),
                                            noise_decay_s=noise)  # fmt: skip
    hits = [_onset_hits(ref, rate, notes) for (_, notes), ref in zip(pieces, references,
                                                                     strict=True)]  # fmt: skip
    reference = sum(h for h, _ in hits) / max(sum(c for _, c in hits), 1)
    by_share = {k: score(c) for k, c in grid.items()}
    first = _pick(by_share, reference)
    best = grid[first]
    decays = {_decay_name(d): dataclasses.replace(best, decay_s=d) for d in decays_s}
    by_decay = {k: by_share[first] if c == best else score(c) for k, c in decays.items()}
    if by_decay:
        best = decays[_pick(by_decay, reference)]
    return TunedSource(best, {k: v[0] for k, v in by_share.items()},
                       {k: v[1] for k, v in by_share.items()},
                       {k: v[0] for k, v in by_decay.items()},
                       {k: v[1] for k, v in by_decay.items()},
                       reference, [str(a) for a, _ in pieces])  # fmt: skip
