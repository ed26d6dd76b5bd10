"""lfilter_zi / sosfilt_zi / lfiltic / filtfilt / sosfiltfilt against scipy.signal."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp_rnn.errors import InputError, ShapeError, UnstableFilterError
from dsp_rnn.filters import (
    butter,
    filtfilt,
    lfilter,
    lfilter_zi,
    lfiltic,
    sosfilt,
    sosfilt_zi,
    sosfiltfilt,
)

from .conftest import random_stable_ba, random_stable_sos, seeds
from .conftest import rel_err as _rel_err

FAST = settings(max_examples=20, deadline=None, derandomize=True)
F64 = torch.float64
PADTYPES = ["odd", "even", "constant", None]


def rel_err(got, want) -> float:
    """The conftest helper, for scipy outputs with negative strides too (filtfilt's)."""
    return _rel_err(got, np.ascontiguousarray(want) if isinstance(want, np.ndarray) else want)


def _t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=F64).requires_grad_(grad)


def _unnormalised_ba(rng, order):
    """Stable (b, a) with a0 != 1 and b of another length than a."""
    b, a = random_stable_ba(rng, order)
    b = b[: int(rng.integers(1, len(b) + 1))] if rng.random() < 0.5 else np.r_[b, 0.3]
    return b, a * float(rng.uniform(0.5, 2.0))


# ----------------------------------------------------------------------------- initial states
@FAST
@given(order=st.integers(0, 5), seed=seeds)
def test_lfilter_zi_matches_scipy(order, seed):
    rng = np.random.default_rng(seed)
    b, a = _unnormalised_ba(rng, order) if order else (rng.standard_normal(2), np.ones(1) * 2)
    zi = lfilter_zi(_t(b), _t(a))
    ref = scipy.signal.lfilter_zi(b, a)
    assert zi.shape == ref.shape
    assert rel_err(zi, ref) < 1e-10 if np.any(ref) else bool((zi == 0).all())


def test_lfilter_zi_is_the_step_steady_state():
    rng = np.random.default_rng(1)
    b, a = random_stable_ba(rng, 4)
    x = torch.full((3, 20), 2.5, dtype=F64)
    y, zf = lfilter(_t(b), _t(a), x, lfilter_zi(_t(b), _t(a)) * x[..., :1])
    dc = b.sum() / a.sum()
    assert float((y - 2.5 * dc).abs().max()) < 1e-10 * abs(2.5 * dc)
    assert rel_err(zf, lfilter_zi(_t(b), _t(a)).expand(3, 4) * 2.5) < 1e-10


def test_lfilter_zi_batched_equals_loop():
    rng = np.random.default_rng(2)
    bas = [random_stable_ba(rng, 3) for _ in range(4)]
    b = _t(np.stack([ba[0] for ba in bas]))
    a = _t(np.stack([ba[1] for ba in bas]))
    zi = lfilter_zi(b, a)
    for i, (bi, ai) in enumerate(bas):
        assert rel_err(zi[i], scipy.signal.lfilter_zi(bi, ai)) < 1e-10


@FAST
@given(order=st.integers(1, 10), seed=seeds)
def test_sosfilt_zi_matches_scipy_in_our_layout(order, seed):
    rng = np.random.default_rng(seed)
    sos = random_stable_sos(rng, order)
    sos[:, 3:] *= rng.uniform(0.5, 2.0, (len(sos), 1))  # a0 != 1
    zi = sosfilt_zi(_t(sos))
    ref = scipy.signal.sosfilt_zi(sos)
    assert zi.shape == ref.shape == (len(sos), 2)
    assert rel_err(zi, ref) < 1e-10


def test_sosfilt_zi_layout_with_batched_signal_matches_scipy():
    """Our zi is (..., n_sections, 2); scipy's is (n_sections, ..., 2)."""
    rng = np.random.default_rng(3)
    sos = random_stable_sos(rng, 6)
    x = rng.standard_normal((4, 100)) + 3.0
    zi_ref = scipy.signal.sosfilt_zi(sos)[:, None, :] * x[None, :, :1]  # (S, B, 2)
    y_ref, zf_ref = scipy.signal.sosfilt(sos, x, zi=zi_ref)
    xt = _t(x)
    y, zf = sosfilt(_t(sos), xt, zi=sosfilt_zi(_t(sos)) * xt[..., :1, None])
    assert rel_err(y, y_ref) < 1e-10
    assert rel_err(zf, np.moveaxis(zf_ref, 0, 1)) < 1e-10


def test_sosfilt_zi_per_batch_sections_equals_loop():
    rng = np.random.default_rng(4)
    sos = np.stack([random_stable_sos(rng, 4) for _ in range(3)])
    zi = sosfilt_zi(_t(sos))
    assert zi.shape == (3, 2, 2)
    for i in range(3):
        assert rel_err(zi[i], scipy.signal.sosfilt_zi(sos[i])) < 1e-10


