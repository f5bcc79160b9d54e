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

Written here because no Python library reports a standard error for C:
lifelines' ``concordance_index`` and scikit-survival's
``concordance_index_censored`` give the point estimate only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


class _Fenwick:
    """Binary indexed tree of counts over ranks 0..size-1."""

    def __init__(self, size: int):
        self.tree = [0] * (size + 1)
        self.total = 0

    def add(self, rank: int) -> None:
        i = rank + 1
        tree = self.tree
        n = len(tree)
        while i < n:
            tree[i] += 1
            i += i & -i
        self.total += 1

    def below(self, rank: int) -> int:
        """Number of inserted values with rank < ``rank``."""
        i, s, tree = rank, 0, self.tree
        while i > 0:
            s += tree[i]
            i -= i & -i
        return s


def _pair_counts(time, event, rank, n_ranks, ymax):
    """Per-subject counts of concordant, discordant and x-tied comparable pairs.

    Orientation as R's ``reverse = FALSE``: a pair is concordant when the
    subject with the earlier event has the smaller predictor.
    """
    n = time.size
    conc = np.zeros(n)
    disc = np.zeros(n)
    tied = np.zeros(n)
    counts_event = event == 1
    usable = counts_event & (time <= ymax)  # events that can be the earlier member
    utimes, inverse = np.unique(time, return_inverse=True)
    blocks = [[] for _ in utimes]
    for i, b in enumerate(inverse):
        blocks[b].append(i)

    # Pass A: each usable event i against later subjects (and censored at t_i).
    tree = _Fenwick(n_ranks)
    for b in range(len(utimes) - 1, -1, -1):
        members = blocks[b]
        for j in members:
            if not counts_event[j]:
                tree.add(rank[j])
        for i in members:
            if usable[i]:
                lt = tree.below(rank[i])
                le = tree.below(rank[i] + 1)
                conc[i] += tree.total - le
                disc[i] += lt
                tied[i] += le - lt
        for j in members:
            if counts_event[j]:
                tree.add(rank[j])

    # Pass B: each subject j against usable events that precede it.
    tree = _Fenwick(n_ranks)
    for b in range(len(utimes)):
        members = blocks[b]
        for j in members:
            if counts_event[j]:
                lt = tree.below(rank[j])
                le = tree.below(rank[j] + 1)
                conc[j] += lt
                disc[j] += tree.total - le
                tied[j] += le - lt
        for i in members:
            if usable[i]:
                tree.add(rank[i])
        for j in members:
            if not counts_event[j]:
                lt = tree.below(rank[j])
                le = tree.below(rank[j] + 1)
                conc[j] += lt
                disc[j] += tree.total - le
                tied[j] += le - lt
    return conc, disc, tied


def harrell_c(time, event, x, strata=None, reverse: bool = True, ymax: float | None = None,
              conf_level: float = 0.95) -> dict:
    """Harrell's C and its infinitesimal-jackknife standard error.

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

    Returns
    -------
    dict
        ``c, se, lower, upper, concordant, discordant, tied_x, n_pairs, n``.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    x = np.asarray(x, dtype=float)
    if reverse:
        x = -x
    strata = np.zeros(time.size, dtype=int) if strata is None else np.asarray(strata, dtype=object)
    ymax = np.inf if ymax is None else float(ymax)
    n = time.size
    conc = np.zeros(n)
    disc = np.zeros(n)
    tied = np.zeros(n)
    for s in pd.unique(strata):
        m = np.flatnonzero(strata == s)
        _, rank = np.unique(x[m], return_inverse=True)
        c_, d_, t_ = _pair_counts(time[m], event[m], rank.tolist(), int(rank.max()) + 1, ymax)
        conc[m], disc[m], tied[m] = c_, d_, t_
    # Each comparable pair was counted once for each of its two members.
    n_conc, n_disc, n_tied = conc.sum() / 2, disc.sum() / 2, tied.sum() / 2
    n_pairs = n_conc + n_disc + n_tied
    if n_pairs == 0:
        return {"c": np.nan, "se": np.nan, "lower": np.nan, "upper": np.nan, "concordant": 0.0,
                "discordant": 0.0, "tied_x": 0.0, "n_pairs": 0.0, "n": n}
    somers_d = (n_conc - n_disc) / n_pairs
    c = (somers_d + 1) / 2
    # Influence of each subject on C (derivative of A/B with unit case weights).
    dfbeta = ((conc - disc) - (conc + disc + tied) * somers_d) / (2 * n_pairs)
    se = float(np.sqrt(np.sum(dfbeta ** 2)))
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    return {"c": float(c), "se": se, "lower": float(c - z * se), "upper": float(c + z * se),
            "concordant": n_conc, "discordant": n_disc, "tied_x": n_tied,
            "n_pairs": n_pairs, "n": n}


METHOD = ("Harrell's C as R concordance(reverse = TRUE, timewt = 'n'); tied predictor "
          "pairs count 1/2, tied event times excluded; SE by infinitesimal jackknife; "
          "Wald CI")
