"""Performance of a frozen Cox model in a validation cohort.

Royston & Altman (BMC Med Res Methodol 2013;13:33) and the STRATOS guidance
(McLernon et al., Ann Intern Med 2023): calibration slope, observed/expected
ratio at a horizon, and Royston's D with R²_D. Discrimination by Harrell's and
Uno's C is in :mod:`netpet_stats.concordance`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from . import cox, kaplan_meier


def _fit_one(time, event, x):
    """One-covariate Cox fit (Efron ties) by Newton-Raphson from 0: beta, variance."""
    X = np.asarray(x, float).reshape(-1, 1)
    beta, _, info = cox.newton_polish(np.asarray(time, float), np.asarray(event, float), X,
                                      np.zeros(1))
    return float(beta[0]), float(1.0 / info[0, 0])


def calibration_slope(time, event, lp, conf_level: float = 0.95) -> dict:
    """Slope of the Cox regression of the outcome on the linear predictor.

    1 means well calibrated in the spread of risks; below 1, predictions too
    extreme. R: ``coxph(Surv(time, event) ~ lp)``.
    """
    b, var = _fit_one(time, event, lp)
    se = np.sqrt(var)
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    return {"slope": b, "se": se, "lower": b - z * se, "upper": b + z * se,
            "p_slope_eq_1": float(2 * stats.norm.sf(abs((b - 1) / se)))}


def observed_expected(time, event, predicted_survival, horizon: float,
                      conf_level: float = 0.95) -> dict:
    """Observed/expected risk at ``horizon``.

    Observed: 1 - Kaplan-Meier S(horizon) of the cohort; expected: the mean
    predicted risk 1 - S(horizon | x). CI of O/E from the Greenwood variance of
    the observed risk on the log scale, the expected risk taken as fixed
    (Debray et al., Stat Med 2017, for O/E of survival models).
    """
    curve = kaplan_meier.km_table(time, event, "log")
    at = kaplan_meier.survival_at(curve, time, event, [horizon]).iloc[0]
    observed = 1 - at["surv"]
    expected = float(np.mean(1 - np.asarray(predicted_survival, float)))
    ratio = observed / expected
    # var(1 - S) = S^2 var(log S); se(log O) = S se(log S) / O
    se_log = at["surv"] * at["std_err"] / observed
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    return {"horizon": horizon, "observed": observed, "expected": expected, "o_e": ratio,
            "lower": ratio * np.exp(-z * se_log), "upper": ratio * np.exp(z * se_log)}


def royston_d(time, event, lp, rescale: bool = True) -> dict:
    """Royston & Sauerbrei's D and R²_D, as R ``royston(fit, newdata)``.

    With ``rescale`` (the validation-cohort case) the linear predictor is first
    rescaled by the Cox regression of the outcome on it, so that a model that
    discriminates backwards is ranked backwards, as R does. Normal scores are
    Blom's, ``qnorm((rank - 3/8) / (n + 1/4))``, averaged over tied values;
    ``D = beta * sqrt(8 / pi)`` from the Cox regression of the outcome on the
    scores; ``R²_D = beta² / (pi²/6 + beta²)``.
    """
    lp = np.asarray(lp, float)
    time, event = np.asarray(time, float), np.asarray(event, float)
    eta = lp
    if rescale:
        b, _ = _fit_one(time, event, lp - lp.mean())
        eta = b * (lp - lp.mean())
    n = eta.size
    z = stats.norm.ppf((np.arange(1, n + 1) - 3 / 8) / (n + 0.25))
    order = np.argsort(eta, kind="stable")  # rank with ties.method = "first"
    scores = np.empty(n)
    scores[order] = z
    # average the scores over tied linear predictors
    qhat = pd.Series(scores).groupby(eta).transform("mean").to_numpy()
    beta, var = _fit_one(time, event, qhat)
    kappa = np.sqrt(8 / np.pi)
    return {"D": beta * kappa, "se_D": float(np.sqrt(var) * kappa),
            "R2_D": beta ** 2 / (np.pi ** 2 / 6 + beta ** 2)}
