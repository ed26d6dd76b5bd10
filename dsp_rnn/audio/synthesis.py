"""The linear part of an LPC audio model: analysis ``A(z)``, prediction, synthesis ``1 / A(z)``.

Coefficients change every frame of ``hop_samples`` samples: sample ``t`` of a block uses row
``t // hop_samples`` of ``a_frames``, a predictor with ``a[..., 0] == 1``
(:mod:`dsp_rnn.audio.lpc`). The filters are the direct-form time-varying recursions

- analysis (residual): ``e_t = s_t + sum_k a_k s_(t-k)``, the FIR ``A(z)``;
- prediction: ``p_t = -sum_k a_k s_(t-k)``, so ``s_t = p_t + e_t``;
- synthesis: ``s_t = e_t - sum_k a_k s_(t-k)``, the all-pole ``1 / A(z)``,

so their state is coefficient-free: the last ``p`` samples of the signal ``s`` (oldest
first), carried across frame and block boundaries. Synthesis runs each frame through
:func:`dsp_rnn.filters.lfilter` with the direct-form state turned into that frame's
``zi`` (:func:`allpole_zi`); :func:`lpc_synthesis_numpy` is the same loop compiled with
numba for sample-by-sample generation. Pre-/de-emphasis are
:func:`dsp_rnn.filters.preemphasis` / :func:`~dsp_rnn.filters.deemphasis`.

All functions follow ``y, state = f(x, ..., state)``: without ``state`` only ``y`` comes
back (as the filters' functions do).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from dsp_rnn._validate import as_tensor, check_finite, check_int, common_dtype
from dsp_rnn.audio import _kernels
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters import lfilter

__all__ = [
    "allpole_zi",
    "lpc_analysis",
    "lpc_prediction",
    "lpc_synthesis",
    "lpc_synthesis_numpy",
]


def _prepare(x: Any, a_frames: Any, hop_samples: Any, state: Any, x_name: str):
    """x (B..., T), a (B..., F, p + 1), state (B..., p) in one dtype with broadcast dims."""
    hop = check_int(hop_samples, "hop_samples", minimum=1)
    xt = check_finite(as_tensor(x, x_name, min_ndim=1), x_name)
    at = check_finite(as_tensor(a_frames, "a_frames", min_ndim=2), "a_frames")
    if at.shape[-1] < 1:
        raise ShapeError(f"a_frames: expected (..., n_frames, order + 1), got {tuple(at.shape)}")
    n_t, n_frames, order = xt.shape[-1], at.shape[-2], at.shape[-1] - 1
    if not (n_frames - 1) * hop < n_t <= n_frames * hop:
        raise ShapeError(
            f"a_frames: expected ceil(time / hop_samples) = {-(-n_t // hop)} frames for "
            f"{n_t} samples at hop_samples={hop}, got {n_frames}"
        )
    if not bool((at[..., 0] == 1).all()):
        raise InputError("a_frames: expected a[..., 0] == 1 in every frame (normalised A(z))")
    st = None if state is None else check_finite(as_tensor(state, "state", min_ndim=1), "state")
    if st is not None and st.shape[-1] != order:
        raise ShapeError(f"state: expected shape (..., {order}), got {tuple(st.shape)}")
    dtype = common_dtype(xt, at) if st is None else common_dtype(xt, at, st)
    xt, at = xt.to(dtype), at.to(dtype=dtype, device=xt.device)
    st = xt.new_zeros((order,)) if st is None else st.to(dtype=dtype, device=xt.device)
    try:
        batch = torch.broadcast_shapes(xt.shape[:-1], at.shape[:-2], st.shape[:-1])
    except RuntimeError as exc:
        raise ShapeError(
            f"leading dims do not broadcast: {x_name} {tuple(xt.shape)}, a_frames "
            f"{tuple(at.shape)}, state {tuple(st.shape)}"
        ) from exc
    xt = xt.expand(batch + (n_t,))
    at = at.expand(batch + at.shape[-2:])
    st = st.expand(batch + (order,))
    return xt, at, st, hop


def _per_sample(a: torch.Tensor, hop: int, n_t: int) -> torch.Tensor:
    """(..., F, p + 1) -> (..., T, p + 1): each sample's predictor."""
    return a.repeat_interleave(hop, dim=-2)[..., :n_t, :]


