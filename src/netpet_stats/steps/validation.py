"""Rules freeze_model (develop mode) and external_validation (validate mode).

Freezing takes the models the cox rule fitted; validating applies frozen model files
to this cohort and never refits them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..cohort.ledger import analysis_set
from ..config import model_specs
from ..provenance import sha256, software_versions
from ..report.tables import write_table
from ..survival import concordance, cox
from ..validation import external, frozen_model
from ._common import dpi, endpoint_label, figure_style, load_analysis, time_unit
from .cox import load_fits


def freeze_spec(config: dict, fit: cox.CoxResult, name: str, input_files: list[str]) -> dict:
    """The fitted model ``name`` for ``validation.endpoint``, frozen as plain data."""
    vcfg = config["validation"]
    endpoint = vcfg["endpoint"]
    spec = model_specs(config)[name]
    provenance = {
        "data_sha256": {Path(p).name: sha256(p) for p in input_files},
        "model_spec": spec,
        "covariates": {c: config["covariates"][c] for c in spec["covariates"]},
        "software": {k: v for k, v in software_versions().items() if k != "packages"},
        "fitted_with": cox.COEF_METHOD,
    }
    return frozen_model.freeze(fit, config["covariates"], vcfg["horizons"], name=name,
                               endpoint=endpoint, time_unit=time_unit(config, endpoint),
                               provenance=provenance, curve_step=vcfg["curve_step"])


def run_freeze(config: dict, fits_path: str, input_files: list[str], out) -> None:
    """Freeze ``validation.model`` and the added-value pair from the cox rule's fits.

    ``out`` has ``model`` and, when ``validation.added_value`` is set, ``base`` and
    ``extended``: the paths of the frozen files.
    """
    fits = load_fits(fits_path)
    targets = {"model": config["validation"]["model"]}
    added = config["validation"]["added_value"]
    if added:
        targets.update({role: added[role] for role in ("base", "extended")})
    for key, name in targets.items():
        path = getattr(out, key)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        frozen_model.save(freeze_spec(config, fits[name], name, input_files), path)

def run_external(config: dict, analysis: str, model_path: str, added_value_paths: dict | None,
                 out, threads: int = 1) -> None:
    """Discrimination and calibration of a frozen model in this cohort.

    ``added_value_paths`` maps ``base`` and ``extended`` to the frozen pair of the
    added-value comparison (``None``: not requested).
    """
    from ..report import figures   # matplotlib: only in the jobs that draw
    data = load_analysis(analysis, config)
    vcfg = config["validation"]
    model = frozen_model.load(model_path)
    frozen_model.check_time_unit(model, config["analysis_time_unit"])
    endpoint = model["endpoint"]
    covs = list(model["covariates"])
    d = analysis_set(data, endpoint, covs).reset_index(drop=True)
    t, e = d[f"{endpoint}_time"].to_numpy(), d[f"{endpoint}_event"].to_numpy()
    lp_series = frozen_model.linear_predictor(model, d)
    lp = lp_series.to_numpy()
    horizons = [float(h) for h in model["baseline_survival"]["horizons"]]
    n_boot, seed = int(vcfg["n_boot"]), int(vcfg["seed"])
    label = endpoint_label(config, endpoint)
    unit = time_unit(config, endpoint)
    dpi_, style = dpi(config), figure_style(config)
    predicted = {h: frozen_model.predict_survival(model, d, h, lp=lp_series).to_numpy()
                 for h in horizons}

    # discrimination
    rows = []
    tau = max(horizons)
    for estimator, timewt in (("Harrell's C", "n"), ("Uno's C", "n/G2")):
        c = concordance.BY_TIMEWT[timewt](t, e, lp, ymax=tau)
        rows.append({"measure": estimator, "horizon": tau, "estimate": c["estimate"],
                     "lower": c["lower"],
                     "upper": c["upper"], "method": concordance.METHODS[timewt] + f"; pairs with "
                     f"the earlier event at or before {tau:g}",
                     "note": "" if np.isfinite(c["estimate"]) else
                     "not estimable: no comparable pair (no event)"})
    # each resample given in time order (the subjects the seed draws): its sorts meet
    # ordered data
    by_time = np.argsort(t, kind="stable")
    t_by, e_by = t[by_time], e[by_time]
    for h in horizons:
        risk = 1 - predicted[h]
        why = external.auc_note(t, e, h)
        auc = external.time_dependent_auc(t, e, risk, h)
        r_by = risk[by_time]
        lo, hi = (np.nan, np.nan) if why else external.bootstrap_ci(
            lambda i: external.time_dependent_auc(t_by[i], e_by[i], r_by[i], h), len(t),
            n_boot, seed, threads=threads, order=by_time)
        rows.append({"measure": "time-dependent AUC", "horizon": h, "estimate": auc, "lower": lo,
                     "upper": hi, "method": "cumulative/dynamic AUC with IPCW (Uno 2007; "
                     f"riskRegression::Score); percentile bootstrap CI, {n_boot} resamples, "
                     f"seed {seed}", "note": why})
    roy = external.royston_d(t, e, lp)
    roy_note = ("" if np.isfinite(roy["estimate"]) else
                "not estimable: no event" if not (e == 1).any() else
                "not estimable: the Cox regression of the outcome on the linear predictor "
                "has no finite solution")
    rows.append({"measure": "Royston's D", "horizon": np.nan, "estimate": roy["estimate"],
                 "lower": roy["lower"], "upper": roy["upper"],
                 "method": "R royston(fit, newdata); Wald CI", "note": roy_note})
    rows.append({"measure": "R2_D", "horizon": np.nan, "estimate": roy["r2"], "lower": np.nan,
                 "upper": np.nan, "method": "beta^2 / (pi^2/6 + beta^2)", "note": roy_note})
    disc = pd.DataFrame(rows).assign(endpoint=endpoint, n=len(t), events=int(e.sum()))
    write_table(disc, out.discrimination, f"{label}: discrimination of the frozen model",
                _empty_values_note(disc))

    # added value (ΔC) of the extended over the base model, both frozen
    write_table(_added_value_table(added_value_paths, data, endpoint, tau), out.added_value,
                f"{label}: added value, ΔC of the extended over the base model",
                f"{concordance.COMPARE_METHOD}; Harrell's C over pairs with the earlier event at "
                f"or before {tau:g}, on the patients complete for both models. Both models frozen "
                "in the development cohort (validation.added_value).")

    # calibration and overall performance
    slope = external.calibration_slope(t, e, lp)
    cal_rows, group_rows, smooth = [], [], {}
    for h in horizons:
        pred = predicted[h]
        oe = external.observed_expected(t, e, pred, h)
        bs = external.brier_score(t, e, pred, h)
        sm = external.smoothed_calibration(t, e, pred, h)
        smooth[h] = sm
        cal_rows.append({"horizon": h, "calibration_slope": slope["estimate"],
                         "slope_lower": slope["lower"], "slope_upper": slope["upper"],
                         "observed_risk": oe["observed"], "expected_risk": oe["expected"],
                         "o_e": oe["estimate"], "o_e_lower": oe["lower"], "o_e_upper": oe["upper"],
                         "ICI": sm["ICI"], "E50": sm["E50"], "E90": sm["E90"],
                         "brier": bs["brier"], "brier_null": bs["brier_null"], "ipa": bs["ipa"],
                         "note": _calibration_note(h, oe, sm, bs)})
        groups = external.calibration_groups(t, e, pred, h, int(vcfg["risk_groups"]))
        group_rows.append(groups.assign(horizon=h))
    cal = pd.DataFrame(cal_rows).assign(endpoint=endpoint, n=len(t))
    write_table(cal, out.calibration,
                f"{label}: calibration and overall performance",
                "Calibration slope: coxph(Surv ~ lp); O/E: 1 - KM(t) over the mean predicted risk, "
                "Greenwood CI; ICI/E50/E90: Austin, Harrell & van Klaveren 2020; Brier: IPCW "
                "(Graf 1999), IPA = 1 - Brier/Brier(null), as riskRegression::Score. "
                + _empty_values_note(cal))
    groups_df = pd.concat(group_rows, ignore_index=True)
    write_table(groups_df, out.groups, f"{label}: observed and predicted risk by risk group")
    fig = figures.calibration_figure(groups_df, smooth, label, unit, style=style)
    figures.save(fig, out.figures, dpi_)

    # Royston & Altman level 3: KM by prognostic group against the predicted curves. A
    # model written from a paper (coefficients and S0 at the horizons only) has no
    # baseline curve: everything above is computed; this part says what it needs.
    title = f"{label}: Kaplan-Meier by prognostic group and the model's predicted survival"
    if model["baseline_survival"].get("curve"):
        curves = _risk_group_curves(model, d, t, e, lp)
        write_table(curves, out.group_curves, title,
                    "Groups cut at the 16th, 50th and 84th centiles of the development cohort's "
                    "linear predictor (Royston & Altman 2013); observed: Kaplan-Meier with log "
                    "CI; predicted: mean of S0(t)^exp(lp) in the group.")
        figures.save(figures.risk_group_curves_figure(curves, label, unit, style=style),
                     out.group_curve_figures, dpi_)
    else:
        write_table(pd.DataFrame(columns=["group", "time", "observed", "predicted"]),
                    out.group_curves, title, NO_CURVE_NOTE)
        figures.save(figures.empty_figure("Predicted survival curves: " + NO_CURVE_NOTE, style),
                     out.group_curve_figures, dpi_)

    # heterogeneity across centres, at the last horizon
    if "centre" in d.columns and d["centre"].nunique() >= 1:
        centres = external.centre_performance(t, e, lp, predicted[tau], d["centre"].to_numpy(), tau,
                                              n_boot=n_boot, seed=seed, threads=threads)
        note = (f"At {tau:g}: Harrell's C (pairs with the earlier event by then), calibration "
                "slope and O/E per centre; DerSimonian-Laird random-effects pooling (tau^2 "
                "truncated at 0) on the logit (C), identity (slope) and log (O/E) scales, with "
                "tau^2, I^2 and the 95% prediction interval for a new centre (Higgins 2009; "
                "undefined below 3 centres). AUC, Brier score and IPA per centre with "
                f"percentile bootstrap intervals ({n_boot} resamples, seed {seed}), not "
                "pooled. " + _empty_values_note(centres))
        write_table(centres.assign(endpoint=endpoint, horizon=tau), out.centres,
                    f"{label}: performance by centre", note)
        figures.save(figures.centre_forest_figure(centres, label, style=style), out.centre_figures, dpi_)
    else:
        write_table(pd.DataFrame(columns=["centre", "measure", "estimate"]), out.centres,
                    f"{label}: performance by centre", "Not done: the cohort has no centre column.")
        figures.save(figures.empty_figure("Performance by centre: no centre column", style),
                     out.centre_figures, dpi_)




def _calibration_note(h: float, oe: dict, sm: dict, bs: dict) -> str:
    """What is empty in a horizon's calibration row, and why, in words."""
    why = sm["note"] or oe["note"] or bs["note"]
    if not why:
        return ""
    if why.startswith("not estimable: no one is followed"):
        return (f"At {h:g}: observed risk, O/E, ICI, E50, E90, Brier score and IPA "
                + why + "; R's summary(survfit(), times =) and Score() compute nothing past "
                "the last follow-up")
    return "; ".join(n for n in dict.fromkeys([oe["note"], sm["note"], bs["note"]]) if n)


