"""External and internal validation on the standard worked example: Rotterdam -> GBSG.

A Cox model for recurrence-free survival is developed on node-positive Rotterdam
patients and validated on GBSG (Royston & Altman, BMC Med Res Methodol 2013;
McLernon et al., Ann Intern Med 2023) through the public API: ``fit_cox``,
``freeze``, the in-memory ``validate``, ``compare_c`` and ``optimism_bootstrap``.
Every number is compared with R. (The workflow's steps on the same example, and
the tables they write, are checked in tests/steps/test_validation_steps.py.)

Fixture: validation_reference.R beside this file ("rotterdam_gbsg"), survival /
riskRegression / rms. Tolerances: 1e-6 relative for deterministic quantities;
the bootstrap is checked against R as a distribution (see the test).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import netpet_stats as ns
from netpet_stats.validation.frozen_model import linear_predictor
from rotterdam_example import CONFIG, DEV, FULL, RG, VAL

HERE = Path(__file__).resolve().parents[1]  # tests/


def _frozen(covariates):
    fit = ns.fit_cox(DEV, "rfs_time", "rfs_event", covariates, [], CONFIG["covariates"])
    return ns.freeze(fit, CONFIG["covariates"], RG["horizons"], name="m", endpoint="rfs")


@pytest.fixture(scope="module")
def model():
    return _frozen(FULL)


def test_fit_and_freeze_match_r(model):
    np.testing.assert_allclose(list(model["coefficients"].values()), RG["coef"], rtol=1e-6)
    (s0,) = model["baseline_survival"]["survival"].values()
    np.testing.assert_allclose(s0, RG["baseline_survival"], rtol=1e-6)
    assert (model["development"]["n"], model["development"]["events"]) == (RG["n_dev"],
                                                                           RG["events_dev"])


def test_in_memory_validate_matches_r(model):
    res = ns.validate(model, VAL, RG["horizons"], time="rfs_time", event="rfs_event")
    assert (res["n"] == RG["n_val"]).all() and (res["events"] == RG["events_val"]).all()

    def one(measure, horizon=None):
        rows = res[res["measure"] == measure]
        if horizon is not None:
            rows = rows[rows["horizon"] == horizon]
        assert len(rows) == 1, (measure, horizon)
        return rows.iloc[0]

    for measure, key in (("Harrell's C", "harrell"), ("Uno's C", "uno")):
        row = one(measure, 60.0)
        np.testing.assert_allclose([row["estimate"], row["se"]], [RG[key], RG[f"{key}_se"]],
                                   rtol=1e-6, err_msg=measure)
    row = one("Royston's D")
    np.testing.assert_allclose([row["estimate"], row["se"]], [RG["royston_D"], RG["royston_se"]],
                               rtol=1e-6)
    assert one("R2_D")["estimate"] == pytest.approx(RG["royston_R2"], rel=1e-6)
    row = one("calibration slope")
    np.testing.assert_allclose([row["estimate"], row["se"]], [RG["slope"], RG["slope_se"]],
                               rtol=1e-6)
    for i, h in enumerate(RG["horizons"]):
        row = one("O/E", float(h))
        assert row["estimate"] == pytest.approx(RG["o_e"][i], rel=1e-6)
        z = 1.959963984540054
        assert np.log(row["upper"] / row["estimate"]) / z == pytest.approx(RG["o_e_se_log"][i],
                                                                           rel=1e-5)
        assert one("Brier score", float(h))["estimate"] == pytest.approx(RG["brier"][i],
                                                                           rel=1e-5)
        assert one("IPA", float(h))["estimate"] == pytest.approx(RG["ipa"][i], rel=1e-5)
    # every row names its method; nothing but the documented columns
    assert res["method"].str.len().gt(0).all()
    assert list(res.columns) == ["measure", "horizon", "estimate", "se", "lower", "upper", "p",
                                 "method", "n", "events"]


def test_delta_c_through_the_public_api_matches_r(model):
    base = _frozen(FULL[:-1])
    d = VAL.reset_index(drop=True)
    lp_ext = linear_predictor(model, d)
    lp_base = linear_predictor(base, d)
    first, second = (ns.harrell_c(d["rfs_time"], d["rfs_event"], lp, ymax=60)
                     for lp in (lp_ext, lp_base))
    cmp = ns.compare_c(first, second)
    np.testing.assert_allclose([cmp["c_first"], cmp["c_second"], cmp["estimate"], cmp["se"]],
                               [RG["harrell"], RG["c_base"], RG["delta_c"], RG["delta_c_se"]],
                               rtol=1e-5)


def test_bootstrap_optimism_agrees_with_rms_validate_in_distribution():
    """Harrell's optimism correction against rms::validate(cph, B = 200).

    The apparent C is deterministic and equals rms's (Dxy + 1) / 2. rms draws
    other resamples, so the corrected values are checked as a distribution: R's
    corrected C over five seeds has a Monte Carlo SD of about 0.0007 and ours
    must lie within 0.003 of R's mean (about 4 SDs of the difference of two
    such runs); the corrected slope (SD over seeds about 0.003) within 0.01.
    """
    X = pd.get_dummies(DEV["size"])[["20-50", ">50"]].astype(float)
    X["nodes"] = np.log2(DEV["nodes"])
    X["grade3"], X["age"], X["hormon"] = DEV["grade3"], DEV["age"] / 10, DEV["hormon"]
    X["pgr"] = np.log2(np.maximum(DEV["pgr"], 1))
    table = ns.optimism_bootstrap(
        DEV["rfs_time"], DEV["rfs_event"], X.to_numpy(), n_boot=200, seed=11).set_index("measure")
    c = table.loc["Harrell's C"]
    assert c["apparent"] == pytest.approx(RG["validate_c_apparent"][0], rel=1e-8)
    assert c["corrected"] == pytest.approx(np.mean(RG["validate_c_corrected"]), abs=0.003)
    assert 0 < c["optimism"] < 0.01
    slope = table.loc["calibration slope"]
    assert slope["apparent"] == pytest.approx(1.0, abs=1e-9)  # MLE: 1 by construction
    assert slope["corrected"] == pytest.approx(np.mean(RG["validate_slope_corrected"]), abs=0.01)
    assert c["n_used"] == 200
