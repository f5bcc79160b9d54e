"""Cox models with Breslow's and the exact method for tied times, against R.

Fixtures: ties_reference.R beside this file (R coxph(ties = "breslow" / "exact"),
summary, drop1, basehaz, cox.zph, cluster), on data with heavy ties, and the
textbook values of Klein & Moeschberger (2003) that R reproduces with Breslow's
method. Tolerance 1e-8 relative: both fits are taken to the maximum.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival import cox

REF = json.loads((Path(__file__).parent / "ties_reference.json").read_text())
RTOL = 1e-8


def _data(name: str) -> pd.DataFrame:
    return pd.DataFrame(REF["data"][name])


def _levels(*levels):
    return {"type": "categorical", "levels": list(levels)}


CONT = {"type": "continuous"}
#: Each fixture's model in this package's terms: covariates, strata, coding.
MODELS = {
    "Surv(time, event) ~ age + sex + ph_ecog": (["age", "sex", "ph_ecog"], [],
                                                {"age": CONT, "sex": CONT, "ph_ecog": CONT}),
    "Surv(time, event) ~ age + factor(ph_ecog) + strata(sex)": (
        ["age", "ph_ecog"], ["sex"], {"age": CONT, "ph_ecog": _levels("0", "1", "2", "3")}),
    "Surv(time, event) ~ group + age": (["group", "age"], [],
                                        {"group": _levels("P1", "P2-4", "P5"), "age": CONT}),
    "Surv(time, event) ~ x + group": (["x", "group"], [], {"x": CONT, "group": _levels("a", "b")}),
    "Surv(time, event) ~ stage + age": (["stage", "age"], [],
                                        {"stage": _levels("1", "2", "3", "4"), "age": CONT}),
    "Surv(time, event) ~ group": (["group"], [], {"group": _levels(
        "white female", "black male", "white male", "black female")}),
}


def _formula(entry) -> str:
    return entry["call"].split("coxph(")[1].split(", data")[0]


def _fit(entry, ties=None):
    covs, strata, coding = MODELS[_formula(entry)]
    return cox.fit_cox(_data(entry["data"]), "time", "event", covs, strata, coding,
                       cluster=entry["cluster"],
                       ties=ties or entry["ties"])


FITS = [pytest.param(e, id=f"{e['ties']}-{e['data']}-{_formula(e)}"
                     + (f"-cluster({e['cluster']})" if e["cluster"] else ""))
        for e in REF["fits"]]


def _test(fit, test, term="(model)"):
    row = fit.tests[(fit.tests["test"] == test) & (fit.tests["term"] == term)]
    return float(row["chisq"].iloc[0])


@pytest.mark.parametrize("entry", FITS)
def test_fit_tests_and_drop1_equal_r(entry):
    fit = _fit(entry)
    assert fit.status == "converged"
    np.testing.assert_allclose(fit.beta, entry["coef"], rtol=RTOL)
    var = fit.variance if fit.variance is not None else np.linalg.inv(fit.information)
    # relative to the scale of each element (sd_i sd_j): a near-zero covariance carries
    # R's stopping point (its last step, ~1e-8 of the scale) in relative terms
    r_var = np.array(entry["var"]).reshape(var.shape)
    scale = np.sqrt(np.outer(np.diag(r_var), np.diag(r_var)))
    np.testing.assert_array_less(np.abs(var - r_var), RTOL * scale)
    loglik = fit.tests["loglik"].iloc[0], fit.tests["loglik_null"].iloc[0]
    np.testing.assert_allclose(loglik[::-1], entry["loglik"], rtol=RTOL)
    for test, key in (("likelihood ratio", "lr"), ("Wald", "wald"), ("score (log-rank)", "score")):
        assert _test(fit, test) == pytest.approx(entry[key], rel=RTOL)
    covs = MODELS[_formula(entry)][0]
    if len(covs) > 1:
        for term, lrt in zip(entry["drop1"]["term"], entry["drop1"]["lrt"]):
            if term.startswith("strata("):      # R's drop1 of the strata: not a model term
                continue
            name = term.replace("factor(", "").replace(")", "")
            assert _test(fit, "likelihood ratio", name) == pytest.approx(lrt, rel=RTOL)
    name = cox.TIES_NAME[entry["ties"]]
    assert name in cox.coef_method(entry["ties"])
    assert fit.tests["method"].iloc[2].endswith(name)
    if entry["cluster"]:
        order = [list(fit.design.columns).index(c) for t in fit.terms for c in t.columns]
        robust = np.array(entry["robust_var"]).reshape(var.shape)
        np.testing.assert_allclose(fit.coefficients["robust_se"],
                                   np.sqrt(np.diag(robust))[order], rtol=RTOL)


@pytest.mark.parametrize("entry", FITS)
def test_baseline_hazard_equals_r_basehaz(entry):
    fit = _fit(entry)
    bh = entry["basehaz"]
    times = np.asarray(bh["time"], float)
    strata = (np.zeros(times.size, object) if bh["strata"] is None
              else np.array([s.split("=")[1] for s in bh["strata"]], object))
    for s in pd.unique(strata):
        here = strata == s
        ours = cox.baseline_cumhaz(fit, times[here])
        ours = ours[ours["stratum"].astype(str) == str(s)] if fit.stratum is not None else ours
        np.testing.assert_allclose(ours["cumhaz"], np.asarray(bh["hazard"])[here], rtol=RTOL)


@pytest.mark.parametrize("entry", FITS)
def test_ph_test_equals_r_cox_zph(entry):
    zph = cox.ph_test(_fit(entry), "km")
    np.testing.assert_allclose(zph["chisq"], entry["zph"]["chisq"], rtol=RTOL)
    assert zph["df"].tolist() == entry["zph"]["df"]


def test_breslow_reproduces_klein_moeschberger():
    """Table 8.1 (larynx: stage + age) and Example 8.3 (kidney transplant), Breslow."""
    book = REF["textbook"]
    larynx = next(e for e in REF["fits"] if e["data"] == "larynx" and e["ties"] == "breslow")
    fit = _fit(larynx)
    c = fit.coefficients                          # stage 2, 3, 4, then age
    np.testing.assert_allclose(c["coef"], book["larynx_table_8_1"]["coef"], atol=5e-5)
    np.testing.assert_allclose(c["se"], book["larynx_table_8_1"]["se"], atol=5e-5)
    p = np.array(book["larynx_table_8_1"]["p"], dtype=float)   # NaN: printed as < 0.0001
    np.testing.assert_allclose(c["p"][~np.isnan(p)], p[~np.isnan(p)], atol=5e-5)
    assert c["p"].iloc[2] < 1e-4
    kid = next(e for e in REF["fits"] if e["data"] == "kidtran" and e["ties"] == "breslow")
    np.testing.assert_allclose(_fit(kid).coefficients["coef"],
                               book["kidtran_example_8_3"]["coef"], atol=5e-5)
    # Efron's fit differs from the book in the fourth decimal: the method matters
    efron = _fit(kid, ties="efron").coefficients["coef"]
    assert abs(efron.iloc[0] - book["kidtran_example_8_3"]["coef"][0]) > 5e-5


def test_exact_has_no_score_residuals_hence_no_robust_se_as_r():
    """R: 'dfbeta residuals are not available for the exact method' (coxph stops)."""
    lung = _data("lung_months")
    coding = {"age": CONT, "sex": CONT}
    with pytest.raises(ValueError, match="dfbeta residuals are not available"):
        cox.fit_cox(lung, "time", "event", ["age", "sex"], [], coding, cluster="inst",
                    ties="exact")
    fit = cox.fit_cox(lung, "time", "event", ["age", "sex"], [], coding, ties="exact")
    with pytest.raises(ValueError, match="not available for ties = 'exact'"):
        cox.robust_variance(fit, lung["inst"])


def test_an_unknown_tie_method_is_refused():
    with pytest.raises(ValueError, match="ties must be one of efron, breslow, exact"):
        cox.fit_cox(_data("hand"), "time", "event", ["x"], [], {"x": CONT}, ties="Breslow")


@pytest.mark.parametrize("entry", FITS)
def test_scaled_schoenfeld_residuals_equal_r_cox_zph(entry):
    """zph$y and zph$x: the residuals' means are the risk set's (no Efron steps) for a
    Breslow or exact fit, as R's cox.zph."""
    z = cox.zph_residuals(_fit(entry), "km")
    want = np.array(entry["zph"]["y"], dtype=float).reshape(z.y.shape)
    np.testing.assert_allclose(z.x, entry["zph"]["x"], rtol=RTOL)
    np.testing.assert_allclose(z.y.to_numpy(), want, rtol=1e-7, atol=1e-8)


def test_the_frozen_models_baseline_survival_is_the_fits_breslow_one():
    """freeze() stores S0 = exp(-H0) of the fit's ties: R basehaz of the Breslow fit."""
    from netpet_stats.validation.frozen_model import freeze

    entry = next(e for e in REF["fits"] if e["data"] == "larynx" and e["ties"] == "breslow")
    covs, _, coding = MODELS[_formula(entry)]
    horizons = [2.0, 5.0]
    model = freeze(_fit(entry), coding, horizons, name="larynx", endpoint="os")
    (s0,) = model["baseline_survival"]["survival"].values()
    times, hazard = np.array(entry["basehaz"]["time"]), np.array(entry["basehaz"]["hazard"])
    want = [np.exp(-hazard[times <= h][-1]) for h in horizons]
    np.testing.assert_allclose(s0, want, rtol=RTOL)
    efron = freeze(_fit(entry, ties="efron"), coding, horizons, name="larynx", endpoint="os")
    assert not np.allclose(next(iter(efron["baseline_survival"]["survival"].values())), want,
                           rtol=1e-4)
