"""Reading a user's cohort files: CSV/TSV (any delimiter), Excel, Parquet."""

from __future__ import annotations

import errno
import gc
import re
import unicodedata
from contextlib import contextmanager
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


def _sheet_list(book) -> str:
    return ", ".join(f"'{ws.title}'" + ("" if ws.sheet_state == "visible" else " (hidden)")
                     for ws in book.worksheets)


def _pick_sheet(book, sheet, file: str):
    """The worksheet to read, and how it was chosen (for the note naming it).

    ``None`` (the default): the first visible sheet, the one Excel opens on. A
    position (0 = the first sheet) must point at a visible sheet; a hidden sheet
    (an older export left in the workbook) is read only when named.
    """
    def refuse(value, expected):
        raise CohortValidationError([Problem(file, None, "-", value, expected)])

    sheets = book.worksheets
    if sheet is None:
        visible = [ws for ws in sheets if ws.sheet_state == "visible"]
        if not visible:
            refuse("(a workbook whose sheets are all hidden)",
                   f"a visible sheet, or the sheet to read named in cohort.sheet "
                   f"(the workbook has {_sheet_list(book)})")
        return visible[0], "the first visible sheet; cohort.sheet names another"
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(sheets):
            refuse(f"cohort.sheet {sheet} (a workbook of {len(sheets)} sheet(s))",
                   f"a sheet of the workbook, by name or position from 0: {_sheet_list(book)}")
        ws = sheets[sheet]
        if ws.sheet_state != "visible":
            refuse(f"cohort.sheet {sheet}, the hidden sheet '{ws.title}'",
                   "a visible sheet; a hidden sheet (an older export?) is read only when "
                   f"cohort.sheet names it (the workbook has {_sheet_list(book)})")
        return ws, f"cohort.sheet: {sheet}"
    if str(sheet) not in book.sheetnames:
        refuse(f"no sheet {str(sheet)!r} (cohort.sheet)",
               f"a sheet of the workbook: {_sheet_list(book)}")
    return book[str(sheet)], f"cohort.sheet: {str(sheet)!r}"


#: A formula element in a worksheet's XML (any namespace prefix).
_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def _uncalculated_formulas(path: Path, ws) -> list[tuple[int, int]]:
    """(row, 0-based column) of every formula cell whose result was never stored.

    A program that writes a formula without calculating it (openpyxl, many
    scripts) leaves its value empty; Excel and LibreOffice store the result when
    they save. openpyxl reads such a cell as empty, so the worksheet's XML is
    read here: a formula (``<f>``) with no value (``<v>``), unless its result is
    an empty text (``t="str"``).
    """
    import io
    import zipfile
    from xml.etree.ElementTree import iterparse

    from openpyxl.utils.cell import coordinate_to_tuple

    part = getattr(ws, "_worksheet_path", None)
    if part is None:
        return []
    with zipfile.ZipFile(path) as archive:
        xml = archive.read(part)
    if not _FORMULA_TAG.search(xml):
        return []
    found, row, col = [], 0, 0
    for event, el in iterparse(io.BytesIO(xml), events=("start", "end")):
        tag = el.tag.rpartition("}")[2]
        if event == "start":
            if tag == "row":
                row, col = int(el.get("r", row + 1)), 0
            continue
        if tag == "c":
            ref = el.get("r")
            row, col = coordinate_to_tuple(ref) if ref else (row, col + 1)
            children = {c.tag.rpartition("}")[2]: c for c in el}
            if "f" in children and not (children["v"].text if "v" in children else None) \
                    and el.get("t") not in ("str", "inlineStr"):
                found.append((row, col - 1))
            el.clear()
        elif tag == "row":
            el.clear()
    return found


def _read_excel(path: Path, sheet):
    """Rows of a worksheet (openpyxl), each ``(spreadsheet row number, cells)``.

    Read with openpyxl rather than ``pandas.read_excel`` because the cell's
    number format is needed (a Ki-67 typed as 12% is stored as 0.12) and because
    pandas renames a repeated header (``os_months.1``) instead of showing it.

    Returns the rows, a note naming the sheet read when the workbook has more
    than one, and the formula cells without a stored result.
    """
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws, how = _pick_sheet(book, sheet, str(path))
        notes = ([f"read sheet '{ws.title}' ({how}); the workbook has {_sheet_list(book)}"]
                 if len(book.worksheets) > 1 else [])
        rows = [(row[0].row if row and hasattr(row[0], "row") else i + 1,
                 [_excel_cell(c) for c in row])
                for i, row in enumerate(ws.iter_rows())]
        return rows, notes, _uncalculated_formulas(path, ws)
    finally:
        book.close()


