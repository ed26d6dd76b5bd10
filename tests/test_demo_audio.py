"""The demo audio corpus (music.demo_audio): shipped files, pitches, loading as a folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dsp_rnn.errors import AudioError
from dsp_rnn.music.audio_folder import AudioFolder
from dsp_rnn.music.demo_audio import demo_phrases, make_demo_audio, render_phrase

DATA_AUDIO = Path(__file__).resolve().parents[1] / "data" / "audio"


# ------------------------------------------------------------------------------- demo corpus
def test_demo_corpus_files_are_the_ones_the_script_makes(tmp_path):
    shipped = sorted(DATA_AUDIO.glob("*.wav"))
    assert len(shipped) == 8
    assert sum(p.stat().st_size for p in shipped) < 1_000_000
    phrases = demo_phrases(n_files=8, seed=0)
    assert [p.name for p in shipped] == [f"{ph.name}.wav" for ph in phrases]
    made = make_demo_audio(tmp_path, seed=0, n_files=8)
    for old, new, phrase in zip(shipped, made, phrases, strict=True):
        info = sf.info(old)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert 2.0 <= info.duration <= 4.0 and info.duration == phrase.seconds
        a, _ = sf.read(old, dtype="int16")
        b, _ = sf.read(new, dtype="int16")
        assert np.abs(a.astype(int) - b).max() <= 1  # regenerated within one 16-bit step
        assert abs(np.abs(a).max() / 32768 - 0.8) < 1e-3
    with pytest.raises(AudioError, match="exists"):
        make_demo_audio(tmp_path, seed=0, n_files=1)


def test_demo_notes_sound_at_their_pitch():
    for phrase in demo_phrases(n_files=6, seed=5):
        if phrase.kind == "chords":
            continue  # several pitches at once; the melody and arpeggio notes are alone
        x = render_phrase(phrase, sample_rate=16000).double().numpy()
        first, second = phrase.notes[0], phrase.notes[1]
        seg = x[int(first.onset_s * 16000) : int(second.onset_s * 16000)]
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), n=1 << 16))
        f_peak = np.argmax(spec) * 16000 / (1 << 16)
        f0 = 440 * 2 ** ((first.pitch - 69) / 12)
        assert abs(12 * np.log2(f_peak / f0)) < 0.2, (phrase.name, f_peak, f0)
    assert demo_phrases(n_files=3, seed=5) == demo_phrases(n_files=3, seed=5)
    assert demo_phrases(n_files=3, seed=5) != demo_phrases(n_files=3, seed=6)


def test_demo_corpus_loads_as_a_folder():
    ds = AudioFolder(DATA_AUDIO, sample_rate=16000, window=4000, hop=2000)
    assert len(ds.files) == 8
    assert [(p.name, r.split(" is ")[0]) for p, r in ds.skipped] == [
        ("README.md", "file ending '.md'")
    ]
    assert ds.stats()["seconds"] == pytest.approx(22.0)
    assert len(ds.split("valid")) >= 1 and len(ds.split("train")) >= 1
    assert os.path.commonpath(ds.files) == str(DATA_AUDIO)
