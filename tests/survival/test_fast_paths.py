"""The faster paths of the public calls give the tables the plain paths gave.

Issue 31 cut the fixed cost of ``km_table``, ``km_quantiles``, ``aalen_johansen`` and
``cumulative_incidence_at`` (frames built from their columns without copies, a
monotone curve's quantile by binary search, the cumulative incidence read in numpy).
These tests pin the results of those paths against values computed here by hand or by
the straightforward construction: the same numbers, dtypes, column order and index.
(The R parity of the estimates themselves is in test_r_parity.py and
test_competing_risks.py.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival._frames import float_columns, frame
from netpet_stats.survival.competing_risks import (EVENT_FREE, aalen_johansen,
                                                   cumulative_incidence_at)
from netpet_stats.survival.kaplan_meier import km_quantiles, km_table


def test_frame_equals_pandas_default_construction():
    mixed = {"time": np.array([1.0, 2.0]), "n_risk": np.array([5, 3]),
             "label": np.array(["a", "b"], dtype=object), "surv": np.array([0.8, 0.5])}
    floats = {"prob": np.array([0.5]), "quantile": np.array([4.0]),
              "lower": np.array([3.0]), "upper": np.array([np.nan])}
    for columns in (mixed, floats):
        expected = pd.DataFrame({k: v.copy() for k, v in columns.items()})
        pd.testing.assert_frame_equal(frame(columns), expected, check_exact=True)


def test_frame_of_numbers_of_several_dtypes_equals_the_default_construction():
    """Integer, boolean and float columns interleaved (one block per dtype here): the
    same frame as pandas builds, consolidated the same way, its columns writable and
    apart from each other."""
    rng = np.random.default_rng(7)
    for n in (0, 1, 5, 64):
        columns = {"time": rng.random(n), "n_risk": rng.integers(0, 9, n),
                   "flag": rng.random(n) < 0.5, "surv": rng.random(n),
                   "n_event": rng.integers(0, 3, n), "code": rng.integers(0, 4, n).astype(np.int32),
                   "upper": rng.random(n)}
        expected = pd.DataFrame({k: v.copy() for k, v in columns.items()})
        built = frame(columns)
        pd.testing.assert_frame_equal(built, expected, check_exact=True)
        assert built._mgr.nblocks == expected._mgr.nblocks == 4      # float, int64, bool, int32
        if n:
            built.loc[0, "n_risk"] = 99
            built.loc[0, "surv"] = -1.0
            assert built["n_event"].iloc[0] == expected["n_event"].iloc[0]
            assert built["time"].iloc[0] == expected["time"].iloc[0]
            assert built["n_risk"].iloc[0] == 99 and built["surv"].iloc[0] == -1.0
    km = km_table([1, 2, 2, 3], [1, 0, 1, 1])
    assert list(km.dtypes) == [np.float64, np.int64, np.int64, np.int64] + [np.float64] * 4


def test_frame_columns_stay_contiguous_and_writable():
    out = frame({"a": np.arange(3.0), "b": np.ones(3)})
    assert out["a"].to_numpy().flags["C_CONTIGUOUS"]
    out.loc[0, "a"] = 9.0
    assert out["a"].tolist() == [9.0, 1.0, 2.0] and out["b"].tolist() == [1.0, 1.0, 1.0]


def test_float_columns_read_a_table_with_text_columns():
    table = pd.DataFrame({"group": ["a", "b"], "time": [1, 2], "surv": [0.5, 0.25]})
    time, surv = float_columns(table, ("time", "surv"))
    assert time.tolist() == [1.0, 2.0] and surv.tolist() == [0.5, 0.25]


def test_km_table_dtypes_and_values_by_hand():
    # t = 1, 2, 2, 3, 4, 4, 5, 6, 7, 8 (R summary(survfit(Surv(t, e) ~ 1)))
    km = km_table([1, 2, 2, 3, 4, 4, 5, 6, 7, 8], [1, 1, 0, 1, 1, 1, 0, 1, 0, 1])
    assert list(km.columns) == ["time", "n_risk", "n_event", "n_censor", "surv", "std_err",
                                "lower", "upper"]
    assert [str(d) for d in km.dtypes] == ["float64", "int64", "int64", "int64", "float64",
                                           "float64", "float64", "float64"]
    assert isinstance(km.index, pd.RangeIndex)
    assert km["n_risk"].tolist() == [10, 9, 7, 6, 4, 3, 2, 1]
    assert km["n_censor"].tolist() == [0, 1, 0, 0, 1, 0, 1, 0]
    assert km["surv"].round(6).tolist() == [0.9, 0.8, 0.685714, 0.457143, 0.457143,
                                            0.304762, 0.304762, 0.0]


def _curve(time, surv, lower, upper):
    return pd.DataFrame({"time": np.asarray(time, float), "surv": np.asarray(surv, float),
                         "lower": np.asarray(lower, float), "upper": np.asarray(upper, float)})


def test_quantile_of_a_curve_that_rises_again_keeps_rs_rule():
    # The upper curve is not monotone: 1 - upper = 0.1, 0.9, 0.3, 0.6 at times 1-4.
    # R's findq orders the points by 1 - S and takes the smallest value >= p: for
    # p = 0.5 that is 0.6 at time 4 (a first crossing in time order would say time 2);
    # for p = 0.65, 0.9 at time 2.
    curve = _curve([1, 2, 3, 4], [0.9, 0.4, 0.3, 0.2], [0.8, 0.3, 0.2, 0.1],
                   [0.9, 0.1, 0.7, 0.4])
    q = km_quantiles(curve, (0.5, 0.65))
    assert q["upper"].tolist() == [4.0, 2.0]
    assert q["quantile"].tolist() == [2.0, 3.0]   # 1 - S = 0.1, 0.6, 0.7, 0.8
    assert q["lower"].tolist() == [2.0, 2.0]      # 1 - lower = 0.2, 0.7, 0.8, 0.9


def test_quantile_on_a_flat_at_exactly_p_is_the_midpoint():
    # S = 0.5 exactly from time 2 to time 4: R's median is (2 + 4) / 2 = 3
    curve = _curve([1, 2, 4, 5], [0.75, 0.5, 0.25, 0.0], [0.6, 0.3, 0.1, np.nan],
                   [0.9, 0.7, 0.5, np.nan])
    q = km_quantiles(curve, (0.5,)).iloc[0]
    assert q["quantile"] == 3.0
    assert q["lower"] == 2.0                    # 1 - lower = 0.7 first at time 2
    # 1 - upper = 0.5 at 4, flat to the missing last point: R gives NA (its midpoint to
    # the last time needs a last point that is not missing; R 4.2, survival 3.5-3)
    assert np.isnan(q["upper"])


def test_quantile_never_reached_is_missing_and_probs_keep_their_type():
    curve = _curve([1, 2], [0.9, 0.8], [0.8, 0.7], [1.0, 0.9])
    q = km_quantiles(curve, (0.5, 0.15))
    assert np.isnan(q["quantile"].iloc[0]) and q["quantile"].iloc[1] == 2.0
    assert str(q["prob"].dtype) == "float64"
    assert km_quantiles(curve, ()).shape == (0, 4)


def _read_by_hand(table, at):
    """Each curve's last row at or before each time, by a plain loop over the rows."""
    rows = []
    curves = []
    for g, s in zip(table["group"], table["state"]):
        if (g, s) not in curves:
            curves.append((g, s))
    for g, s in curves:
        part = table[(table["group"] == g) & (table["state"] == s)]
        for a in at:
            before = part[part["time"] <= a]
            if before.empty:
                rows.append((g, s, a, 1.0 if s == EVENT_FREE else 0.0, 0.0, np.nan, np.nan))
            else:
                r = before.iloc[-1]
                rows.append((g, s, a, r["estimate"], r["std_err"], r["lower"], r["upper"]))
    return rows


