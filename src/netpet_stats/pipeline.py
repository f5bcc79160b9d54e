"""One function per analysis step; Snakemake rules and the CLI call these.

Each step reads the prepared (per-patient) cohort, which is kept outside
``results/``, and writes aggregate tables only. Every table names its method.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import association, baseline, concordance, cox, kaplan_meier, logrank
from .cohort import PreparedCohort, analysis_set, model_specs, prepare_cohort
from .distributions import norm_ppf
from .netpet import SCORES
from .tables import suppress_small_counts, write_table


def _privacy(config: dict) -> tuple[bool, int]:
    priv = config.get("privacy") or {}
    return bool(priv.get("suppress_small_cells", False)), int(priv.get("threshold", 5))


def groups_of(data: pd.DataFrame) -> list[str]:
    """Analysis groups in their configured order."""
    return [str(c) for c in data["netpet_group"].cat.categories]


def _label(config: dict, cov: str) -> str:
    return config["covariates"].get(cov, {}).get("label", cov)


# --------------------------------------------------------------------------------------
# Cohort
# --------------------------------------------------------------------------------------


def run_cohort(config: dict, analysis_path: str | Path, exclusions_path: str | Path,
               flow_path: str | Path, distribution_path: str | Path,
               warnings_path: str | Path) -> PreparedCohort:
    """Validate the cohort; write the analysis frame, the ledger, the flow and warnings."""
    prepared = prepare_cohort(config)
    write_table(prepared.warnings, warnings_path, "Data warnings",
                "Values kept as recorded but worth checking (they do not exclude anyone).")
    Path(analysis_path).parent.mkdir(parents=True, exist_ok=True)
    data = prepared.data.copy()
    data["netpet_group"] = data["netpet_group"].astype(str).where(data["netpet_group"].notna())
    data.to_parquet(analysis_path, index=False)
    write_table(prepared.exclusions, exclusions_path, "Exclusions ledger",
                "One line per input row and analysis it does not enter; `file` and `row` give "
                "the input file and its spreadsheet row (header = row 1). Analyses: `all` (no NETPET group), "
                "`<endpoint>` (time or event missing), `<endpoint>:<model>` (a covariate of "
                "that Cox model or univariable analysis is missing; complete-case analysis).")
    write_table(patient_flow(prepared, config), flow_path, "Patient flow",
                "Every input row is counted once per line: analysed + excluded = received.")
    dist = (prepared.data["netpet"].astype(object).where(prepared.data["netpet"].notna(), "(missing)")
            .value_counts()
            .reindex([*SCORES, "P4", "(missing)"], fill_value=0))
    dist = dist[(dist > 0) | dist.index.isin(SCORES)].rename_axis("netpet").reset_index(name="n")
    group_of = prepared.data.drop_duplicates("netpet").set_index("netpet")["netpet_group"]
    dist["analysis_group"] = dist["netpet"].map(group_of).astype(object).where(
        dist["netpet"].map(group_of).notna(), "(excluded)")
    suppress, threshold = _privacy(config)
    if suppress:
        dist = suppress_small_counts(dist, ["n"], threshold)
    write_table(dist, distribution_path, "NETPET score distribution",
                f"Counts below {threshold} suppressed." if suppress else None)
    return prepared


def load_analysis(path: str | Path, config: dict) -> pd.DataFrame:
    """Read the prepared cohort back, restoring the ordered NETPET group."""
    from .netpet import resolve_grouping

    data = pd.read_parquet(path)
    order = list(resolve_grouping(config["netpet"]["grouping"]))
    data["netpet_group"] = pd.Categorical(data["netpet_group"], categories=order, ordered=True)
    return data


def patient_flow(prepared: PreparedCohort, config: dict) -> pd.DataFrame:
    """Counts from received to analysed, per analysis, with reasons (TRIPOD+AI 20a)."""
    data, ledger = prepared.data, prepared.exclusions
    n = len(data)
    rows = [{"analysis": "received", "step": "input rows", "n": n, "reason": ""}]
    excl_all = ledger[ledger["analysis"] == "all"]
    for reason, k in excl_all["reason"].value_counts().sort_index().items():
        rows.append({"analysis": "all", "step": "excluded", "n": int(k), "reason": reason})
    eligible = n - len(excl_all)
    rows.append({"analysis": "all", "step": "eligible", "n": eligible, "reason": ""})
    for ep in config["endpoints"]:
        sub = ledger[ledger["analysis"] == ep]
        for reason, k in sub["reason"].value_counts().sort_index().items():
            rows.append({"analysis": ep, "step": "excluded", "n": int(k), "reason": reason})
        analysed = eligible - len(sub)
        rows.append({"analysis": ep, "step": "analysed (Kaplan-Meier, log-rank)",
                     "n": analysed, "reason": ""})
        for name in model_specs(config):
            sub_m = ledger[ledger["analysis"] == f"{ep}:{name}"]
            for reason, k in sub_m["reason"].value_counts().sort_index().items():
                rows.append({"analysis": f"{ep}:{name}", "step": "excluded", "n": int(k),
                             "reason": reason})
            rows.append({"analysis": f"{ep}:{name}", "step": "analysed (Cox)",
                         "n": analysed - len(sub_m), "reason": ""})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------


def run_kaplan_meier(config: dict, data: pd.DataFrame, endpoint: str, out: dict) -> None:
    """KM curves, medians, landmark survival, numbers at risk and follow-up by group.

    ``out`` maps ``curves, summary, landmarks, risk_table, follow_up`` to CSV paths.
    """
    km_cfg = config["kaplan_meier"]
    ct, cl = km_cfg["conf_type"], float(km_cfg["conf_level"])
    method = kaplan_meier.method_text(ct, cl)
    d = analysis_set(data, endpoint)
    tcol, ecol = f"{endpoint}_time", f"{endpoint}_event"
    curves, summary, landmarks, risk, follow = [], [], [], [], []
    for g in groups_of(d) + ["all"]:
        sub = d if g == "all" else d[d["netpet_group"] == g]
        if len(sub) == 0:
            continue
        t, e = sub[tcol].to_numpy(), sub[ecol].to_numpy()
        curve = kaplan_meier.km_table(t, e, ct, cl)
        q = kaplan_meier.km_quantiles(curve, (0.5,)).iloc[0]
        if g != "all":
            curves.append(curve.assign(group=g))
            lm = kaplan_meier.survival_at(curve, t, e, km_cfg["landmarks"])
            landmarks.append(lm.assign(group=g))
            risk.append(pd.DataFrame({"group": g, "time": km_cfg["risk_table_times"],
                                      "n_risk": kaplan_meier.numbers_at_risk(
                                          t, km_cfg["risk_table_times"])}))
        summary.append({"group": g, "n": len(sub), "events": int(e.sum()),
                        "median": q["quantile"], "median_lower": q["lower"],
                        "median_upper": q["upper"]})
        fu = kaplan_meier.reverse_km_follow_up(t, e, ct, cl)
        follow.append({"group": g, "n": fu["n"], "n_censored": fu["n_censored"],
                       "median_follow_up": fu["median_follow_up"], "lower": fu["lower"],
                       "upper": fu["upper"]})
    unit = config["endpoints"][endpoint].get("time_unit", "months")
    label = config["endpoints"][endpoint]["label"]
    curves_df = pd.concat(curves, ignore_index=True)
    curves_df = curves_df[["group", *[c for c in curves_df.columns if c != "group"]]]
    write_table(curves_df.assign(method=method), out["curves"], f"{label}: Kaplan-Meier curves")
    note = (f"{method}. Median: R quantile.survfit rule (midpoint of a flat at exactly 0.5); "
            f"its CI is read off the pointwise confidence curves. Times in {unit}. "
            "A missing median or limit means the curve did not reach 0.5.")
    write_table(pd.DataFrame(summary).assign(method=method), out["summary"],
                f"{label}: medians by NETPET group", note)
    lm_df = pd.concat(landmarks, ignore_index=True)
    lm_df = lm_df[["group", *[c for c in lm_df.columns if c != "group"]]]
    write_table(lm_df.assign(method=method), out["landmarks"],
                f"{label}: survival at landmark times",
                f"{method}. n_risk counts subjects with time >= t (R summary.survfit); "
                "estimates past the last observation are left empty.")
    write_table(pd.concat(risk, ignore_index=True), out["risk_table"],
                f"{label}: numbers at risk", "Subjects with follow-up time >= t.")
    write_table(pd.DataFrame(follow).assign(
        method="reverse Kaplan-Meier (Schemper & Smith 1996): quantile(survfit(Surv(time, "
               "1 - event) ~ 1), 0.5)"),
                out["follow_up"], f"{label}: median follow-up")


# --------------------------------------------------------------------------------------
# Log-rank
# --------------------------------------------------------------------------------------


def run_logrank(config: dict, data: pd.DataFrame, endpoint: str, out: dict) -> None:
    """Overall, centre-stratified, trend and pairwise log-rank tests."""
    d = analysis_set(data, endpoint, ["centre"])
    tcol, ecol = f"{endpoint}_time", f"{endpoint}_event"
    groups = [g for g in groups_of(d) if (d["netpet_group"] == g).any()]
    group = d["netpet_group"].astype(str).to_numpy()
    tests = logrank.logrank_tests(d[tcol], d[ecol], group, groups, strata=d["centre"],
                                  adjust=config["logrank"]["pairwise_adjustment"])
    tests.insert(0, "endpoint", endpoint)
    label = config["endpoints"][endpoint]["label"]
    write_table(tests, out["tests"], f"{label}: log-rank tests",
                "Hypergeometric variance (R survdiff, rho = 0). Trend: group scores 1..k in "
                "the order " + " < ".join(groups) + ".")
    oe = logrank.observed_expected(d[tcol], d[ecol], group, groups)
    write_table(oe, out["observed_expected"], f"{label}: observed and expected events")


# --------------------------------------------------------------------------------------
# Cox
# --------------------------------------------------------------------------------------


def _fit_spec(config, data, endpoint, spec):
    covs = spec["covariates"]
    cluster = spec.get("cluster")
    d = analysis_set(data, endpoint, [*covs, *spec["strata"], *([cluster] if cluster else [])])
    return cox.fit_cox(d, f"{endpoint}_time", f"{endpoint}_event", covs, spec["strata"],
                       config["covariates"], float(config["cox"]["conf_level"]), cluster)


def run_cox(config: dict, data: pd.DataFrame, endpoint: str, out: dict) -> None:
    """Univariable and multivariable Cox models with tests and PH diagnostics."""
    coefs, tests, zph = [], [], []
    transform = config["cox"]["zph_transform"]
    for name, spec in model_specs(config).items():
        res = _fit_spec(config, data, endpoint, spec)
        kind = "univariable" if name.startswith("univariable_") else "multivariable"
        strata = ", ".join(spec["strata"])
        meta = {"endpoint": endpoint, "model": name, "analysis": kind,
                "model_label": spec["label"], "strata": strata}
        coefs.append(res.coefficients.assign(**meta))
        tests.append(res.tests.assign(**meta, n=res.n, events=res.events))
        zph.append(cox.ph_test(res, transform).assign(**meta))
    lead = ["endpoint", "model", "analysis", "model_label", "strata"]

    def tidy(frames):
        df = pd.concat(frames, ignore_index=True)
        return df[lead + [c for c in df.columns if c not in lead]]

    label = config["endpoints"][endpoint]["label"]
    write_table(tidy(coefs).assign(method=cox.COEF_METHOD), out["coefficients"],
                f"{label}: Cox proportional-hazards models",
                f"{cox.COEF_METHOD}. Complete cases per model (see the exclusions ledger); "
                "strata have separate baseline hazards. Models with a cluster also report "
                "robust (sandwich) SEs clustered on it (R coxph(cluster = ); Lin & Wei 1989); "
                "with few clusters these are unreliable.")
    write_table(tidy(tests), out["tests"], f"{label}: Cox model tests",
                "Model tests against the null model as R summary(coxph); per-term "
                "likelihood-ratio tests as drop1(fit, test = 'Chisq').")
    write_table(tidy(zph), out["ph_test"], f"{label}: proportional-hazards tests",
                f"{cox.ZPH_METHOD}; time transform '{transform}'.")


# --------------------------------------------------------------------------------------
# Concordance
# --------------------------------------------------------------------------------------


def _ordinal(series: pd.Series, cov_cfg: dict) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.astype(float) + 1
    levels = cov_cfg.get("levels")
    if levels:
        return series.map({lv: i + 1 for i, lv in enumerate(levels)}).astype(float)
    return series.astype(float)


def _concordance_item(config, data, endpoint, name, is_model, rows=None, timewt="n",
                      ymax=None):
    """C of a predictor (ordinal codes) or of a named model's linear predictor.

    ``rows`` restricts the analysis set (for paired comparisons); a model is
    refitted on those rows.
    """
    tcol, ecol = f"{endpoint}_time", f"{endpoint}_event"
    specs = model_specs(config)
    if is_model:
        spec = specs[name]
        sub = data if rows is None else data.loc[rows]
        fit = _fit_spec(config, sub, endpoint, spec)
        res = concordance.harrell_c(fit.frame["__time"], fit.frame["__event"],
                                    cox.linear_predictor(fit), strata=fit.stratum,
                                    reverse=True, timewt=timewt, ymax=ymax)
        meta = {"label": spec["label"], "kind": "model linear predictor",
                "strata": ", ".join(spec["strata"]), "events": fit.events}
    else:
        d = analysis_set(data, endpoint, [name]) if rows is None else data.loc[rows]
        x = _ordinal(d[name], config["covariates"].get(name, {}))
        res = concordance.harrell_c(d[tcol], d[ecol], x, reverse=True, timewt=timewt, ymax=ymax)
        meta = {"label": _label(config, name), "kind": "predictor", "strata": "",
                "events": int(d[ecol].sum())}
    return res, meta


def run_concordance(config: dict, data: pd.DataFrame, endpoint: str, out: dict) -> None:
    """Harrell's and Uno's C for predictors and models; paired comparisons of C."""
    ccfg = config["concordance"]
    horizon = ccfg.get("horizon")
    weightings = [("n", "Harrell")] + ([("n/G2", "Uno")] if ccfg.get("uno", True) else [])
    rows = []
    for timewt, estimator in weightings:
        items = [(p, False) for p in ccfg["predictors"]] + [(m, True) for m in ccfg["models"]]
        for name, is_model in items:
            res, meta = _concordance_item(config, data, endpoint, name, is_model,
                                          timewt=timewt, ymax=horizon)
            res.pop("dfbeta")
            rows.append({"endpoint": endpoint, "estimator": estimator, "predictor": name,
                         **meta, "horizon": horizon, **res,
                         "method": concordance.METHODS[timewt]})
    label = config["endpoints"][endpoint]["label"]
    write_table(pd.DataFrame(rows), out["concordance"], f"{label}: concordance",
                "Categorical predictors enter as ordinal codes 1..k; a stratified model is "
                "evaluated within strata, as R concordance(fit). Horizon (if set): only pairs "
                "whose earlier event is at or before it (R ymax).")
    comparisons = []
    specs = model_specs(config)
    for pair in ccfg.get("comparisons", []):
        # "model:<name>" is a fitted model's linear predictor; otherwise a covariate.
        items = [(n.removeprefix("model:"), n.startswith("model:")) for n in pair]
        needed = []
        for name, is_model in items:
            needed += ([*specs[name]["covariates"], *specs[name]["strata"]] if is_model
                       else [name])
        common = analysis_set(data, endpoint, list(dict.fromkeys(needed))).index
        first, second = (_concordance_item(config, data, endpoint, name, is_model, common,
                                           ymax=horizon)[0] for name, is_model in items)
        cmp = concordance.compare_c(first, second)
        comparisons.append({"endpoint": endpoint, "first": pair[0], "second": pair[1],
                            "n": len(common), **cmp, "horizon": horizon,
                            "method": concordance.COMPARE_METHOD})
    write_table(pd.DataFrame(comparisons, columns=[
        "endpoint", "first", "second", "n", "c_first", "c_second", "difference", "se", "lower",
        "upper", "z", "p", "covariance", "horizon", "method"]),
        out["comparison"], f"{label}: comparison of concordance indices",
        "Harrell's C of each on the patients complete for both; difference tested by its "
        "infinitesimal-jackknife SE (R concordance(fit1, fit2)).")


# --------------------------------------------------------------------------------------
# Association and Table 1
# --------------------------------------------------------------------------------------


def run_association(config: dict, data: pd.DataFrame, out: dict) -> None:
    """NETPET group x grade: counts, Pearson chi-square and the exact test."""
    acfg = config["association"]
    d = data[data["netpet_group"].notna()]
    row, col = acfg["row"], acfg["column"]
    row_levels = groups_of(d) if row == "netpet_group" else None
    col_levels = config["covariates"].get(col, {}).get("levels")
    counts, tests = association.association_table(
        d, row, col, row_levels, col_levels, seed=int(config.get("seed", 1)))
    suppress, threshold = _privacy(config)
    if suppress:
        counts = suppress_small_counts(counts, ["n"], threshold)
    write_table(counts, out["counts"], f"{_label(config, row)} x {_label(config, col)}",
                f"Counts below {threshold} suppressed." if suppress else None)
    write_table(tests, out["tests"], f"Association of {_label(config, row)} with "
                f"{_label(config, col)}",
                "Rows with either variable missing are not counted (n_missing).")


TABLE1_LABELS = {"age": "Age (years)", "sex": "Sex", "primary_site": "Primary site",
                 "centre": "Centre", "grade": "WHO grade", "ki67": "Ki-67 (%)",
                 "extrahepatic": "Extrahepatic disease"}


def run_table1(config: dict, data: pd.DataFrame, out: dict) -> None:
    """Baseline characteristics by NETPET group (analysis population)."""
    tcfg = config["table1"]
    d = data[data["netpet_group"].notna()]
    labels = {**TABLE1_LABELS, **(tcfg.get("labels") or {})}
    variables = [v for v in tcfg["variables"] if v in d.columns]
    table = baseline.table_one(d, "netpet_group", variables,
                               [v for v in tcfg["continuous"] if v in variables], labels)
    suppress, threshold = _privacy(config)
    if suppress:
        table = suppress_small_counts(
            table, [c for c in table.columns if c not in ("variable", "level")], threshold)
    write_table(table, out["table1"], "Table 1: baseline characteristics by NETPET group",
                "Continuous: median [Q1, Q3] of non-missing values; categorical: n (% of "
                "all patients in the column, missing values as the level '(missing)'). "
                "Missing: count of missing values. Patients in an analysis group only.")


# --------------------------------------------------------------------------------------
# Figures (from the tables above)
# --------------------------------------------------------------------------------------


def run_km_figure(config: dict, endpoint: str, tables: dict, outputs: list[str]) -> None:
    """Kaplan-Meier figure of ``endpoint`` from its curve, risk, median and test tables."""
    from . import figures

    km_cfg = config["kaplan_meier"]
    fig = figures.km_figure(
        pd.read_csv(tables["curves"]), pd.read_csv(tables["risk_table"]),
        pd.read_csv(tables["summary"]), pd.read_csv(tables["logrank"]),
        config["endpoints"][endpoint]["label"],
        config["endpoints"][endpoint].get("time_unit", "months"),
        f"{float(km_cfg['conf_level']):.0%} CI, {km_cfg['conf_type']}")
    figures.save(fig, outputs, int(config["figures"]["dpi"]))


def run_flow_figure(config: dict, flow_csv: str, outputs: list[str]) -> None:
    """Patient-flow diagram from the flow table."""
    from . import figures

    flow = pd.read_csv(flow_csv, keep_default_na=False, na_values=[""])
    labels = {ep: spec["label"] for ep, spec in config["endpoints"].items()}
    fig = figures.flow_figure(flow, labels, config["cox"]["primary_model"])
    figures.save(fig, outputs, int(config["figures"]["dpi"]))


def run_forest_figure(config: dict, endpoint: str, coefficients: str, outputs: list[str]) -> None:
    """Forest plot of the primary multivariable model's hazard ratios."""
    from . import figures

    coefs = pd.read_csv(coefficients, keep_default_na=False, na_values=[""])
    coefs["level"] = coefs["level"].fillna("")
    model = config["cox"]["primary_model"]
    sub = coefs[coefs["model"] == model]
    title = (f"{config['endpoints'][endpoint]['label']}: "
             f"{config['cox']['models'][model].get('label', model)}")
    figures.save(figures.forest_figure(sub, title), outputs, int(config["figures"]["dpi"]))


