"""Association between two categorical variables (NETPET group x WHO grade).

Pearson's chi-square comes from SciPy (``chi2_contingency`` without continuity
correction, as R ``chisq.test(correct = FALSE)``). The exact conditional test
is computed here: SciPy's ``fisher_exact`` handles r x c tables only by Monte
Carlo, whose p is floored at about 1/B. :func:`fisher_exact_rxc` enumerates every
table with the observed margins (the Freeman-Halton extension of Fisher's test,
R ``fisher.test``) and sums the probabilities of those no more likely than the
observed one, with R's relative tolerance of 1e-7. Where the tables are too many
to enumerate it says so and reports a seeded Monte Carlo estimate under that
name, never as exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import gammaln

MAX_TABLES = 200_000_000
REL_TOL = 1e-7  # R fisher.test: relErr <- 1 + 10^(-7)


def _compositions(total: int, caps: np.ndarray) -> np.ndarray:
    """All integer vectors v >= 0 with sum(v) = total and v <= caps, as rows."""
    caps = np.minimum(np.asarray(caps, dtype=int), total)
    if caps.size == 1:
        return np.array([[total]]) if total <= caps[0] else np.empty((0, 1), int)
    grid_size = float(np.prod(caps[:-1] + 1.0))
    if grid_size <= 2_000_000:
        # Vectorised: every combination of the first r-1 parts; the last is implied.
        grids = np.indices(tuple(caps[:-1] + 1)).reshape(caps.size - 1, -1).T
        last = total - grids.sum(axis=1)
        ok = (last >= 0) & (last <= caps[-1])
        return np.column_stack([grids[ok], last[ok]])
    rest_cap = int(caps[1:].sum())
    parts = []
    for v0 in range(max(0, total - rest_cap), min(int(caps[0]), total) + 1):
        tail = _compositions(total - v0, caps[1:])
        if tail.size:
            parts.append(np.column_stack([np.full(len(tail), v0), tail]))
    return np.vstack(parts) if parts else np.empty((0, caps.size), int)


def _count_estimate(rows: np.ndarray, cols: np.ndarray) -> float:
    """Upper bound on the number of tables with these margins.

    Product over the free columns of the number of ways to split the column
    total among the rows (bounded both by the stars-and-bars count and by the
    row totals).
    """
    from math import comb
    est = 1.0
    for c in cols[:-1]:
        caps = np.minimum(rows, c)
        est *= min(comb(int(c) + len(rows) - 1, len(rows) - 1), float(np.prod(caps[:-1] + 1.0)))
    return est


def fisher_exact_rxc(table, seed: int = 1, n_mc: int = 100_000) -> dict:
    """Exact conditional test of independence in an r x c table.

    Parameters
    ----------
    table
        Counts (rows x columns); rows or columns with zero total are dropped.
    seed, n_mc
        Used only when the tables are too many to enumerate (Monte Carlo).

    Returns
    -------
    dict
        ``p``, ``method`` and ``n_tables`` (tables enumerated, or simulated).
    """
    t = np.asarray(table, dtype=int)
    t = t[t.sum(axis=1) > 0][:, t.sum(axis=0) > 0]
    rows, cols = t.sum(axis=1), t.sum(axis=0)
    n = int(t.sum())
    const = gammaln(rows + 1).sum() + gammaln(cols + 1).sum() - gammaln(n + 1)

    def logp(cells):
        return const - gammaln(cells + 1).sum(axis=-1)

    obs = logp(t.ravel())
    if t.shape[0] < 2 or t.shape[1] < 2:
        return {"p": 1.0, "method": "exact (degenerate table)", "n_tables": 1}
    if _count_estimate(rows, cols) > MAX_TABLES:
        return _monte_carlo(t, obs, logp, seed, n_mc)

    total = 0.0
    count = 0
    threshold = obs + np.log1p(REL_TOL)

    def recurse(j, caps, acc_logp):
        nonlocal total, count
        if j == len(cols) - 2:
            # Last two columns: vectorise column j; column j+1 is determined.
            first = _compositions(int(cols[j]), caps)
            last = caps[None, :] - first
            ok = last.sum(axis=1) == cols[j + 1]
            first, last = first[ok], last[ok]
            lp = acc_logp - gammaln(first + 1).sum(axis=1) - gammaln(last + 1).sum(axis=1)
            count += len(lp)
            sel = lp <= threshold
            total += np.exp(lp[sel]).sum()
            return
        for v in _compositions(int(cols[j]), caps):
            recurse(j + 1, caps - v, acc_logp - gammaln(v + 1).sum())

    recurse(0, rows.copy(), const)
    return {"p": float(min(total, 1.0)),
            "method": "Fisher-Freeman-Halton exact test, full enumeration (R fisher.test)",
            "n_tables": count}


def _monte_carlo(t, obs, logp, seed, n_mc):
    """Seeded Monte Carlo p of the exact test, as R ``fisher.test(simulate.p.value = TRUE)``.

    Tables with the observed margins are drawn by Patefield's algorithm (SciPy
    ``random_table``, as R's ``r2dtable``): the cost does not grow with the number of
    patients, where permuting the labels of 10^5 patients per table did.
    """
    from scipy.stats import random_table

    rows, cols = t.sum(axis=1), t.sum(axis=0)
    threshold = obs + np.log1p(REL_TOL)
    rng = np.random.default_rng(seed)
    hits, left = 0, n_mc
    while left:           # in blocks, so that memory stays small for large tables
        size = min(left, 20_000)
        sims = random_table(rows, cols).rvs(size=size, method="patefield", random_state=rng)
        hits += int((logp(sims.reshape(size, -1)) <= threshold).sum())
        left -= size
    return {"p": (hits + 1) / (n_mc + 1),
            "method": f"Monte Carlo estimate of the exact p ({n_mc} tables with the observed "
                      f"margins, Patefield's algorithm, seed {seed}); too many tables to "
                      "enumerate",
            "n_tables": n_mc}


def association_table(data: pd.DataFrame, row: str, column: str, row_levels=None,
                      col_levels=None, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cross-tabulation with chi-square and exact tests.

    Returns
    -------
    counts : pandas.DataFrame
        Tidy counts ``row_level, column_level, n`` over complete pairs.
    tests : pandas.DataFrame
        Pearson chi-square and exact test, with n used and n missing.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats import association_table
    >>> d = pd.DataFrame({"group": list("aaaaabbbbb"), "centre": list("bbbbaaaaab")})
    >>> counts, tests = association_table(d, "group", "centre")
    >>> tests[["test", "p"]].round(6).values.tolist()
    [['Pearson chi-square', 0.05778], ['exact', 0.206349]]

    As R ``chisq.test(tab, correct = FALSE)$p.value`` and ``fisher.test(tab)$p.value``.
    """
    pair = data[[row, column]].dropna()
    rl = list(row_levels) if row_levels is not None else sorted(pair[row].astype(str).unique())
    cl = list(col_levels) if col_levels is not None else sorted(pair[column].astype(str).unique())
    tab = pd.crosstab(pd.Categorical(pair[row].astype(str), categories=rl),
                      pd.Categorical(pair[column].astype(str), categories=cl), dropna=False)
    counts = tab.stack().rename("n").reset_index()
    counts.columns = [row, column, "n"]
    arr = tab.to_numpy()
    keep = arr[arr.sum(axis=1) > 0][:, arr.sum(axis=0) > 0]
    from scipy import stats

    chi2, p_chi, dof, expected = stats.chi2_contingency(keep, correction=False)
    exact = fisher_exact_rxc(keep, seed=seed)
    n_missing = int(len(data) - len(pair))
    tests = pd.DataFrame([
        {"test": "Pearson chi-square", "statistic": chi2, "df": int(dof), "p": p_chi,
         "n": int(keep.sum()), "n_missing": n_missing,
         "min_expected": float(expected.min()),
         "method": "chisq.test(correct = FALSE)"},
        {"test": "exact", "statistic": np.nan, "df": np.nan, "p": exact["p"],
         "n": int(keep.sum()), "n_missing": n_missing, "min_expected": float(expected.min()),
         "method": exact["method"]},
    ])
    return counts, tests
