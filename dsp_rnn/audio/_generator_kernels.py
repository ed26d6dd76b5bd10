"""Numba kernel of :mod:`dsp_rnn.audio.generator`: the AudioRNN run sample by sample.

One kernel serves generation and teacher forcing, so the step the tests check against the
torch model is the step that generates. Plain numpy in and out, ``cache=True``.

Shapes (``S`` streams, ``T`` samples, ``F`` frames, ``H`` GRU units, ``K`` codes, ``p``
LPC order):

- ``table_s (K, 3H)``, ``table_p (Kp, 3H)``, ``table_e (Kp, 3H)`` float32: the GRU's
  input-weight product of each code's embedding (``table_s`` also holds ``b_ih``;
  ``Kp = 1`` and unused when ``lpc`` is False);
- ``gates_cond (S, F, 3H)`` float32: the input-weight product of each frame's conditioning;
- ``w_hh_t (H, 3H)``, ``b_hh (3H,)``, ``w_out_t (H, K)``, ``b_out (K,)`` float32 (the
  hidden and output weights transposed, so that a stream's products are rows);
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


_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)


@njit(cache=True, fastmath=True)
def exp_f32(x, out, bits):  # pragma: no cover - compiled
    """``out[:n] = exp(x[:n])`` in float32, ``n = x.shape[0]``, written so that LLVM
    vectorises it (no libm call): Cody-Waite reduction ``x = k ln 2 + r``, Cephes' expf
    polynomial for ``e**r`` (about one ulp), and ``2**k`` built in the exponent bits of
    ``bits`` (an int32 scratch array of at least ``n``). ``x`` is clamped to
    ``[-87, 88]``: ``exp(-87) ~ 1.6e-38`` stands for anything smaller."""
    n = x.shape[0]
    for i in range(n):
        v = min(max(x[i], np.float32(-87.0)), np.float32(88.0))
        k = np.floor(v * _LOG2E + np.float32(0.5))
        r = v - k * _LN2_HI - k * _LN2_LO
        p = np.float32(1.9875691500e-4)
        p = p * r + np.float32(1.3981999507e-3)
        p = p * r + np.float32(8.3334519073e-3)
        p = p * r + np.float32(4.1665795894e-2)
        p = p * r + np.float32(1.6666665459e-1)
        p = p * r + np.float32(5.0000001201e-1)
        out[i] = p * r * r + r + np.float32(1.0)
        bits[i] = (np.int32(k) + np.int32(127)) << np.int32(23)
    scale = bits.view(np.float32)
    for i in range(n):
        out[i] *= scale[i]


@njit(cache=True, fastmath=True)
def sum_f32(x):  # pragma: no cover - compiled
    """The sum of ``x`` (float32), accumulated in float64 in an order LLVM may vectorise."""
    total = 0.0
    for i in range(x.shape[0]):
        total += x[i]
    return total


@njit(cache=True, fastmath=True)
def gru_gates(gi, gh, b_hh, hidden, buf, ex, bits):  # pragma: no cover - compiled
    """One ``torch.nn.GRU`` step of one stream in place on ``hidden (H,)``: ``gi (3H,)``
    the input products (``b_ih`` in), ``gh (3H,)`` the hidden product, gates r, z, n;
    ``buf``, ``ex`` float32 and ``bits`` int32 scratch of ``2H``."""
    n_h = hidden.shape[0]
    for j in range(2 * n_h):
        buf[j] = -(gi[j] + gh[j] + b_hh[j])
    exp_f32(buf[: 2 * n_h], ex, bits)
    for j in range(2 * n_h):
        ex[j] = np.float32(1.0) / (np.float32(1.0) + ex[j])  # r (first H), z
    for j in range(n_h):
        buf[j] = np.float32(-2.0) * (
            gi[2 * n_h + j] + ex[j] * (gh[2 * n_h + j] + b_hh[2 * n_h + j])
        )
    exp_f32(buf[:n_h], buf[n_h:], bits)  # exp(-2 a), a the candidate's pre-activation
    for j in range(n_h):
        cand = np.float32(2.0) / (np.float32(1.0) + buf[n_h + j]) - np.float32(1.0)  # tanh
        z = ex[n_h + j]
        hidden[j] = (np.float32(1.0) - z) * cand + z * hidden[j]


@njit(cache=True)
def run_streams(table_s, table_p, table_e, gates_cond, w_hh_t, b_hh, w_out_t, b_out, a, hop,
                lpc, decode, mu, log1p_mu, uniforms, temperature, teacher, forced,
                hidden, hist, prev_e, signal, log_prob):  # pragma: no cover - compiled  # fmt: skip
    """Run ``S`` streams for ``T`` samples from the state ``hidden (S, H)`` float32 (the
    GRU), ``hist (S, max(p, 1))`` float64 (``hist[s, k - 1] = s_(t-k)``) and ``prev_e
    (S,)`` float64 (the last excitation), all updated in place (zeros: at rest), all
    streams per sample in one matrix product (``w_hh_t (H, 3H)`` and ``w_out_t (H, K)``:
    the GRU's hidden weights and the output layer, transposed).

    Generation (``teacher`` False): code ``c_t`` drawn from ``softmax(logits /
    temperature)`` by inverse CDF at ``uniforms[s, t]`` (``temperature == 0``: the
    argmax, first on ties), ``s_t = p_t + decode[c_t]`` (``lpc``) or ``decode[c_t]``,
    clamped to ``[-1, 1]``; writes ``signal``. Teacher forcing: ``s_t = forced[s, t]`` and
    ``c_t`` its code (of ``s_t - p_t`` with ``lpc``); writes ``signal`` and ``log_prob``
    (natural log of ``c_t``'s probability under ``softmax(logits)``). The exponentials are
    float32 (:func:`exp_f32`), as the torch model's are.
    """
    n_s, n_t = signal.shape
    n_h = w_hh_t.shape[0]
    n_k = w_out_t.shape[1]
    p = a.shape[2] - 1
    preds = np.zeros(n_s, np.float64)
    gi = np.empty(3 * n_h, np.float32)
    buf = np.empty(2 * n_h, np.float32)
    ex = np.empty(2 * n_h, np.float32)
    bits = np.empty(max(2 * n_h, n_k), np.int32)
    zs = np.empty(n_k, np.float32)  # one stream's scaled logits
    ez = np.empty(n_k, np.float32)
    inv_t = 1.0 / temperature if temperature > 0.0 else 1.0
    for t in range(n_t):
        f = t // hop
        gh = np.dot(hidden, w_hh_t)  # (S, 3H)
        for s in range(n_s):
            # inputs: the codes of s_(t-1), p_t and e_(t-1)
            pred = 0.0
            for k in range(1, p + 1):
                pred -= a[s, f, k] * hist[s, k - 1]
            cs = mu_law_code(hist[s, 0], mu, log1p_mu)
            if lpc:
                cp = mu_law_code(pred, mu, log1p_mu)
                ce = mu_law_code(prev_e[s], mu, log1p_mu)
                for j in range(3 * n_h):
                    gi[j] = table_s[cs, j] + gates_cond[s, f, j] + table_p[cp, j] + table_e[ce, j]
            else:
                for j in range(3 * n_h):
                    gi[j] = table_s[cs, j] + gates_cond[s, f, j]
            gru_gates(gi, gh[s], b_hh, hidden[s], buf, ex, bits)
            preds[s] = pred
        logits = np.dot(hidden, w_out_t)  # (S, K)
        for s in range(n_s):
            pred = preds[s]
            top = np.float32(-np.inf)
            best = 0
            for i in range(n_k):
                v = logits[s, i] + b_out[i]
                zs[i] = v
                if v > top:
                    top = v
                    best = i
            if teacher:
                x = forced[s, t]
                code = mu_law_code(x - pred if lpc else x, mu, log1p_mu)
                for i in range(n_k):
                    zs[i] = zs[i] - top
                exp_f32(zs, ez, bits)
                log_prob[s, t] = zs[code] - math.log(sum_f32(ez))
            else:
                code = best
                if temperature != 0.0:
                    for i in range(n_k):
                        zs[i] = (zs[i] - top) * np.float32(inv_t)
                    exp_f32(zs, ez, bits)
                    u = uniforms[s, t] * sum_f32(ez)
                    code = best  # u beyond the running sum by rounding: the top code
                    acc = 0.0
                    for i in range(n_k):
                        acc += ez[i]
                        if u < acc:
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
