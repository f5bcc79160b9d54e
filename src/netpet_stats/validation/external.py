"""Performance of a frozen Cox model in a validation cohort.

Royston & Altman (BMC Med Res Methodol 2013;13:33) and the STRATOS guidance
(McLernon et al., Ann Intern Med 2023): calibration slope, observed/expected
ratio at a horizon, and Royston's D with R²_D. Discrimination by Harrell's and
Uno's C is in :mod:`netpet_stats.concordance`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..survival.distributions import norm_ppf, norm_sf, t_ppf
from ..survival import cox, kaplan_meier
from ..survival.concordance import BY_TIMEWT, compare_c, harrell_c
from ..survival._ranks import dense_rank
from ..survival.splines import rcs_basis


def _fit_one(time, event, x, init: float = 0.0, data=None):
    """One-covariate Cox fit (Efron ties) by Newton-Raphson from ``init``: beta, variance.

    With no events, or a predictor constant among the risk sets, the slope is not
    estimable: NaN for both, as R's ``coxph`` gives an NA coefficient (and
    ``royston`` NaN) where a centre has no events. ``data``: an Efron-ties
    :class:`~netpet_stats.survival.cox.EfronData` of ``time, event`` (any design),
    whose sort the fit reuses.
    """
    time, event = np.asarray(time, float), np.asarray(event, float)
    X = np.asarray(x, float).reshape(-1, 1)
    if event.sum() == 0:
        return np.nan, np.nan
    if data is not None:
        if data.ties != "efron" or data.n != time.size:
            raise ValueError("calibration_slope: `data` must be the Efron-ties EfronData of "
                             "these subjects")
        data = data.with_design(X)
    try:
        beta, _, info = cox.fit_efron(time, event, X, beta=[init], data=data)
    except cox.CoxFitError:
        return np.nan, np.nan
    return float(beta[0]), float(1.0 / info[0, 0])


def calibration_slope(time, event, lp, conf_level: float = 0.95, init: float = 0.0, *,
                      data=None) -> dict:
    """Slope of the Cox regression of the outcome on the linear predictor.

    1 means well calibrated in the spread of risks; below 1, predictions too
    extreme. R: ``coxph(Surv(time, event) ~ lp)``.

    ``init`` is the slope Newton's iteration starts from (R ``coxph(init = )``, 0 by
    default, as R): a fit that converges is taken to the maximum either way (to
    ~1e-15), so its estimate does not depend on it, but a start at 1 needs two steps
    where the slope is near 1, as in a model's own resample (the bootstrap's thousands
    of fits). A fit that does not converge stops where R's would from that start.

    ``data``: the :class:`~netpet_stats.survival.cox.EfronData` (Efron ties) of ``time,
    event`` with any design, e.g. of the model whose ``lp`` this is: the fit reuses its
    sort of the subjects (:meth:`~netpet_stats.survival.cox.EfronData.with_design`)
    instead of sorting them again, the same estimate.

    Returns
    -------
    dict
        ``estimate`` (the slope), its model-based ``se``, the Wald interval
        ``lower, upper``, ``p`` of the Wald test of slope = 1 (not 0), ``method``.

    Examples
    --------
    >>> from netpet_stats.validation.external import calibration_slope
    >>> t, e = [1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 0, 1, 1, 0, 1, 1]
    >>> res = calibration_slope(t, e, [0.5, 1.2, -0.3, 0.1, 0.8, -1, -0.2, 0.4])
    >>> round(res["estimate"], 6), round(res["se"], 6)  # R: 1.325090, 0.958461
    (1.32509, 0.958461)
    """
    b, var = _fit_one(time, event, lp, init, data)
    se = np.sqrt(var)
    z = norm_ppf(1 - (1 - conf_level) / 2)
    return {"estimate": b, "se": float(se), "lower": float(b - z * se),
            "upper": float(b + z * se), "p": float(2 * norm_sf(abs((b - 1) / se))),
            "method": SLOPE_METHOD}


SLOPE_METHOD = "coxph(Surv ~ lp); Wald CI; p of the Wald test of slope = 1"
OE_METHOD = "1 - KM(h) over the mean predicted risk; Greenwood CI on the log scale"
ROYSTON_METHOD = "R royston(fit, newdata): Blom normal scores, D = beta sqrt(8/pi); Wald CI"


def observed_expected(time, event, predicted_survival, horizon: float,
                      conf_level: float = 0.95) -> dict:
    """Observed/expected risk at ``horizon``.

    Observed: 1 - Kaplan-Meier S(horizon) of the cohort; expected: the mean
    predicted risk 1 - S(horizon | x). CI of O/E from the Greenwood variance of
    the observed risk on the log scale, the expected risk taken as fixed
    (Debray et al., Stat Med 2017, for O/E of survival models).

    Returns
    -------
    dict
        ``estimate`` (O/E), ``lower, upper``, ``se_log`` (of log O/E), the
        ``observed`` and ``expected`` risks, ``horizon``, ``method`` and ``note``:
        past the last follow-up time O/E is NaN (R's ``summary(survfit(...), times
        = h)`` drops the time); with no event by the horizon it is 0, without a
        log-scale SE or CI.

    Examples
    --------
    >>> from netpet_stats.validation.external import observed_expected
    >>> res = observed_expected([1, 2, 3, 4], [1, 0, 1, 0], [0.8, 0.8, 0.6, 0.6], 3)
    >>> res["observed"], round(res["expected"], 4), round(res["estimate"], 4)
    (0.625, 0.3, 2.0833)
    >>> round(res["se_log"], 5)  # R: summary(survfit(...), times = 3)$std.err / 0.625
    0.45826
    """
    surv, std_err = kaplan_meier.km_point(time, event, horizon)
    observed = 1 - surv
    expected = float(np.mean(1 - np.asarray(predicted_survival, float)))
    if not np.isfinite(observed) or not expected > 0:
        last = np.asarray(time, float).max() if len(time) else np.nan
        note = (f"not estimable: no one is followed to {horizon:g} (last follow-up {last:g})"
                if not np.isfinite(observed) else
                "not estimable: the mean predicted risk is 0")
        return {"estimate": np.nan, "lower": np.nan, "upper": np.nan, "se_log": np.nan,
                "observed": observed, "expected": expected, "horizon": horizon,
                "method": OE_METHOD, "note": note}
    ratio = observed / expected
    z = norm_ppf(1 - (1 - conf_level) / 2)
    if observed > 0:
        # var(1 - S) = S^2 var(log S); se(log O) = S se(log S) / O
        se_log = surv * std_err / observed
        lower, upper, note = ratio * np.exp(-z * se_log), ratio * np.exp(z * se_log), ""
    else:                                                   # no event: no log scale
        se_log = lower = upper = np.nan
        note = (f"O/E = 0: no event by {horizon:g}; no log-scale SE or CI, so left out of "
                "any pooling on the log scale")
    return {"estimate": float(ratio), "lower": float(lower), "upper": float(upper),
            "se_log": se_log, "observed": observed, "expected": expected, "horizon": horizon,
            "method": OE_METHOD, "note": note}


def royston_d(time, event, lp, rescale: bool = True, conf_level: float = 0.95) -> dict:
    """Royston & Sauerbrei's D and R²_D, as R ``royston(fit, newdata)``.

    With ``rescale`` (the validation-cohort case) the linear predictor is first
    rescaled by the Cox regression of the outcome on it, so that a model that
    discriminates backwards is ranked backwards, as R does. Normal scores are
    Blom's, ``qnorm((rank - 3/8) / (n + 1/4))``, averaged over tied values;
    ``D = beta * sqrt(8 / pi)`` from the Cox regression of the outcome on the
    scores; ``R²_D = beta² / (pi²/6 + beta²)``.

    Returns
    -------
    dict
        ``estimate`` (D), ``se``, the Wald interval ``lower, upper``, ``r2`` (R²_D)
        and ``method``.

    Examples
    --------
    >>> from netpet_stats.validation.external import royston_d
    >>> t, e = [1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 0, 1, 1, 0, 1, 1]
    >>> res = royston_d(t, e, [0.5, 1.2, -0.3, 0.1, 0.8, -1, -0.2, 0.4])
    >>> round(res["estimate"], 6), round(res["se"], 6), round(res["r2"], 6)
    (1.736398, 1.139358, 0.418536)

    As R ``royston(coxph(Surv(t, e) ~ lp), newdata = d)``: D = 1.736398,
    se(D) = 1.139358, R.D = 0.418536.
    """
    lp = np.asarray(lp, float)
    time, event = np.asarray(time, float), np.asarray(event, float)
    eta = lp
    if rescale:
        b, _ = _fit_one(time, event, lp - lp.mean())
        eta = b * (lp - lp.mean())
    n = eta.size
    z = norm_ppf((np.arange(1, n + 1) - 3 / 8) / (n + 0.25))
    order = np.argsort(eta, kind="stable")  # rank with ties.method = "first"
    scores = np.empty(n)
    scores[order] = z
    # average the scores over tied linear predictors
    qhat = pd.Series(scores).groupby(eta).transform("mean").to_numpy()
    beta, var = _fit_one(time, event, qhat)
    kappa = np.sqrt(8 / np.pi)
    d, se = beta * kappa, float(np.sqrt(var) * kappa)
    z = norm_ppf(1 - (1 - conf_level) / 2)
    return {"estimate": float(d), "se": se, "lower": float(d - z * se),
            "upper": float(d + z * se), "r2": float(beta ** 2 / (np.pi ** 2 / 6 + beta ** 2)),
            "method": ROYSTON_METHOD}


# --------------------------------------------------------------------------------------
# Overall performance and time-dependent discrimination at a horizon
# --------------------------------------------------------------------------------------


def not_estimable(time, event, horizon: float) -> str:
    """Why R estimates nothing at ``horizon`` in these patients ("" if it does).

    Past the last follow-up time R's ``summary(survfit(...), times = h)`` drops the
    time and ``riskRegression::Score`` computes nothing ("Results at evaluation
    time(s) beyond this time point are not computed"): no observed risk, O/E, Brier
    score, IPA, AUC or smoothed calibration (ICI, E50, E90). Without any event,
    ``Score`` refuses the data (it finds no event state). At the last time itself
    both compute.

    Examples
    --------
    >>> from netpet_stats.validation.external import not_estimable
    >>> not_estimable([1, 2, 3], [1, 0, 0], 3.0)
    ''
    >>> not_estimable([1, 2, 3], [1, 0, 0], 4.0)
    'not estimable: no one is followed to 4 (last follow-up 3)'
    >>> not_estimable([1, 2, 3], [0, 0, 0], 2.0)
    'not estimable: no event in these patients'
    """
    time, event = np.asarray(time, float), np.asarray(event, float)
    if time.size == 0:
        return "not estimable: no patients"
    last = float(time.max())
    if horizon > last:
        return f"not estimable: no one is followed to {horizon:g} (last follow-up {last:g})"
    if not (event == 1).any():
        return "not estimable: no event in these patients"
    return ""


def auc_note(time, event, horizon: float) -> str:
    """Why :func:`time_dependent_auc` is empty at ``horizon`` ("" where it is estimated).

    Examples
    --------
    >>> from netpet_stats.validation.external import auc_note
    >>> auc_note([1, 2, 3, 4], [0, 1, 0, 1], 1.5)
    'not estimable: no event by 1.5 (no case)'
    """
    time, event = np.asarray(time, float), np.asarray(event, float)
    why = not_estimable(time, event, horizon)
    if why:
        return why
    if not ((time <= horizon) & (event == 1)).any():
        return f"not estimable: no event by {horizon:g} (no case)"
    if not (time > horizon).any():
        return f"not estimable: no one is followed beyond {horizon:g} (no control)"
    return ""


def brier_score(time, event, predicted_survival, horizon: float) -> dict:
    """IPCW Brier score at ``horizon`` and the index of prediction accuracy (IPA).

    ``BS(t) = mean_i w_i (I(T_i <= t, event) - (1 - S_i(t)))^2`` with weights
    ``1/G(T_i-)`` for events by ``t``, ``1/G(t)`` for subjects still at risk at
    ``t`` and 0 for those censored before ``t`` (Graf et al., Stat Med 1999);
    G the Kaplan-Meier of censoring, as R ``riskRegression::Score(...,
    cens.model = "km")``. IPA = 1 - BS(model) / BS(null), the null model
    predicting everyone the cohort's own Kaplan-Meier S(t) (Kattan & Gerds 2018).

    Returns
    -------
    dict
        ``brier``, ``brier_null``, ``ipa`` and ``note``: all NaN where R estimates
        nothing (:func:`not_estimable`: past the last follow-up, or no event at
        all), ``ipa`` NaN where no event precedes the horizon (the null model's
        Brier score is 0; R reports -Inf); ``note`` says why.
    """
    time, event = np.asarray(time, float), np.asarray(event, float)
    s = np.asarray(predicted_survival, float)
    why = not_estimable(time, event, horizon)
    if why:
        # no one followed to the horizon: S(horizon) and the IPC weights are undefined
        return {"horizon": horizon, "brier": np.nan, "brier_null": np.nan, "ipa": np.nan,
                "note": why}
    G = kaplan_meier.censoring_survival(time, event)
    case = (time <= horizon) & (event == 1)
    control = time > horizon
    w = np.zeros(time.size)
    w[case] = 1.0 / G(time[case], left=True)        # G(T-) > 0: the patient was at risk
    if control.any():                               # G(horizon) > 0 while anyone is followed on
        w[control] = 1.0 / G(horizon)
    y = case.astype(float)

    def bs(pred_surv):
        return float(np.mean(w * (y - (1 - pred_surv)) ** 2))

    # the cohort's Kaplan-Meier S(horizon), as km_table then survival_at give it,
    # without building the curve's table (this runs once per bootstrap resample)
    km_t = kaplan_meier.km_point(time, event, horizon)[0]
    model, null = bs(s), bs(np.full_like(s, km_t))
    if null > 0:
        return {"horizon": horizon, "brier": model, "brier_null": null,
                "ipa": 1 - model / null, "note": ""}
    # IPA is undefined when the null model is perfect (no event by the horizon)
    return {"horizon": horizon, "brier": model, "brier_null": null, "ipa": np.nan,
            "note": f"IPA not estimable: no event by {horizon:g}, so the null model's Brier "
                    "score is 0 (R reports -Inf)"}


def time_dependent_auc(time, event, marker, horizon: float) -> float:
    """Cumulative/dynamic AUC at ``horizon`` with IPCW weights (Uno et al. 2007).

    Cases: events by ``horizon``, weighted 1/G(T_i-); controls: subjects with
    ``T > horizon`` (equal weights 1/G(t), which cancel). A higher ``marker``
    means a higher risk; ties count 1/2. As R ``riskRegression::Score(...,
    metrics = "auc", cens.model = "km")``. NaN where there is no case or no
    control, or where R estimates nothing (:func:`auc_note` says why).
    """
    time, event = np.asarray(time, float), np.asarray(event, float)
    m = np.asarray(marker, float)
    if auc_note(time, event, horizon):
        return float("nan")
    G = kaplan_meier.censoring_survival(time, event)
    case = (time <= horizon) & (event == 1)
    control = time > horizon
    wc = 1.0 / G(time[case], left=True)
    # the controls counted per distinct marker value (a model's marker takes one value
    # per covariate pattern, ranked by hashing): below and tied with each case's
    rank = dense_rank(m)
    at = np.bincount(rank[control], minlength=int(rank.max()) + 1)
    rc = rank[case]
    below, ties = (np.cumsum(at) - at)[rc], at[rc]
    score = (below + 0.5 * ties) / int(np.count_nonzero(control))
    return float(np.sum(wc * score) / np.sum(wc))


def bootstrap_ci(statistic, n: int, n_boot: int, seed: int, conf_level: float = 0.95,
                 threads: int = 1, order=None):
    """Percentile bootstrap interval of ``statistic(indices)`` over ``n`` rows.

    The resamples come from one seeded sequence and are evaluated on up to
    ``threads`` threads in that order: the interval does not depend on ``threads``.
    ``order``: the statistic reads the rows in this order (``rows[order]``, e.g. sorted
    by time): :func:`._progress.bootstrap_draws` gives each resample in that order, and
    a statistic that does not depend on the order of its rows gives the interval of the
    rows as given, up to rounding.
    """
    return bootstrap_cis(statistic, n, n_boot, seed, conf_level, threads, order)[0]


def bootstrap_cis(statistic, n: int, n_boot: int, seed: int, conf_level: float = 0.95,
                  threads: int = 1, order=None) -> list:
    """:func:`bootstrap_ci` of a statistic of several values (a tuple, each resample):
    one interval per value, from the same resamples."""
    from ._progress import bootstrap_draws, ordered_map

    draws = bootstrap_draws(np.random.default_rng(seed), n, n_boot, order)
    values = np.array(list(ordered_map(statistic, draws, threads)), float)
    values = values.reshape(n_boot, -1) if values.size else values.reshape(0, 1)
    a = (1 - conf_level) / 2
    out = []
    for column in values.T:
        column = column[np.isfinite(column)]
        out.append((np.nan, np.nan) if column.size == 0   # not estimable in any resample
                   else (float(np.quantile(column, a)), float(np.quantile(column, 1 - a))))
    return out


# --------------------------------------------------------------------------------------
# Calibration at a horizon
# --------------------------------------------------------------------------------------


def calibration_groups(time, event, predicted_survival, horizon: float, groups: int = 5,
                       conf_level: float = 0.95) -> pd.DataFrame:
    """Observed vs predicted risk at ``horizon`` within groups of predicted risk.

    Groups are quantiles of the predicted risk; observed risk is 1 - Kaplan-Meier
    S(horizon) in the group with its CI (log transform), predicted the group's
    mean (Royston & Altman 2013, level 3).
    """
    time, event = np.asarray(time, float), np.asarray(event, float)
    risk = 1 - np.asarray(predicted_survival, float)
    labels = pd.qcut(pd.Series(risk).rank(method="first"), groups, labels=False)
    rows = []
    for g in range(groups):
        m = (labels == g).to_numpy()
        curve = kaplan_meier.km_table(time[m], event[m], "log", conf_level)
        at = kaplan_meier.survival_at(curve, time[m], event[m], [horizon]).iloc[0]
        rows.append({"group": g + 1, "n": int(m.sum()), "events": int(event[m].sum()),
                     "predicted": float(risk[m].mean()), "observed": 1 - at["surv"],
                     "observed_lower": 1 - at["upper"], "observed_upper": 1 - at["lower"]})
    return pd.DataFrame(rows)


def risk_group_curves(time, event, lp, predicted, times, cuts, conf_level: float = 0.95
                      ) -> pd.DataFrame:
    """Kaplan-Meier curve of each prognostic group beside the model's mean predicted curve.

    Royston & Altman (2013), level 3 ("KM curves by risk group overlaid on the
    predicted curves"): patients are grouped by cutting the linear predictor at
    ``cuts`` (they use the 16th, 50th and 84th centiles of the development
    cohort's linear predictor, which the frozen model stores); within each group
    the observed survival is the Kaplan-Meier estimate (log-transformed CI) and
    the predicted survival the mean of the patients' predicted curves.

    Parameters
    ----------
    lp
        Linear predictor of each patient.
    predicted
        (n, T) predicted survival of each patient at ``times``.
    cuts
        Increasing cut points; group ``g`` holds ``cuts[g-1] < lp <= cuts[g]``.

    Returns
    -------
    pandas.DataFrame
        ``group, lp_range, n, events, time, observed, observed_lower,
        observed_upper, predicted``.
    """
    time, event = np.asarray(time, float), np.asarray(event, float)
    lp, predicted = np.asarray(lp, float), np.asarray(predicted, float)
    times = np.asarray(times, float)
    edges = np.concatenate([[-np.inf], np.asarray(cuts, float), [np.inf]])
    group = np.searchsorted(np.asarray(cuts, float), lp, side="left")
    rows = []
    for g in range(len(edges) - 1):
        m = group == g
        lo, hi = edges[g], edges[g + 1]
        span = (f"lp <= {hi:.3f}" if not np.isfinite(lo) else
                f"lp > {lo:.3f}" if not np.isfinite(hi) else f"{lo:.3f} < lp <= {hi:.3f}")
        if not m.any():
            continue
        curve = kaplan_meier.km_table(time[m], event[m], "log", conf_level)
        at = kaplan_meier.survival_at(curve, time[m], event[m], times)
        mean_pred = predicted[m].mean(axis=0)
        for k, t in enumerate(times):
            rows.append({"group": g + 1, "lp_range": span, "n": int(m.sum()),
                         "events": int(event[m].sum()), "time": float(t),
                         "observed": float(at["surv"].iloc[k]),
                         "observed_lower": float(at["lower"].iloc[k]),
                         "observed_upper": float(at["upper"].iloc[k]),
                         "predicted": float(mean_pred[k])})
    return pd.DataFrame(rows)


def smoothed_calibration(time, event, predicted_survival, horizon: float, knots: int = 3) -> dict:
    """Smoothed calibration curve and ICI / E50 / E90 (Austin, Harrell & van Klaveren 2020).

    A Cox model of the outcome on a restricted cubic spline (``knots`` knots at
    Harrell's default quantiles) of ``log(-log(S_i(t)))`` gives each patient's
    calibrated ("observed") risk at ``horizon``; ICI is the mean absolute
    difference between observed and predicted risk, E50 and E90 its median and
    90th percentile. Past the last follow-up time (R's ``summary(survfit(cal),
    times = h)`` drops it) and without events they are not estimable: NaN, and
    ``note`` says why.
    """
    time, event = np.asarray(time, float), np.asarray(event, float)
    why = not_estimable(time, event, horizon)
    if why:
        empty = np.full(time.size, np.nan)
        return {"horizon": horizon, "ICI": np.nan, "E50": np.nan, "E90": np.nan,
                "observed": empty, "predicted": 1 - np.asarray(predicted_survival, float),
                "note": why}
    s = np.clip(np.asarray(predicted_survival, float), 1e-12, 1 - 1e-12)
    cll = np.log(-np.log(s))
    quantiles = {3: (0.10, 0.50, 0.90), 4: (0.05, 0.35, 0.65, 0.95),
                 5: (0.05, 0.275, 0.50, 0.725, 0.95)}[knots]
    X = rcs_basis(cll, np.quantile(cll, quantiles))
    beta, _, _ = cox.fit_efron(time, event, X)
    r = np.exp(X @ beta)
    _, (cumhaz,) = cox.efron_cumhaz(time, event, r, [horizon])
    observed = 1 - np.exp(-cumhaz * r)
    diff = np.abs(observed - (1 - s))
    return {"horizon": horizon, "ICI": float(diff.mean()), "E50": float(np.median(diff)),
            "E90": float(np.quantile(diff, 0.9)), "observed": observed, "predicted": 1 - s,
            "note": ""}


# --------------------------------------------------------------------------------------
# Heterogeneity across centres
# --------------------------------------------------------------------------------------


def random_effects(estimates, ses, conf_level: float = 0.95) -> dict:
    """DerSimonian-Laird random-effects pooling with a prediction interval.

    ``tau² = max(0, (Q - (k - 1)) / C)`` and ``I² = max(0, (Q - (k - 1)) / Q)``
    (DerSimonian & Laird 1986; Higgins & Thompson 2002); pooled estimate with
    weights ``1 / (se² + tau²)``. Written here because statsmodels 0.15's
    ``combine_effects(method_re="dl")`` does not truncate tau² at 0, which with
    few centres can give a negative tau² and a pooled interval narrower than the
    fixed-effect one; when tau² > 0 the two agree (tested). The 95% prediction
    interval for a new centre is ``pooled +/- t_{k-2} sqrt(tau² + se²)``
    (Higgins, Thompson & Spiegelhalter, JRSS A 2009), undefined below 3 centres.

    Returns
    -------
    dict
        ``estimate`` (pooled), ``se``, ``lower, upper``, ``method``, the number of
        estimates ``k``, ``tau2``, ``i2``, Cochran's ``q`` and the prediction
        interval ``pi_lower, pi_upper``.

    Examples
    --------
    >>> from netpet_stats import random_effects
    >>> res = random_effects([0.1, 0.3, 0.2], [0.1, 0.1, 0.1])
    >>> round(res["estimate"], 4), res["tau2"]  # Q = 2 = k - 1: no heterogeneity
    (0.2, 0.0)
    """
    y, v = np.asarray(estimates, float), np.asarray(ses, float) ** 2
    k = y.size
    w = 1 / v
    fixed = np.sum(w * y) / np.sum(w)
    q = float(np.sum(w * (y - fixed) ** 2))
    c = np.sum(w) - np.sum(w ** 2) / np.sum(w)
    tau2 = max(0.0, (q - (k - 1)) / c) if k > 1 else 0.0
    i2 = max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0
    w_re = 1 / (v + tau2)
    pooled = float(np.sum(w_re * y) / np.sum(w_re))
    se = float(np.sqrt(1 / np.sum(w_re)))
    z = norm_ppf(1 - (1 - conf_level) / 2)
    if k >= 3:
        half = t_ppf(1 - (1 - conf_level) / 2, k - 2) * np.sqrt(tau2 + se ** 2)
        pi = (pooled - half, pooled + half)
    else:
        pi = (np.nan, np.nan)
    return {"estimate": pooled, "se": se, "lower": pooled - z * se, "upper": pooled + z * se,
            "method": "DerSimonian-Laird random effects (tau² truncated at 0); prediction "
                      "interval on t with k - 2 df",
            "k": k, "tau2": tau2, "i2": i2, "q": q, "pi_lower": float(pi[0]),
            "pi_upper": float(pi[1])}


def centre_performance(time, event, lp, predicted_survival, centre, horizon: float,
                       n_boot: int = 0, seed: int = 1, threads: int = 1) -> pd.DataFrame:
    """Every performance measure in each centre, and pooled where it has a standard error.

    Per centre: Harrell's and Uno's C (pairs with the earlier event by
    ``horizon``), Royston's D, calibration slope, O/E, time-dependent AUC,
    Brier score and IPA at ``horizon`` (:func:`centre_measures`). Pooled by
    :func:`random_effects` on the scales recommended by Debray et al. (BMJ 2017):
    C on the logit scale, O/E on the log scale, slope and D as they are; the
    pooled rows are transformed back (:func:`pool_centre_measures`). AUC, Brier
    and IPA have no analytic standard error here, so they are reported per centre
    and not pooled; with ``n_boot`` > 0 each centre's gets a percentile bootstrap
    interval over that centre's patients (predictions fixed; seeded by ``seed``).
    """
    frame = centre_measures(time, event, lp, predicted_survival, centre, horizon)
    if n_boot:
        frame = bootstrap_centre_intervals(frame, time, event, predicted_survival, centre,
                                           horizon, n_boot, seed, threads)
    return pd.concat([frame.drop(columns=["scale_estimate", "scale_se"]),
                      pool_centre_measures(frame)], ignore_index=True)


def centre_measures(time, event, lp, predicted_survival, centre, horizon: float) -> pd.DataFrame:
    """The per-centre rows of :func:`centre_performance`, with each measure's pooling scale.

    ``scale_estimate`` and ``scale_se`` are the estimate and SE on the scale it is
    pooled on (logit C, log O/E, slope and D as they are); NaN where not pooled.
    ``note`` says why a value is empty or has no pooling scale (a centre without
    events, a horizon past its last follow-up, O/E = 0, C = 1).
    Each centre's rows depend on that centre's patients only, so a centre can
    compute them where its data are (:mod:`netpet_stats.federated`).
    """
    time, event = np.asarray(time, float), np.asarray(event, float)
    lp, s = np.asarray(lp, float), np.asarray(predicted_survival, float)
    centre = np.asarray(centre, dtype=object)
    rows = []
    for c in sorted(pd.unique(centre), key=str):
        m = centre == c
        t, e = time[m], event[m]
        no_event = "" if (e == 1).any() else "not estimable: no event in this centre"
        out = []
        for name, timewt in (("Harrell's C", "n"), ("Uno's C", "n/G2")):
            conc = BY_TIMEWT[timewt](t, e, lp[m], ymax=horizon)
            c_ = conc["estimate"]
            inside = np.isfinite(c_) and 0 < c_ < 1
            note = (no_event or ("" if inside else
                                 "not estimable: no comparable pair" if not np.isfinite(c_)
                                 else f"C = {c_:g}: no logit, so left out of the pooling"))
            out.append({"measure": name, "estimate": c_, "lower": conc["lower"],
                        "upper": conc["upper"],
                        "scale_estimate": np.log(c_ / (1 - c_)) if inside else np.nan,
                        "scale_se": conc["se"] / (c_ * (1 - c_)) if inside else np.nan,
                        "note": note})
        for name, res in (("Royston's D", royston_d(t, e, lp[m])),
                          ("calibration slope", calibration_slope(t, e, lp[m]))):
            note = no_event or ("" if np.isfinite(res["estimate"]) else
                                "not estimable: the Cox regression of the outcome on the "
                                "linear predictor has no finite solution")
            out.append({"measure": name, "estimate": res["estimate"], "lower": res["lower"],
                        "upper": res["upper"], "scale_estimate": res["estimate"],
                        "scale_se": res["se"], "note": note})
        oe = observed_expected(t, e, s[m], horizon)
        positive = np.isfinite(oe["estimate"]) and oe["estimate"] > 0
        out.append({"measure": "O/E", "estimate": oe["estimate"], "lower": oe["lower"],
                    "upper": oe["upper"],
                    "scale_estimate": np.log(oe["estimate"]) if positive else np.nan,
                    "scale_se": oe["se_log"], "note": oe["note"]})
        out.append({"measure": "time-dependent AUC",
                    "estimate": time_dependent_auc(t, e, 1 - s[m], horizon),
                    "note": auc_note(t, e, horizon)})
        bs = brier_score(t, e, s[m], horizon)
        brier_note = not_estimable(t, e, horizon)
        out.append({"measure": "Brier score", "estimate": bs["brier"], "note": brier_note})
        out.append({"measure": "IPA", "estimate": bs["ipa"], "note": bs["note"]})
        n, ev = int(m.sum()), int(e.sum())
        rows += [{"centre": c, **r, "note": r["note"].replace("these patients", "this centre"),
                  "n": n, "events": ev} for r in out]
    return pd.DataFrame(rows)


def bootstrap_centre_intervals(frame: pd.DataFrame, time, event, predicted_survival, centre,
                               horizon: float, n_boot: int, seed: int,
                               threads: int = 1) -> pd.DataFrame:
    """Percentile bootstrap intervals of each centre's AUC, Brier score and IPA.

    The centre's patients are resampled (``n_boot`` times from ``seed``, the same
    draws for the three measures) with the predictions held fixed, as the
    interval of the AUC of the whole validation cohort. Where a measure is not
    estimable (its ``note``) it keeps no interval.
    """
    time, event = np.asarray(time, float), np.asarray(event, float)
    s, centre = np.asarray(predicted_survival, float), np.asarray(centre, dtype=object)
    frame = frame.copy()

    def auc(t, e, p):
        return (time_dependent_auc(t, e, 1 - p, horizon),)

    def brier(t, e, p):          # the Brier score and IPA from one computation
        b = brier_score(t, e, p, horizon)
        return b["brier"], b["ipa"]

    for c in pd.unique(frame["centre"]):
        m = centre == c
        # the centre's rows in time order, each resample given in that order
        # (bootstrap_ci's order): the measures' sorts meet ordered data
        by_time = np.argsort(time[m], kind="stable")
        t, e, p = time[m][by_time], event[m][by_time], s[m][by_time]
        rows = {}
        for measure in ("time-dependent AUC", "Brier score", "IPA"):
            row = (frame["centre"] == c) & (frame["measure"] == measure)
            if row.any() and not str(frame.loc[row, "note"].iloc[0]).startswith(
                    ("not estimable", "IPA not estimable")) \
                    and np.isfinite(frame.loc[row, "estimate"].iloc[0]):
                rows[measure] = row
        for stat, measures in ((auc, ["time-dependent AUC"]), (brier, ["Brier score", "IPA"])):
            if not any(measure in rows for measure in measures):
                continue
            intervals = bootstrap_cis(lambda i: stat(t[i], e[i], p[i]), len(t), n_boot, seed,
                                      threads=threads, order=by_time)
            for measure, (lo, hi) in zip(measures, intervals):
                if measure in rows:
                    frame.loc[rows[measure], ["lower", "upper"]] = [lo, hi]
    return frame


def pool_centre_measures(frame: pd.DataFrame) -> pd.DataFrame:
    """Random-effects pooled rows of :func:`centre_measures` (back on the measure's scale)."""
    back = {"Harrell's C": lambda x: 1 / (1 + np.exp(-x)), "Uno's C": lambda x: 1 / (1 + np.exp(-x)),
            "Royston's D": lambda x: x, "calibration slope": lambda x: x, "O/E": np.exp}
    pooled = []
    for measure, sub in frame.groupby("measure", sort=False):
        if measure not in back:
            continue
        # a centre where the measure is not estimable (no events) does not enter the pool
        usable = (np.isfinite(sub["scale_estimate"]) & np.isfinite(sub["scale_se"])
                  & (sub["scale_se"] > 0))
        notes = sub["note"] if "note" in sub else pd.Series("", index=sub.index)
        left = "; ".join(
            f"{c}: " + (n if isinstance(n, str) and n else "no SE on the pooling scale")
            for c, n in zip(sub.loc[~usable, "centre"], notes[~usable]))
        note = f"Left out of the pooling: {left}." if left else ""
        sub = sub[usable]
        if sub.empty:
            pooled.append({"centre": "pooled (random effects)", "measure": measure,
                           "estimate": np.nan, "k": 0, "n": 0, "events": 0,
                           "note": f"not pooled: no centre has it on the pooling scale. {note}"})
            continue
        re = random_effects(sub["scale_estimate"], sub["scale_se"])
        f = back[measure]
        pooled.append({"centre": "pooled (random effects)", "measure": measure,
                       "estimate": f(re["estimate"]), "lower": f(re["lower"]), "upper": f(re["upper"]),
                       "pi_lower": f(re["pi_lower"]) if np.isfinite(re["pi_lower"]) else np.nan,
                       "pi_upper": f(re["pi_upper"]) if np.isfinite(re["pi_upper"]) else np.nan,
                       "tau2": re["tau2"], "i2": re["i2"], "k": re["k"],
                       "n": int(sub["n"].sum()), "events": int(sub["events"].sum()),
                       "note": note})
    return pd.DataFrame(pooled)


def added_value(time, event, lp_extended, lp_base, horizon: float) -> dict:
    """ΔC of an extended over a base model on the same patients (R ``concordance(f1, f2)``).

    Harrell's C of each, counting pairs whose earlier event is at or before
    ``horizon``; the result is that of :func:`netpet_stats.compare_c`
    (``estimate`` = C extended - C base).
    """
    first = harrell_c(time, event, lp_extended, ymax=horizon)
    second = harrell_c(time, event, lp_base, ymax=horizon)
    return compare_c(first, second)


def validate(model: dict, data: pd.DataFrame, horizons, time: str = "time",
             event: str = "event", conf_level: float = 0.95) -> pd.DataFrame:
    """External validation of a frozen model in new data, in memory (no files written).

    Parameters
    ----------
    model
        A frozen model (:func:`netpet_stats.validation.frozen_model.load`, or
        ``freeze``), unstratified.
    data
        One row per patient with the model's covariates and the outcome columns;
        a patient missing any of them is left out (R ``na.omit``), as counted in
        ``n`` of the result.
    horizons
        Times at which calibration, O/E and the Brier score are assessed; each must
        be stored in the model. Harrell's and Uno's C are truncated at the last one.
    time, event
        Outcome column names (event: 1 = event, 0 = censored).

    Returns
    -------
    pandas.DataFrame
        Tidy rows ``measure, horizon, estimate, se, lower, upper, p, method, n,
        events``: Harrell's and Uno's C (R ``concordance(..., ymax=)``), Royston's D
        and R²_D (``royston``), the calibration slope (``coxph(Surv ~ lp)``; ``p``
        tests slope = 1), O/E at each
        horizon (1 - KM over the mean predicted risk), and the IPCW Brier score and
        IPA (``riskRegression::Score``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from netpet_stats.validation.external import validate
    >>> model = {"name": "x", "strata": None, "coefficients": {"x": 1.0},
    ...          "covariates": {"x": {"type": "continuous"}},
    ...          "baseline_survival": {"horizons": [2.0], "survival": {"all": [0.8]}}}
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=200)
    >>> t = rng.exponential(1 / (0.1 * np.exp(x)))
    >>> d = pd.DataFrame({"x": x, "time": np.minimum(t, 5), "event": (t < 5).astype(int)})
    >>> res = validate(model, d, [2.0])
    >>> res["measure"].tolist()[:3]
    ["Harrell's C", "Uno's C", "Royston's D"]
    """
    from . import frozen_model

    horizons = [float(h) for h in horizons]
    need = [*model["covariates"], time, event]
    d = data.dropna(subset=need).reset_index(drop=True)
    t, e = d[time].to_numpy(float), d[event].to_numpy(float)
    lp_series = frozen_model.linear_predictor(model, d)      # once for every horizon
    lp = lp_series.to_numpy()
    tau = max(horizons)
    rows = []
    for measure, timewt in (("Harrell's C", "n"), ("Uno's C", "n/G2")):
        c = BY_TIMEWT[timewt](t, e, lp, ymax=tau, conf_level=conf_level)
        rows.append({"measure": measure, "horizon": tau, "estimate": c["estimate"],
                     "se": c["se"], "lower": c["lower"], "upper": c["upper"], "p": np.nan,
                     "method": f"R concordance(timewt = '{timewt}', ymax = {tau:g})"})
    roy = royston_d(t, e, lp, conf_level=conf_level)
    rows.append({"measure": "Royston's D", "horizon": np.nan, **_core(roy), "p": np.nan})
    rows.append({"measure": "R2_D", "horizon": np.nan, "estimate": roy["r2"], "se": np.nan,
                 "lower": np.nan, "upper": np.nan, "p": np.nan, "method": roy["method"]})
    slope = calibration_slope(t, e, lp, conf_level)
    rows.append({"measure": "calibration slope", "horizon": np.nan, **_core(slope),
                 "p": slope["p"]})
    for h in horizons:
        pred = frozen_model.predict_survival(model, d, h, lp=lp_series).to_numpy()
        oe = observed_expected(t, e, pred, h, conf_level)
        rows.append({"measure": "O/E", "horizon": h, **_core({**oe, "se": np.nan}),
                     "p": np.nan})
        bs = brier_score(t, e, pred, h)
        for measure, key in (("Brier score", "brier"), ("IPA", "ipa")):
            rows.append({"measure": measure, "horizon": h, "estimate": bs[key], "se": np.nan,
                         "lower": np.nan, "upper": np.nan, "p": np.nan,
                         "method": "IPCW (Graf 1999), riskRegression::Score"})
    columns = ["measure", "horizon", "estimate", "se", "lower", "upper", "p", "method"]
    return pd.DataFrame(rows, columns=columns).assign(n=len(t), events=int(e.sum()))


def _core(result: dict) -> dict:
    """The shared keys of an estimator's result: estimate, se, lower, upper, method."""
    return {k: result[k] for k in ("estimate", "se", "lower", "upper", "method")}
