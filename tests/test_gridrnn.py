"""GridRNN: exact likelihood against a slow reference, features, sampler, overfitting."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.gridrnn import GridRNN, GridRNNConfig, sample
from dsp_rnn.gridrnn.data import Corpus, padded_batches, sample_windows
from dsp_rnn.gridrnn.features import below_features, below_features_at
from dsp_rnn.gridrnn.task import GridTask, evaluate
from dsp_rnn.music.grid import NoteGrid
from dsp_rnn.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = dict(time_hidden=8, time_layers=2, pitch_hidden=6, pitch_layers=2)


def random_grid(seed: int, batch: int, steps: int, pitches: int = 88) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    play = (torch.rand(batch, steps, pitches, generator=g) < 0.08).double()
    onset = play * (torch.rand(batch, steps, pitches, generator=g) < 0.5).double()
    return torch.stack([play, onset], -1)


def slow_log_prob(model: GridRNN, grid: torch.Tensor) -> torch.Tensor:
    """Chain rule one note at a time: time_step, then pitch_step key by key."""
    with torch.no_grad():
        return _slow(model, grid)


def _slow(model: GridRNN, grid: torch.Tensor) -> torch.Tensor:
    grid = model.prepare(grid)
    b, t_len, p, _ = grid.shape
    state = model.begin(b)
    total = [0.0] * b
    for t in range(t_len):
        h, feats, state = model.time_step(state)
        pitch_state = None
        for n in range(p):
            logit, pitch_state = model.pitch_step(h, feats, grid[:, t], n, pitch_state)
            for i in range(b):
                play, onset = float(grid[i, t, n, 0]), float(grid[i, t, n, 1])
                q = 1 / (1 + math.exp(-float(logit[i, 0].detach())))
                total[i] += math.log(q if play else 1 - q)
                if model.config.articulation and play:
                    r = 1 / (1 + math.exp(-float(logit[i, 1].detach())))
                    total[i] += math.log(r if onset else 1 - r)
        state = model.commit(state, grid[:, t])
    return torch.tensor(total, dtype=torch.float64)


@pytest.mark.parametrize("kind", ["biaxial", "time"])
@pytest.mark.parametrize("articulation", [False, True])
def test_log_prob_equals_slow_reference(kind, articulation):
    torch.manual_seed(1)
    cfg = GridRNNConfig(kind=kind, articulation=articulation, n_pitches=30, low_pitch=50,
                        beat_period=3, neighbourhood=4, **TINY)  # fmt: skip
    model = GridRNN(cfg).double()
    grid = random_grid(2, 2, 5, 30)
    fast = model.log_prob(grid)
    assert torch.allclose(fast, slow_log_prob(model, grid), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("flags", [{"articulation": True}, {"register_features": True}])
def test_windows_with_carried_state_equal_one_pass(flags):
    torch.manual_seed(0)
    model = GridRNN(GridRNNConfig(**flags, **TINY)).double()
    grid = random_grid(3, 2, 9)
    whole = model.log_prob(grid)
    lp1, state = model(grid[:, :4])
    lp2, _ = model(grid[:, 4:], state)
    split = (model.note_log_probs(grid[:, :4], lp1).sum((1, 2))
             + model.note_log_probs(grid[:, 4:], lp2).sum((1, 2)))  # fmt: skip
    assert torch.allclose(whole, split, rtol=1e-12)


def test_batch_item_equals_alone_and_mask_drops_padding():
    torch.manual_seed(0)
    model = GridRNN(GridRNNConfig(**TINY)).double()
    grid = random_grid(4, 3, 6)
    batch = model.log_prob(grid)
    assert torch.allclose(batch[1], model.log_prob(grid[1:2])[0], rtol=1e-12)
    mask = torch.ones(3, 6, dtype=torch.bool)
    mask[0, 4:] = False
    assert torch.allclose(model.log_prob(grid, mask)[0], model.log_prob(grid[:1, :4])[0])


def test_below_features_at_matches_vectorised():
    grid = random_grid(5, 2, 3).float()
    full = below_features(grid, low_pitch=21)
    for n in (0, 1, 7, 12, 13, 60, 87):
        assert torch.equal(below_features_at(grid[:, 1], n, low_pitch=21), full[:, 1, n])


def test_bad_shape_raises_typed_error():
    model = GridRNN(GridRNNConfig(**TINY))
    with pytest.raises(ShapeError, match=r"\(batch, time, 88, 2\)"):
        model(torch.zeros(1, 4, 80, 2))
    with pytest.raises(InputError, match="kind"):
        GridRNNConfig(kind="transformer")


def test_temperature_zero_is_deterministic_and_bounds_hold():
    torch.manual_seed(3)
    model = GridRNN(GridRNNConfig(**TINY))
    a = sample(model, 6, temperature=0.0, seed=1)[0]
    b = sample(model, 6, temperature=0.0, seed=99)[0]
    assert a == b
    c = sample(model, 6, temperature=1.0, seed=1)[0]
    assert c == sample(model, 6, temperature=1.0, seed=1)[0]  # seeded
    bounded = sample(model, 8, n_samples=2, seed=2, min_notes=2, max_notes=3, candidates=4)
    for g in bounded:
        counts = g.play.sum(1)
        assert counts.min() >= 2 and counts.max() <= 3
        assert not (g.onset & ~g.play).any()


@pytest.mark.parametrize("articulation", [False, True])
def test_fast_sampler_equals_the_pitch_step_reference(articulation):
    torch.manual_seed(5)
    model = GridRNN(GridRNNConfig(articulation=articulation, **TINY))
    for kw in ({}, {"min_notes": 1, "max_notes": 2, "candidates": 3}):
        fast = sample(model, 5, n_samples=2, seed=4, fast=True, **kw)
        slow = sample(model, 5, n_samples=2, seed=4, fast=False, **kw)
        assert fast == slow and sum(int(g.play.sum()) for g in fast) > 0


@pytest.mark.parametrize("register_features", [False, True])
def test_sampling_probabilities_match_teacher_forcing(register_features):
    """The state carried step to step gives the logits the whole-sequence pass gives."""
    torch.manual_seed(4)
    model = GridRNN(GridRNNConfig(register_features=register_features, **TINY)).double()
    primer_arr = random_grid(6, 1, 4)[0].numpy() > 0.5
    primer = NoteGrid(primer_arr[..., 0], primer_arr[..., 0], primer_arr[..., 0] * np.uint8(80),
                      steps_per_quarter=1)  # fmt: skip
    (out,) = sample(model, 5, seed=7, primer=primer, temperature=0.8)
    assert out.n_steps == 9 and np.array_equal(out.play[:4], primer.play)
    grid = torch.from_numpy(np.stack([out.play, out.onset], -1)).double()[None]
    # exact chain rule through time_step/pitch_step equals log_prob of the sample
    assert torch.allclose(model.log_prob(grid), slow_log_prob(model, grid), rtol=1e-10)


def test_tiny_model_overfits_one_short_piece(tmp_path):
    rng = np.random.default_rng(0)
    play = np.zeros((16, 24), bool)  # keys 45..68
    for t in range(16):  # a little chord progression
        root = [0, 5, 7, 0][t // 4]
        play[t, [root + 3, root + 7, root + 10]] = True
    play[rng.integers(0, 16, 3), 20] = True
    onset = play & ~np.vstack([np.zeros((1, 24), bool), play[:-1]])
    piece = np.stack([play, onset], -1).astype(np.uint8)
    corpus = Corpus([piece], [], 1, False, "one piece", [])
    cfg = GridRNNConfig(n_pitches=24, low_pitch=45, time_hidden=24, time_layers=1,
                        pitch_hidden=16, pitch_layers=1)  # fmt: skip
    train(GridTask(cfg, corpus), tmp_path / "run", TrainConfig(steps=80, batch_size=1, window=16,
          lr=2e-2, progress=False, checkpoint_every=1000, seed=0))  # fmt: skip
    from dsp_rnn.training import load_model

    model, meta = load_model(tmp_path / "run")
    nll = evaluate(model, [piece])["nll_per_step"]
    assert nll < 0.3, nll  # from ~16.6 nats per step (24 fair coins) at the start
    assert meta["step"] == 80


def test_windows_are_seeded_and_padded_batches_cover_everything():
    pieces = [np.ones((n, 88, 2), np.uint8) for n in (3, 10, 7)]
    a = sample_windows(pieces, np.random.default_rng(5), batch_size=4, window=6, transpose=2)
    b = sample_windows(pieces, np.random.default_rng(5), batch_size=4, window=6, transpose=2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    batches = padded_batches(pieces, max_steps=14)
    assert sorted(i for _, _, idx in batches for i in idx) == [0, 1, 2]
    assert sum(int(m.sum()) for _, m, _ in batches) == 20


# ----------------------------------------------------------------------------- ensembles
def _members(n: int, articulation: bool, kind: str = "biaxial") -> list[GridRNN]:
    out = []
    for seed in range(n):
        torch.manual_seed(10 + seed)
        cfg = GridRNNConfig(kind=kind, articulation=articulation, **TINY)
        out.append(GridRNN(cfg).double().eval())
    return out


@pytest.mark.parametrize("articulation", [False, True])
def test_ensemble_log_prob_is_the_mixture_of_conditionals(articulation):
    from dsp_rnn.gridrnn import GridEnsemble

    members = _members(3, articulation)
    ens = GridEnsemble.from_models(members).double()
    grid = random_grid(3, 2, 6)
    with torch.no_grad():
        g = members[0].prepare(grid)
        probs = [torch.sigmoid(m(g)[0]) for m in members]  # (B, T, P, 2) each
        pp = torch.stack([p[..., 0] for p in probs])  # P_m(play)
        play = g[..., 0]
        ref = torch.log(torch.where(play > 0, pp.mean(0), (1 - pp).mean(0)))
        if articulation:
            po = torch.stack([p[..., 1] for p in probs])  # P_m(onset | play)
            joint = torch.where(g[..., 1] > 0, pp * po, pp * (1 - po)).mean(0)
            ref = torch.where(play > 0, torch.log(joint), ref)
        got = ens.log_prob(grid)
    torch.testing.assert_close(got, ref.sum((1, 2)), rtol=1e-10, atol=1e-10)
    single = GridEnsemble.from_models(members[:1]).double()
    with torch.no_grad():
        torch.testing.assert_close(single.log_prob(grid), members[0].log_prob(grid))


@pytest.mark.parametrize("kind", ["biaxial", "time"])
def test_ensemble_sampler_fast_equals_slow_and_save_load_round_trips(kind, tmp_path):
    from dsp_rnn.gridrnn import GridEnsemble
    from dsp_rnn.training import load_model, save_model

    members = [m.float() for m in _members(2, False, kind)]
    ens = GridEnsemble.from_models(members)
    fast = sample(ens, 4, n_samples=2, seed=2, fast=True)
    slow = sample(ens, 4, n_samples=2, seed=2, fast=False)
    assert fast == slow and sum(int(g.play.sum()) for g in fast) > 0
    save_model(tmp_path / "ens", ens, {"note": "test"})
    loaded, meta = load_model(tmp_path / "ens")
    assert isinstance(loaded, GridEnsemble) and len(loaded.members) == 2
    assert meta["ensemble_size"] == 2
    assert sample(loaded, 4, n_samples=2, seed=2) == fast
    other = GridRNN(GridRNNConfig(time_hidden=4, time_layers=1, pitch_hidden=4, pitch_layers=1))
    with pytest.raises(InputError, match="config differs"):
        GridEnsemble.from_models([members[0], other])


@pytest.mark.parametrize(
    ("name", "value"),
    [("n_pitches", 24), ("low_pitch", 40), ("neighbourhood", 6), ("time_hidden", 8),
     ("output_transpose", -12)],
)  # fmt: skip
def test_config_integers_take_numpy_integers_and_refuse_bools(name, value):
    """numpy integers are stored as Python ints (the config is JSON), bools are refused."""
    cfg = GridRNNConfig(**(TINY | {name: np.int64(value)}))
    assert type(getattr(cfg, name)) is int and cfg == GridRNNConfig(**(TINY | {name: value}))
    json.dumps(cfg.to_dict())
    for flag in (True, np.bool_(True)):
        with pytest.raises(InputError, match=rf"{name}: expected an integer"):
            GridRNNConfig(**(TINY | {name: flag}))


@pytest.mark.parametrize(("name", "value"), [("steps", 3), ("n_samples", 2), ("seed", 5),
                                             ("min_notes", 1), ("candidates", 2)])  # fmt: skip
def test_sample_integers_take_numpy_integers_and_refuse_bools(name, value):
    torch.manual_seed(3)
    model = GridRNN(GridRNNConfig(**TINY))
    kw = {"steps": 3, "seed": 1} | {name: value}
    expected = sample(model, **kw)
    assert sample(model, **(kw | {name: np.int64(value)})) == expected
    for flag in (True, np.bool_(True)):
        with pytest.raises(InputError, match=rf"{name}: expected an integer"):
            sample(model, **(kw | {name: flag}))


def test_task_transpose_is_an_integer_from_0_to_12():
    corpus = Corpus([np.zeros((4, 88, 2), np.uint8)], [], 1, False, "silence", [])
    assert GridTask(GridRNNConfig(**TINY), corpus, transpose=np.int64(3)).transpose == 3
    for bad in (True, 13, 2.0):
        with pytest.raises(InputError, match="transpose: expected an integer 0 <= transpose <= 12"):
            GridTask(GridRNNConfig(**TINY), corpus, transpose=bad)
