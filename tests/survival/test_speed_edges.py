"""The fast paths of the speed changes at hostile but plausible inputs, against R.

Fixture: speed_edges_reference.R beside this file (R coxph, concordance, aeqSurv and
quantile.survfit; the data of each case are in the JSON). What each fast path risks:

* Efron's tied deaths read through five scalar sums (the compiled loop and its numpy
  twin, both run here): every subject dying at one time, ~30 deaths and ~20 censorings
  at each of five times (with cox.zph), one death sharing its time with censorings,
  strata with non-integer case weights, delayed entry, a covariate offset by 10^6,
  scaled by 10^6 or 10^-7 (refused as singular before 90cdcb6), 1 + 10^-7 z (refused,
  or its variance off R's, until the sums were of centred covariates, as R's), 100 +
  10^-5 z (step halving failed before then), or nearly collinear with another;
* the strata numbered in mixed radix: text with missing values, whole numbers and
  logicals, the same text from 1 and "1", a category never used; values equal in
  Python but printed apart (1 and 1.0), in any order of the rows;
* HarrellPairs (the bootstraps' C) at tied times and predictors, ``ymax`` at an event
  time and below every time, no comparable pair, one and two subjects;
* the time fix's whole-number pass near 1/tol = 2^26;
* quantiles read off confidence curves with missing points (R's rule at a missing
  last point).

Tolerances: 1e-6 relative for coefficients and variances (both fits are taken to the
maximum; the nearly collinear pair's variances are ~10^5 times its coefficients'
scale), 1e-10 for log likelihoods, exact for counts and times.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival import _numpy_kernels, cox

REF = json.loads((Path(__file__).with_name("speed_edges_reference.json")).read_text())
KERNELS = [pytest.param(float("inf"), id="numpy"), pytest.param(0.0, id="compiled")]


def _arr(values):
    return np.array([np.nan if v is None else v for v in np.atleast_1d(values)], float)


def _use_kernel(monkeypatch, budget):
    """The numpy twins (budget left) or the compiled loops (budget spent)."""
    monkeypatch.setattr(_numpy_kernels, "_spent", 0.0)
    monkeypatch.setattr(_numpy_kernels, "BUDGET_SECONDS", budget)


def _cox_inputs(case):
    d = pd.DataFrame(REF["data"][case["data"]])
    # formed here by the same double operations as R (not read back from 15 digits)
    d["big"] = 1e6 + d["x1"]
    d["huge"] = 1e6 * d["x1"]
    d["tiny"] = 1e-7 * d["x1"]
    d["offtiny"] = 1 + 1e-7 * d["x1"]
    d["off100"] = 100 + 1e-5 * d["x1"]
    formula = case["formula"]
    return (d["time"].to_numpy(float), d["event"].to_numpy(float),
            d[case["xcols"]].to_numpy(float),
            d["g"].to_numpy() if "strata(g)" in formula else None,
            d["start"].to_numpy(float) if "Surv(start" in formula else None,
            d["w"].to_numpy(float) if case["weights"] else None)


@pytest.mark.parametrize("budget", KERNELS)
@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c['ties']}-{c['name']}")
                                  for c in REF["cox"]])
def test_tied_deaths_fit_as_r_coxph(case, budget, monkeypatch):
    _use_kernel(monkeypatch, budget)
    time, event, X, strata, entry, weights = _cox_inputs(case)
    # every case fits, 1 + 1e-7 z too: the sums are of centred covariates, as R's
    fit = cox.coxph_fit(time, event, X, strata, ties=case["ties"], entry=entry,
                        weights=weights)
    p = X.shape[1]
    want_var = _arr(case["naive_var"]).reshape(p, p)
    np.testing.assert_allclose(fit.beta, case["coef"], rtol=1e-6,
                               atol=1e-6 * np.sqrt(np.diag(want_var)).min())
    assert fit.loglik == pytest.approx(case["loglik"][1], rel=1e-10)
    # a covariate offset by 10^6 with unit spread too (summed about 0 before, its
    # variance was 1e-4 off R's)
    np.testing.assert_allclose(np.linalg.inv(fit.information), want_var, rtol=1e-6)


@pytest.mark.parametrize("budget", KERNELS)
@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c['ties']}-{c['name']}")
                                  for c in REF["cox"] if "zph_chisq" in c])
def test_per_time_sums_give_r_cox_zph(case, budget, monkeypatch):
    """The per-time score and information (written once per time by the five sums, and
    by the one-death path where a death shares its time with censorings) give R's
    cox.zph(transform = "km") statistics."""
    _use_kernel(monkeypatch, budget)
    d = pd.DataFrame(REF["data"][case["data"]])
    spec = {c: {"type": "continuous"} for c in case["xcols"]}
    fit = cox.fit_cox(d, "time", "event", case["xcols"], [], spec, ties=case["ties"])
    np.testing.assert_allclose(cox.ph_test(fit, "km")["chisq"], case["zph_chisq"], rtol=1e-6)


def _curve(time, surv, lower, upper):
    return pd.DataFrame({"time": _arr(time), "surv": _arr(surv), "lower": _arr(lower),
                         "upper": _arr(upper)})


def _assert_quantiles(got, case, where=""):
    for column, key in (("quantile", "quantile"), ("lower", "lower_q"), ("upper", "upper_q")):
        np.testing.assert_array_equal(got[column].to_numpy(float), _arr(case[key]),
                                      err_msg=f"{where}{column}")


@pytest.mark.parametrize("case", [pytest.param(c, id=c["conf_type"])
                                  for c in REF["quantiles"]["curves"]])
def test_quantiles_of_a_curve_reaching_zero_equal_r(case):
    """The last patient dies (S = 0): every limit is missing there. With the plain
    interval the lower limit is 0 on the flat before it, so 1 - lower reaches 1 only
    on a flat that ends at the missing point: R gives no quantile at p = 1 (its
    last-point rule needs a last point that is not missing), not the flat's midpoint."""
    from netpet_stats.survival.kaplan_meier import km_quantiles, km_table

    q = REF["quantiles"]
    curve = km_table(q["time"], q["event"], conf_type=case["conf_type"])
    np.testing.assert_allclose(curve["lower"], _arr(case["lower"]), rtol=1e-12, atol=1e-15)
    _assert_quantiles(km_quantiles(curve, q["probs"]), case)


