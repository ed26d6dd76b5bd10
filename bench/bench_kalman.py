"""Kalman filter + RTS smoother: ours (batched) against pykalman, filterpy and torch-kf.

Case: 256 sequences x 1,000 steps of a 4-state, 2-observation constant-velocity tracker
(position and velocity in 2-D, positions observed), float64, every peer on the same data.
Rows: ours without gradient tracking (compiled kernels, sequences in parallel over the
machine's cores, and on one thread): all sequences share ``P0`` and have no missing
values, so the covariance recursion runs once and only the means run per sequence; the
same with a per-sequence ``P0`` (the general path: every sequence's covariances computed);
ours with autograd tracking (the differentiable torch recursion, forward only); torch-kf
(batched torch, ``filter(return_all=True)`` then ``rts_smooth``); pykalman
(``KalmanFilter.smooth``) and filterpy (``batch_filter`` then ``rts_smoother``) looping
over the sequences. Ours also returns the filtered and predicted
moments, the lag-one covariances and the exact log-likelihood; the peers return less.

pykalman and filterpy are slow, so by default they loop over ``--peer-sequences`` (32) and
their time is scaled to 256 (the sequences are independent, so the loop is linear); pass
``--peer-sequences 256`` to run them all. The last columns are the largest absolute
differences of the smoothed means and covariances from ours, over the sequences each ran.

A second table (skip it with ``--no-learn``) fits a 4-state, 1-observation system from
64 sequences x 2,000 steps by EM (300 iterations, then the same run kept going to 2,000)
and by L-BFGS on the exact likelihood (200 iterations), from the same start, and reports
the time and the largest error of the learned spectral factor's magnitude response (dB,
dsp_rnn.compare, 40 dB band).

``--scan`` adds a third table: one sequence of 65,536 steps filtered by our sequential
compiled filter and by a parallel-in-time associative scan (Sarkka & Garcia-Fernandez
2021, written here in batched torch with a Hillis-Steele scan: log2 T levels), to decide
whether a parallel mode pays on this machine.

Run: python bench/bench_kalman.py [--repeats N] [--peer-sequences N] [--quick] [--no-learn]
     [--scan] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# numba's parallel kernels and torch share the OpenMP runtime; with its default (active)
# wait policy, the idle workers of a finished numba kernel spin and slowed every later
# torch row here 6 to 30x on 2 busy cores (torch-kf: 0.8 s before any numba kernel, 15 to
# 24 s after). Passive waiting takes that out of the peers' timings.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, median_seconds  # noqa: E402

from dsp_rnn.compare import compare  # noqa: E402
from dsp_rnn.filters import (  # noqa: E402
    LinearGaussian,
    fit_em,
    fit_gradient,
    kalman_smoother,
    spectral_factor,
)

BATCH, STEPS = 256, 1000


def tracker(dt: float = 0.1, q: float = 0.5, r: float = 0.3) -> dict[str, np.ndarray]:
    """Constant-velocity model: state (x, y, vx, vy), positions observed."""
    A = np.eye(4)
    A[0, 2] = A[1, 3] = dt
    C = np.eye(2, 4)
    g = np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]])
    Q = q * np.kron(g, np.eye(2))
    return dict(A=A, C=C, Q=Q, R=r * np.eye(2), m0=np.zeros(4), P0=np.eye(4))


def simulate(p: dict[str, np.ndarray], batch: int, steps: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lq, lr = np.linalg.cholesky(p["Q"]), np.linalg.cholesky(p["R"])
    x = rng.standard_normal((batch, 4)) @ np.linalg.cholesky(p["P0"]).T
    ys = np.empty((batch, steps, 2))
    for t in range(steps):
        if t:
            x = x @ p["A"].T + rng.standard_normal((batch, 4)) @ lq.T
        ys[:, t] = x @ p["C"].T + rng.standard_normal((batch, 2)) @ lr.T
    return ys


def run_pykalman(p, y):
    from pykalman import KalmanFilter

    kf = KalmanFilter(p["A"], p["C"], p["Q"], p["R"], None, None, p["m0"], p["P0"])
    out = [kf.smooth(y_i) for y_i in y]
    return np.stack([m for m, _ in out]), np.stack([c for _, c in out])


def run_filterpy(p, y):
    from filterpy.kalman import KalmanFilter

    means, covs = [], []
    for y_i in y:
        kf = KalmanFilter(dim_x=4, dim_z=2)
        kf.F, kf.H, kf.Q, kf.R = p["A"], p["C"], p["Q"], p["R"]
        kf.x, kf.P = p["m0"].copy(), p["P0"].copy()
        mu, cov, _, _ = kf.batch_filter(y_i, update_first=True)
        xs, ps, _, _ = kf.rts_smoother(mu, cov)
        means.append(xs)
        covs.append(ps)
    return np.stack(means), np.stack(covs)


def run_torch_kf(p, y: torch.Tensor):
    import torch_kf

    t = {k: torch.tensor(v) for k, v in p.items()}
    kf = torch_kf.KalmanFilter(t["A"], t["C"], t["Q"], t["R"])
    B = y.shape[0]
    with torch.inference_mode():
        prior = torch_kf.GaussianState(
            t["m0"][None, :, None].expand(B, 4, 1).clone(), t["P0"].expand(B, 4, 4).clone()
        )
        filt = kf.filter(prior, y.transpose(0, 1)[..., None], update_first=True, return_all=True)
        sm = kf.rts_smooth(filt)
    return sm.mean[..., 0].transpose(0, 1), sm.covariance.transpose(0, 1)


def scan_filter(y: torch.Tensor, model: LinearGaussian) -> tuple[torch.Tensor, torch.Tensor]:
    """Filtered means and covariances of one sequence ``y (T, m)`` by an associative scan.

    S. Sarkka & A. F. Garcia-Fernandez, "Temporal parallelization of Bayesian smoothers",
    IEEE TAC 66 (2021): each step is an element ``(A, b, C, eta, J)``; the prefix
    combination of elements 0..t gives the filtered mean ``b`` and covariance ``C``.
    """
    A, C, Q, R, m0, P0 = model.A, model.C, model.Q, model.R, model.m0, model.P0
    T, n = y.shape[0], A.shape[0]
    eye = torch.eye(n, dtype=y.dtype)
    S = C @ Q @ C.T + R
    K = torch.linalg.solve(S, C @ Q).T
    IKC = eye - K @ C
    CtSi = torch.linalg.solve(S, C).T
    Ae = (IKC @ A).expand(T, n, n).clone()
    be = y @ K.T
    Ce = (IKC @ Q).expand(T, n, n).clone()
    eta = y @ (A.T @ CtSi).T
    Je = (A.T @ CtSi @ C @ A).expand(T, n, n).clone()
    S1 = C @ P0 @ C.T + R
    K1 = torch.linalg.solve(S1, C @ P0).T
    Ae[0], Ce[0], eta[0], Je[0] = 0, P0 - K1 @ S1 @ K1.T, 0, 0
    be[0] = m0 + K1 @ (y[0] - C @ m0)
    d = 1
    while d < T:
        Ai, bi, Ci, ei, Ji = Ae[:-d], be[:-d], Ce[:-d], eta[:-d], Je[:-d]
        Aj, bj, Cj, ej, Jj = Ae[d:], be[d:], Ce[d:], eta[d:], Je[d:]
        AjM = Aj @ torch.linalg.inv(eye + Ci @ Jj)
        nb = (AjM @ (bi + (Ci @ ej[..., None])[..., 0])[..., None])[..., 0] + bj
        N = Ai.transpose(-1, -2) @ torch.linalg.inv(eye + Jj @ Ci)
        ne = (N @ (ej - (Jj @ bi[..., None])[..., 0])[..., None])[..., 0] + ei
        Ae = torch.cat([Ae[:d], AjM @ Ai])
        be = torch.cat([be[:d], nb])
        Ce = torch.cat([Ce[:d], AjM @ Ci @ Aj.transpose(-1, -2) + Cj])
        eta = torch.cat([eta[:d], ne])
        Je = torch.cat([Je[:d], N @ Jj @ Ai + Ji])
        d *= 2
    return be, Ce


def scan_rows(p: dict[str, np.ndarray], repeats: int) -> list[dict]:
    from dsp_rnn.filters import kalman_filter

    y = torch.tensor(simulate(p, 1, 65536)[0])
    model = LinearGaussian(*(torch.tensor(p[k]) for k in ("A", "C", "Q", "R", "m0", "P0")))
    with torch.inference_mode():
        ref = kalman_filter(y, model)
        mb, cb = scan_filter(y, model)
        t_seq = median_seconds(lambda: kalman_filter(y, model), repeats=repeats)
        t_scan = median_seconds(
            lambda: scan_filter(y, model), repeats=max(1, repeats // 2), warmup=1
        )
    diff = float((mb - ref.means[0]).abs().max() / ref.means.abs().max())
    return [
        {"method": "sequential, compiled", "seconds": t_seq, "max_rel_mean_diff": 0.0},
        {"method": f"associative scan, torch ({torch.get_num_threads()} threads)",
         "seconds": t_scan, "max_rel_mean_diff": diff},
    ]  # fmt: skip


def learning_rows(quick: bool) -> list[dict]:
    """EM and gradient fitting of a 4-state resonant system; time and spectral error."""
    f64 = torch.float64
    poles = [(0.95, 0.1 * np.pi), (0.8, 0.45 * np.pi)]
    den = np.array([1.0])
    for r, th in poles:
        den = np.convolve(den, [1.0, -2 * r * np.cos(th), r * r])
    A = np.zeros((4, 4))
    A[0] = -den[1:]
    A[1:, :3] = np.eye(3)
    Q = np.zeros((4, 4))
    Q[0, 0] = 1.0
    true = LinearGaussian(
        torch.tensor(A, dtype=f64),
        torch.tensor([[1.0, 0.3, -0.2, 0.1]], dtype=f64),
        torch.tensor(Q, dtype=f64) + 1e-6 * torch.eye(4, dtype=f64),
        torch.tensor([[0.5]], dtype=f64),
        torch.zeros(4, dtype=f64),
        torch.eye(4, dtype=f64),
    )
    g = torch.Generator().manual_seed(1)
    B, T = (16, 500) if quick else (64, 2000)
    x = torch.randn(B, 4, generator=g, dtype=f64)
    lq = torch.linalg.cholesky(true.Q)
    ys = []
    for _ in range(T):
        ys.append(x @ true.C.T + 0.5**0.5 * torch.randn(B, 1, generator=g, dtype=f64))
        x = x @ true.A.T + torch.randn(B, 4, generator=g, dtype=f64) @ lq.T
    y = torch.stack(ys, 1)
    start = LinearGaussian(
        0.5 * torch.eye(4, dtype=f64),
        torch.ones(1, 4, dtype=f64),
        torch.eye(4, dtype=f64),
        torch.eye(1, dtype=f64),
        torch.zeros(4, dtype=f64),
        torch.eye(4, dtype=f64),
    )

    def err_db(model: LinearGaussian) -> float:
        c = compare(spectral_factor(model), spectral_factor(true), sample_rate=8000.0, band_db=40)
        return c.mag_diff_db_max

    exact = float(kalman_smoother(y, true).log_likelihood.sum())
    rows = [{"method": "start", "seconds": 0.0, "iterations": 0, "mag_err_db": err_db(start),
             "log_likelihood": float(kalman_smoother(y, start).log_likelihood.sum())}]  # fmt: skip
    learn = ("A", "C", "Q", "R")
    em_more = 2000  # EM is slow on lightly damped poles: the same run, kept going
    runs = (("EM", fit_em, 300, None), ("EM, continued", fit_em, em_more, "EM"),
            ("L-BFGS (Fisher gradient)", fit_gradient, 200, None))  # fmt: skip
    done: dict[str, tuple] = {}  # name -> (fit, iterations, seconds)
    for name, fn, n_iter, after in runs:
        n_iter = n_iter // 4 if quick else n_iter
        fit0, n0, s0 = done[after] if after else (None, 0, 0.0)
        t0 = time.perf_counter()
        fit = fn(y, fit0.model if fit0 else start, n_iter=n_iter - n0, learn=learn)
        seconds = s0 + time.perf_counter() - t0
        done[name] = (fit, n_iter, seconds)
        rows.append({
            "method": name, "seconds": seconds, "iterations": n_iter,
            "mag_err_db": err_db(fit.model), "log_likelihood": float(fit.log_likelihoods[-1]),
        })  # fmt: skip
    rows.append({"method": "true model", "seconds": 0.0, "iterations": 0, "mag_err_db": 0.0,
                 "log_likelihood": exact})  # fmt: skip
    for row in rows:
        row["sequences"], row["steps"] = B, T
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peer-sequences", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="200 steps, 3 repeats")
    parser.add_argument("--no-learn", action="store_true", help="skip the learning table")
    parser.add_argument("--scan", action="store_true", help="time the parallel-in-time scan")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    steps = 200 if args.quick else STEPS
    repeats = 3 if args.quick else args.repeats
    n_peer = max(1, min(args.peer_sequences, BATCH))

    import numba

    p = tracker()
    y_np = simulate(p, BATCH, steps)
    y = torch.tensor(y_np)
    model = LinearGaussian(*(torch.tensor(p[k]) for k in ("A", "C", "Q", "R", "m0", "P0")))
    per_sequence = LinearGaussian(
        model.A, model.C, model.Q, model.R, model.m0, model.P0.expand(BATCH, 4, 4).clone()
    )
    tracked = LinearGaussian(
        *(torch.tensor(p[k]).requires_grad_() for k in ("A", "C", "Q", "R", "m0", "P0"))
    )
    ref = kalman_smoother(y, model)
    threads = numba.get_num_threads()

    def ours() -> object:
        return kalman_smoother(y, model)

    def ours_one_thread() -> object:
        numba.set_num_threads(1)
        try:
            return kalman_smoother(y, model)
        finally:
            numba.set_num_threads(threads)

    def ours_general() -> object:
        return kalman_smoother(y, per_sequence)

    def ours_autograd() -> object:
        return kalman_smoother(y, tracked)

    rows: list[dict] = []

    def add(name: str, seconds: float, means=None, covs=None, n: int = BATCH) -> None:
        row = {"method": name, "seconds": seconds * BATCH / n, "sequences_run": n}
        if means is not None:
            row["max_mean_diff"] = float(np.abs(np.asarray(means) - ref.means[:n].numpy()).max())
            row["max_cov_diff"] = float(
                np.abs(np.asarray(covs) - ref.covariances[:n].numpy()).max()
            )
        rows.append(row)

    add(f"ours, compiled ({threads} threads)", median_seconds(ours, repeats=repeats))
    add("ours, compiled (1 thread)", median_seconds(ours_one_thread, repeats=repeats))
    general = kalman_smoother(y, per_sequence)
    add(
        f"ours, compiled, per-sequence P0 ({threads} threads)",
        median_seconds(ours_general, repeats=repeats),
        general.means,
        general.covariances,
    )
    auto = kalman_smoother(y, tracked)
    add(
        "ours, autograd path (forward)",
        median_seconds(ours_autograd, repeats=1, warmup=0),
        auto.means.detach(),
        auto.covariances.detach(),
    )
    tm, tc = run_torch_kf(p, y)
    add(
        f"torch-kf (batched, {torch.get_num_threads()} torch threads)",
        median_seconds(lambda: run_torch_kf(p, y), repeats=repeats, warmup=1),
        tm,
        tc,
    )
    for name, fn in (("pykalman, loop", run_pykalman), ("filterpy, loop", run_filterpy)):
        t0 = time.perf_counter()
        m, c = fn(p, y_np[:n_peer])
        add(name, time.perf_counter() - t0, m, c, n_peer)

    base, base_general = rows[0]["seconds"], rows[2]["seconds"]
    for row in rows:
        row["vs_ours"] = row["seconds"] / base
        row["vs_ours_general"] = row["seconds"] / base_general
    learn = [] if args.no_learn else learning_rows(args.quick)
    scan = scan_rows(p, repeats) if args.scan else []
    machine = machine_line(("torch", "numba", "numpy", "pykalman", "filterpy", "torch-kf"))
    if args.json:
        out = {
            "machine": machine, "batch": BATCH, "steps": steps, "rows": rows, "learn": learn,
            "scan": scan,
        }  # fmt: skip
        print(json.dumps(out))
        return 0
    print(machine)
    print(
        f"case: {BATCH} sequences x {steps} steps, 4-state 2-observation tracker, float64; "
        f"filter + RTS smoother; median of {repeats} (the loops: one run over {n_peer} "
        f"sequences, scaled to {BATCH})\n"
    )
    print(
        "| method | seconds | time / ours | time / ours per-sequence P0 | max diff smoothed "
        "means | max diff covariances |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        md = f"{row['max_mean_diff']:.1e}" if "max_mean_diff" in row else "(reference)"
        cd = f"{row['max_cov_diff']:.1e}" if "max_cov_diff" in row else "(reference)"
        print(
            f"| {row['method']} | {row['seconds']:.3f} | {row['vs_ours']:.1f}x | "
            f"{row['vs_ours_general']:.1f}x | {md} | {cd} |"
        )
    if learn:
        print(
            f"\nlearning: {learn[0]['sequences']} sequences x {learn[0]['steps']} steps of a "
            "4-state, 1-observation resonant system; A, C, Q, R learned from the same start\n"
        )
        print("| method | iterations | seconds | log-likelihood (nats) | magnitude error (dB) |")
        print("|---|---|---|---|---|")
        for row in learn:
            print(
                f"| {row['method']} | {row['iterations']} | {row['seconds']:.2f} | "
                f"{row['log_likelihood']:.1f} | {row['mag_err_db']:.3f} |"
            )
    if scan:
        print("\none sequence x 65,536 steps, filter only\n")
        print("| method | seconds | time / sequential | max relative difference of means |")
        print("|---|---|---|---|")
        for row in scan:
            print(
                f"| {row['method']} | {row['seconds']:.3f} | "
                f"{row['seconds'] / scan[0]['seconds']:.1f}x | {row['max_rel_mean_diff']:.1e} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
