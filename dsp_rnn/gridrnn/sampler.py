"""Sampling from a GridRNN, one step at a time (state carried from step to step).

Each step runs the time LSTM once (one step, for every key at once) and then the pitch LSTM
key by key from low to high, drawing each key from ``P(play)`` (then ``P(onset | play)``) at
a temperature. Nothing is re-run: a piece of ``T`` steps costs ``T`` time-LSTM steps and
``T * keys`` pitch-LSTM steps, whatever its length.
"""

from __future__ import annotations

import typing

import numpy as np
import torch

from dsp_rnn.errors import InputError
from dsp_rnn.gridrnn.model import GridRNN, GridState
from dsp_rnn.music.grid import NoteGrid

__all__ = ["sample", "steps_for"]


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
    model: GridRNN,
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
) -> list[NoteGrid]:
    """Draw ``n_samples`` pieces of ``steps`` new steps (after the primer, if any).

    Args:
        model: a trained :class:`GridRNN` (put in eval mode here).
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

    Returns:
        a list of :class:`NoteGrid` at the model's resolution and pitch range.

    Example:
        >>> from dsp_rnn.gridrnn import GridRNNConfig
        >>> m = GridRNN(GridRNNConfig(time_hidden=8, time_layers=1, pitch_hidden=8,
        ...                           pitch_layers=1))
        >>> [g.n_steps for g in sample(m, 3, n_samples=2, seed=1)]
        [3, 3]
    """
    c = model.config
    if steps < 1 or n_samples < 1:
        raise InputError(f"steps and n_samples must be >= 1, got {steps}, {n_samples}")
    if not temperature >= 0:
        raise InputError(f"temperature must be >= 0, got {temperature}")
    if max_notes is not None and max_notes < min_notes:
        raise InputError(f"max_notes {max_notes} < min_notes {min_notes}")
    if min_notes > c.n_pitches:
        raise InputError(f"min_notes {min_notes} > keys {c.n_pitches}")
    model.eval()
    bounded = min_notes > 0 or max_notes is not None
    k = max(1, candidates) if bounded else 1
    rows = n_samples * k
    gen = torch.Generator().manual_seed(int(seed))
    dtype = model.out_time.weight.dtype
    state: GridState = model.begin(rows)
    head = np.zeros((0, c.n_pitches, 2), np.uint8)
    if primer is not None:
        from dsp_rnn.gridrnn.data import grid_to_array

        head = grid_to_array(primer, low_pitch=c.low_pitch, n_pitches=c.n_pitches)
        if len(head):
            pg = torch.from_numpy(head).to(dtype)[None].expand(rows, -1, -1, -1)
            _, state = model(pg, state)
    out = torch.zeros(rows, steps, c.n_pitches, 2, dtype=dtype)
    for t in range(steps):
        h, feats, state = model.time_step(state)
        base = model.out_time(torch.cat([h, feats], -1))  # (rows, P, 2)
        prev_play = typing.cast(torch.Tensor, state.previous)[..., 0]  # (rows, P)
        current = torch.zeros(rows, c.n_pitches, 2, dtype=dtype)
        play_logit = torch.zeros(rows, c.n_pitches, dtype=dtype)
        thr = _thresholds((2, rows, c.n_pitches), temperature, gen, dtype)  # play, onset
        if model.pitch_lstm is None:
            play_logit = base[..., 0]
            current[..., 0] = (play_logit > thr[0]).to(dtype)
            onset_logit = base[..., 1]
        elif fast:
            current, play_logit = _decide_fast(model, h, base, prev_play, thr)
        else:
            ps = None
            onset_logit = torch.zeros(rows, c.n_pitches, dtype=dtype)
            for n in range(c.n_pitches):
                logit, ps = model.pitch_step(h, feats, current, n, ps, base)
                play_logit[:, n], onset_logit[:, n] = logit[:, 0], logit[:, 1]
                current[:, n, 0] = (logit[:, 0] > thr[0, :, n]).to(dtype)
                current[:, n, 1] = _onset(
                    current[:, n, 0], prev_play[:, n], logit[:, 1], c.articulation, thr[1, :, n]
                )
        if model.pitch_lstm is None:
            current[..., 1] = _onset(
                current[..., 0], prev_play, onset_logit, c.articulation, thr[1]
            )
        if bounded:
            current = _bound(current, play_logit, prev_play, n_samples, k, min_notes, max_notes)
        out[:, t] = current
        state = model.commit(state, current)
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


