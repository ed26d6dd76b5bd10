"""The LPCNet-style sample RNN: shapes, causality in the signal, frame-aligned blocks with
the carried state equal one call, its prediction is the LPC filter's, and mu-law codes
round-trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dsp_rnn.audio import (
    AudioRNN,
    AudioRNNConfig,
    FrameInputs,
    features,
    frame_inputs,
    lpc_analysis,
    mu_law_codes,
)
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters import preemphasis
from dsp_rnn.music import mu_law_decode

from .conftest import tiny_audio_rnn

HOP = 160


def _data(batch: int = 2, n_frames: int = 4, seed: int = 0):
    """A pre-emphasised vowel-like signal and its real frame inputs, batched."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames * HOP) / 16000
    x = 0.3 * np.sin(2 * np.pi * 180 * t) + 0.02 * rng.standard_normal(t.shape)
    feats = features(x, 16000)
    s = preemphasis(torch.from_numpy(x).float(), 0.85)
    f = frame_inputs(feats)
    signal = torch.stack([s * (1 + 0.5 * k) for k in range(batch)])
    frames = FrameInputs(f.conditioning.repeat(batch, 1, 1), f.lpc.repeat(batch, 1, 1))
    return signal, frames


@pytest.mark.parametrize("lpc", [True, False])
def test_shapes_and_state(lpc):
    m = tiny_audio_rnn(lpc)
    s, frames = _data()
    logits, state = m(s, frames)
    assert logits.shape == (2, 4 * HOP, 256)
    assert state.hidden.shape == (2, 16) and state.past.shape == (2, 16)
    assert state.excitation.shape == (2,)
    torch.testing.assert_close(state.past, s[:, -16:])
    nll, _ = m.nll_bits(s, frames)
    assert nll.shape == (2, 4 * HOP) and bool((nll > 0).all())
    # an untrained model is near uniform over 256 codes: about 8 bits
    assert 6.0 < float(nll.detach().mean()) < 10.0


def test_shapes_are_checked():
    m = tiny_audio_rnn()
    s, frames = _data()
    with pytest.raises(ShapeError, match="frames.lpc"):
        m(s[:, : 3 * HOP], FrameInputs(frames.conditioning[:, :3], frames.lpc))
    with pytest.raises(ShapeError, match="signal"):
        m(s[0], frames)
    with pytest.raises(InputError, match="mu_law_bits"):
        AudioRNNConfig(mu_law_bits=1)


@pytest.mark.parametrize("lpc", [True, False])
def test_logits_are_causal_in_the_signal(lpc):
    m = tiny_audio_rnn(lpc)
    s, frames = _data()
    t = 2 * HOP + 37
    changed = s.clone()
    changed[:, t:] = torch.from_numpy(np.random.default_rng(5).uniform(-0.5, 0.5, (2, 4 * HOP - t)))
    with torch.no_grad():
        a, _ = m(s, frames)
        b, _ = m(changed, frames)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], rtol=0, atol=0)  # t sees s_(t-1)
    assert not torch.allclose(a[:, t + 1 :], b[:, t + 1 :])


@pytest.mark.parametrize("lpc", [True, False])
def test_frame_aligned_blocks_equal_one_call(lpc):
    m = tiny_audio_rnn(lpc)
    s, frames = _data(n_frames=5)
    with torch.no_grad():
        whole, end = m(s, frames)
        nll_whole, _ = m.nll_bits(s, frames)
        state, parts, nlls = None, [], []
        for f0, f1 in [(0, 2), (2, 3), (3, 5)]:
            block = s[:, f0 * HOP : f1 * HOP]
            fr = FrameInputs(frames.conditioning[:, f0:f1], frames.lpc[:, f0:f1])
            nll, _ = m.nll_bits(block, fr, state)
            logits, state = m(block, fr, state)
            parts.append(logits)
            nlls.append(nll)
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.cat(nlls, 1), nll_whole, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state.hidden, end.hidden, rtol=1e-5, atol=1e-5)


def test_targets_are_the_lpc_excitation_codes():
    m = tiny_audio_rnn()
    s, frames = _data(batch=1)
    e = lpc_analysis(s, frames.lpc, hop_samples=HOP)
    torch.testing.assert_close(m.target_codes(s, frames), mu_law_codes(e))
    plain = tiny_audio_rnn(lpc=False)
    torch.testing.assert_close(plain.target_codes(s, frames), mu_law_codes(s))


def test_mu_law_round_trip():
    x = torch.linspace(-1, 1, 2001)
    codes = mu_law_codes(x)
    assert int(codes.min()) == 0 and int(codes.max()) == 255
    back = mu_law_decode(codes)
    # the step of 8-bit mu-law at |x| is about ln(256) (1/255 + |x|) / 128
    step = np.log(256) * (1 / 255 + x.abs()) / 128
    assert bool(((back - x).abs() <= step).all())
    torch.testing.assert_close(mu_law_codes(mu_law_decode(torch.arange(256))), torch.arange(256))
    assert mu_law_codes(torch.tensor([2.0, -2.0])).tolist() == [255, 0]  # clamped


def test_config_round_trips_and_default_size():
    cfg = AudioRNNConfig(gru_units=32, lpc=False)
    assert AudioRNNConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InputError, match="unknown"):
        AudioRNNConfig.from_dict({"units": 3})
    m = AudioRNN()
    assert 200_000 < m.count_parameters() < 300_000
    assert 4e9 < m.flops_per_second() < 8e9
