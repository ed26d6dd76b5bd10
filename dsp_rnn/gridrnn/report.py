"""The report of a sample-quality comparison (:func:`dsp_rnn.gridrnn.quality.compare_sets`):
one :class:`StatResult` per statistic of :data:`~dsp_rnn.gridrnn.stats.STATISTICS`, and the
:class:`SampleReport` that holds them, as a markdown table, a JSON-able dict or a PNG of
small multiples."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dsp_rnn.errors import InputError
from dsp_rnn.gridrnn.overlap import kde_on_grid, scott_width
from dsp_rnn.gridrnn.stats import MAX_INTERVAL, STATISTICS, Statistic

__all__ = ["StatResult", "SampleReport"]

_BY_NAME = {s.name: s for s in STATISTICS}


@dataclass
class StatResult:
    """One statistic's comparison of the samples with the reference ("test") set.

    Attributes:
        statistic: the :class:`Statistic` compared.
        low, high: the reference's 1st and 99th percentiles of the value (a histogram:
            ``0`` and the 99th percentile of the distance to the reference mean histogram).
        test_median, sample_median: medians of that value over each set.
        inside: share of the samples with ``low <= value <= high`` (undefined = outside).
        oa_values: overlap area of the KDEs of the two sets' values (histogram: distances
            to the reference mean histogram).
        oa_distances: overlap area of the samples' intra-set distance PDF and the
            sample-to-reference inter-set distance PDF (Yang & Lerch).
        oa_test_distances: the same with the reference's intra-set distances.
        test_undefined, sample_undefined: pieces whose value is undefined (left out of
            the medians, percentiles and overlap areas).
    """

    statistic: Statistic
    low: float
    high: float
    test_median: float
    sample_median: float
    inside: float
    oa_values: float
    oa_distances: float
    oa_test_distances: float
    test_undefined: int = 0
    sample_undefined: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (NaN becomes ``None``)."""
        s = self.statistic
        d: dict[str, Any] = {"name": s.name, "kind": s.kind, "label": s.label,
                             "unit": s.unit, "description": s.description}  # fmt: skip
        for k in ("low", "high", "test_median", "sample_median", "inside", "oa_values",
                  "oa_distances", "oa_test_distances"):  # fmt: skip
            v = float(getattr(self, k))
            d[k] = v if math.isfinite(v) else None
        d["test_undefined"], d["sample_undefined"] = self.test_undefined, self.sample_undefined
        return d


