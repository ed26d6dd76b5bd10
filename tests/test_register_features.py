"""Absolute-register time features (``GridRNNConfig.register_features``): off by default,
causal, and the same in the likelihood and in the step-by-step sampler."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dsp_rnn.gridrnn import GridRNN, GridRNNConfig, sample
from dsp_rnn.gridrnn.features import (
    REGISTER_SIZE,
    register_features,
    time_feature_size,
    time_features,
)
from tests.test_gridrnn import TINY, random_grid, slow_log_prob

pytestmark = pytest.mark.usefixtures("one_thread")


def test_flag_defaults_off_and_old_configs_load():
    old = GridRNNConfig().to_dict()
    del old["register_features"]  # a config saved before the flag existed
    cfg = GridRNNConfig.from_dict(old)
    assert cfg.register_features is False and cfg == GridRNNConfig()
    assert GridRNN(cfg).n_features == time_feature_size(12, 4) == 79
    on = GridRNN(GridRNNConfig(register_features=True, **TINY))
    assert on.n_features == 79 + REGISTER_SIZE
    assert GridRNNConfig.from_dict(on.config.to_dict()) == on.config


def test_shipped_default_is_unchanged_by_the_flag():
    from dsp_rnn.training import load_model

    model, _ = load_model("default")
    members = getattr(model, "models", [model])
    assert all(m.config.register_features is False for m in members)
    assert all(m.n_features == 79 for m in members)


def test_register_features_values_and_silence():
    play = torch.zeros(2, 88)
    play[0, [30, 45, 60]] = 1.0
    f = register_features(play)  # (2, 88, 6)
    assert f.shape == (2, 88, REGISTER_SIZE)
    torch.testing.assert_close(f[0, 0, :4], torch.tensor([30 / 87, 60 / 87, 45 / 87, 0.0]))
    torch.testing.assert_close(f[0, 50, 4:], torch.tensor([20 / 24, 10 / 24]))
    assert torch.equal(f[0, :, :4], f[0, :1, :4].expand(88, 4))  # same for every note
    assert torch.equal(f[1, 7], torch.tensor([0.0, 0.0, 0.0, 1.0, 0.0, 0.0]))


def test_time_features_keep_the_old_columns_and_are_causal():
    grid = random_grid(1, 2, 6).float()
    kw = dict(low_pitch=21, neighbourhood=12, beat_period=4)
    old = time_features(grid, **kw)
    new = time_features(grid, register=True, **kw)
    assert torch.equal(new[..., :79], old)
    # the register part of step t is that of step t-1 (silence before the first)
    torch.testing.assert_close(new[:, 1:, :, 79:], register_features(grid[:, :-1, :, 0]))
    assert torch.equal(new[:, 0, :, 79:], register_features(torch.zeros(2, 88)))
    # changing step 3 changes nothing at steps <= 3
    other = grid.clone()
    other[:, 3] = 1.0 - other[:, 3]
    assert torch.equal(time_features(other, register=True, **kw)[:, :4], new[:, :4])


@pytest.mark.parametrize("kind", ["biaxial", "time"])
@pytest.mark.parametrize("articulation", [False, True])
def test_log_prob_equals_chain_rule_of_the_sampler_steps(kind, articulation):
    """log_prob of a grid is the sum of the per-step conditionals the sampler uses
    (time_step, then pitch_step key by key), with the register features on."""
    torch.manual_seed(1)
    cfg = GridRNNConfig(kind=kind, articulation=articulation, n_pitches=30, low_pitch=50,
                        beat_period=3, neighbourhood=4, register_features=True,
                        **TINY)  # fmt: skip
    model = GridRNN(cfg).double()
    grid = random_grid(2, 2, 5, 30)
    assert torch.allclose(model.log_prob(grid), slow_log_prob(model, grid), rtol=1e-10,
                          atol=1e-9)  # fmt: skip


@pytest.mark.parametrize("articulation", [False, True])
def test_fast_sampler_equals_the_pitch_step_reference(articulation):
    torch.manual_seed(5)
    model = GridRNN(GridRNNConfig(articulation=articulation, register_features=True, **TINY))
    for kw in ({}, {"min_notes": 1, "max_notes": 2, "candidates": 3}):
        fast = sample(model, 5, n_samples=2, seed=4, fast=True, **kw)
        slow = sample(model, 5, n_samples=2, seed=4, fast=False, **kw)
        assert fast == slow and sum(int(g.play.sum()) for g in fast) > 0


def test_train_cli_flag_writes_the_config(tmp_path):
    from dsp_rnn.cli import main
    from dsp_rnn.training import load_model

    rng = np.random.default_rng(1)
    piece = lambda n: [sorted(set(rng.integers(55, 68, 3).tolist())) for _ in range(n)]  # noqa: E731
    jsb = tmp_path / "jsb-chorales-quarter.json"
    jsb.write_text(json.dumps({"train": [piece(10)], "valid": [piece(8)], "test": [piece(6)]}))
    common = ["--steps", "1", "--time-hidden", "4", "--pitch-hidden", "4", "--quiet",
              "--threads", "1"]  # fmt: skip
    for flag, expected in (([], False), (["--register-features"], True)):
        out = tmp_path / f"run{int(expected)}"
        assert main(["train", str(jsb), "--out", str(out), *common, *flag]) == 0
        model, _ = load_model(out)
        assert model.config.register_features is expected
