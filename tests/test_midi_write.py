"""write_midi goes through dsp_rnn._atomic: atomic, no missing folders made, no overwrite."""

from __future__ import annotations

import pytest

from dsp_rnn.errors import OutputError
from dsp_rnn.music import Note, Score, read_midi, write_midi


def _score() -> Score:
    return Score(notes=[Note(60, 100, 0, 480, 0.0, 0.5)], ticks_per_beat=480)


def test_write_midi_round_trips_and_leaves_no_temporary_file(tmp_path):
    out = write_midi(_score(), tmp_path / "a.mid")
    assert [p.name for p in tmp_path.iterdir()] == ["a.mid"]
    assert [n.pitch for n in read_midi(out).notes] == [60]


def test_write_midi_refuses_a_missing_folder_and_an_existing_file(tmp_path):
    with pytest.raises(OutputError, match="does not exist; create it first"):
        write_midi(_score(), tmp_path / "missing" / "a.mid")
    assert not (tmp_path / "missing").exists()
    target = tmp_path / "a.mid"
    target.write_bytes(b"keep")
    with pytest.raises(OutputError, match="exists; pass overwrite=True"):
        write_midi(_score(), target)
    assert target.read_bytes() == b"keep"
    write_midi(_score(), target, overwrite=True)
    assert target.read_bytes().startswith(b"MThd")
