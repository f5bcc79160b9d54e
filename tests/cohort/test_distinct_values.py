"""Cells read once per distinct text give what reading every cell gives.

The cohort parsers group a column's cells by their text and read each text once
(:mod:`netpet_stats.cohort.distinct`). These tests feed them hostile columns, each
text repeated on many rows in a shuffled order among typed spreadsheet cells, and
compare with the rule written out cell by cell here: a table of what each cell
reads as and which problem it is, looked up row by row.
"""

from __future__ import annotations

import csv
import io
import math
import random
import unicodedata

import numpy as np
import pandas as pd
import pytest

from netpet_stats.cohort.prepare import _Collector, _parse_coded, _parse_number, _parse_text
from netpet_stats.cohort.problems import Problem, _show
from netpet_stats.cohort.read import Percent, _split_plain, read_table

DECOMPOSED = unicodedata.normalize("NFD", "Zürich")
COMPOSED = unicodedata.normalize("NFC", "Zürich")
NUMBER = "a number with a decimal point, such as 12.5 (no thousands separators)"
PERCENT = NUMBER + " or a percentage such as 12%"


def _column(table, n_rows=400, seed=7):
    """A column of ``n_rows`` cells drawn from the keys of ``table`` (each at least once).

    Returns the series (index = spreadsheet rows from 2) and, for each row, the
    position in ``table`` of its cell.
    """
    rng = random.Random(seed)
    picks = list(range(len(table))) + [rng.randrange(len(table))
                                       for _ in range(n_rows - len(table))]
    rng.shuffle(picks)
    cells = np.empty(len(picks), dtype=object)
    cells[:] = [table[k][0] for k in picks]
    return pd.Series(cells, index=pd.Index(range(2, len(picks) + 2), name="row")), picks


def _expected_problems(raw, picks, table, column, shown_at=None):
    """The problems of the cell-by-cell rule: one per refused cell, in row order."""
    return [Problem("f.csv", row, column, _show(table[k][0] if shown_at is None else
                                                 table[k][shown_at], column), table[k][2])
            for row, k in zip(raw.index, picks) if table[k][2] is not None]


#: cell, value read (NaN: none), problem expected (None: no problem), percent written
PERCENT_CELLS = [
    ("12", 12.0, None, False),
    (" 12.5 ", 12.5, None, False),
    ("12%", 12.0, None, True),
    (" 3 % ", 3.0, None, True),
    ("\u00a012\u00a0", 12.0, None, False),         # no-break spaces around it
    ("\u0661\u0662", 12.0, None, False),          # Arabic-Indic digits are digits
    ("1e1", 10.0, None, False),
    ("+.5", 0.5, None, False),
    ("-0", -0.0, None, False),
    ("NA", math.nan, None, False),
    (" n/a ", math.nan, None, False),
    ("None", math.nan, None, False),
    ("", math.nan, None, False),
    ("-", math.nan, None, False),
    (".", math.nan, None, False),
    (None, math.nan, None, False),
    ("1,5", math.nan, PERCENT, False),
    ("abc%", math.nan, PERCENT, True),             # refused, yet written as a percentage
    ("inf", math.nan, PERCENT, False),
    ("1e400", math.nan, "a finite number", False),
    (DECOMPOSED, math.nan, PERCENT, False),
    (COMPOSED, math.nan, PERCENT, False),
    (7, 7.0, None, False),
    (2.5, 2.5, None, False),
    (-0.0, -0.0, None, False),
    (math.nan, math.nan, None, False),
    (math.inf, math.nan, "a finite number", False),
    (Percent(0.12), 12.0, None, True),
    (True, math.nan, NUMBER, False),               # a boolean is not a number
    (pd.Timestamp("2020-01-02"), math.nan, NUMBER, False),
]


def test_a_hostile_number_column_reads_as_cell_by_cell():
    raw, picks = _column(PERCENT_CELLS)
    out = _Collector("f.csv")
    parsed = _parse_number(raw, "ki67_percent", out, ".", percent=True)
    expected = np.array([PERCENT_CELLS[k][1] for k in picks])
    assert parsed.dtype == float and parsed.index.equals(raw.index)
    np.testing.assert_array_equal(parsed.to_numpy(), expected)        # NaN where NaN
    assert list(np.signbit(parsed.to_numpy())) == list(np.signbit(expected))   # -0.0 kept
    assert parsed.attrs["explicit_percent"] == [row for row, k in zip(raw.index, picks)
                                                if PERCENT_CELLS[k][3]]
    assert out.problems == _expected_problems(raw, picks, PERCENT_CELLS, "ki67_percent")
    assert len(out.problems) > len({p.value for p in out.problems})   # texts repeated


