"""The JSB chorales benchmark (music.jsb): small files, the shipped file, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsp_rnn.errors import InputError
from dsp_rnn.music import jsb as jsb_module
from dsp_rnn.music.jsb import JSBNotFoundError, default_jsb_path, load_jsb


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
