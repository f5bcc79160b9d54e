"""Two concordance indices compared on the same pairs; the added value's LR test.

Truth: tests/steps/concordance_comparison_reference.R (R survival concordance, anova).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival import concordance, cox
from netpet_stats.steps import concordance as step

ROOT = Path(__file__).resolve().parents[2]
REF = json.loads(Path(__file__).with_name("concordance_comparison_reference.json").read_text())
CODING = {"age": {"type": "continuous"}, "sex": {"type": "continuous"},
          "ph_ecog": {"type": "continuous"}}


@pytest.fixture(scope="module")
def lung() -> pd.DataFrame:
    d = pd.read_csv(ROOT / "tests" / "data" / "lung.csv").dropna(
        subset=["time", "event", "sex", "age", "ph_ecog", "inst"]).reset_index(drop=True)
    d["site"] = pd.cut(d["inst"], [-np.inf, 5, 12, np.inf], labels=["a", "b", "c"]).astype(str)
    return d.rename(columns={"time": "x_time", "event": "x_event"})


def test_a_predictor_compared_with_a_stratified_model_counts_the_same_pairs(lung):
    assert len(lung) == REF["n"]
    fit = cox.fit_cox(lung, "x_time", "x_event", ["age", "sex"], ["site"], CODING)
    items = [("strat", True), ("ph_ecog", False)]
    specs = {"strat": {"strata": ["site"]}}
    assert step.comparison_strata(items, specs) == ["site"]
    strata = pd.Series(cox.stratum_labels(lung, ["site"]), index=lung.index)
    first = step._model_c(fit, lung.index)
    second = step._predictor_c({"covariates": CODING}, lung, "x", "ph_ecog", lung.index,
                               strata=strata)
    assert first["estimate"] == pytest.approx(REF["stratified_model"]["c"], abs=1e-12)
    assert second["estimate"] == pytest.approx(REF["predictor_within"]["c"], abs=1e-12)
    assert first["n_pairs"] == second["n_pairs"] == REF["predictor_within"]["n_pairs"]
    cmp = concordance.compare_c(first, second)
    assert cmp["se"] == pytest.approx(REF["difference_se"], rel=1e-9)
    # without the strata the predictor counts every pair: not what the model counts
    alone = step._predictor_c({"covariates": CODING}, lung, "x", "ph_ecog", lung.index)
    assert alone["n_pairs"] == REF["predictor_all"]["n_pairs"] != first["n_pairs"]
    assert alone["estimate"] == pytest.approx(REF["predictor_all"]["c"], abs=1e-12)


def test_models_stratified_by_different_columns_are_refused():
    specs = {"a": {"strata": ["centre"]}, "b": {"strata": ["sex"]}}
    with pytest.raises(ValueError, match="different pairs"):
        step.comparison_strata([("a", True), ("b", True)], specs)


def test_the_added_value_is_a_c_difference_beside_its_likelihood_ratio_test(lung):
    base = cox.fit_cox(lung, "x_time", "x_event", ["age", "sex"], [], CODING)
    ext = cox.fit_cox(lung, "x_time", "x_event", ["age", "sex", "ph_ecog"], [], CODING)
    lr = step.nested_lr_test(base, ext)
    ref = REF["added"]
    assert lr["lr_chisq"] == pytest.approx(ref["lr_chisq"], rel=1e-9)
    assert lr["lr_df"] == ref["lr_df"]
    assert lr["lr_p"] == pytest.approx(ref["lr_p"], rel=1e-7)
    cmp = concordance.compare_c(step._model_c(ext, lung.index), step._model_c(base, lung.index))
    assert cmp["c_first"] == pytest.approx(ref["c_extended"], abs=1e-12)
    assert cmp["c_second"] == pytest.approx(ref["c_base"], abs=1e-12)
    assert cmp["se"] == pytest.approx(ref["difference_se"], rel=1e-9)
    # models fitted on different patients are not nested: no LR test
    fewer = cox.fit_cox(lung.iloc[10:], "x_time", "x_event", ["age", "sex", "ph_ecog"], [],
                        CODING)
    assert np.isnan(step.nested_lr_test(base, fewer)["lr_chisq"])


def test_models_with_other_strata_or_terms_are_not_nested(lung):
    base = cox.fit_cox(lung, "x_time", "x_event", ["age", "sex"], [], CODING)
    strat = cox.fit_cox(lung, "x_time", "x_event", ["age", "sex", "ph_ecog"], ["site"], CODING)
    other = cox.fit_cox(lung, "x_time", "x_event", ["ph_ecog"], [], CODING)
    assert np.isnan(step.nested_lr_test(base, strat)["lr_chisq"])     # strata differ
    assert np.isnan(step.nested_lr_test(other, base)["lr_chisq"])     # terms not a subset
