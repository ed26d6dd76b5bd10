"""Tuning formulas shared by the filters (torch) and the synth (numpy, no torch).

Plain arithmetic, so each works on Python floats, numpy arrays and torch tensors alike (a
tensor stays differentiable); importing this module imports neither numpy nor torch.

References:
    J.-M. Jot, A. Chaigne, "Digital delay networks for designing artificial reverberators",
    AES 90th Convention, 1991 (gain per delay line from the reverberation time).
    J.-P. Thiran, "Recursive digital filters with maximally flat group delay", IEEE Trans.
    Circuit Theory CT-18(6), 1971. D. Jaffe, J. O. Smith, "Extensions of the Karplus-Strong
    plucked-string algorithm", Computer Music Journal 7(2), 1983.
"""

from __future__ import annotations

import math
from typing import TypeVar

__all__ = ["midi_to_hz", "rt60_to_gain", "thiran1_coeff", "allpass1_delay_coeff"]

T = TypeVar("T")


def midi_to_hz(pitch: T) -> T:
    """Equal temperament, A4 = MIDI 69 = 440 Hz: ``440 * 2^((pitch - 69) / 12)``.

    Example:
        >>> midi_to_hz(69), midi_to_hz(81)
        (440.0, 880.0)
    """
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)  # type: ignore[operator, return-value]


def rt60_to_gain(delay_samples: T, rt60_s: object, sample_rate: float) -> T:
    """The gain a loop of ``delay_samples`` needs to decay 60 dB in ``rt60_s`` seconds:
    ``10^(-3 m / (T60 fs))`` (Jot).

    Example:
        >>> rt60_to_gain(4800, 1.0, 48000.0)  # a tenth of T60: -6 dB
        0.501187...
    """
    return 10.0 ** (-3.0 * delay_samples / (rt60_s * sample_rate))  # type: ignore[operator, return-value]


def thiran1_coeff(delay_samples: float) -> float:
    """Coefficient ``c = (1 - d) / (1 + d)`` of the first-order Thiran allpass
    ``(c + z^-1) / (1 + c z^-1)``: group delay ``d`` at DC, maximally flat there.

    Example:
        >>> thiran1_coeff(1.0), thiran1_coeff(3.0)
        (0.0, -0.5)
    """
    d = float(delay_samples)
    return (1.0 - d) / (1.0 + d)


def allpass1_delay_coeff(delay_samples: float, w0: float) -> float:
    """Coefficient ``c`` of ``(c + z^-1) / (1 + c z^-1)`` whose phase delay is exactly
    ``delay_samples`` at ``w0`` rad/sample: ``sin(w0 (1 - d) / 2) / sin(w0 (1 + d) / 2)``
    (:func:`thiran1_coeff` is its limit as ``w0 -> 0``).

    Example:
        >>> round(allpass1_delay_coeff(0.5, 1e-6), 6) == round(thiran1_coeff(0.5), 6)
        True
    """
    d = float(delay_samples)
    return math.sin(w0 * (1.0 - d) / 2.0) / math.sin(w0 * (1.0 + d) / 2.0)
