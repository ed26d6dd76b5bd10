"""Play a MIDI file with a learned voice and show it beside the recording of the same MIDI:
spectrograms of the reference, the learned voice and our ``subtractive`` voice, one above
the other, with the distances of each render to the reference.

Run:  python examples/voice_spectrogram.py REFERENCE.wav PIECE.mid [--voice learned]
      [--seconds 8] [--png voice.png] [--seed 0]

REFERENCE.wav is the recording (e.g. ``dsp-rnn render`` through a SoundFont) of PIECE.mid;
choose a piece the voice did not train on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from dsp_rnn.audio import log_mel_l1, mr_stft_distance
from dsp_rnn.music import read_audio
from dsp_rnn.plotting.spectrogram import plot_spectrograms
from dsp_rnn.synth import render
from dsp_rnn.voice import load_voice, render_voice


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("reference", type=Path, help="the recording of the MIDI file")
    p.add_argument("midi", type=Path, help="the MIDI file")
    p.add_argument("--voice", default="learned", help="a voice folder or shipped name")
    p.add_argument("--seconds", type=float, default=8.0, help="the opening shown (default 8)")
    p.add_argument("--png", type=Path, default=Path("voice_spectrogram.png"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    voice = load_voice(args.voice)
    rate = voice.sample_rate
    ref, _ = read_audio(args.reference, sample_rate=rate, dtype=torch.float64)  # mono
    n = round(args.seconds * rate)
    rows = {"reference": ref.numpy()[:n]}
    learned = render_voice(voice, args.midi, seed=args.seed, sample_rate=rate)[0]
    subtractive = render(args.midi, sample_rate=rate, channels=1, voice="subtractive",
                         drums=False, reverb=None)[0]  # fmt: skip
    for name, y in ((f"learned voice '{voice.name}'", learned), ("subtractive voice", subtractive)):
        y = y[:n].astype(np.float64)
        m = min(len(y), len(rows["reference"]))
        d = mr_stft_distance(rows["reference"][:m], y[:m], rate)
        mel = log_mel_l1(rows["reference"][:m], y[:m], rate)
        rows[f"{name} (MR-STFT {d:.2f}, log-mel L1 {mel:.1f} dB)"] = y
        print(f"{name}: MR-STFT distance {d:.3f}, log-mel L1 {mel:.2f} dB")
    out = plot_spectrograms(rows, args.png, sample_rate=rate, max_hz=4000.0,
                            title=f"{args.midi.name}: the first {args.seconds:g} s")  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
