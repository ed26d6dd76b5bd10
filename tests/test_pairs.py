"""Audio/MIDI training pairs (`dsp_rnn.music.pair_folder`): pairing by stem, misalignment
by duration and by onset, broken and unpaired files reported with reasons and numbers."""

from __future__ import annotations

import math
from pathlib import Path

import mido
import numpy as np
import pytest

from dsp_rnn.errors import InputError
from dsp_rnn.music import Pair, audio_onset_s, pair_folder, write_audio

SR = 16_000
NOTES = ((0.5, 1.0, 60), (1.0, 2.0, 67))  # (start_s, end_s, pitch): the last note-off at 2 s


def _midi(path: Path, notes=NOTES) -> Path:
    """A type-0 file at 120 bpm (480 ticks = 0.5 s)."""
    events = [(round(s * 960), 1, p) for s, _, p in notes]
    events += [(round(e * 960), 0, p) for _, e, p in notes]
    track, now = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000)]), 0
    for tick, is_on, p in sorted(events):
        kind = "note_on" if is_on else "note_off"
        track.append(mido.Message(kind, note=p, velocity=90 if is_on else 0, time=tick - now))
        now = tick
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(path)
    return path


def _audio(path: Path, notes=NOTES, *, delay_s: float = 0.0, tail_s: float = 1.0,
           noise_db: float | None = None) -> Path:  # fmt: skip
    """Sine tones with a 5 ms attack and a 0.3 s release at the notes' times (+ delay),
    lasting until the last note-off + ``tail_s``."""
    end = max(e for _, e, _ in notes)
    t = np.arange(round((end + tail_s) * SR)) / SR
    x = np.zeros_like(t)
    for s, e, p in notes:
        hz = 440.0 * 2 ** ((p - 69) / 12)
        on = t - s - delay_s
        env = np.clip(on / 0.005, 0, 1) * np.clip(1 - (t - e - delay_s) / 0.3, 0, 1)
        x += 0.3 * env * np.sin(2 * np.pi * hz * np.maximum(on, 0))
    if noise_db is not None:
        x += 10 ** (noise_db / 20) * np.random.default_rng(0).standard_normal(len(x))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_audio(path, x.astype(np.float32), sample_rate=SR)


def _pair(folder: Path, stem: str, ending: str = ".wav", **audio) -> Pair:
    return Pair(_audio(folder / f"{stem}{ending}", **audio), _midi(folder / f"{stem}.mid"))


def test_pairs_by_stem_in_nested_folders_and_measures_them(tmp_path):
    want = [_pair(tmp_path, "a"), _pair(tmp_path / "x" / "y", "b", ".flac"),
            _pair(tmp_path / "x", "c", noise_db=-70)]  # fmt: skip
    folder = pair_folder(tmp_path)
    assert folder.pairs == sorted(want) and list(folder) == folder.pairs and len(folder) == 3
    assert folder.skipped == []
    got = folder.alignment[tmp_path / "a.wav"]
    assert got.audio_s == pytest.approx(3.0) and got.midi_end_s == pytest.approx(2.0)
    assert got.first_note_s == pytest.approx(0.5) and got.tail_s == pytest.approx(1.0)
    assert 0 <= got.onset_offset_s <= 0.004  # within two 2 ms frames of the note-on
    assert folder.summary() == "3 pairs (0.1 min of audio); 0 unpaired, 0 misaligned, 0 broken"
    audio, midi = folder.pairs[0]  # unpacks as (audio, midi)
    assert (audio.suffix, midi.suffix) == (".wav", ".mid")


def test_unpaired_both_ways_and_across_folders(tmp_path):
    _audio(tmp_path / "lonely.wav")
    _midi(tmp_path / "score.mid")
    _audio(tmp_path / "sub" / "split.wav")  # its MIDI is in another folder: not a pair
    _midi(tmp_path / "split.mid")
    _pair(tmp_path, "twin")
    _midi(tmp_path / "twin.midi")  # two MIDI files of one stem: ambiguous
    folder = pair_folder(tmp_path)
    assert folder.pairs == []
    why = {p.relative_to(tmp_path).as_posix(): r for p, r in folder.unpaired}
    assert why["lonely.wav"] == "no MIDI file lonely.mid beside it"
    assert why["score.mid"] == "no audio file score.* beside it"
    assert why["sub/split.wav"].startswith("no MIDI file") and "split.mid" in why
    assert why["twin.wav"] == "more than one MIDI file of its stem: twin.mid, twin.midi"
    assert "twin.* pairs with neither" in why["twin.mid"] and "twin.midi" in why
    assert folder.misaligned == folder.broken == []


