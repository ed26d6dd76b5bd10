"""The compiled CPU generator of AudioRNN: the kernel's step equals the torch model's
teacher-forced log-softmax, generation is seeded, batched streams equal single runs, and
dsp-rnn resynth writes a file end to end."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from dsp_rnn.audio import _generator_kernels as kernels
from dsp_rnn.audio import features, frame_inputs
from dsp_rnn.audio.generator import (
    export_weights,
    limit_peak,
    synthesize,
    teacher_forced_log_probs,
)
from dsp_rnn.cli import main
from dsp_rnn.errors import InputError
from dsp_rnn.music import mu_law_encode

from .conftest import tiny_audio_rnn

SR = 16000


def _signal(n: int = 960, seed: int = 0) -> np.ndarray:
    t = np.arange(n) / SR
    noise = 0.05 * np.random.default_rng(seed).standard_normal(n)
    return 0.3 * np.sin(2 * np.pi * 220 * t) + noise


@pytest.fixture(scope="module")
def feats():
    return features(_signal(), SR)


def test_kernel_mu_law_code_equals_mu_law_encode():
    x = np.concatenate([np.linspace(-1, 1, 20001), np.random.default_rng(0).uniform(-1, 1, 20000)])
    x32 = x.astype(np.float32)
    want = mu_law_encode(torch.from_numpy(x32)).numpy()
    mu, log1p_mu = np.float32(255), np.float32(torch.log1p(torch.tensor(255.0)).item())
    got = np.array([kernels.mu_law_code(float(v), mu, log1p_mu) for v in x32])
    np.testing.assert_array_equal(got, want)
    assert kernels.mu_law_code(3.0, mu, log1p_mu) == 255
    assert kernels.mu_law_code(-3.0, mu, log1p_mu) == 0


@pytest.mark.parametrize("lpc", [True, False])
def test_teacher_forced_log_probs_equal_torch_log_softmax(feats, lpc):
    model = tiny_audio_rnn(lpc)
    rng = np.random.default_rng(1)
    n_t = feats.n_frames * feats.hop_samples
    s = torch.from_numpy(rng.uniform(-0.5, 0.5, (2, n_t))).float()  # two streams
    frames = frame_inputs(feats)
    frames = type(frames)(frames.conditioning.repeat(2, 1, 1), frames.lpc.repeat(2, 1, 1))
    with torch.no_grad():
        logits, _ = model(s, frames)
        target = model.target_codes(s, frames)
        want = torch.log_softmax(logits, -1).gather(-1, target[..., None])[..., 0]
    got = teacher_forced_log_probs(model, s.double().numpy(), feats)
    assert got.shape == (2, n_t)
    np.testing.assert_allclose(got, want.double().numpy(), rtol=0, atol=1e-4)


def test_generation_is_seeded_finite_bounded_and_frame_long(feats):
    w = export_weights(tiny_audio_rnn())
    a = synthesize(w, feats, seed=5)
    b = synthesize(w, feats, seed=5)
    c = synthesize(w, feats, seed=6)
    assert a.shape == (1, feats.n_frames * feats.hop_samples) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    bound = 1.0 / (1.0 - feats.config.preemphasis)  # clamped s_t, then de-emphasis
    assert np.isfinite(a).all() and np.abs(a).max() <= bound and np.abs(a).max() > 1e-3


@pytest.mark.parametrize("peak", [0.0, 0.5, 1.0, 1.5, 6.0])
def test_limit_peak_turns_down_only_what_would_clip(peak):
    x = np.linspace(-1.0, 1.0, 101, dtype=np.float32) * peak
    y, gain_db = limit_peak(x)
    if peak <= 1.0:
        np.testing.assert_array_equal(y, x)
        assert gain_db == 0.0
    else:
        assert abs(float(np.abs(y).max()) - 10 ** (-1 / 20)) < 1e-6  # -1 dBFS
        np.testing.assert_allclose(y, x * 10 ** (gain_db / 20), rtol=1e-6)  # scaled, not clipped


def test_temperature_zero_is_argmax_and_repeatable(feats):
    w = export_weights(tiny_audio_rnn())
    a = synthesize(w, feats, seed=1, temperature=0.0)
    b = synthesize(w, feats, seed=2, temperature=0.0)  # no draws: the seed does not matter
    np.testing.assert_array_equal(a, b)
    with pytest.raises(InputError, match="temperature"):
        synthesize(w, feats, seed=1, temperature=-1.0)


@pytest.mark.parametrize("lpc", [True, False])
def test_streams_equal_single_runs_with_seed_plus_k(feats, lpc):
    w = export_weights(tiny_audio_rnn(lpc))
    batch = synthesize(w, feats, seed=10, streams=3)
    assert batch.shape[0] == 3
    for k in range(3):
        np.testing.assert_array_equal(batch[k], synthesize(w, feats, seed=10 + k)[0])
    other = features(_signal(seed=7) * 0.5, SR)
    mixed = synthesize(w, [feats, other], seed=10)
    np.testing.assert_array_equal(mixed[0], batch[0])
    np.testing.assert_array_equal(mixed[1], synthesize(w, other, seed=11)[0])


def test_cli_resynth_writes_the_file_and_refuses_to_overwrite(tmp_path, capsys):
    from dsp_rnn.training.registry import save_model

    run = tmp_path / "run"
    save_model(run, tiny_audio_rnn(), {})
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, _signal(4850), SR, subtype="FLOAT")  # 0.3 s and 50 samples: not whole frames
    assert main(["resynth", str(src), str(dst), "--model", str(run), "--seed", "3"]) == 0
    y, sr = sf.read(dst)
    assert sr == SR and y.shape == (4850,) and np.isfinite(y).all() and np.abs(y).max() > 0
    assert np.abs(y).max() < 1.0  # turned down if it would clip, never clipped
    before = dst.read_bytes()
    capsys.readouterr()
    assert main(["resynth", str(src), str(dst), "--model", str(run), "--seed", "4"]) == 1
    assert "--overwrite" in capsys.readouterr().err and dst.read_bytes() == before
    args = ["resynth", str(src), str(dst), "--model", str(run), "--seed", "4", "--overwrite"]
    assert main(args) == 0 and dst.read_bytes() != before