@contextmanager
def cyclic_gc_paused():
    """Pause Python's cyclic garbage collector while a table's rows are built.

    Reading makes millions of lists and strings that all stay alive; the collector,
    triggered by every 700 of them, walks the ever longer list of survivors again
    and again: a third of the time of reading a registry. These objects form no
    reference cycle, so nothing is left for the collector to find; it runs again
    afterwards as before (and stays off if it was off).
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _split_plain(text: str, sep: str) -> list[list[str]] | None:
    """The rows of a delimited text that has no quote, as the csv module reads them.

    Without a quote character the csv module's rows are the lines (ended by ``\n``)
    split at the delimiter, an empty line being a row of no cell; ``str.split`` does
    that in C, where the csv module costs ~1 s a 10^5 rows. Returns ``None`` when
    the text needs the csv module: a quote (a cell may span lines or hold the
    delimiter), a carriage return (another line end), a NUL, or a line longer than
    the module's field limit (the module refuses such a cell, with its message).
    """
    import csv

    if len(sep) != 1 or sep in '"\r\n\x00' or '"' in text or "\r" in text or "\x00" in text:
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()   # the end of the last line, not an empty line after it
    if lines and max(map(len, lines)) > csv.field_size_limit():
        return None
    return [line.split(sep) if line else [] for line in lines]


def _read_csv(path: Path, delimiter: str | None) -> tuple[list[int], list[list]]:
    """Rows of a delimited text file: the line on which each starts, and its cells as text."""
    import csv

    sep = delimiter if delimiter and delimiter != "auto" else _sniff_delimiter(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = _split_plain(fh.read(), sep)
    except UnicodeDecodeError:
        rows = None   # the reader below stops where the csv module did, with its position
    if rows is not None:
        return list(range(1, len(rows) + 1)), rows
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=sep)
        # two flat lists, not a tuple per row: this loop runs once per patient
        lines, rows = [], []
        add_line, add_row = lines.append, rows.append
        try:
            for cells in reader:
                add_row(cells)
                add_line(reader.line_num)
            return lines, rows
        except csv.Error as exc:
            line = lines[-1] + 1 if lines else 1   # the line on which the failing row starts
            if "field larger than field limit" in str(exc):
                value = (f"(a cell of more than {csv.field_size_limit():,} characters, from "
                         f"line {line})")
            else:
                value = f"(text that is not a delimited table at line {line}: {exc})"
            raise CohortValidationError([Problem(
                str(path), None, "-", value,
                "a delimited text table, one line per row: a quote (\") that opens a cell "
                "and never closes makes the rest of the file one cell (close it, or export "
                "the table again); a file without line breaks is not a table")]) from None


def _absent(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file, or ``None`` when it can be opened."""
    try:
        path.stat()
    except FileNotFoundError:
        return ("(a symbolic link to a file that does not exist)" if path.is_symlink()
                else "no such file")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "(a symbolic link loop: the link leads back to itself)"
        return f"(cannot be opened: {exc.strerror})"
    if path.is_dir():
        return "(a folder, not a file; a folder of tables is cohort.folder)"
    return None


def _empty_excel(path: Path) -> Problem:
    return Problem(str(path), None, "-", "(an empty file: 0 bytes)",
                   "an Excel workbook with a header row and patient rows: save or export "
                   "it again")


def _clean_text(value: str) -> tuple[str | None, bool]:
    """A text cell in composed Unicode (NFC), ``None`` when blank; and whether it changed."""
    if value.isascii():
        return (value if value.strip() else None), False
    if not value.strip():
        return None, False
    nfc = unicodedata.normalize("NFC", value)
    return nfc, nfc != value


