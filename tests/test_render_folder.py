"""Rendering a folder of MIDI files into a paired folder (`dsp-rnn render DIR OUT`,
`dsp_rnn.synth.render_folder`): audio beside a copy of each MIDI file, skipped files with
reasons, nothing overwritten, no torch."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import mido
import pytest
import soundfile as sf

from dsp_rnn.cli import main
from dsp_rnn.errors import InputError, OutputError
from dsp_rnn.synth import FolderRenderReport, midi_files, render_folder

SR = 16_000
SF2 = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
DRY = {"sample_rate": SR, "channels": 1, "voice": "sine", "reverb": None}
FLAGS = ["--voice", "sine", "--reverb", "0", "--sample-rate", str(SR), "--mono", "--quiet"]


def _midi(path: Path, pitches: tuple[int, ...] = (60, 64), beat_s: float = 0.25) -> Path:
    """One note after the other, each a quarter note of ``beat_s`` seconds."""
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=round(beat_s * 1e6))])
    for p in pitches:
        track += [mido.Message("note_on", note=p, velocity=90),
                  mido.Message("note_off", note=p, time=480)]  # fmt: skip
    mid.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(path)
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """a.mid, b.MIDI, sub/deeper/c.mid, a damaged bad.mid, a silent empty.mid, notes.txt."""
    root = tmp_path / "midi"
    _midi(root / "a.mid")
    _midi(root / "b.MIDI", (67,))
    _midi(root / "sub" / "deeper" / "c.mid", (48, 52, 55), beat_s=0.5)
    (root / "bad.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    mid = mido.MidiFile()
    mid.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)]))
    mid.save(root / "empty.mid")
    (root / "notes.txt").write_text("not MIDI")
    return root


def test_render_folder_writes_pairs_and_skips_bad_files_with_reasons(corpus, tmp_path):
    out = tmp_path / "pairs"
    calls: list[tuple[int, int]] = []
    report = render_folder(corpus, out, progress=lambda d, t: calls.append((d, t)), **DRY)
    assert isinstance(report, FolderRenderReport)
    assert calls == [(i, 5) for i in range(1, 6)]
    rendered = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert rendered == ["a.mid", "a.wav", "b.mid", "b.wav", "sub/deeper/c.mid",
                        "sub/deeper/c.wav"]  # fmt: skip
    assert (out / "b.mid").read_bytes() == (corpus / "b.MIDI").read_bytes()
    assert (out / "sub/deeper/c.mid").read_bytes() == (corpus / "sub/deeper/c.mid").read_bytes()
    info = sf.info(str(out / "sub/deeper/c.wav"))
    assert (info.samplerate, info.channels) == (SR, 1)
    assert 1.5 <= info.duration <= 2.5  # three 0.5 s notes and the voice's release
    assert [r.path for r in report.rendered] == [out / "a.wav", out / "b.wav",
                                                 out / "sub/deeper/c.wav"]  # fmt: skip
    reasons = {p.name: why for p, why in report.skipped}
    assert set(reasons) == {"bad.mid", "empty.mid"}
    assert "MTrk" in reasons["bad.mid"] and "nothing to render" in reasons["empty.mid"]
    assert str(corpus) not in reasons["bad.mid"]  # the file is named once, by Skipped
    assert "rendered 3 of 5 MIDI files" in report.summary()
    assert "2 skipped" in report.summary()


def test_render_folder_never_overwrites_without_being_asked(corpus, tmp_path):
    out = tmp_path / "pairs"
    render_folder(corpus, out, **DRY)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(OutputError, match="a.wav: exists .*6 output files.*overwrite"):
        render_folder(corpus, out, **{**DRY, "voice": "ks"})
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    report = render_folder(corpus, out, overwrite=True, **{**DRY, "voice": "ks"})
    assert len(report.rendered) == 3
    assert (out / "a.wav").read_bytes() != before[out / "a.wav"]
    assert not [p for p in out.rglob(".*")]  # no temporary left behind


def test_render_folder_in_place_and_refusals(corpus, tmp_path):
    midi_before = (corpus / "a.mid").read_bytes()
    report = render_folder(corpus, corpus, **DRY)  # the audio goes beside the MIDI
    assert len(report.rendered) == 3 and (corpus / "sub/deeper/c.wav").is_file()
    assert (corpus / "a.mid").read_bytes() == midi_before
    assert (corpus / "b.mid").read_bytes() == (corpus / "b.MIDI").read_bytes()
    with pytest.raises(InputError, match="inside the MIDI folder"):
        render_folder(corpus, corpus / "sub" / "out", **DRY)
    with pytest.raises(InputError, match="suffix"):
        render_folder(corpus, tmp_path / "x", suffix=".ogg", **DRY)
    (tmp_path / "none").mkdir()
    with pytest.raises(InputError, match="no MIDI files"):
        render_folder(tmp_path / "none", tmp_path / "x", **DRY)
    with pytest.raises(InputError, match="expected a folder"):
        render_folder(corpus / "a.mid", tmp_path / "x", **DRY)
    with pytest.raises(OutputError):
        render_folder(corpus, tmp_path / "no" / "such", **DRY)


def test_same_stem_in_one_folder_renders_once(tmp_path):
    root = tmp_path / "midi"
    _midi(root / "x.mid")
    shutil.copy(root / "x.mid", root / "x.midi")
    report = render_folder(root, tmp_path / "out", **DRY)
    assert [r.path.name for r in report.rendered] == ["x.wav"]
    ((path, why),) = report.skipped
    assert path.name == "x.midi" and "same stem as x.mid" in why
    assert midi_files(root) == [root / "x.mid", root / "x.midi"]


def test_cli_renders_a_folder(corpus, tmp_path, capsys):
    out = tmp_path / "pairs"
    assert main(["render", str(corpus), str(out), *FLAGS]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("skipped ") for line in lines) == 2
    assert any("bad.mid:" in line for line in lines)
    assert "rendered 3 of 5 MIDI files" in lines[-1] and "16000 Hz, 1 ch" in lines[-1]
    assert sf.info(str(out / "a.wav")).channels == 1
    assert main(["render", str(corpus), str(out), *FLAGS]) == 1  # exists: nothing replaced
    err = capsys.readouterr().err
    assert "exists" in err and "--overwrite" in err and err.count("\n") == 1
    assert main(["render", str(corpus), str(out), *FLAGS, "--overwrite"]) == 0
    capsys.readouterr()
    broken = tmp_path / "broken"
    broken.mkdir()
    shutil.copy(corpus / "bad.mid", broken / "bad.mid")
    assert main(["render", str(broken), str(tmp_path / "none_out"), *FLAGS]) == 1
    assert "rendered 0 of 1" in capsys.readouterr().out


def test_folder_render_loads_no_torch(tmp_path):
    _midi(tmp_path / "m" / "a.mid")
    code = (
        "import sys\n"
        "from dsp_rnn.cli import main\n"
        f"assert main(['render', {str(tmp_path / 'm')!r}, {str(tmp_path / 'o')!r}, "
        f"*{FLAGS!r}]) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert (tmp_path / "o" / "a.wav").is_file()


@pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not SF2.is_file(),
    reason="needs fluidsynth and TimGM6mb.sf2",
)
def test_folder_through_a_soundfont(tmp_path, capsys):
    _midi(tmp_path / "m" / "a.mid", (60, 64, 67), beat_s=0.3)
    (tmp_path / "m" / "bad.mid").write_bytes(b"not midi at all")
    out = tmp_path / "o"
    args = ["render", str(tmp_path / "m"), str(out), "--soundfont", str(SF2), "--sample-rate",
            str(SR), "--mono", "--quiet"]  # fmt: skip
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "rendered 1 of 2" in text and "FluidSynth" in text and "skipped" in text
    info = sf.info(str(out / "a.wav"))
    assert (info.samplerate, info.channels) == (SR, 1) and 0.9 < info.duration < 6.0
    assert sorted(os.listdir(out)) == ["a.mid", "a.wav"]
