"""What one centre computes for a pooled stratified analysis, and how the parts add up.

A model stratified by centre has, for every centre, its own risk sets: no event
time of one centre is compared with a patient of another. Everything the pooled
analysis needs is therefore a sum of per-centre terms, computed where the rows are:

* **Cox, Efron or Breslow ties.** The log partial likelihood, score vector and information
  matrix at any ``beta`` are sums over strata (Therneau & Grambsch 2000, ch. 3).
  Newton-Raphson on the sums gives R ``coxph(... + strata(centre))`` exactly; the
  robust (sandwich) variance with one cluster per patient needs the p x p sum
  ``sum_i U_i U_i'`` of the score residuals at the estimate (R ``robust = TRUE``).
* **Log-rank.** ``survdiff(... + strata(centre))`` sums per-stratum O, E and the
  hypergeometric variance matrix; the trend test uses the same sums.
* **Concordance.** R ``concordance()`` compares pairs within strata. Its estimate is
  a ratio of pair counts, and its infinitesimal-jackknife variance
  ``sum_i dfbeta_i^2`` with ``dfbeta_i = (a_i - D b_i) / (2 N)`` (``a_i`` =
  concordant minus discordant pairs of subject i, ``b_i`` its comparable pairs,
  ``D`` Somers' d, ``N`` the pairs) expands into ``sum a^2``, ``sum a b`` and
  ``sum b^2``: three numbers per centre. Uno's weights (``timewt = "n/G2"``) use the
  censoring Kaplan-Meier within the stratum, so they are local too.

Every part is of fixed size (p, p x p, groups x groups, a few counts), whatever the
number of patients. The functions here are generic (``strata`` are any labels);
the protocol around them is :mod:`netpet_stats.federated.protocol`.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..survival.concordance import METHODS as C_METHODS
from ..survival.concordance import subject_pair_counts
from ..survival.cox import (CoxConvergenceWarning, CoxFitError, EfronData, dot_by_pattern,
                            fit_efron, score_residuals, timefix)
from ..survival.distributions import chi2_sf, norm_ppf
from ..survival.logrank import (LogrankComponents, components_chisq, components_trend,
                                logrank_components)

#: The tie methods the federated fit exchanges: each centre is its own stratum, so
#: its risk sets, and the tie handling within them, are local (R's exact ties are not
#: offered: their sums are refused past a size a large site reaches).
FEDERATED_TIES = ("efron", "breslow")


def cox_method(ties: str = "efron") -> str:
    """How the pooled Cox fit is obtained (named in outputs and the report)."""
    name = {"efron": "Efron", "breslow": "Breslow"}[ties]
    return (f"Cox PH, {name} ties, stratified by centre, fitted by Newton-Raphson on the sums "
            "of the centres' log partial likelihood, score and information (equal to R "
            f"coxph(... + strata(centre), ties = '{ties}') on the pooled rows)")


#: The pooled fit's method with Efron's ties (the default).
COX_METHOD = cox_method("efron")
ROBUST_METHOD = ("robust (sandwich) variance V (sum over centres of sum_i U_i U_i') V, one "
                 "cluster per patient (R coxph(robust = TRUE))")


def cox_evaluation(time, event, X, beta, strata=None, robust: bool = False,
                   concordance: bool = False, ties: str = "efron") -> dict:
    """Log partial likelihood, score and information at ``beta`` (summed over strata).

    Parameters
    ----------
    time, event, X, strata
        One centre's rows: follow-up, event indicator, (n, p) design, stratum labels.
    beta
        (p,) coefficients published by the coordinator.
    robust
        Also ``score_crossproduct``: ``sum_i U_i U_i'`` of the score residuals.
    concordance
        Also the pair sums of Harrell's and Uno's C of the linear predictor
        ``X beta`` (:func:`concordance_sums`).
    ties
        ``"efron"`` or ``"breslow"`` (:data:`FEDERATED_TIES`; R ``coxph(ties = )``).

    Returns
    -------
    dict
        ``loglik``, ``score`` (p,), ``information`` (p, p), ``n``, ``events`` and the
        optional parts.

    Examples
    --------
    >>> import numpy as np
    >>> from netpet_stats.federated.aggregates import cox_evaluation
    >>> t, e = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8], [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> x = np.array([[3.0], [1], [2], [2], [3], [1], [1], [2], [3], [1]])
    >>> round(float(cox_evaluation(t, e, x, [0.193546])["score"][0]), 5)  # zero at R's beta
    0.0
    """
    time = timefix(time)
    event = np.asarray(event, float)
    X = np.asarray(X, float).reshape(time.size, -1)
    beta = np.asarray(beta, float)
    if ties not in FEDERATED_TIES:
        raise ValueError(f"cox_evaluation: ties = {ties!r}; the federated fit takes "
                         f"{' or '.join(FEDERATED_TIES)}")
    c = EfronData(time, event, X, strata, ties=ties).evaluate(beta)
    out = {"loglik": float(c["loglik"]), "score": c["score"], "information": c["info"],
           "n": int(time.size), "events": int(event.sum())}
    if robust:
        resid = score_residuals(time, event, X, beta, strata, ties=ties)
        out["score_crossproduct"] = resid.T @ resid
    if concordance:
        lp = dot_by_pattern(X, beta)  # identical rows, identical risk scores (ties as R)
        out["concordance"] = {timewt: concordance_sums(time, event, lp, strata, timewt)
                              for timewt in ("n", "n/G2")}
    return out


def local_fit(time, event, X, strata=None, ties: str = "efron") -> dict | None:
    """One centre's own Cox fit (a start for the pooled one), or None if not estimable.

    A centre whose fit is singular (a level absent there) or whose coefficient
    may be infinite gives no start; the pooled fit does not depend on the start.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", CoxConvergenceWarning)
        try:
            beta, _, info = fit_efron(timefix(time), event, X, strata, ties=ties)
        except (CoxFitError, CoxConvergenceWarning, np.linalg.LinAlgError):
            return None
    return {"beta": beta, "information": info}


def meta_analytic_start(fits: list[dict | None], p: int) -> np.ndarray:
    """Inverse-variance weighted mean of the centres' own fits (zero if none).

    ``(sum_s I_s)^-1 sum_s I_s beta_s``: the fixed-effect meta-analysis of the
    local estimates, close to the pooled estimate, so that Newton-Raphson from it
    needs few rounds.
    """
    fits = [f for f in fits if f is not None]
    if not fits:
        return np.zeros(p)
    info = sum(np.asarray(f["information"], float) for f in fits)
    rhs = sum(np.asarray(f["information"], float) @ np.asarray(f["beta"], float) for f in fits)
    try:
        return np.linalg.solve(info, rhs)
    except np.linalg.LinAlgError:
        return np.zeros(p)


def concordance_sums(time, event, x, strata=None, timewt: str = "n") -> dict:
    """One centre's share of R ``concordance(reverse = TRUE)``: pair counts and three sums.

    Returns
    -------
    dict
        ``concordant``, ``discordant``, ``tied_x`` (weighted pair counts) and
        ``sum_aa``, ``sum_ab``, ``sum_bb`` with ``a_i`` = concordant minus
        discordant and ``b_i`` = all comparable pairs of subject i (each pair
        counted for both members), from which :func:`pool_concordance` rebuilds
        the infinitesimal-jackknife variance exactly.
    """
    conc, disc, tied = subject_pair_counts(time, event, x, strata, True, None, timewt)
    a, b = conc - disc, conc + disc + tied
    return {"concordant": float(conc.sum() / 2), "discordant": float(disc.sum() / 2),
            "tied_x": float(tied.sum() / 2), "sum_aa": float(a @ a), "sum_ab": float(a @ b),
            "sum_bb": float(b @ b)}


def pool_concordance(parts: list[dict], timewt: str = "n", conf_level: float = 0.95) -> dict:
    """C and its infinitesimal-jackknife SE from the centres' :func:`concordance_sums`.

    Equal to R ``concordance(fit)`` (``timewt = "n"``) or ``timewt = "n/G2"`` of a
    model stratified by centre, computed on the pooled rows.

    Examples
    --------
    >>> from netpet_stats.federated.aggregates import concordance_sums, pool_concordance
    >>> a = concordance_sums([1, 2, 3, 4], [1, 1, 1, 0], [4, 2, 3, 1])
    >>> b = concordance_sums([1, 2, 3], [1, 0, 1], [1, 2, 3])
    >>> round(pool_concordance([a, b])["estimate"], 4)  # 5 + 0 concordant of 8 pairs
    0.625
    """
    conc = sum(p["concordant"] for p in parts)
    disc = sum(p["discordant"] for p in parts)
    tied = sum(p["tied_x"] for p in parts)
    pairs = conc + disc + tied
    if pairs == 0:
        return {"estimate": np.nan, "se": np.nan, "lower": np.nan, "upper": np.nan,
                "concordant": 0.0, "discordant": 0.0, "tied_x": 0.0, "n_pairs": 0.0,
                "method": C_METHODS[timewt]}
    d = (conc - disc) / pairs
    c = (d + 1) / 2
    saa = sum(p["sum_aa"] for p in parts)
    sab = sum(p["sum_ab"] for p in parts)
    sbb = sum(p["sum_bb"] for p in parts)
    var = max(saa - 2 * d * sab + d * d * sbb, 0.0) / (2 * pairs) ** 2
    se = float(np.sqrt(var))
    z = norm_ppf(1 - (1 - conf_level) / 2)
    return {"estimate": float(c), "se": se, "lower": float(c - z * se),
            "upper": float(c + z * se), "concordant": float(conc), "discordant": float(disc),
            "tied_x": float(tied), "n_pairs": float(pairs), "method": C_METHODS[timewt]}


def logrank_parts(time, event, group, groups, strata=None) -> dict:
    """One centre's O, E and variance matrix by group (R ``survdiff``), summed over its strata."""
    comp = logrank_components(time, event, group, strata, groups)
    return {"groups": list(map(str, comp.groups)), "n": comp.n.astype(float),
            "observed": comp.observed, "expected": comp.expected, "variance": comp.variance}


def pool_logrank(parts: list[dict], scores=None) -> dict:
    """The stratified log-rank and trend tests from the centres' :func:`logrank_parts`.

    Equal to R ``survdiff(Surv(time, status) ~ group + strata(centre))`` on the
    pooled rows; the trend test is ``(c'(O - E))^2 / c'Vc`` on 1 df.

    Returns
    -------
    dict
        ``chisq``, ``df``, ``p``, ``trend_chisq``, ``trend_p`` and the summed
        ``observed``, ``expected`` and ``n`` by group.

    Examples
    --------
    Two centres' parts give the test of the rows stratified by centre:

    >>> from netpet_stats import logrank_test
    >>> from netpet_stats.federated.aggregates import logrank_parts, pool_logrank
    >>> t1, e1, g1 = [1, 2, 3, 4, 5], [1, 1, 0, 1, 1], ["a", "b", "a", "b", "a"]
    >>> t2, e2, g2 = [2, 3, 6, 7], [1, 0, 1, 1], ["b", "a", "b", "a"]
    >>> parts = [logrank_parts(t1, e1, g1, ["a", "b"]), logrank_parts(t2, e2, g2, ["a", "b"])]
    >>> pooled = pool_logrank(parts)["chisq"]
    >>> rows = logrank_test(t1 + t2, e1 + e2, g1 + g2, strata=[1] * 5 + [2] * 4)["chisq"]
    >>> round(pooled, 10) == round(rows, 10)
    True
    """
    groups = parts[0]["groups"]
    if any(p["groups"] != groups for p in parts):
        raise ValueError("centres report different groups for the log-rank test")
    comp = LogrankComponents(groups, sum(np.asarray(p["n"], float) for p in parts),
                             sum(np.asarray(p["observed"], float) for p in parts),
                             sum(np.asarray(p["expected"], float) for p in parts),
                             sum(np.asarray(p["variance"], float) for p in parts))
    chisq, df = components_chisq(comp)
    trend = components_trend(comp, scores)
    return {"chisq": chisq, "df": df, "p": float(chi2_sf(chisq, df)) if df else np.nan,
            "trend_chisq": trend["chisq"], "trend_p": trend["p"], "groups": groups,
            "n": comp.n, "observed": comp.observed, "expected": comp.expected}


class PooledNewton:
    """R ``coxph``'s Newton-Raphson with step halving, one evaluation per round.

    The coordinator holds this state between rounds: it proposes ``beta``, the
    centres return their log likelihood, score and information there, and
    :meth:`update` accepts the point (or halves the step when the summed log
    likelihood fell) and proposes the next one. Converged when the largest
    summed score is below ``tol`` (the convergence certificate), or when the next
    Newton step is below 1e-12 (rounding can keep a sum over 10^6 patients above
    1e-9). A log likelihood that stops changing while a step stays above 1e-3 is
    a coefficient tending to infinity, flagged as in :func:`netpet_stats.fit_efron`.
    """

    def __init__(self, p: int, tol: float = 1e-9):
        self.p, self.tol = p, tol
        self.beta = None            # last accepted point
        self.loglik = None
        self.score = None
        self.information = None
        self.pending = np.zeros(p)  # the point the centres are asked to evaluate
        self.halvings = 0
        self.status = "running"    # running | converged | infinite | failed
        self.infinite: list[int] = []
        self.history: list[dict] = []

    def update(self, loglik: float, score, information, start=None) -> str:
        """Take the summed evaluation at :attr:`pending`; return the new status.

        ``start`` (first update only): the point to evaluate next instead of a
        Newton step, e.g. :func:`meta_analytic_start`.
        """
        score, information = np.asarray(score, float), np.asarray(information, float)
        self.history.append({"beta": self.pending.copy(), "loglik": float(loglik),
                             "max_abs_score": float(np.max(np.abs(score))) if score.size else 0.0})
        if self.beta is not None and not (np.isfinite(loglik) and
                                          loglik >= self.loglik - 1e-12 * abs(self.loglik)):
            self.halvings += 1
            if self.halvings > 30:
                self.status = "failed"
                return self.status
            self.pending = self.beta + (self.pending - self.beta) / 2
            return self.status
        previous = self.loglik
        step_taken = self.pending - self.beta if self.beta is not None else None
        self.beta, self.loglik = self.pending.copy(), float(loglik)
        self.score, self.information = score, information
        self.halvings = 0
        try:
            step = np.linalg.solve(information, score) if self.p else np.zeros(0)
        except np.linalg.LinAlgError:
            self.status = "failed"
            return self.status
        if not self.p or np.max(np.abs(score)) < self.tol or np.max(np.abs(step)) < 1e-12:
            self.status = "converged"
            return self.status
        if (previous is not None and step_taken is not None
                and abs(self.loglik - previous) <= 1e-12 * abs(self.loglik)
                and np.max(np.abs(step)) > 1e-3):
            self.infinite = np.flatnonzero(np.abs(step) > 1e-3).tolist()
            self.status = "infinite"
            return self.status
        if start is not None and previous is None:
            self.pending = np.asarray(start, float).copy()
        else:
            self.pending = self.beta + step
        return self.status

    @property
    def certificate(self) -> float:
        """Largest absolute summed score at the accepted estimate."""
        return float(np.max(np.abs(self.score))) if self.score is not None and self.p else 0.0
