"""The tolerant SMF reader against its peers, byte by byte.

Each test builds the exact bytes of a small file, writes it, and checks what
:func:`read_midi` makes of it against mido (events, tempo) and pretty_midi (notes in
seconds, ``get_tempo_changes``), in the same test. Where a peer refuses a file or reads it
against the MIDI specification, the test says so and checks the peer on the equivalent
clean file instead.
"""

from __future__ import annotations

import io
import warnings

import mido
import pretty_midi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp_rnn.cli import main
from dsp_rnn.music.midi import (
    NOTE_OFF,
    NOTE_ON,
    TEMPO,
    bisect_tempo,
    events_from_mido,
    parse_midi_bytes,
    parse_smf,
    read_midi,
)

from .midi_factory import EOT, off, on, raw_midi, tempo, time_signature, track, vlq


def _write(tmp_path, data: bytes, name: str = "f.mid"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _pm(path) -> pretty_midi.PrettyMIDI:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tempo on a non-zero track: pretty_midi warns
        return pretty_midi.PrettyMIDI(str(path))


def _pm_notes(pm):
    return sorted((n.pitch, round(n.start, 9), round(n.end, 9), n.velocity)
                  for inst in pm.instruments for n in inst.notes)  # fmt: skip


def _pm_tempo_map(pm):
    """pretty_midi's tempo changes as the tempo in force: of several at one time, the last."""
    times, bpm = pm.get_tempo_changes()
    at: dict[float, float] = {}
    for t, b in zip(times.round(9).tolist(), bpm.round(6).tolist(), strict=True):
        at[t] = b
    out: list[tuple[float, float]] = []
    for t, b in at.items():
        if not out or out[-1][1] != b:
            out.append((t, b))
    return out


def _our_notes(score):
    return sorted((n.pitch, round(n.start_s, 9), round(n.end_s, 9), n.velocity)
                  for n in score.notes)  # fmt: skip


def _our_tempo_map(score):
    secs = score.ticks_to_seconds([t for t, _ in score.tempos]).round(9).tolist()
    return [(s, round(60e6 / us, 6)) for s, (_, us) in zip(secs, score.tempos, strict=True)]


def _mido_events(path):
    return events_from_mido(mido.MidiFile(str(path)))[0]


def _our_events(path):
    return parse_smf(path.read_bytes())[2]


def _both_readers(path):
    ours, theirs = read_midi(path), read_midi(path, reader="mido")
    assert ours.notes == theirs.notes and ours.tempos == theirs.tempos
    assert ours.time_signatures == theirs.time_signatures and ours.warnings == theirs.warnings
    return ours


# -- tempo, metre: several events at one tick -------------------------------------------------

SLOW, FAST, MID = 1_200_000, 500_000, 400_000


@pytest.mark.parametrize(
    "at, order",
    [(0, (SLOW, FAST)), (0, (FAST, SLOW)), (0, (MID, SLOW, FAST)), (480, (SLOW, MID)),
     (480, (MID, SLOW)), (480, (FAST, SLOW, FAST)), (480, (SLOW, FAST, MID))],
)  # fmt: skip
def test_tempo_events_at_one_tick_the_later_wins(tmp_path, at, order):
    events = [(0, tempo(MID)), (0, on(60))] if at else [(0, on(60))]
    tempi = [(0, tempo(us)) for us in order]
    tempi[0] = (at, tempi[0][1])
    if at:
        events += tempi + [(480, off(60))]
    else:
        events = tempi + events + [(480, off(60))]
    path = _write(tmp_path, raw_midi([track(*events)], midi_type=0))
    score = _both_readers(path)
    assert score.warnings == []
    # mido: the tempo in force after the tick is the last set_tempo there
    last = [us for t, k, _, us, _ in _mido_events(path)[0] if k == TEMPO and t == at][-1]
    assert last == order[-1] and bisect_tempo(score.tempos, at) == order[-1]
    pm = _pm(path)
    assert _our_tempo_map(score) == _pm_tempo_map(pm)
    assert _our_notes(score) == _pm_notes(pm)


def test_slow_then_fast_tempo_at_tick_0_is_not_read_slow(tmp_path):
    """A real file's two opening tempo events: it came out 2.4x too slow."""
    body = track((0, tempo(SLOW)), (0, tempo(FAST)), (0, on(60)), (960, off(60)))
    score = read_midi(_write(tmp_path, raw_midi([body])))
    assert score.tempos == [(0, FAST)] and score.notes[0].end_s == pytest.approx(1.0)


@pytest.mark.parametrize("at", [0, 480])
def test_tempo_at_one_tick_in_two_tracks_the_first_track_wins(tmp_path, at):
    conductor = track((at, tempo(MID)))
    other = track((at, tempo(SLOW)), (0, on(60)), (960, off(60)))
    path = _write(tmp_path, raw_midi([conductor, other]))
    score = _both_readers(path)
    pm = _pm(path)  # pretty_midi reads tempo from the first track only
    assert _our_tempo_map(score) == _pm_tempo_map(pm)
    assert _our_notes(score) == _pm_notes(pm)
    assert dict(score.tempos)[at] == MID
    assert score.warnings == [
        f"tempo set differently by two tracks at tick(s) {at}; the earlier track's kept"
    ]
    # the same value in both tracks is no conflict
    same = _write(tmp_path, raw_midi([conductor, track((at, tempo(MID)))]), "same.mid")
    assert read_midi(same).warnings == []


def test_tempo_on_a_later_track_at_another_tick_is_used(tmp_path):
    """pretty_midi ignores it (with a RuntimeWarning); mido plays it; so does this reader."""
    path = _write(tmp_path, raw_midi([EOT, track((0, on(60)), (480, tempo(SLOW)),
                                                 (480, off(60)))]))  # fmt: skip
    score = _both_readers(path)
    assert score.tempos == [(0, FAST), (480, SLOW)] and score.warnings == []
    assert score.notes[0].end_s == pytest.approx(0.5 + 1.2)


def test_time_signatures_at_one_tick_the_later_wins(tmp_path):
    conductor = track((0, time_signature(3, 4)), (0, time_signature(6, 8)),
                      (960, time_signature(2, 4)), (0, time_signature(5, 4)))  # fmt: skip
    other = track((0, time_signature(7, 8)), (0, on(60)), (1920, off(60)))
    path = _write(tmp_path, raw_midi([conductor, other]))
    score = _both_readers(path)
    pm = _pm(path)  # pretty_midi lists every one (first track only), in file order
    pm_sigs = [(round(s.time, 9), s.numerator, s.denominator) for s in pm.time_signature_changes]
    assert pm_sigs == [(0.0, 3, 4), (0.0, 6, 8), (1.0, 2, 4), (1.0, 5, 4)]
    last_at = {t: (n, d) for t, n, d in pm_sigs}
    secs = score.ticks_to_seconds([t for t, _, _ in score.time_signatures]).tolist()
    ours = {round(s, 9): (n, d) for s, (_, n, d) in zip(secs, score.time_signatures, strict=True)}
    assert ours == last_at and score.time_signatures == [(0, 6, 8), (960, 5, 4)]
    assert score.warnings == [
        "time signature set differently by two tracks at tick(s) 0; the earlier track's kept"
    ]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 0, 0, 120, 480]),
                          st.sampled_from([300_000, 500_000, 750_000, 1_200_000])),
                max_size=8))  # fmt: skip
