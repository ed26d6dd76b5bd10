"""The frame tier: vectors and normalisation round trips, causality, blocks == one shot,
overfitting a short feature sequence, seeded sampling into features the vocoder renders,
and typed errors."""

from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np
import pytest
import scipy.signal
import torch

from dsp_rnn.audio import (
    FeatureConfig,
    Features,
    FrameStats,
    FrameTier,
    FrameTierConfig,
    features,
    features_from_vectors,
    fit_frame_tier,
    fit_normalisation,
    frame_vectors,
    lpc_from_band_energy,
    vocode,
)
from dsp_rnn.errors import InputError, NonFiniteError, ShapeError

SR = 16000
D = FeatureConfig().n_bands + 3


@cache
def _glide() -> Features:
    """Features of a synthetic vowel: pulses gliding 110 -> 190 Hz through three formants,
    with a rising then falling level (0.4 s, 40 frames)."""
    n = int(0.4 * SR)
    f0_hz = np.linspace(110.0, 190.0, n)
    phase = np.cumsum(f0_hz / SR)
    pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64)
    poles = []
    for f_hz, bw_hz in ((700, 130), (1220, 150), (2600, 250)):
        r, w = np.exp(-np.pi * bw_hz / SR), 2 * np.pi * f_hz / SR
        poles += [r * np.exp(1j * w), r * np.exp(-1j * w)]
    x = scipy.signal.lfilter([1.0], np.real(np.poly(poles)), pulses)
    x *= np.hanning(n) ** 0.5
    return features(0.5 * x / np.abs(x).max(), SR)


def _tier(seed: int = 0, hidden: int = 16, layers: int = 1) -> FrameTier:
    torch.manual_seed(seed)
    return FrameTier(FrameTierConfig(hidden=hidden, layers=layers), fit_normalisation([_glide()]))


def _batch() -> torch.Tensor:
    return torch.from_numpy(frame_vectors(_glide())).float()[None]  # (1, T, D)


# ------------------------------------------------------------------ vectors, normalisation
def test_vectors_round_trip_to_the_same_features():
    f = _glide()
    v = frame_vectors(f)
    assert v.shape == (f.n_frames, D)
    np.testing.assert_allclose(np.exp(v[:, -3]), f.f0_hz, rtol=1e-6)
    g = features_from_vectors(v, f.config, n_samples=f.n_samples)
    assert g.n_samples == f.n_samples and g.n_frames == f.n_frames
    np.testing.assert_array_equal(g.cepstrum, f.cepstrum)
    np.testing.assert_allclose(g.f0_hz, f.f0_hz, rtol=1e-6)
    np.testing.assert_array_equal(g.periodicity, f.periodicity)
    np.testing.assert_array_equal(g.energy_db, f.energy_db)
    np.testing.assert_allclose(g.band_energy_db, f.band_energy_db, atol=1e-3)
    np.testing.assert_array_equal(g.band_hz, f.band_hz)
    # the predictor is the feature layer's own, from the (round-tripped) band envelope
    ref = lpc_from_band_energy(g.band_energy_db, f.config)
    np.testing.assert_array_equal(g.lpc, ref.a)
    np.testing.assert_array_equal(g.residual_power, ref.error)
    np.testing.assert_allclose(g.lpc, f.lpc, atol=1e-3)
    np.testing.assert_allclose(g.residual_power, f.residual_power, rtol=1e-3)


def test_vectors_are_clamped_to_the_feature_ranges():
    cfg = FeatureConfig()
    v = np.zeros((3, D))
    v[:, -3] = np.log([10.0, 200.0, 5000.0])
    v[:, -2] = [-0.5, 0.5, 1.5]
    f = features_from_vectors(v, cfg)
    np.testing.assert_allclose(f.f0_hz, [cfg.f0_min_hz, 200.0, cfg.f0_max_hz], rtol=1e-6)
    np.testing.assert_array_equal(f.periodicity, [0.0, 0.5, 1.0])
    assert f.n_samples == 3 * cfg.hop_samples


