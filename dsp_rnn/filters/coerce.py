"""Coercion of filter coefficients: the package's one SOS check (:func:`as_sos`) and one
transfer-function check (:func:`as_tf`), used by every function that takes a filter.

Representations as in :mod:`dsp_rnn.filters.convert`: **sos** ``(..., n_sections, 6)``
with rows ``[b0 b1 b2 a0 a1 a2]``; **tf** ``(b, a)``, coefficients of ``z^-1``.
"""

from __future__ import annotations

from typing import Any

import torch

from dsp_rnn._validate import as_tensor, check_finite, common_dtype
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters._conversion import pad_tf

__all__ = ["as_sos", "as_tf"]


def as_sos(sos: Any, name: str = "sos") -> torch.Tensor:
    """Second-order sections as a checked float tensor (the one SOS coercion of the package).

    Args:
        sos: rows ``[b0 b1 b2 a0 a1 a2]`` (tensor, array or nested list); the dtype rule is
            :func:`~dsp_rnn._validate.as_tensor`'s.
        name: the argument's name in messages (default ``"sos"``).

    Shape:
        ``(..., n_sections >= 1, 6)``, returned unchanged (not normalised by ``a0``).

    Raises:
        ShapeError: another shape. NonFiniteError: NaN/inf. InputError: ``a0 == 0`` in a
        section, or not numbers.

    Example:
        >>> as_sos([[1.0, 0.0, 0.0, 1.0, -0.5, 0.0]]).shape
        torch.Size([1, 6])
    """
    t = as_tensor(sos, name)
    if t.ndim < 2 or t.shape[-1] != 6 or t.shape[-2] == 0:
        raise ShapeError(
            f"{name}: expected shape (..., n_sections >= 1, 6) with rows [b0 b1 b2 a0 a1 a2], "
            f"got {tuple(t.shape)}"
        )
    check_finite(t, name)
    zero = t[..., 3].detach() == 0
    if bool(zero.any()):
        where = tuple(int(i) for i in torch.nonzero(zero)[0].tolist())
        raise InputError(
            f"{name}: expected a0 != 0 in every section, found a0 == 0 in section at index {where}"
        )
    return t


def as_tf(b: Any, a: Any, *, pad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """A transfer function ``(b, a)`` as checked float tensors of one dtype (the one
    transfer-function coercion of the package).

    Args:
        b, a: coefficients of ``z^-1``; a scalar (``freqz``'s default ``a=1``) is a
            one-coefficient polynomial. Not normalised by ``a0``.
        pad: zero-pad the shorter of ``b``, ``a`` on the right to one length and broadcast
            their leading dims (default ``False``: lengths and leading dims as given).

    Shape:
        ``b (..., M + 1)``, ``a (..., N + 1)``; with ``pad``, both ``(..., max(M, N) + 1)``.

    Raises:
        ShapeError: no coefficients, or (with ``pad``) leading dims that do not broadcast.
        NonFiniteError: NaN/inf. InputError: ``a0 == 0``, or not numbers.

    Example:
        >>> as_tf([1.0], 1.0, pad=False)
        (tensor([1.]), tensor([1.]))
    """
    bt, at = as_tensor(b, "b"), as_tensor(a, "a")
    bt, at = (t.reshape(1) if t.ndim == 0 else t for t in (bt, at))
    for name, t in (("b", bt), ("a", at)):
        if t.shape[-1] == 0:
            raise ShapeError(
                f"{name}: expected at least one coefficient, got shape {tuple(t.shape)}"
            )
        check_finite(t, name)
    zero = at[..., 0].detach() == 0
    if bool(zero.any()):
        raise InputError(
            f"a: expected a0 != 0 (the leading denominator coefficient), got a={_short(at)}"
        )
    dtype = common_dtype(bt, at)
    bt, at = bt.to(dtype), at.to(dtype=dtype, device=bt.device)
    return pad_tf(bt, at) if pad else (bt, at)


def _short(t: torch.Tensor, n: int = 8) -> str:
    flat = t.detach().reshape(-1).tolist()
    body = ", ".join(f"{v:.6g}" for v in flat[:n])
    return f"[{body}{', ...' if len(flat) > n else ''}] (shape {tuple(t.shape)})"
