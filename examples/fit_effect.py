"""Learn an audio effect with an LSTM: system identification of an overdrive from white noise.

The effect is made with our filters: a mid-boost biquad, a tanh drive, then a lowpass biquad
(the classic "tube screamer" shape). An LSTM with 16 hidden units and a linear readout is
fitted to it by :func:`dsp_rnn.compare.fit` (ESR loss, truncated BPTT with warm-up) for a
fixed time budget, then compared with the effect on a held-out noise + sweep signal; the
frequency responses of a nonlinear system are estimated (H1, cross-spectrum / input power).
The dry/wet pair is also written as WAV files, with the command that learns the same effect
from them (``dsp-rnn fit``).

Run: ``python examples/fit_effect.py [--seconds 40] [--out out/fit_effect]`` (under a
minute). The figures in docs/benchmarks.md come from ``python bench/bench_fit.py`` (a
5-minute budget).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numba
import soundfile as sf
import torch

from dsp_rnn.cells import LSTMCell
from dsp_rnn.compare import compare, fit, probe_signal
from dsp_rnn.filters import biquad_lowpass, biquad_peaking, sosfilt

SR = 48_000
PRE = biquad_peaking(700.0, gain_db=9.0, q=0.7, sample_rate=SR, dtype=torch.float64)
POST = biquad_lowpass(4000.0, q=0.707, sample_rate=SR, dtype=torch.float64)


def overdrive(x: torch.Tensor, drive: float = 8.0, level: float = 0.5) -> torch.Tensor:
    """Mid boost -> tanh(drive * x) -> lowpass, on signals ``(..., time)`` (float64)."""
    x = x.to(torch.float64)
    return level * sosfilt(POST, torch.tanh(drive * sosfilt(PRE, x)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="training time budget")
    parser.add_argument("--out", default="out/fit_effect", help="folder for the PNGs and WAVs")
    args = parser.parse_args()
    # small recurrent nets and short filter blocks: one thread is fastest on a shared CPU
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    torch.manual_seed(0)
    cell = LSTMCell(1, 16, output_size=1)
    res = fit(cell, overdrive, sample_rate=SR, steps=100_000, lr=5e-3, window=1024,
              warmup=256, batch_size=16, noise_rms=(0.05, 0.5), max_seconds=args.seconds,
              eval_every=100, lr_schedule="constant", progress=True)  # fmt: skip
    print(f"LSTM(16) fitted for {res.steps} steps ({res.seconds:.1f} s): validation ESR "
          f"{res.curve[0][1]:.3f} -> {res.esr:.4f}")  # fmt: skip
    for step, value in res.curve[:: max(1, len(res.curve) // 8)]:
        print(f"  step {step:5d}  ESR {value:.4f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(res.plot(out / "fit_effect_curve.png", title="LSTM(16) -> overdrive"))

    c = compare(cell, overdrive, sample_rate=SR, labels=("LSTM(16), fitted", "overdrive"))
    print(c)
    print(c.plot(out / "fit_effect_compare.png"))

    dry = probe_signal(2 * SR, sample_rate=SR, seed=7, dtype=torch.float64)
    sf.write(out / "dry.wav", dry.numpy(), SR, subtype="FLOAT")
    sf.write(out / "wet.wav", overdrive(dry).numpy(), SR, subtype="FLOAT")
    print(f"wrote {out / 'dry.wav'} and {out / 'wet.wav'}; learn the effect from them with:")
    print(f"  dsp-rnn fit --input {out / 'dry.wav'} --target {out / 'wet.wav'} --cell lstm "
          f"--hidden 16 --steps 500 --out {out / 'overdrive_model'}")  # fmt: skip


if __name__ == "__main__":
    main()
