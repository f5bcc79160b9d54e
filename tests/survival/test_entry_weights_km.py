"""Delayed entry and case weights against R (fixtures from entry_weights_km_reference.R).

Kaplan-Meier against ``survfit(Surv(entry, time, event), weights =)``, Harrell's C
against ``concordance``, Aalen-Johansen against multi-state ``survfit`` and the
log-rank tests against the Cox score test R users report (``survdiff`` takes
neither entry nor weights). The cohort has ties, non-integer weights, subjects
entering after the last event of their group and entries equal to another
subject's exit; ``gap`` is a curve whose risk set empties before later entrants.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival.competing_risks import (EVENT_FREE, aalen_johansen, fine_gray,
                                                   gray_test)
from netpet_stats.survival.concordance import harrell_c, uno_c
from netpet_stats.survival.kaplan_meier import (km_by_group, km_point, km_table,
                                                numbers_at_risk, reverse_km_follow_up,
                                                survival_at)
from netpet_stats.survival.logrank import (logrank_test, logrank_tests, logrank_trend_test,
                                          observed_expected)

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "entry_weights_km_reference.json").read_text())
D = pd.DataFrame(REF["data"])
SMALL = pd.DataFrame(REF["small"])
GAP = pd.DataFrame(REF["gap"])
ZERO = pd.DataFrame(REF["zero"])  # SMALL and a row with entry = exit = 4
DATA = {"small": SMALL, "gap": GAP, "cohort": D, "zero": ZERO}


def _num(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _close(ours, ref, atol=1e-10):
    """Equal to R's to ``atol``; where R's value is NA/NaN/Inf (JSON null) ours is not finite."""
    ours, ref = np.asarray(ours, dtype=float), _num(ref)
    assert ours.shape == ref.shape
    missing = np.isnan(ref)
    assert not np.isfinite(ours[missing]).any(), (ours[missing])
    np.testing.assert_allclose(ours[~missing], ref[~missing], rtol=0, atol=atol)


# --- Kaplan-Meier -----------------------------------------------------------------------

KM_CASES = {  # case: (data, entry?, weight column, group?)
    "small_entry": ("small", True, None, False),
    "small_entry_w": ("small", True, "weight", False),
    "small_w": ("small", False, "weight", False),
    "gap": ("gap", True, None, False),
    "zero_length": ("zero", True, "weight", False),
    "cohort_entry": ("cohort", True, None, True),
    "cohort_entry_w": ("cohort", True, "weight", True),
    "cohort_w": ("cohort", False, "weight", True),
}


def _km_args(case):
    name, has_entry, wcol, _ = KM_CASES[case]
    data = DATA[name]
    return data, {"entry": data.entry if has_entry else None,
                  "weights": None if wcol is None else data[wcol]}


def _compare_curve(curve: pd.DataFrame, ref: dict, rows) -> None:
    np.testing.assert_array_equal(curve.time, np.array(ref["time"])[rows])
    for ours, theirs in [("n_risk", "n_risk"), ("n_event", "n_event"), ("n_censor", "n_censor"),
                         ("surv", "surv"), ("lower", "lower"), ("upper", "upper")]:
        _close(curve[ours], np.array(ref[theirs], dtype=object)[rows])
    se = _num(np.array(ref["std_err"], dtype=object)[rows])
    if not ref["logse"]:
        # R's jackknife SE (non-integer weights) is of S (logse = FALSE); the curve keeps
        # every SE on the log scale, se(S) / S, undefined where S = 0.
        surv = _num(np.array(ref["surv"], dtype=object)[rows])
        with np.errstate(divide="ignore", invalid="ignore"):
            se = np.where(surv > 0, se / surv, np.nan)
    _close(curve["std_err"], se, atol=1e-8)


@pytest.mark.parametrize("case", list(KM_CASES))
def test_km_equals_survfit_with_entry_and_weights(case):
    data, kw = _km_args(case)
    ref = REF["km"][case]
    strata = np.array(ref["strata"])
    if KM_CASES[case][3]:
        curves, medians = km_by_group(data.time, data.event, data.group, **kw)
        for label in pd.unique(strata):
            _compare_curve(curves[curves.group == label], ref, strata == label)
        if "median" in ref:
            for ours, theirs in [("quantile", "quantile"), ("lower", "lower"),
                                 ("upper", "upper")]:
                _close(medians[ours], np.ravel(np.array(ref["median"][theirs], dtype=object)))
    else:
        _compare_curve(km_table(data.time, data.event, **kw), ref, slice(None))


@pytest.mark.parametrize("case", [c for c in KM_CASES if "at" in REF["km"][c]])
def test_km_summary_at_times_equals_r(case):
    data, kw = _km_args(case)
    at = REF["km"][case]["at"]
    strata = np.array(at["strata"])
    times = np.array(at["time"], dtype=float)
    groups = ["all"] if not KM_CASES[case][3] else list(pd.unique(strata))
    for label in groups:
        rows = strata == label
        m = np.ones(len(data), bool) if label == "all" else (data.group == label).to_numpy()
        sub = {k: (None if v is None else np.asarray(v)[m]) for k, v in kw.items()}
        curve = km_table(data.time[m], data.event[m], **sub)
        res = survival_at(curve, data.time[m], data.event[m], times[rows], **sub)
        _close(res.n_risk, np.array(at["n_risk"], dtype=object)[rows])
        _close(res.surv, np.array(at["surv"], dtype=object)[rows])
        _close(res.std_err, np.array(at["std_err"], dtype=object)[rows], atol=1e-8)
        for u, surv, se in zip(times[rows], _num(np.array(at["surv"], dtype=object)[rows]),
                               _num(np.array(at["std_err"], dtype=object)[rows])):
            s_u, se_log = km_point(data.time[m], data.event[m], u, **sub)
            assert s_u == pytest.approx(surv, abs=1e-10)
            if surv > 0:  # km_point's SE is of -log S: R's summary SE of S over S
                assert se_log == pytest.approx(se / surv, abs=1e-8)
        if kw["weights"] is None and kw["entry"] is not None:
            assert numbers_at_risk(data.time[m], times[rows], entry=data.entry[m]) == \
                [int(v) for v in np.array(at["n_risk"])[rows]]


def test_gap_curve_stays_at_zero_after_the_risk_set_empties_as_r():
    # Two early deaths empty the risk set (S = 0 at t = 2); two later entrants do not
    # restart the curve: R keeps S = 0 (std.err Inf) at 7 and 9 and counts them at risk.
    curve = km_table(GAP.time, GAP.event, entry=GAP.entry)
    assert curve.surv.tolist() == [0.5, 0.0, 0.0, 0.0]
    assert curve.n_risk.tolist() == [2, 1, 2, 1]
    # At t = 0 (before the first entry-free exit) R reports S = 1, n.risk 2.
    assert numbers_at_risk(GAP.time, [0, 3, 8], entry=GAP.entry) == [2, 2, 1]


def test_reverse_km_with_entry_equals_survfit():
    ref = REF["km"]["cohort_reverse"]
    _compare_curve(km_table(D.time, 1 - D.event, entry=D.entry), ref, slice(None))
    res = reverse_km_follow_up(D.time, D.event, entry=D.entry)
    assert [res["median_follow_up"], res["lower"], res["upper"]] == pytest.approx(
        [ref["median"]["quantile"], ref["median"]["lower"], ref["median"]["upper"]], abs=1e-10)


def test_hand_computed_entry_km():
    # small, unweighted, at risk on (entry, time]: t=2 {1,2,3,4,5,8}=6? subject 3 enters at
    # 1, 4 at 2 (not at risk at 2: entry < t is strict), 8 at 0.5 -> {1,2,3,5,8} = 5 at risk,
    # 1 death: S = 4/5.
    curve = km_table(SMALL.time, SMALL.event, entry=SMALL.entry)
    assert curve.n_risk.iloc[0] == 5 and curve.surv.iloc[0] == pytest.approx(0.8, abs=1e-15)


# --- Harrell's and Uno's C --------------------------------------------------------------

C_CASES = {
    "small_entry": ("small", True, False, {}),
    "small_entry_w": ("small", True, True, {}),
    "small_w": ("small", False, True, {}),
    "entry": ("cohort", True, False, {}),
    "entry_w": ("cohort", True, True, {}),
    "entry_strata": ("cohort", True, False, {"strata": "stratum"}),
    "entry_w_ymax": ("cohort", True, True, {"ymax": 15}),
    "entry_w_cluster": ("cohort", True, True, {"cluster": "group"}),
    "w": ("cohort", False, True, {}),
}


@pytest.mark.parametrize("case", list(C_CASES))
def test_harrell_c_equals_concordance(case):
    name, has_entry, has_w, extra = C_CASES[case]
    data = DATA[name]
    kw = {k: (data[v] if k in ("strata", "cluster") else v) for k, v in extra.items()}
    res = harrell_c(data.time, data.event, data.x, entry=data.entry if has_entry else None,
                    weights=data.weight if has_w else None, **kw)
    ref = REF["concordance"][case]
    assert res["estimate"] == pytest.approx(ref["concordance"], abs=1e-10)
    assert res["se"] ** 2 == pytest.approx(ref["var"], abs=1e-10)
    np.testing.assert_allclose([res["concordant"], res["discordant"], res["tied_x"]],
                               ref["count"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("case,data", [("small_w_uno", SMALL), ("w_uno", D)])
def test_uno_c_with_weights_equals_concordance(case, data):
    res = uno_c(data.time, data.event, data.x, weights=data.weight)
    ref = REF["concordance"][case]
    assert res["estimate"] == pytest.approx(ref["concordance"], abs=1e-10)
    assert res["se"] ** 2 == pytest.approx(ref["var"], abs=1e-10)


def test_uno_c_refuses_entry_as_r():
    assert "not supported" in REF["concordance"]["uno_entry_refused"]
    with pytest.raises(ValueError, match="entry"):
        uno_c(D.time, D.event, D.x, entry=D.entry)


# --- Aalen-Johansen -----------------------------------------------------------------------

AJ_CASES = {
    "small_entry": ("small", True, False, False),
    "small_entry_w": ("small", True, True, False),
    "small_w": ("small", False, True, False),
    "cohort_entry": ("cohort", True, False, True),
    "cohort_entry_w": ("cohort", True, True, True),
}


@pytest.mark.parametrize("case", list(AJ_CASES))
def test_aalen_johansen_equals_survfit_with_entry_and_weights(case):
    name, has_entry, has_w, grouped = AJ_CASES[case]
    data = DATA[name]
    table = aalen_johansen(data.time, data.cause, data.group if grouped else None,
                           cause_labels={1: "1", 2: "2"},
                           entry=data.entry if has_entry else None,
                           weights=data.weight if has_w else None)
    ref = REF["aalen_johansen"][case]
    strata = np.array(ref["strata"])
    pstate = np.array(ref["pstate"], dtype=object)
    se = np.array(ref["std_err"], dtype=object)
    lower, upper = np.array(ref["lower"], dtype=object), np.array(ref["upper"], dtype=object)
    for label in pd.unique(strata):
        rows = strata == label
        in_group = table.group.astype(str) == label
        for j, state in enumerate([EVENT_FREE, "1", "2"]):
            part = table[in_group & (table.state == state)]
            np.testing.assert_array_equal(part.time, np.array(ref["time"])[rows])
            _close(part.estimate, pstate[rows, j])
            _close(part.std_err, se[rows, j], atol=1e-8)
            # Where a state's probability is 0 (the last subject of the group had an
            # event), R's running sums leave rounding noise (7e-17, -6e-15) and limits
            # computed from that noise (or NA for a negative one): the estimate is
            # checked (0 to 1e-10, above) but not limits of rounding noise.
            noise = np.abs(_num(pstate[rows, j])) < 1e-12
            _close(part.lower.to_numpy()[~noise], lower[rows, j][~noise], atol=1e-8)
            _close(part.upper.to_numpy()[~noise], upper[rows, j][~noise], atol=1e-8)
        _close(table[in_group & (table.state == EVENT_FREE)].n_risk,
               np.array(ref["n_risk"])[rows])


def test_gray_test_and_fine_gray_refuse_entry_and_weights():
    # cmprsk::cuminc and crr take neither: there is no R result to reproduce.
    for kw in ({"entry": D.entry}, {"weights": D.weight}):
        with pytest.raises(ValueError, match="cuminc"):
            gray_test(D.time, D.cause, D.group, **kw)
        with pytest.raises(ValueError, match="crr"):
            fine_gray(D.time, D.cause, D[["x"]].to_numpy(), **kw)


# --- log-rank -----------------------------------------------------------------------------

LR = REF["logrank"]


def test_riskset_form_in_fixture_equals_r_agexact():
    # The fixture computes coxph(ties = "exact") on (start, stop] data from one row per
    # subject at risk per death time; R checked that against agexact where feasible.
    assert all(abs(v) < 1e-8 for v in LR["check_riskset_vs_agexact"].values())


@pytest.mark.parametrize("case,kw", [
    ("survdiff", {}),
    ("survdiff_strata", {"strata": True}),
    ("entry", {"entry": True}),
    ("entry_strata", {"entry": True, "strata": True}),
    ("weights", {"weights": True}),
    ("entry_weights", {"entry": True, "weights": True}),
    ("entry_weights_strata", {"entry": True, "weights": True, "strata": True}),
])
def test_logrank_equals_cox_score_test(case, kw):
    res = logrank_test(D.time, D.event, D.group, D.stratum if kw.get("strata") else None,
                       entry=D.entry if kw.get("entry") else None,
                       weights=D.weight if kw.get("weights") else None)
    assert res["chisq"] == pytest.approx(LR[case], abs=1e-10)
    assert res["df"] == 2


@pytest.mark.parametrize("case,kw", [("entry_trend", {"entry": True}),
                                     ("entry_weights_trend", {"entry": True, "weights": True})])
def test_logrank_trend_equals_cox_score_test(case, kw):
    res = logrank_trend_test(D.time, D.event, D.group, entry=D.entry,
                             weights=D.weight if kw.get("weights") else None)
    assert res["chisq"] == pytest.approx(LR[case], abs=1e-10)


def test_small_logrank_with_entry_equals_r():
    for case, w in [("small_entry", None), ("small_entry_w", SMALL.weight)]:
        res = logrank_test(SMALL.time, SMALL.event, SMALL.group, entry=SMALL.entry, weights=w)
        assert res["chisq"] == pytest.approx(LR[case], abs=1e-10)


def test_a_row_entering_at_its_exit_is_left_out_as_r():
    # R's Surv(4, 4, 1) is NA and coxph/survfit drop the row; so do we (a weight-3 death
    # at t = 4 would otherwise change every number from t = 4 on).
    with pytest.warns(Warning, match="1 subject.*left out"):
        res = logrank_test(ZERO.time, ZERO.event, ZERO.group, entry=ZERO.entry,
                           weights=ZERO.weight)
    assert res["chisq"] == pytest.approx(LR["zero_length_w"], abs=1e-10)
    assert res["chisq"] == pytest.approx(LR["small_entry_w"], abs=1e-10)


def test_a_group_entering_after_the_last_death_drops_out_of_the_test_as_r():
    # Group c is never at risk at a death time: E = 0, so survdiff's rule drops it and
    # the test has 1 df, as coxph's score test with c's coefficient NA.
    late = pd.DataFrame(REF["late"])
    for case, w in [("late_group", None), ("late_group_w", late.weight)]:
        res = logrank_test(late.time, late.event, late.group, entry=late.entry, weights=w)
        assert res["chisq"] == pytest.approx(LR[case], abs=1e-10)
        assert res["df"] == LR["late_group_df"] == 1


def test_logrank_tests_table_with_entry():
    table = logrank_tests(D.time, D.event, D.group, ["a", "b", "c"], strata=D.stratum,
                          strata_name="stratum", entry=D.entry)
    by = {(r.test, r.comparison): r for r in table.itertuples()}
    assert by[("log-rank", "a vs b vs c")].chisq == pytest.approx(LR["entry"], abs=1e-10)
    assert by[("stratified log-rank", "a vs b vs c")].chisq == \
        pytest.approx(LR["entry_strata"], abs=1e-10)
    assert by[("log-rank trend", "a < b < c")].chisq == pytest.approx(LR["entry_trend"],
                                                                      abs=1e-10)
    for pair in ("ab", "ac", "bc"):
        row = by[("pairwise log-rank", f"{pair[0]} vs {pair[1]}")]
        assert row.chisq == pytest.approx(LR[f"entry_pair_{pair}"], abs=1e-10)
    assert all("coxph(Surv(entry, time, event)" in m for m in table.method)


@pytest.mark.parametrize("case,w", [("expected_entry", None), ("expected_entry_w", "weight")])
def test_observed_expected_with_entry_equals_null_cox_model(case, w):
    oe = observed_expected(D.time, D.event, D.group, ["a", "b", "c"], entry=D.entry,
                           weights=None if w is None else D[w])
    np.testing.assert_allclose(oe.expected, [LR[case][g] for g in ["a", "b", "c"]],
                               rtol=0, atol=1e-10)
    weight = np.ones(len(D)) if w is None else D[w].to_numpy()
    np.testing.assert_allclose(
        oe.observed, [np.sum(weight[(D.group == g) & (D.event == 1)]) for g in "abc"],
        rtol=0, atol=1e-12)


def test_entry_at_zero_gives_survdiff():
    # Everyone entering at 0 is right-censored data: the general path gives survdiff's
    # statistic (the hypergeometric variance is coxph's exact-ties information).
    zeros = np.zeros(len(D))
    assert logrank_test(D.time, D.event, D.group, entry=zeros)["chisq"] == \
        pytest.approx(LR["survdiff"], abs=1e-10)
    assert logrank_test(D.time, D.event, D.group, D.stratum, entry=zeros)["chisq"] == \
        pytest.approx(LR["survdiff_strata"], abs=1e-10)
