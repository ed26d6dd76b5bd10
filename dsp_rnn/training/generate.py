"""The main job from Python: a model in, a MIDI or audio file out (:func:`generate`), and a
model's metrics on a data set (:func:`evaluate_model`), for any registered model family.

>>> import tempfile
>>> out = Path(tempfile.mkdtemp()) / "piece.mid"
>>> made = generate(out=out, bars=2, seed=3)
>>> made.path == out and made.seed == 3 and made.steps == 8
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from torch import nn

from dsp_rnn._validate import check_int, check_seed
from dsp_rnn.errors import InputError
from dsp_rnn.music.outputs import AUDIO_SUFFIXES, MAX_STEPS, MIDI_SUFFIXES
from dsp_rnn.training import registry

# MIDI_SUFFIXES, AUDIO_SUFFIXES and MAX_STEPS live in dsp_rnn.music.outputs (torch-free,
# for the command line); named here too, where generate() uses them
__all__ = ["MIDI_SUFFIXES", "AUDIO_SUFFIXES", "MAX_STEPS", "GenerateRequest", "Generated",
           "Evaluation", "generate", "evaluate_model", "check_length"]  # fmt: skip


@dataclass(frozen=True)
class GenerateRequest:
    """What to generate; see :func:`generate` for each field. Exactly one of ``steps``,
    ``bars`` and ``seconds`` is set (:func:`generate` fills in the default length)."""

    out: Path
    seed: int
    steps: int | None = None
    bars: float | None = None
    seconds: float | None = None
    temperature: float = 1.0
    primer: Path | None = None
    tempo_bpm: float | None = None
    min_notes: int = 0
    max_notes: int | None = None
    max_steps: int = MAX_STEPS
    render: Mapping[str, Any] | None = None
    overwrite: bool = False
    progress: Callable[[int, int], None] | None = field(default=None, repr=False)
    flag_style: Literal["python", "cli"] = "python"

    def spell(self, name: str, value: Any) -> str:
        """A parameter and its value as the caller wrote it: ``max_steps=10`` from Python,
        ``--max-steps 10`` from the command line (error messages name what to change)."""
        if self.flag_style == "cli":
            return f"--{name.replace('_', '-')} {value:g}" if isinstance(value, float) else (
                f"--{name.replace('_', '-')} {value}")  # fmt: skip
        return f"{name}={value!r}"


@dataclass(frozen=True)
class Generated:
    """What :func:`generate` wrote.

    Attributes:
        path: the file.
        seed: the seed the piece was drawn with (pass it again to make the same piece).
        steps: the piece's length in the model's steps (primer included).
        seconds: its length in seconds.
        notes: notes in it (None for a model that makes audio directly).
        tempo_bpm: its tempo (None for audio models).
        render: the renderer's one-line summary when audio was rendered from notes.
    """

    path: Path
    seed: int
    steps: int
    seconds: float
    notes: int | None = None
    tempo_bpm: float | None = None
    render: str | None = None

    def describe(self) -> str:
        """One line: steps, notes, tempo and length."""
        parts = [f"{self.steps} steps"]
        if self.notes is not None:
            parts.append(f"{self.notes} notes")
        if self.tempo_bpm is not None:
            parts.append(f"{self.tempo_bpm:g} bpm")
        return ", ".join([*parts, f"{self.seconds:.1f} s"])


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate_model` measured.

    Attributes:
        metrics: JSON-able numbers (the family's own, e.g. ``nll_per_step``).
        lines: the same for a person, a line each.
        plot: draws the figure of the evaluation to a PNG path with a title (None when
            there is none).
    """

    metrics: dict[str, Any]
    lines: tuple[str, ...]
    plot: Callable[[Path, str], Any] | None = field(default=None, repr=False)


def check_length(request: GenerateRequest, n: int) -> None:
    """Refuse ``n`` new steps beyond ``request.max_steps`` (the message names the length
    parameter that was given)."""
    if n > request.max_steps:
        given = [(k, v) for k, v in (("steps", request.steps), ("bars", request.bars),
                                     ("seconds", request.seconds)) if v is not None]  # fmt: skip
        what = request.spell(*given[0]) if given else f"{n} steps"
        limit = request.spell("max_steps", request.max_steps)
        raise InputError(f"{what}: {n} new steps, more than {limit}; pass "
                         f"{request.spell('max_steps', n)} to allow it")  # fmt: skip


def _model(model: str | Path | nn.Module | None) -> nn.Module:
    return model if isinstance(model, nn.Module) else registry.load_model(model)[0]


