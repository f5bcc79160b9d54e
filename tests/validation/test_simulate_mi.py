"""The machinery of benchmarks/simulate_mi.py on a few small cohorts (no timing).

The 500-cohort run and its summary are committed in benchmarks/results/; this checks
that the cohorts are drawn as documented (missing at random given grade, centre and
outcome), that every method analyses the rows it should, that the run is the same
twice, and that the summary's bias and coverage are what they say.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("simulate_mi", ROOT / "benchmarks" / "simulate_mi.py")
sim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sim)


def test_ki67_is_missing_at_random_given_grade_centre_and_outcome():
    d = sim.simulate_cohort(np.random.default_rng(5), 40_000)
    miss = d["lki67_obs"].isna()
    assert 0.2 < miss.mean() < 0.35
    # more often in G3 than G1, in centre C, and among patients who died
    rate = miss.groupby(d["grade"]).mean()
    assert rate["G3"] > rate["G2"] > rate["G1"]
    assert miss[d["centre"] == "C"].mean() > miss[d["centre"] == "A"].mean() + 0.05
    assert miss[d["event"] == 1].mean() > miss[d["event"] == 0].mean() + 0.1
    # given them, not on Ki-67 itself: within a cell, missing and observed Ki-67 alike
    cell = (d["grade"] == "G2") & (d["centre"] == "A") & (d["event"] == 1)
    assert (d.loc[cell & miss, "lki67"].mean()
            == pytest.approx(d.loc[cell & ~miss, "lki67"].mean(), abs=0.1))
    # the observed column is the true one where observed
    np.testing.assert_array_equal(d.loc[~miss, "lki67_obs"], d.loc[~miss, "lki67"])


@pytest.fixture(scope="module")
def few():
    return sim.run(3, m=3, seed=9, n=150)


def test_each_method_analyses_its_rows_and_the_run_repeats(few):
    assert len(few) == 3 * 8
    assert set(few["method"]) == {"full data", "complete case", "multiple imputation",
                                  "MI without hazard x covariate terms"}
    for _, g in few.groupby("cohort"):
        n = g.set_index(["estimand", "method"])["n"]
        assert n[("Ki-67 log HR", "full data")] == n[("Ki-67 log HR", "multiple imputation")] == 150
        observed = round(150 * (1 - g["missing"].iloc[0]))
        assert n[("Ki-67 log HR", "complete case")] == n[("validation C", "complete case")] \
            == observed
    assert (few["lower"] < few["estimate"]).all() and (few["estimate"] < few["upper"]).all()
    pd.testing.assert_frame_equal(few, sim.run(3, m=3, seed=9, n=150))


def test_the_full_data_row_is_the_cox_fit_on_the_cohort_before_deletion(few):
    from netpet_stats.survival import cox

    child = np.random.SeedSequence(9).spawn(3)[0]
    d = sim.simulate_cohort(np.random.default_rng(int(child.generate_state(2)[0])), 150)
    fit = cox.fit_cox(d, "time", "event", sim.COVARIATES, [], sim.CODING)
    row = few[(few["cohort"] == 1) & (few["method"] == "full data")
              & (few["estimand"] == "Ki-67 log HR")].iloc[0]
    assert row["estimate"] == pytest.approx(fit.beta[0], rel=1e-12)


def test_summary_bias_and_coverage_by_hand():
    per = pd.DataFrame({"estimand": ["x"] * 4, "method": ["a"] * 4,
                        "estimate": [0.9, 1.1, 1.3, 0.7], "lower": [0.5, 1.05, 0.9, 0.2],
                        "upper": [1.2, 1.5, 1.6, 0.95], "n": [10, 10, 10, 10]})
    s = sim.summarise(per, {"x": 1.0}).iloc[0]
    assert s["bias"] == pytest.approx(0.0)
    assert s["coverage"] == 0.5                       # rows 1 and 3 cover 1.0
    assert s["empirical_se"] == pytest.approx(np.std([0.9, 1.1, 1.3, 0.7], ddof=1))
    assert s["rmse"] == pytest.approx(np.sqrt(np.mean([0.01, 0.01, 0.09, 0.09])))
