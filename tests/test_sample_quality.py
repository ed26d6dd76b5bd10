"""Sample-quality statistics: per-piece values computed by hand on hand-made grids, the
percentile share and overlap areas on constructed sets, the report, typed errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from dsp_rnn.errors import InputError, OutputError
from dsp_rnn.gridrnn import GridRNN, GridRNNConfig
from dsp_rnn.gridrnn.overlap import kde_on_grid, scott_width
from dsp_rnn.gridrnn.quality import (
    MAX_DURATION,
    MAX_INTERVAL,
    STATISTICS,
    compare_sets,
    evaluate_samples,
    overlap_area,
    piece_stats,
)
from dsp_rnn.music.grid import GridNote, NoteGrid

pytestmark = pytest.mark.usefixtures("one_thread")


def grid_of(chords: list[list[int]], *, spq: int = 1) -> NoteGrid:
    """One step per chord; a pitch sounding in consecutive steps is one held note."""
    notes = []
    for t, chord in enumerate(chords):
        for p in chord:
            if t == 0 or p not in chords[t - 1]:
                end = t + 1
                while end < len(chords) and p in chords[end]:
                    end += 1
                notes.append(GridNote(p, t, end))
    return NoteGrid.from_notes(notes, n_steps=len(chords), steps_per_quarter=spq)


# C major, C major held, rest, F/A/C, G7, C major with the octave
CHORDS = [[60, 64, 67], [60, 64, 67], [], [53, 69, 72], [55, 71, 74, 77], [60, 64, 67, 72]]


def interval_hist(*steps: int) -> np.ndarray:
    h = np.zeros(2 * MAX_INTERVAL + 1)
    for s in steps:
        h[s + MAX_INTERVAL] += 1
    return h / len(steps)


def test_chord_sequence_by_hand():
    s = piece_stats(grid_of(CHORDS))
    # 17 note-steps summing to 191 + 191 + 194 + 277 + 263 = 1116
    assert s["mean_pitch"] == pytest.approx(1116 / 17)
    # 5 non-empty steps: lowest 60 60 53 55 60, highest 67 67 72 77 72
    assert s["mean_lowest"] == pytest.approx(288 / 5)
    assert s["mean_highest"] == pytest.approx(355 / 5)
    assert s["mean_span"] == pytest.approx((7 + 7 + 19 + 22 + 12) / 5)
    assert s["polyphony"] == pytest.approx(17 / 5)
    assert s["empty_rate"] == pytest.approx(1 / 6)
    assert s["in_scale"] == 1.0
    # the rest is skipped: top 67 67 72 77 72, bottom 60 60 53 55 60
    np.testing.assert_allclose(s["top_intervals"], interval_hist(0, 5, 5, -5))
    np.testing.assert_allclose(s["bottom_intervals"], interval_hist(0, -7, 2, 5))
    assert s["top_leap"] == pytest.approx(15 / 4)
    assert s["bottom_leap"] == pytest.approx(14 / 4)
    # 14 notes: C E G held two steps, eleven one-step notes
    assert s["mean_duration"] == pytest.approx(17 / 14)
    want = np.zeros(MAX_DURATION)
    want[:2] = [11 / 14, 3 / 14]
    np.testing.assert_allclose(s["durations"], want)
    # pitch classes of the note-steps: C 5, D 1, E 3, F 2, G 4, A 1, B 1
    pcs = np.zeros(12)
    pcs[[0, 2, 4, 5, 7, 9, 11]] = [5, 1, 3, 2, 4, 1, 1]
    np.testing.assert_allclose(s["pitch_classes"], pcs / 17)
    assert [k for k in s] == [st.name for st in STATISTICS]


def test_pitch_statistics_follow_a_transposition():
    a, b = piece_stats(grid_of(CHORDS)), piece_stats(grid_of(CHORDS).transpose(-5))
    for name in ("mean_pitch", "mean_lowest", "mean_highest"):
        assert b[name] == pytest.approx(a[name] - 5)
    for name in ("mean_span", "polyphony", "empty_rate", "top_leap", "mean_duration"):
        assert b[name] == pytest.approx(a[name])
    np.testing.assert_allclose(b["pitch_classes"], np.roll(a["pitch_classes"], -5))


def test_in_scale_major_minor_chromatic():
    assert piece_stats(grid_of([[60 + k] for k in (0, 2, 4, 5, 7, 9, 11)]))["in_scale"] == 1.0
    # C natural minor is E-flat major's scale
    assert piece_stats(grid_of([[60, 63, 67], [65, 68, 72], [67, 70, 74]]))["in_scale"] == 1.0
    # all 12 pitch classes once: the best diatonic scale holds 7
    assert piece_stats(grid_of([[60 + k] for k in range(12)]))["in_scale"] == pytest.approx(7 / 12)
    # C major plus one C sharp: 7 of 8 (D major would hold only 6)
    scale = [[60 + k] for k in (0, 1, 2, 4, 5, 7, 9, 11)]
    assert piece_stats(grid_of(scale))["in_scale"] == pytest.approx(7 / 8)


def test_durations_count_onsets_and_clip_long_notes():
    # a repeated C (onset at step 2) is two notes; a 20-step note falls in the last bin
    g = NoteGrid.from_notes([GridNote(60, 0, 2), GridNote(60, 2, 3), GridNote(48, 0, 20)],
                            steps_per_quarter=1)  # fmt: skip
    s = piece_stats(g)
    assert s["mean_duration"] == pytest.approx((2 + 1 + 20) / 3)
    want = np.zeros(MAX_DURATION)
    want[[0, 1, MAX_DURATION - 1]] = 1 / 3
    np.testing.assert_allclose(s["durations"], want)


def test_large_leaps_are_clipped_into_the_end_bins():
    s = piece_stats(grid_of([[40], [59], [40]]))  # +19, -19
    np.testing.assert_allclose(s["top_intervals"], interval_hist(MAX_INTERVAL, -MAX_INTERVAL))
    assert s["top_leap"] == 19.0  # the mean leap is not clipped


def test_undefined_statistics_are_nan():
    silent = piece_stats(NoteGrid.empty(4, steps_per_quarter=1))
    assert silent["empty_rate"] == 1.0
    assert math.isnan(silent["mean_pitch"]) and math.isnan(silent["in_scale"])
    assert np.isnan(silent["pitch_classes"]).all() and len(silent["pitch_classes"]) == 12
    one = piece_stats(grid_of([[], [60, 64]]))
    assert one["mean_pitch"] == 62.0 and one["empty_rate"] == 0.5
    assert math.isnan(one["top_leap"]) and np.isnan(one["bottom_intervals"]).all()


def test_piece_stats_typed_errors():
    with pytest.raises(InputError, match="no steps"):
        piece_stats(NoteGrid.empty(0))
    with pytest.raises(InputError, match="NoteGrid"):
        piece_stats(np.zeros((4, 88), bool))  # type: ignore[arg-type]


# ---------------------------------------------------------------------- overlap areas
def test_binned_kde_matches_scipy():
    from scipy.stats import gaussian_kde

    rng = np.random.default_rng(1)
    for x in (rng.normal(size=300), rng.exponential(size=500), rng.integers(0, 4, 80) * 1.0):
        w = scott_width(x)
        assert w == pytest.approx(float(np.sqrt(gaussian_kde(x).covariance[0, 0])))
        grid = np.linspace(x.min() - 5 * w, x.max() + 5 * w, 4096)
        ref = gaussian_kde(x)(grid)
        np.testing.assert_allclose(kde_on_grid(x, w, grid), ref, atol=1e-4 * ref.max())


def test_overlap_area_identical_disjoint_and_shifted_normals():
    n = 2000
    from scipy.stats import norm

    x = norm.ppf((np.arange(n) + 0.5) / n)
    assert overlap_area(x, x) == pytest.approx(1.0, abs=1e-3)
    assert overlap_area(x, x + 50) < 1e-6
    # N(0, 1) vs N(1, 1), each widened by its kernel (Scott: h = n ** -0.2):
    # OA = 2 * Phi(-d / (2 sigma)) with sigma^2 = 1 + h^2
    sigma = math.sqrt(1 + (np.std(x, ddof=1) * n**-0.2) ** 2)
    assert overlap_area(x, x + 1) == pytest.approx(2 * norm.cdf(-0.5 / sigma), abs=0.005)


def test_overlap_area_sets_without_spread():
    assert overlap_area([3.0, 3.0, 3.0], [3.0]) == pytest.approx(1.0, abs=1e-3)
    assert overlap_area([3.0, 3.0], [4.0, 4.0]) < 1e-6
    # a point mass in a flat set: a narrow kernel N(0, 0.2) (1 % of the range) against a
    # density of about 1/20. N(0, 0.2) > 1/20 for |x| < 0.2 * sqrt(2 ln(20 / sqrt(2 pi)
    # / 0.2)) = 0.543, so OA = 2 * 0.543 / 20 + 2 * (1 - Phi(2.716)) = 0.0543 + 0.0066
    assert overlap_area([0.0] * 5, np.linspace(-10, 10, 50)) == pytest.approx(0.061, abs=0.003)


def test_overlap_area_typed_errors():
    with pytest.raises(InputError, match="need values"):
        overlap_area([], [1.0])
    with pytest.raises(InputError, match="NaN"):
        overlap_area([1.0, math.nan], [1.0])


# ---------------------------------------------------------------------- set comparisons
def notes_at(pitches, steps: int = 2) -> list[NoteGrid]:
    """One held note per piece."""
    return [NoteGrid.from_notes([GridNote(int(p), 0, steps)], steps_per_quarter=1)
            for p in pitches]  # fmt: skip


def varied(seed: int, n: int, shift: int = 0) -> list[NoteGrid]:
    """Pieces of random three-note chords around a random register."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = int(rng.integers(48, 60)) + shift
        chords = [sorted({base + int(k) for k in rng.integers(0, 16, 3)}) for _ in range(8)]
        out.append(grid_of(chords))
    return out


