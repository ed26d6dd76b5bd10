"""Stopping training: SIGINT/SIGTERM save a resumable state, time-based checkpoints, run
folders that are never a dead end, --steps limits, data of the wrong resolution."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import dsp_rnn.gridrnn.task as task_module
import dsp_rnn.training.trainer as train_module
from dsp_rnn.cli import main
from dsp_rnn.gridrnn import GridRNN, GridRNNConfig
from dsp_rnn.training import STATE_FILE, TrainingInterrupted, save_model, train
from dsp_rnn.training.checkpoint import load_tensors

from .conftest import free_port
from .test_train import task, tc, weights

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--time-hidden", "8", "--time-layers", "1", "--pitch-hidden", "6", "--pitch-layers",
        "1", "--quiet"]  # fmt: skip

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def midi(tmp_path) -> Path:
    """Four of the demo MIDI files (a few steps per epoch, quick to read)."""
    folder = tmp_path / "midi"
    folder.mkdir()
    for src in sorted((ROOT / "data" / "midi").glob("*.mid"))[:4]:
        shutil.copy(src, folder / src.name)
    return folder


def cli(args: list[str], capsys) -> tuple[int, str, str]:
    """``dsp-rnn ARGS`` in this process: (exit code, stdout, stderr)."""
    try:
        code = main(args)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err


def saved_step(run: Path) -> int:
    return load_tensors(run / STATE_FILE)[1]["counters"]["step"]


def signal_at(monkeypatch, calls: dict[int, int]) -> None:
    """Send this process signal ``calls[n]`` while the n-th batch (1-based) is drawn."""
    real, seen = task_module.sample_windows, [0]

    def windows(*args, **kwargs):
        seen[0] += 1
        for _ in range(calls.get(seen[0], 0)):
            signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(task_module, "sample_windows", windows)


def test_sigint_finishes_the_step_saves_resumes_exactly_and_restores_handlers(
    tmp_path, monkeypatch
):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal_at(monkeypatch, {3: 1})
    with pytest.raises(TrainingInterrupted) as info:
        train(task(), tmp_path / "run", tc(steps=100, checkpoint_every=1000))
    stop = info.value
    assert isinstance(stop, KeyboardInterrupt) and stop.saved and stop.step == 3
    assert stop.exit_code == 130 and stop.result["stop"] == "interrupted"
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert saved_step(tmp_path / "run") == 3
    monkeypatch.undo()
    out = train(task(), tmp_path / "run", tc(steps=6), resume=True)
    assert out["resumed_from"] == 3 and out["steps"] == 6
    train(task(), tmp_path / "ref", tc(steps=6))
    a, b = weights(tmp_path / "run"), weights(tmp_path / "ref")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_second_signal_stops_at_once_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    before = signal.getsignal(signal.SIGINT)
    signal_at(monkeypatch, {3: 2})  # checkpoints every 2 steps: step 2 is on disk
    with pytest.raises(TrainingInterrupted) as info:
        train(task(), tmp_path / "run", tc(steps=100))
    assert not info.value.saved and info.value.step == 2
    assert signal.getsignal(signal.SIGINT) == before
    assert saved_step(tmp_path / "run") == 2
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]


def test_state_is_written_before_the_first_step_and_by_time(tmp_path, monkeypatch):
    written: list[int] = []
    real = train_module.save_tensors

    def spy(path, tensors, meta):
        written.append(meta["counters"]["step"])
        return real(path, tensors, meta)

    monkeypatch.setattr(train_module, "save_tensors", spy)
    train(task(), tmp_path / "a", tc(steps=5, checkpoint_every=1000))
    assert written == [0, 5]  # before the first step, and at the end
    written.clear()
    train(task(), tmp_path / "b", tc(steps=4, checkpoint_every=1000,
                                           checkpoint_minutes=1e-9))  # fmt: skip
    assert written == [0, 1, 2, 3, 4, 4]
    # a crash in the first step leaves the step-0 state, which resumes exactly
    monkeypatch.setattr(task_module, "sample_windows", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        train(task(), tmp_path / "c", tc(steps=3))
    monkeypatch.undo()
    assert saved_step(tmp_path / "c") == 0
    train(task(), tmp_path / "c", tc(steps=3), resume=True)
    train(task(), tmp_path / "d", tc(steps=3))
    a, b = weights(tmp_path / "d"), weights(tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_cli_signal_saves_and_the_run_continues(tmp_path, midi, capsys, sig):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "dsp_rnn.cli", "train", str(midi), "--out", str(run),
           "--steps", "100000", "--checkpoint-every", "100000", "--checkpoint-minutes", "60",
           *TINY]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:  # running: an epoch has ended (a metrics row), long before a step checkpoint
        deadline = time.monotonic() + 180
        while not (run / "metrics.jsonl").is_file() and proc.poll() is None:
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.1)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    name = signal.Signals(sig).name
    head, again = err.strip().splitlines()[-2:]
    result = json.loads(out.strip().splitlines()[-1])
    step = result["steps"]
    assert step >= 1 and result["stop"] == "interrupted" and saved_step(run) == step
    assert head == (f"dsp-rnn train: interrupted by {name} at step {step}; saved "
                    f"{run / STATE_FILE} (the model so far is usable as {run})")  # fmt: skip
    assert again == f"continue with: dsp-rnn train {midi} --out {run} --resume --steps 100000"
    # the command it names continues from the saved step (fewer steps, for the test)
    code, out, err = cli(["train", str(midi), "--out", str(run), "--resume", "--steps",
                          str(step + 2), *TINY], capsys)  # fmt: skip
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert (result["resumed_from"], result["steps"]) == (step, step + 2)
    assert saved_step(run) == step + 2
    # a fresh start in that folder: refused with the ways forward, possible with --overwrite
    code, _, err = cli(["train", str(midi), "--out", str(run), "--steps", "1", *TINY], capsys)
    assert code == 1 and "--resume" in err and "--overwrite" in err and len(err.splitlines()) == 1
    code, out, err = cli(["train", str(midi), "--out", str(run), "--steps", "1", "--overwrite",
                          *TINY], capsys)  # fmt: skip
    assert code == 0, err
    assert saved_step(run) == 1 and json.loads(out.strip().splitlines()[-1])["steps"] == 1


def test_cli_resume_on_an_empty_run_folder_starts_from_step_0(tmp_path, midi, capsys):
    (tmp_path / "run").mkdir()
    args = ["train", str(midi), "--out", str(tmp_path / "run"), "--resume", "--steps", "2",
            *TINY]  # fmt: skip
    code, out, err = cli(args, capsys)
    assert code == 0, err
    assert f"{tmp_path / 'run'}: no saved train state; starting from step 0" in out
    assert json.loads(out.strip().splitlines()[-1])["steps"] == 2
    # the same command again: already there, nothing written, exit 0
    stamp = (tmp_path / "run" / STATE_FILE).stat().st_mtime_ns
    for steps in ("2", "1"):
        code, out, err = cli(args[: -len(TINY) - 1] + [steps, *TINY], capsys)
        assert code == 0, err
        assert f"already at step 2, at or past --steps {steps}; nothing to do" in out
    assert (tmp_path / "run" / STATE_FILE).stat().st_mtime_ns == stamp


def test_cli_refuses_steps_0(tmp_path, midi, capsys):
    code, out, err = cli(["train", str(midi), "--out", str(tmp_path / "run"), "--steps", "0",
                          *TINY], capsys)  # fmt: skip
    assert code in (1, 2) and "--steps" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def _jsb(path: Path) -> Path:
    rng = np.random.default_rng(1)

    def piece(n):
        return [sorted(set(rng.integers(55, 68, 3).tolist())) for _ in range(n)]

    path.write_text(json.dumps({"train": [piece(12)], "valid": [piece(8)], "test": [piece(6)]}))
    return path


def test_resolution_mismatches_are_refused(tmp_path, capsys):
    quarter = _jsb(tmp_path / "jsb-chorales-quarter.json")
    sixteenth = tmp_path / "jsb-chorales-16th.json"
    shutil.copy(quarter, sixteenth)
    # eval: a model at 4 steps per quarter on quarter-note data
    save_model(tmp_path / "m4", GridRNN(GridRNNConfig(time_hidden=8, pitch_hidden=6,
                                                      steps_per_quarter=4)), {})  # fmt: skip
    code, _, err = cli(["eval", str(tmp_path / "m4"), "--jsb", str(quarter)], capsys)
    assert code == 1 and "1 step(s) per quarter note" in err and "works at 4" in err
    assert "jsb-chorales-16th.json" in err
    assert cli(["eval", str(tmp_path / "m4"), "--jsb", str(sixteenth), "--json"], capsys)[0] == 0
    # train: a flag that contradicts the file; a resume on data of another resolution
    base = ["train", "--out", str(tmp_path / "run"), "--batch-size", "1", "--window", "4",
            *TINY]  # fmt: skip
    code, _, err = cli([*base, str(quarter), "--steps-per-quarter", "4", "--steps", "1"], capsys)
    assert code == 1 and "--steps-per-quarter 4" in err
    assert cli([*base, str(quarter), "--steps", "2"], capsys)[0] == 0
    from dsp_rnn.training import load_model

    # this small file already sits in the chorales' written register: written as it is
    assert load_model(tmp_path / "run")[0].config.output_transpose == 0
    code, _, err = cli([*base, str(sixteenth), "--steps", "4", "--resume"], capsys)
    assert code == 1 and "works at 1 step(s) per quarter note, the data at 4" in err
    assert saved_step(tmp_path / "run") == 2


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))  # fmt: skip
    if rank == 1:  # only rank 1 is signalled, during its second step
        real, seen = task_module.sample_windows, [0]

        def windows(*args, **kwargs):
            seen[0] += 1
            if seen[0] == 2:
                signal.raise_signal(signal.SIGTERM)
            return real(*args, **kwargs)

        task_module.sample_windows = windows
    try:
        train(task(), out, tc(steps=100, batch_size=4, checkpoint_every=1000))
        result = {"rank": rank, "interrupted": False}
    except TrainingInterrupted as stop:
        result = {"rank": rank, "interrupted": True, "step": stop.step, "saved": stop.saved}
    finally:
        dist.destroy_process_group()
    Path(out, f"rank{rank}.json").write_text(json.dumps(result))


def test_a_signal_on_one_rank_stops_all_ranks_at_the_same_step(tmp_path):
    import torch.multiprocessing as mp

    run = tmp_path / "run"
    ctx = mp.spawn(_ddp_worker, args=(2, free_port(), str(run)), nprocs=2, join=False)
    deadline = time.monotonic() + 240
    try:
        while not ctx.join(timeout=1):
            assert time.monotonic() < deadline, "the ranks did not stop together"
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
    results = [json.loads((run / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["interrupted"] and r["saved"] for r in results), results
    assert results[0]["step"] == results[1]["step"] == saved_step(run) == 2
