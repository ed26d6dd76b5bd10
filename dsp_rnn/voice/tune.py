"""Fit a learned voice's note source to its recordings: the release measured on the
training audio, the harmonic share chosen on held-out pairs.

:func:`tune_source` renders the opening ``seconds`` of each of a few pairs at every
candidate ``harmonic_share`` (the same seed, so only the share changes) and keeps the share
whose renders are closest to the recordings by the level-matched multi-resolution STFT
distance (:func:`~dsp_rnn.audio.mr_stft_distance`); ``release_s`` is
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

__all__ = ["SHARES", "TunedSource", "tune_source"]

SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
"""The harmonic shares :func:`tune_source` tries by default."""


class TunedSource(NamedTuple):
    """:func:`tune_source`'s result.

    Attributes:
        source: the chosen settings.
        distances: the mean distance per share tried.
        pieces: the audio files it was measured on.
    """

    source: SourceConfig
    distances: dict[float, float]
    pieces: list[str]

    def notes(self) -> dict[str, Any]:
        """What was measured, for ``source.json``."""
        return {"mr_stft_by_harmonic_share": {f"{k:g}": v for k, v in self.distances.items()},
                "pieces": self.pieces}  # fmt: skip


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
        shares: the candidates, each in [0, 1].
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
    distances: dict[float, float] = {}
    for share in shares:
        candidate = dataclasses.replace(voice, source=dataclasses.replace(
            base, harmonic_share=float(share)))  # fmt: skip
        scores = []
        for (_, notes), ref in zip(pieces, references, strict=True):
            tail = max(0.0, seconds - notes.end_time_s)
            y = np.concatenate(list(voice_blocks(candidate, notes, seed=seed, tail_s=tail)))
            n = min(len(ref), len(y))
            scores.append(mr_stft_distance(ref[:n], y[:n].astype(np.float64), rate))
        distances[float(share)] = float(np.mean(scores))
    best = min(distances, key=lambda k: distances[k])
    return TunedSource(dataclasses.replace(base, harmonic_share=best), distances,
                       [str(a) for a, _ in pieces])  # fmt: skip