@pytest.mark.parametrize("groups", [["a", "b", "c"], [1, 2, 3]])
def test_cumulative_incidence_at_reads_each_curve(groups):
    rng = np.random.default_rng(31)
    n = 60
    t = np.ceil(rng.exponential(10, n))
    cause = rng.integers(0, 3, n)
    g = np.array(groups, dtype=object)[rng.integers(0, 3, n)]
    table = aalen_johansen(t, cause, g)
    # curves interleaved (sorted by time only) and one state left out: still read by curve
    shuffled = table[table.state != "2"].sort_values("time", kind="stable")
    at = [-1.0, 0.5, 3.0, 12.0, 1e6]
    for tab in (table, shuffled):
        got = cumulative_incidence_at(tab, at)
        expected = _read_by_hand(tab, at)
        assert list(got.columns) == ["group", "state", "time", "estimate", "std_err",
                                     "lower", "upper"]
        assert len(got) == len(expected)
        for row, exp in zip(got.itertuples(index=False), expected):
            assert row[:3] == exp[:3]
            np.testing.assert_array_equal(np.array(row[3:], float), np.array(exp[3:], float))
    # whole-number group labels come back as integers, as a frame of tuples infers them
    got = cumulative_incidence_at(table, at)
    assert str(got["group"].dtype) == ("object" if groups[0] == "a" else "int64")
    assert cumulative_incidence_at(table, []).empty


