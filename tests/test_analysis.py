"""Analysis: freqz / sosfreqz / group_delay vs scipy, impulse responses, poles, stability."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp_rnn.errors import InputError, NonFiniteError, ShapeError, UnstableFilterError
from dsp_rnn.filters import (
    butter,
    check_stable,
    freqz,
    group_delay,
    impulse_response,
    is_stable,
    poles,
    sosfreqz,
    zeros,
)

FAST = settings(max_examples=25, deadline=None, derandomize=True)
F64 = torch.float64


def rel_err(got, want) -> float:
    """||got - want|| / ||want||, complex-aware."""
    g = torch.as_tensor(np.asarray(got.detach() if torch.is_tensor(got) else got))
    w = torch.as_tensor(np.asarray(want.detach() if torch.is_tensor(want) else want))
    g, w = g.to(torch.complex128), w.to(torch.complex128)
    return float((g - w).norm() / w.norm().clamp_min(1e-300))


def _assert_roots_match(got, want, tol):
    got, want = list(np.asarray(got, dtype=complex)), list(np.asarray(want, dtype=complex))
    assert len(got) == len(want)
    for w in want:
        i = int(np.argmin([abs(g - w) for g in got]))
        assert abs(got.pop(i) - w) < tol * max(1.0, abs(w))


@st.composite
def stable_filters(draw, max_order: int = 12):
    """A real filter of order 1..12 as (z, p, k): poles inside radius 0.95, zeros off the
    unit circle (|r - 1| >= 0.05, so the group delay is defined everywhere)."""
    order = draw(st.integers(1, max_order))

    def roots(kind):
        out = []
        while len(out) < order:
            if kind == "p":
                r = draw(st.floats(0.0, 0.95, allow_subnormal=False))
            else:
                r = draw(
                    st.one_of(
                        st.floats(0.0, 0.95, allow_subnormal=False),
                        st.floats(1.05, 1.6, allow_subnormal=False),
                    )
                )
            if order - len(out) >= 2 and draw(st.booleans()):
                w = draw(st.floats(0.05, math.pi - 0.05))
                out += [
                    r * complex(math.cos(w), math.sin(w)),
                    r * complex(math.cos(w), -math.sin(w)),
                ]
            else:
                out.append(complex(r * draw(st.sampled_from([-1.0, 1.0])), 0.0))
        return np.array(out)

    k = draw(st.floats(0.1, 3.0))
    return roots("z"), roots("p"), k


def _ba(z, p, k):
    b, a = scipy.signal.zpk2tf(z, p, k)
    return np.real(b), np.real(a)


# ----------------------------------------------------------------------------- vs scipy
@FAST
@given(filt=stable_filters(), n=st.integers(1, 700), whole=st.booleans())
def test_freqz_equals_scipy(filt, n, whole):
    b, a = _ba(*filt)
    w, h = freqz(torch.from_numpy(b), torch.from_numpy(a), n_freqs=n, whole=whole)
    w_ref, h_ref = scipy.signal.freqz(b, a, worN=n, whole=whole)
    np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-14, atol=1e-14)
    assert rel_err(h, h_ref) < 1e-10


@FAST
@given(filt=stable_filters(), whole=st.booleans())
def test_sosfreqz_equals_scipy(filt, whole):
    sos = scipy.signal.zpk2sos(*filt)
    f, h = sosfreqz(torch.from_numpy(sos), n_freqs=384, whole=whole, sample_rate=44100)
    f_ref, h_ref = scipy.signal.sosfreqz(sos, worN=384, whole=whole, fs=44100)
    np.testing.assert_allclose(f.numpy(), f_ref, rtol=1e-13)
    assert rel_err(h, h_ref) < 1e-10


@FAST
@given(filt=stable_filters())
def test_group_delay_equals_scipy_for_tf_and_sos(filt):
    b, a = _ba(*filt)
    w, gd = group_delay((torch.from_numpy(b), torch.from_numpy(a)), n_freqs=256)
    w_ref, gd_ref = scipy.signal.group_delay((b, a), w=256)
    np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-14)
    scale = max(1.0, float(np.abs(gd_ref).max()))
    np.testing.assert_allclose(gd.numpy(), gd_ref, rtol=1e-7, atol=1e-7 * scale)
    sos = scipy.signal.zpk2sos(*filt)  # the cascade's delay is the sum of its sections'
    _, gd_sos = group_delay(torch.from_numpy(sos), n_freqs=256)
    np.testing.assert_allclose(gd_sos.numpy(), gd_ref, rtol=1e-7, atol=1e-7 * scale)


def test_explicit_frequencies_in_hz_and_rad():
    b, a = scipy.signal.butter(3, 0.2)
    f_hz = np.array([0.0, 100.0, 2500.0, 7999.0])
    f, h = freqz(torch.from_numpy(b), torch.from_numpy(a), freqs=f_hz, sample_rate=16000)
    _, h_ref = scipy.signal.freqz(b, a, worN=f_hz, fs=16000)
    assert f.tolist() == f_hz.tolist() and rel_err(h, h_ref) < 1e-12
    w = torch.tensor([0.1, 1.0, 3.0], dtype=F64)
    _, h2 = freqz(torch.from_numpy(b), torch.from_numpy(a), freqs=w)
    assert rel_err(h2, scipy.signal.freqz(b, a, worN=w.numpy())[1]) < 1e-12
    _, gd = group_delay((torch.from_numpy(b), torch.from_numpy(a)), freqs=w)
    assert rel_err(gd, scipy.signal.group_delay((b, a), w=w.numpy())[1]) < 1e-10


def test_group_delay_of_pure_delay_and_singular_points():
    _, gd = group_delay((torch.tensor([0.0, 0.0, 0.0, 2.0]), torch.tensor([1.0])), n_freqs=8)
    torch.testing.assert_close(gd, torch.full((8,), 3.0), rtol=0, atol=1e-6)
    # a zero on the unit circle at w = pi/2: undefined there, 0 like scipy
    w = torch.tensor([math.pi / 2, 1.0], dtype=F64)
    _, gd = group_delay((torch.tensor([1.0, 0.0, 1.0], dtype=F64), torch.tensor([1.0])), freqs=w)
    assert gd[0].item() == 0.0 and gd[1].item() == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------- batches, dtypes
def test_freqz_batch_equals_single_and_float32_close():
    rng = np.random.default_rng(1)
    b = torch.from_numpy(rng.standard_normal((2, 3, 5)))
    a = torch.tensor([1.0, -0.4, 0.3], dtype=F64)
    _, h = freqz(b, a, n_freqs=64)
    assert h.shape == (2, 3, 64) and h.dtype == torch.complex128
    for i in range(2):
        for j in range(3):
            assert rel_err(h[i, j], freqz(b[i, j], a, n_freqs=64)[1]) < 1e-14
    _, h32 = freqz(b.float(), a.float(), n_freqs=64)
    assert h32.dtype == torch.complex64 and rel_err(h32, h) < 1e-5
    sos = torch.from_numpy(np.stack([scipy.signal.butter(4, c, output="sos") for c in (0.1, 0.5)]))
    _, hs = sosfreqz(sos, n_freqs=32)
    assert rel_err(hs[1], sosfreqz(sos[1], n_freqs=32)[1]) < 1e-14


# ----------------------------------------------------------------------------- gradients
def test_responses_gradcheck():
    rng = np.random.default_rng(2)
    b = torch.from_numpy(rng.standard_normal(4)).requires_grad_()
    a = torch.tensor([1.0, -0.5, 0.2], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda bb, aa: freqz(bb, aa, n_freqs=16)[1], (b, a))
    sos = torch.from_numpy(scipy.signal.butter(4, 0.3, output="sos")).requires_grad_()
    assert torch.autograd.gradcheck(lambda s: sosfreqz(s, n_freqs=16)[1], (sos,))
    assert torch.autograd.gradcheck(lambda s: group_delay(s, n_freqs=16)[1], (sos,))
    w = torch.tensor([0.3, 1.2], dtype=F64, requires_grad=True)  # d|H|/dw exists too
    assert torch.autograd.gradcheck(lambda ww: freqz(b.detach(), a.detach(), freqs=ww)[1], (w,))


# ----------------------------------------------------------------------------- delegation
class _Network:
    def __init__(self):
        self.calls = []

    def freqz(self, *, n_freqs=512, whole=False, sample_rate=None):
        self.calls.append((n_freqs, whole, sample_rate))
        f = torch.arange(n_freqs, dtype=F64)
        return f, torch.ones(n_freqs, dtype=torch.complex128) * (2.0 if whole else 1.0)


def test_freqz_delegates_to_objects_with_a_freqz_method():
    net = _Network()
    f, h = freqz(net, n_freqs=7, whole=True, sample_rate=8000)
    assert net.calls == [(7, True, 8000)]
    assert f.shape == (7,) and h.abs().tolist() == [2.0] * 7
    with pytest.raises(InputError, match="a: must be left at 1"):
        freqz(net, 0.5)


# ----------------------------------------------------------------------------- impulse responses
def test_impulse_response_equals_scipy():
    rng = np.random.default_rng(4)
    sos = scipy.signal.zpk2sos(*scipy.signal.butter(6, 0.25, output="zpk"))
    delta = np.zeros(300)
    delta[0] = 1.0
    h = impulse_response(torch.from_numpy(sos), 300)
    assert h.shape == (300,) and rel_err(h, scipy.signal.sosfilt(sos, delta)) < 1e-12
    b, a = rng.standard_normal(3), np.array([1.0, -1.2, 0.5])
    h = impulse_response((torch.from_numpy(b), torch.from_numpy(a)), 300)
    assert rel_err(h, scipy.signal.lfilter(b, a, delta)) < 1e-12
    batch = torch.from_numpy(np.stack([sos, sos * [1, 1, 1, 1, 1, 1]]))
    assert impulse_response(batch, 50).shape == (2, 50)
    with pytest.raises(InputError, match="n_samples=0"):
        impulse_response(torch.from_numpy(sos), 0)


# ----------------------------------------------------------------------------- poles, zeros
@FAST
@given(filt=stable_filters())
def test_poles_and_zeros_equal_scipy(filt):
    sos = scipy.signal.zpk2sos(*filt)
    z_ref, p_ref, _ = scipy.signal.sos2zpk(sos)
    # repeated roots (e.g. several zeros at the origin) are only defined to ~sqrt(eps)
    _assert_roots_match(poles(torch.from_numpy(sos)).numpy(), p_ref, 1e-7)
    _assert_roots_match(zeros(torch.from_numpy(sos)).numpy(), z_ref, 1e-7)
    b, a = _ba(*filt)
    tb, ta = torch.from_numpy(b), torch.from_numpy(a)
    _assert_roots_match(poles((tb, ta)).numpy(), np.roots(a), 1e-6)
    _assert_roots_match(zeros((tb, ta)).numpy(), np.roots(b), 1e-6)


def test_zeros_at_infinity_and_batched_poles():
    z = zeros(torch.tensor([[0.0, 1.0, 0.5, 1.0, 0.0, 0.0]], dtype=F64))
    assert sorted(z.real.tolist()) == [-0.5, math.inf]
    z = zeros((torch.tensor([0.0, 2.0, -1.0], dtype=F64), torch.tensor([1.0], dtype=F64)))
    assert sorted(z.real.tolist()) == [0.5, math.inf]
    a = torch.tensor([[1.0, -0.5, 0.0], [1.0, 0.0, 0.81]], dtype=F64)  # batch of two
    p = poles((torch.ones(1, dtype=F64), a))
    assert p.shape == (2, 2)
    torch.testing.assert_close(
        p.abs().sort(-1).values, torch.tensor([[0.0, 0.5], [0.9, 0.9]], dtype=F64)
    )


# ----------------------------------------------------------------------------- stability
def test_is_stable_on_known_cases():
    one = torch.ones(1, dtype=F64)
    assert is_stable((one, torch.tensor([1.0, -0.5])))
    assert not is_stable((one, torch.tensor([1.0, -1.0])))  # pole on the unit circle
    assert not is_stable((one, torch.tensor([1.0, -1.01])))
    assert not is_stable((one, torch.tensor([1.0, -2.5, 1.0])))  # poles 2 and 0.5
    near = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0, 0.99**2]], dtype=F64)  # radius 0.99
    assert is_stable(near) and not is_stable(near, tol=0.02)
    assert is_stable(butter(12, 50.0, sample_rate=48000, dtype=F64))  # poles crowd z = 1
    batch = torch.stack([near, near * torch.tensor([1, 1, 1, 1, 1, 1.03**2 / 0.99**2])])
    assert not is_stable(batch)  # one unstable filter in the batch


def test_check_stable_names_section_and_radius():
    good = torch.tensor([[1.0, 0.0, 0.0, 1.0, -0.5, 0.0]], dtype=F64)
    assert check_stable(good) is None
    bad = torch.tensor(
        [[1.0, 0.0, 0.0, 1.0, -0.5, 0.0], [1.0, 0.0, 0.0, 1.0, 0.0, 1.1025]], dtype=F64
    )  # section 1: poles +-1.05j
    with pytest.raises(UnstableFilterError, match=r"radius 1\.05\) in section \(1,\)"):
        check_stable(bad, name="eq")
    with pytest.raises(UnstableFilterError, match=r"^eq: "):
        check_stable(bad, name="eq")
    with pytest.raises(UnstableFilterError, match=r"radius 0\.5\) in section \(0,\)"):
        check_stable(good, tol=0.6)
    with pytest.raises(UnstableFilterError, match=r"radius 1\.2\) in the denominator a"):
        check_stable((torch.ones(1), torch.tensor([1.0, -1.2])))
    assert issubclass(UnstableFilterError, ValueError)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: freqz([1.0], [0.0, 1.0]), InputError, "a0 != 0"),
        (lambda: freqz([1.0, float("nan")]), NonFiniteError, "b"),
        (lambda: freqz([1.0], n_freqs=0), InputError, "n_freqs=0"),
        (lambda: freqz([1.0], sample_rate=-1.0), InputError, "sample_rate"),
        (lambda: freqz(torch.ones(2, 3), torch.ones(3, 2)), ShapeError, "broadcast"),
        (lambda: sosfreqz(torch.ones(2, 5)), ShapeError, r"\(2, 5\)"),
        (lambda: sosfreqz([[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]), InputError, "a0 == 0"),
        (lambda: poles(torch.ones(6)), ShapeError, "n_sections"),
        (lambda: poles(([1.0], [1.0], [1.0])), InputError, "tuple of 3"),
        (lambda: is_stable(([1.0], [float("inf"), 1.0])), NonFiniteError, "a"),
        (lambda: is_stable(([1.0], [1.0]), tol=1.5), InputError, "tol=1.5"),
        (lambda: group_delay(([1.0], [0.0])), InputError, "a0 != 0"),
    ],
)
def test_typed_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ----------------------------------------------------------------------------- one engine
@pytest.mark.parametrize("whole", [False, True])
@pytest.mark.parametrize("length", [3, 40, 1000])  # shorter and longer than the FFT period
def test_unit_circle_grid_fft_equals_explicit_exponentials(whole, length):
    from dsp_rnn.filters import frequency_grid, unit_circle

    c = torch.randn(2, length, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    grid = frequency_grid(16, whole=whole)
    explicit = frequency_grid(freqs=grid.w)
    assert explicit.n_freqs is None and torch.equal(explicit.w, grid.w)
    for weighted in (False, True):
        fast = unit_circle(c, grid, weighted=weighted)
        slow = unit_circle(c, explicit, weighted=weighted)
        assert (fast - slow).abs().max() < 1e-10 * c.abs().sum() * length


def test_every_response_uses_the_one_grid():
    from dsp_rnn.filters import FDN, SchroederAllpass, frequency_grid

    grid = frequency_grid(64, sample_rate=8000.0)
    ap = SchroederAllpass(7.5, 0.6)
    f_ap, h_ap = ap.freqz(64, sample_rate=8000.0)
    b, a = ap.transfer_function()
    f_tf, h_tf = freqz(b.double(), a.double(), n_freqs=64, sample_rate=8000.0)
    f_fdn, _ = FDN([3, 5]).freqz(64, sample_rate=8000.0)
    for f in (f_ap, f_tf, f_fdn):
        assert torch.equal(f, grid.freqs)
    assert (h_ap - h_tf).abs().max() < 1e-6
    # explicit frequencies reach the allpass modules too
    _, h_at = ap.freqz(sample_rate=8000.0, freqs=grid.freqs[:3])
    assert (h_at - h_ap[:3]).abs().max() < 1e-6
