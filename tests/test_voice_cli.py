"""The command line of learned voices: ``dsp-rnn train`` recognises a folder of audio and
MIDI pairs (listing the files it leaves out, with reasons), trains a voice and copies its
sample model in; ``render --voice`` and ``generate --voice`` play notes with it, reading no
model the user did not name."""

from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf
import torch

from dsp_rnn.cli import main
from dsp_rnn.cli.audio_train import data_kind
from dsp_rnn.errors import InputError
from dsp_rnn.music import write_audio
from dsp_rnn.voice import load_voice, timing_floor
from tests.conftest import tiny_audio_rnn

SR = 16_000
NOTES = ((0.2, 0.6, 60), (0.5, 1.0, 64))  # (start_s, end_s, pitch)


@pytest.fixture(autouse=True)
def _cache_and_threads(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _midi(path: Path, notes=NOTES) -> Path:
    """A type-0 file at 120 bpm (960 ticks per second)."""
    events = sorted([(round(s * 960), 1, p) for s, _, p in notes]
                    + [(round(e * 960), 0, p) for _, e, p in notes])  # fmt: skip
    track, now = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)]), 0
    for tick, is_on, p in events:
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, note=p, velocity=90 if is_on else 0, time=tick - now))
        now = tick
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(track)
    mid.save(path)
    return path


def _audio(path: Path, notes=NOTES, *, delay_s: float = 0.0) -> Path:
    end = max(e for _, e, _ in notes)
    t = np.arange(round((end + 0.5) * SR)) / SR
    x = np.zeros_like(t)
    for s, e, p in notes:
        on = t - s - delay_s
        env = np.clip(on / 0.005, 0, 1) * np.clip(1 - (t - e - delay_s) / 0.1, 0, 1)
        x += 0.2 * env * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * np.maximum(on, 0))
    return write_audio(path, x.astype(np.float32), sample_rate=SR)


@pytest.fixture
def pairs(tmp_path) -> Path:
    """Three aligned pairs, an audio file without MIDI, a pair whose audio starts late."""
    root = tmp_path / "pairs"
    root.mkdir()
    for stem in ("a", "b", "c"):
        _audio(root / f"{stem}.wav")
        _midi(root / f"{stem}.mid")
    _audio(root / "lonely.wav")
    _audio(root / "late.wav", delay_s=0.3)
    _midi(root / "late.mid")
    return root


@pytest.fixture
def sample_run(tmp_path) -> Path:
    from dsp_rnn.training import save_model

    return save_model(tmp_path / "sample", tiny_audio_rnn(), {})


def _train(pairs: Path, out: Path, *extra: str) -> int:
    return main(["train", str(pairs), "--out", str(out), "--steps", "3", "--window", "20",
                 "--batch-size", "2", "--voice-hidden", "8", "--voice-projection", "8",
                 "--quiet", *extra])  # fmt: skip