def test_tempo_maps_agree_with_pretty_midi(steps):
    events = [(delta, tempo(us)) for delta, us in steps]
    conductor = track(*events)
    notes = track((0, on(60)), (3000, off(60)), (0, on(62)), (7, off(62)))
    data = raw_midi([conductor, notes])
    score = parse_bytes_both(data)
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    assert _our_tempo_map(score) == _pm_tempo_map(pm)
    assert _our_notes(score) == _pm_notes(pm)


def parse_bytes_both(data: bytes):
    ours, theirs = parse_midi_bytes(data), parse_midi_bytes(data, reader="mido")
    assert ours.notes == theirs.notes and ours.tempos == theirs.tempos
    assert ours.warnings == theirs.warnings
    return ours


# -- note-on and note-off at one tick ---------------------------------------------------------

# (name, track events, notes as (pitch, start_s, end_s, velocity) at 120 bpm / 480 tpb)
SAME_TICK = [
    ("on then off: no note", [(0, on(60)), (0, off(60)), (480, off(60))], []),
    ("on then velocity-0 on: no note", [(0, on(60)), (0, on(60, 0)), (480, off(60))], []),
    ("on, off, then a later note", [(0, on(60)), (0, off(60)), (480, on(60)), (480, off(60))],
     [(60, 0.5, 1.0, 64)]),
    ("re-strike off then on",
     [(0, on(60)), (480, off(60)), (0, on(60, 80)), (480, off(60))],
     [(60, 0.0, 0.5, 64), (60, 0.5, 1.0, 80)]),
    ("re-strike on then off",
     [(0, on(60)), (480, on(60, 80)), (0, off(60)), (480, off(60))],
     [(60, 0.0, 0.5, 64), (60, 0.5, 1.0, 80)]),
    ("re-strike on then velocity-0 on",
     [(0, on(60)), (480, on(60, 80)), (0, on(60, 0)), (480, on(60, 0))],
     [(60, 0.0, 0.5, 64), (60, 0.5, 1.0, 80)]),
    ("re-strike off, on, off: the new note is cancelled",
     [(0, on(60)), (480, off(60)), (0, on(60, 80)), (0, off(60)), (480, off(60))],
     [(60, 0.0, 0.5, 64)]),
    ("re-strike on, off, off: the new note is cancelled",
     [(0, on(60)), (480, on(60, 80)), (0, off(60)), (0, off(60)), (480, off(60))],
     [(60, 0.0, 0.5, 64)]),
    ("overlapping notes end together, the one struck at the off sounds on",
     [(0, on(60)), (240, on(60, 70)), (240, on(60, 80)), (0, off(60)), (480, off(60))],
     [(60, 0.0, 0.5, 64), (60, 0.25, 0.5, 70), (60, 0.5, 1.0, 80)]),
    ("other pitches and channels are independent",
     [(0, on(60)), (0, on(62)), (0, on(60, 64, 1)), (0, off(60)), (480, off(62)),
      (0, off(60, 1))],
     [(60, 0.0, 0.5, 64), (62, 0.0, 0.5, 64)]),
]  # fmt: skip


