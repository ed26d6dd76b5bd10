"""Linear prediction: autocorrelation, Levinson-Durbin, conditioning, LPC from an envelope.

The all-pole model of a frame is ``1 / A(z)`` with ``A(z) = 1 + a_1 z^-1 + ... + a_p z^-p``
(``a[..., 0] == 1``, scipy's ``lfilter`` convention), so the prediction of a sample from the
past is ``p_t = -sum_k a_k s_(t-k)``. Everything here is numpy float64 and batched over
leading dims: frames ``(..., frame_length)``, autocorrelations ``(..., order + 1)``,
predictors ``(..., order + 1)``.

Every predictor that comes out of :func:`lpc_from_frames` and
:func:`lpc_from_power_spectrum` is stable (all roots of ``A`` inside the unit circle), for
any input, silence, DC and clipped signals included:

- the autocorrelation of a windowed frame is positive semi-definite; white-noise correction
  (``r_0 *= 1 + 10**(white_noise_db / 10)``) and a Gaussian lag window make it positive
  definite, and then every reflection coefficient of Levinson-Durbin has ``|k| < 1``;
- Levinson-Durbin stops (the remaining reflection coefficients are zero) in the rare case
  where rounding still gives ``|k| >= 1``, or the frame is silent;
- bandwidth expansion ``a_k -> a_k gamma**k`` scales every root by ``gamma < 1``.

References:
    J. Makhoul, "Linear prediction: a tutorial review", Proc. IEEE 63(4), 1975;
    ITU-T G.729 (lag window and white-noise correction);
    J.-M. Valin and J. Skoglund, "LPCNet", ICASSP 2019 (LPC from the band envelope).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import scipy.signal

from dsp_rnn._validate import check_int
from dsp_rnn.errors import InputError, NonFiniteError, ShapeError

__all__ = [
    "Levinson",
    "autocorrelation",
    "lag_window",
    "levinson",
    "bandwidth_expansion",
    "lpc_from_autocorrelation",
    "lpc_from_frames",
    "lpc_from_power_spectrum",
]


class Levinson(NamedTuple):
    """The result of :func:`levinson`.

    Attributes:
        a: predictor ``(..., order + 1)`` with ``a[..., 0] == 1``.
        reflection: reflection coefficients ``(..., order)``, each ``|k| < 1``.
        error: prediction error power ``(...)``: ``r_0 * prod(1 - k**2)``, in the units of
            the autocorrelation (the mean square of the residual when ``r`` is a mean).
    """

    a: np.ndarray
    reflection: np.ndarray
    error: np.ndarray


def _array(value: Any, name: str, min_ndim: int = 1) -> np.ndarray:
    """``value`` as a float64 array (tensors detached), finite, with ``min_ndim`` dims."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number)) or arr.dtype == bool:
        raise InputError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise InputError(f"{name}: expected real values, got complex dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim < min_ndim:
        raise ShapeError(f"{name}: expected at least {min_ndim} dimension(s), got {arr.shape}")
    if not np.isfinite(arr).all():
        n_bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise NonFiniteError(f"{name}: expected finite values, found {n_bad} NaN/inf value(s)")
    return arr


def _check_order(order: Any, limit: int, what: str) -> int:
    order = check_int(order, "order", minimum=1)
    if order > limit:
        raise InputError(f"order: expected 1 <= order <= {limit} ({what}), got order={order}")
    return order


def autocorrelation(frames: Any, order: int, *, window: str | None = "hann") -> np.ndarray:
    """Autocorrelation ``r_k = sum_n w_n x_n w_(n+k) x_(n+k)`` of each (windowed) frame.

    Args:
        frames: the frames, time last; float32/64 array or tensor.
        order: the largest lag ``p``, ``1 <= p < frame_length``.
        window: a window name of ``scipy.signal.get_window`` (periodic), default
            ``"hann"``; ``None`` for no window (a rectangular one).

    Shape:
        ``frames (..., frame_length)`` -> ``(..., order + 1)``.

    Returns:
        float64 lags ``0 .. p`` (the biased estimate: sums, not means).

    Raises:
        ShapeError, NonFiniteError, InputError (``order`` out of range).

    Example:
        >>> autocorrelation(np.array([1.0, 2.0, 3.0]), 2, window=None)
        array([14.,  8.,  3.])
    """
    x = _array(frames, "frames")
    n = x.shape[-1]
    order = _check_order(order, n - 1, f"frame_length={n}")
    if window is not None:
        x = x * scipy.signal.get_window(window, n, fftbins=True)
    n_fft = 1 << (2 * n - 1).bit_length()
    spec = np.fft.rfft(x, n_fft)
    return np.fft.irfft(spec.real**2 + spec.imag**2, n_fft)[..., : order + 1]


def lag_window(
    r: Any,
    *,
    sample_rate: float,
    bandwidth_hz: float = 60.0,
    white_noise_db: float = -40.0,
) -> np.ndarray:
    """Condition an autocorrelation: Gaussian lag window and white-noise correction.

    ``r_k *= exp(-(2 pi bandwidth_hz k / sample_rate)**2 / 2)`` widens every spectral peak
    (a Gaussian of that standard deviation, in Hz), and ``r_0 *= 1 + 10**(white_noise_db /
    10)`` adds white noise that far below the frame's power, so the Toeplitz matrix is
    positive definite even for silence-like, DC or pure-tone frames.

    Args:
        r: autocorrelation lags ``0 .. p``.
        sample_rate: in Hz, > 0.
        bandwidth_hz: the lag window's width in Hz, >= 0 (default 60; 0: no lag window).
        white_noise_db: noise floor relative to ``r_0`` in dB (default -40, about 1.0001;
            ``-inf`` for none).

    Shape:
        ``(..., p + 1)`` -> ``(..., p + 1)``.

    Returns:
        The conditioned lags (a new float64 array).

    Raises:
        InputError: a bad ``sample_rate``, ``bandwidth_hz`` or ``white_noise_db``.

    Example:
        >>> lag_window(np.array([1.0, 1.0]), sample_rate=16000, white_noise_db=-20)
        array([1.01      , 0.99972246])
    """
    rr = _array(r, "r")
    if not (np.isfinite(sample_rate) and sample_rate > 0):
        raise InputError(f"sample_rate: expected a number > 0 Hz, got {sample_rate!r}")
    if not (np.isfinite(bandwidth_hz) and bandwidth_hz >= 0):
        raise InputError(f"bandwidth_hz: expected a number >= 0 Hz, got {bandwidth_hz!r}")
    if np.isnan(white_noise_db) or white_noise_db == np.inf:
        raise InputError(f"white_noise_db: expected a level in dB or -inf, got {white_noise_db!r}")
    k = np.arange(rr.shape[-1])
    out = rr * np.exp(-0.5 * (2.0 * np.pi * bandwidth_hz * k / sample_rate) ** 2)
    out[..., 0] *= 1.0 + 10.0 ** (white_noise_db / 10.0)
    return out


def levinson(r: Any, order: int | None = None) -> Levinson:
    """Levinson-Durbin recursion: the predictor that solves the Toeplitz normal equations.

    Solves ``sum_j a_j r_|i-j| = -r_i`` (``i = 1 .. p``), the same solution as
    ``scipy.linalg.solve_toeplitz(r[:p], -r[1:])``, batched over frames. A silent frame
    (``r_0 == 0``) gives ``a = [1, 0, ...]``; where rounding would give a reflection
    coefficient with ``|k| >= 1`` (a singular matrix), the recursion stops there and the
    higher coefficients are zero, so the predictor is always minimum phase.

    Args:
        r: autocorrelation lags ``0 .. P`` (``P >= 1``), float64 recommended.
        order: predictor order ``p``, ``1 <= p <= P`` (default ``P``).

    Shape:
        ``r (..., P + 1)`` -> ``a (..., p + 1)``, ``reflection (..., p)``, ``error (...)``.

    Returns:
        :class:`Levinson` ``(a, reflection, error)``.

    Raises:
        ShapeError, NonFiniteError, InputError (``order`` out of range, ``r_0 < 0``).

    References:
        N. Levinson (1947); J. Durbin (1960); Makhoul (1975), eq. 38-40.

    Example:
        >>> levinson(np.array([1.0, 0.5, 0.25])).a  # an AR(1) process with pole 0.5
        array([ 1. , -0.5,  0. ])
    """
    rr = _array(r, "r")
    if rr.shape[-1] < 2:
        raise ShapeError(f"r: expected at least 2 lags (..., P + 1), got shape {rr.shape}")
    p = rr.shape[-1] - 1 if order is None else _check_order(order, rr.shape[-1] - 1, "lags")
    if (rr[..., 0] < 0).any():
        raise InputError(f"r: expected r_0 >= 0 (a power), found min {rr[..., 0].min():g}")
    batch = rr.shape[:-1]
    a = np.zeros(batch + (p + 1,))
    a[..., 0] = 1.0
    ks = np.zeros(batch + (p,))
    err = rr[..., 0].copy()
    live = err > 0
    tiny = np.finfo(np.float64).tiny
    for m in range(1, p + 1):
        acc = np.einsum("...j,...j->...", a[..., :m], rr[..., m:0:-1])
        k = np.where(live, -acc / np.maximum(err, tiny), 0.0)
        live = live & (np.abs(k) < 1.0)
        k = np.where(live, k, 0.0)
        a[..., 1 : m + 1] = a[..., 1 : m + 1] + k[..., None] * a[..., m - 1 :: -1][..., :m]
        ks[..., m - 1] = k
        err = err * (1.0 - k * k)
        live = live & (err > 0)
    return Levinson(a, ks, err)


def bandwidth_expansion(a: Any, gamma: float = 0.99) -> np.ndarray:
    """``a_k -> a_k gamma**k``: every root of ``A(z)`` moves to ``gamma`` times its radius.

    Widens each resonance by about ``-sample_rate * ln(gamma) / pi`` Hz (gamma 0.99 at
    16 kHz: about 51 Hz) and keeps the predictor away from the unit circle.

    Args:
        a: predictors ``(..., p + 1)``.
        gamma: ``0 < gamma <= 1`` (default 0.99).

    Returns:
        The expanded predictors (new float64 array).

    Raises:
        InputError: ``gamma`` outside ``(0, 1]``.

    Example:
        >>> bandwidth_expansion(np.array([1.0, -1.0, 0.5]), 0.5)
        array([ 1.   , -0.5  ,  0.125])
    """
    aa = _array(a, "a")
    if not (0.0 < gamma <= 1.0):
        raise InputError(f"gamma: expected 0 < gamma <= 1, got gamma={gamma!r}")
    return aa * gamma ** np.arange(aa.shape[-1])


def lpc_from_autocorrelation(
    r: Any,
    order: int | None = None,
    *,
    sample_rate: float,
    bandwidth_hz: float = 60.0,
    white_noise_db: float = -40.0,
    gamma: float = 0.99,
) -> Levinson:
    """Conditioned Levinson-Durbin: :func:`lag_window`, :func:`levinson`, then
    :func:`bandwidth_expansion` of the predictor (``error`` is Levinson's, before the
    expansion). Arguments as in those functions; shapes as in :func:`levinson`."""
    res = levinson(
        lag_window(r, sample_rate=sample_rate, bandwidth_hz=bandwidth_hz,
                   white_noise_db=white_noise_db),
        order,
    )  # fmt: skip
    return Levinson(bandwidth_expansion(res.a, gamma), res.reflection, res.error)


def lpc_from_frames(
    frames: Any,
    order: int,
    *,
    sample_rate: float,
    window: str | None = "hann",
    bandwidth_hz: float = 60.0,
    white_noise_db: float = -40.0,
    gamma: float = 0.99,
) -> Levinson:
    """The stable LPC predictor of each frame, straight from its samples.

    :func:`autocorrelation` of the windowed frames, divided by the window's energy (so
    ``r_0`` and ``error`` are mean squares per sample), then
    :func:`lpc_from_autocorrelation`.

    Args:
        frames: ``(..., frame_length)`` samples.
        order: predictor order, ``1 <= order < frame_length`` (16 is usual at 16 kHz).
        sample_rate: in Hz; window, bandwidth_hz, white_noise_db, gamma: see
            :func:`autocorrelation`, :func:`lag_window`, :func:`bandwidth_expansion`.

    Shape:
        ``(..., frame_length)`` -> ``a (..., order + 1)``, ``reflection (..., order)``,
        ``error (...)``.

    Returns:
        :class:`Levinson`; every ``A(z)`` has all its roots inside the unit circle.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = scipy.signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(4000))
        >>> res = lpc_from_frames(x, 1, sample_rate=16000, window=None, gamma=1.0)
        >>> round(float(res.a[1]), 2)
        -0.9
    """
    x = _array(frames, "frames")
    n = x.shape[-1]
    w = np.ones(n) if window is None else scipy.signal.get_window(window, n, fftbins=True)
    r = autocorrelation(x, order, window=window) / float(np.sum(w * w))
    return lpc_from_autocorrelation(
        r, order, sample_rate=sample_rate, bandwidth_hz=bandwidth_hz,
        white_noise_db=white_noise_db, gamma=gamma,
    )  # fmt: skip


def lpc_from_power_spectrum(
    power: Any,
    order: int,
    *,
    sample_rate: float,
    bandwidth_hz: float = 60.0,
    white_noise_db: float = -40.0,
    gamma: float = 0.99,
) -> Levinson:
    """The stable LPC predictor whose envelope fits a power spectrum.

    The autocorrelation is the inverse FFT of the power spectrum (Wiener-Khinchin), then
    :func:`lpc_from_autocorrelation`. This is how a predictor is rebuilt from compact
    features (a band envelope interpolated onto FFT bins), so the predictor carries no
    information that the features do not.

    Args:
        power: one-sided power spectrum on the ``rfft`` grid, ``n_bins = n_fft // 2 + 1``
            bins from 0 Hz to ``sample_rate / 2`` (``n_fft`` even), values >= 0. Scaled as
            a mean square per bin (``|X_k|**2 / sum(w**2)`` of a windowed frame), ``r_0``
            and ``error`` are mean squares per sample.
        order: predictor order, ``1 <= order <= n_fft // 2``.
        sample_rate: in Hz; bandwidth_hz, white_noise_db, gamma: see
            :func:`lpc_from_autocorrelation`.

    Shape:
        ``(..., n_bins)`` -> as :func:`levinson` with ``(...)`` leading dims.

    Returns:
        :class:`Levinson`.

    Raises:
        ShapeError (fewer than 2 bins), NonFiniteError, InputError (negative power, order).

    Example:
        >>> r = np.array([1.0, 0.5, 0.25, 0.125])  # AR(1), pole 0.5: its spectrum on 512 bins
        >>> power = 0.75 / np.abs(1 - 0.5 * np.exp(-1j * np.linspace(0, np.pi, 257))) ** 2
        >>> a = lpc_from_power_spectrum(power, 2, sample_rate=16000, bandwidth_hz=0,
        ...                             white_noise_db=-np.inf, gamma=1.0).a
        >>> np.round(a, 3)
        array([ 1. , -0.5,  0. ])
    """
    pw = _array(power, "power")
    if pw.shape[-1] < 2:
        raise ShapeError(f"power: expected at least 2 bins (..., n_bins), got shape {pw.shape}")
    if (pw < 0).any():
        raise InputError(f"power: expected values >= 0, found min {pw.min():g}")
    n_fft = 2 * (pw.shape[-1] - 1)
    order = _check_order(order, n_fft // 2, f"n_bins={pw.shape[-1]}")
    r = np.fft.irfft(pw, n_fft)[..., : order + 1]
    return lpc_from_autocorrelation(
        r, order, sample_rate=sample_rate, bandwidth_hz=bandwidth_hz,
        white_noise_db=white_noise_db, gamma=gamma,
    )  # fmt: skip
