"""Builders for MIDI test files: clean ones with mido, damaged ones byte by byte."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import mido


def clean_midi(*, tempo_bpm: float = 100.0, ticks_per_beat: int = 480) -> mido.MidiFile:
    """Two instrument tracks, a drum channel, a tempo change, overlapping same-pitch notes,
    velocity-0 note-offs."""
    mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
    conductor = mido.MidiTrack([
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm)),
        mido.MetaMessage("time_signature", numerator=3, denominator=4),
        mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo_bpm * 1.5), time=4 * 480),
    ])  # fmt: skip
    piano = mido.MidiTrack([
        mido.Message("program_change", program=0, channel=0),
        mido.Message("note_on", note=60, velocity=90, channel=0),
        mido.Message("note_on", note=64, velocity=80, channel=0, time=240),
        mido.Message("note_on", note=60, velocity=0, channel=0, time=240),  # vel-0 off
        mido.Message("note_off", note=64, velocity=0, channel=0, time=240),
        mido.Message("note_on", note=67, velocity=70, channel=0, time=0),
        mido.Message("note_on", note=67, velocity=75, channel=0, time=120),  # overlap
        mido.Message("note_off", note=67, channel=0, time=360),
        mido.Message("note_on", note=72, velocity=100, channel=0, time=2400),  # after tempo change
        mido.Message("note_off", note=72, channel=0, time=960),
    ])  # fmt: skip
    strings = mido.MidiTrack([
        mido.Message("program_change", program=48, channel=1),
        mido.Message("note_on", note=48, velocity=60, channel=1, time=480),
        mido.Message("note_off", note=48, channel=1, time=1920),
        mido.Message("note_on", note=36, velocity=110, channel=9, time=0),  # drum
        mido.Message("note_off", note=36, channel=9, time=120),
    ])  # fmt: skip
    mid.tracks += [conductor, piano, strings]
    return mid


def to_bytes(mid: mido.MidiFile) -> bytes:
    buf = io.BytesIO()
    mid.save(file=buf)
    return buf.getvalue()


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack(">I", len(body)) + body


def raw_midi(track_bodies: list[bytes], *, midi_type: int = 1, division: int = 480) -> bytes:
    header = _chunk(b"MThd", struct.pack(">HHH", midi_type, len(track_bodies), division))
    return header + b"".join(_chunk(b"MTrk", body) for body in track_bodies)


NOTE = b"\x00\x90\x3c\x50\x83\x60\x80\x3c\x00"  # note 60 on, 480 ticks, off
EOT = b"\x00\xff\x2f\x00"


def vlq(n: int) -> bytes:
    """A delta time as a variable-length quantity."""
    out = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        out.append(0x80 | (n & 0x7F))
    return bytes(reversed(out))


def on(pitch: int, velocity: int = 64, channel: int = 0) -> bytes:
    return bytes([0x90 | channel, pitch, velocity])


def off(pitch: int, channel: int = 0) -> bytes:
    return bytes([0x80 | channel, pitch, 0])


def tempo(us: int) -> bytes:
    return b"\xff\x51\x03" + us.to_bytes(3, "big")


def time_signature(numerator: int, denominator: int) -> bytes:
    return bytes([0xFF, 0x58, 0x04, numerator, denominator.bit_length() - 1, 24, 8])


def track(*events: tuple[int, bytes]) -> bytes:
    """A track body from ``(delta, event bytes)`` pairs, ended by an end-of-track event."""
    return b"".join(vlq(d) + e for d, e in events) + EOT


def damaged_files() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, expectation): 'used' (read as is), 'repaired' (read with a warning)
    or 'skipped'."""
    good = raw_midi([NOTE + EOT])
    return {
        "data_byte_above_127.mid": (
            raw_midi([b"\x00\x90\x3c\xc8\x83\x60\x80\x3c\x00" + EOT]),
            "repaired",
        ),  # fmt: skip
        "running_status_without_status.mid": (
            raw_midi([b"\x00\x3c\x50" + NOTE + EOT]),
            "repaired",
        ),  # fmt: skip
        "truncated_track.mid": (good[:-6], "repaired"),
        # mido refuses it (KeySignatureError); key signatures are not used, so it reads clean
        "absurd_key_signature.mid": (
            raw_midi([b"\x00\xff\x59\x02\x14\x00" + NOTE + EOT]),
            "used",
        ),  # fmt: skip
        "undefined_status_byte.mid": (raw_midi([b"\x00\xf4" + NOTE + EOT]), "repaired"),
        "huge_ticks.mid": (
            raw_midi([b"\x00\x90\x3c\x50\xff\xff\xff\x7f\x80\x3c\x00" + EOT]),
            "skipped",
        ),  # fmt: skip
        "zero_ticks_per_beat.mid": (raw_midi([NOTE + EOT], division=0), "skipped"),
        "empty.mid": (b"", "skipped"),
        "text.mid": (b"this is not a MIDI file, just text\n" * 3, "skipped"),
        "wave_named_mid.mid": (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40, "skipped"),
        "type2.mid": (raw_midi([NOTE + EOT], midi_type=2), "skipped"),
        "smpte.mid": (raw_midi([NOTE + EOT], division=0xE728), "skipped"),
        "no_notes.mid": (raw_midi([EOT]), "skipped"),
        "header_only.mid": (good[:14], "skipped"),
    }


def write_damaged_folder(root: Path, good: list[mido.MidiFile]) -> dict[str, str]:
    root.mkdir(parents=True, exist_ok=True)
    expect = {}
    for i, mid in enumerate(good):
        (root / f"good_{i}.mid").write_bytes(to_bytes(mid))
        expect[f"good_{i}.mid"] = "used"
    for name, (data, what) in damaged_files().items():
        (root / name).write_bytes(data)
        expect[name] = what
    (root / "folder_named.mid").mkdir()
    expect["folder_named.mid"] = "skipped"
    (root / "notes.txt").write_text("ignored: not a MIDI extension")
    return expect
