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

    cells = [[_fmt(v) for v in row] for row in frame.itertuples(index=False)]
    return tabulate(cells, headers=[str(c) for c in frame.columns], tablefmt="pipe",
                    disable_numparse=True)


def suppress_small_counts(frame: pd.DataFrame, columns: list[str], threshold: int) -> pd.DataFrame:
    """Replace counts from 1 to ``threshold - 1`` by ``"<threshold"`` (small-cell suppression).

    Works on integer columns and on Table 1 style cells ``"n (pct)"``, whose
    percentage is blanked with the count. Zero is not suppressed.
    """
    import re

    out = frame.copy()
    mark = f"<{threshold}"

    def one(value):
        if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer()):
            return mark if 0 < value < threshold else value
        if isinstance(value, str):
            match = re.match(r"^\s*(\d+)\s*\(", value)
            if match and 0 < int(match.group(1)) < threshold:
                return mark
        return value

    for col in columns:
        if col in out:
            out[col] = out[col].astype(object).map(one)
    return out


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


def suppress_table1(table: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """Primary and secondary small-cell suppression of a Table 1 (``table_one`` layout).

    Primary: every count from 1 to ``threshold - 1`` becomes ``"<threshold"``.
    Secondary (complementary) suppression, so that no hidden count can be recovered
    by subtraction from the published margins: the levels of a variable add up to
    its column's ``n`` (missing values are a level), and the groups of a level add
    up to its ``Overall``. Wherever exactly one cell of such a sum is hidden while
    its total is shown, the smallest other cell of the sum is hidden too (if there
    is none, the total itself, where it is a cell of the table); repeated until no
    sum has a single hidden cell (the practice of statistical disclosure control,
    e.g. Hundepool et al., *Statistical Disclosure Control*, 2012, ch. 4).
    """
    out = table.copy().astype(object)
    mark = f"<{threshold}"
    groups = [c for c in out.columns if c not in ("variable", "level", "Missing", "Overall")]
    columns = ["Overall", *groups]
    hidden = pd.DataFrame(False, index=out.index, columns=columns)
    counts = pd.DataFrame({c: out[c].map(_count) for c in columns}, index=out.index)
    blocks = [idx for _, idx in out.groupby("variable", sort=False).groups.items()]
    blocks = [list(b) for b in blocks
              if out.at[b[0], "variable"] != "n" and counts.loc[b, "Overall"].notna().all()]
    for c in columns:
        hidden[c] = counts[c].map(lambda n: n is not None and 0 < n < threshold)

    def hide_one_more(cells: list[tuple], total: tuple | None) -> bool:
        if total is not None and hidden.at[total]:
            return False
        if sum(hidden.at[cell] for cell in cells) != 1:
            return False
        free = [cell for cell in cells if not hidden.at[cell] and counts.at[cell] is not None]
        if free:
            hidden.at[min(free, key=lambda cell: (counts.at[cell] == 0, counts.at[cell]))] = True
            return True
        if total is not None:
            hidden.at[total] = True
            return True
        return False

    changed = True
    while changed:
        changed = False
        for block in blocks:
            for c in columns:            # levels of a variable sum to the column's n
                changed |= hide_one_more([(i, c) for i in block], None)
            for i in block:              # groups of a level sum to its Overall
                changed |= hide_one_more([(i, g) for g in groups], (i, "Overall"))
    for c in columns:
        out.loc[hidden[c], c] = mark
    return out
