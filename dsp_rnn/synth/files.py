"""Render to an audio file: streamed, peak-normalised without clipping, written atomically.

Pass 1 streams raw float32 blocks (our voices and reverb, or FluidSynth's output) into
memory, or past a budget into a temporary file beside the target, while measuring the
peak; pass 2 scales them into the final format (16-bit, 24-bit or float) in a second
temporary file, which is then renamed into place. Memory stays bounded whatever the
length of the piece; a failed render leaves nothing behind and an existing file is never
replaced without ``overwrite``.
"""

from __future__ import annotations

import math
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from dsp_rnn._atomic import atomic_file, check_target
from dsp_rnn.errors import AudioError, InputError, NonFiniteError
from dsp_rnn.music.outputs import AUDIO_FORMATS
from dsp_rnn.synth.render import (
    SAMPLE_RATES,
    NotePlayer,
    Source,
    as_reverb,
    peak_gain,
    plan_notes,
    render_blocks,
    scale_block,
)
from dsp_rnn.synth.reverb import Reverb
from dsp_rnn.synth.voices import Voice

__all__ = ["RenderReport", "render_file", "write_blocks", "encode", "SUBTYPES"]

SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}


@dataclass
class RenderReport:
    """What a render wrote and measured."""

    path: Path
    seconds: float
    sample_rate: int
    channels: int
    subtype: str
    engine: str
    notes: int
    peak_dbfs: float  # of the file's samples, after normalisation
    gain_db: float  # applied by the normalisation
    elapsed_s: float
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def realtime_factor(self) -> float:
        return self.seconds / self.elapsed_s if self.elapsed_s > 0 else math.inf

    def summary(self) -> str:
        skipped = "".join(f", {n} {why}" for why, n in self.skipped.items())
        return (
            f"{self.path}: {self.seconds:.1f} s, {self.channels} ch, {self.sample_rate} Hz, "
            f"{self.subtype}; {self.notes} notes{skipped}; {self.engine}; peak "
            f"{self.peak_dbfs:.2f} dBFS (gain {self.gain_db:+.1f} dB); rendered in "
            f"{self.elapsed_s:.2f} s ({self.realtime_factor:.0f}x real time)"
        )


def _subtype(subtype: str) -> str:
    st = SUBTYPES.get(str(subtype), str(subtype).upper())
    if st not in SUBTYPES.values():
        raise InputError(
            f"subtype: expected one of 16, 24, float (PCM_16, PCM_24, FLOAT), got {subtype!r}"
        )
    return st


def _check_target(path: Path, subtype: str, overwrite: bool) -> str:
    fmt = AUDIO_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: expected an audio file ending in {', '.join(sorted(AUDIO_FORMATS))}, "
            f"got {path.suffix or 'no ending'!r}"
        )
    if not sf.check_format(fmt, subtype):
        raise InputError(f"{path}: {fmt} cannot hold subtype {subtype}")
    check_target(path, overwrite, AudioError)
    return fmt


