"""System-identification benchmarks: how fast do cells learn a filter and an effect?

Wall time on this machine to a given error:

- ``iir``: how long an ``IIRCell`` fitted to a 4th-order Butterworth lowpass from white noise
  takes to reach ESR < 1e-3 (held-out white noise), 60 s at most. Rows: cutoff 4 kHz and 2 kHz
  (``IIRCell(2)``, the default random initialisation) and 1 kHz (poles initialised at
  log-uniform frequencies, :meth:`IIRCell.log_frequency`: from the default initialisation most
  seeds stop in a local minimum at 1 kHz, see docs/benchmarks.md). Three seeds each.
- ``lstm``: how long an LSTM with 16 hidden units fitted to an overdrive (mid-boost biquad,
  tanh drive, lowpass biquad; made with ``dsp_rnn.filters``) takes to reach ESR < 0.02, and
  where it ends after a budget of just under 5 minutes. Trained on white noise at levels
  log-uniform in RMS 0.05..0.5; ESR measured on held-out noise of those levels, and (out of
  distribution) on the noise + sweep probe.

Run: ``python bench/bench_fit.py [iir] [lstm] [--docs DIR]`` (iir ~1 min, lstm ~5 min).
Writes the curves as ``fit_iir_butter4.png``, ``fit_lstm_overdrive.png`` and
``fit_lstm_overdrive_compare.png`` in ``--docs`` (default: the current folder; ``--docs docs``
refreshes the figures in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numba
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line  # noqa: E402

from dsp_rnn.cells import IIRCell, LSTMCell  # noqa: E402
from dsp_rnn.compare import FitResult, compare, fit  # noqa: E402
from dsp_rnn.filters import biquad_lowpass, biquad_peaking, butter, sosfilt  # noqa: E402

SR = 48_000
PRE = biquad_peaking(700.0, gain_db=9.0, q=0.7, sample_rate=SR, dtype=torch.float64)
POST = biquad_lowpass(4000.0, q=0.707, sample_rate=SR, dtype=torch.float64)


def overdrive(x: torch.Tensor, drive: float = 8.0, level: float = 0.5) -> torch.Tensor:
    """Mid boost (+9 dB at 700 Hz) -> tanh(8 x) -> 4 kHz lowpass, x 0.5; ``(..., time)``."""
    return level * sosfilt(POST, torch.tanh(drive * sosfilt(PRE, x.to(torch.float64))))


def first_below(result: FitResult, threshold: float) -> tuple[int | None, float | None]:
    """(step, seconds) of the first evaluation below ``threshold`` (seconds interpolated)."""
    for step, value in result.curve:
        if value < threshold:
            return step, result.seconds * step / max(result.steps, 1)
    return None, None


IIR_CASES = (  # cutoff Hz, sections, initialisation, learning rate
    (4000.0, 2, "random", 0.02),
    (2000.0, 2, "random", 0.02),
    (1000.0, 2, "log-freq", 0.005),
    (1000.0, 3, "log-freq", 0.01),
)


def bench_iir(docs: Path) -> None:
    print("\n### IIRCell -> 4th-order Butterworth lowpass, white noise, 48 kHz\n")
    print("4000 Adam steps (cosine to lr/100), window 2048, batch 16; ESR on 24,000 held-out")
    print("samples every 50 steps (evaluation time included in the seconds)\n")
    print("| cutoff | cell | init | lr | seed | first ESR < 1e-3 | best ESR | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    curves = {}
    for f0, n_sec, init, lr in IIR_CASES:
        sos = butter(4, f0, sample_rate=SR)
        for seed in range(3):
            torch.manual_seed(seed)
            if init == "random":
                cell = IIRCell(n_sec)
            else:
                cell = IIRCell.log_frequency(n_sec, sample_rate=SR, seed=seed)
            res = fit(cell, sos, sample_rate=SR, steps=4000, lr=lr, window=2048,
                      eval_every=50, max_seconds=60, seed=seed, progress=False)  # fmt: skip
            step, sec = first_below(res, 1e-3)
            first = f"{sec:.1f} s (step {step})" if step is not None else "not reached"
            print(f"| {f0:g} Hz | IIRCell({n_sec}) | {init} | {lr:g} | {seed} | {first} | "
                  f"{res.esr:.1e} | {res.seconds:.1f} |")  # fmt: skip
            if seed == 0:
                curves[f"{f0:g} Hz, IIRCell({n_sec}), {init} init"] = res
    _plot_curves(curves, docs / "fit_iir_butter4.png", 1e-3,
                 "IIRCell fitted to a 4th-order Butterworth lowpass (seed 0)")  # fmt: skip


def bench_lstm(docs: Path, budget_s: float) -> None:
    print("\n### LSTMCell(1, 16, output_size=1) -> overdrive, white noise, 48 kHz\n")
    print(f"budget {budget_s:g} s; Adam lr 5e-3 constant; window 1024 after a 256-sample")
    print("warm-up, batch 16; evaluation (24,000 held-out samples) every 100 steps\n")
    torch.manual_seed(0)
    cell = LSTMCell(1, 16, output_size=1)
    res = fit(cell, overdrive, sample_rate=SR, steps=1_000_000, lr=5e-3, window=1024,
              warmup=256, batch_size=16, noise_rms=(0.05, 0.5), eval_every=100,
              lr_schedule="constant", max_seconds=budget_s, progress=False)  # fmt: skip
    step, seconds = first_below(res, 0.02)
    label = f"LSTM(16), fitted {res.seconds:.0f} s"
    probe = compare(cell, overdrive, sample_rate=SR, labels=(label, "overdrive"))
    print("| steps | seconds | first ESR < 0.02 | best ESR (held-out noise) | ESR, noise+sweep |")
    print("|---|---|---|---|---|")
    first = f"step {step}, {seconds:.0f} s" if step is not None else "not reached"
    print(f"| {res.steps} | {res.seconds:.0f} | {first} | {res.esr:.2e} | {probe.esr:.2e} |")
    _plot_curves({"LSTM(16)": res}, docs / "fit_lstm_overdrive.png", 0.02,
                 "LSTM(16) fitted to an overdrive (biquad, tanh, biquad)")  # fmt: skip
    probe.plot(docs / "fit_lstm_overdrive_compare.png")


def _plot_curves(curves: dict[str, FitResult], path: Path, target: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for name, res in curves.items():
        s, v = zip(*res.curve, strict=True)
        t = np.asarray(s) * res.seconds / max(res.steps, 1)
        ax.semilogy(t, v, "o-", ms=2.5, label=f"{name}: {res.esr:.2e} after {res.seconds:.0f} s")
    ax.axhline(target, color="k", ls=":", lw=1, label=f"ESR {target:g}")
    ax.set(xlabel="wall time (s)", ylabel="ESR (held-out white noise)", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="iir and/or lstm (default: both)")
    parser.add_argument("--docs", default=".", help="folder for the curve PNGs (default .)")
    parser.add_argument("--lstm-seconds", type=float, default=290.0, help="LSTM budget")
    args = parser.parse_args()
    # small recurrent nets and short filter blocks: one thread each is fastest on a shared
    # 2-core machine (parallel kernels spin-wait when another process holds a core)
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    print(machine_line(("torch", "numba", "numpy", "scipy")) + "; 1 torch thread, 1 numba thread")
    cases = args.cases or ["iir", "lstm"]
    if set(cases) - {"iir", "lstm"}:
        parser.error(f"cases: expected iir and/or lstm, got {' '.join(cases)}")
    if "iir" in cases:
        bench_iir(Path(args.docs))
    if "lstm" in cases:
        bench_lstm(Path(args.docs), args.lstm_seconds)


if __name__ == "__main__":
    main()