def test_frames_do_not_share_their_column_index():
    first = km_quantiles(km_table([1, 2, 3], [1, 1, 0]))
    second = km_quantiles(km_table([1, 2, 3], [1, 1, 0]))
    first.columns.name = "renamed by a user"
    assert second.columns.name is None
    assert km_quantiles(km_table([1, 2, 3], [1, 1, 0])).columns.name is None


def _findq_by_rule(times, surv, p, last, tol=np.sqrt(np.finfo(float).eps)):
    """R's survival:::findq written out point by point: the points (time, 1 - S) from
    (0, 0), each value kept at its first time (duplicated(): one missing point kept
    too), missing ones then dropped by approx(); the quantile is the time of the
    smallest value >= p, or the midpoint to the next larger value (to the last time
    when that value is the curve's last point, not when that point is missing) when a
    value lies within tol of p."""
    points, seen = [], set()
    for x, y in zip([0.0, *times], [0.0, *(1.0 - np.asarray(surv, float))]):
        key = "NA" if np.isnan(y) else y
        if key not in seen:
            seen.add(key)
            points.append((x, y))
    if p == 0:
        return points[0][0]
    last_value = points[-1][1]                  # NaN: R's last-point rule is skipped
    by_value = sorted([pt for pt in points if not np.isnan(pt[1])], key=lambda pt: pt[1])
    at_least = [x for x, y in by_value if y >= p - tol]
    above = [x for x, y in by_value if y >= p + tol]
    if not at_least:
        return np.nan
    if abs(p - last_value) < tol:
        return (at_least[0] + last) / 2
    return (at_least[0] + above[0]) / 2 if above else np.nan


def test_quantiles_of_random_curves_follow_rs_rule():
    from netpet_stats.survival.kaplan_meier import _findq

    rng = np.random.default_rng(7)
    for trial in range(400):
        k = int(rng.integers(1, 12))
        times = np.cumsum(rng.integers(1, 4, k)).astype(float)
        steps = rng.integers(0, 3, k) / 8.0          # drops of 0, 1/8, 2/8: exact hits of p
        surv = np.clip(1.0 - np.cumsum(steps), 0.0, 1.0)
        if trial % 3 == 0:                           # a confidence curve that rises again
            surv = np.clip(surv + rng.normal(0, 0.1, k), 0.0, 1.0)
        if trial % 5 == 0:
            surv[-1] = np.nan
        for p in (0.0, 0.25, 0.5, 0.75, 0.6):
            expected = _findq_by_rule(times, surv, p, times[-1])
            got = _findq(times, surv, p, times[-1])
            assert (np.isnan(got) and np.isnan(expected)) or got == expected, (times, surv, p)


def test_quantiles_read_together_follow_rs_rule():
    """km_quantiles reads the estimate and both limits in one pass where a curve is
    monotone over the points R keeps (missing ones dropped), and one by one otherwise:
    each curve's quantiles are R's."""
    from netpet_stats.survival.kaplan_meier import _findq_curves

    rng = np.random.default_rng(11)
    probs = [0.0, 0.25, 0.5, 0.75, 0.6, 1.0]
    for trial in range(300):
        k = int(rng.integers(1, 12))
        times = np.cumsum(rng.integers(1, 4, k)).astype(float)
        steps = rng.integers(0, 3, (3, k)) / 8.0     # exact hits of p, flats at p
        curves = np.clip(1.0 - np.cumsum(steps, axis=1), 0.0, 1.0)
        if trial % 3 == 0:                           # a limit that rises again
            curves[2] = np.clip(curves[2] + rng.normal(0, 0.1, k), 0.0, 1.0)
        if trial % 4 == 0:                           # a limit missing where S = 0
            curves[1, -1] = np.nan
        if trial % 5 == 0:                           # missing points anywhere, runs of them
            curves[rng.random((3, k)) < 0.3] = np.nan
        got = _findq_curves(times, curves, probs, times[-1])
        for row in range(3):
            expected = [_findq_by_rule(times, curves[row], p, times[-1]) for p in probs]
            np.testing.assert_array_equal(got[row], expected)


