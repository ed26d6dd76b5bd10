"""Plots of a :class:`~dsp_rnn.compare.Comparison` and of a fit's training curve (drawn by
their ``plot`` methods)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dsp_rnn.plotting import pyplot, save_figure

__all__ = ["plot_comparison", "plot_fit_curve"]


def _ir_length(h: np.ndarray, minimum: int = 32) -> int:
    """Samples until all but 1e-6 of the energy has arrived (x 1.2), at least ``minimum``."""
    if h.size == 0 or not np.any(h):
        return min(minimum, h.size)
    tail = np.cumsum(h[::-1] ** 2)[::-1]
    n = int(np.argmax(tail < 1e-6 * tail[0])) or h.size
    return min(h.size, max(minimum, int(n * 1.2)))


def plot_comparison(c: Any, path: str | Path) -> Path:
    """Write a 2 x 2 PNG of a :class:`~dsp_rnn.compare.Comparison`.

    Panels: magnitude (dB) and unwrapped phase of both responses (solid: the reference B,
    dashed: A; estimated responses are marked in the legend), the impulse responses, and
    the output error ``y_a - y_b`` of the first channel over time. The title carries ESR,
    SNR and log-spectral distance.

    Args:
        c: the comparison (``dsp_rnn.compare.compare(...)``).
        path: output image (PNG, SVG, ...) in an existing folder; replaced if it exists.

    Returns:
        The path written.

    Raises:
        OutputError: the folder of ``path`` is missing or read-only, or ``path`` is a folder.
    """
    plt = pyplot()
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
    return save_figure(fig, path)


def plot_fit_curve(result: Any, path: str | Path, *, title: str = "") -> Path:
    """Write the training curve of a :class:`~dsp_rnn.compare.FitResult` as a PNG.

    Validation ESR (markers) and the per-step training loss (thin line) against the
    optimiser step, log y-axis.

    Args:
        result: the fit result (``.curve``, ``.train_loss``, ``.esr``, ``.seconds``).
        path: output image (PNG, SVG, ...) in an existing folder; replaced if it exists.
        title: figure title (the final ESR and time are appended).

    Returns:
        The path written.

    Raises:
        OutputError: the folder of ``path`` is missing or read-only, or ``path`` is a folder.
    """
    plt = pyplot()
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
    return save_figure(fig, path)
