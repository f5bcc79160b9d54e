"""Cox models with delayed entry (left truncation) and case weights, against R.

Fixtures: entry_weights_reference.R beside this file (R coxph(Surv(entry, time, event)
~ ..., weights = , cluster = , ties = ), summary, drop1, survfit at given times,
cox.zph), on a simulated cohort counted from diagnosis with entry at the scan (tied
whole-month times, entries equal to other patients' exits, patients entering after the
last event of a centre, strata, clusters, non-integer weights) and R's heart transplant
data in counting-process form. Tolerances: 1e-8 relative for coefficients, log
likelihoods, tests and hazards (both fits taken to the maximum), 1e-7 for SEs.

And partial likelihoods written out by hand for four patients.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival import cox
from netpet_stats.survival._checks import DelayedEntryWarning

REF = json.loads((Path(__file__).parent / "entry_weights_reference.json").read_text())
RTOL = 1e-8
SE_RTOL = 1e-7

CONT = {"type": "continuous"}
GROUP = {"type": "categorical", "levels": ["P1", "P2-4", "P5"]}
#: Each fixture's model in this package's terms: covariates, strata, coding, entry column.
MODELS = {
    "Surv(entry, time, event) ~ x": (["x"], [], {"x": CONT}, "entry"),
    "Surv(entry, time, event) ~ x + group + strata(centre)": (
        ["x", "group"], ["centre"], {"x": CONT, "group": GROUP}, "entry"),
    "Surv(time, event) ~ x + group + strata(centre)": (
        ["x", "group"], ["centre"], {"x": CONT, "group": GROUP}, None),
    "Surv(entry, time, event) ~ age + year + surgery + transplant": (
        ["age", "year", "surgery", "transplant"], [],
        {c: CONT for c in ("age", "year", "surgery", "transplant")}, "entry"),
}


def _data(name: str) -> pd.DataFrame:
    return pd.DataFrame(REF["data"][name])


def _fit(entry, ties=None) -> cox.CoxResult:
    covs, strata, coding, entry_col = MODELS[entry["formula"]]
    with warnings.catch_warnings():
        # the cohort's patient whose entry equals their exit (tested below)
        warnings.simplefilter("ignore", DelayedEntryWarning)
        return cox.fit_cox(_data(entry["data"]), "time", "event", covs, strata, coding,
                           cluster=entry["cluster"], ties=ties or entry["ties"],
                           entry_col=entry_col, weights_col=entry["weights"])


def _id(e) -> str:
    return "-".join([e["ties"], e["data"], e["formula"].split(" ~")[0].replace(" ", "")]
                    + [f"weights({e['weights']})"] * bool(e["weights"])
                    + [f"cluster({e['cluster']})"] * bool(e["cluster"]))


FITS = [pytest.param(e, id=_id(e)) for e in REF["fits"]]
WITH_CURVES = [pytest.param(e, id=_id(e)) for e in REF["fits"] if e["survfit"] is not None]


def _test(fit, test, term="(model)"):
    row = fit.tests[(fit.tests["test"] == test) & (fit.tests["term"] == term)]
    return float(row["chisq"].iloc[0])


def _order(fit):
    """Design columns in the order of the coefficient rows (R's order)."""
    return [list(fit.design.columns).index(c) for t in fit.terms for c in t.columns]


@pytest.mark.parametrize("entry", FITS)
def test_fit_se_tests_and_drop1_equal_r(entry):
    fit = _fit(entry)
    assert fit.status == "converged"
    assert (fit.n, fit.events) == (entry["n"], entry["nevent"])
    np.testing.assert_allclose(fit.beta, entry["coef"], rtol=RTOL)
    k = fit.beta.size
    r_var = np.array(entry["var"], float).reshape(k, k)
    np.testing.assert_allclose(fit.coefficients["se"], np.sqrt(np.diag(r_var))[_order(fit)],
                               rtol=SE_RTOL)
    scale = np.sqrt(np.outer(np.diag(r_var), np.diag(r_var)))
    np.testing.assert_array_less(np.abs(np.linalg.inv(fit.information) - r_var), RTOL * scale)
    loglik = fit.tests["loglik"].iloc[0], fit.tests["loglik_null"].iloc[0]
    np.testing.assert_allclose(loglik[::-1], entry["loglik"], rtol=RTOL)
    for test, key in (("likelihood ratio", "lr"), ("Wald", "wald"), ("score (log-rank)", "score")):
        assert _test(fit, test) == pytest.approx(entry[key], rel=RTOL)
    if entry["drop1"]:
        for term, lrt in zip(entry["drop1"]["term"], entry["drop1"]["lrt"]):
            if term.startswith("strata("):      # R's drop1 of the strata: not a model term
                continue
            assert _test(fit, "likelihood ratio", term) == pytest.approx(lrt, rel=RTOL)


@pytest.mark.parametrize("entry", FITS)
def test_robust_se_is_rs_when_r_reports_one(entry):
    """R's coxph reports a robust variance with a cluster and with non-integer weights
    (each patient its own cluster), from the weighted dfbeta; not with whole-number
    weights alone."""
    fit = _fit(entry)
    if not entry["robust"]:
        assert "robust_se" not in fit.coefficients
        return
    k = fit.beta.size
    robust = np.array(entry["robust_var"], float).reshape(k, k)
    np.testing.assert_allclose(fit.coefficients["robust_se"], np.sqrt(np.diag(robust))[_order(fit)],
                               rtol=SE_RTOL)
    assert fit.coefficients["cluster"].iloc[0] == (entry["cluster"] or cox.EACH_PATIENT)


@pytest.mark.parametrize("entry", WITH_CURVES)
def test_baseline_hazard_equals_r_survfit_at_the_reference(entry):
    """H0(t) at x = 0, per stratum: R summary(survfit(fit, newdata = <x = 0>), times)."""
    fit = _fit(entry)
    sf = entry["survfit"]
    times = np.asarray(sf["time"], float)
    strata = (np.zeros(times.size, object) if sf["strata"] is None
              else np.array([s.split("=")[-1] for s in sf["strata"]], object))
    for s in pd.unique(strata):
        here = strata == s
        ours = cox.baseline_cumhaz(fit, times[here])
        if fit.stratum is not None:
            ours = ours[ours["stratum"].astype(str) == str(s)]
        np.testing.assert_allclose(ours["cumhaz"], np.asarray(sf["cumhaz"])[here], rtol=RTOL,
                                   atol=1e-14)
        np.testing.assert_allclose(np.exp(-ours["cumhaz"]), np.asarray(sf["surv"])[here],
                                   rtol=RTOL)


@pytest.mark.parametrize("entry", WITH_CURVES)
def test_ph_test_and_scaled_residuals_equal_r_cox_zph(entry):
    fit = _fit(entry)
    zph = cox.ph_test(fit, "km")
    np.testing.assert_allclose(zph["chisq"], entry["zph"]["chisq"], rtol=RTOL)
    assert zph["df"].tolist() == entry["zph"]["df"]
    np.testing.assert_allclose(cox.ph_test(fit, "rank")["chisq"], entry["zph_rank"]["chisq"],
                               rtol=RTOL)
    z = cox.zph_residuals(fit, "km")
    np.testing.assert_allclose(z.time, entry["zph"]["time"], rtol=0)
    np.testing.assert_allclose(z.x, entry["zph"]["x"], rtol=RTOL)
    want = np.array(entry["zph"]["y"], dtype=float).reshape(z.y.shape)
    np.testing.assert_allclose(z.y.to_numpy(), want, rtol=1e-7, atol=1e-8)


def test_array_level_fit_equals_the_data_frame_fit():
    e = next(f for f in REF["fits"] if f["data"] == "heart" and f["ties"] == "efron")
    d = _data("heart")
    X = d[["age", "year", "surgery", "transplant"]].to_numpy(float)
    beta, loglik, info = cox.fit_efron(d["time"], d["event"], X, entry=d["entry"])
    np.testing.assert_allclose(beta, e["coef"], rtol=RTOL)
    assert loglik == pytest.approx(e["loglik"][1], rel=RTOL)
    # the score residuals (counting process) sum to the score; at beta = 0 to R's U(0)
    zero = np.zeros(4)
    u0 = cox.efron_derivatives(d["time"], d["event"], X, zero, entry=d["entry"])[1]
    resid = cox.score_residuals(d["time"], d["event"], X, zero, entry=d["entry"])
    np.testing.assert_allclose(resid.sum(axis=0), u0, rtol=1e-10)
    contrib = cox.efron_contributions(d["time"], d["event"], X, beta, entry=d["entry"])
    np.testing.assert_allclose(contrib["score"].sum(axis=0), 0, atol=1e-8)


def test_weighted_score_residuals_sum_to_the_weighted_score():
    d = _data("cohort")
    d = d[d["entry"] < d["time"]]
    X = np.column_stack([d["x"], d["group"] == "P5"]).astype(float)
    beta = np.array([0.3, -0.2])
    for ties in ("efron", "breslow"):
        u = cox.efron_derivatives(d["time"], d["event"], X, beta, d["centre"], ties,
                                  entry=d["entry"], weights=d["w"])[1]
        resid = cox.score_residuals(d["time"], d["event"], X, beta, d["centre"], ties,
                                    entry=d["entry"], weights=d["w"])
        np.testing.assert_allclose((d["w"].to_numpy()[:, None] * resid).sum(axis=0), u,
                                   rtol=1e-10)


# ---------------------------------------------------------------------------------------
# Four patients, written out by hand
# ---------------------------------------------------------------------------------------
#
#   patient  entry  exit  event  x  weight
#   A        0      2     1      1  2
#   B        1      3     1      0  1
#   C        2      4     0      1  0.5   enters when A dies: not at risk at t = 2
#   D        0      5     1      0  1     dies alone in its risk set at t = 5
#
# Risk sets: t = 2 {A, B, D}; t = 3 {B, C, D}; t = 5 {D}. Unweighted,
#   log L(b) = [b - log(e^b + 2)] + [0 - log(1 + e^b + 1)] + [0 - log 1]
#            = b - 2 log(e^b + 2),
# U(b) = 1 - 2 e^b / (e^b + 2) = 0 at e^b = 2: b = log 2, I = 2 * 2 e^b / (e^b + 2)^2 =
# 1/2 there. No tied deaths: Efron, Breslow and exact agree. With the weights,
#   log L(b) = 2 [b - log(2 e^b + 1 + 1)] + 1 [0 - log(1 + 0.5 e^b + 1)] + 1 [0 - log 1].

HAND = pd.DataFrame({"entry": [0.0, 1, 2, 0], "time": [2.0, 3, 4, 5], "event": [1, 1, 0, 1],
                     "x": [1.0, 0, 1, 0], "w": [2, 1, 0.5, 1]})


def _hand(beta, weighted=False):
    b = float(beta)
    if not weighted:
        return (b - 2 * math.log(math.exp(b) + 2), 1 - 2 * math.exp(b) / (math.exp(b) + 2),
                4 * math.exp(b) / (math.exp(b) + 2) ** 2)
    e = math.exp(b)
    loglik = 2 * (b - math.log(2 * e + 2)) - math.log(2 + 0.5 * e)
    m1, m2 = 2 * e / (2 * e + 2), 0.5 * e / (2 + 0.5 * e)     # the weighted mean x
    return loglik, 2 * (1 - m1) - m2, 2 * m1 * (1 - m1) + m2 * (1 - m2)


@pytest.mark.parametrize("ties", ["efron", "breslow", "exact"])
@pytest.mark.parametrize("weighted", [False, True])
def test_four_patients_partial_likelihood_by_hand(ties, weighted):
    if weighted and ties == "exact":
        pytest.skip("R refuses case weights with ties = 'exact' (tested below)")
    X = HAND[["x"]].to_numpy()
    w = HAND["w"] if weighted else None
    for b in (-1.0, 0.0, 0.7, 2.0):
        ll, u, info = cox.efron_derivatives(HAND["time"], HAND["event"], X, [b], ties=ties,
                                            entry=HAND["entry"], weights=w)
        want = _hand(b, weighted)
        assert ll == pytest.approx(want[0], rel=1e-13)
        assert u[0] == pytest.approx(want[1], rel=1e-12, abs=1e-15)
        assert info[0, 0] == pytest.approx(want[2], rel=1e-12)
    beta, _, info = cox.fit_efron(HAND["time"], HAND["event"], X, ties=ties, entry=HAND["entry"],
                                  weights=w)
    if not weighted:
        assert beta[0] == pytest.approx(math.log(2), rel=1e-12)
        assert info[0, 0] == pytest.approx(0.5, rel=1e-12)
    else:                                       # R: 1.21558946586114
        assert _hand(beta[0], True)[1] == pytest.approx(0, abs=1e-12)


def test_four_patients_without_entry_differ():
    """Ignoring the entry puts C in the risk set of A's death: another likelihood."""
    X = HAND[["x"]].to_numpy()
    beta, _, _ = cox.fit_efron(HAND["time"], HAND["event"], X)
    assert abs(beta[0] - math.log(2)) > 0.1


def test_four_patients_baseline_hazard_by_hand():
    """H0 at x = 0: the deaths' weight over the weighted risk set at each death.
    Unweighted at b = log 2: 1/(2 + 2) at t = 2, 1/(1 + 2 + 1) at t = 3, 1/1 at t = 5."""
    fit = cox.fit_cox(HAND, "time", "event", ["x"], [], {"x": CONT}, entry_col="entry")
    h = cox.baseline_cumhaz(fit, [1.9, 2, 3, 4.9, 5])["cumhaz"].to_numpy()
    np.testing.assert_allclose(h, [0, 1 / 4, 1 / 4 + 1 / 4, 1 / 2, 3 / 2], rtol=1e-12)
    fitw = cox.fit_cox(HAND, "time", "event", ["x"], [], {"x": CONT}, entry_col="entry",
                       weights_col="w")
    e = math.exp(fitw.beta[0])
    h = cox.baseline_cumhaz(fitw, [2, 3, 5])["cumhaz"].to_numpy()
    np.testing.assert_allclose(h, np.cumsum([2 / (2 * e + 2), 1 / (2 + 0.5 * e), 1 / 1]),
                               rtol=1e-12)


def test_efron_with_weights_uses_the_tied_deaths_mean_weight():
    """Two deaths at t = 1 with weights 1 and 3 (R coxfit6.c): each Efron step counts
    with their mean weight 2,
      log L = 1 b + 3 * 0 - 2 [log S0 + log(S0 - D0 / 2)] + [0 - 2 log(1 e^b + 2)],
    S0 = e^b + 3 + e^b + 2 (all four at risk), D0 = e^b + 3 (the deaths)."""
    t, ev = [1.0, 1, 2, 2], [1, 1, 0, 1]
    X = np.array([[1.0], [0], [1], [0]])
    w = [1.0, 3, 1, 2]
    for b in (-0.5, 0.0, 1.0):
        e = math.exp(b)
        s0, d0 = 2 * e + 5, e + 3
        want = b - 2 * (math.log(s0) + math.log(s0 - d0 / 2)) - 2 * math.log(e + 2)
        ll = cox.efron_derivatives(t, ev, X, [b], weights=w)[0]
        assert ll == pytest.approx(want, rel=1e-13)
        breslow = b - 4 * math.log(s0) - 2 * math.log(e + 2)
        assert cox.efron_derivatives(t, ev, X, [b], ties="breslow", weights=w)[0] == \
            pytest.approx(breslow, rel=1e-13)


# ---------------------------------------------------------------------------------------
# What R refuses or leaves out
# ---------------------------------------------------------------------------------------


def test_weights_of_zero_are_refused_as_r():
    d = HAND.assign(w=[0.0, 1, 1, 1])
    with pytest.raises(ValueError, match=REF["refusals"]["zero_weight"].replace(">", ".")) as exc:
        cox.fit_cox(d, "time", "event", ["x"], [], {"x": CONT}, entry_col="entry",
                    weights_col="w")
    assert "'w'" in str(exc.value)
    with pytest.raises(ValueError, match="must be >0"):
        cox.fit_efron(d["time"], d["event"], d[["x"]].to_numpy(), weights=d["w"])


def test_exact_ties_with_weights_are_refused_as_r():
    with pytest.raises(ValueError, match=REF["refusals"]["exact_weights"]):
        cox.fit_cox(HAND, "time", "event", ["x"], [], {"x": CONT}, entry_col="entry",
                    weights_col="w", ties="exact")
    with pytest.raises(ValueError, match="not supported for the exact method"):
        cox.fit_efron(HAND["time"], HAND["event"], HAND[["x"]].to_numpy(), ties="exact",
                      weights=HAND["w"])


def test_entry_not_before_exit_is_left_out_as_r_surv():
    """R's Surv makes the row missing ('Stop time must be > start time, NA created');
    fit_cox leaves it out with a warning; the array-level fit refuses it."""
    d = _data("cohort")
    e = next(f for f in REF["fits"] if f["data"] == "cohort" and f["formula"].startswith(
        "Surv(entry") and f["ties"] == "efron" and not f["weights"] and not f["cluster"])
    covs, strata, coding, _ = MODELS[e["formula"]]
    with pytest.warns(DelayedEntryWarning, match="1 subject"):
        fit = cox.fit_cox(d, "time", "event", covs, strata, coding, entry_col="entry")
    assert fit.n == e["n"] == len(d) - 1
    with pytest.raises(ValueError, match="entry time not before their exit"):
        cox.fit_efron(d["time"], d["event"], d[["x"]].to_numpy(), entry=d["entry"])


def test_never_at_risk_patients_change_nothing():
    """Patients entering at or after the last event of their centre are never at risk:
    the fit is that without them (R's agreg.fit leaves them out of the sums)."""
    d = _data("cohort")
    d = d[d["entry"] < d["time"]]
    last = d[(d["centre"] == "C") & (d["event"] == 1)]["time"].max()
    never = (d["centre"] == "C") & (d["entry"] >= last)
    assert never.sum() == 2
    covs, strata, coding, _ = MODELS["Surv(entry, time, event) ~ x + group + strata(centre)"]
    a = cox.fit_cox(d, "time", "event", covs, strata, coding, entry_col="entry",
                    weights_col="w")
    b = cox.fit_cox(d[~never], "time", "event", covs, strata, coding, entry_col="entry",
                    weights_col="w")
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-12)
    assert a.n == b.n + 2
