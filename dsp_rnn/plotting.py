"""Plots of filter responses, comparisons, training curves and spectrograms (matplotlib,
headless). torch loads only where a plot needs it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_sos_response", "plot_comparison", "plot_fit_curve", "plot_spectrogram"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    _pyplot().close(fig)
    return out


def plot_sos_response(
    sos: Any, path: str | Path, *, sample_rate: float, title: str = "", n_freqs: int = 2048
) -> Path:
    """Write a PNG with magnitude (dB), phase and group delay of an SOS filter.

    Args:
        sos: second-order sections ``(n_sections, 6)``.
        path: output PNG path (parent folders are created).
        sample_rate: in Hz, for the frequency axis.
        title: figure title.
        n_freqs: frequency grid size.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dsp_rnn.filters.analysis import group_delay, impulse_response, sosfreqz

    freqs, h_t = sosfreqz(sos, n_freqs=n_freqs, sample_rate=sample_rate)
    f = freqs.detach().double().numpy()[1:]
    h = h_t.detach().numpy()[1:]
    mag_db = 20 * np.log10(np.maximum(np.abs(h), 1e-12))
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
    ax = axes[0, 0]
    ax.semilogx(f, mag_db)
    ax.set_ylim(max(mag_db.min(), mag_db.max() - 120) - 5, mag_db.max() + 5)
    ax.set(xlabel="frequency (Hz)", ylabel="magnitude (dB)", title="magnitude")
    ax = axes[0, 1]
    ax.semilogx(f, np.unwrap(np.angle(h)))
    ax.set(xlabel="frequency (Hz)", ylabel="phase (rad)", title="phase (unwrapped)")
    ax = axes[1, 0]
    # sum of the sections' group delays (better conditioned than one high-order polynomial);
    # undefined at zeros on the unit circle, so masked where the response vanishes
    import torch

    sections = torch.as_tensor(sos).reshape(-1, 6)
    gd_samples = torch.stack(
        [group_delay((row[:3], row[3:]), n_freqs=n_freqs, sample_rate=sample_rate)[1]
         for row in sections]
    ).sum(0)  # fmt: skip
    gd = gd_samples.detach().double().numpy()[1:] / sample_rate * 1e3
    gd[np.abs(h) < 1e-9 * np.abs(h).max()] = np.nan
    ax.plot(f, gd)
    ax.set_xscale("log")
    ax.set(xlabel="frequency (Hz)", ylabel="group delay (ms)", title="group delay")
    ax = axes[1, 1]
    imp = impulse_response(sos, int(sample_rate)).detach().double().numpy()
    tail = np.cumsum(imp[::-1] ** 2)[::-1]  # energy from each sample to the end
    n_imp = max(16, int(np.argmax(tail < 1e-8 * tail[0])) or len(imp))
    imp = imp[: int(n_imp * 1.2)]
    ax.plot(np.arange(len(imp)) / sample_rate * 1e3, imp)
    ax.set(xlabel="time (ms)", ylabel="amplitude", title="impulse response")
    for ax in axes.flat:
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def _ir_length(h: np.ndarray, minimum: int = 32) -> int:
    """Samples until all but 1e-6 of the energy has arrived (x 1.2), at least ``minimum``."""
    if h.size == 0 or not np.any(h):
        return min(minimum, h.size)
    tail = np.cumsum(h[::-1] ** 2)[::-1]
    n = int(np.argmax(tail < 1e-6 * tail[0])) or h.size
    return min(h.size, max(minimum, int(n * 1.2)))


