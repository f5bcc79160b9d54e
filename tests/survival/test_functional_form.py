"""Likelihood-ratio test of non-linearity by a restricted cubic spline.

Truth: tests/survival/functional_form_reference.R (R survival coxph with splines::ns
on the same knots; anova).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival.functional_form import nonlinearity_test

DATA = Path(__file__).resolve().parents[1] / "data"
REF = json.loads(Path(__file__).with_name("functional_form_reference.json").read_text())


def _check(res, ref):
    np.testing.assert_allclose(res["knots"], ref["knots"], rtol=1e-12)
    assert res["df"] == ref["df"] and res["n"] == ref["n"]
    assert res["loglik_linear"] == pytest.approx(ref["loglik_linear"], rel=1e-9)
    assert res["loglik_spline"] == pytest.approx(ref["loglik_spline"], rel=1e-9)
    assert res["chisq"] == pytest.approx(ref["chisq"], rel=1e-6)
    assert res["p"] == pytest.approx(ref["p"], rel=1e-6)


def test_a_scaled_covariate_in_a_stratified_model_matches_r():
    d = pd.read_csv(DATA / "lung.csv").dropna(subset=["time", "event", "sex", "age", "inst"])
    d["site"] = pd.cut(d["inst"], [-np.inf, 5, 12, np.inf], labels=["a", "b", "c"]).astype(str)
    coding = {"age": {"type": "continuous", "scale": 10}, "sex": {"type": "continuous"}}
    res = nonlinearity_test(d, "time", "event", ["age", "sex"], ["site"], coding, "age")
    _check(res, REF["lung_age"])


def test_a_log2_covariate_is_tested_on_the_models_scale():
    d = pd.read_csv(DATA / "rotterdam.csv")
    coding = {"nodes": {"type": "continuous", "transform": "log2", "floor": 1},
              "age": {"type": "continuous"}, "hormon": {"type": "binary"}}
    res = nonlinearity_test(d, "rfs_time", "rfs_event", ["nodes", "age", "hormon"], [],
                            coding, "nodes")
    _check(res, REF["rotterdam_nodes"])


def test_too_few_distinct_values_for_the_knots_is_not_estimable():
    d = pd.DataFrame({"t": np.arange(1.0, 41.0), "e": [1, 0] * 20,
                      "x": [1.0, 1.0, 2.0, 1.0] * 10})
    res = nonlinearity_test(d, "t", "e", ["x"], [], {"x": {"type": "continuous"}}, "x")
    assert np.isnan(res["chisq"]) and res["note"].startswith("not estimable")
    with pytest.raises(ValueError, match="not continuous"):
        nonlinearity_test(d, "t", "e", ["x"], [], {"x": {"type": "binary"}}, "x")


def test_a_fit_without_term_tests_is_the_same_fit_without_drop1_rows():
    from netpet_stats.survival.cox import fit_cox

    d = pd.read_csv(DATA / "lung.csv").dropna(subset=["time", "event", "sex", "age", "ph_ecog"])
    coding = {"age": {"type": "continuous"}, "sex": {"type": "continuous"},
              "ph_ecog": {"type": "continuous"}}
    full = fit_cox(d, "time", "event", ["age", "sex", "ph_ecog"], [], coding)
    bare = fit_cox(d, "time", "event", ["age", "sex", "ph_ecog"], [], coding, term_tests=False)
    pd.testing.assert_frame_equal(full.coefficients, bare.coefficients)
    per_term = full.tests["term"] != "(model)"
    assert per_term.sum() == 3 and (bare.tests["term"] == "(model)").all()
    pd.testing.assert_frame_equal(full.tests[~per_term].reset_index(drop=True),
                                  bare.tests.reset_index(drop=True))