@pytest.mark.parametrize("name, events, expect", SAME_TICK, ids=[c[0] for c in SAME_TICK])
def test_note_on_and_off_at_one_tick_as_pretty_midi(tmp_path, name, events, expect):
    path = _write(tmp_path, raw_midi([track(*events)]))
    score = _both_readers(path)
    assert _our_notes(score) == _pm_notes(_pm(path)) == sorted(expect)
    assert score.warnings == []


# pretty_midi makes two identical notes of a key struck twice at one tick: one note here,
# at the louder velocity
DOUBLE_STRIKE = [
    ("two ons, one off", [(0, on(60, 50)), (0, on(60, 90)), (480, off(60))],
     [(60, 0.0, 0.5, 90)]),
    ("two ons, two offs", [(0, on(60, 90)), (0, on(60, 50)), (480, off(60)), (480, off(60))],
     [(60, 0.0, 0.5, 90)]),
    ("re-strike on, off, on",
     [(0, on(60)), (480, on(60, 80)), (0, off(60)), (0, on(60, 90)), (480, off(60))],
     [(60, 0.0, 0.5, 64), (60, 0.5, 1.0, 90)]),
    ("re-strike off, on, on",
     [(0, on(60)), (480, off(60)), (0, on(60, 90)), (0, on(60, 80)), (480, off(60))],
     [(60, 0.0, 0.5, 64), (60, 0.5, 1.0, 90)]),
    ("two ons, then off at that tick: no note", [(0, on(60)), (0, on(60)), (0, off(60))], []),
]  # fmt: skip


def _one_per_key(notes):
    best: dict[tuple, int] = {}
    for pitch, start, end, vel in notes:
        best[(pitch, start, end)] = max(vel, best.get((pitch, start, end), 0))
    return sorted((*k, v) for k, v in best.items())


@pytest.mark.parametrize("name, events, expect", DOUBLE_STRIKE, ids=[c[0] for c in DOUBLE_STRIKE])
def test_a_key_struck_twice_at_one_tick_is_one_note(tmp_path, name, events, expect):
    path = _write(tmp_path, raw_midi([track(*events)]))
    score = _both_readers(path)
    theirs = _pm_notes(_pm(path))
    assert _our_notes(score) == sorted(expect) == _one_per_key(theirs)
    assert len(theirs) >= len(expect)  # pretty_midi's duplicates, merged here
    assert score.warnings == []


def test_double_strike_keeps_the_program_of_the_first_note_on():
    events = [(0, bytes([0xC0, 5])), (0, on(60, 40)), (0, bytes([0xC0, 9])), (0, on(60, 90)),
              (480, off(60))]  # fmt: skip
    (note,) = parse_midi_bytes(raw_midi([track(*events)])).notes
    assert (note.program, note.velocity, note.start_tick, note.end_tick) == (5, 90, 0, 480)


