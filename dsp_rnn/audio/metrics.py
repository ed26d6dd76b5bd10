"""Distances between a recording and its resynthesis, and between two sets of recordings.

Copy synthesis compares waveforms that need not be phase-aligned (a vocoder drives its
filter with fresh pulses and noise), so every distance here is *spectral*, and every one is
taken after :func:`level_match` (the estimate scaled to the reference's RMS), so a system
is not charged for its overall level.

- :func:`mr_stft_distance`: the multi-resolution STFT distance of Parallel WaveGAN
  (spectral convergence + log-magnitude L1, averaged over three resolutions; dimensionless).
- :func:`log_mel_l1`: mean absolute difference of two log-mel spectrograms, in dB.
- :func:`log_mel_frames` and :func:`frechet_distance`: the Fréchet distance between
  Gaussians fitted to two sets of log-mel frames (for unconditional generation, where
  there is no reference to align with).

All functions take mono signals ``(time,)`` (numpy arrays, tensors or lists, full scale
``[-1, 1]``) and compute in float64 numpy; none is differentiable.

References:
    R. Yamamoto, E. Song and J.-M. Kim, "Parallel WaveGAN: A fast waveform generation model
    based on generative adversarial networks with multi-resolution spectrogram", ICASSP
    2020 (section 2.2: the multi-resolution STFT loss).
    K. Kilgour, M. Zuluaga, D. Roblek and M. Sharifi, "Fréchet Audio Distance: A
    reference-free metric for evaluating music enhancement algorithms", Interspeech 2019.

>>> import numpy as np
>>> t = np.arange(8000) / 16000
>>> x = 0.3 * np.sin(2 * np.pi * 220 * t)
>>> mr_stft_distance(x, 0.5 * x, 16000), log_mel_l1(x, 2 * x, 16000)
(0.0, 0.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dsp_rnn.errors import InputError, ShapeError

__all__ = [
    "STFT_RESOLUTIONS_MS",
    "level_match",
    "mr_stft_distance",
    "log_mel_frames",
    "log_mel_l1",
    "gaussian_statistics",
    "frechet_gaussians",
    "frechet_distance",
]

STFT_RESOLUTIONS_MS: tuple[tuple[float, float], ...] = ((10.0, 2.5), (25.0, 5.0), (50.0, 10.0))
"""``(window_ms, hop_ms)`` of the three STFTs of :func:`mr_stft_distance`: at 16 kHz,
windows of 160, 400 and 800 samples (FFT 256, 512, 1024) hopping 40, 80 and 160 samples,
the Parallel WaveGAN resolutions (600/1200/240-sample windows at 24 kHz) brought to
round durations."""

_EPS = 1e-7  # magnitude floor of the log-magnitude term (Parallel WaveGAN's clamp)
_N_MELS = 80
_MEL_FRAME_MS = 64.0  # 1024 samples at 16 kHz
_MEL_HOP_MS = 16.0


def _mono(x: Any, name: str) -> np.ndarray:
    """``x`` as a finite float64 ``(time,)`` array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().double().numpy()
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: expected a mono signal (time,), got {type(x).__name__}") from exc
    if a.ndim != 1 or a.shape[0] == 0:
        raise ShapeError(f"{name}: expected a mono signal (time,) with at least one sample, "
                         f"got shape {a.shape}")  # fmt: skip
    if not np.isfinite(a).all():
        raise InputError(f"{name}: expected finite samples, got NaN or inf")
    return a


def _pair(reference: Any, estimate: Any) -> tuple[np.ndarray, np.ndarray]:
    r, e = _mono(reference, "reference"), _mono(estimate, "estimate")
    if r.shape != e.shape:
        raise ShapeError(f"reference, estimate: expected equal lengths, got {r.shape[0]} and "
                         f"{e.shape[0]} samples")  # fmt: skip
    return r, e


def _rate(sample_rate: Any) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or (
        sample_rate < 1000
    ):  # fmt: skip
        raise InputError(f"sample_rate: expected an integer >= 1000 Hz, got {sample_rate!r}")
    return int(sample_rate)


