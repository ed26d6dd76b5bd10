"""The engine behind :mod:`dsp_rnn.filters.networks`: validated network parameters
(:class:`DelayNetwork`), block-wise processing and the exact frequency response.

Processing runs in blocks of ``L <= min(m_i)`` samples: within such a block every ``s[n]``
comes from the delay lines (written at least ``m_i >= L`` samples earlier), so a block is a
few matrix products on ``(..., N, L)`` tensors. Everything is plain torch: differentiable by
autograd, any device, float32/float64, complex when any parameter, the input or the state is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from dsp_rnn._validate import as_tensor, check_finite, check_int
from dsp_rnn.errors import InputError, ShapeError, UnstableFilterError
from dsp_rnn.filters.allpass import check_allpass_gain
from dsp_rnn.filters.analysis import frequency_grid
from dsp_rnn.filters.fdn_design import check_unitary

__all__ = ["DelayNetwork", "as_real_or_complex", "check_delays", "real_dtype"]

_REAL = {torch.complex64: torch.float32, torch.complex128: torch.float64}
_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype of a complex one (complex64 -> float32); a real dtype unchanged."""
    return _REAL.get(dtype, dtype)


def check_delays(delays: Any) -> list[int]:
    """``delays_samples`` as a list of integers >= 1 (InputError otherwise)."""
    if isinstance(delays, torch.Tensor):
        delays = delays.detach().cpu().reshape(-1).tolist()
    if isinstance(delays, np.ndarray):
        delays = delays.reshape(-1).tolist()
    if isinstance(delays, (str, bytes)) or not isinstance(delays, Sequence) or len(delays) == 0:
        raise InputError(
            f"delays_samples: expected a non-empty sequence of integers, got {delays!r}"
        )
    out = []
    for i, m in enumerate(delays):
        ok = not isinstance(m, bool) and isinstance(m, (int, float, np.integer, np.floating))
        if not ok or not math.isfinite(float(m)) or float(m) != int(m) or int(m) < 1:
            raise InputError(
                f"delays_samples: expected integer delays >= 1 sample, got "
                f"delays_samples[{i}]={m!r}"
            )
        out.append(int(m))
    return out


def as_real_or_complex(value: Any, name: str) -> torch.Tensor:
    """A real or complex tensor (matrix or gains); real values follow ``as_tensor``'s rule."""
    if isinstance(value, torch.Tensor) and value.is_complex():
        t = value
    elif not isinstance(value, torch.Tensor) and np.iscomplexobj(np.asarray(value)):
        arr = np.asarray(value)
        t = torch.from_numpy(
            arr.astype(np.complex128 if arr.dtype == np.complex128 else np.complex64)
        )
    else:
        t = as_tensor(value, name)
    return check_finite(t, name)


def _write_index(delays: list[int], length: int, device: torch.device) -> torch.Tensor:
    """Where each slot of the updated delay lines comes from in ``cat([old, new block])``."""
    total, pos, parts = sum(delays), 0, []
    for i, m in enumerate(delays):
        keep = torch.arange(pos + length, pos + m)  # old values that stay (shifted left)
        new = total + i * length + torch.arange(length)  # this block's v_i
        parts += [keep, new]
        pos += m
    return torch.cat(parts).to(device)


def _as_signal(value: Any, name: str) -> torch.Tensor:
    """A signal or state: real or complex (a complex network's state is complex), >= 1-D."""
    t = as_real_or_complex(value, name)
    if t.ndim < 1:
        raise ShapeError(f"{name}: expected at least 1 dimension(s), got shape {tuple(t.shape)}")
    return t


