"""The trainer with a model that is not a GridRNN: an IIRCell learning a known filter from
noise through the same train() (checkpoints, a kill and a resume, a SIGINT save), and the
registry's answer to a folder of a family it does not know."""

from __future__ import annotations

import dataclasses
import json
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.signal
import torch
from torch import nn

from dsp_rnn.cells import IIRCell
from dsp_rnn.errors import CheckpointError
from dsp_rnn.training import STATE_FILE, TrainConfig, TrainingInterrupted, TrainTask, train
from dsp_rnn.training.checkpoint import load_tensors, read_metadata

from .conftest import kill_training_at_step

SOS = scipy.signal.butter(2, 0.2, output="sos")  # the filter to learn
WARMUP = 32  # samples run before each window to settle the cell's state (not scored)

pytestmark = pytest.mark.usefixtures("one_thread")


def _signals(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = np.random.default_rng(seed).standard_normal(n)
    return torch.from_numpy(x).float(), torch.from_numpy(scipy.signal.sosfilt(SOS, x)).float()


@dataclasses.dataclass(frozen=True)
class FilterTask:
    """Fit an :class:`IIRCell` to a Butterworth lowpass from white noise: a TrainTask that
    knows nothing of notes."""

    n_sections: int = 1
    signal_seconds: int = 1  # at 2 kHz: sizes only
    hooks: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)

    family = "toy-iir"
    metric = "mse"
    metric_label = "mean squared error"
    summary = "white noise through butter(2, 0.2)"

    @property
    def data(self) -> tuple[torch.Tensor, torch.Tensor]:
        return _signals(2000 * self.signal_seconds, 0)

    def settings(self) -> dict[str, Any]:
        return {"n_sections": self.n_sections}

    def restore(self, saved: dict[str, Any], run: Path) -> FilterTask:
        return dataclasses.replace(self, n_sections=saved["task"]["n_sections"])

    def check(self) -> None:
        pass

    def model_config(self) -> dict[str, Any]:
        return {"cell": "IIRCell", "n_sections": self.n_sections}

    def build(self) -> nn.Module:
        return IIRCell(self.n_sections)

    def train_size(self) -> int:
        return len(self.data[0])

    def sample_batch(self, rng: np.random.Generator, *, batch_size: int, window: int,
                     part: slice) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
        if "before_batch" in self.hooks:
            self.hooks["before_batch"]()
        x, y = self.data
        starts = rng.integers(0, len(x) - window - WARMUP, batch_size)[part]
        xs = torch.stack([x[s : s + WARMUP + window] for s in starts])
        ys = torch.stack([y[s + WARMUP : s + WARMUP + window] for s in starts])
        return xs, ys

    def loss(self, net: nn.Module, batch: Any) -> tuple[torch.Tensor, int]:
        x, y = batch
        out, _ = net(x[..., None])
        err = out[:, WARMUP:, 0] - y
        return (err * err).sum(), err.numel()

    def validate(self, model: nn.Module) -> dict[str, float] | None:
        x, y = _signals(1000, 1)
        out, _ = model(x[None, :, None])
        return {"mse": float(((out[0, :, 0] - y) ** 2).mean())}


def tc(**kw: Any) -> TrainConfig:
    base = dict(batch_size=4, window=64, lr=0.05, checkpoint_every=2, progress=False, seed=1,
                checkpoint_minutes=None, lr_decay_steps=10)  # fmt: skip
    return TrainConfig(**(base | kw))


def state(run: Path) -> dict[str, torch.Tensor]:
    tensors, meta = load_tensors(run / STATE_FILE)
    return tensors | {"_step": torch.tensor(meta["counters"]["step"])}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and any(k.startswith("optim.") for k in a)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_filter_task_is_a_train_task():
    assert isinstance(FilterTask(), TrainTask)


def test_a_cell_learns_a_known_filter_through_the_trainer(tmp_path):
    run = tmp_path / "run"
    out = train(FilterTask(), run, tc(steps=160, lr_decay_steps=None))  # epoch: 2000/(4 x 64)
    assert out["steps"] == 160 and out["epochs"] == 20 and out["stop"] == "steps"
    rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"train_mse", "valid_mse"} <= rows[0].keys()
    assert rows[-1]["valid_mse"] < rows[0]["valid_mse"] / 1000  # it learns the filter
    target_power = float((_signals(1000, 1)[1] ** 2).mean())
    assert out["best_valid_mse"] < 1e-4 * target_power  # the error 40 dB below the target
    doc = json.loads((run / "config.json").read_text())
    assert doc["family"] == "toy-iir" and doc["config"] == {"cell": "IIRCell", "n_sections": 1}
    assert doc["metadata"]["model"] == "IIRCell" and doc["metadata"]["metrics"]["valid_mse"] > 0
    assert (run / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_the_registry_names_a_family_it_does_not_know(tmp_path):
    from dsp_rnn.training import load_model

    train(FilterTask(), tmp_path / "run", tc(steps=2))
    with pytest.raises(CheckpointError, match=r"config\.json: unknown model family 'toy-iir'"
                                              r".*knows audio, gridrnn"):  # fmt: skip
        load_model(tmp_path / "run")


def test_a_killed_run_resumes_to_the_uninterrupted_run_exactly(tmp_path):
    run = tmp_path / "run"
    code = (
        "import torch; torch.set_num_threads(1)\n"
        "from tests.test_train_task import FilterTask, tc\n"
        "from dsp_rnn.training import train\n"
        f"train(FilterTask(), {str(run)!r}, tc(steps=10**5, lr_decay_steps=None))\n"
    )
    step = kill_training_at_step(code, run, 6)
    assert step >= 6 and step % 2 == 0  # a whole checkpoint, every 2 steps
    out = train(FilterTask(), run, tc(steps=step + 5, lr_decay_steps=None), resume=True)
    assert out["resumed_from"] == step
    train(FilterTask(), tmp_path / "ref", tc(steps=step + 5, lr_decay_steps=None))
    assert_same(state(run), state(tmp_path / "ref"))
    rows = (run / "metrics.jsonl").read_text().splitlines()
    ref = (tmp_path / "ref" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["valid_mse"] for r in rows] == [json.loads(r)["valid_mse"] for r in ref]


def test_sigint_saves_and_the_resumed_run_is_the_uninterrupted_one(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    calls = [0]

    def interrupt_at_third_batch() -> None:
        calls[0] += 1
        if calls[0] == 3:
            signal.raise_signal(signal.SIGINT)

    task = FilterTask(hooks={"before_batch": interrupt_at_third_batch})
    with pytest.raises(TrainingInterrupted) as info:
        train(task, tmp_path / "run", tc(steps=100, checkpoint_every=1000))
    stop = info.value
    assert stop.saved and stop.step == 3 and stop.result["stop"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) == before
    assert read_metadata(tmp_path / "run" / STATE_FILE)["counters"]["step"] == 3
    out = train(FilterTask(), tmp_path / "run", tc(steps=12), resume=True)
    assert (out["resumed_from"], out["steps"]) == (3, 12)
    train(FilterTask(), tmp_path / "ref", tc(steps=12))
    assert_same(state(tmp_path / "run"), state(tmp_path / "ref"))
