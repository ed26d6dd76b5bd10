"""Frame features: shapes and units, the envelope and the predictor carry the same
information, pitch and periodicity on tones and noise, stability on pathological signals,
resampling, and the per-file cache (content hash + settings, npz without pickle)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from dsp_rnn.audio import (
    FEATURES_VERSION,
    FeatureConfig,
    Features,
    band_energy_from_cepstrum,
    band_filters,
    cached_features,
    feature_cache_key,
    features,
    lpc_from_band_energy,
)
from dsp_rnn.errors import AudioError, InputError, NonFiniteError, ShapeError
from dsp_rnn.music import write_audio

SR = 16000


def _tone(f0_hz: float, seconds: float = 0.5, amplitude: float = 0.5, sr: int = SR):
    t = np.arange(int(seconds * sr)) / sr
    return amplitude * np.sin(2 * np.pi * f0_hz * t)


def _max_root_radius(a: np.ndarray) -> float:
    return max(float(np.abs(np.roots(row)).max(initial=0.0)) for row in a)


def test_shapes_dtypes_and_frame_count():
    x = _tone(220, seconds=0.31)[:4810]  # 30 full hops and 10 samples
    f = features(x, SR)
    assert f.n_frames == 31 and f.n_samples == 4810 and f.hop_samples == 160
    assert f.band_energy_db.shape == f.cepstrum.shape == (31, 20)
    assert f.lpc.shape == (31, 17) and (f.lpc[:, 0] == 1).all()
    for name in ("band_energy_db", "cepstrum", "f0_hz", "periodicity", "energy_db"):
        assert getattr(f, name).dtype == np.float32, name
    assert f.band_hz[0] == 0 and f.band_hz[-1] == SR / 2
    assert (np.diff(f.band_hz) > 0).all()


def test_bands_are_a_partition_of_unity():
    weights, _ = band_filters(SR, 512, 18)
    np.testing.assert_allclose(weights.sum(0), 1.0, atol=1e-12)
    assert (weights >= 0).all()


def test_predictor_and_cepstrum_carry_the_envelope():
    rng = np.random.default_rng(0)
    f = features(0.1 * rng.standard_normal(SR // 4) + _tone(300, 0.25), SR)
    # the predictor is a function of the band envelope alone
    again = lpc_from_band_energy(f.band_energy_db, f.config)
    np.testing.assert_array_equal(again.a, f.lpc)
    np.testing.assert_array_equal(again.error, f.residual_power)
    # and the cepstrum gives the envelope back
    np.testing.assert_allclose(band_energy_from_cepstrum(f.cepstrum), f.band_energy_db, atol=1e-3)


def test_pitch_and_periodicity_of_a_tone_and_of_noise():
    tone = features(_tone(200), SR)
    inner = slice(3, -3)
    np.testing.assert_allclose(np.median(tone.f0_hz[inner]), 200, rtol=0.01)
    assert tone.periodicity[inner].min() > 0.95
    noise = features(0.3 * np.random.default_rng(1).standard_normal(SR // 2), SR)
    assert np.median(noise.periodicity) < 0.4
    assert ((noise.periodicity >= 0) & (noise.periodicity <= 1)).all()


def test_energy_db_of_a_sine():
    f = features(_tone(1000, amplitude=0.5), SR, config=FeatureConfig(preemphasis=0.0))
    np.testing.assert_allclose(f.energy_db[3:-3], 10 * np.log10(0.5**2 / 2), atol=0.2)


@pytest.mark.parametrize(
    "name",
    ["silence", "dc", "sine", "clipped square", "impulse", "white noise"],
)
def test_every_frame_predictor_is_stable_and_finite(name):
    n = SR // 8
    rng = np.random.default_rng(2)
    signal = {
        "silence": np.zeros(n),
        "dc": np.full(n, 0.7),
        "sine": _tone(440, 0.125),
        "clipped square": np.clip(10 * _tone(150, 0.125), -1, 1),
        "impulse": np.eye(1, n, 1000)[0],
        "white noise": rng.uniform(-1, 1, n),
    }[name]
    f = features(signal, SR)
    for field in ("band_energy_db", "cepstrum", "f0_hz", "periodicity", "energy_db", "lpc"):
        assert np.isfinite(getattr(f, field)).all(), field
    assert _max_root_radius(f.lpc) < 0.995


def test_other_rates_are_resampled_to_the_analysis_rate():
    f16 = features(_tone(250, sr=16000), 16000)
    f44 = features(_tone(250, sr=44100), 44100)
    assert f44.n_frames == f16.n_frames and f44.sample_rate == 16000
    np.testing.assert_allclose(np.median(f44.f0_hz[3:-3]), 250, rtol=0.01)
    np.testing.assert_allclose(f44.energy_db[3:-3], f16.energy_db[3:-3], atol=0.3)


def test_arrays_round_trip_without_pickle(tmp_path):
    f = features(_tone(300, 0.1), SR)
    np.savez(tmp_path / "f.npz", **f.arrays())
    with np.load(tmp_path / "f.npz", allow_pickle=False) as data:
        g = Features.from_arrays(data)
    assert g.config == f.config and g.n_samples == f.n_samples
    np.testing.assert_array_equal(g.lpc, f.lpc)
    np.testing.assert_array_equal(g.cepstrum, f.cepstrum)


def test_cache_is_keyed_by_content_and_settings(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    wav = write_audio(tmp_path / "a.wav", torch.from_numpy(_tone(220, 0.2)).float(),
                      sample_rate=SR)  # fmt: skip
    first = cached_features(wav, cache_dir=cache)
    assert len(os.listdir(cache)) == 1
    # a renamed copy hits the same entry: nothing is computed
    copy = tmp_path / "renamed.wav"
    copy.write_bytes(wav.read_bytes())
    import dsp_rnn.audio.cache as cache_module

    def refuse(*args, **kwargs):
        raise AssertionError("computed although cached")

    monkeypatch.setattr(cache_module, "features", refuse)
    hit = cached_features(copy, cache_dir=cache)
    np.testing.assert_array_equal(hit.lpc, first.lpc)
    monkeypatch.undo()
    # other settings, other content: new entries
    cached_features(wav, cache_dir=cache, config=FeatureConfig(n_bands=18))
    write_audio(wav, torch.from_numpy(_tone(330, 0.2)).float(), sample_rate=SR, overwrite=True)
    cached_features(wav, cache_dir=cache)
    assert len(os.listdir(cache)) == 3
    assert all(name.endswith(".npz") for name in os.listdir(cache))


def test_damaged_cache_entry_is_computed_again(tmp_path):
    cache = tmp_path / "cache"
    wav = write_audio(tmp_path / "a.wav", torch.from_numpy(_tone(220, 0.2)).float(),
                      sample_rate=SR)  # fmt: skip
    want = cached_features(wav, cache_dir=cache)
    (entry,) = cache.iterdir()
    entry.write_bytes(b"not an npz")
    got = cached_features(wav, cache_dir=cache)
    np.testing.assert_array_equal(got.lpc, want.lpc)
    with np.load(entry, allow_pickle=False) as data:  # rewritten, readable again
        assert "lpc" in data


def test_cache_key_names_the_version():
    key = feature_cache_key("ab" * 20, FeatureConfig())
    assert len(key) == 40 and FEATURES_VERSION >= 1


def test_typed_errors(tmp_path):
    with pytest.raises(ShapeError):
        features(np.zeros((2, 100)), SR)
    with pytest.raises(ShapeError):
        features(np.zeros(0), SR)
    with pytest.raises(NonFiniteError):
        features(np.array([0.0, np.nan, 0.0]), SR)
    with pytest.raises(InputError, match="sample_rate"):
        features(np.zeros(100), 0)
    with pytest.raises(InputError, match="f0_min_hz"):
        FeatureConfig(f0_min_hz=900)
    with pytest.raises(InputError, match="hop_ms"):
        FeatureConfig(hop_ms=float("nan"))
    with pytest.raises(InputError, match="preemphasis"):
        FeatureConfig(preemphasis=True)
    with pytest.raises(InputError, match="lpc_order"):
        FeatureConfig(lpc_order=400)
    with pytest.raises(AudioError, match="no such file"):
        cached_features(tmp_path / "missing.wav", cache_dir=tmp_path)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    with pytest.raises(AudioError, match="bad.wav"):
        cached_features(bad, cache_dir=tmp_path / "cache")
