"""Conversions tf / zpk / sos / ss: scipy references, round trips by response, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings

from dsp_rnn.errors import InputError, NonFiniteError, ShapeError
from dsp_rnn.filters import (
    cheby2,
    ellip,
    freqz,
    sos2ss,
    sos2tf,
    sos2zpk,
    sosfilt,
    sosfreqz,
    ss2sos,
    ss2tf,
    tf2sos,
    tf2ss,
    tf2zpk,
    zpk2sos,
    zpk2tf,
)

from .conftest import (
    check_sos,
    orders,
    random_stable_ba,
    random_stable_sos,
    random_stable_zpk,
    seeds,
    sos_response_np,
)

FAST = settings(max_examples=25, deadline=None, derandomize=True)
F64 = torch.float64


def rel_err(got, want) -> float:
    """||got - want|| / ||want||, complex-aware (the conftest helper drops imaginary parts)."""
    g = torch.as_tensor(np.asarray(got.detach() if torch.is_tensor(got) else got)).to(
        torch.complex128
    )
    w = torch.as_tensor(np.asarray(want.detach() if torch.is_tensor(want) else want))
    w = w.to(torch.complex128)
    return float((g - w).norm() / w.norm().clamp_min(1e-300))


def _t(x):
    return torch.as_tensor(np.asarray(x), dtype=F64)


def _match_roots(got, want, tol):
    """Greedy nearest matching of two root sets; returns the largest distance."""
    got, want = list(np.asarray(got, dtype=complex)), list(np.asarray(want, dtype=complex))
    assert len(got) == len(want)
    worst = 0.0
    for w in want:
        i = int(np.argmin([abs(g - w) for g in got]))
        worst = max(worst, abs(got.pop(i) - w) / max(1.0, abs(w)))
    assert worst < tol, worst
    return worst


def _ss_impulse(A, B, C, D, n):
    A, B, C, D = (t.double() for t in (A, B, C, D))
    x = torch.zeros(A.shape[-1], 1, dtype=F64)
    out = []
    for k in range(n):
        u = 1.0 if k == 0 else 0.0
        out.append(float(C @ x + D * u))
        x = A @ x + B * u
    return np.array(out)


def _zpk_response(z, p, k, w):
    e = np.exp(1j * np.asarray(w))
    return (
        k
        * np.prod(e[:, None] - np.asarray(z)[None], -1)
        / np.prod(e[:, None] - np.asarray(p)[None], -1)
    )


# ----------------------------------------------------------------------------- tf <-> sos
@FAST
@given(order=orders, seed=seeds)
def test_tf2sos_equals_scipy_and_round_trips(order, seed):
    b, a = random_stable_ba(np.random.default_rng(seed), order)
    sos = tf2sos(_t(b), _t(a))
    np.testing.assert_allclose(sos.numpy(), scipy.signal.tf2sos(b, a), rtol=1e-12, atol=1e-13)
    b2, a2 = sos2tf(sos)  # tf -> sos -> tf: same response
    h_ref = freqz(_t(b), _t(a), n_freqs=256)[1]
    assert rel_err(freqz(b2, a2, n_freqs=256)[1], h_ref) < 1e-8


@FAST
@given(order=orders, seed=seeds)
def test_sos2tf_equals_scipy(order, seed):
    sos = random_stable_sos(np.random.default_rng(seed), order)
    b, a = sos2tf(_t(sos))
    b_ref, a_ref = scipy.signal.sos2tf(sos)
    assert rel_err(b, b_ref) < 1e-13 and rel_err(a, a_ref) < 1e-13


def test_sos2tf_normalises_a0_and_batches():
    rng = np.random.default_rng(0)
    sos = np.stack([random_stable_sos(rng, 6) for _ in range(3)])  # (3, 3, 6)
    scaled = sos * rng.uniform(0.5, 2.0, size=(3, 3, 1))  # a0 != 1
    b, a = sos2tf(_t(scaled))
    assert b.shape == (3, 7) and a.shape == (3, 7)
    for i in range(3):
        b_ref, a_ref = scipy.signal.sos2tf(sos[i])
        assert rel_err(b[i], b_ref) < 1e-13 and rel_err(a[i], a_ref) < 1e-13


def test_tf2sos_keeps_delay_of_leading_zeros():
    b, a = [0.0, 0.0, 1.0, 0.5], [1.0, -0.5]
    sos = tf2sos(b, a)
    x = np.zeros(16)
    x[0] = 1.0
    want = scipy.signal.lfilter(b, a, x)
    assert want[:2].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(scipy.signal.sosfilt(sos.numpy(), x), want, atol=1e-14)


# ----------------------------------------------------------------------------- tf <-> zpk
@FAST
@given(order=orders, seed=seeds)
def test_tf2zpk_and_zpk2tf_equal_scipy(order, seed):
    b, a = random_stable_ba(np.random.default_rng(seed), order)
    z, p, k = tf2zpk(_t(b), _t(a))
    z_ref, p_ref, k_ref = scipy.signal.tf2zpk(b, a)
    _match_roots(z.numpy(), z_ref, 1e-9)
    _match_roots(p.numpy(), p_ref, 1e-9)
    assert float(k) == pytest.approx(k_ref, rel=1e-13)
    b2, a2 = zpk2tf(torch.from_numpy(z_ref), torch.from_numpy(p_ref), k_ref)
    b_ref, a_ref = scipy.signal.zpk2tf(z_ref, p_ref, k_ref)
    assert rel_err(b2, np.real(b_ref)) < 1e-12 and rel_err(a2, np.real(a_ref)) < 1e-12


def test_zpk2tf_pads_zeros_at_infinity_as_delay():
    b, a = zpk2tf([], [0.5, -0.25], 2.0)  # H = 2 / ((z - 0.5)(z + 0.25)) = 2 z^-2 / (...)
    np.testing.assert_allclose(b.numpy(), [0.0, 0.0, 2.0], atol=1e-15)
    np.testing.assert_allclose(a.numpy(), [1.0, -0.25, -0.125], atol=1e-15)
    z, p, k = tf2zpk(b, a)  # and back: no zeros, both poles, same gain
    assert z.numel() == 0 and float(k) == 2.0
    _match_roots(p.numpy(), [0.5, -0.25], 1e-12)


# ----------------------------------------------------------------------------- zpk <-> sos
@FAST
@given(order=orders, seed=seeds)
def test_zpk2sos_equals_scipy_and_zpk_round_trip(order, seed):
    z, p, k = random_stable_zpk(np.random.default_rng(seed), order)
    sos = zpk2sos(torch.from_numpy(z.astype(complex)), torch.from_numpy(p.astype(complex)), k)
    np.testing.assert_allclose(sos.numpy(), scipy.signal.zpk2sos(z, p, k), rtol=1e-12, atol=1e-13)
    z2, p2, k2 = sos2zpk(sos)  # zpk -> sos -> zpk (odd orders gain a pole-zero pair at 0)
    pad = [0.0] * (order % 2)
    _match_roots(z2.numpy(), np.concatenate([z, pad]), 1e-7)
    _match_roots(p2.numpy(), np.concatenate([p, pad]), 1e-7)
    assert float(k2) == pytest.approx(k, rel=1e-12)
    z_ref, p_ref, k_ref = scipy.signal.sos2zpk(sos.numpy())
    _match_roots(z2.numpy(), z_ref, 1e-9)
    _match_roots(p2.numpy(), p_ref, 1e-9)
    assert float(k2) == pytest.approx(k_ref, rel=1e-12)


def test_zpk2sos_with_fewer_zeros_is_exact():
    z, p, k = [-0.5], [0.9, 0.2 + 0.4j, 0.2 - 0.4j], 0.7
    sos = zpk2sos(z, p, k)
    w = np.linspace(0.01, 3.1, 64)
    _, h = sosfreqz(sos, freqs=torch.from_numpy(w))
    assert rel_err(h, _zpk_response(z, p, k, w)) < 1e-12
    z2, p2, k2 = sos2zpk(sos)  # zeros at infinity are not reported; the odd order adds a
    _match_roots(z2.numpy(), z + [0.0], 1e-12)  # pole-zero pair at the origin
    _match_roots(p2.numpy(), p + [0.0], 1e-12)
    assert float(k2) == pytest.approx(k)


# ----------------------------------------------------------------------------- state space
@FAST
@given(order=orders, seed=seeds)
def test_tf2ss_and_ss2tf_equal_scipy(order, seed):
    b, a = random_stable_ba(np.random.default_rng(seed), order)
    A, B, C, D = tf2ss(_t(b), _t(a))
    for got, want in zip((A, B, C, D), scipy.signal.tf2ss(b, a), strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-13)
    b2, a2 = ss2tf(A, B, C, D)
    b_ref, a_ref = scipy.signal.ss2tf(*(t.numpy() for t in (A, B, C, D)))
    assert rel_err(b2, b_ref[0]) < 1e-12 and rel_err(a2, a_ref) < 1e-12
    assert rel_err(b2, b) < 1e-7 and rel_err(a2, a) < 1e-7  # tf -> ss -> tf


@FAST
@given(order=orders, seed=seeds)
def test_sos2ss_impulse_response_equals_sosfilt(order, seed):
    sos = random_stable_sos(np.random.default_rng(seed), order)
    A, B, C, D = sos2ss(_t(sos))
    n = 2 * sos.shape[0]
    assert A.shape == (n, n) and B.shape == (n, 1) and C.shape == (1, n) and D.shape == (1, 1)
    delta = np.zeros(200)
    delta[0] = 1.0
    h = _ss_impulse(A, B, C, D, 200)
    assert rel_err(h, scipy.signal.sosfilt(sos, delta)) < 1e-12
    assert rel_err(h, sosfilt(_t(sos), _t(delta))) < 1e-12
    _match_roots(torch.linalg.eigvals(A).numpy(), scipy.signal.sos2zpk(sos)[1], 1e-6)


@FAST
@given(order=orders, seed=seeds)
def test_sos_ss_sos_round_trip_by_response(order, seed):
    sos = random_stable_sos(np.random.default_rng(seed), order)
    back = ss2sos(*sos2ss(_t(sos)))
    assert (back[:, 3] == 1).all()
    h = sosfreqz(_t(sos), n_freqs=512)[1]
    assert rel_err(sosfreqz(back, n_freqs=512)[1], h) < 1e-7


@pytest.mark.parametrize(
    "sos",
    [
        ellip(12, 0.5, 80.0, 1000.0, sample_rate=48000, dtype=F64),
        cheby2(12, 60.0, 1000.0, sample_rate=48000, dtype=F64),
        ellip(10, 0.5, 80.0, (500.0, 900.0), btype="bandpass", sample_rate=48000, dtype=F64),
    ],
)
def test_high_order_sos_ss_sos_stays_accurate(sos):
    # 20-24 poles crowded near z = 1: scipy's route (ss2tf then tf2sos) is off by 3-130 %
    back = ss2sos(*sos2ss(sos))
    h = sosfreqz(sos, n_freqs=2048)[1]
    assert rel_err(sosfreqz(back, n_freqs=2048)[1], h) < 1e-8


def test_ss2sos_strictly_proper_system():
    # D = 0 and C B = 0: a delay of two samples in front of a one-pole filter
    A = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.5]], dtype=F64)
    B = torch.tensor([[1.0], [0.0], [0.0]], dtype=F64)
    C = torch.tensor([[0.0, 0.0, 2.0]], dtype=F64)
    D = torch.zeros(1, 1, dtype=F64)
    sos = ss2sos(A, B, C, D)
    delta = np.zeros(40)
    delta[0] = 1.0
    want = _ss_impulse(A, B, C, D, 40)
    assert want[:2].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(scipy.signal.sosfilt(sos.numpy(), delta), want, atol=1e-12)


def test_tf2ss_and_sos2ss_batch_like_single():
    rng = np.random.default_rng(3)
    sos = np.stack([random_stable_sos(rng, 5) for _ in range(4)])
    A, B, C, D = sos2ss(_t(sos))
    assert A.shape == (4, 6, 6)
    for i in range(4):
        for got, want in zip((A, B, C, D), sos2ss(_t(sos[i])), strict=True):
            torch.testing.assert_close(got[i], want, rtol=0, atol=0)
    bs, as_ = sos2tf(_t(sos))
    A2 = tf2ss(bs, as_)[0]
    assert A2.shape == (4, 6, 6)
    torch.testing.assert_close(A2[2], tf2ss(bs[2], as_[2])[0], rtol=0, atol=0)


# ----------------------------------------------------------------------------- gradients
def test_torch_conversions_gradcheck():
    rng = np.random.default_rng(7)
    sos = _t(random_stable_sos(rng, 5)).requires_grad_()
    assert torch.autograd.gradcheck(lambda s: sos2tf(s), (sos,))
    assert torch.autograd.gradcheck(lambda s: sos2ss(s), (sos,))
    b = _t(rng.standard_normal(4)).requires_grad_()
    a = _t([1.0, -0.3, 0.2]).requires_grad_()
    assert torch.autograd.gradcheck(lambda bb, aa: tf2ss(bb, aa), (b, a))
    z = _t([0.3, -0.8]).requires_grad_()
    p = _t([0.5, -0.1, 0.2]).requires_grad_()
    k = _t(1.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda zz, pp, kk: zpk2tf(zz, pp, kk), (z, p, k))


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: tf2sos([1.0, 0.5], [0.0, 1.0]), InputError, "a0 != 0"),
        (lambda: tf2ss([1.0], [0.0, 1.0]), InputError, "a0 != 0"),
        (lambda: tf2zpk([1.0], [0.0, 1.0]), InputError, "a0 != 0"),
        (lambda: sos2tf([[1.0, 0.0, 0.0, 0.0, 0.5, 0.0]]), InputError, r"a0 == 0 .*\(0,\)"),
        (lambda: sos2ss([[1, 0, 0, 1, 0, 0], [1, 0, 0, 0, 0, 0]]), InputError, r"\(1,\)"),
        (lambda: tf2sos([1.0, float("nan")], [1.0]), NonFiniteError, "b"),
        (lambda: sos2tf([[1.0, 0.0, 0.0, 1.0, float("inf"), 0.0]]), NonFiniteError, "sos"),
        (lambda: sos2tf(torch.ones(2, 5)), ShapeError, r"\(2, 5\)"),
        (lambda: sos2ss(torch.ones(6)), ShapeError, "sos"),
        (lambda: sos2zpk(torch.ones(2, 2, 6)), ShapeError, "one filter"),
        (lambda: tf2sos(torch.ones(2, 3), torch.ones(3)), ShapeError, "one filter"),
        (lambda: tf2sos([1.0], [1.0, 0.5], pairing="best"), InputError, "pairing"),
        (lambda: zpk2tf([0.1, 0.2], [0.5], 1.0), InputError, "more zeros"),
        (lambda: zpk2tf([0.1 + 0.2j], [0.5], 1.0), InputError, "conjugate"),
        (lambda: zpk2sos([0.1 + 0.2j], [0.5], 1.0), InputError, "conjugate"),
        (lambda: zpk2sos([float("nan")], [0.5], 1.0), NonFiniteError, "z"),
        (lambda: ss2tf(torch.eye(2), torch.ones(2, 1), torch.ones(1, 3), 0.0), ShapeError, "C"),
        (
            lambda: ss2sos(torch.ones(2, 3), torch.ones(2, 1), torch.ones(1, 2), 0.0),
            ShapeError,
            "A",
        ),
    ],
)
def test_typed_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ----------------------------------------------------------------------------- a0 == 1 always
# (the designs' a0 == 1: tests/test_design.py)
PAIRINGS = [None, "nearest", "keep_odd", "minimal"]
W = np.linspace(0.01, np.pi - 0.01, 64)


def _sos_response(sos):
    return sosfreqz(_t(sos), freqs=_t(W))[1].numpy()


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("n_p", [1, 2, 3, 4, 5, 6])
def test_zpk2sos_a0_is_one_and_response_is_exact(pairing, n_p):
    rng = np.random.default_rng(10 * n_p)
    for n_z in range(n_p + 1):  # every count of zeros, down to none
        for _ in range(3):
            z = random_stable_zpk(rng, n_z)[0] if n_z else np.zeros(0)
            p = random_stable_zpk(rng, n_p)[1]
            k = float(rng.uniform(0.5, 2.0))
            sos = zpk2sos(z, p, k, pairing=pairing)
            check_sos(sos)
            assert sos.shape[0] == max((n_p + 1) // 2, 1)
            assert rel_err(_sos_response(sos), _zpk_response(z, p, k, W)) < 1e-9
            # scipy's own sections: the same system up to the zeros it adds at the origin
            try:
                ref = sos_response_np(scipy.signal.zpk2sos(z, p, k, pairing=pairing), W)
            except IndexError:  # scipy's 'minimal' fails on some root sets; ours does not
                assert pairing == "minimal"
                continue
            delay = 0 if pairing == "minimal" else n_p - n_z
            assert rel_err(_sos_response(sos), ref * np.exp(-1j * W * delay)) < 1e-9


@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize(("n_b", "n_a"), [(1, 2), (2, 4), (3, 2), (4, 4), (5, 3), (6, 1), (2, 5)])
def test_tf2sos_a0_is_one_for_longer_b_or_longer_a(pairing, n_b, n_a):
    """More zeros than poles (b longer) and the reverse, odd and even orders."""
    rng = np.random.default_rng(n_b * 10 + n_a)
    for delay in (0, 1):
        b = np.concatenate([np.zeros(delay), rng.standard_normal(n_b)])
        _, a = random_stable_ba(rng, n_a - 1) if n_a > 1 else (None, np.ones(1))
        sos = tf2sos(b, a * 2.0, pairing=pairing)
        check_sos(sos)
        want = scipy.signal.freqz(b, a * 2.0, worN=W)[1]
        assert rel_err(_sos_response(sos), want) < 1e-8


@pytest.mark.filterwarnings("ignore::scipy.signal.BadCoefficients")  # scipy's tf2ss, b0 == 0
@pytest.mark.parametrize("pairing", PAIRINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_ss2sos_a0_is_one(pairing, order):
    rng = np.random.default_rng(order)
    b, a = random_stable_ba(rng, order)
    for bb in (b, np.concatenate([[0.0], b[:-1]])):  # proper and strictly proper
        A, B, C, D = scipy.signal.tf2ss(bb, a)
        sos = ss2sos(A, B, C, D, pairing=pairing)
        check_sos(sos)
        assert rel_err(_sos_response(sos), scipy.signal.freqz(bb, a, worN=W)[1]) < 1e-8


# ----------------------------------------------------------------------------- typed input errors
@pytest.mark.parametrize(
    "k", [1 + 2j, np.complex128(0.5 - 0.1j), torch.tensor(1 + 1j), np.array([2.0 + 1e-3j])]
)
@pytest.mark.parametrize("convert", [zpk2tf, zpk2sos])
def test_complex_gain_is_a_typed_error(convert, k):
    with pytest.raises(InputError, match=r"k: expected a real gain.*complex"):
        convert([-1.0], [0.5], k)


@pytest.mark.parametrize("k", [2 + 0j, np.complex128(2.0), torch.tensor(2 + 0j)])
def test_complex_gain_with_zero_imaginary_part_is_real(k):
    b, a = zpk2tf([-1.0], [0.5], k)
    b_ref, a_ref = scipy.signal.zpk2tf([-1.0], [0.5], 2.0)
    assert rel_err(b, b_ref) < 1e-12 and rel_err(a, a_ref) < 1e-12
    assert rel_err(zpk2sos([-1.0], [0.5], k), zpk2sos([-1.0], [0.5], 2.0)) < 1e-12


_BAD = {
    "complex": 1 + 2j,
    "complex array": np.array([1.0 + 1j, 0.5]),
    "complex tensor": torch.tensor([1.0 + 1j, 0.5]),
    "string": "1.0",
    "none": None,  # None is a valid pairing (the default), an error elsewhere
    "dict": {"b": 1.0},
    "ragged": [[1.0, 2.0], [3.0]],
    "mixed": [1.0, "x"],
    "bool": True,
}
_CONVERTERS = {
    "tf2sos b": lambda v: tf2sos(v, [1.0, -0.5]),
    "tf2sos a": lambda v: tf2sos([1.0, 0.5], v),
    "tf2sos pairing": lambda v: tf2sos([1.0, 0.5], [1.0, -0.5], pairing=v),
    "sos2tf": sos2tf,
    "tf2zpk b": lambda v: tf2zpk(v, [1.0, -0.5]),
    "tf2zpk a": lambda v: tf2zpk([1.0], v),
    "zpk2tf z": lambda v: zpk2tf(v, [0.5, 0.2], 1.0),
    "zpk2tf p": lambda v: zpk2tf([0.5], v, 1.0),
    "zpk2tf k": lambda v: zpk2tf([0.5], [0.3], v),
    "zpk2sos z": lambda v: zpk2sos(v, [0.5, 0.2], 1.0),
    "zpk2sos p": lambda v: zpk2sos([0.5], v, 1.0),
    "zpk2sos k": lambda v: zpk2sos([0.5], [0.3], v),
    "zpk2sos pairing": lambda v: zpk2sos([0.5], [0.3], 1.0, pairing=v),
    "sos2zpk": sos2zpk,
    "tf2ss b": lambda v: tf2ss(v, [1.0, -0.5]),
    "ss2tf A": lambda v: ss2tf(v, [[1.0]], [[1.0]], [[0.0]]),
    "ss2tf D": lambda v: ss2tf([[0.5]], [[1.0]], [[1.0]], v),
    "sos2ss": sos2ss,
    "ss2sos B": lambda v: ss2sos([[0.5]], v, [[1.0]], [[0.0]]),
    "ss2sos pairing": lambda v: ss2sos([[0.5]], [[1.0]], [[1.0]], [[0.0]], pairing=v),
}


@pytest.mark.parametrize("bad", list(_BAD))
@pytest.mark.parametrize("where", list(_CONVERTERS))
def test_wrong_types_are_typed_errors(where, bad):
    """Complex where real is needed, non-numbers, ragged lists: InputError, never TypeError."""
    value = _BAD[bad]
    if where.endswith("pairing") and bad == "string":
        value = "1.0"  # a string, but not a pairing
    try:
        _CONVERTERS[where](value)
    except InputError as exc:
        assert str(exc)  # a message
    except Exception as exc:  # anything else is the defect this test is about
        pytest.fail(f"{where} with {bad}: {type(exc).__name__}: {exc}")
    else:
        # only the forms that are numbers to scipy too may pass
        assert where.endswith("pairing") and bad == "none", (where, bad)


def test_minimal_pairing_where_scipy_fails():
    """Two real poles meet a real zero while only complex zeros are left."""
    z = [0.9, 0.5 + 0.5j, 0.5 - 0.5j]
    p = [0.8, 0.7, 0.1, 0.2]
    with pytest.raises(IndexError):
        scipy.signal.zpk2sos(z, p, 1.0, pairing="minimal")
    sos = zpk2sos(z, p, 1.0, pairing="minimal")
    check_sos(sos)
    assert sos.shape == (2, 6)
    assert rel_err(_sos_response(sos), _zpk_response(z, p, 1.0, W)) < 1e-12


def test_d_of_wrong_size_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"D: expected one value"):
        ss2tf([[0.5]], [[1.0]], [[1.0]], [1.0, 2.0])