# --------------------------------------------------------------------------------------
# External validation: freeze a model on a development cohort, apply it to another
# --------------------------------------------------------------------------------------


def _freeze_spec(config: dict, data: pd.DataFrame, name: str, input_files: list[str]) -> dict:
    """Fit model ``name`` of the configuration for the validation endpoint, as plain data."""
    from . import frozen_model
    from .manifest import sha256
    from .report import software_versions

    vcfg = config["validation"]
    endpoint = vcfg["endpoint"]
    spec = model_specs(config)[name]
    fit = _fit_spec(config, data, endpoint, spec)
    provenance = {
        "data_sha256": {Path(p).name: sha256(p) for p in input_files},
        "model_spec": spec,
        "covariates": {c: config["covariates"][c] for c in spec["covariates"]},
        "software": {k: v for k, v in software_versions().items() if k != "packages"},
        "fitted_with": cox.COEF_METHOD,
    }
    return frozen_model.freeze(fit, config["covariates"], vcfg["horizons"], name=name,
                               endpoint=endpoint,
                               time_unit=config["endpoints"][endpoint].get("time_unit", "months"),
                               provenance=provenance, curve_step=vcfg.get("curve_step", 1.0))


def run_freeze_model(config: dict, data: pd.DataFrame, out_path: str,
                     input_files: list[str], name: str | None = None) -> None:
    """Fit ``validation.model`` (or ``name``) for ``validation.endpoint``; freeze it to YAML."""
    from . import frozen_model

    model = _freeze_spec(config, data, name or config["validation"]["model"], input_files)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    frozen_model.save(model, out_path)


