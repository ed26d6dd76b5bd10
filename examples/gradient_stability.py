"""Vanishing and exploding gradients (Bengio, Simard & Frasconi 1994), measured and plotted.

For four cells, the norm of dL/dh_(n-k) for a loss on the last state h_n, against the lag k:

- a tanh (Elman) RNN with torch's default initialisation: its Jacobians contract, so the
  gradient vanishes exponentially;
- an LSTM: its cell state carries the gradient further, but it still decays;
- an orthogonal RNN with identity activation (a lossless Gerzon/FDN network): the norm is
  kept exactly, at every lag;
- a linear state-space cell (an IIR resonator) with poles at radius 1.05, outside the unit
  circle: the gradient grows like 1.05^k.

Run: ``python examples/gradient_stability.py [--out gradient_stability.png]`` (~5 s).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from dsp_rnn.cells import ElmanCell, LSTMCell, OrthogonalCell, StateSpaceCell
from dsp_rnn.compare import gradient_norms, plot_gradient_stability


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gradient_stability.png", help="PNG to write")
    parser.add_argument("--steps", type=int, default=300, help="largest lag")
    args = parser.parse_args()

    torch.manual_seed(0)
    radius = 1.05
    b = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    a = torch.tensor([1.0, -2 * radius * math.cos(0.2), radius**2], dtype=torch.float64)
    cells = {
        "tanh RNN (Elman, 32 units)": ElmanCell(1, 32).double(),
        "LSTM (32 units)": LSTMCell(1, 32).double(),
        "orthogonal RNN (32 units, identity activation)": OrthogonalCell(32).double(),
        f"linear state space, poles at radius {radius}": StateSpaceCell.from_filter((b, a)),
    }
    results = {name: gradient_norms(cell, args.steps) for name, cell in cells.items()}
    lags = [k for k in (10, 50, 100, 200, args.steps) if k <= args.steps]
    print("||dL/dh_(n-k)|| / ||dL/dh_n|| at lag k (float64):")
    print(f"{'cell':<48}" + "".join(f"{'k=' + str(k):>11}" for k in lags))
    for name, g in results.items():
        print(f"{name:<48}" + "".join(f"{g.relative()[k]:>11.3e}" for k in lags))
    ortho = results["orthogonal RNN (32 units, identity activation)"].relative()
    print(f"orthogonal cell: largest deviation from 1 over all lags {abs(ortho - 1).max():.1e}")
    g = results[f"linear state space, poles at radius {radius}"]
    tail = slice(args.steps // 3, None)
    rate = math.exp(np.polyfit(g.lags[tail], np.log(g.norms[tail]), 1)[0])
    print(f"unstable cell: measured growth per step {rate:.4f} (the pole radius: {radius})")
    out = plot_gradient_stability(results, args.out, ylim=(1e-20, 1e12))
    print(f"wrote {Path(out)}")


if __name__ == "__main__":
    main()