def test_percentile_share_by_hand():
    test = notes_at(range(40, 61))  # mean pitches 40..60: 1st..99th percentile 40.2..59.8
    samples = notes_at([40, 41, 50, 59, 60, 70]) + [NoteGrid.empty(2, steps_per_quarter=1)]
    r = compare_sets(test, samples)["mean_pitch"]
    assert (r.low, r.high) == pytest.approx((40.2, 59.8))
    assert r.inside == pytest.approx(3 / 7)  # 41 50 59; the silent piece counts as outside
    assert (r.test_median, r.sample_median) == (50.0, 54.5)
    assert (r.test_undefined, r.sample_undefined) == (0, 1)


def test_histogram_share_uses_the_distance_to_the_test_mean():
    test = notes_at([60, 60, 67, 67])  # pitch classes C, C, G, G: mean 0.5 C + 0.5 G
    both = grid_of([[60, 67], [60, 67]])  # at the mean: distance 0
    samples = [notes_at([72])[0], notes_at([62])[0], both]  # C: inside, D: outside
    r = compare_sets(test, samples)["pitch_classes"]
    assert (r.low, r.high) == pytest.approx((0.0, math.sqrt(0.5)))
    assert r.inside == pytest.approx(2 / 3)
    assert r.sample_median == pytest.approx(math.sqrt(0.5))


