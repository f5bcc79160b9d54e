"""Real-world cohort inputs: several files, dates, local codings, formats, warnings."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from netpet_stats.netpet import synthetic
from netpet_stats.cohort.problems import CohortValidationError
from netpet_stats.cohort.prepare import prepare_cohort
from netpet_stats.cohort.read import cohort_sources
from netpet_stats.report.tables import suppress_counts

from conftest import ROOT


@pytest.fixture
def centres_config(base_config):
    cfg = copy.deepcopy(base_config)
    override = yaml.safe_load((ROOT / "config" / "centres.yaml").read_text())

    def merge(a, b):
        for k, v in b.items():
            if isinstance(v, dict) and isinstance(a.get(k), dict):
                merge(a[k], v)
            else:
                a[k] = v
    merge(cfg, override)
    cfg["cohort"]["folder"] = str(ROOT / cfg["cohort"]["folder"])
    return cfg


def test_three_centre_spreadsheets_reproduce_the_cohort_times(centres_config):
    prepared = prepare_cohort(centres_config)
    data = prepared.data
    cohort = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv").set_index("patient_id")
    assert len(data) == len(cohort)
    assert sorted(data["centre"].unique()) == ["A", "B", "C"]
    # the local codings map back to the canonical values
    merged = data.set_index("patient_id").join(cohort, rsuffix="_source")
    assert (merged["grade"].fillna("-") == merged["who_grade"].fillna("-")).all()
    assert (merged["netpet"] == merged["netpet_source"]).all()
    assert ((merged["extrahepatic"] == 1) == (merged["extrahepatic_disease"] == "yes")).all()
    # times from dates equal the generator's times to within half a day
    half_day = 0.5 / 30.4375 + 1e-9
    for ep in ("os", "ttp"):
        np.testing.assert_array_equal(merged[f"{ep}_event"].to_numpy(),
                                      merged[f"{ep}_event_source"].to_numpy())
        # generator times are rounded to 0.01 month, dates to whole days
        diff = (merged[f"{ep}_time"] - merged[f"{ep}_months"]).abs()
        assert diff.max() <= half_day + 0.005
    # the two patients whose scans are 75 days apart are excluded, with the reason
    window = prepared.exclusions[prepared.exclusions["reason"].str.startswith("scans 75 days")]
    assert len(window) == 2 and (window["analysis"] == "all").all()
    # rows are identified by the file's path as the configuration gives it
    assert set(window["file"]) <= {str(p) for p, _ in cohort_sources(centres_config["cohort"])}


def test_committed_spreadsheets_are_the_generator_output(tmp_path):
    from netpet_stats.cohort.read import read_table

    for path in synthetic.write_centre_spreadsheets(str(tmp_path), 164):
        committed = read_table(ROOT / "data" / "synthetic" / "centres" / path.name, "patients")
        pd.testing.assert_frame_equal(read_table(path, "patients"), committed)


def _dated(rows):
    cols = ["patient_id", "netpet", "sstr_scan_date", "fdg_scan_date", "progression_date",
            "death_date", "last_follow_up_date"]
    return pd.DataFrame(rows, columns=cols)


def _date_config(tmp_path, frame, name="dated.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    cols = {c: c for c in frame.columns}
    cols.update({"centre": None})
    return {
        "cohort": {"tables": [{"path": str(path), "centre": "X"}], "columns": cols,
                   "times": "dates",
                   "dates": {"time_zero": "later_scan", "scan_window_days": 60,
                             "data_cutoff": "2025-01-01"}},
        "netpet": {"grouping": "published"},
        "endpoints": {"os": {"label": "OS"}, "ttp": {"label": "TTP"}},
        "covariates": {}, "cox": {"univariable": [], "models": {}},
    }


def test_dates_to_times_by_hand(tmp_path):
    frame = _dated([
        # died 365.25 days after the later scan -> OS 12 months, event; progressed day 30.4375*3
        ("p1", "P1", "2020-01-01", "2020-01-10", "2020-04-10", "2021-01-09", "2021-01-09"),
        # alive at last follow-up, no progression -> OS and TTP censored at last follow-up
        ("p2", "P5", "2020-02-01", "2020-02-01", "", "", "2020-08-01"),
        # died without progression -> TTP censored at death
        ("p3", "P2", "2020-03-01", "2020-03-05", "", "2020-06-05", "2020-06-05"),
    ])
    data = prepare_cohort(_date_config(tmp_path, frame)).data.set_index("patient_id")
    m = 30.4375
    assert data.loc["p1", "os_time"] == pytest.approx(365 / m)
    assert data.loc["p1", "os_event"] == 1
    assert data.loc["p1", "ttp_time"] == pytest.approx(91 / m) and data.loc["p1", "ttp_event"] == 1
    assert data.loc["p2", "os_time"] == pytest.approx(182 / m) and data.loc["p2", "os_event"] == 0
    assert data.loc["p2", "ttp_event"] == 0 and data.loc["p2", "ttp_time"] == pytest.approx(182 / m)
    assert data.loc["p3", "ttp_event"] == 0 and data.loc["p3", "ttp_time"] == pytest.approx(92 / m)
    assert data.loc["p3", "os_event"] == 1


def test_every_date_violation_is_reported(tmp_path):
    frame = _dated([
        ("ok", "P1", "2020-01-01", "2020-01-02", "", "", "2021-01-01"),
        ("bad1", "P1", "2020-02-30", "2020-01-02", "", "", "2021-01-01"),      # impossible date
        ("bad2", "P1", "2020-01-01", "2020-01-02", "2021-06-01", "2021-01-01", "2021-01-01"),
        ("bad3", "P1", "2020-01-01", "2020-01-02", "2022-01-01", "", "2021-01-01"),
        ("bad4", "P1", "2020-01-01", "2020-01-02", "", "2019-12-01", "2019-12-01"),  # before t0
        ("bad5", "P1", "2020-01-01", "2020-01-02", "", "", "2030-01-01"),      # after cut-off
        ("far", "P1", "2020-01-01", "2020-05-01", "", "", "2021-01-01"),       # 121 days apart
    ])
    with pytest.raises(CohortValidationError) as err:
        prepare_cohort(_date_config(tmp_path, frame))
    found = {(p.row, p.column, p.expected.split(" ")[0] + " " + p.expected.split(" ")[1])
             for p in err.value.problems}
    rows = {(p.row, p.column) for p in err.value.problems}
    assert (3, "sstr_scan_date") in rows                       # impossible date
    assert (4, "progression_date") in rows                     # progression after death
    assert (5, "progression_date") in rows                     # progression after last FU
    assert (6, "death_date") in rows                           # death before time zero
    assert (7, "last_follow_up_date") in rows                  # date after cut-off
    assert all(r not in (2, 8) for r, _ in rows), found        # good row, window-only row
    text = str(err.value)
    assert "'2020-02-30'" in text and "data cut-off 2025-01-01" in text


def test_scan_window_excludes_and_is_ledgered(tmp_path):
    frame = _dated([
        ("a", "P1", "2020-01-01", "2020-01-02", "", "", "2021-01-01"),
        ("b", "P5", "2020-01-01", "2020-05-01", "", "", "2021-01-01"),
    ])
    prepared = prepare_cohort(_date_config(tmp_path, frame))
    ledger = prepared.exclusions
    assert ledger.to_dict("records") == [{"file": str(tmp_path / "dated.csv"), "row": 3,
                                          "analysis": "all",
                                          "reason": "scans 121 days apart (window 60 days)"}]


def test_several_files_must_agree_and_ids_be_unique_across_them(tmp_path, base_config):
    cohort = pd.read_csv(base_config["cohort"]["table"], dtype=str, keep_default_na=False)
    a, b = cohort.iloc[:10].copy(), cohort.iloc[10:20].copy()
    b.loc[b.index[0], "patient_id"] = a["patient_id"].iloc[3]   # same id in both files
    b = b.drop(columns=["ki67_percent"])                         # a column missing in one file
    a.to_csv(tmp_path / "a.csv", index=False)
    b.to_csv(tmp_path / "b.csv", sep=";", index=False)           # another delimiter
    cfg = copy.deepcopy(base_config)
    cfg["cohort"].update({"table": None, "lesions": None,
                          "tables": [{"path": str(tmp_path / "a.csv")},
                                     {"path": str(tmp_path / "b.csv")}]})
    with pytest.raises(CohortValidationError) as err:
        prepare_cohort(cfg)
    where = {(p.file.split("/")[-1], p.row, p.column) for p in err.value.problems}
    assert ("b.csv", None, "ki67_percent") in where
    assert ("a.csv", 5, "patient_id") in where and ("b.csv", 2, "patient_id") in where
    assert cohort["patient_id"].iloc[3] not in str(err.value)


def test_parquet_and_decimal_comma(tmp_path, base_config):
    cohort = pd.read_csv(base_config["cohort"]["table"], dtype=str, keep_default_na=False)
    cohort.to_parquet(tmp_path / "c.parquet", index=False)
    cfg = copy.deepcopy(base_config)
    cfg["cohort"].update({"table": str(tmp_path / "c.parquet"), "lesions": None})
    assert len(prepare_cohort(cfg).data) == 319
    comma = cohort.copy()
    numeric = ["os_months", "ttp_months", "ki67_percent", "age_at_diagnosis"]
    for col in numeric:  # one locale per file: every number with a decimal comma
        comma[col] = comma[col].str.replace(".", ",", regex=False)
    comma.to_csv(tmp_path / "comma.csv", sep=";", index=False)
    cfg["cohort"].update({"table": str(tmp_path / "comma.csv"), "decimal": ","})
    data = prepare_cohort(cfg).data
    np.testing.assert_allclose(data["os_time"], pd.to_numeric(cohort["os_months"]))
    np.testing.assert_allclose(data["ki67"], pd.to_numeric(cohort["ki67_percent"]))


def test_grade_ki67_disagreement_is_a_warning(tmp_path, base_config):
    cohort = pd.read_csv(base_config["cohort"]["table"], dtype=str, keep_default_na=False)
    cohort.loc[0, ["who_grade", "ki67_percent"]] = ["G1", "25"]
    cohort.to_csv(tmp_path / "c.csv", index=False)
    cfg = copy.deepcopy(base_config)
    cfg["cohort"].update({"table": str(tmp_path / "c.csv"), "lesions": None})
    warnings = prepare_cohort(cfg).warnings
    assert warnings[["file", "row"]].values.tolist() == [[str(tmp_path / "c.csv"), 2]]
    assert "G1 but Ki-67 25%" in warnings["warning"].iloc[0]


def test_small_cell_suppression_of_a_distribution_hides_a_second_count():
    # 4 alone would be recoverable from the published total (the patients received)
    frame = pd.DataFrame({"score": ["P0", "P1", "P2", "P5"], "n": [0, 4, 9, 30]})
    out = suppress_counts(frame, "n", 5)
    assert out["n"].tolist() == [0, "<5", "<5", 30]
    assert suppress_counts(frame.assign(n=[0, 6, 9, 30]), "n", 5)["n"].tolist() == [0, 6, 9, 30]


def test_small_cell_suppression_of_a_cross_table_leaves_no_row_or_column_single():
    # group x grade in long form; row and column totals are published in Table 1
    frame = pd.DataFrame({"group": ["P1", "P1", "P5", "P5"], "grade": ["G1", "G3", "G1", "G3"],
                          "n": [40, 3, 12, 20]})
    out = suppress_counts(frame, "n", 5, by=["group", "grade"])
    hidden = (out["n"] == "<5").tolist()
    # P1/G3 primary; row P1: P1/G1; column G3: P5/G3; then row P5 and column G1 hold two
    assert hidden == [True, True, True, True]


def test_table1_secondary_suppression_leaves_nothing_to_subtract():
    from netpet_stats.report.tables import suppress_table1

    # sex by group: F = 3 in group a would be hidden; alone it is recoverable as
    # Overall - b (row) and as n_a - M_a (column)
    table = pd.DataFrame({
        "variable": ["n", "sex, n (%)", "sex, n (%)", "sex, n (%)"],
        "level": ["", "F", "M", "(missing)"], "Missing": ["", "0", "", ""],
        "Overall": [40, "13 (32.5)", "27 (67.5)", "0 (0.0)"],
        "a": [10, "3 (30.0)", "7 (70.0)", "0 (0.0)"],
        "b": [30, "10 (33.3)", "20 (66.7)", "0 (0.0)"]})
    out = suppress_table1(table, 5)
    hidden = out[["Overall", "a", "b"]] == "<5"
    # primary: a/F; column a: the next smallest count, a/M; row F: b/F; row M: b/M;
    # then column b has two hidden, Overall none: no single hidden cell in any sum
    assert hidden.values.tolist() == [[False, False, False], [False, True, True],
                                      [False, True, True], [False, False, False]]
    # nothing hidden when nothing is small
    assert (suppress_table1(table.assign(a=[10, "5 (50.0)", "5 (50.0)", "0 (0.0)"]), 5)
            .equals(table.assign(a=[10, "5 (50.0)", "5 (50.0)", "0 (0.0)"]).astype(object)))
