"""A tolerant Standard MIDI File reader: the fallback when mido refuses a damaged file.

It reads what can be read and reports each repair as a warning string: data bytes above
127 clipped, running status without a previous status skipped, undefined status bytes
skipped, a truncated track cut at its last complete event, events after a track's
end-of-track meta event dropped. Only the events the pipeline needs are returned. Every
failure is a :class:`~dsp_rnn.errors.MidiError`.

System common messages (0xF1 MTC quarter frame, 0xF2 song position, 0xF3 song select,
0xF6 tune request) and system real-time messages (0xF8, 0xFA-0xFC, 0xFE) inside a track
are read with their data bytes and skipped, as mido reads them. As the MIDI specification
says, a system common message (and an undefined 0xF4/0xF5) cancels running status, so data
bytes after it without a status byte are a repair; a real-time message leaves running
status as it was. (mido differs in both: it keeps the system status byte as running
status, so a channel message continued across a real-time byte makes it refuse the file.)
Sysex and meta events leave running status as it was, as mido does for meta events.
"""

from __future__ import annotations

from dsp_rnn.errors import MidiError

__all__ = [
    "Event",
    "parse_smf",
    "after_end_of_track",
    "NOTE_ON",
    "NOTE_OFF",
    "CONTROL",
    "PROGRAM",
    "TEMPO",
    "TIMESIG",
]

# event kinds: (abs_tick, kind, channel, a, b)
NOTE_ON, NOTE_OFF, CONTROL, PROGRAM, TEMPO, TIMESIG = range(6)
Event = tuple[int, int, int, int, int]
_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
# system common (cancel running status) and real-time (leave it) messages: data bytes
_SYSTEM_DATA_LEN = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF6: 0, 0xF8: 0, 0xFA: 0, 0xFB: 0, 0xFC: 0, 0xFE: 0}