def _clean_other(value):
    """A cell that is not text: ``None`` for a missing value of any library, else the value."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    return None if type(value).__name__ in {"NAType", "NaTType"} else value


def _clean(cells, text_only: bool = False):
    """Cells with one missing value (``None``) and text in composed Unicode (NFC).

    The same name typed on Windows (``ö`` one character) and on macOS (``o`` and a
    combining diaeresis) looks identical but compares different: one centre
    would become two centres and two strata. Every text cell is normalised to
    NFC. Each distinct text is cleaned once (a registry's 10^7 cells hold far
    fewer texts), every other cell on its own.

    Parameters
    ----------
    cells
        Every cell of the file, row after row, as one object array.
    text_only
        Every cell is a ``str`` (a delimited text file).

    Returns
    -------
    cleaned : numpy.ndarray of object
    empty : numpy.ndarray of bool
        The cells that are ``None`` in ``cleaned``.
    recomposed : int
        The number of cells changed by the normalisation, for a note.
    """
    import numpy as np

    from .distinct import broadcast, distinct_cells

    key, values = distinct_cells(cells, text_only)
    cleaned, changed = [], []
    for v in values:
        if isinstance(v, str):
            c, ch = _clean_text(v)
        else:
            c, ch = _clean_other(v), False
        cleaned.append(c)
        changed.append(ch)
    # a text recomposed counts once per cell that holds it, as when cells were cleaned
    # one by one
    count = np.bincount(key, minlength=len(values)) if len(key) else np.zeros(0, int)
    recomposed = int(count[np.asarray(changed, dtype=bool)].sum()) if values else 0
    return (broadcast(cleaned, key), broadcast([c is None for c in cleaned], key, bool),
            recomposed)


def read_table(path: str | Path, sheet: int | str | None = None,
               delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV (any delimiter), Excel (.xlsx, .xlsm) or Parquet table.

    Text files are read as text, cell by cell; spreadsheet cells keep their type
    (a number, a date as ``pandas.Timestamp``, text) and a cell formatted as a
    percentage is a :class:`Percent`; Parquet values keep theirs. Missing values
    of any kind (empty cell, ``None``, NaN, ``pandas.NA``, ``NaT``) are ``None``.
    Text is read in composed Unicode (NFC). Header names are stripped of
    surrounding spaces and kept as they are, so a repeated name stays visible;
    columns without a name and without data (trailing delimiters) are dropped.
    Empty rows are skipped; the index is the row number the user sees in the
    spreadsheet or editor (header = 1). ``sheet``: a workbook's sheet by name or
    position (0 = first); ``None``, the first visible sheet.

    Notes for the user (the sheet read, text recomposed) are in
    ``frame.attrs["notes"]``.

    Raises
    ------
    CohortValidationError
        A file that cannot be read as one table: absent, empty, a hidden sheet
        chosen by position, formulas without a stored result, rows with more or
        fewer cells than the header has names, data under an empty header cell.
    """
    # reading builds a list per row and an object per cell: see cyclic_gc_paused
    with cyclic_gc_paused():
        return _read_table(path, sheet, delimiter)