@dataclass
class SampleReport:
    """Samples against reference pieces, one :class:`StatResult` per statistic.

    Attributes:
        results: in the order of :data:`~dsp_rnn.gridrnn.stats.STATISTICS`.
        n_test, n_samples: pieces in each set.
        settings: how the samples were made (model, bars, steps, temperature, seed), as
            given to :func:`~dsp_rnn.gridrnn.quality.evaluate_samples`; empty from
            :func:`~dsp_rnn.gridrnn.quality.compare_sets`.
        test_values, sample_values: per statistic, the per-piece values (``(n,)`` for a
            scalar, ``(n, bins)`` for a histogram; NaN where undefined), for plots.
    """

    results: list[StatResult]
    n_test: int
    n_samples: int
    settings: dict[str, Any] = field(default_factory=dict)
    test_values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    sample_values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> StatResult:
        for r in self.results:
            if r.statistic.name == name:
                return r
        raise InputError(f"no statistic {name!r}; expected one of {list(_BY_NAME)}")

    def table(self) -> str:
        """A markdown table, one row per statistic, with a legend saying what each column
        means."""
        head = ("| statistic | test 1-99 % | test median | sample median | inside "
                "| OA values | OA distances |")  # fmt: skip
        lines = [head, "|---|---|---|---|---|---|---|"]
        for r in self.results:
            s = r.statistic
            unit = f" ({s.unit})" if s.unit else ""
            if s.kind == "scalar":
                name, rng = f"{s.label}{unit}", f"{_fmt(r.low)} .. {_fmt(r.high)}"
            else:
                name, rng = f"{s.label} (dist. to test mean)", f"0 .. {_fmt(r.high)}"
            undefined = f" ({r.sample_undefined} undefined)" if r.sample_undefined else ""
            lines.append(
                f"| {name} | {rng} | {_fmt(r.test_median)} | {_fmt(r.sample_median)} | "
                f"{r.inside:.0%}{undefined} | {_fmt(r.oa_values, 2)} | "
                f"{_fmt(r.oa_distances, 2)} |"
            )
        lines += [
            "",
            f"{self.n_samples} samples against {self.n_test} test pieces. *test 1-99 %*: the "
            "test pieces' 1st..99th percentile of the statistic (a histogram: of its Euclidean "
            "distance to the test pieces' mean histogram, from 0). *inside*: share of samples "
            "in that range (undefined counts as outside). *OA values*: overlap area of the "
            "Gaussian KDEs of the test and sample values (1 = same distribution, 0 = disjoint). "
            "*OA distances*: overlap area of the KDEs of the sample-to-sample distances and of "
            "the sample-to-test distances (Yang & Lerch 2020): low when the samples collapse "
            "or sit away from the test pieces.",
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: settings, set sizes and every statistic's numbers."""
        return {"n_test": self.n_test, "n_samples": self.n_samples,
                "settings": dict(self.settings),
                "statistics": [r.to_dict() for r in self.results]}  # fmt: skip

    def plot(self, path: str | Path, *, title: str = "") -> Path:
        """Write a PNG of small multiples: per scalar statistic the test and sample
        histograms (density) with their KDEs and the test 1-99 % band shaded; per histogram
        statistic the two sets' mean histograms side by side, written atomically into an existing
        folder (:func:`~dsp_rnn.plotting.save_figure`).

        Returns:
            The path written.
        """
        from dsp_rnn.plotting import pyplot, save_figure

        if not self.test_values:
            raise InputError("SampleReport.plot: the report carries no per-piece values")
        plt = pyplot()
        n = len(self.results)
        cols = 4
        rows = math.ceil(n / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 2.9 * rows))
        for ax, r in zip(axes.flat, self.results, strict=False):
            s = r.statistic
            t, x = self.test_values[s.name], self.sample_values[s.name]
            if s.kind == "scalar":
                t, x = t[np.isfinite(t)], x[np.isfinite(x)]
                both = np.concatenate([t, x])
                edges = np.histogram_bin_edges(both, bins=24) if len(both) else 10
                ax.axvspan(r.low, r.high, color="0.88", label="test 1-99 %")
                for v, colour, name in ((t, "tab:blue", "test"), (x, "tab:orange", "samples")):
                    if not len(v):
                        continue
                    ax.hist(v, bins=edges, density=True, histtype="step", color=colour)
                    width = scott_width(v)
                    if width is not None:
                        grid = np.linspace(both.min() - 3 * width, both.max() + 3 * width, 400)
                        ax.plot(grid, kde_on_grid(v, width, grid), color=colour, lw=1.4,
                                label=f"{name} ({len(v)})")  # fmt: skip
                ax.set_xlabel(s.unit or "share")
                ax.set_title(f"{s.label}: {r.inside:.0%} inside", fontsize=9)
            else:
                tm = np.nanmean(t, 0) if np.isfinite(t).any() else np.zeros(t.shape[1])
                xm = np.nanmean(x, 0) if np.isfinite(x).any() else np.zeros(x.shape[1])
                pos = _bin_positions(s.name, len(tm))
                ax.bar(pos - 0.2, tm, 0.4, color="tab:blue", label="test")
                ax.bar(pos + 0.2, xm, 0.4, color="tab:orange", label="samples")
                ax.set_title(f"{s.label} (mean): OA dist. {_fmt(r.oa_distances, 2)}",
                             fontsize=9)  # fmt: skip
                if s.name == "pitch_classes":
                    ax.set_xticks(pos, ["C", "", "D", "", "E", "F", "", "G", "", "A", "", "B"])
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=6)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        head = title or "samples vs test pieces"
        fig.suptitle(f"{head}: {self.n_samples} samples, {self.n_test} test pieces", fontsize=11)
        fig.tight_layout()
        return save_figure(fig, path)


def _bin_positions(name: str, bins: int) -> np.ndarray:
    if name.endswith("intervals"):
        return np.arange(bins) - MAX_INTERVAL
    if name == "durations":
        return np.arange(bins) + 1.0
    return np.arange(bins, dtype=float)


def _fmt(v: float, digits: int = 3) -> str:
    if not math.isfinite(v):
        return "-"
    return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:.0f}"
