"""The files of a run folder: which are a run's, the metrics log and its curve.

A run folder ``RUN/`` holds :data:`RUN_FILES`: the training state, the best model
(``weights.safetensors`` + ``config.json``), ``metrics.jsonl`` (one row per epoch) and
``curve.png``, for an audio run its frame tier (``frame_tier.safetensors`` +
``frame_tier.json``), plus, briefly, the hidden temporaries of atomic writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dsp_rnn._atomic import is_temporary, write_bytes
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.training.checkpoint import CONFIG, WEIGHTS, read_metadata

__all__ = ["STATE_FILE", "METRICS_FILE", "CURVE_FILE", "RUN_FILES",
           "run_folder_contents", "saved_step", "read_metrics", "write_metrics",
           "plot_curve", "best_saved_metric"]  # fmt: skip

STATE_FILE = "train_state.safetensors"
METRICS_FILE = "metrics.jsonl"
CURVE_FILE = "curve.png"
FRAME_TIER_FILES = ("frame_tier.safetensors", "frame_tier.json")  # dsp_rnn.audio.FRAME_TIER_*
RUN_FILES = (STATE_FILE, WEIGHTS, CONFIG, METRICS_FILE, CURVE_FILE, *FRAME_TIER_FILES)
"""The files :func:`~dsp_rnn.training.train` writes into a run folder (besides the
temporaries of its atomic writes), and the frame tier that ``dsp-rnn train`` fits after an
audio run's training (:func:`~dsp_rnn.audio.save_frame_tier`)."""


def run_folder_contents(run: Path) -> tuple[list[Path], list[str]]:
    """``(paths a run wrote, names of anything else)`` in ``run``. The run's file names count
    as a run's only beside its state or weights (a lone ``config.json`` may be anyone's).

    Raises:
        InputError: ``run`` is a file.
    """
    if not run.exists():
        return [], []
    if not run.is_dir():
        raise InputError(f"{run}: not a folder; --out takes a run folder")
    has_run = (run / STATE_FILE).is_file() or (run / WEIGHTS).is_file()
    ours: list[Path] = []
    foreign: list[str] = []
    for p in sorted(run.iterdir()):
        if p.is_file() and (is_temporary(p.name, RUN_FILES) or (has_run and p.name in RUN_FILES)):
            ours.append(p)
        else:
            foreign.append(p.name)
    return ours, foreign


def saved_step(state_path: Path) -> int | None:
    """The step of a saved state (header only), None when absent or unreadable."""
    try:
        return int(read_metadata(state_path)["counters"]["step"])
    except (CheckpointError, KeyError, TypeError, ValueError):
        return None


def read_metrics(run: Path) -> list[dict[str, Any]]:
    """The rows of ``run/metrics.jsonl`` ([] when there is none)."""
    path = run / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_metrics(run: Path, rows: list[dict[str, Any]]) -> None:
    """Replace ``run/metrics.jsonl`` by ``rows`` (atomically)."""
    text = "".join(json.dumps(r) + "\n" for r in rows)
    write_bytes(run / METRICS_FILE, text.encode(), overwrite=True, error=CheckpointError)


def best_saved_metric(run: Path, key: str, model_config: dict[str, Any]) -> float | None:
    """``metadata.metrics[key]`` of the model in ``run/config.json`` when it is a model of
    ``model_config`` (None when absent, unreadable or another model)."""
    try:
        best = json.loads((run / CONFIG).read_text())
        value = best["metadata"]["metrics"][key]
        same = best["config"] == model_config
    except (OSError, KeyError, TypeError, ValueError):
        return None
    return float(value) if same and value is not None else None


def plot_curve(rows: list[dict[str, Any]], path: Path, *, metric: str, label: str) -> None:
    """The ``train_<metric>`` and ``valid_<metric>`` columns of ``rows`` against the step,
    as a PNG written atomically to ``path`` (:func:`~dsp_rnn.plotting.save_figure`)."""
    from dsp_rnn.plotting import pyplot, save_figure

    fig, ax = pyplot().subplots(figsize=(6, 3.6))
    x = [r["step"] for r in rows]
    ax.plot(x, [r.get(f"train_{metric}", float("nan")) for r in rows], label="train (windows)")
    if any(r.get(f"valid_{metric}") is not None for r in rows):
        valid = [r.get(f"valid_{metric}", float("nan")) for r in rows]
        ax.plot(x, valid, label="valid")
    ax.set(xlabel="optimiser step", ylabel=label, title=path.parent.name)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