def _varlen(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if pos >= end:
            raise EOFError
        byte = buf[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
    raise ValueError("variable-length quantity longer than 4 bytes")


def _track(buf: bytes, pos: int, end: int, index: int, warnings: list[str]) -> list[Event]:
    events: list[Event] = []
    tick = 0
    status = 0
    clipped = 0
    n_read = 0  # complete events read, kept or not
    ended: tuple[int, int, int, int] | None = (
        None  # at end of track: events, read, warnings, clipped
    )
    while pos < end:
        start = pos
        try:
            delta, pos = _varlen(buf, pos, end)
            tick += delta
            if pos >= end:
                raise EOFError
            byte = buf[pos]
            if byte >= 0x80:
                pos += 1
                if 0x80 <= byte < 0xF0:
                    status = byte
                elif byte == 0xFF:  # meta
                    if pos >= end:
                        raise EOFError
                    mtype = buf[pos]
                    length, pos = _varlen(buf, pos + 1, end)
                    if pos + length > end:
                        raise EOFError
                    data = buf[pos : pos + length]
                    pos += length
                    n_read += 1
                    if mtype == 0x2F and ended is None:  # end of track: the rest is dropped
                        ended = (len(events), n_read, len(warnings), clipped)
                    elif mtype == 0x51 and length >= 3:
                        events.append((tick, TEMPO, 0, int.from_bytes(data[:3], "big"), 0))
                    elif mtype == 0x58 and length >= 2:
                        events.append((tick, TIMESIG, 0, data[0], 2 ** min(data[1], 8)))
                    continue
                elif byte in (0xF0, 0xF7):  # sysex
                    length, pos = _varlen(buf, pos, end)
                    if pos + length > end:
                        raise EOFError
                    pos += length
                    n_read += 1
                    continue
                else:  # system common / real-time
                    if byte <= 0xF6:  # system common cancels running status
                        status = 0
                    n_data = _SYSTEM_DATA_LEN.get(byte)
                    if n_data is None:
                        warnings.append(
                            f"track {index}: undefined status byte 0x{byte:02X} skipped"
                        )
                        n_read += 1
                        continue
                    if pos + n_data > end:
                        raise EOFError
                    clipped += sum(d > 127 for d in buf[pos : pos + n_data])
                    pos += n_data
                    n_read += 1
                    continue
            elif status == 0:
                # resynchronise: drop data bytes up to the next status byte, keeping the
                # byte before it as that event's delta time
                nxt = pos
                while nxt < end and buf[nxt] < 0x80:
                    nxt += 1
                warnings.append(
                    f"track {index}: running status without a previous status; "
                    f"{nxt - 1 - pos} data byte(s) at byte {pos} dropped"
                )
                pos = max(nxt - 1, pos + 1)
                continue
            n_data = _DATA_LEN[status & 0xF0]
            if pos + n_data > end:
                raise EOFError
            a = buf[pos]
            b = buf[pos + 1] if n_data == 2 else 0
            pos += n_data
            n_read += 1
            if a > 127 or b > 127:
                clipped += 1
                a, b = min(a, 127), min(b, 127)
            kind = status & 0xF0
            channel = status & 0x0F
            if kind == 0x90:
                events.append((tick, NOTE_ON if b > 0 else NOTE_OFF, channel, a, b))
            elif kind == 0x80:
                events.append((tick, NOTE_OFF, channel, a, b))
            elif kind == 0xB0:
                events.append((tick, CONTROL, channel, a, b))
            elif kind == 0xC0:
                events.append((tick, PROGRAM, channel, a, 0))
        except EOFError:
            if ended is None:
                warnings.append(
                    f"track {index}: truncated at byte {start}; cut at its last complete event"
                )
            pos = start
            break
        except ValueError as exc:
            if ended is None:
                warnings.append(f"track {index}: {exc} at byte {start}; rest of the track dropped")
            pos = start
            break
    if ended is not None:
        n_events, n_before, n_warnings, clipped = ended
        if n_read > n_before or pos < end:
            del events[n_events:], warnings[n_warnings:]
            warnings.append(after_end_of_track(index, n_read - n_before, end - pos))
    if clipped:
        warnings.append(f"track {index}: {clipped} data byte(s) above 127 clipped to 127")
    return events


def after_end_of_track(index: int, n_events: int, n_unread: int) -> str:
    """The warning for what a track holds after its end-of-track meta event (both readers)."""
    what = f"{n_events} event(s)"
    if n_unread:
        what += f" and {n_unread} unreadable byte(s)"
    return f"track {index}: {what} after its end-of-track event dropped"


def parse_smf(buf: bytes) -> tuple[int, int, list[list[Event]], list[str]]:
    """Parse SMF bytes tolerantly.

    Returns:
        ``(midi_type, ticks_per_beat, tracks, warnings)``; each track a list of
        ``(abs_tick, kind, channel, a, b)`` events in file order.

    Raises:
        MidiError: not a MIDI file, SMPTE time division, zero ticks per beat, no track.
    """
    if len(buf) < 14 or buf[:4] != b"MThd":
        head = buf[:4]
        what = {b"RIFF": "a RIFF/WAVE file", b"fLaC": "a FLAC file", b"OggS": "an Ogg file"}
        found = what.get(head, "no MThd header" if buf else "an empty file")
        raise MidiError(f"expected a Standard MIDI File (MThd header), found {found}")
    hlen = int.from_bytes(buf[4:8], "big")
    midi_type = int.from_bytes(buf[8:10], "big")
    n_tracks = int.from_bytes(buf[10:12], "big")
    division = int.from_bytes(buf[12:14], "big")
    if division & 0x8000:
        raise MidiError("SMPTE time division is not supported (expected ticks per beat)")
    if division == 0:
        raise MidiError("expected ticks per beat > 0, found 0")
    warnings: list[str] = []
    pos = 8 + max(hlen, 6)
    tracks: list[list[Event]] = []
    while pos + 8 <= len(buf) and len(tracks) < max(n_tracks, 1) + 64:
        cid = buf[pos : pos + 4]
        clen = int.from_bytes(buf[pos + 4 : pos + 8], "big")
        body = pos + 8
        end = body + clen
        if cid == b"MTrk":
            if end > len(buf):
                warnings.append(f"track {len(tracks)}: chunk length {clen} runs past end of file")
                end = len(buf)
            tracks.append(_track(buf, body, end, len(tracks), warnings))
        pos = end
    if not tracks:
        raise MidiError("expected at least one MTrk track chunk, found none")
    if len(tracks) != n_tracks:
        warnings.append(f"header says {n_tracks} track(s), found {len(tracks)}")
    return midi_type, division, tracks, warnings
