"""`dsp-rnn data inspect` and `dsp-rnn data grid`."""

from __future__ import annotations

from dsp_rnn.cli import main
from dsp_rnn.music.demo_midi import make_demo_midi

from .midi_factory import clean_midi, write_damaged_folder


def test_inspect_lists_usable_and_skipped_files(tmp_path, capsys):
    write_damaged_folder(tmp_path / "messy", [clean_midi(tempo_bpm=90), clean_midi()])
    rc = main(["data", "inspect", str(tmp_path / "messy"), "--no-cache", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "usable file(s)" in out and "pitch range 48..72" in out  # drums (36) are not pitches
    assert "3/4 x2" in out and "90 x1" in out
    skipped = [line for line in out.splitlines() if line.strip().startswith("skipped")]
    assert len(skipped) >= 10 and any("text.mid" in line and "MThd" in line for line in skipped)


def test_inspect_exits_1_when_nothing_is_usable(tmp_path, capsys):
    (tmp_path / "a.mid").write_text("not midi")
    assert main(["data", "inspect", str(tmp_path), "--no-cache", "--quiet"]) == 1
    assert "skipped" in capsys.readouterr().out


def test_grid_writes_a_piano_roll_and_never_overwrites(tmp_path, capsys):
    (path,) = make_demo_midi(tmp_path, n_pieces=1, seed=5)
    png = tmp_path / "roll.png"
    assert main(["data", "grid", str(path), "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000
    before = png.read_bytes()
    assert main(["data", "grid", str(path), "--out", str(png)]) == 1
    assert "exists" in capsys.readouterr().err and png.read_bytes() == before