def test_quantiles_of_curves_with_missing_points_equal_r():
    """60 made-up curves read by R's quantile.survfit: flats at exactly a probability,
    upper limits that rise again (the per-curve path), and missing points in the
    middle, at the end, from a point on, and before a value seen already (R's
    duplicated() keeps one NA, which is then the last point: curve 48)."""
    from netpet_stats.survival.kaplan_meier import km_quantiles

    probs = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1]
    for i, case in enumerate(REF["quantiles"]["made_up"]):
        curve = _curve(case["time"], case["surv"], case["lower"], case["upper"])
        _assert_quantiles(km_quantiles(curve, probs), case, f"curve {i}: ")


def _strata_variants():
    """The strata data of the fixture as R has them, and as a user's frame may hold the
    same strata: text and numbers mixed in one column (10 and "10" are one level, as
    the text of every row made them), numbers as floats, a category never used,
    logicals as objects."""
    d = pd.DataFrame(REF["strata"]["data"])
    d["a"] = d["a"].astype(object).where(d["a"].notna(), None)
    mixed = d.copy()
    mixed["a"] = [int(v) if v in ("10", "9") and i % 2 else v for i, v in enumerate(d["a"])]
    cat = d.copy()
    cat["a"] = pd.Categorical(d["a"], categories=["10", "9", "B", "a", "never"])
    cat["b"] = d["b"].astype(float)
    cat["c"] = d["c"].astype(object)
    return {"as R": d, "mixed text and numbers": mixed, "categories and floats": cat}