def test_misaligned_by_duration_names_the_files_and_the_numbers(tmp_path):
    _pair(tmp_path, "short", tail_s=-0.8)  # cut 0.8 s before the last note-off
    _pair(tmp_path, "long", tail_s=9.0)  # 9 s of audio after it: more than the release
    _pair(tmp_path, "ok", tail_s=4.5)
    folder = pair_folder(tmp_path)
    assert folder.pairs == [Pair(tmp_path / "ok.wav", tmp_path / "ok.mid")]
    why = {p.name: r for p, r in folder.misaligned}
    assert why["short.wav"] == (
        "lasts 1.200 s but short.mid ends at 2.000 s (expected 1.750 to 7.250 s: up to 5 s "
        "of release after the last note, 0.25 s tolerance)"
    )
    assert why["long.wav"].startswith("lasts 11.000 s but long.mid ends at 2.000 s")
    assert pair_folder(tmp_path, release_s=10.0).misaligned[0].path.name == "short.wav"
    assert len(pair_folder(tmp_path, release_s=10.0, duration_tolerance_s=1.0)) == 3


def test_misaligned_by_onset(tmp_path):
    _pair(tmp_path, "late", delay_s=0.12)
    _pair(tmp_path, "early", delay_s=-0.2)
    _pair(tmp_path, "near", delay_s=0.03)  # within the 50 ms tolerance
    folder = pair_folder(tmp_path)
    assert [p.audio.name for p in folder.pairs] == ["near.wav"]
    why = {p.name: r for p, r in folder.misaligned}
    assert why["late.wav"] == (
        "first onset at 0.620 s (energy within 40 dB of its peak), late.mid's first note at "
        "0.500 s: +120 ms apart, more than the 50 ms tolerance"
    )
    assert "-200 ms apart" in why["early.wav"]
    assert folder.alignment[tmp_path / "late.wav"].onset_offset_s == pytest.approx(0.12)
    assert len(pair_folder(tmp_path, onset_tolerance_s=0.25)) == 3


def test_broken_files_are_reported_not_raised(tmp_path):
    _midi(tmp_path / "bad_audio.mid")
    (tmp_path / "bad_audio.wav").write_bytes(b"RIFF....WAVEjunk")
    _audio(tmp_path / "bad_midi.wav")
    (tmp_path / "bad_midi.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")
    _audio(tmp_path / "no_notes.wav")
    _midi(tmp_path / "no_notes.mid", notes=())
    _midi(tmp_path / "silent.mid")
    write_audio(tmp_path / "silent.wav", np.zeros(3 * SR, np.float32), sample_rate=SR)
    _pair(tmp_path, "good")
    folder = pair_folder(tmp_path)
    assert [p.audio.name for p in folder.pairs] == ["good.wav"]
    broken = {p.name: r for p, r in folder.broken}
    assert set(broken) == {"bad_audio.wav", "bad_midi.mid", "no_notes.mid"}
    assert broken["bad_audio.wav"].startswith("cannot read the audio (")
    assert broken["no_notes.mid"] == "holds no notes"
    unpaired = {p.name: r for p, r in folder.unpaired}
    assert unpaired["bad_audio.mid"] == "its audio file (bad_audio.wav) is broken"
    assert unpaired["bad_midi.wav"].startswith("its MIDI file bad_midi.mid is broken: ")
    assert unpaired["no_notes.wav"] == "its MIDI file no_notes.mid is broken: holds no notes"
    ((path, why),) = folder.misaligned
    assert path.name == "silent.wav" and why == "is silent, but silent.mid has notes from 0.500 s"
    assert math.isnan(folder.alignment[path].onset_s)
    assert len(folder.skipped) == 7


def test_onset_ignores_a_noise_floor_and_checks_its_arguments(tmp_path):
    path = _audio(tmp_path / "n.wav", delay_s=0.25, noise_db=-60)  # notes from 0.75 s
    assert audio_onset_s(path) == pytest.approx(0.75, abs=0.004)
    assert audio_onset_s(path, threshold_db=80) < 0.01  # the noise is within 80 dB
    with pytest.raises(InputError, match="threshold_db"):
        audio_onset_s(path, threshold_db=0)
    with pytest.raises(InputError, match="onset_tolerance_s"):
        pair_folder(tmp_path, onset_tolerance_s=-1)
    with pytest.raises(InputError, match="expected a folder"):
        pair_folder(path)


def test_a_rendered_folder_pairs(tmp_path):
    from dsp_rnn.synth import render_folder

    _midi(tmp_path / "midi" / "piece.mid")
    render_folder(tmp_path / "midi", tmp_path / "out", sample_rate=SR, channels=1)
    folder = pair_folder(tmp_path / "out")  # our voices with the default reverb tail
    assert len(folder) == 1 and folder.skipped == []
