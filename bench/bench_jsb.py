"""JSB Chorales: test NLL table, training and sampling throughput, sample statistics.

Side by side in one process, on the same data:
1. test NLL per time step (nats, play over 88 keys) and frame accuracy of the per-note
   marginal baseline and of each model given (default: the shipped default model), next to
   published figures;
2. one epoch of training over JSB train at the default model's size (fresh copy, not saved),
   with 1 and 2 torch threads; sampling 16 bars (median of repeats);
3. statistics of N samples of 16 bars from the default model against the training data:
   notes per step, share of notes in the key implied by the pitch-class histogram, silent
   steps.

Run: python bench/bench_jsb.py [--jsb PATH] [--models RUN ...] [--samples 100] [--skip-epoch]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import torch  # noqa: E402
from _common import machine_line, median_seconds  # noqa: E402

from dsp_rnn.gridrnn.data import grid_to_array, padded_batches, sample_windows  # noqa: E402
from dsp_rnn.gridrnn.model import GridRNN, GridState  # noqa: E402
from dsp_rnn.gridrnn.sampler import sample  # noqa: E402
from dsp_rnn.gridrnn.stats import grid_stats  # noqa: E402
from dsp_rnn.gridrnn.task import evaluate  # noqa: E402
from dsp_rnn.music.jsb import default_jsb_path, load_jsb  # noqa: E402
from dsp_rnn.training import load_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = [("RNN (Boulanger-Lewandowski 2012)", 8.71), ("LSTM (Chung 2014)", 8.67),
             ("GRU (Chung 2014)", 8.54), ("best of Boulanger-Lewandowski 2012", 5.19)]  # fmt: skip


def marginal_nll(train: list[np.ndarray], test: list[np.ndarray]) -> dict:
    """One Bernoulli per key, fitted on train (add-one smoothing)."""
    counts = sum(p[..., 0].sum(0) for p in train).astype(float)
    steps = sum(len(p) for p in train)
    q = (counts + 1) / (steps + 2)
    lp = sum(float((p[..., 0] * np.log(q) + (1 - p[..., 0]) * np.log(1 - q)).sum()) for p in test)
    n = sum(len(p) for p in test)
    return {"nll_per_step": -lp / n, "frame_accuracy": 0.0}


def epoch_seconds(model: GridRNN, train: list[np.ndarray], threads: int) -> tuple[float, int]:
    """Wall time of one epoch (batches of 4 windows of 48 steps) on a fresh copy."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    m = GridRNN(model.config)
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    n = math.ceil(sum(len(p) for p in train) / (4 * 48))
    t0 = time.perf_counter()
    for _ in range(n):
        g, mask, prev, start = sample_windows(train, rng, batch_size=4, window=48)
        grid = m.prepare(torch.from_numpy(g).float(), torch.from_numpy(prev).float())
        logits, _ = m(grid, GridState(None, torch.from_numpy(prev).float(),
                                      torch.from_numpy(start)))  # fmt: skip
        lp = (m.note_log_probs(grid, logits).sum(-1) * torch.from_numpy(mask)).sum()
        opt.zero_grad()
        (-lp / (4 * 48)).backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
    return time.perf_counter() - t0, n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jsb", default=None, help="JSB JSON (default: data/jsb/ in the checkout)")
    parser.add_argument("--models", nargs="*", default=[], help="more run folders to evaluate")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--skip-epoch", action="store_true", help="skip the epoch timing")
    args = parser.parse_args(argv)
    args.jsb = args.jsb or str(default_jsb_path())

    default, meta = load_model("default")
    c = default.config
    train = [grid_to_array(g, low_pitch=21, n_pitches=88) for g in load_jsb(args.jsb, "train")]
    test = [grid_to_array(g, low_pitch=21, n_pitches=88) for g in load_jsb(args.jsb, "test")]
    print(machine_line(("torch", "numpy")))
    print(f"data: {Path(args.jsb).name}, {len(train)} train / {len(test)} test pieces\n")

    torch.set_num_threads(max(args.threads))
    rows = [("per-note marginal (fitted on train)", marginal_nll(train, test), "")]
    for name in ["default", *args.models]:
        model, m = load_model(name)
        size = getattr(model, "members", None)
        name = name if size is None else f"{name} (mixture of {len(size)})"
        label = f"{name}: {model.config.kind} {model.config.time_layers}x" \
                f"{model.config.time_hidden} time" + (
                    f" + {model.config.pitch_layers}x{model.config.pitch_hidden} pitch"
                    if model.config.kind == "biaxial" else "")  # fmt: skip
        mins = m.get("training_seconds", 0) / 60
        aug = m.get("train_config", {}).get("transpose", 0)
        rows.append(
            (
                label,
                evaluate(model, test),
                f"{model.count_parameters():,} params, {mins:.0f} min, transpose {aug}",
            )
        )
    print("| model (JSB quarter notes, test) | NLL per step (nats) | frame acc. | notes |")
    print("|---|---|---|---|")
    for label, r, note in rows:
        print(f"| {label} | {r['nll_per_step']:.2f} | {r['frame_accuracy']:.3f} | {note} |")
    for label, nll in PUBLISHED:
        print(f"| {label} (published) | {nll:.2f} | | |")

    print("\n| throughput (default size) | threads | seconds |")
    print("|---|---|---|")
    for threads in args.threads:
        if not args.skip_epoch:
            t, n = epoch_seconds(default, train, threads)
            print(f"| one epoch of JSB train ({n} steps of 4x48) | {threads} | {t:.1f} |")
        torch.set_num_threads(threads)
        bars16 = 16 * 4 * c.steps_per_quarter
        t = median_seconds(lambda: sample(default, bars16, seed=1), repeats=args.repeats,
                           warmup=1)  # fmt: skip
        print(f"| sample 16 bars ({bars16} steps) | {threads} | {t:.2f} |")

    torch.set_num_threads(max(args.threads))
    t0 = time.perf_counter()
    grids = sample(default, 16 * 4 * c.steps_per_quarter, n_samples=args.samples, seed=123)
    t_batch = time.perf_counter() - t0
    s_model = grid_stats([g.play for g in grids])
    s_train = grid_stats([p[..., 0] > 0 for p in train])
    print(f"\n| statistics | JSB train ({s_train['pieces']} pieces) | "
          f"{args.samples} samples x 16 bars (T=1) |")  # fmt: skip
    print("|---|---|---|")
    for key in ("notes_per_step", "in_key_share", "silent_steps"):
        print(f"| {key.replace('_', ' ')} | {s_train[key]:.3f} | {s_model[key]:.3f} |")
    print(f"\n({args.samples} samples drawn as one batch in {t_batch:.1f} s)")
    _ = padded_batches
    return 0


if __name__ == "__main__":
    sys.exit(main())
