"""Harrell's concordance index with its infinitesimal-jackknife standard error.

Matches R ``survival::concordance()`` (survival >= 3.0, ``timewt = "n"``):

* a pair is comparable when the shorter time is an event; a censored time equal
  to an event time counts as longer; pairs of events at the same time (tied.y)
  are not used;
* pairs tied on the predictor (tied.x) count one half;
* C = (concordant + tied.x / 2) / (concordant + discordant + tied.x);
* with strata, only pairs within a stratum are compared and the counts are
  pooled; ``ymax`` drops pairs whose earlier event is after ``ymax``;
* the variance is the infinitesimal jackknife, sum over subjects of the squared
  influence of each subject on C (Therneau & Watson, the ``concordance``
  vignette of the survival package).

Uno's C (``timewt = "n/G2"``) weights each pair by the inverse squared censoring
survival just before its event time; :func:`compare_c` tests the difference of
two correlated C-indices as ``concordance(fit1, fit2)``.

Written here because no Python library reports a standard error for C:
lifelines' ``concordance_index`` and scikit-survival's
``concordance_index_censored`` / ``concordance_index_ipcw`` give the point
estimate only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from . import _numpy_kernels
from ._checks import MissingDataWarning, check_survival
from ._ranks import dense_rank
from .distributions import norm_ppf, norm_sf
from .kaplan_meier import censoring_steps


def _pair_counts(time, event, x, weight, order=None):
    """Per-subject weighted concordant, discordant and x-tied counts (one stratum).

    Ranks the predictor and sorts by time here (``order``: the stable argsort of
    ``time``, when the caller has it); the counting is the compiled O(n log n)
    :func:`._kernels.pair_counts`, or in a short process on a small stratum its
    numpy twin (:mod:`._numpy_kernels`), which gives the same doubles.
    """
    rank = dense_rank(x)
    if order is None:
        order = np.argsort(time, kind="stable")
    if _numpy_kernels.pairs_here(time.size):
        return _numpy_kernels.pair_counts(time, event == 1, rank, weight, order)
    from ._kernels import pair_counts

    return pair_counts(order.astype(np.int64), _time_blocks(time, order), event == 1,
                       rank, int(rank.max()) + 1 if rank.size else 0,
                       np.ascontiguousarray(weight, dtype=float))


def _time_blocks(time, order) -> np.ndarray:
    """Where each run of equal times starts among the subjects in ``order`` (times
    ascending), and the end (n): the ``block_starts`` of the compiled pair counts."""
    ts = time[order]
    return np.flatnonzero(np.concatenate(([True], ts[1:] != ts[:-1], [True]))).astype(np.int64)


def _pair_counts_counting(time, event, x, timewt, casewt, entry, order):
    """Per-subject counts of R's pairs with case weights and delayed entry (one stratum).

    The compiled :func:`._kernels.pair_counts_counting` (always compiled, so that
    the doubles never depend on which loop ran); each subject's counts leave its own
    case weight out, as R's ``influence`` columns.
    """
    from ._kernels import pair_counts_counting

    rank = dense_rank(x)
    start = np.full(time.size, -np.inf) if entry is None else np.asarray(entry, float)
    return pair_counts_counting(order.astype(np.int64), _time_blocks(time, order),
                                np.ascontiguousarray(time, dtype=float), event == 1, rank,
                                int(rank.max()) + 1 if rank.size else 0,
                                np.ascontiguousarray(timewt, dtype=float),
                                np.ascontiguousarray(casewt, dtype=float),
                                np.argsort(start, kind="stable").astype(np.int64), start)


def censoring_weights(time, event, order=None, weights=None) -> np.ndarray:
    """1 / G(t-)^2 at each subject's time (Uno's weights, R ``timewt = "n/G2"``).

    G is the Kaplan-Meier of the censoring distribution taken just before t
    (:func:`netpet_stats.kaplan_meier.censoring_survival`; with case ``weights``
    on weighted counts, as R's ``fastkm1``). ``order``: the stable argsort of
    ``time``, when the caller has it.
    """
    _, after, index = censoring_steps(time, event, order, weights)
    before = np.where(index > 0, after[np.maximum(index - 1, 0)], 1.0)  # G(t-)
    return 1.0 / before ** 2


def harrell_c(time, event, x, strata=None, reverse: bool = True, ymax: float | None = None,
              conf_level: float = 0.95, cluster=None, *, entry=None, weights=None) -> dict:
    """Harrell's concordance index and its infinitesimal-jackknife standard error.

    The same estimator as R ``concordance(Surv(time, event) ~ x, reverse =
    TRUE, timewt = "n")`` (survival >= 3.0): every comparable pair weighs 1,
    pairs tied on the predictor count 1/2, pairs tied on time are not
    comparable. For Uno's inverse-probability-of-censoring weighting use
    :func:`uno_c`.

    Parameters
    ----------
    time, event
        Follow-up and event indicator (1 event, 0 censored).
    x
        Predictor. With ``reverse=True`` (R ``concordance(..., reverse = TRUE)``,
        the convention for risk scores and Cox linear predictors) a larger value
        predicts a shorter time.
    strata
        Optional stratum labels; pairs are compared only within a stratum.
    ymax
        Only pairs whose earlier event time is <= ``ymax`` are used.
    conf_level
        Coverage of the Wald interval ``C +/- z * se``.
    cluster
        Optional cluster labels: influences are summed within clusters before
        the variance (R ``cluster =``).
    entry
        Delayed-entry times (R ``concordance(Surv(entry, time, event) ~ x)``): an
        event at ``t`` is compared only with the subjects at risk at ``t``
        (``entry < t <= time``), whose time is later or, censored, equal.
    weights
        Case weights (R ``weights =``): a pair weighs the product of its two
        members' weights, and each subject's influence is scaled by its weight
        (R's ``dfbeta``).

    Returns
    -------
    dict
        ``estimate`` (C), ``se``, ``lower``, ``upper``, ``method``, the weighted pair
        counts ``concordant, discordant, tied_x, n_pairs``, ``n`` (subjects used),
        ``n_omitted`` (left out for a missing value, as R ``na.omit``) and
        ``dfbeta`` (influence of each subject on C, or of each cluster).

    Examples
    --------
    >>> from netpet_stats import harrell_c
    >>> res = harrell_c([1, 2, 3, 4], [1, 1, 1, 0], [4, 2, 3, 1])  # higher x, earlier event
    >>> round(res["estimate"], 4), round(res["se"], 4), res["concordant"], res["discordant"]
    (0.8333, 0.1667, 5.0, 1.0)

    As R: ``concordance(Surv(t, e) ~ x, reverse = TRUE)`` gives Concordance =
    0.8333, se = 0.1667, 5 concordant and 1 discordant pairs.
    """
    return _concordance("harrell_c", time, event, x, strata, reverse, ymax, conf_level, "n",
                        cluster, entry, weights)


def _concordance(caller: str, time, event, x, strata, reverse, ymax, conf_level, timewt,
                 cluster, entry=None, weights=None) -> dict:
    """Harrell's (``timewt="n"``) or Uno's (``"n/G2"``) C; see :func:`harrell_c`.

    Uno's weights: each pair weighted by 1 / G(t-)^2 at its event time, G the
    censoring Kaplan-Meier within the stratum (R ``timewt = "n/G2"``); as in R, a
    stratum with fewer than two events uses weight 1, and the variance treats the
    weights as fixed.
    """
    if entry is not None and timewt == "n/G2":
        raise ValueError(
            f"{caller}: Uno's C is not defined here for delayed entry: R's concordance() "
            "refuses timewt = 'n/G2' for Surv(entry, time, event) data (the censoring "
            "distribution G is not estimated under left truncation). Use harrell_c(..., "
            "entry=), R timewt = 'n'.")
    checked = check_survival(caller, time, event, entry=entry, weights=weights, x=(x, True),
                             strata=strata, cluster=cluster)
    time, event, x = checked.time, checked.event, checked.others["x"]
    strata, cluster = checked.others.get("strata"), checked.others.get("cluster")
    w = checked.weights
    n = time.size
    conc, disc, tied = subject_pair_counts(time, event, x, strata, reverse, ymax, timewt,
                                           entry=checked.entry, weights=w)
    if w is not None:
        # counts leave each subject's own weight out (R's influence columns)
        conc_w, disc_w, tied_w = w * conc, w * disc, w * tied
    else:
        conc_w, disc_w, tied_w = conc, disc, tied
    # Each comparable pair was counted once for each of its two members.
    n_conc, n_disc, n_tied = conc_w.sum() / 2, disc_w.sum() / 2, tied_w.sum() / 2
    n_pairs = n_conc + n_disc + n_tied
    if n_pairs == 0:
        return {"estimate": np.nan, "se": np.nan, "lower": np.nan, "upper": np.nan,
                "method": METHODS[timewt], "concordant": 0.0, "discordant": 0.0,
                "tied_x": 0.0, "n_pairs": 0.0, "n": n, "n_omitted": checked.n_omitted,
                "dfbeta": np.zeros(n)}
    somers_d = (n_conc - n_disc) / n_pairs
    c = (somers_d + 1) / 2
    # Influence of each subject on C (derivative of A/B, times its case weight as R).
    dfbeta = ((conc - disc) - (conc + disc + tied) * somers_d) / (2 * n_pairs)
    if w is not None:
        dfbeta = dfbeta * w
    if cluster is not None:
        dfbeta = pd.Series(dfbeta).groupby(np.asarray(cluster, dtype=object), sort=True).sum()
        dfbeta = dfbeta.to_numpy()
    se = float(np.sqrt(np.sum(dfbeta ** 2)))
    z = norm_ppf(1 - (1 - conf_level) / 2)
    return {"estimate": float(c), "se": se, "lower": float(c - z * se),
            "upper": float(c + z * se), "method": METHODS[timewt],
            "concordant": float(n_conc), "discordant": float(n_disc), "tied_x": float(n_tied),
            "n_pairs": float(n_pairs), "n": n, "n_omitted": checked.n_omitted, "dfbeta": dfbeta}


def subject_pair_counts(time, event, x, strata=None, reverse: bool = True,
                        ymax: float | None = None, timewt: str = "n", *, entry=None,
                        weights=None):
    """Each subject's weighted concordant, discordant and predictor-tied pair counts.

    The pairs of R ``concordance()`` within strata (see :func:`harrell_c`); each
    comparable pair is counted once for each of its two members, so the totals
    are twice the pair counts. With ``timewt = "n/G2"`` each pair weighs
    ``1 / G(t-)^2`` at its event time, G the censoring Kaplan-Meier within the
    stratum (weight 1 in a stratum with fewer than two events, as R). Inputs are
    taken as checked (numeric arrays of equal length, no missing values).

    With delayed ``entry`` (R ``Surv(entry, time, event)``, ``timewt = "n"`` only)
    an event is compared with the subjects at risk at its time; with case
    ``weights`` a pair weighs the product of its members' weights (and ``n/G2``'s
    G is the weighted censoring Kaplan-Meier), and each subject's counts leave its
    own weight out, as R's ``influence`` columns: the totals are then
    ``sum(weights * counts)``, twice the weighted pair counts. Both go through the
    compiled :func:`._kernels.pair_counts_counting`; without them the path is
    unchanged.

    Returns
    -------
    concordant, discordant, tied_x : ndarray
    """
    time, event = np.asarray(time, float), np.asarray(event, float)
    x = -np.asarray(x, float) if reverse else np.asarray(x, float)
    strata = np.zeros(time.size, dtype=int) if strata is None else np.asarray(strata, dtype=object)
    ymax = np.inf if ymax is None else float(ymax)
    conc, disc, tied = np.zeros(time.size), np.zeros(time.size), np.zeros(time.size)
    for s in pd.unique(strata):
        m = np.flatnonzero(strata == s)
        t_s, e_s = time[m], event[m]
        w_s = None if weights is None else np.asarray(weights, float)[m]
        order = np.argsort(t_s, kind="stable")  # one sort for the weights and the pairs
        if timewt == "n/G2" and e_s.sum() >= 2:
            weight = censoring_weights(t_s, e_s, order, w_s)
        else:
            weight = np.ones(m.size)
        weight = np.where(t_s <= ymax, weight, 0.0)
        if entry is None and weights is None:
            conc[m], disc[m], tied[m] = _pair_counts(t_s, e_s, x[m], weight, order)
        else:
            conc[m], disc[m], tied[m] = _pair_counts_counting(
                t_s, e_s, x[m], weight, np.ones(m.size) if w_s is None else w_s,
                None if entry is None else np.asarray(entry, float)[m], order)
    return conc, disc, tied


class HarrellPairs:
    """Harrell's comparable pairs of one sample, for the C of many predictors in turn.

    :func:`harrell_c`'s estimate (R ``concordance(Surv(time, event) ~ x, reverse =
    TRUE, timewt = "n", ymax = )``) without its standard error, for one predictor
    after another on the same subjects (a bootstrap's refitted models): the times are
    fixed (R ``timefix``) and sorted once here, and each predictor's pairs are counted
    once, from their earlier member (:func:`._kernels.pair_totals`), where
    :func:`harrell_c` counts them from both members for the influence of each subject.
    The counts are integers, so the estimate equals ``harrell_c(time, event, x,
    ymax=ymax)["estimate"]`` to the last bit.

    Parameters
    ----------
    time, event
        Follow-up and event indicator (1 event, 0 censored) of the sample, without
        missing values (every predictor must be of these subjects).
    ymax
        Only pairs whose earlier event time is <= ``ymax`` are used.

    Examples
    --------
    >>> from netpet_stats.survival.concordance import HarrellPairs, harrell_c
    >>> t, e = [1, 2, 3, 4, 5], [1, 1, 1, 0, 1]
    >>> pairs = HarrellPairs(t, e, ymax=4)
    >>> pairs.estimate([4, 2, 3, 1, 0]) == harrell_c(t, e, [4, 2, 3, 1, 0], ymax=4)["estimate"]
    True

    A predictor given as one value per pattern and each subject's pattern (as
    :class:`netpet_stats.survival.cox.PatternDot` holds them):

    >>> pairs.estimate([4.0, 2.0], codes=[0, 1, 0, 1, 1]) == pairs.estimate([4, 2, 4, 2, 2])
    True
    """

    def __init__(self, time, event, ymax: float | None = None):
        with warnings.catch_warnings():       # refused below, not left out with a warning
            warnings.simplefilter("ignore", MissingDataWarning)
            checked = check_survival("HarrellPairs", time, event)
        if checked.n_omitted:
            raise ValueError("HarrellPairs: `time` and `event` must have no missing values "
                             f"({checked.n_omitted} missing); every predictor is of the "
                             "same subjects")
        self.time, self.is_event = checked.time, checked.event == 1
        self.n = self.time.size
        self.order = np.argsort(self.time, kind="stable").astype(np.int64)
        self.block_starts = _time_blocks(self.time, self.order)
        self.weight = (self.time <= (np.inf if ymax is None else float(ymax))).astype(float)

    def estimate(self, x, reverse: bool = True, codes=None) -> float:
        """Harrell's C of predictor ``x`` (``x[codes]`` when ``codes`` are given).

        ``reverse`` as :func:`harrell_c`. NaN when no pair is comparable.
        """
        x = np.asarray(x, float)
        if np.isnan(x).any():
            raise ValueError("HarrellPairs.estimate: the predictor has missing values")
        rank = dense_rank(-x if reverse else x)
        if codes is not None:
            rank = rank[np.asarray(codes, np.int64)]
        if rank.size != self.n:
            raise ValueError(f"HarrellPairs.estimate: {rank.size} predictor values for "
                             f"{self.n} subjects")
        if _numpy_kernels.pairs_here(self.n):
            counts = _numpy_kernels.pair_counts(self.time, self.is_event, rank, self.weight,
                                                self.order)
            n_conc, n_disc, n_tied = (c.sum() / 2 for c in counts)
        else:
            from ._kernels import pair_totals

            n_conc, n_disc, n_tied = pair_totals(
                self.order, self.block_starts, self.is_event, rank,
                int(rank.max()) + 1 if rank.size else 0, self.weight)
        n_pairs = n_conc + n_disc + n_tied
        if n_pairs == 0:
            return np.nan
        return float(((n_conc - n_disc) / n_pairs + 1) / 2)


def compare_c(first: dict, second: dict, conf_level: float = 0.95) -> dict:
    """Difference of two concordance indices on the same subjects, with its SE.

    The covariance of the two estimates is the cross-product of their
    per-subject influences (R ``concordance(fit1, fit2)``: ``var =
    crossprod(dfbeta)``); the test of equal concordance is the Wald z-test of
    the difference.

    Parameters
    ----------
    first, second
        Results of :func:`harrell_c` or :func:`uno_c` on the same subjects in the
        same order.

    Returns
    -------
    dict
        ``estimate`` (first minus second C), ``se``, ``lower``, ``upper``, ``z``,
        ``p``, ``method``, the two indices ``c_first`` and ``c_second`` and their
        ``covariance``.

    Examples
    --------
    >>> from netpet_stats import compare_c, harrell_c
    >>> t, e = [1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 0]
    >>> res = compare_c(harrell_c(t, e, [6, 4, 5, 2, 3, 1]), harrell_c(t, e, [1, 3, 2, 4, 6, 5]))
    >>> round(res["c_first"], 4), round(res["c_second"], 4), round(res["estimate"], 4)
    (0.8333, 0.1667, 0.6667)
    """
    if first.get("n_omitted") or second.get("n_omitted"):
        raise ValueError("compare_c: a concordance index left out subjects with missing values; "
                         "compute both on the same complete cases")
    d1, d2 = first["dfbeta"], second["dfbeta"]
    if d1.shape != d2.shape:
        raise ValueError("the two concordance estimates must use the same subjects")
    cov = float(d1 @ d2)
    diff = first["estimate"] - second["estimate"]
    se = float(np.sqrt(first["se"] ** 2 + second["se"] ** 2 - 2 * cov))
    z = norm_ppf(1 - (1 - conf_level) / 2)
    # two indices with identical influences (or none) leave nothing to test
    zval = diff / se if se > 0 else np.nan
    return {"estimate": diff, "se": se, "lower": float(diff - z * se),
            "upper": float(diff + z * se),
            "z": zval, "p": float(2 * norm_sf(abs(zval))) if se > 0 else np.nan,
            "method": COMPARE_METHOD,
            "c_first": first["estimate"], "c_second": second["estimate"], "covariance": cov}


METHODS = {
    "n": ("Harrell's C as R concordance(reverse = TRUE, timewt = 'n'); tied predictor pairs "
          "count 1/2, tied event times excluded; SE by infinitesimal jackknife; Wald CI"),
    "n/G2": ("Uno's C as R concordance(reverse = TRUE, timewt = 'n/G2'): pairs weighted by "
             "1/G(t-)^2, G the censoring Kaplan-Meier; SE by infinitesimal jackknife with "
             "the weights held fixed; Wald CI"),
}
COMPARE_METHOD = ("difference of two C on the same patients; covariance = crossprod of "
                  "their influences (R concordance(fit1, fit2)); Wald z-test")


def uno_c(time, event, x, strata=None, reverse: bool = True, ymax: float | None = None,
          conf_level: float = 0.95, cluster=None, *, entry=None, weights=None) -> dict:
    """Uno's C: Harrell's pairs with inverse-probability-of-censoring weights.

    The same estimator as R ``concordance(..., timewt = "n/G2")`` (Uno et al.
    2011): each comparable pair is weighted by ``1 / G(t)^2``, G the Kaplan-Meier
    of censoring within the stratum; as in R, a stratum with fewer than two
    events uses weight 1, and the infinitesimal-jackknife variance treats the
    weights as fixed. Prefer a truncation time ``ymax``, where G is still
    estimable. Arguments and result as :func:`harrell_c`; with case ``weights`` G is
    the weighted censoring Kaplan-Meier (R's ``fastkm1``). Delayed ``entry`` is
    refused, as R's ``concordance`` refuses ``timewt = "n/G2"`` for ``Surv(entry,
    time, event)`` data.

    Examples
    --------
    >>> from netpet_stats.survival.concordance import uno_c
    >>> uno_c([1, 2, 3, 4, 5], [1, 1, 0, 1, 0], [5, 4, 3, 2, 1])["estimate"]  # risk falls with time
    1.0
    """
    return _concordance("uno_c", time, event, x, strata, reverse, ymax, conf_level, "n/G2",
                        cluster, entry, weights)


#: the estimator behind each of R's ``timewt`` choices that this package implements
BY_TIMEWT = {"n": harrell_c, "n/G2": uno_c}
