"""Agreement with R's survival package (fixtures from survival_reference.R beside this file).

Tolerances: estimates 1e-6 relative (the fixtures carry 15 significant digits;
Cox fits in both languages are converged to 1e-12), p-values 1e-8 absolute.
Cox coefficients are compared at 1e-6 absolute+relative because two
independent Newton-Raphson fits agree only to their convergence tolerance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival import association
from netpet_stats.survival import concordance
from netpet_stats.survival import cox
from netpet_stats.survival import kaplan_meier
from netpet_stats.survival import logrank

HERE = Path(__file__).resolve().parents[1]  # tests/
REF = json.loads((HERE / "survival" / "survival_reference.json").read_text())
DATA = HERE / "data"
ROOT = HERE.parent
RTOL = 1e-6
PTOL = 1e-8


def _synthetic() -> pd.DataFrame:
    coh = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv")
    group = coh["netpet"].map(lambda s: "P1" if s == "P1" else "P5" if s == "P5" else
                              ("P2-4" if s in ("P2", "P3", "P4", "P4a", "P4b") else None))
    frame = pd.DataFrame({
        "time_os": coh["os_months"], "event_os": coh["os_event"],
        "time_ttp": coh["ttp_months"], "event_ttp": coh["ttp_event"],
        "group": group, "grade": coh["who_grade"], "ki67": coh["ki67_percent"],
        "age": coh["age_at_diagnosis"].astype(float),
        "extrahepatic": (coh["extrahepatic_disease"] == "yes").astype(float),
        "centre": coh["centre"],
    })
    return frame[frame["group"].notna()].reset_index(drop=True)


SYN = _synthetic()
TINY = pd.read_csv(DATA / "tiny.csv")
EDGE = pd.read_csv(DATA / "edge_cases.csv")
LUNG = pd.read_csv(DATA / "lung.csv")
VET = pd.read_csv(DATA / "veteran.csv")


def _km_data(entry):
    ds, sub = entry["dataset"], entry["subset"]
    if ds == "synthetic":
        ep, g = sub.split(":")
        d = SYN[SYN["group"] == g]
        return d[f"time_{ep}"], d[f"event_{ep}"]
    if ds == "tiny":
        return TINY["time"], TINY["event"]
    if ds == "edge_cases":
        d = EDGE[EDGE["case"] == sub]
        return d["time"], d["event"]
    if ds == "lung":
        return LUNG["time"], LUNG["event"]
    if ds == "veteran":
        d = VET[VET["trt"] == 2]
        return d["time"], d["event"]
    raise KeyError(ds)


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _close(actual, expected, rtol=RTOL, atol=1e-12):
    # The fixture writer stores R's non-finite values (Inf, NaN, NA) as null.
    actual = np.asarray(actual, float)
    actual = np.where(np.isfinite(actual), actual, np.nan)
    np.testing.assert_allclose(actual, _arr(np.atleast_1d(expected)),
                               rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("entry", REF["km"], ids=lambda e: f"{e['dataset']}-{e['subset']}-{e['conf_type']}")
def test_kaplan_meier_matches_survfit(entry):
    time, event = _km_data(entry)
    curve = kaplan_meier.km_table(time, event, entry["conf_type"])
    _close(curve["time"], entry["time"])
    _close(curve["n_risk"], entry["n_risk"])
    _close(curve["n_event"], entry["n_event"])
    _close(curve["n_censor"], entry["n_censor"])
    _close(curve["surv"], entry["surv"])
    _close(curve["std_err"], entry["std_err"])
    _close(curve["lower"], entry["lower"])
    _close(curve["upper"], entry["upper"])
    q = kaplan_meier.km_quantiles(curve, entry["quantile_probs"])
    _close(q["quantile"], entry["quantile"])
    _close(q["lower"], entry["quantile_lower"])
    _close(q["upper"], entry["quantile_upper"])
    at = kaplan_meier.survival_at(curve, time, event, entry["summary_time"])
    _close(at["n_risk"], entry["summary_n_risk"])
    _close(at["surv"], entry["summary_surv"])
    _close(at["lower"], entry["summary_lower"])
    _close(at["upper"], entry["summary_upper"])


@pytest.mark.parametrize("entry", REF["reverse_km"], ids=lambda e: f"{e['dataset']}-{e['subset']}")
def test_reverse_km_follow_up(entry):
    if entry["dataset"] == "lung":
        time, event = LUNG["time"], LUNG["event"]
    else:
        ep, g = entry["subset"].split(":")
        d = SYN if g == "all" else SYN[SYN["group"] == g]
        time, event = d[f"time_{ep}"], d[f"event_{ep}"]
    fu = kaplan_meier.reverse_km_follow_up(time, event)
    _close([fu["median_follow_up"], fu["lower"], fu["upper"]],
           [entry["median"], entry["lower"], entry["upper"]])


def _lr_data(entry):
    ds, sub = entry["dataset"], entry["subset"]
    if ds == "synthetic":
        parts = sub.split(":")
        ep = parts[0]
        d = SYN
        if len(parts) == 2:
            d = SYN[SYN["group"].isin(parts[1].split("|"))]
        return d[f"time_{ep}"], d[f"event_{ep}"], d["group"], d["centre"]
    if ds == "tiny":
        return TINY["time"], TINY["event"], TINY["group"], TINY["centre"]
    if ds == "edge_cases":
        d = EDGE[EDGE["case"] == sub]
        return d["time"], d["event"], d["group"], d["centre"]
    if ds == "veteran":
        return VET["time"], VET["event"], VET["celltype"], None
    if ds == "lung":
        d = LUNG.dropna(subset=["ph_ecog"])
        return d["time"], d["event"], d["ph_ecog"].astype(int).astype(str), None
    raise KeyError(ds)


@pytest.mark.parametrize("entry", REF["logrank"],
                         ids=lambda e: f"{e['dataset']}-{e['subset']}-strat{e['stratified']}")
def test_logrank_matches_survdiff(entry):
    time, event, group, centre = _lr_data(entry)
    groups = [str(g) for g in entry["groups"]]
    group = group.astype(str)
    strata = centre if entry["stratified"] else None
    res = logrank.logrank_test(time, event, group, strata, groups)
    _close(res["chisq"], entry["chisq"])
    _close(res["p"], entry["p"], rtol=0, atol=PTOL)
    comp = res["components"]
    _close(comp.observed, entry["observed"])
    _close(comp.expected, entry["expected"])
    _close(comp.variance.ravel(), np.asarray(entry["variance"], float).ravel(), atol=1e-10)
    trend = logrank.logrank_trend_test(time, event, group, strata, groups)
    _close(trend["chisq"], entry["trend_chisq"])
    _close(trend["p"], entry["trend_p"], rtol=0, atol=PTOL)


def _cox_case(entry):
    ds, sub = entry["dataset"], entry["subset"]
    cfg = {"group": {"type": "categorical", "levels": ["P1", "P2-4", "P5"]},
           "grade": {"type": "categorical", "levels": ["G1", "G2", "G3"]},
           "age10": {"type": "continuous"}, "log2ki67": {"type": "continuous"},
           "extrahepatic": {"type": "binary"}, "centre": {"type": "categorical"},
           "x": {"type": "continuous"}, "age": {"type": "continuous"},
           "sex": {"type": "continuous"}, "ph_ecog": {"type": "continuous"}}
    if ds == "synthetic":
        ep, model = sub.split(":")
        d = SYN.copy()
        d["age10"] = d["age"] / 10
        d["log2ki67"] = np.log2(np.maximum(d["ki67"], 1))
        covs, strata = {
            "primary": (["group", "grade", "age10", "extrahepatic"], ["centre"]),
            "centre_clustered": (["group", "grade", "age10", "extrahepatic"], []),
            "ki67": (["group", "log2ki67", "age10", "extrahepatic"], ["centre"]),
            "centre_covariate": (["group", "grade", "age10", "extrahepatic", "centre"], []),
        }.get(model, ([model.removeprefix("univariable_")], []))
        return d, f"time_{ep}", f"event_{ep}", covs, strata, cfg
    if ds == "tiny":
        return TINY, "time", "event", ["x"], (["centre"] if sub == "x_strata" else []), cfg
    if ds == "lung" and sub == "age_z_strata_sex":
        lung = LUNG.dropna(subset=["ph_ecog"])
        lung = lung.assign(z=np.where(lung["sex"] == 1, 0, lung["ph_ecog"]))
        return lung, "time", "event", ["age", "z"], ["sex"], {**cfg, "z": {"type": "continuous"}}
    if ds == "lung":
        if sub == "age_sex_ecog":
            return LUNG, "time", "event", ["age", "sex", "ph_ecog"], [], cfg
        if sub == "age_sex_ecog_cluster_inst":
            return LUNG.dropna(subset=["inst"]), "time", "event", ["age", "sex", "ph_ecog"], [], cfg
        return LUNG.dropna(subset=["inst"]), "time", "event", ["age", "sex"], ["inst"], cfg
    raise KeyError(ds)


@pytest.mark.parametrize("entry", REF["cox"], ids=lambda e: f"{e['dataset']}-{e['subset']}")
def test_cox_matches_coxph(entry):
    d, tcol, ecol, covs, strata, cfg = _cox_case(entry)
    res = cox.fit_cox(d, tcol, ecol, covs, strata, cfg, cluster=entry.get("cluster"))
    if entry.get("cluster"):
        _close(res.coefficients["robust_se"], entry["robust_se"])
    assert res.n == entry["n"] and res.events == entry["nevent"]
    _close(res.coefficients["coef"], entry["coef"], rtol=1e-6, atol=1e-7)
    _close(res.coefficients["se"], entry["se"], rtol=1e-6)
    _close(res.coefficients["p"], entry["p"], rtol=1e-6, atol=PTOL)
    tests = res.tests.set_index(["test", "term"])
    _close(tests.loc[("likelihood ratio", "(model)"), "chisq"], entry["lrt"])
    _close(tests.loc[("Wald", "(model)"), "chisq"], entry["wald"])
    _close(tests.loc[("score (log-rank)", "(model)"), "chisq"], entry["score"])
    _close([tests["loglik_null"].iloc[0], tests["loglik"].iloc[0]], entry["loglik"])
    if len(covs) > 1:
        got = [tests.loc[("likelihood ratio", c), "chisq"] for c in covs]
        _close(got, entry["drop1_lrt"], rtol=1e-6, atol=1e-8)
    # proportional-hazards tests, as cox.zph (per term, then GLOBAL)
    for zph in entry["zph"]:
        got = cox.ph_test(res, zph["transform"])
        _close(got["chisq"], zph["chisq"], rtol=1e-6)
        _close(got["df"], zph["df"])
        _close(got["p"], zph["p"], rtol=1e-6, atol=PTOL)
    # scaled Schoenfeld residuals and the smooth plot(cox.zph) draws
    if entry.get("zph_residuals"):
        ref = entry["zph_residuals"]
        terms = [ref["terms"]] if isinstance(ref["terms"], str) else ref["terms"]
        z = cox.zph_residuals(res, "km")
        assert list(z.y.columns) == terms
        want = np.column_stack([np.array([np.nan if v is None else v for v in np.ravel(col)],
                                         float) for col in ref["y"]])
        got = z.y.to_numpy()

        def canonical(time, y):   # events by time, then residuals (R sorts strata by level)
            keys = [np.nan_to_num(np.round(y[:, j], 6), nan=1e9) for j in range(y.shape[1])]
            return np.lexsort([*keys[::-1], np.asarray(time)])
        i_got, i_want = canonical(z.time, got), canonical(ref["time"], want)
        _close(z.time[i_got], np.asarray(ref["time"])[i_want])
        _close(z.x[i_got], np.asarray(ref["x"])[i_want])
        assert (np.isnan(got[i_got]) == np.isnan(want[i_want])).all()
        ok = ~np.isnan(want[i_want])
        _close(got[i_got][ok], want[i_want][ok], rtol=1e-6, atol=1e-8)
        _close(z.var, np.reshape(ref["var"], z.var.shape), rtol=1e-6)
        for sm in ref["smooth"]:
            line = cox.zph_smooth(z, sm["term"])
            for key in ("x", "estimate", "lower", "upper"):
                _close(line[key], sm[key], rtol=1e-6, atol=1e-8)
    # concordance of the fitted linear predictor, as R's fit$concordance
    lp = cox.linear_predictor(res)
    c = concordance.harrell_c(res.frame["__time"], res.frame["__event"], lp,
                              strata=res.stratum, reverse=True)
    _close([c["estimate"], c["se"]], [entry["concordance"], entry["concordance_se"]])


def _conc_data(entry):
    ds, sub = entry["dataset"], entry["subset"]
    if ds == "synthetic":
        ep, what = sub.split(":")
        d = SYN
        codes = {"P1": 1, "P2-4": 2, "P5": 3, "G1": 1, "G2": 2, "G3": 3}
        if what.startswith("netpet_group"):
            x = d["group"].map(codes)
        elif what == "grade":
            d = d.dropna(subset=["grade"])
            x = d["grade"].map(codes)
        else:
            d = d.dropna(subset=["ki67"])
            x = d["ki67"]
        strata = d["centre"] if what.endswith("by_centre") else None
        return d[f"time_{ep}"], d[f"event_{ep}"], x, strata
    if ds == "tiny":
        return TINY["time"], TINY["event"], TINY["x"], TINY["centre"] if "centre" in sub else None
    if ds == "lung":
        return LUNG["time"], LUNG["event"], LUNG["age"], None
    if ds == "veteran":
        return VET["time"], VET["event"], -VET["karno"], None
    raise KeyError(ds)


@pytest.mark.parametrize("entry", REF["concordance"], ids=lambda e: f"{e['dataset']}-{e['subset']}")
def test_concordance_matches_r(entry):
    time, event, x, strata = _conc_data(entry)
    ymax = entry["ymax"]
    res = concordance.harrell_c(time, event, x, strata=strata, reverse=True, ymax=ymax)
    _close(res["estimate"], entry["c"])
    _close(res["se"], entry["se"])
    count = entry["count"]
    _close([res["concordant"], res["discordant"], res["tied_x"]],
           [count["concordant"], count["discordant"], count["tied.x"]])


@pytest.mark.parametrize("entry", REF["association"], ids=lambda e: e["subset"])
def test_association_matches_r(entry):
    table = np.asarray(entry["table"], dtype=int)
    exact = association.fisher_exact_rxc(table)
    assert "exact" in exact["method"] and "Monte Carlo" not in exact["method"]
    _close(exact["p"], entry["fisher_p"], rtol=1e-6, atol=1e-12)
    from scipy import stats
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    _close([chi2, p], [entry["chisq"], entry["chisq_p"]])


@pytest.mark.parametrize("entry", REF["concordance_weighted"],
                         ids=lambda e: f"{e['dataset']}-{e['subset']}")
def test_uno_and_clustered_concordance_match_r(entry):
    ds, sub = entry["dataset"], entry["subset"]
    if ds == "synthetic":
        ep, what = sub.split(":")
        d = SYN.dropna(subset=["ki67"]) if what == "ki67" else SYN
        x = d["ki67"] if what == "ki67" else d["group"].map({"P1": 1, "P2-4": 2, "P5": 3})
        time, event, centre = d[f"time_{ep}"], d[f"event_{ep}"], d["centre"]
    elif ds == "tiny":
        time, event, x, centre = TINY["time"], TINY["event"], TINY["x"], TINY["centre"]
    else:
        time, event, x, centre = LUNG["time"], LUNG["event"], LUNG["age"], None
    estimator = {"n": concordance.harrell_c, "n/G2": concordance.uno_c}[entry["timewt"]]
    res = estimator(time, event, x, reverse=True,
                    strata=centre if entry["stratified"] else None,
                    cluster=centre if entry["clustered"] else None, ymax=entry["ymax"])
    _close([res["estimate"], res["se"]], [entry["c"], entry["se"]])


@pytest.mark.parametrize("entry", REF["concordance_comparison"], ids=lambda e: e["subset"])
def test_concordance_comparison_matches_r(entry):
    ep, what = entry["subset"].split(":")
    d = SYN.dropna(subset=["grade"]).reset_index(drop=True)
    t, e = d[f"time_{ep}"], d[f"event_{ep}"]
    if what == "netpet_group_vs_grade":
        first = concordance.harrell_c(t, e, d["group"].map({"P1": 1, "P2-4": 2, "P5": 3}))
        second = concordance.harrell_c(t, e, d["grade"].map({"G1": 1, "G2": 2, "G3": 3}))
    else:
        cfg = {"group": {"type": "categorical", "levels": ["P1", "P2-4", "P5"]},
               "grade": {"type": "categorical", "levels": ["G1", "G2", "G3"]}}
        fits = [cox.fit_cox(d, f"time_{ep}", f"event_{ep}", covs, ["centre"], cfg)
                for covs in (["group", "grade"], ["grade"])]
        first, second = (concordance.harrell_c(f.frame["__time"], f.frame["__event"],
                                               cox.linear_predictor(f), strata=f.stratum)
                         for f in fits)
    cmp = concordance.compare_c(first, second)
    var = np.asarray(entry["var"])
    _close([first["estimate"], second["estimate"]], entry["c"])
    _close([first["se"] ** 2, second["se"] ** 2, cmp["covariance"]],
           [var[0, 0], var[1, 1], var[0, 1]])
    _close(cmp["se"], np.sqrt(var[0, 0] + var[1, 1] - 2 * var[0, 1]))


GENERIC = pd.read_csv(DATA / "generic_cases.csv")


@pytest.mark.parametrize("entry", REF["generic"], ids=lambda e: e["case"])
def test_generic_cases_match_r(entry):
    """Edge cases, whole-month ties and colon through every estimator."""
    d = GENERIC[GENERIC["case"] == entry["case"]].reset_index(drop=True)
    d["group"] = d["group"].astype(str)
    groups = [str(g) for g in entry["groups"]]
    for km in entry["km"]:
        sub = d[d["group"] == str(km["group"])]
        curve = kaplan_meier.km_table(sub["time"], sub["event"], "log-log")
        _close(curve["surv"], km["surv"])
        _close(curve["lower"], km["lower"])
        _close(curve["upper"], km["upper"])
        q = kaplan_meier.km_quantiles(curve).iloc[0]
        _close([q["quantile"], q["lower"], q["upper"]],
               [km["median"], km["median_lower"], km["median_upper"]])
    _close(logrank.logrank_test(d["time"], d["event"], d["group"], None, groups)["chisq"],
           entry["logrank_chisq"])
    _close(logrank.logrank_test(d["time"], d["event"], d["group"], d["centre"], groups)["chisq"],
           entry["logrank_strat_chisq"])
    _close(logrank.logrank_trend_test(d["time"], d["event"], d["group"], None, groups)["chisq"],
           entry["trend_chisq"])
    cfg = {"x": {"type": "continuous"}, "centre": {"type": "categorical"}}
    for strata, coef, se in ((["centre"], "cox_strat_coef", "cox_strat_se"),
                             ([], "cox_coef", "cox_se")):
        res = cox.fit_cox(d, "time", "event", ["x"], strata, cfg)
        _close(res.coefficients["coef"], entry[coef], rtol=1e-6)
        _close(res.coefficients["se"], entry[se], rtol=1e-6)
    c = concordance.harrell_c(d["time"], d["event"], d["x"])
    _close([c["estimate"], c["se"]], [entry["c"], entry["c_se"]])
    c = concordance.harrell_c(d["time"], d["event"], d["x"], strata=d["centre"])
    _close([c["estimate"], c["se"]], [entry["c_strat"], entry["c_strat_se"]])
    c = concordance.uno_c(d["time"], d["event"], d["x"])
    _close([c["estimate"], c["se"]], [entry["uno_c"], entry["uno_se"]])
    plain = cox.fit_cox(d, "time", "event", ["x"], [], cfg)
    _close(cox.ph_test(plain, "km")["chisq"].iloc[0], entry["zph_km"])
    strat = cox.fit_cox(d, "time", "event", ["x"], ["centre"], cfg)
    _close(cox.ph_test(strat, "rank")["chisq"].iloc[0], entry["zph_strat_rank"])
    fu = kaplan_meier.reverse_km_follow_up(d["time"], d["event"])
    _close([fu["median_follow_up"], fu["lower"], fu["upper"]], entry["follow_up"])
    tests = logrank.logrank_tests(d["time"], d["event"], d["group"], groups)
    pairwise = tests[tests["test"] == "pairwise log-rank"]
    _close(pairwise["p"], entry["pairwise_p"], rtol=1e-6, atol=PTOL)
    _close(pairwise["p_adjusted"], entry["pairwise_holm"], rtol=1e-6, atol=PTOL)


# ------------------------------------------------------------------ R's time fix (aeqSurv)

TIMEFIX = REF["timefix"]


def test_noise_level_time_differences_are_ties_as_in_r():
    """Every other lung time times (1 + 1e-12): every estimator as R, i.e. as the exact data."""
    d = pd.DataFrame({"time": TIMEFIX["noisy"]})
    lung = LUNG.dropna(subset=["time", "event", "age", "sex"]).reset_index(drop=True)
    d["event"], d["age"], d["sex"] = lung["event"], lung["age"], lung["sex"]
    assert (d["time"] != lung["time"]).sum() > 50          # the noise is there
    km = kaplan_meier.km_table(d["time"], d["event"])
    _close(km["time"], TIMEFIX["km_time"])
    _close(km["surv"], TIMEFIX["km_surv"])
    _close(km["surv"], TIMEFIX["exact"]["km_surv"])
    lr = logrank.logrank_test(d["time"], d["event"], d["sex"])
    _close(lr["chisq"], TIMEFIX["logrank_chisq"])
    fit = cox.fit_cox(d, "time", "event", ["age", "sex"], [],
                      {"age": {"type": "continuous"}, "sex": {"type": "continuous"}})
    _close(fit.beta, TIMEFIX["cox_coef"])
    c = concordance.harrell_c(d["time"], d["event"], d["age"])
    _close([c["estimate"], c["se"]], [TIMEFIX["c"], TIMEFIX["c_se"]])


def test_an_event_a_hair_after_a_censoring_is_tied_with_it():
    # an event at 5.000000000001 and a censoring at 5: one time, 5, with the event
    # counted before the censoring leaves (R survfit: times 3, 5, 8)
    km = kaplan_meier.km_table(TIMEFIX["hand_time"], TIMEFIX["hand_event"])
    _close(km["time"], TIMEFIX["hand_km_time"])
    _close(km["surv"], TIMEFIX["hand_km_surv"])
    _close(km["n_risk"], TIMEFIX["hand_km_n_risk"])


# ------------------------------------------------------------------ degenerate models


def test_a_level_without_events_out_of_iterations_is_not_called_infinite():
    """A level without events whose fit runs out of iterations: R says only that.

    R (survival 3.5-3), coxph(Surv(time, event) ~ g + x): "Ran out of iterations and did
    not converge" (no variable named); coef -23.82944995873068 and -1.23501377270002,
    vcov diag(338306595, 0.6921109) (the information's diagonal, inverted), loglik
    -8.37101068123816, -2.01669573861846; without x (for drop1) "Loglik converged
    before variable 1; coefficient may be infinite", loglik -4.09434456436482.
    """
    d = pd.DataFrame({"time": range(1, 11), "event": [1, 1, 1, 0, 1, 0, 0, 0, 0, 0],
                      "g": list("aaaaabbbbb"), "x": [1, 3, 2, 5, 4, 2, 3, 1, 4, 5]})
    with pytest.warns(cox.CoxConvergenceWarning) as caught:
        fit = cox.fit_cox(d, "time", "event", ["g", "x"], [],
                          {"g": {"type": "categorical"}, "x": {"type": "continuous"}})
    messages = [str(w.message) for w in caught]
    assert messages[0] == "g + x: ran out of iterations and did not converge (20 iterations, as R coxph)"
    assert caught[0].category is cox.CoxNonConvergenceWarning
    assert "coefficient of g[b] may be infinite" in messages[1]   # the model without x
    assert fit.status == "not converged"
    coefs = fit.coefficients.set_index("term")
    assert coefs["note"].str.startswith("the fit did not converge").all()
    assert coefs[["z", "p", "hr_lower", "hr_upper"]].isna().all().all()
    np.testing.assert_allclose(coefs["coef"], [-23.82944995873068, -1.23501377270002],
                               rtol=1e-6)
    np.testing.assert_allclose(coefs["se"] ** 2, [338306595, 0.6921109], rtol=1e-6)
    tests = fit.tests.set_index(["test", "term"])
    np.testing.assert_allclose(tests[["loglik_null", "loglik"]].iloc[0],
                               [-8.37101068123816, -2.01669573861846], rtol=1e-9)
    assert tests.loc[("likelihood ratio", "(model)"), "chisq"] == pytest.approx(
        2 * (-2.01669573861846 + 8.37101068123816), rel=1e-9)
    assert tests.loc[("likelihood ratio", "x"), "chisq"] == pytest.approx(
        2 * (-2.01669573861846 + 4.09434456436482), rel=1e-9)
    assert np.isnan(tests.loc[("Wald", "(model)"), "chisq"])


def test_one_centre_leaves_the_centre_term_out_and_refuses_a_one_cluster_se():
    d = pd.DataFrame({"time": range(1, 11), "event": [1, 0, 1, 1, 0, 1, 1, 0, 1, 1],
                      "x": [1, 3, 2, 5, 4, 2, 3, 1, 4, 5], "centre": ["A"] * 10})
    cfg = {"x": {"type": "continuous"}, "centre": {"type": "categorical"}}
    fit = cox.fit_cox(d, "time", "event", ["x", "centre"], [], cfg, cluster="centre")
    assert fit.coefficients["term"].tolist() == ["x"]
    left_out = fit.tests[fit.tests["test"] == "term left out"]
    assert left_out["term"].tolist() == ["centre"] and (left_out["df"] == 0).all()
    alone = cox.fit_cox(d, "time", "event", ["x"], [], cfg)
    assert fit.beta == pytest.approx(alone.beta, rel=1e-12)
    assert np.isnan(fit.coefficients["robust_se"]).all()      # R: ~1e-15 and p = 0
    assert "robust SE from 1 cluster(s) of centre" in fit.coefficients["note"].iloc[0]


def test_a_stratum_without_events_has_a_baseline_of_zero_and_is_not_dropped():
    """R: survfit(coxph(Surv ~ x + strata(s)), newdata = x = 0) gives S = 1 in that stratum."""
    d = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6, 7, 8.0], "event": [1, 0, 1, 1, 0, 0, 0, 0],
                      "x": [2, 1, 3, 2, 4, 2, 3, 1], "s": list("AAAABBBB")})
    fit = cox.fit_cox(d, "time", "event", ["x"], ["s"], {"x": {"type": "continuous"}})
    at = cox.baseline_cumhaz(fit, at=[2.0, 6.0])
    assert at[at["stratum"] == "B"]["cumhaz"].tolist() == [0.0, 0.0]
    every = cox.baseline_cumhaz(fit)
    assert every[every["stratum"] == "B"][["time", "cumhaz"]].values.tolist() == [[0.0, 0.0]]
    # stratum A alone: the same H0 as a model fitted without stratum B's censorings
    a_only = cox.fit_cox(d[d["s"] == "A"], "time", "event", ["x"], [],
                         {"x": {"type": "continuous"}})
    np.testing.assert_allclose(every[every["stratum"] == "A"]["cumhaz"],
                               cox.baseline_cumhaz(a_only)["cumhaz"], rtol=1e-12)


def test_out_of_iterations_on_a_flat_likelihood_is_said_so_not_an_error():
    """R: 'Ran out of iterations and did not converge' (coef -18.7665837400484, loglik
    -7.07581193637452e-09): a warning, the coefficient not called infinite."""
    d = pd.DataFrame({"time": [1, 2, 3, 4.0], "event": [1, 0, 1, 1], "x": [1, 3, 2, 5]})
    with pytest.warns(cox.CoxNonConvergenceWarning, match="did not converge"):
        fit = cox.fit_cox(d, "time", "event", ["x"], [], {"x": {"type": "continuous"}})
    assert fit.beta[0] == pytest.approx(-18.7665837400484, rel=1e-6)
    assert fit.coefficients["note"].iloc[0].startswith("the fit did not converge")
    assert fit.tests.set_index("test").loc["likelihood ratio", "chisq"] == pytest.approx(
        2 * (-7.07581193637452e-09 + 2.07944154167984), rel=1e-9)