def _development_design(config: dict, data: pd.DataFrame):
    """Outcome, design matrix and rows of the model to be frozen, in the development cohort."""
    vcfg = config["validation"]
    endpoint = vcfg["endpoint"]
    spec = model_specs(config)[vcfg["model"]]
    if spec["strata"]:
        raise ValueError(f"validation.model {vcfg['model']!r} is stratified; internal validation "
                         "and a model for new centres need an unstratified model")
    d = analysis_set(data, endpoint, spec["covariates"]).reset_index(drop=True)
    X, _ = cox.design_matrix(d, spec["covariates"], config["covariates"])
    return d, d[f"{endpoint}_time"].to_numpy(float), d[f"{endpoint}_event"].to_numpy(float), X


def run_optimism(config: dict, data: pd.DataFrame, out: dict) -> None:
    """Bootstrap optimism-corrected C and calibration slope of ``validation.model``."""
    from . import internal_validation

    vcfg = config["validation"]
    _, t, e, X = _development_design(config, data)
    n_boot, seed = int(vcfg.get("n_boot", 200)), int(vcfg.get("seed", 1))
    horizon = max(float(h) for h in vcfg["horizons"])
    table = internal_validation.optimism_bootstrap(t, e, X.to_numpy(), n_boot, seed, horizon,
                                                   progress=True)
    label = config["endpoints"][vcfg["endpoint"]]["label"]
    write_table(table.assign(endpoint=vcfg["endpoint"], model=vcfg["model"], n=len(t),
                             events=int(e.sum())),
                out["optimism"], f"{label}: internal validation of the model (bootstrap)",
                f"{internal_validation.OPTIMISM_METHOD}. {n_boot} resamples, seed {seed} (numpy "
                f"PCG64); Harrell's C over pairs whose earlier event is at or before {horizon:g}; "
                "calibration slope = coxph(Surv ~ lp) of the resample's model in the original "
                "data (apparent slope is 1).")


