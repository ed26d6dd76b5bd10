"""How the filter modules keep a setting: a learnable parameter or a fixed buffer."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["store_tensor"]


def store_tensor(module: nn.Module, name: str, value: torch.Tensor, learnable: bool) -> None:
    """Set ``module.<name>`` to a detached copy of ``value``: an ``nn.Parameter`` when
    ``learnable`` and real, else a buffer (a complex value is always a buffer: the modules
    train only real parameters)."""
    if learnable and not value.is_complex():
        setattr(module, name, nn.Parameter(value.detach().clone()))
    else:
        module.register_buffer(name, value.detach().clone())