def test_identical_sets_overlap_and_disjoint_registers_do_not():
    a = varied(0, 40)
    same = compare_sets(a, a)
    for r in same.results:
        assert r.inside >= 0.95 and r.oa_values == pytest.approx(1.0, abs=1e-3)
        assert r.oa_distances > 0.9, r.statistic.name
    far = compare_sets(a, [g.transpose(30) for g in a])  # same music, 2.5 octaves up
    for name in ("mean_pitch", "mean_lowest", "mean_highest"):
        assert far[name].inside == 0.0
        assert far[name].oa_values < 1e-3 and far[name].oa_distances < 0.01
    for name in ("mean_span", "polyphony", "top_leap", "durations", "top_intervals"):
        assert far[name].oa_values == pytest.approx(1.0, abs=1e-3)


def test_collapsed_samples_are_caught_by_the_distance_overlap():
    test = varied(0, 40)
    copies = [test[0].copy() for _ in range(20)]  # one test piece, twenty times
    r = compare_sets(test, copies)["mean_pitch"]
    assert r.inside == 1.0  # every sample looks typical on its own...
    assert r.oa_distances < 0.1  # ...but the samples do not spread like the test pieces
    assert compare_sets(test, varied(1, 20))["mean_pitch"].oa_distances > 0.7