def test_a_paired_folder_trains_a_voice_and_lists_what_it_leaves_out(
    tmp_path, pairs, sample_run, capsys
):
    assert data_kind(pairs) == "voice"
    voice = tmp_path / "voice"
    assert _train(pairs, voice, "--sample-model", str(sample_run)) == 0
    out = capsys.readouterr().out
    skipped = [line for line in out.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 2
    assert any("lonely.wav: no MIDI file lonely.mid beside it" in s for s in skipped)
    assert any("late.wav: first onset at" in s and "+300 ms apart" in s for s in skipped)
    assert "3 training and 0 validation pairs" in out or "training and" in out
    assert f"sample model: copied {sample_run}" in out
    assert json.loads((voice / "config.json").read_text())["family"] == "voice"
    loaded = load_voice(voice)
    assert loaded.sample_model.config == tiny_audio_rnn().config
    assert loaded.net.config.hidden == 8
    # the note source is fitted to the recordings: the test tones stop 0.1 s after note-off
    assert "note source: release" in out and (voice / "source.json").is_file()
    assert 0.05 <= loaded.source.release_s <= 0.15
    measured = json.loads((voice / "source.json").read_text())["measured"]
    tried = measured["mr_stft_by_harmonic_share"]
    timing = measured["onsets_within_10ms_by_harmonic_share"]
    floor = timing_floor(list(timing.values()), measured["recordings_onsets_within_10ms"])
    src = loaded.source
    chosen = f"{src.harmonic_share:g}" + ("" if src.noise_decay_s is None
                                          else f"/{src.noise_decay_s:g}")  # fmt: skip
    assert chosen == min((k for k in tried if timing[k] >= floor), key=tried.get)


def test_a_voice_without_a_sample_model_says_how_to_add_one(tmp_path, pairs, sample_run, capsys):
    voice = tmp_path / "voice"
    assert _train(pairs, voice) == 0
    assert "sample model: none yet" in capsys.readouterr().out
    assert _train(pairs, voice, "--resume", "--sample-model", str(sample_run)) == 0
    assert "sample model: copied" in capsys.readouterr().out
    load_voice(voice)


def test_mostly_unpaired_folders_and_misplaced_flags_are_refused(tmp_path, pairs, capsys):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for stem in ("x", "y", "z"):
        _audio(mixed / f"{stem}.wav")
    _midi(mixed / "x.mid")
    with pytest.raises(InputError, match="only 1 audio files pair"):
        data_kind(mixed)
    assert data_kind(mixed, "voice") == "voice" and data_kind(pairs, "audio") == "audio"
    assert main(["train", str(mixed), "--out", str(tmp_path / "r"), "--quiet"]) == 1
    assert "--model voice" in capsys.readouterr().err
    bad = main(["train", str(pairs), "--out", str(tmp_path / "r2"), "--model", "audio",
                "--sample-model", str(tmp_path), "--quiet"])  # fmt: skip
    assert bad == 1 and "--sample-model: for learned voices" in capsys.readouterr().err


@pytest.fixture
def voice_dir(tmp_path, sample_run) -> Path:
    from dsp_rnn.voice import LearnedVoice, VoiceNet, VoiceNetConfig, save_voice

    torch.manual_seed(0)
    net = VoiceNet(VoiceNetConfig(hidden=8, projection=8))
    return save_voice(tmp_path / "voice", LearnedVoice(net, tiny_audio_rnn()))


def test_render_with_a_learned_voice_reads_only_the_voice_folder(
    tmp_path, voice_dir, monkeypatch, capsys
):
    import dsp_rnn.voice.files as voice_files
    from dsp_rnn.training import registry

    read: list[Path] = []
    original = voice_files.read_model_weights

    def spy(path):
        read.append(Path(path))
        return original(path)

    def refuse(*args, **kwargs):
        raise AssertionError("load_model called: a model the user did not name")

    monkeypatch.setattr(voice_files, "read_model_weights", spy)
    monkeypatch.setattr(registry, "load_model", refuse)
    mid, wav = _midi(tmp_path / "in.mid"), tmp_path / "out.wav"
    code = main(["render", str(mid), str(wav), "--voice", str(voice_dir), "--sample-rate",
                 "22050", "--seed", "3", "--quiet"])  # fmt: skip
    assert code == 0 and "learned voice voice (seed 3), dry" in capsys.readouterr().out
    assert read and all(voice_dir in p.parents for p in read)
    y, rate = sf.read(wav, dtype="float32", always_2d=True)
    assert rate == 22050 and y.shape[1] == 2 and np.isfinite(y).all()
    assert abs(1.0 + 1.5 - y.shape[0] / rate) < 0.02  # last note-off + the 1.5 s tail
    peak = float(np.abs(y).max())
    assert abs(20 * np.log10(peak) + 1.0) < 0.05  # normalised to -1 dBFS, never clipped
    assert 1e-4 < float(np.sqrt(np.mean(y**2))) < peak


def test_a_folder_renders_with_a_learned_voice_into_pairs(tmp_path, voice_dir, capsys):
    src = tmp_path / "midi"
    (src / "sub").mkdir(parents=True)
    _midi(src / "a.mid")
    _midi(src / "sub" / "b.mid", ((0.1, 0.5, 67),))
    (src / "broken.mid").write_bytes(b"MThd not really")
    out = tmp_path / "out"
    code = main(["render", str(src), str(out), "--voice", str(voice_dir), "--sample-rate",
                 "16000", "--mono", "--quiet"])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0 and "skipped" in text and "broken.mid" in text
    for stem, end_s in (("a", 1.0), ("sub/b", 0.5)):
        y, rate = sf.read(out / f"{stem}.wav", dtype="float32", always_2d=True)
        assert rate == 16000 and y.shape[1] == 1 and abs(y.shape[0] / rate - end_s - 1.5) < 0.02
        assert (out / f"{stem}.mid").read_bytes() == (src / f"{stem}.mid").read_bytes()
    assert not (out / "broken.wav").exists()
    code = main(["render", str(src), str(tmp_path / "o2"), "--voice", str(voice_dir),
                 "--soundfont", str(src / "a.mid"), "--quiet"])  # fmt: skip
    assert code == 1 and "pass one of them" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists() or not any((tmp_path / "o2").iterdir())


def test_bad_voices_are_refused_before_any_work(tmp_path, voice_dir, capsys):
    mid, wav = _midi(tmp_path / "in.mid"), tmp_path / "out.wav"
    assert main(["render", str(mid), str(wav), "--voice", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert "expected one of gm, ks" in err and "no such folder" in err and not wav.exists()
    (voice_dir / "sample_model" / "weights.safetensors").unlink()
    assert main(["render", str(mid), str(wav), "--voice", str(voice_dir)]) == 1
    assert not wav.exists()


def test_generate_plays_the_note_model_with_a_learned_voice(tmp_path, voice_dir, capsys):
    wav = tmp_path / "gen.wav"
    code = main(["generate", "--out", str(wav), "--voice", str(voice_dir), "--bars", "1",
                 "--seed", "2", "--sample-rate", "16000", "--mono", "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "learned voice" in out, out
    y, rate = sf.read(wav, dtype="float32", always_2d=True)
    assert rate == 16000 and y.shape[1] == 1 and float(np.abs(y).max()) <= 1.0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_audio_model_on_a_paired_folder_sums_up_the_midi_files(tmp_path, pairs, capsys):
    code = main(["train", str(pairs), "--out", str(tmp_path / "a"), "--model", "audio",
                 "--steps", "1", "--window", "160", "--batch-size", "1", "--gru-units", "4",
                 "--embedding-size", "2", "--conditioning-size", "2", "--frame-tier-steps",
                 "0", "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "left out 4 MIDI files" in out and ".mid: file ending" not in out
