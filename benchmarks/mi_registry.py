"""Benchmark: multiple imputation and pooled Cox models on a synthetic registry of N patients.

    python benchmarks/mi_registry.py 100000             # 10^5 patients, m = 20, beside R mice
    python benchmarks/mi_registry.py 100000 --no-r --keep /tmp/mi_registry

Draws the registry as ``benchmarks/registry.py`` does (synthetic generator, seed 1, three
centres; Ki-67 and grade missing as the generator leaves them), and runs by ``snakemake
--cores 2`` the cohort preparation and the two rules of multiple imputation under the
default configuration with ``missing_data.method: multiple_imputation`` (m = 20, 10
cycles): ``impute`` (chained equations: predictive mean matching for log2 Ki-67,
proportional odds for grade, 2 processes) and ``pool_mi`` (each of the 11 configured
models fitted on each imputed set of both endpoints, 440 fits, pooled by Rubin's rules;
Harrell's and Uno's C pooled; the model developed on the imputed sets frozen, with its
calibration). It prints each job's wall time and peak memory (Snakemake's ``benchmark:``
files).

Beside it, when R has ``mice`` (Debian ``r-cran-mice``), ``benchmarks/r_mice.R`` on the
same prepared rows: ``mice(m = 20, maxit = 10)`` with the same methods (``pmm`` on log2
Ki-67, ``polr`` for grade) and predictors (each endpoint's event indicator and
Nelson-Aalen hazard, age, extrahepatic disease, NETPET group, centre), then
``pool(with(imp, coxph(...)))`` of the same 11 models for both endpoints (one process,
one core: mice has no parallel imputation in one call). R computes no C, calibration or
frozen model: the Python time of those is inside ``pool_mi``. Not a test.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from registry import declared_memory, write_registry  # noqa: E402

from netpet_stats.config import load_config, model_specs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "cohort: {table: registry.csv, lesions: null}\nmissing_data: {method: multiple_imputation, m: 20}\n"


def _r_formula(spec: dict, covariates: dict, endpoint: str) -> str:
    terms = []
    for c in spec["covariates"]:
        kind = covariates.get(c, {}).get("type", "continuous")
        if kind == "categorical":
            terms.append(f"factor({c})")
        elif covariates.get(c, {}).get("transform") == "log2":
            terms.append(f"log2(pmax({c}, {covariates[c].get('floor', 1.0)}))")
        else:
            terms.append(c)
    terms += [f"strata({s})" for s in spec["strata"]]
    return f"Surv({endpoint}_time, {endpoint}_event) ~ " + " + ".join(terms or ["1"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument("--no-r", action="store_true", help="do not run R's mice")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="mi_registry_"))
    work.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "workflow", "config", "data"):
        src = ROOT / item
        if not (work / item).exists():
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / item)
    write_registry(args.n, work / "registry.csv")
    (work / "registry.yaml").write_text(CONFIG)
    config = load_config([work / "registry.yaml"], base=work / "config" / "config.yaml")
    endpoints = list(config["endpoints"])
    targets = ["results/missing_data/imputation.csv",
               *[f"results/{ep}/cox_coefficients_mi.csv" for ep in endpoints]]
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", *targets, "--cores", "2",
                           "--configfile", "registry.yaml"], cwd=work, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    declared = declared_memory(proc.stdout + proc.stderr)
    print(f"registry of {args.n} patients; snakemake --cores 2; m = 20, 10 cycles")
    summary = pd.read_csv(work / "results" / "missing_data" / "imputation.csv")
    for r in summary.itertuples():
        print(f"  {r.variable if isinstance(r.variable, str) else 'left out'}: {r.method}, {r.missing} of {r.patients} missing")
    print(f"{'job':<16}  {'seconds':>8}  {'CPU s':>7}  {'peak MiB':>9}  {'declared MB':>11}")
    for rule in ("prepare_cohort", "impute", "pool_mi"):
        b = pd.read_csv(work / "logs" / "benchmarks" / f"{rule}.tsv", sep="\t")
        print(f"{rule:<16}  {float(b['s'].iloc[0]):>8.1f}  {float(b['cpu_time'].iloc[0]):>7.1f}  {float(b['max_rss'].iloc[0]):>9.0f}"
              f"  {declared.get(rule, ''):>11}")
    print(f"{'snakemake (wall)':<16}  {elapsed:>8.1f}")
    have_mice = shutil.which("Rscript") and subprocess.run(
        ["Rscript", "-e", "library(mice)"], capture_output=True).returncode == 0
    if args.no_r or not have_mice:
        print("R mice: not run" + ("" if args.no_r else " (Rscript or mice not installed)"))
    else:
        data = pd.read_parquet(work / "intermediate" / "analysis_cohort.parquet")
        covs = list(dict.fromkeys(c for s in model_specs(config).values()
                                  for c in [*s["covariates"], *s["strata"]]))
        outcomes = [f"{ep}_{x}" for ep in endpoints for x in ("time", "event")]
        data = data[data[["netpet_group", "centre", *outcomes]].notna().all(axis=1)]
        data[[*covs, *[f"{ep}_{x}" for ep in endpoints for x in ("time", "event")]]].to_csv(
            work / "r_rows.csv", index=False)
        (work / "r_models.txt").write_text("\n".join(
            _r_formula(spec, config["covariates"], ep) for ep in endpoints
            for spec in model_specs(config).values()) + "\n")
        r = subprocess.run(["Rscript", str(ROOT / "benchmarks" / "r_mice.R"), "r_rows.csv",
                            "r_models.txt", ",".join(endpoints)], cwd=work,
                           capture_output=True, text=True)
        print(r.stdout.strip() or r.stderr[-2000:])
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
