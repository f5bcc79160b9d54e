"""Rules impute and cox_mi end to end on the CI cohort (missing_data.method: multiple_imputation).

The tiny cohort of .test/ (90 patients of the bundled synthetic cohort; 3 without a
score are left out, 13 of the other 87 lack Ki-67, 1 grade) is imputed m = 4 times (3
cycles) by the workflow in two scratch copies. The pooled tables must equal Rubin's rules applied by hand to Cox models fitted here on the
imputed sets the rule wrote (``intermediate/missing_data/imputed.parquet``); the
imputed sets must keep every observed value; the two runs must write the same bytes.
Tolerance: 1e-9 relative (the same fits, summed in the same order; the CSV holds
10 significant digits).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.config import cox_ties, load_config, model_specs
from netpet_stats.survival import cox, rubin
from workflow_run import copy_project, run_snakemake

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow

M = 4
#: the tables are written to 10 significant digits (report.tables.write_table)
RTOL = 1e-9
MI_YAML = f"missing_data: {{method: multiple_imputation, m: {M}, iterations: 3, seed: 11}}\n"
ENDPOINTS = ("os", "ttp", "pfs")


def _targets() -> list[str]:
    return ["results/missing_data/imputation.csv",
            *[f"results/{ep}/cox_{kind}_mi.csv" for ep in ENDPOINTS
              for kind in ("coefficients", "tests")]]


@pytest.fixture(scope="module")
def mi_runs(tmp_path_factory):
    """The MI rules alone (and the cohort preparation they need), run twice from scratch."""
    runs = []
    for name in ("mi1", "mi2"):
        work = copy_project(tmp_path_factory.mktemp(name))
        shutil.copytree(ROOT / ".test", work / ".test")
        (work / "mi.yaml").write_text(MI_YAML)
        proc = run_snakemake(work, *_targets(), "--configfile", ".test/config/config.yaml",
                             "mi.yaml")
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


def test_reruns_are_byte_identical(mi_runs):
    a, b = mi_runs
    files = sorted(p.relative_to(a) for p in (a / "results").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in (b / "results").rglob("*") if p.is_file())
    # each table and its markdown copy, beside the cohort step's
    assert {Path(t) for t in _targets()} | {Path(t[:-4] + ".md") for t in _targets()} <= set(files)
    files.append(Path("intermediate/missing_data/imputed.parquet"))
    differing = [str(p) for p in files if (a / p).read_bytes() != (b / p).read_bytes()]
    assert differing == []
