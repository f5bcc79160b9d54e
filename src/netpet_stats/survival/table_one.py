"""Baseline characteristics (Table 1) by group, with missing counts.

Built with ``tableone`` (Pollard et al., JAMIA Open 2018): continuous variables
as median [Q1, Q3], categorical as n (%) with missing values shown as their own
level ``(missing)`` so that the percentages are of all patients in the column;
the ``Missing`` column gives the count of missing values of every variable on
its first line.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd


def table_one(data: pd.DataFrame, group: str, variables: list[str], continuous: list[str],
              labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Tidy Table 1: ``variable, level, Missing, Overall, <group levels...>``.

    Parameters
    ----------
    data
        One row per patient in the analysis population.
    group
        Column defining the table's columns (an ordered categorical keeps its order).
    variables, continuous
        Variables to summarise; those in ``continuous`` as median [Q1, Q3].
    labels
        Display names for variables.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats import table_one
    >>> d = pd.DataFrame({"group": list("aabbb"), "age": [60, 70, 50, 55, None],
    ...                   "sex": ["F", "M", "F", "F", "M"]})
    >>> t1 = table_one(d, "group", ["age", "sex"], ["age"])
    >>> t1[["variable", "level", "Missing", "Overall"]].values.tolist()[:2]
    [['n', '', '', 5], ['age, median [Q1,Q3]', '', '1', '57.5 [53.8,62.5]']]
    """
    from tableone import TableOne

    labels = labels or {}
    frame = data[[group, *variables]].copy()
    order = None
    if isinstance(frame[group].dtype, pd.CategoricalDtype):
        order = [str(c) for c in frame[group].cat.categories]
    frame[group] = frame[group].astype(str)
    categorical = [v for v in variables if v not in continuous]
    for v in categorical:
        frame[v] = frame[v].map(lambda x: np.nan if pd.isna(x) else _level(v, x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t1 = TableOne(frame, columns=variables, categorical=categorical, continuous=continuous,
                      nonnormal=continuous, groupby=group, missing=True, overall=True,
                      rename={v: labels.get(v, v) for v in variables},
                      order={group: order} if order else None)
    table = t1.tableone
    table.columns = [c[1] for c in table.columns]
    table = table.reset_index()
    table.columns = ["variable", "level", *table.columns[2:]]
    if order:
        table = table[["variable", "level", "Missing", "Overall", *order]]
    # tableone shows a missing categorical value as the level "None": name it, and
    # give every variable its missing count.
    table["level"] = table["level"].replace({"None": "(missing)"})
    missing = {labels.get(v, v): int(frame[v].isna().sum()) for v in variables}
    first = ~table["variable"].duplicated()
    table["Missing"] = [
        str(missing[name]) if is_first and name in missing else ""
        for name, is_first in zip(table["variable"].str.split(",").str[0], first)]
    # a group without patients (no P5 in a cohort, say) has counts but no percentages
    # or quantiles: tableone writes "0 (nan)" and "nan [nan,nan]"
    n_row = table["variable"] == "n"
    for col in table.columns[4:]:
        empty = str(table.loc[n_row, col].iloc[0]) == "0" if n_row.any() else False
        table[col] = table[col].map(
            lambda v: "0" if v == "0 (nan)" else (
                "—" if (isinstance(v, str) and v.startswith("nan [")) or (empty and v == "")
                else v))
    return table


def _level(variable: str, value) -> str:
    if variable == "extrahepatic":
        return "yes" if float(value) == 1 else "no"
    return str(value)
