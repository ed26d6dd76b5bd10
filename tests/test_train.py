"""Trainer: exact resume, seeded determinism, DDP (gloo) == one process, checkpoints, CLI."""

from __future__ import annotations

import dataclasses
import json
import math

import mido
import numpy as np
import pytest
import torch

from dsp_rnn.cli import main
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.gridrnn import GridRNN, GridRNNConfig
from dsp_rnn.gridrnn.data import Corpus
from dsp_rnn.gridrnn.task import GridTask
from dsp_rnn.training import STATE_FILE, TrainConfig, load_model, save_model, train
from dsp_rnn.training.checkpoint import (
    load_tensors,
    optimizer_from_tensors,
    optimizer_to_tensors,
)

from .conftest import free_port, kill_training_at_step
from .midi_factory import clean_midi, write_damaged_folder

CFG = GridRNNConfig(n_pitches=20, low_pitch=50, time_hidden=8, time_layers=1, pitch_hidden=6,
                    pitch_layers=1, dropout=0.0)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")


def corpus() -> Corpus:
    rng = np.random.default_rng(0)
    pieces = [(rng.random((n, 20, 1)) < 0.15).repeat(2, -1).astype(np.uint8) for n in (12, 9)]
    return Corpus(pieces, pieces[:1], 1, False, "random", [])


def task(config: GridRNNConfig = CFG, data: Corpus | None = None, **kw) -> GridTask:
    """The GridRNN task of these tests: windows shifted by up to 2 semitones."""
    return GridTask(config, corpus() if data is None else data, **({"transpose": 2} | kw))


def weights(run) -> dict[str, torch.Tensor]:
    tensors, meta = load_tensors(run / STATE_FILE)
    return {k: v for k, v in tensors.items() if not k.startswith("rng.")} | {
        "_meta": torch.tensor(meta["counters"]["step"])
    }


def tc(**kw) -> TrainConfig:
    base = dict(batch_size=2, window=6, lr=5e-3, checkpoint_every=2, progress=False, seed=3,
                lr_decay_steps=4, checkpoint_minutes=None)  # fmt: skip
    return TrainConfig(**(base | kw))


