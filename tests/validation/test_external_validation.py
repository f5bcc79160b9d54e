"""Frozen models and their performance in a validation cohort, against R's survival.

Fixture: validation_reference.R beside this file, "external_validation" (lung, development
on the first 120 complete cases, validation on the rest). Tolerance 1e-6 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival import cox
from netpet_stats.validation import frozen_model
from netpet_stats.validation import external as validation

HERE = Path(__file__).resolve().parents[1]  # tests/
REF = json.loads((HERE / "validation" / "validation_reference.json").read_text())
EXT = REF["external_validation"]
LUNG = pd.read_csv(HERE / "data" / "lung.csv")
COV = {"age": {"label": "Age", "type": "continuous"}, "sex": {"label": "Sex", "type": "continuous"},
       "ph_ecog": {"label": "ECOG", "type": "continuous"}}


@pytest.fixture(scope="module")
def split():
    lc = LUNG.dropna(subset=["time", "event", "age", "sex", "ph_ecog"]).reset_index(drop=True)
    return lc.iloc[:120].reset_index(drop=True), lc.iloc[120:].reset_index(drop=True)


@pytest.fixture(scope="module")
def model(split, tmp_path_factory):
    dev, _ = split
    fit = cox.fit_cox(dev, "time", "event", ["age", "sex", "ph_ecog"], [], COV)
    frozen = frozen_model.freeze(fit, COV, EXT["baseline_horizons"], name="lung", endpoint="os",
                                 time_unit="days")
    path = tmp_path_factory.mktemp("model") / "model.yaml"
    frozen_model.save(frozen, path)
    return frozen_model.load(path)  # everything below goes through the file


def test_frozen_model_round_trip_matches_r(model):
    np.testing.assert_allclose(list(model["coefficients"].values()), EXT["coef"], rtol=1e-6)
    (s0,) = model["baseline_survival"]["survival"].values()
    np.testing.assert_allclose(s0, EXT["baseline_survival"], rtol=1e-6)
    assert model["development"]["n"] == EXT["n_dev"]


def test_predictions_in_the_validation_cohort_match_r(model, split):
    _, val = split
    np.testing.assert_allclose(frozen_model.linear_predictor(model, val), EXT["lp_val"], rtol=1e-6)
    pred = frozen_model.predict_survival(model, val, 365)
    np.testing.assert_allclose(pred, EXT["predicted_365"], rtol=1e-6)


def test_calibration_slope_and_observed_expected_match_r(model, split):
    _, val = split
    lp = frozen_model.linear_predictor(model, val)
    slope = validation.calibration_slope(val["time"], val["event"], lp)
    np.testing.assert_allclose([slope["estimate"], slope["se"]], [EXT["slope"], EXT["slope_se"]],
                               rtol=1e-6)
    oe = validation.observed_expected(val["time"], val["event"],
                                      frozen_model.predict_survival(model, val, 365), 365)
    np.testing.assert_allclose([oe["observed"], oe["expected"]],
                               [EXT["observed_365"], EXT["expected_365"]], rtol=1e-6)
    np.testing.assert_allclose([oe["lower"], oe["upper"]], EXT["o_e_365_ci"], rtol=1e-6)


def test_royston_d_matches_r(model, split):
    _, val = split
    lp = frozen_model.linear_predictor(model, val)
    d = validation.royston_d(val["time"], val["event"], lp)
    np.testing.assert_allclose([d["estimate"], d["se"], d["r2"]],
                               [EXT["royston_D"], EXT["royston_se"], EXT["royston_R2"]], rtol=1e-6)


def test_baseline_cumhaz_stratified_matches_survfit():
    # EXT["strat_call"]: per-institution baseline at 365 days, institutions 1 and 3
    d = LUNG.dropna(subset=["inst"])
    fit = cox.fit_cox(d, "time", "event", ["age", "sex"], ["inst"], COV)
    base = cox.baseline_cumhaz(fit, [365]).assign(stratum=lambda f: f["stratum"].astype(float))
    got = base.set_index("stratum")["cumhaz"]
    np.testing.assert_allclose([got[float(i)] for i in EXT["strat_inst"]],
                               EXT["strat_cumhaz_365"], rtol=1e-6)


def test_design_keeps_frozen_levels_and_rejects_unknown():
    model = {"coefficients": {"g[b]": 0.5, "g[c]": 1.0},
             "covariates": {"g": {"type": "categorical", "levels": ["a", "b", "c"]}},
             "baseline_survival": {"horizons": [1.0], "survival": {"0": [0.9]}}}
    data = pd.DataFrame({"g": ["a", "b", "a"]})  # level c absent: its column stays
    X = frozen_model.design(model, data)
    assert list(X.columns) == ["g[b]", "g[c]"] and X["g[c]"].sum() == 0
    np.testing.assert_allclose(frozen_model.predict_survival(model, data, 1.0),
                               [0.9, 0.9 ** np.exp(0.5), 0.9])
    with pytest.raises(frozen_model.ModelMismatchError, match="not in the frozen model"):
        frozen_model.design(model, pd.DataFrame({"g": ["z"]}))


@pytest.mark.parametrize("k", [0, 1], ids=["180d", "365d"])
def test_brier_ipa_and_auc_match_riskregression(model, split, k):
    _, val = split
    horizon = EXT["score_times"][k]
    pred = frozen_model.predict_survival(model, val, horizon)
    np.testing.assert_allclose(pred, EXT["predicted_180"] if k == 0 else EXT["predicted_365"],
                               rtol=1e-6)
    bs = validation.brier_score(val["time"], val["event"], pred, horizon)
    np.testing.assert_allclose([bs["brier"], bs["brier_null"], bs["ipa"]],
                               [EXT["brier_model"][k], EXT["brier_null"][k], EXT["ipa"][k]],
                               rtol=1e-6)
    auc = validation.time_dependent_auc(val["time"], val["event"], 1 - pred, horizon)
    np.testing.assert_allclose(auc, EXT["auc"][k], rtol=1e-6)


def test_calibration_groups_by_hand(model, split):
    _, val = split
    pred = frozen_model.predict_survival(model, val, 365)
    groups = validation.calibration_groups(val["time"], val["event"], pred, 365, groups=4)
    assert groups["n"].sum() == len(val)
    assert (groups["predicted"].diff().dropna() > 0).all()  # ordered by predicted risk
    # the observed risk of a group is 1 - its own Kaplan-Meier at 365 days
    from netpet_stats.survival import kaplan_meier
    risk = 1 - pred.to_numpy()
    first = np.argsort(risk, kind="stable")[: groups["n"].iloc[0]]
    curve = kaplan_meier.km_table(val["time"].to_numpy()[first], val["event"].to_numpy()[first])
    at = kaplan_meier.survival_at(curve, val["time"].to_numpy()[first],
                                  val["event"].to_numpy()[first], [365])
    assert groups["observed"].iloc[0] == pytest.approx(1 - at["surv"].iloc[0])


def test_smoothed_calibration_is_zero_for_a_recalibrated_truth():
    # Simulation truth: when predictions are the true survival probabilities of an
    # exponential model, the smoothed curve follows the diagonal (ICI near 0).
    rng = np.random.default_rng(11)
    n = 4000
    x = rng.normal(size=n)
    rate = 0.1 * np.exp(0.8 * x)
    t_event = rng.exponential(1 / rate)
    cens = rng.uniform(0, 30, n)
    time, event = np.minimum(t_event, cens), (t_event <= cens).astype(float)
    horizon = 5.0
    truth = np.exp(-rate * horizon)
    good = validation.smoothed_calibration(time, event, truth, horizon)
    bad = validation.smoothed_calibration(time, event, truth ** 2, horizon)  # risks too high
    assert good["ICI"] < 0.015
    assert bad["ICI"] > 5 * good["ICI"]


def test_smoothed_calibration_matches_r(model, split):
    # EXT["ici_call"]: Hmisc::rcspline.eval knots and basis, survival::coxph, Efron baseline
    _, val = split
    pred = frozen_model.predict_survival(model, val, 365)
    cal = validation.smoothed_calibration(val["time"], val["event"], pred, 365)
    np.testing.assert_allclose([cal["ICI"], cal["E50"], cal["E90"]],
                               [EXT["ici"], EXT["e50"], EXT["e90"]], rtol=1e-6)


def test_random_effects_agrees_with_statsmodels_and_truncates_tau2():
    from statsmodels.stats.meta_analysis import combine_effects

    y, se = np.array([0.1, 0.5, 0.2, 0.9]), np.array([0.1, 0.12, 0.15, 0.2])
    re = validation.random_effects(y, se)
    sm = combine_effects(y, se ** 2, method_re="dl")
    assert re["tau2"] > 0
    np.testing.assert_allclose([re["estimate"], re["se"], re["tau2"], re["i2"]],
                               [sm.mean_effect_re, sm.sd_eff_w_re, sm.tau2, sm.i2], rtol=1e-10)
    # prediction interval by hand: t with k - 2 = 2 df
    from scipy import stats
    half = stats.t.ppf(0.975, 2) * np.sqrt(re["tau2"] + re["se"] ** 2)
    assert re["pi_upper"] - re["estimate"] == pytest.approx(half)
    # homogeneous estimates: tau2 and I2 are 0 and pooling is the fixed-effect mean
    y2, se2 = np.array([1.0, 1.01]), np.array([0.2, 0.3])
    re2 = validation.random_effects(y2, se2)
    w = 1 / se2 ** 2
    assert re2["tau2"] == 0 and re2["i2"] == 0
    assert re2["estimate"] == pytest.approx(np.sum(w * y2) / np.sum(w))
    assert re2["se"] == pytest.approx(1 / np.sqrt(np.sum(w)))
    assert np.isnan(re2["pi_lower"])  # fewer than 3 centres


def test_centre_performance_per_centre_values(model, split):
    _, val = split
    lp = frozen_model.linear_predictor(model, val).to_numpy()
    pred = frozen_model.predict_survival(model, val, 365).to_numpy()
    centre = np.where(np.arange(len(val)) % 3 == 0, "x", np.where(np.arange(len(val)) % 3 == 1, "y", "z"))
    table = validation.centre_performance(val["time"], val["event"], lp, pred, centre, 365)
    from netpet_stats.survival.concordance import harrell_c
    m = centre == "y"
    row = table[(table["centre"] == "y") & (table["measure"] == "Harrell's C")].iloc[0]
    assert row["estimate"] == pytest.approx(harrell_c(val["time"][m], val["event"][m], lp[m],
                                                      ymax=365)["estimate"])
    for measure, fn in (("Royston's D", lambda: validation.royston_d(
            val["time"][m], val["event"][m], lp[m])["estimate"]),
                        ("Brier score", lambda: validation.brier_score(
            val["time"][m], val["event"][m], pred[m], 365)["brier"])):
        row = table[(table["centre"] == "y") & (table["measure"] == measure)].iloc[0]
        assert row["estimate"] == pytest.approx(fn())
    pooled = table[table["centre"].str.startswith("pooled")]
    # pooled where an analytic SE exists; AUC, Brier and IPA per centre only
    assert set(pooled["measure"]) == {"Harrell's C", "Uno's C", "Royston's D",
                                      "calibration slope", "O/E"}
    assert (pooled["k"] == 3).all() and (pooled["n"] == len(val)).all()
    assert set(table["measure"]) - set(pooled["measure"]) == {"time-dependent AUC", "Brier score",
                                                              "IPA"}


def test_a_centre_without_events_is_not_estimable_and_stays_out_of_the_pool():
    """R: coxph gives an NA slope and royston() NaN for a centre with no events."""
    rng = np.random.default_rng(1)
    n = 60
    lp = rng.normal(size=n)
    t = rng.exponential(10, size=n)
    e = (rng.random(n) < 0.5).astype(float)
    centre = np.repeat(["A", "B", "C"], 20)
    e[centre == "C"] = 0
    s = np.exp(-0.1 * np.exp(lp))
    table = validation.centre_performance(t, e, lp, s, centre, 5.0)
    c_rows = table[table["centre"] == "C"].set_index("measure")
    for measure in ("Harrell's C", "Royston's D", "calibration slope", "IPA"):
        assert np.isnan(c_rows.loc[measure, "estimate"]), measure
    assert c_rows.loc["O/E", "estimate"] == 0 and np.isnan(c_rows.loc["O/E", "lower"])
    pooled = table[table["centre"] == "pooled (random effects)"].set_index("measure")
    assert (pooled["k"] == 2).all() and (pooled["n"] == 40).all()
    both = table[table["centre"].isin(["A", "B"])]
    slope = both[both["measure"] == "calibration slope"]
    se = (slope["upper"] - slope["lower"]) / (2 * 1.959963984540054)
    w = 1 / se ** 2
    fixed = float(np.sum(w * slope["estimate"]) / np.sum(w))   # tau2 = 0 here: fixed effect
    assert pooled.loc["calibration slope", "estimate"] == pytest.approx(fixed, rel=1e-9)


def test_measures_at_a_horizon_beyond_all_follow_up_are_not_estimable():
    t = np.array([1.0, 2, 3, 4, 5, 6])
    e = np.array([1.0, 0, 1, 0, 1, 0])
    s = np.full(6, 0.5)
    assert np.isnan(validation.brier_score(t, e, s, 100.0)["brier"])
    assert np.isnan(validation.observed_expected(t, e, s, 100.0)["estimate"])
    assert np.isnan(validation.time_dependent_auc(t, e, 1 - s, 100.0))
    lo, hi = validation.bootstrap_ci(
        lambda i: validation.time_dependent_auc(t[i], e[i], 1 - s[i], 100.0), 6, 20, seed=1)
    assert np.isnan(lo) and np.isnan(hi)



def _auc_by_pairs(time, event, marker, horizon):
    """Uno's cumulative/dynamic AUC written out pair by pair (O(n^2)): each case (event
    by the horizon) weighted 1/G(T-), G the reverse Kaplan-Meier (the censorings as
    events; at a tied time the events come first, so those at risk of censoring at s
    are the subjects with time >= s less the events at s), against every control
    (time > horizon), a pair scoring 1 if the case's marker is higher, 1/2 if equal."""
    time, event, marker = (np.asarray(v, float) for v in (time, event, marker))

    def g_before(t):
        g = 1.0
        for s in np.unique(time[(event == 0) & (time < t)]):
            at_risk = np.sum(time >= s) - np.sum((time == s) & (event == 1))
            g *= 1.0 - np.sum((time == s) & (event == 0)) / at_risk
        return g

    g = {t: g_before(t) for t in np.unique(time)}
    controls = marker[time > horizon]
    num = den = 0.0
    for t, e, m in zip(time, event, marker):
        if e == 1 and t <= horizon:
            w = 1.0 / g[t]
            num += w * (np.sum(m > controls) + 0.5 * np.sum(m == controls)) / controls.size
            den += w
    return num / den


