"""Compare two systems with numbers and plots.

A *system* here is any of

- a linear filter: second-order sections ``(n_sections, 6)`` (tensor or array) or a
  ``tuple`` ``(b, a)``, as everywhere in :mod:`dsp_rnn.filters`;
- a cell following the protocol of :mod:`dsp_rnn.cells.base` with one input and one
  output feature (``y, state = cell(x)`` on ``(batch, time, 1)``);
- a callable on signals, ``y = f(x)`` with ``x`` and ``y`` shaped ``(..., time)``.

Linear systems (filters, and cells that convert back to a filter through ``.to_filter()`` or
``.to_sos()``) have their frequency responses computed exactly with
:func:`~dsp_rnn.filters.sosfreqz`; any other system's response is estimated from the test
signal (the H1 estimator, cross-spectrum over input power, averaged over Hann frames).

Metrics (:mod:`dsp_rnn.compare.metrics`), ``b`` the reference: ESR (error-to-signal ratio)
``sum (y_a - y_b)^2 / sum y_b^2``; SNR ``= -10 log10 ESR`` dB; max abs error; log-spectral
distance. :func:`fit` (:mod:`dsp_rnn.compare.fitting`) trains a cell to match a system or a recorded
(input, output) pair by gradient descent on the ESR (truncated BPTT).

References:
    J. S. Bendat, A. G. Piersol, "Random Data", Wiley (the H1 frequency-response estimator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dsp_rnn._validate import (
    as_tensor,
    check_finite,
    check_int,
    check_positive,
    check_sample_rate,
)
from dsp_rnn.compare.metrics import (
    esr,
    hann_frames,
    log_spectral_distance,
    max_abs_error,
    snr_db,
)
from dsp_rnn.compare.systems import System, as_system, probe_signal, system_output
from dsp_rnn.errors import ShapeError

__all__ = ["Comparison", "compare"]


def _response(
    sys_: System, x: torch.Tensor, y: torch.Tensor, freqs: torch.Tensor, n_fft: int, sr: float
) -> tuple[np.ndarray, bool]:
    """The complex response on ``freqs`` and whether it is exact (linear) or estimated."""
    from dsp_rnn.filters import freqz, sosfreqz

    if sys_.sos is not None:
        _, h = sosfreqz(sys_.sos.double(), freqs=freqs, sample_rate=sr)
        return h.detach().numpy(), True
    if sys_.tf is not None:
        b, a = sys_.tf
        _, h = freqz(b.double(), a.double(), freqs=freqs, sample_rate=sr)
        return h.detach().numpy(), True
    # H1 estimate: sum conj(X) Y / sum |X|^2 over Hann frames (hop n_fft / 2)
    xf = torch.fft.rfft(hann_frames(x.double().reshape(-1, x.shape[-1]), n_fft, n_fft // 2))
    yf = torch.fft.rfft(hann_frames(y.double().reshape(-1, y.shape[-1]), n_fft, n_fft // 2))
    sxy = (xf.conj() * yf).sum((0, 1))
    sxx = xf.abs().square().sum((0, 1)).clamp_min(torch.finfo(torch.float64).tiny)
    return (sxy / sxx).numpy(), False


@dataclass
class Comparison:
    """What :func:`compare` measured; ``str()`` / :meth:`summary` give a text report.

    Attributes:
        label_a, label_b: names of the system under test and of the reference.
        sample_rate: in Hz.
        n_samples: length of the test signal.
        dtype: dtype of the test signal (each cell runs in its own dtype).
        esr: ``sum (y_a - y_b)^2 / sum y_b^2``.
        snr_db: ``-10 log10 esr`` in dB.
        max_abs_error: ``max |y_a - y_b|``.
        lsd_db: log-spectral distance (:func:`log_spectral_distance`) in dB.
        mag_diff_db_max, mag_diff_db_rms: ``|20 log10 |H_a| - 20 log10 |H_b||`` over the
            band (frequencies where ``|H_b|`` is within ``band_db`` of its peak), in dB.
        phase_diff_deg_max: largest ``|angle(H_a conj H_b)|`` over the band, in degrees.
        exact_a, exact_b: whether each response is exact (linear) or estimated (H1).
        freqs_hz, h_a, h_b: the frequency grid and complex responses (numpy).
        ir_a, ir_b: impulse responses (numpy), measured by running each system.
        x, y_a, y_b: test signal and outputs (float64 tensors).
    """

    label_a: str
    label_b: str
    sample_rate: float
    n_samples: int
    dtype: torch.dtype
    esr: float
    snr_db: float
    max_abs_error: float
    lsd_db: float
    mag_diff_db_max: float
    mag_diff_db_rms: float
    phase_diff_deg_max: float
    band_db: float
    exact_a: bool
    exact_b: bool
    freqs_hz: np.ndarray = field(repr=False)
    h_a: np.ndarray = field(repr=False)
    h_b: np.ndarray = field(repr=False)
    ir_a: np.ndarray = field(repr=False)
    ir_b: np.ndarray = field(repr=False)
    x: torch.Tensor = field(repr=False)
    y_a: torch.Tensor = field(repr=False)
    y_b: torch.Tensor = field(repr=False)

    def summary(self) -> str:
        """A readable multi-line report of every number."""
        how = {True: "exact", False: "estimated (H1, test signal)"}
        dt = str(self.dtype).replace("torch.", "")
        lines = [
            f"compare: A = {self.label_a}  vs  reference B = {self.label_b}",
            f"signal: {self.n_samples} samples at {self.sample_rate:g} Hz, {dt}",
            f"  ESR                     {self.esr:.3e}   (sum (y_a - y_b)^2 / sum y_b^2)",
            f"  SNR                     {self.snr_db:.2f} dB",
            f"  max |y_a - y_b|         {self.max_abs_error:.3e}",
            f"  log-spectral distance   {self.lsd_db:.4f} dB",
            f"  magnitude difference    max {self.mag_diff_db_max:.4g} dB, "
            f"rms {self.mag_diff_db_rms:.4g} dB   (band: |H_b| within {self.band_db:g} dB "
            "of its peak)",
            f"  phase difference        max {self.phase_diff_deg_max:.4g} deg",
            f"  responses               A {how[self.exact_a]}, B {how[self.exact_b]}",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, path: str | Path) -> Path:
        """Write a PNG: magnitude, phase, impulse responses and the output error.

        Args:
            path: the image to write (PNG, SVG, ...) in an existing folder; replaced if
                it exists.

        Returns:
            The path written.

        Raises:
            OutputError: the folder of ``path`` is missing or read-only.
        """
        from dsp_rnn.compare.plots import plot_comparison

        return plot_comparison(self, path)


def compare(
    a: Any,
    b: Any,
    x: Any = None,
    *,
    sample_rate: float,
    labels: tuple[str, str] | None = None,
    n_fft: int = 2048,
    ir_samples: int = 4096,
    impulse_amplitude: float = 1.0,
    band_db: float = 60.0,
) -> Comparison:
    """Compare system ``a`` against the reference ``b`` on a test signal, with numbers.

    Both systems run on ``x`` from rest (zero state) without gradients; outputs are
    compared in float64. Frequency responses are exact (:func:`~dsp_rnn.filters.sosfreqz`)
    for linear systems, estimated from ``x`` and the outputs otherwise (H1 estimator, Hann
    frames of ``n_fft``); both are evaluated on the grid ``k sample_rate / n_fft``.

    Args:
        a: the system under test: SOS ``(n_sections, 6)``, tuple ``(b, a)``, a cell with
            one input and one output feature, or a callable on signals ``(..., time)``.
        b: the reference system (same kinds).
        x: test signal ``(..., time)`` (default: :func:`probe_signal`, one second of seeded
            white noise then a sine sweep, in float64 if either system is float64).
        sample_rate: in Hz.
        labels: names of ``a`` and ``b`` for the report (default: from their types).
        n_fft: frame length of the spectral estimates and of the response grid
            (default 2048; reduced to the signal length when shorter).
        ir_samples: length of the measured impulse responses (default 4096). Each is the
            response to an impulse minus the response to silence (a nonlinear system's
            rest output, such as an RNN's bias), divided by the impulse's height.
        impulse_amplitude: height of the impulse (default 1; matters only for nonlinear
            systems).
        band_db: response differences count where ``|H_b|`` is within this many dB of its
            peak (default 60).

    Shape:
        ``x (..., time)``; outputs keep its shape.

    Returns:
        A :class:`Comparison` (numbers, responses, signals; ``.summary()``, ``.plot(path)``).

    Raises:
        InputError: an unknown kind of system, a cell with more than one input or output
            feature, bad ``sample_rate``, ``n_fft``, ``ir_samples``, ``impulse_amplitude``
            or ``band_db``. ShapeError: outputs of a different shape than ``x``.
        UnstableFilterError: a filter with a pole on or outside the unit circle.

    Properties: no gradients (runs under ``torch.no_grad``); CPU.

    Example:
        >>> from dsp_rnn.filters import butter
        >>> sos = butter(2, 1000.0, sample_rate=8000, dtype=torch.float64)
        >>> c = compare(sos, sos, sample_rate=8000)
        >>> c.esr, c.max_abs_error, c.mag_diff_db_max
        (0.0, 0.0, 0.0)
    """
    sr = check_sample_rate(sample_rate)
    n_fft = check_int(n_fft, "n_fft", minimum=2)
    ir_samples = check_int(ir_samples, "ir_samples", minimum=1)
    check_positive(impulse_amplitude, "impulse_amplitude")
    check_positive(band_db, "band_db")
    la, lb = labels if labels is not None else (None, None)
    sa, sb = as_system(a, la), as_system(b, lb)
    dtype = torch.float64 if torch.float64 in (sa.dtype, sb.dtype) else torch.float32
    if x is None:
        x_t = probe_signal(sample_rate=sr, dtype=dtype)
    else:
        x_t = as_tensor(x, "x", min_ndim=1)
        check_finite(x_t, "x")
        dtype = x_t.dtype
    n_t = x_t.shape[-1]
    if n_t < 2:
        raise ShapeError(f"x: expected at least 2 samples, got shape {tuple(x_t.shape)}")
    with torch.no_grad():
        y_a = system_output(sa, x_t)
        y_b = system_output(sb, x_t)
        nf = min(int(n_fft), n_t)
        freqs = torch.arange(nf // 2 + 1, dtype=torch.float64) * (sr / nf)
        h_a, exact_a = _response(sa, x_t, y_a, freqs, nf, sr)
        h_b, exact_b = _response(sb, x_t, y_b, freqs, nf, sr)
        delta = torch.zeros(int(ir_samples), dtype=dtype)
        delta[0] = impulse_amplitude
        silence = torch.zeros_like(delta)
        ir_a = ((system_output(sa, delta) - system_output(sa, silence)) / impulse_amplitude).numpy()
        ir_b = ((system_output(sb, delta) - system_output(sb, silence)) / impulse_amplitude).numpy()
    f = freqs.numpy()
    mag_b = np.abs(h_b)
    band = (f > 0) & (f < sr / 2) & (mag_b >= mag_b.max() * 10 ** (-band_db / 20))
    tiny = np.finfo(np.float64).tiny
    mag_diff = 20 * np.log10(np.maximum(np.abs(h_a[band]), tiny) / np.maximum(mag_b[band], tiny))
    dphi = np.angle(h_a[band]) - np.angle(h_b[band])
    phase_diff = np.degrees(np.abs((dphi + np.pi) % (2 * np.pi) - np.pi))
    return Comparison(
        label_a=sa.label,
        label_b=sb.label,
        sample_rate=sr,
        n_samples=n_t,
        dtype=dtype,
        esr=esr(y_a, y_b),
        snr_db=snr_db(y_a, y_b),
        max_abs_error=max_abs_error(y_a, y_b),
        lsd_db=log_spectral_distance(y_a, y_b, n_fft=nf),
        mag_diff_db_max=float(np.abs(mag_diff).max()) if mag_diff.size else 0.0,
        mag_diff_db_rms=float(np.sqrt(np.mean(mag_diff**2))) if mag_diff.size else 0.0,
        phase_diff_deg_max=float(phase_diff.max()) if phase_diff.size else 0.0,
        band_db=float(band_db),
        exact_a=exact_a,
        exact_b=exact_b,
        freqs_hz=f,
        h_a=h_a,
        h_b=h_b,
        ir_a=ir_a,
        ir_b=ir_b,
        x=x_t.double(),
        y_a=y_a,
        y_b=y_b,
    )
