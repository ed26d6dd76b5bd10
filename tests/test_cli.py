"""The command line: designs, filtering audio files, one-line errors and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from dsp_rnn.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_design_prints_scipy_sos_and_writes_plot(tmp_path, capsys):
    png = tmp_path / "lp.png"
    rc = main(["design", "butter", "--order", "6", "--f0-hz", "1000", "--sample-rate", "48000",
               "--plot", str(png)])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    rows = np.array([[float(v) for v in line.split()] for line in out.splitlines()
                     if not line.startswith("#")])  # fmt: skip
    ref = scipy.signal.butter(6, 1000, fs=48000, output="sos")
    np.testing.assert_allclose(rows, ref, rtol=1e-10, atol=1e-14)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_filter_command_matches_sosfilt_and_never_overwrites(tmp_path, capsys):
    rng = np.random.default_rng(0)
    audio = 0.3 * rng.standard_normal((4800, 2))
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, audio, 48000, subtype="FLOAT")
    rc = main(["filter", str(src), str(dst), "lowpass", "--f0-hz", "2000", "--q", "0.9"])
    assert rc == 0
    got, sr = sf.read(dst, always_2d=True)
    w0 = 2 * np.pi * 2000 / 48000
    alpha = np.sin(w0) / (2 * 0.9)
    b = [(1 - np.cos(w0)) / 2, 1 - np.cos(w0), (1 - np.cos(w0)) / 2]
    a = [1 + alpha, -2 * np.cos(w0), 1 - alpha]
    ref = scipy.signal.lfilter(b, a, sf.read(src, always_2d=True)[0], axis=0)
    assert sr == 48000 and np.abs(got - ref).max() < 1e-6
    before = dst.read_bytes()
    rc = main(["filter", str(src), str(dst), "lowpass", "--f0-hz", "500"])
    err = capsys.readouterr().err
    assert rc == 1 and "exists" in err and dst.read_bytes() == before


def test_bad_values_give_one_line_errors(tmp_path, capsys):
    rc = main(["design", "lowpass", "--f0-hz", "30000", "--sample-rate", "44100"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and len(err.splitlines()) == 1 and "--f0-hz 30000" in err
    bad = tmp_path / "notaudio.wav"
    bad.write_text("hello")
    rc = main(["filter", str(bad), str(tmp_path / "o.wav"), "lowpass", "--f0-hz", "100"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "notaudio.wav" in err and "Traceback" not in err


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as info:
        main(["design", "nosuchkind", "--f0-hz", "1"])
    assert info.value.code == 2


def test_cli_shim_runs_from_a_fresh_process(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "design", "notch", "--f0-hz", "60",
         "--sample-rate", "1000"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    values = [float(v) for v in proc.stdout.splitlines()[1].split()]
    assert len(values) == 6 and values[3] == pytest.approx(1.0)


def test_render_command_runs_without_torch(tmp_path):
    from dsp_rnn.music.demo_midi import make_demo_midi

    (mid,) = make_demo_midi(tmp_path, n_pieces=1, seed=3)
    wav = tmp_path / "out.wav"
    code = (
        "import sys\n"
        "from dsp_rnn.cli import main\n"
        f"assert main(['render', {str(mid)!r}, {str(wav)!r}, '--quiet', '--reverb', '0']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, capture_output=True)
    assert sf.info(str(wav)).frames > 1000


def test_render_and_generate_pass_render_file_the_same_options(tmp_path, monkeypatch, capsys):
    """The render flags mean the same in `render` and `generate --out x.wav` (one mapping,
    dsp_rnn.cli.render.render_options); generate's voice defaults to ks, render's to gm."""
    import dsp_rnn.synth
    from dsp_rnn.music.demo_midi import make_demo_midi

    got: list[dict] = []

    class Report:
        def summary(self) -> str:
            return "a summary"

    def fake_render_file(source, out, **options):
        got.append(options)
        return Report()

    monkeypatch.setattr(dsp_rnn.synth, "render_file", fake_render_file)
    (mid,) = make_demo_midi(tmp_path, n_pieces=1, seed=3)
    flags = ["--reverb", "0.7", "--wet", "0.3", "--sample-rate", "22050", "--channels", "1",
             "--format", "24", "--peak-db", "-3", "--max-seconds", "100", "--no-drums",
             "--quiet"]  # fmt: skip
    assert main(["render", str(mid), str(tmp_path / "r.wav"), *flags]) == 0
    assert main(["generate", "--out", str(tmp_path / "g.wav"), "--steps", "2", *flags]) == 0
    assert main(["render", str(mid), str(tmp_path / "v.wav"), "--voice", "ks", *flags]) == 0
    render, generate, render_ks = ({k: v for k, v in o.items() if k != "progress"} for o in got)
    assert render["voice"] is None and generate["voice"] == "ks"  # gm: by program
    assert generate == render_ks
    assert render_ks == {
        "sample_rate": 22050, "channels": 1, "subtype": "24", "voice": "ks",
        "reverb": dsp_rnn.synth.Reverb(sample_rate=22050, rt60_s=0.7, wet=0.3, channels=1),
        "drums": False, "peak_db": -3.0, "soundfont": None, "max_seconds": 100.0,
        "overwrite": False,
    }  # fmt: skip
