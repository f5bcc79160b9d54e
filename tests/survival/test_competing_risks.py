"""Competing risks against R (fixtures from competing_risks_reference.R beside this file).

mgus2 with the endpoint of survival's competing-risks vignette: progression to a
plasma cell malignancy (1) or death first (2). Aalen-Johansen against
``survfit``, Gray's test against ``cmprsk::cuminc``, Fine-Gray against
``coxph`` on ``finegray`` data. Plus a hand example and the subject-by-subject
influence computation that the closed-form variance replaces.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival.competing_risks import (EVENT_FREE, aalen_johansen,
                                                   cumulative_incidence_at, fine_gray,
                                                   gray_test)

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "competing_risks_reference.json").read_text())
MGUS2 = pd.read_csv(HERE.parent / "data" / "mgus2.csv")
LABELS = {1: "pcm", 2: "death"}
STATES = [EVENT_FREE, "pcm", "death"]


def _numeric(matrix) -> np.ndarray:
    return pd.DataFrame(matrix).apply(pd.to_numeric, errors="coerce").to_numpy(float)


def _compare_aj(case: str, table: pd.DataFrame) -> None:
    ref = REF["aalen_johansen"][case]
    strata = np.array(ref["strata"])
    pstate, se = np.array(ref["pstate"]), np.array(ref["std_err"])
    lower, upper = _numeric(ref["lower"]), _numeric(ref["upper"])
    for label in pd.unique(strata):
        rows = strata == label
        group = label.split("=")[-1] if "=" in label else "all"
        for j, state in enumerate(STATES):
            part = table[(table.group.astype(str) == group) & (table.state == state)]
            np.testing.assert_array_equal(part.time, np.array(ref["time"])[rows])
            np.testing.assert_allclose(part.estimate, pstate[rows, j], rtol=0, atol=1e-10)
            np.testing.assert_allclose(part.std_err, se[rows, j], rtol=0, atol=1e-10)
            np.testing.assert_allclose(part.lower, lower[rows, j], rtol=0, atol=1e-10)
            np.testing.assert_allclose(part.upper, upper[rows, j], rtol=0, atol=1e-10)
        np.testing.assert_array_equal(
            table[(table.group.astype(str) == group) & (table.state == EVENT_FREE)].n_risk,
            np.array(ref["n_risk"])[rows])


@pytest.mark.parametrize("case,group,conf_type", [
    ("by_sex", "sex", "log"), ("all", None, "log"), ("loglog", "agegrp", "log-log")])
def test_aalen_johansen_equals_survfit(case, group, conf_type):
    table = aalen_johansen(MGUS2.etime, MGUS2.event, None if group is None else MGUS2[group],
                           cause_labels=LABELS, conf_type=conf_type)
    _compare_aj(case, table)


def test_aalen_johansen_applies_the_time_fix():
    time = REF["aalen_johansen"]["timefix"]["perturbed_time"]
    assert len(np.unique(time)) > len(np.unique(MGUS2.etime))  # the perturbation is real
    _compare_aj("timefix", aalen_johansen(time, MGUS2.event, MGUS2.sex, cause_labels=LABELS))


def test_aalen_johansen_se_where_the_incidence_reaches_one_is_zero_as_r():
    # Group "a": everyone not censored progresses, the last at the last time, so the
    # incidence reaches 1 and its variance is 0. R's influence sum gives 2e-17 and a
    # lower limit of 1; the variance written as a quadratic in F(t) gave 1e-8 (the
    # square root of rounding noise) and a lower limit of 0.99999998.
    near = pd.DataFrame(REF["aalen_johansen"]["near_one"]["data"])
    table = aalen_johansen(near.time, near.cause, near.group, cause_labels=LABELS)
    _compare_aj("near_one", table)
    last = table[(table.group == "a") & (table.state == "pcm")].iloc[-1]
    assert last.estimate == pytest.approx(1.0, abs=1e-15)
    assert last.std_err <= 1e-15
    assert last.lower == pytest.approx(1.0, abs=1e-15)


def test_aalen_johansen_is_identical_across_runs_and_row_orders():
    first = aalen_johansen(MGUS2.etime, MGUS2.event, MGUS2.sex)
    again = aalen_johansen(MGUS2.etime, MGUS2.event, MGUS2.sex)
    shuffled = MGUS2.sample(frac=1.0, random_state=11)
    other = aalen_johansen(shuffled.etime, shuffled.event, shuffled.sex)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, other)


def test_aalen_johansen_by_hand():
    # Seven subjects. At 1 (7 at risk) cause 1; at 2 (6) cause 2 and a censoring;
    # at 3 (4) cause 1; at 4 (3) a censoring; at 5 (2) cause 2; at 6 (1) a censoring.
    # S = 6/7, 6/7 * 5/6 = 5/7, 5/7 * 3/4 = 15/28, 15/28, 15/28 * 1/2 = 15/56.
    # F1 = 1/7, 1/7, 1/7 + 5/7 * 1/4 = 9/28 thereafter.
    # F2 = 0, 6/7 * 1/6 = 1/7, 1/7, 1/7, 1/7 + 15/28 * 1/2 = 23/56.
    table = aalen_johansen([1, 2, 2, 3, 4, 5, 6], [1, 2, 0, 1, 0, 2, 0])[lambda d: d.time <= 5]
    est = {s: table[table.state == s].estimate.to_numpy() for s in (EVENT_FREE, "1", "2")}
    np.testing.assert_allclose(est[EVENT_FREE], [6 / 7, 5 / 7, 15 / 28, 15 / 28, 15 / 56])
    np.testing.assert_allclose(est["1"], [1 / 7, 1 / 7, 9 / 28, 9 / 28, 9 / 28])
    np.testing.assert_allclose(est["2"], [0, 1 / 7, 1 / 7, 1 / 7, 23 / 56])
    total = sum(est.values())
    np.testing.assert_allclose(total, 1.0)


def _influence_se(time, cause):
    """R survfitCI's recursion, subject by subject: U(t) = U(t-) (1 - dL) - p(t-) dL_i."""
    time, cause = np.asarray(time, float), np.asarray(cause, int)
    causes = sorted(set(cause[cause > 0]))
    n = time.size
    p = np.zeros(1 + len(causes))
    p[0] = 1.0
    U = np.zeros((n, 1 + len(causes)))
    out = []
    for s in np.unique(time):
        risk = time >= s
        nr = risk.sum()
        dl = np.array([((time == s) & (cause == k)).sum() / nr for k in causes])
        # influence of each subject on each cause's hazard increment
        dli = np.column_stack([(((time == s) & (cause == k)) - risk * dl[j]) / nr
                               for j, k in enumerate(causes)])
        new_u = U.copy()
        new_u[:, 0] = U[:, 0] * (1 - dl.sum()) - p[0] * dli.sum(axis=1)
        new_u[:, 1:] = U[:, 1:] + U[:, [0]] * dl + p[0] * dli
        p = np.concatenate([[p[0] * (1 - dl.sum())], p[1:] + p[0] * dl])
        U = new_u
        out.append(np.sqrt((U ** 2).sum(axis=0)))
    return np.array(out)


