"""Reading a user's cohort files: CSV/TSV (any delimiter), Excel, Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .problems import CohortValidationError, Problem, _is_missing

if TYPE_CHECKING:
    import pandas as pd


def _sniff_delimiter(path: Path) -> str:
    import csv

    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        sample = fh.read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","


def read_table(path: str | Path, sheet: int | str | None = 0,
               delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV (any delimiter), Excel or Parquet table, every cell as text.

    CSV and TSV may be UTF-8 with or without a byte-order mark; the delimiter is
    detected unless given. Returns a frame whose index is the spreadsheet row
    number (header = row 1).
    """
    import pandas as pd  # here, not at import: the workflow lists inputs without pandas

    path = Path(path)
    if not path.exists():
        raise CohortValidationError([Problem(str(path), None, "-", "no such file", "an existing table")])
    suffix = path.suffix.lower()
    try:
        if suffix in {".xlsx", ".xlsm", ".xls", ".parquet", ".pq"}:
            frame = (pd.read_parquet(path) if suffix in {".parquet", ".pq"} else
                     pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=object))
            frame = frame.astype(object).map(lambda v: None if _is_missing(v) else (
                str(int(v)) if isinstance(v, float) and v.is_integer() else
                (v.date().isoformat() if isinstance(v, pd.Timestamp) and v == v.normalize()
                 else str(v))))
        else:
            sep = delimiter if delimiter and delimiter != "auto" else _sniff_delimiter(path)
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                                encoding="utf-8-sig")
    except (ValueError, OSError, pd.errors.ParserError, KeyError, ImportError) as exc:
        raise CohortValidationError(
            [Problem(str(path), None, "-", f"unreadable file ({type(exc).__name__}: {exc})",
                     "a CSV, TSV, Excel or Parquet table with one header row")]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    return frame


def cohort_sources(ccfg: dict) -> list[tuple[str, str | None]]:
    """The input files and the centre each stands for (``None``: from a column).

    ``cohort.table`` is one file; ``cohort.tables`` a list of ``{path, centre}``;
    ``cohort.folder`` with ``pattern`` every matching file, the centre taken
    from the file name (its stem, or the first group of ``centre_from_name``).
    """
    import re

    if ccfg.get("tables"):
        return [(str(t["path"]), t.get("centre")) for t in ccfg["tables"]]
    if ccfg.get("folder"):
        folder = Path(ccfg["folder"])
        files = sorted(folder.glob(ccfg.get("pattern", "*")))
        regex = re.compile(ccfg.get("centre_from_name", r"(.+)"))
        out = []
        for f in files:
            match = regex.search(f.stem)
            out.append((str(f), match.group(1) if match else f.stem))
        if not out:
            raise CohortValidationError([Problem(str(folder), None, "-", "no matching files",
                                                 f"files matching {ccfg.get('pattern', '*')}")])
        return out
    return [(str(ccfg["table"]), None)]


# --------------------------------------------------------------------------------------
# Column parsers: raw text -> typed values, collecting problems
# --------------------------------------------------------------------------------------
