"""A user's own table is read as they meant it, or refused with one clear message.

Each case of the "silently wrong" list (codings, spreadsheets, numbers, dates,
duplicate columns, missing values, lesion tables) builds its input here and
asserts the values read or the exact refusal.
"""

from __future__ import annotations

import copy
import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest

from netpet_stats.cohort.prepare import prepare_cohort
from netpet_stats.cohort.problems import CohortValidationError

HEADER = ["patient_id", "centre", "age_at_diagnosis", "sex", "primary_site", "who_grade",
          "ki67_percent", "extrahepatic_disease", "netpet", "os_months", "os_event",
          "ttp_months", "ttp_event"]


def _rows(n=6):
    """``n`` plausible patients (text cells, as in a CSV)."""
    scores = ["P1", "P2", "P3", "P5", "P4a", "P1", "P5", "P2"]
    return [[f"ID{i:03d}", "A" if i % 2 else "B", str(50 + i), "F" if i % 2 else "M",
             "pancreas", "G2", str(3.5 + i), "no", scores[i % len(scores)],
             f"{10.5 + 3 * i}", str(i % 2), f"{5.25 + i}", "1"] for i in range(n)]


def _config(base_config, path, **cohort):
    cfg = copy.deepcopy(base_config)
    cfg["cohort"].update({"table": str(path), "lesions": None, **cohort})
    return cfg


