"""Feedback delay networks (FDN) and Gerzon's unitary multichannel allpass network.

An FDN is a linear RNN whose recurrence runs through delay lines: ``N`` delay lines of
``m_i`` samples, a feedback matrix ``A`` (orthogonal or unitary), input gains ``B``,
output gains ``C``, a direct path ``d`` and per-line gains ``gamma`` (absorption)::

    s[n] = gamma * (v delayed by m)[n]        # delay-line outputs, s_i[n] = gamma_i v_i[n - m_i]
    y[n] = C s[n] + d x[n]
    v[n] = A s[n] + B x[n]                    # delay-line inputs

    H(z) = C (I - Gamma D(z) A)^-1 Gamma D(z) B + d,   D(z) = diag(z^-m_1, ..., z^-m_N)

(equivalently ``C (D(z)^-1 - A)^-1 B + d`` with ``D`` absorbing ``Gamma``). With ``A``
orthogonal and ``gamma = 1`` the loop is lossless: the energy in the delay lines is kept
exactly while no input arrives. :func:`rt60_to_gains` picks ``gamma_i = 10^(-3 m_i / (T60
fs))`` so every mode decays by 60 dB in ``T60`` seconds (Jot and Chaigne 1991).

Processing runs in blocks of ``L <= min(m_i)`` samples, a few matrix products per block
(see :mod:`dsp_rnn.filters._delay_network`). Everything is plain torch: differentiable by
autograd, any device, float32/float64, complex when the matrix, a gain, the input or the state is.
Feedback matrices and line gains: :mod:`dsp_rnn.filters.fdn_design`.

References:
    J.-M. Jot, A. Chaigne, "Digital delay networks for designing artificial reverberators",
    90th AES Convention, 1991. M. A. Gerzon, "Unitary (energy-preserving) multichannel
    networks with feedback", Electronics Letters 12(11), 1976. S. J. Schlecht, "Allpass
    feedback delay networks", IEEE Trans. Signal Processing 69, 2021.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from dsp_rnn._validate import as_tensor
from dsp_rnn.errors import InputError
from dsp_rnn.filters._delay_network import (
    DelayNetwork,
    as_real_or_complex,
    check_delays,
    real_dtype,
)
from dsp_rnn.filters._module_tensors import store_tensor
from dsp_rnn.filters.allpass import TensorLike
from dsp_rnn.filters.fdn_design import check_unitary, householder_matrix, rt60_to_gains

__all__ = ["fdn", "fdn_freqz", "gerzon_allpass", "gerzon_freqz", "FDN", "GerzonAllpass"]


# ----------------------------------------------------------------------------- public API
def fdn(
    x: torch.Tensor,
    *,
    delays_samples: Sequence[int],
    feedback_matrix: TensorLike,
    input_gains: TensorLike | None = None,
    output_gains: TensorLike | None = None,
    direct_gain: TensorLike = 0.0,
    line_gains: TensorLike | None = None,
    state: torch.Tensor | None = None,
    block_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a feedback delay network (Jot): ``y = C s + d x``, ``v = A s + B x``, ``s = gamma D v``.

    Args:
        x: input signal, time last: ``(..., time)`` when ``input_gains`` is ``(N,)``,
            ``(..., n_inputs, time)`` when it is ``(N, n_inputs)``; real or complex.
        delays_samples: ``N`` integer delay-line lengths, each >= 1 sample (mutually prime
            lengths give the densest echoes).
        feedback_matrix: ``A``, ``(N, N)``, orthogonal (or complex unitary), checked to
            ``1e-5`` (float32) / ``1e-9`` (float64). See :func:`householder_matrix`,
            :func:`hadamard_matrix`, :func:`random_orthogonal`.
        input_gains: ``B``, ``(N,)`` (one input) or ``(N, n_inputs)``; default ones.
        output_gains: ``C``, ``(N,)`` (one output) or ``(n_outputs, N)``; default ones.
        direct_gain: ``d``, scalar or broadcasting to ``(n_outputs, n_inputs)``; default 0.
        line_gains: ``gamma``, ``(N,)``, ``|gamma_i| <= 1`` (1 = lossless, allowed); default
            ones. See :func:`rt60_to_gains`.
        state: delay-line contents from a previous call, ``(..., sum(delays_samples))``: line
            0's ``m_0`` past inputs ``v_0`` (oldest first), then line 1's, ... Default zeros.
            Complex when the network is (a unitary matrix, or complex gains or input).
        block_size: samples per vectorised step, ``1 <= block_size <= min(delays_samples)``
            (default the maximum, ``min(delays_samples)``); the result does not depend on it.

    Shape:
        x ``(..., [n_inputs,] time)`` -> y ``(..., [n_outputs,] time)``; state
        ``(..., sum(delays_samples))``.

    Returns:
        ``(y, state)``; passing ``state`` to the next call makes block-by-block processing
        equal one shot.

    Raises:
        InputError: non-integer or < 1 delays, a non-orthogonal matrix, bad ``block_size``.
        UnstableFilterError: ``|line_gains| > 1``.  ShapeError: mismatched shapes.
        NonFiniteError: NaN or inf anywhere.

    Properties: differentiable (autograd) in ``x``, every gain, the matrix and ``state``;
    any device; float32/float64, complex with a unitary matrix.

    References:
        Jot and Chaigne, 90th AES Convention, 1991.

    Example:
        >>> x = torch.zeros(8, dtype=torch.float64); x[0] = 1
        >>> from dsp_rnn.filters import hadamard_matrix
        >>> a = hadamard_matrix(2, dtype=torch.float64)
        >>> y, state = fdn(x, delays_samples=[2, 3], feedback_matrix=a)
        >>> y  # first pass at 2 and 3, then mixed by A: 4 (2+2), 5 (2+3, 3+2), 6 (3+3), ...
        tensor([ 0.0000,  0.0000,  1.0000,  1.0000,  0.7071,  1.4142, -0.2071,  1.5000],
               dtype=torch.float64)
        >>> round(float(state.pow(2).sum()), 12)  # lossless: the lines keep the energy B^T B
        2.0
    """
    gains = (input_gains, output_gains, direct_gain, line_gains)
    net = DelayNetwork(delays_samples, feedback_matrix, *gains)
    return net.run(x, state, block_size)


