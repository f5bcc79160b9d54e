"""Cox proportional-hazards models as R ``survival::coxph(ties = "efron")``.

Coefficients come from lifelines' ``CoxPHFitter`` (Efron's approximation for
ties, optional strata), finished by Newton-Raphson steps on the exact Efron
derivatives (:func:`newton_polish`) so that they agree with R to ~1e-10;
model-based standard errors are the inverse information at that maximum.
lifelines reports neither the score (log-rank) test of the model nor per-term
tests for multi-level factors, so :func:`efron_derivatives` computes the Efron
partial log-likelihood, score and information here; the same function gives the
score test and the Newton steps.

Proportional hazards are checked with lifelines' ``proportional_hazard_test``
(Grambsch & Therneau 1994 approximate score test on scaled Schoenfeld
residuals, the form of R ``cox.zph`` before survival 3.0); it is named as such
in every output because survival >= 3.0 computes an exact score test instead.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.statistics import proportional_hazard_test
from scipy import stats

FIT_OPTIONS = {"precision": 1e-12, "max_steps": 500, "step_size": 0.95}
COEF_METHOD = ("Cox PH, Efron ties (R coxph ties='efron'); model-based SE from the inverse "
               "information; Wald CI and p")


# --------------------------------------------------------------------------------------
# Design matrix
# --------------------------------------------------------------------------------------


@dataclass
class Term:
    """One model term and the design columns that code it."""

    name: str
    label: str
    columns: list[str]
    levels: list[str]  # level of each column (categorical) or "" for numeric
    reference: str


def design_matrix(data: pd.DataFrame, covariates: list[str], cov_config: dict
                  ) -> tuple[pd.DataFrame, list[Term]]:
    """Code covariates as R's default treatment contrasts.

    Categorical covariates get one indicator per non-reference level (the
    reference is the first of ``levels`` in the configuration, or the first
    category of an ordered categorical such as the NETPET group, or the first
    sorted value). Continuous covariates may be log2-transformed (with a floor)
    and divided by ``scale`` so that the HR is per ``scale`` units.
    """
    columns = {}
    terms = []
    for cov in covariates:
        spec = cov_config.get(cov, {"type": "continuous"})
        label = spec.get("label", cov)
        kind = spec.get("type", "continuous")
        values = data[cov]
        if kind == "categorical":
            if spec.get("levels"):
                levels = [lv for lv in spec["levels"]]
            elif isinstance(values.dtype, pd.CategoricalDtype):
                levels = [str(c) for c in values.cat.categories]
            else:
                levels = sorted(map(str, pd.unique(values.dropna())))
            present = set(map(str, values.dropna()))
            levels = [lv for lv in levels if lv in present]
            ref, rest = levels[0], levels[1:]
            names = []
            for lv in rest:
                col = f"{cov}[{lv}]"
                columns[col] = (values.astype(str) == lv).astype(float).to_numpy()
                names.append(col)
            terms.append(Term(cov, label, names, rest, ref))
        else:
            x = values.astype(float).to_numpy()
            if spec.get("transform") == "log2":
                x = np.log2(np.maximum(x, spec.get("floor", 1.0)))
            x = x / float(spec.get("scale", 1.0))
            columns[cov] = x
            terms.append(Term(cov, label, [cov], [""], ""))
    return pd.DataFrame(columns, index=data.index), terms


# --------------------------------------------------------------------------------------
# Efron partial likelihood derivatives
# --------------------------------------------------------------------------------------


def efron_derivatives(time, event, X, beta, strata=None):
    """Efron log partial likelihood, score vector and information matrix.

    Parameters
    ----------
    time, event
        Follow-up and event indicator.
    X
        (n, p) design matrix.
    beta
        (p,) coefficients at which to evaluate.
    strata
        Optional stratum labels (separate baseline hazard per stratum).

    Returns
    -------
    loglik : float
    score : ndarray (p,)
    information : ndarray (p, p)
    """
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    X = np.asarray(X, float).reshape(time.size, -1)
    beta = np.asarray(beta, float)
    p = X.shape[1]
    strata = np.zeros(time.size, int) if strata is None else np.asarray(strata, object)
    loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    for s in pd.unique(strata):
        m = strata == s
        t, e, x = time[m], event[m], X[m]
        order = np.argsort(-t, kind="mergesort")  # descending time
        t, e, x = t[order], e[order], x[order]
        lp = x @ beta
        w = np.exp(lp - lp.max())
        shift = lp.max()
        # Risk-set sums at each position (all with time >= t): cumulative from the top.
        s0 = np.cumsum(w)
        s1 = np.cumsum(w[:, None] * x, axis=0)
        s2 = np.cumsum(w[:, None, None] * x[:, :, None] * x[:, None, :], axis=0)
        etimes = -np.unique(-t[e == 1])  # distinct event times, descending
        # last index (in descending order) with time >= etime: include all ties
        last = np.searchsorted(-t, -etimes, side="right") - 1
        idx = np.searchsorted(etimes[::-1], t[e == 1])  # position in ascending etimes
        k = etimes.size
        pos = k - 1 - idx  # position in descending etimes
        d = np.bincount(pos, minlength=k).astype(float)
        d0 = np.bincount(pos, weights=w[e == 1], minlength=k)
        d1 = np.zeros((k, p))
        np.add.at(d1, pos, w[e == 1][:, None] * x[e == 1])
        d2 = np.zeros((k, p, p))
        np.add.at(d2, pos, w[e == 1][:, None, None] * x[e == 1][:, :, None] * x[e == 1][:, None, :])
        xsum = np.zeros((k, p))
        np.add.at(xsum, pos, x[e == 1])
        lpsum = np.bincount(pos, weights=lp[e == 1], minlength=k)
        S0, S1, S2 = s0[last], s1[last], s2[last]
        loglik += lpsum.sum()
        score += xsum.sum(axis=0)
        for ell in range(int(d.max()) if k else 0):
            act = d > ell
            frac = np.where(act, ell / np.where(act, d, 1), 0.0)
            den = S0 - frac * d0
            mean = (S1 - frac[:, None] * d1) / den[:, None]
            loglik -= np.sum(act * (np.log(den) + shift))
            score -= np.sum(act[:, None] * mean, axis=0)
            second = (S2 - frac[:, None, None] * d2) / den[:, None, None]
            info += np.sum(act[:, None, None] * (second - mean[:, :, None] * mean[:, None, :]),
                           axis=0)
    return float(loglik), score, info


# --------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------


@dataclass
class CoxResult:
    """A fitted Cox model with its tidy tables."""

    coefficients: pd.DataFrame
    tests: pd.DataFrame
    terms: list[Term]
    beta: np.ndarray
    design: pd.DataFrame
    n: int
    events: int
    fitter: CoxPHFitter
    frame: pd.DataFrame  # design, time, event (and stratum) as fitted
    stratum: np.ndarray | None


def newton_polish(time, event, X, beta, strata=None, tol: float = 1e-10, max_iter: int = 25):
    """Finish a Cox fit with Newton-Raphson steps on the exact Efron derivatives.

    lifelines' ``CoxPHFitter`` stops on its own step-size rule, which can leave
    the score at ~1e-5 and the coefficients ~1e-7 from the maximum, visible in
    p-values at the 1e-8 level. Starting from its estimate, full Newton steps
    ``beta += I^-1 U`` converge quadratically to the maximum (R ``coxph`` stops
    when the relative change in log-likelihood is below ``eps``; we stop when
    the largest step is below ``tol``).

    Returns
    -------
    beta, loglik, information
    """
    beta = np.asarray(beta, float).copy()
    for _ in range(max_iter):
        ll, u, info = efron_derivatives(time, event, X, beta, strata)
        step = np.linalg.solve(info, u)
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    ll, _, info = efron_derivatives(time, event, X, beta, strata)
    return beta, ll, info


def _fit_lifelines(frame: pd.DataFrame, strata: list[str]) -> CoxPHFitter:
    cph = CoxPHFitter(penalizer=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph.fit(frame, duration_col="__time", event_col="__event",
                strata=strata or None, fit_options=FIT_OPTIONS)
    return cph


def fit_cox(data: pd.DataFrame, time_col: str, event_col: str, covariates: list[str],
            strata: list[str], cov_config: dict, conf_level: float = 0.95) -> CoxResult:
    """Fit a Cox model on complete cases and return coefficient and test tables.

    Tests: the model's likelihood-ratio, Wald and score (log-rank) tests against
    the null model, as printed by R ``summary(coxph)``; and for each term its
    likelihood-ratio test (R ``drop1(fit, test = "Chisq")``) and joint Wald test.
    """
    used = data.dropna(subset=[time_col, event_col, *covariates, *strata])
    X, terms = design_matrix(used, covariates, cov_config)
    frame = X.copy()
    frame["__time"] = used[time_col].to_numpy(float)
    frame["__event"] = used[event_col].to_numpy(float)
    stratum = None
    if strata:
        stratum = used[strata].astype(str).agg("|".join, axis=1).to_numpy()
        frame["__stratum"] = stratum
    cph = _fit_lifelines(frame, ["__stratum"] if strata else [])
    t, ev = frame["__time"].to_numpy(), frame["__event"].to_numpy()
    beta, ll, info = newton_polish(t, ev, X.to_numpy(), cph.params_[X.columns].to_numpy(), stratum)
    cov = np.linalg.inv(info)
    se = np.sqrt(np.diag(cov))
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    ll0, u0, i0 = efron_derivatives(t, ev, X.to_numpy(), np.zeros(len(beta)), stratum)
    n, events = len(used), int(ev.sum())

    rows = []
    for term in terms:
        for col, level in zip(term.columns, term.levels):
            j = list(X.columns).index(col)
            zval = beta[j] / se[j]
            rows.append({
                "term": term.name, "term_label": term.label, "level": level,
                "reference": term.reference, "coef": beta[j], "se": se[j],
                "hr": np.exp(beta[j]), "hr_lower": np.exp(beta[j] - z * se[j]),
                "hr_upper": np.exp(beta[j] + z * se[j]), "z": zval,
                "p": 2 * stats.norm.sf(abs(zval)), "n": n, "events": events,
            })
    coefs = pd.DataFrame(rows)

    lrt = 2 * (ll - ll0)
    wald = float(beta @ np.linalg.solve(cov, beta))
    score = float(u0 @ np.linalg.solve(i0, u0))
    df = len(beta)
    tests = [
        {"test": "likelihood ratio", "term": "(model)", "chisq": lrt, "df": df,
         "p": stats.chi2.sf(lrt, df), "method": "2 (logL(beta) - logL(0))"},
        {"test": "Wald", "term": "(model)", "chisq": wald, "df": df,
         "p": stats.chi2.sf(wald, df), "method": "beta' V^-1 beta"},
        {"test": "score (log-rank)", "term": "(model)", "chisq": score, "df": df,
         "p": stats.chi2.sf(score, df), "method": "U(0)' I(0)^-1 U(0), Efron"},
    ]
    if len(terms) > 1:
        for term in terms:
            keep = [c for c in X.columns if c not in term.columns]
            red = frame[keep + ["__time", "__event"] + (["__stratum"] if strata else [])]
            start = _fit_lifelines(red, ["__stratum"] if strata else []).params_[keep].to_numpy()
            ll_red = newton_polish(t, ev, red[keep].to_numpy(), start, stratum)[1]
            chi = 2 * (ll - ll_red)
            tests.append({"test": "likelihood ratio", "term": term.name, "chisq": chi,
                          "df": len(term.columns), "p": stats.chi2.sf(chi, len(term.columns)),
                          "method": "drop1(fit, test = 'Chisq')"})
    for term in terms:
        if len(term.columns) > 1:
            idx = [list(X.columns).index(c) for c in term.columns]
            b = beta[idx]
            chi = float(b @ np.linalg.solve(cov[np.ix_(idx, idx)], b))
            tests.append({"test": "Wald", "term": term.name, "chisq": chi, "df": len(idx),
                          "p": stats.chi2.sf(chi, len(idx)),
                          "method": "joint Wald test of the term's coefficients"})
    tests_df = pd.DataFrame(tests)
    tests_df["loglik"] = ll
    tests_df["loglik_null"] = ll0
    return CoxResult(coefs, tests_df, terms, beta, X, n, events, cph, frame, stratum)


ZPH_METHOD = ("Grambsch-Therneau approximate score test on scaled Schoenfeld residuals "
              "(lifelines proportional_hazard_test; as R cox.zph before survival 3.0)")


def ph_test(result: CoxResult, transform: str = "km") -> pd.DataFrame:
    """Proportional-hazards test per design column and globally.

    ``transform`` is the time transform (``km``, ``rank`` or ``identity``).
    """
    if transform not in ("km", "rank", "identity"):
        raise ValueError(f"transform must be km, rank or identity, not {transform!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = proportional_hazard_test(result.fitter, result.frame, time_transform=transform)
    summary = res.summary
    out = pd.DataFrame({"column": [str(i) for i in summary.index],
                        "chisq": summary["test_statistic"].to_numpy(),
                        "df": 1, "p": summary["p"].to_numpy()})
    out["transform"] = transform
    out["method"] = ZPH_METHOD
    return out
