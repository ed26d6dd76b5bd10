"""Sample quality judged as a listener would: per-piece statistics of sampled pieces against
held-out pieces, in the spirit of Yang & Lerch (2020), "On the evaluation of generative
models in music" (Neural Computing and Applications 32).

Every piece (a :class:`~dsp_rnn.music.grid.NoteGrid`) is reduced to the statistics of
:data:`STATISTICS`: scalars (mean pitch, mean lowest and highest voice, span, polyphony,
empty steps, in-scale share, mean leaps of the outer voices, mean note length) and
normalised histograms (pitch classes, outer-voice intervals, note lengths). A set of samples
is then compared with a reference set (e.g. the JSB test split), statistic by statistic:

* **inside**: the share of samples whose value lies in the reference set's 1st..99th
  percentile range (for a histogram: whose Euclidean distance to the reference set's mean
  histogram is at most the reference's 99th percentile of that distance). A sample whose
  value is undefined (a silent piece has no mean pitch) counts as outside.
* **OA values**: the overlap area ``integral min(p, q)`` of two Gaussian kernel density
  estimates (Scott's bandwidth: the curve of :class:`scipy.stats.gaussian_kde`, evaluated
  by binning in :func:`overlap_area`), of the reference values and of the sample values
  (for a histogram: of their distances to the reference mean histogram). 1 = the same
  distribution, 0 = disjoint. A statistic that is mostly one value (empty steps: 0 in most
  chorales) smooths poorly and gives a low overlap even for matching sets; read *inside*
  there.
* **OA distances** (Yang & Lerch's measure): the overlap area of the PDF of the
  samples' intra-set distances (``|x_i - x_j|`` between two different samples; Euclidean
  for histograms) and the PDF of the inter-set distances (sample to reference piece).
  High when a sample is as far from the reference pieces as from the other samples: the
  samples spread like the reference and sit where it sits. Low when the samples collapse
  onto few values (small intra-set distances) or sit away from the reference (large
  inter-set distances).

>>> from dsp_rnn.music.grid import GridNote, NoteGrid
>>> g = NoteGrid.from_notes([GridNote(60, 0, 2), GridNote(64, 0, 1), GridNote(67, 1, 2)],
...                         steps_per_quarter=1)
>>> s = piece_stats(g)
>>> float(s["mean_pitch"]), float(s["polyphony"]), int(s["top_intervals"].argmax()) - 12
(62.75, 2.0, 3)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dsp_rnn.errors import InputError
from dsp_rnn.gridrnn.stats import key_share
from dsp_rnn.music.grid import NoteGrid

__all__ = [
    "STATISTICS",
    "Statistic",
    "StatResult",
    "SampleReport",
    "piece_stats",
    "overlap_area",
    "compare_sets",
    "evaluate_samples",
]

MAX_INTERVAL = 12  # interval histograms: -12 .. +12 semitones, larger leaps clipped
MAX_DURATION = 16  # note-length histogram: 1 .. 16 steps, longer notes in the last bin


@dataclass(frozen=True)
class Statistic:
    """One per-piece statistic.

    Attributes:
        name: key in :func:`piece_stats`'s result.
        kind: ``"scalar"`` (a float) or ``"histogram"`` (a normalised vector).
        label: short human name (table rows, plot titles).
        unit: unit of a scalar (``""`` for a share).
        description: what is measured, exactly.
    """

    name: str
    kind: Literal["scalar", "histogram"]
    label: str
    unit: str
    description: str


STATISTICS: tuple[Statistic, ...] = (
    Statistic("mean_pitch", "scalar", "mean pitch", "MIDI",
              "mean MIDI pitch over all sounding note-steps"),
    Statistic("mean_lowest", "scalar", "mean lowest voice", "MIDI",
              "lowest sounding pitch of each non-empty step, averaged over those steps"),
    Statistic("mean_highest", "scalar", "mean highest voice", "MIDI",
              "highest sounding pitch of each non-empty step, averaged over those steps"),
    Statistic("mean_span", "scalar", "mean span", "semitones",
              "highest minus lowest pitch of each non-empty step, averaged"),
    Statistic("polyphony", "scalar", "polyphony", "notes",
              "sounding notes per non-empty step"),
    Statistic("empty_rate", "scalar", "empty steps", "",
              "share of steps where nothing sounds"),
    Statistic("in_scale", "scalar", "in scale", "",
              "share of sounding note-steps inside the best-fitting diatonic scale (of the 12; "
              "a minor key counts as its relative major's natural-minor scale)"),
    Statistic("top_leap", "scalar", "top-voice leap", "semitones",
              "mean |change| of the highest pitch between consecutive non-empty steps"),
    Statistic("bottom_leap", "scalar", "bottom-voice leap", "semitones",
              "mean |change| of the lowest pitch between consecutive non-empty steps"),
    Statistic("mean_duration", "scalar", "note length", "steps",
              "mean length of a note (a held run, from its onset) in grid steps"),
    Statistic("pitch_classes", "histogram", "pitch classes", "",
              "12-bin pitch-class histogram of sounding note-steps (C first), normalised"),
    Statistic("top_intervals", "histogram", "top-voice intervals", "",
              f"histogram of the highest pitch's change between consecutive non-empty steps, "
              f"bins -{MAX_INTERVAL}..{MAX_INTERVAL} semitones (clipped), normalised"),
    Statistic("bottom_intervals", "histogram", "bottom-voice intervals", "",
              f"the same for the lowest pitch, bins -{MAX_INTERVAL}..{MAX_INTERVAL}"),
    Statistic("durations", "histogram", "note lengths", "",
              f"histogram of note lengths, bins 1..{MAX_DURATION} steps (longer notes in the "
              "last bin), normalised"),
)  # fmt: skip

_BY_NAME = {s.name: s for s in STATISTICS}


def piece_stats(grid: NoteGrid) -> dict[str, float | np.ndarray]:
    """The statistics of :data:`STATISTICS` for one piece.

    Pitches are MIDI numbers (``grid.low_pitch`` + column). A statistic a piece does not
    define is NaN (a silent piece has no mean pitch; one non-empty step has no interval):
    a NaN float for a scalar, an all-NaN vector for a histogram. Note lengths come from the
    grid's onsets (a held run starts at an onset or after silence).

    Raises:
        InputError: the grid has no steps.

    >>> from dsp_rnn.music.grid import GridNote, NoteGrid
    >>> g = NoteGrid.from_notes([GridNote(60, 0, 3), GridNote(72, 2, 3)], n_steps=4)
    >>> float(piece_stats(g)["empty_rate"]), float(piece_stats(g)["mean_duration"])
    (0.25, 2.0)
    """
    if not isinstance(grid, NoteGrid):
        raise InputError(f"piece_stats: expected a NoteGrid, got {type(grid).__name__}")
    if grid.n_steps == 0:
        raise InputError("piece_stats: the grid has no steps")
    play = np.asarray(grid.play, bool)
    pitches = grid.low_pitch + np.arange(grid.n_pitches)
    per_key = play.sum(0)
    n_notes = int(per_key.sum())
    rows = np.flatnonzero(play.any(1))
    nan = float("nan")
    out: dict[str, float | np.ndarray] = {"empty_rate": 1.0 - len(rows) / grid.n_steps}
    if n_notes == 0:
        for s in STATISTICS:
            if s.name != "empty_rate":
                out[s.name] = nan if s.kind == "scalar" else np.full(_bins(s.name), nan)
        return out
    sub = play[rows]
    low = pitches[np.argmax(sub, 1)]
    high = pitches[grid.n_pitches - 1 - np.argmax(sub[:, ::-1], 1)]
    out["mean_pitch"] = float((per_key * pitches).sum() / n_notes)
    out["mean_lowest"] = float(low.mean())
    out["mean_highest"] = float(high.mean())
    out["mean_span"] = float((high - low).mean())
    out["polyphony"] = n_notes / len(rows)
    out["in_scale"] = key_share(play, grid.low_pitch)[0]
    pcs = np.bincount(pitches % 12, weights=per_key, minlength=12)
    out["pitch_classes"] = pcs / n_notes
    for voice, track in (("top", high), ("bottom", low)):
        steps = np.diff(track)
        out[f"{voice}_leap"] = float(np.abs(steps).mean()) if len(steps) else nan
        out[f"{voice}_intervals"] = _histogram(
            np.clip(steps, -MAX_INTERVAL, MAX_INTERVAL) + MAX_INTERVAL, 2 * MAX_INTERVAL + 1
        )
    _, starts, ends = grid.segments()
    lengths = ends - starts
    out["mean_duration"] = float(lengths.mean())
    out["durations"] = _histogram(np.minimum(lengths, MAX_DURATION) - 1, MAX_DURATION)
    return {s.name: out[s.name] for s in STATISTICS}


def _bins(name: str) -> int:
    return {"pitch_classes": 12, "durations": MAX_DURATION}.get(name, 2 * MAX_INTERVAL + 1)


def _histogram(index: np.ndarray, bins: int) -> np.ndarray:
    if len(index) == 0:
        return np.full(bins, np.nan)
    return np.bincount(index, minlength=bins) / len(index)


# ---------------------------------------------------------------------- distributions
def _scott(values: np.ndarray) -> float | None:
    """Scott's-rule kernel width of 1-D data, as :class:`scipy.stats.gaussian_kde` picks it
    (``std(ddof=1) * n ** -1/5``); None for data without spread (rounding noise of
    ``1e-9`` of the values' size counts as none)."""
    if len(values) >= 2 and np.ptp(values) > 1e-9 * max(1.0, float(np.abs(values).max())):
        return float(np.std(values, ddof=1) * len(values) ** -0.2)
    return None


def _kde_on_grid(values: np.ndarray, width: float, grid: np.ndarray) -> np.ndarray:
    """Gaussian KDE of ``values`` (kernel standard deviation ``width``) on the uniform
    ``grid``, by linear binning and a convolution: the same curve as
    ``scipy.stats.gaussian_kde`` to within the grid spacing squared, in time linear in the
    data (the direct sum costs data x grid points: seconds for the ~10,000 distances of a
    set of 100 pieces). The sampled kernel is normalised on the grid, so a kernel narrower
    than the spacing keeps its mass."""
    m = len(grid)
    dx = float(grid[1] - grid[0])
    pos = np.clip((values - grid[0]) / dx, 0, m - 1)
    i = np.minimum(np.floor(pos).astype(np.int64), m - 2)
    f = pos - i
    binned = np.bincount(i, 1 - f, m) + np.bincount(i + 1, f, m)
    half = int(min(max(math.ceil(6 * width / dx), 1), (m - 1) // 2))
    x = np.arange(-half, half + 1) * dx
    kernel = np.exp(-0.5 * (x / width) ** 2)
    kernel /= kernel.sum() * dx
    return np.convolve(binned, kernel, mode="same") / len(values)


def overlap_area(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                 *, points: int = 4096) -> float:  # fmt: skip
    """Overlap area ``integral min(p_a, p_b) dx`` of the Gaussian KDEs of two samples.

    Each sample is smoothed with Gaussian kernels of Scott's width, as
    :class:`scipy.stats.gaussian_kde` does (evaluated here by binning on the grid). A
    sample without spread (one value, or all values equal) is a point mass: it gets a
    narrow kernel, 1 % of the range of both samples together (at least
    ``1e-3 * max(1, |value|)``), so it overlaps a spread-out sample only by the little mass
    that sample has near the point, and an equal point mass fully. The integral runs over
    a uniform grid of ``points`` reaching five widths past the data on either side. 1 for
    the same distribution, near 0 for disjoint ones.

    Raises:
        InputError: a sample is empty or holds NaN or infinity.

    >>> round(overlap_area([0, 1, 2, 3], [0, 1, 2, 3]), 3)
    1.0
    >>> round(overlap_area([0, 1, 2, 3], [100, 101, 102]), 3)
    0.0
    """
    xa = np.asarray(a, np.float64).ravel()
    xb = np.asarray(b, np.float64).ravel()
    if len(xa) == 0 or len(xb) == 0:
        raise InputError(f"overlap_area: both samples need values, got {len(xa)} and {len(xb)}")
    if not (np.isfinite(xa).all() and np.isfinite(xb).all()):
        raise InputError("overlap_area: the samples hold NaN or infinity")
    if points < 16:
        raise InputError(f"overlap_area: points must be >= 16, got {points}")
    wa, wb = _scott(xa), _scott(xb)
    lo, hi = min(xa.min(), xb.min()), max(xa.max(), xb.max())
    point = max(0.01 * (hi - lo), 1e-3 * max(1.0, abs(hi), abs(lo)))
    width_a = wa if wa is not None else point
    width_b = wb if wb is not None else point
    reach = 5 * max(width_a, width_b)
    grid = np.linspace(lo - reach, hi + reach, points)
    pa, pb = _kde_on_grid(xa, width_a, grid), _kde_on_grid(xb, width_b, grid)
    return float(np.clip(np.trapezoid(np.minimum(pa, pb), grid), 0.0, 1.0))


def _pairwise(x: np.ndarray) -> np.ndarray:
    """Distances between the rows of ``x`` (n, d), each unordered pair once."""
    i, j = np.triu_indices(len(x), 1)
    return np.linalg.norm(x[i] - x[j], axis=1)


def _cross(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x[:, None, :] - y[None, :, :], axis=2).ravel()


# ---------------------------------------------------------------------- results
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
        results: in the order of :data:`STATISTICS`.
        n_test, n_samples: pieces in each set.
        settings: how the samples were made (model, bars, steps, temperature, seed), as
            given to :func:`evaluate_samples`; empty from :func:`compare_sets`.
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
                    width = _scott(v)
                    if width is not None:
                        grid = np.linspace(both.min() - 3 * width, both.max() + 3 * width, 400)
                        ax.plot(grid, _kde_on_grid(v, width, grid), color=colour, lw=1.4,
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


# ---------------------------------------------------------------------- comparisons
def _values(grids: Sequence[NoteGrid]) -> dict[str, np.ndarray]:
    stats = [piece_stats(g) for g in grids]
    out = {}
    for s in STATISTICS:
        out[s.name] = np.array([np.asarray(p[s.name], np.float64) for p in stats])
    return out


def _compare(stat: Statistic, t: np.ndarray, x: np.ndarray) -> StatResult:
    nan = float("nan")
    if stat.kind == "scalar":
        t_ok, x_ok = np.isfinite(t), np.isfinite(x)
        tv, xv = t[t_ok], x[x_ok]
        points_t, points_x = tv[:, None], xv[:, None]
        low, high = np.percentile(tv, [1, 99]).tolist() if len(tv) else (nan, nan)
        scalar_t, scalar_x = tv, xv
    else:
        t_ok, x_ok = np.isfinite(t).all(1), np.isfinite(x).all(1)
        points_t, points_x = t[t_ok], x[x_ok]
        if len(points_t):
            ref = points_t.mean(0)
            scalar_t = np.linalg.norm(points_t - ref, axis=1)
            scalar_x = np.linalg.norm(points_x - ref, axis=1)
            low, high = 0.0, float(np.percentile(scalar_t, 99))
        else:
            scalar_t = scalar_x = np.zeros(0)
            low = high = nan
    values_x = np.full(len(x), np.nan)  # per sample, NaN where undefined (= outside)
    values_x[x_ok] = scalar_x
    with np.errstate(invalid="ignore"):
        inside = float(np.mean((values_x >= low) & (values_x <= high))) if len(x) else nan

    def oa(a: np.ndarray, b: np.ndarray) -> float:
        return overlap_area(a, b) if len(a) and len(b) else nan

    intra_x = _pairwise(points_x) if len(points_x) >= 2 else np.zeros(0)
    intra_t = _pairwise(points_t) if len(points_t) >= 2 else np.zeros(0)
    inter = _cross(points_x, points_t) if len(points_x) and len(points_t) else np.zeros(0)
    return StatResult(
        statistic=stat,
        low=float(low),
        high=float(high),
        test_median=float(np.median(scalar_t)) if len(scalar_t) else nan,
        sample_median=float(np.median(scalar_x)) if len(scalar_x) else nan,
        inside=inside,
        oa_values=oa(scalar_t, scalar_x),
        oa_distances=oa(intra_x, inter),
        oa_test_distances=oa(intra_t, inter),
        test_undefined=int((~t_ok).sum()),
        sample_undefined=int((~x_ok).sum()),
    )


def compare_sets(
    test: Sequence[NoteGrid],
    samples: Sequence[NoteGrid],
    *,
    settings: dict[str, Any] | None = None,
) -> SampleReport:
    """Compare sampled pieces with reference pieces on every statistic of
    :data:`STATISTICS` (see the module docstring for what each number means).

    Args:
        test: reference pieces (e.g. the JSB test split), at least two.
        samples: pieces to judge, at least two, at the reference's steps per quarter
            (note lengths and intervals are counted in steps).
        settings: recorded in the report as they are (e.g. how the samples were made).

    Raises:
        InputError: fewer than two pieces in a set, an item that is not a
            :class:`NoteGrid`, a grid without steps, or sets at different resolutions.

    >>> from dsp_rnn.music.grid import GridNote, NoteGrid
    >>> a = [NoteGrid.from_notes([GridNote(60 + k, 0, 2)]) for k in range(5)]
    >>> r = compare_sets(a, a)["mean_pitch"]  # mean pitches 60..64
    >>> round(r.low, 2), round(r.high, 2), r.inside  # the extremes lie outside 1..99 %
    (60.04, 63.96, 0.6)
    """
    for what, grids in (("test", test), ("samples", samples)):
        if len(grids) < 2:
            raise InputError(f"compare_sets: {what} needs at least two pieces, got {len(grids)}")
        bad = [type(g).__name__ for g in grids if not isinstance(g, NoteGrid)]
        if bad:
            raise InputError(f"compare_sets: {what} holds {bad[0]}, expected NoteGrid")
    spq = {g.steps_per_quarter for g in test} | {g.steps_per_quarter for g in samples}
    if len(spq) > 1:
        raise InputError(
            f"compare_sets: the pieces are at different resolutions ({sorted(spq)} steps per "
            "quarter); note lengths and intervals are counted in steps, so compare pieces at "
            "one resolution"
        )
    tv, xv = _values(test), _values(samples)
    results = [_compare(s, tv[s.name], xv[s.name]) for s in STATISTICS]
    return SampleReport(results, len(test), len(samples), dict(settings or {}), tv, xv)


def evaluate_samples(
    model: Any,
    test_grids: Sequence[NoteGrid],
    n_samples: int = 100,
    *,
    bars: float = 16.0,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 25,
    progress: Callable[[int, int], None] | None = None,
) -> SampleReport:
    """Draw ``n_samples`` pieces of ``bars`` 4/4 bars from a model and compare them with
    ``test_grids`` (:func:`compare_sets`).

    Pieces are drawn in batches of ``batch_size`` with :func:`~dsp_rnn.gridrnn.sample`,
    batch ``b`` seeded ``seed + b``: the same arguments give the same samples, and two
    models compared with the same arguments see the same seeds.

    Args:
        model: a :class:`~dsp_rnn.gridrnn.GridRNN` or
            :class:`~dsp_rnn.gridrnn.GridEnsemble`.
        test_grids: reference pieces at the model's steps per quarter (e.g.
            ``load_jsb(split="test")`` for a model of the quarter-note JSB).
        n_samples: pieces to draw (at least two).
        bars: length of each piece in 4/4 bars.
        temperature: sampling temperature (``0`` = the more likely value at every key).
        seed: first batch's seed.
        batch_size: pieces drawn side by side.
        progress: called as ``progress(done_pieces, n_samples)`` after each batch.

    Raises:
        InputError: fewer than two samples or test pieces, a bad length, temperature or
            batch size, or test pieces at another resolution than the model.
    """
    from dsp_rnn.gridrnn.sampler import sample, steps_for

    if n_samples < 2:
        raise InputError(f"evaluate_samples: n_samples must be >= 2, got {n_samples}")
    if batch_size < 1:
        raise InputError(f"evaluate_samples: batch_size must be >= 1, got {batch_size}")
    c = model.config
    odd = sorted({g.steps_per_quarter for g in test_grids if isinstance(g, NoteGrid)}
                 - {c.steps_per_quarter})  # fmt: skip
    if odd:
        raise InputError(
            f"evaluate_samples: test pieces at {odd} steps per quarter, the model works at "
            f"{c.steps_per_quarter}"
        )
    steps = steps_for(bars=bars, steps_per_quarter=c.steps_per_quarter, tempo_bpm=c.tempo_bpm)
    pieces: list[NoteGrid] = []
    for b, start in enumerate(range(0, n_samples, batch_size)):
        n = min(batch_size, n_samples - start)
        pieces += sample(model, steps, n_samples=n, temperature=temperature, seed=seed + b)
        if progress is not None:
            progress(len(pieces), n_samples)
    settings = {"bars": bars, "steps": steps, "temperature": temperature, "seed": seed,
                "batch_size": batch_size}  # fmt: skip
    return compare_sets(test_grids, pieces, settings=settings)
