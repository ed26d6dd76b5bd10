"""The audio family's training task through the shared trainer: a tiny model overfits one
short file, a folder with a broken file trains on the good ones, windows start on frame
boundaries with their file's true past, and validation is the exact NLL of whole files."""

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
    evaluate_nll,
)
from dsp_rnn.errors import InputError
from dsp_rnn.music import write_audio
from dsp_rnn.training import TrainConfig, train

SR, HOP = 16000, 160
TINY = AudioRNNConfig(gru_units=24, embedding_size=8, conditioning_size=8)


def _vowel(seconds: float, f0_hz: float, seed: int) -> np.ndarray:
    """A pulse train through two resonators plus a little noise (a vowel-like signal)."""
    import scipy.signal

    n = int(seconds * SR)
    x = np.zeros(n)
    x[:: int(SR / f0_hz)] = 1.0
    for f_hz, r in ((700.0, 0.97), (1200.0, 0.95)):
        w = 2 * np.pi * f_hz / SR
        x = scipy.signal.lfilter([1.0], [1.0, -2 * r * np.cos(w), r * r], x)
    x = 0.4 * x / np.abs(x).max()
    return x + 3e-4 * np.random.default_rng(seed).standard_normal(n)


def _write(folder, name: str, x: np.ndarray):
    return write_audio(folder / name, torch.from_numpy(x).float(), sample_rate=SR)


def _metrics(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_tiny_model_overfits_one_short_file(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _write(data, "vowel.wav", _vowel(1.0, 150.0, 0))
    corpus = AudioCorpus.from_folder(data, FeatureConfig(), valid_fraction=0.0,
                                     cache_dir=tmp_path / "cache")  # fmt: skip
    assert len(corpus.train) == 1 and not corpus.valid
    task = AudioTask(TINY, corpus)
    before = evaluate_nll(AudioRNN(TINY), corpus.train)["nll_bits_per_sample"]
    config = TrainConfig(steps=30, batch_size=4, window=400, lr=1e-2, progress=False,
                         checkpoint_every=1000, checkpoint_minutes=None)  # fmt: skip
    result = train(task, tmp_path / "run", config)
    assert result["steps"] == 30
    rows = _metrics(tmp_path / "run")
    assert 7.0 < before < 9.0  # bits per sample: about uniform over 256 codes
    assert rows[-1]["train_nll"] < before - 2.0, rows  # the excitation of a vowel is sparse


def test_a_folder_with_a_broken_file_trains_on_the_good_ones(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    for k in range(3):
        _write(data / "sub" if k else data, f"v{k}.wav", _vowel(0.25, 120.0 + 40 * k, k))
    (data / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wave file")
    corpus = AudioCorpus.from_folder(data, FeatureConfig(), valid_fraction=0.4,
                                     cache_dir=tmp_path / "cache")  # fmt: skip
    assert [p.name for p, _ in corpus.skipped] == ["broken.wav"]
    assert len(corpus.train) + len(corpus.valid) == 3 and corpus.train and corpus.valid
    config = TrainConfig(steps=3, batch_size=2, window=320, progress=False,
                         checkpoint_minutes=None)  # fmt: skip
    task = AudioTask(TINY, corpus)
    result = train(task, tmp_path / "run", config)
    assert result["steps"] == 3
    doc = json.loads((tmp_path / "run" / "config.json").read_text())
    assert doc["family"] == "audio" and doc["config"]["gru_units"] == 24


def test_windows_start_on_frames_with_their_files_past(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _write(data, "v.wav", _vowel(0.3, 200.0, 1))
    corpus = AudioCorpus.from_folder(data, FeatureConfig(), valid_fraction=0.0,
                                     cache_dir=tmp_path / "cache")  # fmt: skip
    task = AudioTask(TINY, corpus)
    item = corpus.train[0]
    rng = np.random.default_rng(0)
    batch = task.sample_batch(rng, batch_size=8, window=300, part=slice(0, 8))
    assert batch.signal.shape == (8, 300) and batch.frames.lpc.shape == (8, 2, 17)
    for row in range(8):
        hits = [t for t in range(0, item.n_samples - 299, HOP)
                if np.array_equal(item.signal[t : t + 300], batch.signal[row].numpy())]  # fmt: skip
        assert len(hits) == 1
        t0 = hits[0]
        past = item.signal[max(0, t0 - 16) : t0]
        np.testing.assert_array_equal(batch.state.past[row, 16 - past.shape[0] :].numpy(), past)
    # the same generator state draws the same batch
    again = task.sample_batch(np.random.default_rng(0), batch_size=8, window=300,
                              part=slice(0, 8))  # fmt: skip
    torch.testing.assert_close(again.signal, batch.signal)
    with pytest.raises(InputError, match="window"):
        task.sample_batch(rng, batch_size=1, window=10**6, part=slice(0, 1))


def test_validation_is_the_exact_nll_of_whole_files(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    _write(data, "v.wav", _vowel(0.3, 200.0, 1))
    corpus = AudioCorpus.from_folder(data, FeatureConfig(), valid_fraction=0.0,
                                     cache_dir=tmp_path / "cache")  # fmt: skip
    item = corpus.train[0]
    torch.manual_seed(0)
    model = AudioRNN(TINY).eval()
    got = evaluate_nll(model, [item])
    from dsp_rnn.audio import FrameInputs

    with torch.no_grad():
        frames = FrameInputs(torch.from_numpy(item.conditioning[None]),
                             torch.from_numpy(item.lpc[None]))  # fmt: skip
        bits, _ = model.nll_bits(torch.from_numpy(item.signal[None]), frames)
    assert got["samples"] == item.n_samples
    assert got["nll_bits_per_sample"] == pytest.approx(float(bits.mean()), rel=1e-5)
    with pytest.raises(InputError, match="features"):
        AudioTask(AudioRNNConfig(features=FeatureConfig(n_bands=18)), corpus).check()


def test_an_epoch_is_at_most_epoch_seconds_of_audio(tmp_path):
    _write(tmp_path, "a.wav", _vowel(0.5, 150.0, 0))
    corpus = AudioCorpus.from_folder(tmp_path, FeatureConfig(), valid_fraction=0.0,
                                     cache_dir=tmp_path / "c")  # fmt: skip
    whole = AudioTask(TINY, corpus, epoch_seconds=None)
    capped = AudioTask(TINY, corpus, epoch_seconds=0.25)
    assert whole.train_size() == 8000 and capped.train_size() == 4000
    assert AudioTask(TINY, corpus).train_size() == 8000  # shorter than the default cap
    assert capped.settings()["epoch_seconds"] == 0.25
    restored = AudioTask(TINY, corpus).restore({"task": capped.settings()}, tmp_path)
    assert restored.epoch_seconds == 0.25
    with pytest.raises(InputError, match="epoch_seconds"):
        AudioTask(TINY, corpus, epoch_seconds=0)
