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
from ._common import endpoint_label, label, load_analysis
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
    if stratum is not None:
        stratum = stratum[keep]
    elif strata is not None:
        stratum = strata.loc[fit.frame.index[keep]].to_numpy()
    return concordance.BY_TIMEWT[timewt](time, event, lp, strata=stratum, reverse=True,
                                         ymax=ymax)


def _predictor_c(config, data, endpoint, name, rows=None, timewt="n", ymax=None,
                 strata=None) -> dict:
    """C of a covariate entered as ordinal codes 1..k (categorical) or as it is.

    ``strata`` (labels by row index): count only pairs within a stratum.
    """
    d = analysis_set(data, endpoint, [name]) if rows is None else data.loc[rows]
    x = _ordinal(d[name], config["covariates"].get(name, {}))
    return concordance.BY_TIMEWT[timewt](
        d[f"{endpoint}_time"], d[f"{endpoint}_event"], x, reverse=True, ymax=ymax,
        strata=None if strata is None else strata.loc[d.index].to_numpy())


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
    patients: models fitted on different complete cases are not nested.
    """
    empty = {"lr_chisq": np.nan, "lr_df": np.nan, "lr_p": np.nan}
    if (base.n != extended.n or not base.frame.index.equals(extended.frame.index)
            or len(extended.beta) <= len(base.beta)):
        return empty
    chisq = 2 * (cox.model_loglik(extended) - cox.model_loglik(base))
    df = len(extended.beta) - len(base.beta)
    return {"lr_chisq": chisq, "lr_df": df, "lr_p": float(chi2_sf(max(chisq, 0.0), df))}

