"""Windows that start where pieces start, and fine-tuning from a trained model (--init)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dsp_rnn.cli import main
from dsp_rnn.errors import InputError
from dsp_rnn.gridrnn import GridEnsemble, GridRNN, GridRNNConfig
from dsp_rnn.gridrnn.data import Corpus, sample_windows
from dsp_rnn.gridrnn.task import GridTask
from dsp_rnn.training import TrainConfig, load_model, save_model, train

pytestmark = pytest.mark.usefixtures("one_thread")


def _pieces(n=5, steps=40, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        g = np.zeros((steps, 88, 2), np.uint8)
        g[np.arange(steps), rng.integers(30, 60, steps), 0] = 1
        g[..., 1] = g[..., 0]
        out.append(g)
    return out


def test_start_share_zero_draws_what_uniform_starts_always_drew():
    pieces = _pieces()
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    one = sample_windows(pieces, a, batch_size=16, window=8)
    two = sample_windows(pieces, b, batch_size=16, window=8, start_share=0.0)
    assert all(np.array_equal(x, y) for x, y in zip(one, two, strict=True))
    assert a.bit_generator.state == b.bit_generator.state  # same draws, so old runs resume


def test_start_share_starts_that_share_of_windows_from_silence():
    pieces = _pieces(steps=400)
    _, _, prev, t0 = sample_windows(pieces, np.random.default_rng(0), batch_size=64, window=8,
                                    start_share=1.0)  # fmt: skip
    assert (t0 == 0).all() and not prev.any()
    _, _, _, t0 = sample_windows(pieces, np.random.default_rng(0), batch_size=2000, window=8,
                                 start_share=0.25)  # fmt: skip
    share = float((t0 == 0).mean())  # uniform starts alone: about 1 in 396
    assert 0.22 < share < 0.28, share


@pytest.mark.parametrize("bad", [-0.1, 1.5, True])
def test_start_share_is_checked(bad):
    with pytest.raises(InputError, match="start_share"):
        GridTask(_tiny(), Corpus(_pieces(), [], 4, True, "tiny", []), start_share=bad)


def _tiny(**kw) -> GridRNNConfig:
    sizes = {"time_hidden": 6, "time_layers": 1, "pitch_hidden": 5, "pitch_layers": 1} | kw
    return GridRNNConfig(articulation=True, steps_per_quarter=4, beat_period=16, **sizes)


def test_train_starts_from_the_given_weights(tmp_path):
    config = _tiny()
    torch.manual_seed(5)
    start = GridRNN(config)
    init = {k: v.clone() for k, v in start.state_dict().items()}
    corpus = Corpus(_pieces(), _pieces(2, seed=1), 4, True, "tiny", [])
    tc = TrainConfig(steps=1, batch_size=2, window=8, lr=1e-9, seed=123, progress=False,
                     checkpoint_minutes=None)  # fmt: skip
    train(GridTask(config, corpus, start_share=0.5, init=init), tmp_path / "run", tc)
    model, _ = load_model(tmp_path / "run")
    for k, v in model.state_dict().items():  # one step of a 1e-9 learning rate
        assert torch.allclose(v, init[k], atol=1e-6), k
    fresh = train(GridTask(config, corpus, start_share=0.5), tmp_path / "fresh", tc)  # no init
    assert fresh["steps"] == 1
    other, _ = load_model(tmp_path / "fresh")
    assert not all(torch.allclose(v, init[k], atol=1e-3) for k, v in other.state_dict().items())
    with pytest.raises(InputError, match="init: weights do not fit"):
        train(GridTask(_tiny(time_hidden=7), corpus, init=init), tmp_path / "bad", tc)


def test_cli_init_picks_a_mixture_member_and_says_when_it_must(tmp_path, capsys):
    config = _tiny()
    torch.manual_seed(0)
    save_model(tmp_path / "mix", GridEnsemble.from_models([GridRNN(config), GridRNN(config)]),
               {})  # fmt: skip
    save_model(tmp_path / "one", GridRNN(config), {})
    data = "data/midi"
    base = ["train", data, "--steps", "1", "--batch-size", "2", "--window", "8", "--quiet",
            "--lr", "1e-9", "--start-share", "0.5"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "a"), "--init", str(tmp_path / "mix")]) == 1
    assert "--init-member 0..1" in capsys.readouterr().err
    out = tmp_path / "b"
    assert main([*base, "--out", str(out), "--init", str(tmp_path / "one"),
                 "--init-member", "0"]) == 1  # fmt: skip
    assert "single model, not a mixture" in capsys.readouterr().err
    assert main([*base, "--out", str(out), "--init", str(tmp_path / "mix"),
                 "--init-member", "1"]) == 0  # fmt: skip
    capsys.readouterr()
    mix, _ = load_model(tmp_path / "mix")
    tuned, _ = load_model(out)
    assert tuned.config.time_hidden == 6  # the init model's sizes, not the flags' defaults
    for k, v in tuned.state_dict().items():
        assert torch.allclose(v, mix.members[1].state_dict()[k], atol=1e-6), k