def test_float_columns_of_a_curve_are_its_values_read_only():
    curve = km_table([1, 2, 2, 3, 5], [1, 0, 1, 1, 0])
    time, surv = float_columns(curve, ("time", "surv"))
    np.testing.assert_array_equal(time, curve["time"].to_numpy())
    np.testing.assert_array_equal(surv, curve["surv"].to_numpy())
    with pytest.raises(ValueError):
        surv[0] = 0.0                                # the table's own values
    assert curve["surv"].iloc[0] == 0.8
    # counts (int64) and a nullable float column are read as converted copies
    table = pd.DataFrame({"n": [3, 2], "x": pd.array([0.5, None], dtype="Float64")})
    n, = float_columns(table, ("n",))
    assert n.dtype == np.float64 and n.tolist() == [3.0, 2.0]


def test_dense_rank_equals_numpys_inverse_of_unique():
    """Predictors of few values (hashed) and of many (sorted), signed zeros, a missing
    value: the ranks np.unique gives."""
    from netpet_stats.survival._ranks import dense_rank

    rng = np.random.default_rng(3)
    n = 20_000
    few = rng.integers(0, 40, n) * 0.1 - 1.5           # 40 values, -0.0 among them below
    cases = [few, np.where(few == 0, -0.0, few), rng.normal(size=n),
             np.concatenate([rng.normal(size=600), np.repeat([1.0, 2.0], n)]),
             np.append(few, np.nan), np.array([0.5, -1.0, 0.5]), np.zeros(0)]
    for x in cases:
        expected = np.unique(x, return_inverse=True)[1].ravel()
        got = dense_rank(x)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, expected)


def test_sorts_of_repeated_values_equal_numpys():
    """Cox's order of exits (time descending, events first, stable) and the distinct
    times of the time fix, on whole-day times (hashed) and continuous ones (sorted)."""
    from netpet_stats.survival._ranks import exit_order, sorted_distinct

    rng = np.random.default_rng(8)
    n = 30_000
    for time in (np.ceil(rng.exponential(300, n)), rng.exponential(300, n),
                 np.where(rng.random(n) < 0.01, -0.0, np.ceil(rng.exponential(3, n))),
                 # few values first, then more than 2^16 distinct ones
                 np.concatenate([np.zeros(1000), np.arange(70_000.0)])):
        event = (rng.random(time.size) < 0.3).astype(float)
        np.testing.assert_array_equal(exit_order(time, event), np.lexsort((-event, -time)))
        np.testing.assert_array_equal(sorted_distinct(time), np.unique(time))
        ordered = np.sort(time)                      # a resample drawn in time order
        np.testing.assert_array_equal(sorted_distinct(ordered), np.unique(time))
    # events coded otherwise than 0/1 keep lexsort's order of the values
    time, event = np.ceil(rng.exponential(30, n)), rng.integers(0, 3, n).astype(float)
    np.testing.assert_array_equal(exit_order(time, event), np.lexsort((-event, -time)))


def test_linear_predictor_by_pattern_equals_the_dot_product_of_each_distinct_row():
    """PatternDot finds the distinct rows by hashing: each subject's x'beta is the dot
    product of its own row, the same bits for identical rows, on categories, a
    continuous column, signed zeros and no columns."""
    from netpet_stats.survival.cox import PatternDot

    rng = np.random.default_rng(12)
    n = 5_000
    designs = [rng.integers(0, 3, (n, 5)).astype(float),
               np.column_stack([rng.integers(0, 2, (n, 2)), rng.normal(size=n)]),
               np.array([[0.0, 1.5], [-0.0, 1.5], [2.0, 0.0]]), np.zeros((4, 0))]
    for X in designs:
        beta = rng.normal(size=X.shape[1])
        got = PatternDot(X)(beta)
        expected = np.array([sum(x * b for x, b in zip(row, beta)) for row in X])
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-14)
        # identical rows, identical bits; and the same bits for a row wherever it lies
        rows, inverse = np.unique(X, axis=0, return_inverse=True)
        for k in range(len(rows)):
            assert len(set(got[inverse.ravel() == k].tolist())) == 1
        shifted = PatternDot(np.vstack([X[1:], X[:1]]))(beta)
        np.testing.assert_array_equal(shifted, np.concatenate([got[1:], got[:1]]))


