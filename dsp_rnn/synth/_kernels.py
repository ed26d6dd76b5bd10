"""Numba kernels of the synth: one note of each voice, envelopes, the reverb, the mix ring.

Plain numpy in and out, no torch, ``cache=True`` so a render starts in milliseconds after
the first. Each kernel is the sample loop of a filter from :mod:`dsp_rnn.filters`; the
tests check each against its torch twin (``allpass1``, ``biquad_lowpass`` + ``sosfilt``,
``fdn``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dsp_rnn import _numba_cache  # noqa: F401  (before any cache=True kernel)

# ----------------------------------------------------------------------------- noise


@njit(cache=True)
def noise(n: int, seed: int) -> np.ndarray:
    """``n`` uniform samples in [-1, 1) from a 64-bit xorshift* seeded by ``seed``."""
    out = np.empty(n, np.float64)
    s = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x2545F4914F6CDD1D)
    if s == 0:
        s = np.uint64(1)
    for i in range(n):
        s ^= s >> np.uint64(12)
        s ^= s << np.uint64(25)
        s ^= s >> np.uint64(27)
        r = (s * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(11)
        out[i] = r * (2.0 / 9007199254740992.0) - 1.0
    return out


# ----------------------------------------------------------------------------- envelope
# env = [attack, decay, sustain, release, hold] in samples (sustain a gain): the note is
# held ``hold`` samples, then released. Kernels mix a note straight into the renderer's
# ring buffer (size a power of two), so a note allocates nothing as long as itself.


@njit(cache=True, inline="always")
def _env_hold(i: int, env: np.ndarray) -> float:
    attack = env[0]
    decay = env[1]
    if i < attack:
        return (i + 1.0) / attack
    if i < attack + decay:
        t = 1.0 - (i - attack + 1.0) / decay
        return env[2] + (1.0 - env[2]) * t * t
    return env[2]


@njit(cache=True, inline="always")
def _env(i: int, env: np.ndarray, level_off: float) -> float:
    """ADSR gain at sample ``i``: linear attack from 0, quadratic decay to sustain, a
    raised-cosine release from the note-off level to exactly 0 (no steps, no clicks)."""
    hold = int(env[4])
    if i < hold:
        return _env_hold(i, env)
    t = (i - hold + 1.0) / env[3]
    if t >= 1.0:
        return 0.0
    return level_off * 0.5 * (1.0 + np.cos(np.pi * t))


@njit(cache=True)
def adsr(n: int, env: np.ndarray) -> np.ndarray:
    """``n`` samples of the envelope ``env`` (see the module comment)."""
    level_off = _env_hold(int(env[4]) - 1, env) if env[4] > 0 else 0.0
    out = np.empty(n, np.float64)
    for i in range(n):
        out[i] = _env(i, env, level_off)
    return out


@njit(cache=True, inline="always")
def mix(ring: np.ndarray, j: int, gains: np.ndarray, v: float) -> None:
    for c in range(ring.shape[0]):
        ring[c, j] += gains[c] * v


# ----------------------------------------------------------------------------- voices


@njit(cache=True)
def one_pole(x: np.ndarray, a: float) -> np.ndarray:
    """``y[n] = (1 - a) x[n] + a y[n-1]``, a one-pole lowpass (DC gain 1)."""
    y = np.empty_like(x)
    prev = 0.0
    for i in range(x.shape[0]):
        prev = (1.0 - a) * x[i] + a * prev
        y[i] = prev
    return y


@njit(cache=True)
def karplus_strong(
    ring: np.ndarray, start: int, gains: np.ndarray, n: int, env: np.ndarray,
    excitation: np.ndarray, delay: int, ap_coeff: float, loop_gain: float,
) -> None:  # fmt: skip
    """Extended Karplus-Strong string, ``n`` samples, mixed into ``ring`` from ``start``.

    ``y[n] = e[n] + g * A(L(y[n - delay]))`` with ``L(z) = (1 + z^-1) / 2`` (the loop
    lowpass, phase delay 0.5) and ``A(z) = (c + z^-1) / (1 + c z^-1)`` (first-order
    allpass fractional delay): the loop delay is ``delay + 0.5 + d(c)`` samples.
    """
    mask = ring.shape[1] - 1
    level_off = _env_hold(int(env[4]) - 1, env) if env[4] > 0 else 0.0
    buf = np.zeros(delay, np.float64)
    n_exc = excitation.shape[0]
    prev = 0.0  # L's memory
    ap_x = 0.0  # A's memories
    ap_y = 0.0
    j = 0
    for i in range(n):
        v = buf[j]
        lp = 0.5 * (v + prev)
        prev = v
        a = ap_coeff * lp + ap_x - ap_coeff * ap_y
        ap_x = lp
        ap_y = a
        y = loop_gain * a
        if i < n_exc:
            y += excitation[i]
        buf[j] = y
        j += 1
        if j == delay:
            j = 0
        mix(ring, (start + i) & mask, gains, y * _env(i, env, level_off))


@njit(cache=True, inline="always")
def _blep(t: float, dt: float) -> float:
    if t < dt:
        x = t / dt
        return x + x - x * x - 1.0
    if t > 1.0 - dt:
        x = (t - 1.0) / dt
        return x * x + x + x + 1.0
    return 0.0


@njit(cache=True, inline="always")
def _osc(t: float, dt: float, square: bool) -> float:
    """PolyBLEP sawtooth (or square) at phase ``t`` in [0, 1), increment ``dt``."""
    if square:
        t2 = t + 0.5
        if t2 >= 1.0:
            t2 -= 1.0
        return (1.0 if t < 0.5 else -1.0) + _blep(t, dt) - _blep(t2, dt)
    return 2.0 * t - 1.0 - _blep(t, dt)


@njit(cache=True)
def polyblep(n: int, f0_hz: float, sample_rate: float, square: bool) -> np.ndarray:
    """``n`` samples of the band-limited oscillator the subtractive voice uses."""
    out = np.empty(n, np.float64)
    dt = f0_hz / sample_rate
    t = 0.0
    for i in range(n):
        out[i] = _osc(t, dt, square)
        t += dt
        if t >= 1.0:
            t -= 1.0
    return out


@njit(cache=True)
def subtractive(
    ring: np.ndarray, start: int, gains: np.ndarray, n: int, env: np.ndarray,
    f0_hz: float, sample_rate: float, square: bool, q: float, filter_env: np.ndarray,
    cutoff_hz: float, env_octaves: float,
) -> None:  # fmt: skip
    """PolyBLEP sawtooth/square through a resonant lowpass whose cutoff follows
    ``cutoff_hz * 2^(env_octaves * filter_env(t))``, mixed into ``ring``.

    The lowpass is the trapezoidal (TPT) state-variable form: for a constant cutoff it is
    exactly the Audio EQ Cookbook lowpass biquad (the bilinear transform of
    ``1 / (s^2 + s/Q + 1)`` with prewarping), and it stays well behaved while the cutoff
    moves. Coefficients are refreshed every 16 samples.
    """
    mask = ring.shape[1] - 1
    level_off = _env_hold(int(env[4]) - 1, env) if env[4] > 0 else 0.0
    f_off = _env_hold(int(filter_env[4]) - 1, filter_env) if filter_env[4] > 0 else 0.0
    dt = f0_hz / sample_rate
    t = 0.0
    k = 1.0 / q
    ic1 = 0.0
    ic2 = 0.0
    a1 = a2 = a3 = 0.0
    for i in range(n):
        v0 = _osc(t, dt, square)
        t += dt
        if t >= 1.0:
            t -= 1.0
        if i % 16 == 0:
            fc = cutoff_hz * 2.0 ** (env_octaves * _env(i, filter_env, f_off))
            g = np.tan(np.pi * min(fc, 0.49 * sample_rate) / sample_rate)
            a1 = 1.0 / (1.0 + g * (g + k))
            a2 = g * a1
            a3 = g * a2
        v3 = v0 - ic2
        v1 = a1 * ic1 + a2 * v3
        v2 = ic2 + a2 * ic1 + a3 * v3
        ic1 = 2.0 * v1 - ic1
        ic2 = 2.0 * v2 - ic2
        mix(ring, (start + i) & mask, gains, v2 * _env(i, env, level_off))


@njit(cache=True)
def additive(
    ring: np.ndarray, start: int, gains: np.ndarray, n: int, env: np.ndarray,
    freqs_hz: np.ndarray, amps: np.ndarray, sample_rate: float,
) -> None:  # fmt: skip
    """Sum of sines (phase 0) by complex rotation (renormalised every 1024 samples),
    mixed into ``ring``."""
    mask = ring.shape[1] - 1
    level_off = _env_hold(int(env[4]) - 1, env) if env[4] > 0 else 0.0
    m = freqs_hz.shape[0]
    cw = np.cos(2.0 * np.pi * freqs_hz / sample_rate)
    sw = np.sin(2.0 * np.pi * freqs_hz / sample_rate)
    c = np.ones(m)
    s = np.zeros(m)
    for i in range(n):
        v = 0.0
        for p in range(m):
            v += amps[p] * s[p]
            c[p], s[p] = c[p] * cw[p] - s[p] * sw[p], s[p] * cw[p] + c[p] * sw[p]
        if (i & 1023) == 1023:
            for p in range(m):
                r = 1.0 / np.sqrt(c[p] * c[p] + s[p] * s[p])
                c[p] *= r
                s[p] *= r
        mix(ring, (start + i) & mask, gains, v * _env(i, env, level_off))


# ----------------------------------------------------------------------------- mix ring


@njit(cache=True)
def ring_take(ring: np.ndarray, start: int, n: int) -> np.ndarray:
    """Samples ``start .. start + n`` out of the ring as float32 frames ``(n, channels)``,
    zeroing them there."""
    mask = ring.shape[1] - 1
    out = np.empty((n, ring.shape[0]), np.float32)
    for c in range(ring.shape[0]):
        for i in range(n):
            j = (start + i) & mask
            out[i, c] = ring[c, j]
            ring[c, j] = 0.0
    return out


# ----------------------------------------------------------------------------- reverb


FDN_LINES = 8  # the reverb's network size
_CHUNK = 2048


@njit(cache=True)
def fdn_block(
    x: np.ndarray,
    lines: np.ndarray,
    offsets: np.ndarray,
    delays: np.ndarray,
    lp_state: np.ndarray,
    gains: np.ndarray,
    poles: np.ndarray,
    in_gain: float,
    dry: float,
    wet: float,
) -> np.ndarray:
    """One block of the reverb's 8-line feedback delay network.

    ``s_i = H_i(z) z^-m_i v_i`` with ``H_i(z) = gamma_i (1 - p_i) / (1 - p_i z^-1)``
    (Jot's absorption lowpass; ``p_i = 0`` gives the plain gain ``gamma_i`` of
    :func:`dsp_rnn.filters.fdn`), ``v = A s + B x`` and ``y = C s``, where ``A = H / sqrt 8``
    is the normalised Sylvester-Hadamard matrix (a fast Walsh-Hadamard transform), ``B``
    feeds ``in_gain * x`` into every line (mono) or the left channel into the even lines
    and the right into the odd ones (stereo), and ``C``'s rows are Hadamard rows 1 and 2
    over ``sqrt 8``, so the outputs fall out of the transform. Returns
    ``dry * x + wet * C s`` as ``(T, channels)`` in x's float type.

    The state is ``lines`` (line ``i`` is ``lines[offsets[i]:][:m_i]``, its past inputs
    oldest first: the layout of ``filters.fdn``) and ``lp_state``, updated in place. Each
    line runs in a linear buffer (read at ``t``, written at ``t + m_i``, shifted once a
    chunk), every value in a register: no wrap-around test and no array traffic per
    sample. The arithmetic of a sample does not depend on the chunking, so block-wise
    calls equal one shot bit for bit.

    Shapes: x ``(channels, T)``, channels 1 or 2 -> ``(T, channels)``.
    """
    n_ch, n_t = x.shape
    y = np.empty((n_t, n_ch), x.dtype)
    buf = np.empty((FDN_LINES, delays.max() + _CHUNK))
    for i in range(FDN_LINES):
        for j in range(delays[i]):
            buf[i, j] = lines[offsets[i] + j]
    d0, d1, d2, d3 = delays[0], delays[1], delays[2], delays[3]
    d4, d5, d6, d7 = delays[4], delays[5], delays[6], delays[7]
    g = gains * (1.0 - poles)
    g0, g1, g2, g3, g4, g5, g6, g7 = g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]
    p0, p1, p2, p3 = poles[0], poles[1], poles[2], poles[3]
    p4, p5, p6, p7 = poles[4], poles[5], poles[6], poles[7]
    l0, l1, l2, l3 = lp_state[0], lp_state[1], lp_state[2], lp_state[3]
    l4, l5, l6, l7 = lp_state[4], lp_state[5], lp_state[6], lp_state[7]
    sc = 1.0 / np.sqrt(8.0)
    stereo = n_ch == 2
    t0 = 0
    while t0 < n_t:
        m = min(_CHUNK, n_t - t0)
        for t in range(m):
            l0 = g0 * buf[0, t] + p0 * l0
            l1 = g1 * buf[1, t] + p1 * l1
            l2 = g2 * buf[2, t] + p2 * l2
            l3 = g3 * buf[3, t] + p3 * l3
            l4 = g4 * buf[4, t] + p4 * l4
            l5 = g5 * buf[5, t] + p5 * l5
            l6 = g6 * buf[6, t] + p6 * l6
            l7 = g7 * buf[7, t] + p7 * l7
            a0 = l0 + l1
            a1 = l0 - l1
            a2 = l2 + l3
            a3 = l2 - l3
            a4 = l4 + l5
            a5 = l4 - l5
            a6 = l6 + l7
            a7 = l6 - l7
            b0 = a0 + a2
            b1 = a1 + a3
            b2 = a0 - a2
            b3 = a1 - a3
            b4 = a4 + a6
            b5 = a5 + a7
            b6 = a4 - a6
            b7 = a5 - a7
            s0 = (b0 + b4) * sc
            s1 = (b1 + b5) * sc
            s2 = (b2 + b6) * sc
            s3 = (b3 + b7) * sc
            s4 = (b0 - b4) * sc
            s5 = (b1 - b5) * sc
            s6 = (b2 - b6) * sc
            s7 = (b3 - b7) * sc
            xl = in_gain * x[0, t0 + t]
            y[t0 + t, 0] = dry * x[0, t0 + t] + wet * s1
            if stereo:
                xr = in_gain * x[1, t0 + t]
                y[t0 + t, 1] = dry * x[1, t0 + t] + wet * s2
            else:
                xr = xl
            buf[0, t + d0] = s0 + xl
            buf[1, t + d1] = s1 + xr
            buf[2, t + d2] = s2 + xl
            buf[3, t + d3] = s3 + xr
            buf[4, t + d4] = s4 + xl
            buf[5, t + d5] = s5 + xr
            buf[6, t + d6] = s6 + xl
            buf[7, t + d7] = s7 + xr
        for i in range(FDN_LINES):
            for j in range(delays[i]):
                buf[i, j] = buf[i, j + m]
        t0 += m
    lp_state[0], lp_state[1], lp_state[2], lp_state[3] = l0, l1, l2, l3
    lp_state[4], lp_state[5], lp_state[6], lp_state[7] = l4, l5, l6, l7
    for i in range(FDN_LINES):
        for j in range(delays[i]):
            lines[offsets[i] + j] = buf[i, j]
    return y
