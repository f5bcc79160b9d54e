"""The workflow's survival steps on a cohort with delayed entry, case weights, or both.

Truth: ``delayed_entry_reference.R`` beside this file (R survival on
``Surv(entry, time, event)`` and ``weights =``), on the cohort it simulated and
committed (``delayed_entry_cohort.csv``: whole-month ties, entries equal to other
patients' event times, two P5 patients entering after the last P5 event).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.config import load_config, model_specs
from netpet_stats.steps import cox as cox_step
from netpet_stats.steps import kaplan_meier as km_step

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REF = json.loads((HERE / "delayed_entry_reference.json").read_text())
TIMES = [12, 24, 36, 60]
SCENARIOS = {"entry": ["weight"], "weights": ["entry_time"], "both": []}


@pytest.fixture(scope="module")
def config():
    return load_config(base=ROOT / "config" / "config.yaml", overrides={
        "kaplan_meier": {"landmarks": TIMES, "risk_table_times": TIMES}})


def _cohort(scenario: str) -> pd.DataFrame:
    data = pd.read_csv(HERE / "delayed_entry_cohort.csv").drop(columns=SCENARIOS[scenario])
    data["netpet_group"] = pd.Categorical(data["netpet_group"], ["P1", "P2-4", "P5"],
                                          ordered=True)
    return data


def _at_risk(scenario: str, group: str, time: float) -> int:
    """Patients of ``group`` at risk at ``time``, counted by hand (patients, not weights):
    followed to ``time`` at least; with delayed entry, R's rule of summary.survfit: the
    risk set ``entry < u <= exit`` at the group's first exit time ``u`` at or after
    ``time``."""
    d = _cohort(scenario)
    d = d[d["netpet_group"] == group]
    if "entry_time" not in d:
        return int((d["os_time"] >= time).sum())
    u = d.loc[d["os_time"] >= time, "os_time"].min()
    return int(((d["entry_time"] < u) & (d["os_time"] >= u)).sum())


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_kaplan_meier_tables_as_r_survfit(scenario, config, tmp_path):
    out = {k: tmp_path / f"{k}.csv" for k in ("curves", "summary", "landmarks", "risk_table",
                                              "follow_up")}
    km_step.write_estimates(config, _cohort(scenario), "os", out)
    ref = REF[scenario]["km"]
    landmarks = pd.read_csv(out["landmarks"], comment="#")
    risk = pd.read_csv(out["risk_table"], comment="#")
    for i, (group, time) in enumerate(zip(ref["strata"], ref["time"])):
        row = landmarks[(landmarks["group"] == group) & (landmarks["time"] == time)].iloc[0]
        n_risk = risk[(risk["group"] == group) & (risk["time"] == time)]["n_risk"].iloc[0]
        assert n_risk == _at_risk(scenario, group, time)
        if scenario == "entry":     # R's n.risk without weights is the same count
            assert n_risk == ref["n_risk"][i]
        assert row["surv"] == pytest.approx(ref["surv"][i], abs=1e-10)
        if abs(ref["surv"][i]) < 1e-12:
            # S = 0: R gives NA for Greenwood's SE and rounding noise (~1e-19) for the
            # jackknife of weighted data; the table leaves it empty
            assert np.isnan(row["se_surv"])
            continue
        assert row["se_surv"] == pytest.approx(ref["std_err"][i], abs=1e-10)
        assert row["lower"] == pytest.approx(ref["lower"][i], abs=1e-10)
        assert row["upper"] == pytest.approx(ref["upper"][i], abs=1e-10)
    summary = pd.read_csv(out["summary"], comment="#").set_index("group")
    for g, med, lo, hi in zip(["P1", "P2-4", "P5"], ref["median"], ref["median_lower"],
                              ref["median_upper"]):
        assert summary.loc[g, "median"] == pytest.approx(np.ravel(med)[0])
        assert summary.loc[g, "median_lower"] == pytest.approx(np.ravel(lo)[0])
        hi = np.ravel(hi)[0]
        if hi is None:              # R: the upper curve never reaches 0.5
            assert np.isnan(summary.loc[g, "median_upper"])
        else:
            assert summary.loc[g, "median_upper"] == pytest.approx(hi)
    follow = pd.read_csv(out["follow_up"], comment="#").set_index("group").loc["all"]
    fu = REF[scenario]["follow_up"]
    assert follow["median_follow_up"] == pytest.approx(fu["median"])
    assert follow["lower"] == pytest.approx(fu["lower"])
    method = summary["method"].iloc[0]
    assert ("delayed entry" in method) == (scenario != "weights")
    assert ("case weights" in method) == (scenario != "entry")


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("model", ["primary", "ki67", "grade_ki67"])
def test_cox_models_as_r_coxph(scenario, model, config):
    fit = cox_step.fit_spec(config, _cohort(scenario), "os", model_specs(config)[model])
    ref = REF[scenario]["cox"][model]
    coefs = fit.coefficients
    np.testing.assert_allclose(coefs["coef"], ref["coef"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(coefs["se"], ref["se"], rtol=0, atol=1e-8)
    if scenario == "entry":          # whole-number weights: no robust SE, as R
        assert "robust_se" not in coefs or coefs["robust_se"].isna().all()
    else:                            # non-integer weights: R's robust SE
        np.testing.assert_allclose(coefs["robust_se"], ref["robust_se"], rtol=0, atol=1e-8)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("model", ["primary", "ki67", "grade_ki67"])
def test_harrell_c_of_a_fitted_model_as_r_concordance(scenario, model, config):
    from netpet_stats.steps.concordance import _model_c

    fit = cox_step.fit_spec(config, _cohort(scenario), "os", model_specs(config)[model])
    res = _model_c(fit)
    ref = REF[scenario]["cox"][model]
    assert res["estimate"] == pytest.approx(ref["c"], abs=1e-10)
    assert res["se"] == pytest.approx(ref["c_se"], abs=1e-10)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_logrank_tests_as_r_cox_score_tests(scenario, config, tmp_path):
    from netpet_stats.steps import logrank as logrank_step

    out = {"tests": tmp_path / "tests.csv", "observed_expected": tmp_path / "oe.csv"}
    data = _cohort(scenario)
    logrank_step.write_tests(config, data, "os", out)
    tests = pd.read_csv(out["tests"], comment="#").set_index("test")   # 10 significant digits
    ref = REF[scenario]["logrank"]
    assert tests.loc["log-rank", "chisq"] == pytest.approx(ref["overall"], rel=1e-9)
    assert tests.loc["stratified log-rank", "chisq"] == pytest.approx(ref["stratified"],
                                                                      rel=1e-9)
    assert tests.loc["log-rank trend", "chisq"] == pytest.approx(ref["trend"], rel=1e-9)
    assert tests["method"].str.contains("exact" if scenario == "entry" else "breslow").all()
    # O - E summed over groups is 0, and O is the (weighted) number of deaths
    oe = pd.read_csv(out["observed_expected"], comment="#")
    w = data["weight"] if "weight" in data else 1.0
    assert oe["observed"].sum() == pytest.approx(float((w * data["os_event"]).sum()))
    assert oe["expected"].sum() == pytest.approx(oe["observed"].sum())
