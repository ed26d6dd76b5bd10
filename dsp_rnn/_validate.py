"""Shared validation helpers for the public boundary (never ``assert`` on user input).

One rule for each kind of value, used by every subpackage:

- integers (:func:`check_int`, :func:`check_seed`): Python or numpy integers; ``bool`` is
  refused everywhere (``True`` is not a size);
- real parameters and signals (:func:`as_tensor`): tensors keep their float dtype, numpy
  float64 arrays stay float64, Python numbers, lists and other arrays become float32 (the
  library default) unless ``dtype`` is given; ``bool`` and complex values are refused;
- float dtypes (:func:`check_float_dtype`): ``torch.float32`` or ``torch.float64``.

Importing this module does not import torch (the synth and MIDI code run without it); the
tensor helpers import it when first called.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dsp_rnn.errors import InputError, NonFiniteError, ShapeError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "as_tensor",
    "check_finite",
    "check_float_dtype",
    "check_frequency",
    "check_int",
    "check_positive",
    "check_sample_rate",
    "check_seed",
    "common_dtype",
]


def check_int(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An integer (Python ``int`` or numpy integer, never ``bool``) in ``[minimum, maximum]``.

    Args:
        value: the value to check.
        name: the argument's name, echoed in the message.
        minimum, maximum: inclusive bounds (default: none).

    Returns:
        ``value`` as a Python ``int``.

    Raises:
        InputError: not an integer, a ``bool``, or out of range.

    Example:
        >>> check_int(np.int64(3), "n", minimum=1)
        3
    """
    if minimum is not None and maximum is not None:
        want = f"an integer {minimum} <= {name} <= {maximum}"
    elif minimum is not None:
        want = f"an integer >= {minimum}"
    elif maximum is not None:
        want = f"an integer <= {maximum}"
    else:
        want = "an integer"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name}: expected {want}, got {name}={value!r}")
    v = int(value)
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        raise InputError(f"{name}: expected {want}, got {name}={v}")
    return v


def check_seed(seed: Any, name: str = "seed") -> int:
    """A random seed: an integer ``0 <= seed < 2**63`` (:func:`check_int`'s rule).

    Raises:
        InputError: not an integer, a ``bool``, negative or too large.
    """
    return check_int(seed, name, minimum=0, maximum=2**63 - 1)


def check_float_dtype(dtype: Any, name: str = "dtype") -> torch.dtype:
    """``torch.float32`` or ``torch.float64``; raise :class:`InputError` otherwise."""
    import torch

    if dtype not in (torch.float32, torch.float64):
        raise InputError(f"{name}: expected torch.float32 or torch.float64, got {name}={dtype!r}")
    return dtype


def common_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """float64 if any input is float64, else float32 (the library default)."""
    import torch

    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def as_tensor(
    value: Any,
    name: str,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    min_ndim: int = 0,
) -> torch.Tensor:
    """Turn ``value`` (tensor, array, list, number) into a float tensor, checking it.

    Float tensors keep their dtype (float32 or float64) unless ``dtype`` is given;
    everything else becomes float32 (float64 for numpy float64 arrays).

    Raises:
        InputError: the value is not numeric (``bool`` included), or is complex.
        ShapeError: fewer than ``min_ndim`` dimensions.
    """
    import torch

    if isinstance(value, torch.Tensor):
        t = value
    else:
        try:
            arr = np.asarray(value)
        except Exception as exc:  # pragma: no cover - numpy rarely fails here
            raise InputError(f"{name}: expected numbers, got {type(value).__name__}") from exc
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise InputError(f"{name}: expected numbers, got {arr.dtype} ({type(value).__name__})")
        t = torch.from_numpy(arr if arr.flags.c_contiguous else arr.copy())
    if t.is_complex():
        raise InputError(f"{name}: expected real values, got complex dtype {t.dtype}")
    if dtype is not None:
        t = t.to(dtype)
    elif t.dtype not in (torch.float32, torch.float64) or not isinstance(
        value, (torch.Tensor, np.ndarray)
    ):
        t = t.to(torch.float32)  # Python numbers and lists take the library default
    if device is not None:
        t = t.to(device)
    if t.ndim < min_ndim:
        raise ShapeError(
            f"{name}: expected at least {min_ndim} dimension(s), got shape {tuple(t.shape)}"
        )
    return t


def check_finite(t: torch.Tensor, name: str) -> torch.Tensor:
    """Raise :class:`NonFiniteError` when ``t`` holds NaN or inf (reports how many and where)."""
    import torch

    bad = ~torch.isfinite(t.detach())
    if bool(bad.any()):
        n_bad = int(bad.sum())
        first = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
        raise NonFiniteError(
            f"{name}: expected finite values, found {n_bad} NaN/inf value(s), "
            f"first at index {first} (= {t.detach()[first].item()})"
        )
    return t


def _scalar_values(value: Any) -> Sequence[float]:
    if hasattr(value, "detach"):  # a tensor
        return value.detach().reshape(-1).tolist()
    return np.asarray(value, dtype=float).reshape(-1).tolist()


def check_sample_rate(sample_rate: float) -> float:
    """A sample rate must be a finite number > 0 (Hz)."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.number)):
        raise InputError(f"sample_rate: expected a number in Hz, got {sample_rate!r}")
    if not math.isfinite(float(sample_rate)) or float(sample_rate) <= 0:
        raise InputError(
            f"sample_rate: expected a finite value > 0 Hz, got sample_rate={sample_rate}"
        )
    return float(sample_rate)


def check_frequency(f_hz: Any, sample_rate: float, name: str = "f0_hz") -> None:
    """Every value of ``f_hz`` must satisfy 0 < f < sample_rate / 2."""
    sr = check_sample_rate(sample_rate)
    for v in _scalar_values(f_hz):
        if not (math.isfinite(v) and 0.0 < v < sr / 2):
            raise InputError(
                f"{name}: must be 0 < {name} < sample_rate/2, got {name}={v:g}, sample_rate={sr:g}"
            )


def check_positive(value: Any, name: str) -> None:
    """Every value must be finite and > 0."""
    for v in _scalar_values(value):
        if not (math.isfinite(v) and v > 0.0):
            raise InputError(f"{name}: must be > 0 and finite, got {name}={v:g}")
