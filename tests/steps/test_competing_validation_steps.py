"""Rules freeze_fine_gray (develop) and validate_fine_gray (validate) on the bundled cohorts.

The step's tables are recomputed here through the public functions from their
inputs, independently of the step (the estimators themselves are checked against
R in tests/validation/test_competing_validation.py).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from netpet_stats import load_config, prepare_cohort
from netpet_stats.steps import competing_risks as step
from netpet_stats.survival import cox
from netpet_stats.survival.competing_risks import fine_gray, fine_gray_baseline
from netpet_stats.validation import frozen_model
from netpet_stats.validation.competing import cr_performance, predict_risk

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def developed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fine_gray")
    cfg = load_config()                      # the bundled configuration: develop mode
    assert cfg["validation"]["mode"] == "develop"
    data = prepare_cohort(cfg).data
    data.to_parquet(tmp / "a.parquet")
    out = SimpleNamespace(model=tmp / "fg.yaml", table=tmp / "cr.csv")
    step.run_freeze_fine_gray(cfg, tmp / "a.parquet", [cfg["cohort"]["table"]], out)
    return cfg, data, out


def _development(cfg, data):
    spec = cfg["cox"]["models"][cfg["validation"]["model"]]
    d = data.dropna(subset=["netpet_group", "cr_time", "cr_status", *spec["covariates"]])
    d = d.reset_index(drop=True)
    X, _ = cox.design_matrix(d, spec["covariates"], cfg["covariates"])
    return d, X


def test_the_frozen_model_is_the_fine_gray_fit(developed):
    cfg, data, out = developed
    model = frozen_model.load(out.model, kind="fine_gray")
    d, X = _development(cfg, data)
    fit = fine_gray(d["cr_time"], d["cr_status"], X.to_numpy(), names=list(X.columns))
    np.testing.assert_allclose([model["coefficients"][c] for c in X.columns], fit.beta,
                               rtol=1e-12)
    h = cfg["validation"]["horizons"]
    base = fine_gray_baseline(d["cr_time"], d["cr_status"], X.to_numpy(), fit.beta, at=h)
    lp = X.to_numpy() @ fit.beta
    np.testing.assert_allclose(predict_risk(model, d, h[0]),
                               1 - np.exp(-base["cumhaz"].iloc[0] * np.exp(lp)), rtol=1e-10)
    assert model["development"]["competing"] == int((d["cr_status"] == 2).sum())


def test_risks_at_several_horizons_are_those_at_each_horizon(developed):
    # predict_risks computes the linear predictor once for all horizons (the step's
    # tables use it): the same numbers, bit for bit, as one horizon at a time
    from netpet_stats.validation.competing import predict_risks
    cfg, data, out = developed
    model = frozen_model.load(out.model, kind="fine_gray")
    d, _ = _development(cfg, data)
    h = [float(x) for x in cfg["validation"]["horizons"]]
    assert len(h) >= 2
    got = predict_risks(model, d, h)
    assert list(got) == h
    for x in h:
        np.testing.assert_array_equal(got[x], predict_risk(model, d, x).to_numpy())
    assert len({tuple(v) for v in got.values()}) == len(h)    # horizons not mixed up


def test_each_centre_is_predicted_by_a_fit_without_it(developed):
    cfg, data, out = developed
    d, X = _development(cfg, data)
    table = pd.read_csv(out.table)
    h = float(cfg["validation"]["horizons"][0])
    a = (d["centre"] == "A").to_numpy()
    fit = fine_gray(d["cr_time"][~a], d["cr_status"][~a], X.to_numpy()[~a])
    H = fine_gray_baseline(d["cr_time"][~a], d["cr_status"][~a], X.to_numpy()[~a], fit.beta,
                           at=[h])["cumhaz"].iloc[0]
    risk = 1 - np.exp(-H * np.exp(X.to_numpy()[a] @ fit.beta))
    want = cr_performance(d["cr_time"][a], d["cr_status"][a], {h: risk})
    got = table[(table["centre"] == "A") & (table["horizon"] == h)]
    np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=1e-8)   # CSV: 10 digits
    assert "all (apparent)" in set(table["centre"])
    pooled = table[table["centre"] == "pooled (random effects)"].set_index("horizon")
    assert set(pooled["measure"]) == {"O/E"}
    # centre B is followed to 58.43 months only: at 60 neither Score nor the
    # Aalen-Johansen estimate says anything there, and B leaves the pooling
    last_b = d.loc[d["centre"] == "B", "cr_time"].max()
    assert 36 < last_b < 60
    assert (pooled.loc[[12.0, 36.0], "k"] == 3).all() and pooled.loc[60.0, "k"] == 2
    assert pooled.loc[60.0, "note"].startswith("Left out of the pooling: B: not estimable: "
                                               f"no one is followed to 60 (last follow-up "
                                               f"{last_b:g})")
    b60 = table[(table["centre"] == "B") & (table["horizon"] == 60)]
    assert b60["estimate"].isna().all() and b60["note"].str.contains("no one is followed").all()


def test_validating_applies_the_file_to_the_new_cohort(developed, tmp_path):
    cfg, _, out = developed
    vcfg = load_config([ROOT / "config" / "validate.yaml"])
    vcfg["cohort"]["table"] = str(ROOT / vcfg["cohort"]["table"])
    vdata = prepare_cohort(vcfg).data
    vdata.to_parquet(tmp_path / "v.parquet")
    res = SimpleNamespace(table=tmp_path / "v.csv")
    step.run_validate_fine_gray(vcfg, tmp_path / "v.parquet", out.model, res)
    table = pd.read_csv(res.table)
    model = frozen_model.load(out.model, kind="fine_gray")
    d = vdata.dropna(subset=["netpet_group", "cr_time", "cr_status", *model["covariates"]])
    d = d.reset_index(drop=True)
    horizons = model["baseline_survival"]["horizons"]
    want = cr_performance(d["cr_time"], d["cr_status"],
                          {h: predict_risk(model, d, h).to_numpy() for h in horizons})
    np.testing.assert_allclose(table[table["centre"] == "all"]["estimate"], want["estimate"],
                               rtol=1e-8)


def test_a_model_file_of_the_other_kind_is_refused(developed, tmp_path):
    _, _, out = developed
    with pytest.raises(frozen_model.ModelMismatchError, match="Fine-Gray model of a cumulative"):
        frozen_model.load(out.model)                   # as the Cox model_file
    with pytest.raises(ValueError, match="not a frozen Fine-Gray model"):
        predict_risk({"name": "cox", "coefficients": {}}, pd.DataFrame(), 12.0)
