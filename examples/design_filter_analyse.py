"""Design -> filter -> analyse, end to end; prints what it shows.

Run: python examples/design_filter_analyse.py [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from dsp_rnn.filters import (
    FDN,
    biquad_peaking,
    butter,
    is_stable,
    schroeder_allpass,
    sosfilt,
    sosfreqz,
)
from dsp_rnn.plotting import plot_sos_response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="example_out", help="folder for the response PNG")
    args = parser.parse_args()
    sr = 48_000
    torch.manual_seed(0)

    sos = butter(8, 1000.0, sample_rate=sr, dtype=torch.float64)
    print(f"8th-order Butterworth lowpass at 1 kHz: {sos.shape[0]} sections, "
          f"stable={is_stable(sos)}")  # fmt: skip
    freqs, h = sosfreqz(sos, n_freqs=4096, sample_rate=sr)
    for f_hz in (100.0, 1000.0, 4000.0):
        i = int(torch.argmin((freqs - f_hz).abs()))
        print(f"  |H| at {f_hz:6.0f} Hz: {20 * torch.log10(h[i].abs()).item():8.2f} dB")

    t = torch.arange(sr, dtype=torch.float64) / sr
    tones = torch.sin(2 * torch.pi * 200 * t) + torch.sin(2 * torch.pi * 8000 * t)
    y = sosfilt(sos, tones)
    spec = torch.fft.rfft(y[sr // 2 :]).abs()
    print(f"  a 200 Hz + 8 kHz mix through it: 8 kHz / 200 Hz amplitude ratio "
          f"{(spec[4000] / spec[100]).item():.2e}")  # fmt: skip

    # streaming in blocks gives the same samples as one shot
    state = torch.zeros(sos.shape[0], 2, dtype=torch.float64)
    blocks = []
    for block in tones.split(4800):
        yb, state = sosfilt(sos, block, state)
        blocks.append(yb)
    print(f"  block-wise vs one-shot max difference: {(torch.cat(blocks) - y).abs().max():.1e}")

    # a differentiable design: gradient of output energy w.r.t. a peaking EQ's gain
    gain_db = torch.tensor(6.0, dtype=torch.float64, requires_grad=True)
    eq = biquad_peaking(torch.tensor(200.0, dtype=torch.float64), q=1.0, gain_db=gain_db,
                        sample_rate=sr)  # fmt: skip
    sosfilt(eq, tones).square().mean().backward()
    print(f"  d(output power)/d(gain_db) of a 200 Hz peaking EQ: {gain_db.grad.item():.4f}")

    # allpass: energy in = energy out once the tail has decayed
    impulse = torch.zeros(sr, dtype=torch.float64)
    impulse[0] = 1.0
    ap = schroeder_allpass(impulse, delay_samples=441, gain=0.7)
    print(f"  Schroeder allpass impulse-response energy (1.0 expected): {ap.square().sum():.9f}")

    fdn = FDN.from_rt60(delays_samples=[1031, 1327, 1523, 1871], rt60_seconds=1.0,
                        sample_rate=sr).double()  # fmt: skip
    tail, _ = fdn(impulse)
    edc = tail.square().flip(0).cumsum(0).flip(0)
    edc_db = 10 * torch.log10(edc / edc[0])
    t30 = int(torch.nonzero(edc_db < -30)[0]) / sr
    print(f"  FDN with RT60 target 1.0 s: -30 dB after {t30:.3f} s (about half the RT60)")

    out = plot_sos_response(sos, Path(args.out) / "butter8_response.png", sample_rate=sr,
                            title="8th-order Butterworth, 1 kHz")  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
