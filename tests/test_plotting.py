"""dsp_rnn.plotting: figures are written atomically into existing folders and closed."""

from __future__ import annotations

import os

import numpy as np
import pytest

from dsp_rnn.errors import OutputError
from dsp_rnn.plotting import plot_spectrogram, pyplot, save_figure

PNG = b"\x89PNG\r\n\x1a\n"


def _figure():
    fig, ax = pyplot().subplots()
    ax.plot([0, 1, 0])
    return fig


def test_save_figure_writes_the_format_of_the_name_and_closes_the_figure(tmp_path):
    plt = pyplot()
    fig = _figure()
    png = save_figure(fig, tmp_path / "a.png")
    svg = save_figure(_figure(), str(tmp_path / "a.svg"))
    assert png.read_bytes()[:8] == PNG and b"<svg" in svg.read_bytes()[:1000]
    assert not plt.fignum_exists(fig.number)
    assert sorted(os.listdir(tmp_path)) == ["a.png", "a.svg"]  # no temporary file left


def test_save_figure_never_creates_folders(tmp_path):
    plt = pyplot()
    fig = _figure()
    with pytest.raises(OutputError, match="folder .*missing.* does not exist; create it first"):
        save_figure(fig, tmp_path / "missing" / "a.png")
    assert not (tmp_path / "missing").exists() and not plt.fignum_exists(fig.number)


def test_save_figure_replaces_only_when_allowed(tmp_path):
    out = tmp_path / "a.png"
    out.write_bytes(b"keep")
    with pytest.raises(OutputError, match="exists; pass overwrite=True"):
        save_figure(_figure(), out, overwrite=False)
    assert out.read_bytes() == b"keep"
    save_figure(_figure(), out)  # the default replaces, atomically
    assert out.read_bytes()[:8] == PNG
    assert sorted(os.listdir(tmp_path)) == ["a.png"]


def test_a_failed_write_leaves_nothing(tmp_path):
    fig = _figure()
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "a.notaformat")
    assert os.listdir(tmp_path) == []


def test_plot_spectrogram_writes_into_an_existing_folder_only(tmp_path):
    rng = np.random.default_rng(0)
    x = 0.1 * rng.standard_normal(8000)
    out = plot_spectrogram(x, tmp_path / "s.png", sample_rate=8000.0, n_fft=512, hop=256)
    assert out.read_bytes()[:8] == PNG
    with pytest.raises(OutputError):
        plot_spectrogram(x, tmp_path / "no" / "s.png", sample_rate=8000.0)
