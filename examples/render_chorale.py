"""Render a JSB chorale with our Karplus-Strong voice and FDN reverb, then look and listen by
measurement: levels, clipping, onsets, spectrum, and a spectrogram PNG.

Run:  python examples/render_chorale.py [--jsb data/jsb/jsb-chorales-quarter.json]
      [--piece 0] [--split test] [--voice ks] [--out-dir /tmp/chorale] [--png chorale.png]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from dsp_rnn.music.jsb import load_jsb
from dsp_rnn.plotting import plot_spectrogram
from dsp_rnn.synth import render_file


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jsb", default=None, help="JSB JSON (default: data/jsb/ in the checkout)")
    p.add_argument("--split", default="test", choices=("train", "valid", "test"))
    p.add_argument("--piece", type=int, default=0)
    p.add_argument("--voice", default="ks", choices=("ks", "subtractive", "additive", "sine"))
    p.add_argument("--out-dir", default=None, help="default: a new temporary folder")
    p.add_argument("--png", default=None, help="spectrogram PNG (default: in --out-dir)")
    args = p.parse_args()
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="chorale-"))
    out_dir.mkdir(parents=True, exist_ok=True)

    grid = load_jsb(args.jsb, args.split, steps_per_quarter=1)[args.piece]
    midi = grid.to_midi(out_dir / "chorale.mid", overwrite=True)
    wav = out_dir / f"chorale_{args.voice}.wav"
    report = render_file(midi, wav, voice=args.voice, reverb=True, overwrite=True)
    print(report.summary())

    y, sr = sf.read(str(wav), dtype="int16", always_2d=True)
    peak_code = int(np.abs(y.astype(np.int32)).max())
    x = y.astype(np.float64) / 32768
    rms_db = 10 * np.log10(np.mean(x**2))
    spec = np.abs(np.fft.rfft(x.mean(axis=1)))
    f = np.fft.rfftfreq(len(x), 1 / sr)
    centroid = float((spec * f).sum() / spec.sum())
    tail = x[-int(0.1 * sr) :]
    print(f"peak code {peak_code}/32767 ({20 * np.log10(peak_code / 32768):.2f} dBFS), "
          f"samples at full scale: {int((np.abs(y) >= 32767).sum())}, RMS {rms_db:.1f} dBFS, "
          f"spectral centroid {centroid:.0f} Hz, last 100 ms peak "
          f"{20 * np.log10(np.abs(tail).max() + 1e-12):.1f} dBFS, "
          f"L/R correlation {np.corrcoef(x[:, 0], x[:, 1])[0, 1]:.2f}")  # fmt: skip
    png = plot_spectrogram(wav, args.png or out_dir / f"chorale_{args.voice}.png",
                           sample_rate=sr, title=f"JSB {args.split} chorale {args.piece}, "
                           f"{args.voice} + FDN reverb, 44.1 kHz")  # fmt: skip
    print(f"wrote {midi}, {wav}, {png}")


if __name__ == "__main__":
    main()
