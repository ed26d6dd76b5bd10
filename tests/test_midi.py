"""MIDI reading, NoteGrid round trips, pretty_midi agreement, damaged files, the SMF reader.

Folders: test_midi_folder.py; the JSB chorales: test_jsb.py.
"""

from __future__ import annotations

import random

import mido
import numpy as np
import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsp_rnn.errors import InputError, MidiError
from dsp_rnn.music.demo_midi import make_demo_midi
from dsp_rnn.music.grid import GridNote, NoteGrid
from dsp_rnn.music.midi import parse_midi_bytes, read_midi

from .midi_factory import clean_midi, damaged_files, raw_midi, to_bytes


def _pm_notes(path):
    pm = pretty_midi.PrettyMIDI(str(path))
    return sorted((n.pitch, round(n.start, 9), round(n.end, 9), n.velocity)
                  for inst in pm.instruments for n in inst.notes)  # fmt: skip


def _our_notes(score):
    return sorted((n.pitch, round(n.start_s, 9), round(n.end_s, 9), n.velocity)
                  for n in score.notes)  # fmt: skip


def test_notes_agree_with_pretty_midi(tmp_path):
    path = tmp_path / "clean.mid"
    clean_midi().save(str(path))
    score = read_midi(path)
    assert score.warnings == []
    assert _our_notes(score) == _pm_notes(path)
    # the overlapping 67s end together (one note-off closes both), as pretty_midi does
    assert [(n.start_tick, n.end_tick) for n in score.notes if n.pitch == 67] == [
        (720, 1200), (840, 1200)]  # fmt: skip
    assert score.time_signatures == [(0, 3, 4)] and round(score.tempo_bpm) == 100
    assert {n.program for n in score.notes if n.channel == 1} == {48}
    assert [n.pitch for n in score.notes if n.is_drum] == [36]


def test_demo_corpus_agrees_with_pretty_midi(tmp_path):
    for path in make_demo_midi(tmp_path, n_pieces=5, seed=3):
        assert _our_notes(read_midi(path)) == _pm_notes(path)


def test_drums_dropped_on_request_and_sustain_extends_notes(tmp_path):
    path = tmp_path / "clean.mid"
    clean_midi().save(str(path))
    assert all(not n.is_drum for n in read_midi(path, drums="drop").notes)
    body = (b"\x00\xb0\x40\x7f"  # pedal down
            b"\x00\x90\x3c\x50\x83\x60\x80\x3c\x00"  # note 60 for 480 ticks
            b"\x87\x40\xb0\x40\x00"  # pedal up 960 ticks later
            b"\x00\xff\x2f\x00")  # fmt: skip
    data = raw_midi([body])
    assert [(n.start_tick, n.end_tick) for n in parse_midi_bytes(data).notes] == [(0, 480)]
    held = parse_midi_bytes(data, sustain=True).notes
    assert [(n.start_tick, n.end_tick) for n in held] == [(0, 1440)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(21, 108), st.integers(0, 40), st.integers(1, 8),
                          st.integers(1, 127)), min_size=0, max_size=30))  # fmt: skip
def test_grid_midi_grid_round_trip_is_exact(tmp_path_factory, raw):
    notes = [GridNote(p, s, s + d, v) for p, s, d, v in raw]
    grid = NoteGrid.from_notes(notes, tempo_bpm=90.0, time_signature=(3, 4))
    path = tmp_path_factory.mktemp("rt") / "g.mid"
    grid.to_midi(path)
    back = NoteGrid.from_score(read_midi(path), steps_per_quarter=4)
    back = back.with_range(grid.low_pitch, grid.n_pitches)
    n = grid.n_steps
    assert back.n_steps == n  # trailing silence is not stored in MIDI; nothing else differs
    assert np.array_equal(back.play, grid.play) and np.array_equal(back.onset, grid.onset)
    assert np.array_equal(back.velocity, grid.velocity)
    assert back.to_notes() == grid.to_notes()
    assert back.tempo_bpm == pytest.approx(90.0, rel=1e-5) and back.time_signature == (3, 4)


