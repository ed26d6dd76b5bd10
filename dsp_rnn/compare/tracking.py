"""Pitch and loudness contours of a recording, smoothed with uncertainty by a Kalman smoother.

Per frame, ``librosa.pyin`` gives the fundamental frequency (NaN where a frame is unvoiced)
and the RMS gives the level in dB: noisy observations of a smooth contour. Pitch is tracked
in semitones (MIDI pitch, so that a vibrato is as wide at every height) and loudness in dB,
each by a local-level-and-velocity model (a white-noise-acceleration state space): state
``[value, velocity]``, ``A = [[1, 1], [0, 1]]`` per frame, the observation the value plus
white noise. Unvoiced frames are missing pitch observations (NaN) while their loudness still
counts: the Kalman filter handles missing values per coordinate
(:func:`dsp_rnn.filters.kalman_smoother`). The four noise variances (pitch and loudness,
process and observation) are fitted by maximum likelihood on the recording itself (the
exact Kalman log-likelihood, maximised by Nelder-Mead), unless given.

The smoothed estimate exists at every frame, through unvoiced gaps too, where its standard
deviation grows: the bands of the plot show it.

Example:
    >>> import numpy as np
    >>> t = np.arange(16000) / 16000
    >>> tone = 0.3 * np.sin(2 * np.pi * 220 * t) * (t < 0.6)
    >>> c = track_contour(tone, sample_rate=16000)
    >>> bool(abs(np.nanmedian(c.f0_hz[:40]) - 220) < 3), bool(np.isnan(c.f0_hz[-10:]).all())
    (True, True)
    >>> std = c.f0_std_semitones  # grows where nothing is heard
    >>> bool(np.isfinite(c.f0_hz_smoothed).all()), bool(std[-1] > 3 * std[:50].max())
    (True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dsp_rnn._atomic import atomic_path
from dsp_rnn.errors import AudioError, InputError, OutputError
from dsp_rnn.filters.kalman import LinearGaussian, kalman_smoother

__all__ = ["Contour", "NoiseLevels", "track_contour", "track_file", "contour_model",
           "CSV_COLUMNS"]  # fmt: skip

CSV_COLUMNS = ("time_s", "f0_hz", "f0_hz_smoothed", "f0_std_semitones", "f0_hz_lower",
               "f0_hz_upper", "voiced_probability", "rms_db", "rms_db_smoothed",
               "rms_db_std")  # fmt: skip
"""The columns :meth:`Contour.to_csv` writes (lower/upper: the smoothed f0 -+ 2 std)."""

_FLOOR_DB = -100.0  # the level of digital silence (RMS floored at 1e-5)
# The fit's lower bounds: pyin's f0 is on a grid of 0.1 semitone (its rounding error has a
# standard deviation of 0.1 / sqrt(12), about 0.03), the level is not known better than 0.1 dB.
_LOG_FLOORS = np.log([1e-3, 0.03, 1e-3, 0.1])


@dataclass(frozen=True)
class NoiseLevels:
    """Standard deviations of the contour model, per frame.

    Attributes:
        pitch_process: the pitch's acceleration noise (semitones per frame squared).
        pitch_observation: pyin's error (semitones).
        level_process: the level's acceleration noise (dB per frame squared).
        level_observation: the RMS level's error (dB).
    """

    pitch_process: float = 0.05
    pitch_observation: float = 0.3
    level_process: float = 0.3
    level_observation: float = 1.5

    def __post_init__(self) -> None:
        for name in ("pitch_process", "pitch_observation", "level_process",
                     "level_observation"):  # fmt: skip
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                raise InputError(f"{name}: expected a standard deviation > 0, got {v!r}")


def contour_model(noise: NoiseLevels, *, first_pitch: float, first_level: float,
                  dtype: torch.dtype = torch.float64) -> LinearGaussian:  # fmt: skip
    """The 4-state model ``[pitch, pitch velocity, level, level velocity]`` observed as
    ``[pitch, level]`` (semitones, dB), per frame; a broad prior around the first values."""
    A = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=dtype)
    G = torch.tensor([[1 / 3, 1 / 2], [1 / 2, 1.0]], dtype=dtype)  # white-noise acceleration
    z = torch.zeros(2, 2, dtype=dtype)
    Q = torch.cat([torch.cat([noise.pitch_process**2 * G, z], 1),
                   torch.cat([z, noise.level_process**2 * G], 1)])  # fmt: skip
    return LinearGaussian(
        A=torch.block_diag(A, A),
        C=torch.tensor([[1.0, 0, 0, 0], [0, 0, 1.0, 0]], dtype=dtype),
        Q=Q,
        R=torch.diag(
            torch.tensor([noise.pitch_observation**2, noise.level_observation**2], dtype=dtype)
        ),  # fmt: skip
        m0=torch.tensor([first_pitch, 0.0, first_level, 0.0], dtype=dtype),
        P0=torch.diag(torch.tensor([12.0**2, 1.0, 20.0**2, 5.0**2], dtype=dtype)),
    )


def _fit_noise(y: torch.Tensor, noise: NoiseLevels, first: tuple[float, float],
               evaluations: int) -> NoiseLevels:  # fmt: skip
    """Maximum-likelihood noise levels: Nelder-Mead on the four log standard deviations
    (each evaluation is one compiled Kalman filter pass)."""
    from scipy.optimize import minimize

    from dsp_rnn.filters.kalman import kalman_filter

    def nll(logs: np.ndarray) -> float:
        levels = NoiseLevels(*np.exp(np.clip(logs, _LOG_FLOORS, 4.0)).tolist())
        model = contour_model(levels, first_pitch=first[0], first_level=first[1])
        with torch.no_grad():
            value = -float(kalman_filter(y, model).log_likelihood.sum())
        return value if math.isfinite(value) else 1e300

    start = np.log([noise.pitch_process, noise.pitch_observation, noise.level_process,
                    noise.level_observation])  # fmt: skip
    best = minimize(nll, start, method="Nelder-Mead",
                    options={"maxfev": evaluations, "xatol": 1e-3, "fatol": 1e-4})  # fmt: skip
    logs = best.x if best.fun <= nll(start) else start
    return NoiseLevels(*np.exp(np.clip(logs, _LOG_FLOORS, 4.0)).tolist())


@dataclass(frozen=True)
class Contour:
    """Frame-wise pitch and loudness of a recording, observed and smoothed (numpy float64
    arrays of ``n_frames``; NaN in ``f0_hz`` where a frame is unvoiced).

    Attributes:
        time_s: frame centres (seconds).
        f0_hz, voiced_probability: pyin's estimate and its voicing probability.
        f0_hz_smoothed, f0_std_semitones: the smoothed pitch and its standard deviation.
        rms_db, rms_db_smoothed, rms_db_std: the frame level (dBFS, floored at -100), its
            smoothed value and standard deviation.
        noise: the :class:`NoiseLevels` used.
        sample_rate, hop_length: the analysis's rate (Hz) and hop (samples).
        source: where the audio came from (for the plot's title).
    """

    time_s: np.ndarray = field(repr=False)
    f0_hz: np.ndarray = field(repr=False)
    voiced_probability: np.ndarray = field(repr=False)
    f0_hz_smoothed: np.ndarray = field(repr=False)
    f0_std_semitones: np.ndarray = field(repr=False)
    rms_db: np.ndarray = field(repr=False)
    rms_db_smoothed: np.ndarray = field(repr=False)
    rms_db_std: np.ndarray = field(repr=False)
    noise: NoiseLevels
    sample_rate: int
    hop_length: int
    source: str = ""

    @property
    def n_frames(self) -> int:
        return int(self.time_s.shape[0])

    def f0_band_hz(self, n_std: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
        """The smoothed f0 ``-+ n_std`` standard deviations (in semitones), in Hz."""
        midi = 69 + 12 * np.log2(self.f0_hz_smoothed / 440.0)
        return (440.0 * 2 ** ((midi - n_std * self.f0_std_semitones - 69) / 12),
                440.0 * 2 ** ((midi + n_std * self.f0_std_semitones - 69) / 12))  # fmt: skip

    def columns(self) -> dict[str, np.ndarray]:
        """:data:`CSV_COLUMNS` and their values."""
        lower, upper = self.f0_band_hz()
        return {"time_s": self.time_s, "f0_hz": self.f0_hz, "f0_hz_smoothed": self.f0_hz_smoothed,
                "f0_std_semitones": self.f0_std_semitones, "f0_hz_lower": lower,
                "f0_hz_upper": upper, "voiced_probability": self.voiced_probability,
                "rms_db": self.rms_db, "rms_db_smoothed": self.rms_db_smoothed,
                "rms_db_std": self.rms_db_std}  # fmt: skip

    def to_csv(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write :data:`CSV_COLUMNS` (a header, then a row per frame; empty where a value is
        missing), atomically.

        Raises:
            OutputError: the folder is missing, or ``path`` exists and not ``overwrite``.
        """
        out = Path(path)
        cols = self.columns()
        lines = [",".join(CSV_COLUMNS)]
        for i in range(self.n_frames):
            lines.append(",".join("" if not np.isfinite(v := cols[c][i]) else f"{v:.6g}"
                                  for c in CSV_COLUMNS))  # fmt: skip
        with atomic_path(out, overwrite, OutputError) as tmp:
            tmp.write_text("\n".join(lines) + "\n")
        return out

    def plot(self, path: str | Path, *, overwrite: bool = False, title: str | None = None) -> Path:
        """Two panels against time: f0 (log-frequency axis, pyin's dots, the smoothed line
        and its -+ 2 std band, unvoiced frames shaded) and the level in dB with its band.

        Raises:
            OutputError: the folder is missing, or ``path`` exists and not ``overwrite``.
        """
        from dsp_rnn.plotting import pyplot, save_figure

        plt = pyplot()
        fig, (ax_f, ax_l) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
        t = self.time_s
        lower, upper = self.f0_band_hz()
        unvoiced = ~np.isfinite(self.f0_hz)
        ax_f.fill_between(t, 0, 1, where=unvoiced, color="0.92", step="mid",
                          transform=ax_f.get_xaxis_transform(), label="unvoiced")  # fmt: skip
        ax_f.fill_between(t, lower, upper, color="tab:blue", alpha=0.25, label="-+2 std")
        ax_f.plot(t, self.f0_hz_smoothed, color="tab:blue", lw=1.5, label="smoothed")
        ax_f.plot(t, self.f0_hz, ".", color="k", ms=3, label="pyin f0")
        voiced = self.f0_hz[~unvoiced]
        if voiced.size:
            ax_f.set_ylim(voiced.min() / 1.25, voiced.max() * 1.25)
        ax_f.set_yscale("log")
        from matplotlib.ticker import FormatStrFormatter

        for axis in (ax_f.yaxis.set_major_formatter, ax_f.yaxis.set_minor_formatter):
            axis(FormatStrFormatter("%g"))
        ax_f.set_ylabel("f0 (Hz)")
        ax_f.legend(loc="upper right", fontsize=8)
        ax_l.fill_between(t, self.rms_db_smoothed - 2 * self.rms_db_std,
                          self.rms_db_smoothed + 2 * self.rms_db_std, color="tab:red",
                          alpha=0.25, label="-+2 std")  # fmt: skip
        ax_l.plot(t, self.rms_db_smoothed, color="tab:red", lw=1.5, label="smoothed")
        ax_l.plot(t, self.rms_db, ".", color="k", ms=3, label="frame RMS")
        ax_l.set_ylabel("level (dBFS)")
        ax_l.set_xlabel("time (s)")
        ax_l.legend(loc="upper right", fontsize=8)
        if title is None:
            title = "pitch and loudness contour" + (f": {self.source}" if self.source else "")
        ax_f.set_title(title)
        fig.tight_layout()
        return save_figure(fig, path, overwrite=overwrite)


def track_contour(audio: Any, *, sample_rate: int, fmin_hz: float = 65.0,
                  fmax_hz: float = 2000.0, hop_seconds: float = 0.01,
                  noise: NoiseLevels | None = None, fit_evaluations: int = 300,
                  source: str = "") -> Contour:  # fmt: skip
    """The pitch and loudness contour of a mono signal (the module docstring has the model).

    Args:
        audio: mono samples ``(time,)`` (numpy or torch), at ``sample_rate`` Hz.
        sample_rate: Hz (> 0).
        fmin_hz, fmax_hz: pyin's f0 search range (Hz; default 65 to 2000).
        hop_seconds: frame hop (default 0.01 s); the analysis frame is about 80 ms (a power
            of two in samples).
        noise: the model's standard deviations; default: fitted on this recording by
            maximum likelihood, starting from :class:`NoiseLevels`'s defaults.
        fit_evaluations: likelihood evaluations of that fit (0 = use the defaults as they
            are).
        source: a name for the plot's title.

    Returns:
        a :class:`Contour`.

    Raises:
        AudioError: an empty or non-finite signal, or one shorter than an analysis frame.
        InputError: bad ranges, rates or noise levels.
    """
    import librosa

    x = np.asarray(audio.detach().cpu() if isinstance(audio, torch.Tensor) else audio,
                   dtype=np.float64)  # fmt: skip
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or (
            sample_rate <= 0):  # fmt: skip
        raise InputError(f"sample_rate: expected an integer > 0 (Hz), got {sample_rate!r}")
    if not 0 < fmin_hz < fmax_hz < sample_rate / 2:
        raise InputError(f"expected 0 < fmin_hz < fmax_hz < sample_rate/2, got fmin_hz="
                         f"{fmin_hz}, fmax_hz={fmax_hz}, sample_rate={sample_rate}")  # fmt: skip
    if not 0 < hop_seconds <= 0.1:
        raise InputError(f"hop_seconds: expected 0 < hop_seconds <= 0.1, got {hop_seconds}")
    if x.ndim != 1 or not np.isfinite(x).all():
        raise AudioError(f"{source or 'audio'}: expected finite mono samples (time,), got "
                         f"shape {x.shape}")  # fmt: skip
    frame = int(2 ** round(math.log2(0.08 * sample_rate)))
    hop = max(1, round(hop_seconds * sample_rate))
    if x.shape[0] < frame:
        raise AudioError(f"{source or 'audio'}: {x.shape[0] / sample_rate:.3f} s, shorter than "
                         f"one analysis frame ({frame / sample_rate:.3f} s)")  # fmt: skip
    f0, _, prob = librosa.pyin(x, fmin=fmin_hz, fmax=fmax_hz, sr=sample_rate,
                               frame_length=frame, hop_length=hop)  # fmt: skip
    rms = librosa.feature.rms(y=x, frame_length=frame, hop_length=hop)[0]
    n = min(len(f0), len(rms))
    f0, prob, rms = f0[:n], prob[:n], rms[:n]
    rms_db = 20 * np.log10(np.maximum(rms, 10 ** (_FLOOR_DB / 20)))
    pitch = 69 + 12 * np.log2(f0 / 440.0)  # NaN where unvoiced
    y = torch.from_numpy(np.stack([pitch, rms_db], -1))  # (T, 2)
    voiced = np.isfinite(pitch)
    first = (float(pitch[voiced][0]) if voiced.any() else 60.0, float(rms_db[0]))
    noise = noise if noise is not None else NoiseLevels()
    if fit_evaluations and voiced.sum() >= 4:
        noise = _fit_noise(y, noise, first, fit_evaluations)
    with torch.no_grad():
        sm = kalman_smoother(y, contour_model(noise, first_pitch=first[0],
                                              first_level=first[1]))  # fmt: skip
    mean = sm.means[0].numpy()
    var = sm.covariances[0].diagonal(dim1=-2, dim2=-1).numpy()
    times = np.arange(n) * hop / sample_rate
    f0_smoothed = 440.0 * 2 ** ((mean[:, 0] - 69) / 12)
    return Contour(times, f0.astype(np.float64), np.asarray(prob, np.float64), f0_smoothed,
                   np.sqrt(var[:, 0]), rms_db.astype(np.float64), mean[:, 2],
                   np.sqrt(var[:, 2]), noise, int(sample_rate), hop, source)  # fmt: skip


def track_file(path: str | Path, **options: Any) -> Contour:
    """:func:`track_contour` of an audio file, read mono at its own rate
    (:func:`dsp_rnn.music.read_audio`); ``options`` as there (not ``sample_rate``).

    Raises:
        AudioError: a missing, unreadable or empty file (the message names it), or a signal
            shorter than one analysis frame.
    """
    from dsp_rnn.music import read_audio

    p = Path(path)
    audio, rate = read_audio(p, dtype=torch.float64)
    return track_contour(audio.numpy(), sample_rate=rate, source=p.name, **options)
