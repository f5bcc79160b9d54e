"""Multiple imputation against known truth: coverage and bias over simulated cohorts.

Each cohort (``N`` patients in three centres) is drawn from a known Cox model: WHO
grade depends on the centre, log2 Ki-67 on the grade (normal, sd 1), and the hazard is
exponential with log HR ``BETA_KI67`` per doubling of Ki-67, grade and centre effects;
follow-up ends uniformly between 24 and 120 months. Ki-67 is then deleted **at random
given grade, centre and outcome** (more often in G3, in centre C and in patients who
died), about a quarter of the patients.

On each cohort three analyses of the same two estimands:

* the Ki-67 log hazard ratio of the Cox model ``log2 Ki-67 + grade + centre`` (Efron),
  with its 95 % CI: on the full data before deletion, on the complete cases (R
  ``na.omit``), and after multiple imputation (``m`` imputations by
  :func:`netpet_stats.validation.imputation.impute`: predictive mean matching from
  grade and centre as fixed effects, the event indicator, the Nelson-Aalen cumulative
  hazard and its products with grade and centre
  (:func:`netpet_stats.validation.imputation.hazard_interactions`), White & Royston
  2009, as the workflow imputes; one cycle, as only Ki-67 is missing and its
  predictors are complete) pooled by Rubin's rules
  (:func:`netpet_stats.survival.rubin.pool_cox`); and, for comparison, after the
  imputation model without those products (the workflow's before 2026-12-07);
* the validation C: Harrell's C of a fixed (frozen) model, the true linear predictor
  ``BETA_KI67 log2 Ki-67 + grade effects``, with its 95 % CI (infinitesimal-jackknife
  SE), full data, complete cases and MI (pooled on the logit scale,
  :func:`netpet_stats.survival.rubin.pool_transformed`). Its truth is the C of that
  predictor in one cohort of ``TRUTH_N`` patients drawn the same way (same censoring).

The summary gives, per estimand and method, the mean estimate, bias, empirical SE,
mean model SE, root mean squared error and the coverage of the 95 % CI with its
Monte Carlo SE. Run (500 cohorts with m = 20, both imputation models, took 21 minutes
on a shared 2-core machine at a load of 5-7; 111 s with one imputation model at a low load)::

    nice python benchmarks/simulate_mi.py --cohorts 500 --m 20 --out benchmarks/results

Every cohort draws from its own child of ``SeedSequence(seed)``: the same cohorts on
any machine and any number of processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one process: no BLAS threads to wait on

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from netpet_stats.survival import concordance, cox, rubin
from netpet_stats.validation import imputation

N = 300
BETA_KI67 = 0.35                       # log HR per doubling of Ki-67
BETA_GRADE = {"G1": 0.0, "G2": 0.2, "G3": 0.5}
BETA_CENTRE = {"A": 0.0, "B": 0.2, "C": -0.2}
GRADE_P = {"A": (0.45, 0.45, 0.10), "B": (0.35, 0.45, 0.20), "C": (0.40, 0.40, 0.20)}
KI67_MEAN = {"G1": 0.5, "G2": 2.5, "G3": 4.5}  # log2 Ki-67 (1.4 %, 5.7 %, 23 %)
RATE = 0.008                           # baseline hazard per month
TRUTH_N = 200_000
CODING = {"lki67": {"type": "continuous", "label": "log2 Ki-67"},
          "grade": {"type": "categorical", "levels": ["G1", "G2", "G3"]},
          "centre": {"type": "categorical", "levels": ["A", "B", "C"]}}
COVARIATES = ["lki67", "grade", "centre"]


def simulate_cohort(rng: np.random.Generator, n: int = N) -> pd.DataFrame:
    """One cohort from the generating model, with ``lki67_obs`` missing at random."""
    centre = rng.choice(["A", "B", "C"], size=n)
    u = rng.random(n)
    grade = np.empty(n, dtype=object)
    for c, p in GRADE_P.items():
        cut = np.cumsum(p)
        idx = centre == c
        grade[idx] = np.array(["G1", "G2", "G3"])[np.searchsorted(cut, u[idx], side="right")]
    lki67 = np.array([KI67_MEAN[g] for g in grade]) + rng.normal(0, 1, n)
    lp = (BETA_KI67 * lki67 + np.array([BETA_GRADE[g] for g in grade])
          + np.array([BETA_CENTRE[c] for c in centre]))
    event_time = rng.exponential(1 / (RATE * np.exp(lp)))
    censor = rng.uniform(24, 120, n)
    time_ = np.round(np.minimum(event_time, censor), 2)
    time_ = np.maximum(time_, 0.01)
    event = (event_time <= censor).astype(float)
    # missing at random given grade, centre and outcome
    logit = (-1.9 + 0.7 * (grade == "G3") - 0.4 * (grade == "G1") + 0.5 * (centre == "C")
             + 1.0 * event)
    missing = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({"centre": centre, "grade": grade, "lki67": lki67,
                         "lki67_obs": np.where(missing, np.nan, lki67),
                         "time": time_, "event": event})


def validation_lp(d: pd.DataFrame, column: str = "lki67") -> np.ndarray:
    """The frozen model's linear predictor (the true Ki-67 and grade effects)."""
    return (BETA_KI67 * d[column].to_numpy(float)
            + d["grade"].map(BETA_GRADE).to_numpy(float))