@pytest.mark.parametrize("budget", KERNELS)
@pytest.mark.parametrize("name", list(_strata_variants()))
def test_three_strata_columns_with_missing_text_fit_as_r(name, budget, monkeypatch):
    """R coxph(Surv(time, event) ~ x + strata(a, b, c)): a text column with missing
    values (the rows left out, n = 278), whole numbers and logicals; 24 strata."""
    _use_kernel(monkeypatch, budget)
    ref = REF["strata"]
    d = _strata_variants()[name]
    res = cox.fit_cox(d, "time", "event", ["x"], ["a", "b", "c"], {"x": {"type": "continuous"}})
    assert res.n == ref["n"]
    np.testing.assert_allclose(res.beta, ref["coef"], rtol=1e-6)
    np.testing.assert_allclose(res.variance, _arr(ref["var"]).reshape(1, 1), rtol=1e-6)
    complete = d[d["a"].notna()]
    # numbered in R's order of the levels (C locale), by mixed radix and by the rows
    np.testing.assert_array_equal(cox.stratum_codes(complete, ["a", "b", "c"]) + 1,
                                  ref["stratum"])


@pytest.mark.parametrize("budget", KERNELS)
@pytest.mark.parametrize("case", [pytest.param(c, id=c["name"]) for c in REF["concordance"]])
def test_harrell_pairs_at_the_edges_equal_r_concordance(case, budget, monkeypatch):
    """R concordance(Surv(time, event) ~ x, reverse = TRUE, timewt = "n", ymax = ):
    tied times and predictors, ymax at an event time and below every time, a constant
    predictor, no event, two subjects. One subject: R refuses it (no pairs); both give
    NaN here. Counted by the numpy twin and by the compiled pair_totals."""
    from netpet_stats.survival.concordance import HarrellPairs, harrell_c

    _use_kernel(monkeypatch, budget)
    time, event, x = (np.atleast_1d(_arr(case[k])) for k in ("time", "event", "x"))
    want = float(_arr(case["estimate"])[0])
    got = HarrellPairs(time, event, ymax=case["ymax"]).estimate(x)
    res = harrell_c(time, event, x, ymax=case["ymax"])
    if "count" in case:
        assert [res["concordant"], res["discordant"], res["tied_x"]] == case["count"]
    if np.isnan(want):
        assert np.isnan(got) and np.isnan(res["estimate"])
    else:
        assert got == pytest.approx(want, rel=1e-14)
        assert got == res["estimate"]


@pytest.mark.parametrize("case", REF["timefix"], ids=lambda c: str(c["time"]))
def test_time_fix_equals_r_aeqsurv(case):
    """aeqSurv(Surv(time, event)): whole numbers below 2^26 pass as given (the one-pass
    path), 2^26 and 2^26 + 1 alone are tied (relative difference 1 / 2^26.5), as are
    10^8 and 10^8 + 1, but not beside a small time that lowers the mean of |y|;
    noise-level differences are tied. The same from integer input."""
    from netpet_stats.survival._checks import timefix

    time = np.array(case["time"], float)
    np.testing.assert_array_equal(timefix(time), np.array(case["fixed"], float))
    if (np.floor(time) == time).all():
        np.testing.assert_array_equal(timefix(time.astype(np.int64)),
                                      np.array(case["fixed"], float))


