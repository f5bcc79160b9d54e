"""Benchmark: the analyses issue 27 added, side by side with R at 10^3 to 10^6 patients.

    python benchmarks/new_paths.py                        # n = 1,000, 10,000, 100,000, 1,000,000
    python benchmarks/new_paths.py --sizes 1000 --repeats 3

Cox fits with delayed entry (Efron), with non-integer case weights (robust SE, R's
default for them), with Breslow ties and (n <= 1,000) exact ties; Kaplan-Meier with
medians by group with delayed entry; the log-rank test with delayed entry and case
weights (R: the coxph score test with Breslow ties, which survdiff does not take); and
Harrell's C with its SE under delayed entry. Same cohorts as ``run_benchmarks.py``
(synthetic, seed fixed; whole-month times; entry a uniform fraction up to 60 % of each
patient's time). Each side timed the same way (``run_benchmarks._timed``). Prints
python s, R s, their ratio and the largest difference of the estimates. Not a test:
nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_benchmarks import (EXACT_MAX_N, _cohort, _design, _timed,  # noqa: E402
                            entry_and_weights, run_r_script)

from netpet_stats.survival import concordance, cox, kaplan_meier, logrank  # noqa: E402

LABELS = {
    "cox_entry": "Cox fit + SE, 6 coef, delayed entry (Efron)",
    "cox_weights": "Cox fit + robust SE, 6 coef, case weights (Efron)",
    "cox_breslow": "Cox fit + SE, 6 coef, Breslow ties",
    "cox_exact": "Cox fit + SE, 6 coef, exact ties",
    "km_entry": "Kaplan-Meier + medians, 3 groups, delayed entry",
    "logrank_entry_w": "log-rank, 3 groups, delayed entry + weights",
    "harrell_c_entry": "Harrell's C + SE, delayed entry",
}


def data(n):
    d = _cohort(n)
    entry, w = entry_and_weights(d)
    t = np.ceil(d["time"].to_numpy())
    X = _design(d)
    lp = X @ cox.fit_efron(t, d["event"].to_numpy(), X)[0]
    return d, t, d["event"].to_numpy(), X, entry, w, lp


def python_side(n, repeats):
    d, t, e, X, entry, w, lp = data(n)
    groups = d["netpet_group"].astype(str).to_numpy()
    levels = sorted(set(groups))

    def fit(**kw):
        beta, _, info = cox.fit_efron(t, e, X, **kw)
        return beta, np.sqrt(np.diag(np.linalg.inv(info)))

    def weighted():
        beta, _, info = cox.fit_efron(t, e, X, weights=w)
        dfbeta = (w[:, None] * cox.score_residuals(t, e, X, beta, weights=w)) \
            @ np.linalg.inv(info)
        return beta, np.sqrt(np.diag(dfbeta.T @ dfbeta))

    calls = {
        "cox_entry": (lambda: fit(entry=entry), lambda r: r[0]),
        "cox_weights": (weighted, lambda r: r[0]),
        "cox_breslow": (lambda: fit(ties="breslow"), lambda r: r[0]),
        "km_entry": (lambda: kaplan_meier.km_by_group(t, e, groups, levels, entry=entry), None),
        "logrank_entry_w": (lambda: logrank.logrank_test(t, e, groups, entry=entry, weights=w),
                            lambda r: [r["chisq"]]),
        "harrell_c_entry": (lambda: concordance.harrell_c(t, e, lp, entry=entry),
                            lambda r: [r["estimate"]]),
    }
    if n <= EXACT_MAX_N:
        calls["cox_exact"] = (lambda: fit(ties="exact"), lambda r: r[0])
    out = {}
    for name, (fn, value) in calls.items():
        fn()  # compiled loops loaded (or compiled) before the clock starts
        out[name] = _timed(fn, repeats if n <= 100_000 else 1)[0]
        if value is not None:
            out["coef_" + name] = np.asarray(value(fn()), float)
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(1, 7)])
    frame.insert(0, "lp", lp)
    frame.insert(0, "group", groups)
    frame.insert(0, "w", w)
    frame.insert(0, "event", e)
    frame.insert(0, "time", t)
    frame.insert(0, "entry", entry)
    return out, frame


def r_side(frame, repeats):
    if shutil.which("Rscript") is None:
        return None
    return run_r_script("r_new_paths.R", frame, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+",
                        default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"{'analysis':<52}{'n':>9}{'python s':>11}{'R s':>10}{'py/R':>7}  max |diff|")
    for n in args.sizes:
        py, frame = python_side(n, args.repeats)
        r = r_side(frame, args.repeats if n <= 100_000 else 1) or {}
        for name, label in LABELS.items():
            if name not in py:
                continue
            rs = r.get(name)
            diff = (float(np.max(np.abs(py["coef_" + name] - r["coef_" + name])))
                    if "coef_" + name in py and "coef_" + name in r else None)
            print(f"{label:<52}{len(frame):>9}{py[name]:>11.4f}"
                  f"{rs if rs is not None else float('nan'):>10.4f}"
                  f"{py[name] / rs if rs else float('nan'):>7.2f}  "
                  f"{'' if diff is None else f'{diff:.1e}'}", flush=True)
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
