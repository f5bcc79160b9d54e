"""Time zero at diagnosis with entry at the scan (delayed entry), or an entry-time column.

Truth by construction: times counted in days between the dates written below,
divided by 30.4375 (months of 365.25 / 12 days), as R's
``as.numeric(difftime(b, a, units = "days")) / 30.4375``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from netpet_stats.cohort.ledger import analysis_set
from netpet_stats.cohort.prepare import IMMORTAL_TIME_WARNING, prepare_cohort
from test_user_tables import (DATE_HEADER, HEADER, _config, _csv, _date_rows, _dates_config,
                              _problems, _rows)

DIAG_HEADER = DATE_HEADER + ["diag"]
DIAGNOSES = ["2018-01-10", "2019-12-01", "2015-03-05"]


def _diagnosis_config(base_config, path, **dates):
    cfg = _dates_config(base_config, path, time_zero="diagnosis", **dates)
    cfg["cohort"]["columns"]["diagnosis_date"] = "diag"
    return cfg


def _diag_rows():
    return [r + [d] for r, d in zip(_date_rows(), DIAGNOSES)]


def test_time_from_diagnosis_with_entry_at_the_later_scan(tmp_path, base_config):
    path = _csv(tmp_path, _diag_rows(), DIAG_HEADER)
    prepared = prepare_cohort(_diagnosis_config(base_config, path, entry="later_scan"))
    data = prepared.data
    month = 30.4375
    # entry: later scan - diagnosis; exit: death or last follow-up - diagnosis
    d = dt.date
    entry = [(d(2020, 1, 20) - d(2018, 1, 10)).days, (d(2020, 2, 3) - d(2019, 12, 1)).days,
             (d(2021, 3, 5) - d(2015, 3, 5)).days]
    os_end = [(d(2023, 6, 30) - d(2018, 1, 10)).days, (d(2021, 1, 15) - d(2019, 12, 1)).days,
              (d(2024, 1, 1) - d(2015, 3, 5)).days]
    np.testing.assert_allclose(data["entry_time"], np.array(entry) / month, rtol=0, atol=1e-12)
    np.testing.assert_allclose(data["os_time"], np.array(os_end) / month, rtol=0, atol=1e-12)
    assert IMMORTAL_TIME_WARNING not in prepared.warnings["warning"].tolist()


def test_time_from_diagnosis_without_entry_warns_of_immortal_time(tmp_path, base_config):
    path = _csv(tmp_path, _diag_rows(), DIAG_HEADER)
    prepared = prepare_cohort(_diagnosis_config(base_config, path))
    assert "entry_time" not in prepared.data
    assert IMMORTAL_TIME_WARNING in prepared.warnings["warning"].tolist()


def test_a_death_on_or_before_the_entry_scan_is_refused(tmp_path, base_config):
    rows = _diag_rows()
    death = DIAG_HEADER.index("death")
    rows[1][death] = "2020-02-02"   # after diagnosis and the SSTR scan, before the FDG scan
    rows[1][DIAG_HEADER.index("prog")] = ""
    rows[1][DIAG_HEADER.index("last")] = "2020-02-02"
    path = _csv(tmp_path, rows, DIAG_HEADER)
    problems = _problems(_diagnosis_config(base_config, path, entry="later_scan"))
    assert {(p.row, p.column) for p in problems} >= {(3, "death"), (3, "last")}
    assert all("entry into the risk set (later scan)" in p.expected for p in problems
               if p.column in ("death", "last"))


def test_an_entry_time_column_in_days_is_converted_and_checked(tmp_path, base_config):
    rows = _rows(4)
    header = HEADER + ["entry_days"]
    entries = ["30.4375", "0", "", "60.875"]
    rows = [r + [e] for r, e in zip(rows, entries)]
    cfg = _config(base_config, _csv(tmp_path, rows, header=header), entry_time_unit="days")
    cfg["cohort"]["columns"]["entry_time"] = "entry_days"
    data = prepare_cohort(cfg).data
    np.testing.assert_allclose(data["entry_time"].to_numpy(float), [1.0, 0.0, np.nan, 2.0])
    # a missing entry time leaves the patient out of every endpoint, with its reason
    assert 2 not in analysis_set(data, "os").index
    rows[0][-1] = str(30.4375 * 11)   # entry at 11 months; os_months of row 2 is 10.5
    cfg = _config(base_config, _csv(tmp_path, rows, header=header), entry_time_unit="days")
    cfg["cohort"]["columns"]["entry_time"] = "entry_days"
    problems = [p for p in _problems(cfg) if p.column == "entry_days"]
    assert [p.row for p in problems] == [2, 2]     # after both os (10.5) and ttp (5.25)
    assert "an entry time before the os time" in problems[0].expected


def test_missing_entry_time_is_listed_in_the_exclusions(tmp_path, base_config):
    rows = [r + [e] for r, e in zip(_rows(4), ["1", "", "0", "0"])]
    cfg = _config(base_config, _csv(tmp_path, rows, header=HEADER + ["entry"]))
    cfg["cohort"]["columns"]["entry_time"] = "entry"
    ledger = prepare_cohort(cfg).exclusions
    assert ledger[(ledger["row"] == 3) & (ledger["analysis"] == "os")]["reason"].tolist() == [
        "entry time missing"]


def test_case_weights_are_read_refused_below_or_at_zero_and_missing_ones_listed(
        tmp_path, base_config):
    header = HEADER + ["ipw"]
    rows = [r + [w] for r, w in zip(_rows(4), ["1.25", "", "0.5", "2"])]
    cfg = _config(base_config, _csv(tmp_path, rows, header=header))
    cfg["cohort"]["columns"]["weight"] = "ipw"
    prepared = prepare_cohort(cfg)
    np.testing.assert_allclose(prepared.data["weight"].to_numpy(float), [1.25, np.nan, 0.5, 2])
    ledger = prepared.exclusions
    assert ledger[(ledger["row"] == 3) & (ledger["analysis"] == "os")]["reason"].tolist() == [
        "case weight missing"]
    rows[2][-1], rows[3][-1] = "0", "-1"
    cfg = _config(base_config, _csv(tmp_path, rows, header=header))
    cfg["cohort"]["columns"]["weight"] = "ipw"
    problems = [p for p in _problems(cfg) if p.column == "ipw"]
    assert [(p.row, p.value) for p in problems] == [(4, "'0'"), (5, "'-1'")]
    assert "a case weight greater than 0" in problems[0].expected
