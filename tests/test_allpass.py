"""Allpass filters: |H| = 1, references against scipy, state/blocks, gradients, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal as ss
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp_rnn.errors import InputError, NonFiniteError, ShapeError, UnstableFilterError
from dsp_rnn.filters.allpass import (
    allpass1,
    allpass1_coeff,
    allpass1_tf,
    allpass2,
    allpass2_tf,
    thiran1_coeff,
)
from dsp_rnn.filters.allpass_modules import Allpass1, Allpass2, NestedAllpass, SchroederAllpass
from dsp_rnn.filters.schroeder import (
    nested_allpass,
    nested_allpass_tf,
    schroeder_allpass,
    schroeder_allpass_tf,
)

F64 = torch.float64
SR = 48000.0
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True)

gains = st.floats(-0.95, 0.95)
int_delays = st.integers(1, 300)
frac_delays = st.floats(1.0, 300.0).filter(lambda m: m != int(m))
any_delays = st.one_of(int_delays, frac_delays)
stage_lists = st.lists(
    st.tuples(st.one_of(st.integers(1, 60), st.floats(1.0, 60.0)), gains), min_size=1, max_size=4
)


def t64(v) -> torch.Tensor:
    return torch.tensor(v, dtype=F64)


def _signal(seed: int, shape) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _assert_unit_magnitude(b: torch.Tensor, a: torch.Tensor) -> None:
    """|H| = 1 within 1e-9 on a 4096-point grid (scipy), and b is a reversed (allpass)."""
    _, h = ss.freqz(b.numpy(), a.numpy(), worN=4096)
    assert np.abs(np.abs(h) - 1).max() < 1e-9
    assert torch.allclose(b, a.flip(-1), rtol=0, atol=1e-14)


def _assert_module_freqz(mod, b: torch.Tensor, a: torch.Tensor) -> None:
    """The module's freqz equals scipy's freqz of the transfer function (half and whole)."""
    for whole in (False, True):
        w_ref, h_ref = ss.freqz(b.numpy(), a.numpy(), worN=4096, whole=whole)
        w, h = mod.freqz(4096, whole=whole)
        np.testing.assert_allclose(w.numpy(), w_ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(h.numpy(), h_ref, rtol=0, atol=1e-9)
        assert float((h.abs() - 1).abs().max()) < 1e-9


# ----------------------------------------------------------------------------- |H| = 1
@SETTINGS
@given(c=gains)
def test_first_order_unit_magnitude(c):
    b, a = allpass1_tf(t64(c))
    _assert_unit_magnitude(b, a)
    _assert_module_freqz(Allpass1(t64(c)), b, a)


@SETTINGS
@given(
    f0=st.floats(20.0, 23000.0), q=st.floats(0.1, 30.0), r=st.floats(0.0, 0.99), use_q=st.booleans()
)
def test_second_order_unit_magnitude(f0, q, r, use_q):
    kw = dict(q=t64(q)) if use_q else dict(radius=t64(r))
    b, a = allpass2_tf(t64(f0), sample_rate=SR, **kw)
    _assert_unit_magnitude(b, a)
    _assert_module_freqz(Allpass2(t64(f0), sample_rate=SR, **kw), b, a)
    _, h = ss.freqz(b.numpy(), a.numpy(), worN=[2 * math.pi * f0 / SR])
    assert abs(h[0] + 1) < 1e-9  # phase -180 degrees at f0


@SETTINGS
@given(m=int_delays, g=gains)
def test_schroeder_integer_unit_magnitude(m, g):
    b, a = schroeder_allpass_tf(delay_samples=m, gain=t64(g))
    assert a.shape == (m + 1,) and float(a[-1]) == -g and float(b[0]) == -g
    _assert_unit_magnitude(b, a)
    _assert_module_freqz(SchroederAllpass(m, t64(g)), b, a)


@SETTINGS
@given(m=frac_delays, g=gains)
def test_schroeder_fractional_unit_magnitude(m, g):
    b, a = schroeder_allpass_tf(delay_samples=m, gain=t64(g))
    assert a.shape[-1] - 1 == max(1, math.floor(m - 0.5)) + 1  # N + 1 (Thiran order 1)
    _assert_unit_magnitude(b, a)
    _assert_module_freqz(SchroederAllpass(m, t64(g)), b, a)


@SETTINGS
@given(stages=stage_lists)
def test_nested_unit_magnitude(stages):
    stages = [(m, t64(g)) for m, g in stages]
    b, a = nested_allpass_tf(stages)
    _assert_unit_magnitude(b, a)
    _assert_module_freqz(NestedAllpass(stages), b, a)


@SETTINGS
@given(m=frac_delays)
def test_fractional_loop_delay_is_exact_at_dc(m):
    # with g = 0 the filter is the loop delay itself: z^-N times the Thiran allpass
    b, a = schroeder_allpass_tf(delay_samples=m, gain=t64(0.0))
    _, gd = ss.group_delay((b.numpy(), a.numpy()), w=[1e-4])
    assert abs(gd[0] - m) < 1e-5


def test_thiran_and_break_frequency_helpers():
    for d in (0.5, 0.9, 1.3):
        c = thiran1_coeff(d)
        _, gd = ss.group_delay(([c, 1.0], [1.0, c]), w=[1e-5])
        assert abs(gd[0] - d) < 1e-8
    f = t64([100.0, 1000.0, 12000.0])
    c = allpass1_coeff(f, sample_rate=SR)
    for ci, fi in zip(c.tolist(), f.tolist(), strict=True):
        _, h = ss.freqz([ci, 1.0], [1.0, ci], worN=[2 * math.pi * fi / SR])
        assert abs(np.angle(h[0]) + math.pi / 2) < 1e-9  # -90 degrees at the break frequency


# ----------------------------------------------------------------------------- time domain
@SETTINGS
@given(m=any_delays, g=gains, seed=st.integers(0, 1000))
def test_schroeder_matches_scipy_lfilter_with_state(m, g, seed):
    b, a = schroeder_allpass_tf(delay_samples=m, gain=t64(g))
    order = a.shape[-1] - 1
    x = _signal(seed, 700)
    zi = _signal(seed + 1, order)
    y_ref, zf_ref = ss.lfilter(b.numpy(), a.numpy(), x, zi=zi)
    y, zf = schroeder_allpass(t64(x), delay_samples=m, gain=t64(g), zi=t64(zi))
    scale = np.abs(y_ref).max()
    np.testing.assert_allclose(y.numpy(), y_ref, rtol=0, atol=1e-11 * scale)
    # the state is scipy's zi for the transfer function (integer, dense and block paths)
    np.testing.assert_allclose(zf.numpy(), zf_ref, rtol=0, atol=1e-11 * scale)


@pytest.mark.parametrize("m", [150, 149.5, 301.25, 1000.7])
def test_long_schroeder_block_path_matches_scipy(m):
    g = t64([0.7, -0.4])  # a batch of two gains
    b, a = schroeder_allpass_tf(delay_samples=m, gain=g)
    x = _signal(3, (2, 3000))
    zi = _signal(4, (2, a.shape[-1] - 1))
    y, zf = schroeder_allpass(t64(x), delay_samples=m, gain=g, zi=t64(zi))
    for i in range(2):
        y_ref, zf_ref = ss.lfilter(b[i].numpy(), a[i].numpy(), x[i], zi=zi[i])
        np.testing.assert_allclose(y[i].numpy(), y_ref, rtol=0, atol=1e-11)
        np.testing.assert_allclose(zf[i].numpy(), zf_ref, rtol=0, atol=1e-11)


@SETTINGS
@given(stages=stage_lists, seed=st.integers(0, 1000))
def test_nested_matches_scipy_lfilter(stages, seed):
    stages = [(m, t64(g)) for m, g in stages]
    b, a = nested_allpass_tf(stages)
    x = _signal(seed, 500)
    y_ref = ss.lfilter(b.numpy(), a.numpy(), x)
    y = nested_allpass(t64(x), stages)  # one-shot: dense lfilter path for small orders
    np.testing.assert_allclose(y.numpy(), y_ref, rtol=0, atol=1e-10 * np.abs(y_ref).max())
    order = a.shape[-1] - 1
    y_blk, _ = nested_allpass(t64(x), stages, zi=torch.zeros(order, dtype=F64))  # block path
    np.testing.assert_allclose(y_blk.numpy(), y_ref, rtol=0, atol=1e-10 * np.abs(y_ref).max())


def test_large_nested_block_path_matches_scipy():
    stages = [(347, t64(0.6)), (113.5, t64(-0.5)), (37, t64(0.4))]  # order 499 > dense limit
    b, a = nested_allpass_tf(stages)
    x = _signal(5, 4000)
    np.testing.assert_allclose(
        nested_allpass(t64(x), stages).numpy(), ss.lfilter(b.numpy(), a.numpy(), x), atol=1e-11
    )


def test_first_and_second_order_match_scipy():
    x = _signal(6, (3, 400))
    c = t64([0.3, -0.7, 0.9])
    y = allpass1(t64(x), c)
    for i in range(3):
        ref = ss.lfilter([c[i].item(), 1.0], [1.0, c[i].item()], x[i])
        np.testing.assert_allclose(y[i].numpy(), ref, atol=1e-13)
    b, a = allpass2_tf(t64(2500.0), sample_rate=SR, q=t64(0.8))
    y2 = allpass2(t64(x), t64(2500.0), sample_rate=SR, q=t64(0.8))
    np.testing.assert_allclose(y2.numpy(), ss.lfilter(b.numpy(), a.numpy(), x), atol=1e-13)


def test_float32_follows_float64():
    x = _signal(7, 2000)
    for m in (7, 7.5, 200.5):
        y64 = schroeder_allpass(t64(x), delay_samples=m, gain=t64(0.6))
        y32 = schroeder_allpass(torch.tensor(x, dtype=torch.float32), delay_samples=m, gain=0.6)
        assert y32.dtype == torch.float32
        assert float((y32.double() - y64).abs().max()) < 1e-5 * float(y64.abs().max())


def test_batch_item_equals_single_item():
    x = t64(_signal(8, (3, 2, 300)))
    g = t64([[0.2], [-0.5], [0.8]])  # (3, 1) gains broadcast over (3, 2) signals
    for m in (5, 5.5):
        y = schroeder_allpass(x, delay_samples=m, gain=g)
        for i in range(3):
            ref = schroeder_allpass(x[i], delay_samples=m, gain=g[i, 0])
            assert torch.allclose(y[i], ref, rtol=0, atol=1e-14)


def test_modules_match_scipy_and_their_order():
    x = t64(_signal(9, 1000))
    for mod in (
        Allpass1.from_break_hz(t64(3000.0), sample_rate=SR),
        Allpass2(t64(1000.0), sample_rate=SR, radius=t64(0.9)),
        SchroederAllpass(201.5, t64(0.7)),
        NestedAllpass([(211, t64(0.5)), (67.5, t64(-0.6))]),
    ):  # streaming (blocks == one shot): tests/test_streaming_protocol.py
        y, s = mod(x)
        assert s.shape == (mod.order,)
        b, a = mod.transfer_function()
        np.testing.assert_allclose(
            y.numpy(), ss.lfilter(b.numpy(), a.numpy(), x.numpy()), atol=1e-11
        )


EMPTY_BLOCK = {  # (filter with state) -> (y, zf); the state's length
    "allpass1": (lambda x, z: allpass1(x, -0.3, z), 1),
    "allpass2": (lambda x, z: allpass2(x, 900.0, sample_rate=SR, q=0.7, zi=z), 2),
    "schroeder_integer": (lambda x, z: schroeder_allpass(x, delay_samples=3, gain=0.6, zi=z), 3),
    "schroeder_fractional": (
        lambda x, z: schroeder_allpass(x, delay_samples=2.5, gain=0.6, zi=z),
        3,
    ),
    "schroeder_long": (
        lambda x, z: schroeder_allpass(x, delay_samples=200.5, gain=0.6, zi=z),
        201,
    ),
    "nested": (lambda x, z: nested_allpass(x, [(3, 0.5), (2.5, -0.3)], zi=z), 6),
    "Allpass1": (lambda x, z: Allpass1(-0.3).double()(x, z), 1),
    "Allpass2": (lambda x, z: Allpass2(900.0, sample_rate=SR, radius=0.8).double()(x, z), 2),
    "SchroederAllpass": (lambda x, z: SchroederAllpass(4, 0.5).double()(x, z), 4),
    "NestedAllpass": (lambda x, z: NestedAllpass([(3, 0.5), (2.5, -0.3)]).double()(x, z), 6),
}


@pytest.mark.parametrize("name", EMPTY_BLOCK)
@pytest.mark.parametrize("batch", [(), (2,), (0,)])
def test_empty_block_gives_empty_output_and_keeps_the_state(name, batch):
    fn, order = EMPTY_BLOCK[name]
    zi = t64(_signal(14, batch + (order,)))
    y, zf = fn(torch.zeros(batch + (0,), dtype=F64), zi)
    assert y.shape == batch + (0,) and y.dtype == F64
    assert torch.equal(zf, zi)


# ----------------------------------------------------------------------------- gradients
# gradcheck of every allpass (x, state, parameters): tests/test_streaming_protocol.py
def test_learnable_module_gradient_matches_functional():
    mod = SchroederAllpass(5.5, t64(0.4), learnable=True)
    x = t64(_signal(13, 200))
    mod(x)[0].pow(2).mean().backward()
    g = t64(0.4).requires_grad_(True)
    schroeder_allpass(x, delay_samples=5.5, gain=g).pow(2).mean().backward()
    assert torch.allclose(mod.gains.grad[0], g.grad) and abs(float(g.grad)) > 1e-6


# ----------------------------------------------------------------------------- errors
def test_typed_errors():
    x = torch.ones(20)
    with pytest.raises(UnstableFilterError, match=r"gain=1\.5"):
        schroeder_allpass(x, delay_samples=3, gain=1.5)
    with pytest.raises(UnstableFilterError, match="gain=-1"):
        schroeder_allpass_tf(delay_samples=3, gain=-1.0)
    with pytest.raises(InputError, match="delay_samples=0.5"):
        schroeder_allpass(x, delay_samples=0.5, gain=0.5)
    with pytest.raises(InputError, match="delay_samples=inf"):
        schroeder_allpass(x, delay_samples=float("inf"), gain=0.5)
    with pytest.raises(NonFiniteError, match="x"):
        schroeder_allpass(torch.tensor([1.0, float("nan")]), delay_samples=3, gain=0.5)
    with pytest.raises(NonFiniteError, match="gain"):
        schroeder_allpass(x, delay_samples=3, gain=float("nan"))
    with pytest.raises(ShapeError, match=r"\(\.\.\., 4\).*got \(3,\)"):
        schroeder_allpass(x, delay_samples=3.7, gain=0.5, zi=torch.zeros(3))
    with pytest.raises(UnstableFilterError, match="coeff=1"):
        allpass1(x, 1.0)
    with pytest.raises(InputError, match="exactly one of q or radius"):
        allpass2_tf(1000.0, sample_rate=SR, q=1.0, radius=0.5)
    with pytest.raises(UnstableFilterError, match="radius=1.2"):
        allpass2_tf(1000.0, sample_rate=SR, radius=1.2)
    with pytest.raises(InputError, match="f0_hz=30000.*sample_rate=48000"):
        allpass2_tf(30000.0, sample_rate=SR, q=1.0)
    with pytest.raises(InputError, match="break_hz"):
        allpass1_coeff(0.0, sample_rate=SR)
    with pytest.raises(InputError, match="non-empty"):
        nested_allpass_tf([])
    with pytest.raises(InputError, match=r"stages\[1\]"):
        nested_allpass(x, [(3, 0.5), (2,)])
    with pytest.raises(UnstableFilterError, match=r"stages\[1\]\.gain.*gain=1"):
        NestedAllpass([(3, 0.5), (2, 1.0)])
    assert issubclass(UnstableFilterError, ValueError)
