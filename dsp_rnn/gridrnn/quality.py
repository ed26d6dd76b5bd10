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

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dsp_rnn.errors import InputError
from dsp_rnn.gridrnn.overlap import overlap_area
from dsp_rnn.gridrnn.report import SampleReport, StatResult
from dsp_rnn.gridrnn.stats import (
    MAX_DURATION,
    MAX_INTERVAL,
    STATISTICS,
    Statistic,
    piece_stats,
)
from dsp_rnn.music.grid import NoteGrid

__all__ = [
    "compare_sets",
    "evaluate_samples",
    # re-exported from their homes (stats, overlap): tests and bench/ import them from here
    "MAX_DURATION",
    "MAX_INTERVAL",
    "STATISTICS",
    "piece_stats",
    "overlap_area",
]


# ---------------------------------------------------------------------- comparisons
def _values(grids: Sequence[NoteGrid]) -> dict[str, np.ndarray]:
    stats = [piece_stats(g) for g in grids]
    out = {}
    for s in STATISTICS:
        out[s.name] = np.array([np.asarray(p[s.name], np.float64) for p in stats])
    return out


def _pairwise(x: np.ndarray) -> np.ndarray:
    """Distances between the rows of ``x`` (n, d), each unordered pair once."""
    i, j = np.triu_indices(len(x), 1)
    return np.linalg.norm(x[i] - x[j], axis=1)


def _cross(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.norm(x[:, None, :] - y[None, :, :], axis=2).ravel()


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
