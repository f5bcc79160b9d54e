"""Result tables built from numpy columns at the cost of a few microseconds each.

The engine's results are tidy :class:`pandas.DataFrame` objects. Built the default
way, ``pd.DataFrame(dict_of_arrays)`` copies every column into consolidated blocks
and inspects each array; on a few hundred subjects that cost more than the
estimate itself (100 us for a Kaplan-Meier table whose counts take 30 us). Every
column here is an array the estimator has just computed and hands over, so
pandas may keep it as it is: no copy, no per-value inference, and the index given
(``RangeIndex``, the default one). The frame holds the same values, dtypes, column
order and index as the default construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def frame(columns: dict) -> pd.DataFrame:
    """A frame of equal-length numpy columns, in the given order, without copying them.

    Each value must be a numpy array owned by the caller's result alone (not a view
    of the user's input, nor the same array twice): a frame of other columns (text)
    keeps it as it is; columns of numbers are stacked into new blocks. When
    every column is a number the columns are stacked into one block per dtype, as
    pandas consolidates them (:func:`_blocks_frame`): one block for a table of floats,
    two for a Kaplan-Meier table's integer counts beside its float estimates.
    """
    values = list(columns.values())
    n = len(values[0]) if values else 0
    if values and _FROM_BLOCKS and all(v.ndim == 1 and v.dtype.kind in "biuf" for v in values):
        return _blocks_frame(columns, n)
    if values and all(v.dtype == np.float64 for v in values):
        # stacked as rows and transposed: each column stays contiguous in the block
        return pd.DataFrame(np.vstack(values).T, columns=_column_index(tuple(columns)),
                            copy=False)
    return pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)


try:
    # pandas' block manager, as downstream libraries (pyarrow, dask) build frames from
    # blocks: ``make_block`` is the entry point pandas keeps for them
    from pandas.core.internals import BlockManager
    from pandas.core.internals.api import make_block
    _FROM_BLOCKS = hasattr(pd.DataFrame, "_from_mgr")
except ImportError:                               # another pandas: the public path
    _FROM_BLOCKS = False


def _blocks_frame(columns: dict, n: int) -> pd.DataFrame:
    """The frame of :func:`frame` from one block per dtype, as pandas consolidates it.

    ``pd.DataFrame(dict)`` inspects and wraps every column as its own block, then
    consolidates them: 55 us for the eight columns of a Kaplan-Meier table, of which
    the counts take 25 us; stacked into one block per dtype here, 20 us. The frame
    holds the same values, dtypes, column order and index (tests/survival/
    test_fast_paths.py compares the two constructions).
    """
    names = tuple(columns)
    by_dtype: dict = {}
    for j, values in enumerate(columns.values()):
        by_dtype.setdefault(values.dtype, []).append(j)
    arrays = list(columns.values())
    # a run of neighbouring columns is placed by a slice (pandas' cheapest placement)
    blocks = tuple(make_block(np.vstack([arrays[j] for j in locs]), ndim=2,
                              placement=(slice(locs[0], locs[-1] + 1)
                                         if locs[-1] - locs[0] == len(locs) - 1
                                         else np.array(locs)))
                   for locs in by_dtype.values())
    manager = BlockManager(blocks, [_column_index(names), pd.RangeIndex(n)],
                           verify_integrity=False)
    return pd.DataFrame._from_mgr(manager, axes=manager.axes)


_COLUMN_INDEXES: dict = {}


def _column_index(names: tuple) -> pd.Index:
    """The column labels as a pandas Index, built once per set of names (12 us each time
    otherwise). Each frame gets its own view of it (0.6 us): the labels are shared,
    immutable, and a ``name`` a user gives one frame's columns stays with that frame."""
    index = _COLUMN_INDEXES.get(names)
    if index is None:
        index = _COLUMN_INDEXES[names] = pd.Index(list(names))
    return index.view()


def as_column(values) -> np.ndarray:
    """A list of Python numbers as the column pandas would infer from it (int64 or
    float64); an array as it is."""
    return values if isinstance(values, np.ndarray) else np.asarray(values)


#: Up to this many rows a table's columns are read in one conversion of the whole
#: table; beyond it column by column (the conversion copies every column).
WHOLE_TABLE_ROWS = 2000


#: pandas' own reader of one column's values (``DataFrame._get_column_array``, which
#: pandas' groupby and indexing use), or None in a pandas without it.
_COLUMN_ARRAY = getattr(pd.DataFrame, "_get_column_array", None)


def _read_only(values: np.ndarray) -> np.ndarray:
    """A read-only view: the caller reads the table's own values and must not change them."""
    view = values.view()
    view.flags.writeable = False
    return view


def float_columns(table: pd.DataFrame, names) -> list:
    """The named columns of ``table`` as float arrays, to be read, not written.

    Reading a column of a new frame builds a Series (about 25 us each). Float64
    columns (every column a curve of this package holds) are read as read-only views
    of the table's own values through pandas' column reader (1 us each). Otherwise a
    small table is converted once to a float matrix, from which the columns are
    sliced (interleaving its blocks, 45 us for a Kaplan-Meier table). A table with a
    column that is not numeric, with repeated names, or with many rows is read column
    by column. The values are the same either way.
    """
    locs = [table.columns.get_loc(name) for name in names]
    if _COLUMN_ARRAY is not None and all(isinstance(j, int) for j in locs):
        arrays = [_COLUMN_ARRAY(table, j) for j in locs]
        if all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in arrays):
            return [_read_only(a) for a in arrays]
    if len(table) <= WHOLE_TABLE_ROWS:
        if all(isinstance(j, int) for j in locs):
            try:
                values = table.to_numpy(dtype=float)
            except (TypeError, ValueError):
                values = None
            if values is not None:
                return [values[:, j] for j in locs]
    return [table[name].to_numpy(dtype=float) for name in names]