def test_values_equal_in_python_but_not_in_text_are_levels_by_their_text_in_any_order():
    """An object column holding 1, 1.0 and True: hashing finds them equal, their text
    differs. The strata and the dummy columns are those of each row's text, whatever
    the order of the rows (they followed whichever came first); 0.0 and -0.0 are one
    level, "0.0", as R reads -0 as 0."""
    rng = np.random.default_rng(8)
    values = [1, 1.0, True, "1", "1.0", 2, 0.0, -0.0, "a"]
    col = pd.Series([values[i] for i in rng.integers(0, len(values), 400)], dtype=object)
    texts = col.map(lambda v: v + 0.0 if isinstance(v, float) else v).astype(str)
    by_text = np.unique(texts, return_inverse=True)[1].ravel()
    by_type = np.argsort(col.map(lambda v: type(v).__name__), kind="stable")
    for order in (np.arange(col.size), rng.permutation(col.size), by_type):
        data = pd.DataFrame({"s": col.to_numpy()[order]})
        np.testing.assert_array_equal(cox.stratum_codes(data, ["s"]), by_text[order])
        X, terms = cox.design_matrix(data, ["s"], {"s": {"type": "categorical"}})
        text = texts.to_numpy()[order]
        assert terms[0].reference == "0.0"        # the first level as text sorts
        assert terms[0].levels == ["1", "1.0", "2", "True", "a"]
        for level in terms[0].levels:
            np.testing.assert_array_equal(X[f"s[{level}]"], (text == level).astype(float))


def _signed_zero_cohort():
    """A 0/1 covariate whose zeros are partly -0.0 (np.round(-0.2) gives -0.0)."""
    rng = np.random.default_rng(4)
    n = 60
    g = rng.integers(0, 2, n).astype(float)
    g[(g == 0) & (rng.random(n) < 0.5)] = -0.0
    t = rng.integers(1, 30, n).astype(float)
    e = (rng.random(n) < 0.7).astype(float)
    return pd.DataFrame({"t": t, "e": e, "g": g,
                         "x": np.random.default_rng(1).normal(size=n)})


def test_a_zero_is_one_level_and_one_stratum_whatever_its_sign():
    """R reads -0 as 0: factor(g) has the levels 0 and 1, strata(g) two strata. Values
    from R 4.2.2, survival 3.5-3, on these rows (written with 17 digits):
    coef(coxph(Surv(t, e) ~ factor(g))) 0.08932546 and
    coef(coxph(Surv(t, e) ~ x + strata(g))) 0.1995486293. Table 1 counts both zeros."""
    from netpet_stats.survival.cox import fit_cox
    from netpet_stats.survival.table_one import table_one

    d = _signed_zero_cohort()
    fit = fit_cox(d, "t", "e", ["g"], [], {"g": {"type": "categorical"}})
    assert fit.coefficients["level"].tolist() == ["1.0"]
    assert fit.beta[0] == pytest.approx(0.08932546, rel=1e-6)
    fit = fit_cox(d, "t", "e", ["x"], ["g"], {"x": {"type": "continuous"}})
    assert fit.beta[0] == pytest.approx(0.1995486293, rel=1e-8)
    tab = table_one(d.assign(grp="all"), "grp", ["g"], [])
    zero = tab[tab["level"].astype(str).str.startswith("0")]
    assert len(zero) == 1 and zero["Overall"].iloc[0].startswith(f"{int((d.g == 0).sum())} ")


def test_fit_cox_fixes_the_times_once_as_r():
    """R's time fix is not idempotent: once a run of near-equal times is tied, the mean
    magnitude grows and a second pass can tie two times R keeps apart (100 and
    100 + 0.9e-6 here). fit_cox fixes them once, as R's coxph: R 4.2.2, survival 3.5-3,
    coef(coxph(Surv(t, e) ~ x)) on these rows 0.0985186296 (0.0125730 when fixed twice)."""
    from netpet_stats.survival.cox import fit_cox

    t = np.r_[0.001 + np.arange(1000) * 1e-9, 100.0, 100.0 + 0.9e-6, 50.0]
    x = np.random.default_rng(0).normal(size=t.size)
    e = np.zeros(t.size)
    e[-3:] = 1
    e[:5] = 1
    d = pd.DataFrame({"t": t, "e": e, "x": x})
    fit = fit_cox(d, "t", "e", ["x"], [], {"x": {"type": "continuous"}})
    assert fit.beta[0] == pytest.approx(0.0985186296, rel=1e-8)