def test_normalisation_round_trip_and_statistics():
    f = _glide()
    stats = fit_normalisation([f, f])
    v = frame_vectors(f)
    np.testing.assert_allclose(stats.mean, v.mean(0))
    np.testing.assert_allclose(stats.std, np.maximum(v.std(0), 1e-3))
    tier = FrameTier(FrameTierConfig(hidden=4)).double()
    tier.set_normalisation(stats)  # after .double(): the buffers keep float64 statistics
    x = tier.normalise(torch.from_numpy(v))
    np.testing.assert_allclose(x.mean(0).numpy(), 0.0, atol=1e-9)
    varying = v.std(0) > 1e-3
    np.testing.assert_allclose(x.std(0, unbiased=False).numpy()[varying], 1.0, rtol=1e-9)
    np.testing.assert_allclose(tier.denormalise(x).numpy(), v, rtol=1e-12, atol=1e-12)
    # the statistics are buffers: they travel with the state_dict
    other = FrameTier(FrameTierConfig(hidden=4)).double()
    other.load_state_dict(tier.state_dict())
    torch.testing.assert_close(other.mean, tier.mean)
    torch.testing.assert_close(other.std, tier.std)


# ------------------------------------------------------------------------- the protocol
@pytest.mark.parametrize("layers", [1, 2])
def test_params_at_frame_t_see_only_earlier_frames(layers):
    tier = _tier(layers=layers)
    x = _batch()
    params, _ = tier(x)
    assert params.mean.shape == params.log_std.shape == x.shape
    t = 17
    y = x.clone()
    y[:, t:] += torch.randn(y[:, t:].shape, generator=torch.Generator().manual_seed(1)) * 5.0
    changed, _ = tier(y)
    torch.testing.assert_close(changed.mean[:, : t + 1], params.mean[:, : t + 1])
    torch.testing.assert_close(changed.log_std[:, : t + 1], params.log_std[:, : t + 1])
    assert not torch.allclose(changed.mean[:, t + 1 :], params.mean[:, t + 1 :])


@pytest.mark.parametrize("layers", [1, 2])
def test_blocks_with_state_equal_one_shot(layers):
    tier = _tier(layers=layers).double()
    x = torch.cat([_batch(), _batch().flip(1)]).double()  # batch of two
    whole, end = tier(x)
    parts, state = [], None
    for block in torch.split(x, [7, 1, 20, x.shape[1] - 28], dim=1):
        params, state = tier(block, state)
        parts.append(params)
    torch.testing.assert_close(torch.cat([p.mean for p in parts], 1), whole.mean)
    torch.testing.assert_close(torch.cat([p.log_std for p in parts], 1), whole.log_std)
    torch.testing.assert_close(state.hidden, end.hidden)
    torch.testing.assert_close(state.previous, end.previous)
    nll = torch.cat([tier.nll(x[:, :9]), tier.nll(x[:, 9:], tier(x[:, :9])[1])], 1)
    torch.testing.assert_close(nll, tier.nll(x))


def test_nll_is_the_gaussian_density_of_the_normalised_frame():
    tier = _tier().double()
    x = _batch().double()
    params, _ = tier(x)
    dist = torch.distributions.Normal(params.mean, params.log_std.exp())
    expected = -dist.log_prob(tier.normalise(x)).sum(-1)
    torch.testing.assert_close(tier.nll(x), expected)
    assert bool((params.log_std >= tier.config.min_log_std).all())