def test_closed_form_variance_equals_the_influence_recursion():
    rng = np.random.default_rng(3)
    time = rng.integers(1, 15, 60).astype(float)      # many ties
    cause = rng.choice([0, 1, 2, 3], 60, p=[0.3, 0.3, 0.3, 0.1])
    time[-3:] = 20.0                                  # everyone left dies at the end
    cause[-3:] = [1, 2, 2]
    table = aalen_johansen(time, cause)
    expected = _influence_se(time, cause)
    for j, state in enumerate([EVENT_FREE, "1", "2", "3"]):
        got = table[table.state == state].std_err.to_numpy()
        np.testing.assert_allclose(got, expected[:, j], rtol=0, atol=1e-13)


def test_cumulative_incidence_at_reads_the_step_function():
    table = aalen_johansen(MGUS2.etime, MGUS2.event, MGUS2.sex, cause_labels=LABELS)
    at = cumulative_incidence_at(table, [0.5, 120.0, 1e6])
    pcm_f = table[(table.group == "F") & (table.state == "pcm")]
    row = pcm_f[pcm_f.time <= 120].iloc[-1]
    got = at[(at.group == "F") & (at.state == "pcm")].set_index("time")
    assert got.loc[0.5, "estimate"] == 0.0
    assert got.loc[120.0, "estimate"] == row.estimate
    assert got.loc[1e6, "estimate"] == pcm_f.estimate.iloc[-1]


@pytest.mark.parametrize("case,kwargs", [
    ("by_sex", {"group": "sex"}), ("by_agegrp", {"group": "agegrp"}),
    ("stratified", {"group": "agegrp", "strata": "centre"}),
    ("rho1", {"group": "sex", "rho": 1.0})])
