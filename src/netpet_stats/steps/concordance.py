"""Rule concordance: Harrell's and Uno's C of predictors and fitted models; comparisons.

Models are not refitted here: each model's linear predictor comes from the fit the
cox rule made (``intermediate/<endpoint>/cox_fits.pkl``). A paired comparison
evaluates each model, as fitted, on the patients complete for both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..cohort.ledger import analysis_set
from ..config import model_specs
from ..report.tables import write_table
from ..survival import concordance, cox
from ..survival.distributions import chi2_sf
from ._common import endpoint_label, label, load_analysis, risk_set_kw, risk_set_method
from .cox import load_fits


def _ordinal(series: pd.Series, cov_cfg: dict) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.astype(float) + 1
    levels = cov_cfg.get("levels")
    if levels:
        return series.map({lv: i + 1 for i, lv in enumerate(levels)}).astype(float)
    return series.astype(float)


def _model_c(fit: cox.CoxResult, rows=None, timewt: str = "n", ymax=None,
             strata=None) -> dict:
    """C of a fitted model's linear predictor, on its own rows or the subset ``rows``.

    A stratified model counts pairs within its strata, as R ``concordance(fit)``;
    ``strata`` (labels for the rows of ``data`` by index) makes an unstratified
    model count the same pairs, for a comparison with a stratified one.
    """
    time, event = fit.frame["__time"].to_numpy(), fit.frame["__event"].to_numpy()
    lp, stratum = cox.linear_predictor(fit), fit.stratum
    keep = np.ones(len(time), bool) if rows is None else fit.frame.index.isin(rows)
    time, event, lp = time[keep], event[keep], lp[keep]
    # the fit's delayed entry and case weights: R concordance(fit) on its Surv(entry, time,
    # event) and weights
    kw = {k: v[keep] for k, v in (("entry", cox.fit_entry(fit)),
                                  ("weights", cox.fit_weights(fit))) if v is not None}
    if stratum is not None:
        stratum = stratum[keep]
    elif strata is not None:
        stratum = strata.loc[fit.frame.index[keep]].to_numpy()
    return concordance.BY_TIMEWT[timewt](time, event, lp, strata=stratum, reverse=True,
                                         ymax=ymax, **kw)


def _predictor_c(config, data, endpoint, name, rows=None, timewt="n", ymax=None,
                 strata=None) -> dict:
    """C of a covariate entered as ordinal codes 1..k (categorical) or as it is.

    ``strata`` (labels by row index): count only pairs within a stratum.
    """
    d = analysis_set(data, endpoint, [name]) if rows is None else data.loc[rows]
    x = _ordinal(d[name], config["covariates"].get(name, {}))
    return concordance.BY_TIMEWT[timewt](
        d[f"{endpoint}_time"], d[f"{endpoint}_event"], x, reverse=True, ymax=ymax,
        strata=None if strata is None else strata.loc[d.index].to_numpy(), **risk_set_kw(d))


def comparison_strata(items, specs: dict) -> list[str]:
    """The strata both members of a comparison are evaluated within: those of the
    stratified member (so that both C count the same pairs), none if neither is."""
    found = {tuple(specs[name]["strata"]) for name, is_model in items
             if is_model and specs[name]["strata"]}
    if len(found) > 1:
        raise ValueError("concordance.comparisons: models stratified by different columns "
                         f"({' and '.join(', '.join(f) for f in sorted(found))}) count "
                         "different pairs and cannot be compared")
    return list(next(iter(found), ()))


def nested_lr_test(base: cox.CoxResult, extended: cox.CoxResult) -> dict:
    """Likelihood-ratio test of an extended model against its base, fitted on the same rows.

    R ``anova(base, extended)``: 2 (logL(extended) - logL(base)) on as many df as
    coefficients added. Not computed (NaN) unless both were fitted on the same
    patients, with the same strata, and the base model's terms among the extended
    one's: other pairs are not nested.
    """
    empty = {"lr_chisq": np.nan, "lr_df": np.nan, "lr_p": np.nan}
    same_strata = (base.stratum is None and extended.stratum is None) or (
        base.stratum is not None and extended.stratum is not None
        and np.array_equal(base.stratum, extended.stratum))
    nested = {t.name for t in base.terms} < {t.name for t in extended.terms}
    if (base.n != extended.n or not base.frame.index.equals(extended.frame.index)
            or not same_strata or not nested):
        return empty
    chisq = 2 * (cox.model_loglik(extended) - cox.model_loglik(base))
    df = len(extended.beta) - len(base.beta)
    return {"lr_chisq": chisq, "lr_df": df, "lr_p": float(chi2_sf(max(chisq, 0.0), df))}



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
                         "method": concordance.METHODS[timewt] + risk_set_method(data)})
        for name in ccfg["models"]:
            fit, spec = fits[name], specs[name]
            res = _c_columns(_model_c(fit, timewt=timewt, ymax=horizon))
            meta = {"label": spec["label"], "kind": "model linear predictor",
                    "strata": ", ".join(spec["strata"]), "events": fit.events}
            rows.append({"endpoint": endpoint, "estimator": estimator, "predictor": name,
                         **meta, "horizon": horizon, **res,
                         "method": concordance.METHODS[timewt] + risk_set_method(data)})
    label_ = endpoint_label(config, endpoint)
    write_table(pd.DataFrame(rows), out.concordance, f"{label_}: concordance",
                "Categorical predictors enter as ordinal codes 1..k; a stratified model is "
                "evaluated within strata, as R concordance(fit). Horizon (if set): only pairs "
                "whose earlier event is at or before it (R ymax).")
    pairs = [(list(pair), "comparison") for pair in ccfg["comparisons"]]
    added = (config.get("validation") or {}).get("added_value")
    if added and added["extended"] in fits and added["base"] in fits:
        pairs.append(([f"model:{added['extended']}", f"model:{added['base']}"], "added value"))
    comparisons = []
    for pair, kind in pairs:
        # "model:<name>" is a fitted model's linear predictor; otherwise a covariate.
        items = [(n.removeprefix("model:"), n.startswith("model:")) for n in pair]
        strata_cols = comparison_strata(items, specs)
        needed = list(strata_cols)
        for name, is_model in items:
            needed += ([*specs[name]["covariates"], *specs[name]["strata"]] if is_model
                       else [name])
        common_rows = analysis_set(data, endpoint, list(dict.fromkeys(needed)))
        common = common_rows.index
        strata = (pd.Series(cox.stratum_labels(common_rows, strata_cols), index=common)
                  if strata_cols else None)
        first, second = (_model_c(fits[name], common, ymax=horizon, strata=strata) if is_model
                         else _predictor_c(config, data, endpoint, name, common, ymax=horizon,
                                           strata=strata)
                         for name, is_model in items)
        cmp = concordance.compare_c(first, second)
        lr = (nested_lr_test(fits[items[1][0]], fits[items[0][0]])
              if all(is_model for _, is_model in items)
              else {"lr_chisq": np.nan, "lr_df": np.nan, "lr_p": np.nan})
        comparisons.append({"endpoint": endpoint, "kind": kind, "first": pair[0],
                            "second": pair[1], "n": len(common),
                            "pairs": ("within " + ", ".join(strata_cols) if strata_cols
                                      else "all pairs"),
                            "n_pairs": first["n_pairs"], **cmp,
                            "difference": cmp["estimate"], **lr, "horizon": horizon,
                            "method": concordance.COMPARE_METHOD + risk_set_method(data)})
    write_table(pd.DataFrame(comparisons, columns=[
        "endpoint", "kind", "first", "second", "n", "pairs", "n_pairs", "c_first", "c_second",
        "difference", "se", "lower", "upper", "z", "p", "covariance", "lr_chisq", "lr_df",
        "lr_p", "horizon", "method"]),
        out.comparison, f"{label_}: comparison of concordance indices",
        "Harrell's C of each on the patients complete for both (a model as fitted on its own "
        "complete cases, not refitted) and on the same pairs: where one member is stratified, "
        "both count only pairs within its strata; difference tested by its "
        "infinitesimal-jackknife SE (R concordance(fit1, fit2)). Apparent C, not corrected "
        "for optimism. Added value (validation.added_value): the extended against the base "
        "model, with the likelihood-ratio test of the added terms (R anova(base, extended)) "
        "where both were fitted on the same patients.")
