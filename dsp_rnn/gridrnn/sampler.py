"""Sampling from a GridRNN, one step at a time (state carried from step to step).

Each step runs the time LSTM once (one step, for every key at once) and then the pitch LSTM
key by key from low to high, drawing each key from ``P(play)`` (then ``P(onset | play)``) at
a temperature. Nothing is re-run: a piece of ``T`` steps costs ``T`` time-LSTM steps and
``T * keys`` pitch-LSTM steps, whatever its length.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import numpy as np
import torch

from dsp_rnn._validate import check_int, check_seed
from dsp_rnn.errors import InputError
from dsp_rnn.gridrnn.config import GridRNNConfig
from dsp_rnn.gridrnn.ensemble import GridEnsemble, mix_logits
from dsp_rnn.gridrnn.model import GridRNN, GridState
from dsp_rnn.music.grid import NoteGrid

if typing.TYPE_CHECKING:
    from dsp_rnn.music.midi import Score

__all__ = ["sample", "steps_for", "written_grid", "primer_grid"]


def written_grid(grid: NoteGrid, config: GridRNNConfig) -> NoteGrid:
    """``grid`` (in the model's encoding) in the register music is written in for a user.

    The key axis is relabelled by ``config.output_transpose`` semitones: no note is lost or
    clipped, and the samples' likelihood under the model is unchanged.

    >>> from dsp_rnn.gridrnn import GridRNNConfig
    >>> from dsp_rnn.music.grid import GridNote
    >>> g = NoteGrid.from_notes([GridNote(72, 0, 2)], steps_per_quarter=1)
    >>> written_grid(g, GridRNNConfig(output_transpose=-12)).to_notes()[0].pitch
    60
    """
    return replace(grid, low_pitch=grid.low_pitch + config.output_transpose)


def primer_grid(score: Score, config: GridRNNConfig) -> NoteGrid:
    """A primer read from a :class:`~dsp_rnn.music.Score` (written pitches) onto the model's
    grid and into its encoding: the inverse of :func:`written_grid`. Notes outside the
    model's written range are dropped, as :meth:`NoteGrid.from_score` does."""
    grid = NoteGrid.from_score(
        score,
        steps_per_quarter=config.steps_per_quarter,
        low_pitch=config.written_low_pitch,
        n_pitches=config.n_pitches,
    )
    return replace(grid, low_pitch=config.low_pitch)


def steps_for(
    *,
    steps: int | None = None,
    bars: float | None = None,
    seconds: float | None = None,
    steps_per_quarter: int,
    tempo_bpm: float,
    quarters_per_bar: int = 4,
) -> int:
    """Length in steps from exactly one of ``steps``, ``bars`` or ``seconds``.

    >>> steps_for(bars=16, steps_per_quarter=1, tempo_bpm=90)
    64
    >>> steps_for(seconds=10, steps_per_quarter=4, tempo_bpm=120)
    80
    """
    given = [v is not None for v in (steps, bars, seconds)]
    if sum(given) != 1:
        raise InputError("give exactly one of steps, bars, seconds")
    if steps is not None:
        n = steps
    elif bars is not None:
        n = round(bars * quarters_per_bar * steps_per_quarter)
    else:
        n = round(float(seconds) * tempo_bpm / 60.0 * steps_per_quarter)  # type: ignore[arg-type]
    if n < 1:
        raise InputError(f"length must be at least one step, got {n} (steps={steps}, "
                         f"bars={bars}, seconds={seconds})")  # fmt: skip
    return int(n)


def _thresholds(shape, temperature: float, gen: torch.Generator, dtype) -> torch.Tensor:
    """Logit thresholds for Bernoulli draws at a temperature: ``logit > T * logit(u)`` with
    ``u`` uniform is a draw from ``sigmoid(logit / T)``; ``T = 0`` gives ``logit > 0``."""
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    if temperature == 0:
        return torch.zeros(shape, dtype=dtype)
    return (temperature * (torch.log(u) - torch.log1p(-u))).to(dtype)


@torch.inference_mode()
def sample(
    model: GridRNN | GridEnsemble,
    steps: int,
    *,
    n_samples: int = 1,
    temperature: float = 1.0,
    seed: int = 0,
    primer: NoteGrid | None = None,
    min_notes: int = 0,
    max_notes: int | None = None,
    candidates: int = 16,
    tempo_bpm: float | None = None,
    fast: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> list[NoteGrid]:
    """Draw ``n_samples`` pieces of ``steps`` new steps (after the primer, if any).

    Args:
        model: a trained :class:`GridRNN` or :class:`GridEnsemble` (put in eval mode
            here; an ensemble draws every key from its members' mixed probabilities).
        steps: new steps to generate.
        n_samples: pieces drawn side by side (one batch).
        temperature: divides the logits; ``0`` picks the more likely value (deterministic).
        seed: seeds the draws.
        primer: music to continue; it is read through the model once to set the state and
            is included at the start of the output.
        min_notes, max_notes: notes sounding per generated step. A step outside the bounds
            is redrawn (``candidates`` draws in parallel); if none fits, the closest draw is
            trimmed (least likely notes off) or filled (most likely notes on).
        tempo_bpm: tempo written to the output (default: the primer's, else the model's).
        fast: run the pitch axis with hand-fused LSTM steps and incremental below-features
            (same numbers as :meth:`GridRNN.pitch_step`, which ``fast=False`` uses).
        progress: called as ``progress(done_steps, steps)`` after each new step (e.g. to
            move a progress bar); default ``None``.

    Returns:
        a list of :class:`NoteGrid` at the model's resolution and pitch range.

    Raises:
        InputError: ``steps``, ``n_samples`` or ``candidates`` not an integer >= 1, bad
            ``min_notes``/``max_notes`` or ``seed``, a negative ``temperature``.

    Example:
        >>> from dsp_rnn.gridrnn import GridRNNConfig
        >>> m = GridRNN(GridRNNConfig(time_hidden=8, time_layers=1, pitch_hidden=8,
        ...                           pitch_layers=1))
        >>> [g.n_steps for g in sample(m, 3, n_samples=2, seed=1)]
        [3, 3]
    """
    c = model.config
    steps = check_int(steps, "steps", minimum=1)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    min_notes = check_int(min_notes, "min_notes", minimum=0)
    if max_notes is not None:
        max_notes = check_int(max_notes, "max_notes", minimum=0)
    candidates = check_int(candidates, "candidates", minimum=1)
    seed = check_seed(seed)
    if not temperature >= 0:
        raise InputError(f"temperature must be >= 0, got {temperature}")
    if max_notes is not None and max_notes < min_notes:
        raise InputError(f"max_notes {max_notes} < min_notes {min_notes}")
    if min_notes > c.n_pitches:
        raise InputError(f"min_notes {min_notes} > keys {c.n_pitches}")
    model.eval()
    members: list[GridRNN] = model.models if isinstance(model, GridEnsemble) else [model]
    mix = partial(mix_logits, articulation=c.articulation)
    bounded = min_notes > 0 or max_notes is not None
    k = candidates if bounded else 1
    rows = n_samples * k
    gen = torch.Generator().manual_seed(seed)
    dtype = members[0].out_time.weight.dtype
    states: list[GridState] = [m.begin(rows) for m in members]
    head = np.zeros((0, c.n_pitches, 2), np.uint8)
    if primer is not None:
        from dsp_rnn.gridrnn.data import grid_to_array

        head = grid_to_array(primer, low_pitch=c.low_pitch, n_pitches=c.n_pitches)
        if len(head):
            pg = torch.from_numpy(head).to(dtype)[None].expand(rows, -1, -1, -1)
            states = [m(pg, s)[1] for m, s in zip(members, states, strict=True)]
    out = torch.zeros(rows, steps, c.n_pitches, 2, dtype=dtype)
    for t in range(steps):
        stepped = [m.time_step(s) for m, s in zip(members, states, strict=True)]
        hs = [h for h, _, _ in stepped]
        feats = [f for _, f, _ in stepped]
        states = [s for _, _, s in stepped]
        bases = [m.out_time(torch.cat([h, f], -1))
                 for m, h, f in zip(members, hs, feats, strict=True)]  # fmt: skip
        prev_play = typing.cast(torch.Tensor, states[0].previous)[..., 0]  # (rows, P)
        current = torch.zeros(rows, c.n_pitches, 2, dtype=dtype)
        play_logit = torch.zeros(rows, c.n_pitches, dtype=dtype)
        thr = _thresholds((2, rows, c.n_pitches), temperature, gen, dtype)  # play, onset
        if members[0].pitch_lstm is None:
            base = mix(bases)
            play_logit = base[..., 0]
            current[..., 0] = (play_logit > thr[0]).to(dtype)
            onset_logit = base[..., 1]
        elif fast:
            current, play_logit = _decide_fast(members, hs, bases, prev_play, thr)
        else:
            pss: list = [None] * len(members)
            onset_logit = torch.zeros(rows, c.n_pitches, dtype=dtype)
            for n in range(c.n_pitches):
                step = [m.pitch_step(h, f, current, n, ps, b)
                        for m, h, f, ps, b in zip(members, hs, feats, pss, bases,
                                                  strict=True)]  # fmt: skip
                pss = [ps for _, ps in step]
                logit = mix([lg for lg, _ in step])
                play_logit[:, n], onset_logit[:, n] = logit[:, 0], logit[:, 1]
                current[:, n, 0] = (logit[:, 0] > thr[0, :, n]).to(dtype)
                current[:, n, 1] = _onset(
                    current[:, n, 0], prev_play[:, n], logit[:, 1], c.articulation, thr[1, :, n]
                )
        if members[0].pitch_lstm is None:
            current[..., 1] = _onset(
                current[..., 0], prev_play, onset_logit, c.articulation, thr[1]
            )
        if bounded:
            current = _bound(current, play_logit, prev_play, n_samples, k, min_notes, max_notes)
        out[:, t] = current
        states = [m.commit(st, current) for m, st in zip(members, states, strict=True)]
        if progress is not None:
            progress(t + 1, steps)
    result = []
    tempo = tempo_bpm or (primer.tempo_bpm if primer is not None else c.tempo_bpm)
    num = c.beat_period // c.steps_per_quarter if c.beat_period % c.steps_per_quarter == 0 else 4
    for i in range(n_samples):
        arr = np.concatenate([head, out[i * k].numpy().astype(np.uint8)], 0)
        play, onset = arr[..., 0] > 0, arr[..., 1] > 0
        velocity = np.where(play, 80, 0).astype(np.uint8)
        result.append(NoteGrid(play, onset & play, velocity, c.low_pitch, c.steps_per_quarter,
                               float(tempo), (max(1, num), 4), "sample"))  # fmt: skip
    return result


def _onset(play, prev_play, logit, articulation: bool, thr):
    """Onsets: a note that did not sound the step before starts now; with articulation a
    held note may also restart (drawn from ``P(onset | play)`` with thresholds ``thr``)."""
    fresh = play * (1 - prev_play)
    if not articulation:
        return fresh
    return torch.maximum(fresh, play * (logit > thr).to(play.dtype))


def _bound(current, play_logit, prev_play, n_samples, k, lo, hi):
    """Per sample, the first of its ``k`` candidate steps with ``lo <= notes <= hi``; else the
    closest one, trimmed or filled by probability. All ``k`` rows get the chosen step."""
    p = current.shape[1]
    hi = p if hi is None else hi
    counts = current[..., 0].sum(-1).view(n_samples, k)
    violation = (lo - counts).clamp_min(0) + (counts - hi).clamp_min(0)
    best = violation.argmin(1)  # first with the smallest violation (0 = fits)
    chosen = []
    for i in range(n_samples):
        row = current[i * k + int(best[i])].clone()
        logit = play_logit[i * k + int(best[i])]
        n = int(row[:, 0].sum())
        if n > hi:
            on = torch.nonzero(row[:, 0] > 0).flatten()
            drop = on[torch.argsort(logit[on])[: n - hi]]
            row[drop] = 0
        elif n < lo:
            off = torch.nonzero(row[:, 0] == 0).flatten()
            add = off[torch.argsort(logit[off], descending=True)[: lo - n]]
            row[add, 0] = 1
            row[add, 1] = 1 - prev_play[i * k, add]
        chosen.append(row.expand(k, p, 2))
    return torch.cat(chosen, 0)


def _decide_fast(members, hs, bases, prev_play, thr):
    """One step of the pitch axis, key by key, with the LSTMs written out (TorchScript).

    Per member: the time-LSTM part of the first pitch-LSTM layer's input projection is
    computed for all keys at once; the below-features are kept up to date incrementally (a
    padded play buffer and a pitch-class histogram) instead of being rebuilt per key. With
    several members (a :class:`GridEnsemble`) each key's logits are mixed before the draw.
    """
    c = members[0].config
    ht, hp = c.time_hidden, c.pitch_hidden
    pres, base_b, w_belows, w_hhs, w_ins, biases, w_outs = [], [], [], [], [], [], []
    for m, h, base in zip(members, hs, bases, strict=True):
        lstm, out = m.pitch_lstm, m.out_pitch
        w_ih = [getattr(lstm, f"weight_ih_l{k}") for k in range(c.pitch_layers)]
        w_hhs.append([getattr(lstm, f"weight_hh_l{k}").t() for k in range(c.pitch_layers)])
        bias = [getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
                for k in range(c.pitch_layers)]  # fmt: skip
        biases.append(bias)
        pres.append(torch.matmul(h, w_ih[0][:, :ht].t()) + bias[0])  # (R, P, 4Hp)
        # the below-features feed the first layer's gates and the output: one matmul for both
        w_belows.append(torch.cat([w_ih[0][:, ht:].t(), out.weight[:, hp:].t()], 1))
        w_ins.append([w.t() for w in w_ih])
        base_b.append(base + out.bias)
        w_outs.append(out.weight[:, :hp].t())
    pcs = (torch.arange(c.n_pitches) + c.low_pitch) % 12
    onehot = torch.nn.functional.one_hot(pcs, 12).to(hs[0].dtype)
    rel_index = (pcs[:, None] + torch.arange(12)) % 12
    loop = _compiled_loop()
    return loop(pres, base_b, w_belows, w_hhs, w_ins, biases, w_outs, thr, prev_play, onehot,
                rel_index, c.articulation, hp)  # fmt: skip


def _pitch_loop(
    pres: list[torch.Tensor],
    bases: list[torch.Tensor],
    w_belows: list[torch.Tensor],
    w_hhs: list[list[torch.Tensor]],
    w_ins: list[list[torch.Tensor]],
    biases: list[list[torch.Tensor]],
    w_outs: list[torch.Tensor],
    thr: torch.Tensor,
    prev_play: torch.Tensor,
    onehot: torch.Tensor,
    rel_index: torch.Tensor,
    articulation: bool,
    hp: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    n_members = len(pres)
    rows, p = pres[0].shape[0], pres[0].shape[1]
    layers = len(w_hhs[0])
    g4 = 4 * hp
    hs = [[pres[0].new_zeros(rows, hp) for _ in range(layers)] for _ in range(n_members)]
    cs = [[pres[0].new_zeros(rows, hp) for _ in range(layers)] for _ in range(n_members)]
    buf = pres[0].new_zeros(rows, p + 12, 2)  # 12 silent keys below key 0
    hist = pres[0].new_zeros(rows, 12)
    play_logit = pres[0].new_zeros(rows, p)
    for n in range(p):
        rel = hist.index_select(1, rel_index[n])
        below = torch.cat([buf[:, n + 11], buf[:, n : n + 12, 0], rel,
                           rel.sum(1, keepdim=True) / 4.0], 1)  # fmt: skip
        logits: list[torch.Tensor] = []
        for j in range(n_members):
            from_below = torch.mm(below, w_belows[j])  # (R, 4Hp + 2)
            h_j, c_j, w_hh, w_in, bias = hs[j], cs[j], w_hhs[j], w_ins[j], biases[j]
            x = h_j[0]
            for k in range(layers):
                if k == 0:
                    gates = torch.addmm(pres[j][:, n] + from_below[:, :g4], h_j[0], w_hh[0])
                else:
                    gates = torch.addmm(bias[k], x, w_in[k]).addmm_(h_j[k], w_hh[k])
                sg = gates.sigmoid()
                ck = sg[:, hp : 2 * hp] * c_j[k] + sg[:, :hp] * gates[:, 2 * hp : 3 * hp].tanh()
                c_j[k] = ck
                h_j[k] = sg[:, 3 * hp :] * ck.tanh()
                x = h_j[k]
            logits.append(torch.addmm(bases[j][:, n] + from_below[:, g4:], x, w_outs[j]))
        logit = mix_logits(logits, articulation)  # (R, 2)
        play_logit[:, n] = logit[:, 0]
        play = (logit[:, 0] > thr[0, :, n]).to(pres[0].dtype)
        onset = play * (1 - prev_play[:, n])
        if articulation:
            onset = torch.maximum(onset, play * (logit[:, 1] > thr[1, :, n]).to(pres[0].dtype))
        buf[:, n + 12, 0] = play
        buf[:, n + 12, 1] = onset
        hist = hist + play[:, None] * onehot[n]
    return buf[:, 12:].clone(), play_logit


_LOOP: list = []


def _compiled_loop():
    """:func:`_pitch_loop` compiled by TorchScript once (about 3x less per-key overhead);
    the plain function where TorchScript is unavailable."""
    if not _LOOP:
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _LOOP.append(torch.jit.script(_pitch_loop))
        except Exception:  # pragma: no cover - TorchScript missing or refusing
            _LOOP.append(_pitch_loop)
    return _LOOP[0]