def plot_comparison(c: Any, path: str | Path) -> Path:
    """Write a 2 x 2 PNG of a :class:`dsp_rnn.compare.Comparison`.

    Panels: magnitude (dB) and unwrapped phase of both responses (solid: the reference B,
    dashed: A; estimated responses are marked in the legend), the impulse responses, and
    the output error ``y_a - y_b`` of the first channel over time. The title carries ESR,
    SNR and log-spectral distance.

    Args:
        c: the comparison (``dsp_rnn.compare.compare(...)``).
        path: output PNG (parent folders are created).

    Returns:
        The path written.
    """
    plt = _pyplot()
    f = np.asarray(c.freqs_hz)[1:]
    h_a, h_b = np.asarray(c.h_a)[1:], np.asarray(c.h_b)[1:]
    tag = {True: "exact", False: "estimated"}
    lab_a, lab_b = f"A: {c.label_a} ({tag[c.exact_a]})", f"B: {c.label_b} ({tag[c.exact_b]})"
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    ax = axes[0, 0]
    db_b = 20 * np.log10(np.maximum(np.abs(h_b), 1e-12))
    db_a = 20 * np.log10(np.maximum(np.abs(h_a), 1e-12))
    ax.semilogx(f, db_b, lw=2.5, alpha=0.6, label=lab_b)
    ax.semilogx(f, db_a, "--", lw=1.2, label=lab_a)
    top = max(db_b.max(), db_a.max())
    ax.set_ylim(max(min(db_b.min(), db_a.min()), top - 120) - 5, top + 5)
    ax.set(xlabel="frequency (Hz)", ylabel="magnitude (dB)", title="magnitude")
    ax.legend(fontsize=8, loc="lower left")
    ax = axes[0, 1]
    band = np.abs(h_b) >= np.abs(h_b).max() * 10 ** (-c.band_db / 20)
    for h, style, lw, alpha, lab in ((h_b, "-", 2.5, 0.6, "B"), (h_a, "--", 1.2, 1.0, "A")):
        ph = np.degrees(np.unwrap(np.angle(h)))
        ph[~band] = np.nan
        ax.semilogx(f, ph, style, lw=lw, alpha=alpha, label=lab)
    ax.set(xlabel="frequency (Hz)", ylabel="phase (deg, unwrapped)")
    ax.set_title(f"phase (where |H_B| is within {c.band_db:g} dB of its peak)")
    ax.legend(fontsize=8)
    ax = axes[1, 0]
    ir_a, ir_b = np.asarray(c.ir_a), np.asarray(c.ir_b)
    n = max(_ir_length(ir_b), _ir_length(ir_a))
    t_ms = np.arange(n) / c.sample_rate * 1e3
    ax.plot(t_ms, ir_b[:n], lw=2.5, alpha=0.6, label="B")
    ax.plot(t_ms, ir_a[:n], "--", lw=1.2, label="A")
    ax.set(xlabel="time (ms)", ylabel="amplitude", title="impulse response")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    y_a = c.y_a.reshape(-1, c.y_a.shape[-1])[0].numpy()
    y_b = c.y_b.reshape(-1, c.y_b.shape[-1])[0].numpy()
    t_s = np.arange(y_b.size) / c.sample_rate
    ax.plot(t_s, y_a - y_b, lw=0.6, color="tab:red")
    ax.set(xlabel="time (s)", ylabel="y_a - y_b", title="output error on the test signal")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    for ax in axes.flat:
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(
        f"A = {c.label_a}  vs  B = {c.label_b}\n"
        f"ESR {c.esr:.3g}, SNR {c.snr_db:.1f} dB, LSD {c.lsd_db:.3g} dB, "
        f"max |error| {c.max_abs_error:.3g}"
    )
    fig.tight_layout()
    return _save(fig, path)


def plot_fit_curve(result: Any, path: str | Path, *, title: str = "") -> Path:
    """Write the training curve of a :class:`dsp_rnn.fitting.FitResult` as a PNG.

    Validation ESR (markers) and the per-step training loss (thin line) against the
    optimiser step, log y-axis.

    Args:
        result: the fit result (``.curve``, ``.train_loss``, ``.esr``, ``.seconds``).
        path: output PNG (parent folders are created).
        title: figure title (the final ESR and time are appended).

    Returns:
        The path written.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if result.train_loss:
        s, v = zip(*result.train_loss, strict=True)
        ax.semilogy(s, np.maximum(v, 1e-300), lw=0.7, alpha=0.5, label="training loss")
    s, v = zip(*result.curve, strict=True)
    ax.semilogy(s, np.maximum(v, 1e-300), "o-", ms=3, label="validation ESR")
    ax.set(xlabel="optimiser step", ylabel="ESR")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    head = f"{title}: " if title else ""
    ax.set_title(f"{head}best ESR {result.esr:.3g} after {result.seconds:.1f} s", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


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
        path: output PNG path (parent folders are created).
        sample_rate: Hz (ignored when ``audio`` is a file: the file's rate is used).
        max_hz: top of the frequency axis (default 8 kHz, where the notes are).
        floor_db: bottom of the colour scale.
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
    plt = _pyplot()
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
    return _save(fig, path)