def level_match(reference: Any, estimate: Any) -> np.ndarray:
    """``estimate`` scaled to the RMS of ``reference``.

    RMS matching, not a least-squares gain: the least-squares gain
    ``<reference, estimate> / <estimate, estimate>`` is the right one for waveforms that
    are aligned sample by sample, but tends to 0 for a resynthesis whose phase differs
    (a vocoder's fresh noise and pulses are uncorrelated with the original), which would
    score such a system as silence. Matching the RMS removes the overall level and nothing
    else. A silent estimate is returned as it is.

    Args:
        reference, estimate: mono signals of equal length.

    Shape:
        ``(time,)`` each; returns ``(time,)`` float64.

    Raises:
        ShapeError: not one-dimensional, empty, or of unequal lengths. InputError: NaN/inf.

    Example:
        >>> level_match(np.array([1.0, -1.0]), np.array([0.5, -0.5]))
        array([ 1., -1.])
    """
    r, e = _pair(reference, estimate)
    rms_e = math.sqrt(float(e @ e) / e.shape[0])
    if rms_e == 0.0:
        return e
    return e * (math.sqrt(float(r @ r) / r.shape[0]) / rms_e)


def _stft_magnitude(x: np.ndarray, n_fft: int, hop: int, win: int) -> np.ndarray:
    """``(frames, n_fft // 2 + 1)`` magnitudes: Hann window of ``win`` samples centred in
    ``n_fft``, the signal reflect-padded by ``n_fft // 2`` at both ends (``torch.stft``'s
    ``center=True``; constant padding when the signal is too short to reflect)."""
    window = np.zeros(n_fft)
    left = (n_fft - win) // 2
    window[left : left + win] = np.hanning(win + 2)[1:-1]  # periodic-like, no zero ends
    pad = n_fft // 2
    mode = "reflect" if x.shape[0] > pad else "constant"
    padded = np.pad(x, pad, mode=mode)  # type: ignore[call-overload]
    n_frames = 1 + (padded.shape[0] - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n_frames]
    return np.abs(np.fft.rfft(frames * window, axis=1))


def _resolutions(sample_rate: int) -> list[tuple[int, int, int]]:
    out = []
    for win_ms, hop_ms in STFT_RESOLUTIONS_MS:
        win = max(4, round(win_ms * sample_rate / 1000))
        out.append((1 << (win - 1).bit_length(), max(1, round(hop_ms * sample_rate / 1000)), win))
    return out


def mr_stft_distance(reference: Any, estimate: Any, sample_rate: int, *,
                     match_level: bool = True) -> float:  # fmt: skip
    """Multi-resolution STFT distance (Parallel WaveGAN) of ``estimate`` from
    ``reference``, after :func:`level_match`.

    At each resolution of :data:`STFT_RESOLUTIONS_MS` (Hann windows of 10, 25 and 50 ms)
    with magnitudes ``R`` and ``E``::

        spectral convergence = ||R - E||_F / ||R||_F
        log-magnitude L1     = mean |ln max(R, 1e-7) - ln max(E, 1e-7)|

    The distance is their sum, averaged over the three resolutions (dimensionless, lower is
    better): 0 for identical spectra, growing without bound as they part; the log term
    weighs every bin alike, so noise where the reference is near silence costs a lot.

    Args:
        reference, estimate: mono signals of equal length at ``sample_rate``.
        sample_rate: Hz, integer >= 1000 (sets the window lengths).
        match_level: scale ``estimate`` to the RMS of ``reference`` first (default True).

    Shape:
        ``(time,)`` each.

    Returns:
        The distance (float >= 0).

    Raises:
        ShapeError: not one-dimensional, empty, or of unequal lengths. InputError: NaN/inf
            samples or a bad ``sample_rate``.

    References:
        Yamamoto, Song and Kim, Parallel WaveGAN, ICASSP 2020, eqs. (4)-(6).
    """
    r, e = _pair(reference, estimate)
    rate = _rate(sample_rate)
    if match_level:
        e = level_match(r, e)
    total = 0.0
    resolutions = _resolutions(rate)
    for n_fft, hop, win in resolutions:
        mag_r, mag_e = _stft_magnitude(r, n_fft, hop, win), _stft_magnitude(e, n_fft, hop, win)
        diff = mag_r - mag_e
        norm_r = math.sqrt(float(np.einsum("ij,ij->", mag_r, mag_r)))
        sc = math.sqrt(float(np.einsum("ij,ij->", diff, diff))) / max(norm_r, _EPS)
        log_l1 = float(np.mean(np.abs(np.log(np.maximum(mag_r, _EPS))
                                      - np.log(np.maximum(mag_e, _EPS)))))  # fmt: skip
        total += sc + log_l1
    return total / len(resolutions)