def _csv(tmp_path, rows, header=HEADER, sep=",", name="cohort.csv"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(sep.join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def _problems(cfg) -> list:
    with pytest.raises(CohortValidationError) as info:
        prepare_cohort(cfg)
    assert "Traceback" not in str(info.value)
    return info.value.problems


# ------------------------------------------------------------------ codings


def test_users_event_coding_wins_over_the_built_in_codes(tmp_path, base_config):
    # R's Surv convention, 1 = censored and 2 = event, declared by the user
    rows = _rows(6)
    events = ["1", "2", "1", "2", "2", "1"]
    for r, e in zip(rows, events):
        r[10] = r[12] = e
    cfg = _config(base_config, _csv(tmp_path, rows))
    cfg["cohort"]["codings"]["event"] = {1: 0, 2: 1}
    data = prepare_cohort(cfg).data
    assert data["os_event"].tolist() == [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]


def test_a_value_outside_a_declared_recoding_is_refused(tmp_path, base_config):
    rows = _rows(4)
    for r, e in zip(rows, ["1", "2", "0", "2"]):  # a 0 among 1/2 codes: which meaning?
        r[10] = e
    cfg = _config(base_config, _csv(tmp_path, rows))
    cfg["cohort"]["codings"]["event"] = {1: 0, 2: 1}
    (problem,) = [p for p in _problems(cfg) if p.column == "os_event"]
    assert (problem.row, problem.value) == (4, "'0'")
    assert "codes declared in cohort.codings.event" in problem.expected


def test_a_coding_to_an_unknown_code_is_refused(tmp_path, base_config):
    cfg = _config(base_config, _csv(tmp_path, _rows(4)))
    cfg["cohort"]["codings"]["grade"] = {"low": "G1", "high": "G4"}
    problems = _problems(cfg)
    assert [(p.column, p.value) for p in problems] == [("cohort.codings.grade", "'high': 'G4'")]


def test_a_declared_spelling_wins_over_a_missing_value_token(tmp_path, base_config):
    rows = _rows(4)
    rows[0][7], rows[1][7] = "-", "+"   # extrahepatic disease written - / +
    cfg = _config(base_config, _csv(tmp_path, rows))
    cfg["cohort"]["codings"]["extrahepatic"].update({"-": 0, "+": 1})
    data = prepare_cohort(cfg).data
    assert data["extrahepatic"].tolist()[:2] == [0.0, 1.0]


# ------------------------------------------------------------------ missing values


@pytest.mark.parametrize("token", ["N/A", "-", "NULL", "na", " ", "."])
def test_documented_missing_tokens_are_missing_in_every_column(tmp_path, base_config, token):
    rows = _rows(6)
    rows[0][8] = token          # NETPET
    rows[1][6] = token          # Ki-67
    rows[2][5] = token          # grade
    prepared = prepare_cohort(_config(base_config, _csv(tmp_path, rows)))
    data = prepared.data
    assert pd.isna(data.at[0, "netpet"]) and pd.isna(data.at[1, "ki67"])
    assert pd.isna(data.at[2, "grade"])
    ledger = prepared.exclusions
    assert ledger[(ledger["row"] == 2) & (ledger["analysis"] == "all")]["reason"].tolist() == [
        "NETPET score missing (none given, no lesions listed)"]


def test_parquet_missing_values_are_missing_not_text(tmp_path, base_config):
    frame = pd.DataFrame(_rows(6), columns=HEADER)
    frame["centre"] = pd.array(["A", pd.NA, "B", "A", "B", "A"], dtype="string")
    frame["ki67_percent"] = pd.array([3.5, pd.NA, 5.0, 6.5, 7.0, 8.0], dtype="Float64")
    frame["netpet"] = pd.array(["P1", "P2", pd.NA, "P5", "P3", "P1"], dtype="string")
    path = tmp_path / "cohort.parquet"
    frame.to_parquet(path, index=False)
    problems = _problems(_config(base_config, path))
    # a missing centre is refused (the centre may not be empty), never a centre "<NA>"
    assert [(p.row, p.column, p.value) for p in problems] == [(3, "centre", "(empty)")]
    frame["centre"] = frame["centre"].fillna("B")
    frame.to_parquet(path, index=False)
    data = prepare_cohort(_config(base_config, path)).data
    assert pd.isna(data.at[1, "ki67"]) and pd.isna(data.at[2, "netpet"])
    assert set(data["centre"]) == {"A", "B"}


# ------------------------------------------------------------------ columns and rows


def test_a_repeated_column_name_is_refused_in_csv_and_excel(tmp_path, base_config):
    header = HEADER + ["os_months"]
    rows = [r + ["99"] for r in _rows(4)]
    problems = _problems(_config(base_config, _csv(tmp_path, rows, header)))
    assert [(p.row, p.column, p.expected) for p in problems] == [
        (None, "os_months", "unique column names")]
    book = openpyxl.Workbook()
    book.active.append(header)
    for r in rows:
        book.active.append(r)
    book.save(tmp_path / "cohort.xlsx")
    problems = _problems(_config(base_config, tmp_path / "cohort.xlsx"))
    assert [(p.column, p.expected) for p in problems] == [("os_months", "unique column names")]


def test_a_shifted_row_is_refused_without_echoing_its_cells(tmp_path, base_config):
    rows = _rows(4)
    rows[2] = rows[2][:2] + ["Jane Doe", "1961-04-02"] + rows[2][2:]  # two extra cells
    problems = _problems(_config(base_config, _csv(tmp_path, rows)))
    assert [(p.row, p.value) for p in problems] == [(4, "15 cells under 13 header names")]
    assert "Jane" not in str(CohortValidationError(problems))
    assert "1961" not in str(CohortValidationError(problems))


def test_rows_keep_their_spreadsheet_numbers_across_empty_lines(tmp_path, base_config):
    rows = _rows(4)
    rows[3][9] = "-5"
    path = tmp_path / "cohort.csv"
    lines = [",".join(HEADER), ",".join(rows[0]), "", ",".join(rows[1]), ",".join(rows[2]),
             ",".join(rows[3])]
    path.write_text("\n".join(lines) + "\n")
    (problem,) = _problems(_config(base_config, path))
    assert (problem.row, problem.column, problem.value) == (6, "os_months", "'-5'")


def test_files_of_the_same_name_in_different_folders_are_told_apart(tmp_path, base_config):
    rows = _rows(4)
    for r in rows:
        r[7] = "maybe"   # one problem per row, in both files
    a = _csv(tmp_path, rows[:2], name="A/export.csv")
    b = _csv(tmp_path, rows[2:], name="B/export.csv")
    cfg = _config(base_config, a)
    cfg["cohort"].update({"table": None, "tables": [{"path": str(a), "centre": "A"},
                                                    {"path": str(b), "centre": "B"}]})
    files = {p.file for p in _problems(cfg)}
    assert files == {str(a), str(b)}


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize(("decimal", "typed", "value"), [
    (".", "62.5", 62.5), (".", "6.25e1", 62.5), (".", "+62", 62.0), (".", " 62 ", 62.0),
    (",", "62,5", 62.5), (",", "62", 62.0)])
def test_numbers_follow_one_rule(tmp_path, base_config, decimal, typed, value):
    rows = _rows(4)
    for r in rows:   # every other number an integer, valid in either locale
        r[6], r[9], r[11] = "4", "12", "6"
    rows[0][2] = typed
    path = _csv(tmp_path, rows, sep=";")
    data = prepare_cohort(_config(base_config, path, decimal=decimal)).data
    assert data.at[0, "age"] == value


@pytest.mark.parametrize(("decimal", "typed", "shown"), [
    (",", "1.250", "'1.250'"), (",", "1.250,0", "'1.250,0'"), (".", "1,250", "'1,250'"),
    (".", "1_0", "'1_0'"), (".", "0x1A", "'0x1A'"), (".", "1e", "'1e'"), (".", "+", "'+'"),
    # not quoted: text with a space, and what looks like a date (a date of birth?)
    (".", "1 000", "(text of 5 characters, not shown)"), (".", "12.5.1", "(a date, not shown)")])
def test_numbers_outside_the_rule_are_refused(tmp_path, base_config, decimal, typed, shown):
    rows = _rows(4)
    for r in rows:   # keep every other number valid in the file's locale
        r[6], r[9], r[11] = "4", "12", "6"
    rows[0][2] = typed
    path = _csv(tmp_path, rows, sep=";")
    (problem,) = _problems(_config(base_config, path, decimal=decimal))
    assert (problem.row, problem.column, problem.value) == (2, "age_at_diagnosis", shown)
    assert "no thousands separators" in problem.expected


# ------------------------------------------------------------------ Ki-67 as a percentage


def _excel(tmp_path, rows, percent_rows=(), name="cohort.xlsx"):
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(HEADER)
    for i, r in enumerate(rows):
        cells = [float(v) if k in (2, 6, 9, 11) else (int(v) if k in (10, 12) else v)
                 for k, v in enumerate(r)]
        if i in percent_rows:
            cells[6] = cells[6] / 100
        ws.append(cells)
        if i in percent_rows:
            ws.cell(row=i + 2, column=7).number_format = "0%"
    path = tmp_path / name
    book.save(path)
    return path


def test_excel_cells_formatted_as_percent_are_read_as_percent(tmp_path, base_config):
    rows = _rows(5)
    for r, k in zip(rows, ["12", "3", "45", "0.5", "7"]):
        r[6] = k
    path = _excel(tmp_path, rows, percent_rows=(0, 1, 2, 3))   # 12% stored as 0.12
    data = prepare_cohort(_config(base_config, path)).data
    np.testing.assert_allclose(data["ki67"], [12, 3, 45, 0.5, 7])


def test_a_percent_sign_in_text_is_accepted_for_ki67(tmp_path, base_config):
    rows = _rows(4)
    for r, k in zip(rows, ["12%", "0.5 %", "3", "20%"]):
        r[6] = k
    data = prepare_cohort(_config(base_config, _csv(tmp_path, rows))).data
    np.testing.assert_allclose(data["ki67"], [12, 0.5, 3, 20])


def test_a_percent_format_where_no_percentage_is_expected_is_refused(tmp_path, base_config):
    rows = _rows(4)
    path = _excel(tmp_path, rows)
    book = openpyxl.load_workbook(path)
    book.active.cell(row=3, column=10).number_format = "0%"   # OS months as a percentage
    book.save(path)
    (problem,) = _problems(_config(base_config, path))
    assert (problem.row, problem.column) == (3, "os_months")
    assert problem.expected == "a number (not a percentage format)"


def test_a_ki67_column_of_fractions_is_refused_with_a_hint(tmp_path, base_config):
    rows = _rows(5)        # graded G2: a Ki-67 of at least 3% (WHO 2019)
    for r, k in zip(rows, ["0.12", "0.03", "0.45", "", "0.07"]):
        r[6] = k
    (problem,) = _problems(_config(base_config, _csv(tmp_path, rows)))
    assert (problem.row, problem.column) == (None, "ki67_percent")
    assert problem.value == ("all 4 value(s) between 0 and 1 (largest 0.45; 4 of them graded "
                             "G2 or G3, which needs a Ki-67 of at least 3%)")
    assert "look like fractions" in problem.expected
    # 20 patients, all G1, all at most 1: fractions too
    rows = _rows(20)
    for r in rows:
        r[5], r[6] = "G1", "0.5"
    (problem,) = _problems(_config(base_config, _csv(tmp_path, rows, name="g1.csv")))
    assert problem.value == "all 20 value(s) between 0 and 1 (largest 0.5; 20 patients)"


def test_a_few_g1_patients_below_one_percent_are_plausible_and_kept(tmp_path, base_config):
    rows = _rows(3)
    for r, k in zip(rows, ["0.6", "0.8", "0.3"]):
        r[5], r[6] = "G1", k
    data = prepare_cohort(_config(base_config, _csv(tmp_path, rows))).data
    np.testing.assert_allclose(data["ki67"], [0.6, 0.8, 0.3])


def test_xls_is_refused_with_what_to_do(tmp_path, base_config):
    path = tmp_path / "cohort.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    (problem,) = _problems(_config(base_config, path))
    assert "save it as .xlsx" in problem.expected


# ------------------------------------------------------------------ dates


def _dates_config(base_config, path, **dates):
    cfg = _config(base_config, path, times="dates")
    cfg["cohort"]["columns"].update({
        "sstr_scan_date": "sstr", "fdg_scan_date": "fdg", "progression_date": "prog",
        "death_date": "death", "last_follow_up_date": "last", "os_time": None, "os_event": None,
        "ttp_time": None, "ttp_event": None})
    cfg["cohort"]["dates"] = {**cfg["cohort"]["dates"], "data_cutoff": "2025-01-01", **dates}
    return cfg


DATE_HEADER = HEADER[:9] + ["sstr", "fdg", "prog", "death", "last"]
PROG = DATE_HEADER.index("prog")


def _date_rows():
    dates = [["2020-01-10", "2020-01-20", "", "", "2023-06-30"],
             ["2020-02-01", "2020-02-03", "2020-09-01", "2021-01-15", "2021-01-15"],
             ["2021-03-05", "2021-03-05", "2022-02-01", "", "2024-01-01"]]
    return [r[:9] + d for r, d in zip(_rows(3), dates)]


@pytest.mark.parametrize("typed", ["03/04/2021", "3.4.2021"])
def test_an_ambiguous_date_is_refused_unless_dayfirst_is_declared(tmp_path, base_config, typed):
    rows = _date_rows()
    rows[2][PROG] = typed    # progression: 3 April or 4 March?
    path = _csv(tmp_path, rows, DATE_HEADER)
    (problem,) = _problems(_dates_config(base_config, path))
    assert (problem.row, problem.column, problem.value) == (4, "prog", repr(typed))
    assert "dayfirst" in problem.expected
    day_first = prepare_cohort(_dates_config(base_config, path, dayfirst=True)).data
    # TTP from the later scan, 2021-03-05, to 3 April 2021, in months of 30.4375 days
    # (month first it is 4 March, before time zero: the next test)
    assert day_first.at[2, "ttp_time"] == pytest.approx(29 / 30.4375)


def test_a_progression_before_time_zero_quotes_the_date_as_typed(tmp_path, base_config):
    rows = _date_rows()
    rows[2][PROG] = "03/04/2021"    # month first: 4 March 2021, the day before the scans
    path = _csv(tmp_path, rows, DATE_HEADER)
    problems = _problems(_dates_config(base_config, path, dayfirst=False))
    assert [(p.row, p.column, p.value) for p in problems] == [(4, "prog", "'03/04/2021'")]


@pytest.mark.parametrize("typed", ["2021", "2021-04", "04/2021"])
def test_an_incomplete_date_is_refused(tmp_path, base_config, typed):
    rows = _date_rows()
    rows[2][PROG] = typed
    (problem,) = _problems(_dates_config(base_config, _csv(tmp_path, rows, DATE_HEADER),
                                         dayfirst=True))
    assert (problem.value, problem.expected) == (repr(typed),
                                                 "a complete date with day, month and year")


def test_excel_date_cells_are_dates_whatever_the_format(tmp_path, base_config):
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(DATE_HEADER)
    for r in _date_rows():
        ws.append([v if i < 9 or not v else dt.datetime.strptime(v, "%Y-%m-%d")
                   for i, v in enumerate(r)])
    path = tmp_path / "dates.xlsx"
    book.save(path)
    data = prepare_cohort(_dates_config(base_config, path, format="%d/%m/%Y")).data
    text = prepare_cohort(_dates_config(base_config, _csv(tmp_path, _date_rows(),
                                                          DATE_HEADER))).data
    np.testing.assert_allclose(data["os_time"], text["os_time"])
    assert data.at[1, "os_event"] == 1 and data.at[0, "os_event"] == 0


def test_a_misspelt_dates_key_is_refused(base_config):
    from netpet_stats.config import ConfigError, resolve

    cfg = copy.deepcopy(base_config)
    cfg["cohort"]["dates"] = {"day_first": True}
    with pytest.raises(ConfigError, match="did you mean 'dayfirst'"):
        resolve(cfg)


# ------------------------------------------------------------------ lesion tables


def _lesion_config(base_config, tmp_path, lesion_rows):
    rows = _rows(3)
    for r in rows:
        r[8] = ""      # scores come from the lesion table
    cfg = _config(base_config, _csv(tmp_path, rows))
    path = tmp_path / "lesions.csv"
    header = ["patient_id", "lesion_id", "sstr_positive", "fdg_positive", "fdg_vs_sstr"]
    path.write_text("\n".join(",".join(r) for r in [header, *lesion_rows]) + "\n")
    cfg["cohort"]["lesions"] = str(path)
    return cfg


def test_a_repeated_lesion_row_is_refused(tmp_path, base_config):
    lesions = [["ID000", "L1", "1", "0", ""], ["ID001", "L1", "1", "1", "higher"],
               ["ID001", "L1", "1", "1", "higher"], ["ID001", "L1", "1", "1", "higher"],
               ["ID002", "L1", "1", "1", "equal"]]
    problems = _problems(_lesion_config(base_config, tmp_path, lesions))
    # the lesion id is not quoted: ids often embed the patient's (QZ00003X-L1)
    assert [(p.row, p.value) for p in problems] == [(4, "(value withheld) (as on row 3)"),
                                                    (5, "(value withheld) (as on row 3)")]
    # the same lesions once each: one FDG > SSTR lesion is P4a, not P4b
    data = prepare_cohort(_lesion_config(base_config, tmp_path,
                                         [lesions[0], lesions[1], lesions[4]])).data
    assert data["netpet"].tolist() == ["P1", "P4a", "P3"]


def test_fdg_compared_with_sstr_on_a_lesion_negative_on_one_tracer_is_refused(
        tmp_path, base_config):
    lesions = [["ID000", "L1", "1", "0", "higher"], ["ID001", "L1", "0", "1", "lower"],
               ["ID002", "L1", "1", "1", "equal"]]
    problems = _problems(_lesion_config(base_config, tmp_path, lesions))
    assert [(p.row, p.column) for p in problems] == [(2, "fdg_vs_sstr"), (3, "fdg_vs_sstr")]
    assert problems[0].value == "'higher' with sstr_positive = 1, fdg_positive = 0"


# ------------------------------------------------------------------ optional columns


def test_an_optional_column_set_to_null_lists_every_analysis_that_uses_it(tmp_path, base_config):
    from netpet_stats.config import ConfigError, resolve

    header = [h for h in HEADER if h != "ki67_percent"]
    rows = [r[:6] + r[7:] for r in _rows(4)]
    cfg = _config(base_config, _csv(tmp_path, rows, header))
    cfg["cohort"]["columns"]["ki67"] = None
    problems = _problems(cfg)
    uses = sorted(p.column for p in problems)
    models = sorted(f"cox.models.{m}.covariates" for m, s in cfg["cox"]["models"].items()
                    if "ki67" in s["covariates"])
    assert uses == sorted(["cox.univariable", "table1.variables", "concordance.predictors",
                           "concordance.comparisons", *models])
    assert all(p.value == "'ki67' (cohort.columns.ki67 is null)" for p in problems)
    with pytest.raises(ConfigError, match=r"table1.variables: uses 'ki67', but "
                                          r"cohort.columns.ki67 is null"):
        resolve(cfg)
    # leaving Ki-67 out where it is used, the cohort is analysed
    cfg["cox"]["univariable"] = [v for v in cfg["cox"]["univariable"] if v != "ki67"]
    cfg["cox"]["models"] = {m: s for m, s in cfg["cox"]["models"].items()
                            if "ki67" not in s["covariates"]}
    cfg["table1"]["variables"].remove("ki67")
    cfg["table1"]["continuous"].remove("ki67")
    cfg["concordance"]["predictors"].remove("ki67")
    cfg["concordance"]["comparisons"] = [p for p in cfg["concordance"]["comparisons"]
                                         if "ki67" not in p]
    cfg["validation"]["added_value"] = None
    prepared = prepare_cohort(cfg)
    assert len(prepared.data) == 4 and "ki67" not in prepared.data


def test_the_ledger_tells_files_of_the_same_name_apart(tmp_path, base_config):
    rows = _rows(4)
    rows[0][8] = rows[2][8] = "P0"      # excluded: no tracer-avid disease
    a = _csv(tmp_path, rows[:2], name="A/export.csv")
    b = _csv(tmp_path, rows[2:], name="B/export.csv")
    cfg = _config(base_config, a)
    cfg["cohort"].update({"table": None, "tables": [{"path": str(a), "centre": "A"},
                                                    {"path": str(b), "centre": "B"}]})
    ledger = prepare_cohort(cfg).exclusions
    excluded = ledger[ledger["analysis"] == "all"][["file", "row"]].values.tolist()
    assert excluded == [[str(a), 2], [str(b), 2]]


# ------------------------------------------------------------------ time units


def _in_days(base_config, tmp_path):
    """The bundled cohort with both endpoints' times written in days."""
    cohort = pd.read_csv(base_config["cohort"]["table"], dtype=str, keep_default_na=False)
    months = {c: pd.to_numeric(cohort[c]) for c in ("os_months", "ttp_months")}
    for c, m in months.items():
        cohort[c] = (m * 30.4375).map(repr)
    path = tmp_path / "days.csv"
    cohort.to_csv(path, index=False)
    return path, months


def test_times_in_days_are_converted_once_to_the_analysis_unit(tmp_path, base_config):
    path, months = _in_days(base_config, tmp_path)
    cfg = _config(base_config, path)
    for ep in ("os", "ttp"):
        cfg["endpoints"][ep]["time_unit"] = "days"
    prepared = prepare_cohort(cfg)
    np.testing.assert_allclose(prepared.data["os_time"], months["os_months"], rtol=1e-12)
    np.testing.assert_allclose(prepared.data["ttp_time"], months["ttp_months"], rtol=1e-12)
    assert prepared.warnings["row"].notna().all()   # no whole-cohort warning: units agree
    # the same cohort analysed in years: times / 12, and the months defaults of the time
    # settings (landmarks at 12-60) are flagged as implausible in years
    cfg["analysis_time_unit"] = "years"
    years = prepare_cohort(cfg)
    np.testing.assert_allclose(years.data["os_time"], months["os_months"] / 12, rtol=1e-12)


def test_days_declared_as_months_are_flagged(tmp_path, base_config, capsys):
    from netpet_stats.cli import main
    import yaml

    path, _ = _in_days(base_config, tmp_path)     # days, but the config says months
    cfg = _config(base_config, path)
    warnings = prepare_cohort(cfg).warnings
    cohort_level = warnings.loc[warnings["row"].isna(), "warning"].tolist()
    assert len(cohort_level) == 2   # OS and TTP
    assert cohort_level[0].startswith("Overall survival: the median observed time is ")
    assert "implausible for a cohort; is the time column really in months " \
           "(endpoints.os.time_unit)?" in cohort_level[0]
    # `netpet-stats validate` says so too, not "no problems" alone
    user = tmp_path / "user.yaml"
    user.write_text(yaml.safe_dump({"cohort": {"table": str(path), "lesions": None}}))
    assert main(["validate", "--config", str(user)]) == 0
    err = capsys.readouterr().err
    assert "Warning: Overall survival: the median observed time is" in err


def test_settings_in_months_for_an_analysis_in_days_are_flagged(tmp_path, base_config):
    path, _ = _in_days(base_config, tmp_path)
    cfg = _config(base_config, path, )
    cfg["analysis_time_unit"] = "days"
    for ep in ("os", "ttp"):
        cfg["endpoints"][ep]["time_unit"] = "days"
    warnings = prepare_cohort(cfg).warnings
    text = " ".join(warnings.loc[warnings["row"].isna(), "warning"])
    assert "every kaplan_meier.landmarks (12, 24, 36, 60 days) lies within the first tenth" in text
    assert "are they written in days (analysis_time_unit)?" in text


def test_a_model_frozen_in_months_is_not_applied_to_an_analysis_in_days():
    from netpet_stats.validation.frozen_model import ModelMismatchError, check_time_unit

    with pytest.raises(ModelMismatchError, match="set analysis_time_unit: months"):
        check_time_unit({"name": "primary", "time_unit": "months"}, "days")


def test_a_grouping_naming_a_score_that_does_not_exist_is_refused(tmp_path, base_config):
    cfg = _config(base_config, _csv(tmp_path, _rows(4)))
    cfg["netpet"]["grouping"] = {"low": ["P1"], "high": ["P2", "P7"]}
    (problem,) = _problems(cfg)
    assert (problem.file, problem.column) == ("config", "netpet.grouping")
    assert "'P7' is not a NETPET score" in problem.expected


# ------------------------------------------------------------------ privacy of messages


def test_a_date_of_birth_mapped_as_age_is_not_echoed(tmp_path, base_config):
    rows = _rows(4)
    rows[0][2], rows[1][2] = "1961-04-02", "02/04/1961"     # DOB in the age column
    problems = _problems(_config(base_config, _csv(tmp_path, rows)))
    assert [(p.row, p.value) for p in problems] == [(2, "(a date, not shown)"),
                                                    (3, "(a date, not shown)")]
    assert "1961" not in str(CohortValidationError(problems))


def test_names_in_a_coded_column_and_identifier_like_columns_are_not_echoed(tmp_path, base_config):
    rows = _rows(4)
    rows[0][3] = "Jane Doe"                                   # a name where sex is expected
    path = _csv(tmp_path, rows)
    cfg = _config(base_config, path)
    problems = _problems(cfg)
    assert [(p.row, p.column, p.value) for p in problems] == [
        (2, "sex", "(text of 8 characters, not shown)")]
    # a centre column the user called "hospital_number" is never quoted, even a short code
    header = [("hospital_number" if h == "centre" else h) for h in HEADER]
    rows = _rows(4)
    rows[1][1] = ""
    cfg = _config(base_config, _csv(tmp_path, rows, header, name="renamed.csv"))
    cfg["cohort"]["columns"]["centre"] = "hospital_number"
    rows[1][1] = "X1234567"
    problems = _problems(cfg)
    assert all(p.value in ("(empty)", "(value withheld)") for p in problems)


def test_a_one_patient_cohort_is_refused_with_what_the_analysis_needs(tmp_path, base_config,
                                                                      capsys):
    from netpet_stats.cli import main
    from netpet_stats.cohort.prepare import check_analysable
    import yaml

    rows = _rows(1)
    cfg = _config(base_config, _csv(tmp_path, rows))
    prepared = prepare_cohort(cfg)        # the library reads it ...
    with pytest.raises(CohortValidationError) as info:
        check_analysable(prepared, cfg)   # ... the workflow and `validate` refuse it
    problems = info.value.problems
    assert [(p.column, p.value) for p in problems] == [
        ("Overall survival", "1 patient(s) analysable, 0 event(s), 1 NETPET group(s)"),
        ("Time to progression", "1 patient(s) analysable, 1 event(s), 1 NETPET group(s)")]
    assert problems[0].expected == (
        "at least 2 patients with a NETPET group, a time and an event; at least one event; "
        "patients in at least 2 NETPET groups (to compare them)")
    user = tmp_path / "user.yaml"
    user.write_text(yaml.safe_dump({"cohort": {"table": cfg["cohort"]["table"], "lesions": None}}))
    assert main(["validate", "--config", str(user)]) == 1
    assert "1 patient(s) analysable, 0 event(s), 1 NETPET group(s)" in capsys.readouterr().err


def test_a_file_that_is_not_utf8_says_how_to_save_it(tmp_path, base_config):
    path = tmp_path / "latin.csv"
    rows = _rows(3)
    rows[0][4] = "pancréas"
    path.write_bytes(("\n".join(",".join(r) for r in [HEADER, *rows]) + "\n").encode("latin-1"))
    (problem,) = _problems(_config(base_config, path))
    assert problem.value.startswith("(text that is not UTF-8: byte 0xe9")
    assert "save it as 'CSV UTF-8'" in problem.expected


def test_a_column_with_data_but_no_header_is_named_by_its_letter(tmp_path, base_config):
    book = openpyxl.Workbook()
    book.active.append([None, *HEADER[1:]])                     # A1 left empty
    for r in _rows(3):
        book.active.append(r)
    book.save(tmp_path / "c.xlsx")
    (problem,) = _problems(_config(base_config, tmp_path / "c.xlsx"))
    assert (problem.row, problem.column, problem.value) == (1, "column A",
                                                            "(an empty header cell)")
