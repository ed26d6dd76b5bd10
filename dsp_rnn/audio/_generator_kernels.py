"""Numba kernel of :mod:`dsp_rnn.audio.generator`: the AudioRNN run sample by sample.

One kernel serves generation and teacher forcing, so the step the tests check against the
torch model is the step that generates. Plain numpy in and out, ``cache=True``.

Shapes (``S`` streams, ``T`` samples, ``F`` frames, ``H`` GRU units, ``K`` codes, ``p``
LPC order):

- ``table_s (K, 3H)``, ``table_p (Kp, 3H)``, ``table_e (Kp, 3H)`` float32: the GRU's
  input-weight product of each code's embedding (``table_s`` also holds ``b_ih``;
  ``Kp = 1`` and unused when ``lpc`` is False);
- ``gates_cond (S, F, 3H)`` float32: the input-weight product of each frame's conditioning;
- ``w_hh (3H, H)``, ``b_hh (3H,)``, ``w_out (K, H)``, ``b_out (K,)`` float32;
- ``a (S, F, p + 1)`` float64 predictors; ``decode (K,)`` float64 code values;
- ``uniforms (S, T)`` float64 in ``[0, 1)``; ``forced (S, T)`` float64 (teacher forcing);
- outputs ``signal (S, T)`` and ``log_prob (S, T)`` float64 (teacher forcing only).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from dsp_rnn import _numba_cache  # noqa: F401  (before any cache=True kernel)


@njit(cache=True)
def mu_law_code(x, mu, log1p_mu):  # pragma: no cover - compiled
    """The mu-law code of ``x`` clamped to ``[-1, 1]``: :func:`dsp_rnn.music.mu_law_encode`'s
    float32 operations in its order (``mu``, ``log1p_mu`` float32)."""
    if x > 1.0:
        x = 1.0
    elif x < -1.0:
        x = -1.0
    xf = np.float32(x)
    y = np.float32(math.log1p(mu * np.float32(abs(xf)))) / log1p_mu
    if xf < 0:
        y = -y
    return int(np.float32(np.float32((y + np.float32(1.0)) / np.float32(2.0)) * mu
                          + np.float32(0.5)))  # fmt: skip


@njit(cache=True)
def run_streams(table_s, table_p, table_e, gates_cond, w_hh, b_hh, w_out, b_out, a, hop,
                lpc, decode, mu, log1p_mu, uniforms, temperature, teacher, forced,
                signal, log_prob):  # pragma: no cover - compiled  # fmt: skip
    """Run ``S`` streams from rest for ``T`` samples, all streams per sample in one
    matrix product.

    Generation (``teacher`` False): code ``c_t`` drawn from ``softmax(logits /
    temperature)`` by inverse CDF at ``uniforms[s, t]`` (``temperature == 0``: the
    argmax, first on ties), ``s_t = p_t + decode[c_t]`` (``lpc``) or ``decode[c_t]``,
    clamped to ``[-1, 1]``; writes ``signal``. Teacher forcing: ``s_t = forced[s, t]`` and
    ``c_t`` its code (of ``s_t - p_t`` with ``lpc``); writes ``signal`` and ``log_prob``
    (natural log of ``c_t``'s probability under ``softmax(logits)``).
    """
    n_s, n_t = signal.shape
    n_h = w_hh.shape[1]
    n_k = w_out.shape[0]
    p = a.shape[2] - 1
    hidden = np.zeros((n_h, n_s), np.float32)  # (H, S): streams in columns
    hist = np.zeros((n_s, max(p, 1)), np.float64)  # hist[s, k - 1] = s_(t-k)
    preds = np.zeros(n_s, np.float64)
    prev_e = np.zeros(n_s, np.float64)
    gi = np.empty(3 * n_h, np.float32)
    cdf = np.empty(n_k, np.float64)
    zs = np.empty(n_k, np.float64)  # one stream's logits
    inv_t = 1.0 / temperature if temperature > 0.0 else 0.0
    for t in range(n_t):
        f = t // hop
        gh = np.dot(w_hh, hidden)  # (3H, S)
        for s in range(n_s):
            # inputs: the codes of s_(t-1), p_t and e_(t-1)
            pred = 0.0
            for k in range(1, p + 1):
                pred -= a[s, f, k] * hist[s, k - 1]
            cs = mu_law_code(hist[s, 0], mu, log1p_mu)
            for j in range(3 * n_h):
                gi[j] = table_s[cs, j] + gates_cond[s, f, j]
            if lpc:
                cp = mu_law_code(pred, mu, log1p_mu)
                ce = mu_law_code(prev_e[s], mu, log1p_mu)
                for j in range(3 * n_h):
                    gi[j] += table_p[cp, j] + table_e[ce, j]
            for j in range(n_h):  # torch.nn.GRU: gates r, z, n
                r = 1.0 / (1.0 + math.exp(-(gi[j] + gh[j, s] + b_hh[j])))
                z = 1.0 / (1.0 + math.exp(-(gi[n_h + j] + gh[n_h + j, s] + b_hh[n_h + j])))
                n = math.tanh(gi[2 * n_h + j] + r * (gh[2 * n_h + j, s] + b_hh[2 * n_h + j]))
                hidden[j, s] = np.float32((1.0 - z) * n + z * hidden[j, s])
            preds[s] = pred
        logits = np.dot(w_out, hidden)  # (K, S)
        for s in range(n_s):
            pred = preds[s]
            top = -np.inf
            best = 0
            for i in range(n_k):
                v = logits[i, s] + b_out[i]
                zs[i] = v
                if v > top:
                    top = v
                    best = i
            if teacher:
                x = forced[s, t]
                code = mu_law_code(x - pred if lpc else x, mu, log1p_mu)
                total = 0.0
                for i in range(n_k):
                    total += math.exp(zs[i] - top)
                log_prob[s, t] = zs[code] - top - math.log(total)
            else:
                code = best
                if temperature != 0.0:
                    acc = 0.0
                    for i in range(n_k):
                        acc += math.exp((zs[i] - top) * inv_t)
                        cdf[i] = acc
                    u = uniforms[s, t] * acc
                    code = n_k - 1
                    for i in range(n_k):
                        if u < cdf[i]:
                            code = i
                            break
                x = pred + decode[code] if lpc else decode[code]
                if x > 1.0:
                    x = 1.0
                elif x < -1.0:
                    x = -1.0
            signal[s, t] = x
            prev_e[s] = x - pred
            for k in range(hist.shape[1] - 1, 0, -1):
                hist[s, k] = hist[s, k - 1]
            hist[s, 0] = x
