"""Likelihoods on one variable for every audio model: bits per sample of the signal's code.

An LPC model predicts the excitation ``e_t = s_t - p_t``, a plain sample RNN the signal
``s_t`` itself, and the linear twin (the LPC predictor alone) a residual distribution
around ``p_t``. Bits on each model's own target are not comparable: the excitation's
mu-law codes are finer relative to its spread than the signal's. So every model here is
scored on the same variable, the ``bits``-bit mu-law code of the pre-emphasised signal
``s_t`` (the model's domain; pre-emphasis is invertible, so nothing is gained or lost by
scoring there), teacher-forced on the true past:

- the plain mu-law RNN gives that distribution directly;
- the LPC model's distribution over excitation codes is read as a piecewise-uniform
  density (each code's probability spread evenly over the excitation values that code
  covers), and the probability of a signal code is the mass of ``p_t + e`` inside the
  signal values that code covers;
- the linear twin is ``s_t ~ Laplace(p_t, b)`` with ``b`` from the frame's predicted
  residual power (``residual_power``, the Levinson error of the band envelope: a frame
  feature, not the residual of the samples scored), integrated over each code's values.

The outermost signal codes take everything beyond ``[-1, 1]`` (the clamp of
:func:`~dsp_rnn.audio.mu_law_codes`), so each row's probabilities sum to one over the
codes. Every row is mixed with ``1e-6`` of the uniform distribution over the codes (a
floor of ``log2(256e6)`` = 28 bits for a sample a model calls impossible, less than
``1.5e-6`` bits per sample otherwise), the same for every row.

>>> import torch
>>> edges = code_edges(8)
>>> edges.shape, float(edges[0]), float(edges[-1])
((257,), -inf, inf)
>>> codes = torch.tensor([0, 128, 255])
>>> bool((torch.from_numpy(edges[:-1])[codes] <= torch.tensor([-1.0, 0.0, 1.0])).all())
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from dsp_rnn.audio.features import FeatureConfig
from dsp_rnn.audio.model import AudioRNN, AudioState, FrameInputs, mu_law_codes
from dsp_rnn.audio.synthesis import lpc_prediction
from dsp_rnn.audio.task import AudioItem, score_files
from dsp_rnn.errors import InputError

__all__ = ["code_edges", "UNIFORM_MIX", "signal_code_nll", "linear_twin_nll"]

UNIFORM_MIX = 1e-6
"""The share of the uniform distribution over the codes mixed into every row's."""

_LN2 = math.log(2.0)


def code_edges(bits: int, *, outer: float = math.inf) -> np.ndarray:
    """The values each mu-law code covers: code ``k`` takes ``[edges[k], edges[k + 1])``.

    The codes are those of :func:`~dsp_rnn.audio.mu_law_codes` (``floor`` of the companded
    value scaled to ``mu = 2**bits - 1``, plus 0.5), so the inner edges are the expansions
    of the companded half-steps; the outer ones are ``-outer`` and ``outer`` (default
    infinite: the clamp sends everything beyond ``[-1, 1]`` to the end codes).

    Shape: ``(2**bits + 1,)`` float64, increasing.
    """
    mu = float((1 << bits) - 1)
    y = (np.arange(1, 1 << bits, dtype=np.float64) - 0.5) / mu * 2.0 - 1.0  # companded
    inner = np.sign(y) * np.expm1(np.abs(y) * math.log1p(mu)) / mu
    return np.concatenate([[-outer], inner, [outer]])


