"""Cohort validation: every problem at once, no identifiers echoed, every row accounted for."""

import numpy as np
import pandas as pd
import pytest

from netpet_stats.cohort.problems import CohortValidationError
from netpet_stats.cohort.prepare import prepare_cohort


def _write(tmp_path, frame, name="cohort.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture
def cohort_frame(base_config):
    return pd.read_csv(base_config["cohort"]["table"], dtype=str, keep_default_na=False)


def test_bundled_cohort_is_valid_and_every_row_accounted_for(config):
    prepared = prepare_cohort(config)
    data, ledger = prepared.data, prepared.exclusions
    assert len(data) == 319
    # Each row is either excluded from all analyses (exactly once) or enters the endpoint sets.
    excluded_all = ledger[ledger["analysis"] == "all"]["row"]
    assert excluded_all.is_unique
    in_group = data["netpet_group"].notna()
    assert set(excluded_all) == set(data.loc[~in_group, "row"])
    assert in_group.sum() + len(excluded_all) == len(data)
    # P0 patients are the only whole-analysis exclusions in the synthetic cohort.
    assert (data.loc[~in_group, "netpet"] == "P0").all()
    # Model-level exclusions match the missing covariates exactly.
    miss_grade = set(data.loc[in_group & data["grade"].isna(), "row"])
    assert set(ledger[ledger["analysis"] == "os:primary"]["row"]) == miss_grade
    miss_ki67 = set(data.loc[in_group & data["ki67"].isna(), "row"])
    assert set(ledger[ledger["analysis"] == "os:ki67"]["row"]) == miss_ki67


def test_malformed_cohort_lists_every_problem(tmp_path, config, cohort_frame):
    bad = cohort_frame.copy()
    bad.loc[3, "os_months"] = "twelve"          # text in a time column (row 5)
    bad.loc[7, "who_grade"] = "G4"              # unknown grade (row 9)
    bad.loc[10, "patient_id"] = bad.loc[11, "patient_id"]  # duplicate id (rows 12, 13)
    bad.loc[20, "ttp_months"] = "-2"            # negative time (row 22)
    bad.loc[21, "ki67_percent"] = "140"         # Ki-67 out of range (row 23)
    bad.loc[22, "os_event"] = "2"               # event not 0/1 (row 24)
    bad = bad.drop(columns=["centre"])          # missing required column
    config["cohort"]["table"] = _write(tmp_path, bad)
    config["cohort"]["lesions"] = None
    with pytest.raises(CohortValidationError) as err:
        prepare_cohort(config)
    problems = {(p.row, p.column) for p in err.value.problems}
    assert (None, "centre") in problems
    assert (5, "os_months") in problems
    assert (9, "who_grade") in problems
    assert (12, "patient_id") in problems and (13, "patient_id") in problems
    assert (22, "ttp_months") in problems
    assert (23, "ki67_percent") in problems
    assert (24, "os_event") in problems
    text = str(err.value)
    assert "twelve" in text and "G4" in text and "'140'" in text
    # Identifiers are never echoed.
    assert bad.loc[11, "patient_id"] not in text
    assert "Traceback" not in text


def test_codings_and_missing_values_become_exclusions(tmp_path, config, cohort_frame):
    frame = cohort_frame.copy()
    frame["who_grade"] = frame["who_grade"].replace({"G1": "1", "G2": "grade 2"})
    frame["extrahepatic_disease"] = frame["extrahepatic_disease"].replace({"yes": "Y", "no": "N"})
    frame.loc[0, "os_months"] = ""     # missing time -> excluded from OS only
    frame.loc[1, "netpet"] = "NA"      # missing score -> excluded from everything
    config["cohort"]["table"] = _write(tmp_path, frame)
    config["cohort"]["lesions"] = None
    prepared = prepare_cohort(config)
    data, ledger = prepared.data, prepared.exclusions
    assert set(data["grade"].dropna()) <= {"G1", "G2", "G3"}
    assert (data["grade"] == "G1").sum() == (cohort_frame["who_grade"] == "G1").sum()
    assert set(data["extrahepatic"].dropna()) == {0.0, 1.0}
    rows = ledger.set_index(["row", "analysis"])["reason"]
    assert rows[(2, "os")] == "os time missing"
    assert (2, "ttp") not in rows.index
    assert rows[(3, "all")].startswith("NETPET score missing")


def test_lesion_table_must_agree_with_given_scores(tmp_path, config, cohort_frame):
    frame = cohort_frame.copy()
    original = frame.loc[4, "netpet"]
    frame.loc[4, "netpet"] = "P1" if original != "P1" else "P5"
    config["cohort"]["table"] = _write(tmp_path, frame)
    with pytest.raises(CohortValidationError) as err:
        prepare_cohort(config)
    (problem,) = err.value.problems
    assert problem.row == 6 and problem.column == "netpet"
    assert original in problem.expected


def test_score_derived_from_lesions_when_no_score_column(tmp_path, config, cohort_frame):
    frame = cohort_frame.drop(columns=["netpet"])
    config["cohort"]["table"] = _write(tmp_path, frame)
    config["cohort"]["columns"]["netpet"] = None
    prepared = prepare_cohort(config)
    assert list(prepared.data["netpet"]) == list(cohort_frame["netpet"])


def test_excel_input(tmp_path, config, cohort_frame):
    path = tmp_path / "cohort.xlsx"
    cohort_frame.replace("", np.nan).to_excel(path, index=False)
    config["cohort"]["table"] = str(path)
    prepared = prepare_cohort(config)
    assert len(prepared.data) == 319
    assert prepared.data["os_time"].sum() == pytest.approx(
        pd.to_numeric(cohort_frame["os_months"]).sum())


def test_empty_and_header_only_files(tmp_path, config):
    config["cohort"]["lesions"] = None
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    config["cohort"]["table"] = str(empty)
    with pytest.raises(CohortValidationError, match="unreadable|no data|an empty file"):
        prepare_cohort(config)
    header = tmp_path / "header.csv"
    header.write_text("patient_id,centre,netpet,os_months,os_event,ttp_months,ttp_event\n")
    config["cohort"]["table"] = str(header)
    with pytest.raises(CohortValidationError, match="no data rows"):
        prepare_cohort(config)


def test_lesion_problems_are_listed_with_cohort_problems(tmp_path, config, cohort_frame):
    bad = cohort_frame.copy()
    bad.loc[0, "who_grade"] = "G9"
    config["cohort"]["table"] = _write(tmp_path, bad)
    lesions = pd.read_csv(config["cohort"]["lesions"], dtype=str, keep_default_na=False)
    lesions.loc[2, "fdg_vs_sstr"] = "sideways"
    config["cohort"]["lesions"] = _write(tmp_path, lesions, "lesions.csv")
    with pytest.raises(CohortValidationError) as err:
        prepare_cohort(config)
    where = {(p.file.split("/")[-1], p.row, p.column) for p in err.value.problems}
    assert ("cohort.csv", 2, "who_grade") in where
    assert ("lesions.csv", 4, "fdg_vs_sstr") in where
