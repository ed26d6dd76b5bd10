"""Numba kernels of the audio part: the per-sample LPC synthesis loop.

Plain numpy in and out, ``cache=True``. Each kernel is the sample loop of a path built on
:mod:`dsp_rnn.filters`; the tests check it equal to that path
(:func:`dsp_rnn.audio.synthesis.lpc_synthesis`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dsp_rnn import _numba_cache  # noqa: F401  (before any cache=True kernel)


@njit(cache=True)
def allpole_frames(x, a, hop, past, y):  # pragma: no cover - compiled
    """``y_t = x_t - sum_k a[f, k] y_(t-k)`` with ``f = t // hop``; ``past`` (``p``
    outputs before ``x``, oldest first) is updated in place to the last ``p`` outputs.

    Shapes: ``x (T,)``, ``a (n_frames, p + 1)`` (``a[:, 0] == 1``), ``past (p,)``,
    ``y (T,)``. A ring buffer of the last ``p`` outputs keeps each step ``O(p)``.
    """
    n_t = x.shape[0]
    p = past.shape[0]
    ring = np.empty(max(p, 1), np.float64)
    for k in range(p):
        ring[k] = past[k]
    head = 0  # ring[head] is the oldest output, ring[head - 1] the newest
    for t in range(n_t):
        f = t // hop
        acc = x[t]
        # y_(t-k) sits at ring[(head - k) mod p]
        for k in range(1, p + 1):
            acc -= a[f, k] * ring[(head - k) % p]
        y[t] = acc
        if p > 0:
            ring[head] = acc
            head = (head + 1) % p
    for k in range(p):
        past[k] = ring[(head + k) % p]
