"""The validation steps of the workflow on the worked example Rotterdam -> GBSG.

The rules' own code (:mod:`netpet_stats.steps`) freezes a Cox model for
recurrence-free survival on node-positive Rotterdam patients (and the
base/extended pair for ΔC), validates it on GBSG and writes the tables the report
reads (Royston & Altman, BMC Med Res Methodol 2013; McLernon et al., Ann Intern
Med 2023). Every number in those tables is compared with R; the same numbers
through the public API are checked in tests/validation/test_rotterdam_gbsg.py.

Fixture: tests/validation/validation_reference.R ("rotterdam_gbsg", "iecv_synthetic"),
survival / riskRegression / rms. Tolerance 1e-6 relative.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from netpet_stats.config import load_config
from netpet_stats.cohort.prepare import prepare_cohort
from netpet_stats.steps.cohort import save_analysis
from netpet_stats.steps.cox import fit_all, save_fits
from netpet_stats.steps.internal_validation import run_iecv
from netpet_stats.steps.validation import run_external, run_freeze
from netpet_stats.validation import frozen_model
from rotterdam_example import CONFIG, DEV, REF, RG, VAL

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Freeze on Rotterdam, validate on GBSG; return the output tables."""
    tmp = tmp_path_factory.mktemp("rotterdam_gbsg")
    config = {**CONFIG, "validation": {
        "mode": "develop", "endpoint": "rfs", "model": "full", "horizons": RG["horizons"],
        "curve_step": 1, "risk_groups": 5, "n_boot": 200, "seed": 7,
        "added_value": {"base": "base", "extended": "full",
                        "base_file": str(tmp / "base.yaml"),
                        "extended_file": str(tmp / "extended.yaml")}}}
    inputs = [str(TESTS / "data" / "rotterdam.csv")]
    save_fits(fit_all(config, DEV, "rfs"), tmp / "fits.pkl")
    run_freeze(config, str(tmp / "fits.pkl"), inputs,
               SimpleNamespace(model=tmp / "model.yaml", base=tmp / "base.yaml",
                               extended=tmp / "extended.yaml"))
    names = ["discrimination", "added_value", "calibration", "groups", "group_curves", "centres"]
    out = {k: str(tmp / f"{k}.csv") for k in names}
    config["validation"]["mode"] = "validate"
    save_analysis(VAL, tmp / "validation.parquet")
    run_external(config, str(tmp / "validation.parquet"), str(tmp / "model.yaml"),
                 {"base": str(tmp / "base.yaml"), "extended": str(tmp / "extended.yaml")},
                 SimpleNamespace(**out, centre_figures=[str(tmp / "centres.png")],
                                 group_curve_figures=[str(tmp / "curves.png")],
                                 figures=[str(tmp / "calibration.png")]))
    tables = {k: pd.read_csv(out[k]) for k in names}
    return tables, frozen_model.load(tmp / "model.yaml"), tmp


def test_development_model_matches_r(run):
    _, model, _ = run
    np.testing.assert_allclose(list(model["coefficients"].values()), RG["coef"], rtol=1e-6)
    (s0,) = model["baseline_survival"]["survival"].values()
    np.testing.assert_allclose(s0, RG["baseline_survival"], rtol=1e-6)
    assert (model["development"]["n"], model["development"]["events"]) == (RG["n_dev"],
                                                                           RG["events_dev"])
    lp = frozen_model.linear_predictor(model, VAL.iloc[:5]).to_numpy()
    np.testing.assert_allclose(lp, RG["lp_first"], rtol=1e-6)


def test_discrimination_matches_r(run):
    disc = run[0]["discrimination"].set_index(["measure", "horizon"])
    z = 1.959963984540054
    for name, key in (("Harrell's C", "harrell"), ("Uno's C", "uno")):
        row = disc.loc[(name, 60.0)]
        assert row["estimate"] == pytest.approx(RG[key], rel=1e-6)
        assert row["upper"] - row["estimate"] == pytest.approx(z * RG[f"{key}_se"], rel=1e-5)
    auc = disc.xs("time-dependent AUC", level="measure")
    np.testing.assert_allclose(auc["estimate"].to_numpy(), RG["auc"], rtol=1e-6)
    # The AUC interval is a percentile bootstrap; riskRegression's is a Wald interval
    # from the influence function. Both estimate the same sampling spread: the
    # bootstrap width must be within 25% of 2 * 1.96 * R's SE (200 resamples give a
    # width with ~5-10% Monte Carlo error).
    width = (auc["upper"] - auc["lower"]).to_numpy()
    np.testing.assert_allclose(width, 2 * z * np.array(RG["auc_se"]), rtol=0.25)
    roy = disc.xs("Royston's D", level="measure").iloc[0]
    assert roy["estimate"] == pytest.approx(RG["royston_D"], rel=1e-6)
    assert roy["upper"] - roy["estimate"] == pytest.approx(z * RG["royston_se"], rel=1e-5)
    r2 = disc.xs("R2_D", level="measure").iloc[0]
    assert r2["estimate"] == pytest.approx(RG["royston_R2"], rel=1e-6)


