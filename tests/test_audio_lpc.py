"""Linear prediction: Levinson-Durbin against scipy's Toeplitz solver, stability for any
frame (random and pathological), the envelope route, typed errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.signal

from dsp_rnn.audio import (
    autocorrelation,
    bandwidth_expansion,
    lag_window,
    levinson,
    lpc_from_frames,
    lpc_from_power_spectrum,
)
from dsp_rnn.errors import InputError, NonFiniteError, ShapeError

SR = 16000


def _max_root_radius(a: np.ndarray) -> float:
    rows = a.reshape(-1, a.shape[-1])
    return max((np.abs(np.roots(row)).max(initial=0.0) for row in rows), default=0.0)


def test_autocorrelation_equals_direct_sums():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 50))
    w = scipy.signal.get_window("hann", 50, fftbins=True)
    got = autocorrelation(x, 8)
    xw = x * w
    want = np.stack([[np.dot(f[: 50 - k], f[k:]) for k in range(9)] for f in xw])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_levinson_equals_solve_toeplitz_batched():
    rng = np.random.default_rng(1)
    frames = rng.standard_normal((4, 5, 400))
    r = autocorrelation(frames, 16)
    res = levinson(r)
    assert res.a.shape == (4, 5, 17) and res.reflection.shape == (4, 5, 16)
    assert res.error.shape == (4, 5)
    for i in range(4):
        for j in range(5):
            want = scipy.linalg.solve_toeplitz(r[i, j, :16], -r[i, j, 1:])
            np.testing.assert_allclose(res.a[i, j, 1:], want, rtol=1e-9, atol=1e-10)
            # the error is the residual power of the normal equations
            np.testing.assert_allclose(res.error[i, j], r[i, j] @ res.a[i, j], rtol=1e-9)
    assert (np.abs(res.reflection) < 1).all()


def test_levinson_lower_order_is_the_prefix_recursion():
    r = autocorrelation(np.random.default_rng(2).standard_normal(300), 10)
    low = levinson(r, 4)
    np.testing.assert_allclose(low.reflection, levinson(r).reflection[:4], rtol=1e-12)
    want = scipy.linalg.solve_toeplitz(r[:4], -r[1:5])
    np.testing.assert_allclose(low.a[1:], want, rtol=1e-10)


def _pathological_frames() -> dict[str, np.ndarray]:
    n = 320
    t = np.arange(n)
    sine = np.sin(2 * np.pi * 440 * t / SR)
    return {
        "silence": np.zeros(n),
        "dc": np.ones(n),
        "sine": sine,
        "clipped square": np.clip(8 * np.sign(np.sin(2 * np.pi * 200 * t / SR)), -1, 1),
        "nyquist": (-1.0) ** t,
        "impulse": np.eye(1, n, 100)[0],
        "tiny": 1e-30 * sine,
        "huge": 1e30 * sine,
    }


@pytest.mark.parametrize("name", list(_pathological_frames()))
@pytest.mark.parametrize("window", ["hann", None])
def test_every_predictor_is_stable_on_pathological_frames(name, window):
    frame = _pathological_frames()[name]
    res = lpc_from_frames(frame, 16, sample_rate=SR, window=window)
    assert np.isfinite(res.a).all() and res.a[0] == 1.0
    assert _max_root_radius(res.a) < 0.995  # gamma 0.99 bounds every root
    assert (np.abs(res.reflection) < 1).all() and res.error >= 0


def test_silence_gives_the_identity_predictor():
    res = lpc_from_frames(np.zeros((2, 160)), 8, sample_rate=SR)
    np.testing.assert_array_equal(res.a, np.eye(1, 9).repeat(2, 0))
    np.testing.assert_array_equal(res.error, 0.0)


def test_random_frames_give_stable_predictors():
    rng = np.random.default_rng(3)
    # white, strongly coloured (AR poles near the circle) and sparse frames
    white = rng.standard_normal((20, 320))
    coloured = scipy.signal.lfilter([1.0], np.poly([0.999, -0.999, 0.998j, -0.998j]), white)
    sparse = white * (rng.random((20, 320)) < 0.02)
    for frames in (white, coloured, sparse):
        res = lpc_from_frames(frames, 18, sample_rate=SR)
        assert _max_root_radius(res.a) < 0.995


def test_unconditioned_levinson_stops_at_a_singular_matrix():
    # r of a pure DC frame without window: every lag equal, the matrix is singular
    r = np.ones(6)
    res = levinson(r)
    assert (np.abs(res.reflection) < 1).all()
    assert np.isfinite(res.a).all() and _max_root_radius(res.a) < 1.0


def test_lpc_recovers_a_known_all_pole_filter():
    rng = np.random.default_rng(4)
    poles = [0.95 * np.exp(1j * w) for w in (0.3, 1.2)]
    a_true = np.real(np.poly(poles + [p.conjugate() for p in poles]))
    x = scipy.signal.lfilter([1.0], a_true, rng.standard_normal(20000))
    res = lpc_from_frames(x, 4, sample_rate=SR, window=None, bandwidth_hz=0,
                          white_noise_db=-np.inf, gamma=1.0)  # fmt: skip
    np.testing.assert_allclose(res.a, a_true, atol=0.02)
    assert abs(res.error - 1.0) < 0.05  # unit-variance innovation


def test_power_spectrum_route_equals_frame_route():
    rng = np.random.default_rng(5)
    frames = scipy.signal.lfilter([1.0], [1.0, -1.6, 0.8], rng.standard_normal((3, 320)))
    n_fft = 1024
    w = scipy.signal.get_window("hann", 320, fftbins=True)
    power = np.abs(np.fft.rfft(frames * w, n_fft)) ** 2 / np.sum(w * w)
    via_spectrum = lpc_from_power_spectrum(power, 16, sample_rate=SR)
    via_frames = lpc_from_frames(frames, 16, sample_rate=SR)
    np.testing.assert_allclose(via_spectrum.a, via_frames.a, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(via_spectrum.error, via_frames.error, rtol=1e-9)


def test_bandwidth_expansion_scales_the_roots():
    a = np.real(np.poly([0.9 * np.exp(0.5j), 0.9 * np.exp(-0.5j), -0.5]))
    roots = np.sort_complex(np.roots(bandwidth_expansion(a, 0.9)))
    np.testing.assert_allclose(roots, np.sort_complex(0.9 * np.roots(a)), atol=1e-12)


def test_lag_window_leaves_r0_without_noise_and_narrows_nothing_at_zero_bandwidth():
    r = np.array([2.0, 1.0, 0.5])
    np.testing.assert_array_equal(
        lag_window(r, sample_rate=SR, bandwidth_hz=0, white_noise_db=-np.inf), r
    )


def test_typed_errors():
    with pytest.raises(InputError, match="order"):
        autocorrelation(np.ones(10), 10)
    with pytest.raises(ShapeError):
        levinson(np.ones(1))
    with pytest.raises(NonFiniteError):
        levinson(np.array([1.0, np.nan]))
    with pytest.raises(InputError, match="r_0 >= 0"):
        levinson(np.array([-1.0, 0.0]))
    with pytest.raises(InputError, match="gamma"):
        bandwidth_expansion(np.ones(3), 1.5)
    with pytest.raises(InputError, match="power"):
        lpc_from_power_spectrum(-np.ones(9), 2, sample_rate=SR)
    with pytest.raises(InputError, match="sample_rate"):
        lag_window(np.ones(3), sample_rate=0)
