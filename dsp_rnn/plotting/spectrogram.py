"""A recording on one page: its waveform over a log-frequency spectrogram."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dsp_rnn.plotting.figure import pyplot, save_figure

__all__ = ["plot_spectrogram"]


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
    n_frames = max(1 + (len(x) - n_fft) // hop, 1)
    pad = np.pad(x, (0, max(n_fft + (n_frames - 1) * hop - len(x), 0)))
    frames = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop][:n_frames]
    win = np.hanning(n_fft)
    spec = np.abs(np.fft.rfft(frames * win, axis=1)) / (win.sum() / 2)
    db = 20 * np.log10(np.maximum(spec, 1e-12)).T
    f = np.fft.rfftfreq(n_fft, 1 / sample_rate)
    t = (np.arange(n_frames) * hop + n_fft / 2) / sample_rate
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