def test_added_value_matches_r(run):
    row = run[0]["added_value"].iloc[0]
    assert row["c_extended"] == pytest.approx(RG["harrell"], rel=1e-6)
    assert row["c_base"] == pytest.approx(RG["c_base"], rel=1e-6)
    assert row["delta_c"] == pytest.approx(RG["delta_c"], rel=1e-6)
    assert row["se"] == pytest.approx(RG["delta_c_se"], rel=1e-5)
    assert row["n"] == RG["n_val"]


def test_calibration_and_overall_performance_match_r(run):
    cal = run[0]["calibration"].set_index("horizon")
    assert cal["calibration_slope"].iloc[0] == pytest.approx(RG["slope"], rel=1e-6)
    assert cal["slope_upper"].iloc[0] - cal["calibration_slope"].iloc[0] == pytest.approx(
        1.959963984540054 * RG["slope_se"], rel=1e-5)
    np.testing.assert_allclose(cal["observed_risk"], RG["observed"], rtol=1e-6)
    np.testing.assert_allclose(cal["expected_risk"], RG["expected"], rtol=1e-6)
    np.testing.assert_allclose(cal["o_e"], RG["o_e"], rtol=1e-6)
    se_log = np.log(cal["o_e_upper"] / cal["o_e"]) / 1.959963984540054
    np.testing.assert_allclose(se_log, RG["o_e_se_log"], rtol=1e-5)
    for ours, theirs in (("brier", "brier"), ("brier_null", "brier_null"), ("ipa", "ipa"),
                         ("ICI", "ici"), ("E50", "e50"), ("E90", "e90")):
        np.testing.assert_allclose(cal[ours], RG[theirs], rtol=1e-5, err_msg=ours)


def test_risk_groups_match_r(run):
    groups = run[0]["groups"]
    g60 = groups[groups["horizon"] == 60].reset_index(drop=True)
    ref = pd.DataFrame(RG["groups_60"])
    np.testing.assert_array_equal(g60["n"], ref["n"])
    for col in ("predicted", "observed", "observed_lower", "observed_upper"):
        np.testing.assert_allclose(g60[col], ref[col], rtol=1e-6, err_msg=col)


def test_level_3_curves_are_km_and_mean_prediction_per_group(run):
    curves = run[0]["group_curves"]
    _, model, _ = run
    q = model["development"]["linear_predictor"]["quantiles"]
    lp = frozen_model.linear_predictor(model, VAL).to_numpy()
    # four groups cut at the development 16th, 50th and 84th centiles
    expected_n = np.bincount(np.searchsorted([q["16"], q["50"], q["84"]], lp), minlength=4)
    got = curves.groupby("group")["n"].first().to_numpy()
    np.testing.assert_array_equal(got, expected_n[expected_n > 0])
    # predicted curve at a horizon = mean predicted S at that horizon within the group
    group = np.searchsorted([q["16"], q["50"], q["84"]], lp) + 1
    pred60 = frozen_model.predict_survival(model, VAL, 60).to_numpy()
    at60 = curves[curves["time"] == 60].set_index("group")["predicted"]
    for g, value in at60.items():
        assert value == pytest.approx(pred60[group == g].mean(), rel=1e-9)
    # baseline survival on the grid agrees with the stored horizons
    grid = model["baseline_survival"]["curve"]
    (s_grid,) = grid["survival"].values()
    for h, s in zip(RG["horizons"], RG["baseline_survival"]):
        assert s_grid[grid["times"].index(float(h))] == pytest.approx(s, rel=1e-9)


