"""Compare probabilistic twins: a Kalman model's state and output estimates with their
uncertainty, its log-likelihood per step, and (optionally) a second model's on the same
observations, with numbers and a plot.

A *probabilistic system* is a :class:`~dsp_rnn.cells.KalmanCell` (observations are the
cell's output seen through noise, its input known) or a
:class:`~dsp_rnn.filters.LinearGaussian` (observations only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dsp_rnn.cells.kalman import KalmanCell
from dsp_rnn.errors import InputError, ShapeError
from dsp_rnn.filters.kalman import LinearGaussian, kalman_smoother
from dsp_rnn.plotting.figure import pyplot, save_figure

__all__ = ["KalmanEstimates", "kalman_estimates", "plot_kalman_estimates"]

_Z95 = 1.959963984540054  # two-sided 95 % of a standard normal


@dataclass(frozen=True)
class KalmanEstimates:
    """State and output estimates of a probabilistic system on one set of observations.

    ``B`` sequences, ``T`` steps, ``n`` states, ``m`` observed outputs; all float64, CPU.

    Attributes:
        observations: ``(B, T, m)``, NaN where missing.
        truth: the noise-free output if given, ``(B, T, m)``, else None.
        output_filtered, output_smoothed: ``E[C s_t + D u_t | ...]``, ``(B, T, m)``.
        output_filtered_std, output_smoothed_std: their standard deviations ``(B, T, m)``.
        state_filtered, state_smoothed: state means ``(B, T, n)``.
        state_filtered_std, state_smoothed_std: state standard deviations ``(B, T, n)``.
        step_log_likelihoods: ``log p(y_t | y_<t)`` in nats, ``(B, T)``.
        log_likelihood: total per sequence, ``(B,)``.
        reference_step_log_likelihoods, reference_log_likelihood: the same for the
            reference system, or None.
        label, reference_label: names for the report.
        rmse: root-mean-square error against ``truth`` (``nan`` without it) of the raw
            observations, the filtered and the smoothed output (keys ``"observed"``,
            ``"filtered"``, ``"smoothed"``).
        coverage: fraction of ``truth`` inside the 95 % bands (``"filtered"``,
            ``"smoothed"``; ``nan`` without truth); near 0.95 for a well-specified model.
    """

    observations: torch.Tensor
    truth: torch.Tensor | None
    output_filtered: torch.Tensor
    output_filtered_std: torch.Tensor
    output_smoothed: torch.Tensor
    output_smoothed_std: torch.Tensor
    state_filtered: torch.Tensor
    state_filtered_std: torch.Tensor
    state_smoothed: torch.Tensor
    state_smoothed_std: torch.Tensor
    step_log_likelihoods: torch.Tensor
    log_likelihood: torch.Tensor
    reference_step_log_likelihoods: torch.Tensor | None
    reference_log_likelihood: torch.Tensor | None
    label: str
    reference_label: str
    rmse: dict[str, float]
    coverage: dict[str, float]

    def summary(self) -> str:
        """A few lines: log-likelihoods (per step), errors and band coverage."""
        n_obs = int((~torch.isnan(self.observations)).any(-1).sum())
        per = float(self.log_likelihood.sum()) / max(n_obs, 1)
        lines = [
            f"{self.label}: log-likelihood {float(self.log_likelihood.sum()):.4g} nats "
            f"({per:.4g} per observed step, {self.observations.shape[0]} sequence(s) x "
            f"{self.observations.shape[1]} steps)"
        ]
        if self.reference_log_likelihood is not None:
            ref = float(self.reference_log_likelihood.sum())
            lines.append(
                f"{self.reference_label}: log-likelihood {ref:.4g} nats ({ref / max(n_obs, 1):.4g}"
                f" per observed step); difference {float(self.log_likelihood.sum()) - ref:.4g}"
            )
        if self.truth is not None:
            r, c = self.rmse, self.coverage
            lines.append(
                f"RMSE against the clean output: observed {r['observed']:.4g}, filtered "
                f"{r['filtered']:.4g}, smoothed {r['smoothed']:.4g}"
            )
            lines.append(
                f"95% band coverage: filtered {c['filtered']:.3f}, smoothed {c['smoothed']:.3f}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, path: str | Path, *, sequence: int = 0, output: int = 0) -> Path:
        """Write the PNG of :func:`plot_kalman_estimates`."""
        return plot_kalman_estimates(self, path, sequence=sequence, output=output)


def _run(system: Any, x: torch.Tensor) -> tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Smoother result, the observations, ``C`` and the known part ``D u`` of the output."""
    if isinstance(system, KalmanCell):
        if x.ndim != 3 or x.shape[-1] != system.input_size:
            raise ShapeError(
                f"x: expected (batch, time, {system.input_size}) for the KalmanCell (its input "
                f"u then the observations), got {tuple(x.shape)}"
            )
        x = x.to(system.Q.dtype)
        n_in = system.cell.input_size
        u, z = x[..., :n_in], x[..., n_in:]
        model, B, D = system.model()
        s = kalman_smoother(z, model, transition_offsets=u @ B.T, observation_offsets=u @ D.T)
        return s, z, model.C, u @ D.T
    if isinstance(system, LinearGaussian):
        z = x[None] if x.ndim == 2 else x
        s = kalman_smoother(z, system)
        C = system.C
        if C.ndim == 3:
            raise InputError("system: a time-varying LinearGaussian is not supported here")
        return s, z, C, torch.zeros((), dtype=s.means.dtype)
    raise InputError(
        f"system: expected a KalmanCell or a LinearGaussian, got {type(system).__name__}"
    )


