"""``dsp-rnn train`` tells an audio folder from a MIDI folder by its files (or ``--model``):
an audio folder trains an audio model that load_model reads back; a folder of both or of
neither is refused with a one-line message that says what to do."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dsp_rnn.cli import main
from dsp_rnn.cli.audio_train import data_kind
from dsp_rnn.errors import InputError
from dsp_rnn.music import write_audio


@pytest.fixture(autouse=True)
def _cache_and_threads(tmp_path, monkeypatch):
    """The feature cache under the test's folder; ``--threads`` sets torch's: restore it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _wav(path, seed: int = 0) -> None:
    t = np.arange(4000) / 16000
    x = 0.3 * np.sin(2 * np.pi * 200 * t) + 0.01 * np.random.default_rng(seed).standard_normal(4000)
    write_audio(path, torch.from_numpy(x).float(), sample_rate=16000)


def test_an_audio_folder_trains_an_audio_model(tmp_path, capsys):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    _wav(data / "a.wav", 0)
    _wav(data / "sub" / "b.wav", 1)
    (data / "readme.txt").write_text("not audio")
    run = tmp_path / "run"
    code = main(["train", str(data), "--out", str(run), "--steps", "2", "--window", "320",
                 "--gru-units", "8", "--embedding-size", "4", "--conditioning-size", "4",
                 "--batch-size", "2", "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "skipped" in out and "readme.txt" in out
    assert json.loads(out.strip().splitlines()[-1])["steps"] == 2
    from dsp_rnn.audio import AudioRNN
    from dsp_rnn.training import load_model

    model, meta = load_model(run)
    assert isinstance(model, AudioRNN) and meta["family"] == "audio"
    assert model.config.gru_units == 8 and model.config.lpc


def test_both_or_neither_kind_of_file_is_refused(tmp_path, capsys):
    both = tmp_path / "both"
    both.mkdir()
    _wav(both / "a.wav")
    (both / "x.mid").write_bytes(b"MThd")
    assert main(["train", str(both), "--out", str(tmp_path / "r1"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "both MIDI (1) and audio (1)" in err
    assert "--model grid" in err and "--model audio" in err
    neither = tmp_path / "neither"
    neither.mkdir()
    (neither / "notes.txt").write_text("hello")
    assert main(["train", str(neither), "--out", str(tmp_path / "r2"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert "no MIDI" in err and "or audio" in err and len(err.splitlines()) == 1
    assert data_kind(both, "audio") == "audio" and data_kind(both / "a.wav") == "audio"
    assert data_kind(both / "x.mid") == "grid"
    with pytest.raises(InputError, match="both"):
        data_kind(both)


def test_grid_flags_are_refused_for_audio(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    _wav(data / "a.wav")
    code = main(["train", str(data), "--out", str(tmp_path / "run"), "--transpose", "3",
                 "--quiet"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "--transpose: for note-grid models" in err


def test_an_audio_run_fits_its_frame_tier_and_generates(tmp_path, capsys):
    import soundfile as sf

    from dsp_rnn.audio import FRAME_TIER_CONFIG, FRAME_TIER_WEIGHTS
    from dsp_rnn.training import RUN_FILES

    assert FRAME_TIER_CONFIG in RUN_FILES and FRAME_TIER_WEIGHTS in RUN_FILES
    data = tmp_path / "data"
    data.mkdir()
    _wav(data / "a.wav", 0)
    _wav(data / "b.wav", 1)
    run = tmp_path / "run"
    tiny = ["--window", "320", "--gru-units", "8", "--embedding-size", "4",
            "--conditioning-size", "4", "--batch-size", "2", "--quiet"]  # fmt: skip
    code = main(["train", str(data), "--out", str(run), "--steps", "2",
                 "--frame-tier-steps", "20", *tiny])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "frame tier: 20 steps" in out and json.loads(out.strip().splitlines()[-1])
    saved = (run / "frame_tier.safetensors").read_bytes()
    assert (run / "frame_tier.json").is_file()
    code = main(["train", str(data), "--out", str(run), "--steps", "2", "--resume",
                 "--frame-tier-steps", "30", *tiny])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "frame tier: kept" in capsys.readouterr().out
    assert (run / "frame_tier.safetensors").read_bytes() == saved  # a finished run keeps it
    (run / "frame_tier.json").unlink()
    assert main(["train", str(data), "--out", str(run), "--steps", "2", "--resume",
                 "--frame-tier-steps", "10", *tiny]) == 0  # fmt: skip
    assert "frame tier: 10 steps" in capsys.readouterr().out  # missing: fitted again

    wavs = []
    for name in ("x.wav", "y.wav"):
        code = main(["generate", "--model", str(run), "--out", str(tmp_path / name),
                     "--seconds", "0.2", "--seed", "1", "--quiet"])  # fmt: skip
        assert code == 0, capsys.readouterr().err
        assert "wrote" in capsys.readouterr().out
        wavs.append((tmp_path / name).read_bytes())
    assert wavs[0] == wavs[1]
    y, sr = sf.read(str(tmp_path / "x.wav"), dtype="float32")
    assert sr == 16000 and y.shape == (3200,) and np.isfinite(y).all() and np.abs(y).max() > 0
    code = main(["generate", "--model", str(run), "--out", str(tmp_path / "z.wav"),
                 "--seconds", "0.2", "--seed", "2", "--quiet"])  # fmt: skip
    assert code == 0 and (tmp_path / "z.wav").read_bytes() != wavs[0]
    capsys.readouterr()

    bare = tmp_path / "bare"
    assert main(["train", str(data), "--out", str(bare), "--steps", "1",
                 "--frame-tier-steps", "0", *tiny]) == 0  # fmt: skip
    assert not (bare / "frame_tier.json").exists()
    capsys.readouterr()
    code = main(["generate", "--model", str(bare), "--out", str(tmp_path / "b.wav"),
                 "--seconds", "0.2", "--seed", "1", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "no frame tier" in err and "--resume" in err