def test_centre_heterogeneity_is_reported_as_not_done_without_centres(run):
    centres = run[0]["centres"]
    assert centres.empty
    note = (run[2] / "centres.md").read_text()
    assert "no centre column" in note


@pytest.fixture(scope="module")
def synthetic():
    """The bundled synthetic cohort, prepared as the cohort rule does."""
    config = load_config(base=ROOT / "config" / "config.yaml")
    config["cohort"]["table"] = str(ROOT / config["cohort"]["table"])
    config["cohort"]["lesions"] = str(ROOT / config["cohort"]["lesions"])
    return config, prepare_cohort(config).data


def test_iecv_table_per_centre_matches_r(synthetic, tmp_path):
    config, data = synthetic
    save_analysis(data, tmp_path / "analysis.parquet")
    run_iecv(config, str(tmp_path / "analysis.parquet"),
             SimpleNamespace(iecv=str(tmp_path / "iecv.csv"), figures=[str(tmp_path / "iecv.png")]))
    table = pd.read_csv(tmp_path / "iecv.csv", keep_default_na=False, na_values=[""])
    z = 1.959963984540054
    for ref in REF["iecv_synthetic"]["centres"]:
        rows = table[table["centre"] == ref["centre"]].set_index("measure")
        assert rows.loc["Harrell's C", "estimate"] == pytest.approx(ref["c"], rel=1e-6)
        assert rows.loc["Harrell's C", "upper"] - ref["c"] == pytest.approx(z * ref["c_se"],
                                                                           rel=1e-5)
        assert rows.loc["calibration slope", "estimate"] == pytest.approx(ref["slope"], rel=1e-6)
    pooled = table[table["centre"] == "pooled (random effects)"]
    assert set(pooled["measure"]) == {"Harrell's C", "Uno's C", "Royston's D", "calibration slope",
                                      "O/E"}
    assert (pooled["k"] == 3).all()


def test_a_model_written_from_a_paper_is_validated_as_far_as_it_allows(run, tmp_path):
    """Coefficients and S0 at the horizons only: everything but the level-3 curves."""
    import yaml

    _, model, _ = run
    paper = {k: model[k] for k in ("netpet_stats_model", "name", "endpoint", "time_unit",
                                   "strata", "coefficients", "covariates")}
    paper["baseline_survival"] = {k: model["baseline_survival"][k]
                                  for k in ("horizons", "survival")}
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(paper))
    config = {**CONFIG, "validation": {
        "mode": "validate", "endpoint": "rfs", "model": "full", "horizons": RG["horizons"],
        "curve_step": 1, "risk_groups": 5, "n_boot": 20, "seed": 7, "added_value": None}}
    save_analysis(VAL, tmp_path / "validation.parquet")
    names = ["discrimination", "added_value", "calibration", "groups", "group_curves", "centres"]
    out = {k: str(tmp_path / f"{k}.csv") for k in names}
    run_external(config, str(tmp_path / "validation.parquet"), str(path), None,
                 SimpleNamespace(**out, centre_figures=[str(tmp_path / "centres.png")],
                                 group_curve_figures=[str(tmp_path / "curves.png")],
                                 figures=[str(tmp_path / "calibration.png")]))
    disc = pd.read_csv(out["discrimination"]).set_index(["measure", "horizon"])
    assert disc.loc[("Harrell's C", 60.0), "estimate"] == pytest.approx(RG["harrell"], rel=1e-6)
    cal = pd.read_csv(out["calibration"])
    np.testing.assert_allclose(cal["o_e"], RG["o_e"], rtol=1e-6)
    assert pd.read_csv(out["group_curves"]).empty
    note = (tmp_path / "group_curves.md").read_text()
    assert "needs S0(t) on a grid" in note and (tmp_path / "curves.png").is_file()


# ---------------------------------------------------------------- degenerate edges
# GBSG with made-up centres: "C" holds only patients without an event; the others are
# split in two. The frozen model also stores S0 at 120 months, past GBSG's last
# follow-up (87.4). R estimates nothing there (summary(survfit(), times =) drops the
# time; Score() computes nothing past the last follow-up, and refuses data without an
# event): the tables leave those values empty and say why in words, and no numpy
# RuntimeWarning reaches the log.