def test_quantile_probabilities_outside_0_1_are_refused_as_r_does():
    curve = km_table([1, 2, 3, 4], [1, 1, 0, 1])
    for probs in ([float("nan")], [1.5], [-0.1], ["0.5"]):
        with pytest.raises(ValueError, match="between 0 and 1"):
            km_quantiles(curve, probs)
    assert km_quantiles(curve, [0, 1]).shape == (2, 4)


def test_harrell_pairs_give_harrell_c_to_the_last_bit():
    """HarrellPairs counts each pair once (the compiled pair_totals beyond the numpy
    twin's size): the estimate harrell_c gives, with whole-day ties, ymax, a predictor
    given per pattern, signed zeros and a sample without comparable pairs."""
    from netpet_stats.survival.concordance import HarrellPairs, harrell_c

    rng = np.random.default_rng(21)
    for n in (1, 40, 1_500, 12_000):
        time = np.ceil(rng.exponential(30, n))
        event = (rng.random(n) < 0.5).astype(float)
        values = np.round(rng.normal(size=25), 1)
        values[values == 0] = -0.0
        codes = rng.integers(0, 25, n)
        for ymax in (None, 20.0):
            pairs = HarrellPairs(time, event, ymax=ymax)
            for reverse in (True, False):
                want = harrell_c(time, event, values[codes], ymax=ymax,
                                 reverse=reverse)["estimate"]
                got = pairs.estimate(values, reverse=reverse, codes=codes)
                assert got == want or (np.isnan(got) and np.isnan(want))
                assert pairs.estimate(values[codes], reverse=reverse) == got or np.isnan(got)
    with pytest.raises(ValueError, match="missing"):
        HarrellPairs([1.0, np.nan], [1, 0])
    with pytest.raises(ValueError, match="3 predictor values for 2 subjects"):
        HarrellPairs([1.0, 2.0], [1, 0]).estimate([1.0, 2.0, 3.0])


def test_pair_totals_are_half_the_column_sums_of_pair_counts():
    from netpet_stats.survival._kernels import pair_counts, pair_totals

    rng = np.random.default_rng(5)
    for n in (1, 7, 3_000):
        time = rng.integers(1, 30, n).astype(float)
        event = (rng.random(n) < 0.6)
        rank = rng.integers(0, 12, n)
        order = np.argsort(time, kind="stable")
        ts = time[order]
        blocks = np.flatnonzero(np.r_[True, ts[1:] != ts[:-1], True])
        weight = (time <= 20).astype(float)
        counts = pair_counts(order, blocks, event, rank, 12, weight)
        assert pair_totals(order, blocks, event, rank, 12, weight) == tuple(
            c.sum() / 2 for c in counts)


def test_km_point_and_sorted_counts_on_ordered_times_equal_the_sorting_path():
    from netpet_stats.survival._ranks import sorted_counts
    from netpet_stats.survival.kaplan_meier import km_point

    rng = np.random.default_rng(9)
    time = np.ceil(rng.exponential(20, 5_000))
    event = (rng.random(time.size) < 0.4).astype(float)
    order = np.argsort(time, kind="stable")
    for h in (0.5, 10.0, 35.0, time.max()):
        assert km_point(time[order], event[order], h) == km_point(time, event, h)
    for x in (np.sort(time), time, np.zeros(0), np.array([-0.0, 0.0, 1.0])):
        got, want = sorted_counts(x), np.unique(x, return_counts=True)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_efron_data_with_another_design_fits_as_data_sorted_afresh():
    """EfronData.with_design reuses the sort for another design of the same subjects
    (the calibration slope of a linear predictor): the same doubles as its own sort."""
    from netpet_stats.survival import cox

    rng = np.random.default_rng(4)
    n = 400
    time = np.ceil(rng.exponential(10, n))
    event = (rng.random(n) < 0.7).astype(float)
    strata = rng.choice(["a", "b"], n)
    X = rng.normal(size=(n, 3))
    lp = X @ np.array([0.3, -0.2, 0.5])
    for ties in ("efron", "breslow"):
        data = cox.EfronData(time, event, X, strata, ties=ties)
        got = cox.coxph_fit(time, event, lp[:, None], strata, ties=ties,
                            data=data.with_design(lp))
        want = cox.coxph_fit(time, event, lp[:, None], strata, ties=ties)
        np.testing.assert_array_equal(got.beta, want.beta)
        np.testing.assert_array_equal(got.information, want.information)