def _read_table(path: str | Path, sheet, delimiter) -> pd.DataFrame:
    """:func:`read_table`'s work."""
    import csv
    import zipfile
    from itertools import chain

    import numpy as np
    import pandas as pd  # here, not at import: the workflow lists inputs without pandas

    path = Path(path)
    file = str(path)
    absent = _absent(path)
    if absent:
        raise CohortValidationError([Problem(file, None, "-", absent, "an existing table")])
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise CohortValidationError([Problem(
            file, None, "-", "an .xls workbook (Excel 97-2003)",
            "a .xlsx, .csv or .parquet table: open it in Excel or LibreOffice and save it as "
            ".xlsx")])
    notes: list[str] = []
    formulas: list[tuple[int, int]] = []
    try:
        if suffix in {".parquet", ".pq"}:
            frame = pd.read_parquet(path)
            header = [str(c).strip() for c in frame.columns]
            rows = [header, *(list(values) for values in
                              frame.astype(object).itertuples(index=False, name=None))]
            lines = list(range(1, len(rows) + 1))
        elif suffix in {".xlsx", ".xlsm"}:
            if path.stat().st_size == 0:
                raise CohortValidationError([_empty_excel(path)])
            numbered, notes, formulas = _read_excel(path, sheet)
            lines, rows = [n for n, _ in numbered], [c for _, c in numbered]
        else:
            lines, rows = _read_csv(path, delimiter)
    except UnicodeDecodeError as exc:
        raise CohortValidationError([Problem(
            file, None, "-", f"(text that is not UTF-8: byte {exc.object[exc.start]:#04x} "
            f"at position {exc.start})",
            "a UTF-8 text file: save it as 'CSV UTF-8' (Excel) or re-encode it to UTF-8")]) from None
    except zipfile.BadZipFile:
        raise CohortValidationError([Problem(
            file, None, "-", "(not an .xlsx workbook: not the zip archive Excel writes)",
            "an Excel workbook saved by Excel or LibreOffice (a password-protected workbook, "
            "or another format renamed .xlsx, cannot be read: save it as .xlsx without a "
            "password, or as CSV)")]) from None
    except OSError as exc:
        raise CohortValidationError([Problem(
            file, None, "-", f"unreadable file ({exc.strerror or type(exc).__name__})",
            "a CSV, TSV, Excel (.xlsx) or Parquet table with one header row")]) from None
    except (ValueError, KeyError, ImportError, csv.Error) as exc:
        raise CohortValidationError(
            [Problem(file, None, "-", f"unreadable file ({type(exc).__name__}: {exc})",
                     "a CSV, TSV, Excel (.xlsx) or Parquet table with one header row")]) from None
    # Column-wise from here: the cells of all rows in one array, rows located by their
    # first cell (starts) and length (lengths), so that no Python code runs per cell.
    lengths = np.fromiter(map(len, rows), dtype=np.intp, count=len(rows))
    starts = np.zeros(len(rows), dtype=np.intp)
    np.cumsum(lengths[:-1], out=starts[1:])
    flat = np.fromiter(chain.from_iterable(rows), dtype=object, count=int(lengths.sum()))
    del rows
    text = suffix not in {".parquet", ".pq", ".xlsx", ".xlsm"}   # every cell a str
    flat, empty, recomposed = _clean(flat, text)
    # filled cells before each position: a row's or a span's filled cells in one subtraction
    before = np.zeros(len(flat) + 1, dtype=np.intp)
    np.cumsum(~empty, out=before[1:])

    def cells_of(i):
        return flat[starts[i]:starts[i] + lengths[i]].tolist()

    if formulas:
        raise CohortValidationError(_formula_problems(
            file, [(lines[i], cells_of(i)) for i in range(len(lines))], formulas))
    filled_rows = np.flatnonzero(before[starts + lengths] - before[starts] > 0)
    if not len(filled_rows):
        raise CohortValidationError([Problem(file, None, "-", "(an empty file)",
                                             "a header row and at least one patient row")])
    header_at, body = filled_rows[0], filled_rows[1:]
    header_row = lines[header_at]
    header = [str(c).strip() if c is not None else "" for c in cells_of(header_at)]
    width = len(header)
    named = max((j + 1 for j, name in enumerate(header) if name), default=0)
    numbers = [lines[i] for i in body]
    body_starts, body_lengths = starts[body], lengths[body]
    # A row with more filled cells than header names, or (in delimited text) fewer
    # cells than named columns, is shifted: every later cell sits under another
    # column's name. Its values are not echoed (names or dates of birth, moved).
    long = body_lengths > width
    beyond = np.where(long, before[body_starts + body_lengths]
                      - before[body_starts + np.minimum(body_lengths, width)], 0)
    shifted = [Problem(file, numbers[k], "-", f"{body_lengths[k]} cells under {width} header "
                       "names", "no more cells than header names (a delimiter inside a value, "
                       "or a shifted row?)")
               for k in np.flatnonzero(beyond > 0)]
    if text:
        shifted += [Problem(file, numbers[k], "-", f"{body_lengths[k]} cells under {named} "
                            "named columns", "a cell for every named column (a delimiter "
                            "missing between two values, or a row cut short?)")
                    for k in np.flatnonzero(body_lengths < named)]
    if shifted:
        raise CohortValidationError(sorted(shifted, key=lambda p: p.row))
    # every row cut or filled with empty cells to the header's width, one column at a time
    columns, filled_columns = [], []
    for j in range(width):
        has = body_lengths > j
        column = np.full(len(body), None, dtype=object)
        at = body_starts[has] + j
        column[has] = flat[at]
        columns.append(column)
        filled_columns.append(bool((~empty[at]).any()))
    # columns with neither a name nor data: an export's trailing delimiters (;;;)
    keep = [j for j, name in enumerate(header) if name or filled_columns[j]]
    if len(keep) < width:
        header = [header[j] for j in keep]
        columns = [columns[j] for j in keep]
    unnamed = [j for j, name in enumerate(header) if name == ""]
    if unnamed:
        first = [(numbers[0], cells_of(body[0]))] if len(body) else []
        hint = _header_below(header, first, [keep[j] for j in unnamed])
        raise CohortValidationError([
            Problem(file, header_row, f"column {_column_letter(keep[j])}",
                    "(an empty header cell)", "a name for every column that holds data" + hint)
            for j in unnamed])
    if len(body):
        block = np.empty((len(body), len(columns)), dtype=object)
        for j, column in enumerate(columns):
            block[:, j] = column
        frame = pd.DataFrame(block, columns=header, dtype=object)
    else:
        frame = pd.DataFrame([], columns=header, dtype=object)
    frame.index = pd.Index(numbers, name="row")
    if recomposed:
        notes.append(f"{recomposed} text cell(s) in decomposed Unicode (accents stored "
                     "as separate marks, as macOS writes them) were read in composed form "
                     "(NFC), so that a name typed on macOS and on Windows is one value "
                     "(one centre, one code)")
    frame.attrs["notes"] = notes
    return frame


