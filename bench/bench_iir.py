"""IIR filtering benchmark: dsp_rnn.sosfilt against scipy and torchaudio, same run.

Cases: {1, 64} channels x 10 s at 48 kHz (480,000 samples), float32, for a biquad and an
8th-order Butterworth lowpass as SOS. Rows per case: our sosfilt forward and
forward+backward; scipy.signal.sosfilt forward; torchaudio.functional.lfilter applied
section by section (clamp=False), forward and forward+backward. Medians of several runs.
The last column is ours forward+backward over ours forward (the cost of the backward pass
plus the forward's keeping of section outputs, in units of one forward): the two are timed
alternately and the column is the median of the per-pair ratios.

Run: python bench/bench_iir.py [--repeats N] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.signal
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fwd_bwd, interleaved_seconds, machine_line, median_seconds  # noqa: E402

from dsp_rnn.filters import sosfilt  # noqa: E402

SAMPLE_RATE = 48_000
N_SAMPLES = 10 * SAMPLE_RATE


def _torchaudio_cascade(taf, sos: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    y = x
    for row in sos:
        y = taf.lfilter(y, row[3:], row[:3], clamp=False)
    return y


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="1 s of audio, 3 repeats")
    args = parser.parse_args(argv)
    n_samples = SAMPLE_RATE if args.quick else N_SAMPLES
    repeats = 3 if args.quick else args.repeats
    try:
        import torchaudio.functional as taf
    except Exception as exc:  # pragma: no cover - bench extra missing
        print(f"torchaudio unavailable ({exc}); install the bench extra", file=sys.stderr)
        return 1

    torch.set_num_threads(max(1, torch.get_num_threads()))
    print(machine_line(("torch", "numba", "scipy", "torchaudio", "numpy")))
    print(
        f"signal: {n_samples} samples ({n_samples / SAMPLE_RATE:g} s at 48 kHz), float32; "
        f"median of {repeats}\n"
    )
    header = (
        "| case | ours fwd ms | ours fwd+bwd ms | scipy fwd ms | torchaudio fwd ms | "
        "torchaudio fwd+bwd ms | ours ns/sample fwd | scipy/ours fwd | "
        "torchaudio/ours fwd+bwd | ours fwd+bwd/fwd |"
    )
    print(header)
    print("|" + "---|" * 10)
    rng = np.random.default_rng(0)
    for n_ch in (1, 64):
        x_np = rng.standard_normal((n_ch, n_samples)).astype(np.float32)
        x = torch.from_numpy(x_np)
        for name, order in (("biquad", 2), ("butter8", 8)):
            sos_np = scipy.signal.butter(order, 1000, fs=SAMPLE_RATE, output="sos").astype(
                np.float32
            )
            sos = torch.from_numpy(sos_np)
            # correctness first: all three agree on this input
            y_ours = sosfilt(sos, x)
            y_ref = scipy.signal.sosfilt(sos_np, x_np)
            y_ta = _torchaudio_cascade(taf, sos, x)
            scale = float(np.abs(y_ref).max())
            err = max(float(np.abs(y_ours.numpy() - y_ref).max()),
                      float((y_ta - y_ours).abs().max())) / scale  # fmt: skip
            if err > 1e-3:
                print(f"MISMATCH {name} {n_ch}ch: max rel err {err:.2e}", file=sys.stderr)
                return 1
            t_ours, t_ours_fb, fb_over_f = interleaved_seconds(
                lambda: sosfilt(sos, x), fwd_bwd(sosfilt, sos, x), repeats=repeats
            )
            t_sp = median_seconds(lambda: scipy.signal.sosfilt(sos_np, x_np), repeats=repeats)
            t_ta = median_seconds(lambda: _torchaudio_cascade(taf, sos, x), repeats=repeats)
            t_ta_fb = median_seconds(
                fwd_bwd(lambda s, v: _torchaudio_cascade(taf, s, v), sos, x),
                repeats=max(1, repeats // 3),
                warmup=1,
            )
            ns = t_ours / (n_ch * n_samples) * 1e9
            print(
                f"| {name}, {n_ch} ch | {t_ours * 1e3:.1f} | {t_ours_fb * 1e3:.1f} | "
                f"{t_sp * 1e3:.1f} | {t_ta * 1e3:.1f} | {t_ta_fb * 1e3:.1f} | {ns:.2f} | "
                f"{t_sp / t_ours:.2f}x | {t_ta_fb / t_ours_fb:.1f}x | {fb_over_f:.2f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