def _edge_run(tmp, horizons):
    import warnings

    config = {**CONFIG, "validation": {
        "mode": "develop", "endpoint": "rfs", "model": "full", "horizons": horizons,
        "curve_step": 1, "risk_groups": 5, "n_boot": 20, "seed": 7, "added_value": None}}
    save_fits(fit_all(config, DEV, "rfs"), tmp / "fits.pkl")
    run_freeze(config, str(tmp / "fits.pkl"), [], SimpleNamespace(model=tmp / "model.yaml"))
    config["validation"]["mode"] = "validate"
    val = VAL.copy()
    val["centre"] = np.where((val.pid % 3 == 2) & (val.rfs_event == 0), "C",
                             np.where(val.pid % 2 == 0, "A", "B"))
    save_analysis(val, tmp / "validation.parquet")
    names = ["discrimination", "added_value", "calibration", "groups", "group_curves", "centres"]
    out = {k: str(tmp / f"{k}.csv") for k in names}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)        # none may reach the log
        run_external(config, str(tmp / "validation.parquet"), str(tmp / "model.yaml"), None,
                     SimpleNamespace(**out, centre_figures=[str(tmp / "centres.png")],
                                     group_curve_figures=[str(tmp / "curves.png")],
                                     figures=[str(tmp / "calibration.png")]))
    return {k: pd.read_csv(out[k]) for k in names}, tmp


@pytest.fixture(scope="module")
def edges(tmp_path_factory):
    return {"past": _edge_run(tmp_path_factory.mktemp("past"), [12, 36, 60, 120]),
            "within": _edge_run(tmp_path_factory.mktemp("within"), RG["horizons"])}


def test_a_horizon_past_all_follow_up_is_not_estimable_and_said_so(edges):
    (tables, tmp) = edges["past"]
    last = VAL.rfs_time.max()
    cal = tables["calibration"].set_index("horizon")
    # the horizons within follow-up are R's, as without the extra horizon
    np.testing.assert_allclose(cal.loc[RG["horizons"], "o_e"], RG["o_e"], rtol=1e-6)
    np.testing.assert_allclose(cal.loc[RG["horizons"], "ICI"], RG["ici"], rtol=1e-5)
    assert cal.loc[RG["horizons"], "note"].isna().all()
    # at 120 nothing but the slope and the expected risk (ICI, E50, E90 were printed)
    row = cal.loc[120]
    for col in ("observed_risk", "o_e", "o_e_lower", "ICI", "E50", "E90", "brier", "ipa"):
        assert np.isnan(row[col]), col
    assert row["calibration_slope"] == pytest.approx(RG["slope"], rel=1e-6)
    why = f"no one is followed to 120 (last follow-up {last:g})"
    assert why in row["note"] and "ICI, E50, E90" in row["note"]
    assert why in (tmp / "calibration.md").read_text()
    disc = tables["discrimination"].set_index(["measure", "horizon"])
    auc = disc.loc[("time-dependent AUC", 120.0)]
    assert np.isnan(auc["estimate"]) and np.isnan(auc["lower"]) and why in auc["note"]
    np.testing.assert_allclose(disc.xs("time-dependent AUC", level="measure")
                               .loc[RG["horizons"], "estimate"], RG["auc"], rtol=1e-6)


def test_a_centre_without_events_is_not_estimable_and_said_so(edges):
    (tables, tmp) = edges["within"]
    cen = tables["centres"]
    c = cen[cen.centre == "C"].set_index("measure")
    assert (c["events"] == 0).all()
    for measure in ("Harrell's C", "Uno's C", "Royston's D", "calibration slope",
                    "time-dependent AUC", "Brier score", "IPA"):
        assert np.isnan(c.loc[measure, "estimate"]), measure          # R: NA / refused
        assert "no event in this centre" in c.loc[measure, "note"], measure
    # O/E is estimable, 0, and has no log scale: it leaves the pooling, which says so
    assert c.loc["O/E", "estimate"] == 0.0
    assert c.loc["O/E", "note"].startswith("O/E = 0: no event by 60")
    pooled = cen[cen.centre == "pooled (random effects)"].set_index("measure")
    assert (pooled["k"] == 2).all()
    assert pooled.loc["O/E", "note"].startswith("Left out of the pooling: C: O/E = 0")
    assert "C: not estimable: no event in this centre" in pooled.loc["Harrell's C", "note"]
    note = (tmp / "centres.md").read_text()
    assert "no event in this centre" in note and "O/E = 0: no event by 60" in note
    # the centres with events are the single-centre computations
    from netpet_stats.validation import external
    model = frozen_model.load(tmp / "model.yaml")
    a = VAL[(VAL.pid % 2 == 0) & ~((VAL.pid % 3 == 2) & (VAL.rfs_event == 0))]
    pred = frozen_model.predict_survival(model, a, 60).to_numpy()
    oe = external.observed_expected(a.rfs_time, a.rfs_event, pred, 60)
    assert cen[(cen.centre == "A") & (cen.measure == "O/E")].estimate.iloc[0] == pytest.approx(
        oe["estimate"], rel=1e-9)