class DelayNetwork:
    """Validated FDN parameters in MIMO form: A (N, N), B (N, n_in), C (n_out, N), d, gamma;
    :meth:`run` processes a signal, :meth:`freqz` gives the exact frequency response."""

    def __init__(
        self,
        delays_samples: Any,
        feedback_matrix: Any,
        input_gains: Any,
        output_gains: Any,
        direct_gain: Any,
        line_gains: Any,
        *,
        check_matrix: bool = True,
    ) -> None:
        self.delays = check_delays(delays_samples)
        n = len(self.delays)
        a = as_real_or_complex(feedback_matrix, "feedback_matrix")
        if check_matrix:
            check_unitary(a, n, "feedback_matrix")
        real = real_dtype(a.dtype)
        b = (
            torch.ones(n, dtype=real)
            if input_gains is None
            else as_real_or_complex(input_gains, "input_gains")
        )
        c = (
            torch.ones(n, dtype=real)
            if output_gains is None
            else as_real_or_complex(output_gains, "output_gains")
        )
        gam = (
            torch.ones(n, dtype=real) if line_gains is None else as_tensor(line_gains, "line_gains")
        )
        d = as_real_or_complex(direct_gain, "direct_gain")
        for name, t in (
            ("input_gains", b),
            ("output_gains", c),
            ("line_gains", gam),
            ("direct_gain", d),
        ):
            check_finite(t, name)
        if b.ndim not in (1, 2) or b.shape[0] != n:
            raise ShapeError(
                f"input_gains: expected shape ({n},) or ({n}, n_inputs), got {tuple(b.shape)}"
            )
        if c.ndim not in (1, 2) or c.shape[-1] != n:
            raise ShapeError(
                f"output_gains: expected shape ({n},) or (n_outputs, {n}), got {tuple(c.shape)}"
            )
        if gam.shape != (n,):
            raise ShapeError(f"line_gains: expected shape ({n},), got {tuple(gam.shape)}")
        bad = gam.detach().abs() > 1
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            raise UnstableFilterError(
                f"line_gains: expected |line_gains| <= 1 (1 = lossless), got "
                f"line_gains[{i}]={float(gam[i]):g}"
            )
        self.siso_in, self.siso_out = b.ndim == 1, c.ndim == 1
        self.b = b[:, None] if self.siso_in else b
        self.c = c[None, :] if self.siso_out else c
        n_out, n_in = self.c.shape[0], self.b.shape[1]
        try:
            self.d = torch.broadcast_to(d, (n_out, n_in))
        except RuntimeError as exc:
            raise ShapeError(
                f"direct_gain: expected a scalar or a shape broadcasting to (n_outputs={n_out}, "
                f"n_inputs={n_in}), got {tuple(d.shape)}"
            ) from exc
        self.a, self.gamma = a, gam

    def params(self) -> list[torch.Tensor]:
        return [self.a, self.b, self.c, self.d, self.gamma]

    @classmethod
    def gerzon(cls, delays_samples: Any, feedback_matrix: Any, gain: Any) -> DelayNetwork:
        """Gerzon's network as an FDN: A = U G, B = U K, C = K, d = -G, K = sqrt(I - G^2)."""
        delays = check_delays(delays_samples)
        n = len(delays)
        u = as_real_or_complex(feedback_matrix, "feedback_matrix")
        check_unitary(u, n, "feedback_matrix")
        g = check_allpass_gain(gain, "gain")
        if g.ndim > 1 or (g.ndim == 1 and g.shape[0] not in (1, n)):
            raise ShapeError(f"gain: expected a scalar or shape ({n},), got {tuple(g.shape)}")
        if g.dtype != torch.float64:
            g = g.to(real_dtype(u.dtype))
        g = torch.broadcast_to(g, (n,))
        k = torch.sqrt(1 - g * g)
        return cls(delays, u * g, u * k, torch.diag(k), -torch.diag(g), None, check_matrix=False)

    def run(self, x: Any, state: Any, block_size: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, state)`` for the signal ``x`` from ``state`` (zeros when ``None``), in blocks of
        ``block_size`` samples (default ``min(delays)``)."""
        x = _as_signal(x, "x")
        n, n_in = len(self.delays), self.b.shape[1]
        total = sum(self.delays)
        if not self.siso_in:
            if x.ndim < 2 or x.shape[-2] != n_in:
                raise ShapeError(
                    f"x: expected shape (..., n_inputs={n_in}, time) for input_gains of shape "
                    f"{tuple(self.b.shape)}, got {tuple(x.shape)}"
                )
        xm = x[..., None, :] if self.siso_in else x  # (..., n_in, T)
        s0 = None
        if state is not None:
            s0 = _as_signal(state, "state")
            if s0.shape[-1] != total:
                raise ShapeError(
                    f"state: expected shape (..., {total}) (sum of delays_samples), "
                    f"got {tuple(s0.shape)}"
                )
        tensors = [xm, *self.params()] + ([] if s0 is None else [s0])
        real = (
            torch.float64
            if any(real_dtype(t.dtype) == torch.float64 for t in tensors)
            else torch.float32
        )
        dtype = _COMPLEX[real] if any(t.is_complex() for t in tensors) else real
        dev = x.device
        a, b, c, d, gam = (t.to(dtype=dtype, device=dev) for t in self.params())
        xm = xm.to(dtype)
        sshape = () if s0 is None else s0.shape[:-1]
        try:
            batch = torch.broadcast_shapes(xm.shape[:-2], sshape)
        except RuntimeError as exc:
            raise ShapeError(
                f"leading dims do not broadcast: x {tuple(x.shape)}, state shape {tuple(sshape)}"
            ) from exc
        n_t = xm.shape[-1]
        xm = xm.expand(batch + xm.shape[-2:])
        if s0 is None:
            buf = torch.zeros(batch + (total,), dtype=dtype, device=dev)
        else:
            buf = s0.to(dtype=dtype, device=dev).expand(batch + (total,))
        m_min = min(self.delays)
        if block_size is None:
            length = m_min
        else:
            length = check_int(block_size, "block_size", minimum=1)
            if length > m_min:
                raise InputError(
                    f"block_size: expected 1 <= block_size <= min(delays_samples)={m_min}, "
                    f"got block_size={length}"
                )
        offsets = torch.tensor(np.cumsum([0] + self.delays[:-1]), device=dev)
        index: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        gam_col = gam[:, None]
        ys = []
        for t0 in range(0, n_t, length):
            xb = xm[..., t0 : t0 + length]  # (..., n_in, L)
            n_b = xb.shape[-1]
            if n_b not in index:
                read = (offsets[:, None] + torch.arange(n_b, device=dev)).reshape(-1)
                index[n_b] = (read, _write_index(self.delays, n_b, dev))
            read, write = index[n_b]
            s = buf.index_select(-1, read).unflatten(-1, (n, n_b)) * gam_col  # (..., N, L)
            ys.append(c @ s + d @ xb)  # (..., n_out, L)
            v = a @ s + b @ xb  # (..., N, L)
            buf = torch.cat([buf, v.flatten(-2)], -1).index_select(-1, write)
        if not ys:  # an empty input: no samples, the state as it came
            ys = [torch.zeros(batch + (c.shape[0], 0), dtype=dtype, device=dev)]
        y = torch.cat(ys, -1)
        return (y[..., 0, :] if self.siso_out else y), buf

    def freqz(
        self, n_freqs: int, whole: bool, sample_rate: float | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact ``(freqs, H)``: one complex128 ``N x N`` solve per frequency."""
        w, freqs, _, _ = frequency_grid(n_freqs, whole=whole, sample_rate=sample_rate)
        params = [t.detach() for t in self.params()]
        a, b, c, d, gam = (t.cpu().to(torch.complex128) for t in params)
        m = torch.tensor(self.delays, dtype=torch.float64)
        gd = gam * torch.exp(-1j * w[:, None] * m)  # Gamma D(e^jw), (F, N)
        eye = torch.eye(len(self.delays), dtype=torch.complex128)
        lhs = eye - gd[:, :, None] * a  # I - Gamma D A
        x, info = torch.linalg.solve_ex(lhs, gd[:, :, None] * b)
        h = c @ x + d  # (F, n_out, n_in)
        singular = info != 0  # I - Gamma D A singular: a pole (or a hidden mode) on the grid
        if bool(singular.any()):
            nan = complex(math.nan, math.nan)
            h = torch.where(singular[:, None, None], torch.full_like(h, nan), h)
        h = h.permute(1, 2, 0)
        if self.siso_out:
            h = h[0]
        if self.siso_in:
            h = h[..., 0, :]
        wide = any(real_dtype(t.dtype) == torch.float64 for t in params)
        return freqs, h.to(torch.complex128 if wide else torch.complex64)
