"""The stochastic RNN family in the registry: :class:`~dsp_rnn.cells.SRNN` models load from a
model folder (the :class:`~dsp_rnn.cells.SRNNConfig` as JSON and the safetensors weights;
nothing is unpickled), evaluate by their bound (the negative ELBO in nats per time step: on
a JSB split for a Bernoulli model over the 88 keys, on a ``.npy`` array of sequences for a
Gaussian one) and, over the 88 keys, generate piano rolls written as MIDI (or rendered).

>>> from dsp_rnn.cells import SRNN, SRNNConfig
>>> m = SRNN(SRNNConfig(observation_size=2, linear=True))
>>> config, meta = SRNN_FAMILY.parts(m)
>>> SRNN_FAMILY.load(config, meta, m.state_dict(), source="x").config == m.config
True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp_rnn._tensor_io import load_weights
from dsp_rnn.cells.stochastic import SRNN, SRNNConfig
from dsp_rnn.compare.srnn_task import FAMILY, evaluate_bound, jsb_rolls
from dsp_rnn.errors import CheckpointError, InputError
from dsp_rnn.training.generate import Evaluation, Generated, GenerateRequest, check_length
from dsp_rnn.training.registry import Family

__all__ = ["SRNN_FAMILY"]

_PIANO_KEYS = 88


def _parts(model: SRNN) -> tuple[dict[str, Any], dict[str, Any]]:
    return model.config.to_dict(), {"model": "SRNN"}


def _load(config: dict[str, Any], metadata: dict[str, Any], tensors: dict[str, torch.Tensor],
          *, source: str) -> nn.Module:  # fmt: skip
    try:
        model = SRNN(SRNNConfig.from_dict(config))
    except (InputError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: bad SRNN config ({exc})") from None
    load_weights(model, tensors, source=source)
    return model


def _is_piano(model: SRNN) -> bool:
    c = model.config
    return c.emission == "bernoulli" and c.observation_size == _PIANO_KEYS


def _sequences(model: SRNN, data: str | Path | None, split: str) -> tuple[list[np.ndarray], str]:
    """The sequences to score and a name for them."""
    if _is_piano(model):
        from dsp_rnn.music import jsb

        path = Path(data) if data is not None else jsb.default_jsb_path()
        return jsb_rolls(path, split), f"{path.name} {split}"
    if data is None or Path(data).suffix.lower() != ".npy":
        raise InputError("a Gaussian SRNN is evaluated on a .npy array of sequences "
                         "(n, steps, features); pass one")  # fmt: skip
    if split != "test":
        raise InputError(f"split: a .npy array is one split; pass 'test', got {split!r}")
    path = Path(data)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read a numpy array ({exc})") from None
    if array.ndim == 2:
        array = array[None]
    m = model.config.observation_size
    if array.ndim != 3 or array.shape[2] != m or array.shape[1] == 0:
        raise InputError(f"{path}: expected sequences (n, steps, {m}), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(f"{path}: holds NaN or inf values")
    return list(array.astype(np.float32)), path.name


def _evaluate(model: SRNN, data: str | Path | None, *, split: str, samples: int, bars: float,
              temperature: float, seed: int,
              progress: Callable[[int, int], None] | None) -> Evaluation:  # fmt: skip
    """The negative ELBO in nats per time step (an upper bound of the NLL; one latent path
    per sequence drawn from ``seed``). ``samples``, ``bars``, ``temperature`` and
    ``progress`` concern sample statistics, which this family does not draw."""
    if samples:
        raise InputError("samples: SRNN models are evaluated by their bound only; pass "
                         "samples=0")  # fmt: skip
    seqs, name = _sequences(model, data, split)
    if not seqs:
        raise InputError(f"{name}: no sequences")
    metrics: dict[str, Any] = dict(evaluate_bound(model, seqs, seed=seed))
    metrics.update(parameters=model.count_parameters(), emission=model.config.emission)
    lines = (f"{name}: bound {metrics['nll_bound_per_step']:.3f} nats per time step "
             f"(negative ELBO, an upper bound of the NLL; {model.config.emission} emission, "
             f"{metrics['sequences']} sequences, {metrics['steps']} steps)",)  # fmt: skip
    return Evaluation(metrics, lines)


def _generate(model: SRNN, request: GenerateRequest) -> Generated:
    """Draw a piano roll (a Bernoulli SRNN over the 88 keys, one step per quarter note) and
    write it as MIDI, or render it to audio."""
    from dsp_rnn._atomic import atomic_file
    from dsp_rnn.errors import OutputError
    from dsp_rnn.gridrnn.sampler import steps_for
    from dsp_rnn.music.grid import PIANO_LOW, NoteGrid
    from dsp_rnn.music.outputs import AUDIO_SUFFIXES

    if not _is_piano(model):
        raise InputError("only a Bernoulli SRNN over the 88 piano keys generates music; this "
                         f"one is {model.config.emission} over "
                         f"{model.config.observation_size} features")  # fmt: skip
    if request.primer is not None or request.temperature != 1.0:
        raise InputError("SRNN models sample at temperature 1 without a primer")
    tempo = float(request.tempo_bpm) if request.tempo_bpm is not None else 120.0
    n = steps_for(steps=request.steps, bars=request.bars, seconds=request.seconds,
                  steps_per_quarter=1, tempo_bpm=tempo)  # fmt: skip
    check_length(request, n)
    gen = torch.Generator().manual_seed(request.seed)
    play = model.sample(n, 1, generator=gen)[0].cpu().numpy() > 0.5  # (n, 88)
    onset = play & ~np.vstack([np.zeros((1, _PIANO_KEYS), bool), play[:-1]])
    grid = NoteGrid(play, onset, np.where(play, 80, 0).astype(np.uint8), PIANO_LOW, 1, tempo)
    out, summary = request.out, None
    if out.suffix.lower() in AUDIO_SUFFIXES:
        from dsp_rnn.synth import render_file

        options = {"voice": "ks", "overwrite": request.overwrite, **(request.render or {})}
        summary = render_file(grid, out, **options).summary()
    else:
        flag = "--overwrite" if request.flag_style == "cli" else "overwrite=True"
        with atomic_file(out, request.overwrite, OutputError, flag) as fh:
            grid.to_midi_file().save(file=fh)
    return Generated(path=out, seed=request.seed, steps=n, seconds=n * 60.0 / tempo,
                     notes=len(grid.to_notes()), tempo_bpm=tempo, render=summary)  # fmt: skip


SRNN_FAMILY = Family(
    name=FAMILY,
    model_types=(SRNN,),
    load=_load,
    parts=_parts,
    generate=_generate,
    evaluate=_evaluate,
    describe="stochastic RNNs (SRNN): bound per time step on JSB or sequence arrays, "
    "piano rolls out as MIDI",
)