def run_iecv(config: dict, data: pd.DataFrame, out: dict, figures_out: list[str]) -> None:
    """Internal-external cross-validation of ``validation.model``, leaving one centre out."""
    from . import figures, internal_validation, validation

    vcfg = config["validation"]
    d, t, e, X = _development_design(config, data)
    horizon = max(float(h) for h in vcfg["horizons"])
    label = config["endpoints"][vcfg["endpoint"]]["label"]
    note = (f"{internal_validation.IECV_METHOD}. At {horizon:g}: Harrell's C (pairs with the "
            "earlier event by then), calibration slope and O/E of the out-of-centre predictions "
            "in each centre; DerSimonian-Laird pooling as in the external validation.")
    if "centre" not in d.columns or d["centre"].nunique() < 2:
        write_table(pd.DataFrame(columns=["centre", "measure", "estimate"]), out["iecv"],
                    f"{label}: internal-external cross-validation",
                    "Not done: the development cohort has fewer than two centres.")
        figures.save(figures.empty_figure("Internal-external cross-validation: fewer than two "
                                          "centres"), figures_out, int(config["figures"]["dpi"]))
        return
    lp, surv, _ = internal_validation.internal_external_cv(t, e, X.to_numpy(), d["centre"],
                                                           [horizon], progress=True)
    table = validation.centre_performance(t, e, lp, surv[horizon], d["centre"].to_numpy(), horizon)
    write_table(table.assign(endpoint=vcfg["endpoint"], model=vcfg["model"], horizon=horizon),
                out["iecv"], f"{label}: internal-external cross-validation (leave one centre out)",
                note)
    figures.save(figures.centre_forest_figure(table, f"{label}: internal-external "
                                              "cross-validation"),
                 figures_out, int(config["figures"]["dpi"]))


