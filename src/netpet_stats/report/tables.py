"""Writing result tables: tidy CSV for machines, Markdown for people.

CSV numbers are written with ``%.10g`` and ``\\n`` line endings so that the same
input gives byte-identical files on every platform; the Markdown copy rounds to
four significant digits for reading.
"""

from __future__ import annotations

from pathlib import Path

import re

import numpy as np
import pandas as pd


def write_table(frame: pd.DataFrame, csv_path: str | Path, title: str | None = None,
                note: str | None = None) -> None:
    """Write ``frame`` to ``csv_path`` and a Markdown rendering beside it (``.md``).

    Parameters
    ----------
    frame
        Tidy table.
    csv_path
        Destination ending in ``.csv``.
    title, note
        Heading and a closing note (method, conventions) for the Markdown copy.
    """
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(csv_path, index=False, float_format="%.10g", lineterminator="\n")
    md = []
    if title:
        md.append(f"# {title}\n")
    md.append(to_markdown(frame))
    if note:
        md.append(f"\n{note}\n")
    csv_path.with_suffix(".md").write_text("\n".join(md) + "\n", encoding="utf-8")


def fmt_p(p) -> str:
    """A p-value as journals print it (AMA Manual of Style, 11th ed., 19.5).

    Two decimals, three below 0.01, "< 0.001" below that and "> 0.99" above: one
    rule for every table, so that 0.0020 and 0.023 are never printed side by side
    (as 0.002 and 0.02). A p just below 0.05 that two decimals would show as 0.05
    keeps its third decimal (0.049, not 0.05).

    Examples
    --------
    >>> [fmt_p(p) for p in (2.4e-05, 0.00123, 0.0020, 0.0234, 0.0432, 0.0487, 0.4321,
    ...                     0.2996, 0.0999, 0.996, float("nan"))]
    ['< 0.001', '0.001', '0.002', '0.02', '0.04', '0.049', '0.43', '0.30', '0.10', '> 0.99', '—']
    """
    if p is None or (isinstance(p, (float, np.floating)) and np.isnan(p)):
        return "—"
    if p < 0.001:
        return "< 0.001"
    if p > 0.99:
        return "> 0.99"
    if p < 0.01 - 5e-4:                          # shows as 0.00x; 0.0096 reads as 0.01
        return f"{p:.3f}"
    text = f"{p:.2f}"
    if p < 0.05 and text == "0.05":
        return f"{p:.3f}"
    return text


#: Columns holding p-values, printed with :func:`fmt_p` in the Markdown copies.
P_COLUMNS = re.compile(r"^(p|p_adjusted|robust_p|p_value|chisq_p|p_.*)$")


def _fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return ""
        if np.isinf(value):
            return "Inf" if value > 0 else "-Inf"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3e}"
        return f"{value:.4g}"
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).replace("|", "\\|")


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (``tabulate`` pipe format)."""
    from tabulate import tabulate

    is_p = [bool(P_COLUMNS.match(str(c))) for c in frame.columns]
    cells = [[fmt_p(v) if p and isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
              else _fmt(v) for v, p in zip(row, is_p)]
             for row in frame.itertuples(index=False)]
    return tabulate(cells, headers=[str(c) for c in frame.columns], tablefmt="pipe",
                    disable_numparse=True)


_COUNT = re.compile(r"^\s*(\d+)\s*(\(.*\))?\s*$")


def _count(value) -> int | None:
    """The count in a cell (``7``, ``"7 (12.5)"``), or None for any other content."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        match = _COUNT.match(value)
        if match:
            return int(match.group(1))
    return None


def complementary_suppression(hidden: dict, counts: dict, sums: list) -> dict:
    """Secondary (complementary) small-cell suppression over a set of published sums.

    ``hidden`` and ``counts`` map each cell (any hashable key) to whether it is
    hidden and to its count; ``sums`` lists ``(cells, total)``: cells that add up
    to a published total (``total`` None: a total published elsewhere, never
    hidden; otherwise the cell holding the total). Wherever exactly one cell of a
    sum is hidden while its total is shown, its value could be recovered by
    subtraction: the smallest other cell of the sum is hidden too (a zero only if
    no count is left; if no cell is left, the total itself when it is a cell).
    Repeated until no sum has a single hidden cell, the practice of statistical
    disclosure control (Hundepool et al., *Statistical Disclosure Control*, 2012,
    ch. 4). Written here because no maintained Python library does cell suppression
    on tables given as data frames (sdcMicro is R).

    Returns
    -------
    dict
        The cells to hide.
    """
    hidden = dict(hidden)

    def hide_one_more(cells, total) -> bool:
        if total is not None and hidden[total]:
            return False
        if sum(hidden[cell] for cell in cells) != 1:
            return False
        free = [cell for cell in cells if not hidden[cell]]
        if free:
            hidden[min(free, key=lambda cell: (counts[cell] == 0, counts[cell]))] = True
            return True
        if total is not None:
            hidden[total] = True
            return True
        return False

    changed = True
    while changed:
        changed = False
        for cells, total in sums:
            changed |= hide_one_more(cells, total)
    return hidden


def suppress_table1(table: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Primary and secondary small-cell suppression of a Table 1 (``table_one`` layout).

    Primary: every count from 1 to ``threshold - 1`` becomes ``"<threshold"``.
    Secondary (:func:`complementary_suppression`): the levels of a variable add up
    to its column's ``n`` (missing values are a level), and the groups of a level
    add up to its ``Overall``.
    """
    out = table.copy().astype(object)
    mark = f"<{threshold}"
    groups = [c for c in out.columns if c not in ("variable", "level", "Missing", "Overall")]
    columns = ["Overall", *groups]
    counts = {(i, c): _count(out.at[i, c]) for i in out.index for c in columns}
    blocks = [list(idx) for _, idx in out.groupby("variable", sort=False).groups.items()]
    blocks = [b for b in blocks if out.at[b[0], "variable"] != "n"
              and all(counts[(i, c)] is not None for i in b for c in columns)]
    cells = [(i, c) for b in blocks for i in b for c in columns]
    hidden = {cell: 0 < counts[cell] < threshold for cell in cells}
    sums = [([(i, c) for i in b], None) for b in blocks for c in columns]   # column n
    sums += [([(i, g) for g in groups], (i, "Overall")) for b in blocks for i in b]
    hidden = complementary_suppression(hidden, {c: counts[c] for c in cells}, sums)
    for (i, c), hide in hidden.items():
        if hide:
            out.at[i, c] = mark
    return out


def suppress_counts(frame: pd.DataFrame, column: str, threshold: int,
                    by: list[str] | None = None) -> pd.DataFrame:
    """Primary and secondary suppression of a count column of a tidy table.

    Without ``by`` the counts add up to one total published elsewhere (the NETPET
    score distribution and the number of patients received). With ``by`` = two
    columns the table is a cross-tabulation in long form whose row and column
    totals are published elsewhere (group sizes and grade counts in Table 1).
    """
    out = frame.copy().astype({column: object})
    counts = {i: int(out.at[i, column]) for i in out.index}
    hidden = {i: 0 < n < threshold for i, n in counts.items()}
    if not by:
        sums = [(list(out.index), None)]
    else:
        sums = [(list(idx), None) for key in by for idx in out.groupby(key, sort=False).groups.values()]
    hidden = complementary_suppression(hidden, counts, sums)
    for i, hide in hidden.items():
        if hide:
            out.at[i, column] = f"<{threshold}"
    return out
