"""The learned voice shipped inside the package, ``learned``: it loads by name (a folder of
that name in the current directory wins), plays ``dsp-rnn generate --voice learned`` and
``dsp-rnn render IN.mid OUT.wav --voice learned`` without clipping, holds only safetensors,
JSON and Markdown, and an unknown name is refused in one line that lists the voices there
are."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from safetensors import safe_open

from dsp_rnn.cli import main
from dsp_rnn.errors import CheckpointError
from dsp_rnn.music import SHIPPED_MODELS, shipped_voice, shipped_voices
from dsp_rnn.voice import LearnedVoice, load_voice, voice_folder

SHIPPED = SHIPPED_MODELS / "learned"


@pytest.fixture(autouse=True)
def _cache_and_threads(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_learned_loads_by_name_from_the_package():
    assert shipped_voices() == {"learned": SHIPPED}
    voice = load_voice("learned")
    assert isinstance(voice, LearnedVoice) and voice.path == SHIPPED
    assert voice.sample_rate == 16_000
    assert voice.net.config.features == voice.sample_model.config.features


def test_a_folder_of_that_name_wins_over_the_shipped_voice(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "learned").mkdir()  # not a voice: loading it must fail, not fall back
    assert shipped_voice("learned") is None and voice_folder("learned") == Path("learned")
    with pytest.raises(CheckpointError, match="expected config.json and weights"):
        load_voice("learned")
    assert shipped_voice(str(tmp_path / "elsewhere" / "learned")) is None  # paths never


def test_generate_with_the_learned_voice_writes_a_wav_that_does_not_clip(tmp_path):
    out = tmp_path / "x.wav"
    assert main(["generate", "--out", str(out), "--voice", "learned", "--bars", "2",
                 "--seed", "0", "--quiet"]) == 0  # fmt: skip
    raw, rate = sf.read(str(out), dtype="int16", always_2d=True)
    assert rate == 44_100 and raw.shape[1] == 2 and raw.shape[0] > rate  # the CLI defaults
    peak = int(np.abs(raw.astype(np.int32)).max())
    assert peak <= round(32768 * 10 ** (-1 / 20)) + 1  # at or below -1 dBFS
    assert np.count_nonzero(np.abs(raw.astype(np.int32)) >= 32767) == 0
    assert np.sqrt(np.mean((raw / 32768.0) ** 2)) > 1e-3  # it plays something


def test_the_shipped_folder_holds_only_safetensors_json_and_markdown():
    files = sorted(p for p in SHIPPED.rglob("*") if p.is_file())
    names = {str(p.relative_to(SHIPPED)) for p in files}
    assert {"config.json", "weights.safetensors", "MODEL_CARD.md", "source.json",
            "sample_model/config.json", "sample_model/weights.safetensors"} <= names  # fmt: skip
    assert all(p.suffix in (".safetensors", ".json", ".md") for p in files), names
    for p in files:
        head = p.read_bytes()[:2]
        assert head[:1] != b"\x80" and head != b"PK", f"{p}: pickled or zipped"  # no pickle
        if p.suffix == ".json":
            assert isinstance(json.loads(p.read_text(encoding="utf-8")), dict)
        elif p.suffix == ".safetensors":
            with safe_open(str(p), framework="pt") as f:
                assert len(list(f.keys())) > 0
    assert sum(p.stat().st_size for p in files) < 5_000_000  # a few MB at most


def test_the_shipped_voice_plays_the_chord_on_time_and_then_falls_silent():
    from dsp_rnn.music import Note
    from dsp_rnn.voice import render_voice

    voice = load_voice("learned")
    assert voice.source.release_s < 1.0  # fitted to its recordings (source.json)
    sr, start, end = 16_000, 0.1003, 0.8
    chord = [Note(p, 80, 0, 0, start, end) for p in (60, 64, 67)]
    y = render_voice(voice, chord, seed=0, tail_s=1.0)[0].astype(np.float64)
    first = int(np.flatnonzero(y)[0])
    assert round(start * sr) <= first <= round(start * sr) + 2  # on the note-on sample
    assert np.all(y[round((end + voice.source.release_s) * sr) + 1 :] == 0)  # then silence
    held = y[round(0.2 * sr) : round(0.7 * sr)]
    spec = np.abs(np.fft.rfft(held * np.hanning(len(held))))
    hz = np.fft.rfftfreq(len(held), 1 / sr)
    floor = np.median(spec[(hz > 100) & (hz < 2000)])
    for pitch in (60, 64, 67):  # each note's fundamental stands out of the spectrum
        f0 = 440 * 2 ** ((pitch - 69) / 12)
        assert spec[np.abs(hz - f0) < 3].max() > 20 * floor


def test_an_unknown_voice_is_refused_in_one_line_listing_the_voices(tmp_path, capsys):
    out = tmp_path / "x.wav"
    assert main(["generate", "--out", str(out), "--voice", "no-such-voice", "--bars", "1",
                 "--quiet"]) == 1  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not out.exists()
    for name in ("gm", "ks", "subtractive", "additive", "sine", "learned"):
        assert name in err
    with pytest.raises(CheckpointError, match=r"shipped voice \(learned\)"):
        load_voice("no-such-voice")


def test_render_plays_a_midi_file_with_the_learned_voice(tmp_path):
    import mido

    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)])  # 960 ticks per s
    track += [mido.Message("note_on", note=p, velocity=90, time=0) for p in (60, 64, 67)]
    track += [
        mido.Message("note_off", note=p, velocity=0, time=960 if p == 60 else 0)
        for p in (60, 64, 67)
    ]  # a C major chord held for 1 s
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(track)
    mid.save(tmp_path / "in.mid")
    out = tmp_path / "out.wav"
    assert main(["render", str(tmp_path / "in.mid"), str(out), "--voice", "learned",
                 "--sample-rate", "16000", "--mono", "--quiet"]) == 0  # fmt: skip
    y, rate = sf.read(str(out), dtype="float32", always_2d=True)
    assert rate == 16_000 and y.shape[1] == 1
    assert 2.0 < len(y) / rate < 3.0  # the chord's second and the voice's 1.5 s tail
    assert 1e-3 < np.sqrt(np.mean(y**2)) and np.abs(y).max() <= 10 ** (-1 / 20) + 1e-4
