"""A small, deterministic corpus of synthesized musical phrases, made by the project.

Each phrase is a melody, an arpeggio or a chord progression on the notes of a scale,
played by a plucked tone: harmonic partials whose amplitudes fall as ``1 / k**1.3`` and
whose decay gets faster with the partial number ``k`` (a bright attack that mellows, like
a plucked string). Nothing is sampled or copied from any existing recording or work.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dsp_rnn._tuning import midi_to_hz
from dsp_rnn._validate import check_int, check_seed
from dsp_rnn.music.audio import write_audio

__all__ = ["DemoNote", "DemoPhrase", "demo_phrases", "render_phrase", "make_demo_audio"]

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
}
KINDS = ("melody", "arpeggio", "chords")
NOTE_NAMES = ("C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B")
PEAK = 0.8  # every file is scaled to this peak (about -1.9 dBFS)
FADE_S = 0.02  # fade-out at the end of each file


@dataclass(frozen=True)
class DemoNote:
    """One plucked note: MIDI ``pitch``, ``onset_s`` in seconds, ``gain`` in (0, 1]."""

    pitch: int
    onset_s: float
    gain: float


@dataclass(frozen=True)
class DemoPhrase:
    """What one demo file holds: its name, musical parameters and notes."""

    name: str
    kind: str
    key: str
    scale: str
    tempo_bpm: float
    seconds: float
    decay_s: float
    notes: tuple[DemoNote, ...]


def _scale_pitches(root: int, scale: tuple[int, ...], lo: int, hi: int) -> list[int]:
    return [p for p in range(lo, hi + 1) if (p - root) % 12 in scale]


def _phrase(index: int, rng: np.random.Generator) -> DemoPhrase:
    kind = KINDS[index % len(KINDS)]
    scale_name = str(rng.choice(list(SCALES)))
    if kind != "melody" and scale_name == "pentatonic":
        scale_name = "major"  # chords need a seven-note scale
    scale = SCALES[scale_name]
    root = int(rng.integers(55, 67))  # G3 .. F#4
    tempo = float(rng.choice([90.0, 100.0, 110.0, 120.0, 132.0]))
    seconds = float(rng.choice([2.0, 2.5, 3.0, 3.5]))
    beat = 60.0 / tempo
    notes: list[DemoNote] = []
    if kind == "melody":
        pool = _scale_pitches(root, scale, root, root + 19)
        i = int(rng.integers(0, 4))
        t = 0.0
        while t < seconds - 0.3:
            notes.append(DemoNote(pool[i], round(t, 6), float(rng.uniform(0.6, 1.0))))
            i = int(np.clip(i + rng.choice([-2, -1, -1, 1, 1, 2]), 0, len(pool) - 1))
            t += beat * float(rng.choice([0.5, 0.5, 1.0, 1.0, 1.5]))
    else:
        degrees = [0, int(rng.choice([3, 5])), 4, 0]
        chord_len = seconds / len(degrees)
        for c, degree in enumerate(degrees):
            triad = [root + scale[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
            t0 = c * chord_len
            if kind == "chords":  # block chord with a bass note an octave below the root
                for p in [triad[0] - 12, *triad]:
                    notes.append(DemoNote(p, round(t0, 6), float(rng.uniform(0.5, 0.8))))
            else:  # arpeggio: up the triad and the octave
                steps = max(3, round(chord_len / (beat / 2)))  # about eighth notes
                pattern = [*triad, triad[0] + 12]
                for s in range(steps):
                    onset = t0 + s * chord_len / steps
                    gain = float(rng.uniform(0.6, 0.95))
                    notes.append(DemoNote(pattern[s % 4], round(onset, 6), gain))
    key = NOTE_NAMES[root % 12]
    return DemoPhrase(
        name=f"demo_{index:02d}_{kind}_{key}_{scale_name}",
        kind=kind,
        key=key,
        scale=scale_name,
        tempo_bpm=tempo,
        seconds=seconds,
        decay_s=float(rng.uniform(0.4, 0.9)),
        notes=tuple(notes),
    )


def demo_phrases(*, n_files: int = 8, seed: int = 0) -> list[DemoPhrase]:
    """The phrases of the demo corpus (no audio): deterministic from ``seed``.

    Args:
        n_files: how many phrases, integer >= 1 (default 8); kinds cycle through melody,
            arpeggio and chords.
        seed: random seed (default 0, the one that made ``data/audio``).

    Returns:
        One :class:`DemoPhrase` per file.

    Raises:
        InputError: ``n_files`` not an integer >= 1, or ``seed`` negative.

    Example:
        >>> [p.kind for p in demo_phrases(n_files=4)]
        ['melody', 'arpeggio', 'chords', 'melody']
    """
    n_files = check_int(n_files, "n_files", minimum=1)
    seed = check_seed(seed)
    return [_phrase(i, np.random.default_rng([seed, i])) for i in range(n_files)]


def render_phrase(phrase: DemoPhrase, *, sample_rate: int = 16000) -> torch.Tensor:
    """Synthesize one phrase: plucked harmonic tones, peak scaled to 0.8.

    A note of frequency ``f0`` sums partials ``k = 1, 2, ...`` below ``0.45 * sample_rate``
    (at most 16), each ``sin(2 pi k f0 t) * k**-1.3 * exp(-t (1 + 0.6 (k - 1)) / decay_s)``,
    with a 3 ms linear attack. Notes ring until the end of the file, which fades out over
    20 ms.

    Args:
        phrase: what to play (from :func:`demo_phrases`).
        sample_rate: sample rate in Hz, integer > 0 (default 16000).

    Shape:
        Returns ``(round(phrase.seconds * sample_rate),)``.

    Returns:
        float32 mono samples, peak 0.8.

    Example:
        >>> phrase = demo_phrases(n_files=1)[0]
        >>> x = render_phrase(phrase, sample_rate=8000)
        >>> phrase.seconds, x.shape, round(float(x.abs().max()), 4)
        (2.5, torch.Size([20000]), 0.8)
    """
    sr = check_int(sample_rate, "sample_rate", minimum=1)
    n = int(round(phrase.seconds * sr))
    out = np.zeros(n)
    attack = max(1, int(0.003 * sr))
    for note in phrase.notes:
        start = int(round(note.onset_s * sr))
        if start >= n:
            continue
        t = np.arange(n - start) / sr
        f0 = midi_to_hz(note.pitch)
        tone = np.zeros_like(t)
        for k in range(1, 17):
            if k * f0 >= 0.45 * sr:
                break
            decay = np.exp(-t * (1.0 + 0.6 * (k - 1)) / phrase.decay_s)
            tone += k**-1.3 * decay * np.sin(2 * math.pi * k * f0 * t)
        tone[:attack] *= np.linspace(0.0, 1.0, attack, endpoint=False)
        out[start:] += note.gain * tone
    fade = min(n, int(FADE_S * sr))
    out[n - fade :] *= np.linspace(1.0, 0.0, fade)
    out *= PEAK / np.abs(out).max()
    return torch.from_numpy(out.astype(np.float32))


def make_demo_audio(
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    n_files: int = 8,
    sample_rate: int = 16000,
    overwrite: bool = False,
) -> list[Path]:
    """Write the demo audio corpus: short mono 16-bit WAVs of synthesized phrases.

    Files are named ``demo_<index>_<kind>_<key>_<scale>.wav``, 2 to 3.5 s each; with the
    defaults the 8 files total about 0.7 MB. Written with :func:`write_audio` (atomic).

    Args:
        out_dir: folder to write into (created if missing).
        seed: random seed (default 0: the files in ``data/audio``).
        n_files: number of files, integer >= 1 (default 8).
        sample_rate: sample rate in Hz (default 16000).
        overwrite: replace existing files of the same name (default ``False``: refuse).

    Returns:
        The paths written, in index order.

    Raises:
        AudioError: a file exists and ``overwrite`` is False (nothing after it is written).
        InputError: a bad ``seed``, ``n_files`` or ``sample_rate``.

    Example:
        >>> import tempfile
        >>> paths = make_demo_audio(tempfile.mkdtemp(), n_files=2, sample_rate=8000)
        >>> [p.suffix for p in paths]
        ['.wav', '.wav']
    """
    sr = check_int(sample_rate, "sample_rate", minimum=1)
    phrases = demo_phrases(n_files=n_files, seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        write_audio(
            out / f"{p.name}.wav",
            render_phrase(p, sample_rate=sr),
            sample_rate=sr,
            subtype="PCM_16",
            overwrite=overwrite,
        )  # fmt: skip
        for p in phrases
    ]
