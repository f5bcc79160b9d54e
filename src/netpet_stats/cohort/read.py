"""Reading a user's cohort files: CSV/TSV (any delimiter), Excel, Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .problems import CohortValidationError, Problem

if TYPE_CHECKING:
    import pandas as pd


class Percent(float):
    """A spreadsheet cell formatted as a percentage; its value is the stored fraction.

    Excel stores a cell typed as ``12%`` as 0.12 with a percent number format;
    the parsers read it as 12 where a percentage is expected and refuse it
    elsewhere.
    """

    __slots__ = ()


def _sniff_delimiter(path: Path) -> str:
    import csv

    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        sample = fh.read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","


def _excel_cell(cell):
    """The value of an openpyxl cell as the user meant it (number, date, text)."""
    import datetime as dt

    import pandas as pd

    value = cell.value
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).upper()  # TRUE/FALSE as Excel shows them
    if isinstance(value, (int, float)):
        fmt = getattr(cell, "number_format", "") or ""
        return Percent(value) if "%" in fmt else value
    if isinstance(value, (dt.datetime, dt.date)):
        return pd.Timestamp(value)
    return str(value)


def _read_excel(path: Path, sheet):
    """Rows of a worksheet (openpyxl), each ``(spreadsheet row number, cells)``.

    Read with openpyxl rather than ``pandas.read_excel`` because the cell's
    number format is needed (a Ki-67 typed as 12% is stored as 0.12) and because
    pandas renames a repeated header (``os_months.1``) instead of showing it.
    """
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        if isinstance(sheet, int):
            if sheet >= len(book.worksheets):
                raise KeyError(f"the workbook has {len(book.worksheets)} sheet(s): "
                               f"{', '.join(book.sheetnames)}")
            ws = book.worksheets[sheet]
        elif sheet in book.sheetnames:
            ws = book[sheet]
        else:
            raise KeyError(f"no sheet {sheet!r}; the workbook has: {', '.join(book.sheetnames)}")
        return [(row[0].row if row and hasattr(row[0], "row") else i + 1,
                 [_excel_cell(c) for c in row])
                for i, row in enumerate(ws.iter_rows())]
    finally:
        book.close()


def _read_csv(path: Path, delimiter: str | None):
    """Rows of a delimited text file, each ``(line number, cells)``, every cell as text."""
    import csv

    sep = delimiter if delimiter and delimiter != "auto" else _sniff_delimiter(path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=sep)
        return [(reader.line_num, cells) for cells in reader]


def read_table(path: str | Path, sheet: int | str | None = 0,
               delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV (any delimiter), Excel (.xlsx, .xlsm) or Parquet table.

    Text files are read as text, cell by cell; spreadsheet cells keep their type
    (a number, a date as ``pandas.Timestamp``, text) and a cell formatted as a
    percentage is a :class:`Percent`; Parquet values keep theirs. Missing values
    of any kind (empty cell, ``None``, NaN, ``pandas.NA``, ``NaT``) are ``None``.
    Header names are stripped of surrounding spaces and kept as they are, so a
    repeated name stays visible. Empty rows are skipped; the index is the row
    number the user sees in the spreadsheet or editor (header = 1).
    """
    import pandas as pd  # here, not at import: the workflow lists inputs without pandas

    path = Path(path)
    if not path.exists():
        raise CohortValidationError([Problem(str(path), None, "-", "no such file", "an existing table")])
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise CohortValidationError([Problem(
            str(path), None, "-", "an .xls workbook (Excel 97-2003)",
            "a .xlsx, .csv or .parquet table: open it in Excel or LibreOffice and save it as "
            ".xlsx")])
    try:
        if suffix in {".parquet", ".pq"}:
            frame = pd.read_parquet(path)
            header = [str(c).strip() for c in frame.columns]
            rows = [(i + 2, list(values)) for i, values in
                    enumerate(frame.astype(object).itertuples(index=False, name=None))]
            rows.insert(0, (1, header))
        elif suffix in {".xlsx", ".xlsm"}:
            rows = _read_excel(path, sheet if sheet is not None else 0)
        else:
            rows = _read_csv(path, delimiter)
    except UnicodeDecodeError as exc:
        raise CohortValidationError([Problem(
            str(path), None, "-", f"(text that is not UTF-8: byte {exc.object[exc.start]:#04x} "
            f"at position {exc.start})",
            "a UTF-8 text file: save it as 'CSV UTF-8' (Excel) or re-encode it to UTF-8")]) from None
    except (ValueError, OSError, KeyError, ImportError) as exc:
        raise CohortValidationError(
            [Problem(str(path), None, "-", f"unreadable file ({type(exc).__name__}: {exc})",
                     "a CSV, TSV, Excel (.xlsx) or Parquet table with one header row")]) from None
    rows = [(n, [None if _is_empty(v) else v for v in cells]) for n, cells in rows]
    rows = [(n, cells) for n, cells in rows if any(v is not None for v in cells)]
    if not rows:
        raise CohortValidationError([Problem(str(path), None, "-", "(an empty file)",
                                             "a header row and at least one patient row")])
    (_, header), body = rows[0], rows[1:]
    header = [str(c).strip() if c is not None else "" for c in header]
    width = len(header)
    # A row with more filled cells than header names is shifted; its values are not
    # echoed (they may be names or dates of birth in the wrong column).
    shifted = [Problem(str(path), n, "-", f"{len(cells)} cells under {width} header names",
                       "no more cells than header names (a delimiter inside a value, or a "
                       "shifted row?)")
               for n, cells in body
               if len(cells) > width and any(v is not None for v in cells[width:])]
    if shifted:
        raise CohortValidationError(shifted)
    cells = [(c + [None] * width)[:width] for _, c in body]
    unnamed = [Problem(str(path), 1, f"column {_column_letter(j)}", "(an empty header cell)",
                       "a name for every column that holds data")
               for j, name in enumerate(header)
               if name == "" and any(row[j] is not None for row in cells)]
    if unnamed:
        raise CohortValidationError(unnamed)
    frame = pd.DataFrame(cells, columns=header, dtype=object)
    frame.index = pd.Index([n for n, _ in body], name="row")
    return frame


def _column_letter(index: int) -> str:
    """Spreadsheet column name of a 0-based index (0 -> A, 26 -> AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _is_empty(value) -> bool:
    """An empty cell or a missing value of any library (not a missing-value token)."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    if type(value).__name__ in {"NAType", "NaTType"}:
        return True
    return isinstance(value, str) and value.strip() == ""


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
