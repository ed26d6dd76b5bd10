"""The LPC analysis/synthesis filters with per-frame predictors: frame by frame equal to
dsp_rnn.filters.lfilter and scipy.signal.lfilter with the carried state, analysis then
synthesis gives the signal back, block processing equals one shot, the numba kernel equals
the filters path, and pre-/de-emphasis come from dsp_rnn.filters."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from dsp_rnn.audio import (
    FeatureConfig,
    allpole_zi,
    excitation,
    features,
    lpc_analysis,
    lpc_from_frames,
    lpc_prediction,
    lpc_synthesis,
    lpc_synthesis_numpy,
    vocode,
    voicing,
)
from dsp_rnn.errors import InputError, ShapeError, UnstableFilterError
from dsp_rnn.filters import deemphasis, lfilter, preemphasis

SR, HOP, ORDER = 16000, 160, 16


def _frames_and_signal(seed: int = 0, n_frames: int = 12, batch: tuple = ()):
    """A coloured noise signal and the stable predictors of its frames."""
    rng = np.random.default_rng(seed)
    n_t = n_frames * HOP
    noise = rng.standard_normal(batch + (n_t,))
    x = scipy.signal.lfilter([1.0], [1.0, -1.3, 0.6], noise)
    padded = np.pad(x, [(0, 0)] * len(batch) + [(80, 80)])
    frames = np.lib.stride_tricks.sliding_window_view(padded, 320, axis=-1)[..., ::HOP, :]
    frames = frames[..., :n_frames, :]
    a = lpc_from_frames(frames, ORDER, sample_rate=SR).a
    return torch.from_numpy(x), torch.from_numpy(a)


def test_allpole_zi_equals_scipy_lfiltic():
    rng = np.random.default_rng(1)
    a = lpc_from_frames(rng.standard_normal(320), ORDER, sample_rate=SR).a
    past = rng.standard_normal(ORDER)
    want = scipy.signal.lfiltic([1.0], a, past[::-1])
    got = allpole_zi(torch.from_numpy(a), torch.from_numpy(past))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)


def test_synthesis_equals_lfilter_frame_by_frame_with_the_carried_state():
    _, a = _frames_and_signal(2)
    e = torch.from_numpy(np.random.default_rng(3).standard_normal(a.shape[0] * HOP))
    s = lpc_synthesis(e, a, hop_samples=HOP)
    past = torch.zeros(ORDER, dtype=torch.float64)
    past_np = np.zeros(ORDER)
    for f in range(a.shape[0]):
        seg = e[f * HOP : (f + 1) * HOP]
        # ours: the filters path, frame by frame, from the state of the previous frame
        y, _ = lfilter(torch.ones(1, dtype=torch.float64), a[f], seg, zi=allpole_zi(a[f], past))
        # scipy: lfilter with the zi that lfiltic builds from the past outputs
        zi = scipy.signal.lfiltic([1.0], a[f].numpy(), past_np[::-1])
        y_np, _ = scipy.signal.lfilter([1.0], a[f].numpy(), seg.numpy(), zi=zi)
        np.testing.assert_allclose(s[f * HOP : (f + 1) * HOP].numpy(), y.numpy(), rtol=1e-12,
                                   atol=1e-12)  # fmt: skip
        np.testing.assert_allclose(y.numpy(), y_np, rtol=1e-10, atol=1e-10)
        past, past_np = y[-ORDER:], y_np[-ORDER:]


def test_analysis_then_synthesis_gives_the_signal_back():
    x, a = _frames_and_signal(4)
    e = lpc_analysis(x, a, hop_samples=HOP)
    back = lpc_synthesis(e, a, hop_samples=HOP)
    np.testing.assert_allclose(back.numpy(), x.numpy(), rtol=0, atol=1e-10 * float(x.abs().max()))
    # the residual is whiter and smaller than the signal: the predictor predicts
    assert float(e.pow(2).mean()) < 0.5 * float(x.pow(2).mean())
    # s = p + e
    p = lpc_prediction(x, a, hop_samples=HOP)
    np.testing.assert_allclose((p + e).numpy(), x.numpy(), atol=1e-12)


def test_analysis_equals_the_fir_per_frame():
    x, a = _frames_and_signal(5)
    e = lpc_analysis(x, a, hop_samples=HOP).numpy()
    xp = np.concatenate([np.zeros(ORDER), x.numpy()])
    for f in range(a.shape[0]):
        seg = xp[f * HOP : (f + 1) * HOP + ORDER]
        want = scipy.signal.lfilter(a[f].numpy(), [1.0], seg)[ORDER:]
        np.testing.assert_allclose(e[f * HOP : (f + 1) * HOP], want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [lpc_analysis, lpc_prediction, lpc_synthesis])
def test_blocks_equal_one_shot(fn):
    x, a = _frames_and_signal(6, n_frames=10)
    whole = fn(x, a, hop_samples=HOP)
    y1, st = fn(x[: 4 * HOP], a[:4], hop_samples=HOP, state=torch.zeros(ORDER, dtype=x.dtype))
    y2, _ = fn(x[4 * HOP :], a[4:], hop_samples=HOP, state=st)
    np.testing.assert_allclose(torch.cat([y1, y2]).numpy(), whole.numpy(), rtol=1e-12, atol=1e-12)


def test_partial_last_frame_and_batch_consistency():
    x, a = _frames_and_signal(7, n_frames=6, batch=(3,))
    x = x[..., : 5 * HOP + 37]  # the last frame covers only 37 samples
    s = lpc_synthesis(x, a, hop_samples=HOP)
    assert s.shape == x.shape
    for i in range(3):
        one = lpc_synthesis(x[i], a[i], hop_samples=HOP)
        np.testing.assert_allclose(s[i].numpy(), one.numpy(), rtol=1e-12, atol=1e-12)


def test_numba_kernel_equals_the_filters_path():
    x, a = _frames_and_signal(8, n_frames=9, batch=(2,))
    past = torch.from_numpy(np.random.default_rng(9).standard_normal((2, ORDER)))
    want, want_state = lpc_synthesis(x, a, hop_samples=HOP, state=past)
    got, got_state = lpc_synthesis_numpy(x, a, hop_samples=HOP, state=past)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got_state, want_state.numpy(), rtol=1e-10, atol=1e-10)


def test_float32_follows_float64_and_gradients_flow():
    x, a = _frames_and_signal(10, n_frames=4)
    y64 = lpc_synthesis(x, a, hop_samples=HOP)
    y32 = lpc_synthesis(x.float(), a.float(), hop_samples=HOP)
    assert y32.dtype == torch.float32
    np.testing.assert_allclose(y32.numpy(), y64.numpy(), rtol=0, atol=1e-3 * float(y64.abs().max()))
    e = x[: 2 * 8].clone().requires_grad_(True)
    tail = (0.5 * a[:2, 1:4]).clone().requires_grad_(True)  # (2 frames, order 3)
    one = torch.ones(2, 1, dtype=tail.dtype)
    assert torch.autograd.gradcheck(
        lambda e_, t_: lpc_synthesis(e_, torch.cat([one, t_], 1), hop_samples=8), (e, tail)
    )


def test_emphasis_round_trip_through_the_filters():
    x, _ = _frames_and_signal(11, n_frames=3)
    y = deemphasis(preemphasis(x, 0.85), 0.85)
    np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-12)


def test_typed_errors():
    x, a = _frames_and_signal(12, n_frames=3)
    with pytest.raises(ShapeError, match="frames"):
        lpc_synthesis(x, a[:2], hop_samples=HOP)
    with pytest.raises(ShapeError, match="state"):
        lpc_synthesis(x, a, hop_samples=HOP, state=torch.zeros(3))
    bad = a.clone()
    bad[:, 0] = 2.0
    with pytest.raises(InputError, match=r"a\[..., 0\] == 1"):
        lpc_analysis(x, bad, hop_samples=HOP)
    unstable = a.clone()
    unstable[1] = 0
    unstable[1, 0], unstable[1, 1] = 1.0, -1.5
    with pytest.raises(UnstableFilterError):
        lpc_synthesis(x, unstable, hop_samples=HOP)
    with pytest.raises(InputError, match="hop_samples"):
        lpc_synthesis(x, a, hop_samples=0)


# ------------------------------------------------------------------------- the vocoder
def _vowel(f0_hz: float = 120.0, seconds: float = 0.5):
    """A pulse train at f0_hz through a known all-pole filter (three formants)."""
    poles = []
    for f_hz, bw_hz in ((700, 130), (1220, 150), (2600, 250)):
        r, w = np.exp(-np.pi * bw_hz / SR), 2 * np.pi * f_hz / SR
        poles += [r * np.exp(1j * w), r * np.exp(-1j * w)]
    a_true = np.real(np.poly(poles))
    n = int(seconds * SR)
    pulses = np.zeros(n)
    pulses[np.round(np.arange(0, n - 1, SR / f0_hz)).astype(int)] = 1.0
    x = scipy.signal.lfilter([1.0], a_true, pulses)
    return 0.5 * x / np.abs(x).max(), a_true


def test_recovered_predictor_matches_the_true_envelope_over_the_formant_band():
    x, a_true = _vowel()
    f = features(x, SR)
    c = f.config.preemphasis
    w = np.linspace(2 * np.pi * 200 / SR, 2 * np.pi * 3500 / SR, 200)
    _, h_true = scipy.signal.freqz([1.0], a_true, w)
    h_true = h_true * (1 - c * np.exp(-1j * w))  # the features see the pre-emphasised vowel
    for t in range(5, f.n_frames - 5):
        _, h = scipy.signal.freqz([1.0], f.lpc[t], w)
        diff_db = 20 * np.log10(np.abs(h) / np.abs(h_true))
        diff_db -= diff_db.mean()  # the shape, not the gain
        # 20 bands smooth the formant peaks: about 3 dB RMS, under 6 dB at worst
        assert np.sqrt(np.mean(diff_db**2)) < 4.0 and np.abs(diff_db).max() < 7.0, t


def test_vocoded_vowel_keeps_the_pitch_and_level():
    x, _ = _vowel(f0_hz=120.0)
    f = features(x, SR)
    y = vocode(f, seed=0)
    assert y.shape == (x.shape[0],) and y.dtype == torch.float32
    g = features(y.numpy(), SR)
    inner = slice(5, -5)
    np.testing.assert_allclose(np.median(f.f0_hz[inner]), 120.0, rtol=0.01)
    np.testing.assert_allclose(np.median(g.f0_hz[inner]), 120.0, rtol=0.01)
    assert np.median(g.periodicity[inner]) > 0.9
    level_db = 10 * np.log10(float(y.pow(2).mean()) / np.mean(x**2))
    assert abs(level_db) < 3.0


def test_excitation_is_noise_for_unvoiced_frames_and_pulses_for_voiced_ones():
    config = FeatureConfig()
    rng = np.random.default_rng(13)
    noise = features(0.1 * rng.standard_normal(SR // 4), SR, config=config)
    e = excitation(noise, seed=1)
    # unit-power noise times the residual RMS
    ratio = np.mean(e**2) / np.mean(noise.residual_power)
    assert 0.7 < ratio < 1.3
    np.testing.assert_array_equal(voicing(np.array([0.0, 0.4, 0.8, 1.0])), [0, 0, 1, 1])
    np.testing.assert_array_equal(excitation(noise, seed=1), e)  # seeded
