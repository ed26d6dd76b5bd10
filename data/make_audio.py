"""Regenerate data/audio/: 8 short synthesized phrases made by dsp_rnn itself.

Run: python data/make_audio.py   (deterministic: the same files every time)
"""

from pathlib import Path

from dsp_rnn.music.demo_audio import demo_phrases, make_demo_audio

if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "audio"
    paths = make_demo_audio(out, seed=0, n_files=8, sample_rate=16000, overwrite=True)
    for phrase, path in zip(demo_phrases(n_files=8, seed=0), paths, strict=True):
        print(f"{path.name}: {phrase.seconds} s, {len(phrase.notes)} notes, "
              f"{phrase.tempo_bpm:g} bpm")  # fmt: skip
    print(f"wrote {len(paths)} files to {out}")
