"""Helpers shared by the conversion modules (:mod:`~dsp_rnn.filters.coerce`,
:mod:`~dsp_rnn.filters.convert`, :mod:`~dsp_rnn.filters.state_space`): padding a transfer
function, the one-filter check, float64 numpy copies and scipy's ``zpk2sos`` made exact
(the delay kept, ``a0 == 1`` in every row)."""

from __future__ import annotations

import numpy as np
import scipy.signal
import torch
import torch.nn.functional as F

from dsp_rnn.errors import InputError, ShapeError

__all__ = [
    "PAIRINGS",
    "pad_tf",
    "check_single",
    "to_numpy",
    "check_pairing",
    "scipy_zpk2sos",
    "finish_sos",
]

PAIRINGS = (None, "nearest", "keep_odd", "minimal")


def pad_tf(b: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad b and a on the right to one length and broadcast their leading dims."""
    n = max(b.shape[-1], a.shape[-1])
    b = F.pad(b, (0, n - b.shape[-1]))
    a = F.pad(a, (0, n - a.shape[-1]))
    try:
        batch = torch.broadcast_shapes(b.shape[:-1], a.shape[:-1])
    except RuntimeError as exc:
        raise ShapeError(
            f"b {tuple(b.shape)} and a {tuple(a.shape)}: leading dims do not broadcast"
        ) from exc
    return b.expand(batch + (n,)), a.expand(batch + (n,))


def check_single(t: torch.Tensor, name: str, ndim: int) -> None:
    """Raise ShapeError unless ``t`` is one filter (``ndim`` dims): no batching here."""
    if t.ndim != ndim:
        raise ShapeError(
            f"{name}: this conversion takes one filter ({ndim}-D), got shape {tuple(t.shape)}; "
            "loop over a batch"
        )


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """A detached float64 (complex128 for complex) numpy copy of ``t``."""
    return t.detach().cpu().numpy().astype(np.complex128 if t.is_complex() else np.float64)


def check_pairing(pairing: str | None) -> None:
    """Raise InputError unless ``pairing`` is one of :data:`PAIRINGS`."""
    if not (pairing is None or isinstance(pairing, str)) or pairing not in PAIRINGS:
        raise InputError(f"pairing: expected one of {PAIRINGS}, got pairing={pairing!r}")


def scipy_zpk2sos(z: np.ndarray, p: np.ndarray, k: float, pairing: str | None):
    """``scipy.signal.zpk2sos``; returns ``(sos, pairing used)``.

    scipy's ``'minimal'`` pairing fails (IndexError) on some root sets, e.g. two real poles
    paired with a real zero when only complex zeros are left. Those fall back to
    ``'keep_odd'``: the same number of sections and the same system.
    """
    try:
        return scipy.signal.zpk2sos(z, p, k, pairing=pairing), pairing
    except IndexError:
        if pairing != "minimal":
            raise
        return scipy.signal.zpk2sos(z, p, k, pairing="keep_odd"), "keep_odd"


def finish_sos(sos: np.ndarray, pairing: str | None, delay: int) -> np.ndarray:
    """scipy's SOS of the zeros and poles -> ours: the delay kept, ``a0 == 1`` in every row.

    With ``'minimal'`` scipy adds no zeros at the origin, so its sections are already the
    exact ``k prod(z - z_i) / prod(z - p_i)``, delay included; but a section with fewer than
    two poles is stored right-aligned in powers of ``z`` (``a0 == 0``). Shifting both
    polynomials of such a row left multiplies them by the same power of ``z``: same section,
    ``a0 != 0``. The other pairings fill up with zeros at the origin, undone by the delay.
    """
    if pairing != "minimal":
        sos = _delay_sos(sos, delay)
    sos = np.array(sos, dtype=np.float64)
    for row in sos:
        nz = np.flatnonzero(row[3:])
        shift = int(nz[0]) if nz.size else 0
        if shift:  # a causal section: b has at least as many leading zeros as a
            row[:3] = np.concatenate([row[shift:3], np.zeros(shift)])
            row[3:] = np.concatenate([row[3 + shift :], np.zeros(shift)])
    return sos / sos[:, 3:4]


def _delay_sos(sos: np.ndarray, delay: int) -> np.ndarray:
    """Multiply an SOS cascade by z^-delay: shift numerators that end in an exact zero."""
    sos = sos.copy()
    for _ in range(delay):
        free = np.nonzero(sos[:, 2] == 0)[0]
        if free.size:
            s = int(free[0])
            sos[s, :3] = [0.0, sos[s, 0], sos[s, 1]]
        else:  # no exact zero at the origin to spare: one more section
            sos = np.vstack([sos, [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]])
    return sos
