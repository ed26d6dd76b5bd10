"""Copy-synthesis distances and the Fréchet distance: identical signals are 0 apart, a gain
is removed by the level match, more noise is further away, the Fréchet distance is the
closed form for known Gaussians (symmetric, >= 0); copy synthesis runs the model, the LPC
vocoder and WORLD on the same files, reports a missing WORLD, and plots one file."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.linalg
import torch

from dsp_rnn.audio import (
    STFT_RESOLUTIONS_MS,
    AudioCorpus,
    FeatureConfig,
    copy_synthesis,
    frechet_distance,
    frechet_gaussians,
    level_match,
    log_mel_frames,
    log_mel_l1,
    mr_stft_distance,
    plot_resynthesis,
    resynthesise,
    world_resynthesis,
)
from dsp_rnn.errors import InputError, OutputError, ShapeError
from dsp_rnn.music import write_audio
from tests.conftest import tiny_audio_rnn

SR = 16000
# the module (dsp_rnn.audio.copy_synthesis is the function of the same name)
copy_synthesis_module = importlib.import_module("dsp_rnn.audio.copy_synthesis")


def _tone(n: int = 8000, seed: int = 0, f0: float = 220.0) -> np.ndarray:
    """A harmonic tone over a faint noise floor (so no spectral bin is empty)."""
    t = np.arange(n) / SR
    x = sum(0.2 / k * np.sin(2 * np.pi * k * f0 * t) for k in range(1, 6))
    return x + 1e-3 * np.random.default_rng(seed).standard_normal(n)


@pytest.mark.parametrize("distance", [mr_stft_distance, log_mel_l1])
def test_identical_and_gain_changed_signals_are_zero_apart(distance):
    x = _tone()
    assert distance(x, x, SR) == 0.0
    assert distance(x, 0.25 * x, SR) == pytest.approx(0.0, abs=1e-9)
    assert distance(x, torch.from_numpy(3.0 * x), SR) == pytest.approx(0.0, abs=1e-9)
    assert distance(x, 0.25 * x, SR, match_level=False) > 0.5


@pytest.mark.parametrize("distance", [mr_stft_distance, log_mel_l1])
def test_more_noise_is_further_away(distance):
    x = _tone()
    noise = np.random.default_rng(1).standard_normal(x.shape[0])
    d = [distance(x, x + s * noise, SR) for s in (0.003, 0.03, 0.3)]
    assert 0 < d[0] < d[1] < d[2]


def test_level_match_is_an_rms_match():
    r, e = _tone(), 0.1 * _tone(seed=1)
    y = level_match(r, e)
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(r**2)), rel=1e-12)
    np.testing.assert_allclose(y / e, y[0] / e[0])  # a gain, nothing else
    silent = np.zeros(10)
    assert (level_match(np.ones(10), silent) == 0).all()


def test_bad_inputs_are_refused():
    x = _tone(1000)
    with pytest.raises(ShapeError, match="equal lengths"):
        mr_stft_distance(x, x[:-1], SR)
    with pytest.raises(ShapeError, match="mono"):
        log_mel_l1(x[None], x[None], SR)
    with pytest.raises(InputError, match="finite"):
        mr_stft_distance(x, np.full_like(x, np.nan), SR)
    with pytest.raises(InputError, match="sample_rate"):
        mr_stft_distance(x, x, 16000.5)
    with pytest.raises(ShapeError, match="same number of features"):
        frechet_distance(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ShapeError, match="at least 2 frames"):
        frechet_distance(np.zeros((1, 2)), np.zeros((4, 2)))


def test_log_mel_frames_shape_and_level():
    n = 16000
    x = np.sin(2 * np.pi * 1000 * np.arange(n) / SR)  # full scale
    frames = log_mel_frames(x, SR)
    hop = round(16.0 * SR / 1000)
    assert frames.shape == (1 + n // hop, 80)
    assert -3.0 < frames[5:-5].max() < 3.0  # a full-scale sine reads about 0 dB
    assert frames.min() == -100.0  # the floor, in the bands far from 1 kHz
    assert [w for w, _ in STFT_RESOLUTIONS_MS] == [10.0, 25.0, 50.0]


def test_frechet_is_the_closed_form_of_two_gaussians():
    rng = np.random.default_rng(0)
    mu_a, mu_b = rng.standard_normal(3), rng.standard_normal(3)
    a, b = np.array([1.0, 2.0, 0.5]), np.array([4.0, 0.5, 0.5])
    want = float(np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    assert frechet_gaussians(mu_a, np.diag(a), mu_b, np.diag(b)) == pytest.approx(want)
    # full covariances: the textbook formula with scipy's sqrtm of the product
    m, n = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    sa, sb = m @ m.T + 0.1 * np.eye(3), n @ n.T + 0.1 * np.eye(3)
    ref = np.sum((mu_a - mu_b) ** 2) + np.trace(sa + sb - 2 * scipy.linalg.sqrtm(sa @ sb).real)
    got = frechet_gaussians(mu_a, sa, mu_b, sb)
    assert got == pytest.approx(float(ref), rel=1e-9)
    assert frechet_gaussians(mu_b, sb, mu_a, sa) == pytest.approx(got, rel=1e-9)
    assert frechet_gaussians(mu_a, sa, mu_a, sa) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_of_frames_is_symmetric_and_non_negative():
    rng = np.random.default_rng(1)
    fa = rng.standard_normal((500, 4))
    fb = 2.0 * rng.standard_normal((400, 4)) + 1.0
    d = frechet_distance(fa, fb)
    want = frechet_gaussians(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0),
                             np.cov(fb, rowvar=False))  # fmt: skip
    assert d == pytest.approx(want) and d == pytest.approx(frechet_distance(fb, fa))
    assert 4 * 1.0 + 4 * (2 - 1) ** 2 == pytest.approx(d, rel=0.2)  # the population value
    assert (
        frechet_distance(fa, fa) == pytest.approx(0.0, abs=1e-9) and frechet_distance(fa, fa) >= 0
    )
    tone, noise = (
        log_mel_frames(_tone(16000), SR),
        log_mel_frames(0.1 * rng.standard_normal(16000), SR),
    )
    assert frechet_distance(tone, noise) > frechet_distance(
        tone, log_mel_frames(_tone(16000, 2), SR)
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cs")
    for k, f0 in enumerate((180.0, 260.0)):
        write_audio(d / f"{k}.wav", torch.from_numpy(_tone(4000, k, f0)).float(), sample_rate=SR)
    return sorted(d.glob("*.wav"))


def test_copy_synthesis_rows_of_the_model_and_its_peers(files, tmp_path):
    model = tiny_audio_rnn()
    rows = copy_synthesis(model, files, seed=0)
    assert [r.system for r in rows] == ["model", "lpc_vocoder", "world"]
    for row in rows:
        assert row.missing is None and len(row.files) == 2
        assert [f.seconds for f in row.files] == [0.25, 0.25]
        assert row.mr_stft == pytest.approx(np.mean([f.mr_stft for f in row.files]))
        assert row.log_mel_l1 == pytest.approx(np.mean([f.log_mel_l1 for f in row.files]))
        assert 0 < row.mr_stft < 50 and 0 < row.log_mel_l1 < 100
    # an untrained model resynthesises worse than the vocoders that read the features
    assert rows[0].mr_stft > rows[1].mr_stft and rows[0].mr_stft > rows[2].mr_stft
    # held-out items (pre-emphasised signals) give the files' numbers
    corpus = AudioCorpus.from_folder(files[0].parent, model.config.features, valid_fraction=0.0,
                                     cache_dir=tmp_path / "cache")  # fmt: skip
    by_item = copy_synthesis(model, corpus.train, seed=0, peers=("lpc_vocoder",))
    assert [r.system for r in by_item] == ["model", "lpc_vocoder"]
    got = {f.path: f.mr_stft for f in by_item[1].files}
    want = {f.path: f.mr_stft for f in rows[1].files}
    assert got == pytest.approx(want, rel=1e-3)
    cut = copy_synthesis(model, files, seed=0, peers=(), max_seconds=0.3)
    assert [f.seconds for f in cut[0].files] == [0.25, pytest.approx(0.05)]
    with pytest.raises(InputError, match="peers"):
        copy_synthesis(model, files, seed=0, peers=("wavenet",))
    with pytest.raises(InputError, match="at least one recording"):
        copy_synthesis(model, [], seed=0)


def test_a_missing_world_is_reported_not_raised(files, monkeypatch):
    def no_world():
        raise ImportError("pyworld is not installed (pip install pyworld)")

    monkeypatch.setattr(copy_synthesis_module, "world_module", no_world)
    rows = copy_synthesis(tiny_audio_rnn(), files[:1], seed=0, peers=("world",))
    assert rows[1].system == "world" and rows[1].mr_stft is None
    assert rows[1].missing is not None and "pyworld is not installed" in rows[1].missing
    assert rows[1].to_dict()["missing"] == rows[1].missing and rows[0].mr_stft is not None


def test_world_resynthesis_keeps_the_spectrum():
    x = _tone(8000)
    y = world_resynthesis(x, SR, FeatureConfig())
    assert y.shape == x.shape and y.dtype == np.float64
    noise = np.random.default_rng(3).standard_normal(x.shape[0])
    assert mr_stft_distance(x, y, SR) < 0.5 * mr_stft_distance(x, noise, SR)


def test_plot_resynthesis_writes_a_png(tmp_path):
    res = resynthesise(tiny_audio_rnn(), _tone(3200), seed=0, peers=("lpc_vocoder",))
    assert sorted(res.outputs) == ["lpc_vocoder", "model"]
    out = plot_resynthesis(res, tmp_path / "spec.png", title="t")
    assert out.read_bytes()[:4] == b"\x89PNG" and out.stat().st_size > 10_000
    with pytest.raises(OutputError):
        plot_resynthesis(res, out, overwrite=False)
