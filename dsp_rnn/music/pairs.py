"""Audio and MIDI training pairs: a folder where each audio file has a same-stem MIDI file.

:func:`pair_folder` walks a folder recursively and pairs ``x.wav`` with ``x.mid`` of the
same folder (the endings :class:`~dsp_rnn.music.AudioFolder` and
:class:`~dsp_rnn.music.MidiFolder` read, any case). A pair is kept only when its two files
line up in time:

- duration: the audio lasts from the MIDI file's last note-off (less a tolerance) to that
  time plus a release allowance (the instrument's release and reverb tail; FluidSynth adds
  about 3.5 s, the project's renderer the voice's release and the reverb's tail);
- onset: the audio's first onset, where its short-time energy (RMS over 2 ms frames) first
  comes within ``threshold_db`` of its loudest frame, is within a tolerance of the first
  note-on.

Every file that is not paired is listed with its reason, naming the files and the numbers;
a damaged file is reported, never raised. ``dsp-rnn render MIDI_DIR OUT_DIR`` makes such a
folder (:func:`dsp_rnn.synth.render_folder`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

from dsp_rnn.errors import InputError, MidiError
from dsp_rnn.music.folder import MIDI_EXTENSIONS, Skipped
from dsp_rnn.music.midi import read_midi

__all__ = ["Pair", "Alignment", "PairedFolder", "pair_folder", "audio_onset_s"]

_FRAME_S = 0.002  # energy frames of 2 ms: the onset's resolution


class Pair(NamedTuple):
    """An audio file and its same-stem MIDI file; unpacks as ``(audio, midi)``."""

    audio: Path
    midi: Path


class Alignment(NamedTuple):
    """What :func:`pair_folder` measured on a pair, in seconds.

    Attributes:
        audio_s: the audio's duration.
        midi_end_s: the MIDI file's last note-off.
        first_note_s: the MIDI file's first note-on.
        onset_s: the audio's first onset (``nan`` when the audio is silent).
    """

    audio_s: float
    midi_end_s: float
    first_note_s: float
    onset_s: float

    @property
    def tail_s(self) -> float:
        """Audio after the last note-off (negative when the audio stops before it)."""
        return self.audio_s - self.midi_end_s

    @property
    def onset_offset_s(self) -> float:
        """Audio onset minus first note-on (positive: the audio starts late)."""
        return self.onset_s - self.first_note_s


@dataclass
class PairedFolder:
    """A folder's audio/MIDI pairs and every file left out, with reasons.

    Attributes:
        root: the folder.
        pairs: the aligned pairs, in path order.
        unpaired: audio files without a usable same-stem MIDI file and MIDI files without
            a same-stem audio file.
        misaligned: audio files whose MIDI file does not line up (duration or onset).
        broken: files that cannot be read (a damaged audio or MIDI file, a MIDI file
            without notes).
        alignment: the measurements of every pair and every misaligned audio file, by
            audio path.
    """

    root: Path
    pairs: list[Pair] = field(default_factory=list)
    unpaired: list[Skipped] = field(default_factory=list)
    misaligned: list[Skipped] = field(default_factory=list)
    broken: list[Skipped] = field(default_factory=list)
    alignment: dict[Path, Alignment] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[Pair]:
        return iter(self.pairs)

    @property
    def skipped(self) -> list[Skipped]:
        """Every file left out: unpaired, misaligned and broken, in that order."""
        return [*self.unpaired, *self.misaligned, *self.broken]

    def summary(self) -> str:
        """One line: pairs, and files left out by kind."""
        seconds = sum(self.alignment[p.audio].audio_s for p in self.pairs)
        return (
            f"{len(self.pairs)} pairs ({seconds / 60:.1f} min of audio); {len(self.unpaired)} "
            f"unpaired, {len(self.misaligned)} misaligned, {len(self.broken)} broken"
        )


def audio_onset_s(path: str | os.PathLike[str], *, threshold_db: float = 40.0) -> float:
    """The time of a file's first onset: the start of the first 2 ms frame whose RMS (over
    all channels) comes within ``threshold_db`` of the loudest frame's.

    The file is streamed block by block (memory stays flat); the loudest frame is the
    whole file's, so a quiet lead-in or noise floor more than ``threshold_db`` down does
    not count as the onset.

    Args:
        path: an audio file soundfile can read.
        threshold_db: dB below the loudest frame, > 0 (default 40).

    Returns:
        Seconds from the start of the file, a multiple of 2 ms; ``nan`` for a silent file.

    Raises:
        InputError: ``threshold_db`` not > 0.
        RuntimeError: soundfile cannot read the file (:func:`pair_folder` reports it).
    """
    if not (isinstance(threshold_db, (int, float)) and threshold_db > 0):
        raise InputError(f"threshold_db: expected a number of dB > 0, got {threshold_db!r}")
    info = sf.info(str(path))
    hop = max(1, round(info.samplerate * _FRAME_S))
    energy = []
    for block in sf.blocks(str(path), blocksize=hop * 4096, dtype="float32", always_2d=True):
        frames = len(block) // hop * hop
        power = np.square(block[:frames], dtype=np.float64).mean(axis=1)
        energy.append(power.reshape(-1, hop).mean(axis=1))
        if frames < len(block):  # the file's last, partial frame
            energy.append(np.square(block[frames:], dtype=np.float64).mean(axis=(0, 1))[None])
    env = np.concatenate(energy) if energy else np.zeros(0)
    if env.size == 0 or not env.max() > 0:
        return math.nan
    first = int(np.argmax(env >= env.max() * 10 ** (-threshold_db / 10)))
    return first * hop / info.samplerate


def _stems(root: Path, extensions: tuple[str, ...]) -> dict[Path, list[Path]]:
    """Files with one of ``extensions`` under ``root`` by ``folder/stem``."""
    found: dict[Path, list[Path]] = {}
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            stem, ending = os.path.splitext(name)
            if ending.lower() in extensions:
                found.setdefault(Path(folder, stem), []).append(Path(folder, name))
    return found


def pair_folder(
    path: str | os.PathLike[str],
    *,
    onset_tolerance_s: float = 0.05,
    duration_tolerance_s: float = 0.25,
    release_s: float = 5.0,
    threshold_db: float = 40.0,
) -> PairedFolder:
    """Pair each audio file of a folder tree with the MIDI file of the same stem beside it,
    and check that the two line up.

    Args:
        path: the folder, searched recursively.
        onset_tolerance_s: largest distance between the audio's first onset
            (:func:`audio_onset_s`) and the first note-on, seconds >= 0 (default 0.05).
        duration_tolerance_s: how far the audio may end outside the window from the last
            note-off to that plus ``release_s``, seconds >= 0 (default 0.25).
        release_s: the longest release and reverb tail allowed after the last note-off,
            seconds >= 0 (default 5).
        threshold_db: the onset's threshold below the loudest frame, dB > 0 (default 40).

    Returns:
        A :class:`PairedFolder`: the pairs, and the unpaired, misaligned and broken files,
        each with a reason naming the files and the numbers.

    Raises:
        InputError: ``path`` is not a folder; a tolerance out of range.

    Example:
        >>> import tempfile
        >>> pair_folder(tempfile.mkdtemp()).summary()
        '0 pairs (0.0 min of audio); 0 unpaired, 0 misaligned, 0 broken'
    """
    from dsp_rnn.music.audio import AUDIO_EXTENSIONS

    for name, value in (("onset_tolerance_s", onset_tolerance_s),
                        ("duration_tolerance_s", duration_tolerance_s),
                        ("release_s", release_s)):  # fmt: skip
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise InputError(f"{name}: expected a finite number of seconds >= 0, got {value!r}")
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"{root}: expected a folder of audio files with same-stem MIDI files")
    out = PairedFolder(root=root)
    audio, midi = _stems(root, AUDIO_EXTENSIONS), _stems(root, MIDI_EXTENSIONS)
    for stem in sorted(midi.keys() - audio.keys()):
        for m in midi[stem]:
            out.unpaired.append(Skipped(m, f"no audio file {stem.name}.* beside it"))
    for stem in sorted(audio):
        mids = midi.get(stem, [])
        for a in audio[stem]:
            if not mids:
                out.unpaired.append(Skipped(a, f"no MIDI file {stem.name}.mid beside it"))
            elif len(mids) > 1:
                names = ", ".join(m.name for m in mids)
                out.unpaired.append(Skipped(a, f"more than one MIDI file of its stem: {names}"))
        if len(mids) > 1:
            for m in mids:
                out.unpaired.append(Skipped(m, f"shares its stem with another MIDI file; "
                                               f"{stem.name}.* pairs with neither"))  # fmt: skip
        elif len(mids) == 1:
            _check(audio[stem], mids[0], out, onset_tolerance_s=onset_tolerance_s,
                   duration_tolerance_s=duration_tolerance_s, release_s=release_s,
                   threshold_db=threshold_db)  # fmt: skip
    return out


def _check(audios: list[Path], midi: Path, out: PairedFolder, *, onset_tolerance_s: float,
           duration_tolerance_s: float, release_s: float,
           threshold_db: float) -> None:  # fmt: skip
    """Pair each of ``audios`` (one stem) with ``midi``, or say why not."""
    try:
        score = read_midi(midi, sustain=True)  # the pedal holds notes in the audio too
        if not score.notes:
            raise MidiError(f"{midi}: holds no notes")
    except MidiError as exc:
        reason = str(exc).removeprefix(f"{midi}: ")
        out.broken.append(Skipped(midi, reason))
        for a in audios:
            out.unpaired.append(Skipped(a, f"its MIDI file {midi.name} is broken: {reason}"))
        return
    first = min(n.start_s for n in score.notes)
    end = score.duration_s
    for a in audios:
        try:
            info = sf.info(str(a))
            if info.frames <= 0:
                raise RuntimeError("holds no samples")
            onset = audio_onset_s(a, threshold_db=threshold_db)
        except (RuntimeError, OSError, ValueError) as exc:  # soundfile's errors are RuntimeError
            out.broken.append(Skipped(a, f"cannot read the audio ({exc})"))
            continue
        got = Alignment(info.frames / info.samplerate, end, first, onset)
        out.alignment[a] = got
        why = _misalignment(got, midi.name, onset_tolerance_s=onset_tolerance_s,
                            duration_tolerance_s=duration_tolerance_s, release_s=release_s,
                            threshold_db=threshold_db)  # fmt: skip
        if why:
            out.misaligned.append(Skipped(a, why))
        else:
            out.pairs.append(Pair(a, midi))
    if not any(a in out.alignment for a in audios):
        names = ", ".join(a.name for a in audios)
        out.unpaired.append(Skipped(midi, f"its audio file ({names}) is broken"))


def _misalignment(got: Alignment, midi: str, *, onset_tolerance_s: float,
                  duration_tolerance_s: float, release_s: float,
                  threshold_db: float) -> str | None:  # fmt: skip
    """Why the pair does not line up, with the numbers; None when it does."""
    lo, hi = got.midi_end_s - duration_tolerance_s, got.midi_end_s + release_s
    hi += duration_tolerance_s
    if not lo <= got.audio_s <= hi:
        return (
            f"lasts {got.audio_s:.3f} s but {midi} ends at {got.midi_end_s:.3f} s (expected "
            f"{lo:.3f} to {hi:.3f} s: up to {release_s:g} s of release after the last note, "
            f"{duration_tolerance_s:g} s tolerance)"
        )
    if math.isnan(got.onset_s):
        return f"is silent, but {midi} has notes from {got.first_note_s:.3f} s"
    if abs(got.onset_offset_s) > onset_tolerance_s:
        return (
            f"first onset at {got.onset_s:.3f} s (energy within {threshold_db:g} dB of its "
            f"peak), {midi}'s first note at {got.first_note_s:.3f} s: "
            f"{got.onset_offset_s * 1000:+.0f} ms apart, more than the "
            f"{onset_tolerance_s * 1000:g} ms tolerance"
        )
    return None
