"""The note-grid family in the registry: GridRNN and GridEnsemble models load, generate
MIDI (or audio rendered from it) and evaluate on JSB through the registry's entries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from dsp_rnn.errors import InputError
from dsp_rnn.gridrnn.ensemble import GridEnsemble
from dsp_rnn.gridrnn.io import checkpoint_parts, from_checkpoint
from dsp_rnn.gridrnn.model import GridRNN
from dsp_rnn.gridrnn.task import FAMILY
from dsp_rnn.music.outputs import AUDIO_SUFFIXES
from dsp_rnn.training.generate import Evaluation, Generated, GenerateRequest, check_length
from dsp_rnn.training.registry import Family

__all__ = ["GRIDRNN"]


def _load(config: dict[str, Any], metadata: dict[str, Any], tensors: dict, *,
          source: str) -> nn.Module:  # fmt: skip
    return from_checkpoint(config, metadata, tensors, source=source)


def _generate(model: GridRNN | GridEnsemble, request: GenerateRequest) -> Generated:
    """Sample a piece, in the register music is written in, to MIDI or rendered audio."""
    from dsp_rnn._atomic import atomic_file
    from dsp_rnn.errors import OutputError
    from dsp_rnn.gridrnn.sampler import primer_grid, sample, steps_for, written_grid
    from dsp_rnn.music.midi import read_midi

    c = model.config
    primer = primer_grid(read_midi(request.primer), c) if request.primer is not None else None
    if request.min_notes > c.n_pitches:
        raise InputError(f"{request.spell('min_notes', request.min_notes)}: expected at most "
                         f"the model's {c.n_pitches} keys")  # fmt: skip
    if request.tempo_bpm is not None:
        tempo = float(request.tempo_bpm)
    else:
        tempo = primer.tempo_bpm if primer is not None else c.tempo_bpm
    n = steps_for(steps=request.steps, bars=request.bars, seconds=request.seconds,
                  steps_per_quarter=c.steps_per_quarter, tempo_bpm=tempo)  # fmt: skip
    check_length(request, n)
    progress = request.progress
    (grid,) = sample(model, n, temperature=request.temperature, seed=request.seed,
                     primer=primer, min_notes=request.min_notes, max_notes=request.max_notes,
                     tempo_bpm=tempo, progress=progress)  # fmt: skip
    grid = written_grid(grid, c)  # in the register music is written in (see the model card)
    out = request.out
    summary = None
    if out.suffix.lower() in AUDIO_SUFFIXES:
        from dsp_rnn.synth import render_file

        options = {"voice": "ks", "overwrite": request.overwrite, **(request.render or {})}
        summary = render_file(grid, out, **options).summary()
    else:
        flag = "--overwrite" if request.flag_style == "cli" else "overwrite=True"
        with atomic_file(out, request.overwrite, OutputError, flag) as fh:
            grid.to_midi_file().save(file=fh)
    return Generated(path=out, seed=request.seed, steps=grid.n_steps,
                     seconds=grid.n_steps * grid.seconds_per_step, notes=len(grid.to_notes()),
                     tempo_bpm=tempo, render=summary)  # fmt: skip


def _evaluate(model: GridRNN | GridEnsemble, data: str | Path | None, *, split: str,
              samples: int, bars: float, temperature: float, seed: int,
              progress: Callable[[int, int], None] | None) -> Evaluation:  # fmt: skip
    """NLL per time step and frame accuracy on a JSB split, and optionally the statistics
    of samples against the split's pieces."""
    from dsp_rnn.gridrnn.data import grid_to_array
    from dsp_rnn.gridrnn.task import evaluate
    from dsp_rnn.music import jsb

    c = model.config
    path = Path(data) if data is not None else jsb.default_jsb_path()
    data_spq = jsb.jsb_steps_per_quarter(path)
    if data_spq != c.steps_per_quarter:
        other = {1: " (jsb-chorales-quarter.json)", 4: " (jsb-chorales-16th.json)"}
        raise InputError(
            f"{path}: {data_spq} step(s) per quarter note (from its name), the model works at "
            f"{c.steps_per_quarter}; pass the JSB file at {c.steps_per_quarter} step(s) per "
            f"quarter{other.get(c.steps_per_quarter, '')}"
        )
    grids = jsb.load_jsb(path, split, steps_per_quarter=data_spq)
    pieces = [grid_to_array(g, low_pitch=c.low_pitch, n_pitches=c.n_pitches) for g in grids]
    metrics: dict[str, Any] = dict(evaluate(model, pieces))
    metrics.update(parameters=model.count_parameters(), kind=c.kind)
    planes = "play and onsets: not the JSB benchmark" if c.articulation else "play"
    lines = [f"{path.name} {split}: NLL {metrics['nll_per_step']:.3f} nats per time step "
             f"({planes}, {c.n_pitches} keys), frame accuracy {metrics['frame_accuracy']:.3f} "
             f"({metrics['pieces']} pieces, {metrics['steps']} steps)"]  # fmt: skip
    plot = None
    if samples:
        from dsp_rnn.gridrnn.quality import evaluate_samples

        report = evaluate_samples(model, grids, samples, bars=bars, temperature=temperature,
                                  seed=seed, progress=progress)  # fmt: skip
        metrics["samples"] = report.to_dict()
        lines += ["", f"{samples} samples of {bars:g} bars (temperature {temperature:g}, seed "
                      f"{seed}) against the {split} pieces:", "", report.table()]  # fmt: skip

        def plot(path: Path, title: str) -> Any:
            return report.plot(path, title=title)

    return Evaluation(metrics, tuple(lines), plot)


GRIDRNN = Family(
    name=FAMILY,
    model_types=(GridRNN, GridEnsemble),
    load=_load,
    parts=checkpoint_parts,
    generate=_generate,
    evaluate=_evaluate,
    describe="note-grid models (GridRNN, GridEnsemble): MIDI out",
)
