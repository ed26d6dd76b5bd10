"""Recordings on one page: a waveform over its log-frequency spectrogram
(:func:`plot_spectrogram`), or several signals' spectrograms stacked on one time and colour
scale (:func:`plot_spectrograms`, e.g. a recording and its resyntheses)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dsp_rnn.plotting.figure import pyplot, save_figure

__all__ = ["plot_spectrogram", "plot_spectrograms"]


def _spectrogram_db(x: np.ndarray, sample_rate: float, n_fft: int,
                    hop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Frame times ``(frames,)`` s, bin frequencies ``(bins,)`` Hz and magnitudes
    ``(bins, frames)`` in dB re full scale (Hann window; a full-scale sine reads 0 dB)."""
    n_frames = max(1 + (len(x) - n_fft) // hop, 1)
    pad = np.pad(x, (0, max(n_fft + (n_frames - 1) * hop - len(x), 0)))
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop][:n_frames]
    win = np.hanning(n_fft)
    spec = np.abs(np.fft.rfft(frames * win, axis=1)) / (win.sum() / 2)
    db = 20 * np.log10(np.maximum(spec, 1e-12)).T
    f = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    t = (np.arange(n_frames) * hop + n_fft / 2) / sample_rate
    return t, f, db


def plot_spectrogram(
    audio: Any,
    path: str | Path,
    *,
    sample_rate: float,
    title: str = "",
    n_fft: int = 4096,
    hop: int = 512,
    max_hz: float | None = 8000.0,
    floor_db: float = -90.0,
) -> Path:
    """Write a PNG with the waveform (peak per pixel column) over a log-magnitude
    spectrogram (Hann window, dB re full scale, log-frequency axis).

    Args:
        audio: samples ``(time,)`` or ``(channels, time)`` (channels are averaged), or the
            path of an audio file (read block-free with soundfile).
        path: output image (PNG, SVG, ...) in an existing folder; replaced if it exists.
        sample_rate: Hz (ignored when ``audio`` is a file: the file's rate is used).
        max_hz: top of the frequency axis (default 8 kHz, where the notes are).
        floor_db: bottom of the colour scale.

    Returns:
        The path written.

    Raises:
        OutputError: the folder of ``path`` is missing or read-only, or ``path`` is a folder.
    """
    if isinstance(audio, (str, Path)):
        import soundfile as sf

        data, sample_rate = sf.read(str(audio), dtype="float32", always_2d=True)
        x = data.mean(axis=1)
    else:
        x = np.asarray(audio, dtype=np.float64)
        x = x.mean(axis=0) if x.ndim == 2 else x
    t, f, db = _spectrogram_db(x, sample_rate, n_fft, hop)
    plt = pyplot()
    fig, (ax_w, ax_s) = plt.subplots(2, 1, figsize=(11, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [1, 3]})  # fmt: skip
    ts = np.arange(len(x)) / sample_rate
    ax_w.plot(ts, x, lw=0.3)
    ax_w.set(ylabel="amplitude", ylim=(-1, 1), title=title or "waveform and spectrogram")
    top = min(max_hz or sample_rate / 2, sample_rate / 2)
    keep = (f >= 30) & (f <= top)
    mesh = ax_s.pcolormesh(t, f[keep], db[keep], shading="auto", cmap="magma",
                           vmin=floor_db, vmax=0)  # fmt: skip
    ax_s.set_yscale("log")
    ax_s.set(xlabel="time (s)", ylabel="frequency (Hz)")
    fig.colorbar(mesh, ax=[ax_w, ax_s], label="dBFS", fraction=0.03, pad=0.01)
    return save_figure(fig, path)


def plot_spectrograms(
    signals: Mapping[str, Any],
    path: str | Path,
    *,
    sample_rate: float,
    title: str = "",
    n_fft: int = 1024,
    hop: int = 128,
    max_hz: float | None = None,
    floor_db: float = -100.0,
    overwrite: bool = True,
) -> Path:
    """Write a PNG of several signals' spectrograms stacked, one row each, on one time axis
    and one colour scale (Hann window, dB re full scale, linear frequency from 0 Hz), e.g.
    an original recording over its resyntheses.

    Args:
        signals: row label -> mono samples ``(time,)`` at ``sample_rate``, top row first
            (e.g. ``{"original": x, "model (MR-STFT 1.2)": y}``); lengths may differ.
        path: output image (PNG, SVG, ...) in an existing folder.
        sample_rate: Hz.
        title: the figure's title (default none).
        n_fft, hop: the STFT's size and hop in samples (defaults 1024 and 128: 64 ms and
            8 ms at 16 kHz).
        max_hz: top of the frequency axis (default ``sample_rate / 2``).
        floor_db: bottom of the colour scale (default -100 dB).
        overwrite: replace an existing ``path`` (default True).

    Returns:
        The path written.

    Raises:
        InputError: no signals. OutputError: the folder of ``path`` is missing or
            read-only, ``path`` is a folder, or it exists and ``overwrite`` is False.
    """
    from dsp_rnn.errors import InputError

    if not signals:
        raise InputError("signals: expected at least one signal to plot, got none")
    plt = pyplot()
    rows = len(signals)
    fig, axes = plt.subplots(rows, 1, figsize=(11, 1.2 + 1.9 * rows), sharex=True,
                             squeeze=False)  # fmt: skip
    top = min(max_hz or sample_rate / 2, sample_rate / 2)
    mesh = None
    for ax, (label, audio) in zip(axes[:, 0], signals.items(), strict=True):
        x = np.asarray(audio, dtype=np.float64).reshape(-1)
        t, f, db = _spectrogram_db(x, sample_rate, n_fft, hop)
        keep = f <= top
        mesh = ax.pcolormesh(t, f[keep], db[keep], shading="auto", cmap="magma",
                             vmin=floor_db, vmax=0)  # fmt: skip
        ax.set_ylabel("Hz")
        ax.set_title(label, loc="left", fontsize=9)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    fig.colorbar(mesh, ax=list(axes[:, 0]), label="dBFS", fraction=0.03, pad=0.01)
    return save_figure(fig, path, overwrite=overwrite)
