"""Systems as :func:`~dsp_rnn.compare.compare` and :func:`~dsp_rnn.compare.fit` see them,
and the test signal.

A *system* is a linear filter (SOS ``(n_sections, 6)`` or a ``tuple`` ``(b, a)``), a cell
with one input and one output feature, or a callable on signals ``(..., time)``.
:func:`as_system` wraps any of them as a :class:`System` (a label, a runner on signals and,
when linear, its exact sections); :func:`system_output` runs one and checks what it returns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from dsp_rnn._validate import as_tensor, check_finite, check_int, check_sample_rate, check_seed
from dsp_rnn.cells.base import FilterTwin
from dsp_rnn.errors import DspRnnError, InputError, ShapeError

__all__ = [
    "probe_signal",
    "run_cell",
    "System",
    "as_system",
    "system_output",
    "is_cell",
    "module_dtype",
    "module_device",
]


def probe_signal(
    n_samples: int | None = None,
    *,
    sample_rate: float,
    seed: int = 0,
    noise_rms: float = 0.25,
    sweep_amplitude: float = 0.5,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The default excitation of :func:`compare`: seeded white noise, then a sine sweep.

    The first half is Gaussian white noise of RMS ``noise_rms``; the second half an
    exponential sweep of amplitude ``sweep_amplitude`` from 20 Hz (or ``sample_rate/2000``
    if lower) to ``0.45 sample_rate``, with 5 ms raised-cosine fades at both ends.

    Args:
        n_samples: length (default: one second, ``round(sample_rate)``), ``>= 2``.
        sample_rate: in Hz.
        seed: seed of the noise (default 0).
        noise_rms: RMS of the noise half (default 0.25).
        sweep_amplitude: peak of the sweep half (default 0.5).
        dtype: float32 (default) or float64.

    Shape:
        -> ``(n_samples,)``.

    Raises:
        InputError: bad ``n_samples`` or ``sample_rate``.

    Example:
        >>> x = probe_signal(1000, sample_rate=8000)
        >>> x.shape, round(float(x[500:].abs().max()), 2)
        (torch.Size([1000]), 0.5)
    """
    sr = check_sample_rate(sample_rate)
    n = round(sr) if n_samples is None else check_int(n_samples, "n_samples", minimum=2)
    rng = np.random.default_rng(check_seed(seed))
    n_noise = n // 2
    noise = noise_rms * rng.standard_normal(n_noise)
    n_sweep = n - n_noise
    f_lo, f_hi = min(20.0, sr / 2000.0), 0.45 * sr
    t = np.arange(n_sweep) / sr
    dur = max(n_sweep / sr, 1.0 / sr)
    k = math.log(f_hi / f_lo)
    phase = 2 * math.pi * f_lo * dur / k * (np.exp(t / dur * k) - 1.0)
    sweep = sweep_amplitude * np.sin(phase)
    n_fade = min(max(1, round(0.005 * sr)), n_sweep // 2)
    if n_fade > 1:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n_fade) / n_fade)
        sweep[:n_fade] *= ramp
        sweep[-n_fade:] *= ramp[::-1]
    return torch.from_numpy(np.concatenate([noise, sweep])).to(dtype)


def is_cell(obj: Any) -> bool:
    """Whether ``obj`` is a cell of the protocol in :mod:`dsp_rnn.cells.base` (a module with
    a ``step`` method)."""
    return isinstance(obj, nn.Module) and callable(getattr(obj, "step", None))


def module_dtype(module: nn.Module) -> torch.dtype | None:
    """The dtype of a module's first floating-point parameter (or buffer); None if none."""
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    for b in module.buffers():
        if b.is_floating_point():
            return b.dtype
    return None


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (the CPU when it has none)."""
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def run_cell(cell: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a one-in, one-out cell over signals ``(..., time)`` from its zero state.

    Shape:
        ``x (..., time)`` -> ``y (..., time)`` (leading dims flattened into the batch).
    """
    n_in = getattr(cell, "input_size", 1)
    n_out = getattr(cell, "output_size", 1)
    if n_in != 1 or n_out != 1:
        raise InputError(
            f"{type(cell).__name__}: expected a cell with input_size=1 and output_size=1 to "
            f"run on signals, got input_size={n_in}, output_size={n_out}"
        )
    dtype = module_dtype(cell) or x.dtype
    lead, n_t = x.shape[:-1], x.shape[-1]
    xb = x.reshape(-1, n_t, 1).to(dtype=dtype, device=module_device(cell))  # (B, T, 1)
    y, _ = cell(xb)  # (B, T, 1)
    return y.reshape(lead + (n_t,))