def test_on_and_off_at_one_tick_under_the_pedal_ring_until_it_lifts():
    # pretty_midi has no sustain; without it the note is dropped, as pretty_midi drops it
    pedal = lambda v: bytes([0xB0, 64, v])  # noqa: E731
    data = raw_midi([track((0, pedal(127)), (0, on(60)), (0, off(60)), (480, pedal(0)))])
    assert parse_midi_bytes(data).notes == []
    held = parse_midi_bytes(data, sustain=True).notes
    assert [(n.pitch, n.start_tick, n.end_tick) for n in held] == [(60, 0, 480)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 0, 0, 60, 240]), st.booleans(),
                          st.sampled_from([60, 61]), st.integers(1, 127)),
                max_size=24))  # fmt: skip
def test_random_same_tick_streams_agree_with_pretty_midi(steps):
    events = [(d, on(p, v) if is_on else off(p)) for d, is_on, p, v in steps]
    events += [(100, off(60)), (0, off(61))]  # nothing left open: pretty_midi drops those
    data = raw_midi([track(*events)])
    score = parse_bytes_both(data)
    theirs = _pm_notes(pretty_midi.PrettyMIDI(io.BytesIO(data)))
    assert _our_notes(score) == _one_per_key(theirs)


# -- system common and real-time bytes --------------------------------------------------------

SYSTEM = {  # status byte -> mido's message type, data bytes
    0xF1: ("quarter_frame", b"\x23"), 0xF2: ("songpos", b"\x10\x20"),
    0xF3: ("song_select", b"\x05"), 0xF6: ("tune_request", b""), 0xF8: ("clock", b""),
    0xFA: ("start", b""), 0xFB: ("continue", b""), 0xFC: ("stop", b""),
    0xFE: ("active_sensing", b""),
}  # fmt: skip
COMMON = [0xF1, 0xF2, 0xF3, 0xF6]
REALTIME = [0xF8, 0xFA, 0xFB, 0xFC, 0xFE]


@pytest.mark.parametrize("status", sorted(SYSTEM), ids=lambda s: f"0x{s:02X}")
def test_system_message_is_skipped_with_its_data_as_mido_reads_it(tmp_path, status):
    kind, data = SYSTEM[status]
    msg = bytes([status]) + data
    body = track((0, on(60)), (480, off(60)), (0, msg), (240, on(62)), (0, msg),
                 (480, off(62)))  # fmt: skip
    path = _write(tmp_path, raw_midi([body]))
    assert [m.type for m in mido.MidiFile(str(path)).tracks[0]].count(kind) == 2
    assert _our_events(path) == _mido_events(path)  # event for event, ticks included
    score = _both_readers(path)
    assert _our_notes(score) == _pm_notes(_pm(path)) == [(60, 0.0, 0.5, 64), (62, 0.75, 1.25, 64)]
    assert score.warnings == []


@pytest.mark.parametrize("status", REALTIME, ids=lambda s: f"0x{s:02X}")
def test_real_time_byte_leaves_running_status(tmp_path, status):
    # note-on 60, a real-time byte 480 ticks later, then "3C 00" under running status 0x90
    body = track((0, on(60)), (480, bytes([status])), (0, b"\x3c\x00"), (0, on(62)),
                 (240, off(62)))  # fmt: skip
    path = _write(tmp_path, raw_midi([body]))
    # mido keeps the real-time byte as running status and refuses the file (so does
    # pretty_midi); the specification reads it as the file without the real-time byte
    with pytest.raises(ValueError, match="wrong number of bytes"):
        mido.MidiFile(str(path))
    clean = _write(tmp_path, raw_midi([track((0, on(60)), (480, b"\x90\x3c\x00"), (0, on(62)),
                                             (240, off(62)))]), "clean.mid")  # fmt: skip
    assert _our_events(path) == _mido_events(clean)
    score = read_midi(path)
    assert _our_notes(score) == _pm_notes(_pm(clean)) == [(60, 0.0, 0.5, 64), (62, 0.5, 0.75, 64)]
    assert score.warnings == []
    via_mido = read_midi(path, reader="mido")
    assert via_mido.notes == score.notes and "mido refused" in via_mido.warnings[0]