def added_value(time, event, lp_extended, lp_base, horizon: float) -> dict:
    """ΔC of an extended over a base model on the same patients (R ``concordance(f1, f2)``)."""
    first = concordance.harrell_c(time, event, lp_extended, ymax=horizon)
    second = concordance.harrell_c(time, event, lp_base, ymax=horizon)
    return concordance.compare_c(first, second)


def run_external_validation(config: dict, data: pd.DataFrame, model_path: str, out: dict,
                            figures_out: list[str]) -> None:
    """Discrimination and calibration of a frozen model in this cohort."""
    from . import figures, frozen_model, validation

    vcfg = config["validation"]
    model = frozen_model.load(model_path)
    endpoint = model["endpoint"]
    covs = list(model["covariates"])
    d = analysis_set(data, endpoint, covs).reset_index(drop=True)
    t, e = d[f"{endpoint}_time"].to_numpy(), d[f"{endpoint}_event"].to_numpy()
    lp = frozen_model.linear_predictor(model, d).to_numpy()
    horizons = [float(h) for h in model["baseline_survival"]["horizons"]]
    n_boot, seed = int(vcfg.get("n_boot", 200)), int(vcfg.get("seed", 1))
    label = config["endpoints"][endpoint]["label"]
    unit = config["endpoints"][endpoint].get("time_unit", "months")
    dpi = int(config["figures"]["dpi"])
    predicted = {h: frozen_model.predict_survival(model, d, h).to_numpy() for h in horizons}

    # discrimination
    rows = []
    tau = max(horizons)
    for estimator, timewt in (("Harrell's C", "n"), ("Uno's C", "n/G2")):
        c = concordance.harrell_c(t, e, lp, timewt=timewt, ymax=tau)
        rows.append({"measure": estimator, "horizon": tau, "estimate": c["c"], "lower": c["lower"],
                     "upper": c["upper"], "method": concordance.METHODS[timewt] + f"; pairs with "
                     f"the earlier event at or before {tau:g}"})
    for h in horizons:
        risk = 1 - predicted[h]
        auc = validation.time_dependent_auc(t, e, risk, h)
        lo, hi = validation.bootstrap_ci(
            lambda i: validation.time_dependent_auc(t[i], e[i], risk[i], h), len(t), n_boot, seed)
        rows.append({"measure": "time-dependent AUC", "horizon": h, "estimate": auc, "lower": lo,
                     "upper": hi, "method": "cumulative/dynamic AUC with IPCW (Uno 2007; "
                     f"riskRegression::Score); percentile bootstrap CI, {n_boot} resamples, "
                     f"seed {seed}"})
    roy = validation.royston_d(t, e, lp)
    z = float(norm_ppf(0.975))
    rows.append({"measure": "Royston's D", "horizon": np.nan, "estimate": roy["D"],
                 "lower": roy["D"] - z * roy["se_D"], "upper": roy["D"] + z * roy["se_D"],
                 "method": "R royston(fit, newdata); Wald CI"})
    rows.append({"measure": "R2_D", "horizon": np.nan, "estimate": roy["R2_D"], "lower": np.nan,
                 "upper": np.nan, "method": "beta^2 / (pi^2/6 + beta^2)"})
    disc = pd.DataFrame(rows).assign(endpoint=endpoint, n=len(t), events=int(e.sum()))
    write_table(disc, out["discrimination"], f"{label}: discrimination of the frozen model")

    # added value (ΔC) of the extended over the base model, both frozen
    write_table(_added_value_table(vcfg, data, endpoint, tau), out["added_value"],
                f"{label}: added value, ΔC of the extended over the base model",
                f"{concordance.COMPARE_METHOD}; Harrell's C over pairs with the earlier event at "
                f"or before {tau:g}, on the patients complete for both models. Both models frozen "
                "in the development cohort (validation.added_value).")

    # calibration and overall performance
    slope = validation.calibration_slope(t, e, lp)
    cal_rows, group_rows, smooth = [], [], {}
    for h in horizons:
        pred = predicted[h]
        oe = validation.observed_expected(t, e, pred, h)
        bs = validation.brier_score(t, e, pred, h)
        sm = validation.smoothed_calibration(t, e, pred, h)
        smooth[h] = sm
        cal_rows.append({"horizon": h, "calibration_slope": slope["slope"],
                         "slope_lower": slope["lower"], "slope_upper": slope["upper"],
                         "observed_risk": oe["observed"], "expected_risk": oe["expected"],
                         "o_e": oe["o_e"], "o_e_lower": oe["lower"], "o_e_upper": oe["upper"],
                         "ICI": sm["ICI"], "E50": sm["E50"], "E90": sm["E90"],
                         "brier": bs["brier"], "brier_null": bs["brier_null"], "ipa": bs["ipa"]})
        groups = validation.calibration_groups(t, e, pred, h, int(vcfg.get("risk_groups", 5)))
        group_rows.append(groups.assign(horizon=h))
    write_table(pd.DataFrame(cal_rows).assign(endpoint=endpoint, n=len(t)), out["calibration"],
                f"{label}: calibration and overall performance",
                "Calibration slope: coxph(Surv ~ lp); O/E: 1 - KM(t) over the mean predicted risk, "
                "Greenwood CI; ICI/E50/E90: Austin, Harrell & van Klaveren 2020; Brier: IPCW "
                "(Graf 1999), IPA = 1 - Brier/Brier(null), as riskRegression::Score.")
    groups_df = pd.concat(group_rows, ignore_index=True)
    write_table(groups_df, out["groups"], f"{label}: observed and predicted risk by risk group")
    fig = figures.calibration_figure(groups_df, smooth, label, unit)
    figures.save(fig, figures_out, dpi)

    # Royston & Altman level 3: KM by prognostic group against the predicted curves
    curves = _risk_group_curves(model, d, t, e, lp)
    write_table(curves, out["group_curves"],
                f"{label}: Kaplan-Meier by prognostic group and the model's predicted survival",
                "Groups cut at the 16th, 50th and 84th centiles of the development cohort's "
                "linear predictor (Royston & Altman 2013); observed: Kaplan-Meier with log CI; "
                "predicted: mean of S0(t)^exp(lp) in the group.")
    figures.save(figures.risk_group_curves_figure(curves, label, unit), out["group_curve_figures"],
                 dpi)

    # heterogeneity across centres, at the last horizon
    if "centre" in d.columns and d["centre"].nunique() >= 1:
        centres = validation.centre_performance(t, e, lp, predicted[tau], d["centre"].to_numpy(), tau)
        note = (f"At {tau:g}: Harrell's C (pairs with the earlier event by then), calibration "
                "slope and O/E per centre; DerSimonian-Laird random-effects pooling (tau^2 "
                "truncated at 0) on the logit (C), identity (slope) and log (O/E) scales, with "
                "tau^2, I^2 and the 95% prediction interval for a new centre (Higgins 2009; "
                "undefined below 3 centres).")
        write_table(centres.assign(endpoint=endpoint, horizon=tau), out["centres"],
                    f"{label}: performance by centre", note)
        figures.save(figures.centre_forest_figure(centres, label), out["centre_figures"], dpi)
    else:
        write_table(pd.DataFrame(columns=["centre", "measure", "estimate"]), out["centres"],
                    f"{label}: performance by centre", "Not done: the cohort has no centre column.")
        figures.save(figures.empty_figure("Performance by centre: no centre column"),
                     out["centre_figures"], dpi)