def log_mel_frames(signal: Any, sample_rate: int, *, n_mels: int = _N_MELS,
                   floor_db: float = -100.0) -> np.ndarray:  # fmt: skip
    """Log-mel spectrogram frames of a signal, in dB re full scale.

    A Hann STFT of 64 ms hopping 16 ms (1024 / 256 samples at 16 kHz), magnitudes divided
    by half the window's sum (a full-scale sine reads 0 dB in its bin), powers summed by
    ``n_mels`` triangular mel filters (``librosa.filters.mel``, Slaney scale, peak 1, 0 Hz
    to ``sample_rate / 2``), ``10 log10`` floored at ``floor_db``.

    Args:
        signal: mono samples at ``sample_rate``.
        sample_rate: Hz, integer >= 1000.
        n_mels: mel bands, >= 1 (default 80).
        floor_db: the dB value of silence (default -100).

    Shape:
        ``(time,)`` -> ``(frames, n_mels)`` float64, ``frames = 1 + time // hop``.

    Raises:
        ShapeError: not one-dimensional or empty. InputError: NaN/inf, bad settings.
    """
    import librosa

    x = _mono(signal, "signal")
    rate = _rate(sample_rate)
    if isinstance(n_mels, bool) or not isinstance(n_mels, int) or n_mels < 1:
        raise InputError(f"n_mels: expected an integer >= 1, got {n_mels!r}")
    win = round(_MEL_FRAME_MS * rate / 1000)
    n_fft = 1 << (win - 1).bit_length()
    hop = max(1, round(_MEL_HOP_MS * rate / 1000))
    window = np.hanning(n_fft + 2)[1:-1]
    mag = _stft_magnitude(x, n_fft, hop, n_fft) / (window.sum() / 2)  # (frames, bins)
    basis = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, norm=None)  # (mels, bins)
    power = (mag**2) @ basis.T  # (frames, mels)
    return np.asarray(10.0 * np.log10(np.maximum(power, 10.0 ** (floor_db / 10.0))))


def log_mel_l1(reference: Any, estimate: Any, sample_rate: int, *,
               match_level: bool = True) -> float:  # fmt: skip
    """Mean absolute difference in dB between the log-mel spectrograms
    (:func:`log_mel_frames`) of ``reference`` and ``estimate``, after :func:`level_match`.

    Args:
        reference, estimate: mono signals of equal length at ``sample_rate``.
        sample_rate: Hz, integer >= 1000.
        match_level: scale ``estimate`` to the RMS of ``reference`` first (default True).

    Returns:
        dB (float >= 0; 0 for identical signals).

    Raises:
        ShapeError, InputError: as :func:`mr_stft_distance`.
    """
    r, e = _pair(reference, estimate)
    if match_level:
        e = level_match(r, e)
    return float(np.mean(np.abs(log_mel_frames(r, sample_rate) - log_mel_frames(e, sample_rate))))


