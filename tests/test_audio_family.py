"""The audio family in the registry: a trained run loads through load_model (config and
safetensors weights) with the run's frame tier, save_model round-trips, evaluate_model gives
the held-out NLL in bits per sample, and what the family cannot do is refused with a typed
error."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dsp_rnn.audio import (
    AudioCorpus,
    AudioRNN,
    AudioRNNConfig,
    AudioTask,
    FeatureConfig,
    FrameTier,
    FrameTierConfig,
    evaluate_nll,
    save_frame_tier,
)
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.music import write_audio
from dsp_rnn.training import (
    TrainConfig,
    evaluate_model,
    families,
    generate,
    load_model,
    save_model,
    train,
)
from dsp_rnn.training.audio_family import AudioModel

TINY = AudioRNNConfig(gru_units=12, embedding_size=4, conditioning_size=4)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio")
    rng = np.random.default_rng(0)
    for k in range(2):
        t = np.arange(4000) / 16000
        x = 0.3 * np.sin(2 * np.pi * (150 + 50 * k) * t) + 0.01 * rng.standard_normal(t.shape)
        write_audio(d / f"{k}.wav", torch.from_numpy(x).float(), sample_rate=16000)
    return d


def test_a_trained_run_loads_and_evaluates(folder, tmp_path):
    corpus = AudioCorpus.from_folder(folder, TINY.features, cache_dir=tmp_path / "cache")
    config = TrainConfig(steps=2, batch_size=2, window=320, progress=False,
                         checkpoint_minutes=None)  # fmt: skip
    train(AudioTask(TINY, corpus), tmp_path / "run", config)
    model, meta = load_model(tmp_path / "run")
    assert isinstance(model, AudioRNN) and model.config == TINY and not model.training
    assert meta["family"] == "audio"
    assert "audio" in families()
    ev = evaluate_model(model, folder, split="test")
    everything = AudioCorpus.from_folder(folder, TINY.features, valid_fraction=0.0,
                                         cache_dir=tmp_path / "cache")  # fmt: skip
    want = evaluate_nll(model, everything.train)
    assert ev.metrics["nll_bits_per_sample"] == pytest.approx(want["nll_bits_per_sample"])
    assert ev.metrics["files"] == 2 and ev.metrics["samples"] == 8000
    assert "bits per sample" in ev.lines[0]
    held_out = evaluate_model(tmp_path / "run", folder, split="valid")
    assert held_out.metrics["files"] == len(corpus.valid) == 1


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = AudioRNN(AudioRNNConfig(gru_units=8, embedding_size=4, conditioning_size=4,
                                    lpc=False))  # fmt: skip
    save_model(tmp_path / "m", model, {"note": "x"})
    loaded, meta = load_model(tmp_path / "m")
    assert isinstance(loaded, AudioRNN) and loaded.config == model.config
    assert meta["note"] == "x" and meta["family"] == "audio"
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v, rtol=0, atol=0)
    doc = json.loads((tmp_path / "m" / "config.json").read_text())
    doc["config"]["gru_units"] = 9
    (tmp_path / "m" / "config.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(tmp_path / "m")
    doc["config"]["gru_units"] = "big"
    (tmp_path / "m" / "config.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="bad audio model config"):
        load_model(tmp_path / "m")


def test_what_the_family_cannot_do_is_refused(folder, tmp_path):
    model = AudioRNN(TINY)
    with pytest.raises(InputError, match="folder of audio"):
        evaluate_model(model, None)
    with pytest.raises(InputError, match="samples"):
        evaluate_model(model, folder, samples=2)
    with pytest.raises(InputError, match="split"):
        evaluate_model(model, folder, split="dev")
    with pytest.raises(InputError, match=r"no frame tier.*save_frame_tier"):
        generate(model, tmp_path / "out.wav", seconds=1.0)
    tiered = AudioModel(TINY, FrameTier(FrameTierConfig(features=TINY.features, hidden=4)))
    with pytest.raises(InputError, match="audio models write audio"):
        generate(tiered, tmp_path / "out.mid", seconds=1.0)
    with pytest.raises(InputError, match="length in seconds"):
        generate(tiered, tmp_path / "out.wav", bars=2)
    with pytest.raises(InputError, match="max_steps=300"):
        generate(tiered, tmp_path / "out.wav", seconds=3.0, max_steps=200)
    assert not (tmp_path / "out.wav").exists()


def test_the_frame_tier_travels_with_the_run_and_is_checked(tmp_path):
    torch.manual_seed(0)
    model = AudioRNN(TINY)
    save_model(tmp_path / "m", model, {})
    loaded, _ = load_model(tmp_path / "m")
    assert isinstance(loaded, AudioModel) and loaded.frame_tier is None
    tier = FrameTier(FrameTierConfig(features=TINY.features, hidden=4))
    save_frame_tier(tmp_path / "m", tier)
    loaded, meta = load_model(tmp_path / "m")
    assert isinstance(loaded, AudioModel) and isinstance(loaded.frame_tier, FrameTier)
    assert loaded.frame_tier.config == tier.config and meta["model"] == "AudioRNN"
    assert set(loaded.state_dict()) == set(model.state_dict())  # the tier is not in it
    save_model(tmp_path / "again", loaded, {})  # the sample model alone
    assert load_model(tmp_path / "again")[0].frame_tier is None
    other = FrameTier(FrameTierConfig(features=FeatureConfig(n_bands=18), hidden=4))
    save_frame_tier(tmp_path / "m", other)
    with pytest.raises(CheckpointError, match="the frame tier models features"):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "frame_tier.safetensors").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="frame_tier.safetensors"):
        load_model(tmp_path / "m")