def _added_value_table(vcfg: dict, data: pd.DataFrame, endpoint: str, tau: float) -> pd.DataFrame:
    from . import frozen_model

    spec = vcfg.get("added_value")
    if not spec:
        return pd.DataFrame([{"comparison": "not requested (validation.added_value is null)"}])
    ext = frozen_model.load(spec["extended_file"])
    base = frozen_model.load(spec["base_file"])
    covs = list(dict.fromkeys([*ext["covariates"], *base["covariates"]]))
    d = analysis_set(data, endpoint, covs).reset_index(drop=True)
    t, e = d[f"{endpoint}_time"].to_numpy(), d[f"{endpoint}_event"].to_numpy()
    res = added_value(t, e, frozen_model.linear_predictor(ext, d).to_numpy(),
                      frozen_model.linear_predictor(base, d).to_numpy(), tau)
    return pd.DataFrame([{
        "extended": ext["name"], "base": base["name"], "horizon": tau,
        "c_extended": res["c_first"], "c_base": res["c_second"], "delta_c": res["difference"],
        "se": res["se"], "lower": res["lower"], "upper": res["upper"], "z": res["z"],
        "p": res["p"], "n": len(t), "events": int(e.sum()), "endpoint": endpoint}])


def _risk_group_curves(model: dict, d: pd.DataFrame, t, e, lp) -> pd.DataFrame:
    from . import frozen_model, validation

    q = model.get("development", {}).get("linear_predictor", {}).get("quantiles", {})
    if all(k in q for k in ("16", "50", "84")):
        cuts = [q["16"], q["50"], q["84"]]
    else:  # a hand-written model without the development distribution
        cuts = list(np.quantile(lp, [0.16, 0.5, 0.84]))
    times, pred = frozen_model.predict_curves(model, d)
    return validation.risk_group_curves(t, e, lp, pred, times, cuts)


