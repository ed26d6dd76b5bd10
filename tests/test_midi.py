"""MIDI reading, NoteGrid round trips, pretty_midi agreement, damaged files, folders, JSB."""

from __future__ import annotations

import json
import random
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsp_rnn.errors import DspRnnError, InputError, MidiError
from dsp_rnn.music import jsb as jsb_module
from dsp_rnn.music.demo_midi import make_demo_midi
from dsp_rnn.music.folder import MidiFolder
from dsp_rnn.music.grid import GridNote, NoteGrid
from dsp_rnn.music.jsb import JSBNotFoundError, default_jsb_path, load_jsb
from dsp_rnn.music.midi import parse_midi_bytes, read_midi

from .midi_factory import NOTE, clean_midi, damaged_files, raw_midi, to_bytes, write_damaged_folder


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


def test_folder_with_damaged_files_loads_the_good_ones(tmp_path):
    good = [clean_midi(tempo_bpm=t) for t in (80, 100, 120)]
    expect = write_damaged_folder(tmp_path / "messy", good)
    folder = MidiFolder(tmp_path / "messy", cache_dir=None)
    used = {p.name for p in folder.paths}
    skipped = {s.path.name: s.reason for s in folder.skipped}
    assert {n for n, e in expect.items() if e in ("used", "repaired")} == used
    assert {n for n, e in expect.items() if e == "skipped"} == set(skipped)
    assert len(skipped) >= 10 and all(len(r) > 5 for r in skipped.values())
    assert "no MThd" in skipped["text.mid"] and "RIFF" in skipped["wave_named_mid.mid"]
    assert "type 2" in skipped["type2.mid"] and "limit" in skipped["huge_ticks.mid"]
    assert {p.name for p in folder.warnings} >= {"truncated_track.mid", "data_byte_above_127.mid"}


def test_cache_reload_equals_first_load_and_survives_damage(tmp_path):
    make_demo_midi(tmp_path / "corpus", n_pieces=6, seed=1)
    first = MidiFolder(tmp_path / "corpus", cache_dir=tmp_path / "cache")
    entries = sorted((tmp_path / "cache").rglob("*.grid"))
    (pack,) = (tmp_path / "cache").rglob("*.pack")
    assert len(entries) == 6
    again = MidiFolder(tmp_path / "corpus", cache_dir=tmp_path / "cache")  # from the pack
    assert again.grids == first.grids and again.splits == first.splits
    assert again.paths == first.paths and again.warnings == first.warnings
    # reloaded grids are views of one memory-mapped pack: writable, private, independent
    before = pack.read_bytes()
    g0, g1 = again.grids[0], again.grids[1]
    g0.play[:] = True
    g0.velocity[:] = 1
    assert g1 == first.grids[1] and pack.read_bytes() == before
    assert MidiFolder(tmp_path / "corpus", cache_dir=tmp_path / "cache").grids == first.grids
    pack.write_bytes(b"garbage")  # damaged pack and entry: parsed again, same result
    entries[0].write_bytes(b"garbage")
    second = MidiFolder(tmp_path / "corpus", cache_dir=tmp_path / "cache")
    assert second.grids == first.grids and second.splits == first.splits
    # a changed file is noticed: the pack no longer matches, that file is parsed again
    path = first.paths[2]
    (other,) = make_demo_midi(tmp_path / "other", n_pieces=1, seed=9)
    path.write_bytes(other.read_bytes())
    third = MidiFolder(tmp_path / "corpus", cache_dir=tmp_path / "cache")
    assert third.grids[2] != first.grids[2] and third.grids[3] == first.grids[3]
    parallel = MidiFolder(tmp_path / "corpus", cache_dir=None, jobs=2)
    assert parallel.grids == third.grids


def test_split_follows_content_not_names(tmp_path):
    paths = make_demo_midi(tmp_path / "a", n_pieces=12, seed=2)
    folder = MidiFolder(tmp_path / "a", cache_dir=None, valid_fraction=0.3)
    by_content = {p.read_bytes(): s for p, s in zip(folder.paths, folder.splits, strict=True)}
    for i, p in enumerate(paths):  # rename everything, shuffle the order
        p.rename(p.with_name(f"zz_{(7 * i) % 12:02d}.mid"))
    renamed = MidiFolder(tmp_path / "a", cache_dir=None, valid_fraction=0.3)
    assert {
        p.read_bytes(): s for p, s in zip(renamed.paths, renamed.splits, strict=True)
    } == by_content
    assert 0 < renamed.splits.count("valid") < 12