def fdn_freqz(
    *,
    delays_samples: Sequence[int],
    feedback_matrix: TensorLike,
    input_gains: TensorLike | None = None,
    output_gains: TensorLike | None = None,
    direct_gain: TensorLike = 0.0,
    line_gains: TensorLike | None = None,
    n_freqs: int = 512,
    whole: bool = False,
    sample_rate: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact frequency response ``H = C (I - Gamma D A)^-1 Gamma D B + d`` of an FDN.

    One complex ``N x N`` solve per frequency (``torch.linalg.solve``, complex128), on
    scipy.signal.freqz's grid ``w_k = pi k / n_freqs`` (``2 pi k / n_freqs`` if ``whole``).

    Args:
        delays_samples, feedback_matrix, input_gains, output_gains, direct_gain,
        line_gains: as :func:`fdn`.
        n_freqs: number of frequencies, >= 1 (default 512).
        whole: cover ``[0, 2 pi)`` instead of ``[0, pi)``.
        sample_rate: when given, ``freqs`` are in Hz; otherwise rad/sample.

    Shape:
        freqs ``(n_freqs,)``; H ``([n_outputs,] [n_inputs,] n_freqs)`` (SISO sides dropped as
        in :func:`fdn`).

    Returns:
        ``(freqs, H)``, H complex128 when any parameter is float64, else complex64. A
        frequency where ``I - Gamma D A`` is exactly singular gives NaN: a lossless loop
        (``line_gains`` 1) can have a pole, or a mode that the gains cancel, on the unit
        circle, e.g. at DC for a matrix with eigenvalue 1 (Householder, Hadamard).

    Raises:
        as :func:`fdn`; InputError for a bad ``n_freqs`` or ``sample_rate``.

    Example:
        >>> freqs, h = fdn_freqz(delays_samples=[3], feedback_matrix=[[1.0]], line_gains=[0.5],
        ...                      n_freqs=2)
        >>> h  # 0.5 z^-3 / (1 - 0.5 z^-3) at w = 0 and w = pi/2
        tensor([ 1.0000+0.0000j, -0.2000+0.4000j])
    """
    gains = (input_gains, output_gains, direct_gain, line_gains)
    net = DelayNetwork(delays_samples, feedback_matrix, *gains)
    return net.freqz(n_freqs, whole, sample_rate)


def gerzon_allpass(
    x: torch.Tensor,
    *,
    delays_samples: Sequence[int],
    feedback_matrix: TensorLike,
    gain: TensorLike,
    state: torch.Tensor | None = None,
    block_size: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gerzon's unitary multichannel allpass: the matrix generalisation of Schroeder's.

    With an orthogonal (or unitary) ``U``, delays ``D(z) = diag(z^-m_i)`` and gains
    ``G = diag(g)``, ``|g_i| < 1``, ``K = sqrt(I - G^2)``, the network scatters inputs
    ``x`` and delay outputs ``s`` into outputs ``y`` and delay inputs ``v`` through the
    orthogonal (unitary) matrix ``S``::

        [y]   [I 0] [-G  K] [x]          y = -G x + K s
        [v] = [0 U] [ K  G] [s],         v = U (K x + G s),    s = D(z) v

    Since ``S`` is orthogonal, ``|y|^2 + |v|^2 = |x|^2 + |s|^2`` at every sample: the network
    is lossless (input energy = output energy + change of the energy held in the delay
    lines), hence paraunitary (Gerzon 1976)::

        H(z) = -G + K (I - D(z) U G)^-1 D(z) U K

    and ``H(e^jw)^H H(e^jw) = I`` at every frequency. For a scalar ``g`` this is
    ``H(z) = (I - g D(z) U)^-1 (D(z) U - g I)``, the Schroeder allpass ``(z^-m - g) / (1 - g
    z^-m)`` with the scalar delay replaced by the unitary matrix ``D(z) U``. It runs as the FDN
    ``A = U G``, ``B = U K``, ``C = K``, ``d = -G`` (see :func:`fdn`).

    Args:
        x: ``N``-channel input, ``(..., N, time)``; real or complex.
        delays_samples: ``N`` integer delays >= 1.
        feedback_matrix: ``U``, ``(N, N)`` orthogonal or unitary (checked).
        gain: ``g``, scalar or ``(N,)``, ``|g| < 1``; differentiable.
        state: delay-line contents ``(..., sum(delays_samples))`` as in :func:`fdn`.
        block_size: as in :func:`fdn`.

    Shape:
        x ``(..., N, time)`` -> y ``(..., N, time)``; state ``(..., sum(delays_samples))``.

    Returns:
        ``(y, state)``.

    Raises:
        InputError: bad delays, non-orthogonal ``U``.  UnstableFilterError: ``|g| >= 1``.
        ShapeError: mismatched shapes.  NonFiniteError: NaN or inf.

    Properties: differentiable by autograd; any device; float32/float64/complex.

    References:
        M. A. Gerzon, Electronics Letters 12(11), 1976; M. J. Poletti, "A unitary
        reverberator for reduced colouration in assisted reverberation systems",
        Inter-Noise 1995; S. J. Schlecht, IEEE Trans. Signal Processing 69, 2021.

    Example:
        >>> x = torch.randn(2, 50, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
        >>> from dsp_rnn.filters import random_orthogonal
        >>> u = random_orthogonal(2, seed=0, dtype=torch.float64)
        >>> y, state = gerzon_allpass(x, delays_samples=[3, 5], feedback_matrix=u, gain=0.7)
        >>> e_in, e_out = x.pow(2).sum(), y.pow(2).sum() + state.pow(2).sum()
        >>> bool(torch.isclose(e_in, e_out, rtol=1e-12))  # lossless
        True
    """
    net = DelayNetwork.gerzon(delays_samples, feedback_matrix, gain)
    return net.run(x, state, block_size)


def gerzon_freqz(
    *,
    delays_samples: Sequence[int],
    feedback_matrix: TensorLike,
    gain: TensorLike,
    n_freqs: int = 512,
    whole: bool = False,
    sample_rate: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact matrix frequency response of :func:`gerzon_allpass` (unitary at every frequency).

    Args:
        delays_samples, feedback_matrix, gain: as :func:`gerzon_allpass`.
        n_freqs, whole, sample_rate: as :func:`fdn_freqz`.

    Shape:
        freqs ``(n_freqs,)``; H ``(N, N, n_freqs)``.

    Returns:
        ``(freqs, H)``.

    Raises:
        as :func:`gerzon_allpass`.

    Example:
        >>> u = householder_matrix(3, dtype=torch.float64)
        >>> _, h = gerzon_freqz(delays_samples=[2, 3, 5], feedback_matrix=u, gain=0.5, n_freqs=64)
        >>> hh = h.permute(2, 0, 1)
        >>> bool(torch.allclose(hh.mH @ hh, torch.eye(3, dtype=torch.complex128), atol=1e-12))
        True
    """
    net = DelayNetwork.gerzon(delays_samples, feedback_matrix, gain)
    return net.freqz(n_freqs, whole, sample_rate)


# ----------------------------------------------------------------------------- modules
def _is_unitary(a: torch.Tensor) -> bool:
    try:
        check_unitary(a, a.shape[-1])
    except InputError:
        return False
    return True


def _refit_matrix(a: torch.Tensor, old_dtype: torch.dtype) -> torch.Tensor:
    """The feedback matrix after a module cast it from ``old_dtype`` to ``a.dtype``.

    A matrix orthogonal (unitary) to ``old_dtype``'s rounding can fail the check in a wider
    dtype (float32's ``1e-8`` errors against float64's ``1e-9`` tolerance). Such a matrix is
    made orthogonal to the new dtype's rounding: the Householder matrix (the default) is
    rebuilt in the new dtype, any other is replaced by the nearest orthogonal (unitary)
    matrix, ``U V^H`` from its SVD in double precision, a change of the size of the old
    rounding. A matrix that passes the new check, or fails the old one, is kept as it is.
    """
    if _is_unitary(a) or not _is_unitary(a.to(old_dtype)):
        return a
    n = a.shape[-1]
    if torch.equal(a.to(old_dtype), householder_matrix(n, dtype=old_dtype).to(a.device)):
        return householder_matrix(n, dtype=torch.float64).to(a)  # rounded once to a.dtype
    ad = a.detach().to(torch.complex128 if a.is_complex() else torch.float64)
    u, _, vh = torch.linalg.svd(ad)
    return (u @ vh).to(a)


class _NetworkModule(nn.Module):
    """Shared by :class:`FDN` and :class:`GerzonAllpass`: the delay lines, and a feedback
    matrix that stays orthogonal (unitary) in whatever dtype the module is cast to."""

    feedback_matrix: torch.Tensor

    def __init__(self, delays_samples: list[int]) -> None:
        super().__init__()
        self.delays_samples = delays_samples

    @property
    def state_size(self) -> int:
        """Length of the state: ``sum(delays_samples)``."""
        return sum(self.delays_samples)

    def _apply(self, fn: Any, recurse: bool = True) -> _NetworkModule:
        old_dtype = self.feedback_matrix.dtype
        super()._apply(fn, recurse)
        if self.feedback_matrix.dtype != old_dtype:  # .double(), .float(), .to(dtype)
            self.feedback_matrix = _refit_matrix(self.feedback_matrix, old_dtype)
        return self

    def _load_from_state_dict(self, state_dict: Any, prefix: str, *args: Any,
                              **kwargs: Any) -> None:  # fmt: skip
        """A feedback matrix saved in another dtype (a float32 module's state loaded into a
        float64 one) is made orthogonal in this module's dtype, as a cast would."""
        incoming = state_dict.get(prefix + "feedback_matrix")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if isinstance(incoming, torch.Tensor) and incoming.dtype != self.feedback_matrix.dtype:
            with torch.no_grad():
                self.feedback_matrix = _refit_matrix(self.feedback_matrix, incoming.dtype)


class FDN(_NetworkModule):
    """Feedback delay network module (see :func:`fdn`); the gains are learnable parameters.

    Args:
        delays_samples: ``N`` integer delays >= 1.
        feedback_matrix: ``(N, N)`` orthogonal/unitary; default :func:`householder_matrix`.
        input_gains, output_gains, direct_gain, line_gains: as :func:`fdn` (defaults: ones,
            ones, 0, ones), stored in the matrix's real dtype.
        learnable: store the gains as ``nn.Parameter`` (default ``True``); the feedback
            matrix is always a buffer (keep it orthogonal).

    Casting the module to a wider dtype (``.double()``) keeps the feedback matrix orthogonal
    (unitary) in that dtype: the Householder matrix is rebuilt exactly, another matrix is
    replaced by the nearest orthogonal one (a change of the size of the old dtype's rounding).

    Shape:
        x ``(..., [n_inputs,] time)`` -> y ``(..., [n_outputs,] time)``; state
        ``(..., sum(delays_samples))``.

    Example:
        >>> net = FDN.from_rt60([400, 500], 1.0, sample_rate=8000.0)
        >>> net.line_gains  # 10^(-3 m / (T60 fs))
        Parameter containing:
        tensor([0.7079, 0.6494], requires_grad=True)
        >>> x = torch.zeros(1000); x[0] = 1
        >>> y, state = net(x)
        >>> y[400].item() == net.line_gains[0].item(), state.shape
        (True, torch.Size([900]))
    """

    def __init__(
        self,
        delays_samples: Sequence[int],
        feedback_matrix: TensorLike | None = None,
        *,
        input_gains: TensorLike | None = None,
        output_gains: TensorLike | None = None,
        direct_gain: TensorLike = 0.0,
        line_gains: TensorLike | None = None,
        learnable: bool = True,
    ) -> None:
        delays = check_delays(delays_samples)
        super().__init__(delays)
        if feedback_matrix is None:
            feedback_matrix = householder_matrix(len(delays))
        net = DelayNetwork(
            delays, feedback_matrix, input_gains, output_gains, direct_gain, line_gains
        )
        real = real_dtype(net.a.dtype)
        self.siso_in, self.siso_out = net.siso_in, net.siso_out
        self.register_buffer("feedback_matrix", net.a.detach().clone())
        gains = {
            "input_gains": net.b[:, 0] if net.siso_in else net.b,
            "output_gains": net.c[0] if net.siso_out else net.c,
            "direct_gain": as_real_or_complex(direct_gain, "direct_gain"),
            "line_gains": net.gamma,
        }
        for name, value in gains.items():
            store_tensor(self, name, value if value.is_complex() else value.to(real), learnable)

    @classmethod
    def from_rt60(
        cls,
        delays_samples: Sequence[int],
        rt60_seconds: float,
        *,
        sample_rate: float,
        feedback_matrix: TensorLike | None = None,
        **kwargs: Any,
    ) -> FDN:
        """An FDN whose line gains give the reverberation time ``rt60_seconds`` (see
        :func:`rt60_to_gains`); other keyword arguments go to the constructor."""
        delays = check_delays(delays_samples)
        gains = rt60_to_gains(delays, rt60_seconds, sample_rate=sample_rate)
        real = torch.float32
        if feedback_matrix is not None:
            a = as_real_or_complex(feedback_matrix, "feedback_matrix")
            real = real_dtype(a.dtype)
        return cls(delays, feedback_matrix, line_gains=gains.to(real), **kwargs)

    def _net(self) -> DelayNetwork:
        return DelayNetwork(
            self.delays_samples,
            self.feedback_matrix,
            self.input_gains,
            self.output_gains,
            self.direct_gain,
            self.line_gains,
        )

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, state) = fdn(x, ..., state)`` with this module's parameters."""
        return self._net().run(x, state, None)

    def freqz(
        self, n_freqs: int = 512, whole: bool = False, sample_rate: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact frequency response, see :func:`fdn_freqz`."""
        return self._net().freqz(n_freqs, whole, sample_rate)


class GerzonAllpass(_NetworkModule):
    """Gerzon's unitary multichannel allpass as a module (see :func:`gerzon_allpass`).

    Args:
        delays_samples: ``N`` integer delays >= 1.
        feedback_matrix: ``U``, orthogonal or unitary ``(N, N)``; default Householder.
        gain: ``g``, scalar or ``(N,)``, ``|g| < 1``.
        learnable: store ``gain`` as an ``nn.Parameter`` (default ``True``).

    A cast to a wider dtype keeps ``U`` orthogonal (unitary) in it, as for :class:`FDN`.

    Shape:
        x ``(..., N, time)`` -> y ``(..., N, time)``; state ``(..., sum(delays_samples))``.

    Example:
        >>> from dsp_rnn.filters import hadamard_matrix
        >>> ap = GerzonAllpass([3, 4, 7, 11], hadamard_matrix(4, dtype=torch.float64), gain=0.6)
        >>> _, h = ap.freqz(256)
        >>> hh = h.permute(2, 0, 1)  # (freq, N, N)
        >>> float((hh.mH @ hh - torch.eye(4)).abs().max()) < 1e-12
        True
    """

    def __init__(
        self,
        delays_samples: Sequence[int],
        feedback_matrix: TensorLike | None = None,
        *,
        gain: TensorLike = 0.7,
        learnable: bool = True,
    ) -> None:
        delays = check_delays(delays_samples)
        super().__init__(delays)
        if feedback_matrix is None:
            feedback_matrix = householder_matrix(len(delays))
        u = as_real_or_complex(feedback_matrix, "feedback_matrix")
        DelayNetwork.gerzon(delays, u, gain)  # validates
        self.register_buffer("feedback_matrix", u.detach().clone())
        store_tensor(self, "gain", as_tensor(gain, "gain").to(real_dtype(u.dtype)), learnable)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, state) = gerzon_allpass(x, ..., state)`` with this module's parameters."""
        net = DelayNetwork.gerzon(self.delays_samples, self.feedback_matrix, self.gain)
        return net.run(x, state, None)

    def freqz(
        self, n_freqs: int = 512, whole: bool = False, sample_rate: float | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact matrix frequency response ``(N, N, n_freqs)``, see :func:`gerzon_freqz`."""
        net = DelayNetwork.gerzon(self.delays_samples, self.feedback_matrix, self.gain)
        return net.freqz(n_freqs, whole, sample_rate)
