"""Rules impute and pool_mi end to end on the CI cohort (missing_data.method: multiple_imputation).

The tiny cohort of .test/ (90 patients of the bundled synthetic cohort; 3 without a
score are left out, 13 of the other 87 lack Ki-67, 1 grade) is imputed m = 4 times (3
cycles) by the workflow in two scratch copies. The pooled tables must equal Rubin's rules applied by hand to Cox models fitted here on the
imputed sets the rule wrote (``intermediate/missing_data/imputed.parquet``); the
imputed sets must keep every observed value; the two runs must write the same bytes.
Tolerance: 1e-9 relative (the same fits, summed in the same order; the CSV holds
10 significant digits).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.config import cox_ties, load_config, model_specs
from netpet_stats.survival import concordance, cox, rubin
from netpet_stats.validation.external import calibration_slope, observed_expected
from workflow_run import copy_project, run_snakemake

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow

M = 4
#: the tables are written to 10 significant digits (report.tables.write_table)
RTOL = 1e-9
MI_YAML = (f"missing_data: {{method: multiple_imputation, m: {M}, iterations: 3, seed: 11}}\n"
           "validation: {mode: develop, horizons: [12, 24]}\n")
ENDPOINTS = ("os", "ttp", "pfs")


def _targets() -> list[str]:
    return ["results/missing_data/imputation.csv", "results/os/calibration_mi.csv",
            "results/model/frozen_model_mi.yaml", "results/figures/imputed_values.png",
            "results/missing_data/missing_by_variable.csv",
            "results/missing_data/missing_patterns.csv",
            *[f"results/{ep}/{kind}_mi.csv" for ep in ENDPOINTS
              for kind in ("cox_coefficients", "cox_tests", "concordance")]]


#: the complete-case tables the report sets beside the pooled ones
CC_TABLES = [f"results/{ep}/{kind}.csv" for ep in ENDPOINTS
             for kind in ("cox_coefficients", "concordance")] + ["results/model/frozen_model.yaml"]


@pytest.fixture(scope="module")
def mi_runs(tmp_path_factory):
    """The MI rules alone (and the cohort preparation they need), run twice from scratch."""
    runs = []
    for name in ("mi1", "mi2"):
        work = copy_project(tmp_path_factory.mktemp(name))
        shutil.copytree(ROOT / ".test", work / ".test")
        (work / "mi.yaml").write_text(MI_YAML)
        # every rule's settings digest must cover what its step reads
        proc = run_snakemake(work, *_targets(), *CC_TABLES, "--configfile", ".test/config/config.yaml",
                             "mi.yaml", env={**os.environ, "NETPET_CHECK_SETTINGS": "1"})
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(work)
    return runs


@pytest.fixture(scope="module")
def config(mi_runs):
    work = mi_runs[0]
    return load_config([work / ".test" / "config" / "config.yaml", work / "mi.yaml"],
                       base=work / "config" / "config.yaml")


@pytest.fixture(scope="module")
def sets(mi_runs, config):
    from netpet_stats.steps.imputation import load_sets

    return load_sets(mi_runs[0] / "intermediate" / "missing_data" / "imputed.parquet", config)


def test_the_imputed_sets_keep_every_observed_value(mi_runs, sets):
    analysis = pd.read_parquet(mi_runs[0] / "intermediate" / "analysis_cohort.parquet")
    # the 3 patients without a NETPET score are left out, with the reason, and no other
    kept = analysis[analysis["netpet_group"].notna()].reset_index(drop=True)
    assert len(analysis) - len(kept) == 3
    assert len(sets) == M
    ki67 = kept["ki67"].to_numpy(float)
    observed = ~np.isnan(ki67)
    assert (~observed).sum() == 13
    for d in sets:
        assert len(d) == len(kept)
        assert d["ki67"].notna().all() and d["grade"].notna().all()
        np.testing.assert_array_equal(d["os_time"], kept["os_time"])
        np.testing.assert_array_equal(d["ki67"].to_numpy(float)[observed], ki67[observed])
        np.testing.assert_array_equal(d["grade"].astype(str)[kept["grade"].notna()],
                                      kept["grade"].dropna())
        # predictive mean matching imputes a value some patient had
        assert set(d["ki67"][~observed]) <= set(ki67[observed])
    # the imputations differ from one another (between-imputation variance to pool)
    assert len({tuple(d["ki67"][~observed]) for d in sets}) > 1
    summary = pd.read_csv(mi_runs[0] / "results" / "missing_data" / "imputation.csv")
    row = summary.set_index("variable").loc["ki67"]
    assert (row["method"], int(row["missing"]), int(row["m"])) == ("pmm", 13, M)
    left = summary[summary["method"] == "left out"].iloc[0]
    assert int(left["missing"]) == 3 and left["note"].startswith("netpet_group missing")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_pooled_tables_equal_rubins_rules_by_hand(mi_runs, config, sets, endpoint):
    coefs = pd.read_csv(mi_runs[0] / "results" / endpoint / "cox_coefficients_mi.csv")
    tests = pd.read_csv(mi_runs[0] / "results" / endpoint / "cox_tests_mi.csv")
    specs = model_specs(config)
    assert sorted(set(coefs["model"])) == sorted(specs)
    for name, spec in specs.items():
        fits = [cox.fit_cox(d, f"{endpoint}_time", f"{endpoint}_event", spec["covariates"],
                            spec["strata"], config["covariates"], ties=cox_ties(config))
                for d in sets]
        q = np.array([f.beta for f in fits])
        u = np.array([np.diag(f.variance) for f in fits])
        k = q.shape[1]
        dfcom = fits[0].events - k                     # mice's dfcom for a Cox model
        mine = coefs[coefs["model"] == name].reset_index(drop=True)
        assert len(mine) == k
        # Rubin (1987) written out: mean, within + (1 + 1/m) between
        qbar, ubar, b = q.mean(axis=0), u.mean(axis=0), q.var(axis=0, ddof=1)
        total = ubar + (1 + 1 / M) * b
        np.testing.assert_allclose(mine["estimate"], qbar, rtol=RTOL, atol=1e-14)
        np.testing.assert_allclose(mine["se"], np.sqrt(total), rtol=RTOL)
        np.testing.assert_allclose(mine["hr"], np.exp(qbar), rtol=RTOL)
        assert (mine["dfcom"] == dfcom).all() and (mine["m"] == M).all()
        # and the df, p and interval of rubin.pool (itself checked against mice::pool)
        ref = rubin.pool(q, u, dfcom, float(config["cox"]["conf_level"]))
        for col in ("df", "p", "lower", "upper", "fmi"):
            np.testing.assert_allclose(mine[col], ref[col], rtol=RTOL, atol=1e-14,
                                       err_msg=f"{endpoint} {name} {col}")
        # one D1 test per term, joint over a factor's contrasts
        cov = np.array([f.variance for f in fits])
        names = list(fits[0].design.columns)
        mt = tests[tests["model"] == name].set_index("term")
        for term in fits[0].terms:
            idx = [names.index(c) for c in term.columns]
            d1 = rubin.d1_test(q[:, idx], cov[:, idx][:, :, idx], dfcom)
            assert mt.loc[term.name, "df1"] == len(idx)
            for key in ("statistic", "df2", "p"):
                np.testing.assert_allclose(mt.loc[term.name, key], d1[key], rtol=RTOL,
                                           err_msg=f"{endpoint} {name} {term.name} {key}")


def _rubin_by_hand(y, s2, conf=0.95):
    """Rubin (1987) with large-sample Barnard-Rubin df: estimate, lower, upper."""
    from scipy import stats

    y, s2 = np.asarray(y, float), np.asarray(s2, float)
    m = len(y)
    qbar, ubar, b = y.mean(), s2.mean(), y.var(ddof=1)
    t = ubar + (1 + 1 / m) * b
    lam = max((1 + 1 / m) * b / t, 1e-4)              # mice's floor (b = 0: no missing)
    half = stats.t.ppf(1 - (1 - conf) / 2, (m - 1) / lam ** 2) * np.sqrt(t)
    return qbar, qbar - half, qbar + half


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_pooled_c_is_rubin_on_the_logit_scale(mi_runs, config, sets, endpoint):
    table = pd.read_csv(mi_runs[0] / "results" / endpoint / "concordance_mi.csv")
    ccfg = config["concordance"]
    specs = model_specs(config)
    expit = lambda y: 1 / (1 + np.exp(-y))  # noqa: E731
    assert len(table) == 2 * (len(ccfg["predictors"]) + len(ccfg["models"]))
    for estimator, fn in (("Harrell", concordance.harrell_c), ("Uno", concordance.uno_c)):
        # "ki67" names a predictor and a model: the table's kind tells them apart
        for name, kind in [*((n, "predictor") for n in ccfg["predictors"]),
                           *((n, "model linear predictor") for n in ccfg["models"])]:
            per = []
            for d in sets:
                t, e = d[f"{endpoint}_time"], d[f"{endpoint}_event"]
                if kind != "predictor":
                    spec = specs[name]
                    fit = cox.fit_cox(d, f"{endpoint}_time", f"{endpoint}_event",
                                      spec["covariates"], spec["strata"], config["covariates"],
                                      ties=cox_ties(config))
                    strata = cox.stratum_labels(d, spec["strata"]) if spec["strata"] else None
                    per.append(fn(t, e, cox.linear_predictor(fit), strata=strata,
                                  ymax=ccfg["horizon"]))
                else:  # a categorical predictor as its ordinal codes 1..k
                    x = d[name]
                    x = (x.cat.codes + 1 if isinstance(x.dtype, pd.CategoricalDtype) else
                         x.map({lv: i + 1 for i, lv in
                                enumerate(config["covariates"][name]["levels"])})
                         if config["covariates"][name].get("levels") else x).astype(float)
                    per.append(fn(t, e, x, ymax=ccfg["horizon"]))
            c = np.array([r["estimate"] for r in per])
            se = np.array([r["se"] for r in per])
            want = [expit(v) for v in _rubin_by_hand(np.log(c / (1 - c)),
                                                     (se / (c * (1 - c))) ** 2)]
            row = table[(table["estimator"] == estimator) & (table["predictor"] == name)
                        & (table["kind"] == kind)]
            assert len(row) == 1
            got = row[["c", "lower", "upper"]].to_numpy()[0]
            np.testing.assert_allclose(got, want, rtol=RTOL, err_msg=f"{estimator} {name}")
            assert row["min_imputation"].iloc[0] == pytest.approx(c.min(), rel=RTOL)


def test_pooled_calibration_of_the_model_developed_on_the_imputed_sets(mi_runs, config, sets):
    """Pooled coefficients (mean) and baseline (cloglog mean: exp(-geometric mean of
    H0_i)), the slope on each set pooled as it is, O/E on the log scale."""
    table = pd.read_csv(mi_runs[0] / "results" / "os" / "calibration_mi.csv")
    name = config["validation"]["model"]
    spec = model_specs(config)[name]
    assert not spec["strata"]
    fits = [cox.fit_cox(d, "os_time", "os_event", spec["covariates"], [],
                        config["covariates"], ties=cox_ties(config)) for d in sets]
    beta = np.mean([f.beta for f in fits], axis=0)
    horizons = [12.0, 24.0]
    h0 = np.array([cox.baseline_cumhaz(f, horizons)["cumhaz"].to_numpy() for f in fits])
    s0 = np.exp(-np.exp(np.log(h0).mean(axis=0)))
    slopes, oes = [], {h: [] for h in horizons}
    for f, d in zip(fits, sets):
        lp = f.design.to_numpy() @ beta
        slopes.append(calibration_slope(d["os_time"], d["os_event"], lp))
        for k, h in enumerate(horizons):
            oes[h].append(observed_expected(d["os_time"], d["os_event"],
                                            s0[k] ** np.exp(lp), h))
    slope = _rubin_by_hand([s["estimate"] for s in slopes], [s["se"] ** 2 for s in slopes])
    assert list(table["horizon"]) == horizons
    for _, row in table.iterrows():
        np.testing.assert_allclose(row[["calibration_slope", "slope_lower", "slope_upper"]]
                                   .to_numpy(float), slope, rtol=RTOL)
        per = oes[row["horizon"]]
        want = np.exp(_rubin_by_hand(np.log([o["estimate"] for o in per]),
                                     [o["se_log"] ** 2 for o in per]))
        np.testing.assert_allclose(row[["o_e", "o_e_lower", "o_e_upper"]].to_numpy(float),
                                   want, rtol=RTOL)
        assert row["observed_risk"] == pytest.approx(per[0]["observed"], rel=RTOL)


def test_the_model_developed_on_the_imputed_sets_is_frozen_apart(mi_runs, config, sets):
    """Pooled coefficients (the MI table's estimates), the baseline pooled on the cloglog
    scale, stated as developed on m imputed sets and not the primary model; it loads
    and predicts as any frozen model."""
    from netpet_stats.validation import frozen_model

    path = mi_runs[0] / "results" / "model" / "frozen_model_mi.yaml"
    model = frozen_model.load(path)
    name = config["validation"]["model"]
    assert model["name"] == name and model["endpoint"] == "os" and model["primary"] is False
    assert model["developed_on"]["imputations"] == M
    assert f"developed on {M} multiply imputed data sets" in model["developed_on"]["statement"]
    pooled = pd.read_csv(mi_runs[0] / "results" / "os" / "cox_coefficients_mi.csv")
    pooled = pooled[pooled["model"] == name]
    np.testing.assert_allclose([model["coefficients"][c] for c in pooled["column"]],
                               pooled["estimate"], rtol=RTOL)
    spec = model_specs(config)[name]
    fits = [cox.fit_cox(d, "os_time", "os_event", spec["covariates"], [],
                        config["covariates"], ties=cox_ties(config)) for d in sets]
    h0 = np.array([cox.baseline_cumhaz(f, [12.0, 24.0])["cumhaz"].to_numpy() for f in fits])
    (s0,) = model["baseline_survival"]["survival"].values()
    np.testing.assert_allclose(s0, np.exp(-np.exp(np.log(h0).mean(axis=0))), rtol=1e-12)
    lp = frozen_model.linear_predictor(model, sets[0]).to_numpy()
    np.testing.assert_allclose(lp, fits[0].design.to_numpy() @ pooled["estimate"].to_numpy(),
                               rtol=1e-8, atol=1e-12)


def test_reruns_are_byte_identical(mi_runs):
    a, b = mi_runs
    files = sorted(p.relative_to(a) for p in (a / "results").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in (b / "results").rglob("*") if p.is_file())
    # each table and its markdown copy, beside the cohort step's
    assert {Path(t) for t in _targets()} | {Path(t[:-4] + ".md") for t in _targets()
                                            if t.endswith(".csv")} <= set(files)
    files.append(Path("intermediate/missing_data/imputed.parquet"))
    differing = [str(p) for p in files if (a / p).read_bytes() != (b / p).read_bytes()]
    assert differing == []


def test_missing_data_patterns_by_hand(mi_runs):
    analysis = pd.read_parquet(mi_runs[0] / "intermediate" / "analysis_cohort.parquet")
    kept = analysis[analysis["netpet_group"].notna()]
    results = mi_runs[0] / "results" / "missing_data"
    by_var = pd.read_csv(results / "missing_by_variable.csv").set_index("variable")
    for col in ("grade", "ki67", "age", "extrahepatic", "netpet_group", "centre"):
        assert by_var.loc[col, "missing"] == kept[col].isna().sum(), col
        assert by_var.loc[col, "patients"] == len(kept)
    assert by_var.loc["ki67", "imputed"] == "yes"
    assert by_var.loc["netpet_group", "imputed"] == "no: never imputed"
    pat = pd.read_csv(results / "missing_patterns.csv")
    assert pat["patients"].sum() == len(kept)
    ki, gr = kept["ki67"].isna(), kept["grade"].isna()
    for ki_obs, gr_obs in ((1, 1), (0, 1), (1, 0), (0, 0)):
        want = int(((ki == (ki_obs == 0)) & (gr == (gr_obs == 0))).sum())
        got = pat[(pat["ki67"] == ki_obs) & (pat["grade"] == gr_obs)]["patients"].sum()
        assert got == want
    assert pat.iloc[0]["variables_missing"] == 0      # the complete pattern first


def _report_files(work: Path) -> list[Path]:
    return [p for p in (work / "results").rglob("*") if p.suffix in (".csv", ".yaml")]


def test_the_report_sets_complete_case_beside_mi(mi_runs, config):
    from netpet_stats.report import document

    work = mi_runs[0]
    results = document.ResultFiles(_report_files(work), work / "results")
    models = {name: spec["label"] for name, spec in model_specs(config).items()}
    section = document._missing_data_section(config, results, models)
    assert section is not None
    assert "13 missing, predictive mean matching" in section["text"]
    # each cumulative hazard times each complete predictor (White & Royston 2009)
    summary = pd.read_csv(work / "results" / "missing_data" / "imputation.csv")
    assert "each cumulative hazard times each of these" in \
        (work / "results" / "missing_data" / "imputation.md").read_text()
    assert set(summary["method"].dropna()) >= {"pmm"}
    assert "3 patients, netpet_group missing" in section["text"]
    assert "in 4 data sets" in section["text"]
    # one Cox table per endpoint, with the models a covariate's missing values change
    assert len(section["cox"]) == len(ENDPOINTS) and len(section["concordance"]) == 3
    cc = pd.read_csv(work / "results" / "os" / "cox_coefficients.csv")
    mi = pd.read_csv(work / "results" / "os" / "cox_coefficients_mi.csv")
    html = str(section["cox"][0])
    ns = []
    for frame in (cc, mi):
        row = frame[(frame["model"] == "ki67") & (frame["term"] == "ki67")].iloc[0]
        assert document._ci(row["hr"], row["hr_lower"], row["hr_upper"]) in html
        ns.append(int(row["n"]))
    assert ns == [87 - 13, 87]                        # the complete cases, and everyone
    assert all(f">{n}<" in html for n in ns)
    # exactly the models whose complete cases are fewer than all patients, one group each
    import re

    from markupsafe import escape

    n_cc = cc.groupby("model")["n"].first()
    affected = {models[name] for name, n in n_cc.items() if n != 87}
    assert "univariable_age" not in affected and len(affected) >= 5
    headings = re.findall(r'class="gt_group_heading"[^>]*>([^<]*)<', html)
    assert set(headings) == {str(escape(label)) for label in affected}
    assert section["calibration"] is not None
    assert "complete-case frozen model stays the primary one" in section["text"]


def test_methods_say_mi_only_when_it_ran(config):
    import copy

    from netpet_stats.report import document

    text = document.methods_text(config)
    mi = [p for p in text["paragraphs"] if "multiply imputed" in p]
    assert len(mi) == 1
    for ref in ("Rubin DB. Multiple Imputation", "White IR, Royston P, Wood AM",
                "van Buuren S. Flexible", "Marshall A, Altman DG",
                "White IR, Royston P. Imputing"):
        assert any(r.startswith(ref) for r in text["references"]), ref
    assert f"m = {M} data sets were imputed, with 3 cycles" in mi[0]
    assert "apparent calibration" in mi[0]            # develop mode
    assert "products of each cumulative hazard with each complete covariate" in mi[0]
    cc = copy.deepcopy(config)
    cc["missing_data"]["method"] = "complete_case"
    plain = document.methods_text(cc)
    assert not any("imputed" in p for p in plain["paragraphs"])
    assert not any(r.startswith("Rubin DB") for r in plain["references"])


VALIDATE_YAML = ("output_folder: analyses/val\n"
                 "validation: {mode: validate, model_file: results/model/frozen_model.yaml, "
                 "n_boot: 10}\n")


@pytest.fixture(scope="module")
def validate_run(mi_runs):
    """The complete-case frozen model validated on the same small cohort, imputed."""
    work = mi_runs[0]
    (work / "validate.yaml").write_text(VALIDATE_YAML)
    targets = [f"analyses/val/results/{rel}" for rel in (
        "validation/centres_mi.csv", "validation/centres.csv", "os/calibration_mi.csv",
        "figures/validation_centres.png", "figures/validation_centres_mi.png")]
    proc = run_snakemake(work, *targets, "--configfile", ".test/config/config.yaml", "mi.yaml",
                         "validate.yaml", env={**os.environ, "NETPET_CHECK_SETTINGS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work / "analyses" / "val"


def test_validation_pools_each_centre_over_imputations_then_centres(validate_run, config):
    """Harrell's C, slope and O/E: Rubin per centre (logit, identity, log) by hand, then
    DerSimonian-Laird over the centres (external.random_effects, itself tested)."""
    from scipy import stats

    from netpet_stats.steps.imputation import load_sets
    from netpet_stats.validation import external, frozen_model

    model = frozen_model.load(validate_run.parent.parent / "results" / "model"
                              / "frozen_model.yaml")
    sets = load_sets(validate_run / "intermediate" / "missing_data" / "imputed.parquet", config)
    table = pd.read_csv(validate_run / "results" / "validation" / "centres_mi.csv")
    tau = max(model["baseline_survival"]["horizons"])
    per = [external.centre_measures(d["os_time"], d["os_event"],
                                    frozen_model.linear_predictor(model, d),
                                    frozen_model.predict_survival(model, d, tau),
                                    d["centre"].astype(str), tau) for d in sets]
    back = {"Harrell's C": lambda x: 1 / (1 + np.exp(-x)), "calibration slope": lambda x: x,
            "O/E": np.exp}
    for measure, f in back.items():
        ys, ses = [], []
        for centre in ("A", "B", "C"):
            rows = [p[(p["centre"] == centre) & (p["measure"] == measure)].iloc[0] for p in per]
            y = np.array([r["scale_estimate"] for r in rows])
            u = np.array([r["scale_se"] for r in rows]) ** 2
            qbar, b = y.mean(), y.var(ddof=1)
            t = u.mean() + (1 + 1 / M) * b
            lam = max((1 + 1 / M) * b / t, 1e-4)
            half = stats.t.ppf(0.975, (M - 1) / lam ** 2) * np.sqrt(t)
            got = table[(table["centre"] == centre) & (table["measure"] == measure)].iloc[0]
            np.testing.assert_allclose([got["estimate"], got["lower"], got["upper"]],
                                       [f(qbar), f(qbar - half), f(qbar + half)], rtol=RTOL,
                                       err_msg=f"{measure} {centre}")
            ys.append(qbar)
            ses.append(np.sqrt(t))
        re = external.random_effects(ys, ses)
        got = table[(table["centre"] == "pooled (random effects)")
                    & (table["measure"] == measure)].iloc[0]
        np.testing.assert_allclose([got["estimate"], got["lower"], got["upper"]],
                                   [f(re["estimate"]), f(re["lower"]), f(re["upper"])],
                                   rtol=RTOL, err_msg=measure)


def test_validation_calibration_applies_the_frozen_model_unchanged(validate_run, config):
    from netpet_stats.steps.imputation import load_sets
    from netpet_stats.validation import frozen_model

    model = frozen_model.load(validate_run.parent.parent / "results" / "model"
                              / "frozen_model.yaml")
    sets = load_sets(validate_run / "intermediate" / "missing_data" / "imputed.parquet", config)
    table = pd.read_csv(validate_run / "results" / "os" / "calibration_mi.csv")
    assert list(table["horizon"]) == model["baseline_survival"]["horizons"]
    slopes = [calibration_slope(d["os_time"], d["os_event"],
                                frozen_model.linear_predictor(model, d)) for d in sets]
    want = _rubin_by_hand([s["estimate"] for s in slopes], [s["se"] ** 2 for s in slopes])
    np.testing.assert_allclose(table.iloc[0][["calibration_slope", "slope_lower",
                                              "slope_upper"]].to_numpy(float), want, rtol=RTOL)


def test_the_report_sets_centres_side_by_side(validate_run, config):
    from netpet_stats.report import document

    cfg = load_config([validate_run.parent.parent / ".test" / "config" / "config.yaml",
                       validate_run.parent.parent / "mi.yaml",
                       validate_run.parent.parent / "validate.yaml"],
                      base=validate_run.parent.parent / "config" / "config.yaml")
    results = document.ResultFiles(_report_files(validate_run), validate_run / "results")
    models = {name: spec["label"] for name, spec in model_specs(cfg).items()}
    section = document._missing_data_section(cfg, results, models)
    html = str(section["centres"])
    cc = pd.read_csv(validate_run / "results" / "validation" / "centres.csv")
    mi = pd.read_csv(validate_run / "results" / "validation" / "centres_mi.csv")
    for frame in (cc, mi):
        row = frame[(frame["centre"] == "pooled (random effects)")
                    & (frame["measure"] == "Harrell's C")].iloc[0]
        assert document._ci(row["estimate"], row["lower"], row["upper"]) in html
    assert "in each centre, every performance measure was pooled over the imputations" in \
        " ".join(document.methods_text(cfg)["paragraphs"])


@pytest.mark.parametrize("width", ["single", "double"])
def test_the_observed_and_imputed_figure_prints_at_both_widths(mi_runs, config, sets, width):
    from netpet_stats.report import figures as F

    analysis = pd.read_parquet(mi_runs[0] / "intermediate" / "analysis_cohort.parquet")
    kept = analysis[analysis["netpet_group"].notna()].reset_index(drop=True)
    miss = kept["ki67"].isna().to_numpy()
    log2 = lambda x: np.log2(np.maximum(x.astype(float).to_numpy(), 1.0))  # noqa: E731
    values = pd.concat(
        [pd.DataFrame({"variable": "ki67", "value": log2(kept["ki67"][~miss]),
                       "source": "observed"}),
         *[pd.DataFrame({"variable": "ki67", "value": log2(d["ki67"][miss]),
                         "source": "imputed"}) for d in sets],
         pd.DataFrame({"variable": "grade", "value": kept["grade"].dropna(),
                       "source": "observed"}),
         *[pd.DataFrame({"variable": "grade", "value": d["grade"][kept["grade"].isna()],
                         "source": "imputed"}) for d in sets]], ignore_index=True)
    fig = F.imputation_figure(values, {"ki67": "log2 Ki-67", "grade": "WHO grade"},
                              {"ki67": "continuous", "grade": "categorical"},
                              style=F.FigureStyle(width=width))
    assert F.text_problems(fig) == []
    assert len(fig.axes) >= 2
    assert (mi_runs[0] / "results" / "figures" / "imputed_values.png").stat().st_size > 1000


def test_the_report_sets_the_centre_forests_side_by_side(validate_run, config):
    """The per-centre forest after MI beside the complete-case one, each named."""
    from PIL import Image

    from netpet_stats.report import document

    cfg = load_config([validate_run.parent.parent / ".test" / "config" / "config.yaml",
                       validate_run.parent.parent / "mi.yaml",
                       validate_run.parent.parent / "validate.yaml"],
                      base=validate_run.parent.parent / "config" / "config.yaml")
    figures = validate_run / "results" / "figures"
    # drawn at the same printed width
    assert (Image.open(figures / "validation_centres_mi.png").size[0]
            == Image.open(figures / "validation_centres.png").size[0])
    files = _report_files(validate_run) + [
        figures / f"{name}.png" for name in ("validation_centres", "validation_centres_mi")]
    results = document.ResultFiles(files, validate_run / "results")
    models = {name: spec["label"] for name, spec in model_specs(cfg).items()}
    section = document._missing_data_section(cfg, results, models)
    (cc, cc_fig, _), (mi, mi_fig, mi_caption) = section["centre_figures"]
    assert (cc, mi) == ("complete case", "multiple imputation")
    assert Path(cc_fig.path).name == "validation_centres.png"
    assert Path(mi_fig.path).name == "validation_centres_mi.png"
    assert "pooled over the imputations" in mi_caption