@FAST
@given(
    n_b=st.integers(1, 5),
    n_a=st.integers(1, 5),
    n_y=st.integers(0, 6),
    n_x=st.one_of(st.none(), st.integers(0, 6)),
    seed=seeds,
)
def test_lfiltic_matches_scipy(n_b, n_a, n_y, n_x, seed):
    rng = np.random.default_rng(seed)
    b = rng.standard_normal(n_b)
    a = np.r_[rng.uniform(0.5, 2.0), rng.standard_normal(n_a - 1)]
    y, x = rng.standard_normal(n_y), None if n_x is None else rng.standard_normal(n_x)
    zi = lfiltic(_t(b), _t(a), _t(y), None if x is None else _t(x))
    ref = scipy.signal.lfiltic(b, a, y, x)
    assert zi.shape == ref.shape
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    assert torch.allclose(zi, torch.from_numpy(ref), rtol=0.0, atol=1e-12 * scale)


def test_lfiltic_continues_a_signal():
    """The state from the last outputs and inputs of block 1 continues into block 2."""
    rng = np.random.default_rng(5)
    b, a = random_stable_ba(rng, 3)
    x = rng.standard_normal(80)
    y = scipy.signal.lfilter(b, a, x)
    zi = lfiltic(_t(b), _t(a), _t(y[:50][::-1].copy()), _t(x[:50][::-1].copy()))
    y2, _ = lfilter(_t(b), _t(a), _t(x[50:]), zi)
    assert rel_err(y2, y[50:]) < 1e-10


def test_lfiltic_batched_equals_loop():
    rng = np.random.default_rng(6)
    b, a = random_stable_ba(rng, 3)
    ys, xs = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    zi = lfiltic(_t(b), _t(a), _t(ys), _t(xs))
    for i in range(4):
        assert rel_err(zi[i], scipy.signal.lfiltic(b, a, ys[i], xs[i])) < 1e-12


def test_initial_state_gradcheck():
    rng = np.random.default_rng(7)
    b, a = (_t(v, grad=True) for v in random_stable_ba(rng, 3))
    sos = _t(random_stable_sos(rng, 4), grad=True)
    y, x = _t(rng.standard_normal(3), grad=True), _t(rng.standard_normal(2), grad=True)
    assert torch.autograd.gradcheck(lfilter_zi, (b, a))
    assert torch.autograd.gradcheck(sosfilt_zi, (sos,))
    assert torch.autograd.gradcheck(lfiltic, (b, a, y, x))


# ----------------------------------------------------------------------------- zero phase
@FAST
@given(order=st.integers(1, 6), padtype=st.sampled_from(PADTYPES), seed=seeds)
def test_filtfilt_matches_scipy(order, padtype, seed):
    rng = np.random.default_rng(seed)
    b, a = _unnormalised_ba(rng, order)
    x = rng.standard_normal((2, 3, 120))
    y = filtfilt(_t(b), _t(a), _t(x), padtype=padtype)
    assert rel_err(y, scipy.signal.filtfilt(b, a, x, padtype=padtype)) < 1e-9


@FAST
@given(order=st.integers(1, 12), padtype=st.sampled_from(PADTYPES), seed=seeds)
def test_sosfiltfilt_matches_scipy(order, padtype, seed):
    rng = np.random.default_rng(seed)
    sos = random_stable_sos(rng, order)
    x = rng.standard_normal((2, 150))
    y = sosfiltfilt(_t(sos), _t(x), padtype=padtype)
    assert rel_err(y, scipy.signal.sosfiltfilt(sos, x, padtype=padtype)) < 1e-9


@pytest.mark.parametrize("padlen", [0, 1, 7, 99])
@pytest.mark.parametrize("padtype", PADTYPES)
def test_explicit_padlen_matches_scipy(padtype, padlen):
    rng = np.random.default_rng(padlen)
    b, a = random_stable_ba(rng, 3)
    sos = random_stable_sos(rng, 5)
    x = rng.standard_normal(100)
    got = filtfilt(_t(b), _t(a), _t(x), padtype=padtype, padlen=padlen)
    assert rel_err(got, scipy.signal.filtfilt(b, a, x, padtype=padtype, padlen=padlen)) < 1e-9
    got = sosfiltfilt(_t(sos), _t(x), padtype=padtype, padlen=padlen)
    assert rel_err(got, scipy.signal.sosfiltfilt(sos, x, padtype=padtype, padlen=padlen)) < 1e-9


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_sosfiltfilt_default_padlen_with_first_order_sections(order):
    """Odd designs end in a first-order section, which shortens scipy's default padding."""
    sos = butter(order, 2000.0, sample_rate=16000, dtype=F64)
    n_sec = sos.shape[0]
    edge = 3 * (2 * n_sec + 1 - (order % 2))
    x = np.random.default_rng(order).standard_normal(edge + 1)  # the shortest x allowed
    assert rel_err(sosfiltfilt(sos, _t(x)), scipy.signal.sosfiltfilt(sos.numpy(), x)) < 1e-9
    with pytest.raises(ShapeError, match=f"padlen={edge}"):
        sosfiltfilt(sos, _t(x[:-1]))


