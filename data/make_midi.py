"""Regenerate data/midi/: 24 four-voice demo pieces made by dsp_rnn itself.

Run: python data/make_midi.py   (deterministic: the same files every time)
"""

from pathlib import Path

from dsp_rnn.music.demo_midi import make_demo_midi

if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "midi"
    paths = make_demo_midi(out, n_pieces=24, seed=0, overwrite=True)
    print(f"wrote {len(paths)} files to {out}")
