"""Benchmark: the whole workflow cold, and the core analyses at growing n.

    python benchmarks/run_benchmarks.py                 # n = 319, 10,000, 100,000
    python benchmarks/run_benchmarks.py --sizes 319     # quick check (as CI runs it)

Prints one table: step, n, median wall time over repeats (seconds), repeats.
Cohorts are drawn from the synthetic generator (seed fixed) with three centres in
proportion 47/33/20%. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from netpet_stats import concordance, cox, kaplan_meier, logrank, synthetic
from netpet_stats.netpet import assign_groups, resolve_grouping

ROOT = Path(__file__).resolve().parents[1]
COV = {"netpet_group": {"type": "categorical"},
       "grade": {"type": "categorical", "levels": ["G1", "G2", "G3"]},
       "age": {"type": "continuous", "scale": 10}, "extrahepatic": {"type": "binary"}}


def _timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), repeats


def _cohort(n):
    sizes = tuple(int(round(n * p)) for p in (0.47, 0.33))
    sizes = (*sizes, n - sum(sizes))
    cohort, _ = synthetic.generate_cohort(seed=1, centre_sizes=sizes, with_lesions=False)
    import pandas as pd

    data = pd.DataFrame({
        "netpet_group": assign_groups(cohort["netpet"], resolve_grouping("published")),
        "grade": cohort["who_grade"], "age": cohort["age_at_diagnosis"].astype(float),
        "extrahepatic": (cohort["extrahepatic_disease"] == "yes").astype(float),
        "centre": cohort["centre"], "time": cohort["os_months"], "event": cohort["os_event"],
    })
    return data.dropna()


def core_rows(n, repeats):
    d = _cohort(n)
    t, e = d["time"].to_numpy(), d["event"].to_numpy()
    g = d["netpet_group"].astype(str).to_numpy()
    groups = ["P1", "P2-4", "P5"]
    fit = cox.fit_cox(d, "time", "event", ["netpet_group", "grade", "age", "extrahepatic"],
                      ["centre"], COV)
    lp = cox.linear_predictor(fit)
    steps = {
        "Kaplan-Meier by group (+ median, CI)": lambda: [
            kaplan_meier.km_quantiles(kaplan_meier.km_table(t[g == k], e[g == k]))
            for k in groups],
        "log-rank: overall, stratified, trend, pairwise": lambda: logrank.logrank_tests(
            t, e, g, groups, strata=d["centre"].to_numpy()),
        "Cox primary model (6 coef, strata, + drop1 LRTs)": lambda: cox.fit_cox(
            d, "time", "event", ["netpet_group", "grade", "age", "extrahepatic"], ["centre"], COV),
        "Harrell's C + IJ SE (model, by centre)": lambda: concordance.harrell_c(
            t, e, lp, strata=d["centre"].to_numpy()),
    }
    rows = []
    for name, fn in steps.items():
        med, reps = _timed(fn, repeats if n <= 10_000 else 1)
        rows.append((name, len(d), med, reps))
    return rows


def workflow_row():
    with tempfile.TemporaryDirectory() as tmp:
        for item in ("Snakefile", "workflow", "config", "data"):
            src = ROOT / item
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, Path(tmp) / item)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "-q"],
                              cwd=tmp, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
    return ("whole workflow, cold (snakemake --cores 2)", 319, elapsed, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[319, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-workflow", action="store_true")
    args = parser.parse_args(argv)
    rows = [] if args.no_workflow else [workflow_row()]
    for n in args.sizes:
        rows += core_rows(n, args.repeats)
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'n':>8}  {'seconds':>9}  repeats")
    for name, n, sec, reps in rows:
        print(f"{name:<{width}}  {n:>8}  {sec:>9.3f}  {reps}")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
