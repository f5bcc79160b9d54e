"""Is a continuous covariate's effect linear on the model's scale? A spline test.

The covariate, as the model enters it (after its log2 transform and scale), is
replaced by a restricted cubic spline with knots at Harrell's default centiles (5,
35, 65, 95 for four knots; Harrell, *Regression Modeling Strategies*, 2nd ed.,
sec. 2.4.6); the likelihood-ratio test of the spline against the linear term, on
the same patients, strata and other covariates, has ``knots - 2`` degrees of
freedom (R ``anova(coxph(... + x ...), coxph(... + rms::rcs(x, knots) ...))``; the
natural spline ``splines::ns(x, knots = inner, Boundary.knots = outer)`` spans the
same functions and gives the same test).

Written here because lifelines and statsmodels have no likelihood-ratio test of
non-linearity for a stratified Cox model; the fits are :func:`cox.fit_cox`'s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import cox
from .distributions import chi2_sf
from .splines import rcs_basis

#: Harrell's default knot centiles by the number of knots (rms::rcspline.eval).
KNOT_CENTILES = {3: (10, 50, 90), 4: (5, 35, 65, 95), 5: (5, 27.5, 50, 72.5, 95)}

METHOD = ("likelihood-ratio test of a restricted cubic spline ({k} knots at the {centiles} "
          "centiles of the covariate on the model's scale) against the linear term, other "
          "covariates and strata as in the model (R anova of coxph with rms::rcs)")


def nonlinearity_test(data: pd.DataFrame, time_col: str, event_col: str,
                      covariates: list[str], strata: list[str], cov_config: dict,
                      term: str, knots: int = 4,
                      linear: cox.CoxResult | None = None, ties: str = "efron",
                      entry_col: str | None = None, weights_col: str | None = None) -> dict:
    """Likelihood-ratio test of non-linearity of ``term`` in a Cox model.

    Parameters
    ----------
    data, time_col, event_col, covariates, strata, cov_config
        As :func:`netpet_stats.survival.cox.fit_cox`; complete cases are used.
    term
        A continuous covariate among ``covariates``.
    knots
        Number of knots (3, 4 or 5; Harrell's default centiles).
    linear
        The model with ``term`` linear, if already fitted on these complete cases
        (it is fitted here otherwise).
    ties
        The method for tied times of both fits (R ``coxph(ties = )``).
    entry_col, weights_col
        Delayed-entry times and case weights of both fits, as
        :func:`netpet_stats.survival.cox.fit_cox` (R ``Surv(entry, time, event)``,
        ``weights =``).

    Returns
    -------
    dict
        ``term``, ``chisq``, ``df`` (knots - 2), ``p``, ``knots`` (their values on
        the model's scale), ``n``, ``events``, ``loglik_linear``, ``loglik_spline``
        and ``method``; ``chisq`` and ``p`` are NaN, with ``note``, where the spline
        cannot be placed (fewer distinct values than knots).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> x = rng.uniform(0, 4, 300)
    >>> latent = rng.exponential(1 / np.exp((x - 2) ** 2))       # U-shaped hazard
    >>> d = pd.DataFrame({"t": np.minimum(latent, 1.0), "e": (latent < 1.0) * 1, "x": x})
    >>> res = nonlinearity_test(d, "t", "e", ["x"], [], {"x": {"type": "continuous"}}, "x")
    >>> res["df"], bool(res["p"] < 0.001)
    (2, True)
    """
    if knots not in KNOT_CENTILES:
        raise ValueError(f"nonlinearity_test: knots must be 3, 4 or 5, not {knots}")
    spec = cov_config.get(term, {"type": "continuous"})
    if spec.get("type", "continuous") != "continuous":
        raise ValueError(f"nonlinearity_test: {term!r} is {spec.get('type')}, not continuous")
    risk_set = {"entry_col": entry_col, "weights_col": weights_col}
    needed = list(dict.fromkeys([time_col, event_col, *covariates, *strata,
                                 *[c for c in risk_set.values() if c]]))
    d = data[needed].dropna()       # the model's columns only, a copy to add the basis to
    x, _ = cox.design_matrix(d, [term], {term: spec})
    x = x.iloc[:, 0].to_numpy(float)                      # on the model's scale
    centiles = KNOT_CENTILES[knots]
    where = np.percentile(x, centiles)                    # R quantile(type = 7)
    method = METHOD.format(k=knots, centiles=", ".join(f"{c:g}" for c in centiles))
    base = {"term": term, "df": knots - 2, "n": len(d), "events": int(d[event_col].sum()),
            "knots": where.tolist(), "method": method}
    if linear is None or linear.n != len(d):
        linear = cox.fit_cox(d, time_col, event_col, covariates, strata, cov_config, ties=ties,
                             **risk_set)
    if len(np.unique(where)) < knots:
        return {**base, "chisq": np.nan, "p": np.nan,
                "loglik_linear": cox.model_loglik(linear),
                "loglik_spline": np.nan,
                "note": f"not estimable: {term} has too few distinct values for {knots} knots"}
    basis = rcs_basis(x, where)
    names = [f"{term}__rcs{j}" for j in range(basis.shape[1])]
    for name, column in zip(names, basis.T):
        d[name] = column
    others = [c for c in covariates if c != term]
    coding = {**cov_config, **{name: {"type": "continuous", "label": name} for name in names}}
    # the spline model's likelihood is all the test reads: no test of each of its terms
    spline = cox.fit_cox(d, time_col, event_col, [*names, *others], strata, coding, ties=ties,
                         **risk_set, term_tests=False)
    chisq = 2 * (cox.model_loglik(spline) - cox.model_loglik(linear))
    return {**base, "chisq": chisq, "p": float(chi2_sf(max(chisq, 0.0), knots - 2)),
            "loglik_linear": cox.model_loglik(linear),
            "loglik_spline": cox.model_loglik(spline), "note": ""}

