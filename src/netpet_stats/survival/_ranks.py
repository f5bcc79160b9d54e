"""Sorting survival data whose values repeat: a registry's times and predictors.

Whole-day follow-up of 10^6 patients holds a few thousand distinct times, a model of
categories and whole years a few hundred distinct linear predictors. Sorting all
10^6 values (np.sort, np.unique, np.lexsort: 0.07-0.3 s each) is then most of what a
Cox fit's set-up or a concordance costs, and a workflow does it hundreds of times.
Hashing the values (``pd.factorize``, ~0.01 s) and sorting the distinct ones alone
gives the same order; integer ranks of fewer than 2^16 values are then ordered by
numpy's radix sort. A column whose first values are mostly distinct (continuous)
keeps the plain sort, where hashing first would cost more than it saves. Every
function here returns what the plain numpy call returns (tests/survival/
test_fast_paths.py), up to the sign of a zero where +0 and -0 are both present (equal
values, kept as whichever comes first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Values looked at to guess whether a column has few distinct values.
SAMPLE = 5000


def few_values(x: np.ndarray) -> bool:
    """Whether ``x`` is long and :data:`SAMPLE` values spread over it hold a tenth or
    more repeats (the guess only decides which exact path runs). Hashing pays off
    well before the values are few: 3,000 distinct days among 10^6 patients (the
    sample then holds half repeats) or 10^5 of them; it loses a little (0.2 s
    instead of 0.12 s at 10^6) where nearly every value is distinct."""
    if x.size <= 2 * SAMPLE:
        return False
    sample = x[::x.size // SAMPLE]
    return np.unique(sample).size < 0.9 * sample.size


def _codes(x: np.ndarray, descending: bool = False):
    """Rank of each value among the sorted distinct values (``None`` when a value is
    missing), and how many distinct values there are."""
    codes, distinct = pd.factorize(x)         # -0.0 and 0.0 one value, as numpy's sorts
    if (codes < 0).any():
        return None, 0
    order = np.argsort(-distinct if descending else distinct, kind="stable")
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    return rank[codes], order.size


def dense_rank(x) -> np.ndarray:
    """Position of each value among the sorted distinct values of ``x`` (int64).

    The inverse of ``np.unique(x, return_inverse=True)``, the same integers.

    Examples
    --------
    >>> from netpet_stats.survival._ranks import dense_rank
    >>> dense_rank(np.array([0.5, -1.0, 0.5, 2.0, 0.0, -0.0])).tolist()
    [2, 0, 2, 3, 1, 1]
    """
    x = np.asarray(x, float).ravel()
    if few_values(x):
        rank, _ = _codes(x)
        if rank is not None:
            return rank
    return np.unique(x, return_inverse=True)[1].astype(np.int64).ravel()


def sorted_distinct(x: np.ndarray) -> np.ndarray:
    """``np.unique(x)`` of a float array without missing values.

    Values already in order (a bootstrap's resample, drawn in time order) are not
    sorted again: one pass keeps the first of each run."""
    if x.size > 1 and is_sorted(x):
        return x[np.concatenate(([True], x[1:] != x[:-1]))]
    if few_values(x):
        return np.unique(pd.unique(x))
    return np.unique(x)


def is_sorted(x: np.ndarray) -> bool:
    """Whether ``x`` is in non-decreasing order (one pass; a bootstrap's resample drawn
    in time order is, and numpy's default sort of ordered floats is no faster than of
    shuffled ones)."""
    return x.size < 2 or bool((x[1:] >= x[:-1]).all())


def sorted_counts(x: np.ndarray):
    """``np.unique(x, return_counts=True)`` of a float array without missing values;
    values already in order are counted in one pass, not sorted again."""
    if not is_sorted(x):
        return np.unique(x, return_counts=True)
    first = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1]))) if x.size else \
        np.zeros(0, np.int64)
    return x[first], np.diff(np.append(first, x.size))


def exit_order(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """``np.lexsort((-event, -time))``: time descending, events (1) before censorings
    (0) at a time, the given order within both; for 0/1 events."""
    if few_values(time) and ((event == 0) | (event == 1)).all():
        rank, k = _codes(time, descending=True)
        if rank is not None and k < 2 ** 16:
            # two stable passes: events first, then by time (radix sort on uint16)
            first = np.argsort(event == 0, kind="stable")
            return first[np.argsort(rank.astype(np.uint16)[first], kind="stable")]
    return np.lexsort((-event, -time))


#: pandas' inferred kinds of an object column whose values are equal only when their
#: text is: hashing them joins exactly the rows their text would.
_TEXT_KINDS = frozenset({"string", "integer", "boolean", "empty"})


def hashing_keeps_text(values: pd.Series, distinct=None) -> bool:
    """Whether ``pd.factorize(values)`` joins exactly the rows whose text (``str``) is
    the same, so that the text of each distinct value stands for its rows.

    Hashing joins values that Python finds equal, whose text may differ: 1, 1.0 and
    True in an object column. Taking the text of a distinct value would then label all
    of them by whichever came first, so that the levels (a Cox model's strata, its
    dummy columns, Table 1's rows) would depend on the order of the rows. Such a column
    is read row by row instead (the caller's ``astype(str)``). When the ``distinct``
    values ``pd.factorize`` found are all ``str`` (a text column), no other value can
    have been joined to them (a ``str`` equals only a ``str``): known at once. Other
    object columns take one pass (pandas' ``infer_dtype``, ~20 ms at 10^6 rows).

    ``values`` have their zeros' signs joined (:func:`zero_signs_joined`): 0.0 and -0.0
    are one level, as in R, so a column of numbers is read by hashing.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return True                    # distinct categories, each row its category's text
    kind = values.dtype.kind
    if kind in "iubf":
        return True
    if kind == "O":
        if distinct is not None and all(isinstance(v, str) for v in distinct):
            return True
        return pd.api.types.infer_dtype(values, skipna=True) in _TEXT_KINDS
    return False


def zero_signs_joined(values: pd.Series) -> pd.Series:
    """``values`` with -0.0 read as 0.0, as R reads and prints both (one level, "0").

    A level, dummy column or stratum must depend neither on a zero's sign (``-0.0``
    comes from rounding a small negative number, or -1 x 0) nor on which of the two a
    hash meets first. A float column gains 0.0 (-0.0 + 0.0 is 0.0); an object column is
    mapped only when one of its distinct values is a float zero.
    """
    kind = values.dtype.kind
    if kind == "f":
        return values + 0.0
    if kind == "O" and not isinstance(values.dtype, pd.CategoricalDtype):
        if any(isinstance(v, float) and v == 0 for v in pd.unique(values)):
            return values.map(lambda v: v + 0.0 if isinstance(v, float) else v)
    return values