def generate(
    model: str | Path | nn.Module | None = None,
    out: str | Path = "generated.mid",
    *,
    steps: int | None = None,
    bars: float | None = None,
    seconds: float | None = None,
    temperature: float = 1.0,
    seed: int | None = None,
    primer: str | Path | None = None,
    tempo_bpm: float | None = None,
    min_notes: int = 0,
    max_notes: int | None = None,
    max_steps: int = MAX_STEPS,
    render: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    flag_style: Literal["python", "cli"] = "python",
) -> Generated:
    """Generate a piece with a model and write it to ``out``.

    Args:
        model: a model folder, run folder, weights file or shipped name (None = the
            shipped default), or a loaded model.
        out: the file to write: ``.mid``/``.midi``, or ``.wav``/``.flac``/``.aiff`` to render
            the notes to audio; its folder must exist.
        steps, bars, seconds: the length of the new music, at most one of them (steps of
            the model, bars of 4 quarters, seconds at the tempo; default 16 bars).
        temperature: > 0; below 1 more predictable, above 1 more varied.
        seed: seeds the draws (None = a random seed, returned in the result).
        primer: a MIDI file to continue.
        tempo_bpm: tempo of the piece (default: the primer's, else the model's).
        min_notes, max_notes: notes sounding per generated step.
        max_steps: refuse, before sampling, pieces of more new steps than this.
        render: for audio ``out``: keyword arguments of
            :func:`dsp_rnn.synth.render_file` (``voice`` defaults to ``"ks"``).
        overwrite: replace an existing ``out`` (default: refuse).
        progress: called as ``progress(done_steps, total_steps)`` while sampling.
        flag_style: how error messages name the parameters: ``"python"`` (``max_steps=``)
            or ``"cli"`` (``--max-steps``).

    Returns:
        a :class:`Generated` (the path, the seed, the length, the notes).

    Raises:
        InputError: an unknown ending of ``out``, a bad length or note bound, a primer
            that cannot be read.
        OutputError: ``out`` exists (without ``overwrite``) or cannot be written.
        CheckpointError: the model cannot be loaded.
    """
    import secrets

    from dsp_rnn._atomic import check_target
    from dsp_rnn.errors import OutputError

    path = Path(out)
    if path.suffix.lower() not in MIDI_SUFFIXES + AUDIO_SUFFIXES:
        raise InputError(f"{path}: expected a .mid output path, or audio "
                         f"({', '.join(AUDIO_SUFFIXES)}) to render it")  # fmt: skip
    check_target(path, overwrite, OutputError)
    if sum(v is not None for v in (steps, bars, seconds)) > 1:
        raise InputError(f"give at most one of steps, bars, seconds; got steps={steps}, "
                         f"bars={bars}, seconds={seconds}")  # fmt: skip
    if not temperature > 0:
        raise InputError(f"temperature: expected > 0, got {temperature!r}")
    if steps is not None:
        steps = check_int(steps, "steps", minimum=1)
    seed = secrets.randbelow(2**31) if seed is None else check_seed(seed)
    max_steps = check_int(max_steps, "max_steps", minimum=1)
    min_notes = check_int(min_notes, "min_notes", minimum=0)
    if max_notes is not None:
        max_notes = check_int(max_notes, "max_notes", minimum=1)
    if max_notes is not None and max_notes < min_notes:
        raise InputError("notes per step: expected 0 <= min_notes <= max_notes and max_notes "
                         f">= 1, got min_notes={min_notes}, max_notes={max_notes}")  # fmt: skip
    if primer is not None and not Path(primer).is_file():
        raise InputError(f"{primer}: no such MIDI file (primer)")
    if steps is None and bars is None and seconds is None:
        bars = 16.0
    request = GenerateRequest(
        out=path, seed=seed, steps=steps,
        bars=bars, seconds=seconds, temperature=float(temperature),
        primer=None if primer is None else Path(primer), tempo_bpm=tempo_bpm,
        min_notes=min_notes, max_notes=max_notes, max_steps=max_steps, render=render,
        overwrite=overwrite, progress=progress, flag_style=flag_style,
    )  # fmt: skip
    if steps is not None:
        check_length(request, steps)
    net = _model(model)
    family = registry.family_of(net)
    if family.generate is None:
        raise InputError(f"{family.name} models cannot generate files")
    return family.generate(net, request)


def evaluate_model(
    model: str | Path | nn.Module | None = None,
    data: str | Path | None = None,
    *,
    split: str = "test",
    samples: int = 0,
    bars: float = 16.0,
    temperature: float = 1.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    seconds: float | None = None,
) -> Evaluation:
    """A model's metrics on a data set (for note-grid models: NLL per step and frame
    accuracy on a JSB split, by default the shipped quarter-note file).

    Args:
        model: a model folder, run folder, weights file or shipped name (None = the
            shipped default), or a loaded model.
        data: the data file (None = the family's default data).
        split: ``"train"``, ``"valid"`` or ``"test"``.
        samples: also draw this many pieces of ``bars`` bars at ``temperature`` from
            ``seed`` and compare their statistics with the split's (0 = likelihood only).
        progress: called as ``progress(done, samples)`` while sampling.
        seconds: for families that score a time budget of audio (audio models: the
            seconds scored per file; None = the family's default).

    Raises:
        InputError: data the model cannot be evaluated on; a family without evaluation;
            ``seconds`` for a family that takes none.
        CheckpointError: the model cannot be loaded.
    """
    samples = check_int(samples, "samples", minimum=0)
    seed = check_seed(seed)
    net = _model(model)
    family = registry.family_of(net)
    if family.evaluate is None:
        raise InputError(f"{family.name} models have no evaluation")
    extra: dict[str, Any] = {}
    if seconds is not None:
        import inspect

        if "seconds" not in inspect.signature(family.evaluate).parameters:
            raise InputError(f"seconds: {family.name} models are not scored on seconds of "
                             "audio; drop it")  # fmt: skip
        extra["seconds"] = seconds
    return family.evaluate(net, data, split=split, samples=samples, bars=bars,
                           temperature=temperature, seed=seed, progress=progress,
                           **extra)  # fmt: skip
