"""What leaves a centre: every released number with its smallest patient count and rule.

A site's bundle is built through :class:`Release`, which records, for every number
it puts in the bundle, the path of the number, the smallest count of patients
behind it and the rule that let it out. The ledger is therefore complete by
construction (a test flattens each bundle and checks every number against it).

Rules (Statistics Netherlands / ONS practice for tabular output; Hundepool et al.
2012, ch. 4 and 5):

* ``threshold``: a count below the minimum cell size (``min_cell``, default 5) is
  not released (primary suppression); a non-zero count is released only when it is
  at least ``min_cell``; zero is released.
* ``small group``: a group (a column of Table 1: a NETPET group) of 1 to
  ``min_cell - 1`` patients releases no breakdown at all, not even the zeros of its
  other cells (a zero beside a suppressed cell would show which level the few
  patients have); nor does a group withheld with it so that its size cannot be
  worked out from the site's total.
* ``secondary``: in a column of counts whose total is known, the suppressed cells
  must together hold at least ``min_cell`` patients (or none), so that no fewer
  than ``min_cell`` patients can be located by subtraction. Zeros count as cells:
  the next cell suppressed is the smallest of the column, zeros included, that
  brings the suppressed total to ``min_cell``.
* ``aggregate``: a sum over at least ``min_cell`` patients (a score vector, an
  information matrix, a sum of squares); ``smallest_count`` is the smallest group of
  patients behind it (every level of every model term, the reference included).
* ``site below threshold``: a centre with fewer than ``min_cell`` patients or events
  for an endpoint releases only that it is below the threshold; refused for every
  endpoint, it releases nothing else (no Table 1, no list of levels).
* ``small category``: the Cox sums of a site in which a category of a covariate (a
  grade, a NETPET group, the reference level included) has fewer than ``min_cell``
  patients are still released (the pooled fit could not be exact without them), and
  the ledger says so, with that count: governance decides, with the ledger in hand,
  whether the site takes part.
* ``rounded``: the rounded Kaplan-Meier tier releases cumulative counts rounded to
  multiples of ``km_round_to``; ``smallest_count`` is the exact count rounded, which
  may be below ``min_cell`` (rounding is the protection), and a group of fewer than
  ``min_cell`` patients releases no curve.

Every ledger row's ``smallest_count`` is the smallest number of patients behind that
one number (``None`` for a setting, a refusal or a suppressed cell: no patient count
is behind them).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RULE_AGGREGATE = "aggregate over >= min_cell patients"
RULE_COUNT = "count >= min_cell (or zero)"
RULE_SUPPRESSED = "suppressed: count below min_cell"
RULE_SECONDARY = ("secondary suppression (the suppressed cells of the column together hold at "
                  "least min_cell patients)")
RULE_PRESENCE = ("presence of a category (no count released; smallest_count: its patients "
                 "here)")
RULE_SMALL_GROUP = "no breakdown: a group of fewer than min_cell patients"
RULE_GROUP_SECONDARY = ("no breakdown: a group withheld with a group of fewer than min_cell "
                        "patients, so that the small group's size cannot be worked out from "
                        "the total")
RULE_MISSING_SMALL = ("withheld: the patients without this value in the group (by subtraction) "
                      "are fewer than min_cell")
RULE_REFUSED = "below threshold: only the refusal is released"
RULE_DISCLOSIVE = ("opt-in per-time counts (disclosive tier; smallest_count: the patients at "
                   "that time)")
RULE_ROUNDED = ("cumulative count rounded to a multiple of km_round_to (rounded tier); "
                "smallest_count: the exact count rounded, which may be below min_cell")
RULE_GRID = ("time grid of the rounded tier (smallest_count: patients followed into the "
             "interval; the last interval shows the group's longest follow-up to within "
             "km_grid)")
RULE_DEVIATION = ("largest deviation of the group's rounded curve from its exact curve, a "
                  "group of >= min_cell patients")
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

    def put(self, path: list[str], value, smallest_count, rule) -> None:
        """Place ``value`` at ``path`` and record each number in it.

        ``smallest_count`` and ``rule`` are one for every number in ``value``, or
        arrays of ``value``'s shape giving each number its own.
        """
        value = to_json(value)
        node = self.bundle
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        leaves = list(flatten(value, path))
        counts, rules = _per_leaf(smallest_count, len(leaves)), _per_leaf(rule, len(leaves))
        for (sub, leaf), count, why in zip(leaves, counts, rules):
            count = None if count is None or (isinstance(count, float) and np.isnan(count)) \
                else int(count)
            self._rows.append({"round": self.round, "path": sub, "value": leaf,
                               "smallest_count": count, "rule": why})

    def ledger(self) -> pd.DataFrame:
        """One row per released number (strings such as labels included)."""
        return pd.DataFrame(self._rows, columns=["round", "path", "value", "smallest_count",
                                                 "rule"])


def _per_leaf(value, n: int) -> list:
    """One value per leaf: a scalar repeated, or an array's elements in leaf order."""
    if isinstance(value, (list, tuple, np.ndarray)):
        flat = np.asarray(value, dtype=object).ravel().tolist()
        if len(flat) != n:
            raise ValueError(f"{len(flat)} ledger entries for {n} numbers")
        return flat
    return [value] * n


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


