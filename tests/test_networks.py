"""Feedback delay networks and Gerzon's unitary allpass network: references and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp_rnn.errors import InputError, NonFiniteError, ShapeError, UnstableFilterError
from dsp_rnn.filters.fdn_design import (
    hadamard_matrix,
    householder_matrix,
    random_orthogonal,
    random_unitary,
    rt60_to_gains,
)
from dsp_rnn.filters.networks import (
    FDN,
    GerzonAllpass,
    fdn,
    fdn_freqz,
    gerzon_allpass,
    gerzon_freqz,
)
from dsp_rnn.filters.schroeder import schroeder_allpass

F64 = torch.float64
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _naive_fdn(x, delays, a, b, c, d, gamma):
    """Per-sample reference: x (n_in, T) numpy -> y (n_out, T)."""
    n, n_t = len(delays), x.shape[-1]
    hist = np.zeros((n, n_t + max(delays)), dtype=np.result_type(a, x))
    y = np.zeros((c.shape[0], n_t), dtype=hist.dtype)
    for t in range(n_t):
        s = np.array(
            [gamma[i] * (hist[i, t - delays[i]] if t >= delays[i] else 0.0) for i in range(n)]
        )
        y[:, t] = c @ s + d @ x[:, t]
        hist[:, t] = a @ s + b @ x[:, t]
    return y


# ----------------------------------------------------------------------------- matrices
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 16])
def test_householder_and_random_orthogonal_are_orthogonal(n):
    for q in (householder_matrix(n, dtype=F64), random_orthogonal(n, seed=n, dtype=F64)):
        assert torch.allclose(q.T @ q, torch.eye(n, dtype=F64), atol=1e-13)
    h = householder_matrix(n, dtype=F64)
    assert torch.allclose(h, h.T) and torch.allclose(h @ h, torch.eye(n, dtype=F64), atol=1e-13)


@pytest.mark.parametrize("n", [1, 2, 4, 8, 32])
def test_hadamard_orthogonal_with_flat_entries(n):
    h = hadamard_matrix(n, dtype=F64)
    assert torch.allclose(h.T @ h, torch.eye(n, dtype=F64), atol=1e-13)
    assert torch.allclose(h.abs(), torch.full((n, n), n**-0.5, dtype=F64), atol=1e-15)


def test_random_matrices_follow_their_seed():
    a, b = random_orthogonal(6, seed=3), random_orthogonal(6, seed=3)
    assert torch.equal(a, b)
    assert float((a - random_orthogonal(6, seed=4)).abs().max()) > 0.1
    u = random_unitary(6, seed=3, dtype=torch.complex128)
    assert torch.allclose(u.mH @ u, torch.eye(6, dtype=torch.complex128), atol=1e-13)
    assert float(u.imag.abs().max()) > 0.1  # genuinely complex
    assert torch.equal(u, random_unitary(6, seed=3, dtype=torch.complex128))


def test_rt60_to_gains_formula():
    delays = [331, 379, 433]
    g = rt60_to_gains(delays, torch.tensor(0.8, dtype=F64), sample_rate=16000.0)
    assert torch.allclose(
        g, torch.tensor([10 ** (-3 * m / (0.8 * 16000)) for m in delays], dtype=F64)
    )
    gb = rt60_to_gains(delays, torch.tensor([[0.5], [1.5]], dtype=F64), sample_rate=16000.0)
    assert gb.shape == (2, 3) and torch.allclose(
        gb[1], rt60_to_gains(delays, 1.5, sample_rate=16000.0).double(), atol=1e-7
    )


# ----------------------------------------------------------------------------- FDN references
def _random_net(seed: int, n_in: int | None, n_out: int | None, delays):
    rng = _rng(seed)
    n = len(delays)
    a = random_orthogonal(n, seed=seed, dtype=F64)
    b = torch.tensor(rng.standard_normal((n,) if n_in is None else (n, n_in)), dtype=F64)
    c = torch.tensor(rng.standard_normal((n,) if n_out is None else (n_out, n)), dtype=F64)
    d = torch.tensor(
        rng.standard_normal(
            ()
            if n_in is None and n_out is None
            else ((1 if n_out is None else n_out), (1 if n_in is None else n_in))
        ),
        dtype=F64,
    )
    gamma = torch.tensor(rng.uniform(0.7, 1.0, n), dtype=F64)
    return dict(
        delays_samples=delays,
        feedback_matrix=a,
        input_gains=b,
        output_gains=c,
        direct_gain=d,
        line_gains=gamma,
    )


@pytest.mark.parametrize("n_in,n_out", [(None, None), (2, None), (None, 3), (2, 3)])
def test_fdn_matches_per_sample_reference(n_in, n_out):
    delays = [3, 7, 4, 11]
    kw = _random_net(1, n_in, n_out, delays)
    rng = _rng(2)
    x = torch.tensor(rng.standard_normal((2, 1 if n_in is None else n_in, 120)), dtype=F64)
    x_in = x[:, 0] if n_in is None else x
    y, _ = fdn(x_in, **kw)
    b = kw["input_gains"].numpy().reshape(len(delays), -1)
    c = kw["output_gains"].numpy().reshape(-1, len(delays))
    d = np.broadcast_to(kw["direct_gain"].numpy(), (c.shape[0], b.shape[1]))
    for i in range(2):
        ref = _naive_fdn(
            x[i].numpy(), delays, kw["feedback_matrix"].numpy(), b, c, d, kw["line_gains"].numpy()
        )
        got = y[i].numpy().reshape(ref.shape)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_in,n_out", [(None, None), (2, 3)])
def test_fdn_freqz_equals_fft_of_impulse_response(n_in, n_out):
    delays = [37, 41, 53, 59]
    kw = _random_net(3, n_in, n_out, delays)
    kw["line_gains"] = rt60_to_gains(delays, 0.05, sample_rate=8000.0).double()  # -60 dB / 400
    n_t = 4096  # decayed by ~600 dB: the truncated IR is the whole IR
    k = 1 if n_in is None else n_in
    x = torch.zeros(k, k, n_t, dtype=F64)
    x[range(k), range(k), 0] = 1  # one impulse per input channel (batch dim)
    y, _ = fdn(x[:, 0] if n_in is None else x, **kw)
    spec = torch.fft.fft(y, dim=-1)  # (n_in, [n_out,] T)
    _, h = fdn_freqz(**kw, n_freqs=n_t, whole=True)
    if n_in is not None:
        spec = spec.movedim(0, -2)  # ([n_out,] n_in, T)
    else:
        spec = spec[0]
    assert spec.shape == h.shape
    assert float((spec - h).abs().max()) < 1e-9 * float(h.abs().max())


def test_fdn_freqz_grid_and_units():
    kw = _random_net(4, None, None, [5, 7])
    f_rad, h_rad = fdn_freqz(**kw, n_freqs=100)
    f_hz, h_hz = fdn_freqz(**kw, n_freqs=100, sample_rate=8000.0)
    assert torch.allclose(f_rad, torch.arange(100, dtype=F64) * math.pi / 100)
    assert torch.allclose(f_hz, torch.arange(100, dtype=F64) * 40.0)
    assert torch.equal(h_rad, h_hz)
    _, h_whole = fdn_freqz(**kw, n_freqs=200, whole=True)  # w = 2 pi k / 200
    assert torch.allclose(h_whole[:100], h_rad, atol=1e-12)  # = pi k / 100
    assert torch.allclose(h_whole[::2], fdn_freqz(**kw, n_freqs=100, whole=True)[1], atol=1e-12)
    assert torch.allclose(h_whole[1:].flip(0), h_whole[1:].conj(), atol=1e-12)  # real system


def test_lossless_fdn_freqz_marks_singular_frequencies():
    # Householder(2) = [[0, -1], [-1, 0]] has eigenvalue 1: with equal delays and unit line
    # gains, I - D A is singular at w = 0 (a mode on the unit circle that B = C = 1 cancel)
    a = householder_matrix(2, dtype=F64)
    _, h = fdn_freqz(delays_samples=[4, 4], feedback_matrix=a, n_freqs=6)
    assert torch.isnan(h[0].real) and bool(torch.isfinite(h[1:]).all())
    # elsewhere the closed form: s1 + s2 = z^-4 (-(s1 + s2) + 2 x)  ->  H = 2 z^-4 / (1 + z^-4)
    zm = torch.exp(-4j * torch.arange(1, 6, dtype=F64) * math.pi / 6)
    assert torch.allclose(h[1:], 2 * zm / (1 + zm), atol=1e-12)


# ----------------------------------------------------------------------------- block processing
# calls block by block == one shot: tests/test_streaming_protocol.py
def test_fdn_result_does_not_depend_on_block_size():
    kw = _random_net(5, 2, None, [5, 9, 6])
    x = torch.tensor(_rng(6).standard_normal((3, 2, 300)), dtype=F64)
    y_ref, s_ref = fdn(x, **kw)
    for block in range(1, 6):
        y, state = fdn(x, **kw, block_size=block)
        assert torch.allclose(y, y_ref, rtol=0, atol=1e-12)
        assert torch.allclose(state, s_ref, rtol=0, atol=1e-12)


def test_fdn_float32_matches_float64():
    kw = _random_net(7, None, None, [13, 17, 19, 23])
    kw32 = {k: (v.float() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
    x = torch.tensor(_rng(8).standard_normal(500), dtype=F64)
    y64, _ = fdn(x, **kw)
    y32, _ = fdn(x.float(), **kw32)
    assert y32.dtype == torch.float32
    assert float((y32.double() - y64).abs().max()) < 1e-5 * float(y64.abs().max())


# ----------------------------------------------------------------------------- energy
def test_lossless_fdn_keeps_state_energy():
    delays = [29, 31, 37, 41, 43, 47, 53, 59]
    a = hadamard_matrix(8, dtype=F64)
    b = torch.tensor(_rng(9).standard_normal(8), dtype=F64)
    x = torch.zeros(60, dtype=F64)
    x[:20] = torch.tensor(_rng(10).standard_normal(20), dtype=F64)
    _, state = fdn(x, delays_samples=delays, feedback_matrix=a, input_gains=b)
    e0 = float(state.pow(2).sum())
    for _ in range(40):  # 40 * 500 samples of silence: the loop neither gains nor loses
        _, state = fdn(
            torch.zeros(500, dtype=F64),
            delays_samples=delays,
            feedback_matrix=a,
            input_gains=b,
            state=state,
        )
        assert abs(float(state.pow(2).sum()) - e0) <= 1e-10 * e0
    assert e0 > 1.0


@pytest.mark.parametrize("kind", ["hadamard", "random", "unitary"])
def test_gerzon_energy_balance(kind):
    delays = [7, 11, 13, 17]
    u = {
        "hadamard": hadamard_matrix(4, dtype=F64),
        "random": random_orthogonal(4, seed=11, dtype=F64),
        "unitary": random_unitary(4, seed=11, dtype=torch.complex128),
    }[kind]
    g = torch.tensor([0.3, -0.6, 0.8, 0.5], dtype=F64)
    rng = _rng(12)
    x = torch.tensor(rng.standard_normal((2, 4, 400)), dtype=F64)
    s0 = torch.tensor(rng.standard_normal((2, sum(delays))), dtype=F64)
    y, s1 = gerzon_allpass(x, delays_samples=delays, feedback_matrix=u, gain=g, state=s0)
    e_in = x.abs().pow(2).sum((-1, -2)) + s0.pow(2).sum(-1)
    e_out = y.abs().pow(2).sum((-1, -2)) + s1.abs().pow(2).sum(-1)
    assert torch.allclose(e_out, e_in, rtol=1e-12, atol=0)
    # long tail: with |g| < 1 everything stored drains to the output
    imp = torch.zeros(4, 6000, dtype=F64)
    imp[:, 0] = torch.tensor([1.0, -2.0, 0.5, 1.5], dtype=F64)
    y, s = gerzon_allpass(imp, delays_samples=delays, feedback_matrix=u, gain=g)
    assert abs(float(y.abs().pow(2).sum()) / float(imp.pow(2).sum()) - 1) < 1e-6
    assert float(s.abs().pow(2).sum()) < 1e-6 * float(imp.pow(2).sum())


# ----------------------------------------------------------------------------- Gerzon allpass
@SETTINGS
@given(
    seed=st.integers(0, 10_000),
    n=st.sampled_from([1, 2, 3, 4, 6]),
    gain=st.floats(-0.95, 0.95),
    per_channel=st.booleans(),
    complex_u=st.booleans(),
)
def test_gerzon_is_paraunitary(seed, n, gain, per_channel, complex_u):
    rng = _rng(seed)
    delays = sorted(rng.choice(np.arange(1, 200), n, replace=False).tolist())
    u = (
        random_unitary(n, seed=seed, dtype=torch.complex128)
        if complex_u
        else random_orthogonal(n, seed=seed, dtype=F64)
    )
    g = torch.tensor(rng.uniform(-0.95, 0.95, n) if per_channel else gain, dtype=F64)
    _, h = gerzon_freqz(delays_samples=delays, feedback_matrix=u, gain=g, n_freqs=4096, whole=True)
    hh = h.permute(2, 0, 1)  # (F, N, N)
    eye = torch.eye(n, dtype=torch.complex128)
    assert float((hh.mH @ hh - eye).abs().max()) < 1e-9
    assert float((hh @ hh.mH - eye).abs().max()) < 1e-9


def test_gerzon_scalar_gain_closed_form_and_time_domain():
    delays = [5, 8, 13]
    u = random_orthogonal(3, seed=1, dtype=F64)
    g = 0.6
    w, h = gerzon_freqz(delays_samples=delays, feedback_matrix=u, gain=g, n_freqs=64)
    du = torch.exp(-1j * w[:, None] * torch.tensor(delays, dtype=F64))[:, :, None] * u.to(
        torch.complex128
    )
    eye = torch.eye(3, dtype=torch.complex128)
    closed = torch.linalg.solve(eye - g * du, du - g * eye)  # (I - g D U)^-1 (D U - g I)
    assert torch.allclose(h.permute(2, 0, 1), closed, atol=1e-12)
    # the time domain agrees with the response: FFT of the (decayed) impulse responses
    n_t = 2048
    imp = torch.zeros(3, 3, n_t, dtype=F64)
    imp[range(3), range(3), 0] = 1
    y, _ = gerzon_allpass(imp, delays_samples=delays, feedback_matrix=u, gain=g)
    spec = torch.fft.fft(y, dim=-1).permute(2, 1, 0)  # (F, out, in)
    _, hw = gerzon_freqz(delays_samples=delays, feedback_matrix=u, gain=g, n_freqs=n_t, whole=True)
    assert torch.allclose(spec, hw.permute(2, 0, 1), atol=1e-10)


def test_gerzon_one_channel_is_schroeder_allpass():
    x = torch.tensor(_rng(13).standard_normal(300), dtype=F64)
    y, _ = gerzon_allpass(
        x[None], delays_samples=[7], feedback_matrix=[[1.0]], gain=torch.tensor(0.55, dtype=F64)
    )
    ref = schroeder_allpass(x, delay_samples=7, gain=torch.tensor(0.55, dtype=F64))
    assert torch.allclose(y[0], ref, atol=1e-12)


# ----------------------------------------------------------------------------- RT60
def _t30(h: np.ndarray, sample_rate: float) -> float:
    """RT60 from Schroeder backward integration, line fit on -5..-35 dB, extrapolated to -60."""
    edc = np.cumsum(h[::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    i0, i1 = np.argmax(edc_db <= -5), np.argmax(edc_db <= -35)
    t = np.arange(i0, i1) / sample_rate
    slope = np.polyfit(t, edc_db[i0:i1], 1)[0]  # dB / s
    return -60.0 / slope


@pytest.mark.parametrize("rt60", [0.5, 1.5])
def test_fdn_rt60_measured_by_schroeder_integration(rt60):
    sr = 16000.0
    delays = [331, 379, 433, 491, 557, 613, 691, 787]  # primes, 21..49 ms
    net = FDN.from_rt60(
        delays,
        rt60,
        sample_rate=sr,
        feedback_matrix=hadamard_matrix(8, dtype=F64),
        output_gains=torch.tensor([1.0, -1.0] * 4, dtype=F64),
    )
    x = torch.zeros(int(1.5 * rt60 * sr), dtype=F64)
    x[0] = 1
    with torch.no_grad():
        h, _ = net(x)
    measured = _t30(h.numpy(), sr)
    print(f"rt60 target {rt60} s, measured {measured:.4f} s")
    assert abs(measured / rt60 - 1) < 0.10, measured


# ----------------------------------------------------------------------------- modules
# gradcheck of the FDN and Gerzon networks: tests/test_streaming_protocol.py
def test_fdn_module_matches_functional_and_learns():
    kw = _random_net(16, None, None, [3, 5, 7])
    net = FDN(
        kw["delays_samples"],
        kw["feedback_matrix"],
        input_gains=kw["input_gains"],
        output_gains=kw["output_gains"],
        direct_gain=kw["direct_gain"],
        line_gains=kw["line_gains"],
    )
    x = torch.tensor(_rng(17).standard_normal(80), dtype=F64)
    y_mod, s_mod = net(x)
    y_fn, s_fn = fdn(x, **kw)
    assert torch.equal(y_mod, y_fn) and torch.equal(s_mod, s_fn)
    assert torch.equal(net.freqz(64)[1], fdn_freqz(**kw, n_freqs=64)[1])
    # gradient of a loss w.r.t. the module's parameters equals the functional gradient
    y_mod.pow(2).sum().backward()
    g = kw["line_gains"].clone().requires_grad_(True)
    fdn(x, **{**kw, "line_gains": g})[0].pow(2).sum().backward()
    assert torch.allclose(net.line_gains.grad, g.grad, atol=1e-12)
    assert float(g.grad.abs().max()) > 0


def test_gerzon_module_state_size_and_paraunitary_response():
    ap = GerzonAllpass(
        [4, 6, 9], random_orthogonal(3, seed=2, dtype=F64), gain=torch.tensor(0.5, dtype=F64)
    )
    x = torch.tensor(_rng(18).standard_normal((3, 100)), dtype=F64)
    _, s = ap(x)  # streaming (blocks == one shot): tests/test_streaming_protocol.py
    assert ap.state_size == 19 == s.shape[-1]
    _, h = ap.freqz(512, sample_rate=48000.0)
    hh = h.permute(2, 0, 1)
    assert float((hh.mH @ hh - torch.eye(3)).abs().max()) < 1e-12


def test_complex_network_takes_its_own_state_and_complex_input_back():
    u = random_unitary(3, seed=1, dtype=torch.complex128)
    kw = {"delays_samples": [2, 3, 4], "feedback_matrix": u, "line_gains": [0.9, 0.8, 0.7]}
    x = torch.tensor(_rng(19).standard_normal(60), dtype=F64)
    y, s = fdn(x, **kw)
    y1, s1 = fdn(x[:25], **kw)
    y2, s2 = fdn(x[25:], **kw, state=s1)  # a complex state goes back in
    assert s1.dtype == torch.complex128
    assert torch.allclose(torch.cat([y1, y2]), y, rtol=0, atol=1e-13)
    assert torch.allclose(s2, s, rtol=0, atol=1e-13)
    net = FDN(**kw)
    assert torch.allclose(net(x[25:], net(x[:25])[1])[0], y2, rtol=0, atol=1e-13)
    # complex input: the network is linear, y(a + ib) = y(a) + i y(b)
    xi = torch.tensor(_rng(20).standard_normal(60), dtype=F64)
    yc, _ = fdn(torch.complex(x, xi), **kw)
    assert torch.allclose(yc, y + 1j * fdn(xi, **kw)[0], rtol=0, atol=1e-13)
    xg = torch.complex(*torch.tensor(_rng(21).standard_normal((2, 3, 40)), dtype=F64))
    gkw = {"delays_samples": [2, 3, 4], "feedback_matrix": u, "gain": 0.6}
    yg, sg = gerzon_allpass(xg, **gkw)
    yg1, sg1 = gerzon_allpass(xg[:, :15], **gkw)
    yg2, _ = GerzonAllpass([2, 3, 4], u, gain=0.6)(xg[:, 15:], sg1)
    assert torch.allclose(torch.cat([yg1, yg2], -1), yg, rtol=0, atol=1e-13)


def test_householder_matrix_is_rounded_once_from_float64():
    for n in (3, 5, 7):
        assert torch.equal(householder_matrix(n), householder_matrix(n, dtype=F64).float())


def test_cast_modules_keep_an_orthogonal_matrix_in_the_new_dtype():
    x = torch.tensor(_rng(22).standard_normal(50), dtype=F64)
    # the default (Householder) matrix, built in float32, is rebuilt exactly in float64
    net = FDN([3, 5, 7]).double()
    assert torch.equal(net.feedback_matrix, householder_matrix(3, dtype=F64))
    y, _ = net(x)
    assert torch.equal(y, fdn(x, delays_samples=[3, 5, 7], feedback_matrix=net.feedback_matrix)[0])
    assert FDN.from_rt60([3, 5, 7], 0.1, sample_rate=8e3).double()(x)[0].dtype == F64
    ap = GerzonAllpass([3, 5]).double()
    assert torch.equal(ap.feedback_matrix, householder_matrix(2, dtype=F64))
    assert ap(torch.stack([x, x]))[0].dtype == F64
    # a float32 matrix given by the user: the nearest orthogonal matrix in float64
    for a32 in (hadamard_matrix(4), random_orthogonal(4, seed=5)):
        a = FDN([2, 3, 5, 7], a32).double().feedback_matrix
        eye = torch.eye(4, dtype=F64)
        assert a.dtype == F64 and float((a.T @ a - eye).abs().max()) < 1e-14
        assert float((a - a32.double()).abs().max()) < 1e-6
    # and back: float32 again, a matrix exact in float64 stays as it is
    net = FDN([3, 5, 7], random_orthogonal(3, seed=6, dtype=F64)).float()
    assert torch.equal(net.feedback_matrix, random_orthogonal(3, seed=6))
    # a float32 module's state loaded into a float64 one: made orthogonal there too
    for cls, shape in ((FDN, ()), (GerzonAllpass, (4,))):
        a32 = random_orthogonal(4, seed=5)
        saved = cls([2, 3, 5, 7], a32).state_dict()
        net = cls([2, 3, 5, 7], random_orthogonal(4, seed=1, dtype=F64))
        net.load_state_dict(saved)
        a = net.feedback_matrix
        assert a.dtype == F64 and float((a.T @ a - torch.eye(4, dtype=F64)).abs().max()) < 1e-14
        assert float((a - a32.double()).abs().max()) < 1e-6
        assert net(torch.zeros((*shape, 10), dtype=F64))[0].dtype == F64  # it runs


# ----------------------------------------------------------------------------- errors
A2 = hadamard_matrix(2, dtype=F64)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(delays_samples=[0, 3]), InputError, r"delays_samples\[0\]=0"),
        (dict(delays_samples=[2.5, 3]), InputError, r"delays_samples\[0\]=2.5"),
        (dict(delays_samples=[]), InputError, "non-empty"),
        (
            dict(feedback_matrix=torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=F64)),
            InputError,
            r"orthogonal.*found max \|A\^H A - I\| = 0.5",
        ),
        (dict(feedback_matrix=torch.eye(3, dtype=F64)), ShapeError, r"\(2, 2\).*got \(3, 3\)"),
        (dict(line_gains=[0.5, 1.1]), UnstableFilterError, r"line_gains\[1\]=1.1"),
        (dict(input_gains=torch.ones(3)), ShapeError, r"input_gains.*got \(3,\)"),
        (dict(direct_gain=torch.ones(4)), ShapeError, "direct_gain"),
        (dict(line_gains=[0.5, float("nan")]), NonFiniteError, "line_gains"),
        (dict(block_size=4), InputError, r"block_size <= min\(delays_samples\)=2"),
        (dict(state=torch.zeros(4)), ShapeError, r"\(\.\.\., 5\)"),
    ],
)
def test_fdn_typed_errors(kwargs, exc, match):
    base = dict(delays_samples=[2, 3], feedback_matrix=A2)
    x = torch.ones(10, dtype=F64)
    with pytest.raises(exc, match=match):
        fdn(x, **{**base, **kwargs})


def test_network_typed_errors():
    with pytest.raises(NonFiniteError, match="x"):
        fdn(torch.tensor([1.0, float("inf")]), delays_samples=[2, 3], feedback_matrix=A2)
    with pytest.raises(ShapeError, match=r"n_inputs=2"):
        fdn(
            torch.ones(3, 10),
            delays_samples=[2, 3],
            feedback_matrix=A2,
            input_gains=torch.ones(2, 2),
        )
    with pytest.raises(UnstableFilterError, match="gain=1"):
        gerzon_allpass(torch.ones(2, 5), delays_samples=[2, 3], feedback_matrix=A2, gain=1.0)
    with pytest.raises(InputError, match="power of two.*n=6"):
        hadamard_matrix(6)
    with pytest.raises(InputError, match="rt60_seconds"):
        rt60_to_gains([100], 0.0, sample_rate=16000.0)
    with pytest.raises(InputError, match="unitary"):
        gerzon_freqz(
            delays_samples=[2, 3],
            feedback_matrix=torch.eye(2, dtype=torch.complex128) * 1.1,
            gain=0.5,
        )
