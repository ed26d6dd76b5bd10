"""A tolerant Standard MIDI File reader: the fallback when mido refuses a damaged file.

It reads what can be read and reports each repair as a warning string: data bytes above
127 clipped, running status without a previous status skipped, undefined status bytes
skipped, a truncated track cut at its last complete event. Only the events the pipeline
needs are returned. Every failure is a :class:`~dsp_rnn.errors.MidiError`.
"""

from __future__ import annotations

from dsp_rnn.errors import MidiError

__all__ = ["Event", "parse_smf", "NOTE_ON", "NOTE_OFF", "CONTROL", "PROGRAM", "TEMPO", "TIMESIG"]

# event kinds: (abs_tick, kind, channel, a, b)
NOTE_ON, NOTE_OFF, CONTROL, PROGRAM, TEMPO, TIMESIG = range(6)
Event = tuple[int, int, int, int, int]
_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}


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
    ended = False
    while pos < end and not ended:
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
                    if mtype == 0x2F:  # end of track
                        ended = True
                        continue
                    if mtype == 0x51 and length >= 3:
                        events.append((tick, TEMPO, 0, int.from_bytes(data[:3], "big"), 0))
                    elif mtype == 0x58 and length >= 2:
                        events.append((tick, TIMESIG, 0, data[0], 2 ** min(data[1], 8)))
                    continue
                elif byte in (0xF0, 0xF7):  # sysex
                    length, pos = _varlen(buf, pos, end)
                    if pos + length > end:
                        raise EOFError
                    pos += length
                    continue
                else:
                    warnings.append(f"track {index}: undefined status byte 0x{byte:02X} skipped")
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
            warnings.append(
                f"track {index}: truncated at byte {start}; cut at its last complete event"
            )
            break
        except ValueError as exc:
            warnings.append(f"track {index}: {exc} at byte {start}; rest of the track dropped")
            break
    if clipped:
        warnings.append(f"track {index}: {clipped} data byte(s) above 127 clipped to 127")
    return events


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