def test_a_percentage_cell_is_refused_where_no_percentage_is_expected():
    table = [("12", 12.0, None), (" 12 ", 12.0, None), ("12%", math.nan, NUMBER),
             (Percent(0.125), math.nan, "a number (not a percentage format)"),
             ("1,5", math.nan, NUMBER), ("NA", math.nan, None)]
    raw, picks = _column(table, 60)
    out = _Collector("f.csv")
    parsed = _parse_number(raw, "age", out)
    np.testing.assert_array_equal(parsed.to_numpy(), [table[k][1] for k in picks])
    # the message quotes the percentage as any value (here too long to be quoted)
    shown = [(row, _show("12.5% (a cell formatted as a percentage)" if isinstance(
                  table[k][0], Percent) else table[k][0], "age"), table[k][2])
             for row, k in zip(raw.index, picks) if table[k][2] is not None]
    assert [(p.row, p.value, p.expected) for p in out.problems] == shown
    assert parsed.attrs["explicit_percent"] == []


def test_a_decimal_comma_column_reads_as_cell_by_cell():
    comma = "a number with a decimal comma, such as 12,5 (no thousands separators)"
    table = [("12,5", 12.5, None), ("12", 12.0, None), (",5", 0.5, None),
             ("12.5", math.nan, comma), ("1.250", math.nan, comma), ("1e3", math.nan, comma),
             (" na ", math.nan, None), (3.25, 3.25, None)]
    raw, picks = _column(table, 80)
    out = _Collector("f.csv")
    parsed = _parse_number(raw, "age", out, ",")
    np.testing.assert_array_equal(parsed.to_numpy(), [table[k][1] for k in picks])
    assert out.problems == _expected_problems(raw, picks, table, "age")


def test_a_hostile_coded_column_reads_as_cell_by_cell():
    coding = {"1": "G1", "2": "G2", "3": "G3", "grade 3": "G3", "x": None, "-": "G1"}
    allowed = "a WHO grade: one of G1, G2, G3 (or a spelling mapped in cohort.codings: -, 1, 2, " \
              "3, grade 3)"
    table = [("G1", "G1", None), (" g2 ", "G2", None), ("2", "G2", None), ("2.0", "G2", None),
             (2.0, "G2", None), (3, "G3", None), ("Grade 3", "G3", None),
             ("-", "G1", None),                    # a declared spelling wins over a token
             (" X ", None, None),                  # declared missing
             ("NA", None, None), ("", None, None), (None, None, None), (math.nan, None, None),
             ("G4", None, allowed), ("2.5", None, allowed), (2.5, None, allowed),
             (DECOMPOSED, None, allowed), ("grade  3", None, allowed)]
    raw, picks = _column(table, 300)
    out = _Collector("f.csv")
    parsed = _parse_coded(raw, "who_grade", ("G1", "G2", "G3"), coding, out, "a WHO grade",
                          "grade")
    assert parsed.dtype == object and parsed.index.equals(raw.index)
    assert parsed.tolist() == [table[k][1] for k in picks]
    assert out.problems == _expected_problems(raw, picks, table, "who_grade")


def test_a_recoding_keeps_only_the_declared_codes():
    # R's event coding: 1 = censored, 2 = event; the built-in 0/1 no longer apply
    table = [("1", 0, None), ("2", 1, None), (2, 1, None), (" 1.0 ", 0, None),
             ("0", None, "an event indicator: one of the codes declared in cohort.codings.event "
                         "(1, 2), which recode 0, 1"), ("NA", None, None)]
    raw, picks = _column(table, 50)
    out = _Collector("f.csv")
    parsed = _parse_coded(raw, "os_event", (0, 1), {"1": 0, "2": 1}, out,
                          "an event indicator", "event")
    assert parsed.tolist() == [table[k][1] for k in picks]
    assert all(type(v) is int for v in parsed.dropna())
    assert out.problems == _expected_problems(raw, picks, table, "os_event")


def test_a_hostile_text_column_reads_as_cell_by_cell():
    table = [(" SYN1 ", "SYN1"), ("SYN1", "SYN1"), ("syn1", "syn1"), ("NA", None),
             (" missing ", None), ("\u00a0", None), (None, None), (math.nan, None),
             (DECOMPOSED, DECOMPOSED), (COMPOSED, COMPOSED), (12.0, "12"), (12.5, "12.5"),
             (7, "7"), ("007", "007")]
    raw, picks = _column(table, 200)
    parsed = _parse_text(raw)
    assert parsed.dtype == object and parsed.index.equals(raw.index)
    assert parsed.tolist() == [table[k][1] for k in picks]


def test_an_empty_column_reads_as_empty():
    raw = pd.Series([], dtype=object, index=pd.Index([], name="row"))
    out = _Collector("f.csv")
    assert len(_parse_number(raw, "age", out)) == 0
    assert len(_parse_coded(raw, "sex", ("F", "M"), None, out, "a sex code")) == 0
    assert len(_parse_text(raw)) == 0 and out.problems == []


#: text cells of a hostile CSV: spaces, missing tokens, decomposed accents, commas
CSV_TEXTS = ["A", " A ", "", "  ", "NA", DECOMPOSED, COMPOSED, "12,5", "x|y", "\u00a0",
             "P4b", "naïve", unicodedata.normalize("NFD", "naïve"), "'quoted'"]


