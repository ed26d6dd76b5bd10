"""The stochastic recurrent network (SRNN), the learned twin of the Kalman filter.

An SRNN (Fraccaro, Sønderby, Paquet & Winther 2016) stacks a deterministic recurrent layer
and a stochastic state-space layer. For a sequence ``x_1 .. x_T``::

    d_t = GRU(d_{t-1}, x_{t-1})                    deterministic, reads the past
    z_t ~ N(mu_p(z_{t-1}, d_t), S_p(z_{t-1}, d_t))   the latent state, a Markov chain
    x_t ~ p(x_t | z_t, d_t)                         Gaussian (real values) or Bernoulli (0/1)

and it is trained by the evidence lower bound (ELBO) with the reparameterisation trick,
through an inference network that runs a GRU *backwards* over ``[x_t, d_t]`` (``a_t`` sees
``x_t .. x_T``) and proposes ``q(z_t | z_{t-1}, a_t)``.

Why the SRNN and not the VRNN (Chung et al. 2015): the SRNN's latent layer is itself a
state-space model (``z_t`` depends on ``z_{t-1}`` directly) and its posterior factorises as
the true one does, ``p(z_t | z_{t-1}, x_{t:T})``. With ``linear=True`` and no deterministic
layer the generative model *is* the linear-Gaussian state space of
:class:`dsp_rnn.filters.LinearGaussian` (``A z + w``, ``C z + v``; ``Q`` and ``R``
diagonal, the initial covariance full), and the exact smoothing posterior of that model
(a linear function of ``z_{t-1}`` and of a backward information filter over ``x_{t:T}``)
is in the family of the linear inference network, so the bound can reach the exact Kalman
log-likelihood. The VRNN's latents are independent given its deterministic state and its
posterior sees only ``x_{1:t}`` (a filter, not a smoother), so its bound cannot be tight.

Cell protocol: ``y, state = cell(u, state, noise=...)`` is the generative pass. ``u`` holds
the *previous* observations (``u_t = x_{t-1}``, zeros before a sequence starts), ``y_t`` is
the mean of ``p(x_t | z_t, d_t)`` (Bernoulli: the probability) along one latent path drawn
from the prior with the standard-normal ``noise`` (drawn when not given), and ``state`` is
``(d, z)``; ``z`` is ``None`` before the first step. The bound is :meth:`SRNN.elbo`.

Example:
    >>> import torch
    >>> cell = SRNN(SRNNConfig(observation_size=2, latent_size=2, linear=True))
    >>> x = torch.randn(3, 10, 2)
    >>> cell.elbo(x).shape
    torch.Size([3])
    >>> y, (d, z) = cell(cell.inputs(x), noise=torch.zeros(3, 10, 2))
    >>> y.shape, z.shape
    (torch.Size([3, 10, 2]), torch.Size([3, 2]))
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from dsp_rnn._validate import check_int
from dsp_rnn.cells.base import Cell, check_sequence, check_step
from dsp_rnn.errors import InputError, ShapeError

if TYPE_CHECKING:
    from dsp_rnn.filters.kalman import LinearGaussian

__all__ = ["EMISSIONS", "SRNNConfig", "SRNN", "gaussian_kl"]

EMISSIONS = ("gaussian", "bernoulli")
"""The observation distributions: ``"gaussian"`` (real values, diagonal covariance) and
``"bernoulli"`` (0/1 values such as a piano roll)."""

_LOG_2PI = math.log(2 * math.pi)

Scale = Tensor  # a standard deviation (..., n) or a lower-triangular factor (..., n, n)


@dataclass(frozen=True)
class SRNNConfig:
    """The sizes and kind of an :class:`SRNN`.

    Attributes:
        observation_size: ``m``, features per observation (88 for a piano roll).
        latent_size: ``n``, size of the stochastic state ``z_t`` (default 2).
        hidden_size: units of the deterministic GRU ``d_t`` over the previous
            observations (default 0: none, a pure state-space model).
        inference_size: units of the backward inference RNN ``a_t`` (default 16).
        mlp_size: hidden units of the prior, posterior and emission networks (nonlinear
            models only; default 64).
        emission: ``"gaussian"`` (default) or ``"bernoulli"``.
        linear: linear-Gaussian transition and emission with constant noise (the Kalman
            twin), and a linear inference network with a full-covariance posterior
            (default False: the SRNN's MLPs and a backward GRU).
        min_std: floor of every learned standard deviation of the nonlinear nets (> 0).
    """

    observation_size: int
    latent_size: int = 2
    hidden_size: int = 0
    inference_size: int = 16
    mlp_size: int = 64
    emission: str = "gaussian"
    linear: bool = False
    min_std: float = 1e-3

    def __post_init__(self) -> None:
        check_int(self.observation_size, "observation_size", minimum=1)
        check_int(self.latent_size, "latent_size", minimum=1)
        check_int(self.hidden_size, "hidden_size", minimum=0)
        check_int(self.inference_size, "inference_size", minimum=1)
        check_int(self.mlp_size, "mlp_size", minimum=1)
        if self.emission not in EMISSIONS:
            raise InputError(f"emission: expected one of {', '.join(EMISSIONS)}, "
                             f"got {self.emission!r}")  # fmt: skip
        if not isinstance(self.linear, bool):
            raise InputError(f"linear: expected True or False, got {self.linear!r}")
        s = self.min_std
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 < s < 1:
            raise InputError(f"min_std: expected a number in (0, 1), got {s!r}")

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready values."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SRNNConfig:
        """The config from :meth:`to_dict`'s output.

        Raises:
            InputError: unknown keys, or values :class:`SRNNConfig` refuses.
        """
        if not isinstance(data, dict):
            raise InputError(f"SRNN config: expected a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise InputError(f"SRNN config: unknown settings {', '.join(unknown)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise InputError(f"SRNN config: {exc}") from None


def _mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_out))


def _tril(raw: Tensor, log_diag: Tensor) -> Tensor:
    """A lower-triangular factor: the strict lower part of ``raw``, ``exp(log_diag)`` on the
    diagonal (``log_diag (..., n)`` broadcasts over ``raw (n, n)``)."""
    return torch.tril(raw, -1) + torch.diag_embed(log_diag.exp())


def _draw(mean: Tensor, scale: Scale, eps: Tensor) -> Tensor:
    if scale.ndim == mean.ndim + 1:
        return mean + (scale @ eps.unsqueeze(-1)).squeeze(-1)
    return mean + scale * eps


def gaussian_kl(mq: Tensor, sq: Scale, mp: Tensor, sp: Scale) -> Tensor:
    """``KL(N(mq, Sq) || N(mp, Sp))`` in nats, summed over the last axis.

    A scale is a standard deviation ``(..., n)`` (diagonal covariance) or a lower-triangular
    factor ``(..., n, n)`` of the covariance, with the same leading dims as its mean
    ``(..., n)``. Returns ``(...)``.
    """
    if sq.ndim == mq.ndim and sp.ndim == mp.ndim:
        ratio = (sq / sp).square()
        dist = ((mq - mp) / sp).square()
        return 0.5 * (ratio + dist - 1 - ratio.log()).sum(-1)
    n = mq.shape[-1]
    lq = sq if sq.ndim == mq.ndim + 1 else torch.diag_embed(sq)
    lp = sp if sp.ndim == mp.ndim + 1 else torch.diag_embed(sp)
    lp, lq = torch.broadcast_tensors(lp, lq)
    m = torch.linalg.solve_triangular(lp, lq, upper=False)  # Lp^-1 Lq
    diff = (mq - mp).unsqueeze(-1)
    lp_b = lp.expand(*diff.shape[:-2], n, n)
    v = torch.linalg.solve_triangular(lp_b, diff, upper=False).squeeze(-1)
    logdet = (lp.diagonal(dim1=-2, dim2=-1).log() - lq.diagonal(dim1=-2, dim2=-1).log()).sum(-1)
    return 0.5 * (m.square().sum((-2, -1)) + v.square().sum(-1) - n) + logdet


class SRNN(Cell):
    """A stochastic recurrent network (the module docstring has the model and the choice).

    Args:
        config: an :class:`SRNNConfig`.

    Shape:
        ``u (batch, time, observation_size)`` (previous observations) -> ``y (batch, time,
        observation_size)`` (the emission mean); state ``(d (batch, hidden_size),
        z (batch, latent_size) or None)``.

    Properties: differentiable (the ELBO by the reparameterisation trick); CPU and CUDA;
    float32 and float64 (``.double()``).
    """

    def __init__(self, config: SRNNConfig) -> None:
        super().__init__()
        if not isinstance(config, SRNNConfig):
            raise InputError(f"config: expected an SRNNConfig, got {type(config).__name__}")
        self.config = c = config
        m, n, h, k = c.observation_size, c.latent_size, c.hidden_size, c.inference_size
        self.input_size = self.output_size = m
        self.deterministic = nn.GRU(m, h, batch_first=True) if h else None
        gauss = c.emission == "gaussian"
        if c.linear:
            self.transition = nn.Linear(n + h, n)  # A z + B d + b
            self.transition_log_std = nn.Parameter(torch.full((n,), -1.0))  # sqrt diag Q
            self.initial_mean = nn.Parameter(torch.zeros(n))
            self.initial_from_d = nn.Linear(h, n, bias=False) if h else None
            self.initial_scale = nn.Parameter(torch.zeros(n, n))  # tril, log on the diagonal
            self.emission_layer = nn.Linear(n + h, m)  # C z + D d + c
            self.emission_log_std = nn.Parameter(torch.zeros(m)) if gauss else None
            self.backward_in = nn.Linear(m + h, k)
            self.backward_rec = nn.Parameter(0.5 * torch.eye(k))
            self.posterior_mean = nn.Linear(n + k, n)
            self.posterior_log_std = nn.Linear(k, n)
            self.posterior_tril = nn.Parameter(torch.zeros(n, n))
            self.first_mean = nn.Parameter(torch.zeros(n))
            self.first_log_std = nn.Parameter(torch.zeros(n))
            self.first_tril = nn.Parameter(torch.zeros(n, n))
            with torch.no_grad():
                self.transition.weight[:, :n].copy_(0.5 * torch.eye(n))
        else:
            self.prior_net = _mlp(n + h, c.mlp_size, 2 * n)
            self.emission_net = _mlp(n + h, c.mlp_size, 2 * m if gauss else m)
            self.backward_rnn = nn.GRU(m + h, k, batch_first=True)
            self.posterior_net = _mlp(n + k, c.mlp_size, 2 * n)

    # -- the parts of the model --------------------------------------------------------------

    def _prior(self, z: Tensor | None, d: Tensor) -> tuple[Tensor, Scale]:
        """``p(z_t | z_{t-1}, d_t)``; ``z None``: the first step."""
        c = self.config
        if c.linear:
            if z is None:
                mean = self.initial_mean.expand(d.shape[0], -1)
                if self.initial_from_d is not None:
                    mean = mean + self.initial_from_d(d)
                diag = self.initial_scale.diagonal()
                return mean, _tril(self.initial_scale, diag).expand(d.shape[0], -1, -1)
            mean = self.transition(torch.cat([z, d], -1))
            return mean, self.transition_log_std.exp().expand_as(mean)
        if z is None:
            z = d.new_zeros(d.shape[0], c.latent_size)
        mean, s = self.prior_net(torch.cat([z, d], -1)).chunk(2, -1)
        return mean, F.softplus(s) + c.min_std

    def _posterior(self, z: Tensor | None, a: Tensor, prior_mean: Tensor) -> tuple[Tensor, Scale]:
        """``q(z_t | z_{t-1}, a_t)``; ``z None``: the first step."""
        c = self.config
        first = z is None
        if z is None:
            z = a.new_zeros(a.shape[0], c.latent_size)
        if c.linear:
            mean = self.posterior_mean(torch.cat([z, a], -1))
            log_std = self.posterior_log_std(a)
            if first:
                return mean + self.first_mean, _tril(self.first_tril, log_std + self.first_log_std)
            return mean, _tril(self.posterior_tril, log_std)
        shift, s = self.posterior_net(torch.cat([z, a], -1)).chunk(2, -1)
        return prior_mean + shift, F.softplus(s) + c.min_std  # mean: the prior's + a residual

    def _emission(self, z: Tensor, d: Tensor) -> tuple[Tensor, Tensor | None]:
        """``(mean, std)`` of a Gaussian emission, ``(logits, None)`` of a Bernoulli one."""
        c = self.config
        zd = torch.cat([z, d], -1)
        if c.linear:
            out = self.emission_layer(zd)
            if self.emission_log_std is None:
                return out, None
            return out, self.emission_log_std.exp().expand_as(out)
        out = self.emission_net(zd)
        if c.emission == "bernoulli":
            return out, None
        mean, s = out.chunk(2, -1)
        return mean, F.softplus(s) + c.min_std

    def emission_log_prob(self, x: Tensor, z: Tensor, d: Tensor) -> Tensor:
        """``log p(x_t | z_t, d_t)`` in nats, summed over features: ``x (..., m)`` ->
        ``(...)``."""
        loc, std = self._emission(z, d)
        if std is None:
            return -F.binary_cross_entropy_with_logits(loc, x, reduction="none").sum(-1)
        return -(0.5 * ((x - loc) / std).square() + std.log() + 0.5 * _LOG_2PI).sum(-1)

    def _deterministic(self, u: Tensor, d0: Tensor) -> Tensor:
        """``d_1 .. d_T (B, T, h)`` from the previous observations ``u`` and ``d_0 (B, h)``."""
        if self.deterministic is None:
            return u.new_zeros(u.shape[0], u.shape[1], 0)
        d, _ = self.deterministic(u, d0.unsqueeze(0).contiguous())
        return d

    def _backward(self, v: Tensor, mask: Tensor | None) -> Tensor:
        """``a_t`` from ``v_t .. v_T`` of each sequence (its own end when ``mask`` is given):
        ``v (B, T, m + h)`` -> ``(B, T, k)``."""
        T = v.shape[1]
        if mask is None:
            idx = torch.arange(T - 1, -1, -1, device=v.device).expand(v.shape[0], T)
        else:  # reverse each row within its length; the padding stays at the end
            t = torch.arange(T, device=v.device).expand(v.shape[0], T)
            length = mask.sum(1, keepdim=True)
            idx = torch.where(t < length, length - 1 - t, t)
        gather = idx.unsqueeze(-1)
        rv = v.gather(1, gather.expand(-1, -1, v.shape[-1]))
        if self.config.linear:
            w = self.backward_rec
            w = w / torch.linalg.matrix_norm(w, ord=2).clamp_min(0.99) * 0.99  # stable
            drive = self.backward_in(rv)
            a = drive.new_zeros(v.shape[0], drive.shape[-1])
            out = []
            for s in range(T):
                a = a @ w.T + drive[:, s]
                out.append(a)
            ra = torch.stack(out, 1)
        else:
            ra, _ = self.backward_rnn(rv)
        return ra.gather(1, gather.expand(-1, -1, ra.shape[-1]))

    # -- the cell protocol --------------------------------------------------------------------

    def initial_state(self, batch_size: int) -> tuple[Tensor, None]:
        """``(d, z)`` at rest: ``d`` zeros ``(batch_size, hidden_size)``, ``z`` None (before
        the first step; the first latent is drawn from the initial distribution)."""
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        p = next(self.parameters())
        return p.new_zeros(batch_size, self.config.hidden_size), None

    def _state(self, state: Any, batch: int) -> tuple[Tensor, Tensor | None]:
        if state is None:
            return self.initial_state(batch)
        h, n = self.config.hidden_size, self.config.latent_size
        ok = isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], Tensor)
        if ok:
            d, z = state
            ok = tuple(d.shape) == (batch, h) and (z is None or tuple(z.shape) == (batch, n))
        if not ok:
            raise ShapeError(f"SRNN: expected state (d ({batch}, {h}), z ({batch}, {n}) or None)")
        return state

    def forward(  # type: ignore[override]
        self, u: Tensor, state: Any = None, *, noise: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:  # fmt: skip
        """The generative pass along one latent path drawn from the prior.

        Args:
            u: ``(B, T, m)`` previous observations (:meth:`inputs` makes them from ``x``).
            state: ``(d, z)`` from a previous call, or None (at rest).
            noise: ``(B, T, n)`` standard-normal draws for the latent path (default: drawn
                with ``generator``); the same noise gives the same path, in blocks or not.

        Returns:
            ``(y, state)``: the emission means ``(B, T, m)`` and the state after the last
            step.
        """
        check_sequence(u, self.input_size, "SRNN")
        B, T = u.shape[:2]
        d0, z = self._state(state, B)
        noise = self._noise(noise, B, T, u, generator)
        d = self._deterministic(u, d0)  # (B, T, h)
        ys = []
        for t in range(T):
            mean, scale = self._prior(z, d[:, t])
            z = _draw(mean, scale, noise[:, t])
            loc, std = self._emission(z, d[:, t])
            ys.append(loc if std is not None else torch.sigmoid(loc))
        if T == 0:
            return u.new_zeros(B, 0, self.output_size), (d0, z)  # type: ignore[return-value]
        return torch.stack(ys, 1), (d[:, -1], z)  # type: ignore[return-value]

    def step(  # type: ignore[override]
        self, u_t: Tensor, state: Any = None, *, noise: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:  # fmt: skip
        """One step of :meth:`forward`: ``u_t (B, m)``, ``noise (B, n)`` -> ``y_t (B, m)``."""
        check_step(u_t, self.input_size, "SRNN")
        y, state = self(u_t.unsqueeze(1), state,
                        noise=None if noise is None else noise.unsqueeze(1),
                        generator=generator)  # fmt: skip
        return y[:, 0], state

    def _noise(self, noise: Tensor | None, B: int, T: int, like: Tensor,
               generator: torch.Generator | None) -> Tensor:  # fmt: skip
        n = self.config.latent_size
        if noise is None:
            return torch.randn(B, T, n, dtype=like.dtype, device=like.device,
                               generator=generator)  # fmt: skip
        if noise.shape != (B, T, n):
            raise ShapeError(f"SRNN: expected noise of shape ({B}, {T}, {n}), got "
                             f"{tuple(noise.shape)}")  # fmt: skip
        return noise

    @staticmethod
    def inputs(x: Tensor, previous: Tensor | None = None) -> Tensor:
        """The cell's inputs for observations ``x (B, T, m)``: ``x`` shifted one step later,
        with ``previous (B, m)`` (default zeros: the sequence's start) first."""
        first = x.new_zeros(x.shape[0], 1, x.shape[2]) if previous is None else previous[:, None]
        return torch.cat([first, x[:, :-1]], 1)

    # -- the bound ----------------------------------------------------------------------------

    def elbo(
        self, x: Tensor, state: Any = None, *, previous: Tensor | None = None,
        mask: Tensor | None = None, noise: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:  # fmt: skip
        """The evidence lower bound ``E_q[log p(x, z) - log q(z | x)] <= log p(x)`` of each
        sequence, in nats summed over its steps, estimated with one reparameterised draw of
        the latent path (the KL of each step is exact given the drawn ``z_{t-1}``).

        Args:
            x: ``(B, T, m)`` observations (0/1 for a Bernoulli emission).
            state: ``(d, z)`` at the step before ``x`` (default: at rest).
            previous: ``(B, m)`` the observation before ``x`` (default zeros).
            mask: ``(B, T)`` bool, True on steps inside each sequence; padding only at the
                end of a row (default: every step counts).
            noise: ``(B, T, n)`` standard-normal draws (default: drawn with ``generator``).

        Returns:
            ``(B,)`` the bound of each sequence (nats).

        Raises:
            ShapeError: ``x``, ``previous``, ``mask``, ``noise`` or ``state`` of the wrong
                shape.
        """
        check_sequence(x, self.input_size, "SRNN.elbo")
        B, T = x.shape[:2]
        if mask is not None and tuple(mask.shape) != (B, T):
            raise ShapeError(f"SRNN.elbo: expected mask ({B}, {T}), got {tuple(mask.shape)}")
        if previous is not None and tuple(previous.shape) != (B, self.input_size):
            raise ShapeError(f"SRNN.elbo: expected previous ({B}, {self.input_size}), got "
                             f"{tuple(previous.shape)}")  # fmt: skip
        d0, z = self._state(state, B)
        noise = self._noise(noise, B, T, x, generator)
        d = self._deterministic(self.inputs(x, previous), d0)  # (B, T, h)
        a = self._backward(torch.cat([x, d], -1), mask)  # (B, T, k)
        zs, kls = [], []
        for t in range(T):
            pm, ps = self._prior(z, d[:, t])
            qm, qs = self._posterior(z, a[:, t], pm)
            kls.append(gaussian_kl(qm, qs, pm, ps))
            z = _draw(qm, qs, noise[:, t])
            zs.append(z)
        if T == 0:
            return x.new_zeros(B)
        bound = self.emission_log_prob(x, torch.stack(zs, 1), d) - torch.stack(kls, 1)
        if mask is not None:
            bound = bound * mask
        return bound.sum(1)

    @torch.no_grad()
    def sample(self, n_steps: int, batch_size: int = 1, *,
               generator: torch.Generator | None = None) -> Tensor:  # fmt: skip
        """Draw ``batch_size`` sequences of ``n_steps`` observations ``(B, n_steps, m)``
        from the model (each drawn observation is the next step's input)."""
        n_steps = check_int(n_steps, "n_steps", minimum=0)
        state: Any = self.initial_state(batch_size)
        u = state[0].new_zeros(batch_size, self.input_size)
        out = []
        for _ in range(n_steps):
            d0, z = state
            d = self._deterministic(u[:, None], d0)[:, 0]
            eps = torch.randn(batch_size, self.config.latent_size, dtype=u.dtype,
                              device=u.device, generator=generator)  # fmt: skip
            mean, scale = self._prior(z, d)
            z = _draw(mean, scale, eps)
            loc, std = self._emission(z, d)
            if std is None:
                p = torch.sigmoid(loc)
                u = (torch.rand(p.shape, dtype=p.dtype, device=p.device,
                                generator=generator) < p).to(p.dtype)  # fmt: skip
            else:
                u = loc + std * torch.randn(loc.shape, dtype=loc.dtype, device=loc.device,
                                            generator=generator)  # fmt: skip
            out.append(u)
            state = (d, z)
        if not out:
            return u.new_zeros(batch_size, 0, self.input_size)
        return torch.stack(out, 1)

    def to_linear_gaussian(self) -> tuple[LinearGaussian, Tensor, Tensor]:
        """The linear-Gaussian state space this model is (``linear=True``, no deterministic
        layer), detached: ``(model, transition_offset (n,), observation_offset (m,))`` for
        :func:`dsp_rnn.filters.kalman_filter` (``transition_offsets=``,
        ``observation_offsets=``). Its exact log-likelihood bounds :meth:`elbo` from above.

        The SRNN's first latent ``z_1`` is the filter's initial state ``x_0``.

        Raises:
            InputError: a nonlinear model, or one with a deterministic layer.
        """
        from dsp_rnn.filters.kalman import LinearGaussian

        c = self.config
        if not c.linear or c.hidden_size or c.emission != "gaussian":
            raise InputError("to_linear_gaussian: only a linear Gaussian SRNN with "
                             "hidden_size=0 is a linear-Gaussian state space")  # fmt: skip
        n = c.latent_size
        with torch.no_grad():
            w = self.transition.weight[:, :n]
            q = torch.diag(self.transition_log_std.exp().square())
            r = torch.diag(self.emission_log_std.exp().square())  # type: ignore[union-attr]
            l0 = _tril(self.initial_scale, self.initial_scale.diagonal())
            model = LinearGaussian(
                A=w.clone(),
                C=self.emission_layer.weight[:, :n].clone(),
                Q=q,
                R=r,
                m0=self.initial_mean.clone(),
                P0=l0 @ l0.T,
            )
            return model, self.transition.bias.clone(), self.emission_layer.bias.clone()

    def count_parameters(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
