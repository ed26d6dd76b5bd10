"""Delay-line allpasses: Schroeder (integer or fractional loop delay) and nested (Gardner).

Each comes as a transfer function (``*_tf`` -> ``(b, a)``) and a function that filters a
signal (``zi`` in, ``(y, zf)`` out); ``|H(e^{jw})| = 1`` exactly for every valid parameter.
The modules are :class:`~dsp_rnn.filters.SchroederAllpass` and
:class:`~dsp_rnn.filters.NestedAllpass`.

Equations (``z^-1`` is one sample of delay):

- Schroeder:     ``H(z) = (-g + A(z)) / (1 - g A(z))`` with the loop delay ``A(z) = z^-M``
  (integer ``M``) or ``A(z) = z^-N T(z)``, ``T`` a first-order Thiran allpass of delay
  ``d = M - N`` (fractional ``M``). Since ``|A| = 1`` on the unit circle and ``|g| < 1``,
  the Möbius map ``a -> (a - g) / (1 - g a)`` keeps ``|H| = 1`` exactly;
- nested:        the same map applied stage by stage, ``A_k(z) = z^-N_k [T_k(z)] H_{k+1}(z)``
  (Gardner's nested allpass: the delay line of each allpass contains the next one).

Time-domain structure (direct form II transposed, the form :func:`lfilter` uses)::

    y[n] = -g x[n] + (A v)[n],     v[n] = x[n] + g y[n]

so the state is the delay line holding past ``v``. For an integer Schroeder allpass that
state equals ``scipy.signal.lfilter``'s ``zi`` for ``schroeder_allpass_tf`` (a buffer of
the last ``M`` values of ``v``, oldest first).

References:
    M. R. Schroeder, B. F. Logan, "'Colorless' artificial reverberation", IRE Trans. Audio,
    1961. W. G. Gardner, "A real-time multichannel room simulator", JASA 92(4), 1992 (nested
    allpass). J. Dattorro, "Effect design part 1", JAES 45(9), 1997. J.-P. Thiran, "Recursive
    digital filters with maximally flat group delay", IEEE Trans. Circuit Theory, 1971.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from dsp_rnn._validate import as_tensor, check_finite, common_dtype
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters.allpass import TensorLike, check_allpass_gain, thiran1_coeff
from dsp_rnn.filters.filtering import lfilter

__all__ = [
    "schroeder_allpass_tf",
    "schroeder_allpass",
    "nested_allpass_tf",
    "nested_allpass",
]


# ----------------------------------------------------------------------------- stages
def _check_delay(value: Any, name: str = "delay_samples") -> int | float:
    """A loop delay in samples: a finite real number >= 1; integer values become ``int``."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ShapeError(f"{name}: expected one number, got shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{name}: expected a number of samples >= 1, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 1:
        raise InputError(f"{name}: expected a finite delay >= 1 sample, got {name}={value}")
    return int(v) if v == int(v) else v


def _split_delay(m: int | float) -> tuple[int, float | None]:
    """Split a delay into ``N`` pure samples and a Thiran delay ``d`` (``None`` if integer).

    ``d`` is kept in ``[0.5, 1.5)`` where the first-order Thiran allpass is most accurate,
    except for ``1 < M < 1.5`` where ``N = 1`` leaves ``d = M - 1``. ``N >= 1`` always, so
    the feedback loop never becomes delay-free.
    """
    if isinstance(m, int):
        return m, None
    n = max(1, math.floor(m - 0.5))
    return n, m - n


@dataclass(frozen=True)
class _Stage:
    n: int  # pure delay samples in the loop (>= 1)
    eta: float | None  # Thiran coefficient, None for an integer delay
    gain: torch.Tensor  # (...,)


def _parse_stages(stages: Any, dtype: torch.dtype | None = None) -> list[_Stage]:
    if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence) or len(stages) == 0:
        raise InputError(
            f"stages: expected a non-empty sequence of (delay_samples, gain) pairs, got {stages!r}"
        )
    out = []
    for i, st in enumerate(stages):
        if not isinstance(st, Sequence) or len(st) != 2:
            raise InputError(f"stages[{i}]: expected a (delay_samples, gain) pair, got {st!r}")
        m = _check_delay(st[0], f"stages[{i}].delay_samples")
        g = check_allpass_gain(st[1], f"stages[{i}].gain", dtype=dtype)
        n, d = _split_delay(m)
        out.append(_Stage(n, None if d is None else thiran1_coeff(d), g))
    return out


def _stages_dtype(stages: list[_Stage], *others: torch.Tensor) -> torch.dtype:
    return common_dtype(*[s.gain for s in stages], *others)


