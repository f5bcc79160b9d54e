"""Rubin's rules: estimates from multiply imputed data sets combined into one.

Each of ``m`` completed data sets gives an estimate and its variance. The pooled
estimate is their mean; its variance adds the mean within-imputation variance
``ubar`` and the between-imputation variance ``b`` inflated by ``1 + 1/m`` (Rubin
1987). Inference uses a t reference distribution on the Barnard & Rubin (1999)
degrees of freedom, which never exceed the complete-data degrees of freedom
``dfcom``. Terms of several coefficients are tested jointly by the D1 Wald test (Li,
Raghunathan & Rubin 1991) with Reiter's (2007) small-sample denominator degrees of
freedom. Everything here follows R's ``mice::pool`` (mice 3.15) and ``mice::D1``
(which calls ``mitml::testModels(method = "D1")``) formula for formula, so that the
numbers agree with R's to rounding.

Measures with a bounded range are pooled on a scale where they are closer to normal
and transformed back (Marshall et al. 2009; Debray et al. 2017): the concordance on
the logit scale, O/E on the log scale; the calibration slope as it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RUBIN_METHOD = ("Rubin's rules (Rubin 1987): pooled estimate = mean over imputations, "
                "total variance = within + (1 + 1/m) x between; t reference with Barnard-Rubin "
                "(1999) degrees of freedom, complete-data df = events - coefficients (R "
                "mice::pool)")
D1_METHOD = ("D1 multivariate Wald test (Li, Raghunathan & Rubin 1991) with Reiter's (2007) "
             "denominator df (R mice::D1 / mitml::testModels)")


def barnard_rubin_df(m: int, b, t, dfcom=np.inf):
    """Degrees of freedom of a pooled estimate (Barnard & Rubin 1999).

    As R ``mice:::barnard.rubin``: ``lambda = (1 + 1/m) b / t`` (floored at 1e-4),
    the old df ``(m - 1) / lambda^2`` and the observed-data df ``(dfcom + 1) / (dfcom
    + 3) dfcom (1 - lambda)`` combined as ``1 / (1/old + 1/obs)``; ``dfcom = inf``
    gives the old df (Rubin 1987).
    """
    b, t = np.asarray(b, float), np.asarray(t, float)
    lam = np.maximum((1 + 1 / m) * b / t, 1e-4)
    dfold = (m - 1) / lam ** 2
    if np.isinf(dfcom):
        return dfold
    dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    return dfold * dfobs / (dfold + dfobs)


class _t:
    """Student t on ``df`` degrees of freedom: ``sf`` and ``ppf`` (R ``pt``, ``qt``).

    scipy.special's ``stdtr`` and ``stdtrit``, the functions ``scipy.stats.t`` itself
    calls (the same doubles), without importing scipy.stats (0.5 s a process).
    """

    def __init__(self, df):
        self.df = np.asarray(df, float)

    def sf(self, x):
        from scipy import special

        return special.stdtr(self.df, -np.asarray(x, float))

    def ppf(self, q):
        from scipy import special

        return special.stdtrit(self.df, q)


def pool(estimates, variances, dfcom=np.inf, conf_level: float = 0.95,
         names=None) -> pd.DataFrame:
    """Pool ``m`` estimates of each of ``k`` parameters by Rubin's rules.

    The same numbers as R ``summary(mice::pool(fits, dfcom = dfcom), conf.int =
    TRUE)`` and the columns of ``pool(...)$pooled``.

    Parameters
    ----------
    estimates
        ``(m, k)`` array: each imputation's estimates (a 1-d array: one parameter).
    variances
        ``(m, k)`` variances or ``(m, k, k)`` covariance matrices (their diagonals).
    dfcom
        Complete-data degrees of freedom (R ``mice`` takes, for a Cox model, the
        number of events minus the number of coefficients); ``inf``: large sample.
    conf_level
        Coverage of the t interval ``estimate +/- t_{df} * se``.
    names
        Optional parameter names (the ``term`` column).

    Returns
    -------
    pandas.DataFrame
        One row per parameter: ``term``, ``m``, ``estimate`` (qbar), ``ubar``, ``b``,
        ``t`` (total variance), ``se`` (sqrt t), ``dfcom``, ``df``, ``riv`` (relative
        increase in variance), ``lambda`` (proportion of variance due to missingness),
        ``fmi`` (fraction of missing information, ``(riv + 2/(df + 3)) / (riv + 1)``),
        ``statistic`` (estimate / se), ``p`` (two-sided, t on ``df``), ``lower``,
        ``upper``.

    Examples
    --------
    >>> from netpet_stats.survival.rubin import pool
    >>> res = pool([[0.50], [0.62], [0.55]], [[0.04], [0.05], [0.045]], dfcom=40)
    >>> row = res.iloc[0]
    >>> [round(float(row[c]), 6) for c in ("estimate", "se", "df")]
    [0.556667, 0.223259, 29.616268]
    >>> [round(float(row[c]), 6) for c in ("fmi", "p")]
    [0.152551, 0.018476]

    As R (mice 3.15): ``b <- var(q); t <- mean(u) + (1 + 1/3) * b``, ``df <-
    mice:::barnard.rubin(3, b, t, 40)`` = 29.6163, ``2 * pt(-abs(mean(q) / sqrt(t)), df)``
    = 0.018476.
    """
    q = np.asarray(estimates, float)
    if q.ndim == 1:
        q = q[:, None]
    u = np.asarray(variances, float)
    if u.ndim == 1:
        u = u[:, None]
    if u.ndim == 3:
        u = np.diagonal(u, axis1=1, axis2=2)
    m, k = q.shape
    if m < 2:
        raise ValueError(f"Rubin's rules need at least 2 imputations, got {m}")
    if u.shape != (m, k):
        raise ValueError(f"variances of shape {u.shape} do not match estimates {q.shape}")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    df = barnard_rubin_df(m, b, t, dfcom)
    riv = (1 + 1 / m) * b / ubar
    lam = (1 + 1 / m) * b / t
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    se = np.sqrt(t)
    dist = _t(df)
    stat = qbar / se
    p = 2 * dist.sf(np.abs(stat))
    half = dist.ppf(1 - (1 - conf_level) / 2) * se
    return pd.DataFrame({
        "term": list(names) if names is not None else [f"x{j + 1}" for j in range(k)],
        "m": m, "estimate": qbar, "ubar": ubar, "b": b, "t": t, "se": se,
        "dfcom": float(dfcom), "df": df, "riv": riv, "lambda": lam, "fmi": fmi,
        "statistic": stat, "p": p, "lower": qbar - half, "upper": qbar + half})


def d1_test(estimates, covariances, dfcom=None) -> dict:
    """Joint Wald test that ``k`` pooled coefficients are all 0 (the D1 statistic).

    As R ``mice::D1(fit1, fit0)`` where ``fit0`` drops the ``k`` coefficients
    (``mitml:::.D1``): ``r = (1 + 1/m) tr(B Ubar^-1) / k``, ``F = Qbar' ((1 + r)
    Ubar)^-1 Qbar / k`` on ``k`` and ``v`` degrees of freedom, ``v`` by Reiter (2007)
    when ``dfcom`` is given (as ``mice::D1`` always gives it), else by Li, Raghunathan
    & Rubin (1991).

    Parameters
    ----------
    estimates
        ``(m, k)`` estimates of the coefficients tested.
    covariances
        ``(m, k, k)`` their covariance matrices in each imputation.
    dfcom
        Complete-data degrees of freedom of the full model, or None.

    Returns
    -------
    dict
        ``statistic`` (F), ``df1`` (k), ``df2`` (v), ``p``, ``riv`` (r), ``m``,
        ``method``.
    """
    q = np.asarray(estimates, float)
    if q.ndim == 1:
        q = q[:, None]
    u = np.asarray(covariances, float)
    if u.ndim == 2:
        u = u[:, :, None] if q.shape[1] == 1 and u.shape[1] == 1 else u
    u = u.reshape(q.shape[0], q.shape[1], q.shape[1])
    m, k = q.shape
    if m < 2:
        raise ValueError(f"the D1 test needs at least 2 imputations, got {m}")
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    bmat = np.atleast_2d(np.cov(q.T, ddof=1))
    r = (1 + 1 / m) * float(np.trace(bmat @ np.linalg.inv(ubar))) / k
    stat = float(qbar @ np.linalg.solve((1 + r) * ubar, qbar)) / k
    t = np.float64(k * (m - 1))
    if dfcom is not None:
        # IEEE arithmetic as R's: with k (m - 1) = 4 (one coefficient, m = 5) c0 is
        # infinite and v = 4, mitml's value; only small m reach that edge.
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.float64(r) * t / (t - 2)
            vstar = (dfcom + 1) / (dfcom + 3) * np.float64(dfcom)
            c0 = np.float64(1) / (t - 4)
            c1 = vstar - 2 * (1 + a)
            c2 = vstar - 4 * (1 + a)
            z = (1 / c2 + c0 * (a ** 2 * c1 / ((1 + a) ** 2 * c2))
                 + c0 * (8 * a ** 2 * c1 / ((1 + a) * c2 ** 2) + 4 * a ** 2 / ((1 + a) * c2))
                 + c0 * (4 * a ** 2 / (c2 * c1) + 16 * a ** 2 * c1 / c2 ** 3)
                 + c0 * (8 * a ** 2 / c2 ** 2))
            v = 4 + np.float64(1) / z
    elif t > 4:
        v = 4 + (t - 4) * (1 + (1 - 2 / t) / r) ** 2
    else:
        v = t * (1 + 1 / k) * (1 + 1 / r) ** 2 / 2
    from scipy import special  # scipy.stats.f.sf's own function, without scipy.stats

    return {"statistic": stat, "df1": k, "df2": float(v), "p": float(special.fdtrc(k, v, stat)),
            "riv": r, "m": m, "method": D1_METHOD}


#: the scale each validation measure is pooled on, and the transformation back
SCALES = {"logit": (lambda x: np.log(x / (1 - x)), lambda y: 1 / (1 + np.exp(-y)),
                    lambda x: x * (1 - x)),
          "log": (np.log, np.exp, lambda x: x),
          "identity": (lambda x: x, lambda y: y, lambda x: np.ones_like(x))}


def pool_transformed(estimates, ses, scale: str = "identity", conf_level: float = 0.95,
                     se_on_scale: bool = False) -> dict:
    """Pool a performance measure across imputations on a transformed scale.

    Each imputation's estimate is transformed (``logit`` for a concordance index,
    ``log`` for O/E, ``identity`` for a calibration slope), its SE carried by the delta
    method (``se / (c (1 - c))`` on the logit scale, ``se / x`` on the log scale)
    unless ``se_on_scale`` (the SEs are already on the transformed scale, as
    :func:`netpet_stats.validation.external.observed_expected`'s ``se_log``); Rubin's
    rules with ``dfcom = inf`` (large sample, as for measures with no model df); the
    pooled estimate and its t interval transformed back (Marshall et al. 2009; Debray
    et al. 2017 for C and O/E).

    Returns
    -------
    dict
        ``estimate``, ``lower``, ``upper`` on the measure's own scale; ``estimate_scale``,
        ``se_scale``, ``df``, ``fmi`` on the pooling scale; ``m``; ``scale``.

    Examples
    --------
    >>> from netpet_stats.survival.rubin import pool_transformed
    >>> res = pool_transformed([0.70, 0.72, 0.69], [0.03, 0.03, 0.031], "logit")
    >>> round(res["estimate"], 6), round(res["lower"], 6), round(res["upper"], 6)
    (0.703487, 0.62719, 0.769899)

    As R: ``y <- qlogis(c); s <- se / (c * (1 - c))``, Rubin's rules with ``dfcom = Inf``,
    ``plogis(mean(y) + c(0, -1, 1) * qt(0.975, df) * sqrt(t))``.
    """
    if scale not in SCALES:
        raise ValueError(f"scale {scale!r}: expected one of {sorted(SCALES)}")
    to, back, slope = SCALES[scale]
    x = np.asarray(estimates, float)
    s = np.asarray(ses, float)
    y = to(x)
    s_y = s if se_on_scale else s / slope(x)
    res = pool(y, s_y ** 2, np.inf, conf_level).iloc[0]
    return {"estimate": float(back(res["estimate"])), "lower": float(back(res["lower"])),
            "upper": float(back(res["upper"])), "estimate_scale": float(res["estimate"]),
            "se_scale": float(res["se"]), "df": float(res["df"]), "fmi": float(res["fmi"]),
            "m": int(res["m"]), "scale": scale}


def pool_cox(fits, conf_level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A Cox model fitted on each of ``m`` imputed data sets, pooled by Rubin's rules.

    As R ``summary(mice::pool(with(imp, coxph(...))), conf.int = TRUE)`` for the
    coefficients, with the complete-data degrees of freedom mice takes for a Cox
    model (``nevent - length(coef)``), and ``mice::D1(fit, fit_without_term)`` for each
    term (one test per term, joint over a factor's contrasts).

    Parameters
    ----------
    fits
        :class:`netpet_stats.survival.cox.CoxResult` of the same model on each
        imputation (the same design columns; the same patients and events).
    conf_level
        Coverage of the t intervals.

    Returns
    -------
    coefficients, tests : pandas.DataFrame
        Per coefficient: ``term``, ``level``, ``label``, the columns of :func:`pool`
        (``estimate`` is the pooled log hazard ratio) and ``hr``, ``hr_lower``,
        ``hr_upper``; per term: the D1 ``statistic`` (F), ``df1``, ``df2``, ``p``, ``riv``.
    """
    fits = list(fits)
    names = list(fits[0].design.columns)
    for i, fit in enumerate(fits[1:], start=2):
        if list(fit.design.columns) != names:
            raise ValueError(
                f"imputation {i} codes the model with columns {list(fit.design.columns)}, "
                f"imputation 1 with {names}: a category present in one imputed data set "
                "only cannot be pooled; declare the covariate's levels")
        if fit.events != fits[0].events or fit.n != fits[0].n:
            raise ValueError(f"imputation {i} has {fit.n} patients and {fit.events} events, "
                             f"imputation 1 {fits[0].n} and {fits[0].events}")
    q = np.array([fit.beta for fit in fits])
    u = np.array([fit.variance for fit in fits])
    dfcom = max(fits[0].events - len(names), 1)
    pooled = pool(q, u, dfcom, conf_level, names)
    level, term_of, label = [], [], []
    for col in names:
        term = next(t for t in fits[0].terms if col in t.columns)
        term_of.append(term.name)
        label.append(term.label)
        level.append(term.levels[term.columns.index(col)])
    pooled.insert(0, "column", pooled.pop("term"))
    pooled.insert(0, "level", level)
    pooled.insert(0, "label", label)
    pooled.insert(0, "term", term_of)
    pooled["hr"] = np.exp(pooled["estimate"])
    pooled["hr_lower"] = np.exp(pooled["lower"])
    pooled["hr_upper"] = np.exp(pooled["upper"])
    pooled["n"] = fits[0].n
    pooled["events"] = fits[0].events
    tests = []
    for term in fits[0].terms:
        idx = [names.index(c) for c in term.columns]
        res = d1_test(q[:, idx], u[:, idx][:, :, idx], dfcom)
        tests.append({"term": term.name, "label": term.label, "test": "D1 Wald",
                      **{k: res[k] for k in ("statistic", "df1", "df2", "p", "riv", "m")},
                      "dfcom": dfcom, "method": res["method"]})
    return pooled, pd.DataFrame(tests)