def allpole_zi(a: Any, past: Any) -> torch.Tensor:
    """The ``lfilter([1], a, x, zi)`` state that continues ``1 / A(z)`` after outputs ``past``.

    ``zi_k = -sum_(j > k) a_j y_(n + k - j)``: the direct-form II transposed state of the
    all-pole filter whose last outputs were ``past``, as ``scipy.signal.lfiltic([1], a,
    past[::-1])`` gives it.

    Args:
        a: predictors ``(..., p + 1)``, ``a[..., 0] == 1``.
        past: the last ``p`` outputs, oldest first (``past[..., -1]`` is ``y_(n-1)``).

    Shape:
        ``a (..., p + 1)``, ``past (..., p)`` -> ``(..., p)`` (leading dims broadcast).

    Returns:
        The state, differentiable in ``a`` and ``past``.

    Example:
        >>> allpole_zi(torch.tensor([1.0, -0.5, 0.25]), torch.tensor([2.0, 4.0]))
        tensor([ 1.5000, -1.0000])
    """
    at = as_tensor(a, "a", min_ndim=1)
    pt = as_tensor(past, "past", min_ndim=1)
    p = at.shape[-1] - 1
    if pt.shape[-1] != p:
        raise ShapeError(f"past: expected shape (..., {p}) for a {tuple(at.shape)}, got "
                         f"{tuple(pt.shape)}")  # fmt: skip
    dtype = common_dtype(at, pt)
    at, pt = at.to(dtype), pt.to(dtype=dtype, device=at.device)
    # zi_k = -sum_{m=1}^{p-k} a_(k+m) y_(n-m), and y_(n-m) = past[..., p - m]
    recent_first = pt.flip(-1)
    terms = [-(at[..., k + 1 :] * recent_first[..., : p - k]).sum(-1) for k in range(p)]
    if not terms:
        return at.new_zeros(at.shape[:-1] + (0,))
    return torch.stack(torch.broadcast_tensors(*terms), -1)


def lpc_analysis(signal: Any, a_frames: Any, *, hop_samples: int, state: Any = None):
    """The residual ``e_t = s_t + sum_k a_k s_(t-k)`` (``A(z)`` with per-frame predictors).

    Args:
        signal: ``s``, time last.
        a_frames: one predictor per frame, ``a[..., 0] == 1``.
        hop_samples: samples per frame (>= 1).
        state: the last ``p`` samples of ``s`` before this block, oldest first (default
            zeros). When given, ``(e, state)`` is returned.

    Shape:
        ``signal (..., time)``, ``a_frames (..., n_frames, p + 1)`` with ``n_frames =
        ceil(time / hop_samples)``, ``state (..., p)``; leading dims broadcast.

    Returns:
        ``e``, or ``(e, state)`` with ``state`` the last ``p`` samples of ``s``.

    Raises:
        ShapeError: a frame count that does not cover ``time``, bad state, dims that do not
            broadcast. InputError: ``a[..., 0] != 1``. NonFiniteError.

    Properties: plain torch, differentiable in ``signal``, ``a_frames`` and ``state``; CPU
    and CUDA; float32/64.

    Example:
        >>> a = torch.tensor([[1.0, -0.5], [1.0, 0.0]])
        >>> lpc_analysis(torch.tensor([1.0, 1.0, 1.0, 1.0]), a, hop_samples=2)
        tensor([1.0000, 0.5000, 1.0000, 1.0000])
    """
    s, a, st, hop = _prepare(signal, a_frames, hop_samples, state, "signal")
    n_t, p = s.shape[-1], a.shape[-1] - 1
    padded = torch.cat([st, s], -1)
    windows = padded.unfold(-1, p + 1, 1)  # (..., T, p + 1): s_(t-p) .. s_t
    e = (windows * _per_sample(a, hop, n_t).flip(-1)).sum(-1)
    if state is None:
        return e
    return e, padded[..., padded.shape[-1] - p :]


def lpc_prediction(signal: Any, a_frames: Any, *, hop_samples: int, state: Any = None):
    """The prediction ``p_t = -sum_k a_k s_(t-k)`` of each sample from the past ones.

    ``s - p`` is :func:`lpc_analysis`'s residual. Arguments, shapes, state and errors as
    in :func:`lpc_analysis`.

    Example:
        >>> a = torch.tensor([[1.0, -0.5]])
        >>> lpc_prediction(torch.tensor([2.0, 4.0]), a, hop_samples=2)
        tensor([0., 1.])
    """
    s, a, st, hop = _prepare(signal, a_frames, hop_samples, state, "signal")
    out = lpc_analysis(s, a, hop_samples=hop, state=st)
    pred = s - out[0]
    return pred if state is None else (pred, out[1])