def _stages_tf(stages: list[_Stage], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Numerator/denominator of the nested allpass, built from the innermost stage out."""
    device = stages[0].gain.device
    p = torch.ones(1, dtype=dtype, device=device)
    q = torch.ones(1, dtype=dtype, device=device)
    for st in reversed(stages):
        pa, qa = p, q
        if st.eta is not None:  # times the Thiran allpass (eta + z^-1) / (1 + eta z^-1)
            pa = st.eta * F.pad(pa, (0, 1)) + F.pad(pa, (1, 0))
            qa = F.pad(qa, (0, 1)) + st.eta * F.pad(qa, (1, 0))
        pa = F.pad(pa, (st.n, 0))  # times z^-N
        g = st.gain.to(dtype)[..., None]
        length = pa.shape[-1]
        qa = F.pad(qa, (0, length - qa.shape[-1]))
        p, q = -g * qa + pa, qa - g * pa  # (-g + A) / (1 - g A)
    return p, q


def _order(stages: list[_Stage]) -> int:
    return sum(st.n + (st.eta is not None) for st in stages)


def _polyphase(
    x: torch.Tensor, m: int, g: torch.Tensor, s: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer Schroeder allpass as ``M`` first-order recursions (polyphase).

    With ``n = k M + j`` the recursion ``y[n] = -g x[n] + v[n-M]``, ``v = x + g y`` only
    links samples of the same phase ``j``: reshaping time to ``(K, M)`` turns it into ``M``
    first-order filters ``(-g + z^-1) / (1 - g z^-1)`` along ``k``, run by :func:`lfilter`.
    ``s`` holds ``v[n-M .. n-1]`` (= the lfilter state of the order-``M`` filter).
    x ``(B..., T)``, g ``(...)`` broadcasting against ``B``, s ``(B..., M)``.
    """
    batch, n_t = x.shape[:-1], x.shape[-1]
    n_blk, rest = divmod(n_t, m)
    ys = []
    if n_blk > 0:
        xp = x[..., : n_blk * m].reshape(batch + (n_blk, m)).transpose(-1, -2)  # (B, M, K)
        one = torch.ones_like(g)
        b = torch.stack([-g, one], -1)[..., None, :]  # (..., 1, 2)
        a = torch.stack([one, -g], -1)[..., None, :]
        yp, zf = lfilter(b, a, xp, s[..., None], check_stable=False)  # (B, M, K), (B, M, 1)
        ys.append(yp.transpose(-1, -2).reshape(batch + (n_blk * m,)))
        s = zf[..., 0]
    if rest > 0:
        gb = g[..., None]
        xr = x[..., n_blk * m :]  # (B, r)
        yr = -gb * xr + s[..., :rest]
        ys.append(yr)
        s = torch.cat([s[..., rest:], xr + gb * yr], -1)
    return torch.cat(ys, -1), s


_MAX_THIRAN_BLOCK = 512


def _thiran_matrices(
    eta: float, length: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Block form of the first-order Thiran allpass ``(eta + z^-1) / (1 + eta z^-1)``.

    For a block of ``L`` inputs ``r`` and DF2T state ``th``: ``u = r @ toep.T + th * decay``
    with ``toep[k, j] = h[k - j]`` (impulse response ``h[0] = eta``,
    ``h[k] = (1 - eta^2) (-eta)^(k-1)``) and ``decay[k] = (-eta)^k``; exact, no recursion.
    """
    k = torch.arange(length, dtype=torch.float64)
    decay = (-eta) ** k
    h = torch.cat([torch.tensor([eta], dtype=torch.float64), (1 - eta * eta) * decay[:-1]])
    lag = (k[:, None] - k[None, :]).long()
    toep = torch.where(lag >= 0, h[lag.clamp(min=0)], torch.zeros((), dtype=torch.float64))
    return toep.to(dtype=dtype, device=device), decay.to(dtype=dtype, device=device)


def _run_stages(
    x: torch.Tensor, stages: list[_Stage], zi: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nested (or fractional) allpass in blocks of ``L = min N_k`` samples.

    Within a block the loop input ``(A v)`` only needs ``v`` from at least ``N_k >= L``
    samples ago, already in the delay line, so each block is a few tensor operations per
    stage (a fractional stage's Thiran allpass is a small Toeplitz matmul, see
    :func:`_thiran_matrices`). Stage ``k``'s state is ``[v_k delay line (N_k values, oldest
    first), Thiran DF2T state (1 value, if fractional)]``, stages concatenated outermost
    first. x ``(B..., T)``, zi ``(B..., order)``; autograd-differentiable.
    """
    bufs: list[torch.Tensor] = []
    ths: list[torch.Tensor | None] = []
    pos = 0
    for st in stages:
        bufs.append(zi[..., pos : pos + st.n])
        pos += st.n
        ths.append(zi[..., pos : pos + 1] if st.eta is not None else None)
        pos += st.eta is not None
    gains = [st.gain[..., None] for st in stages]
    cache: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}

    def block(k: int, xb: torch.Tensor) -> torch.Tensor:
        st, n_b = stages[k], xb.shape[-1]
        r = bufs[k][..., :n_b]  # v_k delayed by N_k
        th = ths[k]
        if st.eta is not None and th is not None:
            if (k, n_b) not in cache:
                cache[k, n_b] = _thiran_matrices(st.eta, n_b, x.dtype, x.device)
            toep, decay = cache[k, n_b]
            r_in = r
            r = r_in @ toep.T + th * decay
            ths[k] = r_in[..., -1:] - st.eta * r[..., -1:]
        if k + 1 < len(stages):
            r = block(k + 1, r)
        y = -gains[k] * xb + r
        bufs[k] = torch.cat([bufs[k][..., n_b:], xb + gains[k] * y], -1)
        return y

    length = min(st.n for st in stages)
    if any(st.eta is not None for st in stages):
        length = min(length, _MAX_THIRAN_BLOCK)  # bounds the (L, L) Toeplitz matrices
    ys = [block(0, x[..., t0 : t0 + length]) for t0 in range(0, x.shape[-1], length)]
    parts: list[torch.Tensor] = []
    for buf, th in zip(bufs, ths, strict=True):
        parts.append(buf)
        if th is not None:
            parts.append(th)
    y = torch.cat(ys, -1) if ys else x
    return y, torch.cat(parts, -1)


def _thiran_stage_state(z: torch.Tensor, n: int, eta: float, *, to_df2t: bool) -> torch.Tensor:
    """Convert one fractional Schroeder stage's state between block and lfilter (DF2T) form.

    With ``B_j = v[n-N+j]`` and Thiran state ``th``, the DF2T state of
    :func:`schroeder_allpass_tf` is ``z_0 = eta B_0 + th``, ``z_i = eta B_i + B_(i-1)``
    (``1 <= i < N``), ``z_N = B_(N-1)``; the inverse is a backward first-order recursion.
    """
    if to_df2t:
        buf, th = z[..., :n], z[..., n:]
        return torch.cat([eta * buf + torch.cat([th, buf[..., :-1]], -1), buf[..., -1:]], -1)
    one = torch.ones(1, dtype=z.dtype, device=z.device)
    c = lfilter(one, torch.tensor([1.0, eta], dtype=z.dtype, device=z.device), z.flip(-1))
    return torch.cat([c[..., :n].flip(-1), c[..., n:]], -1)


# Up to this order a fractional or nested allpass runs as one lfilter call of its transfer
# function (O(T * order) in the numba kernel); above it, the block method (O(T) work in
# T / min(N_k) tensor steps) is faster.
_DENSE_MAX_ORDER = 128


def _filter_stages(
    x: Any, stages: list[_Stage], zi: Any
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    x = check_finite(as_tensor(x, "x", min_ndim=1), "x")
    order = _order(stages)
    zi_t = None
    if zi is not None:
        zi_t = check_finite(as_tensor(zi, "zi", min_ndim=1), "zi")
        if zi_t.shape[-1] != order:
            raise ShapeError(
                f"zi: expected shape (..., {order}) (the transfer function's order), "
                f"got {tuple(zi_t.shape)}"
            )
    dtype = _stages_dtype(stages, x) if zi_t is None else _stages_dtype(stages, x, zi_t)
    x = x.to(dtype)
    gshapes = [st.gain.shape for st in stages]
    zshape = () if zi_t is None else zi_t.shape[:-1]
    try:
        batch = torch.broadcast_shapes(x.shape[:-1], zshape, *gshapes)
    except RuntimeError as exc:
        raise ShapeError(
            f"leading dims do not broadcast: x {tuple(x.shape)}, "
            f"gains {[tuple(s) for s in gshapes]}"
            + ("" if zi_t is None else f", zi {tuple(zi_t.shape)}")
        ) from exc
    x = x.expand(batch + x.shape[-1:])
    if zi_t is None:
        s = torch.zeros(batch + (order,), dtype=dtype, device=x.device)
    else:
        s = zi_t.to(dtype=dtype, device=x.device).expand(batch + (order,))
    stages = [_Stage(st.n, st.eta, st.gain.to(dtype=dtype, device=x.device)) for st in stages]
    single = len(stages) == 1
    if x.shape[-1] == 0:  # an empty block: empty output, the state exactly as it came
        y, zf = x, s
    elif single and stages[0].eta is None:
        y, zf = _polyphase(x, stages[0].n, stages[0].gain, s)
    elif order <= _DENSE_MAX_ORDER and (single or zi_t is None):
        b, a = _stages_tf(stages, dtype)
        y, zf = lfilter(b, a, x, s, check_stable=False)
    elif single:  # fractional Schroeder: its state is the lfilter state of its tf
        n, eta = stages[0].n, float(stages[0].eta)  # type: ignore[arg-type]
        y, zf = _run_stages(x, stages, _thiran_stage_state(s, n, eta, to_df2t=False))
        zf = _thiran_stage_state(zf, n, eta, to_df2t=True)
    else:
        y, zf = _run_stages(x, stages, s)
    return (y, zf) if zi is not None else y


def schroeder_allpass_tf(
    *, delay_samples: float, gain: TensorLike
) -> tuple[torch.Tensor, torch.Tensor]:
    """Transfer function of the Schroeder allpass ``(-g + A(z)) / (1 - g A(z))``.

    Integer ``M``: ``A = z^-M``, so ``b = [-g, 0, ..., 0, 1]``, ``a = [1, 0, ..., 0, -g]``
    (order ``M``). Fractional ``M``: ``A = z^-N (eta + z^-1) / (1 + eta z^-1)``, a pure delay
    of ``N = max(1, floor(M - 0.5))`` samples times a first-order Thiran allpass of delay
    ``d = M - N`` (``eta = (1 - d) / (1 + d)``, see :func:`thiran1_coeff`); order ``N + 1``.
    Either way ``b`` is ``a`` reversed: exactly allpass.

    Args:
        delay_samples: loop delay ``M`` in samples, ``>= 1``, integer or fractional.
        gain: feedback gain ``g``, ``|g| < 1``; differentiable; leading dims kept.

    Shape:
        gain ``(...)`` -> ``b``, ``a`` ``(..., order + 1)``.

    Returns:
        ``(b, a)`` with ``a[..., 0] == 1``.

    Raises:
        InputError: ``delay_samples`` < 1 or not finite.  UnstableFilterError: ``|g| >= 1``.

    References:
        Schroeder and Logan, IRE Trans. Audio AU-9, 1961.

    Example:
        >>> schroeder_allpass_tf(delay_samples=3, gain=0.5)
        (tensor([-0.5000,  0.0000,  0.0000,  1.0000]), tensor([ 1.0000,  0.0000,  0.0000, -0.5000]))
    """
    stages = _parse_stages([(delay_samples, gain)])
    return _stages_tf(stages, _stages_dtype(stages))


def schroeder_allpass(
    x: torch.Tensor,
    *,
    delay_samples: float,
    gain: TensorLike,
    zi: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Filter ``x`` through a Schroeder allpass ``H = (-g + A(z)) / (1 - g A(z))``.

    Structure (DF2T): ``y[n] = -g x[n] + (A v)[n]``, ``v[n] = x[n] + g y[n]``.

    - Integer delay: polyphase. Samples ``n = k M + j`` of the same phase ``j`` form an
      independent first-order recursion, so time is reshaped to ``(T / M, M)`` and the ``M``
      recursions run in one :func:`lfilter` call (numba kernel, adjoint backward): cost
      ``O(T)`` for any ``M``. The state is the lfilter/scipy state of
      :func:`schroeder_allpass_tf`: the last ``M`` values of ``v``, oldest first.
    - Fractional delay: ``A`` = ``N``-sample delay times a first-order Thiran allpass (see
      :func:`schroeder_allpass_tf`), still exactly allpass. Processed in blocks of ``N``
      samples (torch ops plus one first-order lfilter per block), ``O(T)`` work in ``T / N``
      steps. The state is ``[v delayed (N values, oldest first), Thiran state (1)]``.

    Args:
        x: signal, time last.
        delay_samples: loop delay ``M >= 1`` in samples (an ``int`` or integer-valued float
            selects the integer path).
        gain: ``g``, ``|g| < 1``; a tensor's leading dims broadcast against ``x``'s.
        zi: optional state, ``(..., order)`` with ``order = len(a) - 1`` of the transfer
            function (``M``, or ``N + 1`` if fractional); then ``(y, zf)`` is returned and
            block-by-block processing equals one shot.

    Shape:
        x ``(..., time)``, gain ``(...)``, zi/zf ``(..., order)``, y ``(..., time)``.

    Returns:
        ``y``, or ``(y, zf)`` when ``zi`` is given.

    Raises:
        InputError: bad ``delay_samples``.  UnstableFilterError: ``|g| >= 1``.
        NonFiniteError: NaN/inf in ``x``, ``gain`` or ``zi``.  ShapeError: bad ``zi``.

    Properties: differentiable in ``x``, ``gain`` and ``zi``; CPU and CUDA; float32/64.

    Example:
        >>> x = torch.zeros(7, dtype=torch.float64); x[0] = 1
        >>> schroeder_allpass(x, delay_samples=3, gain=0.5)  # -g, 0, 0, 1-g^2, 0, 0, g(1-g^2)
        tensor([-0.5000,  0.0000,  0.0000,  0.7500,  0.0000,  0.0000,  0.3750],
               dtype=torch.float64)
    """
    return _filter_stages(x, _parse_stages([(delay_samples, gain)]), zi)


def nested_allpass_tf(
    stages: Sequence[tuple[float, TensorLike]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Transfer function of a nested allpass (Gardner): each delay line holds the next stage.

    With ``H_K = 1`` and, from the innermost stage outwards,
    ``H_k = (-g_k + A_k) / (1 - g_k A_k)``, ``A_k(z) = z^-N_k [T_k(z)] H_{k+1}(z)``
    (``T_k`` the Thiran allpass of a fractional delay), the filter is ``H_0``. The order is
    the sum of the stage orders. One stage is a Schroeder allpass.

    Args:
        stages: ``[(delay_samples, gain), ...]`` outermost first; delays ``>= 1`` samples
            (integer or fractional), gains ``|g| < 1`` (tensors are differentiable and their
            leading dims broadcast).

    Shape:
        ``b``, ``a`` ``(..., order + 1)``.

    Returns:
        ``(b, a)`` with ``a[..., 0] == 1`` and ``b`` = ``a`` reversed.

    Raises:
        InputError: empty or malformed ``stages``, bad delay.  UnstableFilterError: ``|g| >= 1``.

    References:
        W. G. Gardner, JASA 92(4), 1992; J. Dattorro, JAES 45(9), 1997.

    Example:
        >>> b, a = nested_allpass_tf([(2, 0.5), (1, 0.25)])
        >>> a
        tensor([ 1.0000, -0.2500,  0.1250, -0.5000])
        >>> torch.equal(b, a.flip(-1))
        True
    """
    st = _parse_stages(stages)
    return _stages_tf(st, _stages_dtype(st))


def nested_allpass(
    x: torch.Tensor,
    stages: Sequence[tuple[float, TensorLike]],
    zi: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Filter ``x`` through a nested allpass (see :func:`nested_allpass_tf`).

    Runs in blocks of ``min N_k`` samples: within a block, every stage's loop input comes
    from its delay line, so the block is a handful of tensor operations per stage
    (differentiable by autograd; fractional stages call :func:`lfilter` for their Thiran
    allpass). A single integer stage uses the polyphase path of :func:`schroeder_allpass`.

    Args:
        x: signal, time last.
        stages: ``[(delay_samples, gain), ...]`` outermost first (see
            :func:`nested_allpass_tf`).
        zi: optional state ``(..., order)``: per stage, outermost first, the delay line of
            ``v_k = x_k + g_k y_k`` (``N_k`` values, oldest first) followed by the Thiran
            state (1 value) when the delay is fractional. With a single stage it is the state
            of :func:`schroeder_allpass` (the lfilter state). Then ``(y, zf)`` is returned.

    Shape:
        x ``(..., time)``, zi/zf ``(..., order)``, y ``(..., time)``.

    Returns:
        ``y``, or ``(y, zf)`` when ``zi`` is given.

    Raises:
        as :func:`nested_allpass_tf`; NonFiniteError for NaN/inf; ShapeError for a bad ``zi``.

    Properties: differentiable in ``x``, the gains and ``zi``; CPU and CUDA; float32/64.

    Example:
        >>> x = torch.zeros(4, dtype=torch.float64); x[0] = 1
        >>> b, a = nested_allpass_tf([(2, 0.5), (1, 0.25)])
        >>> from dsp_rnn.filters.filtering import lfilter
        >>> torch.allclose(nested_allpass(x, [(2, 0.5), (1, 0.25)]), lfilter(b, a, x))
        True
    """
    return _filter_stages(x, _parse_stages(stages), zi)