def test_a_tiny_tier_overfits_a_short_feature_sequence():
    tier = _tier(seed=3)
    x = _batch()
    opt = torch.optim.Adam(tier.parameters(), lr=1e-2)
    initial = float(tier.nll(x).mean().detach())
    for _ in range(40):
        loss = tier.nll(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    final = float(tier.nll(x).mean().detach())
    # at rest the tier predicts ~N(0, 1) per dimension: ~D * 1.42 nats a frame
    assert initial > 0.8 * D
    assert final < initial - 0.8 * D, (initial, final)


def test_fit_frame_tier_lowers_the_loss_and_is_seeded():
    f = _glide()
    fit = fit_frame_tier([f], steps=30, seed=5, config=FrameTierConfig(hidden=12),
                         window_frames=24, batch_size=4)  # fmt: skip
    assert len(fit.losses) == 30 and not fit.tier.training
    assert np.mean(fit.losses[-5:]) < np.mean(fit.losses[:5]) - 0.5 * D
    again = fit_frame_tier([f], steps=30, seed=5, config=FrameTierConfig(hidden=12),
                           window_frames=24, batch_size=4)  # fmt: skip
    assert again.losses == fit.losses
    torch.testing.assert_close(fit.tier.mean, torch.from_numpy(frame_vectors(f).mean(0)).float())


# ----------------------------------------------------------------------------- sampling
def test_sampling_is_seeded_and_gives_features_the_vocoder_renders():
    tier = _tier()
    f1, s1 = tier.sample(12, temperature=0.7, seed=4)
    f2, s2 = tier.sample(12, temperature=0.7, seed=4)
    f3, _ = tier.sample(12, temperature=0.7, seed=5)
    for name in ("cepstrum", "f0_hz", "periodicity", "energy_db", "lpc", "residual_power"):
        np.testing.assert_array_equal(getattr(f1, name), getattr(f2, name), err_msg=name)
    assert not np.array_equal(f1.cepstrum, f3.cepstrum)
    torch.testing.assert_close(s1.hidden, s2.hidden)
    cfg = tier.config.features
    assert f1.n_frames == 12 and f1.n_samples == 12 * cfg.hop_samples
    assert f1.lpc.shape == (12, cfg.lpc_order + 1) and np.all(f1.lpc[:, 0] == 1.0)
    assert np.all((f1.f0_hz >= cfg.f0_min_hz) & (f1.f0_hz <= cfg.f0_max_hz))
    assert np.all((f1.periodicity >= 0) & (f1.periodicity <= 1))
    y = vocode(f1)
    assert y.shape == (12 * cfg.hop_samples,) and bool(torch.isfinite(y).all())
    assert float(y.abs().max()) > 0.0


def test_sampling_continues_a_state_and_temperature_zero_follows_the_mean():
    tier = _tier().double()
    x = _batch().double()
    params, state = tier(x[:, :10])
    v, _ = tier.sample_vectors(1, temperature=0.0, seed=0, state=state)
    nxt, _ = tier(x[:, 10:11], state)
    np.testing.assert_allclose(v[0], tier.denormalise(nxt.mean[0, 0]).detach().numpy(), rtol=1e-10)
    # drawing in two calls with the returned state equals one call at temperature 0
    a, sa = tier.sample_vectors(3, temperature=0.0)
    b, _ = tier.sample_vectors(2, temperature=0.0, state=sa)
    both, _ = tier.sample_vectors(5, temperature=0.0)
    np.testing.assert_allclose(np.concatenate([a, b]), both, rtol=1e-10)


# ------------------------------------------------------------------------------- errors
def test_typed_errors():
    tier = _tier()
    with pytest.raises(ShapeError, match="frames"):
        tier(torch.zeros(1, 4, D + 1))
    with pytest.raises(ShapeError, match="frames"):
        tier(torch.zeros(4, D))
    with pytest.raises(ShapeError, match="frames"):
        tier(torch.zeros(1, 0, D))
    with pytest.raises(NonFiniteError):
        tier(torch.full((1, 2, D), float("nan")))
    with pytest.raises(InputError, match="n_frames"):
        tier.sample(0)
    with pytest.raises(InputError, match="temperature"):
        tier.sample(2, temperature=-1.0)
    with pytest.raises(InputError, match="seed"):
        tier.sample(2, seed=-1)
    with pytest.raises(InputError, match="layers"):
        FrameTierConfig(layers=3)
    with pytest.raises(InputError, match="hidden"):
        FrameTierConfig(hidden=0)
    with pytest.raises(InputError, match="min_log_std"):
        FrameTierConfig(min_log_std=0.0)
    with pytest.raises(InputError, match="features_list"):
        fit_normalisation([])
    other = dataclasses.replace(_glide(), config=FeatureConfig(hop_ms=5.0))
    with pytest.raises(InputError, match="features_list"):
        fit_normalisation([_glide(), other])
    with pytest.raises(ShapeError, match="stats"):
        tier.set_normalisation(FrameStats(np.zeros(3), np.ones(3)))
    with pytest.raises(InputError, match="std"):
        tier.set_normalisation(FrameStats(np.zeros(D), np.zeros(D)))
    with pytest.raises(ShapeError, match="vectors"):
        features_from_vectors(np.zeros((0, D)))
    with pytest.raises(InputError, match="n_samples"):
        features_from_vectors(np.zeros((3, D)), n_samples=10_000)
    with pytest.raises(InputError, match="steps"):
        fit_frame_tier([_glide()], steps=0)


def test_save_and_load_round_trip_draw_the_same_frames(tmp_path):
    from dsp_rnn.audio import load_frame_tier, save_frame_tier

    fc = FeatureConfig(n_bands=18, f0_max_hz=600.0)  # a nested config other than the default
    torch.manual_seed(3)
    tier = FrameTier(FrameTierConfig(features=fc, hidden=10, layers=2, min_log_std=-4.0))
    with torch.no_grad():
        tier.mean.uniform_(-1.0, 1.0)
        tier.std.uniform_(0.5, 2.0)
        tier.start.normal_()
    assert save_frame_tier(tmp_path, tier) == tmp_path
    loaded = load_frame_tier(tmp_path)
    assert loaded.config == tier.config and not loaded.training
    for k, v in tier.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v, rtol=0, atol=0)
    want, _ = tier.sample_vectors(12, seed=7)
    got, _ = loaded.sample_vectors(12, seed=7)
    np.testing.assert_array_equal(got, want)
    other, _ = loaded.sample_vectors(12, seed=8)
    assert not np.array_equal(other, want)


