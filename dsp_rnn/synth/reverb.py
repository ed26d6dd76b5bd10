"""Feedback-delay-network reverb (Jot) with RT60, high-frequency damping and wet/dry mix.

``y, state = reverb(x, state)`` on ``(channels, time)`` float blocks: the same protocol as
the filters and cells, so block-by-block processing equals one shot (bit for bit: the
sample loop is the same whatever the block size).

The network is :func:`dsp_rnn.filters.fdn` with a Hadamard feedback matrix and per-line
gains from :func:`dsp_rnn.filters.rt60_to_gains`; each line's gain becomes Jot's one-pole
absorption filter, so treble dies ``1 / hf_ratio`` times faster than bass, as in a room.
With ``hf_ratio=1`` the wet path is exactly ``dsp_rnn.filters.fdn`` (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from dsp_rnn._tuning import rt60_to_gain
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.synth import _kernels as k

__all__ = ["Reverb", "ReverbState"]

# base delay-line lengths in ms (about 30-75 ms, each rounded up to a distinct prime)
_BASE_MS = (31.7, 37.3, 41.9, 46.1, 53.3, 59.9, 67.1, 73.7)
assert len(_BASE_MS) == k.FDN_LINES


def _next_prime(n: int, taken: set[int]) -> int:
    def prime(m: int) -> bool:
        return m > 1 and all(m % p for p in range(2, int(m**0.5) + 1))

    while not prime(n) or n in taken:
        n += 1
    return n


@dataclass
class ReverbState:
    """Delay-line contents (line by line, oldest first: the layout of
    ``dsp_rnn.filters.fdn``'s state) and the absorption filters' memories."""

    lines: np.ndarray
    lp: np.ndarray

    def copy(self) -> ReverbState:
        return ReverbState(self.lines.copy(), self.lp.copy())


@dataclass(frozen=True)
class Reverb:
    """An 8-line FDN reverb (Hadamard feedback, Jot absorption filters).

    Args:
        sample_rate: Hz.
        rt60_s: time for the (low-frequency) tail to fall 60 dB, 0.05-30 s; default 1.8.
        wet: mix, ``y = (1 - wet) dry + wet reverb``, in [0, 1]; default 0.25. The reverb
            path is scaled to unit impulse-response energy, so ``wet=0.5`` is an even mix.
        hf_ratio: RT60 at Nyquist over RT60 at DC, in (0, 1]; default 0.35.
        size: scales the delay-line lengths (room size), 0.25-4; default 1.
        channels: 1 or 2 (inputs and outputs); stereo outputs are decorrelated.

    Example:
        >>> rev = Reverb(sample_rate=8000, rt60_s=0.5, wet=1.0, channels=1)
        >>> x = np.zeros((1, 8000)); x[0, 0] = 1
        >>> y, state = rev(x)
        >>> first = int(np.flatnonzero(np.abs(y[0]) > 1e-9)[0])
        >>> first == min(rev.delays_samples)  # the first echo leaves the shortest line
        True
    """

    sample_rate: float
    rt60_s: float = 1.8
    wet: float = 0.25
    hf_ratio: float = 0.35
    size: float = 1.0
    channels: int = 2
    delays_samples: tuple[int, ...] = field(init=False)
    _net: tuple[np.ndarray, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        checks = (
            ("sample_rate", self.sample_rate, 1000, 384_000),
            ("rt60_s", self.rt60_s, 0.05, 30),
            ("wet", self.wet, 0, 1),
            ("hf_ratio", self.hf_ratio, 1e-3, 1),
            ("size", self.size, 0.25, 4),
        )
        for name, value, lo, hi in checks:
            if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
                raise InputError(f"Reverb.{name}: expected {lo} <= {name} <= {hi}, got {value!r}")
        if self.channels not in (1, 2):
            raise InputError(f"Reverb.channels: expected 1 or 2, got {self.channels!r}")
        taken: set[int] = set()
        delays = []
        for ms in _BASE_MS:
            delays.append(_next_prime(int(ms * self.size * self.sample_rate / 1000), taken))
            taken.add(delays[-1])
        object.__setattr__(self, "delays_samples", tuple(delays))
        m = np.asarray(delays, np.int64)
        offsets = np.concatenate([[0], np.cumsum(m)[:-1]]).astype(np.int64)
        object.__setattr__(self, "_net", (offsets, m, *self.line_gains()))  # once, not per block

    # ------------------------------------------------------------------ network parameters
    def line_gains(self) -> tuple[np.ndarray, np.ndarray]:
        """``(gamma, poles)``: DC gain ``10^(-3 m / (T60 fs))`` per line (Jot) and the
        one-pole absorption pole that makes the Nyquist gain match ``hf_ratio * T60``."""
        m = np.asarray(self.delays_samples, np.float64)
        gamma = rt60_to_gain(m, self.rt60_s, self.sample_rate)
        gamma_nyq = rt60_to_gain(m, self.hf_ratio * self.rt60_s, self.sample_rate)
        r = gamma_nyq / gamma  # |H(-1)| / |H(1)| = (1 - p) / (1 + p)
        return gamma, (1.0 - r) / (1.0 + r)

    def io_gains(self) -> tuple[np.ndarray, np.ndarray]:
        """``(B, C)`` of the network: input gains ``(8, channels)`` (mono: every line;
        stereo: left into the even lines, right into the odd ones) and output gains
        ``(channels, 8)``, Hadamard rows 1 (and 2) over ``sqrt 8``."""
        n = len(self.delays_samples)
        h = np.array([[1.0]])
        while h.shape[0] < n:
            h = np.block([[h, h], [h, -h]])
        b = np.zeros((n, self.channels))
        for i in range(n):
            b[i, i % self.channels] = self._in_gain
        return b, h[1 : 1 + self.channels] / math.sqrt(n)

    @property
    def _in_gain(self) -> float:
        return 1.0 / math.sqrt(len(self.delays_samples) / self.channels)

    @property
    def tail_s(self) -> float:
        """Seconds until the tail is 90 dB down (1.5 RT60): what a render keeps after the
        last note."""
        return 1.5 * self.rt60_s

    def init_state(self) -> ReverbState:
        m = np.asarray(self.delays_samples)
        return ReverbState(np.zeros(int(m.sum())), np.zeros(len(m)))

    def _run(self, x: np.ndarray, state: ReverbState, dry: float, wet: float) -> np.ndarray:
        offsets, m, gamma, poles = self._net
        y = k.fdn_block(x, state.lines, offsets, m, state.lp, gamma, poles, self._in_gain, dry, wet)
        return y.T  # (channels, time), a view of the interleaved frames

    def wet_gain(self) -> float:
        """Scale that gives the reverb path unit impulse-response energy (computed once
        per setting, over ``min(tail_s, 10)`` seconds)."""
        return _wet_gain(self.sample_rate, self.rt60_s, self.hf_ratio, self.size, self.channels)

    def wet_only(
        self, x: np.ndarray, state: ReverbState | None = None
    ) -> tuple[np.ndarray, ReverbState]:
        """The unscaled network output ``C s`` (for tests against ``filters.fdn``)."""
        state = self.init_state() if state is None else state.copy()
        return self._run(np.ascontiguousarray(x, np.float64), state, 0.0, 1.0), state

    def __call__(
        self, x: np.ndarray, state: ReverbState | None = None
    ) -> tuple[np.ndarray, ReverbState]:
        """Reverberate a block.

        Shape:
            x ``(channels, time)`` -> y ``(channels, time)``; float64 math, x's float type out.

        Returns:
            ``(y, state)``; pass ``state`` to the next call to continue the same tail.
        """
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ShapeError(
                f"x: expected shape (channels={self.channels}, time), got {tuple(x.shape)}"
            )
        state = self.init_state() if state is None else state.copy()
        xf = x if x.dtype in (np.float32, np.float64) else x.astype(np.float64)
        return self._run(xf, state, 1.0 - self.wet, self.wet * self.wet_gain()), state


_WET_GAINS: dict[tuple, float] = {}


def _wet_gain(
    sample_rate: float, rt60_s: float, hf_ratio: float, size: float, channels: int
) -> float:
    key = (sample_rate, rt60_s, hf_ratio, size, channels)
    if key not in _WET_GAINS:
        rev = Reverb(sample_rate, rt60_s, 1.0, hf_ratio, size, channels)
        n = int(min(rev.tail_s, 10.0) * sample_rate)
        x = np.zeros((channels, n))
        x[:, 0] = 1.0 / math.sqrt(channels)
        y, _ = rev.wet_only(x)
        _WET_GAINS[key] = 1.0 / math.sqrt(float(np.sum(y * y)) / channels)
    return _WET_GAINS[key]
