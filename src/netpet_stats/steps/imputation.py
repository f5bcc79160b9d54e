"""Rules impute and cox_mi: missing covariates imputed, every Cox model pooled.

``impute`` (once per analysis): the covariates of the configured Cox models that are
missing for some patient are imputed ``m`` times by chained equations
(:mod:`netpet_stats.validation.imputation`), with every endpoint's event indicator and
Nelson-Aalen cumulative hazard, the complete covariates, the NETPET group and the
strata (centre) as predictors. The imputed data sets are per-patient and stay in
``intermediate/`` (no identifier column); ``results/missing_data/imputation.csv`` says
what was imputed, how, and who was left out.

``cox_mi`` (per endpoint): every configured model fitted on each imputed set and
pooled by Rubin's rules (:func:`netpet_stats.survival.rubin.pool_cox`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import cox_ties, model_specs
from ..report.tables import write_table
from ..survival import cox, rubin
from ..validation import imputation
from ._common import endpoint_label, load_analysis

#: never imputed: the score is the exposure under study (a patient without it is not
#: analysed at all), and a stratum or cluster defines who is compared with whom
NEVER_IMPUTED = ("netpet_group",)


def _plan(config: dict, data: pd.DataFrame):
    """Which rows enter, which covariates are imputed, which predict; reasons for the rest."""
    specs = model_specs(config)
    covariates = list(dict.fromkeys(c for s in specs.values() for c in s["covariates"]))
    fixed = list(dict.fromkeys([*NEVER_IMPUTED, *(c for s in specs.values()
                                                  for c in [*s["strata"],
                                                            *([s["cluster"]] if s.get("cluster")
                                                              else [])])]))
    fixed = [c for c in fixed if c in data.columns]
    outcomes = [f"{ep}_{x}" for ep in config["endpoints"] for x in ("time", "event")]
    reasons = pd.Series("", index=data.index)
    for col in [*fixed, *outcomes]:
        lacking = data[col].isna() & (reasons == "")
        reasons[lacking] = f"{col} missing (not imputed: needed by every imputation model)"
    rows = data[reasons == ""].copy()
    incomplete = [c for c in covariates if c not in fixed and rows[c].isna().any()]
    complete = [c for c in covariates if c not in fixed and c not in incomplete]
    return rows, reasons[reasons != ""], incomplete, complete, fixed


def run(config: dict, analysis: str, out, workers: int = 1) -> None:
    """Impute the model covariates ``m`` times; write the sets and the summary."""
    data = load_analysis(analysis, config)
    settings = config["missing_data"]
    rows, left_out, incomplete, complete, fixed = _plan(config, data)
    covs = config["covariates"]
    targets = {c: imputation.target_from_covariate(covs.get(c, {}),
                                                   bool(covs.get(c, {}).get("ordered")))
               for c in incomplete}
    fraction = float(rows[incomplete].isna().any(axis=1).mean()) if incomplete else 0.0
    m = int(settings["m"] or imputation.default_m(fraction))
    frame = rows.copy()
    predictors = []
    for ep in config["endpoints"]:
        frame[f"__H_{ep}"] = imputation.nelson_aalen(frame[f"{ep}_time"], frame[f"{ep}_event"])
        predictors += [f"{ep}_event", f"__H_{ep}"]
    numeric = [c for c in complete if covs.get(c, {}).get("type") != "categorical"]
    factors = fixed + [c for c in complete if covs.get(c, {}).get("type") == "categorical"]
    for c in numeric:
        spec = covs.get(c, {})
        x = frame[c].astype(float)
        if spec.get("transform") == "log2":
            x = np.log2(np.maximum(x, spec.get("floor", 1.0)))
        frame[f"__x_{c}"] = x
        predictors.append(f"__x_{c}")
    keep = [c for c in [*fixed, *complete, *incomplete,
                        *[f"{ep}_{x}" for ep in config["endpoints"] for x in ("time", "event")]]
            if c in frame.columns]
    if targets:
        sets = imputation.impute(frame, targets, predictors, factors, m=m,
                                 iterations=int(settings["iterations"]),
                                 seed=int(settings["seed"]), workers=workers)
    else:  # nothing missing: m identical sets, so that pooling gives the complete-case fit
        sets = [frame] * m
    long = pd.concat([s[keep].assign(imputation=i) for i, s in enumerate(sets, start=1)],
                     ignore_index=True)
    for col in [c for c in fixed if isinstance(data[c].dtype, pd.CategoricalDtype)]:
        long[col] = long[col].astype(str)
    Path(out.imputed).parent.mkdir(parents=True, exist_ok=True)
    long.to_parquet(out.imputed, index=False)
    summary = [{"variable": c, "method": targets[c].method,
                "scale": targets[c].transform or "as given", "missing": int(rows[c].isna().sum()),
                "patients": len(rows), "m": m, "iterations": int(settings["iterations"]),
                "seed": int(settings["seed"]), "note": ""} for c in incomplete]
    for reason, k in left_out.value_counts().sort_index().items():
        summary.append({"variable": "", "method": "left out", "missing": int(k),
                        "patients": len(data), "m": m, "note": reason})
    if not incomplete:
        summary.append({"variable": "", "method": "none", "missing": 0, "patients": len(rows),
                        "m": m, "note": "no model covariate is missing: nothing imputed"})
    write_table(pd.DataFrame(summary), out.summary, "Multiple imputation of missing covariates",
                f"{imputation.IMPUTATION_METHOD}; predictors: every endpoint's event indicator "
                f"and cumulative hazard, {', '.join(complete) or 'no complete covariate'}, "
                f"and as fixed effects {', '.join(factors)} (never imputed). m = {m} "
                f"(max(20, 100 x the {fraction:.1%} of patients incomplete) unless set), "
                f"{int(settings['iterations'])} cycles, seed {int(settings['seed'])}.")


def load_sets(path: str | Path, config: dict) -> list[pd.DataFrame]:
    """The imputed data sets :func:`run` wrote, in order, the NETPET group ordered."""
    long = pd.read_parquet(path)
    sets = []
    for _, d in long.groupby("imputation", sort=True):
        d = d.drop(columns="imputation").reset_index(drop=True)
        if "netpet_group" in d.columns:
            from ..netpet.scoring import resolve_grouping

            order = list(resolve_grouping(config["netpet"]["grouping"]))
            d["netpet_group"] = pd.Categorical(d["netpet_group"], categories=order,
                                               ordered=True)
        sets.append(d)
    return sets


def run_cox(config: dict, imputed: str, endpoint: str, out) -> None:
    """Every configured Cox model on each imputed set, pooled by Rubin's rules."""
    sets = load_sets(imputed, config)
    conf = float(config["cox"]["conf_level"])
    coefs, tests = [], []
    for name, spec in model_specs(config).items():
        fits = [cox.fit_cox(d, f"{endpoint}_time", f"{endpoint}_event", spec["covariates"],
                            spec["strata"], config["covariates"], conf, ties=cox_ties(config))
                for d in sets]
        c, t = rubin.pool_cox(fits, conf)
        kind = "univariable" if name.startswith("univariable_") else "multivariable"
        meta = {"endpoint": endpoint, "model": name, "analysis": kind,
                "model_label": spec["label"], "strata": ", ".join(spec["strata"])}
        coefs.append(c.assign(**meta))
        tests.append(t.assign(**meta))
    lead = ["endpoint", "model", "analysis", "model_label", "strata"]

    def tidy(frames):
        df = pd.concat(frames, ignore_index=True)
        return df[lead + [c for c in df.columns if c not in lead]]

    label = endpoint_label(config, endpoint)
    write_table(tidy(coefs).assign(method=rubin.RUBIN_METHOD), out.coefficients,
                f"{label}: Cox models after multiple imputation (pooled)",
                f"{cox.coef_method(cox_ties(config))} on each of {len(sets)} imputed data sets "
                "(results/missing_data/imputation.csv), pooled by Rubin's rules; t intervals "
                "on the Barnard-Rubin df; fmi = fraction of missing information. Beside the "
                "complete-case models of cox_coefficients.csv. Robust (clustered) SEs are not "
                "pooled: the model-based SEs are.")
    write_table(tidy(tests), out.tests, f"{label}: term tests after multiple imputation",
                rubin.D1_METHOD + ", one test per term of each model.")
