"""dsp_rnn.compare (comparison, metrics, fitting): hand computations and exact twins."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import torch

from dsp_rnn.cells import IIRCell, StateSpaceCell
from dsp_rnn.cells.base import Cell
from dsp_rnn.compare import (
    compare,
    esr,
    esr_loss,
    fit,
    gradient_norms,
    log_spectral_distance,
    max_abs_error,
    probe_signal,
    snr_db,
)
from dsp_rnn.errors import InputError, OutputError, ShapeError
from dsp_rnn.filters import biquad_lowpass, butter, sosfilt

from .conftest import random_stable_sos

SR = 48_000


# ----------------------------------------------------------------------------- metrics
def test_metrics_equal_hand_computations():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((2, 3000))
    y = ref + 0.05 * rng.standard_normal((2, 3000))
    e = np.sum((y - ref) ** 2) / np.sum(ref**2)
    assert esr(torch.from_numpy(y), torch.from_numpy(ref)) == pytest.approx(e, rel=1e-12)
    assert snr_db(y, ref) == pytest.approx(10 * np.log10(np.sum(ref**2) / np.sum((y - ref) ** 2)))
    assert max_abs_error(y, ref) == pytest.approx(np.abs(y - ref).max(), rel=1e-15)
    # the reference is b: swapping the arguments changes the ESR by the energy ratio
    assert esr(ref, y) == pytest.approx(e * np.sum(ref**2) / np.sum(y**2), rel=1e-12)
    assert esr(ref, ref) == 0.0 and snr_db(ref, ref) == math.inf
    assert esr(np.ones(4), np.zeros(4)) == math.inf


def test_log_spectral_distance_equals_hand_computation():
    rng = np.random.default_rng(2)
    ref = rng.standard_normal(5000)
    y = scipy.signal.lfilter([1.0, 0.5], [1.0], ref) + 1e-3 * rng.standard_normal(5000)
    n_fft, hop, eps = 512, 128, 1e-10
    win = scipy.signal.get_window("hann", n_fft)  # periodic Hann

    def power(s):
        frames = np.stack([s[i : i + n_fft] for i in range(0, len(s) - n_fft + 1, hop)])
        return np.abs(np.fft.rfft(frames * win, axis=-1)) ** 2

    p_y, p_r = power(y), power(ref)
    floor = eps * p_r.max()
    d = 10 * np.log10(np.maximum(p_y, floor) / np.maximum(p_r, floor))
    want = np.mean(np.sqrt(np.mean(d**2, axis=-1)))
    got = log_spectral_distance(y, ref, n_fft=n_fft, hop=hop, eps=eps)
    assert got == pytest.approx(want, rel=1e-10)
    assert 1.0 < got < 10.0  # a first-order tilt of up to +3.5 dB / -6 dB
    assert log_spectral_distance(ref, ref) == 0.0
    # a constant gain g gives exactly 20 log10 g
    assert log_spectral_distance(0.5 * ref, ref) == pytest.approx(20 * np.log10(2), rel=1e-9)


def test_esr_loss_with_pre_emphasis_equals_hand_computation():
    rng = np.random.default_rng(3)
    t = rng.standard_normal(400)
    y = t + 0.1 * rng.standard_normal(400)
    pt, py = t[1:] - 0.85 * t[:-1], y[1:] - 0.85 * y[:-1]
    want = np.sum((pt - py) ** 2) / np.sum(pt**2)
    got = esr_loss(torch.from_numpy(y), torch.from_numpy(t), pre_emphasis=0.85)
    assert float(got) == pytest.approx(want, rel=1e-12)
    cells_shape = esr_loss(torch.from_numpy(y)[None, :, None], torch.from_numpy(t)[None, :, None])
    assert float(cells_shape) == pytest.approx(esr(y, t), rel=1e-12)


def test_metric_errors_are_typed():
    with pytest.raises(ShapeError, match=r"\(3,\) and \(4,\)"):
        esr(torch.zeros(3), torch.zeros(4))
    with pytest.raises(InputError, match="pre_emphasis"):
        esr_loss(torch.zeros(4), torch.ones(4), pre_emphasis=1.5)


def test_probe_signal_is_seeded_noise_then_sweep():
    x = probe_signal(8000, sample_rate=8000)
    assert torch.equal(x, probe_signal(8000, sample_rate=8000))
    assert not torch.equal(x, probe_signal(8000, sample_rate=8000, seed=1))
    assert float(x[:4000].std()) == pytest.approx(0.25, rel=0.05)
    assert float(x[4000:].abs().max()) == pytest.approx(0.5, rel=1e-3)


# ----------------------------------------------------------------------------- compare
def test_compare_a_filter_with_itself_is_exact_zero():
    sos = butter(6, 2000.0, sample_rate=SR, dtype=torch.float64)
    c = compare(sos, sos, sample_rate=SR)
    assert (c.esr, c.max_abs_error, c.lsd_db) == (0.0, 0.0, 0.0)
    assert (c.mag_diff_db_max, c.phase_diff_deg_max, c.snr_db) == (0.0, 0.0, math.inf)
    assert c.exact_a and c.exact_b and c.n_samples == SR and c.dtype == torch.float64


@pytest.mark.parametrize("order", [2, 5, 8])
def test_compare_sosfilt_with_its_state_space_twin(order):
    sos = torch.from_numpy(random_stable_sos(np.random.default_rng(order), order))
    cell = StateSpaceCell.from_filter(sos)  # float64
    c = compare(cell, sos, sample_rate=SR)
    assert c.esr < 1e-10 and c.snr_db > 100
    assert c.exact_a and c.exact_b  # the cell's response via .to_filter()
    assert c.mag_diff_db_max < 1e-8 and c.phase_diff_deg_max < 1e-6
    assert np.abs(c.ir_a - c.ir_b).max() < 1e-12 * np.abs(c.ir_b).max()


def test_compare_numbers_equal_a_direct_computation():
    a = butter(4, 1000.0, sample_rate=SR, dtype=torch.float64)
    b = butter(4, 1100.0, sample_rate=SR, dtype=torch.float64)
    c = compare((torch.tensor([0.5, 0.5]), torch.tensor([1.0])), b, sample_rate=SR)
    x = probe_signal(sample_rate=SR, dtype=torch.float64).numpy()
    y_a = np.convolve(x, [0.5, 0.5])[: len(x)]
    y_b = scipy.signal.sosfilt(b.numpy(), x)
    assert c.esr == pytest.approx(np.sum((y_a - y_b) ** 2) / np.sum(y_b**2), rel=1e-9)
    assert c.max_abs_error == pytest.approx(np.abs(y_a - y_b).max(), rel=1e-9)
    c2 = compare(a, b, sample_rate=SR)
    _, h_a = scipy.signal.sosfreqz(a.numpy(), worN=c2.freqs_hz, fs=SR)
    _, h_b = scipy.signal.sosfreqz(b.numpy(), worN=c2.freqs_hz, fs=SR)
    band = (np.abs(h_b) >= np.abs(h_b).max() * 1e-3) & (c2.freqs_hz > 0)
    want = np.abs(20 * np.log10(np.abs(h_a[band]) / np.abs(h_b[band]))).max()
    assert c2.mag_diff_db_max == pytest.approx(want, rel=1e-9)


def test_estimated_response_of_a_callable_matches_the_exact_one():
    sos = biquad_lowpass(3000.0, q=2.0, sample_rate=SR, dtype=torch.float64)
    c = compare(lambda x: sosfilt(sos, x), sos, sample_rate=SR, labels=("callable", "sos"))
    assert not c.exact_a and c.exact_b
    assert c.esr == 0.0  # same kernel, same samples
    assert c.mag_diff_db_rms < 0.3 and c.phase_diff_deg_max < 10.0  # H1 estimate vs exact


def test_summary_and_plot(tmp_path):
    sos = butter(4, 1000.0, sample_rate=SR, dtype=torch.float64)
    c = compare(lambda x: torch.tanh(4 * x), sos, sample_rate=SR, labels=("tanh", "butter4"))
    text = str(c)
    assert text == c.summary() and f"{c.esr:.3e}" in text and f"{c.snr_db:.2f} dB" in text
    assert "tanh" in text and "estimated" in text and "exact" in text
    png = c.plot(tmp_path / "c.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 30_000
    with pytest.raises(OutputError, match="does not exist"):  # folders are never created
        c.plot(tmp_path / "sub" / "c.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png"]


def test_compare_errors():
    sos = butter(2, 1000.0, sample_rate=SR)
    with pytest.raises(InputError, match="expected SOS"):
        compare("butter", sos, sample_rate=SR)
    with pytest.raises(InputError, match="output_size=2"):
        compare(StateSpaceCell(2, output_size=2), sos, sample_rate=SR)
    with pytest.raises(ShapeError, match="output of the input's shape"):
        compare(lambda x: x[..., :-1], sos, sample_rate=SR)
    with pytest.raises(InputError, match="sample_rate"):
        compare(sos, sos, sample_rate=0)


# ----------------------------------------------------------------------------- fit
def test_fit_reduces_esr_by_orders_of_magnitude():
    torch.manual_seed(1)  # (seed 0 starts in a local minimum; fits stay at ESR 0.12)
    cell = IIRCell(1)
    target = biquad_lowpass(4000.0, q=0.9, sample_rate=SR)
    res = fit(cell, target, sample_rate=SR, steps=150, lr=0.05, window=512, batch_size=8,
              val_samples=4000, progress=False)  # fmt: skip
    first, last = res.curve[0][1], res.esr
    assert res.steps == 150 and res.curve[-1][0] == 150
    assert first > 1 and last < 1e-4
    assert last == min(e for _, e in res.curve)  # the best weights are returned
    check = compare(cell, target, sample_rate=SR)
    assert check.esr < 1e-4 and check.mag_diff_db_rms < 0.1


def test_fit_a_recorded_pair_with_pre_emphasis_and_early_stop(tmp_path):
    rng = np.random.default_rng(4)
    x = 0.3 * rng.standard_normal((2, 6000))
    y = scipy.signal.lfilter([0.3, 0.2], [1.0, -0.6], x, axis=-1)  # a first-order "effect"
    torch.manual_seed(1)
    cell = StateSpaceCell(1).double()
    res = fit(cell, torch.from_numpy(y), torch.from_numpy(x), sample_rate=SR, steps=400,
              lr=0.03, window=256, warmup=32, pre_emphasis=0.85, batch_size=4,
              eval_every=10, stop_esr=1e-6, progress=False)  # fmt: skip
    assert res.esr < 1e-6 and res.steps < 400  # stopped early
    assert np.allclose(cell.to_filter()[0, [0, 1, 4]].tolist(), [0.3, 0.2, -0.6], atol=1e-3)
    png = res.plot(tmp_path / "curve.png")
    assert png.stat().st_size > 10_000


def test_fit_rejects_bad_settings():
    cell = StateSpaceCell(2)
    sos = butter(2, 1000.0, sample_rate=SR)
    with pytest.raises(InputError, match="steps"):
        fit(cell, sos, sample_rate=SR, steps=0, progress=False)
    with pytest.raises(InputError, match="needs its input"):
        fit(cell, torch.zeros(100), sample_rate=SR, progress=False)
    with pytest.raises(ShapeError, match="input's shape"):
        fit(cell, torch.zeros(100), torch.zeros(99), sample_rate=SR, progress=False)


class _Gain(Cell):
    input_size = output_size = 1

    def __init__(self) -> None:
        super().__init__()
        self.g = torch.nn.Parameter(torch.tensor(0.2, dtype=torch.float64))

    def step(self, x_t, state=None):
        return self.g * x_t, state


def test_fit_a_callable_target_with_a_custom_cell():
    res = fit(_Gain(), lambda s: -0.7 * s, sample_rate=8000, steps=200, lr=0.05, window=64,
              batch_size=2, val_samples=500, progress=False)  # fmt: skip
    assert res.curve[0][1] == pytest.approx((0.9 / 0.7) ** 2, rel=1e-9)
    assert res.esr < 1e-4 and abs(float(res.cell.g.detach()) + 0.7) < 1e-2


# ------------------------------------------------------------------ integer arguments
def _fit_esr(**kw) -> float:
    """Validation ESR of a short, seeded fit of a gain (settings overridden by ``kw``)."""
    settings = dict(sample_rate=8000, steps=2, window=16, batch_size=1, val_samples=64,
                    progress=False) | kw  # fmt: skip
    return fit(_Gain(), lambda s: -0.7 * s, **settings).esr


def _leaky_norms(**kw) -> np.ndarray:
    class Leaky(Cell):
        input_size = output_size = 1

        def step(self, x_t, state=None):
            h = x_t if state is None else 0.5 * state + x_t
            return h, h

    settings = dict(n_steps=4, dtype=torch.float64) | kw
    return gradient_norms(Leaky(), **settings).norms


_NOISE = torch.randn(512, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
_SOS = butter(2, 1000.0, sample_rate=8000, dtype=torch.float64)

# (argument, valid value, call with that argument set)
INTEGER_ARGUMENTS = [
    ("n_samples", 64, lambda v: probe_signal(v, sample_rate=8000)),
    ("seed", 3, lambda v: probe_signal(64, sample_rate=8000, seed=v)),
    ("n_fft", 128, lambda v: log_spectral_distance(_NOISE, 2 * _NOISE, n_fft=v)),
    ("hop", 32, lambda v: log_spectral_distance(_NOISE, 2 * _NOISE, n_fft=128, hop=v)),
    ("n_fft", 256, lambda v: compare(_SOS, _SOS, sample_rate=8000, n_fft=v).esr),
    ("ir_samples", 64, lambda v: compare(_SOS, _SOS, sample_rate=8000, ir_samples=v).esr),
    ("steps", 2, lambda v: _fit_esr(steps=v)),
    ("window", 16, lambda v: _fit_esr(window=v)),
    ("warmup", 1, lambda v: _fit_esr(warmup=v)),
    ("val_samples", 64, lambda v: _fit_esr(val_samples=v)),
    ("seed", 1, lambda v: _fit_esr(seed=v)),
    ("n_steps", 4, lambda v: _leaky_norms(n_steps=v)),
    ("batch_size", 2, lambda v: _leaky_norms(batch_size=v)),
    ("seed", 1, lambda v: _leaky_norms(seed=v)),
]


@pytest.mark.parametrize(("name", "value", "call"), INTEGER_ARGUMENTS,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(INTEGER_ARGUMENTS)])  # fmt: skip
def test_integer_arguments_take_numpy_integers_and_refuse_bools(name, value, call):
    """One rule for integers at every entry point: a numpy integer is the same number, a
    ``bool`` is refused with a message naming the argument."""
    expected = call(value)
    for as_numpy in (np.int64(value), np.int32(value)):
        got = call(as_numpy)
        if isinstance(expected, torch.Tensor):
            assert torch.equal(got, expected)
        else:
            np.testing.assert_array_equal(got, expected)
    for flag in (True, np.bool_(True)):
        with pytest.raises(InputError, match=rf"{name}: expected an integer"):
            call(flag)


def test_a_float_dtype_is_checked_by_gradient_norms():
    with pytest.raises(InputError, match="dtype: expected torch.float32 or torch.float64"):
        _leaky_norms(dtype=torch.int64)
