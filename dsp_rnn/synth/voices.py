"""Synth voices built from our filters: Karplus-Strong string, subtractive, additive organ.

A voice renders one whole note: ``voice.add_note(ring, start, gains, pitch, velocity,
duration_s, sample_rate=..., seed=...)`` mixes it into the renderer's ring buffer (no
allocation as long as the note), ``voice.render_note(...)`` returns its samples (float64,
from the note-on to the end of its release), and ``voice.note_samples(duration_s, pitch,
sample_rate)`` says how many there are before rendering. Notes are independent of one
another, so the renderer can mix them block by block and get the same samples as one
shot.

Every voice has velocity and an ADSR envelope whose attack starts at 0 and whose release
ends at exactly 0 with a raised-cosine fade, so note starts and ends do not click.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from dsp_rnn._tuning import allpass1_delay_coeff, midi_to_hz, rt60_to_gain
from dsp_rnn.errors import InputError
from dsp_rnn.synth import _kernels as k

__all__ = [
    "RenderNote",
    "ADSR",
    "Voice",
    "KarplusStrong",
    "Subtractive",
    "Additive",
    "VOICE_NAMES",
    "make_voice",
    "gm_voice_name",
    "midi_to_hz",
    "ks_tuning",
]


def _samples(seconds: float, sample_rate: float) -> int:
    return max(int(round(seconds * sample_rate)), 0)


@dataclass(frozen=True)
class ADSR:
    """Attack/decay/release times in seconds, sustain as a gain in [0, 1].

    The attack and release are at least 1 ms and 5 ms, whatever is asked, so that a
    note never starts or stops with a step.
    """

    attack_s: float = 0.005
    decay_s: float = 0.1
    sustain: float = 0.8
    release_s: float = 0.1

    def __post_init__(self) -> None:
        for name in ("attack_s", "decay_s", "release_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= 60):
                raise InputError(f"ADSR.{name}: expected 0 <= seconds <= 60, got {value!r}")
        if not (0 <= self.sustain <= 1):
            raise InputError(f"ADSR.sustain: expected a gain in [0, 1], got {self.sustain!r}")

    def release_samples(self, sample_rate: float) -> int:
        return max(_samples(self.release_s, sample_rate), int(0.005 * sample_rate) + 1)

    def params(self, hold: int, sample_rate: float) -> np.ndarray:
        """The kernels' form: ``[attack, decay, sustain, release, hold]`` (samples)."""
        attack = max(_samples(self.attack_s, sample_rate), int(0.001 * sample_rate) + 1)
        decay = max(_samples(self.decay_s, sample_rate), 1)
        release = self.release_samples(sample_rate)
        return np.array([attack, decay, self.sustain, release, hold], np.float64)

    def gain(self, n: int, hold: int, sample_rate: float) -> np.ndarray:
        """``n`` samples of envelope for a note held ``hold`` samples."""
        return k.adsr(n, self.params(hold, sample_rate))


def _velocity_gain(velocity: int) -> float:
    """MIDI velocity 1..127 -> amplitude, about 40 dB of range (a square-law curve)."""
    v = min(max(velocity, 1), 127) / 127.0
    return v * v


class Voice(Protocol):
    """What the renderer needs from a voice."""

    @property
    def name(self) -> str: ...

    def note_samples(self, duration_s: float, pitch: int, sample_rate: float) -> int: ...

    def add_note(
        self, ring: np.ndarray, start: int, gains: np.ndarray, pitch: int, velocity: int,
        duration_s: float, *, sample_rate: float, seed: int,
    ) -> None: ...  # fmt: skip

    def render_note(
        self, pitch: int, velocity: int, duration_s: float, *, sample_rate: float, seed: int
    ) -> np.ndarray: ...

    def playable(self, pitch: int, sample_rate: float) -> bool: ...


