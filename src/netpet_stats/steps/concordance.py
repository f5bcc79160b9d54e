"""Rule concordance: Harrell's and Uno's C of predictors and fitted models; comparisons.

Models are not refitted here: each model's linear predictor comes from the fit the
cox rule made (``intermediate/<endpoint>/cox_fits.pkl``). A paired comparison
evaluates each model, as fitted, on the patients complete for both.
"""

from __future__ import annotations

import pandas as pd

from ..cohort.ledger import analysis_set
from ..config import model_specs
from ..report.tables import write_table
from ..survival import concordance, cox
from ._common import endpoint_label, label, load_analysis
from .cox import load_fits


def _ordinal(series: pd.Series, cov_cfg: dict) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.astype(float) + 1
    levels = cov_cfg.get("levels")
    if levels:
        return series.map({lv: i + 1 for i, lv in enumerate(levels)}).astype(float)
    return series.astype(float)


def _model_c(fit: cox.CoxResult, rows=None, timewt: str = "n", ymax=None) -> dict:
    """C of a fitted model's linear predictor, on its own rows or the subset ``rows``."""
    time, event = fit.frame["__time"].to_numpy(), fit.frame["__event"].to_numpy()
    lp, stratum = cox.linear_predictor(fit), fit.stratum
    if rows is not None:
        keep = fit.frame.index.isin(rows)
        time, event, lp = time[keep], event[keep], lp[keep]
        stratum = None if stratum is None else stratum[keep]
    return concordance.BY_TIMEWT[timewt](time, event, lp, strata=stratum, reverse=True,
                                         ymax=ymax)


def _predictor_c(config, data, endpoint, name, rows=None, timewt="n", ymax=None) -> dict:
    """C of a covariate entered as ordinal codes 1..k (categorical) or as it is."""
    d = analysis_set(data, endpoint, [name]) if rows is None else data.loc[rows]
    x = _ordinal(d[name], config["covariates"].get(name, {}))
    return concordance.BY_TIMEWT[timewt](d[f"{endpoint}_time"], d[f"{endpoint}_event"], x,
                                         reverse=True, ymax=ymax)


def _c_columns(res: dict) -> dict:
    """The table's columns from a concordance result (C as ``c``; no influences)."""
    drop = ("estimate", "method", "dfbeta", "n_omitted")
    return {"c": res["estimate"], **{k: v for k, v in res.items() if k not in drop}}


def run(config: dict, analysis: str, fits_path: str, endpoint: str, out) -> None:
    """Harrell's and Uno's C for predictors and models; paired comparisons of C."""
    data = load_analysis(analysis, config)
    fits = load_fits(fits_path)
    specs = model_specs(config)
    ccfg = config["concordance"]
    horizon = ccfg["horizon"]
    ecol = f"{endpoint}_event"
    weightings = [("n", "Harrell")] + ([("n/G2", "Uno")] if ccfg["uno"] else [])
    rows = []
    for timewt, estimator in weightings:
        for name in ccfg["predictors"]:
            res = _c_columns(_predictor_c(config, data, endpoint, name, timewt=timewt,
                                          ymax=horizon))
            meta = {"label": label(config, name), "kind": "predictor", "strata": "",
                    "events": int(analysis_set(data, endpoint, [name])[ecol].sum())}
            rows.append({"endpoint": endpoint, "estimator": estimator, "predictor": name,
                         **meta, "horizon": horizon, **res,
                         "method": concordance.METHODS[timewt]})
        for name in ccfg["models"]:
            fit, spec = fits[name], specs[name]
            res = _c_columns(_model_c(fit, timewt=timewt, ymax=horizon))
            meta = {"label": spec["label"], "kind": "model linear predictor",
                    "strata": ", ".join(spec["strata"]), "events": fit.events}
            rows.append({"endpoint": endpoint, "estimator": estimator, "predictor": name,
                         **meta, "horizon": horizon, **res,
                         "method": concordance.METHODS[timewt]})
    label_ = endpoint_label(config, endpoint)
    write_table(pd.DataFrame(rows), out.concordance, f"{label_}: concordance",
                "Categorical predictors enter as ordinal codes 1..k; a stratified model is "
                "evaluated within strata, as R concordance(fit). Horizon (if set): only pairs "
                "whose earlier event is at or before it (R ymax).")
    comparisons = []
    for pair in ccfg["comparisons"]:
        # "model:<name>" is a fitted model's linear predictor; otherwise a covariate.
        items = [(n.removeprefix("model:"), n.startswith("model:")) for n in pair]
        needed = []
        for name, is_model in items:
            needed += ([*specs[name]["covariates"], *specs[name]["strata"]] if is_model
                       else [name])
        common = analysis_set(data, endpoint, list(dict.fromkeys(needed))).index
        first, second = (_model_c(fits[name], common, ymax=horizon) if is_model
                         else _predictor_c(config, data, endpoint, name, common, ymax=horizon)
                         for name, is_model in items)
        cmp = concordance.compare_c(first, second)
        comparisons.append({"endpoint": endpoint, "first": pair[0], "second": pair[1],
                            "n": len(common), **cmp, "difference": cmp["estimate"],
                            "horizon": horizon,
                            "method": concordance.COMPARE_METHOD})
    write_table(pd.DataFrame(comparisons, columns=[
        "endpoint", "first", "second", "n", "c_first", "c_second", "difference", "se", "lower",
        "upper", "z", "p", "covariance", "horizon", "method"]),
        out.comparison, f"{label_}: comparison of concordance indices",
        "Harrell's C of each on the patients complete for both (a model as fitted on its own "
        "complete cases, not refitted); difference tested by its infinitesimal-jackknife SE "
        "(R concordance(fit1, fit2)).")
