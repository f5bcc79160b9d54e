"""A hospital's own missing-value spellings and an age from the date of birth (issue 28, item 5).

Each case builds a small table in which the values to expect are known by
construction (a declared spelling read as missing, an age counted in days from a
date of birth to the scan date and divided by 365.25, as R's
``as.numeric(difftime(scan, birth, units = "days")) / 365.25``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from netpet_stats.cohort.prepare import prepare_cohort
from netpet_stats.config import resolve

from test_user_tables import HEADER, _config, _csv, _problems, _rows


def test_declared_missing_spellings_are_read_as_missing_and_counted(tmp_path, base_config):
    rows = _rows(6)
    rows[0][6] = "not recorded"      # ki67
    rows[1][6] = "-99"               # ki67, a number meaning missing
    rows[2][5] = "NK"                # grade, via `all`
    rows[3][5] = " Unk "             # grade, via the grade list (case, spaces)
    cfg = _config(base_config, _csv(tmp_path, rows),
                  missing_values={"all": ["NK"], "ki67": ["not recorded", -99],
                                  "grade": ["unk"]})
    prepared = prepare_cohort(cfg)
    data = prepared.data
    assert data["ki67"].isna().tolist() == [True, True, False, False, False, False]
    assert data["grade"].isna().tolist() == [False, False, True, True, False, False]
    # the other cells are read as typed
    assert data.loc[4, "ki67"] == pytest.approx(7.5)
    notes = prepared.warnings["warning"].tolist()
    assert "2 cell(s) of column 'ki67_percent' read as missing (cohort.missing_values)" in notes
    assert "2 cell(s) of column 'who_grade' read as missing (cohort.missing_values)" in notes


def test_without_the_declaration_the_spelling_is_refused_with_the_fix(tmp_path, base_config):
    rows = _rows(4)
    rows[0][6] = "not recorded"
    cfg = _config(base_config, _csv(tmp_path, rows))
    (problem,) = [p for p in _problems(cfg) if p.column == "ki67_percent"]
    assert problem.row == 2


def test_a_coding_to_null_means_missing_and_passes_the_schema(tmp_path, base_config):
    rows = _rows(4)
    rows[0][5] = "not graded"
    cfg = _config(base_config, _csv(tmp_path, rows))
    cfg["cohort"]["codings"]["grade"] = {**cfg["cohort"]["codings"]["grade"], "not graded": None}
    resolve(cfg)   # was: None is not of type 'string', 'integer'
    data = prepare_cohort(cfg).data
    assert data["grade"].tolist()[:2] == [None, "G2"]


def test_missing_values_for_an_unknown_column_is_refused(tmp_path, base_config):
    cfg = _config(base_config, _csv(tmp_path, _rows(4)), missing_values={"ki76": ["NK"]})
    (problem,) = [p for p in _problems(cfg) if "missing_values" in str(p.column)]
    assert problem.column == "cohort.missing_values.ki76"
    assert "ki67" in problem.expected


def _with_birth(rows, births, scans):
    header = [h if h != "age_at_diagnosis" else "dob" for h in HEADER] + ["sstr_date",
                                                                          "fdg_date"]
    return header, [[*r[:2], b, *r[3:], s1, s2] for r, b, (s1, s2) in zip(rows, births, scans)]


def test_age_is_derived_from_birth_and_the_later_scan_and_the_birth_date_dropped(
        tmp_path, base_config):
    births = ["1950-03-01", "1960-12-31", "", "1970-01-15"]
    scans = [("2020-03-01", "2020-02-20"), ("2021-01-10", "2021-01-20"),
             ("2020-05-05", "2020-05-06"), ("2019-07-01", "2019-06-30")]
    header, rows = _with_birth(_rows(4), births, scans)
    cfg = _config(base_config, _csv(tmp_path, rows, header=header))
    cols = cfg["cohort"]["columns"]
    del cols["age"]
    cols.update({"date_of_birth": "dob", "sstr_scan_date": "sstr_date",
                 "fdg_scan_date": "fdg_date"})
    prepared = prepare_cohort(cfg)
    data = prepared.data
    # days from birth to the later scan / 365.25, counted by hand
    expected = [(dt.date(2020, 3, 1) - dt.date(1950, 3, 1)).days / 365.25,
                (dt.date(2021, 1, 20) - dt.date(1960, 12, 31)).days / 365.25,
                np.nan,
                (dt.date(2019, 7, 1) - dt.date(1970, 1, 15)).days / 365.25]
    np.testing.assert_allclose(data["age"].to_numpy(float), expected, rtol=0, atol=1e-12)
    assert "date_of_birth" not in data.columns
    assert any("age derived from the date of birth" in w and "later scan" in w
               for w in prepared.warnings["warning"])


def test_a_birth_after_the_scan_is_refused_without_quoting_the_date(tmp_path, base_config):
    births = ["1950-03-01", "2021-02-01", "1960-01-01", "1880-01-01"]
    scans = [("2020-03-01", "2020-03-01")] * 4
    header, rows = _with_birth(_rows(4), births, scans)
    cfg = _config(base_config, _csv(tmp_path, rows, header=header))
    cols = cfg["cohort"]["columns"]
    cols["age"] = None
    cols.update({"date_of_birth": "dob", "sstr_scan_date": "sstr_date",
                 "fdg_scan_date": "fdg_date"})
    problems = [p for p in _problems(cfg) if p.column == "dob"]
    assert [(p.row, p.value) for p in problems] == [(3, "(a date of birth, not shown)"),
                                                    (5, "(a date of birth, not shown)")]
    assert "before the later scan" in problems[0].expected
    assert "at most 120 years" in problems[1].expected
    text = "\n".join(str(p) for p in problems)
    assert "2021-02-01" not in text and "1880" not in text


def test_a_birth_date_without_a_scan_date_is_refused_in_the_configuration(tmp_path, base_config):
    header = [h if h != "age_at_diagnosis" else "dob" for h in HEADER]
    rows = [[*r[:2], "1950-01-01", *r[3:]] for r in _rows(4)]
    cfg = _config(base_config, _csv(tmp_path, rows, header=header))
    cols = cfg["cohort"]["columns"]
    del cols["age"]
    cols["date_of_birth"] = "dob"
    (problem,) = [p for p in _problems(cfg) if p.column == "date_of_birth"]
    assert "sstr_scan_date" in problem.expected