class RenderNote:
    """What voices share: ``render_note`` from ``add_note`` (mixed into a one-channel ring
    of the note's size) and, by default, a note that lasts its duration plus the release
    of ``self.envelope``."""

    def note_samples(self, duration_s: float, pitch: int, sample_rate: float) -> int:
        release = self.envelope.release_samples(sample_rate)  # type: ignore[attr-defined]
        return _samples(duration_s, sample_rate) + release

    def render_note(
        self, pitch: int, velocity: int, duration_s: float, *, sample_rate: float, seed: int = 0
    ) -> np.ndarray:
        """The note alone, float64 ``(note_samples,)``, from note-on to the end of release."""
        n = self.note_samples(duration_s, pitch, sample_rate)  # type: ignore[attr-defined]
        ring = np.zeros((1, 1 << max(n, 1).bit_length()))
        self.add_note(ring, 0, np.ones(1), pitch, velocity, duration_s,  # type: ignore[attr-defined]
                      sample_rate=sample_rate, seed=seed)  # fmt: skip
        return ring[0, :n]


# ----------------------------------------------------------------------------- Karplus-Strong


def ks_tuning(f0_hz: float, sample_rate: float) -> tuple[int, float, float]:
    """Delay-line length and allpass coefficient that tune a Karplus-Strong loop to f0.

    The loop delays ``delay + 0.5 + d`` samples: an integer line, the two-point average
    (0.5 at every frequency) and a first-order allpass with phase delay ``d`` in
    [0.5, 1.5). The coefficient ``c = sin(w0 (1 - d) / 2) / sin(w0 (1 + d) / 2)`` gives
    the allpass exactly that phase delay at ``w0 = 2 pi f0 / fs`` (not only at low
    frequencies, as the Thiran/Jaffe-Smith ``(1 - d) / (1 + d)`` does), so the loop is
    one period long at f0.

    Returns:
        ``(delay_samples, allpass_coeff, fractional_delay)``.

    Raises:
        InputError: ``f0_hz > sample_rate / 2`` (the loop needs two samples a period).

    Example:
        >>> delay, c, d = ks_tuning(440.0, 44_100)  # a period of 100.227 samples
        >>> delay, round(d, 3), round(c, 4)
        (99, 0.727, 0.158)
    """
    period = sample_rate / f0_hz
    if not period >= 2.0:
        raise InputError(
            f"Karplus-Strong needs f0_hz <= sample_rate / 2, got f0_hz={f0_hz:.1f}, "
            f"sample_rate={sample_rate}"
        )
    delay = int(math.floor(period - 1.0))
    d = period - 0.5 - delay
    coeff = allpass1_delay_coeff(d, 2.0 * math.pi * f0_hz / sample_rate)
    return delay, coeff, d


