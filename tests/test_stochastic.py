"""The stochastic RNN (SRNN): the bound, the cell protocol, its family and the trainer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.distributions import MultivariateNormal, kl_divergence

from dsp_rnn.cells import SRNN, SRNNConfig, gaussian_kl
from dsp_rnn.compare.srnn_task import (
    SequenceCorpus,
    SRNNTask,
    evaluate_bound,
    sample_linear_gaussian,
)
from dsp_rnn.errors import CheckpointError, InputError, ShapeError
from dsp_rnn.filters import LinearGaussian, kalman_filter
from dsp_rnn.training import (
    STATE_FILE,
    TrainConfig,
    evaluate_model,
    generate,
    load_model,
    save_model,
    train,
)
from dsp_rnn.training.checkpoint import load_tensors

from .conftest import rel_err

pytestmark = pytest.mark.usefixtures("one_thread")

F64 = torch.float64
LINEAR = SRNNConfig(observation_size=2, latent_size=2, inference_size=4, linear=True)
NONLINEAR = SRNNConfig(observation_size=5, latent_size=3, hidden_size=4, inference_size=4,
                       mlp_size=8, emission="bernoulli")  # fmt: skip


def _system() -> LinearGaussian:
    th = 0.3
    A = 0.9 * torch.tensor([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    return LinearGaussian(A=A.float(), C=torch.tensor([[1.0, 0.5], [-0.3, 1.0]]),
                          Q=torch.diag(torch.tensor([0.1, 0.2])),
                          R=torch.diag(torch.tensor([0.3, 0.2])), m0=torch.zeros(2),
                          P0=torch.eye(2))  # fmt: skip


def _perturbed(config: SRNNConfig, seed: int, scale: float = 0.3) -> SRNN:
    torch.manual_seed(seed)
    cell = SRNN(config).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(scale * torch.randn_like(p))
    return cell


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_elbo_is_below_the_exact_kalman_log_likelihood_for_any_parameters(seed):
    cell = _perturbed(SRNNConfig(observation_size=2, latent_size=3, linear=True), seed)
    x = torch.randn(4, 25, 2, dtype=F64)
    model, b, d = cell.to_linear_gaussian()
    exact = kalman_filter(x, model, transition_offsets=b, observation_offsets=d).log_likelihood
    with torch.no_grad():
        draws = torch.stack([cell.elbo(x) for _ in range(64)])  # (64, 4)
    mean, err = draws.mean(0), draws.std(0) / 8
    assert bool((mean + 4 * err < exact).all()), (mean, err, exact)


def test_gaussian_kl_equals_torch_for_full_and_diagonal_scales():
    torch.manual_seed(0)
    mq, mp = torch.randn(5, 3, dtype=F64), torch.randn(5, 3, dtype=F64)
    lq = torch.tril(torch.randn(5, 3, 3, dtype=F64), -1) + torch.diag_embed(
        torch.rand(5, 3, dtype=F64) + 0.5)  # fmt: skip
    sq, sp = torch.rand(5, 3, dtype=F64) + 0.5, torch.rand(5, 3, dtype=F64) + 0.5
    ref = kl_divergence(MultivariateNormal(mq, scale_tril=lq),
                        MultivariateNormal(mp, scale_tril=torch.diag_embed(sp)))  # fmt: skip
    assert rel_err(gaussian_kl(mq, lq, mp, sp), ref) < 1e-12
    ref = kl_divergence(MultivariateNormal(mq, scale_tril=torch.diag_embed(sq)),
                        MultivariateNormal(mp, scale_tril=torch.diag_embed(sp)))  # fmt: skip
    assert rel_err(gaussian_kl(mq, sq, mp, sp), ref) < 1e-12


@pytest.mark.parametrize("config", [LINEAR, NONLINEAR], ids=["linear", "nonlinear"])
def test_steps_and_blocks_equal_one_shot_for_the_same_noise(config):
    cell = _perturbed(config, 3)
    x = (torch.rand(3, 12, config.observation_size, dtype=F64) < 0.4).to(F64)
    u, noise = cell.inputs(x), torch.randn(3, 12, config.latent_size, dtype=F64)
    y, (d, z) = cell(u, noise=noise)
    y1, s1 = cell(u[:, :5], cell.initial_state(3), noise=noise[:, :5])
    y2, (d2, z2) = cell(u[:, 5:], s1, noise=noise[:, 5:])
    assert rel_err(torch.cat([y1, y2], 1), y) < 1e-13 and rel_err(z2, z) < 1e-13
    ys, s = [], None
    for t in range(12):
        y_t, s = cell.step(u[:, t], s, noise=noise[:, t])
        ys.append(y_t)
    assert rel_err(torch.stack(ys, 1), y) < 1e-13 and rel_err(s[1], z) < 1e-13
    if config.hidden_size:
        assert rel_err(d2, d) < 1e-13
    if config.emission == "bernoulli":
        assert bool(((y > 0) & (y < 1)).all())


def test_a_padded_row_has_the_bound_of_its_own_length_and_previous_counts():
    cell = _perturbed(NONLINEAR, 4)
    x = (torch.rand(2, 9, 5, dtype=F64) < 0.3).to(F64)
    noise = torch.randn(2, 9, 3, dtype=F64)
    mask = torch.tensor([[True] * 9, [True] * 6 + [False] * 3])
    both = cell.elbo(x, mask=mask, noise=noise)
    alone = cell.elbo(x[1:, :6], noise=noise[1:, :6])
    assert rel_err(both[1], alone[0]) < 1e-13
    # a window of a longer sequence: its previous observation and state carry on
    head = cell.elbo(x[:1, :4], noise=noise[:1, :4])
    _, state = cell(cell.inputs(x[:1, :4]), noise=noise[:1, :4])
    assert torch.isfinite(cell.elbo(x[:1, 4:], state, previous=x[:1, 3], noise=noise[:1, 4:]))
    assert torch.isfinite(head).all()


def test_bad_configs_and_shapes_are_typed_errors():
    with pytest.raises(InputError, match="emission"):
        SRNNConfig(observation_size=2, emission="poisson")
    with pytest.raises(InputError, match="latent_size"):
        SRNNConfig(observation_size=2, latent_size=0)
    with pytest.raises(InputError, match="unknown settings"):
        SRNNConfig.from_dict({"observation_size": 2, "colour": 1})
    cell = SRNN(LINEAR)
    with pytest.raises(ShapeError, match="expected x of shape"):
        cell.elbo(torch.zeros(2, 5, 3))
    with pytest.raises(ShapeError, match="noise"):
        cell(torch.zeros(2, 5, 2), noise=torch.zeros(2, 4, 2))
    with pytest.raises(ShapeError, match="mask"):
        cell.elbo(torch.zeros(2, 5, 2), mask=torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(InputError, match="linear Gaussian"):
        SRNN(NONLINEAR).to_linear_gaussian()


def _lgssm_task() -> SRNNTask:
    gen = torch.Generator().manual_seed(0)
    data = sample_linear_gaussian(_system(), 48, 40, generator=gen)
    return SRNNTask(LINEAR, SequenceCorpus.from_arrays(data[:40], data[40:]))


def _tc(**kw) -> TrainConfig:
    base = dict(batch_size=8, window=40, lr=2e-2, checkpoint_every=10, progress=False, seed=1,
                checkpoint_minutes=None, patience=100, clip_grad_norm=5.0)  # fmt: skip
    return TrainConfig(**(base | kw))


def _metrics(run) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_training_through_the_trainer_tightens_the_bound_and_resumes_exactly(tmp_path):
    task = _lgssm_task()
    untrained = evaluate_bound(task.build(), task.corpus.valid)["nll_bound_per_step"]
    train(task, tmp_path / "a", _tc(steps=40))
    model, meta = load_model(tmp_path / "a")
    assert meta["family"] == "srnn" and isinstance(model, SRNN)
    best = evaluate_bound(model, task.corpus.valid)["nll_bound_per_step"]
    assert best < untrained - 0.5, (untrained, best)
    rows = _metrics(tmp_path / "a")
    assert rows[-1]["valid_nll_bound"] < rows[0]["valid_nll_bound"]
    # stopped at step 20 (a checkpoint), resumed: the same weights as the run that went on
    train(task, tmp_path / "b", _tc(steps=20))
    out = train(task, tmp_path / "b", _tc(steps=40), resume=True)
    assert out["resumed_from"] == 20 and out["steps"] == 40
    a, _ = load_tensors(tmp_path / "a" / STATE_FILE)
    b, _ = load_tensors(tmp_path / "b" / STATE_FILE)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the run's exact Kalman twin bounds its ELBO from above
    lg, tb, ob = model.to_linear_gaussian()
    valid = torch.from_numpy(np.stack(task.corpus.valid))
    exact = kalman_filter(valid, lg, transition_offsets=tb, observation_offsets=ob)
    exact_per_step = -float(exact.log_likelihood.sum()) / valid[..., 0].numel()
    assert exact_per_step < best


def test_family_saves_loads_evaluates_and_generates(tmp_path):
    torch.manual_seed(0)
    model = SRNN(LINEAR)
    save_model(tmp_path / "m", model, {"note": "x"})
    loaded, meta = load_model(tmp_path / "m")
    assert loaded.config == LINEAR and meta["note"] == "x"
    data = sample_linear_gaussian(_system(), 3, 20, generator=torch.Generator().manual_seed(1))
    np.save(tmp_path / "seqs.npy", data.numpy())
    ev = evaluate_model(tmp_path / "m", tmp_path / "seqs.npy")
    ref = evaluate_bound(loaded, list(data.numpy()), seed=0)["nll_bound_per_step"]
    assert ev.metrics["nll_bound_per_step"] == pytest.approx(ref) and ev.metrics["steps"] == 60
    with pytest.raises(InputError, match=r"\.npy"):
        evaluate_model(tmp_path / "m", None)
    np.save(tmp_path / "bad.npy", np.zeros((2, 5, 3), np.float32))
    with pytest.raises(InputError, match="expected sequences"):
        evaluate_model(tmp_path / "m", tmp_path / "bad.npy")
    with pytest.raises(InputError, match="88 piano keys"):
        generate(tmp_path / "m", tmp_path / "x.mid", steps=4, seed=0)
    piano = SRNN(SRNNConfig(observation_size=88, latent_size=2, hidden_size=4,
                            inference_size=4, mlp_size=8, emission="bernoulli"))  # fmt: skip
    save_model(tmp_path / "p", piano, {})
    made = generate(tmp_path / "p", tmp_path / "p.mid", steps=8, seed=3)
    again = generate(tmp_path / "p", tmp_path / "q.mid", steps=8, seed=3)
    assert made.steps == 8
    assert (tmp_path / "p.mid").read_bytes() == (tmp_path / "q.mid").read_bytes()
    config = json.loads((tmp_path / "p" / "config.json").read_text())
    config["config"]["emission"] = "poisson"
    (tmp_path / "p" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="bad SRNN config"):
        load_model(tmp_path / "p")
    assert again.notes == made.notes


def test_a_bernoulli_model_refuses_real_valued_data_and_reads_jsb():
    real = SequenceCorpus.from_arrays([np.full((4, 5), 0.5)], [])
    with pytest.raises(InputError, match="0/1 data"):
        SRNNTask(NONLINEAR, real).check()
    with pytest.raises(InputError, match="observes 2 features"):
        SRNNTask(LINEAR, SequenceCorpus.from_arrays([np.zeros((4, 3))], [])).check()
    jsb = SequenceCorpus.from_jsb()
    assert jsb.binary and jsb.features == {88} and len(jsb.train) == 229
