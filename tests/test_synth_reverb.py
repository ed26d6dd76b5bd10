"""The synth's FDN reverb: our FDN twin, its state layout, RT60, treble damping, errors.

Streaming (blocks == one shot, float32 in and out): tests/test_streaming_protocol.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dsp_rnn.errors import InputError
from dsp_rnn.filters import fdn, hadamard_matrix, rt60_to_gains
from dsp_rnn.synth import Reverb

SR = 22_050


def test_reverb_network_is_our_fdn() -> None:
    rev = Reverb(sample_rate=8000, rt60_s=0.7, hf_ratio=1.0, channels=2)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3000))
    y, _ = rev.wet_only(x)
    gamma, poles = rev.line_gains()
    assert np.all(poles == 0)  # hf_ratio 1: plain gains
    b, c = rev.io_gains()
    ref, _ = fdn(torch.from_numpy(x), delays_samples=list(rev.delays_samples),
                 feedback_matrix=hadamard_matrix(8, dtype=torch.float64),
                 input_gains=torch.from_numpy(b), output_gains=torch.from_numpy(c),
                 line_gains=torch.from_numpy(gamma))  # fmt: skip
    np.testing.assert_allclose(y, ref.numpy(), rtol=0, atol=1e-12)
    ours = rt60_to_gains(list(rev.delays_samples), 0.7, sample_rate=8000.0)
    np.testing.assert_allclose(gamma, ours.double().numpy(), rtol=1e-6)


def test_reverb_state_matches_fdn_state_layout() -> None:
    rev = Reverb(sample_rate=8000, rt60_s=0.5, hf_ratio=1.0, channels=1)
    x = np.random.default_rng(2).standard_normal((1, 500))
    _, state = rev.wet_only(x)
    gamma, _ = rev.line_gains()
    b, c = rev.io_gains()
    _, ref_state = fdn(torch.from_numpy(x[0]), delays_samples=list(rev.delays_samples),
                       feedback_matrix=hadamard_matrix(8, dtype=torch.float64),
                       input_gains=torch.from_numpy(b[:, 0]), output_gains=torch.from_numpy(c[0]),
                       line_gains=torch.from_numpy(gamma))  # fmt: skip
    np.testing.assert_allclose(state.lines, ref_state.numpy(), atol=1e-12)


@pytest.mark.parametrize("rt60", [0.5, 1.5])
def test_reverb_decays_60_db_in_rt60(rt60: float) -> None:
    rev = Reverb(sample_rate=SR, rt60_s=rt60, hf_ratio=1.0, channels=1, wet=1.0)
    n = int(1.2 * rt60 * SR)
    x = np.zeros((1, n))
    x[0, 0] = 1.0
    y, _ = rev.wet_only(x)
    edc = np.cumsum((y[0] ** 2)[::-1])[::-1]  # Schroeder backward integration
    edc_db = 10 * np.log10(edc / edc[0])
    t = np.arange(n) / SR
    fit = (edc_db < -5) & (edc_db > -35)
    slope = np.polyfit(t[fit], edc_db[fit], 1)[0]
    assert -60 / slope == pytest.approx(rt60, rel=0.1)


def test_reverb_treble_dies_faster_with_hf_ratio() -> None:
    rev = Reverb(sample_rate=SR, rt60_s=1.0, hf_ratio=0.3, channels=1, wet=1.0)
    x = np.zeros((1, SR))
    x[0, 0] = 1.0
    y, _ = rev.wet_only(x)
    late = y[0, int(0.5 * SR) : int(0.7 * SR)]
    spec = np.abs(np.fft.rfft(late)) ** 2
    f = np.fft.rfftfreq(len(late), 1 / SR)
    assert spec[f < 1000].mean() > 30 * spec[f > 6000].mean()


def test_reverb_errors() -> None:
    rev = Reverb(sample_rate=SR, rt60_s=0.8)
    with pytest.raises(InputError, match="rt60_s"):
        Reverb(sample_rate=SR, rt60_s=0)
    with pytest.raises(InputError, match="wet"):
        Reverb(sample_rate=SR, wet=1.5)
    with pytest.raises(Exception, match="channels=2"):
        rev(np.zeros((1, 10)))