def _mixture_cdf(x: torch.Tensor, probs: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    """CDF at ``x (B, T, Q)`` of the piecewise-uniform density with bin probabilities
    ``probs (B, T, K)`` on the finite ``edges (K + 1,)``."""
    k = probs.shape[-1]
    cum = torch.nn.functional.pad(probs.cumsum(-1), (1, 0))  # (B, T, K + 1), cum[0] = 0
    j = torch.searchsorted(edges, x.contiguous(), right=True) - 1  # bin holding x
    j = j.clamp(0, k - 1)
    lo, hi = edges[j], edges[j + 1]
    frac = ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
    below = torch.gather(cum, -1, j)
    inside = torch.gather(probs, -1, j) * frac
    out = below + inside
    out = torch.where(x >= edges[-1], torch.ones_like(out), out)
    return torch.where(x < edges[0], torch.zeros_like(out), out)


def _code_probability_lpc(
    logits: torch.Tensor, pred: torch.Tensor, codes: torch.Tensor, bits: int
) -> torch.Tensor:
    """P(signal code) of the LPC model: its excitation density moved by ``pred``."""
    probs = torch.softmax(logits.to(torch.float64), -1)
    e_edges = torch.from_numpy(code_edges(bits, outer=1.0)).to(probs.device)
    s_edges = torch.from_numpy(code_edges(bits)).to(probs.device)
    p = pred.to(torch.float64)
    bounds = torch.stack([s_edges[codes] - p, s_edges[codes + 1] - p], -1)  # (B, T, 2)
    cdf = _mixture_cdf(bounds, probs, e_edges)
    return (cdf[..., 1] - cdf[..., 0]).clamp_min(0.0)


def _laplace_mass(lo: torch.Tensor, hi: torch.Tensor, loc: torch.Tensor,
                  scale: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """The mass of ``[lo, hi)`` under ``Laplace(loc, scale)``, from the tail it lies in (a
    difference of CDFs near 1 would lose it to rounding)."""
    u, v = (lo - loc) / scale, (hi - loc) / scale  # u < v; may be infinite
    right = 0.5 * (torch.exp(-u.clamp_min(0.0)) - torch.exp(-v.clamp_min(0.0)))
    left = 0.5 * (torch.exp(v.clamp_max(0.0)) - torch.exp(u.clamp_max(0.0)))
    both = 1.0 - 0.5 * torch.exp(u.clamp_max(0.0)) - 0.5 * torch.exp(-v.clamp_min(0.0))
    return torch.where(u >= 0, right, torch.where(v <= 0, left, both)).clamp_min(0.0)


def _mixed_bits(prob: torch.Tensor, n_codes: int) -> torch.Tensor:
    mixed = (1.0 - UNIFORM_MIX) * prob + UNIFORM_MIX / n_codes
    return -torch.log(mixed) / _LN2


def _budget(max_seconds: float | None, sample_rate: int, hop: int) -> float:
    if max_seconds is None:
        return math.inf
    if not max_seconds > 0:
        raise InputError(f"max_seconds: expected > 0 or None, got {max_seconds}")
    return max(hop, int(max_seconds * sample_rate) // hop * hop)


@torch.no_grad()
def signal_code_nll(
    model: AudioRNN, items: list[AudioItem], *, max_seconds: float | None = None
) -> dict[str, Any]:
    """Bits per sample of the pre-emphasised signal's mu-law code under ``model``, whole
    files from rest, teacher-forced (the module docstring says how an LPC model's
    excitation distribution becomes one over the signal's codes).

    Args:
        model: an :class:`~dsp_rnn.audio.AudioRNN`, LPC or plain.
        items: the files (:class:`~dsp_rnn.audio.AudioItem`), scored in order.
        max_seconds: stop after this much audio (cut at a frame boundary); None = all.

    Returns:
        ``{"nll_bits_per_sample", "samples", "files"}``.
    """
    c = model.config
    hop, bits = c.hop_samples, c.mu_law_bits

    def block_bits(signal: torch.Tensor, frames: FrameInputs,
                   state: AudioState | None) -> tuple[torch.Tensor, AudioState]:  # fmt: skip
        logits, new_state = model(signal, frames, state)
        codes = mu_law_codes(signal, bits)
        if c.lpc:
            a = frames.lpc.to(signal.dtype)
            if state is None:
                pred = lpc_prediction(signal, a, hop_samples=hop)
            else:
                pred, _ = lpc_prediction(signal, a, hop_samples=hop, state=state.past)
            prob = _code_probability_lpc(logits, pred, codes, bits)
        else:
            probs = torch.softmax(logits.to(torch.float64), -1)
            prob = torch.gather(probs, -1, codes[..., None])[..., 0]
        return _mixed_bits(prob, c.n_codes), new_state

    return score_files(model, items, block_bits,
                       budget=_budget(max_seconds, c.sample_rate, hop))  # fmt: skip


def linear_twin_nll(
    items: list[AudioItem],
    config: FeatureConfig,
    *,
    bits: int = 8,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """Bits per sample of the pre-emphasised signal's mu-law code under the linear twin:
    ``s_t ~ Laplace(p_t, b)``, ``p_t`` the frame's LPC prediction from the true past and
    ``b = sqrt(residual_power / 2)`` (the Laplace law of the frame's predicted residual
    power), integrated over each code's values.

    Args:
        items: the files; each needs its frames' ``residual_power``.
        config: the features' settings (hop).
        bits: bits of the codes (default 8).
        max_seconds: stop after this much audio; None = all.

    Returns:
        ``{"nll_bits_per_sample", "samples", "files"}``.
    """
    hop = config.hop_samples
    budget = _budget(max_seconds, config.sample_rate, hop)
    s_edges = torch.from_numpy(code_edges(bits))
    total, n, files = 0.0, 0, 0
    for item in items:
        if n >= budget:
            break
        files += 1
        stop = int(min(item.n_samples, budget - n))
        n_frames = -(-stop // hop)
        s = torch.from_numpy(item.signal[:stop]).to(torch.float64)
        a = torch.from_numpy(item.lpc[:n_frames]).to(torch.float64)
        pred = lpc_prediction(s, a, hop_samples=hop)
        power = torch.from_numpy(np.asarray(item.residual_power[:n_frames], np.float64))
        scale = torch.sqrt(power.clamp_min(1e-20) / 2.0).repeat_interleave(hop)[:stop]
        codes = mu_law_codes(s, bits)
        prob = _laplace_mass(s_edges[codes], s_edges[codes + 1], pred, scale)
        total += float(_mixed_bits(prob, 1 << bits).sum())
        n += stop
    return {"nll_bits_per_sample": total / max(n, 1), "samples": n, "files": files}
