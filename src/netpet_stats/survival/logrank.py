"""Log-rank tests as R ``survival::survdiff`` (rho = 0).

Written here rather than taken from lifelines because lifelines'
``multivariate_logrank_test`` has no stratified form and there is no log-rank
test for trend in lifelines, scikit-survival or statsmodels. One routine computes
the observed and expected events and the hypergeometric variance matrix, summed
over strata (Peto & Peto 1972; Mantel 1966); every test below is a quadratic
form in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from ._checks import check_survival, group_codes
from .distributions import chi2_sf


@dataclass
class LogrankComponents:
    """Observed, expected and variance of the group event counts."""

    groups: list
    n: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray


def logrank_components(time, event, group, strata=None, groups=None, *, entry=None,
                       weights=None) -> LogrankComponents:
    """O, E and the hypergeometric variance matrix of survdiff, summed over strata.

    At each distinct event time within a stratum, with ``n`` at risk and ``d``
    events, group ``j`` contributes ``E_j = n_j d / n`` and
    ``V_jk = d (n - d) / (n - 1) * n_j / n * (delta_jk - n_k / n)``.

    Parameters
    ----------
    time, event, group
        Arrays of equal length; ``group`` labels are compared by equality.
    strata
        Optional stratum labels (R ``strata()`` term).
    groups
        Order of the groups (defaults to sorted unique labels).
    entry, weights
        Delayed entry and case weights: see :func:`logrank_test` (the risk sets are
        ``entry < t <= time``; with weights the counts are weighted and ``V`` is
        Breslow's, ``D * n_j / n * (delta_jk - n_k / n)``).
    """
    checked = check_survival("logrank", time, event, entry=entry, weights=weights, group=group,
                             strata=strata)
    time, event = checked.time, checked.event
    if checked.entry is not None or checked.weights is not None:
        return _components_general(checked, groups)
    group = np.asarray(checked.others["group"], dtype=object)
    strata = checked.others.get("strata")
    if groups is None:
        groups = sorted(pd.unique(group))
    groups = list(groups)
    k = len(groups)
    gidx = group_codes(group, groups, "logrank")
    strata = np.zeros(time.size, dtype=int) if strata is None else np.asarray(strata, dtype=object)
    observed = np.zeros(k)
    expected = np.zeros(k)
    variance = np.zeros((k, k))
    for s in pd.unique(strata):
        m = strata == s
        t, e, g = time[m], event[m], gidx[m]
        onehot = np.eye(k)[g]  # (n_s, k)
        order = np.argsort(t, kind="mergesort")
        t, e, onehot = t[order], e[order], onehot[order]
        # at risk per group at each sorted position: reverse cumulative count
        at_risk_by_pos = np.cumsum(onehot[::-1], axis=0)[::-1]
        etimes = np.unique(t[e == 1])
        first = np.searchsorted(t, etimes, side="left")
        n_j = at_risk_by_pos[first]  # (T, k)
        n_tot = n_j.sum(axis=1)
        d_j = np.zeros((etimes.size, k))
        is_event = e == 1
        np.add.at(d_j, np.searchsorted(etimes, t[is_event]), onehot[is_event])
        d_tot = d_j.sum(axis=1)
        observed += d_j.sum(axis=0)
        frac = n_j / n_tot[:, None]
        expected += (d_tot[:, None] * frac).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(n_tot > 1, d_tot * (n_tot - d_tot) / (n_tot - 1), 0.0)
        variance += (np.diag(scale @ frac) - np.einsum("t,tj,tk->jk", scale, frac, frac))
    n = np.bincount(gidx, minlength=k)
    return LogrankComponents(groups, n, observed, expected, variance)


def _components_general(checked, groups) -> LogrankComponents:
    """O, E and V on left-truncated risk sets and weighted counts.

    At each distinct event time ``t`` of a stratum, group ``j``'s risk set is its
    subjects with ``entry < t <= time`` (sums of case weights). Without weights
    ``V`` is the hypergeometric variance of survdiff (the information of R's
    ``coxph(..., ties = "exact")`` at beta = 0); with weights it is Breslow's
    (``ties = "breslow"``: R's exact method takes no case weights).
    """
    time, event = checked.time, checked.event
    start = checked.entry
    w = np.ones(time.size) if checked.weights is None else checked.weights
    group = np.asarray(checked.others["group"], dtype=object)
    strata = checked.others.get("strata")
    groups = sorted(pd.unique(group)) if groups is None else list(groups)
    k = len(groups)
    gidx = group_codes(group, groups, "logrank")
    strata = np.zeros(time.size, dtype=int) if strata is None else np.asarray(strata, dtype=object)
    observed, expected, variance = np.zeros(k), np.zeros(k), np.zeros((k, k))
    for s in pd.unique(strata):
        m = strata == s
        t, e, g, ws = time[m], event[m], gidx[m], w[m]
        st = None if start is None else start[m]
        etimes = np.unique(t[e == 1])
        if etimes.size == 0:
            continue
        n_j = np.zeros((etimes.size, k))
        d_j = np.zeros((etimes.size, k))
        for j in range(k):
            mj = g == j
            if not mj.any():
                continue
            o = np.argsort(t[mj], kind="stable")
            cum = np.r_[np.cumsum(ws[mj][o][::-1])[::-1], 0.0]
            n_j[:, j] = cum[np.searchsorted(t[mj][o], etimes, side="left")]  # time >= t
            if st is not None:
                o2 = np.argsort(st[mj], kind="stable")
                cum2 = np.r_[np.cumsum(ws[mj][o2][::-1])[::-1], 0.0]
                n_j[:, j] -= cum2[np.searchsorted(st[mj][o2], etimes, side="left")]  # entry >= t
            ev = mj & (e == 1)
            d_j[:, j] = np.bincount(np.searchsorted(etimes, t[ev]), weights=ws[ev],
                                    minlength=etimes.size)
        n_tot, d_tot = n_j.sum(axis=1), d_j.sum(axis=1)
        observed += d_j.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(n_tot[:, None] > 0, n_j / n_tot[:, None], 0.0)
            if checked.weights is None:
                scale = np.where(n_tot > 1, d_tot * (n_tot - d_tot) / (n_tot - 1), 0.0)
            else:
                scale = d_tot
        expected += (d_tot[:, None] * frac).sum(axis=0)
        variance += (np.diag(scale @ frac) - np.einsum("t,tj,tk->jk", scale, frac, frac))
    n = np.bincount(gidx, minlength=k)
    return LogrankComponents(groups, n, observed, expected, variance)


def components_chisq(comp: LogrankComponents) -> tuple[float, int]:
    """survdiff's chi-square and df from (stratum-summed) O, E and V."""
    # As survdiff: drop groups with zero expected events, then the first group.
    keep = comp.expected > 0
    if keep.sum() < 2:
        return 0.0, 0
    diff = (comp.observed - comp.expected)[keep][1:]
    vv = comp.variance[np.ix_(keep, keep)][1:, 1:]
    return float(diff @ np.linalg.solve(vv, diff)), int(keep.sum() - 1)


def logrank_test(time, event, group, strata=None, groups=None, *, entry=None,
                 weights=None) -> dict:
    """k-sample log-rank test (R ``survdiff(Surv(time, event) ~ group [+ strata(s)])``).

    R's ``survdiff`` takes neither delayed entry ("Right censored data only") nor
    case weights. What R users report instead is the score test of a Cox model at
    beta = 0, which for right-censored unweighted data is survdiff's statistic:

    * ``entry`` (left truncation): O - E and the hypergeometric variance on the risk
      sets ``entry < t <= time``, R ``coxph(Surv(entry, time, event) ~ factor(group)
      [+ strata(s)], ties = "exact")`` score test (``summary(fit)$sctest``). On
      (start, stop] data R's exact method enumerates the subsets of each tied death
      set and can run for hours with many ties; the same statistic is R's ``coxph(
      Surv(one, dead) ~ factor(group) + strata(death_time), ties = "exact")`` on one
      row per subject at risk at each death time (the exact partial likelihood is a
      product over death times), which tests/survival/entry_weights_km_reference.R
      uses and checks against the direct call where that is feasible;
    * ``weights`` (with or without ``entry``): weighted O - E with Breslow's
      variance, R ``coxph(..., weights = w, ties = "breslow")`` score test (R's
      exact method refuses case weights; without tied event times Breslow, Efron
      and exact give the same test). The model-based, not the robust, variance, as
      ``summary(fit)$sctest``.

    Examples
    --------
    >>> from netpet_stats import logrank_test
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> g = ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"]
    >>> res = logrank_test(t, e, g)
    >>> round(res["chisq"], 6), res["df"]  # R survdiff(Surv(t, e) ~ g)$chisq
    (0.365775, 1)
    >>> res["components"].observed.tolist(), res["components"].expected.round(4).tolist()
    ([2.0, 5.0], [2.7063, 4.2937])
    """
    comp = logrank_components(time, event, group, strata, groups, entry=entry, weights=weights)
    chisq, df = components_chisq(comp)
    return {"chisq": chisq, "df": df, "p": float(chi2_sf(chisq, df)) if df else np.nan,
            "components": comp}


def logrank_trend_test(time, event, group, strata=None, groups=None, scores=None, *,
                       entry=None, weights=None) -> dict:
    """Log-rank test for trend over ordered groups.

    ``Z = c'(O - E)`` with group scores ``c`` (default 1..k in the given order),
    ``chisq = Z**2 / (c' V c)`` on 1 df, with survdiff's hypergeometric ``V``.
    This equals the score test of R's ``coxph(Surv(time, event) ~ score
    [+ strata(s)], ties = "exact")`` with the numeric score; with ``entry`` on
    ``Surv(entry, time, event)``, with ``weights`` ``ties = "breslow"`` (see
    :func:`logrank_test`).

    Examples
    --------
    >>> from netpet_stats import logrank_trend_test
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> g = ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"]
    >>> res = logrank_trend_test(t, e, g, groups=["a", "b"])
    >>> round(res["chisq"], 6)  # with two groups, the log-rank chi-square
    0.365775
    """
    return components_trend(logrank_components(time, event, group, strata, groups,
                                               entry=entry, weights=weights), scores)


def components_trend(comp: LogrankComponents, scores=None) -> dict:
    """The trend test of :func:`logrank_trend_test` from (stratum-summed) O, E and V."""
    c = np.arange(1, len(comp.groups) + 1, dtype=float) if scores is None else np.asarray(scores, float)
    z = float(c @ (comp.observed - comp.expected))
    var = float(c @ comp.variance @ c)
    chisq = z * z / var
    return {"chisq": chisq, "df": 1, "p": float(chi2_sf(chisq, 1)), "z": z / np.sqrt(var),
            "scores": c}


def logrank_tests(time, event, group, groups, strata=None, adjust: str = "holm",
                  strata_name: str = "strata", *, entry=None, weights=None) -> pd.DataFrame:
    """The set of tests reported per endpoint, as one tidy table.

    Rows: overall k-sample test; the same stratified by ``strata`` (if given);
    the test for trend; and every pairwise two-sample test with the p-value
    adjusted across pairs by ``adjust`` (:func:`adjust_p`).
    ``strata_name`` names the stratifying variable in the output. Group labels
    may be of any type (they are shown as text). With ``entry`` or ``weights``
    every test is the Cox score test of :func:`logrank_test`, and its ``method``
    says which R call it matches.

    Examples
    --------
    >>> from netpet_stats.survival.logrank import logrank_tests
    >>> res = logrank_tests([1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 0], [1, 1, 1, 2, 2, 2], [1, 2])
    >>> res["test"].tolist()
    ['log-rank', 'log-rank trend', 'pairwise log-rank']
    """
    checked = check_survival("logrank_tests", time, event, entry=entry, weights=weights,
                             group=group, strata=strata)
    time, event = checked.time, checked.event
    start, w = checked.entry, checked.weights
    extra = {"entry": start, "weights": w}
    lhs = "Surv(time, event)" if start is None else "Surv(entry, time, event)"
    general = start is not None or w is not None
    ties = "breslow" if w is not None else "exact"
    wt = ", weights = w" if w is not None else ""

    def method(rhs: str, plain: str) -> str:
        if not general:
            return plain
        return f"score test of coxph({lhs} ~ {rhs}{wt}, ties = '{ties}')"
    group = np.asarray(checked.others["group"], dtype=object)
    strata = checked.others.get("strata")
    groups = list(groups)
    names = [str(g) for g in groups]
    rows = []
    overall = logrank_test(time, event, group, None, groups, **extra)
    rows.append({"test": "log-rank", "comparison": " vs ".join(names), "stratified_by": "",
                 "chisq": overall["chisq"], "df": overall["df"], "p": overall["p"],
                 "p_adjusted": np.nan,
                 "method": method("factor(group)",
                                  "survdiff(Surv(time, event) ~ group), rho = 0")})
    if strata is not None:
        strat = logrank_test(time, event, group, strata, groups, **extra)
        rows.append({"test": "stratified log-rank", "comparison": " vs ".join(names),
                     "stratified_by": strata_name, "chisq": strat["chisq"], "df": strat["df"],
                     "p": strat["p"], "p_adjusted": np.nan,
                     "method": method(f"factor(group) + strata({strata_name})",
                                      f"survdiff(Surv(time, event) ~ group + "
                                      f"strata({strata_name}))")})
    trend = logrank_trend_test(time, event, group, None, groups, **extra)
    rows.append({"test": "log-rank trend", "comparison": " < ".join(names), "stratified_by": "",
                 "chisq": trend["chisq"], "df": 1, "p": trend["p"], "p_adjusted": np.nan,
                 "method": method("score (1..k)", "scores 1..k, hypergeometric variance "
                                  "(= coxph score test, ties='exact')")})
    pair_rows = []
    group_arr = np.asarray(group, dtype=object)
    for a, b in combinations(groups, 2):
        m = (group_arr == a) | (group_arr == b)
        res = logrank_test(np.asarray(time)[m], np.asarray(event)[m], group_arr[m], None, [a, b],
                           entry=None if start is None else start[m],
                           weights=None if w is None else w[m])
        pair_rows.append({"test": "pairwise log-rank", "comparison": f"{a} vs {b}",
                          "stratified_by": "", "chisq": res["chisq"], "df": res["df"],
                          "p": res["p"],
                          "method": (f"{method('factor(group)', 'survdiff')} on the pair; "
                                     f"p adjusted by {adjust}")})
    if pair_rows:
        adjusted = adjust_p([r["p"] for r in pair_rows], adjust)
        for r, padj in zip(pair_rows, adjusted):
            r["p_adjusted"] = float(padj)
    return pd.DataFrame(rows + pair_rows)


def adjust_p(pvals, method: str = "holm") -> np.ndarray:
    """p-values adjusted for multiple comparisons, as R ``p.adjust`` / statsmodels.

    Holm and Bonferroni (the defaults) are computed here, as R defines them;
    the other methods come from statsmodels ``multipletests``, which also runs
    a full garbage collection on every call (~50 ms, most of a log-rank table).

    Examples
    --------
    >>> adjust_p([0.01, 0.04, 0.03], "holm").round(4).tolist()  # R p.adjust(p, "holm")
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvals, dtype=float)
    m = p.size
    if method == "none" or m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    if method == "holm":
        order = np.argsort(p, kind="stable")
        stepped = np.maximum.accumulate(p[order] * (m - np.arange(m)))
        out = np.empty(m)
        out[order] = np.minimum(stepped, 1.0)
        return out
    from statsmodels.stats.multitest import multipletests

    return multipletests(p, method=method)[1]


def observed_expected(time, event, group, groups, *, entry=None, weights=None) -> pd.DataFrame:
    """Per-group n, observed and expected events (unstratified), as survdiff prints.

    With ``entry`` / ``weights`` (see :func:`logrank_test`) the risk sets are ``entry <
    t <= time`` and the counts weighted: ``E`` is then the sum per group of the null
    Cox model's expected events, R ``coxph(Surv(entry, time, event) ~ 1, weights = w,
    ties = "breslow")`` (``O - E`` per group is the sum of ``w`` times its martingale
    residuals).
    """
    comp = logrank_components(time, event, group, None, groups, entry=entry, weights=weights)
    return pd.DataFrame({"group": comp.groups, "n": comp.n, "observed": comp.observed,
                         "expected": comp.expected,
                         "o_minus_e_sq_over_e": (comp.observed - comp.expected) ** 2 / comp.expected})
