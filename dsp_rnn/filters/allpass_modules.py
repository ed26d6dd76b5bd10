"""The allpass filters as :class:`torch.nn.Module` s: ``y, state = module(x, state)``.

Each module stores its parameters (buffers, or ``nn.Parameter`` s when ``learnable``) and
calls the function of :mod:`dsp_rnn.filters.allpass` or :mod:`dsp_rnn.filters.schroeder`;
``transfer_function()`` gives ``(b, a)``, ``order`` the length of the state and ``freqz`` the
exact frequency response (``|H| = 1``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from dsp_rnn._validate import as_tensor, common_dtype
from dsp_rnn.filters._module_tensors import store_tensor
from dsp_rnn.filters.allpass import (
    TensorLike,
    allpass1_coeff,
    allpass1_tf,
    allpass2_tf,
    check_allpass_gain,
)
from dsp_rnn.filters.analysis import freqz
from dsp_rnn.filters.filtering import lfilter
from dsp_rnn.filters.schroeder import nested_allpass, nested_allpass_tf

__all__ = ["Allpass1", "Allpass2", "SchroederAllpass", "NestedAllpass"]


class _AllpassModule(nn.Module):
    """Shared ``forward`` / ``freqz`` for modules defined by a transfer function."""

    def transfer_function(self) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    @property
    def order(self) -> int:
        """Order of the transfer function = length of the state."""
        return self.transfer_function()[1].shape[-1] - 1

    def _filter(self, x: torch.Tensor, zi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, a = self.transfer_function()
        out = lfilter(b, a, x, zi, check_stable=False)
        return out[0], out[1]

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Filter ``x`` (``(..., time)``); returns ``(y, state)``, zero state when ``None``."""
        x = as_tensor(x, "x", min_ndim=1)
        if state is None:
            state = torch.zeros(self.order, dtype=x.dtype, device=x.device)
        return self._filter(x, state)

    def freqz(
        self,
        n_freqs: int = 512,
        whole: bool = False,
        sample_rate: float | None = None,
        freqs: Any = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact frequency response from the transfer function, by
        :func:`~dsp_rnn.filters.freqz` in float64 (exact for any delay length).

        Args:
            n_freqs: number of frequencies (>= 1), ``w = pi k / n_freqs`` (``2 pi k`` if
                ``whole``), endpoint excluded.
            whole: the whole circle ``[0, 2 pi)`` instead of ``[0, pi)``.
            sample_rate: when given, frequencies are returned in Hz, else in rad/sample.
            freqs: explicit frequencies (Hz with ``sample_rate``, else rad/sample).

        Shape:
            freqs ``(n_freqs,)`` float64; H ``(..., n_freqs)`` complex (complex128 for a
            float64 module, else complex64).

        Returns:
            ``(freqs, H)``; ``|H| == 1`` up to rounding.
        """
        b, a = (t.detach().cpu() for t in self.transfer_function())
        out = torch.complex128 if common_dtype(b, a) == torch.float64 else torch.complex64
        f, h = freqz(
            b.double(),
            a.double(),
            n_freqs=n_freqs,
            whole=whole,
            sample_rate=sample_rate,
            freqs=freqs,
        )
        return f, h.to(out)


class Allpass1(_AllpassModule):
    """First-order allpass ``(c + z^-1) / (1 + c z^-1)`` as a module.

    Args:
        coeff: ``c``, ``|c| < 1`` (use :meth:`from_break_hz` to set it from a frequency).
        learnable: make ``coeff`` an ``nn.Parameter`` (default: a buffer).

    Shape:
        x ``(..., time)`` -> y ``(..., time)``; state ``(..., 1)``.

    Example:
        >>> ap = Allpass1.from_break_hz(1000.0, sample_rate=4000.0)
        >>> freqs, h = ap.freqz(4, sample_rate=4000.0)  # 0, 500, 1000, 1500 Hz
        >>> round(float(torch.angle(h[2])), 6)  # -90 degrees at the break frequency
        -1.570796
    """

    coeff: torch.Tensor

    def __init__(self, coeff: TensorLike, *, learnable: bool = False) -> None:
        super().__init__()
        store_tensor(self, "coeff", check_allpass_gain(coeff, "coeff"), learnable)

    @classmethod
    def from_break_hz(
        cls, break_hz: TensorLike, *, sample_rate: float, learnable: bool = False
    ) -> Allpass1:
        """Build from the frequency where the phase is -90 degrees (:func:`allpass1_coeff`)."""
        return cls(allpass1_coeff(break_hz, sample_rate=sample_rate), learnable=learnable)

    def transfer_function(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(b, a)`` of :func:`allpass1_tf`."""
        return allpass1_tf(self.coeff)


class Allpass2(_AllpassModule):
    """Second-order allpass (phase -180 degrees at ``f0_hz``) as a module.

    Args:
        f0_hz, sample_rate, q, radius: as :func:`allpass2_tf` (one of ``q`` / ``radius``).

    Shape:
        x ``(..., time)`` -> y ``(..., time)``; state ``(..., 2)``.

    Example:
        >>> ap = Allpass2(1000.0, sample_rate=8000.0, q=2.0)
        >>> freqs, h = ap.freqz(8, sample_rate=8000.0)  # 0, 500, ..., 3500 Hz
        >>> round(float(h[2].real), 6), round(float(h[2].abs()), 6)  # H(f0) = -1
        (-1.0, 1.0)
    """

    f0_hz: torch.Tensor
    shape_param: torch.Tensor

    def __init__(
        self,
        f0_hz: TensorLike,
        *,
        sample_rate: float,
        q: TensorLike | None = None,
        radius: TensorLike | None = None,
    ) -> None:
        super().__init__()
        allpass2_tf(f0_hz, sample_rate=sample_rate, q=q, radius=radius)  # validates
        self.sample_rate = float(sample_rate)
        self.uses_q = q is not None
        self.register_buffer("f0_hz", as_tensor(f0_hz, "f0_hz").clone())
        shape_param = as_tensor(q if q is not None else radius, "shape_param")
        self.register_buffer("shape_param", shape_param.clone())

    def transfer_function(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(b, a)`` of :func:`allpass2_tf`."""
        key = "q" if self.uses_q else "radius"
        return allpass2_tf(self.f0_hz, sample_rate=self.sample_rate, **{key: self.shape_param})


class NestedAllpass(_AllpassModule):
    """Nested allpass (Gardner) as a module; one stage is a Schroeder allpass.

    Args:
        stages: ``[(delay_samples, gain), ...]`` outermost first (see
            :func:`nested_allpass_tf`).
        learnable: make the gains ``nn.Parameter`` s (default: buffers).

    Shape:
        x ``(..., time)`` -> y ``(..., time)``; state ``(..., order)`` (see
        :func:`nested_allpass`).

    Example:
        >>> ap = NestedAllpass([(5, 0.6), (2.5, -0.4)])
        >>> freqs, h = ap.freqz(4096)
        >>> bool(torch.allclose(h.abs(), torch.ones(4096), atol=1e-6))
        True
    """

    gains: torch.Tensor

    def __init__(
        self, stages: Sequence[tuple[float, TensorLike]], *, learnable: bool = False
    ) -> None:
        super().__init__()
        _, a = nested_allpass_tf(stages)  # validates the stages
        self.delays_samples = [st[0] for st in stages]
        self._order = a.shape[-1] - 1  # fixed by the delays
        gains = [check_allpass_gain(st[1], f"stages[{i}].gain") for i, st in enumerate(stages)]
        store_tensor(self, "gains", torch.stack(torch.broadcast_tensors(*gains), -1), learnable)

    def _stages(self) -> list[tuple[float, torch.Tensor]]:
        return [(m, self.gains[..., i]) for i, m in enumerate(self.delays_samples)]

    @property
    def order(self) -> int:
        """Order of the transfer function = length of the state."""
        return self._order

    def transfer_function(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(b, a)`` of :func:`nested_allpass_tf`."""
        return nested_allpass_tf(self._stages())

    def _filter(self, x: torch.Tensor, zi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = nested_allpass(x, self._stages(), zi)
        return out[0], out[1]


class SchroederAllpass(NestedAllpass):
    """Schroeder allpass ``(-g + A(z)) / (1 - g A(z))`` as a module (integer or fractional M).

    Args:
        delay_samples: loop delay ``M >= 1`` samples.
        gain: ``g``, ``|g| < 1``.
        learnable: make the gain an ``nn.Parameter`` (default: a buffer).

    Shape:
        x ``(..., time)`` -> y ``(..., time)``; state ``(..., order)`` (see
        :func:`schroeder_allpass`).

    Example:
        >>> ap = SchroederAllpass(delay_samples=4, gain=0.5)
        >>> x = torch.zeros(9); x[0] = 1
        >>> y, state = ap(x)
        >>> y[[0, 4, 8]], state.shape  # -g, 1 - g^2, g (1 - g^2)
        (tensor([-0.5000,  0.7500,  0.3750]), torch.Size([4]))
    """

    def __init__(self, delay_samples: float, gain: TensorLike, *, learnable: bool = False):
        super().__init__([(delay_samples, gain)], learnable=learnable)

    @property
    def delay_samples(self) -> int | float:
        """The loop delay ``M`` in samples."""
        return self.delays_samples[0]