def _clean_cell(text):
    """The reading rule of one text cell: blank is missing, the rest in NFC."""
    return unicodedata.normalize("NFC", text) if text.strip() else None


@pytest.mark.parametrize("quoted", [False, True])
def test_a_hostile_csv_reads_as_cell_by_cell(tmp_path, quoted):
    """Without quotes the rows are split in C; with every cell quoted the csv module
    reads them. Both give the frame of the csv module's cells cleaned one by one."""
    rng = random.Random(3)
    header = ["patient_id", "centre", "site", "grade"]
    rows = [[f"S{i}"] + [rng.choice(CSV_TEXTS) for _ in range(3)] for i in range(300)]
    rows.insert(17, ["", "", "", ""])                       # an empty row, skipped
    path = tmp_path / "cohort.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, delimiter=";", lineterminator="\n",
                   quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL).writerows(
            [header, *rows])
    text = path.read_text(encoding="utf-8")
    assert ('"' in text) == quoted
    frame = read_table(path)

    lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    kept = [(n, [_clean_cell(c) for c in cells]) for n, cells in enumerate(lines[1:], 2)
            if any(c.strip() for c in cells)]
    assert frame.index.tolist() == [n for n, _ in kept]
    assert frame.columns.tolist() == header
    assert frame.to_numpy().tolist() == [cells for _, cells in kept]
    decomposed = sum(c != unicodedata.normalize("NFC", c) and bool(c.strip())
                     for cells in lines for c in cells)
    assert decomposed > 10
    assert frame.attrs["notes"] == [
        f"{decomposed} text cell(s) in decomposed Unicode (accents stored as separate marks, "
        "as macOS writes them) were read in composed form (NFC), so that a name typed on macOS "
        "and on Windows is one value (one centre, one code)"]


def test_lines_split_in_c_are_the_csv_modules_rows():
    """Random texts: wherever the fast split answers, it is the csv module's reading."""
    rng = random.Random(11)
    alphabet = ["a", " ", ",", ";", "\t", "\n", "\n", "\r", '"', "\x0b", "\x85", "\u2028",
                "é", "\x00"]
    answered = 0
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        sep = rng.choice([",", ";", "\t"])
        rows = _split_plain(text, sep)
        if rows is None:
            continue
        answered += 1
        assert rows == list(csv.reader(io.StringIO(text, newline=""), delimiter=sep)), text
    assert answered > 2000
    assert _split_plain('a,"b"\n', ",") is None and _split_plain("a\r\nb\n", ",") is None


def test_a_hostile_date_column_reads_as_cell_by_cell():
    import datetime as dt

    from netpet_stats.cohort.dates import parse_dates

    real = "a real calendar date"
    table = [("2020-01-02", "2020-01-02", None), (" 2020-1-2 ", "2020-01-02", None),
             ("2020-01-02 10:11", "2020-01-02", None), ("31/12/2024", "2024-12-31", None),
             ("03.04.2024", "2024-04-03", None),            # day first
             ("2020-02-30", None, real), ("31/02/2024", None, real),
             ("2024-03", None, "a complete date with day, month and year"),
             ("NA", None, real + " as YYYY-MM-DD (or set cohort.dates.format for another "
                             "layout)"),                        # no missing token for dates
             ("", None, None), ("  ", None, None), (None, None, None), (math.nan, None, None),
             (5.5, None, "a date (a date cell or text such as 2024-03-31), not a number"),
             (pd.Timestamp("2020-05-06 13:14"), "2020-05-06", None),
             (dt.date(2021, 2, 3), "2021-02-03", None)]
    raw, picks = _column(table, 300)
    dates, problems = parse_dates(raw, None, True)
    assert str(dates.dtype) == "datetime64[ns]" and dates.index.equals(raw.index)
    assert dates.tolist() == [pd.Timestamp(table[k][1]) if table[k][1] else pd.NaT
                              for k in picks]
    assert list(problems.items()) == [(row, table[k][2]) for row, k in zip(raw.index, picks)
                                      if table[k][2] is not None]
    assert all(type(row) is int for row in problems)


def test_dates_a_column_cannot_hold_are_problems_of_their_cells():
    """The year 1500 (typed for 2015) is refused naming its cell, and a timestamp with a
    time zone (a Parquet cell) is its calendar day where recorded: neither stops the
    reading with pandas' internal error, as both did."""
    import datetime as dt

    from netpet_stats.cohort.dates import parse_dates

    raw = pd.Series(["2015-03-04", "1500-03-04", dt.date(1500, 1, 1),
                     pd.Timestamp("2021-06-30 23:30", tz="America/New_York"),
                     "2262-04-12", "2262-04-11"], index=[2, 3, 4, 5, 6, 7], dtype=object)
    dates, problems = parse_dates(raw, None, None)
    expected = "a date between 1677-09-22 and 2262-04-11"
    assert problems == {3: expected, 4: expected, 6: expected}
    assert dates.tolist() == [pd.Timestamp("2015-03-04"), pd.NaT, pd.NaT,
                              pd.Timestamp("2021-06-30"), pd.NaT, pd.Timestamp("2262-04-11")]
