"""A filter and its RNN twins, compared with numbers: exact twins, and a twin learned from noise.

1. Design a 4th-order Butterworth lowpass (second-order sections, float64).
2. ``StateSpaceCell.from_filter`` and ``IIRCell.from_sos`` build the linear RNNs that *are*
   this filter; :func:`dsp_rnn.compare.compare` shows they reproduce ``sosfilt`` exactly
   (they run the same kernels: ESR 0) and that ``.to_filter()`` gives the sections back.
3. Run the state-space twin block by block, carrying its state: identical to one shot.
4. Fit a fresh ``IIRCell`` to the filter from white noise for a few seconds and compare
   again; the plot (magnitude, phase, impulse response, error) goes to ``--out``.

Run: ``python examples/filter_vs_cell.py [--out filter_vs_cell.png]`` (~15 s).
"""

from __future__ import annotations

import argparse

import numba
import torch

from dsp_rnn.cells import IIRCell, StateSpaceCell
from dsp_rnn.compare import compare, fit
from dsp_rnn.filters import butter, sosfilt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="filter_vs_cell.png", help="PNG to write")
    parser.add_argument("--steps", type=int, default=600, help="fitting steps")
    args = parser.parse_args()
    numba.set_num_threads(1)  # short filter blocks: one thread is fastest on a shared CPU
    sr = 48_000
    sos = butter(4, 4000.0, sample_rate=sr, dtype=torch.float64)
    print("4th-order Butterworth lowpass at 4 kHz, 48 kHz, as second-order sections:")
    print(sos.numpy().round(6))

    ss = StateSpaceCell.from_filter(sos)
    c = compare(ss, sos, sample_rate=sr, labels=("StateSpaceCell.from_filter", "sosfilt"))
    print(f"\n{c}")
    back = float((ss.to_filter() - sos).abs().max())
    print(f"to_filter() round trip: largest coefficient difference {back:.1e}")
    iir = IIRCell.from_sos(sos)
    c = compare(iir, sos, sample_rate=sr, labels=("IIRCell.from_sos", "sosfilt"))
    print(f"IIRCell.from_sos: ESR {c.esr:.1e}, max |error| {c.max_abs_error:.1e}")

    x = torch.randn(1, 48_000, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y_once, _ = ss(x)
        state, blocks = None, []
        for block in x.split(1000, dim=1):  # streaming: the state carries over
            y_b, state = ss(block, state)
            blocks.append(y_b)
    diff = float((torch.cat(blocks, 1) - y_once).abs().max())
    ref = float((y_once[0, :, 0] - sosfilt(sos, x[0, :, 0])).abs().max())
    print(f"48 blocks of 1000 samples vs one shot: max difference {diff:.1e}; "
          f"one shot vs sosfilt: {ref:.1e}")  # fmt: skip

    torch.manual_seed(1)
    learned = IIRCell(2)
    res = fit(learned, sos, sample_rate=sr, steps=args.steps, lr=0.02, window=2048,
              progress=False)  # fmt: skip
    print(f"\nIIRCell(2) fitted from white noise: {res.steps} steps in {res.seconds:.1f} s, "
          f"validation ESR {res.curve[0][1]:.2e} -> {res.esr:.2e}")  # fmt: skip
    c = compare(learned, sos, sample_rate=sr, labels=("IIRCell, fitted", "Butterworth"))
    print(c)
    print(f"wrote {c.plot(args.out)}")


if __name__ == "__main__":
    main()