def lpc_synthesis(
    excitation: Any,
    a_frames: Any,
    *,
    hop_samples: int,
    state: Any = None,
    check_stable: bool = True,
):
    """The synthesis filter ``s_t = e_t - sum_k a_k s_(t-k)``, ``1 / A(z)`` per frame.

    Each frame runs through :func:`dsp_rnn.filters.lfilter` (``b = [1]``, ``a`` the frame's
    predictor) from the state :func:`allpole_zi` builds out of the last ``p`` outputs, so
    the recursion continues exactly across frame and block boundaries.

    Args:
        excitation: ``e``, time last.
        a_frames: one predictor per frame, ``a[..., 0] == 1``.
        hop_samples: samples per frame (>= 1).
        state: the last ``p`` outputs before this block, oldest first (default zeros).
            When given, ``(s, state)`` is returned.
        check_stable: refuse a frame whose ``A(z)`` has a root on or outside the unit
            circle (default ``True``), as :func:`~dsp_rnn.filters.lfilter` does.

    Shape:
        ``excitation (..., time)``, ``a_frames (..., n_frames, p + 1)`` with ``n_frames =
        ceil(time / hop_samples)``, ``state (..., p)``; leading dims broadcast.

    Returns:
        ``s``, or ``(s, state)`` with ``state`` the last ``p`` outputs.

    Raises:
        ShapeError, InputError, NonFiniteError as :func:`lpc_analysis`;
        UnstableFilterError: an unstable frame (with ``check_stable``).

    Properties: differentiable in ``excitation``, ``a_frames`` and ``state``
    (:func:`~dsp_rnn.filters.lfilter`); CPU and CUDA; float32/64. One ``lfilter`` call
    per frame: for sample-by-sample generation use :func:`lpc_synthesis_numpy`.

    Example:
        >>> a = torch.tensor([[1.0, -0.5], [1.0, 0.0]])
        >>> e = torch.tensor([1.0, 0.5, 1.0, 1.0])
        >>> lpc_synthesis(e, a, hop_samples=2)  # inverts lpc_analysis's example
        tensor([1., 1., 1., 1.])
    """
    e, a, past, hop = _prepare(excitation, a_frames, hop_samples, state, "excitation")
    n_t, p = e.shape[-1], a.shape[-1] - 1
    one = e.new_ones(a.shape[:-2] + (1,))
    blocks = []
    for f in range(a.shape[-2]):
        seg = e[..., f * hop : min((f + 1) * hop, n_t)]
        a_f = a[..., f, :]
        if p == 0:
            y = seg
        else:
            y, _ = lfilter(one, a_f, seg, allpole_zi(a_f, past), check_stable=check_stable)
            past = torch.cat([past, y], -1)[..., -p:] if y.shape[-1] < p else y[..., -p:]
        blocks.append(y)
    s = torch.cat(blocks, -1)
    return s if state is None else (s, past)


def lpc_synthesis_numpy(
    excitation: Any,
    a_frames: Any,
    *,
    hop_samples: int,
    state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lpc_synthesis` as one compiled per-sample loop (numba), numpy float64.

    The same recursion, shapes and state as :func:`lpc_synthesis` (tested equal to it),
    without its per-frame overhead: the kernel a sample-by-sample generator calls. No
    stability check (the predictors of :mod:`dsp_rnn.audio.lpc` are stable).

    Returns:
        ``(s, state)`` as float64 arrays, always both.

    Properties: not differentiable; CPU.

    Example:
        >>> a = np.array([[1.0, -0.5], [1.0, 0.0]])
        >>> s, state = lpc_synthesis_numpy([1.0, 0.5, 1.0, 1.0], a, hop_samples=2)
        >>> s, state
        (array([1., 1., 1., 1.]), array([1.]))
    """
    e, a, past, hop = _prepare(excitation, a_frames, hop_samples, state, "excitation")
    e_np = e.detach().cpu().to(torch.float64).numpy()
    a_np = a.detach().cpu().to(torch.float64).numpy()
    past_np = past.detach().cpu().to(torch.float64).numpy()
    batch = e_np.shape[:-1]
    y = np.empty(e_np.shape)
    zf = np.empty(past_np.shape)
    for idx in np.ndindex(*batch):
        state_i = np.ascontiguousarray(past_np[idx])
        _kernels.allpole_frames(
            np.ascontiguousarray(e_np[idx]), np.ascontiguousarray(a_np[idx]), hop, state_i,
            y[idx],
        )  # fmt: skip
        zf[idx] = state_i
    return y, zf
