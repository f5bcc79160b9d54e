"""Cox models at the edges, against R (fixture: cox_edges_reference.R beside this file).

* ``cox.zph``'s per-stratum rules: a centre with a single patient (R counts none of its
  events in the strata groups that scale the residuals, so the rows after it are scaled
  by the next centre's information) and a factor with a level absent from a centre (R
  counts the whole factor as used there when any of its columns varies).
* Where ``coxph``'s Newton-Raphson stops with R's default control (eps = 1e-9, iter.max
  = 20, toler.inf = sqrt(eps)): a coefficient that may be infinite, unstratified and
  stratified, and a fit that runs out of iterations without naming a variable.

Tolerances: 1e-6 relative (R's values carry 15 significant digits; at a stopping point
both languages evaluate the same iterate, so the agreement is that of the arithmetic);
p-values 1e-8 absolute.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import netpet_stats
from netpet_stats.survival import cox

REF = json.loads((Path(__file__).with_name("cox_edges_reference.json")).read_text())
CASES = {case["name"]: case for case in REF["cases"]}
CODING = {"x": {"type": "continuous"}, "w": {"type": "continuous"},
          "h": {"type": "continuous"}, "g": {"type": "categorical"},
          "centre": {"type": "categorical"}}
RTOL = 1e-6
PTOL = 1e-8


def _arr(values):
    return np.array([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=float)


def _close(actual, expected, rtol=RTOL, atol=1e-10):
    np.testing.assert_allclose(np.asarray(actual, float), _arr(expected), rtol=rtol, atol=atol,
                               equal_nan=True)


def _strata(case):
    strata = case.get("strata")
    return [strata] if isinstance(strata, str) else list(strata or [])


def _covariates(case):
    covs = case["covariates"]
    return [covs] if isinstance(covs, str) else list(covs)


def _fit(case):
    """fit_cox on the case's data, through the public API, with its warnings."""
    data = pd.DataFrame(case["data"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = netpet_stats.fit_cox(data, "time", "event", _covariates(case), _strata(case),
                                   CODING)
    # the model's own warning (those of the models refitted for each term's likelihood-ratio
    # test, as R's drop1 refits them, say so)
    return fit, [w for w in caught if issubclass(w.category, cox.CoxConvergenceWarning)
                 and "likelihood-ratio test of" not in str(w.message)]


def _r_flagged(case):
    """The coefficients R's warning names ("Loglik converged before variable 4 ; ...")."""
    warn = [w for w in np.atleast_1d(case["warnings"]) if "Loglik converged" in w]
    if not warn:
        return []
    numbers = warn[0].split("variable")[1].split(";")[0]
    names = np.atleast_1d(case["coef_names"])
    return [names[int(k) - 1] for k in numbers.split(",")]


FIT_CASES = list(CASES)


@pytest.mark.parametrize("name", FIT_CASES)
def test_the_fit_stops_where_coxph_stops(name):
    case = CASES[name]
    fit, caught = _fit(case)
    coefs = fit.coefficients
    _close(coefs["coef"], case["coef"])
    _close(coefs["se"], case["se"])
    _close(fit.variance, np.reshape(case["var"], fit.variance.shape), atol=0)
    tests = fit.tests.set_index(["test", "term"])
    _close([tests["loglik_null"].iloc[0], tests["loglik"].iloc[0]], case["loglik"], atol=1e-12)
    _close(tests.loc[("likelihood ratio", "(model)"), "chisq"], case["lrt"])
    _close(tests.loc[("score (log-rank)", "(model)"), "chisq"], case["score"])
    covs = _covariates(case)
    if len(covs) > 1:
        _close([tests.loc[("likelihood ratio", c), "chisq"] for c in covs], case["drop1_lrt"])
    if not case["warnings"]:
        _close(tests.loc[("Wald", "(model)"), "chisq"], case["wald"])
        assert fit.status == "converged" and fit.iterations == case["iter"]
        assert not caught and (coefs["note"] == "").all()


@pytest.mark.parametrize("name", [n for n in CASES if _r_flagged(CASES[n])])
def test_a_coefficient_flagged_as_r_flags_it_may_be_infinite(name):
    """R: 'Loglik converged before variable k; coefficient may be infinite'."""
    case = CASES[name]
    fit, caught = _fit(case)
    flagged = _r_flagged(case)
    names = list(np.atleast_1d(case["coef_names"]))
    columns = [list(fit.design.columns)[names.index(f)] for f in flagged]
    assert fit.status == "infinite" and fit.iterations == case["iter"]
    assert len(caught) == 1 and issubclass(caught[0].category, cox.CoxConvergenceWarning)
    assert not issubclass(caught[0].category, cox.CoxNonConvergenceWarning)
    assert f"coefficient of {', '.join(columns)} may be infinite" in str(caught[0].message)
    coefs = fit.coefficients.assign(column=list(fit.design.columns)).set_index("column")
    infinite = coefs["note"].str.startswith("coefficient may be infinite")
    assert sorted(coefs.index[infinite]) == sorted(columns)
    assert coefs.loc[columns, ["z", "p", "hr_lower", "hr_upper"]].isna().all().all()
    finite = coefs[~infinite]
    assert finite[["z", "p", "hr_lower", "hr_upper"]].notna().all().all()


@pytest.mark.parametrize("name", [n for n in CASES
                                  if "Ran out of iterations" in " ".join(np.atleast_1d(
                                      CASES[n]["warnings"]))])
def test_out_of_iterations_is_said_so_not_called_infinite(name):
    """R: 'Ran out of iterations and did not converge', no variable named; its SEs are the
    inverse of the information's diagonal, which is what R reports."""
    case = CASES[name]
    assert not _r_flagged(case)
    fit, caught = _fit(case)
    assert fit.status == "not converged" and fit.iterations == 20
    assert [w.category for w in caught] == [cox.CoxNonConvergenceWarning]
    assert "did not converge" in str(caught[0].message)
    assert "infinite" not in str(caught[0].message)
    notes = fit.coefficients["note"]
    assert notes.str.startswith(cox.NOT_CONVERGED_NOTE_START).all()
    assert not notes.str.contains("infinite").any()
    _close(np.diag(fit.variance), 1 / np.diag(fit.information))
    tests = fit.tests.set_index(["test", "term"])
    assert np.isnan(tests.loc[("Wald", "(model)"), "chisq"])
    assert "did not converge" in tests.loc[("Wald", "(model)"), "method"]


#: At the stopping point of the perfectly ordered events (coefficients 26 and 4) every
#: risk set is one patient with probability 1 - 1e-9: the information, ~1e-8, is a
#: difference of numbers near 1 that loses nine digits in either language, and the test
#: statistics (~1e-4, p = 0.999) agree to about 1e-2 relative; R's own value is one
#: rounding among others (p-values to 1e-5). Everything else agrees to 1e-6.
ZPH_CHISQ_RTOL = {"out_of_iterations": 2e-2}
ZPH_P_ATOL = {"out_of_iterations": 1e-5}


@pytest.mark.parametrize("name", [n for n in CASES if CASES[n].get("zph_error") is None])
def test_ph_test_and_scaled_residuals_match_cox_zph(name):
    case = CASES[name]
    fit, _ = _fit(case)
    for zph in case["zph"]:
        got = cox.ph_test(fit, zph["transform"])
        _close(got["chisq"], zph["chisq"], rtol=ZPH_CHISQ_RTOL.get(name, RTOL))
        _close(got["df"], zph["df"])
        _close(got["p"], zph["p"], atol=ZPH_P_ATOL.get(name, PTOL))
    ref = case["zph_residuals"]
    z = netpet_stats.zph_residuals(fit, "km")
    terms = list(np.atleast_1d(ref["terms"]))
    assert list(z.y.columns) == terms
    # the events in R's order: by stratum (R's level order), then time
    _close(z.time, ref["time"])
    _close(z.x, ref["x"])
    if isinstance(ref.get("strata"), list):
        labels = np.asarray(fit.stratum, dtype=object)
        assert [str(s) for s in z.stratum_label] == list(np.atleast_1d(ref["strata"]))
        assert set(labels) >= set(z.stratum_label)
    want = np.column_stack([_arr(col) for col in ref["y"]])
    _close(z.y.to_numpy(), want, atol=1e-8)
    _close(z.var, np.reshape(ref["var"], z.var.shape))
    for sm in ref["smooth"]:
        line = netpet_stats.zph_smooth(z, sm["term"])
        for key in ("x", "estimate", "lower", "upper"):
            _close(line[key], sm[key], atol=1e-8)


def test_a_one_patient_centre_keeps_its_event_as_r_does():
    """R's cox.zph counts no event of centre B (nothing varies there): B's event gets the
    next centre's scaling and keeps a value; the last event of C is left unscaled."""
    case = CASES["one_patient_centre"]
    fit, _ = _fit(case)
    z = cox.zph_residuals(fit, "km")
    in_b = np.flatnonzero(np.asarray(z.stratum_label) == "B")
    assert in_b.size == 1 and np.isfinite(z.y.iloc[in_b[0]]).all()
    # its raw residual is 0, so its value is the coefficient (x) and 1 (the factor g)
    _close(z.y.iloc[in_b[0]], [fit.beta[0], 1.0], atol=1e-10)


def test_a_level_absent_from_a_centre_leaves_the_factor_used_there():
    case = CASES["level_missing_in_centre"]
    fit, _ = _fit(case)
    z = cox.zph_residuals(fit, "km")
    in_c = np.asarray(z.stratum_label) == "C"
    assert in_c.any() and np.isfinite(z.y["g"].to_numpy()[in_c]).all()


def test_ph_test_is_not_reported_where_cox_zph_stops():
    """R's cox.zph stops ('system is computationally singular') at this stopping point:
    the tests are not reported rather than computed from a singular matrix."""
    case = CASES["out_of_iterations_one_covariate"]
    assert "singular" in case["zph_error"]
    fit, _ = _fit(case)
    got = cox.ph_test(fit, "km")
    assert got["chisq"].isna().all() and got["p"].isna().all()
    assert got["method"].str.contains("singular").all()


def test_the_cox_step_writes_the_non_convergence_and_infinite_notes(tmp_path):
    """The rule's coefficient table carries R's wording; its residual table is written."""
    from netpet_stats.steps.cox import ph_residual_table

    for name, start in (("out_of_iterations", cox.NOT_CONVERGED_NOTE_START),
                        ("infinite_binary_stratified", "coefficient may be infinite")):
        fit, _ = _fit(CASES[name])
        assert fit.coefficients["note"].str.startswith(start).any()
        table = ph_residual_table(fit, "km", points=False, threshold=5)
        smooth = table[table["kind"] == "smooth"]
        assert len(smooth) == 40 * len(fit.design.columns)    # one panel per coefficient
    # where cox.zph stops, nothing is drawn (the smooth not estimable), and no error
    fit, _ = _fit(CASES["out_of_iterations_one_covariate"])
    table = ph_residual_table(fit, "km", points=True, threshold=5)
    assert set(table["kind"]) == {"smooth"} and table["estimate"].isna().all()
    fit, _ = _fit(CASES["one_patient_centre"])
    ph = cox.ph_test(fit, "km").assign(method=cox.ZPH_SINGULAR_METHOD)
    table = ph_residual_table(fit, "km", points=True, threshold=5, ph=ph)
    assert set(table["kind"]) == {"smooth"} and table["estimate"].isna().all()


# ------------------------------------------------------------------ R's rule by hand


class _Recorded:
    """A log likelihood with its derivatives, recording where it is evaluated."""

    def __init__(self, f, design=None):
        self.f, self.design, self.points = f, design, []

    def __call__(self, b):
        self.points.append(float(b[0]))
        return self.f(b[0])


def test_a_step_that_lowers_the_likelihood_is_pulled_back_as_coxfit6_does():
    # l(b) = -log(cosh(b - 2)) - 1: from 0 the Newton step overshoots to sinh(2) cosh(2) =
    # 13.6; R pulls the point back to (new + k beta) / (k + 1) after the k-th successive
    # fall: to 6.8 (still below l(0)), then to 6.8 / 3
    def f(b):
        return (-np.log(np.cosh(b - 2)) - 1, np.array([-np.tanh(b - 2)]),
                np.array([[1 / np.cosh(b - 2) ** 2]]))

    rec = _Recorded(f)
    fit = cox.coxph_newton(rec, np.zeros(1))
    first = np.sinh(2) * np.cosh(2)                   # beta + I^-1 U at 0
    assert f(first)[0] < f(0.0)[0] and f(first / 2)[0] < f(0.0)[0] < f(first / 6)[0]
    assert rec.points[:4] == pytest.approx([0.0, first, first / 2, first / 6], rel=1e-15)
    assert fit.status == "converged" and fit.beta[0] == pytest.approx(2.0, abs=1e-6)


def test_out_of_iterations_returns_the_last_accepted_point_and_the_diagonal_variance():
    # l(b) = -exp(-b) rises to 0: each Newton step is exactly 1 and the relative change
    # of l stays 1 - e; after 20 iterations R returns b = 20 with variance 1 / I(20).
    # A design (60, 0) has R's centred linear predictor 60 * 20 - 30 * 20 = 600 > 500:
    # R adds "one or more coefficients may be infinite".
    def f(b):
        return -np.exp(-b), np.array([np.exp(-b)]), np.array([[np.exp(-b)]])

    rec = _Recorded(f, design=np.array([[60.0], [0.0]]))
    fit = cox.coxph_newton(rec, np.zeros(1), means=np.array([30.0]))
    assert fit.status == "not converged" and fit.iterations == 20 and fit.large
    assert fit.beta[0] == 20.0 and rec.points[-1] == 20.0   # re-evaluated there
    assert fit.variance[0, 0] == pytest.approx(np.exp(20.0), rel=1e-12)
    small = cox.coxph_newton(_Recorded(f, design=np.array([[1.0], [0.0]])), np.zeros(1),
                             means=np.zeros(1))
    assert not small.large
    with pytest.warns(cox.CoxNonConvergenceWarning,
                      match="did not converge.*one or more coefficients may be infinite"):
        cox._warn_status(fit, "", stacklevel=1)
