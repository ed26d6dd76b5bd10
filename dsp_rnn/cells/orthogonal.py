"""The orthogonal (or unitary) RNN, twin of Gerzon's lossless networks: :class:`OrthogonalCell`.

The transition is orthogonal *by construction*: ``U = expm(K)`` with ``K = S - S^T``
skew-symmetric (``S`` the learnable matrix), times a fixed reflection ``F = diag(-1, 1, ...,
1)`` when the cell was built from a matrix of determinant ``-1`` (the matrix exponential
only reaches rotations; a Householder matrix is a reflection). With ``unitary=True`` the
state is complex and ``K = S - S^H`` is skew-Hermitian, so ``U`` is unitary (Arjovsky,
Shah & Bengio 2016; Lezcano-Casado & Martinez-Rubio 2019, "expRNN"). No Cayley transform:
it cannot reach orthogonal matrices with eigenvalue ``-1``, and Householder matrices have one.

With the identity activation and no input the state's norm is kept exactly (up to rounding):
the cell is the lossless core of a feedback delay network with unit delays.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg
import torch
from torch import nn

from dsp_rnn._validate import check_int
from dsp_rnn.cells.base import Cell, check_sequence, check_step
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters.fdn_design import check_unitary
from dsp_rnn.filters.networks import FDN, GerzonAllpass

__all__ = ["OrthogonalCell"]

_ACTIVATIONS = ("identity", "tanh", "modrelu")
_COMPLEX = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def _skew_log(u: np.ndarray) -> tuple[np.ndarray, bool]:
    """``(K, reflect)`` with ``expm(K) @ F = u`` (``F`` a reflection iff ``reflect``).

    Real orthogonal ``u``: real Schur form ``u F = Q T Q^T`` (``T`` block diagonal: 2x2
    rotations and +-1, the -1 in pairs since ``det(u F) = 1``), logarithm block by block.
    Complex unitary ``u``: complex Schur form, ``T`` diagonal ``e^{j phi}``.
    """
    n = u.shape[0]
    if np.iscomplexobj(u):
        t, q = scipy.linalg.schur(u, output="complex")
        return q @ np.diag(1j * np.angle(np.diag(t))) @ q.conj().T, False
    reflect = bool(np.linalg.det(u) < 0)
    r = u.copy()
    if reflect:
        r[:, 0] = -r[:, 0]
    t, q = scipy.linalg.schur(r, output="real")
    log = np.zeros((n, n))
    minus, i = [], 0
    while i < n:
        if i + 1 < n and abs(t[i + 1, i]) > 1e-12:
            theta = math.atan2(t[i + 1, i], t[i, i])
            log[i + 1, i], log[i, i + 1] = theta, -theta
            i += 2
        else:
            if t[i, i] < 0:
                minus.append(i)
            i += 1
    for j, k in zip(minus[0::2], minus[1::2], strict=True):  # a -1 pair is a rotation by pi
        log[k, j], log[j, k] = math.pi, -math.pi
    return q @ log @ q.T, reflect


class OrthogonalCell(Cell):
    """An RNN with an orthogonal (or unitary) transition: ``h_t = act(U h_{t-1} + B x_t)``.

    Output ``y_t = C h_{t-1} + D x_t`` (``Re(C h_{t-1}) + D x_t`` for a unitary cell), the
    state-space/FDN convention: with the identity activation the cell *is* a feedback delay
    network with unit delays and no absorption. ``U = expm(S - S^H) F`` (see the module
    docstring). Activations: ``"identity"`` (linear, lossless), ``"tanh"`` (real cells only)
    and ``"modrelu"``, ``sign(z) relu(|z| + b)`` (``z / |z| relu(|z| + b)`` when complex)
    with a learnable bias ``b`` per unit (Arjovsky et al. 2016). Initial ``U``: random
    rotations by angles uniform in ``(-pi, pi)`` in ``hidden_size // 2`` planes (Henaff et
    al. 2016); ``B``, ``C`` uniform in ``+-1/sqrt(hidden_size)``; ``D = 0``; ``b = 0``.

    Args:
        hidden_size: size of the state, ``>= 1``.
        input_size: features per input step (default 1).
        output_size: features per output step (default 1).
        activation: ``"identity"`` (default), ``"tanh"`` or ``"modrelu"``.
        unitary: complex state and unitary transition (default ``False``).

    Shape:
        x ``(batch, time, input_size)`` -> y ``(batch, time, output_size)``; state
        ``(batch, hidden_size)``, complex when ``unitary``.

    Raises:
        InputError: bad sizes or activation; ``"tanh"`` with ``unitary=True``.
        ShapeError (calls): x or state of the wrong shape.

    Properties: differentiable (autograd through ``matrix_exp`` and the time loop); any
    device; float32/float64 (``.double()``). Long sequences loop over time in Python (the
    activation is nonlinear in general): about 10 us per step.

    References:
        M. Arjovsky, A. Shah, Y. Bengio, "Unitary evolution recurrent neural networks",
        ICML 2016. M. Lezcano-Casado, D. Martinez-Rubio, "Cheap orthogonal constraints in
        neural networks", ICML 2019. M. A. Gerzon, "Unitary (energy-preserving)
        multichannel networks with feedback", Electronics Letters 12(11), 1976.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> cell = OrthogonalCell(6).double()
        >>> h0 = torch.randn(1, 6, dtype=torch.float64)
        >>> with torch.no_grad():
        ...     _, h = cell(torch.zeros(1, 1000, 1, dtype=torch.float64), h0)
        >>> round(float(h.norm() / h0.norm()), 12)  # lossless
        1.0
    """

    reflection: torch.Tensor

    def __init__(
        self,
        hidden_size: int,
        input_size: int = 1,
        output_size: int = 1,
        activation: str = "identity",
        *,
        unitary: bool = False,
    ) -> None:
        super().__init__()
        hidden_size = self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        input_size = self.input_size = check_int(input_size, "input_size", minimum=1)
        output_size = self.output_size = check_int(output_size, "output_size", minimum=1)
        if activation not in _ACTIVATIONS:
            raise InputError(f"activation: expected one of {_ACTIVATIONS}, got {activation!r}")
        if unitary and activation == "tanh":
            raise InputError(
                "activation: 'tanh' is not defined for a unitary (complex) cell; use "
                "'identity' or 'modrelu'"
            )
        self.activation, self.unitary = activation, bool(unitary)
        n = hidden_size
        log = torch.zeros(n, n)
        theta = (2 * torch.rand(n // 2) - 1) * math.pi
        idx = torch.arange(0, 2 * (n // 2), 2)
        log[idx + 1, idx], log[idx, idx + 1] = theta, -theta
        bound = 1 / math.sqrt(n)
        b = (2 * torch.rand(n, input_size) - 1) * bound
        c = (2 * torch.rand(output_size, n) - 1) * bound
        if unitary:  # complex parameters are stored as (..., 2) real pairs (dtype moves work)
            log, b, c = (torch.stack([v, torch.zeros_like(v)], -1) for v in (log, b, c))
        self.skew = nn.Parameter(log / 2)  # K = S - S^H = log
        self.input_weight = nn.Parameter(b)
        self.output_weight = nn.Parameter(c)
        self.direct_weight = nn.Parameter(torch.zeros(output_size, input_size))
        self.bias = nn.Parameter(torch.zeros(n)) if activation == "modrelu" else None
        self.register_buffer("reflection", torch.tensor(False))

    # ------------------------------------------------------------------ the transition
    def transition(self) -> torch.Tensor:
        """``U = expm(S - S^H) F``, ``(hidden_size, hidden_size)``, differentiable."""
        s = self._c(self.skew)
        u = torch.linalg.matrix_exp(s - s.mH)
        if bool(self.reflection):
            u = torch.cat([-u[:, :1], u[:, 1:]], 1)
        return u

    def _act(self, z: torch.Tensor) -> torch.Tensor:
        if self.activation == "identity":
            return z
        if self.activation == "tanh":
            return torch.tanh(z)
        mag = z.abs()
        bias = self.bias if self.bias is not None else torch.zeros_like(mag)
        scale = torch.relu(mag + bias) / mag.clamp_min(torch.finfo(mag.dtype).tiny)
        return z * scale

    def _c(self, p: torch.Tensor) -> torch.Tensor:
        return torch.view_as_complex(p) if self.unitary else p

    @property
    def _real_dtype(self) -> torch.dtype:
        return self.direct_weight.dtype

    @property
    def _dtype(self) -> torch.dtype:
        return _COMPLEX[self._real_dtype] if self.unitary else self._real_dtype

    def initial_state(self, batch_size: int) -> torch.Tensor:
        """Zeros ``(batch_size, hidden_size)`` (complex for a unitary cell)."""
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        return torch.zeros(
            batch_size, self.hidden_size, dtype=self._dtype, device=self.direct_weight.device
        )

    def _state(self, state: Any, batch: int) -> torch.Tensor:
        if state is None:
            return self.initial_state(batch)
        if not isinstance(state, torch.Tensor) or state.shape != (batch, self.hidden_size):
            shape = tuple(state.shape) if isinstance(state, torch.Tensor) else type(state)
            raise ShapeError(
                f"OrthogonalCell: expected state of shape (batch={batch}, "
                f"hidden_size={self.hidden_size}), got {shape}"
            )
        return state.to(self._dtype)

    def _readout(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        y = h @ self._c(self.output_weight).mT
        return (y.real if self.unitary else y) + x @ self.direct_weight.mT

    # ------------------------------------------------------------------ running
    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run a sequence (``U`` computed once, then one matmul per step)."""
        check_sequence(x, self.input_size, "OrthogonalCell", dtype=self._real_dtype)
        h = self._state(state, x.shape[0])
        ut = self.transition().mT
        drive = x.to(self._dtype) @ self._c(self.input_weight).mT  # (B, T, N)
        before = []
        for t in range(x.shape[1]):
            before.append(h)
            h = self._act(h @ ut + drive[:, t])
        if not before:
            return x.new_zeros(x.shape[0], 0, self.output_size), h
        return self._readout(torch.stack(before, 1), x), h

    def step(
        self, x_t: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: ``x_t (batch, input_size)`` -> ``y_t (batch, output_size)``."""
        check_step(x_t, self.input_size, "OrthogonalCell")
        h = self._state(state, x_t.shape[0])
        y = self._readout(h, x_t.to(self._real_dtype))
        drive = x_t.to(self._dtype) @ self._c(self.input_weight).mT
        return y, self._act(h @ self.transition().mT + drive)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_filter(
        cls,
        matrix: Any,
        *,
        input_size: int = 1,
        output_size: int = 1,
        activation: str = "identity",
    ) -> OrthogonalCell:
        """A cell whose transition is a given orthogonal/unitary matrix; ``from_matrix`` is
        the same method (:class:`~dsp_rnn.cells.FilterTwin`, inverse of :meth:`to_filter`).

        Args:
            matrix: ``(N, N)`` orthogonal (real) or unitary (complex) tensor, or an
                :class:`~dsp_rnn.filters.FDN` / :class:`~dsp_rnn.filters.GerzonAllpass`
                (its ``feedback_matrix``). From an FDN the input, output and direct gains
                are copied too (they set ``input_size`` and ``output_size``): the cell is
                the FDN with every delay line one sample long and no absorption, and
                reproduces an FDN with ``delays_samples = [1] * N`` and unit line gains
                exactly. Delays and line gains of other networks are not part of the cell.
            input_size, output_size: as the constructor (ignored for an FDN).
            activation: as the constructor (default ``"identity"``).

        Returns:
            An :class:`OrthogonalCell` in the matrix's dtype (unitary when complex) with
            ``transition()`` equal to the matrix to rounding (``S`` from the real or complex
            Schur form of the matrix).

        Raises:
            ShapeError: not square. InputError: not orthogonal/unitary (tolerance 1e-9 in
            float64, 1e-5 in float32), bad sizes or activation.

        Example:
            >>> from dsp_rnn.filters import householder_matrix
            >>> h = householder_matrix(4, dtype=torch.float64)  # a reflection, det = -1
            >>> cell = OrthogonalCell.from_filter(h)
            >>> bool((cell.transition() - h).abs().max() < 1e-12)
            True
        """
        gains = None
        if isinstance(matrix, (FDN, GerzonAllpass)):
            if isinstance(matrix, FDN):
                b, c, d = (
                    torch.as_tensor(getattr(matrix, name)).detach()
                    for name in ("input_gains", "output_gains", "direct_gain")
                )
                b = b[:, None] if b.ndim == 1 else b
                c = c[None, :] if c.ndim == 1 else c
                d = torch.broadcast_to(d, (c.shape[0], b.shape[1]))
                gains = (b, c, d)
                input_size, output_size = b.shape[1], c.shape[0]
            matrix = torch.as_tensor(matrix.feedback_matrix)
        u = matrix.detach() if isinstance(matrix, torch.Tensor) else torch.as_tensor(matrix)
        if not (u.is_complex() or u.is_floating_point()):
            u = u.to(torch.float32)
        if u.ndim != 2 or u.shape[0] != u.shape[1]:
            raise ShapeError(f"matrix: expected a square (N, N) matrix, got {tuple(u.shape)}")
        check_unitary(u, u.shape[0], "matrix")
        wide = u.to(torch.complex128 if u.is_complex() else torch.float64).cpu().numpy()
        log, reflect = _skew_log(wide)
        cell = cls(u.shape[0], input_size, output_size, activation, unitary=bool(u.is_complex()))
        real = {torch.complex64: torch.float32, torch.complex128: torch.float64}.get(
            u.dtype, u.dtype
        )
        cell.to(real)
        with torch.no_grad():
            cell._c(cell.skew).copy_(torch.from_numpy(log / 2))
            cell.reflection.fill_(reflect)
            if gains is not None:
                b, c, d = gains
                cell._c(cell.input_weight).copy_(b)
                cell._c(cell.output_weight).copy_(c)
                cell.direct_weight.copy_(d.real if d.is_complex() else d)
        return cell

    from_matrix = from_filter

    def to_filter(self) -> FDN:
        """The feedback delay network the cell is: unit delays, unit line gains, the cell's
        transition as feedback matrix and its input, output and direct weights as gains
        (a detached copy, not learnable).

        Returns:
            An :class:`~dsp_rnn.filters.FDN` with ``delays_samples = [1] * hidden_size``;
            SISO gains (1-D) when ``input_size`` / ``output_size`` is 1. Its output on
            ``x (time,)`` equals the cell's on ``x (1, time, 1)``.

        Raises:
            InputError: a nonlinear cell (``activation`` other than ``"identity"``) or a
                unitary (complex) one: neither is an FDN.

        Example:
            >>> from dsp_rnn.filters import householder_matrix
            >>> cell = OrthogonalCell.from_filter(householder_matrix(4, dtype=torch.float64))
            >>> net = cell.to_filter()
            >>> net.delays_samples, bool(torch.allclose(net.feedback_matrix, cell.transition()))
            ([1, 1, 1, 1], True)
        """
        if self.activation != "identity" or self.unitary:
            raise InputError(
                "OrthogonalCell.to_filter: only a real cell with activation='identity' is a "
                f"linear filter, got activation={self.activation!r}, unitary={self.unitary}"
            )
        with torch.no_grad():
            u = self.transition().detach().clone()
            b = self.input_weight.detach().clone()  # (N, I)
            c = self.output_weight.detach().clone()  # (O, N)
            d = self.direct_weight.detach().clone()  # (O, I)
        siso_in, siso_out = self.input_size == 1, self.output_size == 1
        return FDN(
            [1] * self.hidden_size,
            u,
            input_gains=b[:, 0] if siso_in else b,
            output_gains=c[0] if siso_out else c,
            direct_gain=d[0, 0] if siso_in and siso_out else d,
            line_gains=torch.ones(self.hidden_size, dtype=u.dtype),
            learnable=False,
        )

    def extra_repr(self) -> str:
        return (
            f"hidden_size={self.hidden_size}, input_size={self.input_size}, "
            f"output_size={self.output_size}, activation={self.activation!r}, "
            f"unitary={self.unitary}"
        )