def test_notes_to_grid_to_notes_and_edits():
    notes = [GridNote(60, 0, 4, 90), GridNote(60, 4, 6, 70), GridNote(64, 2, 3, 100)]
    grid = NoteGrid.from_notes(notes)
    assert grid.to_notes() == sorted(notes, key=lambda n: (n.start, n.pitch))
    up = grid.transpose(5)
    assert [n.pitch for n in up.to_notes()] == [65, 69, 65]
    with pytest.raises(InputError, match="outside the range"):
        grid.transpose(60)
    small = grid.with_range(58, 5)  # keeps 58..62: the 64 is cropped
    assert [n.pitch for n in small.to_notes()] == [60, 60]
    assert NoteGrid.from_bytes(grid.to_bytes()) == grid
    with pytest.raises(InputError, match="truncated"):
        NoteGrid.from_bytes(grid.to_bytes()[:-3])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_typed_errors(data):
    try:
        score = parse_midi_bytes(data)
    except MidiError as exc:
        assert str(exc)  # a typed error with a message; anything else fails the test
        return
    assert all(0 <= n.pitch <= 127 and n.end_tick > n.start_tick for n in score.notes)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_midi_raises_only_typed_errors(data):
    base = bytearray(to_bytes(clean_midi()))
    rng = random.Random(data.draw(st.integers(0, 2**32 - 1)))
    for _ in range(data.draw(st.integers(1, 12))):
        op = rng.random()
        i = rng.randrange(len(base))
        if op < 0.5:
            base[i] = rng.randrange(256)
        elif op < 0.75:
            del base[i]
        else:
            base.insert(i, rng.randrange(256))
    if data.draw(st.booleans()):
        base = base[: data.draw(st.integers(0, len(base)))]
    try:
        score = parse_midi_bytes(bytes(base))
    except MidiError:
        return
    assert all(0 <= n.pitch <= 127 and n.end_tick > n.start_tick for n in score.notes)


@pytest.mark.parametrize("name", sorted(damaged_files()))
def test_each_damaged_file_is_repaired_or_refused_with_a_reason(name):
    data, expect = damaged_files()[name]
    if expect in ("used", "repaired"):
        score = parse_midi_bytes(data, source=name)
        assert score.notes and bool(score.warnings) == (expect == "repaired")
        # through mido: mido refuses these, the tolerant reader takes over and says so
        via_mido = parse_midi_bytes(data, source=name, reader="mido")
        assert via_mido.notes == score.notes and "mido refused" in via_mido.warnings[0]
    else:
        try:
            score = parse_midi_bytes(data, source=name)
        except MidiError as exc:
            assert str(exc).startswith(name)
        else:  # parses, but holds nothing usable
            assert not score.notes


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 127), st.integers(0, 2000), st.integers(1, 900),
                          st.integers(1, 127), st.integers(0, 15)), max_size=40),
       st.integers(1, 960))  # fmt: skip
def test_smf_reader_equals_mido_reader_on_clean_files(raw, tpb):
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    events = []
    for pitch, start, dur, vel, ch in raw:
        events.append((start, 1, mido.Message("note_on", note=pitch, velocity=vel, channel=ch)))
        events.append((start + dur, 0, mido.Message("note_off", note=pitch, channel=ch)))
    events.sort(key=lambda e: (e[0], e[1]))
    track, now = mido.MidiTrack(), 0
    for tick, _, msg in events:
        track.append(msg.copy(time=tick - now))
        now = tick
    mid.tracks += [mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=400_000)]), track]
    data = to_bytes(mid)
    ours, theirs = parse_midi_bytes(data), parse_midi_bytes(data, reader="mido")
    assert ours.notes == theirs.notes and ours.tempos == theirs.tempos
    assert ours.warnings == theirs.warnings == []
    for path_mid in (clean_midi(),):
        d = to_bytes(path_mid)
        assert parse_midi_bytes(d).notes == parse_midi_bytes(d, reader="mido").notes


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 127), st.integers(0, 3000), st.integers(1, 700),
                          st.integers(1, 127), st.sampled_from([0, 1, 9]),
                          st.sampled_from([0, 24, 40])), max_size=30))  # fmt: skip
def test_notes_midi_notes_round_trip_is_exact(tmp_path_factory, raw):
    from dsp_rnn.music.midi import Note, Score, write_midi

    # one note per (pitch, channel) at a time: overlapping same-pitch notes are ambiguous in MIDI
    notes, busy = [], {}
    for pitch, start, dur, vel, ch, prog in sorted(raw, key=lambda r: r[1]):
        if busy.get((pitch, ch), -1) >= start:
            continue
        busy[(pitch, ch)] = start + dur
        notes.append(Note(pitch, vel, start, start + dur, 0.0, 0.0, prog if ch != 9 else 0, ch, 0))
    score = Score(notes, 240, [(0, 400_000), (1000, 600_000)], [(0, 6, 8)])
    path = write_midi(score, tmp_path_factory.mktemp("n") / "s.mid")
    back = read_midi(path)
    key = lambda n: (n.start_tick, n.pitch, n.channel)  # noqa: E731
    got = sorted((n.pitch, n.velocity, n.start_tick, n.end_tick, n.channel) for n in back.notes)
    want = sorted((n.pitch, n.velocity, n.start_tick, n.end_tick, n.channel) for n in notes)
    assert got == want and back.tempos == score.tempos and back.time_signatures == [(0, 6, 8)]
    pairs = zip(sorted(back.notes, key=key), sorted(notes, key=key), strict=True)
    assert all(n.program == m.program for n, m in pairs)
    if notes:  # seconds follow the tempo map: 400 ms per beat before tick 1000, 600 after
        n = max(back.notes, key=lambda n: n.end_tick)
        expect = (min(n.end_tick, 1000) * 0.4 + max(n.end_tick - 1000, 0) * 0.6) / 240
        assert n.end_s == pytest.approx(expect)