# ------------------------------------------------------------ case mix, published model
# A model written from a paper holds the coefficients and the baseline survival at the
# horizons only (docs/validation.md); a fuller hand-written one adds the linear
# predictor's mean and SD (what the sample-size simulation needs), without n. The case
# mix must run with what the file gives and say what it lacks.

def _hand_lp(model, d):
    """The full Rotterdam model's linear predictor written out term by term."""
    b = model["coefficients"]
    return (b["size[20-50]"] * (d["size"] == "20-50") + b["size[>50]"] * (d["size"] == ">50")
            + b["nodes"] * np.log2(d["nodes"]) + b["grade3"] * d["grade3"]
            + b["age"] * d["age"] / 10 + b["hormon"] * d["hormon"]
            + b["pgr"] * np.log2(np.maximum(d["pgr"], 1))).to_numpy(float)


@pytest.mark.parametrize("kind", ["paper", "fuller"])
def test_case_mix_runs_on_a_published_model_and_says_what_it_lacks(run, tmp_path, kind):
    import yaml

    from netpet_stats.steps.case_mix import run_case_mix

    _, model, _ = run
    paper = {"coefficients": model["coefficients"], "covariates": model["covariates"],
             "baseline_survival": {k: model["baseline_survival"][k]
                                   for k in ("horizons", "survival")},
             "endpoint": "rfs", "name": "Rotterdam (published)"}
    if kind == "fuller":
        paper.update(netpet_stats_model=1, time_unit="months", strata=None,
                     development={"events": 1000,
                                  "linear_predictor": {"mean": 1.25, "sd": 0.5}})
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(paper))
    val = VAL.assign(centre=np.where(VAL.pid % 2 == 0, "even", "odd"))
    save_analysis(val, tmp_path / "validation.parquet")
    config = {**CONFIG, "privacy": {"threshold": 5},
              "validation": {"mode": "validate", "endpoint": "rfs", "model": "full"}}
    out = SimpleNamespace(table=str(tmp_path / "case_mix.csv"),
                          figures=[str(tmp_path / "case_mix.png")])
    run_case_mix(config, str(tmp_path / "validation.parquet"), str(path), out)
    table = pd.read_csv(out.table, keep_default_na=False, na_values=[""])
    note = (tmp_path / "case_mix.md").read_text()
    # the validation cohort's linear predictor, from the coefficients by hand
    lp = _hand_lp(paper, VAL)
    np.testing.assert_allclose(lp[:5], RG["lp_first"], rtol=1e-6)   # the hand formula is R's
    got = table[(table.cohort == "validation") & (table.variable == "linear_predictor")]
    got = got.set_index("statistic")["value"]
    assert got["n"] == len(VAL)
    assert got["mean"] == pytest.approx(lp.mean(), rel=1e-9)
    assert got["SD"] == pytest.approx(lp.std(ddof=1), rel=1e-9)
    assert got["centile 50"] == pytest.approx(np.median(lp), rel=1e-9)
    size = table[(table.cohort == "validation") & (table.variable == "size")]
    assert size.set_index("level")["value"]["20-50"] == pytest.approx(
        (VAL["size"] == "20-50").mean(), rel=1e-9)                   # CSV: 10 digits
    assert {"validation, centre even", "validation, centre odd"} <= set(table.cohort)
    assert (tmp_path / "case_mix.png").is_file()
    dev = table[table.cohort == "development"]
    if kind == "paper":
        assert dev.empty
        assert "No development rows: the model file stores no summary" in note
    else:
        assert dev[["statistic", "value"]].values.tolist() == [["mean", 1.25], ["SD", 0.5]]
        assert ("The model file does not give the number of patients, the linear "
                "predictor's centiles 5, 25, 50, 75 and 95 or the predictors' centiles and "
                "proportions") in note
