"""Baseline characteristics (Table 1) by group, with missing counts.

Built with ``tableone`` (Pollard et al., JAMIA Open 2018): continuous variables
as median [Q1, Q3], categorical as n (%) of the patients with a value, and a
``Missing`` row per variable with missing values (the layout of R gtsummary).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ._ranks import hashing_keeps_text, zero_signs_joined


def table_one(data: pd.DataFrame, group: str, variables: list[str], continuous: list[str],
              labels: dict[str, str] | None = None,
              level_labels: dict[str, dict] | None = None) -> pd.DataFrame:
    """Tidy Table 1: ``variable, level, Overall, <group levels...>``.

    Continuous variables as median [Q1, Q3], categorical ones as n (%) of the
    patients with a value (as R gtsummary::tbl_summary): a variable with missing
    values gets a ``Missing`` row of counts per column, and its label says on how
    many patients its summary rests ("n = 266"), so that no patient is counted
    twice and no percentage silently includes the missing ones.

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
    level_labels
        Display names of levels, per variable (``{"extrahepatic": {1: "Yes"}}``);
        other text levels are shown with a capital first letter.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats import table_one
    >>> d = pd.DataFrame({"group": list("aabbb"), "age": [60, 70, 50, 55, None],
    ...                   "sex": ["female", "male", "female", "female", None]})
    >>> t1 = table_one(d, "group", ["age", "sex"], ["age"])
    >>> t1[["variable", "level", "Overall", "a", "b"]].values.tolist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [['n', '', '5', '2', '3'],
     ['age (n = 4), median [Q1, Q3]', '', '57.5 [53.8, 62.5]', '65.0 [62.5, 67.5]',
      '52.5 [51.2, 53.8]'],
     ['age (n = 4), median [Q1, Q3]', 'Missing', '1', '0', '1'],
     ['sex (n = 4), n (%)', 'Female', '3 (75.0)', '1 (50.0)', '2 (100.0)'],
     ['sex (n = 4), n (%)', 'Male', '1 (25.0)', '1 (50.0)', '0 (0.0)'],
     ['sex (n = 4), n (%)', 'Missing', '1', '0', '1']]
    """
    from tableone import TableOne

    labels = labels or {}
    level_labels = level_labels or {}
    frame = data[[group, *variables]].copy()
    if isinstance(frame[group].dtype, pd.CategoricalDtype):
        order = [str(c) for c in frame[group].cat.categories]
    else:
        order = sorted(map(str, pd.unique(frame[group].dropna())))
    frame[group] = frame[group].astype(str)
    categorical = [v for v in variables if v not in continuous]
    for v in categorical:
        # each distinct value's label once (a registry's million rows hold a handful)
        names = level_labels.get(v, {})
        # mapped category by category, or row by row where hashing would join values
        # whose labels differ (1 and 1.0 in an object column: hashing_keeps_text)
        frame[v] = zero_signs_joined(frame[v])        # R's one level for 0 and -0
        codes, distinct = pd.factorize(frame[v])
        if (isinstance(frame[v].dtype, pd.CategoricalDtype)
                or not hashing_keeps_text(frame[v], distinct)):
            frame[v] = frame[v].map(lambda x: np.nan if pd.isna(x) else _level(x, names))
            continue
        shown = np.array([_level(x, names) for x in distinct] + [np.nan], dtype=object)
        frame[v] = shown[codes]                       # code -1 (missing): the last, NaN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t1 = TableOne(frame, columns=variables, categorical=categorical, continuous=continuous,
                      nonnormal=continuous, groupby=group, missing=False, overall=True,
                      include_null=False, order={group: order}, decimals=1)
    table = t1.tableone
    table.columns = [c[1] for c in table.columns]
    table = table.reset_index()
    table.columns = ["variable", "level", *table.columns[2:]]
    columns = ["Overall", *order]
    table = table[["variable", "level", *columns]].astype(str)
    table["level"] = table["level"].replace({"nan": ""}).str.strip()
    rows = [table.iloc[[0]].assign(variable="n", level="")]
    for v in variables:
        block = table[table["variable"].str.split(",").str[0].str.strip() == v].copy()
        missing = frame[v].isna()
        name = labels.get(v, v)
        label = name + (f" (n = {int((~missing).sum())})" if missing.any() else "")
        label += ", median [Q1, Q3]" if v in continuous else ", n (%)"
        block["variable"] = label
        for col in columns:   # tableone writes "a,b" inside brackets: add the space
            block[col] = block[col].str.replace(r"\[([^,\]]*),([^\]]*)\]", r"[\1, \2]",
                                                regex=True)
        rows.append(block)
        if missing.any():
            counts = {"Overall": int(missing.sum()),
                      **{g: int(missing[frame[group] == g].sum()) for g in order}}
            rows.append(pd.DataFrame([{"variable": label, "level": "Missing",
                                       **{c: str(counts[c]) for c in columns}}]))
    table = pd.concat(rows, ignore_index=True)
    # a group without patients (no P5 in a cohort, say) has counts but no percentages
    # or quantiles: tableone writes "0 (nan)" and "nan [nan, nan]"
    for col in order:
        table[col] = table[col].map(
            lambda x: "0" if x == "0 (nan)" else
            "—" if x.startswith("nan [") or x in ("", "nan") else x)
    return table


def _level(value, names: dict) -> str:
    """A level as printed: the user's label, else the value with a capital first letter."""
    for key in (value, str(value)):
        if key in names:
            return str(names[key])
    try:
        number = float(value)
        if number.is_integer() and float(number) in names:
            return str(names[float(number)])
    except (TypeError, ValueError):
        pass
    text = str(value)
    return text[:1].upper() + text[1:]
