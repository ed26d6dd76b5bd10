"""Probabilistic twins: the stochastic RNN (SRNN) against the exact Kalman likelihood and on
JSB Chorales.

Side by side in one process, one torch thread, each model trained through the shared trainer
(dsp_rnn.training.train) into a temporary run folder:
1. linear-Gaussian data (a known 2-state, 2-observation system, dsp_rnn.filters): the exact
   Kalman log-likelihood of the test sequences under the true system, the exact
   log-likelihood of the learned linear SRNN (its Kalman twin) and its ELBO (mean of
   several latent paths), with the gap in percent;
2. JSB Chorales (the shipped quarter-note file): a Bernoulli SRNN trained for a bounded wall
   time, its test bound (negative ELBO, nats per time step) next to the published SRNN
   figure and the exact NLL of the shipped default GridRNN.

Run: python bench/bench_srnn.py [--lg-steps 1500] [--minutes 10] [--skip-linear]
     [--skip-jsb] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402
from _common import machine_line  # noqa: E402

from dsp_rnn.cells import SRNN, SRNNConfig  # noqa: E402
from dsp_rnn.compare.srnn_task import (  # noqa: E402
    SequenceCorpus,
    SRNNTask,
    evaluate_bound,
    jsb_rolls,
    sample_linear_gaussian,
)
from dsp_rnn.filters import LinearGaussian, kalman_filter  # noqa: E402
from dsp_rnn.training import TrainConfig, evaluate_model, load_model, train  # noqa: E402

PUBLISHED_SRNN = 4.74  # Fraccaro et al. 2016, table 2: JSB test ELBO, nats per time step


def true_system() -> LinearGaussian:
    """A damped rotation seen through a mixing matrix, diagonal noises."""
    th = 0.3
    A = 0.95 * torch.tensor([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    return LinearGaussian(A=A, C=torch.tensor([[1.0, 0.5], [-0.3, 1.0]]),
                          Q=torch.diag(torch.tensor([0.1, 0.2])),
                          R=torch.diag(torch.tensor([0.3, 0.2])), m0=torch.zeros(2),
                          P0=torch.eye(2))  # fmt: skip


def linear_gaussian_rows(steps: int, draws: int) -> dict:
    system = true_system()
    gen = torch.Generator().manual_seed(0)
    T = 100
    train_x = sample_linear_gaussian(system, 512, T, generator=gen)
    valid_x = sample_linear_gaussian(system, 64, T, generator=gen)
    test_x = sample_linear_gaussian(system, 256, T, generator=gen)
    config = SRNNConfig(observation_size=2, latent_size=2, inference_size=8, linear=True)
    task = SRNNTask(config, SequenceCorpus.from_arrays(train_x, valid_x))
    tc = TrainConfig(steps=steps, batch_size=32, window=T, lr=1e-2, lr_decay_steps=steps,
                     clip_grad_norm=5.0, patience=10**6, checkpoint_minutes=None,
                     checkpoint_every=10**6, progress=False, seed=0)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train(task, Path(tmp) / "run", tc)
        seconds = time.perf_counter() - t0
        model, _ = load_model(Path(tmp) / "run")
    n = test_x[..., 0].numel()
    exact = float(kalman_filter(test_x, system).log_likelihood.sum()) / n
    lg, tb, ob = model.to_linear_gaussian()
    twin = float(kalman_filter(test_x, lg, transition_offsets=tb,
                               observation_offsets=ob).log_likelihood.sum()) / n  # fmt: skip
    bound = -evaluate_bound(model, list(test_x.numpy()), draws=draws, seed=1)["nll_bound_per_step"]
    return {"exact_loglik_per_step": exact, "learned_model_loglik_per_step": twin,
            "learned_elbo_per_step": bound, "gap_percent": 100 * (exact - bound) / abs(exact),
            "train_steps": steps, "train_seconds": seconds, "test_sequences": 256,
            "steps_per_sequence": T, "parameters": model.count_parameters()}  # fmt: skip


def jsb_rows(minutes: float, draws: int) -> dict:
    torch.set_num_threads(1)  # numba's parallel Kalman kernels leave torch at 2 threads
    config = SRNNConfig(observation_size=88, latent_size=32, hidden_size=128,
                        inference_size=64, mlp_size=128, emission="bernoulli")  # fmt: skip
    task = SRNNTask(config, SequenceCorpus.from_jsb())
    tc = TrainConfig(steps=None, epochs=10**6, batch_size=32, window=64, lr=2e-3,
                     clip_grad_norm=5.0, patience=10**6, max_minutes=minutes,
                     checkpoint_minutes=None, checkpoint_every=10**6, progress=False,
                     seed=0)  # fmt: skip
    test = jsb_rolls(None, "test")
    with tempfile.TemporaryDirectory() as tmp:
        out = train(task, Path(tmp) / "run", tc)
        model, meta = load_model(Path(tmp) / "run")
    assert isinstance(model, SRNN)
    bound = evaluate_bound(model, test, draws=draws, seed=1)
    grid = evaluate_model("default", None, split="test")
    return {"srnn_test_bound_per_step": bound["nll_bound_per_step"],
            "srnn_valid_bound_per_step": out["best_valid_nll_bound"],
            "srnn_train_steps": out["steps"], "srnn_train_minutes": out["seconds"] / 60,
            "srnn_parameters": model.count_parameters(), "srnn_config": config.to_dict(),
            "published_srnn_bound_per_step": PUBLISHED_SRNN,
            "gridrnn_default_test_nll_per_step": grid.metrics["nll_per_step"],
            "test_steps": bound["steps"], "test_pieces": bound["sequences"]}  # fmt: skip


def linear_table(lg: dict, draws: int) -> None:
    print(f"linear-Gaussian system (2 states, 2 observations): {lg['test_sequences']} test "
          f"sequences x {lg['steps_per_sequence']} steps; linear SRNN trained "
          f"{lg['train_steps']} steps ({lg['train_seconds']:.0f} s)\n")  # fmt: skip
    print("| log-likelihood per time step (nats, test) | value | gap to exact |")
    print("|---|---|---|")
    print(f"| exact Kalman, true system | {lg['exact_loglik_per_step']:.4f} | |")
    gap = 100 * (lg["exact_loglik_per_step"] - lg["learned_model_loglik_per_step"])
    print(f"| exact Kalman, learned SRNN's twin | {lg['learned_model_loglik_per_step']:.4f} | "
          f"{gap / abs(lg['exact_loglik_per_step']):.2f}% |")  # fmt: skip
    print(f"| learned SRNN ELBO ({draws} paths) | {lg['learned_elbo_per_step']:.4f} | "
          f"{lg['gap_percent']:.2f}% |")  # fmt: skip


def jsb_table(j: dict) -> None:
    print(f"\nJSB Chorales, quarter notes, test ({j['test_pieces']} pieces, "
          f"{j['test_steps']} steps)\n")  # fmt: skip
    print("| model | nats per time step | kind |")
    print("|---|---|---|")
    print(f"| SRNN, ours ({j['srnn_parameters']:,} params, "
          f"{j['srnn_train_minutes']:.0f} min, {j['srnn_train_steps']} steps, 1 thread) | "
          f"{j['srnn_test_bound_per_step']:.2f} | bound (negative ELBO) |")  # fmt: skip
    print(f"| SRNN, published (Fraccaro et al. 2016) | {PUBLISHED_SRNN:.2f} | bound |")
    print(f"| GridRNN, shipped default | {j['gridrnn_default_test_nll_per_step']:.2f} | "
          "exact NLL |")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lg-steps", type=int, default=1500,
                        help="optimiser steps on the linear-Gaussian data")  # fmt: skip
    parser.add_argument("--minutes", type=float, default=10.0, help="JSB training wall time")
    parser.add_argument("--draws", type=int, default=4, help="latent paths per test sequence")
    parser.add_argument("--skip-linear", action="store_true")
    parser.add_argument("--skip-jsb", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    result: dict = {"machine": machine_line(("torch", "numpy")), "threads": 1}
    if not args.skip_linear:
        result["linear_gaussian"] = linear_gaussian_rows(args.lg_steps, args.draws)
    if not args.skip_jsb:
        result["jsb"] = jsb_rows(args.minutes, args.draws)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(result["machine"] + "; 1 torch thread\n")
    if "linear_gaussian" in result:
        linear_table(result["linear_gaussian"], args.draws)
    if "jsb" in result:
        jsb_table(result["jsb"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