def gaussian_statistics(frames: Any, name: str = "frames") -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and covariance ``(D, D)`` (unbiased, ``N - 1``) of ``(N, D)`` frames.

    Raises:
        ShapeError: not two-dimensional or fewer than 2 frames. InputError: NaN/inf.
    """
    a = np.asarray(frames, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2 or a.shape[1] < 1:
        raise ShapeError(f"{name}: expected (frames, features) with at least 2 frames, got "
                         f"shape {a.shape}")  # fmt: skip
    if not np.isfinite(a).all():
        raise InputError(f"{name}: expected finite values, got NaN or inf")
    return a.mean(axis=0), np.atleast_2d(np.cov(a, rowvar=False))


def _psd_sqrt(m: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix (negative
    eigenvalues from rounding are taken as 0)."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return np.asarray((v * np.sqrt(np.maximum(w, 0.0))) @ v.T)


def frechet_gaussians(mu_a: Any, cov_a: Any, mu_b: Any, cov_b: Any) -> float:
    """Fréchet (2-Wasserstein squared) distance between two Gaussians::

        ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))

    computed stably through symmetric forms: ``Tr (S_a S_b)^(1/2)`` equals the trace of
    ``(S_a^(1/2) S_b S_a^(1/2))^(1/2)``, a symmetric positive semi-definite matrix whose
    square root comes from its eigen-decomposition (no complex parts from rounding, as
    ``scipy.linalg.sqrtm`` of the non-symmetric product can give).

    Args:
        mu_a, mu_b: means ``(D,)``.
        cov_a, cov_b: covariances ``(D, D)``, symmetric positive semi-definite.

    Returns:
        The distance (float >= 0; 0 for equal Gaussians), in the squared units of the
        features (dB^2 for log-mel frames).

    Raises:
        ShapeError: mismatched shapes.

    Example:
        >>> frechet_gaussians(np.zeros(2), np.eye(2), np.ones(2), 4 * np.eye(2))
        4.0
    """
    ma, mb = np.asarray(mu_a, np.float64).reshape(-1), np.asarray(mu_b, np.float64).reshape(-1)
    sa = np.atleast_2d(np.asarray(cov_a, np.float64))
    sb = np.atleast_2d(np.asarray(cov_b, np.float64))
    d = ma.shape[0]
    if mb.shape != (d,) or sa.shape != (d, d) or sb.shape != (d, d):
        raise ShapeError(f"mu_a, cov_a, mu_b, cov_b: expected (D,), (D, D), (D,), (D, D), got "
                         f"{ma.shape}, {sa.shape}, {mb.shape}, {sb.shape}")  # fmt: skip
    root_a = _psd_sqrt(sa)
    cross = np.linalg.eigvalsh(root_a @ sb @ root_a)
    trace_sqrt = float(np.sqrt(np.maximum(cross, 0.0)).sum())
    diff = ma - mb
    value = float(diff @ diff) + float(np.trace(sa) + np.trace(sb)) - 2.0 * trace_sqrt
    return max(value, 0.0)


def frechet_distance(frames_a: Any, frames_b: Any) -> float:
    """Fréchet distance between Gaussians fitted (mean, covariance) to two sets of frames.

    Like the Fréchet Audio Distance, but on the frames themselves (e.g.
    :func:`log_mel_frames`, 80 dB values per 16 ms) instead of a pretrained network's
    embeddings: it compares the spectral statistics of two sets of audio without aligning
    them, for generated audio that has no reference recording. Use many more frames than
    features (a covariance of ``D`` features from fewer than ``D`` frames is singular, and
    the distance of two small samples of one distribution is above 0).

    Args:
        frames_a, frames_b: ``(N_a, D)`` and ``(N_b, D)``, at least 2 frames each.

    Returns:
        :func:`frechet_gaussians` of the two fits (float >= 0, symmetric in its arguments).

    Raises:
        ShapeError: not ``(frames, D)`` with the same ``D``, or fewer than 2 frames.
        InputError: NaN/inf.
    """
    mu_a, cov_a = gaussian_statistics(frames_a, "frames_a")
    mu_b, cov_b = gaussian_statistics(frames_b, "frames_b")
    if mu_a.shape != mu_b.shape:
        raise ShapeError(f"frames_a, frames_b: expected the same number of features, got "
                         f"{mu_a.shape[0]} and {mu_b.shape[0]}")  # fmt: skip
    return frechet_gaussians(mu_a, cov_a, mu_b, cov_b)