def test_filtfilt_scalar_coefficients_and_zero_phase():
    rng = np.random.default_rng(8)
    x = rng.standard_normal(64)
    # a pure gain, applied twice (scipy's filtfilt needs len(a) >= 2 here)
    assert rel_err(filtfilt(2.0, 4.0, _t(x)), 0.25 * x) < 1e-12
    got = filtfilt(np.float64(2.0), torch.tensor([4.0, 0.0], dtype=F64), _t(x))
    assert rel_err(got, scipy.signal.filtfilt([2.0], [4.0, 0.0], x)) < 1e-12
    # a symmetric impulse stays centred: zero phase
    imp = torch.zeros(201, dtype=F64)
    imp[100] = 1.0
    h = sosfiltfilt(butter(4, 1000.0, sample_rate=16000, dtype=F64), imp)
    assert rel_err(h, h.flip(0)) < 1e-6


def test_zero_phase_per_batch_filters_equal_loop():
    rng = np.random.default_rng(9)
    sos = np.stack([random_stable_sos(rng, 4) for _ in range(3)])
    bas = [random_stable_ba(rng, 2) for _ in range(3)]
    b, a = _t(np.stack([v[0] for v in bas])), _t(np.stack([v[1] for v in bas]))
    x = rng.standard_normal((3, 90))
    y_sos, y_ba = sosfiltfilt(_t(sos), _t(x)), filtfilt(b, a, _t(x))
    for i in range(3):
        assert rel_err(y_sos[i], scipy.signal.sosfiltfilt(sos[i], x[i])) < 1e-9
        assert rel_err(y_ba[i], scipy.signal.filtfilt(*bas[i], x[i])) < 1e-9


def test_zero_phase_float32():
    rng = np.random.default_rng(10)
    sos = random_stable_sos(rng, 4, max_radius=0.9)
    x = rng.standard_normal((2, 200))
    y = sosfiltfilt(
        torch.from_numpy(sos.astype(np.float32)), torch.from_numpy(x.astype(np.float32))
    )
    assert y.dtype == torch.float32
    assert rel_err(y, scipy.signal.sosfiltfilt(sos, x)) < 1e-4


@pytest.mark.parametrize("padtype", PADTYPES)
def test_zero_phase_gradcheck(padtype):
    rng = np.random.default_rng(11)
    b, a = (_t(v, grad=True) for v in random_stable_ba(rng, 2, max_radius=0.7))
    sos = _t(random_stable_sos(rng, 4, max_radius=0.7), grad=True)
    x = _t(rng.standard_normal((2, 25)), grad=True)
    assert torch.autograd.gradcheck(lambda b, a, x: filtfilt(b, a, x, padtype=padtype), (b, a, x))
    assert torch.autograd.gradcheck(lambda s, x: sosfiltfilt(s, x, padtype=padtype), (sos, x))


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: filtfilt([1.0], [1.0, -0.5], torch.ones(6)), ShapeError, "padlen=6"),
        (lambda: filtfilt([1.0], [1.0], torch.ones(9), padtype="odd", padlen=9), ShapeError, "9"),
        (lambda: filtfilt([1.0], [1.0], torch.ones(9), padtype="zero"), InputError, "padtype"),
        (lambda: filtfilt([1.0], [1.0], torch.ones(9), padlen=-1), InputError, "padlen"),
        (lambda: filtfilt([1.0], [1.0], torch.ones(9), padlen=2.5), InputError, "padlen"),
        (lambda: filtfilt([1.0], [0.0, 1.0], torch.ones(9)), InputError, "a0 != 0"),
        (lambda: filtfilt([1.0], [1.0, -1.5], torch.ones(20)), UnstableFilterError, "pole"),
        (lambda: sosfiltfilt(torch.ones(2, 5), torch.ones(50)), ShapeError, r"\(2, 5\)"),
        (lambda: lfilter_zi([1.0], [1.0, -1.0]), UnstableFilterError, "z = 1"),
        (lambda: sosfilt_zi([[1.0, 0, 0, 1.0, -2.0, 1.0]]), UnstableFilterError, "z = 1"),
        (lambda: lfiltic([1.0], [0.0, 1.0], [1.0]), InputError, "a0 != 0"),
        (lambda: lfiltic([1.0], [1.0, 0.5], 1 + 1j), InputError, "complex"),
        (lambda: lfilter_zi([], [1.0]), ShapeError, "at least one coefficient"),
    ],
)
def test_typed_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_padtype_none_needs_no_length():
    x = torch.tensor([1.0, 2.0], dtype=F64)
    ref = scipy.signal.filtfilt([0.5], [1.0, -0.5], x.numpy(), padtype=None)
    assert rel_err(filtfilt([0.5], [1.0, -0.5], x, padtype=None), ref) < 1e-12