def true_c(seed: int = 20261207, n: int = TRUTH_N) -> float:
    """Harrell's C of the frozen model in one very large cohort (the estimand)."""
    d = simulate_cohort(np.random.default_rng(seed), n)
    return float(concordance.harrell_c(d["time"], d["event"], validation_lp(d))["estimate"])


def _cox_row(d: pd.DataFrame, column: str) -> tuple[float, float, float]:
    fit = cox.fit_cox(d.assign(lki67=d[column]), "time", "event", COVARIATES, [], CODING)
    j = list(fit.design.columns).index("lki67")
    b, se = float(fit.beta[j]), float(np.sqrt(fit.variance[j, j]))
    return b, b - 1.959963984540054 * se, b + 1.959963984540054 * se


def _c_row(d: pd.DataFrame, column: str) -> tuple[float, float, float]:
    res = concordance.harrell_c(d["time"], d["event"], validation_lp(d, column))
    return res["estimate"], res["lower"], res["upper"]


#: the imputation models compared: the workflow's, and the one it used before (without
#: the products of the hazard with the complete predictors)
EARLIER = "MI without hazard x covariate terms"
MI_METHODS = {"multiple imputation": True, EARLIER: False}


def analyse_cohort(d: pd.DataFrame, m: int, seed: int) -> list[dict]:
    """Full data, complete cases and MI on one cohort: estimate and 95 % CI of each."""
    rows = []
    complete = d[d["lki67_obs"].notna()]
    for method, data, column in (("full data", d, "lki67"),
                                 ("complete case", complete, "lki67_obs")):
        for estimand, fn in (("Ki-67 log HR", _cox_row), ("validation C", _c_row)):
            est, lo, hi = fn(data, column)
            rows.append({"estimand": estimand, "method": method, "estimate": est,
                         "lower": lo, "upper": hi, "n": len(data)})
    frame = d[["centre", "grade", "lki67_obs", "time", "event"]].copy()
    frame["H"] = imputation.nelson_aalen(frame["time"], frame["event"])
    products = imputation.hazard_interactions(frame, ["H"], factors=["grade", "centre"])
    for method, with_products in MI_METHODS.items():
        predictors = ["event", "H"] + (list(products.columns) if with_products else [])
        sets = imputation.impute(pd.concat([frame, products], axis=1),
                                 {"lki67_obs": imputation.Target("pmm")},
                                 predictors=predictors, factors=["grade", "centre"],
                                 m=m, iterations=1, seed=seed)
        fits = [cox.fit_cox(s.assign(lki67=s["lki67_obs"]), "time", "event", COVARIATES, [],
                            CODING) for s in sets]
        coefs, _ = rubin.pool_cox(fits)
        k = coefs[coefs["term"] == "lki67"].iloc[0]
        rows.append({"estimand": "Ki-67 log HR", "method": method,
                     "estimate": float(k["estimate"]), "lower": float(k["lower"]),
                     "upper": float(k["upper"]), "n": len(d)})
        cs = [concordance.harrell_c(s["time"], s["event"], validation_lp(s, "lki67_obs"))
              for s in sets]
        pooled = rubin.pool_transformed([c["estimate"] for c in cs], [c["se"] for c in cs],
                                        "logit")
        rows.append({"estimand": "validation C", "method": method,
                     "estimate": pooled["estimate"], "lower": pooled["lower"],
                     "upper": pooled["upper"], "n": len(d)})
    missing = float(d["lki67_obs"].isna().mean())
    return [{**r, "missing": missing} for r in rows]