def suppress_counts(counts: np.ndarray, min_cell: int,
                    withheld_columns=None) -> tuple[np.ndarray, np.ndarray]:
    """Disclosure control of a table of counts whose column totals are known.

    Column by column (a column is a group of patients, its total the group's size):

    1. a column of 1 to ``min_cell - 1`` patients releases no cell at all (not even
       its zeros), nor does a column of ``withheld_columns``;
    2. a count from 1 to ``min_cell - 1`` is suppressed (primary);
    3. when the suppressed cells of a column hold together from 1 to
       ``min_cell - 1`` patients, the smallest remaining cell (zeros included) that
       brings them to at least ``min_cell`` is suppressed too (secondary), so that
       subtraction from the total locates no fewer than ``min_cell`` patients.

    Parameters
    ----------
    counts
        (rows, columns) counts; each column's total is assumed released.
    withheld_columns
        Columns to withhold whole (e.g. a group whose size is itself withheld).

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
    >>> out, _ = suppress_counts(np.array([[1, 6], [0, 7]]), 5)
    >>> out.tolist()  # a group of one patient: no breakdown, not even its zero
    [[nan, 6.0], [nan, 7.0]]
    """
    counts = np.asarray(counts, float).reshape(len(counts), -1)
    released = counts.copy()
    rule = np.full(counts.shape, RULE_COUNT, dtype=object)
    totals = counts.sum(axis=0)
    whole = (totals > 0) & (totals < min_cell)
    released[:, whole] = np.nan
    rule[:, whole] = RULE_SMALL_GROUP
    for j in (withheld_columns or []):
        if not whole[j]:
            released[:, j] = np.nan
            rule[:, j] = RULE_GROUP_SECONDARY
            whole[j] = True
    small = (counts > 0) & (counts < min_cell) & ~whole[None, :]
    released[small] = np.nan
    rule[small] = RULE_SUPPRESSED
    for j in np.flatnonzero(~whole):
        hidden = np.isnan(released[:, j])
        held = counts[hidden, j].sum()
        if held == 0 or held >= min_cell:
            continue
        # the remaining cells, smallest first (zeros included; ties in row order): the
        # smallest that is enough, else as many as it takes
        rest = sorted(np.flatnonzero(~hidden), key=lambda r: (counts[r, j], r))
        enough = [r for r in rest if held + counts[r, j] >= min_cell]
        for r in enough[:1] or rest:
            released[r, j] = np.nan
            rule[r, j] = RULE_SECONDARY
            held += counts[r, j]
            if held >= min_cell:
                break
    return released, rule