def test_windows_are_seeded_and_shaped(tmp_path):
    make_demo_midi(tmp_path, n_pieces=4, seed=4)
    folder = MidiFolder(tmp_path, cache_dir=None, valid_fraction=0.0)
    a = next(folder.windows(split="train", length=32, batch_size=3, seed=5, transpose=3))
    b = next(folder.windows(split="train", length=32, batch_size=3, seed=5, transpose=3))
    assert a.shape == (3, 32, 88, 2) and np.array_equal(a, b)
    assert a[..., 0].sum() > 0 and np.all(a[..., 1] <= a[..., 0])


def test_missing_folder_and_limits_are_clear(tmp_path):
    with pytest.raises(InputError, match="no such"):
        MidiFolder(tmp_path / "nope", cache_dir=None)
    with pytest.raises(MidiError, match="limit"):
        parse_midi_bytes(raw_midi([NOTE * 50 + b"\x00\xff\x2f\x00"]),
                         limits=__import__("dsp_rnn.music.midi", fromlist=["Limits"]).Limits(
                             max_notes=10))  # fmt: skip
    assert issubclass(MidiError, DspRnnError) and issubclass(MidiError, ValueError)


def test_jsb_small_file_and_errors(tmp_path):
    path = tmp_path / "jsb-chorales-quarter.json"
    path.write_text(
        json.dumps({"train": [[[60, 64], [60, 65], [], [62]]], "valid": [], "test": []})
    )
    (grid,) = load_jsb(path, "train")
    assert grid.steps_per_quarter == 1 and grid.n_steps == 4
    assert [(n.pitch, n.start, n.end) for n in grid.to_notes()] == [
        (60, 0, 2), (64, 0, 1), (65, 1, 2), (62, 3, 4)]  # fmt: skip
    with pytest.raises(InputError, match="split"):
        load_jsb(path, "dev")
    path.write_text("{not json")
    with pytest.raises(InputError, match="JSON"):
        load_jsb(path)


def test_shipped_jsb_benchmark_loads():
    path = default_jsb_path()  # data/jsb/ in the checkout
    assert path.name == "jsb-chorales-quarter.json"
    grids = load_jsb(path, "test")
    assert len(grids) == 77 and grids[0].steps_per_quarter == 1
    steps = sum(g.n_steps for g in grids)
    per_step = sum(int(g.play.sum()) for g in grids) / steps
    assert 3.5 < per_step < 4.1  # four voices, a few rests/unisons
    assert [len(load_jsb(split=s)) for s in ("train", "valid")] == [229, 76]  # default path


def test_jsb_sixteenth_file_resolution_from_its_name(tmp_path):
    path = tmp_path / "jsb-chorales-16th.json"
    path.write_text(json.dumps({"train": [[[60], [60], [62], []]], "valid": [], "test": []}))
    (grid,) = load_jsb(path, "train")
    assert grid.steps_per_quarter == 4 and grid.n_steps == 4


def test_missing_shipped_jsb_says_to_pass_a_path(tmp_path, monkeypatch, capsys):
    from dsp_rnn.cli import main
    from dsp_rnn.cli.model import DEFAULT_JSB

    assert Path(DEFAULT_JSB) == jsb_module.SHIPPED_JSB  # eval's --jsb default
    missing = tmp_path / "data" / "jsb" / "jsb-chorales-quarter.json"
    monkeypatch.setattr(jsb_module, "SHIPPED_JSB", missing)  # as in an installed wheel
    with pytest.raises(JSBNotFoundError, match="--jsb"):
        default_jsb_path()
    with pytest.raises(FileNotFoundError, match="not with an installed package"):
        load_jsb(missing, "test")
    assert issubclass(JSBNotFoundError, InputError)
    assert main(["eval", "default", "--jsb", str(missing)]) == 1
    assert "pass the path" in capsys.readouterr().err


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


def test_scan_skips_symlinked_folders_and_orders_depth_first(tmp_path):
    make_demo_midi(tmp_path / "corpus" / "b", n_pieces=2, seed=1)
    make_demo_midi(tmp_path / "corpus" / "a", n_pieces=2, seed=2)
    (tmp_path / "corpus" / "a" / "loop").symlink_to(tmp_path / "corpus")  # would never end
    folder = MidiFolder(tmp_path / "corpus", cache_dir=None)
    names = [p.relative_to(tmp_path / "corpus").as_posix() for p in folder.paths]
    assert names == sorted(names) and len(names) == 4
    assert all(isinstance(p, Path) for p in folder.paths) and folder.paths is folder.paths