def _empty_values_note(table: pd.DataFrame) -> str:
    """One sentence for the table's note: each distinct reason of its ``note`` column."""
    if "note" not in table:
        return ""
    reasons = [n.rstrip(".") for n in dict.fromkeys(table["note"].fillna("")) if n]
    if not reasons:
        return ""
    return ("Empty values and centres left out of the pooling, as the note column says: "
            + " | ".join(reasons) + ".")


NO_CURVE_NOTE = ("not available: the model stores its baseline survival at the horizons only "
                 "(as published models do); Royston & Altman's level 3, predicted survival "
                 "curves by prognostic group, needs S0(t) on a grid (baseline_survival.curve). "
                 "Discrimination and calibration at the stored horizons are complete.")


def _added_value_table(paths: dict | None, data: pd.DataFrame, endpoint: str, tau: float
                       ) -> pd.DataFrame:
    if not paths:
        return pd.DataFrame([{"comparison": "not requested (validation.added_value is null)"}])
    ext = frozen_model.load(paths["extended"])
    base = frozen_model.load(paths["base"])
    covs = list(dict.fromkeys([*ext["covariates"], *base["covariates"]]))
    d = analysis_set(data, endpoint, covs).reset_index(drop=True)
    t, e = d[f"{endpoint}_time"].to_numpy(), d[f"{endpoint}_event"].to_numpy()
    res = external.added_value(t, e, frozen_model.linear_predictor(ext, d).to_numpy(),
                      frozen_model.linear_predictor(base, d).to_numpy(), tau)
    return pd.DataFrame([{
        "extended": ext["name"], "base": base["name"], "horizon": tau,
        "c_extended": res["c_first"], "c_base": res["c_second"], "delta_c": res["estimate"],
        "se": res["se"], "lower": res["lower"], "upper": res["upper"], "z": res["z"],
        "p": res["p"], "n": len(t), "events": int(e.sum()), "endpoint": endpoint}])




def _risk_group_curves(model: dict, d: pd.DataFrame, t, e, lp) -> pd.DataFrame:
    q = model.get("development", {}).get("linear_predictor", {}).get("quantiles", {})
    if all(k in q for k in ("16", "50", "84")):
        cuts = [q["16"], q["50"], q["84"]]
    else:  # a hand-written model without the development distribution
        cuts = list(np.quantile(lp, [0.16, 0.5, 0.84]))
    times, pred = frozen_model.predict_curves(model, d)
    return external.risk_group_curves(t, e, lp, pred, times, cuts)


