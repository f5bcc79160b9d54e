"""Writing result tables: tidy CSV for machines, Markdown for people.

CSV numbers are written with ``%.10g`` and ``\\n`` line endings so that the same
input gives byte-identical files on every platform; the Markdown copy rounds to
four significant digits for reading.
"""

from __future__ import annotations

from pathlib import Path

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
