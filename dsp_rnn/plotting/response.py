"""The response of a filter on one page: magnitude, phase, group delay, impulse response."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dsp_rnn.plotting.figure import pyplot, save_figure

__all__ = ["plot_sos_response"]


def plot_sos_response(
    sos: Any, path: str | Path, *, sample_rate: float, title: str = "", n_freqs: int = 2048
) -> Path:
    """Write a PNG with magnitude (dB), phase and group delay of an SOS filter.

    Args:
        sos: second-order sections ``(n_sections, 6)``.
        path: output image (PNG, SVG, ...) in an existing folder; replaced if it exists.
        sample_rate: in Hz, for the frequency axis.
        title: figure title.
        n_freqs: frequency grid size.

    Returns:
        The path written.

    Raises:
        OutputError: the folder of ``path`` is missing or read-only, or ``path`` is a folder.
    """
    import torch

    from dsp_rnn.filters.analysis import group_delay, impulse_response, sosfreqz

    freqs, h_t = sosfreqz(sos, n_freqs=n_freqs, sample_rate=sample_rate)
    f = freqs.detach().double().numpy()[1:]
    h = h_t.detach().numpy()[1:]
    mag_db = 20 * np.log10(np.maximum(np.abs(h), 1e-12))
    fig, axes = pyplot().subplots(2, 2, figsize=(10, 6.5))
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
    return save_figure(fig, path)