def test_a_damaged_or_missing_saved_tier_is_refused(tmp_path):
    import json

    from dsp_rnn.audio import load_frame_tier, save_frame_tier
    from dsp_rnn.errors import CheckpointError

    with pytest.raises(CheckpointError, match="no such frame tier file"):
        load_frame_tier(tmp_path)
    with pytest.raises(CheckpointError, match="no such folder"):
        save_frame_tier(tmp_path / "missing", FrameTier(FrameTierConfig(hidden=4)))
    with pytest.raises(InputError, match="FrameTier"):
        save_frame_tier(tmp_path, torch.nn.Linear(2, 2))  # type: ignore[arg-type]
    save_frame_tier(tmp_path, FrameTier(FrameTierConfig(hidden=4)))
    weights, config = tmp_path / "frame_tier.safetensors", tmp_path / "frame_tier.json"
    good_weights, good_config = weights.read_bytes(), config.read_text()
    weights.write_bytes(good_weights[: len(good_weights) // 2])
    with pytest.raises(CheckpointError, match="frame_tier.safetensors"):
        load_frame_tier(tmp_path)
    weights.write_bytes(good_weights)
    config.write_text(good_config[:-10])
    with pytest.raises(CheckpointError, match="not a readable frame tier config"):
        load_frame_tier(tmp_path)
    doc = json.loads(good_config)
    doc["config"]["hidden"] = 5
    config.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_frame_tier(tmp_path)
    doc["config"]["hidden"] = "wide"
    config.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="bad frame tier config"):
        load_frame_tier(tmp_path)
    doc["config"]["hidden"] = 4
    doc["config"]["features"]["colour"] = 1
    config.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="bad frame tier config"):
        load_frame_tier(tmp_path)
    doc["format_version"] = 99
    config.write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="version 99"):
        load_frame_tier(tmp_path)


def test_a_runaway_tier_samples_finite_frames_near_the_data():
    from dsp_rnn.audio import MAX_NORMALISED

    tier = _tier()
    d = tier.config.vector_size
    with torch.no_grad():  # every prediction: mean 0, log-std about 20 (std 5e8)
        tier.head.weight.zero_()
        tier.head.bias[d:] = 20.0
    vectors, state = tier.sample_vectors(30, seed=0)
    z = tier.normalise(torch.from_numpy(vectors)).numpy()
    assert np.isfinite(vectors).all() and np.abs(z).max() <= MAX_NORMALISED + 1e-4
    assert np.abs(z).max() > MAX_NORMALISED - 1e-4  # the clamp was needed
    assert torch.isfinite(state.previous).all()