def test_gray_test_equals_cuminc(case, kwargs):
    ref = REF["gray"][case]
    args = {k: (MGUS2[v] if isinstance(v, str) else v) for k, v in kwargs.items()}
    for k, (stat, p, df) in enumerate(zip(ref["stat"], ref["p"], ref["df"]), start=1):
        res = gray_test(MGUS2.etime, MGUS2.event, event_of_interest=k, **args)
        assert res.statistic == pytest.approx(stat, rel=1e-8, abs=1e-8)
        assert res.df == df
        assert res.p_value == pytest.approx(p, abs=1e-8)


def test_gray_test_compares_the_times_as_given_as_cuminc_does():
    # cmprsk::cuminc applies no time fix: times 1e-12 apart in relative terms (the
    # 12th digit) are distinct there, and the statistic moves (1.2018 against 1.1945
    # for progression). survfit's aeqSurv would tie them and give the unperturbed value.
    time = REF["aalen_johansen"]["timefix"]["perturbed_time"]
    ref, plain = REF["gray"]["timefix"], REF["gray"]["by_sex"]
    for k, (stat, p) in enumerate(zip(ref["stat"], ref["p"]), start=1):
        assert abs(stat - plain["stat"][k - 1]) > 1e-3          # the perturbation matters
        res = gray_test(time, MGUS2.event, MGUS2.sex, event_of_interest=k)
        assert res.statistic == pytest.approx(stat, rel=1e-8, abs=1e-8)
        assert res.p_value == pytest.approx(p, abs=1e-8)


def test_gray_test_does_not_depend_on_the_group_order_or_labels():
    a = gray_test(MGUS2.etime, MGUS2.event, MGUS2.agegrp)
    relabel = MGUS2.agegrp.map({"<60": "z", "60-75": "a", ">75": "m"})
    b = gray_test(MGUS2.etime, MGUS2.event, relabel)
    assert a.statistic == pytest.approx(b.statistic, rel=1e-12)


@pytest.mark.parametrize("case,cause,strata", [
    ("pcm", 1, None), ("death", 2, None), ("pcm_strata", 1, "centre")])
def test_fine_gray_equals_coxph_on_finegray_data(case, cause, strata):
    ref = REF["fine_gray"][case]
    X = np.column_stack([(MGUS2.sex == "M").astype(float), MGUS2.age])
    fit = fine_gray(MGUS2.etime, MGUS2.event, X, event_of_interest=cause,
                    strata=None if strata is None else MGUS2[strata], names=["sexM", "age"])
    np.testing.assert_allclose(fit.beta, ref["coef"], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fit.variance, np.array(ref["var"]), rtol=1e-8)
    np.testing.assert_allclose(fit.naive_variance, np.array(ref["naive_var"]), rtol=1e-8)
    np.testing.assert_allclose(fit.loglik, ref["loglik"], rtol=1e-10)
    np.testing.assert_allclose(fit.coefficients.se_robust, np.sqrt(np.diag(ref["var"])),
                               rtol=1e-8)


def test_fine_gray_without_competing_events_is_the_cox_model():
    # No competing events: the subdistribution risk set is the ordinary risk set.
    from netpet_stats.survival.cox import fit_efron
    d = MGUS2[MGUS2.event != 2]
    X = d[["age"]].to_numpy(float)
    fg = fine_gray(d.etime, d.event, X)
    beta, ll, info = fit_efron(d.etime, d.event, X)
    np.testing.assert_allclose(fg.beta, beta, rtol=1e-10)
    np.testing.assert_allclose(fg.loglik[1], ll, rtol=1e-12)


def test_inputs_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="cause.*0 \\(censored\\)"):
        aalen_johansen([1, 2], [1, -1])
    with pytest.raises(ValueError, match="lengths differ"):
        aalen_johansen([1, 2], [1])
    with pytest.raises(ValueError, match="missing"):
        aalen_johansen([1, np.nan], [1, 0])
    with pytest.raises(ValueError, match="two groups"):
        gray_test([1, 2], [1, 0], ["a", "a"])


def test_a_fine_gray_coefficient_that_may_be_infinite_is_flagged():
    # no progression at all where x = 1: the subdistribution HR of x tends to 0
    rng = np.random.default_rng(4)
    x = np.repeat([0.0, 1.0], 60)
    t = rng.exponential(10, 120).round(2) + 0.01
    cause = np.where(x == 1, rng.choice([0, 2], 120), rng.choice([0, 1, 2], 120))
    from netpet_stats.survival.cox import CoxConvergenceWarning
    with pytest.warns(CoxConvergenceWarning, match="may be infinite"):
        fit = fine_gray(t, cause, x[:, None], names=["x"])
    row = fit.coefficients.iloc[0]
    assert row.coef < -5 and row.note.startswith("coefficient may be infinite")
    assert np.isnan(row.p) and np.isnan(row.lower)