def test_compare_sets_typed_errors():
    two = notes_at([60, 62])
    with pytest.raises(InputError, match="at least two"):
        compare_sets([], two)
    with pytest.raises(InputError, match="at least two"):
        compare_sets(two, two[:1])
    with pytest.raises(InputError, match="expected NoteGrid"):
        compare_sets(two, [two[0], np.zeros((2, 88))])  # type: ignore[list-item]
    quarter16 = [NoteGrid.from_notes([GridNote(60, 0, 4)], steps_per_quarter=4)] * 2
    with pytest.raises(InputError, match="resolutions"):
        compare_sets(two, quarter16)
    with pytest.raises(InputError, match="no statistic"):
        compare_sets(two, two)["nope"]


def test_report_table_json_and_plot(tmp_path):
    report = compare_sets(varied(0, 12), varied(1, 6, shift=12) + notes_at([60], steps=1),
                          settings={"seed": 3})  # fmt: skip
    table = report.table()
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(STATISTICS)
    assert "OA distances" in rows[0] and "1 undefined" in table  # the one-step piece's leaps
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert d["n_test"] == 12 and d["n_samples"] == 7 and d["settings"] == {"seed": 3}
    assert [s["name"] for s in d["statistics"]] == [s.name for s in STATISTICS]
    path = report.plot(tmp_path / "q.png", title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(OutputError, match="sub"):
        report.plot(tmp_path / "sub" / "q.png")  # folders are not made


# ---------------------------------------------------------------------- sampling
def test_evaluate_samples_is_seeded_and_recorded():
    torch.manual_seed(0)
    model = GridRNN(GridRNNConfig(time_hidden=8, time_layers=1, pitch_hidden=6,
                                  pitch_layers=1))  # fmt: skip
    test = varied(0, 5)
    a = evaluate_samples(model, test, 3, bars=1, seed=5, batch_size=2)
    b = evaluate_samples(model, test, 3, bars=1, seed=5, batch_size=2)
    assert a.n_samples == 3 and a.settings["steps"] == 4 and a.settings["seed"] == 5
    assert a.to_dict() == b.to_dict()
    calls = []
    evaluate_samples(model, test, 3, bars=1, batch_size=2, progress=lambda d, n: calls.append(d))
    assert calls == [2, 3]
    with pytest.raises(InputError, match="n_samples"):
        evaluate_samples(model, test, 1)
    sixteenth = [NoteGrid.from_notes([GridNote(60, 0, 4)], steps_per_quarter=4)] * 2
    with pytest.raises(InputError, match="steps per quarter"):
        evaluate_samples(model, sixteenth, 2)


def test_cli_eval_with_samples_reports_statistics_and_plots(tmp_path, capsys):
    import json

    from dsp_rnn.cli import main

    png = tmp_path / "q.png"
    argv = ["eval", "default", "--samples", "3", "--bars", "2", "--json", "--plot", str(png)]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"]["n_samples"] == 3 and result["samples"]["n_test"] == 77
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    assert main(argv) == 1  # the plot exists now: refused before any work
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main(["eval", "default", "--plot", str(tmp_path / "p.png")]) == 1
    assert "pass --samples N too" in capsys.readouterr().err