#: Text that reads as a number (either decimal separator): a data cell, not a name.
_NUMERIC_TEXT = re.compile(r"\s*[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?\s*%?\s*")


def _header_below(header: list, body: list, columns: list[int]) -> str:
    """A hint when the row under the first looks like the header (a title row above it).

    It does when it fills more cells than the first row, every one of them text that
    is not a number (names, where a patient's row has times and ages).
    """
    if not body:
        return ""
    n, cells = body[0]
    filled = [v for v in cells if v is not None]
    names = all(isinstance(v, str) and not _NUMERIC_TEXT.fullmatch(v) for v in filled)
    if names and len(filled) > sum(1 for h in header if h) and \
            all(j < len(cells) and cells[j] is not None for j in columns):
        return (f"; row {n} looks like the header, under a title row (merged cells?): delete "
                f"the rows above the header, so that it is the first row")
    return ""


def _formula_problems(file: str, rows: list, formulas: list[tuple[int, int]]) -> list[Problem]:
    """Each formula cell without a stored result, by its column name and cell reference."""
    header_row, header = next(((n, c) for n, c in rows if any(v is not None for v in c)),
                              (None, []))
    problems = []
    for row, col in formulas:
        name = header[col] if row != header_row and col < len(header) else None
        cell = f"{_column_letter(col)}{row}"
        problems.append(Problem(
            file, row, str(name).strip() if name is not None else f"column {_column_letter(col)}",
            f"(a formula without a stored result, cell {cell})",
            "a value: the workbook was written by a program that does not calculate "
            "formulas; open and save the file in Excel (or LibreOffice) so that every "
            "formula's result is stored"))
    return problems


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
    A centre name is read in composed Unicode (NFC), as the cells are: macOS
    stores file names decomposed.
    """
    def nfc(name):
        return unicodedata.normalize("NFC", str(name)) if name is not None else None

    if ccfg.get("tables"):
        return [(str(t["path"]), nfc(t.get("centre"))) for t in ccfg["tables"]]
    if ccfg.get("folder"):
        folder = Path(ccfg["folder"])
        absent = _absent(folder)
        if absent and not folder.is_dir():
            raise CohortValidationError([Problem(str(folder), None, "-", absent,
                                                 "an existing folder (cohort.folder)")])
        files = sorted(folder.glob(ccfg.get("pattern", "*")))
        regex = re.compile(ccfg.get("centre_from_name", r"(.+)"))
        out = []
        for f in files:
            match = regex.search(f.stem)
            out.append((str(f), nfc(match.group(1) if match else f.stem)))
        if not out:
            raise CohortValidationError([Problem(str(folder), None, "-", "no matching files",
                                                 f"files matching {ccfg.get('pattern', '*')}")])
        return out
    return [(str(ccfg["table"]), None)]


# --------------------------------------------------------------------------------------
# Column parsers: raw text -> typed values, collecting problems
# --------------------------------------------------------------------------------------
