"""`dsp-rnn data inspect` and `dsp-rnn data grid`."""

from __future__ import annotations

import pytest

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


def _tiny_jsb(path):
    """A JSB-format file: two train pieces (the register is measured on them), one test."""
    import json

    pieces = {"train": [[[72, 76, 79]] * 4, [[74, 77, 81], [72, 76, 79]]],
              "valid": [[[60]]],
              "test": [[[72, 76, 79], [72, 76, 79], [], [74, 77, 81]]]}  # fmt: skip
    path.write_text(json.dumps(pieces))
    return path


def test_export_jsb_writes_midi_in_the_written_register(tmp_path, capsys):
    import mido
    import pretty_midi

    from dsp_rnn.music.jsb import load_jsb, written_register_offset

    out = tmp_path / "mid"
    assert main(["data", "export-jsb", "--out", str(out), "--split", "test"]) == 0
    assert "wrote 77 MIDI files" in capsys.readouterr().out
    files = sorted(out.iterdir())
    assert [f.name for f in files[:2]] == ["jsb_test_000.mid", "jsb_test_001.mid"]
    assert len(files) == 77 and not any(f.name.startswith(".") for f in files)
    offset = written_register_offset()
    assert offset == -12
    grid = load_jsb(None, "test")[5]
    want = sorted((n.start, n.pitch + offset) for n in grid.to_notes())
    pm = pretty_midi.PrettyMIDI(str(files[5]))
    (inst,) = pm.instruments
    assert inst.program == 19 and not inst.is_drum
    assert {n.velocity for n in inst.notes} == {80}
    assert sorted((round(n.start / 0.75), n.pitch) for n in inst.notes) == want  # 80 bpm
    assert pm.get_end_time() == pytest.approx(0.75 * max(n.end for n in grid.to_notes()))
    mid = mido.MidiFile(files[5])
    assert mid.type == 1
    tempos = [m.tempo for t in mid.tracks for m in t if m.type == "set_tempo"]
    assert tempos == [750_000]
    names = [m.name for m in mid.tracks[0] if m.type == "track_name"]
    assert names == ["JSB chorale test[5] (jsb-chorales-quarter.json)"]


def test_export_jsb_options_and_never_overwrites(tmp_path, capsys):
    import mido

    jsb = _tiny_jsb(tmp_path / "jsb-chorales-quarter.json")
    out = tmp_path / "mid"
    args = ["data", "export-jsb", "--jsb", str(jsb), "--out", str(out)]
    assert main([*args, "--split", "all", "--tempo", "120", "--program", "0",
                 "--velocity", "100"]) == 0  # fmt: skip
    names = sorted(f.name for f in out.iterdir())
    assert names == ["jsb_test_000.mid", "jsb_train_000.mid", "jsb_train_001.mid",
                     "jsb_valid_000.mid"]  # fmt: skip
    mid = mido.MidiFile(out / "jsb_test_000.mid")
    ons = [(m.note, m.velocity) for m in mid.tracks[1] if m.type == "note_on" and m.velocity]
    # moved down an octave; a repeated chord is one held chord (the file cannot tell them
    # apart), the rest splits it from the next
    assert ons == [(60, 100), (64, 100), (67, 100), (62, 100), (65, 100), (69, 100)]
    assert [m.program for m in mid.tracks[1] if m.type == "program_change"] == [0]
    assert mid.length == pytest.approx(2.0)  # four quarter notes at 120 bpm
    before = (out / "jsb_test_000.mid").read_bytes()
    capsys.readouterr()
    assert main([*args, "--split", "test", "--tempo", "60"]) == 1
    err = capsys.readouterr().err
    assert "exists" in err and "--overwrite" in err and err.count("\n") == 1
    assert (out / "jsb_test_000.mid").read_bytes() == before
    assert main([*args, "--split", "test", "--tempo", "60", "--overwrite"]) == 0
    assert mido.MidiFile(out / "jsb_test_000.mid").length == pytest.approx(4.0)
    assert sorted(f.name for f in out.iterdir()) == names  # no temporary left behind


def test_export_jsb_refuses_bad_input(tmp_path, capsys):
    out = tmp_path / "mid"
    assert main(["data", "export-jsb", "--jsb", str(tmp_path / "none.json"),
                 "--out", str(out)]) == 1  # fmt: skip
    assert "no such file" in capsys.readouterr().err and not out.exists()
    with pytest.raises(SystemExit) as exc:
        main(["data", "export-jsb", "--out", str(out), "--program", "128"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["data", "export-jsb", "--out", str(out), "--split", "dev"])
    assert exc.value.code == 2
    assert main(["data", "export-jsb", "--out", str(tmp_path / "no" / "such")]) == 1
    assert "no" in capsys.readouterr().err


def test_pairs_checks_a_rendered_folder(tmp_path, capsys):
    import shutil

    make_demo_midi(tmp_path / "midi", n_pieces=2, seed=3)
    out = tmp_path / "pairs"
    assert main(["render", str(tmp_path / "midi"), str(out), "--voice", "sine",
                 "--sample-rate", "16000", "--mono", "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["data", "pairs", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith(f"{out}: 2 pairs (")
    assert "0 unpaired, 0 misaligned, 0 broken" in lines[-1] and "onsets within" in lines[0]
    shutil.copy(next((tmp_path / "midi").iterdir()), out / "extra.mid")
    assert main(["data", "pairs", str(out)]) == 0
    text = capsys.readouterr().out
    assert "unpaired " + str(out / "extra.mid") + ": no audio file extra.* beside it" in text
    shutil.rmtree(out)
    out.mkdir()
    (out / "a.mid").write_bytes(b"junk")
    assert main(["data", "pairs", str(out)]) == 1
    assert "0 pairs" in capsys.readouterr().out
    assert main(["data", "pairs", str(out / "a.mid")]) == 1
    assert "expected a folder" in capsys.readouterr().err


@pytest.mark.parametrize(("voices", "pitches"), [("top", [67, 69]), ("bottom", [60, 62])])
def test_export_jsb_one_voice_keeps_the_outer_line(tmp_path, voices, pitches):
    import pretty_midi

    jsb = _tiny_jsb(tmp_path / "jsb-chorales-quarter.json")
    out = tmp_path / "mid"
    assert main(["data", "export-jsb", "--jsb", str(jsb), "--out", str(out), "--split", "test",
                 "--voices", voices]) == 0  # fmt: skip
    pm = pretty_midi.PrettyMIDI(str(out / "jsb_test_000.mid"))
    notes = sorted(pm.instruments[0].notes, key=lambda n: n.start)
    assert [n.pitch for n in notes] == pitches
    roll = pm.get_piano_roll(100)
    assert (roll > 0).sum(0).max() == 1  # one note at a time