@pytest.mark.parametrize("n", [300, 12_000])
def test_time_dependent_auc_counts_controls_per_marker_value_as_pairs(n):
    """The controls are counted per distinct marker value (dense ranks and a bincount):
    the pairs counted one by one, with markers tied across cases and controls, infinite
    markers (+inf and -inf tie with themselves), all markers equal (AUC 1/2), censoring
    at the event times, and a registry-sized sample whose ranks come from hashing (over
    10,000 values, few distinct)."""
    rng = np.random.default_rng(17)
    time = rng.integers(1, 25, n).astype(float)
    event = (rng.random(n) < 0.6).astype(float)
    tied = np.round(rng.normal(size=n), 1)
    infinite = tied.copy()
    infinite[rng.random(n) < 0.1] = np.inf
    infinite[rng.random(n) < 0.1] = -np.inf
    markers = (tied, infinite, np.full(n, 2.5)) + ((rng.normal(size=n),) if n < 1000 else ())
    for marker in markers:
        for horizon in (5.0, 12.0, 20.5):
            got = validation.time_dependent_auc(time, event, marker, horizon)
            assert got == pytest.approx(_auc_by_pairs(time, event, marker, horizon), rel=1e-12)
    assert validation.time_dependent_auc(time, event, np.full(n, 2.5), 12.0) == 0.5
