"""What leaves a centre: every released number with its smallest patient count and rule.

A site's bundle is built through :class:`Release`, which records, for every number
it puts in the bundle, the path of the number, the smallest count of patients
behind it and the rule that let it out. The ledger is therefore complete by
construction (a test flattens each bundle and checks every number against it).

Rules (Statistics Netherlands / ONS practice for tabular output):

* ``threshold``: a count below the minimum cell size (``min_cell``, default 5) is
  not released (primary suppression); a non-zero count is released only when it is
  at least ``min_cell``; zero is released.
* ``secondary``: when a column of counts whose total is released has exactly one
  suppressed cell, the next smallest non-zero cell is suppressed too, so the
  first cannot be recovered by subtraction.
* ``aggregate``: a sum over at least ``min_cell`` patients (a score vector, an
  information matrix, a sum of squares).
* ``site below threshold``: a centre with fewer than ``min_cell`` patients or events
  for an endpoint releases only that it is below the threshold.
* ``small category``: the Cox sums of a site in which a category of a covariate (a
  grade, a NETPET group) has fewer than ``min_cell`` patients are still released (the
  pooled fit could not be exact without them), and the ledger says so, with that
  count: governance decides, with the ledger in hand, whether the site takes part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RULE_AGGREGATE = "aggregate over >= min_cell patients"
RULE_COUNT = "count >= min_cell (or zero)"
RULE_SUPPRESSED = "suppressed: count below min_cell"
RULE_SECONDARY = "secondary suppression (protects a suppressed cell of the same column)"
RULE_PRESENCE = "presence of a category (no count released)"
RULE_REFUSED = "below threshold: only the refusal is released"
RULE_DISCLOSIVE = "opt-in per-time counts (disclosive tier)"
RULE_ROUNDED = "rounded counts (rounded tier)"
RULE_SETTING = "analysis setting (no patient data)"
RULE_SMALL_CATEGORY = ("aggregate over all the site's patients, including a category with "
                       "fewer than min_cell of them here (needed for the exact pooled fit)")


class Release:
    """A bundle under construction and its release ledger.

    Examples
    --------
    >>> from netpet_stats.federated.disclosure import Release
    >>> r = Release(round_=1)
    >>> r.put(["os", "score"], [1.5, -2.0], 40, "aggregate over >= min_cell patients")
    >>> r.bundle["os"]["score"], len(r.ledger())
    ([1.5, -2.0], 2)
    """

    def __init__(self, round_: int):
        self.round = round_
        self.bundle: dict = {}
        self._rows: list[dict] = []

    def put(self, path: list[str], value, smallest_count, rule: str) -> None:
        """Place ``value`` at ``path`` and record each number in it."""
        value = to_json(value)
        node = self.bundle
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        for sub, leaf in flatten(value, path):
            self._rows.append({"round": self.round, "path": sub, "value": leaf,
                               "smallest_count": smallest_count, "rule": rule})

    def ledger(self) -> pd.DataFrame:
        """One row per released number (strings such as labels included)."""
        return pd.DataFrame(self._rows, columns=["round", "path", "value", "smallest_count",
                                                 "rule"])


def to_json(value):
    """Numpy arrays and scalars as plain JSON values (non-finite numbers as None)."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    return value


def flatten(value, path: list[str]):
    """(path, leaf) of every leaf of a JSON value; the path joined by '/'."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from flatten(v, [*path, str(k)])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from flatten(v, [*path, str(i)])
    else:
        yield "/".join(path), value


def suppress_counts(counts: np.ndarray, min_cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Primary and secondary suppression of a table of counts, column by column.

    Parameters
    ----------
    counts
        (rows, columns) counts; each column's total is assumed released.

    Returns
    -------
    released, rule
        ``released`` with suppressed cells as NaN; ``rule`` the rule of each cell.

    Examples
    --------
    >>> import numpy as np
    >>> from netpet_stats.federated.disclosure import suppress_counts
    >>> out, _ = suppress_counts(np.array([[3], [10], [20]]), 5)
    >>> out.ravel().tolist()  # the 3 suppressed, and the 10 with it
    [nan, nan, 20.0]
    """
    counts = np.asarray(counts, float)
    released = counts.copy()
    rule = np.full(counts.shape, RULE_COUNT, dtype=object)
    small = (counts > 0) & (counts < min_cell)
    released[small] = np.nan
    rule[small] = RULE_SUPPRESSED
    for j in range(counts.shape[1]):
        if small[:, j].sum() == 1:
            others = np.flatnonzero(~small[:, j] & (counts[:, j] > 0))
            if others.size:
                k = others[np.argmin(counts[others, j])]
                released[k, j] = np.nan
                rule[k, j] = RULE_SECONDARY
    return released, rule