def _std(P: torch.Tensor) -> torch.Tensor:
    return torch.diagonal(P, dim1=-2, dim2=-1).clamp_min(0).sqrt()


def kalman_estimates(
    system: Any,
    x: torch.Tensor,
    *,
    truth: torch.Tensor | None = None,
    reference: Any = None,
    labels: tuple[str, str] = ("model", "reference"),
) -> KalmanEstimates:
    """Filter and smooth ``x`` with ``system``; measure against ``truth`` and ``reference``.

    Args:
        system: a :class:`~dsp_rnn.cells.KalmanCell` or a
            :class:`~dsp_rnn.filters.LinearGaussian`.
        x: for a KalmanCell its input ``(batch, time, input_size + output_size)`` (known
            input then observations); for a LinearGaussian the observations ``(batch,
            time, m)`` or ``(time, m)``. NaN = missing.
        truth: the noise-free output ``(batch, time, m)`` if known (simulations), for the
            errors and the coverage of the 95 % bands.
        reference: a second system of the same kind (e.g. the true model next to a learned
            one) whose log-likelihood of the same observations is reported beside.
        labels: names of ``system`` and ``reference``.

    Returns:
        :class:`KalmanEstimates` (``.summary()``, ``.plot(path)``).

    Raises:
        InputError: another kind of system. ShapeError: x or truth of the wrong shape.

    Properties: no gradients (compiled filter); float64 results.

    Example:
        >>> import torch
        >>> from dsp_rnn.filters import LinearGaussian
        >>> model = LinearGaussian(torch.eye(1), torch.eye(1), torch.eye(1), torch.eye(1),
        ...                        torch.zeros(1), torch.eye(1))
        >>> est = kalman_estimates(model, torch.ones(1, 10, 1))
        >>> tuple(est.output_smoothed.shape), est.rmse["filtered"] != est.rmse["filtered"]
        ((1, 10, 1), True)
    """
    with torch.no_grad():
        s, z, C, du = _run(system, x)
        ref_s = _run(reference, x)[0] if reference is not None else None
        C = C.to(s.means.dtype)
        f = s.filtered

        def out(mean: torch.Tensor, P: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return mean @ C.T + du, _std(C @ P @ C.T)

        of, ofs = out(f.means, f.covariances)
        osm, oss = out(s.means, s.covariances)
        rmse = dict.fromkeys(("observed", "filtered", "smoothed"), float("nan"))
        coverage = dict.fromkeys(("filtered", "smoothed"), float("nan"))
        if truth is not None:
            truth = torch.as_tensor(truth).to(torch.float64)
            truth = truth[None] if truth.ndim == 2 else truth
            if truth.shape != of.shape:
                raise ShapeError(
                    f"truth: expected shape {tuple(of.shape)} (batch, time, outputs), got "
                    f"{tuple(truth.shape)}"
                )
            seen = ~torch.isnan(z)
            rmse["observed"] = float((z - truth)[seen].pow(2).mean().sqrt())
            for key, mean, std in (("filtered", of, ofs), ("smoothed", osm, oss)):
                err = (mean.double() - truth).abs()
                rmse[key] = float(err.pow(2).mean().sqrt())
                coverage[key] = float((err <= _Z95 * std.double()).double().mean())

        def d(t: torch.Tensor) -> torch.Tensor:
            return t.detach().to(torch.float64).cpu()

        return KalmanEstimates(
            observations=d(z),
            truth=truth,
            output_filtered=d(of),
            output_filtered_std=d(ofs),
            output_smoothed=d(osm),
            output_smoothed_std=d(oss),
            state_filtered=d(f.means),
            state_filtered_std=d(_std(f.covariances)),
            state_smoothed=d(s.means),
            state_smoothed_std=d(_std(s.covariances)),
            step_log_likelihoods=d(f.step_log_likelihoods),
            log_likelihood=d(f.log_likelihood),
            reference_step_log_likelihoods=(
                None if ref_s is None else d(ref_s.filtered.step_log_likelihoods)
            ),
            reference_log_likelihood=None if ref_s is None else d(ref_s.log_likelihood),
            label=labels[0],
            reference_label=labels[1],
            rmse=rmse,
            coverage=coverage,
        )


def plot_kalman_estimates(
    est: KalmanEstimates, path: str | Path, *, sequence: int = 0, output: int = 0
) -> Path:
    """Write a 3-panel PNG of one sequence of a :class:`KalmanEstimates`.

    Panels: the output (observations as dots, the clean output if known, the filtered and
    smoothed estimates with 95 % bands); every state, smoothed, with its band; and the
    cumulative log-likelihood over time (with the reference's, if any).

    Args:
        est: the estimates (:func:`kalman_estimates`).
        path: output image in an existing folder; replaced if it exists.
        sequence: which sequence of the batch (default 0).
        output: which output coordinate in the first panel (default 0).

    Returns:
        The path written.

    Raises:
        InputError: ``sequence`` or ``output`` out of range. OutputError: the folder is
        missing or read-only.
    """
    B, T, m = est.observations.shape
    if not (0 <= sequence < B and 0 <= output < m):
        raise InputError(
            f"sequence, output: expected 0 <= sequence < {B} and 0 <= output < {m}, got "
            f"{sequence}, {output}"
        )
    plt = pyplot()
    t = np.arange(T)
    fig, axes = plt.subplots(3, 1, figsize=(11, 9), sharex=True)
    ax = axes[0]
    for key, mean, std, color in (
        ("filtered", est.output_filtered, est.output_filtered_std, "tab:orange"),
        ("smoothed", est.output_smoothed, est.output_smoothed_std, "tab:blue"),
    ):
        mu, sd = mean[sequence, :, output].numpy(), std[sequence, :, output].numpy()
        ax.fill_between(t, mu - _Z95 * sd, mu + _Z95 * sd, color=color, alpha=0.2, lw=0)
        ax.plot(t, mu, color=color, lw=1.2, label=f"{key} mean, 95% band")
    ax.plot(
        t, est.observations[sequence, :, output].numpy(), ".", ms=3, color="0.4",
        label="observations",
    )  # fmt: skip
    if est.truth is not None:
        ax.plot(t, est.truth[sequence, :, output].numpy(), "k--", lw=1, label="clean output")
    ax.set(ylabel=f"output {output}", title=f"{est.label}: output estimates")
    ax.legend(fontsize=8, ncol=4, loc="upper right")
    ax = axes[1]
    n = est.state_smoothed.shape[-1]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i in range(n):
        mu = est.state_smoothed[sequence, :, i].numpy()
        sd = est.state_smoothed_std[sequence, :, i].numpy()
        c = colors[i % len(colors)]
        ax.fill_between(t, mu - _Z95 * sd, mu + _Z95 * sd, color=c, alpha=0.15, lw=0)
        ax.plot(t, mu, color=c, lw=1, label=f"state {i}")
    ax.set(ylabel="state", title="smoothed states, 95% bands")
    ax.legend(fontsize=8, ncol=min(n, 6), loc="upper right")
    ax = axes[2]
    ax.plot(t, np.cumsum(est.step_log_likelihoods[sequence].numpy()), label=est.label)
    if est.reference_step_log_likelihoods is not None:
        ref = np.cumsum(est.reference_step_log_likelihoods[sequence].numpy())
        ax.plot(t, ref, "--", label=est.reference_label)
    ax.set(xlabel="step", ylabel="nats", title="cumulative log-likelihood log p(y_0..y_t)")
    ax.legend(fontsize=8)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    fig.suptitle(est.summary(), fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
