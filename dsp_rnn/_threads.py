"""numba's parallel kernels and torch share one OpenMP runtime: a parallel kernel sets the
runtime's thread count to numba's (all cores), and torch reads its own from the same place.
So one call of a compiled filter would silently undo a user's ``torch.set_num_threads(1)``
and later torch work would run on every core (measured here: 1 -> 2 threads after one
``sosfilt`` call). :func:`keeps_torch_threads` wraps a kernel so that torch's thread count
after the call is what it was before.

>>> import torch
>>> before = torch.get_num_threads()
>>> keeps_torch_threads(lambda: torch.set_num_threads(before + 1))()
>>> torch.get_num_threads() == before
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["keeps_torch_threads"]


def keeps_torch_threads(kernel: Callable[..., Any]) -> Callable[..., Any]:
    """``kernel`` called so that ``torch.get_num_threads()`` is the same after as before."""

    @functools.wraps(kernel)
    def call(*args: Any, **kwargs: Any) -> Any:
        threads = torch.get_num_threads()
        try:
            return kernel(*args, **kwargs)
        finally:
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)

    return call
