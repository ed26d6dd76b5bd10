"""preemphasis / deemphasis against scipy.signal.lfilter and torchaudio."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torchaudio.functional as taf

from dsp_rnn.errors import ShapeError, UnstableFilterError
from dsp_rnn.filters import deemphasis, preemphasis

from .conftest import rel_err

F64 = torch.float64
COEFFS = [0.0, 0.5, 0.97, -0.8]


@pytest.mark.parametrize("coeff", COEFFS)
def test_preemphasis_matches_scipy_and_torchaudio(coeff):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 400))
    y = preemphasis(torch.from_numpy(x), coeff)
    assert rel_err(y, scipy.signal.lfilter([1.0, -coeff], [1.0], x)) < 1e-12
    assert rel_err(y, taf.preemphasis(torch.from_numpy(x), coeff)) < 1e-12


@pytest.mark.parametrize("coeff", COEFFS)
def test_deemphasis_matches_scipy_and_torchaudio(coeff):
    rng = np.random.default_rng(2)
    x = 1e-3 * rng.standard_normal((2, 3, 400))  # torchaudio clamps its output to [-1, 1]
    y = deemphasis(torch.from_numpy(x), coeff)
    assert rel_err(y, scipy.signal.lfilter([1.0], [1.0, -coeff], x)) < 1e-12
    assert float(y.abs().max()) < 1.0
    assert rel_err(y, taf.deemphasis(torch.from_numpy(x), coeff)) < 1e-10


def test_float32_default_coeff():
    x = torch.randn(2, 300, generator=torch.Generator().manual_seed(3)) * 1e-2
    for fn, b, a in ((preemphasis, [1.0, -0.97], [1.0]), (deemphasis, [1.0], [1.0, -0.97])):
        y = fn(x)
        assert y.dtype == torch.float32
        assert rel_err(y, scipy.signal.lfilter(b, a, x.double().numpy())) < 1e-5


def test_state_is_the_previous_sample():
    x = torch.tensor([1.0, 2.0], dtype=F64)
    y, s = preemphasis(x, 0.5, torch.tensor([4.0], dtype=F64))
    assert y.tolist() == [1.0 - 2.0, 2.0 - 0.5] and s.tolist() == [2.0]
    y, s = deemphasis(x, 0.5, torch.tensor([4.0], dtype=F64))
    assert y.tolist() == [3.0, 3.5] and s.tolist() == [3.5]


def test_deemphasis_inverts_preemphasis():
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.standard_normal((3, 256)))
    coeff = torch.tensor([0.9, 0.5, -0.3], dtype=F64)  # one per batch item
    assert rel_err(deemphasis(preemphasis(x, coeff), coeff), x) < 1e-12


def test_per_batch_coeff_equals_loop():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 100))
    coeff = [0.9, 0.5, -0.3]
    ct = torch.tensor(coeff, dtype=F64)
    pre, de = preemphasis(torch.from_numpy(x), ct), deemphasis(torch.from_numpy(x), ct)
    for i, c in enumerate(coeff):
        assert rel_err(pre[i], scipy.signal.lfilter([1.0, -c], [1.0], x[i])) < 1e-12
        assert rel_err(de[i], scipy.signal.lfilter([1.0], [1.0, -c], x[i])) < 1e-12


def test_errors():
    with pytest.raises(UnstableFilterError):
        deemphasis(torch.ones(10), 1.0)
    with pytest.raises(ShapeError, match=r"state: expected shape \(\.\.\., 1\)"):
        preemphasis(torch.ones(2, 10), 0.5, torch.zeros(2, 2))
    with pytest.raises(ShapeError, match="broadcast"):
        deemphasis(torch.ones(2, 10), torch.tensor([0.1, 0.2, 0.3]))