def test_whole_number_times_pass_the_time_fix_as_the_general_rule_leaves_them():
    """Whole days or months below 1/tol are never tied by R's aeqSurv rule (they differ
    by 1 or more): returned as given. Larger whole numbers, fractions, NaN and infinity
    take the general rule, which ties 10^8 and 10^8 + 1 (relative difference 1e-8)."""
    from netpet_stats.survival._checks import TIMEFIX_TOLERANCE, timefix

    def by_rule(t):
        t = np.asarray(t, float)
        y = np.unique(t[np.isfinite(t)])
        if y.size < 2:
            return t
        dy = np.diff(y)
        tied = (dy <= TIMEFIX_TOLERANCE) | (dy / np.mean(np.abs(y)) <= TIMEFIX_TOLERANCE)
        cuts = y[np.concatenate([[True], ~tied])]
        out = t.copy()
        f = np.isfinite(t)
        out[f] = cuts[np.searchsorted(cuts, t[f], side="right") - 1]
        return out

    rng = np.random.default_rng(2)
    cases = [np.ceil(rng.exponential(300, 1000)), np.array([3.0, -2.0, 0.0, 7.0]),
             np.array([1e8, 1e8 + 1, 5.0]), np.array([6.7e7, 6.7e7 + 1]),
             np.array([2.0, np.nan, 3.0]), np.array([1.0, np.inf, 1.0]),
             np.array([5.000000000001, 5.0, 7.0]), np.zeros(0)]
    for t in cases:
        np.testing.assert_array_equal(timefix(t), by_rule(t))
    assert timefix(np.array([1e8, 1e8 + 1]))[1] == 1e8


def test_stratum_codes_equal_the_rows_ranked_by_np_unique():
    """The strata combinations numbered in mixed radix and ranked by hashing: the
    numbers np.unique(axis=0) gives the rows of per-variable codes (R's order of the
    levels: categories, numbers, text in C-locale order), with missing values, text
    that two values share (1 and "1") and one or three variables."""
    from netpet_stats.survival.cox import stratum_codes

    def by_rows(data, strata):
        codes = []
        for col in strata:
            v = data[col]
            if isinstance(v.dtype, pd.CategoricalDtype):
                codes.append(v.cat.codes.to_numpy())
            elif pd.api.types.is_numeric_dtype(v):
                codes.append(pd.factorize(v, sort=True)[0])
            else:
                codes.append(pd.factorize(v.astype(str), sort=True)[0])
        return np.unique(np.column_stack(codes), axis=0, return_inverse=True)[1].ravel()

    rng = np.random.default_rng(6)
    n = 3_000
    data = pd.DataFrame({
        "centre": rng.choice(["B", "a", "C", "Ä"], n),
        "inst": rng.choice([10, 2, 1, 33], n),
        "grade": pd.Categorical(rng.choice(["G3", "G1", "G2"], n),
                                categories=["G3", "G2", "G1", "G9"]),
        "mixed": pd.Series(rng.choice([1, "1", "x", 2.5], n), dtype=object),
        "gappy": pd.Series(rng.choice(["u", "v", None], n), dtype=object),
    })
    for strata in (["centre"], ["inst"], ["grade"], ["mixed"], ["gappy"],
                   ["centre", "inst", "grade"], ["grade", "mixed", "centre"]):
        np.testing.assert_array_equal(stratum_codes(data, strata), by_rows(data, strata))


