"""Play notes with a learned voice: the roll, the feature network and the sample model,
streamed block by block.

Per block of ``block_frames`` frames: the roll of the block (:func:`~dsp_rnn.voice.note_roll`)
goes through the feature network with its GRU state carried, one frame at a time (so every
frame is computed the same way whatever the block size); the predicted frame vectors become
:class:`~dsp_rnn.audio.Features` (:func:`~dsp_rnn.audio.features_from_vectors`); the sample
model renders them with its state carried (:func:`~dsp_rnn.audio.synthesize_stream`); the
notes' own harmonic source (:mod:`dsp_rnn.voice.source`), at the frame's residual RMS,
goes through the frame's synthesis filter and the de-emphasis (states carried) and is mixed
with it by the voice's ``harmonic_share``; the notes' gate silences what no note plays; and
a streaming soxr resampler takes the samples to the output rate. Memory stays flat in the
length of the piece, and the samples do not depend on ``block_frames`` given the seed.

:func:`render_voice` returns the array; :func:`render_voice_file` writes a file through the
renderer's writer (:func:`dsp_rnn.synth.write_blocks`: two passes, peak normalisation that
never clips, atomic), as ``dsp-rnn render IN.mid OUT.wav --voice VOICE`` does.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dsp_rnn._validate import check_int, check_seed
from dsp_rnn.audio.frame_tier import features_from_vectors
from dsp_rnn.audio.generator import export_weights
from dsp_rnn.audio.voice_stream import synthesize_stream
from dsp_rnn.errors import InputError, NonFiniteError
from dsp_rnn.synth import (
    SAMPLE_RATES,
    SUBTYPES,
    RenderReport,
    Reverb,
    peak_gain,
    scale_block,
    write_blocks,
)
from dsp_rnn.voice.files import LearnedVoice
from dsp_rnn.voice.mix import GATE_DB, ModelBlock, check_gate, mix_blocks
from dsp_rnn.voice.roll import NoteArray, note_roll, score_notes

__all__ = ["TAIL_S", "BLOCK_FRAMES", "model_blocks", "voice_blocks", "render_voice",
           "render_voice_file"]  # fmt: skip

TAIL_S = 1.5
"""Seconds rendered after the last note-off by default (the release)."""
BLOCK_FRAMES = 200
"""Frames per block by default (2 s at 10 ms)."""


def _check(voice: Any, sample_rate: int, channels: int, temperature: float,
           block_frames: int, tail_s: float) -> None:  # fmt: skip
    if not isinstance(voice, LearnedVoice):
        raise InputError(f"voice: expected a LearnedVoice (load_voice), got "
                         f"{type(voice).__name__}")  # fmt: skip
    if isinstance(sample_rate, bool) or sample_rate not in SAMPLE_RATES:
        raise InputError(f"sample_rate: expected one of {SAMPLE_RATES} Hz, got {sample_rate!r}")
    if channels not in (1, 2):
        raise InputError(f"channels: expected 1 (mono) or 2 (stereo), got {channels!r}")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not (math.isfinite(temperature) and temperature >= 0)
    ):
        raise InputError(f"temperature: expected a number >= 0, got {temperature!r}")
    check_int(block_frames, "block_frames", minimum=1)
    if (
        isinstance(tail_s, bool)
        or not isinstance(tail_s, (int, float))
        or not (math.isfinite(tail_s) and tail_s >= 0)
    ):
        raise InputError(f"tail_s: expected seconds >= 0, got {tail_s!r}")


def model_blocks(
    voice: LearnedVoice,
    notes: NoteArray,
    *,
    seed: int,
    temperature: float = 1.0,
    block_frames: int = BLOCK_FRAMES,
    tail_s: float = TAIL_S,
) -> Iterator[ModelBlock]:
    """The learned parts of a render, block by block: the feature network's frame vectors
    (GRU state carried, one frame at a time, so every frame is computed the same way
    whatever the block size) and the sample model's signal from them (its state carried),
    ``tail_s`` past the last note-off. :func:`~dsp_rnn.voice.mix_blocks` adds the notes'
    source; neither depends on the voice's :class:`~dsp_rnn.voice.SourceConfig`.

    Args: as :func:`voice_blocks`.
    """
    seed = check_seed(seed)
    net, weights = voice.net, export_weights(voice.sample_model)
    roll_cfg, feat_cfg = net.config.roll_config, net.config.features
    n_frames = max(1, math.ceil((notes.end_time_s + tail_s) / roll_cfg.hop_s))
    hidden: torch.Tensor | None = None
    state = None
    for f0 in range(0, n_frames, block_frames):
        n = min(block_frames, n_frames - f0)
        roll = note_roll(notes, f0, n, roll_cfg).reshape(n, -1)
        rows = []
        for t in range(n):  # one frame at a time: the same numbers in any block
            v, hidden = net.vectors(roll[t : t + 1], hidden)
            rows.append(v)
        vectors = np.concatenate(rows)  # (n, vector_size)
        feats = features_from_vectors(vectors, feat_cfg)
        y, state = synthesize_stream(weights, feats, state, seed=seed, temperature=temperature)
        if not np.isfinite(y).all():
            raise NonFiniteError(f"the voice produced NaN or inf in frames {f0}..{f0 + n}")
        yield ModelBlock(f0, vectors, feats, y[0])


def voice_blocks(
    voice: LearnedVoice,
    notes: NoteArray,
    *,
    seed: int,
    temperature: float = 1.0,
    block_frames: int = BLOCK_FRAMES,
    tail_s: float = TAIL_S,
    gate_db: float | None = GATE_DB,
) -> Iterator[np.ndarray]:
    """Mono float32 blocks ``(block_frames * hop_samples,)`` (the last may be shorter) at
    the sample model's rate: the notes played by the voice, ``tail_s`` past the last
    note-off. Not normalised; not clipped. :func:`model_blocks` mixed with the notes'
    source by :func:`~dsp_rnn.voice.mix_blocks`.

    Args:
        voice: the :class:`~dsp_rnn.voice.LearnedVoice`.
        notes: the notes (:func:`~dsp_rnn.voice.score_notes`).
        seed: seeds the sample model's draws (:func:`~dsp_rnn.audio.synthesize_stream`).
        temperature: the sample model's sampling temperature, >= 0 (default 1).
        block_frames: frames per block, >= 1; the samples do not depend on it.
        tail_s: seconds after the last note-off, >= 0.
        gate_db: mute frames whose predicted energy is below this many dB, fading in
            over :data:`~dsp_rnn.voice.GATE_RANGE_DB` above it (per sample, linearly
            between frames); None for no gate (default :data:`~dsp_rnn.voice.GATE_DB`).
    """
    check_gate(gate_db)
    blocks = model_blocks(voice, notes, seed=seed, temperature=temperature,
                          block_frames=block_frames, tail_s=tail_s)  # fmt: skip
    return mix_blocks(voice, notes, blocks, gate_db=gate_db)


def _check_reverb(reverb: Reverb | None, sample_rate: int, channels: int) -> None:
    if reverb is None:
        return
    if not isinstance(reverb, Reverb):
        raise InputError(f"reverb: expected a Reverb or None, got {type(reverb).__name__}")
    if (reverb.channels, reverb.sample_rate) != (channels, sample_rate):
        raise InputError(f"reverb: expected channels={channels}, sample_rate={sample_rate}, "
                         f"got channels={reverb.channels}, "
                         f"sample_rate={reverb.sample_rate}")  # fmt: skip


def _at_rate(blocks: Iterator[np.ndarray], rate_in: int, rate_out: int,
             channels: int) -> Iterator[np.ndarray]:  # fmt: skip
    """``(channels, n)`` blocks at ``rate_out`` through a streaming soxr resampler (the
    same samples whatever the blocks)."""
    resampler = None
    if rate_in != rate_out:
        import soxr

        resampler = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality="HQ")
    pending = next(blocks, None)
    while pending is not None:
        following = next(blocks, None)
        y = pending
        if resampler is not None:
            y = resampler.resample_chunk(pending, last=following is None)
        if y.size:
            yield np.repeat(np.asarray(y, np.float32)[None], channels, axis=0)
        pending = following


def _reverbed(blocks: Iterator[np.ndarray], reverb: Reverb, tail: int,
              block: int) -> Iterator[np.ndarray]:  # fmt: skip
    """The blocks through ``reverb`` (state carried), then ``tail`` samples of its decay."""
    state = None
    for b in blocks:
        y, state = reverb(b, state)
        yield y
    for t0 in range(0, tail, block):
        y, state = reverb(np.zeros((reverb.channels, min(block, tail - t0)), np.float32), state)
        yield y


def render_voice(
    voice: LearnedVoice,
    source: Any,
    *,
    seed: int = 0,
    sample_rate: int = 16_000,
    channels: int = 1,
    temperature: float = 1.0,
    peak_db: float | None = -1.0,
    block_frames: int = BLOCK_FRAMES,
    tail_s: float = TAIL_S,
    gate_db: float | None = GATE_DB,
    reverb: Reverb | None = None,
) -> np.ndarray:
    """Play a piece with a learned voice into one array.

    Args:
        voice: the :class:`~dsp_rnn.voice.LearnedVoice` (:func:`~dsp_rnn.voice.load_voice`).
        source: a MIDI path, a :class:`~dsp_rnn.music.Score` or a sequence of Notes (drums
            and keys outside the voice's range are left out).
        seed: seeds the sample model's draws.
        sample_rate: the output rate, one of :data:`dsp_rnn.synth.SAMPLE_RATES` (default
            16000; others are resampled from the model's rate by soxr).
        channels: 1 or 2 (the mono voice on both).
        temperature: the sample model's sampling temperature, >= 0.
        peak_db: normalise the peak to this dBFS (default -1); None keeps the level and
            only turns it down when it would clip.
        block_frames: frames per block, >= 1 (the samples do not depend on it).
        tail_s: seconds rendered after the last note-off, >= 0 (default 1.5).
        gate_db: mute frames whose predicted energy is below this (:func:`voice_blocks`);
            None for no gate (default :data:`GATE_DB`).
        reverb: a :class:`~dsp_rnn.synth.Reverb` at ``sample_rate`` and ``channels`` to
            add, with its tail (default None: dry, as the voice learned it).

    Shape:
        Returns ``(channels, time)`` float32 at ``sample_rate``.

    Raises:
        InputError: bad options or source; no note to play. MidiError: an unreadable file.

    Properties: numpy, torch (CPU) and numba; deterministic given ``seed``.
    """
    _check(voice, sample_rate, channels, temperature, block_frames, tail_s)
    notes = score_notes(source, voice.net.config.roll_config).notes
    if len(notes) == 0:
        raise InputError("nothing to play: no pitched notes in the voice's range")
    _check_reverb(reverb, sample_rate, channels)
    blocks = voice_blocks(voice, notes, seed=seed, temperature=temperature,
                          block_frames=block_frames, tail_s=tail_s, gate_db=gate_db)  # fmt: skip
    out_blocks = _at_rate(blocks, voice.sample_rate, sample_rate, channels)
    if reverb is not None:
        out_blocks = _reverbed(out_blocks, reverb, round(reverb.tail_s * sample_rate), 16_384)
    parts = list(out_blocks)
    y = np.concatenate(parts, axis=1) if parts else np.zeros((channels, 0), np.float32)
    peak = float(np.abs(y).max()) if y.size else 0.0
    return scale_block(y, peak_gain(peak, peak_db=peak_db))


def render_voice_file(
    voice: LearnedVoice,
    source: Any,
    path: str | os.PathLike[str],
    *,
    seed: int = 0,
    sample_rate: int = 44_100,
    channels: int = 2,
    subtype: str = "PCM_16",
    temperature: float = 1.0,
    peak_db: float | None = -1.0,
    block_frames: int = BLOCK_FRAMES,
    tail_s: float = TAIL_S,
    gate_db: float | None = GATE_DB,
    reverb: Reverb | None = None,
    max_seconds: float = 4 * 3600.0,
    memory_budget_mb: float = 32.0,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RenderReport:
    """Play a piece with a learned voice into an audio file (.wav, .flac, .aiff), streamed
    through the renderer's writer (:func:`dsp_rnn.synth.write_blocks`).

    Arguments as :func:`render_voice`, and:
        path: the file; its folder must exist.
        subtype: ``"PCM_16"``, ``"PCM_24"`` or ``"FLOAT"`` (or ``"16"``, ``"24"``,
            ``"float"``).
        reverb: a :class:`~dsp_rnn.synth.Reverb` at ``sample_rate`` and ``channels`` to
            add, with its tail (default None: dry, as the voice learned it).
        max_seconds: refuse pieces longer than this.
        memory_budget_mb: the writer's first pass keeps this much in memory.
        overwrite: replace an existing file (default: refuse, before any work).
        progress: called as ``progress(done_samples, total_samples)`` at the output rate.

    Returns:
        A :class:`~dsp_rnn.synth.RenderReport`.

    Raises:
        InputError: bad options, no note to play, a piece over ``max_seconds``.
        AudioError: the file exists (without ``overwrite``). MidiError: an unreadable file.
    """
    t_start = time.perf_counter()
    _check(voice, sample_rate, channels, temperature, block_frames, tail_s)
    from dsp_rnn._atomic import check_target
    from dsp_rnn.errors import AudioError

    out = Path(path)
    check_target(out, overwrite, AudioError)
    picked = score_notes(source, voice.net.config.roll_config)
    notes = picked.notes
    if len(notes) == 0:
        why = ", ".join(f"{n} {w}" for w, n in picked.skipped.items()) or "no notes"
        raise InputError(f"nothing to play: no pitched notes in the voice's range ({why})")
    _check_reverb(reverb, sample_rate, channels)
    reverb_tail = round(reverb.tail_s * sample_rate) if reverb is not None else 0
    seconds = notes.end_time_s + tail_s + reverb_tail / sample_rate
    if seconds > max_seconds:
        raise InputError(f"the piece lasts {seconds:.0f} s, more than max_seconds="
                         f"{max_seconds:.0f} (--max-seconds); raise the limit to render it "
                         "anyway")  # fmt: skip
    hop = voice.net.config.roll_config.hop_samples
    total_in = max(1, math.ceil(seconds * voice.sample_rate / hop)) * hop
    total = round(total_in * sample_rate / voice.sample_rate) + reverb_tail
    blocks = voice_blocks(voice, notes, seed=seed, temperature=temperature,
                          block_frames=block_frames, tail_s=tail_s, gate_db=gate_db)  # fmt: skip
    out_blocks = _at_rate(blocks, voice.sample_rate, sample_rate, channels)
    if reverb is not None:
        out_blocks = _reverbed(out_blocks, reverb, reverb_tail, 16_384)
    peak, frames, gain = write_blocks(
        out_blocks, out, total=total,
        sample_rate=sample_rate, channels=channels, subtype=subtype, peak_db=peak_db,
        memory_budget_mb=memory_budget_mb, overwrite=overwrite, progress=progress,
    )  # fmt: skip
    final = peak * float(np.float32(gain))
    return RenderReport(
        path=out, seconds=frames / sample_rate, sample_rate=sample_rate, channels=channels,
        subtype=SUBTYPES.get(str(subtype), str(subtype).upper()),
        engine=f"learned voice {voice.name} (seed {seed})"
        + (f", reverb RT60 {reverb.rt60_s:g} s wet {reverb.wet:g}" if reverb else ", dry"),
        notes=len(notes),
        peak_dbfs=20 * math.log10(final) if final > 0 else -math.inf,
        gain_db=20 * math.log10(gain), elapsed_s=time.perf_counter() - t_start,
        skipped=dict(picked.skipped),
    )  # fmt: skip
