"""Filter design: cookbook biquads vs torchaudio, classic designs vs scipy, gradients, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch
import torchaudio.functional as taf
import torchaudio.functional.filtering as taf_filtering

from dsp_rnn.errors import InputError, NonFiniteError
from dsp_rnn.filters import (
    biquad_allpass,
    biquad_bandpass,
    biquad_highpass,
    biquad_highshelf,
    biquad_lowpass,
    biquad_lowshelf,
    biquad_notch,
    biquad_peaking,
    butter,
    cheby1,
    cheby2,
    ellip,
    sosfreqz,
)
from dsp_rnn.filters.design import BUTTERWORTH_Q

from .conftest import check_sos, sos_response_np

SR = 48000

# (ours, torchaudio function, maps (f0, q, gain) to torchaudio's keyword arguments, has gain)
PAIRS = [
    (biquad_lowpass, taf.lowpass_biquad, lambda f, q, g: {"cutoff_freq": f, "Q": q}, False),
    (biquad_highpass, taf.highpass_biquad, lambda f, q, g: {"cutoff_freq": f, "Q": q}, False),
    (
        biquad_bandpass,
        taf.bandpass_biquad,
        lambda f, q, g: {"central_freq": f, "Q": q, "const_skirt_gain": False},
        False,
    ),
    (biquad_notch, taf.bandreject_biquad, lambda f, q, g: {"central_freq": f, "Q": q}, False),
    (
        biquad_peaking,
        taf.equalizer_biquad,
        lambda f, q, g: {"center_freq": f, "gain": g, "Q": q},
        True,
    ),
    (
        biquad_lowshelf,
        taf.bass_biquad,
        lambda f, q, g: {"central_freq": f, "gain": g, "Q": q},
        True,
    ),
    (
        biquad_highshelf,
        taf.treble_biquad,
        lambda f, q, g: {"central_freq": f, "gain": g, "Q": q},
        True,
    ),
    (biquad_allpass, taf.allpass_biquad, lambda f, q, g: {"central_freq": f, "Q": q}, False),
]
PAIR_IDS = [p[0].__name__ for p in PAIRS]
CASES = [(30.0, 0.3, -12.0), (440.0, BUTTERWORTH_Q, 3.0), (5000.0, 2.5, 9.5), (21000.0, 8.0, -4.0)]


def rel_err(got, want) -> float:
    g = torch.as_tensor(np.asarray(got)).double()
    w = torch.as_tensor(np.asarray(want)).double()
    return float((g - w).norm() / w.norm())


def _design(fn, has_gain, f0, q, gain, **kw):
    return (
        fn(f0, q=q, gain_db=gain, sample_rate=SR, **kw)
        if has_gain
        else fn(f0, q=q, sample_rate=SR, **kw)
    )


def _mag(sos, f_hz):
    _, h = sosfreqz(sos, freqs=torch.as_tensor(f_hz, dtype=sos.dtype), sample_rate=SR)
    return h.abs()


# ----------------------------------------------------------------------------- torchaudio
@pytest.mark.parametrize("ours, theirs, kwargs, has_gain", PAIRS, ids=PAIR_IDS)
def test_cookbook_coefficients_equal_torchaudio(monkeypatch, ours, theirs, kwargs, has_gain):
    captured = []

    def record(waveform, b0, b1, b2, a0, a1, a2):
        captured.append([float(torch.as_tensor(v)) for v in (b0, b1, b2, a0, a1, a2)])
        return waveform

    monkeypatch.setattr(taf_filtering, "biquad", record)
    for f0, q, gain in CASES:
        theirs(torch.zeros(4, dtype=torch.float64), SR, **kwargs(f0, q, gain))
        ta = torch.tensor(captured[-1], dtype=torch.float64)
        sos = _design(ours, has_gain, f0, q, gain, dtype=torch.float64)
        assert sos.shape == (1, 6)
        torch.testing.assert_close(sos[0], ta / ta[3], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ours, theirs, kwargs, has_gain", PAIRS, ids=PAIR_IDS)
def test_cookbook_impulse_response_equals_torchaudio(ours, theirs, kwargs, has_gain):
    # torchaudio clamps its output to [-1, 1]: a small impulse keeps it in range
    delta = torch.zeros(512, dtype=torch.float64)
    delta[0] = 1e-3
    for f0, q, gain in CASES:
        ta = theirs(delta, SR, **kwargs(f0, q, gain)) / 1e-3
        sos = _design(ours, has_gain, f0, q, gain, dtype=torch.float64)
        ref = scipy.signal.sosfilt(sos.numpy(), delta.numpy() / 1e-3)
        assert rel_err(ta, ref) < 1e-9


# ----------------------------------------------------------------------------- invariants
def test_cookbook_responses_at_landmark_frequencies():
    f0, q, g = 2000.0, 1.3, 7.5
    edges = [1e-9, SR / 2 - 1e-9]  # DC and Nyquist, inside the open interval for freqs

    def at(sos, f):
        return _mag(sos, [f]).item()

    lp = biquad_lowpass(f0, q=q, sample_rate=SR, dtype=torch.float64)
    assert at(lp, edges[0]) == pytest.approx(1.0, rel=1e-9)
    assert at(lp, edges[1]) < 1e-6
    assert at(lp, f0) == pytest.approx(q, rel=1e-9)  # |H(f0)| = Q for the cookbook LPF
    hp = biquad_highpass(f0, q=q, sample_rate=SR, dtype=torch.float64)
    assert at(hp, edges[0]) < 1e-6 and at(hp, edges[1]) == pytest.approx(1.0, rel=1e-9)
    bp = biquad_bandpass(f0, q=q, sample_rate=SR, dtype=torch.float64)
    assert at(bp, f0) == pytest.approx(1.0, rel=1e-12)  # constant 0 dB peak
    assert at(bp, edges[0]) < 1e-6
    notch = biquad_notch(f0, q=q, sample_rate=SR, dtype=torch.float64)
    assert at(notch, f0) < 1e-9 and at(notch, edges[0]) == pytest.approx(1.0, rel=1e-9)
    peak = biquad_peaking(f0, gain_db=g, q=q, sample_rate=SR, dtype=torch.float64)
    assert 20 * math.log10(at(peak, f0)) == pytest.approx(g, rel=1e-9)
    assert at(peak, edges[0]) == pytest.approx(1.0, rel=1e-9)
    low = biquad_lowshelf(f0, gain_db=g, q=q, sample_rate=SR, dtype=torch.float64)
    assert 20 * math.log10(at(low, edges[0])) == pytest.approx(g, rel=1e-6)
    assert 20 * math.log10(at(low, f0)) == pytest.approx(g / 2, rel=1e-9)  # shelf midpoint
    high = biquad_highshelf(f0, gain_db=g, q=q, sample_rate=SR, dtype=torch.float64)
    assert 20 * math.log10(at(high, edges[1])) == pytest.approx(g, rel=1e-6)
    assert 20 * math.log10(at(high, f0)) == pytest.approx(g / 2, rel=1e-9)
    ap = biquad_allpass(f0, q=q, sample_rate=SR, dtype=torch.float64)
    mag = sosfreqz(ap, n_freqs=257)[1].abs()
    torch.testing.assert_close(mag, torch.ones_like(mag), rtol=0, atol=1e-12)
    _, h = sosfreqz(ap, freqs=torch.tensor([f0], dtype=torch.float64), sample_rate=SR)
    assert abs(torch.angle(h).item()) == pytest.approx(math.pi, rel=1e-9)


@pytest.mark.parametrize("shelf", [biquad_lowshelf, biquad_highshelf])
@pytest.mark.parametrize("gain_db", [-18.0, -3.0, 6.0, 15.0])
def test_default_shelf_q_is_slope_one_and_monotonic(shelf, gain_db):
    amp = 10 ** (gain_db / 40)
    q_for_s1 = 1 / math.sqrt((amp + 1 / amp) * (1 / 1.0 - 1) + 2)  # cookbook S -> Q
    assert q_for_s1 == pytest.approx(BUTTERWORTH_Q, rel=1e-15)
    sos = shelf(1000.0, gain_db=gain_db, sample_rate=SR, dtype=torch.float64)
    db = 20 * torch.log10(sosfreqz(sos, n_freqs=2048)[1].abs())
    step = db.diff()
    direction = 1.0 if (shelf is biquad_highshelf) == (gain_db > 0) else -1.0
    assert bool((direction * step >= -1e-9).all())  # monotonic: no overshoot at S = 1
    assert float(db.min()) >= min(0.0, gain_db) - 1e-6
    assert float(db.max()) <= max(0.0, gain_db) + 1e-6


def test_lowpass_passes_passband_tone_and_kills_stopband_tone():
    sr = 16000
    sos = butter(8, 1000.0, sample_rate=sr, dtype=torch.float64)
    _, h = sosfreqz(sos, freqs=torch.tensor([200.0, 4000.0], dtype=torch.float64), sample_rate=sr)
    assert h.abs()[0].item() == pytest.approx(1.0, abs=1e-6)
    assert h.abs()[1].item() < 10 ** (-90 / 20)  # 8th order, two octaves up: ~-96 dB
    bq = biquad_lowpass(1000.0, sample_rate=SR, dtype=torch.float64)
    m = _mag(bq, [100.0, 10000.0])
    assert m[0].item() == pytest.approx(1.0, abs=1e-3)
    assert m[1].item() < 0.012  # 12 dB/octave: about -39 dB a decade up


# ----------------------------------------------------------------------------- batches, dtypes
def test_tensor_parameters_batch_like_scalars():
    f0 = torch.tensor([[100.0], [1000.0], [10000.0]], dtype=torch.float64)  # (3, 1)
    q = torch.tensor([0.5, 1.0, 4.0, 9.0], dtype=torch.float64)  # (4,)
    g = torch.tensor(-6.0, dtype=torch.float64)
    sos = biquad_peaking(f0, q=q, gain_db=g, sample_rate=SR)
    assert sos.shape == (3, 4, 1, 6) and sos.dtype == torch.float64
    for i in range(3):
        for j in range(4):
            one = biquad_peaking(
                float(f0[i, 0]), q=float(q[j]), gain_db=-6.0, sample_rate=SR, dtype=torch.float64
            )
            torch.testing.assert_close(sos[i, j], one, rtol=0, atol=0)


def test_dtype_rules():
    assert biquad_lowpass(1000.0, sample_rate=SR).dtype == torch.float32
    assert biquad_lowpass(torch.tensor(1000.0), sample_rate=SR).dtype == torch.float32
    f64 = biquad_lowpass(torch.tensor(1000.0, dtype=torch.float64), sample_rate=SR)
    assert f64.dtype == torch.float64
    f32 = biquad_lowpass(1000.0, sample_rate=SR)
    torch.testing.assert_close(f32.double(), f64, rtol=1e-6, atol=1e-7)
    assert biquad_lowpass(1000.0, sample_rate=SR, dtype=torch.float64).dtype == torch.float64


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("ours, theirs, kwargs, has_gain", PAIRS, ids=PAIR_IDS)
def test_biquad_design_gradcheck(ours, theirs, kwargs, has_gain):
    f0 = torch.tensor([300.0, 7000.0], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([0.6, 3.0], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([-5.0, 8.0], dtype=torch.float64, requires_grad=True)
    if has_gain:
        fn = lambda f, qq, gg: ours(f, q=qq, gain_db=gg, sample_rate=SR)  # noqa: E731
        inputs = (f0, q, g)
    else:
        fn = lambda f, qq: ours(f, q=qq, sample_rate=SR)  # noqa: E731
        inputs = (f0, q)
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)
    grads = torch.autograd.grad(fn(*inputs).sum(), inputs)
    assert all(bool(gr.abs().sum() > 0) for gr in grads)  # every parameter moves the design


# ----------------------------------------------------------------------------- classic designs
CLASSIC = [
    (butter, scipy.signal.butter, ()),
    (cheby1, scipy.signal.cheby1, (0.5,)),
    (cheby2, scipy.signal.cheby2, (40.0,)),
    (ellip, scipy.signal.ellip, (0.5, 50.0)),
]


@pytest.mark.parametrize("ours, ref, extra", CLASSIC, ids=[c[0].__name__ for c in CLASSIC])
@pytest.mark.parametrize(
    "btype, cutoff",
    [("lowpass", 1200.0), ("highpass", 300.0), ("bandpass", (300.0, 3000.0)),
     ("bandstop", (500.0, 900.0))],
)  # fmt: skip
@pytest.mark.parametrize("order", [1, 2, 5, 8])
def test_classic_designs_equal_scipy(ours, ref, extra, btype, cutoff, order):
    sr = 16000
    sos = ours(order, *extra, cutoff, btype=btype, sample_rate=sr, dtype=torch.float64)
    if ref is scipy.signal.butter:
        expect = ref(order, cutoff, btype=btype, fs=sr, output="sos")
    elif ref is scipy.signal.ellip:
        expect = ref(order, extra[0], extra[1], cutoff, btype=btype, fs=sr, output="sos")
    else:
        expect = ref(order, extra[0], cutoff, btype=btype, fs=sr, output="sos")
    assert np.array_equal(sos.numpy(), expect)
    as32 = ours(order, *extra, cutoff, btype=btype, sample_rate=sr)
    assert as32.dtype == torch.float32
    assert np.array_equal(as32.numpy(), expect.astype(np.float32))


# ----------------------------------------------------------------------------- a0 == 1 always
W_A0 = np.linspace(0.01, np.pi - 0.01, 64)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("btype", ["lowpass", "highpass", "bandpass", "bandstop"])
@pytest.mark.parametrize(
    ("design", "ref", "db"),
    [
        (butter, scipy.signal.butter, ()),
        (cheby1, scipy.signal.cheby1, (1.0,)),
        (cheby2, scipy.signal.cheby2, (40.0,)),
        (ellip, scipy.signal.ellip, (1.0, 40.0)),
    ],
)
def test_designs_return_a0_one(design, ref, db, order, btype):
    cutoff = (2000.0, 6000.0) if btype in ("bandpass", "bandstop") else 3000.0
    sos = design(order, *db, cutoff, btype=btype, sample_rate=48000, dtype=torch.float64)
    check_sos(sos)
    want = sos_response_np(ref(order, *db, cutoff, btype=btype, fs=48000, output="sos"), W_A0)
    got = sosfreqz(sos, freqs=torch.as_tensor(W_A0))[1].numpy()
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < 1e-12


@pytest.mark.parametrize(
    "design",
    [
        lambda: biquad_lowpass(1000.0, q=0.7, sample_rate=48000),
        lambda: biquad_highpass(1000.0, q=0.7, sample_rate=48000),
        lambda: biquad_bandpass(1000.0, q=2.0, sample_rate=48000),
        lambda: biquad_notch(1000.0, q=2.0, sample_rate=48000),
        lambda: biquad_peaking(1000.0, gain_db=6.0, sample_rate=48000),
        lambda: biquad_lowshelf(1000.0, gain_db=-6.0, sample_rate=48000),
        lambda: biquad_highshelf(1000.0, gain_db=6.0, sample_rate=48000),
        lambda: biquad_allpass(1000.0, q=0.7, sample_rate=48000),
    ],
)
def test_biquad_designs_return_a0_one(design):
    check_sos(design())


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("f0", [0.0, -10.0, 24000.0, 30000.0])
def test_f0_outside_open_band_raises_with_value(f0):
    with pytest.raises(InputError, match=rf"f0_hz={f0:g}.*sample_rate=48000"):
        biquad_lowpass(f0, sample_rate=SR)
    with pytest.raises(InputError, match=f"{f0:g}"):
        biquad_peaking(torch.tensor([1000.0, f0]), gain_db=3.0, sample_rate=SR)


@pytest.mark.parametrize("q", [0.0, -0.5])
def test_nonpositive_q_raises(q):
    with pytest.raises(InputError, match=rf"q=.*{q:g}"):
        biquad_notch(1000.0, q=q, sample_rate=SR)


def test_nonfinite_and_bad_rate_raise():
    with pytest.raises(NonFiniteError, match="gain_db"):
        biquad_lowshelf(1000.0, gain_db=float("nan"), sample_rate=SR)
    with pytest.raises(NonFiniteError, match="q"):
        biquad_allpass(1000.0, q=torch.tensor([1.0, math.inf]), sample_rate=SR)
    with pytest.raises(InputError, match="sample_rate"):
        biquad_lowpass(1000.0, sample_rate=0)
    with pytest.raises(InputError, match="broadcast"):
        biquad_lowpass(torch.ones(3) * 100, q=torch.ones(2), sample_rate=SR)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: butter(0, 1000.0, sample_rate=SR), "order=0"),
        (lambda: butter(2.5, 1000.0, sample_rate=SR), "order=2.5"),
        (lambda: butter(True, 1000.0, sample_rate=SR), "order=True"),
        (lambda: butter(4, 25000.0, sample_rate=SR), "cutoff_hz=25000"),
        (lambda: butter(4, 1000.0, btype="band", sample_rate=SR), "btype='band'"),
        (lambda: butter(4, 1000.0, btype="bandpass", sample_rate=SR), "pair"),
        (lambda: butter(4, (300.0, 200.0), btype="bandstop", sample_rate=SR), "low < high"),
        (lambda: cheby1(4, 0.0, 1000.0, sample_rate=SR), "ripple_db=0"),
        (lambda: cheby2(4, -3.0, 1000.0, sample_rate=SR), "attenuation_db=-3"),
        (lambda: ellip(4, 3.0, 2.0, 1000.0, sample_rate=SR), "attenuation_db=2, ripple_db=3"),
    ],
)
def test_classic_design_errors(call, match):
    with pytest.raises(InputError, match=match):
        call()
