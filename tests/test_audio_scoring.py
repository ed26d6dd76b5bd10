"""Bits per sample on one variable: every row's distribution over the signal's mu-law codes
sums to one, the plain model's score is its own cross-entropy, an LPC model's is the mass
of its excitation density moved by the prediction, and the linear twin's is a Laplace law
integrated over the codes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dsp_rnn.audio import AudioCorpus, FeatureConfig, evaluate_nll, mu_law_codes
from dsp_rnn.audio.scoring import (
    UNIFORM_MIX,
    _code_probability_lpc,
    _laplace_mass,
    code_edges,
    linear_twin_nll,
    signal_code_nll,
)
from dsp_rnn.errors import InputError
from dsp_rnn.music import write_audio
from tests.conftest import tiny_audio_rnn

SR = 16000


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scoring")
    t = np.arange(int(0.6 * SR)) / SR
    rng = np.random.default_rng(0)
    for i, f_hz in enumerate((180.0, 330.0)):
        x = 0.3 * np.sin(2 * np.pi * f_hz * t) + 0.02 * rng.standard_normal(t.shape)
        write_audio(folder / f"tone{i}.wav", x.astype(np.float32), sample_rate=SR)
    corpus = AudioCorpus.from_folder(folder, FeatureConfig(), valid_fraction=0.0,
                                     cache_dir=folder / "cache")  # fmt: skip
    return corpus.train


def test_code_edges_hold_each_codes_values():
    edges = code_edges(8)
    x = torch.linspace(-1.5, 1.5, 20001, dtype=torch.float64)
    codes = mu_law_codes(x, 8).numpy()
    inside = (edges[codes] <= x.numpy()) & (x.numpy() <= edges[codes + 1])
    assert inside.all()
    assert np.all(np.diff(edges) > 0)
    finite = code_edges(8, outer=1.0)
    assert finite[0] == -1.0 and finite[-1] == 1.0


def test_lpc_code_probabilities_sum_to_one_over_the_signal_codes():
    torch.manual_seed(0)
    logits = 3.0 * torch.randn(2, 5, 256)
    pred = torch.tensor([[-0.9, -0.2, 0.0, 0.31, 0.95], [0.5, -0.5, 0.01, 0.7, -0.03]])
    all_codes = torch.arange(256)
    total = torch.zeros(2, 5, dtype=torch.float64)
    for k in all_codes:
        codes = torch.full((2, 5), int(k))
        total += _code_probability_lpc(logits, pred, codes, 8)
    torch.testing.assert_close(total, torch.ones_like(total), atol=1e-12, rtol=0)


def test_an_lpc_point_mass_lands_on_the_signal_code_of_prediction_plus_excitation():
    edges = code_edges(8, outer=1.0)
    j = 200  # one excitation code, all the mass
    logits = torch.full((1, 1, 256), -1e9)
    logits[..., j] = 0.0
    pred = torch.tensor([[-0.25]])
    e_mid = 0.5 * (edges[j] + edges[j + 1])
    code = int(mu_law_codes(torch.tensor(-0.25 + e_mid, dtype=torch.float64), 8))
    prob = _code_probability_lpc(logits, pred, torch.tensor([[code]]), 8)
    assert 0.0 < float(prob) <= 1.0
    # the mass of the codes around it adds to one
    around = sum(float(_code_probability_lpc(logits, pred, torch.tensor([[k]]), 8))
                 for k in range(code - 3, code + 4))  # fmt: skip
    assert around == pytest.approx(1.0, abs=1e-12)


def test_laplace_mass_sums_to_one_and_matches_the_cdf():
    edges = torch.from_numpy(code_edges(8))
    loc = torch.tensor(0.137, dtype=torch.float64)
    scale = torch.tensor(0.02, dtype=torch.float64)
    mass = _laplace_mass(edges[:-1], edges[1:], loc, scale)
    assert float(mass.sum()) == pytest.approx(1.0, abs=1e-12)
    law = torch.distributions.Laplace(loc, scale)
    lo, hi = edges[100], edges[101]
    assert float(mass[100]) == pytest.approx(float(law.cdf(hi) - law.cdf(lo)), rel=1e-9)
    # far in a tail the mass is kept where a difference of CDFs would round to zero
    far = _laplace_mass(torch.tensor([0.9]), torch.tensor([0.95]), loc, scale)
    assert 0.0 < float(far) < 1e-15


def test_the_plain_models_score_is_its_cross_entropy(items):
    model = tiny_audio_rnn(lpc=False)
    ours = signal_code_nll(model, items)
    own = evaluate_nll(model, items)
    assert ours["samples"] == own["samples"] and ours["files"] == own["files"] == 2
    # the uniform mix changes each sample's bits by at most log2(1 + mix * 256 ...) ~ 1e-6
    assert ours["nll_bits_per_sample"] == pytest.approx(own["nll_bits_per_sample"], abs=2e-5)


def test_an_lpc_model_is_scored_on_the_signal_not_on_its_excitation(items):
    model = tiny_audio_rnn(lpc=True)
    ours = signal_code_nll(model, items)
    own = evaluate_nll(model, items)
    assert ours["samples"] == own["samples"]
    assert math.isfinite(ours["nll_bits_per_sample"])
    assert 0.0 < ours["nll_bits_per_sample"] < -math.log2(UNIFORM_MIX / 256)
    assert ours["nll_bits_per_sample"] != pytest.approx(own["nll_bits_per_sample"], abs=1e-3)


def test_blocks_and_budget_equal_one_pass(items):
    model = tiny_audio_rnn(lpc=True)
    whole = signal_code_nll(model, items[:1])
    cut = signal_code_nll(model, items[:1], max_seconds=0.3)
    assert cut["samples"] == int(0.3 * SR)
    assert whole["samples"] == items[0].n_samples
    with pytest.raises(InputError, match="max_seconds"):
        signal_code_nll(model, items, max_seconds=0.0)


def test_the_linear_twin_scores_tones_well_and_counts_every_sample(items):
    row = linear_twin_nll(items, FeatureConfig())
    assert row["samples"] == sum(it.n_samples for it in items)
    assert 0.0 < row["nll_bits_per_sample"] < 8.0  # better than uniform on a predictable tone
    cut = linear_twin_nll(items, FeatureConfig(), max_seconds=0.25)
    assert cut["samples"] == 4000 and cut["files"] == 1
