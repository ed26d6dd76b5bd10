"""The note source of learned voices: band-limited impulse trains at the notes' pitches,
note envelopes and the gate, the same samples in any blocks; a voice is silent where no
note plays once its release has decayed, and starts on the note-on sample; the release is
measured on recordings and the harmonic share chosen on them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch

from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.music import Note, write_audio
from dsp_rnn.voice import (
    TIMING_SLACK,
    LearnedVoice,
    SourceConfig,
    VoiceNet,
    VoiceNetConfig,
    load_voice,
    measure_release_s,
    noise_envelope,
    note_source,
    render_voice,
    save_voice,
    score_notes,
    timing_floor,
    tune_source,
)
from tests.conftest import tiny_audio_rnn
from tests.test_voice_cli import _midi

SR = 16_000


class _Pair(NamedTuple):
    audio: Path
    midi: Path


pytestmark = pytest.mark.usefixtures("one_thread")


def _notes(*rows):
    return score_notes([Note(p, v, 0, 0, s, e) for s, e, p, v in rows]).notes


def _voice(source: SourceConfig | None = None) -> LearnedVoice:
    torch.manual_seed(0)
    net = VoiceNet(VoiceNetConfig(hidden=8, projection=8)).eval()
    return LearnedVoice(net, tiny_audio_rnn(), source=source or SourceConfig())


def test_one_note_is_the_sum_of_its_harmonics_in_phase_from_its_note_on():
    cfg = SourceConfig(attack_s=0.0, max_harmonic_hz=2000.0)
    start = 0.0103
    e, gate = note_source(_notes((start, 0.5, 57, 100)), 0, 8000, SR, cfg)  # A3, 220 Hz
    t = np.arange(8000) / SR
    m = math.floor(2000.0 / 220.0)  # 9 harmonics
    k = np.arange(1, m + 1)[:, None]
    train = np.sqrt(2.0 / m) * np.cos(2 * np.pi * k * 220.0 * (t - start)).sum(axis=0)
    held = (t >= start) & (t < 0.5)
    np.testing.assert_allclose(e[held], train[held], atol=1e-9)
    assert np.all(e[t < start] == 0) and np.all(gate[t < start] == 0) and np.all(gate[held] == 1)
    assert abs(np.mean(e[held] ** 2) - 1.0) < 0.01  # unit mean power


def test_the_envelope_attacks_holds_and_stops_at_minus_60_db_after_the_release():
    cfg = SourceConfig(attack_s=0.01, release_s=0.2)
    _, gate = note_source(_notes((0.1, 0.3, 60, 64)), 0, 12000, SR, cfg)
    t = np.arange(12000) / SR
    np.testing.assert_allclose(gate[(t >= 0.1) & (t <= 0.11)],
                               (t[(t >= 0.1) & (t <= 0.11)] - 0.1) / 0.01, atol=1e-9)  # fmt: skip
    assert np.all(gate[(t > 0.11) & (t <= 0.3)] == 1)
    fall = (t > 0.3) & (t < 0.5)
    np.testing.assert_allclose(20 * np.log10(gate[fall]), -60 * (t[fall] - 0.3) / 0.2, atol=1e-6)
    assert np.all(gate[t >= 0.5 + 1 / SR] == 0) and gate[fall].min() > 1e-3 * 0.99


def test_a_decay_weighs_each_note_by_the_time_since_its_note_on():
    cfg = SourceConfig(attack_s=0.0, decay_s=0.5)
    rows = ((0.0, 1.0, 48, 100), (0.4, 1.0, 67, 50))
    e, _ = note_source(_notes(*rows), 0, SR, SR, cfg)
    t = np.arange(SR) / SR
    trains, weights = [], []
    for start, end, pitch, vel in rows:
        one, _ = note_source(_notes((start, end, pitch, vel)), 0, SR, SR, cfg)
        trains.append(one)  # one note alone: its train, whatever its weight
        weights.append(np.where(t >= start, vel / 127 * 10 ** (-3 * (t - start) / 0.5), 0.0))
    w = np.array(weights)
    expected = (w * np.array(trains)).sum(axis=0) / np.sqrt((w**2).sum(axis=0))
    np.testing.assert_allclose(e, expected, atol=1e-9)


def test_the_noise_envelope_restarts_at_each_note_on():
    notes = _notes((0.1, 0.5, 60, 100), (0.3, 0.4, 64, 100), (0.3, 0.6, 67, 100))
    cfg = SourceConfig(noise_decay_s=0.2)
    env = noise_envelope(notes, 0, 12000, SR, cfg)
    t = np.arange(12000) / SR
    latest = np.where(t >= 0.3, 0.3, 0.1)
    expected = np.where(t >= 0.1, 10 ** (-3 * (t - latest) / 0.2), 0.0)
    np.testing.assert_allclose(env, expected, rtol=1e-9, atol=1e-12)
    parts = np.concatenate([noise_envelope(notes, s, 777, SR, cfg) for s in range(0, 12000, 777)])
    assert np.array_equal(parts[:12000], env)
    assert np.array_equal(noise_envelope(notes, 0, 100, SR), np.ones(100))  # None: level


def test_the_source_is_band_limited_and_the_chord_sounds_every_note():
    chord = _notes((0.0, 1.0, 36, 90), (0.0, 1.0, 55, 90), (0.0, 1.0, 64, 90))
    e, _ = note_source(chord, 0, SR, SR, SourceConfig(attack_s=0.0, max_harmonic_hz=3000.0))
    spec = np.abs(np.fft.rfft(e * np.hanning(SR))) ** 2
    hz = np.fft.rfftfreq(SR, 1 / SR)
    assert spec[hz > 3100].sum() < 1e-6 * spec.sum()
    for pitch in (36, 55, 64):  # a peak at each fundamental
        f0 = 440 * 2 ** ((pitch - 69) / 12)
        near = np.abs(hz - f0) < 2
        assert spec[near].max() > 100 * np.median(spec[(hz > 20) & (hz < 3000)])


@pytest.mark.parametrize("block", [1, 7, 160, 999, 4000])
def test_blocks_give_the_same_samples_even_on_a_release_edge(block):
    """A block may start exactly where a release ends (0.4 + 0.3 s): the envelope, not the
    block, decides whether the note still sounds."""
    notes = _notes((0.1, 0.4, 60, 100), (0.3, 0.6, 64, 80), (0.7, 1.2, 43, 127))
    cfg = SourceConfig(release_s=0.3)
    whole = note_source(notes, 0, 24000, SR, cfg)
    for i in (0, 1):
        parts = np.concatenate([note_source(notes, s, min(block, 24000 - s), SR, cfg)[i]
                                for s in range(0, 24000, block)])  # fmt: skip
        assert np.array_equal(parts, whole[i])


def test_a_voice_is_silent_where_nothing_plays_and_starts_on_the_note_on():
    voice = _voice(SourceConfig(harmonic_share=1.0, release_s=0.1))
    notes = [Note(60, 100, 0, 0, 0.2503, 0.5), Note(64, 100, 0, 0, 1.5, 1.8)]
    y = render_voice(voice, notes, gate_db=None, tail_s=0.5)[0]
    first = int(np.flatnonzero(y)[0])
    assert round(0.2503 * SR) <= first <= round(0.2503 * SR) + 2
    assert np.all(y[round(0.6 * SR) + 1 : round(1.5 * SR)] == 0)  # the rest
    assert np.all(y[round(1.9 * SR) + 1 :] == 0)  # the tail
    assert np.sqrt(np.mean(y[round(0.3 * SR) : round(0.5 * SR)] ** 2)) > 1e-3  # it sounds


def test_the_harmonic_share_mixes_the_notes_and_the_sample_model():
    notes = [Note(57, 100, 0, 0, 0.0, 0.6)]
    renders = {s: render_voice(_voice(SourceConfig(harmonic_share=s)), notes, gate_db=None,
                               peak_db=None)[0] for s in (0.0, 1.0)}  # fmt: skip
    assert not np.array_equal(renders[0.0], renders[1.0])
    spec = {s: np.abs(np.fft.rfft(y[1600:8000])) for s, y in renders.items()}
    hz = np.fft.rfftfreq(6400, 1 / SR)
    peak = np.abs(hz - 220) < 5  # the note's fundamental stands out of the notes' share
    assert spec[1.0][peak].max() / np.median(spec[1.0]) > 10 * (
        spec[0.0][peak].max() / np.median(spec[0.0])
    )


def test_the_source_settings_are_kept_in_the_voice_folder(tmp_path):
    cfg = SourceConfig(
        harmonic_share=0.25, attack_s=0.004, release_s=0.7, decay_s=3.0, noise_decay_s=0.5
    )
    save_voice(tmp_path / "v", _voice(cfg))
    assert load_voice(tmp_path / "v").source == cfg
    (tmp_path / "v" / "source.json").unlink()  # an older folder: the defaults
    assert load_voice(tmp_path / "v").source == SourceConfig()
    (tmp_path / "v" / "source.json").write_text(json.dumps({"source": {"release": 1}}))
    with pytest.raises(CheckpointError, match="source.json"):
        load_voice(tmp_path / "v")
    for bad in ({"harmonic_share": 1.5}, {"release_s": 0.0}, {"attack_s": float("nan")},
                {"max_harmonic_hz": True}, {"decay_s": 0.0}, {"noise_decay_s": -1}):  # fmt: skip
        with pytest.raises(InputError):
            SourceConfig(**bad)


def _recording(path: Path, release_s: float, end_s: float = 0.6) -> Path:
    """A tone from 0.1 s to ``end_s`` that dies away by 60 dB ``release_s`` after it."""
    t = np.arange(round((end_s + release_s + 0.5) * SR)) / SR
    after = np.maximum(t - end_s, 0)
    env = np.where(t < 0.1, 0.0, 10 ** (-3 * after / release_s))
    x = 0.5 * env * np.sin(2 * np.pi * 261.6 * t)
    return write_audio(path, x.astype(np.float32), sample_rate=SR, subtype="FLOAT")


def test_the_release_is_measured_on_the_recordings(tmp_path):
    pairs = []
    for i, release in enumerate((0.2, 0.3, 0.4)):
        pairs.append(_Pair(_recording(tmp_path / f"{i}.wav", release),
                           _midi(tmp_path / f"{i}.mid", ((0.1, 0.6, 60),))))  # fmt: skip
    one = measure_release_s(pairs[2:], quantile=1.0)
    assert abs(one - 0.4) <= 0.011  # 10 ms frames
    assert measure_release_s(pairs, quantile=0.5) == pytest.approx(
        measure_release_s(pairs[1:2]), abs=1e-12)  # fmt: skip
    with pytest.raises(InputError, match="no pair"):
        measure_release_s([])


def test_tuning_keeps_the_closest_share_and_the_measured_release(tmp_path):
    pairs = [_Pair(_recording(tmp_path / f"{i}.wav", 0.3),
                   _midi(tmp_path / f"{i}.mid", ((0.1, 0.6, 60),))) for i in range(2)]  # fmt: skip
    tuned = tune_source(_voice(), pairs, shares=(0.0, 0.5, 1.0), decays_s=(None, 0.2),
                        noise_decays_s=(None, 0.1), seconds=1.0)  # fmt: skip
    keys = {"0", "0/0.1", "0.5", "0.5/0.1", "1"}  # share[/noise decay]; share 1 has no noise
    assert set(tuned.distances) == set(tuned.timing) == keys
    assert len(set(tuned.distances.values())) == 5
    assert all(0.0 <= t <= 1.0 for t in tuned.timing.values())

    def rule(distances, timing):  # the closest among the candidates timed within the slack
        floor = min(max(timing.values()), tuned.reference_timing) - TIMING_SLACK
        assert floor == timing_floor(list(timing.values()), tuned.reference_timing)
        fair = [k for k in distances if timing[k] >= floor]
        return min(fair, key=distances.get)

    assert 0.0 <= tuned.reference_timing <= 1.0

    src = tuned.source
    chosen = f"{src.harmonic_share:g}" + ("" if src.noise_decay_s is None
                                          else f"/{src.noise_decay_s:g}")  # fmt: skip
    assert chosen == rule(tuned.distances, tuned.timing)
    decays = tuned.decay_distances
    assert set(decays) == set(tuned.decay_timing) == {"none", "0.2"}
    assert decays["none"] == tuned.distances[chosen]
    picked = rule(decays, tuned.decay_timing)
    assert src.decay_s == (None if picked == "none" else 0.2)
    assert tuned.source.release_s == measure_release_s(pairs)
    assert tuned.pieces == [str(p.audio) for p in pairs]
    with pytest.raises(InputError, match="at least one"):
        tune_source(_voice(), pairs, shares=())
