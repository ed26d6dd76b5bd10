"""Fit a learned voice's note source to its recordings: the release measured on the
training audio, the harmonic share and the notes' decay chosen on held-out pairs.

:func:`tune_source` renders the opening ``seconds`` of each of a few pairs at every
candidate ``harmonic_share`` (the same seed, so only the share changes) and keeps the share
whose renders are closest to the recordings by the level-matched multi-resolution STFT
distance (:func:`~dsp_rnn.audio.mr_stft_distance`); then, with that share, it does the same
for each candidate ``decay_s`` (None, the notes held level, first); ``release_s`` is
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

from dsp_rnn.errors import InputError
from dsp_rnn.voice.files import LearnedVoice
from dsp_rnn.voice.render import voice_blocks
from dsp_rnn.voice.roll import NoteArray, score_notes
from dsp_rnn.voice.source import SourceConfig, measure_release_s

__all__ = ["SHARES", "DECAYS_S", "TunedSource", "tune_source"]

SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
"""The harmonic shares :func:`tune_source` tries by default."""
DECAYS_S = (None, 8.0, 4.0, 2.0, 1.0)
"""The notes' decays (seconds to -60 dB; None: held level) :func:`tune_source` tries by
default."""


class TunedSource(NamedTuple):
    """:func:`tune_source`'s result.

    Attributes:
        source: the chosen settings.
        distances: the mean distance per share tried (the notes held level).
        decay_distances: the mean distance per decay tried (``"none"``, or seconds), at
            the chosen share.
        pieces: the audio files it was measured on.
    """

    source: SourceConfig
    distances: dict[float, float]
    decay_distances: dict[str, float]
    pieces: list[str]

    def notes(self) -> dict[str, Any]:
        """What was measured, for ``source.json``."""
        return {"mr_stft_by_harmonic_share": {f"{k:g}": v for k, v in self.distances.items()},
                "mr_stft_by_decay_s": dict(self.decay_distances),
                "pieces": self.pieces}  # fmt: skip


def _decay_name(decay_s: float | None) -> str:
    return "none" if decay_s is None else f"{decay_s:g}"


def _opening(notes: NoteArray, seconds: float) -> NoteArray:
    keep = notes.start_s < seconds
    return NoteArray(notes.start_s[keep], np.minimum(notes.end_s[keep], seconds),
                     notes.pitch[keep], notes.velocity[keep])  # fmt: skip


def _reference(path: Path, sample_rate: int, n: int) -> np.ndarray:
    import soundfile as sf

    y, sr = sf.read(str(path), dtype="float64", always_2d=True, frames=-1)
    y = y.mean(axis=1)
    if sr != sample_rate:
        import soxr

        y = soxr.resample(y, sr, sample_rate)
    return y[:n]


def tune_source(
    voice: LearnedVoice,
    pairs: Sequence[Any],
    *,
    release_pairs: Sequence[Any] | None = None,
    shares: Sequence[float] = SHARES,
    decays_s: Sequence[float | None] = DECAYS_S,
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

    def distance(source: SourceConfig) -> float:
        candidate = dataclasses.replace(voice, source=source)
        scores = []
        for (_, notes), ref in zip(pieces, references, strict=True):
            tail = max(0.0, seconds - notes.end_time_s)
            y = np.concatenate(list(voice_blocks(candidate, notes, seed=seed, tail_s=tail)))
            n = min(len(ref), len(y))
            scores.append(mr_stft_distance(ref[:n], y[:n].astype(np.float64), rate))
        return float(np.mean(scores))

    held = dataclasses.replace(base, decay_s=None) if decays_s else base
    distances = {float(k): distance(dataclasses.replace(held, harmonic_share=float(k)))
                 for k in shares}  # fmt: skip
    best = dataclasses.replace(held, harmonic_share=min(distances, key=lambda k: distances[k]))
    by_decay = {_decay_name(d): (distances[best.harmonic_share] if d is None and held.decay_s
                                 is None else distance(dataclasses.replace(best, decay_s=d)), d)
                for d in decays_s}  # fmt: skip
    if by_decay:
        best = dataclasses.replace(best, decay_s=min(by_decay.values(), key=lambda v: v[0])[1])
    return TunedSource(best, distances, {k: v[0] for k, v in by_decay.items()},
                       [str(a) for a, _ in pieces])  # fmt: skip
