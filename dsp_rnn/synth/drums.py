"""A small General MIDI drum kit (channel 10) from a tone and filtered noise.

Each hit is a sine whose pitch falls from ``tone_hz * (1 + sweep)`` to ``tone_hz`` (the
body of kicks and toms), plus white noise through a one-pole lowpass and a one-pole
highpass (snares, hats, cymbals), each with its own exponential decay. A drum ignores the
note-off: it rings for its decay (to -60 dB) and fades to exactly 0 over its last 5 ms.

Example:
    >>> kit = DrumKit()
    >>> kick = kit.render_note(36, 110, 0.1, sample_rate=22_050, seed=1)
    >>> hat = kit.render_note(42, 110, 0.1, sample_rate=22_050, seed=1)
    >>> len(kick) > len(hat), float(kick[-1]), float(hat[-1])
    (True, 0.0, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from dsp_rnn.synth import _kernels as k
from dsp_rnn.synth.voices import RenderNote

__all__ = ["DrumKit", "Hit", "GM_DRUMS"]


class Hit(NamedTuple):
    """One drum sound: tone (Hz, pitch sweep, decay s, level) and noise (decay s, level,
    lowpass Hz, highpass Hz)."""

    tone_hz: float
    sweep: float
    tone_decay_s: float
    tone_level: float
    noise_decay_s: float
    noise_level: float
    lowpass_hz: float
    highpass_hz: float


_KICK = Hit(50.0, 2.0, 0.25, 1.0, 0.02, 0.15, 4000.0, 40.0)
_SNARE = Hit(185.0, 0.3, 0.08, 0.5, 0.15, 0.8, 9000.0, 400.0)
_CLOSED_HAT = Hit(0.0, 0.0, 0.01, 0.0, 0.05, 0.5, 16000.0, 7000.0)
_OPEN_HAT = Hit(0.0, 0.0, 0.01, 0.0, 0.35, 0.45, 16000.0, 6000.0)
_CYMBAL = Hit(0.0, 0.0, 0.01, 0.0, 0.9, 0.4, 15000.0, 4000.0)
_CLAP = Hit(0.0, 0.0, 0.01, 0.0, 0.12, 0.8, 6000.0, 900.0)
_PERC = Hit(400.0, 0.2, 0.08, 0.6, 0.04, 0.3, 8000.0, 1500.0)


def _tom(hz: float) -> Hit:
    return Hit(hz, 0.5, 0.3, 0.9, 0.05, 0.15, 5000.0, 80.0)


GM_DRUMS: dict[int, Hit] = {
    35: _KICK, 36: _KICK, 37: _PERC, 38: _SNARE, 39: _CLAP, 40: _SNARE,
    41: _tom(80.0), 42: _CLOSED_HAT, 43: _tom(95.0), 44: _CLOSED_HAT, 45: _tom(110.0),
    46: _OPEN_HAT, 47: _tom(130.0), 48: _tom(150.0), 49: _CYMBAL, 50: _tom(175.0),
    51: _CYMBAL, 52: _CYMBAL, 53: _CYMBAL, 55: _CYMBAL, 57: _CYMBAL, 59: _CYMBAL,
}  # fmt: skip


def _other(pitch: int) -> Hit:
    """Keys without a sound of their own: a short percussive click tuned by the key."""
    return _PERC._replace(tone_hz=200.0 * 2.0 ** ((pitch - 60) / 24.0))


@njit(cache=True)
def _hit(
    ring: np.ndarray, start: int, gains: np.ndarray, n: int, noise: np.ndarray, tone_hz: float,
    sweep: float, tone_decay: float, tone_level: float, noise_decay: float,
    noise_level: float, lp: float, hp: float, sample_rate: float,
) -> None:  # fmt: skip
    mask = ring.shape[1] - 1
    attack = max(int(0.001 * sample_rate), 1)
    fade = max(int(0.005 * sample_rate), 1)
    phase = 0.0
    low = 0.0  # lowpass memory
    slow = 0.0  # the highpass's lowpass memory
    for i in range(n):
        t = i / sample_rate
        f = tone_hz * (1.0 + sweep * np.exp(-t / 0.03))
        phase += 2.0 * np.pi * f / sample_rate
        v = tone_level * np.sin(phase) * np.exp(-t / tone_decay)
        low = lp * low + (1.0 - lp) * noise[i]
        slow = hp * slow + (1.0 - hp) * low
        v += noise_level * (low - slow) * np.exp(-t / noise_decay)
        g = 1.0
        if i < attack:
            g = (i + 1.0) / attack
        elif i >= n - fade:
            g = 0.5 * (1.0 + np.cos(np.pi * (i - (n - fade) + 1.0) / fade))
        k.mix(ring, (start + i) & mask, gains, v * g)


@dataclass(frozen=True)
class DrumKit(RenderNote):
    """The General MIDI percussion map (keys 35-59 have their own sounds)."""

    name: str = "drums"

    def _sound(self, pitch: int) -> Hit:
        return GM_DRUMS.get(pitch) or _other(pitch)

    def playable(self, pitch: int, sample_rate: float) -> bool:
        return 0 <= pitch <= 127

    def note_samples(self, duration_s: float, pitch: int, sample_rate: float) -> int:
        s = self._sound(pitch)
        longest = max(s.tone_decay_s if s.tone_level else 0.0, s.noise_decay_s)
        return int(round(6.9 * longest * sample_rate)) + 1  # e^-6.9 = -60 dB

    def add_note(
        self, ring: np.ndarray, start: int, gains: np.ndarray, pitch: int, velocity: int,
        duration_s: float, *, sample_rate: float, seed: int,
    ) -> None:  # fmt: skip
        s = self._sound(pitch)
        n = self.note_samples(duration_s, pitch, sample_rate)
        v = min(max(velocity, 1), 127) / 127.0

        def pole(hz: float) -> float:
            return math.exp(-2.0 * math.pi * min(hz, 0.45 * sample_rate) / sample_rate)

        _hit(ring, start, gains * (0.4 * v * v), n, k.noise(n, seed), s.tone_hz, s.sweep,
             s.tone_decay_s, s.tone_level, s.noise_decay_s, s.noise_level, pole(s.lowpass_hz),
             pole(s.highpass_hz), float(sample_rate))  # fmt: skip
