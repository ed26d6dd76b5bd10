"""StateSpaceCell benchmark: the cell's forward+backward against sosfilt's, same filter, same run.

Case: 64 x 480,000 samples (64 channels x 10 s at 48 kHz), float32, an 8th-order Butterworth
lowpass at 1 kHz as SOS. Rows: ``sosfilt`` forward and forward+backward (gradients to the
signal and the coefficients); ``StateSpaceCell.from_filter(sos)`` forward and forward+backward
(gradients to the signal and the cell's parameters), through the same kernels; and a per-step
Python loop of the same cell (``cell.step``) on a shorter signal, extrapolated to the full
length, for contrast. Medians of several runs; the last column is each row's forward+backward
time over sosfilt's.

Run: python bench/bench_cells.py [--repeats N] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fwd_bwd, machine_line  # noqa: E402

from dsp_rnn.cells import StateSpaceCell  # noqa: E402
from dsp_rnn.filters import butter, sosfilt  # noqa: E402

SAMPLE_RATE = 48_000
N_SAMPLES = 10 * SAMPLE_RATE
BATCH = 64


def _sosfilt_runs(sos: torch.Tensor, x: torch.Tensor):
    def fwd():
        return sosfilt(sos, x)

    return fwd, fwd_bwd(sosfilt, sos, x)


def _cell_runs(cell: StateSpaceCell, x: torch.Tensor):
    def fwd():
        with torch.no_grad():
            return cell(x)

    def cell_fwd_bwd():
        cell.zero_grad(set_to_none=True)
        xs = x.detach().requires_grad_()
        y, _ = cell(xs)
        y.backward(torch.ones_like(y))
        return xs.grad

    return fwd, cell_fwd_bwd


def _interleaved_medians(fns, repeats: int) -> list[float]:
    """Median seconds of each function, run in turn ``repeats`` times after one warm-up each."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, acc in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return [statistics.median(acc) for acc in times]


def _step_loop_seconds(cell: StateSpaceCell, x: torch.Tensor, backward: bool) -> float:
    """One run of a per-step Python loop over ``x (batch, time, 1)``."""
    t0 = time.perf_counter()
    cell.zero_grad(set_to_none=True)
    state, ys = None, []
    with torch.set_grad_enabled(backward):
        for t in range(x.shape[1]):
            y_t, state = cell.step(x[:, t], state)
            ys.append(y_t)
        y = torch.stack(ys, 1)
        if backward:
            y.backward(torch.ones_like(y))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--loop-samples", type=int, default=2000, help="length of the step loop")
    parser.add_argument("--quick", action="store_true", help="1 s of audio, 3 repeats")
    args = parser.parse_args(argv)
    n_samples = SAMPLE_RATE if args.quick else N_SAMPLES
    repeats = 3 if args.quick else args.repeats
    n_loop = min(args.loop_samples, n_samples)

    print(machine_line(("torch", "numba", "scipy", "numpy")))
    print(
        f"signal: {BATCH} x {n_samples} samples ({n_samples / SAMPLE_RATE:g} s at 48 kHz), "
        f"float32, butter(8, 1 kHz) as 4 SOS; median of {repeats}; step loop on {BATCH} x "
        f"{n_loop} samples, extrapolated\n"
    )
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, n_samples, 1, generator=gen)
    sos = butter(8, 1000.0, sample_rate=SAMPLE_RATE)
    cell = StateSpaceCell.from_filter(sos)

    # correctness first: the cell and the filter agree on this input, and so does the loop
    y_ref = sosfilt(sos, x[..., 0])
    with torch.no_grad():
        y_cell = cell(x)[0][..., 0]
        state, ys = None, []
        for t in range(n_loop):
            y_t, state = cell.step(x[:, t], state)
            ys.append(y_t[:, 0])
        y_loop = torch.stack(ys, 1)
    scale = float(y_ref.abs().max())
    err = (
        max(float((y_cell - y_ref).abs().max()), float((y_loop - y_ref[:, :n_loop]).abs().max()))
        / scale
    )
    if err > 1e-4:
        print(f"MISMATCH: max rel err {err:.2e}", file=sys.stderr)
        return 1

    total = BATCH * n_samples
    sf_fwd, sf_fb = _sosfilt_runs(sos, x[..., 0])
    c_fwd, c_fb = _cell_runs(cell, x)
    # alternate the peers (a shared machine's load drifts), warm-up runs first
    t_sf_fwd, t_c_fwd = _interleaved_medians([sf_fwd, c_fwd], repeats)
    t_sf_fb, t_c_fb = _interleaved_medians([sf_fb, c_fb], repeats)
    scale_up = n_samples / n_loop
    _step_loop_seconds(cell, x[:, :50], backward=True)  # warm-up
    t_l_fwd = _step_loop_seconds(cell, x[:, :n_loop], backward=False) * scale_up
    t_l_fb = _step_loop_seconds(cell, x[:, :n_loop], backward=True) * scale_up

    print("| method | fwd ms | fwd+bwd ms | ns/sample fwd+bwd | fwd+bwd vs sosfilt |")
    print("|---|---|---|---|---|")
    rows = [
        ("sosfilt (reference)", t_sf_fwd, t_sf_fb),
        ("StateSpaceCell (sosfilt kernels)", t_c_fwd, t_c_fb),
        ("StateSpaceCell.step loop (extrapolated)", t_l_fwd, t_l_fb),
    ]
    for name, fwd, fb in rows:
        print(
            f"| {name} | {fwd * 1e3:.1f} | {fb * 1e3:.1f} | {fb / total * 1e9:.2f} | "
            f"{fb / t_sf_fb:.2f}x |"
        )
    print(f"\nmax relative difference cell vs sosfilt: {err:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
