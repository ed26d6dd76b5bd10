"""The JSB chorales benchmark (music.jsb): small files, the shipped file, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsp_rnn.errors import InputError
from dsp_rnn.music import jsb as jsb_module
from dsp_rnn.music.jsb import (
    JSBNotFoundError,
    default_jsb_path,
    load_jsb,
    written_register_offset,
)


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
    from dsp_rnn.cli import build_parser, main

    assert Path(build_parser().parse_args(["eval", "default"]).jsb) == jsb_module.SHIPPED_JSB
    missing = tmp_path / "data" / "jsb" / "jsb-chorales-quarter.json"
    monkeypatch.setattr(jsb_module, "SHIPPED_JSB", missing)  # as in an installed wheel
    with pytest.raises(JSBNotFoundError, match="--jsb"):
        default_jsb_path()
    with pytest.raises(FileNotFoundError, match="not with an installed package"):
        load_jsb(missing, "test")
    assert issubclass(JSBNotFoundError, InputError)
    assert main(["eval", "default", "--jsb", str(missing)]) == 1
    assert "pass the path" in capsys.readouterr().err


def _chorale_file(path: Path, shift: int) -> Path:
    """Two four-part pieces around the chorales' written register, moved by ``shift``."""
    pieces = [[[48, 55, 64, 72], [50, 57, 65, 74]], [[43, 59, 62, 67], [45, 60, 64, 69]]]
    moved = [[[p + shift for p in step] for step in piece] for piece in pieces]
    path.write_text(json.dumps({"train": moved, "valid": [], "test": []}))
    return path


@pytest.mark.parametrize("shift,offset", [(0, 0), (5, 0), (-4, 0), (12, -12), (14, -12),
                                          (24, -24), (-12, 12)])  # fmt: skip
def test_written_register_offset_moves_by_whole_octaves(tmp_path, shift, offset):
    path = _chorale_file(tmp_path / "jsb-chorales-quarter.json", shift)
    assert written_register_offset(path) == offset


def test_written_register_offset_of_the_shipped_file_and_errors(tmp_path):
    assert written_register_offset() == -12  # the quarter-note encoding sits an octave up
    empty = tmp_path / "jsb-chorales-quarter.json"
    empty.write_text(json.dumps({"train": [[[], []]], "valid": [], "test": []}))
    with pytest.raises(InputError, match="no notes"):
        written_register_offset(empty)