@dataclass(frozen=True)
class KarplusStrong(RenderNote):
    """Plucked string (extended Karplus-Strong, Jaffe and Smith 1983).

    A zero-mean noise burst one period long, lowpassed (darker at low velocity), circulates in a
    loop of a delay line, the two-point average and a tuning allpass (:func:`ks_tuning`).
    The loop gain makes the fundamental decay by 60 dB in ``t60_s`` at middle C, halving
    every ``t60_halving_octaves`` octaves up (high strings ring shorter), longer when
    played harder. The note-off damps the string with the envelope's release.

    References:
        K. Karplus, A. Strong, "Digital synthesis of plucked-string and drum timbres",
        CMJ 7(2), 1983. D. Jaffe, J. O. Smith, "Extensions of the Karplus-Strong
        plucked-string algorithm", CMJ 7(2), 1983.

    Example:
        >>> y = KarplusStrong().render_note(57, 100, 0.5, sample_rate=22_050, seed=1)
        >>> len(y) == int(0.5 * 22_050) + KarplusStrong().envelope.release_samples(22_050)
        True
        >>> float(y[-1])  # the release ends at exactly zero
        0.0
    """

    t60_s: float = 3.0
    t60_halving_octaves: float = 2.0
    envelope: ADSR = ADSR(attack_s=0.001, decay_s=0.0, sustain=1.0, release_s=0.08)
    name: str = "ks"

    def t60(self, pitch: int, velocity: int) -> float:
        octaves = (pitch - 60) / 12.0
        return (
            self.t60_s
            * 2.0 ** (-octaves / self.t60_halving_octaves)
            * (0.7 + 0.3 * velocity / 127.0)
        )

    def playable(self, pitch: int, sample_rate: float) -> bool:
        return sample_rate / midi_to_hz(pitch) >= 2.0

    def _hold(self, duration_s: float, pitch: int, sample_rate: float) -> int:
        # after 1.5 T60 the string is 90 dB down: stop there (with the release fade)
        return _samples(min(duration_s, 1.5 * self.t60(pitch, 127)), sample_rate)

    def note_samples(self, duration_s: float, pitch: int, sample_rate: float) -> int:
        return self._hold(duration_s, pitch, sample_rate) + self.envelope.release_samples(
            sample_rate
        )

    def add_note(
        self, ring: np.ndarray, start: int, gains: np.ndarray, pitch: int, velocity: int,
        duration_s: float, *, sample_rate: float, seed: int,
    ) -> None:  # fmt: skip
        f0 = midi_to_hz(pitch)
        delay, coeff, _ = ks_tuning(f0, sample_rate)
        w0 = 2.0 * math.pi * f0 / sample_rate
        per_period = rt60_to_gain(1.0, self.t60(pitch, velocity), f0)  # one period, f0 per s
        loop_gain = min(per_period / math.cos(w0 / 2.0), 0.99999)
        period = int(round(sample_rate / f0))
        burst = k.noise(period, seed)
        # a felt-soft pluck, darker at low velocity: two passes of a one-pole lowpass on the
        # burst (cutoff about 2.7 kHz at velocity 127, 1 kHz at 40, at 44.1 kHz)
        a = math.exp(-2.0 * math.pi * (300.0 + 2400.0 * velocity / 127.0) / sample_rate)
        burst = k.one_pole(k.one_pole(burst, a), a)
        burst -= burst.mean()
        peak = float(np.abs(burst).max()) or 1.0
        burst *= _velocity_gain(velocity) / peak
        n = self.note_samples(duration_s, pitch, sample_rate)
        env = self.envelope.params(self._hold(duration_s, pitch, sample_rate), sample_rate)
        k.karplus_strong(ring, start, gains, n, env, burst, delay, coeff, loop_gain)


# ----------------------------------------------------------------------------- subtractive


@dataclass(frozen=True)
class Subtractive(RenderNote):
    """Analogue-style voice: a PolyBLEP sawtooth or square through a resonant lowpass.

    The lowpass is the cookbook biquad in its trapezoidal state-variable form, so its
    cutoff can follow an envelope: ``cutoff = f0 * cutoff_ratio * 2^(env_octaves * e(t) *
    (0.3 + 0.7 velocity/127))`` where ``e`` is ``filter_envelope``, capped below Nyquist.

    References:
        V. Valimaki, A. Huovilainen, "Antialiasing oscillators in subtractive synthesis",
        IEEE Signal Processing Magazine 24(2), 2007. R. Bristow-Johnson, Audio EQ Cookbook.
        V. Zavalishin, "The Art of VA Filter Design", 2012.
    """

    waveform: str = "saw"
    q: float = 2.0
    cutoff_ratio: float = 1.5
    env_octaves: float = 3.0
    envelope: ADSR = ADSR(attack_s=0.01, decay_s=0.25, sustain=0.7, release_s=0.15)
    filter_envelope: ADSR = ADSR(attack_s=0.02, decay_s=0.4, sustain=0.35, release_s=0.2)
    name: str = "subtractive"

    def __post_init__(self) -> None:
        if self.waveform not in ("saw", "square"):
            raise InputError(f"waveform: expected 'saw' or 'square', got {self.waveform!r}")
        if not (0.5 <= self.q <= 20):
            raise InputError(f"q: expected 0.5 <= q <= 20, got {self.q!r}")

    def playable(self, pitch: int, sample_rate: float) -> bool:
        return midi_to_hz(pitch) < 0.45 * sample_rate

    def add_note(
        self, ring: np.ndarray, start: int, gains: np.ndarray, pitch: int, velocity: int,
        duration_s: float, *, sample_rate: float, seed: int,
    ) -> None:  # fmt: skip
        f0 = midi_to_hz(pitch)
        n = self.note_samples(duration_s, pitch, sample_rate)
        hold = _samples(duration_s, sample_rate)
        env = self.envelope.params(hold, sample_rate)
        depth = self.env_octaves * (0.3 + 0.7 * velocity / 127.0)
        k.subtractive(ring, start, gains * (0.5 * _velocity_gain(velocity)), n, env, f0,
                      float(sample_rate), self.waveform == "square", float(self.q),
                      self.filter_envelope.params(hold, sample_rate),
                      f0 * self.cutoff_ratio, depth)  # fmt: skip