@dataclass
class System:
    """A system wrapped for comparison: a label, a runner and, if linear, its exact model."""

    label: str
    run: Callable[[torch.Tensor], torch.Tensor]
    sos: torch.Tensor | None  # exact linear model, when there is one
    dtype: torch.dtype | None
    tf: tuple[torch.Tensor, torch.Tensor] | None = None  # (b, a) when given that way


def as_system(system: Any, label: str | None) -> System:
    """Wrap SOS, a ``(b, a)`` tuple, a cell or a callable as a :class:`System`; ``label``
    names it (default: a description of what it is).

    Raises:
        InputError: an object of none of these kinds, bad or unstable coefficients.
        ShapeError: SOS of more than one filter.
    """
    from dsp_rnn.filters import impulse_response, lfilter, sosfilt
    from dsp_rnn.filters.coerce import as_sos
    from dsp_rnn.filters.convert import tf2sos

    if isinstance(system, tuple):
        if len(system) != 2:
            raise InputError(f"system: a tuple must be (b, a), got {len(system)} items")
        b = as_tensor(system[0], "b", min_ndim=1)
        a = as_tensor(system[1], "a", min_ndim=1)
        check_finite(b, "b")
        check_finite(a, "a")
        impulse_response((b, a), 1)  # validates (a0 != 0, stability)
        try:
            sos = tf2sos(b, a)
        except Exception:  # noqa: BLE001 - a (b, a) that tf2sos cannot split stays exact in freqz
            sos = None
        order = max(b.shape[-1], a.shape[-1]) - 1
        name = label or f"filter (b, a), order {order}"

        def run_tf(x: torch.Tensor) -> torch.Tensor:
            return lfilter(b.to(x.dtype), a.to(x.dtype), x)

        return System(name, run_tf, sos, b.dtype, tf=(b, a))
    if isinstance(system, (torch.Tensor, np.ndarray, list)):
        sos = as_sos(system).detach()
        if sos.ndim != 2:
            raise ShapeError(f"sos: expected one filter (n_sections, 6), got {tuple(sos.shape)}")
        impulse_response(sos, 1)  # validates stability
        sections = sos

        def run_sos(x: torch.Tensor) -> torch.Tensor:
            return sosfilt(sections.to(x.dtype), x)

        n = sos.shape[0]
        return System(
            label or f"filter (SOS, {n} section{'s' * (n != 1)})", run_sos, sos, sos.dtype
        )
    if is_cell(system):
        sos = None
        if isinstance(system, FilterTwin):  # an exact twin, when it is one SISO cascade
            try:
                with torch.no_grad():
                    cand = system.to_filter()
                if isinstance(cand, torch.Tensor) and cand.ndim == 2:
                    sos = as_sos(cand).detach()
            except DspRnnError:  # no linear twin (a nonlinear cell): estimate instead
                sos = None

        def run(x: torch.Tensor) -> torch.Tensor:
            return run_cell(system, x)

        return System(label or type(system).__name__, run, sos, module_dtype(system))
    if callable(system):
        name = label or getattr(system, "__name__", None) or type(system).__name__
        return System(name, system, None, None)
    raise InputError(
        "system: expected SOS (n_sections, 6), a tuple (b, a), a cell or a callable on "
        f"signals, got {type(system).__name__}"
    )


def system_output(sys_: System, x: torch.Tensor) -> torch.Tensor:
    """Run ``sys_`` on ``x`` (..., time): its output detached, in float64.

    Raises:
        ShapeError: an output not of the input's shape.
        NonFiniteError: NaN or inf in the output.
    """
    y = sys_.run(x)
    y = torch.as_tensor(y)
    if y.shape != x.shape:
        raise ShapeError(
            f"{sys_.label}: expected an output of the input's shape {tuple(x.shape)}, "
            f"got {tuple(y.shape)}"
        )
    y = y.detach().to(torch.float64)
    check_finite(y, f"output of {sys_.label}")
    return y