def run(cohorts: int, m: int = 10, seed: int = 2026, n: int = N,
        progress: bool = False) -> pd.DataFrame:
    """Per cohort, estimand and method: estimate, 95 % CI, patients analysed."""
    rows = []
    children = np.random.SeedSequence(seed).spawn(cohorts)
    start = time.perf_counter()
    for i, child in enumerate(children, start=1):
        data_seed, mi_seed = child.generate_state(2)
        d = simulate_cohort(np.random.default_rng(int(data_seed)), n)
        for r in analyse_cohort(d, m, int(mi_seed)):
            rows.append({"cohort": i, **r})
        if progress and (i % 10 == 0 or i == cohorts):
            print(f"{i}/{cohorts} cohorts, {time.perf_counter() - start:.0f} s",
                  file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def summarise(per_cohort: pd.DataFrame, truth: dict[str, float]) -> pd.DataFrame:
    """Bias, empirical and model SE, RMSE and CI coverage (with its Monte Carlo SE)."""
    out = []
    for (estimand, method), g in per_cohort.groupby(["estimand", "method"], sort=False):
        t = truth[estimand]
        est = g["estimate"].to_numpy(float)
        covered = ((g["lower"] <= t) & (t <= g["upper"])).to_numpy()
        cover = float(covered.mean())
        out.append({"estimand": estimand, "method": method, "truth": t, "cohorts": len(g),
                    "mean_n": float(g["n"].mean()), "mean_estimate": float(est.mean()),
                    "bias": float(est.mean() - t),
                    "bias_mcse": float(est.std(ddof=1) / np.sqrt(len(est))),
                    "empirical_se": float(est.std(ddof=1)),
                    "mean_ci_width": float((g["upper"] - g["lower"]).mean()),
                    "rmse": float(np.sqrt(np.mean((est - t) ** 2))),
                    "coverage": cover,
                    "coverage_mcse": float(np.sqrt(cover * (1 - cover) / len(g)))})
    return pd.DataFrame(out)


def markdown(summary: pd.DataFrame, settings: dict) -> str:
    lines = ["# Multiple imputation against known truth", "",
             "Generated by `benchmarks/simulate_mi.py` (see its docstring for the model): "
             + ", ".join(f"{k} = {v}" for k, v in settings.items()) + ".", "",
             "| estimand | method | truth | mean estimate | bias (MCSE) | empirical SE | "
             "mean CI width | RMSE | 95% CI coverage (MCSE) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in summary.itertuples():
        lines.append(f"| {r.estimand} | {r.method} | {r.truth:.4f} | {r.mean_estimate:.4f} | "
                     f"{r.bias:+.4f} ({r.bias_mcse:.4f}) | {r.empirical_se:.4f} | "
                     f"{r.mean_ci_width:.4f} | {r.rmse:.4f} | "
                     f"{r.coverage:.3f} ({r.coverage_mcse:.3f}) |")
    lines += ["", "Reading (computed from the table above):", ""]
    for estimand, g in summary.groupby("estimand", sort=False):
        r = g.set_index("method")
        mi, cc = r.loc["multiple imputation"], r.loc["complete case"]
        smaller = abs(mi["bias"]) < abs(cc["bias"])
        # two Monte Carlo SEs of the difference of the absolute biases (cohorts shared)
        within = abs(abs(mi["bias"]) - abs(cc["bias"])) < 2 * np.hypot(mi["bias_mcse"],
                                                                         cc["bias_mcse"])
        lines.append(
            f"* {estimand}: MI 95% CI coverage {mi['coverage']:.3f} "
            f"({'at least' if mi['coverage'] >= 0.93 else 'below'} the 0.93 asked for); "
            f"|bias| {abs(mi['bias']):.4f} after MI against {abs(cc['bias']):.4f} in complete "
            f"cases ({'smaller' if smaller else 'not smaller'} after MI"
            f"{', within Monte Carlo error' if within else ''}); RMSE "
            f"{mi['rmse']:.4f} against {cc['rmse']:.4f}"
            + (f"; without the hazard x covariate terms |bias| "
               f"{abs(r.loc[EARLIER, 'bias']):.4f}, coverage {r.loc[EARLIER, 'coverage']:.3f}"
               if EARLIER in r.index else "") + ".")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", type=int, default=200)
    parser.add_argument("--m", type=int, default=10)
    parser.add_argument("--n", type=int, default=N)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--resummarise", action="store_true",
                        help="summarise the per-cohort file already in --out (no new run)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    truth = {"Ki-67 log HR": BETA_KI67, "validation C": true_c()}
    if args.resummarise:
        per = pd.read_csv(args.out / "simulate_mi_cohorts.csv")
    else:
        per = run(args.cohorts, args.m, args.seed, args.n, progress=True)
    summary = summarise(per, truth)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.resummarise:
        per.to_csv(args.out / "simulate_mi_cohorts.csv", index=False, float_format="%.10g")
    summary.to_csv(args.out / "simulate_mi_summary.csv", index=False, float_format="%.6g")
    settings = {"cohorts": args.cohorts, "patients": args.n, "m": args.m, "seed": args.seed,
                "mean fraction missing": f"{per.groupby('cohort')['missing'].first().mean():.3f}",
                "truth C from": f"{TRUTH_N} patients"}
    (args.out / "simulate_mi_summary.md").write_text(markdown(summary, settings))
    print(markdown(summary, settings))
    print(f"{time.perf_counter() - start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
