"""A learnable biquad cascade that no optimiser step can make unstable: :class:`IIRCell`.

Each section's denominator ``z^2 + a1 z + a2`` comes from two unconstrained numbers through
a squashing map into the denominators whose poles both have radius ``< r_max < 1``:

- ``"triangle"`` (default): the stability triangle of a second-order polynomial, scaled.
  ``c2 = tanh(beta)``, ``c1 = (1 + c2) tanh(alpha)`` fill the open triangle ``|c2| < 1``,
  ``|c1| < 1 + c2`` (both roots of ``w^2 + c1 w + c2`` inside the unit circle), and
  ``a1 = r_max c1``, ``a2 = r_max^2 c2`` (the substitution ``z = r_max w``) puts both roots
  of ``z^2 + a1 z + a2`` inside radius ``r_max``. It covers complex pairs *and* pairs of
  distinct real poles (first-order sections of odd designs, shelving and highpass sections).
- ``"polar"``: a complex-conjugate pair ``r e^{+-j theta}`` with ``r = r_max sigmoid(rho)``
  and ``theta`` free (``a1 = -2 r cos theta``, ``a2 = r^2``). Often the easier landscape for
  resonant filters, but it cannot represent two distinct real poles.

Rounding: near a double real pole a coefficient error ``e`` moves the poles by about
``sqrt(e)`` (3e-4 in float32), so the map's output is also clamped to the stability triangle
``|a1| < 1 + a2`` *as rounded numbers* (and ``a2 <= r_max^2 < 1``): the filter that actually
runs is stable whatever the optimiser does. The default ``r_max = 0.999`` keeps the clamp
inactive in float32 (it leaves a triangle margin ``(1 - r_max)^2 = 1e-6``); a larger bound
still yields stable filters, with poles up to ``~sqrt(eps)`` beyond ``r_max``.

Numerators are free. The cell is a :class:`~dsp_rnn.cells.StateSpaceCell`-like cascade: the
same fast ``sosfilt`` forward, DF2T state, ``step``, ``state_space``, ``freqz`` and SOS
conversion.

References:
    L. B. Jackson, "Digital Filters and Signal Processing", 3rd ed., 1996 (the stability
    triangle). B. Kuznetsov, J. D. Parker, F. Esqueda, "Differentiable IIR filters for machine
    learning applications", DAFx 2020.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from dsp_rnn._validate import check_int, check_seed
from dsp_rnn.cells._cascade import CascadeCell, unit_noise_numerators
from dsp_rnn.cells.base import Cell
from dsp_rnn.errors import InputError, ShapeError, UnstableFilterError
from dsp_rnn.filters.analysis import frequency_grid, unit_circle
from dsp_rnn.filters.coerce import as_sos
from dsp_rnn.filters.convert import tf2sos

__all__ = ["IIRCell"]

_PARAMETERIZATIONS = ("triangle", "polar")


def _check_options(r_max: Any, parameterization: Any) -> float:
    if isinstance(r_max, bool) or not isinstance(r_max, (int, float)) or not 0 < r_max < 1:
        raise InputError(f"r_max: expected a pole radius bound 0 < r_max < 1, got r_max={r_max!r}")
    if parameterization not in _PARAMETERIZATIONS:
        raise InputError(
            f"parameterization: expected one of {_PARAMETERIZATIONS}, got {parameterization!r}"
        )
    return float(r_max)


def _roots(a1: torch.Tensor, a2: torch.Tensor) -> torch.Tensor:
    """Both roots of ``z^2 + a1 z + a2``, ``(..., 2)`` complex."""
    cdt = torch.complex128 if a1.dtype == torch.float64 else torch.complex64
    disc = torch.sqrt((a1 * a1 - 4 * a2).to(cdt))
    return torch.stack([(-a1 + disc) / 2, (-a1 - disc) / 2], -1)


class IIRCell(CascadeCell):
    """A learnable cascade of biquads whose poles stay strictly inside the unit circle.

    See the module docstring for the two parameterisations. Single input, single output;
    ``state_size = 2 * n_sections`` (each section's DF2T state, as ``sosfilt``'s ``zi``).
    The output is ``y_t = C h_{t-1} + D x_t`` with ``(A, B, C, D)`` from
    :meth:`state_space`. Initial poles are random (global torch RNG): radius 0.3 to 0.8,
    angle 0 to pi; numerators near ``[g, 0, 0]``, ``g`` giving each section unit white-noise
    gain (the cascade starts at about the input's level).

    Args:
        n_sections: number of biquads, ``>= 1``.
        r_max: bound on every pole radius, ``0 < r_max < 1`` (default 0.999: poles down
            to about ``(1 - r_max) fs / (2 pi)`` = 8 Hz at 48 kHz).
        parameterization: ``"triangle"`` (default) or ``"polar"``.

    Shape:
        x ``(batch, time, 1)`` -> y ``(batch, time, 1)``; state ``(batch, 2 * n_sections)``.

    Raises:
        InputError: bad ``n_sections``, ``r_max`` or ``parameterization``.

    Properties: differentiable (``sosfilt`` adjoint kernels); CPU and CUDA; float32/64.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> cell = IIRCell(3)
        >>> opt = torch.optim.Adam(cell.parameters(), lr=10.0)
        >>> for _ in range(20):  # push every pole outwards as hard as possible
        ...     opt.zero_grad()
        ...     (-cell.poles().abs().sum()).backward()
        ...     opt.step()
        >>> bool(cell.poles().abs().max() < 1)
        True
    """

    def __init__(
        self, n_sections: int, *, r_max: float = 0.999, parameterization: str = "triangle"
    ) -> None:
        super().__init__()
        n_sections = check_int(n_sections, "n_sections", minimum=1)
        self.r_max = _check_options(r_max, parameterization)
        self.parameterization = parameterization
        self._set_orders(torch.full((1, 1, n_sections), 2, dtype=torch.long))
        radius = 0.3 + 0.5 * torch.rand(n_sections, dtype=torch.float64)
        theta = math.pi * torch.rand(n_sections, dtype=torch.float64)
        den = torch.stack([-2 * radius * torch.cos(theta), radius**2], -1)
        self.numerator = nn.Parameter(unit_noise_numerators(den[:, 0], den[:, 1]))
        self.pole_params = nn.Parameter(self._raw_from_denominator(den).float())

    # ------------------------------------------------------------------ parameter maps
    def denominator(self) -> torch.Tensor:
        """The sections' ``[a1, a2]`` ``(n_sections, 2)`` from :attr:`pole_params`."""
        p, r = self.pole_params, self.r_max
        if self.parameterization == "triangle":
            c2 = torch.tanh(p[:, 1])
            a1, a2 = r * (1 + c2) * torch.tanh(p[:, 0]), r * r * c2
        else:
            radius = r * torch.sigmoid(p[:, 0])
            a1, a2 = -2 * radius * torch.cos(p[:, 1]), radius * radius
        edge = (1 + a2) * (1 - 4 * torch.finfo(a2.dtype).eps)  # the triangle, on rounded values
        return torch.stack([torch.clamp(a1, -edge, edge), a2], -1)

    def _raw_from_denominator(self, den: torch.Tensor) -> torch.Tensor:
        """Invert :meth:`denominator` (float64); raise when a pole is out of reach."""
        den = den.to(torch.float64)
        a1, a2 = den[:, 0], den[:, 1]
        radius = _roots(a1, a2).abs().amax(-1)
        bad = radius >= self.r_max
        if bool(bad.any()):
            k = int(torch.nonzero(bad)[0])
            kind = UnstableFilterError if radius[k] >= 1 else InputError
            raise kind(
                f"sos: expected every pole radius < r_max={self.r_max:g}, found section {k} "
                f"with a1={float(a1[k]):.6g}, a2={float(a2[k]):.6g} (pole radius "
                f"{float(radius[k]):.6g})" + ("; raise r_max" if radius[k] < 1 else "")
            )
        r = self.r_max
        if self.parameterization == "triangle":
            c1, c2 = a1 / r, a2 / (r * r)
            edge = 1 - 1e-15
            beta = torch.atanh(c2.clamp(-edge, edge))
            alpha = torch.atanh((c1 / (1 + c2)).clamp(-edge, edge))
            return torch.stack([alpha, beta], -1)
        disc = a1 * a1 - 4 * a2
        distinct_real = disc > 1e-12 * torch.clamp(a1 * a1, min=1.0)
        if bool(distinct_real.any()):
            k = int(torch.nonzero(distinct_real)[0])
            raise InputError(
                f"sos: section {k} has two distinct real poles (a1={float(a1[k]):.6g}, "
                f"a2={float(a2[k]):.6g}), which parameterization='polar' cannot represent; "
                "use parameterization='triangle'"
            )
        mag = torch.sqrt(a2.clamp(min=0.0))
        theta = torch.acos((-a1 / (2 * mag).clamp(min=1e-300)).clamp(-1.0, 1.0))
        ratio = (mag / r).clamp(1e-12, 1 - 1e-16)
        return torch.stack([torch.log(ratio) - torch.log1p(-ratio), theta], -1)

    def _coefficients(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.numerator[None, None], self.denominator()[None, None]

    def poles(self) -> torch.Tensor:
        """Both poles of every section, ``(n_sections, 2)`` complex (differentiable).

        ``"polar"``: ``r e^{+-j theta}`` straight from the parameters (smooth everywhere).
        ``"triangle"``: roots of the denominator, whose gradient is infinite at a double pole.
        """
        if self.parameterization == "polar":
            radius = self.r_max * torch.sigmoid(self.pole_params[:, 0])
            theta = self.pole_params[:, 1]
            return torch.polar(radius[:, None], torch.stack([theta, -theta], -1))
        den = self.denominator()
        return _roots(den[:, 0], den[:, 1])

    # ------------------------------------------------------------------ SOS conversion
    @classmethod
    def log_frequency(
        cls,
        n_sections: int,
        *,
        sample_rate: float,
        low_hz: float = 50.0,
        high_hz: float = 10_000.0,
        seed: int = 0,
        r_max: float = 0.999,
        parameterization: str = "triangle",
    ) -> IIRCell:
        """A cell whose sections start as resonances spread log-uniformly in frequency.

        Each section gets a pole pair of a cookbook lowpass at a frequency drawn
        log-uniformly from ``[low_hz, high_hz]`` (Q 0.5 to 1) and the numerator
        ``[g, 0, 0]`` with ``g`` giving the section a peak gain of 1. Unlike the default
        start (pole angles uniform in ``[0, pi]``, so few poles below 1 kHz at 48 kHz),
        this reaches low cutoffs: fitting a 1 kHz Butterworth lowpass at 48 kHz gets to
        ESR < 1e-3 from here and gets stuck from the default (``bench/bench_fit.py``).

        Args:
            n_sections: number of biquads, ``>= 1``.
            sample_rate: Hz; ``0 < low_hz < high_hz < sample_rate / 2``.
            seed: seeds the draw (its own generator; the global RNG is untouched).

        Example:
            >>> from dsp_rnn.filters import sosfreqz
            >>> cell = IIRCell.log_frequency(4, sample_rate=48_000, seed=1)
            >>> [round(float(sosfreqz(row[None], n_freqs=4096)[1].abs().max()), 3)
            ...  for row in cell.to_sos().detach().double()]  # every section peaks at 1
            [1.0, 1.0, 1.0, 1.0]
        """
        n_sections = check_int(n_sections, "n_sections", minimum=1)
        if not (0 < low_hz < high_hz < sample_rate / 2):
            raise InputError(
                f"expected 0 < low_hz < high_hz < sample_rate / 2, got low_hz={low_hz}, "
                f"high_hz={high_hz}, sample_rate={sample_rate}"
            )
        gen = torch.Generator().manual_seed(check_seed(seed))
        u = torch.rand(n_sections, 2, generator=gen, dtype=torch.float64)
        f0 = torch.exp(math.log(low_hz) + u[:, 0] * (math.log(high_hz) - math.log(low_hz)))
        q = 0.5 + 0.5 * u[:, 1]
        w = 2 * math.pi * f0 / sample_rate
        alpha = torch.sin(w) / (2 * q)
        a1, a2 = -2 * torch.cos(w) / (1 + alpha), (1 - alpha) / (1 + alpha)
        den = torch.stack([torch.ones_like(a1), a1, a2], -1)  # (n_sections, 3)
        gain = unit_circle(den, frequency_grid(4096)).abs().amin(-1)  # 1 / peak of 1/A
        zeros = torch.zeros_like(gain)
        sos = torch.stack([gain, zeros, zeros, torch.ones_like(gain), a1, a2], -1)
        return cls.from_filter(sos.float(), r_max=r_max, parameterization=parameterization)

    @classmethod
    def from_filter(
        cls, sos: Any, *, r_max: float = 0.999, parameterization: str = "triangle"
    ) -> IIRCell:
        """The cell whose cascade equals ``sos`` (in the dtype of ``sos``); ``from_sos`` is
        the same method (:class:`~dsp_rnn.cells.FilterTwin`).

        Args:
            sos: second-order sections ``(n_sections, 6)``, ``a0 != 0``, or a ``tuple``
                ``(b, a)`` (converted by :func:`~dsp_rnn.filters.tf2sos`); every pole radius
                ``< r_max``.
            r_max: pole radius bound of the cell (default 0.999).
            parameterization: ``"triangle"`` (default) or ``"polar"``.

        Returns:
            An :class:`IIRCell` with ``to_sos()`` equal to ``sos`` (normalised by ``a0``) up
            to the rounding of the squashing maps.

        Raises:
            ShapeError: not ``(n_sections, 6)``. NonFiniteError: NaN/inf. InputError:
            ``a0 == 0``, a pole radius in ``[r_max, 1)``, two distinct real poles with
            ``"polar"``, bad options. UnstableFilterError: a pole radius ``>= 1``.

        Example:
            >>> from dsp_rnn.filters import butter
            >>> sos = butter(3, 2000.0, sample_rate=16000, dtype=torch.float64)
            >>> cell = IIRCell.from_sos(sos)  # an odd order: one section has real poles
            >>> bool(torch.allclose(cell.to_sos(), sos, atol=1e-12))
            True
        """
        t = tf2sos(*sos) if isinstance(sos, tuple) and len(sos) == 2 else as_sos(sos)
        if t.ndim != 2:
            raise ShapeError(f"sos: expected shape (n_sections, 6), got {tuple(t.shape)}")
        t = (t / t[:, 3:4]).detach()
        cell = cls.__new__(cls)
        Cell.__init__(cell)
        cell.r_max = _check_options(r_max, parameterization)
        cell.parameterization = parameterization
        cell._set_orders(torch.full((1, 1, t.shape[0]), 2, dtype=torch.long))
        cell.numerator = nn.Parameter(t[:, :3].clone())
        cell.pole_params = nn.Parameter(cell._raw_from_denominator(t[:, 4:]).to(t.dtype))
        return cell

    from_sos = from_filter

    def to_sos(self) -> torch.Tensor:
        """The cell's sections ``(n_sections, 6)``, detached (same as :meth:`to_filter`)."""
        return self.to_filter()

    def extra_repr(self) -> str:
        return (
            f"n_sections={self.n_sections}, r_max={self.r_max:g}, "
            f"parameterization={self.parameterization!r}"
        )