# ----------------------------------------------------------------------------- additive


@dataclass(frozen=True)
class Additive(RenderNote):
    """Organ (or sine) voice: a sum of harmonics, each dropped above 0.45 fs.

    The default drawbars sound harmonics 1, 2, 3, 4, 6 and 8 (the organ's 8', 4',
    2 2/3', 2', 1 1/3' and 1' stops); ``harmonics=(1,)`` is a pure sine.
    """

    harmonics: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
    amplitudes: tuple[float, ...] = (1.0, 0.6, 0.4, 0.3, 0.2, 0.15)
    envelope: ADSR = ADSR(attack_s=0.008, decay_s=0.05, sustain=0.9, release_s=0.08)
    name: str = "additive"

    def __post_init__(self) -> None:
        if len(self.harmonics) != len(self.amplitudes) or not self.harmonics:
            raise InputError(
                f"harmonics and amplitudes: expected equal non-empty lengths, got "
                f"{len(self.harmonics)} and {len(self.amplitudes)}"
            )

    def playable(self, pitch: int, sample_rate: float) -> bool:
        return midi_to_hz(pitch) * min(self.harmonics) < 0.45 * sample_rate

    def add_note(
        self, ring: np.ndarray, start: int, gains: np.ndarray, pitch: int, velocity: int,
        duration_s: float, *, sample_rate: float, seed: int,
    ) -> None:  # fmt: skip
        f0 = midi_to_hz(pitch)
        freqs = np.asarray(self.harmonics, np.float64) * f0
        amps = np.asarray(self.amplitudes, np.float64)
        keep = freqs < 0.45 * sample_rate
        n = self.note_samples(duration_s, pitch, sample_rate)
        env = self.envelope.params(_samples(duration_s, sample_rate), sample_rate)
        k.additive(ring, start, gains * _velocity_gain(velocity), n, env, freqs[keep],
                   amps[keep] / amps.sum(), float(sample_rate))  # fmt: skip


# ----------------------------------------------------------------------------- names, GM map

VOICE_NAMES = ("ks", "subtractive", "additive", "sine")


_VOICES: dict[str, Voice] = {  # frozen dataclasses: one shared instance per name
    "ks": KarplusStrong(),
    "subtractive": Subtractive(),
    "square": Subtractive(waveform="square", cutoff_ratio=2.0, name="square"),
    "additive": Additive(),
    "sine": Additive(harmonics=(1.0,), amplitudes=(1.0,), name="sine"),
}


def make_voice(name: str) -> Voice:
    """A voice by name: ``ks``, ``subtractive`` (saw), ``square``, ``additive`` (organ),
    ``sine``."""
    if name not in _VOICES:
        raise InputError(f"voice: expected one of {sorted(_VOICES)}, got {name!r}")
    return _VOICES[name]


# General MIDI program families (0-based programs, eight per family) -> voice name
_GM_FAMILIES = (
    "ks",  # 0-7 piano
    "additive",  # 8-15 chromatic percussion (celesta, bells, marimba)
    "additive",  # 16-23 organ
    "ks",  # 24-31 guitar
    "ks",  # 32-39 bass
    "subtractive",  # 40-47 strings
    "subtractive",  # 48-55 ensemble, choir
    "subtractive",  # 56-63 brass
    "square",  # 64-71 reed
    "sine",  # 72-79 pipe (flutes)
    "square",  # 80-87 synth lead
    "subtractive",  # 88-95 synth pad
    "subtractive",  # 96-103 synth effects
    "ks",  # 104-111 ethnic (sitar, banjo, koto)
    "ks",  # 112-119 percussive
    "sine",  # 120-127 sound effects
)


def gm_voice_name(program: int, *, drum: bool = False) -> str | None:
    """The voice for a General MIDI program (0-127); ``None`` for drums (channel 10),
    which play on :class:`~dsp_rnn.synth.drums.DrumKit` instead."""
    if drum:
        return None
    return _GM_FAMILIES[min(max(int(program), 0), 127) // 8]