def render_file(
    source: Source,
    path: str | os.PathLike[str],
    *,
    sample_rate: int = 44_100,
    channels: int = 2,
    subtype: str = "PCM_16",
    voice: str | Voice | NotePlayer | None = None,
    drums: bool = True,
    reverb: Reverb | bool | None = True,
    peak_db: float | None = -1.0,
    soundfont: str | os.PathLike[str] | None = None,
    max_seconds: float = 4 * 3600.0,
    memory_budget_mb: float = 32.0,
    block_size: int = 16_384,
    seed: int = 0,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RenderReport:
    """Render notes to an audio file (.wav, .flac, .aiff), streaming block by block.

    Args:
        source: a .mid path, a Score, a NoteGrid or a sequence of Notes.
        path: the file to write; its folder must exist.
        sample_rate: 16000, 22050, 44100 or 48000 Hz.
        channels: 1 (mono) or 2 (stereo).
        subtype: ``"PCM_16"``/``"16"``, ``"PCM_24"``/``"24"`` or ``"FLOAT"``/``"float"``.
        voice: our voice for every note (``"ks"``, ``"subtractive"``, ``"additive"``,
            ``"sine"``) or None for the General MIDI mapping. Ignored with ``soundfont``.
            Or a :class:`~dsp_rnn.synth.NotePlayer` such as a learned voice
            (``voice=load_voice("learned")``), which plays and streams the piece itself
            (drums left out; not with ``soundfont``; ``seed`` seeds its draws).
        drums: play channel 10 on our drum kit (default); False leaves it out.
        reverb: True (default :class:`Reverb`), a Reverb, or None/False. With a
            soundfont, any true value turns on FluidSynth's own reverb.
        peak_db: normalise the peak to this level in dBFS (default -1); None keeps the
            level and only turns it down (to -0.1 dBFS) when it would clip.
        soundfont: render through FluidSynth with this .sf2 instead of our voices.
        max_seconds: refuse pieces longer than this (a damaged file can claim days).
        memory_budget_mb: pass 1 keeps up to this much raw audio in memory (32 MB: about
            95 s of stereo at 44.1 kHz) and streams the rest through a temporary file.
        overwrite: replace an existing file.
        progress: called as ``progress(done_samples, total_samples)`` during pass 1.

    Returns:
        A :class:`RenderReport` (duration, notes, skipped notes, the final peak, timing).

    Raises:
        InputError: bad options, a piece longer than ``max_seconds``, a bad SoundFont.
        AudioError: the file exists (without ``overwrite``) or its folder does not.
        MidiError: an unreadable MIDI file.  FluidSynthNotFoundError, RenderError: with
            ``soundfont``, FluidSynth missing or failing.
    """
    if isinstance(voice, NotePlayer):
        if soundfont is not None:
            raise InputError("soundfont and a learned voice: pass one of them (the voice "
                             "plays the notes itself)")  # fmt: skip
        return voice.play_file(
            source, path, sample_rate=sample_rate, channels=channels, subtype=subtype,
            reverb=as_reverb(reverb, sample_rate, channels), peak_db=peak_db,
            max_seconds=max_seconds, memory_budget_mb=memory_budget_mb, seed=seed,
            overwrite=overwrite, progress=progress,
        )  # fmt: skip
    t_start = time.perf_counter()
    out = Path(path)
    st = _subtype(subtype)
    _check_target(out, st, overwrite)  # before any work
    if sample_rate not in SAMPLE_RATES or isinstance(sample_rate, bool):
        raise InputError(f"sample_rate: expected one of {SAMPLE_RATES} Hz, got {sample_rate!r}")
    if channels not in (1, 2):
        raise InputError(f"channels: expected 1 (mono) or 2 (stereo), got {channels!r}")
    if peak_db is not None and not (math.isfinite(peak_db) and -60 <= peak_db <= -0.1):
        raise InputError(f"peak_db: expected -60 <= dBFS <= -0.1 (or None), got {peak_db!r}")
    token = secrets.token_hex(6)
    scratch: list[Path] = []
    try:
        if soundfont is not None:
            blocks, total, notes, skipped, engine = _soundfont_blocks(
                source, soundfont, out, token, scratch, sample_rate=sample_rate,
                channels=channels, reverb=bool(reverb), block_size=block_size,
                max_seconds=max_seconds,
            )  # fmt: skip
        else:
            rev = as_reverb(reverb, sample_rate, channels)
            plan = plan_notes(source, sample_rate=sample_rate, channels=channels, voice=voice,
                              drums=drums, tail_s=rev.tail_s if rev else 0.0)  # fmt: skip
            if len(plan) == 0:
                what = str(source) if isinstance(source, (str, os.PathLike)) else "notes"
                why = ", ".join(f"{n} {w}" for w, n in plan.skipped.items()) or "no notes"
                raise InputError(f"{what}: nothing to render: no playable notes ({why})")
            _check_length(plan.total_samples / sample_rate, max_seconds)
            blocks = render_blocks(plan, reverb=rev, block_size=block_size, seed=seed)
            total, notes, skipped = plan.total_samples, len(plan), plan.skipped
            names = sorted({v.name for v in plan.voices})
            engine = f"voices {'+'.join(names) or 'none'}" + (
                f", reverb RT60 {rev.rt60_s:g} s wet {rev.wet:g}" if rev else ", dry"
            )
        peak, frames, gain = write_blocks(
            blocks, out, total=total, sample_rate=sample_rate, channels=channels, subtype=st,
            peak_db=peak_db, memory_budget_mb=memory_budget_mb, block_size=block_size,
            overwrite=overwrite, progress=progress,
        )  # fmt: skip
    finally:
        for p in scratch:
            p.unlink(missing_ok=True)
    final_peak = peak * float(np.float32(gain))
    return RenderReport(
        path=out, seconds=frames / sample_rate, sample_rate=sample_rate, channels=channels,
        subtype=st, engine=engine, notes=notes,
        peak_dbfs=20 * math.log10(final_peak) if final_peak > 0 else -math.inf,
        gain_db=20 * math.log10(gain), elapsed_s=time.perf_counter() - t_start,
        skipped=dict(skipped),
    )  # fmt: skip


def write_blocks(
    blocks: Iterable[np.ndarray],
    path: str | os.PathLike[str],
    *,
    total: int,
    sample_rate: int,
    channels: int,
    subtype: str = "PCM_16",
    peak_db: float | None = -1.0,
    memory_budget_mb: float = 32.0,
    block_size: int = 16_384,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[float, int, float]:
    """The renderer's file writer: raw float32 blocks ``(channels, n)`` to an audio file,
    peak-normalised without clipping, in two passes with bounded memory, atomically.

    Pass 1 spools the blocks (in memory up to ``memory_budget_mb``, then in a temporary
    file beside ``path``) while measuring the peak; pass 2 scales them by
    :func:`~dsp_rnn.synth.peak_gain` into the final format (:func:`encode`) in a second
    temporary file, renamed into place. Any other source of audio blocks (a learned voice)
    writes its files through here too.

    Args:
        blocks: float32 arrays ``(channels, n)`` in order, finite.
        path: the file (.wav, .flac, .aiff); its folder must exist.
        total: the expected number of frames, for ``progress`` only.
        sample_rate, channels: the file's rate in Hz and channels.
        subtype: ``"PCM_16"``, ``"PCM_24"`` or ``"FLOAT"`` (or ``"16"``, ``"24"``,
            ``"float"``).
        peak_db: normalise the peak to this dBFS; None keeps the level and only turns it
            down (to -0.1 dBFS) when it would clip.
        memory_budget_mb, block_size: pass 1's memory and pass 2's chunk in frames.
        overwrite: replace an existing file.
        progress: called as ``progress(done_frames, total)`` during pass 1.

    Returns:
        ``(peak, frames, gain)``: the raw peak, the frames written, the gain applied.

    Raises:
        InputError: a bad ending or subtype; no frames. AudioError: the file exists
            (without ``overwrite``). NonFiniteError: NaN or inf in a block.
    """
    out = Path(path)
    st = _subtype(subtype)
    fmt = _check_target(out, st, overwrite)
    raw = out.parent / f".{out.name}.{secrets.token_hex(6)}.raw"
    spool = _Spool(raw, int(memory_budget_mb * 2**20))
    try:
        peak, frames = _pass1(iter(blocks), spool, total, progress)
        gain = peak_gain(peak, peak_db=peak_db)
        _pass2(spool, out, overwrite, frames, channels, sample_rate, st, fmt, gain, block_size)
    finally:
        spool.close()
        raw.unlink(missing_ok=True)
    return peak, frames, gain


def _check_length(seconds: float, max_seconds: float) -> None:
    if seconds > max_seconds:
        raise InputError(
            f"the piece lasts {seconds:.0f} s, more than max_seconds={max_seconds:.0f} "
            f"(--max-seconds); raise the limit to render it anyway"
        )


class _Spool:
    """Pass 1's store: raw float32 frames kept in memory up to ``budget_bytes``, then
    spilled to a temporary file, so memory stays bounded for pieces of any length."""

    def __init__(self, raw: Path, budget_bytes: int) -> None:
        self.raw, self.budget = raw, budget_bytes
        self.blocks: list[np.ndarray] = []
        self.nbytes = 0
        self.fh: Any = None

    def add(self, frames: np.ndarray) -> None:  # frames (time, channels) float32
        if self.fh is None and self.nbytes + frames.nbytes <= self.budget:
            self.blocks.append(frames)
            self.nbytes += frames.nbytes
            return
        if self.fh is None:
            self.fh = open(self.raw, "wb")  # noqa: SIM115 - closed in chunks()/close()
            for b in self.blocks:
                b.tofile(self.fh)
            self.blocks = []
        frames.tofile(self.fh)

    def chunks(self, channels: int, block_size: int) -> Iterator[np.ndarray]:
        if self.fh is None:
            yield from self.blocks
            return
        self.fh.close()
        with open(self.raw, "rb") as src:
            while True:
                chunk = np.fromfile(src, np.float32, count=block_size * channels)
                if chunk.size == 0:
                    return
                yield chunk.reshape(-1, channels)

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def _pass1(
    blocks: Iterator[np.ndarray], spool: _Spool, total: int, progress: Callable | None
) -> tuple[float, int]:
    """Spool the blocks as (time, channels) float32; return (peak, frames)."""
    peak, frames = 0.0, 0
    for block in blocks:
        if block.shape[1] == 0:
            continue
        block_peak = float(np.abs(block).max())
        if not math.isfinite(block_peak):
            raise NonFiniteError(f"render produced NaN or inf near sample {frames}")
        peak = max(peak, block_peak)
        spool.add(np.ascontiguousarray(block.T, np.float32))
        frames += block.shape[1]
        if progress is not None:
            progress(frames, total)
    return peak, frames


_PCM = {"PCM_16": (np.int16, 32768.0, 0), "PCM_24": (np.int32, 8388608.0, 8)}


def encode(frames: np.ndarray, gain: float, subtype: str) -> np.ndarray:
    """Scale float32 frames by ``gain`` (:func:`scale_block`) and, for PCM, round to the
    integer codes libsndfile writes for float input (``floor(x * 2^(bits-1))``, clipped to
    the largest code; 24-bit in the top bits of int32, as soundfile expects). Bit for bit
    what ``soundfile.write`` of the floats gives, at a fraction of its time."""
    scaled = scale_block(frames, gain)
    if subtype not in _PCM:
        return scaled
    dtype, full, shift = _PCM[subtype]
    codes = np.floor(scaled * np.float32(full))
    np.clip(codes, -full, full - 1, out=codes)
    ints = codes.astype(dtype)
    return ints << shift if shift else ints


def _pass2(
    spool: _Spool, out: Path, overwrite: bool, frames: int, channels: int, sample_rate: int,
    subtype: str, fmt: str, gain: float, block_size: int,
) -> None:  # fmt: skip
    """Scale the spooled frames by ``gain`` into ``out`` in the final format, atomically."""
    if frames == 0:
        raise InputError("nothing to render: no playable notes")
    with atomic_file(out, overwrite, AudioError) as fh:
        with sf.SoundFile(fh, "w", samplerate=sample_rate, channels=channels, subtype=subtype,
                          format=fmt) as snd:  # fmt: skip
            for chunk in spool.chunks(channels, block_size):
                snd.write(encode(chunk, gain, subtype))


def _soundfont_blocks(
    source: Any, soundfont: Any, out: Path, token: str, scratch: list[Path], *,
    sample_rate: int, channels: int, reverb: bool, block_size: int, max_seconds: float,
) -> tuple[Iterator[np.ndarray], int, int, dict[str, int], str]:  # fmt: skip
    """FluidSynth renders the notes to a float WAV; stream it back in blocks."""
    from dsp_rnn.music.grid import NoteGrid
    from dsp_rnn.music.midi import Score, read_midi, write_midi
    from dsp_rnn.synth.fluidsynth import check_soundfont, fluidsynth_version, render_soundfont

    sf2 = check_soundfont(soundfont)
    if isinstance(source, (str, os.PathLike)):
        midi = Path(source)
        score = read_midi(midi, sustain=True)
    else:
        midi = out.parent / f".{out.name}.{token}.mid"
        scratch.append(midi)
        if isinstance(source, NoteGrid):
            source.to_midi(midi)
            score = read_midi(midi)
        elif isinstance(source, Score):
            score = source
            write_midi(score, midi)
        else:
            raise InputError(
                f"with soundfont: expected a MIDI path, a Score or a NoteGrid, got "
                f"{type(source).__name__}"
            )
    end_s = max((n.end_s for n in score.notes), default=0.0)
    _check_length(end_s, max_seconds)
    wav = out.parent / f".{out.name}.{token}.fluid.wav"
    scratch.append(wav)
    render_soundfont(midi, sf2, wav, sample_rate=sample_rate, reverb=reverb, chorus=reverb,
                     timeout_s=60.0 + end_s)  # fmt: skip
    info = sf.info(str(wav))

    def blocks() -> Iterator[np.ndarray]:
        for b in sf.blocks(str(wav), blocksize=block_size, dtype="float32", always_2d=True):
            if channels == 1:
                b = b.mean(axis=1, keepdims=True)
            yield np.ascontiguousarray(b.T[:channels])

    engine = f"FluidSynth {fluidsynth_version() or '?'} with {sf2.name}"
    return blocks(), int(info.frames), len(score.notes), {}, engine
