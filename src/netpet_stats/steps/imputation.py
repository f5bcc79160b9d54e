"""Rules impute and pool_mi: missing covariates imputed, every analysis pooled.

``impute`` (once per analysis): the covariates of the configured Cox models that are
missing for some patient are imputed ``m`` times by chained equations
(:mod:`netpet_stats.validation.imputation`), with every endpoint's event indicator and
Nelson-Aalen cumulative hazard, the complete covariates, the NETPET group and the
strata (centre) as predictors. The imputed data sets are per-patient and stay in
``intermediate/`` (no identifier column); ``results/missing_data/imputation.csv`` says
what was imputed, how, and who was left out.

``pool_mi`` (once per analysis): every configured model fitted once on each imputed set
of each endpoint (:func:`fit_imputed`), and from those fits: every model pooled by
Rubin's rules (:func:`netpet_stats.survival.rubin.pool_cox`); Harrell's and Uno's C of
the configured predictors and models, pooled on the logit scale; in develop or validate
mode the calibration slope and O/E at the validation horizons, pooled on the identity
and log scales, of the model developed on the imputed sets (develop, frozen to
``frozen_model_mi.yaml``) or of the frozen model applied to the imputed validation
cohort (validate, with its performance per centre).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import cox_ties, model_specs
from ..report.tables import write_table
from ..survival import _numpy_kernels, concordance, cox, rubin
from ..validation import imputation
from ..validation._progress import fork_context
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
    # each hazard times each complete predictor (White & Royston 2009): the covariates'
    # effects multiply the cumulative hazard in the density the imputations draw from
    products = imputation.hazard_interactions(
        frame, [f"__H_{ep}" for ep in config["endpoints"]], [f"__x_{c}" for c in numeric],
        factors)
    frame = pd.concat([frame, products], axis=1)
    predictors += list(products.columns)
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
    columns = [c for c in dict.fromkeys(c for spec in model_specs(config).values()
                                        for c in spec["covariates"]) if c in rows.columns]
    by_variable, patterns = imputation.missing_pattern(rows, columns)
    by_variable.insert(1, "label", [covs.get(c, {}).get("label", c) for c in columns])
    by_variable["imputed"] = [("yes" if c in incomplete else
                               "no: never imputed" if c in fixed else "no: complete")
                              for c in columns]
    write_table(by_variable, out.by_variable, "Missing values of the model covariates",
                f"Among the {len(rows)} patients the imputation models take (every model "
                "covariate, as in mice::md.pattern's margin).")
    write_table(patterns, out.patterns, "Missing-data patterns of the model covariates",
                "1 = observed, 0 = missing; one row per pattern that occurs, with its number "
                "of patients (R mice::md.pattern).")
    write_table(pd.DataFrame(summary), out.summary, "Multiple imputation of missing covariates",
                f"{imputation.IMPUTATION_METHOD}; predictors: every endpoint's event indicator "
                f"and cumulative hazard, {', '.join(complete) or 'no complete covariate'}, "
                f"and as fixed effects {', '.join(factors)} (never imputed), and each "
                f"cumulative hazard times each of these ({len(products.columns)} products). "
                f"m = {m} "
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


def _pooling_fits(d: pd.DataFrame, models: list[tuple[str, str]],
                  config: dict) -> list[cox.CoxResult]:
    """The models ``(endpoint, name)`` on one imputed set: the fits :func:`cox.fit_cox`
    makes, without their tables.

    The same design (:func:`cox.design_matrix`), times (R ``aeqSurv``) and Efron fit
    (:func:`cox.coxph_fit`), so the same coefficients and variance to the bit; without
    the drop-one refits and test tables of ``fit_cox``, which pooling does not use
    (Rubin's rules take the coefficients and their variance, D1 the Wald statistics).
    An imputed set has no missing value, so every model is fitted on all its rows: the
    covariates are coded once, each model takes its terms' columns (each covariate is
    coded on its own, as R's treatment contrasts), and each endpoint's times are fixed
    once. A fit that stops at an edge (a coefficient that may be infinite, iterations
    run out) is redone by ``fit_cox``, which warns as R does.
    """
    specs = model_specs(config)
    ties = cox_ties(config)
    covariates = list(dict.fromkeys(c for _, name in models for c in specs[name]["covariates"]))
    X_all, all_terms = cox.design_matrix(d, covariates, config["covariates"])
    term_of = {term.name: term for term in all_terms}
    outcomes, strata_of, fits = {}, {}, []
    for endpoint, name in models:
        spec = specs[name]
        tcol, ecol = f"{endpoint}_time", f"{endpoint}_event"
        columns = [tcol, ecol, *spec["covariates"], *spec["strata"]]
        if d[columns].isna().any().any():  # not an imputed set's: as fit_cox does
            fits.append(cox.fit_cox(d, tcol, ecol, spec["covariates"], spec["strata"],
                                    config["covariates"], float(config["cox"]["conf_level"]),
                                    ties=ties))
            continue
        if endpoint not in outcomes:
            outcomes[endpoint] = (cox.timefix(d[tcol].to_numpy(float)),
                                  d[ecol].to_numpy(float))
        time, event = outcomes[endpoint]
        strata = tuple(spec["strata"])
        if strata and strata not in strata_of:
            strata_of[strata] = (cox.stratum_labels(d, list(strata)),
                                 cox.stratum_codes(d, list(strata)))
        stratum, code = strata_of[strata] if strata else (None, None)
        terms = [term_of[c] for c in spec["covariates"] if term_of[c].columns]
        X = X_all[[col for term in terms for col in term.columns]]
        fit = cox.coxph_fit(time, event, X.to_numpy(), stratum, ties=ties)
        if fit.status != "converged":
            fits.append(cox.fit_cox(d, tcol, ecol, spec["covariates"], spec["strata"],
                                    config["covariates"], float(config["cox"]["conf_level"]),
                                    ties=ties))
            continue
        frame = X.copy()
        frame["__time"], frame["__event"] = time, event
        if strata:
            frame["__stratum"] = stratum
        fits.append(cox.CoxResult(pd.DataFrame(), pd.DataFrame(), terms, fit.beta, X, len(d),
                                  int(event.sum()), frame, stratum, fit.information,
                                  variance=fit.variance, status=fit.status,
                                  iterations=fit.iterations, stratum_code=code, ties=ties))
    return fits


_JOBS: tuple | None = None  # (config, sets, models) forked workers read (inherited)


def _fit_job(i: int) -> list[cox.CoxResult]:
    config, sets, models, full = _JOBS
    fits = _pooling_fits(sets[i], models, config)
    if full is None:
        return fits
    # a fit only pooled keeps its coefficients, variance and coding, not its rows: 440
    # fits of 10^5 patients held 4.2 GB
    return [fit if model in full else replace(fit, design=fit.design.iloc[:0],
                                              frame=fit.frame.iloc[:0], stratum=None,
                                              stratum_code=None)
            for model, fit in zip(models, fits)]


def fit_imputed(config: dict, sets: list[pd.DataFrame], models: list[tuple[str, str]],
                workers: int = 1, full=None) -> dict[tuple[str, str], list[cox.CoxResult]]:
    """Each (endpoint, model) of ``models`` fitted once on each imputed set.

    Every pooled table of the imputed sets (Cox, C, the model developed on them and its
    calibration) is computed from these fits. ``workers`` > 1 fits the imputed sets in
    forked processes; the fits are the same for any number of workers. ``full``: the
    models whose fits keep their rows (design and times, for C or a frozen model);
    the others keep what Rubin's rules pool (coefficients, variance, terms, counts).
    None: all keep them.
    """
    global _JOBS
    jobs = list(range(len(sets)))
    previous, _JOBS = _JOBS, (config, sets, list(models),
                              None if full is None else set(full))
    try:
        context = fork_context() if workers > 1 and len(jobs) > 1 else None
        # the same fits m times: the compiled loops, loaded once here by the first set's
        # fits, before the workers fork and inherit them
        _numpy_kernels.prefer_compiled()
        done = [_fit_job(jobs[0])]
        if context is not None:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=int(workers), mp_context=context) as pool:
                done += list(pool.map(_fit_job, jobs[1:]))
        else:
            done += [_fit_job(i) for i in jobs[1:]]
    finally:
        _JOBS = previous
    return {model: [per_set[k] for per_set in done] for k, model in enumerate(models)}


def cox_tables(config: dict, sets: list[pd.DataFrame], endpoint: str, fits: dict,
               coefficients: str, tests: str) -> None:
    """Every configured Cox model on each imputed set, pooled by Rubin's rules."""
    conf = float(config["cox"]["conf_level"])
    coefs, term_tests = [], []
    for name, spec in model_specs(config).items():
        c, t = rubin.pool_cox(fits[endpoint, name], conf)
        kind = "univariable" if name.startswith("univariable_") else "multivariable"
        meta = {"endpoint": endpoint, "model": name, "analysis": kind,
                "model_label": spec["label"], "strata": ", ".join(spec["strata"])}
        coefs.append(c.assign(**meta))
        term_tests.append(t.assign(**meta))
    lead = ["endpoint", "model", "analysis", "model_label", "strata"]

    def tidy(frames):
        df = pd.concat(frames, ignore_index=True)
        return df[lead + [c for c in df.columns if c not in lead]]

    label = endpoint_label(config, endpoint)
    write_table(tidy(coefs).assign(method=rubin.RUBIN_METHOD), coefficients,
                f"{label}: Cox models after multiple imputation (pooled)",
                f"{cox.coef_method(cox_ties(config))} on each of {len(sets)} imputed data sets "
                "(results/missing_data/imputation.csv), pooled by Rubin's rules; t intervals "
                "on the Barnard-Rubin df; fmi = fraction of missing information. Beside the "
                "complete-case models of cox_coefficients.csv. Robust (clustered) SEs are not "
                "pooled: the model-based SEs are.")
    write_table(tidy(term_tests), tests, f"{label}: term tests after multiple imputation",
                rubin.D1_METHOD + ", one test per term of each model.")


def run_pooled(config: dict, imputed: str, out, model_path: str | None = None,
               input_files: list[str] = (), workers: int = 1) -> None:
    """Rule pool_mi: every pooled table of the imputed sets, from one fit of each model.

    Each configured model is fitted once on each imputed set of each endpoint
    (:func:`fit_imputed`); from those fits: the Cox models pooled by Rubin's rules
    (``out.coefficients``, ``out.tests``, one per endpoint in the configuration's
    order), Harrell's and Uno's C pooled on the logit scale (``out.concordance``); in
    develop mode the validation model developed on the imputed sets (``out.model``) and
    its apparent calibration (``out.calibration``); in validate mode the frozen model
    ``model_path`` applied to each imputed set, its calibration and its performance per
    centre (``out.centres``).
    """
    sets = load_sets(imputed, config)
    endpoints = list(config["endpoints"])
    mode = config["validation"]["mode"]
    models = [(ep, name) for ep in endpoints for name in model_specs(config)]
    full = {(ep, name) for ep in endpoints for name in config["concordance"]["models"]}
    if mode == "develop":
        full.add((config["validation"]["endpoint"], config["validation"]["model"]))
    fits = fit_imputed(config, sets, models, workers, full=full)
    for ep, coefficients, tests, conc in zip(endpoints, out.coefficients, out.tests,
                                             out.concordance):
        cox_tables(config, sets, ep, fits, coefficients, tests)
        concordance_table(config, sets, ep, fits, conc)
    if mode == "develop":
        vcfg = config["validation"]
        model = freeze(config, sets, input_files, out.model,
                       fits[vcfg["endpoint"], vcfg["model"]])
        calibration_table(config, sets, model, out.calibration)
    elif mode == "validate":
        from ..validation import frozen_model

        model = frozen_model.load(model_path)
        frozen_model.check_time_unit(model, config["analysis_time_unit"])
        calibration_table(config, sets, model, out.calibration)
        external_table(config, sets, model, out.centres)


# --------------------------------------------------------------------------------------
# Performance measures across the imputations
# --------------------------------------------------------------------------------------

POOLED_MEASURE_METHOD = (
    "computed on each imputed data set and pooled by Rubin's rules on the scale the "
    "literature recommends (Marshall et al. 2009; Debray et al. 2017): C on the logit "
    "scale (SE by the delta method), O/E on the log scale, the calibration slope as it "
    "is; large-sample Barnard-Rubin df, t interval transformed back")


def _pooled(values, ses, scale: str, conf: float, se_on_scale: bool = False) -> dict:
    """Rubin's rules on ``scale`` (:func:`rubin.pool_transformed`), or why not.

    Not pooled (NaN, with the reason) when an imputation's measure or SE is not finite,
    or when a C or O/E sits on the boundary of its scale (C of 0 or 1, O/E of 0).
    """
    x, s = np.asarray(values, float), np.asarray(ses, float)
    empty = {"estimate": np.nan, "lower": np.nan, "upper": np.nan, "estimate_scale": np.nan,
             "se_scale": np.nan, "df": np.nan, "fmi": np.nan, "m": len(x), "scale": scale}
    k = int((~np.isfinite(x)).sum())
    if k:
        return {**empty, "note": f"not pooled: not estimable in {k} of {len(x)} imputations"}
    bound = ((x <= 0) | (x >= 1)) if scale == "logit" else (x <= 0) if scale == "log" else None
    if bound is not None and bound.any():
        return {**empty, "note": f"not pooled: on the boundary of the {scale} scale in "
                                 f"{int(bound.sum())} of {len(x)} imputations"}
    if not np.isfinite(s).all() or (s <= 0).any():
        return {**empty, "note": "not pooled: no finite within-imputation SE in "
                                 f"{int((~np.isfinite(s) | (s <= 0)).sum())} imputations"}
    return {**rubin.pool_transformed(x, s, scale, conf, se_on_scale=se_on_scale), "note": ""}


def _spread(values) -> dict:
    x = np.asarray(values, float)
    ok = x[np.isfinite(x)]
    return {"min_imputation": float(ok.min()) if len(ok) else np.nan,
            "max_imputation": float(ok.max()) if len(ok) else np.nan}


def concordance_table(config: dict, sets: list[pd.DataFrame], endpoint: str, fits: dict,
                      path: str) -> None:
    """Harrell's and Uno's C of the configured predictors and models, pooled over imputations.

    The same C as the complete-case table (``concordance.csv``: R ``concordance(fit,
    reverse = TRUE)``, ``timewt = "n/G2"`` for Uno's, ``ymax`` = ``concordance.horizon``)
    on each imputed set, each model as fitted on that set (``fits``,
    :func:`fit_imputed`), pooled on the logit scale.
    """
    from .concordance import _model_c, _predictor_c

    specs = model_specs(config)
    ccfg = config["concordance"]
    horizon = ccfg["horizon"]
    conf = float(config["cox"]["conf_level"])
    weightings = [("n", "Harrell")] + ([("n/G2", "Uno")] if ccfg["uno"] else [])
    events = int(sets[0][f"{endpoint}_event"].sum())
    rows = []
    for timewt, estimator in weightings:
        items = [(name, "predictor", "", config["covariates"].get(name, {}).get("label", name),
                  [_predictor_c(config, d, endpoint, name, timewt=timewt, ymax=horizon)
                   for d in sets]) for name in ccfg["predictors"]]
        items += [(name, "model linear predictor", ", ".join(specs[name]["strata"]),
                   specs[name]["label"],
                   [_model_c(f, timewt=timewt, ymax=horizon) for f in fits[endpoint, name]])
                  for name in ccfg["models"]]
        for name, kind, strata, lab, per in items:
            cs = [r["estimate"] for r in per]
            res = _pooled(cs, [r["se"] for r in per], "logit", conf)
            rows.append({"endpoint": endpoint, "estimator": estimator, "predictor": name,
                         "label": lab, "kind": kind, "strata": strata, "n": len(sets[0]),
                         "events": events, "horizon": horizon, "m": len(sets),
                         "c": res["estimate"], "lower": res["lower"], "upper": res["upper"],
                         "logit_c": res["estimate_scale"], "se_logit": res["se_scale"],
                         "df": res["df"], "fmi": res["fmi"], **_spread(cs),
                         "note": res["note"], "method": concordance.METHODS[timewt]})
    write_table(pd.DataFrame(rows), path,
                f"{endpoint_label(config, endpoint)}: concordance after multiple imputation "
                "(pooled)",
                f"Each C {POOLED_MEASURE_METHOD}. {len(sets)} imputed data sets "
                "(results/missing_data/imputation.csv); each model refitted on each. Apparent "
                "C, not corrected for optimism; beside the complete-case concordance.csv.")


def mi_model(config: dict, sets: list[pd.DataFrame], name: str, endpoint: str,
             horizons, fits: list[cox.CoxResult] | None = None) -> dict:
    """Model ``name`` developed on the imputed sets: fitted and frozen on each, pooled.

    Coefficients by Rubin's rules, baseline survival on the complementary log-log scale
    (:func:`netpet_stats.validation.imputation.pool_frozen`); the development summary
    (linear predictor, case mix) over all imputed sets stacked, at the pooled
    coefficients. ``fits``: the model already fitted on each set (:func:`fit_imputed`).
    """
    from ..validation import case_mix, frozen_model

    if fits is None:
        fits = fit_imputed(config, sets, [(endpoint, name)])[endpoint, name]
    frozen = [frozen_model.freeze(f, config["covariates"], list(horizons), name=name,
                                  endpoint=endpoint, time_unit=config["analysis_time_unit"],
                                  curve_step=config["validation"]["curve_step"])
              for f in fits]
    model = imputation.pool_frozen(frozen)
    X = pd.concat([frozen_model.design(model, d) for d in sets], ignore_index=True)
    lp = frozen_model.linear_predictor(model, X, X=X).to_numpy()
    summary = case_mix.summarise(X, lp, model["covariates"])
    model["development"] = {
        "n": fits[0].n, "events": fits[0].events,
        "linear_predictor": {"mean": float(lp.mean()), "sd": float(lp.std(ddof=1)),
                             "quantiles": {f"{q:g}": float(np.quantile(lp, q / 100))
                                           for q in (5, 16, 25, 50, 75, 84, 95)}},
        "predictors": summary["predictors"],
        "over": f"the {len(sets)} imputed data sets stacked ({len(sets)} x {fits[0].n} rows), "
                "at the pooled coefficients"}
    return model


def calibration_table(config: dict, sets: list[pd.DataFrame], model: dict, path: str) -> None:
    """Calibration slope and O/E at the model's horizons, pooled over imputations.

    Develop mode: ``model`` is ``validation.model`` developed on the imputed sets
    (:func:`mi_model`, ``frozen_model_mi.yaml``), and its apparent calibration in each of
    them. Validate mode: the frozen model applied, never refitted, to each imputed set
    of the validation cohort. Per imputation as the complete-case external validation
    (:func:`netpet_stats.validation.external.calibration_slope`, ``observed_expected``);
    pooled on the identity (slope) and log (O/E, with its Greenwood SE of log O/E)
    scales.
    """
    from ..validation import external, frozen_model

    vcfg = config["validation"]
    conf = float(config["cox"]["conf_level"])
    horizons = [float(h) for h in model["baseline_survival"]["horizons"]]
    endpoint = model["endpoint"]
    if vcfg["mode"] == "develop":
        name = model["name"]
        strata_cols = model["provenance"]["model_spec"]["strata"]
        source = (f"model {name!r} developed on the {len(sets)} imputed sets (coefficients "
                  f"by Rubin's rules; {imputation.BASELINE_POOLING}); apparent calibration "
                  "in the data it was developed on, where a slope and O/E near 1 are "
                  "expected by construction: a check, not a validation")
    else:
        name = model.get("name", "frozen model")
        strata_cols = []
        source = ("the frozen model applied, not refitted, to each imputed set of this "
                  "cohort (imputed with its own outcome)")
    per = []
    for d in sets:
        t, e = d[f"{endpoint}_time"].to_numpy(float), d[f"{endpoint}_event"].to_numpy(float)
        lp = frozen_model.linear_predictor(model, d).to_numpy()
        stratum = (pd.Series(cox.stratum_labels(d, strata_cols), index=d.index)
                   if strata_cols else None)
        slope = external.calibration_slope(t, e, lp, conf)
        oe = {h: external.observed_expected(
            t, e, frozen_model.predict_survival(model, d, h, stratum).to_numpy(), h, conf)
            for h in horizons}
        per.append((slope, oe))
    slope = _pooled([s["estimate"] for s, _ in per], [s["se"] for s, _ in per], "identity",
                    conf)
    rows = []
    for h in horizons:
        oes = [oe[h] for _, oe in per]
        ratio = _pooled([o["estimate"] for o in oes], [o["se_log"] for o in oes], "log", conf,
                        se_on_scale=True)
        rows.append({"endpoint": endpoint, "model": name, "horizon": h, "n": len(sets[0]),
                     "events": int(sets[0][f"{endpoint}_event"].sum()), "m": len(sets),
                     "calibration_slope": slope["estimate"], "slope_lower": slope["lower"],
                     "slope_upper": slope["upper"], "slope_fmi": slope["fmi"],
                     "observed_risk": oes[0]["observed"],
                     "expected_risk": float(np.mean([o["expected"] for o in oes])),
                     "o_e": ratio["estimate"], "o_e_lower": ratio["lower"],
                     "o_e_upper": ratio["upper"], "o_e_fmi": ratio["fmi"],
                     "note": "; ".join(x for x in (slope["note"] and "slope " + slope["note"],
                                                   ratio["note"] and "O/E " + ratio["note"])
                                       if x)})
    write_table(pd.DataFrame(rows), path,
                f"{endpoint_label(config, endpoint)}: calibration after multiple imputation "
                "(pooled)",
                f"Calibration slope ({external.SLOPE_METHOD}) and O/E ({external.OE_METHOD}) "
                f"of {source}; each {POOLED_MEASURE_METHOD}. The observed risk is the same in "
                "every imputation (the outcome is complete); the expected risk is the mean "
                "over imputations.")


def freeze(config: dict, sets: list[pd.DataFrame], input_files: list[str], path: str,
           fits: list[cox.CoxResult] | None = None) -> dict:
    """``validation.model`` developed on the imputed sets, frozen to its own file.

    Written beside the complete-case ``frozen_model.yaml``, which stays the model the
    workflow validates (``developed_on`` and ``primary`` say so in the file). Returns
    the model as written.
    """
    from ..provenance import sha256, software_versions
    from ..validation import frozen_model

    vcfg = config["validation"]
    name, endpoint = vcfg["model"], vcfg["endpoint"]
    model = mi_model(config, sets, name, endpoint, [float(h) for h in vcfg["horizons"]], fits)
    spec = model_specs(config)[name]
    model["developed_on"]["statement"] = (
        f"developed on {len(sets)} multiply imputed data sets of the development cohort "
        f"({imputation.IMPUTATION_METHOD}); the complete-case model "
        "(results/model/frozen_model.yaml) is the primary one")
    model["primary"] = False
    model["provenance"] = {
        "data_sha256": {Path(p).name: sha256(p) for p in input_files},
        "model_spec": spec,
        "covariates": {c: config["covariates"][c] for c in spec["covariates"]},
        "missing_data": dict(config["missing_data"]),
        "software": {k: v for k, v in software_versions().items() if k != "packages"},
        "fitted_with": f"{cox.coef_method(cox_ties(config))} on each imputed data set; "
                       + rubin.RUBIN_METHOD}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frozen_model.save(model, path)
    return frozen_model.load(path)


def external_table(config: dict, sets: list[pd.DataFrame], model: dict, path: str) -> None:
    """The frozen model on each imputed set of the validation cohort, per centre and pooled.

    Per imputation, every measure in each centre as the complete-case external
    validation (:func:`netpet_stats.validation.external.centre_measures`, at the last
    horizon); each centre's measures pooled over imputations by Rubin's rules
    (:func:`netpet_stats.validation.imputation.pool_centre_imputations`), then the
    centres by DerSimonian-Laird random effects on the same scales
    (:func:`netpet_stats.validation.external.pool_centre_measures`).
    """
    from ..validation import external, frozen_model

    endpoint = model["endpoint"]
    tau = max(float(h) for h in model["baseline_survival"]["horizons"])
    frames = []
    for d in sets:
        if "centre" not in d.columns:
            break
        t, e = d[f"{endpoint}_time"].to_numpy(float), d[f"{endpoint}_event"].to_numpy(float)
        lp = frozen_model.linear_predictor(model, d).to_numpy()
        pred = frozen_model.predict_survival(model, d, tau).to_numpy()
        frames.append(external.centre_measures(t, e, lp, pred, d["centre"].astype(str)
                                               .to_numpy(), tau))
    label = endpoint_label(config, endpoint)
    if not frames:
        write_table(pd.DataFrame(columns=["centre", "measure", "estimate"]), path,
                    f"{label}: performance by centre after multiple imputation",
                    "Not done: the cohort has no centre column.")
        return
    per_centre = imputation.pool_centre_imputations(frames, float(config["cox"]["conf_level"]))
    pooled = external.pool_centre_measures(per_centre)
    table = pd.concat([per_centre.drop(columns=["scale_estimate", "scale_se"]), pooled],
                      ignore_index=True).assign(endpoint=endpoint, horizon=tau)
    write_table(table, path, f"{label}: performance by centre after multiple imputation",
                f"The frozen model applied, not refitted, to each of {len(sets)} imputed data "
                "sets of this cohort (imputed with its own outcome). In each centre, each "
                f"measure at {tau:g} as in centres.csv, pooled over the imputations by Rubin's "
                "rules on its pooling scale (logit C, log O/E, slope and D as they are); then "
                "the centres pooled by DerSimonian-Laird random effects on the same scales "
                "(Debray et al. 2017). AUC, Brier score and IPA: the mean over imputations, "
                "not pooled across centres. Beside the complete-case centres.csv.")


def run_figure(config: dict, analysis: str, imputed: str, outputs: list[str]) -> None:
    """Observed against imputed values of each imputed covariate, on the scale imputed."""
    from ..report import figures
    from ._common import dpi, figure_style

    data = load_analysis(analysis, config)
    rows, _, incomplete, _, _ = _plan(config, data)
    sets = load_sets(imputed, config)
    covs = config["covariates"]
    parts, labels, kinds = [], {}, {}
    for c in incomplete:
        spec = covs.get(c, {})
        kinds[c] = "categorical" if spec.get("type") in ("categorical", "binary") else "continuous"
        missing = rows[c].isna().to_numpy()

        def scale(x):
            if kinds[c] == "categorical":
                return x.astype(str).to_numpy()
            x = x.astype(float).to_numpy()
            return np.log2(np.maximum(x, spec.get("floor", 1.0))) if \
                spec.get("transform") == "log2" else x

        labels[c] = spec.get("label", c) if spec.get("transform") != "log2" else \
            f"log2 {spec.get('label', c).split(' (')[0]}"
        parts.append(pd.DataFrame({"variable": c, "value": scale(rows[c][~missing]),
                                   "source": "observed"}))
        parts += [pd.DataFrame({"variable": c, "value": scale(d[c][missing]),
                                "source": "imputed"}) for d in sets]
    values = (pd.concat(parts, ignore_index=True) if parts
              else pd.DataFrame(columns=["variable", "value", "source"]))
    fig = figures.imputation_figure(values, labels, kinds,
                                    "Observed and imputed values", style=figure_style(config))
    figures.save(fig, outputs, dpi(config))


def run_centre_figure(config: dict, centres: str, outputs: list[str]) -> None:
    """The frozen model's performance by centre after multiple imputation (validate mode).

    The same forest as the complete-case ``validation_centres`` figure, drawn from
    ``centres_mi.csv`` (each centre pooled over the imputations, then the centres by
    random effects), so that the report can set the two side by side.
    """
    from ..report import figures
    from ._common import dpi, figure_style

    table = pd.read_csv(centres)
    endpoint = table["endpoint"].iloc[0] if len(table) and "endpoint" in table else None
    title = (f"{endpoint_label(config, endpoint)}: after multiple imputation"
             if endpoint in config["endpoints"] else "After multiple imputation")
    fig = (figures.centre_forest_figure(table, title, style=figure_style(config))
           if len(table) else figures.empty_figure("Not done: the cohort has no centre column.",
                                                   figure_style(config)))
    figures.save(fig, outputs, dpi(config))