def _sample_size_scenario(config: dict, model_path: str):
    from . import frozen_model, sample_size

    scfg = config["sample_size"]
    model = frozen_model.load(model_path)
    return model, sample_size.scenario_from_model(model, scfg.get("horizon"), scfg.get("lp_sd"))


def run_sample_size_cell(config: dict, model_path: str, n: int, fraction: float,
                         out_csv: str) -> None:
    """Simulated validation cohorts of one grid cell (one Snakemake job per cell).

    Writes one row per simulated cohort (simulated data only, no patient).
    """
    from . import sample_size

    scfg = config["sample_size"]
    _, scenario = _sample_size_scenario(config, model_path)
    frame = sample_size.simulate_cell(scenario, int(n), float(fraction), int(scfg["n_sim"]),
                                      int(scfg["seed"]), float(scfg.get("conf_level", 0.95)),
                                      progress=True)
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out_csv, index=False, float_format="%.10g", lineterminator="\n")


def run_sample_size(config: dict, model_path: str, cell_csvs: list[str], out: dict,
                    figures_out: list[str]) -> None:
    """Gather the grid cells: precision table, minimum sizes and the figure."""
    from . import figures, sample_size

    scfg = config["sample_size"]
    model, scenario = _sample_size_scenario(config, model_path)
    cells = pd.concat([pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in cell_csvs],
                      ignore_index=True)
    summary = sample_size.summarise(cells, scfg["targets"])
    unit = model.get("time_unit", "months")
    assumptions = (f"Model '{model.get('name')}' ({model.get('endpoint')}); linear predictor "
                   f"Normal({scenario.lp_mean:.4g}, {scenario.lp_sd:.4g}); follow-up "
                   f"{scenario.follow_up:g} {unit}; horizon {scenario.horizon:g} {unit}; "
                   f"{int(scfg['n_sim'])} cohorts per cell, seed {int(scfg['seed'])} (numpy "
                   "PCG64, one stream per cell). Slope here is the Cox calibration slope on the "
                   "linear predictor, not Riley et al.'s pseudo-observation slope.")
    label = config["endpoints"].get(model.get("endpoint"), {}).get("label", model.get("endpoint"))
    write_table(summary, out["precision"],
                f"{label}: precision of an external validation by its size (simulation)",
                f"{sample_size.METHOD}. {assumptions}")
    write_table(sample_size.minimum_sizes(summary), out["minimum"],
                f"{label}: minimum external validation size within the grid",
                f"{sample_size.METHOD}. {assumptions} 'all': every target at once; "
                "collins_*: whether the mean number of events at that size reaches 100 / 200.")
    figures.save(figures.sample_size_figure(summary, label), figures_out,
                 int(config["figures"]["dpi"]))