def _decide_fast(model, h, base, prev_play, thr):
    """One step of the pitch axis, key by key, with the LSTM written out (TorchScript).

    The time-LSTM part of the first pitch-LSTM layer's input projection is computed for all
    keys at once; the below-features are kept up to date incrementally (a padded play buffer
    and a pitch-class histogram) instead of being rebuilt per key.
    """
    c = model.config
    lstm, out = model.pitch_lstm, model.out_pitch
    ht, hp = c.time_hidden, c.pitch_hidden
    w_ih = [getattr(lstm, f"weight_ih_l{k}") for k in range(c.pitch_layers)]
    w_hh = [getattr(lstm, f"weight_hh_l{k}").t() for k in range(c.pitch_layers)]
    bias = [getattr(lstm, f"bias_ih_l{k}") + getattr(lstm, f"bias_hh_l{k}")
            for k in range(c.pitch_layers)]  # fmt: skip
    pre = torch.matmul(h, w_ih[0][:, :ht].t()) + bias[0]  # (R, P, 4Hp)
    # the below-features feed the first layer's gates and the output: one matmul for both
    w_below = torch.cat([w_ih[0][:, ht:].t(), out.weight[:, hp:].t()], 1)  # (Bf, 4Hp + 2)
    w_in = [w.t() for w in w_ih]
    pcs = (torch.arange(c.n_pitches) + c.low_pitch) % 12
    onehot = torch.nn.functional.one_hot(pcs, 12).to(h.dtype)
    rel_index = (pcs[:, None] + torch.arange(12)) % 12
    loop = _compiled_loop()
    return loop(pre, base + out.bias, w_below, w_hh, w_in, bias, out.weight[:, :hp].t(), thr,
                prev_play, onehot, rel_index, c.articulation, hp)  # fmt: skip


def _pitch_loop(
    pre: torch.Tensor,
    base: torch.Tensor,
    w_below: torch.Tensor,
    w_hh: list[torch.Tensor],
    w_in: list[torch.Tensor],
    bias: list[torch.Tensor],
    w_out_g: torch.Tensor,
    thr: torch.Tensor,
    prev_play: torch.Tensor,
    onehot: torch.Tensor,
    rel_index: torch.Tensor,
    articulation: bool,
    hp: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    rows, p = pre.shape[0], pre.shape[1]
    layers = len(w_hh)
    g4 = 4 * hp
    hs = [pre.new_zeros(rows, hp) for _ in range(layers)]
    cs = [pre.new_zeros(rows, hp) for _ in range(layers)]
    buf = pre.new_zeros(rows, p + 12, 2)  # 12 silent keys below key 0
    hist = pre.new_zeros(rows, 12)
    play_logit = pre.new_zeros(rows, p)
    for n in range(p):
        rel = hist.index_select(1, rel_index[n])
        below = torch.cat([buf[:, n + 11], buf[:, n : n + 12, 0], rel,
                           rel.sum(1, keepdim=True) / 4.0], 1)  # fmt: skip
        from_below = torch.mm(below, w_below)  # (R, 4Hp + 2)
        x = hs[0]
        for k in range(layers):
            if k == 0:
                gates = torch.addmm(pre[:, n] + from_below[:, :g4], hs[0], w_hh[0])
            else:
                gates = torch.addmm(bias[k], x, w_in[k]).addmm_(hs[k], w_hh[k])
            sg = gates.sigmoid()
            ck = sg[:, hp : 2 * hp] * cs[k] + sg[:, :hp] * gates[:, 2 * hp : 3 * hp].tanh()
            cs[k] = ck
            hs[k] = sg[:, 3 * hp :] * ck.tanh()
            x = hs[k]
        logit = torch.addmm(base[:, n] + from_below[:, g4:], x, w_out_g)  # (R, 2)
        play_logit[:, n] = logit[:, 0]
        play = (logit[:, 0] > thr[0, :, n]).to(pre.dtype)
        onset = play * (1 - prev_play[:, n])
        if articulation:
            onset = torch.maximum(onset, play * (logit[:, 1] > thr[1, :, n]).to(pre.dtype))
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