def test_stratified_sums_are_each_stratums_sums_added_and_missing_labels_refused():
    """EfronData groups rows by their stratum label (each label coded once): the
    stratified log likelihood, score and information at any beta are those of each
    stratum's rows alone, added (R's strata()); labels 1 and "1" are two strata, as R's
    factor of them; a missing label is refused instead of its rows being dropped."""
    from netpet_stats.survival import cox

    rng = np.random.default_rng(11)
    n = 300
    time = np.ceil(rng.exponential(8, n))
    event = (rng.random(n) < 0.7).astype(float)
    X = rng.normal(size=(n, 2))
    strata = np.array([1, "1", "b", 2.5], dtype=object)[rng.integers(0, 4, n)]
    beta = np.array([0.4, -0.3])
    got = cox.EfronData(time, event, X, strata).evaluate(beta)
    parts = [cox.EfronData(time[m], event[m], X[m]).evaluate(beta)
             for m in ([s == 1 and isinstance(s, int) for s in strata],
                       [s == "1" for s in strata], [s == "b" for s in strata],
                       [s == 2.5 for s in strata])]
    for key in ("loglik", "score", "info"):
        np.testing.assert_allclose(got[key], sum(p[key] for p in parts), rtol=1e-13)
    bad = strata.copy()
    bad[[3, 7]] = [None, np.nan]
    with pytest.raises(ValueError, match="2 missing label"):
        cox.EfronData(time, event, X, bad)
    with pytest.raises(ValueError, match="2 missing label"):   # its rows were dropped
        cox.score_residuals(time, event, X, beta, bad)


@pytest.mark.parametrize("ties", ["efron", "breslow", "exact"])
@pytest.mark.parametrize("times", ["days", "months"])
def test_a_resample_read_off_the_whole_sort_is_the_resample_sorted_afresh(ties, times):
    """EfronData.resample (a bootstrap resample's rows as increasing places) gives the
    arrays a fresh EfronData of the resample holds: the same rows in the same order
    (ties by time, events first, then by place), the same strata in the order the
    resample first meets them, to the bit; the covariates centred on the whole data's
    means (a fresh one centres on the resample's), so the same sums to rounding."""
    from netpet_stats.survival import cox

    rng = np.random.default_rng(21)
    n = 120 if ties == "exact" else 500
    time = np.ceil(rng.exponential(15, n))
    if times == "months":
        time = time / 30.4375
    event = (rng.random(n) < 0.6).astype(float)
    strata = rng.choice(["c", "a", "b"], n)
    X = rng.normal(size=(n, 3))
    beta = np.array([0.2, -0.4, 0.1])
    whole = cox.EfronData(time, event, X, strata, ties=ties)
    for seed in range(4):
        idx = np.sort(np.random.default_rng(seed).integers(0, n, n))
        if seed == 3:
            idx = idx[idx > 40]        # the first strata met change order
        got = whole.resample(idx)
        want = cox.EfronData(time[idx], event[idx], X[idx], strata[idx], ties=ties)
        assert [st["label"] for st in got.strata] == [st["label"] for st in want.strata]
        for a, b in zip(got.strata, want.strata):
            for key in ("t", "dead", "rows", "etimes"):
                np.testing.assert_array_equal(a[key], b[key])
            np.testing.assert_array_equal(a["x"], X[idx][a["rows"]] - whole.means)
        for key, value in got.evaluate(beta).items():
            np.testing.assert_allclose(value, want.evaluate(beta)[key], rtol=1e-12,
                                       atol=1e-12)
    with pytest.raises(ValueError, match="increasing order"):
        whole.resample(idx[::-1])


def test_a_resample_whose_time_fix_could_differ_is_left_to_a_fresh_sort():
    """R's time fix ties two times by their distance relative to the mean magnitude of
    the distinct times: a subset of large times can tie two that the whole sample does
    not. Such data are not read off the whole sort (None), nor are data with delayed
    entry; the check that decides it is conservative (timefix_of_subsets)."""
    from netpet_stats.survival import cox
    from netpet_stats.survival._checks import timefix, timefix_of_subsets

    small = np.linspace(0.01, 0.5, 50)
    time = np.concatenate([small, [100.0, 100.0 + 1e-6]])
    fixed, every_subset = timefix_of_subsets(time)
    np.testing.assert_array_equal(fixed, time)           # the whole sample: no tie
    assert not every_subset
    assert timefix(time[-2:])[1] == 100.0                 # the two large ones: tied
    event = np.ones(time.size)
    data = cox.EfronData(time, event, np.arange(time.size, dtype=float))
    assert data.resample(np.arange(time.size)) is None
    entry = cox.EfronData(time + 1, event, np.ones(time.size), entry=np.zeros(time.size))
    assert entry.resample(np.arange(time.size)) is None
    rng = np.random.default_rng(2)
    for _ in range(200):                                  # when it says so, it holds
        t = np.round(rng.exponential(10, 30), int(rng.integers(0, 9)))
        if timefix_of_subsets(t)[1]:
            sub = t[rng.random(t.size) < 0.5]
            np.testing.assert_array_equal(timefix(sub), sub)
