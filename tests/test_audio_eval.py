"""``dsp-rnn eval RUN --audio DIR``: an audio model's NLL rows (the model and the linear twin
on the same variable), copy-synthesis distances (model, LPC vocoder, WORLD) and a
spectrogram PNG; the same metrics from Python through the registry; a bounded time; the
PNG never overwritten without --overwrite; clear errors for the wrong kind of model or
data."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from dsp_rnn.cli import main
from dsp_rnn.errors import InputError
from dsp_rnn.music import write_audio
from dsp_rnn.training import evaluate_model, save_model
from dsp_rnn.training.audio_family import evaluate_audio
from tests.conftest import tiny_audio_rnn

SR = 16000


@pytest.fixture(autouse=True)
def _cache_and_threads(tmp_path, monkeypatch):
    """The feature cache under the test's folder; ``--threads`` sets torch's: restore it."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two 0.25 s harmonic tones and an untrained tiny audio model saved as a model folder."""
    base = tmp_path_factory.mktemp("eval")
    data = base / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    t = np.arange(4000) / SR
    for k, f0 in enumerate((180.0, 260.0)):
        x = sum(0.2 / h * np.sin(2 * np.pi * h * f0 * t) for h in range(1, 5))
        x = x + 0.003 * rng.standard_normal(t.shape)
        write_audio(data / f"{k}.wav", torch.from_numpy(x).float(), sample_rate=SR)
    (data / "0.mid").write_bytes(b"MThd")  # a paired folder's MIDI file: left out, no fault
    save_model(base / "run", tiny_audio_rnn(), {"note": "untrained"})
    return base, data, base / "run"


def test_eval_audio_prints_json_and_writes_the_spectrogram(setup, tmp_path, capsys):
    _, data, run = setup
    png = tmp_path / "spec.png"
    argv = ["eval", str(run), "--audio", str(data), "--json", "--plot", str(png)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["model"] == str(run) and result["data"] == str(data)
    assert result["split"] == "test" and result["files"] == 2 and result["samples"] == 8000
    assert result["skipped"] == 0 and result["midi_files"] == 1
    assert "mu-law code of the pre-emphasised signal" in result["nll_variable"]
    rows = {r["system"]: r for r in result["nll_rows"]}
    assert list(rows) == ["model", "linear_twin"]
    for row in rows.values():  # every row on the same samples
        assert row["samples"] == 8000 and row["files"] == 2
        assert 0 < row["nll_bits_per_sample"] < 30
    copies = {r["system"]: r for r in result["copy_synthesis"]}
    assert list(copies) == ["model", "lpc_vocoder", "world"]
    for row in copies.values():
        assert row["missing"] is None and len(row["files"]) == 2
        assert math.isfinite(row["mr_stft"]) and row["mr_stft"] > 0 and row["log_mel_l1"] > 0
    assert f"wrote {png}" in captured.err
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 10_000
    before = png.stat().st_mtime_ns
    assert main(argv) == 1  # the plot exists now: refused before any work
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert png.stat().st_mtime_ns == before
    assert main([*argv, "--overwrite"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again == result  # seeded: the same numbers


def test_python_and_the_command_line_give_the_same_metrics(setup, capsys):
    _, data, run = setup
    assert main(["eval", str(run), "--audio", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "bits per sample" in lines[0] and "2 files" in lines[0]
    assert any(line.split()[:1] == ["linear_twin"] for line in lines)
    assert any(line.split()[:1] == ["world"] for line in lines)
    assert main(["eval", str(run), "--audio", str(data), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    ev = evaluate_model(run, data)
    assert {k: cli[k] for k in ev.metrics} == ev.metrics and ev.plot is not None


def test_seconds_bound_the_audio(setup, capsys):
    _, data, run = setup
    assert main(["eval", str(run), "--audio", str(data), "--seconds", "0.3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seconds"] == 0.3 and result["samples"] == 4800
    assert [r["samples"] for r in result["nll_rows"]] == [4800, 4800]
    for row in result["copy_synthesis"]:
        assert sum(f["seconds"] for f in row["files"]) == pytest.approx(0.3)
    calls: list[tuple[int, int]] = []
    ev = evaluate_audio(tiny_audio_rnn(), data, seconds=0.1,
                        progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)] and ev.metrics["samples"] == 1600
    with pytest.raises(InputError, match="seconds"):
        evaluate_audio(tiny_audio_rnn(), data, seconds=0.0)
    # the registry's entry point passes the budget on: the same numbers as the command line
    ev = evaluate_model(run, data, seconds=0.3)
    assert ev.metrics["samples"] == 4800 and ev.metrics["nll_rows"] == result["nll_rows"]
    with pytest.raises(InputError, match="not scored on seconds"):
        evaluate_model("default", seconds=1.0)  # a note-grid model


def test_wrong_models_and_data_are_refused_with_one_line(setup, tmp_path, capsys):
    _, data, run = setup
    jsb = tmp_path / "x.json"
    jsb.write_text(json.dumps({"train": [], "valid": [], "test": []}))
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["eval", str(run), "--jsb", str(jsb)], "is an audio model"),
        (["eval", str(run)], "pass --audio DIR"),
        (["eval", "default", "--audio", str(data)], "a note-grid model"),
        (["eval", str(run), "--audio", str(empty)], "no usable audio file"),
        (["eval", str(run), "--audio", str(tmp_path / "nope")], "no such folder"),
        (["eval", str(run), "--audio", str(data), "--samples", "2"], "draw no samples"),
    ]
    for argv, message in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    for flags in (["--audio", str(data), "--jsb", str(jsb)], ["--audio", str(data),
                                                             "--seconds", "0"]):  # fmt: skip
        with pytest.raises(SystemExit) as info:
            main(["eval", str(run), *flags])
        assert info.value.code == 2
    capsys.readouterr()