def test_resume_equals_uninterrupted_run_exactly(tmp_path):
    train(task(), tmp_path / "a", tc(steps=5))
    train(task(), tmp_path / "b", tc(steps=2))
    out = train(task(), tmp_path / "b", tc(steps=5), resume=True)
    assert out["steps"] == 5 and out["epochs"] == 2  # 21 steps / (2 x 6) -> 2 per epoch
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert a.keys() == b.keys() and any(k.startswith("optim.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    rows = [json.loads(x) for x in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    ref = [json.loads(x) for x in (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["valid_nll"] for r in rows] == [r["valid_nll"] for r in ref]
    assert (tmp_path / "a" / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_weight_decay_shrinks_weights_and_resumes_exactly(tmp_path):
    train(task(), tmp_path / "plain", tc(steps=4))
    train(task(), tmp_path / "wd", tc(steps=4, weight_decay=5.0))
    train(task(), tmp_path / "wd2", tc(steps=2, weight_decay=5.0))
    train(task(), tmp_path / "wd2", tc(steps=4, weight_decay=5.0), resume=True)
    plain, wd, wd2 = (weights(tmp_path / r) for r in ("plain", "wd", "wd2"))

    def norm(w):
        return sum(float(v.pow(2).sum()) for k, v in w.items() if k.startswith("model."))

    assert norm(wd) < norm(plain)  # AdamW pulls the weights towards 0
    for k in wd:
        assert torch.equal(wd[k], wd2[k]), k
    with pytest.raises(InputError, match="weight_decay"):
        TrainConfig(weight_decay=-0.1)


def test_run_folder_rules_keep_other_files_and_resume_starts_a_missing_state(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    for kw in ({}, {"resume": True}, {"overwrite": True}):
        with pytest.raises(InputError, match="not empty .*notes.txt.*choose a new --out"):
            train(task(), tmp_path / "run", tc(steps=1), **kw)
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["notes.txt"]
    with pytest.raises(InputError, match="--resume .* --overwrite"):
        train(task(), tmp_path / "x", tc(steps=1), resume=True, overwrite=True)
    # --resume with no state yet: from step 0, the same run as a fresh one
    out = train(task(), tmp_path / "new", tc(steps=3), resume=True)
    assert out["resumed_from"] is None and out["steps"] == 3
    train(task(), tmp_path / "ref", tc(steps=3))
    a, b = weights(tmp_path / "new"), weights(tmp_path / "ref")
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a run folder: refused without a way forward named, restarted with overwrite
    with pytest.raises(InputError, match="a run at step 3.*--resume.*--overwrite"):
        train(task(), tmp_path / "ref", tc(steps=3))
    out = train(task(), tmp_path / "ref", tc(steps=2), overwrite=True)
    assert out["steps"] == 2 and weights(tmp_path / "ref")["_meta"] == 2
    rows = (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["step"] for r in rows] == [2]  # the old run's rows went with it
    # a state at or past --steps: nothing to do, nothing written
    before = (tmp_path / "ref" / STATE_FILE).stat().st_mtime_ns
    out = train(task(), tmp_path / "ref", tc(steps=1), resume=True)
    assert out["stop"] == "already done" and out["steps"] == 2
    assert (tmp_path / "ref" / STATE_FILE).stat().st_mtime_ns == before
    # a damaged state is reported, with the way to start again
    (tmp_path / "ref" / STATE_FILE).write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a readable.*--overwrite"):
        train(task(), tmp_path / "ref", tc(steps=5), resume=True)


def test_data_must_fit_the_model_and_the_run(tmp_path):
    c = corpus()
    with pytest.raises(InputError, match="1 step.* per quarter note, the data at 4"):
        train(task(data=Corpus(c.train, c.valid, 4, False, "x", [])), tmp_path / "a", tc(steps=1))
    assert not (tmp_path / "a").exists()
    train(task(data=c), tmp_path / "run", tc(steps=1))
    other = Corpus(c.train, c.valid, 4, False, "at 16ths", [])
    with pytest.raises(InputError, match="run's model works at 1 step.*the data at 4.*resume"):
        train(task(data=other), tmp_path / "run", tc(steps=2), resume=True)
    with pytest.raises(InputError, match="onsets .MIDI."):
        train(task(data=Corpus(c.train, c.valid, 1, True, "x", [])), tmp_path / "run", tc(steps=2),
              resume=True)  # fmt: skip
    with pytest.raises(InputError, match="steps: expected an integer >= 1"):
        tc(steps=0)


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    import os

    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))  # fmt: skip
    try:
        train(task(), out, tc(steps=3, batch_size=4))
    finally:
        dist.destroy_process_group()


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    import torch.multiprocessing as mp

    train(task(), tmp_path / "one", tc(steps=3, batch_size=4))
    mp.spawn(_ddp_worker, args=(2, free_port(), str(tmp_path / "two")), nprocs=2, join=True)
    one, two = weights(tmp_path / "one"), weights(tmp_path / "two")
    assert int(two["_meta"]) == 3
    for k in one:
        if k.startswith("model."):
            assert torch.allclose(one[k], two[k], rtol=1e-4, atol=1e-6), k


def test_checkpoint_round_trips_and_rejects_damage(tmp_path):
    model = GridRNN(CFG)
    save_model(tmp_path / "m", model, {"note": "x"})
    loaded, meta = load_model(tmp_path / "m")
    assert meta["note"] == "x" and loaded.config == CFG
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    (tmp_path / "m" / "config.json").unlink()  # the weights header alone is enough
    assert load_model(tmp_path / "m" / "weights.safetensors")[0].config == CFG
    data = (tmp_path / "m" / "weights.safetensors").read_bytes()
    (tmp_path / "bad.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_model(tmp_path / "bad.safetensors")
    other = GridRNN(GridRNNConfig(**(CFG.to_dict() | {"time_hidden": 9})))
    save_model(tmp_path / "o", other, {})
    cfg = json.loads((tmp_path / "o" / "config.json").read_text())
    cfg["config"]["time_hidden"] = 8
    (tmp_path / "o" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_model(tmp_path / "o")
    opt = torch.optim.Adam(model.parameters())
    model.log_prob(torch.zeros(1, 2, 20, 2)).sum().backward()
    opt.step()
    t, j = optimizer_to_tensors(opt)
    opt2 = torch.optim.Adam(model.parameters())
    optimizer_from_tensors(opt2, t, json.loads(json.dumps(j)))
    assert torch.equal(
        opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"]
    )


def test_cli_trains_on_the_good_files_of_a_broken_folder(tmp_path, capsys):
    write_damaged_folder(tmp_path / "messy", [clean_midi(), clean_midi(tempo_bpm=90)])
    args = ["train", str(tmp_path / "messy"), "--out", str(tmp_path / "run"), "--steps", "2",
            "--quiet", "--time-hidden", "8", "--time-layers", "1", "--pitch-hidden", "6",
            "--pitch-layers", "1", "--window", "8", "--batch-size", "2"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert sum(line.startswith("skipped") for line in out.splitlines()) >= 10
    assert "usable file(s)" in out and "10 skipped" in out
    model, meta = load_model(tmp_path / "run")
    assert model.config.articulation and model.config.steps_per_quarter == 4
    assert model.config.output_transpose == 0  # MIDI files are written where they were read
    assert main(args) == 1  # never reuses a run folder without --resume
    assert "not empty" in capsys.readouterr().err
    mid = tmp_path / "s.mid"
    gen = ["generate", "--model", str(tmp_path / "run"), "--out", str(mid), "--steps", "8",
           "--seed", "1", "--max-notes", "4"]  # fmt: skip
    assert main(gen) == 0
    assert mido.MidiFile(str(mid)).length > 0 or mid.stat().st_size > 0
    before = mid.read_bytes()
    assert main(gen) == 1 and mid.read_bytes() == before
    assert "exists" in capsys.readouterr().err


def test_cli_eval_json_on_a_small_jsb_file(tmp_path, capsys):
    rng = np.random.default_rng(1)
    piece = lambda n: [sorted(set(rng.integers(55, 68, 3).tolist())) for _ in range(n)]  # noqa: E731
    jsb = tmp_path / "jsb-chorales-quarter.json"
    jsb.write_text(json.dumps({"train": [piece(10)], "valid": [piece(8)], "test": [piece(6)]}))
    save_model(tmp_path / "m", GridRNN(GridRNNConfig(time_hidden=8, pitch_hidden=6)), {})
    assert main(["eval", str(tmp_path / "m"), "--jsb", str(jsb), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["steps"] == 6 and res["pieces"] == 1 and 0 <= res["frame_accuracy"] <= 1
    assert 30 < res["nll_per_step"] < 200  # untrained: ~88 fair-ish coins
    assert main(["eval", str(tmp_path / "nope"), "--jsb", str(jsb)]) == 1
    assert "no such model" in capsys.readouterr().err
    # a mixture of two models: written, evaluated, sampled from
    torch.manual_seed(8)
    save_model(tmp_path / "m2", GridRNN(GridRNNConfig(time_hidden=8, pitch_hidden=6)), {})
    args = ["ensemble", str(tmp_path / "m"), str(tmp_path / "m2"), "--out", str(tmp_path / "e")]
    assert main(args) == 0 and "mixture of 2 models" in capsys.readouterr().out
    assert main(["eval", str(tmp_path / "e"), "--jsb", str(jsb), "--json"]) == 0
    mixed = json.loads(capsys.readouterr().out)["nll_per_step"]
    assert math.isfinite(mixed) and mixed < 200
    assert main(["generate", "--model", str(tmp_path / "e"), "--out", str(tmp_path / "e.mid"),
                 "--steps", "3"]) == 0  # fmt: skip
    assert main(args) == 1 and "not empty" in capsys.readouterr().err  # never overwrites


def test_generate_with_no_flag_but_out_uses_the_shipped_default(tmp_path, monkeypatch, capsys):
    from dsp_rnn.training import default_model_dir

    folder = default_model_dir()
    assert folder.parent.parent.name == "dsp_rnn"  # package data: works without a checkout
    assert {"weights.safetensors", "config.json", "MODEL_CARD.md"} <= {
        p.name for p in folder.iterdir()
    }
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--out", "demo.mid"]) == 0
    assert "wrote demo.mid" in capsys.readouterr().out
    from dsp_rnn.music.grid import NoteGrid
    from dsp_rnn.music.midi import read_midi

    grid = NoteGrid.from_score(read_midi(tmp_path / "demo.mid"), steps_per_quarter=1)
    assert grid.n_steps == 64 and 1 <= grid.play.sum(1).mean() <= 8


def test_kill_9_loses_at_most_one_interval_and_resume_is_exact(tmp_path):
    run = tmp_path / "run"
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from tests.test_train import task, tc\n"
        "from dsp_rnn.training import train\n"
        f"train(task(), {str(run)!r}, tc(steps=100000))\n"
    )
    step = kill_training_at_step(code, run, 6, timeout_s=60)
    assert step >= 6 and step % 2 == 0  # a whole checkpoint, every 2 steps
    train(task(), run, tc(steps=step + 3), resume=True)
    train(task(), tmp_path / "ref", tc(steps=step + 3))
    a, b = weights(run), weights(tmp_path / "ref")
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_shipped_default_is_the_mixture_its_card_describes():
    """The model card's valid NLL (4.41, a mixture of 3) holds for the shipped weights."""
    from dsp_rnn.gridrnn import GridEnsemble
    from dsp_rnn.gridrnn.data import grid_to_array
    from dsp_rnn.gridrnn.task import evaluate
    from dsp_rnn.music.jsb import load_jsb

    model, meta = load_model()
    assert isinstance(model, GridEnsemble) and len(model.members) == 3
    assert [m["seed"] for m in meta["members"]] == [0, 1, 2]
    pieces = [grid_to_array(g, low_pitch=21, n_pitches=88)  # data/jsb/ in the checkout
              for g in load_jsb(split="valid", steps_per_quarter=1)]  # fmt: skip
    result = evaluate(model, pieces)
    assert result["steps"] == 4602
    assert abs(result["nll_per_step"] - 4.408) < 0.002


@pytest.mark.parametrize(("name", "value"), [("steps", 5), ("epochs", 2), ("batch_size", 3),
                                             ("window", 8), ("patience", 2),
                                             ("checkpoint_every", 7), ("lr_decay_steps", 9),
                                             ("seed", 4)])  # fmt: skip
def test_train_config_integers_take_numpy_integers_and_refuse_bools(name, value):
    """numpy integers are stored as Python ints (the config is saved as JSON), bools are
    refused."""
    cfg = TrainConfig(**{name: np.int64(value)})
    assert type(getattr(cfg, name)) is int and cfg == TrainConfig(**{name: value})
    json.dumps(dataclasses.asdict(cfg))
    for flag in (True, np.bool_(True)):
        with pytest.raises(InputError, match=rf"{name}: expected an integer"):
            TrainConfig(**{name: flag})


def test_temporaries_of_killed_writes_are_the_runs_and_go_on_resume(tmp_path):
    """The hidden names dsp_rnn._atomic gives (the curve's through save_figure too) count
    as the run's files and are removed when the run goes on; other hidden files do not."""
    train(task(), tmp_path / "run", tc(steps=2))
    left = [".curve.0a1b2c3d4e5f.part.png", f".{STATE_FILE}.0a1b2c3d4e5f.tmp",
            ".metrics.jsonl.0a1b2c3d4e5f.tmp", ".curve.png.1234.part.png"]  # fmt: skip
    for name in left:
        (tmp_path / "run" / name).write_bytes(b"killed")
    out = train(task(), tmp_path / "run", tc(steps=3), resume=True)
    assert out["steps"] == 3
    assert not [p.name for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]
    assert (tmp_path / "run" / "curve.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "run" / ".notes.0a1b2c3d4e5f.part.png").write_bytes(b"mine")
    with pytest.raises(InputError, match=r"not empty .*\.notes\.0a1b2c3d4e5f\.part\.png"):
        train(task(), tmp_path / "run", tc(steps=4), resume=True)
