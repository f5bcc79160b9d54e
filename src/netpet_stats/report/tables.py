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


def _cells(values: list, is_p: bool) -> list[str]:
    """One column's Markdown cells: p-values by :func:`fmt_p`, the rest by :func:`_fmt`
    (whole numbers and text, most of a long table, without a call per cell)."""
    if is_p:
        return [fmt_p(v) if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                else _fmt(v) for v in values]
    kinds = set(map(type, values))
    if kinds <= {int}:
        return list(map(str, values))
    if kinds <= {str}:
        return [v.replace("|", "\\|") for v in values]
    return [_fmt(v) for v in values]


#: From this many rows a table of plain cells is laid out here (:func:`_pipe_table`);
#: tabulate takes a minute for the 10^6 rows of a registry's exclusion ledger.
PLAIN_LAYOUT_ROWS = 1000


def _pipe_table(headers: list[str], columns: list[list[str]]) -> str:
    """tabulate's pipe format (``disable_numparse=True``) of one-line printable cells.

    Each cell stripped and left-aligned in a column as wide as its longest cell or its
    header plus two; a separator of dashes after a colon; cells padded by one space
    between pipes. tests/report/test_tables.py compares the two on tables of every
    kind of cell this path takes.
    """
    columns = [[c.strip() for c in column] for column in columns]
    widths = [max(len(h) + 2, max(map(len, column), default=0))
              for h, column in zip(headers, columns)]
    padded = [[c.ljust(w) for c in column] for w, column in zip(widths, columns)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |",
             "|" + "|".join(":" + "-" * (w + 1) for w in widths) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in zip(*padded)]
    return "\n".join(lines)


def _plain(texts: list[str]) -> bool:
    """Text tabulate measures by its length: printable ASCII on one line (no wide
    characters, escape sequences or line breaks)."""
    joined = "".join(texts)
    return joined.isascii() and joined.isprintable()


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (``tabulate`` pipe format)."""
    headers = [str(c) for c in frame.columns]
    columns = [_cells(frame.iloc[:, j].tolist(), bool(P_COLUMNS.match(h)))
               for j, h in enumerate(headers)]
    if (len(frame) >= PLAIN_LAYOUT_ROWS and headers
            and all(_plain(column) for column in [headers, *columns])):
        return _pipe_table(headers, columns)
    from tabulate import tabulate

    rows = list(zip(*columns)) if columns else [()] * len(frame)
    return tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True)


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
    blocks = [b for b in blocks if out.at[b[0], "variable"] != "n"]
    # a categorical variable's levels (its Missing row among them) add up to the column's
    # n; a continuous one's only count is its Missing row, whose complement is unpublished
    full = [b for b in blocks if all(counts[(i, c)] is not None for i in b for c in columns)]
    partial = [[i for i in b if all(counts[(i, c)] is not None for c in columns)]
               for b in blocks if b not in full]
    partial = [b for b in partial if b]
    cells = [(i, c) for b in full + partial for i in b for c in columns]
    hidden = {cell: 0 < counts[cell] < threshold for cell in cells}
    sums = [([(i, c) for i in b], None) for b in full for c in columns]   # column n
    sums += [([(i, g) for g in groups], (i, "Overall")) for b in full + partial for i in b]
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
