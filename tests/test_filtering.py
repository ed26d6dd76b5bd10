"""lfilter / sosfilt: references (scipy, torchaudio), invariants, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torchaudio.functional as taf
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp_rnn.errors import InputError, NonFiniteError, ShapeError, UnstableFilterError
from dsp_rnn.filters import lfilter, sosfilt
from dsp_rnn.filters.filtering import _Cascade, _cascade_torch

from .conftest import orders, random_stable_ba, random_stable_sos, rel_err, seeds

FAST = settings(max_examples=25, deadline=None)


def _signal(rng, *shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- references
@FAST
@given(order=orders, seed=seeds)
def test_sosfilt_matches_scipy_float64(order, seed):
    rng = np.random.default_rng(seed)
    sos = random_stable_sos(rng, order)
    x = _signal(rng, 3, 700)
    y = sosfilt(torch.from_numpy(sos), torch.from_numpy(x))
    assert rel_err(y, scipy.signal.sosfilt(sos, x)) < 1e-10


@FAST
@given(order=orders, seed=seeds)
def test_sosfilt_matches_scipy_float32(order, seed):
    rng = np.random.default_rng(seed)
    sos = random_stable_sos(rng, order, max_radius=0.9)
    x = _signal(rng, 2, 500, dtype=np.float32)
    y = sosfilt(torch.from_numpy(sos.astype(np.float32)), torch.from_numpy(x))
    assert y.dtype == torch.float32
    assert rel_err(y, scipy.signal.sosfilt(sos, x.astype(np.float64))) < 1e-4


@FAST
@given(order=orders, seed=seeds)
def test_lfilter_matches_scipy(order, seed):
    rng = np.random.default_rng(seed)
    b, a = random_stable_ba(rng, order)
    x = _signal(rng, 2, 600)
    zi = _signal(rng, 2, order)
    y, zf = lfilter(
        torch.from_numpy(b), torch.from_numpy(a), torch.from_numpy(x), torch.from_numpy(zi)
    )
    y_ref, zf_ref = scipy.signal.lfilter(b, a, x, zi=zi)
    assert rel_err(y, y_ref) < 1e-9
    assert rel_err(zf, zf_ref) < 1e-9


def test_lfilter_unnormalised_and_unequal_lengths_match_scipy():
    rng = np.random.default_rng(1)
    b, a = np.array([0.5, 0.2]), np.array([2.0, -0.6, 0.3, 0.1])
    x = _signal(rng, 300)
    zi = _signal(rng, 3)
    y, zf = lfilter(
        torch.from_numpy(b), torch.from_numpy(a), torch.from_numpy(x), torch.from_numpy(zi)
    )
    y_ref, zf_ref = scipy.signal.lfilter(b, a, x, zi=zi)
    assert rel_err(y, y_ref) < 1e-12 and rel_err(zf, zf_ref) < 1e-12
    fir = lfilter(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0]), torch.from_numpy(x))
    assert rel_err(fir, scipy.signal.lfilter([1.0, 2.0, 3.0], [2.0], x)) < 1e-12


def test_sosfilt_state_layout_matches_scipy():
    rng = np.random.default_rng(2)
    sos = random_stable_sos(rng, 6)
    x = _signal(rng, 4, 200)
    zi = _signal(rng, 4, 3, 2)  # ours: (..., n_sections, 2); scipy: (n_sections, ..., 2)
    y, zf = sosfilt(torch.from_numpy(sos), torch.from_numpy(x), torch.from_numpy(zi))
    y_ref, zf_ref = scipy.signal.sosfilt(sos, x, zi=np.moveaxis(zi, -2, 0))
    assert rel_err(y, y_ref) < 1e-12
    assert rel_err(zf, np.moveaxis(zf_ref, 0, -2)) < 1e-12


@settings(max_examples=10, deadline=None)
@given(order=orders, seed=seeds)
def test_sosfilt_matches_torchaudio_section_by_section(order, seed):
    rng = np.random.default_rng(seed)
    sos = random_stable_sos(rng, order)
    x = torch.from_numpy(_signal(rng, 2, 400))
    y_ref = x
    for row in torch.from_numpy(sos):
        y_ref = taf.lfilter(y_ref, row[3:], row[:3], clamp=False)
    assert rel_err(sosfilt(torch.from_numpy(sos), x), y_ref) < 1e-9


def test_lfilter_matches_torchaudio_biquad():
    # small input: torchaudio's biquads clamp their output to [-1, 1], we never do
    x = 0.1 * torch.from_numpy(_signal(np.random.default_rng(3), 2, 1000))
    y_ref = taf.lowpass_biquad(x, 16000, 1000.0, 0.707)
    # the same cookbook design as torchaudio: coefficients from its lowpass formula
    w0 = 2 * np.pi * 1000.0 / 16000
    alpha = np.sin(w0) / (2 * 0.707)
    b = np.array([(1 - np.cos(w0)) / 2, 1 - np.cos(w0), (1 - np.cos(w0)) / 2])
    a = np.array([1 + alpha, -2 * np.cos(w0), 1 - alpha])
    y = lfilter(torch.from_numpy(b), torch.from_numpy(a), x)
    assert rel_err(y, y_ref) < 1e-9


# ----------------------------------------------------------------------------- invariants
def test_batch_consistency_and_per_example_filters():
    rng = np.random.default_rng(5)
    sos = torch.from_numpy(np.stack([random_stable_sos(rng, 4) for _ in range(3)]))  # (3, 2, 6)
    x = torch.from_numpy(_signal(rng, 3, 2, 300))  # (batch 3, channel 2, time)
    y = sosfilt(sos[:, None], x)  # one filter per example, shared by its channels
    for i in range(3):
        for c in range(2):
            assert torch.equal(y[i, c], sosfilt(sos[i], x[i, c]))
    assert y.shape == (3, 2, 300)


def test_impulse_in_gives_impulse_response_out():
    sos = scipy.signal.butter(4, 0.2, output="sos")
    x = np.zeros(200)
    x[0] = 1.0
    _, h_ref = scipy.signal.dimpulse((*scipy.signal.sos2tf(sos), 1), n=200)
    y = sosfilt(torch.from_numpy(sos), torch.from_numpy(x))
    assert rel_err(y, h_ref[0][:, 0]) < 1e-10


def test_lowpass_passes_dc_and_kills_nyquist():
    sos = torch.from_numpy(scipy.signal.butter(8, 0.1, output="sos"))
    t = torch.arange(4000, dtype=torch.float64)
    dc = sosfilt(sos, torch.ones(4000, dtype=torch.float64))
    nyq = sosfilt(sos, torch.cos(torch.pi * t))
    assert abs(float(dc[-1]) - 1.0) < 1e-9
    assert float(nyq[-1000:].abs().max()) < 1e-6


def test_float32_close_to_float64():
    rng = np.random.default_rng(6)
    sos = torch.from_numpy(random_stable_sos(rng, 6, max_radius=0.9))
    x = torch.from_numpy(_signal(rng, 2, 2000))
    assert rel_err(sosfilt(sos.float(), x.float()), sosfilt(sos, x)) < 1e-5


def test_empty_and_short_signals():
    sos = torch.from_numpy(scipy.signal.butter(4, 0.3, output="sos"))
    zi = torch.randn(2, 2, dtype=torch.float64)
    y, zf = sosfilt(sos, torch.zeros(0, dtype=torch.float64), zi)
    assert y.shape == (0,) and torch.equal(zf, zi)
    # one sample through an order-6 lfilter (shorter than the state) matches scipy
    b, a = random_stable_ba(np.random.default_rng(8), 6)
    zi6 = np.random.default_rng(9).standard_normal(6)
    for n in (1, 2, 5):
        x = np.arange(1.0, n + 1)
        y, zf = lfilter(*(torch.from_numpy(v) for v in (b, a, x, zi6)))
        y_ref, zf_ref = scipy.signal.lfilter(b, a, x, zi=zi6)
        assert rel_err(y, y_ref) < 1e-12 and rel_err(zf, zf_ref) < 1e-12


# ----------------------------------------------------------------------------- gradients
def test_torch_block_path_equals_kernels_with_gradients():
    rng = np.random.default_rng(7)
    sos = random_stable_sos(rng, 6)
    coef = np.concatenate([sos[:, :3], sos[:, 4:]], 1)
    coef = torch.from_numpy(np.broadcast_to(coef, (3, 3, 5)).copy()).requires_grad_()
    x = torch.randn(3, 1000, dtype=torch.float64, requires_grad=True)
    zi = torch.randn(3, 3, 2, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 1000, dtype=torch.float64)
    results = []
    for fn in (lambda: _Cascade.apply(x, coef, zi), lambda: _cascade_torch(x, coef, zi, block=64)):
        y, zf = fn()
        grads = torch.autograd.grad((y * w).sum() + zf.sum(), (x, coef, zi))
        results.append((y, zf, *grads))
    for ours, ref in zip(results[1], results[0], strict=True):
        assert rel_err(ours, ref) < 1e-9
    # order 6 in one section, signals shorter than the state
    b, a = random_stable_ba(rng, 6)
    coef6 = torch.from_numpy(np.concatenate([b, a[1:]]))[None, None].expand(2, 1, 13)
    zi6 = torch.randn(2, 1, 6, dtype=torch.float64)
    for n in (1, 4, 7, 300):
        xs = torch.randn(2, n, dtype=torch.float64)
        y_ref, zf_ref = _Cascade.apply(xs, coef6.contiguous(), zi6)
        y, zf = _cascade_torch(xs, coef6, zi6, block=32)
        assert rel_err(y, y_ref) < 1e-9 and rel_err(zf, zf_ref) < 1e-9


# ----------------------------------------------------------------------------- errors
def test_errors_are_typed_and_say_what_was_found():
    sos = torch.from_numpy(scipy.signal.butter(2, 0.3, output="sos"))
    x = torch.randn(100, dtype=torch.float64)
    with pytest.raises(ShapeError, match=r"\(\.\.\., n_sections, 6\).*\(1, 5\)"):
        sosfilt(sos[:, :5], x)
    bad = x.clone()
    bad[17] = float("nan")
    with pytest.raises(NonFiniteError, match=r"x: .*index \(17,\)"):
        sosfilt(sos, bad)
    bad[17] = float("inf")
    with pytest.raises(NonFiniteError):
        lfilter(torch.tensor([1.0]), torch.tensor([1.0, -0.5]), bad)
    with pytest.raises(NonFiniteError, match="sos"):
        sosfilt(sos * float("nan"), x)
    zero_a0 = sos.clone()
    zero_a0[0, 3] = 0
    with pytest.raises(InputError, match="a0"):
        sosfilt(zero_a0, x)
    with pytest.raises(InputError, match="a0"):
        lfilter(torch.tensor([1.0]), torch.tensor([0.0, 1.0]), x)
    with pytest.raises(UnstableFilterError, match="radius 1.1"):
        sosfilt(torch.tensor([[1.0, 0, 0, 1.0, 0.0, -1.21]]), x)
    with pytest.raises(UnstableFilterError, match="radius 1.5"):
        lfilter(torch.tensor([1.0]), torch.tensor([1.0, -1.5]), x)
    with pytest.raises(ShapeError, match="zi"):
        sosfilt(sos, x, torch.zeros(2, 2))
    with pytest.raises(ShapeError, match="broadcast"):
        sosfilt(sos.expand(3, 1, 6), torch.randn(2, 10, dtype=torch.float64))
    assert issubclass(UnstableFilterError, ValueError)


def test_overflow_raises_instead_of_returning_inf():
    # a stable filter whose gain overflows float32
    sos = torch.tensor([[3e38, 3e38, 0.0, 1.0, 0.0, 0.0]])
    with pytest.raises(NonFiniteError, match="overflow"):
        sosfilt(sos, torch.ones(8))


def test_unstable_filter_runs_when_asked_and_never_clamps():
    # a marginally stable resonator: allowed with check_stable=False, output not clamped
    x = torch.zeros(50, dtype=torch.float64)
    x[0] = 5.0
    y = lfilter(torch.tensor([1.0]), torch.tensor([1.0, -1.0]), x, check_stable=False)
    assert torch.equal(y, torch.full((50,), 5.0, dtype=torch.float64))


@settings(max_examples=30, deadline=None)
@given(
    coefs=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=6, max_size=6)
)
def test_arbitrary_coefficients_raise_only_typed_errors_or_finite_output(coefs):
    x = torch.randn(64)
    try:
        y = sosfilt(torch.tensor([coefs]), x)
    except InputError:
        return
    assert torch.isfinite(y).all()


def test_serial_twins_equal_the_parallel_kernels_bit_for_bit():
    from dsp_rnn.filters import _kernels

    rng = np.random.default_rng(5)
    sos = random_stable_sos(rng, 8)
    x = torch.from_numpy(rng.standard_normal((3, 5000)))
    y_par = sosfilt(torch.from_numpy(sos), x)  # 3 x 5000 < SERIAL_BELOW: the serial twin
    assert _kernels.pick(_kernels.biquad4_forward, 3, 5000) is _kernels.biquad4_forward_serial
    assert _kernels.pick(_kernels.biquad4_forward, 4, 1 << 16) is _kernels.biquad4_forward
    old = _kernels.SERIAL_BELOW
    _kernels.SERIAL_BELOW = 0  # force the parallel kernels (one channel stays serial)
    try:
        y_ref = sosfilt(torch.from_numpy(sos), x)
        xg = x.clone().requires_grad_(True)
        sosfilt(torch.from_numpy(sos), xg).pow(2).sum().backward()
    finally:
        _kernels.SERIAL_BELOW = old
    assert torch.equal(y_par, y_ref)
    xs = x.clone().requires_grad_(True)
    sosfilt(torch.from_numpy(sos), xs).pow(2).sum().backward()
    assert torch.equal(xs.grad, xg.grad)