# A hand-made cohort for the Fine-Gray derivatives: tied events of interest (three at
# t = 4, two at t = 7), competing events tied with them and with censorings, a
# censoring at an event time, and one covariate far from zero (as age is).
FG_T = np.array([2, 3, 4, 4, 4, 4, 5, 5, 6, 7, 7, 7, 7, 8, 9, 9, 10, 11, 12, 12], float)
FG_C = np.array([2, 1, 1, 1, 1, 2, 2, 0, 1, 1, 1, 0, 2, 2, 1, 0, 2, 1, 0, 1])
FG_X = np.column_stack([
    [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1],
    [61, 55, 70, 48, 66, 59, 72, 50, 63, 58, 69, 45, 67, 52, 74, 60, 57, 65, 49, 71]]).astype(float)


def _fine_gray_by_hand(t, c, X, beta):
    """Log likelihood, score and information from the expanded risk sets, term by term.

    Independent of the implementation: the censoring Kaplan-Meier by its product
    (events leave before censorings at a tie), each event time's risk set with its
    weights written out (1 while event-free; G(s-)/G(T_i-) after a competing event),
    and Efron's tie steps with the second moments summed over subjects directly.
    """
    def G_before(s):      # prod over censoring times u < s of (1 - censored / at risk)
        g = 1.0
        for u in np.unique(t[(c == 0) & (t < s)]):
            g *= 1 - np.sum((c == 0) & (t == u)) / np.sum((t > u) | ((t == u) & (c == 0)))
        return g

    r = np.exp(X @ beta)
    p = X.shape[1]
    ll, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    for s in np.unique(t[c == 1]):
        w = np.array([1.0 if t[i] >= s else
                      G_before(s) / G_before(t[i]) if c[i] == 2 else 0.0
                      for i in range(t.size)])
        dead = (t == s) & (c == 1)
        d = dead.sum()
        ll += float((X[dead] @ beta).sum())
        score += X[dead].sum(axis=0)
        for ell in range(d):
            wr = w * r - (ell / d) * dead * r
            den = wr.sum()
            mean = (wr[:, None] * X).sum(axis=0) / den
            second = sum(wr[i] * np.outer(X[i], X[i]) for i in range(t.size)) / den
            ll -= np.log(den)
            score -= mean
            info += second - np.outer(mean, mean)
    return ll, score, info


def test_fine_gray_information_equals_the_expanded_risk_sets_by_hand():
    # The information is computed as X' diag(r q) X less the outer products of the
    # means (one weight per subject); here it is summed risk set by risk set instead.
    from netpet_stats.survival.competing_risks import _FineGrayData
    beta = np.array([0.4, -0.03])
    ll, score, info = _FineGrayData(FG_T, FG_C, FG_X, 1).evaluate(beta)
    ll_hand, score_hand, info_hand = _fine_gray_by_hand(FG_T, FG_C, FG_X, beta)
    assert ll == pytest.approx(ll_hand, rel=1e-13)
    np.testing.assert_allclose(score, score_hand, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(info, info_hand, rtol=1e-11)
    np.testing.assert_array_equal(info, info.T)
    # and the information is minus the derivative of the score (central differences)
    h = 1e-5
    numeric = np.column_stack([
        (_FineGrayData(FG_T, FG_C, FG_X, 1).evaluate(beta + h * e)[1]
         - _FineGrayData(FG_T, FG_C, FG_X, 1).evaluate(beta - h * e)[1]) / (2 * h)
        for e in np.eye(2)])
    np.testing.assert_allclose(info, -numeric, rtol=1e-6)


def test_fine_gray_residuals_follow_the_callers_order_and_add_up_to_the_score():
    from netpet_stats.survival.competing_risks import _FineGrayData
    beta = np.array([0.4, -0.03])
    ll, score, info, u = _FineGrayData(FG_T, FG_C, FG_X, 1).evaluate(beta, residuals=True)
    np.testing.assert_allclose(u.sum(axis=0), score, rtol=1e-10, atol=1e-10)
    shuffle = np.random.default_rng(7).permutation(FG_T.size)
    ll2, score2, info2, u2 = _FineGrayData(FG_T[shuffle], FG_C[shuffle], FG_X[shuffle],
                                           1).evaluate(beta, residuals=True)
    np.testing.assert_allclose(u2, u[shuffle], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(info2, info, rtol=1e-12)