@pytest.mark.parametrize("status", COMMON, ids=lambda s: f"0x{s:02X}")
def test_system_common_message_cancels_running_status(tmp_path, status):
    msg = bytes([status]) + SYSTEM[status][1]
    body = track((0, on(60)), (480, msg), (0, b"\x3c\x00"), (0, off(62)))
    path = _write(tmp_path, raw_midi([body]))
    ours = _our_events(path)
    # the data bytes after it have no status: dropped with a repair, not read as a note-off
    assert [(t, k, p) for t, k, _, p, _ in ours[0]] == [(0, NOTE_ON, 60), (480, NOTE_OFF, 62)]
    score = read_midi(path)
    assert any("running status without a previous status" in w for w in score.warnings)
    assert [(n.pitch, n.start_tick) for n in score.notes] == [(60, 0)]  # never released
    # mido reads them under the system status byte instead (0xF6 has no data: it refuses the
    # file); either way no note-off for the 60
    try:
        theirs = _mido_events(path)[0]
    except ValueError:
        assert status == 0xF6
    else:
        assert theirs[0] == ours[0][0]
        assert not any(e[1] == NOTE_OFF and e[3] == 60 for e in theirs)


def test_undefined_system_bytes_still_warn_and_common_ones_cancel_running_status():
    for status, cancels in ((0xF4, True), (0xF5, True), (0xF9, False), (0xFD, False)):
        body = track((0, on(60)), (480, bytes([status])), (0, b"\x3c\x00"), (0, off(62)),
                     (100, off(62)))  # fmt: skip
        score = parse_midi_bytes(raw_midi([body]))
        assert score.warnings[0] == f"track 0: undefined status byte 0x{status:02X} skipped"
        resynced = any("running status without" in w for w in score.warnings)
        (note,) = [n for n in score.notes if n.pitch == 60]
        # cancelled: "3C 00" is dropped and the 60 is never released; else it ends the 60
        assert resynced == cancels and note.end_tick == (580 if cancels else 480)


# -- events after the end-of-track event ------------------------------------------------------


def test_events_after_end_of_track_are_dropped_with_a_warning(tmp_path):
    conductor, notes = track((0, tempo(MID))), track((0, on(60)), (480, off(60)))
    after = [vlq(0) + tempo(SLOW), vlq(0) + on(62) + vlq(480) + off(62)]
    path = _write(tmp_path, raw_midi([conductor + after[0], notes + after[1]]))
    mid = mido.MidiFile(str(path))  # mido reads on past the end-of-track event
    assert [m.type for m in mid.tracks[0]] == ["set_tempo", "end_of_track", "set_tempo"]
    assert [m.type for m in mid.tracks[1]][-3:] == ["end_of_track", "note_on", "note_off"]
    score = _both_readers(path)
    assert score.warnings == [
        "track 0: 1 event(s) after its end-of-track event dropped",
        "track 1: 2 event(s) after its end-of-track event dropped",
    ]
    clean = _pm(_write(tmp_path, raw_midi([conductor, notes]), "clean.mid"))
    assert _our_notes(score) == _pm_notes(clean) == [(60, 0.0, 0.4, 64)]
    assert _our_tempo_map(score) == _pm_tempo_map(clean) == [(0.0, 150.0)]
    # pretty_midi reads on: the tempo and the note after the end are kept there
    assert _pm_notes(_pm(path)) == [(60, 0.0, 1.2, 64), (62, 1.2, 2.4, 64)]


def test_unreadable_bytes_after_end_of_track_are_counted(tmp_path):
    path = _write(tmp_path, raw_midi([track((0, on(60)), (480, off(60))) + b"\x00\x00"]))
    with pytest.raises(EOFError):  # mido refuses the file: the tolerant reader takes over
        mido.MidiFile(str(path))
    score = read_midi(path)
    assert score.warnings == [
        "track 0: 0 event(s) and 2 unreadable byte(s) after its end-of-track event dropped"
    ]
    assert [(n.pitch, n.start_tick, n.end_tick) for n in score.notes] == [(60, 0, 480)]
    via_mido = read_midi(path, reader="mido")
    assert via_mido.notes == score.notes and via_mido.warnings[1:] == score.warnings


def test_repairs_after_end_of_track_are_not_reported_twice():
    # after the end: a truncated event and an undefined byte, both part of the dropped tail
    body = track((0, on(60)), (480, off(60))) + b"\x00\xf4\x00\x90\x3c"
    score = parse_midi_bytes(raw_midi([body]))
    assert score.warnings == [
        "track 0: 1 event(s) and 3 unreadable byte(s) after its end-of-track event dropped"
    ]


def test_inspect_shows_the_dropped_events(tmp_path, capsys):
    folder = tmp_path / "f"
    folder.mkdir()
    head = track((0, on(60)), (480, off(60)))
    (folder / "tail.mid").write_bytes(raw_midi([head + vlq(0) + on(62) + vlq(480) + off(62)]))
    assert main(["data", "inspect", str(folder), "--no-cache", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "tail.mid: track 0: 2 event(s) after its end-of-track event dropped" in out
