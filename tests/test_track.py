"""Pitch and loudness tracking: the smoothed contour, missing frames, `dsp-rnn track`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dsp_rnn.cli import main
from dsp_rnn.compare.tracking import CSV_COLUMNS, NoiseLevels, track_contour
from dsp_rnn.errors import AudioError, InputError

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "audio" / "demo_00_melody_D_pentatonic.wav"
SR = 16000


def _tone_gap_tone() -> np.ndarray:
    """220 Hz for 0.4 s, 0.3 s of silence, 247 Hz for 0.4 s."""
    t = np.arange(int(0.4 * SR)) / SR
    a = 0.3 * np.sin(2 * np.pi * 220 * t)
    b = 0.3 * np.sin(2 * np.pi * 247 * t)
    return np.concatenate([a, np.zeros(int(0.3 * SR)), b])


def test_unvoiced_frames_are_missing_pitch_bridged_with_more_uncertainty():
    c = track_contour(_tone_gap_tone(), sample_rate=SR)
    t = c.time_s
    first, gap, last = (t > 0.1) & (t < 0.3), (t > 0.5) & (t < 0.6), (t > 0.85) & (t < 1.0)
    assert np.nanmedian(c.f0_hz[first]) == pytest.approx(220, rel=0.01)
    assert np.nanmedian(c.f0_hz[last]) == pytest.approx(247, rel=0.01)
    assert np.isnan(c.f0_hz[gap]).all()  # silence: no pitch observed
    assert np.isfinite(c.f0_hz_smoothed).all() and (c.f0_std_semitones > 0).all()
    assert c.f0_std_semitones[gap].min() > 3 * c.f0_std_semitones[first].max()
    lo, hi = c.f0_band_hz()
    assert (lo <= c.f0_hz_smoothed).all() and (c.f0_hz_smoothed <= hi).all()
    # the level is observed in the gap too: digital silence sits at the floor
    assert c.rms_db[gap].max() == pytest.approx(-100.0)
    assert abs(np.median(c.rms_db[first]) - 20 * np.log10(0.3 / np.sqrt(2))) < 0.5
    assert np.isfinite(c.rms_db_smoothed).all() and (c.rms_db_std > 0).all()
    assert c.n_frames == pytest.approx(1.1 / 0.01, abs=2)


def test_given_noise_levels_are_used_as_they_are_and_bad_input_is_refused():
    x = _tone_gap_tone()[: SR // 2]
    noise = NoiseLevels(pitch_process=0.01, pitch_observation=1.0)
    assert track_contour(x, sample_rate=SR, noise=noise, fit_evaluations=0).noise == noise
    with pytest.raises(InputError, match="pitch_observation"):
        NoiseLevels(pitch_observation=0.0)
    with pytest.raises(InputError, match="fmin_hz"):
        track_contour(x, sample_rate=SR, fmin_hz=500.0, fmax_hz=100.0)
    with pytest.raises(AudioError, match="shorter than one analysis frame"):
        track_contour(x[:100], sample_rate=SR)
    with pytest.raises(AudioError, match="finite"):
        track_contour(np.full(4000, np.nan), sample_rate=SR)


def test_track_writes_csv_and_png_of_a_recording_and_never_overwrites(tmp_path, capsys):
    csv, png = tmp_path / "contour.csv", tmp_path / "contour.png"
    assert main(["track", str(DEMO), "--out", str(csv), "--plot", str(png)]) == 0
    assert "frames voiced" in capsys.readouterr().out
    assert png.read_bytes()[:4] == b"\x89PNG"
    header = csv.read_text().splitlines()[0].split(",")
    assert tuple(header) == CSV_COLUMNS
    rows = np.genfromtxt(csv, delimiter=",", skip_header=1)  # empty cells -> NaN
    col = {name: rows[:, i] for i, name in enumerate(header)}
    assert len(rows) == pytest.approx(2.5 / 0.01, abs=3)
    assert np.all(np.diff(col["time_s"]) > 0)
    voiced = np.isfinite(col["f0_hz"])
    assert voiced.mean() > 0.8  # a melody of plucked notes, ringing
    assert 140 < np.nanmin(col["f0_hz"]) and np.nanmax(col["f0_hz"]) < 700  # around D4
    cents = 1200 * np.abs(np.log2(col["f0_hz_smoothed"][voiced] / col["f0_hz"][voiced]))
    assert np.median(cents) < 10  # the smoother follows the notes
    assert np.isfinite(col["f0_hz_smoothed"]).all() and (col["f0_std_semitones"] > 0).all()
    assert (col["rms_db"] <= 0).all() and (col["rms_db"] >= -100).all()
    before = csv.read_bytes()
    assert main(["track", str(DEMO), "--out", str(csv)]) == 1
    assert "--overwrite" in capsys.readouterr().err and csv.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.wav", "--out", "{tmp}/a.csv"], "no such file"),
        (["{bad}", "--out", "{tmp}/a.csv"], "not readable as audio"),
        (["{demo}", "--out", "{tmp}/a.txt"], "expected a .csv"),
        (["{demo}", "--out", "{tmp}/a.csv", "--plot", "{tmp}/a.bmp"], "image file"),
        (["{demo}", "--out", "{tmp}/no/a.csv"], "no/"),
        (["{demo}", "--out", "{tmp}/a.csv", "--fmin-hz", "900", "--fmax-hz", "100"], "below"),
    ],
)
def test_track_refuses_bad_inputs_and_outputs_with_one_line(tmp_path, capsys, args, message):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    argv = [a.format(tmp=tmp_path, bad=bad, demo=DEMO) for a in args]
    assert main(["track", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dsp-rnn track: error:") and message in err and err.count("\n") == 1
    assert not (tmp_path / "a.csv").exists()
