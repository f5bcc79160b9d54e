"""A column's cells by distinct value, so that a per-cell rule runs once per distinct text.

A registry column of 10^6 patients holds a few hundred distinct texts (a centre, a
grade, an age, a time to two decimals); the rules that read a cell (missing, a
number, a code) depend on the cell alone. Reading each distinct text once and
giving every cell the result of its text is the same as reading every cell, at a
fraction of the cost: the per-cell Python work took most of the ~100 s the cohort
rule spent on such a registry.

Only text is grouped, by equality of the whole string (two texts are equal only
when they are the same characters). Any other cell (a spreadsheet number, a date,
a percentage cell) keeps an entry of its own: ``1``, ``1.0``, ``True`` and a
``Percent`` of 1.0 compare equal but are read differently, and ``-0.0`` equals
``0.0``. Every empty cell (``None``) shares one entry.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The type of each cell of an object array, in one C loop (no Python call per cell).
_type_of = np.frompyfunc(type, 1, 1)


def cell_array(raw: pd.Series) -> np.ndarray:
    """The cells of ``raw`` as an object array, each as iterating the series yields it."""
    if raw.dtype == object:
        return raw.to_numpy()
    # (a typed column, such as a test's floats: iteration gives Python scalars, Timestamps)
    return np.fromiter(raw, dtype=object, count=len(raw))


def distinct_cells(cells: np.ndarray, text_only: bool = False) -> tuple[np.ndarray, list]:
    """Each cell's entry in a list of distinct values, and that list.

    Parameters
    ----------
    cells
        A one-dimensional object array.
    text_only
        Every cell is known to be a ``str`` (the cells of a delimited text file):
        the type of each is not looked at.

    Returns
    -------
    key : numpy.ndarray of intp
        For each cell, the position of its value in ``values``.
    values : list
        One entry per distinct text (``str``, in order of first appearance), one
        for ``None`` when a cell is empty, then one per other cell (numbers, dates,
        anything not text), in the order of the cells.

    Examples
    --------
    >>> key, values = distinct_cells(np.array(["G1", None, "G2", "G1", 2.0], dtype=object))
    >>> key.tolist(), values
    ([0, 2, 1, 0, 3], ['G1', 'G2', None, 2.0])
    """
    n = len(cells)
    key = np.empty(n, dtype=np.intp)
    if n == 0:
        return key, []
    if text_only:
        codes, uniques = pd.factorize(cells)
        return codes.astype(np.intp, copy=False), uniques.tolist()
    kinds = _type_of(cells)
    text = kinds == str
    values: list = []
    if text.any():
        # one hash table in C over the texts: the distinct ones, and each cell's
        codes, uniques = pd.factorize(cells[text])
        key[text] = codes
        values = uniques.tolist()
    empty = kinds == type(None)
    if empty.any():
        key[empty] = len(values)
        values.append(None)
    other = np.flatnonzero(~(text | empty))
    if len(other):
        key[other] = np.arange(len(values), len(values) + len(other))
        values.extend(cells[other].tolist())
    return key, values


def broadcast(per_value: list, key: np.ndarray, dtype=object) -> np.ndarray:
    """Each cell's result from the results of the distinct values (``per_value[key]``)."""
    if dtype is object:
        # each result one object, never unpacked as a sequence
        table = np.fromiter(per_value, dtype=object, count=len(per_value))
    else:
        table = np.asarray(per_value, dtype=dtype).reshape(len(per_value))
    return table[key]


def positions_of(key: np.ndarray, entries: list[int]) -> np.ndarray:
    """The cells (positions, in order) whose value is one of ``entries``."""
    if not entries:
        return np.empty(0, dtype=np.intp)
    hit = np.zeros(int(key.max(initial=-1)) + 1, dtype=bool)
    hit[entries] = True
    return np.flatnonzero(hit[key])
