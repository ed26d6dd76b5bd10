"""Mix a learned voice's parts: the sample model's signal and the notes' harmonic source
through the predicted synthesis filter, gated by the notes.

Per block of :class:`ModelBlock` (what :func:`~dsp_rnn.voice.model_blocks` computes: the
frame vectors, their :class:`~dsp_rnn.audio.Features` and the sample model's signal), at
the sample model's rate:

1. The level (the frame's residual RMS) moves from the previous frame's to this one's
   across the frame, or, in a frame with a note-on, at the note-on (over the attack), so
   onsets land on the note: the sample model's part is held at the previous level until
   then too, and follows the onsets by ``noise_decay_s``
   (:func:`~dsp_rnn.voice.noise_envelope`).
2. The notes' source (:func:`~dsp_rnn.voice.note_source`) at that level goes through the
   frame's synthesis filter ``1 / A(z)`` and the de-emphasis (states carried), and is mixed
   with the sample model's part as ``sqrt(h) notes + sqrt(1 - h) sample model``, ``h`` the
   voice's ``harmonic_share``.
3. The notes' gate silences what no note plays once its release has decayed, and the
   energy gate mutes frames predicted below ``gate_db``.

Every step depends on absolute sample and frame indices, with states carried, so the
samples do not depend on the blocks. The source settings enter only here: a caller that
tries several (:func:`~dsp_rnn.voice.tune_source`) computes the learned parts once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np
import torch

from dsp_rnn.audio.features import Features
from dsp_rnn.audio.synthesis import lpc_synthesis_numpy
from dsp_rnn.errors import InputError
from dsp_rnn.filters import deemphasis
from dsp_rnn.voice.roll import NoteArray
from dsp_rnn.voice.source import noise_envelope, note_source

__all__ = ["GATE_DB", "GATE_RANGE_DB", "ModelBlock", "mix_blocks", "check_gate"]

GATE_DB = -70.0
"""Frames whose predicted energy (``energy_db``, the features' frame level in dB) is below
this are muted by default, and those up to :data:`GATE_RANGE_DB` above it faded: the
sample model, trained on true features, does not always fall silent where its features
say silence (a young model draws noise bursts there)."""
GATE_RANGE_DB = 20.0
"""Width of the gate's fade in dB above :data:`GATE_DB`."""


class ModelBlock(NamedTuple):
    """The learned parts of one block of frames.

    Attributes:
        first_frame: the block's first frame.
        vectors: ``(n, vector_size)`` float64 frame vectors in physical units.
        features: their :class:`~dsp_rnn.audio.Features`.
        signal: ``(n * hop_samples,)`` float32, the sample model's signal.
    """

    first_frame: int
    vectors: np.ndarray
    features: Features
    signal: np.ndarray


def check_gate(gate_db: Any) -> None:
    """Raise :class:`~dsp_rnn.errors.InputError` unless ``gate_db`` is a finite number or
    None."""
    if gate_db is not None and (
        isinstance(gate_db, bool) or not isinstance(gate_db, (int, float))
        or not math.isfinite(gate_db)
    ):  # fmt: skip
        raise InputError(f"gate_db: expected a number of dB or None, got {gate_db!r}")


def _first_onsets(notes: NoteArray, f0: int, n: int, hop: int, rate: int) -> np.ndarray:
    """Per frame ``f0 .. f0 + n - 1``: samples from the frame's start to its first
    note-on (``hop`` where no note starts in it), ``(n,)`` int64."""
    out = np.full(n, hop, np.int64)
    on = np.ceil(notes.start_s * rate - 1e-6).astype(np.int64)  # note-on samples
    frame = on // hop - f0
    inside = (frame >= 0) & (frame < n)
    np.minimum.at(out, frame[inside], (on - (on // hop) * hop)[inside])
    return out


def mix_blocks(voice: Any, notes: NoteArray, blocks: Iterable[ModelBlock], *,
               gate_db: float | None = GATE_DB) -> Iterator[np.ndarray]:  # fmt: skip
    """Mono float32 blocks of ``voice`` playing ``notes`` (see the module's description)
    from its learned parts ``blocks``, in order from the first frame. Not normalised.

    Args:
        voice: the :class:`~dsp_rnn.voice.LearnedVoice` (its network's features and its
            :class:`~dsp_rnn.voice.SourceConfig` are read).
        notes: the notes the blocks were computed from.
        blocks: :class:`ModelBlock` in order (not changed).
        gate_db: the energy gate in dB, or None for none.
    """
    check_gate(gate_db)
    feat_cfg, source = voice.net.config.features, voice.source
    hop, rate, share = feat_cfg.hop_samples, feat_cfg.sample_rate, source.harmonic_share
    ramp = (np.arange(1, hop + 1) / hop)[None, :]  # (1, hop): previous frame's gain -> this
    k = np.arange(hop)[None, :]
    onset_steps = max(1, round(source.attack_s * rate))
    previous_gain, previous_rms = 0.0, 0.0
    lpc_state: np.ndarray | None = None
    emphasis_state = torch.zeros(1, dtype=torch.float64)
    for f0, vectors, feats, signal in blocks:
        n = vectors.shape[0]
        out = signal.astype(np.float64)  # a copy: the block is not changed
        harmonic, notes_gate = note_source(notes, f0 * hop, n * hop, rate, source)
        rms = np.sqrt(np.maximum(feats.residual_power, 0.0))  # (n,)
        before = np.concatenate([[previous_rms], rms[:-1]])[:, None]
        previous_rms = float(rms[-1])
        at = _first_onsets(notes, f0, n, hop, rate)[:, None]  # (n, 1); hop: none
        step = np.clip((k - at + 1) / onset_steps, 0.0, 1.0)
        frac = np.where(at < hop, step, ramp)  # (n, hop)
        ratio = np.minimum(1.0, before / np.maximum(rms[:, None], 1e-12))
        out *= np.where(at < hop, ratio + (1.0 - ratio) * step, 1.0).reshape(-1)
        out *= noise_envelope(notes, f0 * hop, n * hop, rate, source)
        if share > 0:
            level = (before + (rms[:, None] - before) * frac).reshape(-1)  # (n * hop,)
            s, lpc_state = lpc_synthesis_numpy(level * harmonic, feats.lpc, hop_samples=hop,
                                               state=lpc_state)  # fmt: skip
            if feat_cfg.preemphasis != 0.0:
                s_t, emphasis_state = deemphasis(torch.from_numpy(s), feat_cfg.preemphasis,
                                                 emphasis_state)  # fmt: skip
                s = s_t.numpy()
            out = math.sqrt(share) * s + math.sqrt(1.0 - share) * out
        out = (out * notes_gate).astype(np.float32)
        if gate_db is not None:
            gain = np.clip((vectors[:, -1] - gate_db) / GATE_RANGE_DB, 0.0, 1.0)  # (n,)
            start = np.concatenate([[previous_gain], gain[:-1]])[:, None]
            per_sample = (start + (gain[:, None] - start) * ramp).reshape(-1)  # (n * hop,)
            out = (out * per_sample).astype(np.float32)
            previous_gain = float(gain[-1])
        yield out
