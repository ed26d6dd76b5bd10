"""Shared test helpers: random stable filters and seeded generators."""

from __future__ import annotations

import numpy as np
import scipy.signal
import torch
from hypothesis import strategies as st


def random_stable_zpk(rng: np.random.Generator, order: int, max_radius: float = 0.95):
    """Zeros/poles of a real filter of the given order, every pole inside ``max_radius``."""

    def roots(r_max):
        out = []
        while len(out) < order:
            if order - len(out) >= 2 and rng.random() < 0.7:
                r = r_max * np.sqrt(rng.random())
                w = rng.uniform(0.05, np.pi - 0.05)
                out += [r * np.exp(1j * w), r * np.exp(-1j * w)]
            else:
                out.append(rng.uniform(-r_max, r_max))
        return np.array(out)

    return roots(1.2), roots(max_radius), float(rng.uniform(0.2, 2.0))


def random_stable_sos(rng: np.random.Generator, order: int, max_radius: float = 0.95):
    z, p, k = random_stable_zpk(rng, order, max_radius)
    return scipy.signal.zpk2sos(z, p, k)


def random_stable_ba(rng: np.random.Generator, order: int, max_radius: float = 0.9):
    z, p, k = random_stable_zpk(rng, order, max_radius)
    b, a = scipy.signal.zpk2tf(z, p, k)
    return np.real(b), np.real(a)


orders = st.integers(min_value=1, max_value=12)
seeds = st.integers(min_value=0, max_value=2**31 - 1)


def rel_err(a, b) -> float:
    a = torch.as_tensor(a).detach().double()
    b = torch.as_tensor(b).detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-300))
