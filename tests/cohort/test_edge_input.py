"""Hostile but plausible inputs: read as meant, or refused with one message naming the file.

Each case builds its file here (openpyxl, plain text, symbolic links) and asserts
the values read or the exact refusal: a hidden sheet, formulas never calculated,
one centre typed in two Unicode forms, repeated horizons, time defaults in another
analysis unit, files that used to end in a traceback, identifiers in lesion ids
and short rows, trailing empty columns, a title row above the header, links that
lead nowhere, a full disk.
"""

from __future__ import annotations

import copy
import errno
import io
import logging
import os
import unicodedata
import zipfile
from types import SimpleNamespace

import numpy as np
import openpyxl
import pytest
import yaml

from netpet_stats.cohort.prepare import prepare_cohort
from netpet_stats.cohort.problems import CohortValidationError, Problem, format_problems
from netpet_stats.config import ConfigError, competing_risks_settings, load_config, resolve

from test_user_tables import HEADER, _config, _csv, _problems, _rows

BASE = os.path.join(os.path.dirname(__file__), "..", "..", "config", "config.yaml")


def _book(tmp_path, sheets, name="cohort.xlsx"):
    """A workbook of ``{title: (rows, hidden)}``, in order."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, (rows, hidden) in sheets.items():
        ws = book.create_sheet(title)
        for r in rows:
            ws.append(r)
        if hidden:
            ws.sheet_state = "hidden"
    path = tmp_path / name
    book.save(path)
    return path


def _typed(rows):
    """Spreadsheet cells: numbers as numbers."""
    return [[float(v) if k in (2, 6, 9, 11) else (int(v) if k in (10, 12) else v)
             for k, v in enumerate(r)] for r in rows]


# ------------------------------------------------------------------ 8. silently wrong


def test_a_hidden_first_sheet_is_not_read_unless_named(tmp_path, base_config):
    old = _typed(_rows(4))
    for r in old:
        r[9] = 99.0                                   # an older export, hidden
    new = _typed(_rows(4))
    path = _book(tmp_path, {"old export": ([HEADER, *old], True),
                            "Cohort": ([HEADER, *new], False)})
    prepared = prepare_cohort(_config(base_config, path))   # cohort.sheet left at its default
    np.testing.assert_allclose(prepared.data["os_time"], [10.5, 13.5, 16.5, 19.5])
    notes = prepared.warnings[prepared.warnings["row"].isna()]
    assert notes["file"].tolist() == [str(path)]
    assert notes["warning"].tolist() == [
        "read sheet 'Cohort' (the first visible sheet; cohort.sheet names another); the "
        "workbook has 'old export' (hidden), 'Cohort'"]
    # by position, the hidden sheet is refused; by name, it is read
    (problem,) = _problems(_config(base_config, path, sheet=0))
    assert (problem.file, problem.value) == (str(path),
                                             "cohort.sheet 0, the hidden sheet 'old export'")
    assert "a hidden sheet (an older export?) is read only when cohort.sheet names it" \
        in problem.expected
    named = prepare_cohort(_config(base_config, path, sheet="old export")).data
    assert named["os_time"].tolist() == [99.0] * 4


def test_formulas_never_calculated_are_refused_naming_each_cell(tmp_path, base_config):
    rows = _typed(_rows(3))
    for i, r in enumerate(rows):
        r[9] = f"=L{i + 2}*2"            # OS written by a script as a formula of TTP
    path = _book(tmp_path, {"Sheet": ([HEADER, *rows], False)})
    problems = _problems(_config(base_config, path))
    assert [(p.file, p.row, p.column, p.value) for p in problems] == [
        (str(path), n, "os_months", f"(a formula without a stored result, cell J{n})")
        for n in (2, 3, 4)]
    assert "open and save the file in Excel" in problems[0].expected
    # a workbook of formulas only (the header too) is refused the same way, not "empty"
    formulas = [[f'="{h}"' for h in HEADER], *[[f"={k + i}" for k in range(len(HEADER))]
                                               for i in range(2)]]
    path = _book(tmp_path, {"Sheet": (formulas, False)}, name="all.xlsx")
    problems = _problems(_config(base_config, path))
    assert len(problems) == 3 * len(HEADER)
    assert (problems[0].row, problems[0].column) == (1, "column A")
    assert all("formula without a stored result" in p.value for p in problems)


def _rewrite_sheet(path, old: bytes, new: bytes):
    """Replace bytes in the first worksheet's XML (a cell as Excel would store it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(buffer, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert old in data
                data = data.replace(old, new)
            dst.writestr(item, data)
    path.write_bytes(buffer.getvalue())


def test_formulas_with_a_stored_result_are_read(tmp_path, base_config):
    # as Excel saves them: a number result, and a text result that is empty (""),
    # which is a missing value, not an uncalculated formula
    rows = _typed(_rows(3))
    rows[0][9], rows[1][6] = "=1", "=2"
    path = _book(tmp_path, {"Sheet": ([HEADER, *rows], False)})
    _rewrite_sheet(path, b'<c r="J2"><f>1</f><v></v></c>', b'<c r="J2"><f>1</f><v>21.5</v></c>')
    _rewrite_sheet(path, b'<c r="G3"><f>2</f><v></v></c>', b'<c r="G3" t="str"><f>2</f><v></v></c>')
    data = prepare_cohort(_config(base_config, path)).data
    assert data.at[0, "os_time"] == 21.5
    assert np.isnan(data.at[1, "ki67"])


def test_one_centre_typed_in_two_unicode_forms_is_one_centre(tmp_path, base_config):
    composed = unicodedata.normalize("NFC", "Malmö")      # Windows
    decomposed = unicodedata.normalize("NFD", "Malmö")    # macOS
    assert composed != decomposed
    rows = _rows(6)
    for i, r in enumerate(rows):
        r[1] = composed if i % 2 else decomposed
    rows[0][3] = "männlich"                              # typed composed in the table ...
    cfg = _config(base_config, _csv(tmp_path, rows))
    cfg["cohort"]["codings"]["sex"][unicodedata.normalize("NFD", "männlich")] = "M"  # not here
    prepared = prepare_cohort(cfg)
    assert prepared.data["centre"].tolist() == [composed] * 6
    assert prepared.data.at[0, "sex"] == "M"
    notes = prepared.warnings.loc[prepared.warnings["row"].isna(), "warning"].tolist()
    assert notes == ["3 text cell(s) in decomposed Unicode (accents stored as separate marks, "
                     "as macOS writes them) were read in composed form (NFC), so that a name "
                     "typed on macOS and on Windows is one value (one centre, one code)"]


@pytest.mark.parametrize(("block", "key"), [("competing_risks", "horizons"),
                                            ("kaplan_meier", "landmarks"),
                                            ("kaplan_meier", "risk_table_times"),
                                            ("validation", "horizons")])
def test_repeated_horizons_are_refused_wherever_they_are_configured(tmp_path, block, key):
    user = tmp_path / "user.yaml"
    user.write_text(yaml.safe_dump({block: {key: [36, 12, 12.0, 60]}}))
    with pytest.raises(ConfigError) as info:
        load_config([user], base=BASE)
    assert info.value.problems == [
        f"{block}.{key}: [36, 12, 12.0, 60] gives 12.0 more than once; list each value once"]


def test_time_defaults_follow_the_analysis_unit(tmp_path, base_config):
    user = tmp_path / "user.yaml"
    user.write_text(yaml.safe_dump({"analysis_time_unit": "days"}))
    cfg = load_config([user], base=BASE)
    # 12, 24, 36, 60 months of 30.4375 days, as the times are converted
    assert cfg["kaplan_meier"]["landmarks"] == [365.25, 730.5, 1095.75, 1826.25]
    assert cfg["kaplan_meier"]["risk_table_times"] == [12 * k * 30.4375 for k in range(11)]
    assert cfg["validation"]["curve_step"] == 30.4375
    assert cfg["federation"]["km_grid"] == 30.4375
    assert competing_risks_settings(cfg)["horizons"] == [365.25, 730.5, 1095.75, 1826.25]
    # resolving the resolved configuration again changes nothing (Snakemake's scripts)
    assert resolve(copy.deepcopy(cfg)) == cfg
    # a value the user wrote is theirs, in their unit
    user.write_text(yaml.safe_dump({"analysis_time_unit": "years",
                                    "kaplan_meier": {"landmarks": [1, 2]}}))
    years = load_config([user], base=BASE)
    assert years["kaplan_meier"]["landmarks"] == [1, 2]
    assert years["kaplan_meier"]["risk_table_times"] == [float(k) for k in range(11)]
    # and the run says which defaults it converted: console, log and warnings.csv
    days = copy.deepcopy(cfg)
    days["cohort"].update(table=base_config["cohort"]["table"],
                          lesions=base_config["cohort"]["lesions"])
    for ep in ("os", "ttp"):
        days["endpoints"][ep]["time_unit"] = "months"   # converted to days once
    warnings = prepare_cohort(days).warnings
    notes = warnings.loc[warnings["file"] == "(whole cohort)", "warning"].tolist()
    assert notes == [
        "kaplan_meier.landmarks: not set; its default in months, 12, 24, 36, 60, is 365.25, "
        "730.5, 1095.75, 1826.25 in days (and competing_risks.horizons, which follow the "
        "landmarks)",
        "kaplan_meier.risk_table_times: not set; its default in months, 0, 12, 24, 36, 48, 60, "
        "72, 84, 96, 108, 120, is 0, 365.25, 730.5, 1095.75, 1461, 1826.25, 2191.5, 2556.75, "
        "2922, 3287.25, 3652.5 in days",
        "validation.horizons: not set; its default in months, 12, 36, 60, is 365.25, 1095.75, "
        "1826.25 in days",
        "validation.curve_step: not set; its default in months, 1, is 30.4375 in days",
        "federation.km_grid: not set; its default in months, 1, is 30.4375 in days"]
    # (and no "first tenth of the follow-up" warning: nothing is analysed at 12-60 days)


# ------------------------------------------------------------------ 9. tracebacks


def test_an_empty_xlsx_is_one_message(tmp_path, base_config):
    path = tmp_path / "cohort.xlsx"
    path.write_bytes(b"")
    (problem,) = _problems(_config(base_config, path))
    assert (problem.file, problem.value) == (str(path), "(an empty file: 0 bytes)")
    path.write_text("patient_id,centre\n")              # a CSV renamed .xlsx
    (problem,) = _problems(_config(base_config, path))
    assert problem.value == "(not an .xlsx workbook: not the zip archive Excel writes)"


def test_a_file_without_line_breaks_is_one_message(tmp_path, base_config):
    path = tmp_path / "cohort.csv"
    path.write_bytes(b"x" * (48 << 20))                 # 48 MiB, no newline
    (problem,) = _problems(_config(base_config, path))
    assert (problem.file, problem.value) == (str(path),
                                             "(a cell of more than 131,072 characters, from "
                                             "line 1)")
    assert "a file without line breaks is not a table" in problem.expected
    # the usual cause: a quote that opens a cell and never closes
    rows = _rows(3)
    rows[0][4] = '"pancreas'
    path = tmp_path / "quote.csv"
    text = "\n".join(",".join(r) for r in [HEADER, *rows]) + "\n"
    path.write_text(text + ("x," * 13 + "\n") * 12000)
    (problem,) = _problems(_config(base_config, path))
    assert problem.value == "(a cell of more than 131,072 characters, from line 2)"


def test_a_full_disk_while_preparing_the_cohort_names_the_file(tmp_path, base_config, capsys,
                                                               monkeypatch):
    import pandas as pd

    from netpet_stats.steps import cohort, rule_context

    def full(self, *args, **kwargs):   # a library closing a file on a full disk: no file name
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    out = ["intermediate/analysis_cohort.parquet", "results/cohort/exclusions.csv",
           "results/cohort/flow.csv", "results/cohort/netpet_distribution.csv",
           "results/cohort/warnings.csv"]
    for path in out:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    smk = SimpleNamespace(rule="prepare_cohort", log=["prepare_cohort.log"], output=out)
    with pytest.raises(SystemExit) as exit_info:
        with rule_context(smk):
            cohort.run(base_config, *out)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("The disk is full while writing intermediate/analysis_cohort.parquet "
                          "(rule prepare_cohort). Free some space")
    assert "Traceback" not in err


def test_a_full_disk_under_the_log_is_no_second_traceback(tmp_path, capsys, monkeypatch):
    from netpet_stats.steps import rule_context

    log = tmp_path / "step.log"
    flush = logging.StreamHandler.flush

    def full(self):    # the rule's log is on the full disk too
        if getattr(self, "baseFilename", None) == str(log):
            raise OSError(errno.ENOSPC, "No space left on device")
        flush(self)

    monkeypatch.setattr(logging.StreamHandler, "flush", full)
    smk = SimpleNamespace(rule="cox", log=[str(log)])
    with pytest.raises(SystemExit):
        with rule_context(smk):
            logging.info("fitting")
            raise OSError(errno.ENOSPC, "No space left on device", "results/os/cox.csv")
    err = capsys.readouterr().err
    assert err.startswith("The disk is full while writing results/os/cox.csv (rule cox).")
    assert "Traceback" not in err and "Logging error" not in err


def test_a_refused_cohort_on_a_full_disk_still_says_why(tmp_path, capsys, monkeypatch):
    from netpet_stats.steps import _runner, rule_context

    def full(exc, path=_runner.VALIDATION_REPORT):
        raise OSError(errno.ENOSPC, "No space left on device", path)

    monkeypatch.setattr(_runner, "write_validation_report", full)
    problem = [Problem("cohort.csv", 3, "age", "'-1'", "an age > 0")]
    smk = SimpleNamespace(rule="prepare_cohort", log=[str(tmp_path / "step.log")])
    with pytest.raises(SystemExit):
        with rule_context(smk):
            raise CohortValidationError(problem)
    err = capsys.readouterr().err
    assert "cohort.csv, row 3, column 'age': got '-1'" in err
    assert err.rstrip().endswith("The full report could not be written to "
                                 "logs/validation_report.txt: the disk is full.")
    assert "Traceback" not in err


# ------------------------------------------------------------------ 10. leaks


def test_a_lesion_id_embedding_the_patient_id_is_never_quoted(tmp_path, base_config,
                                                               monkeypatch, capsys):
    from netpet_stats.steps import rule_context

    rows = _rows(3)
    for r, pid in zip(rows, ("QZ00001X", "QZ00002X", "QZ00003X")):
        r[0], r[8] = pid, ""
    cfg = _config(base_config, _csv(tmp_path, rows))
    lesions = tmp_path / "lesions.csv"
    lesions.write_text("\n".join(",".join(r) for r in [
        ["patient_id", "lesion_id", "sstr_positive", "fdg_positive", "fdg_vs_sstr"],
        ["QZ00001X", "QZ00001X-L1", "1", "0", ""],
        ["QZ00002X", "QZ00002X-L1", "1", "1", "higher"],
        ["QZ00003X", "QZ00003X-L1", "1", "1", "equal"],
        ["QZ00003X", "QZ00003X-L1", "1", "1", "equal"],       # listed twice
        ["QZ00003X", "QZ00003X-L2", "1", "1", "much"]]) + "\n")
    cfg["cohort"]["lesions"] = str(lesions)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        with rule_context(SimpleNamespace(rule="prepare_cohort", log=["step.log"])):
            prepare_cohort(cfg)
    console = capsys.readouterr().err
    report = (tmp_path / "logs" / "validation_report.txt").read_text()
    assert "row 5, column 'lesion_id': got (value withheld) (as on row 4)" in report
    assert "row 6, column 'fdg_vs_sstr': got 'much'" in report      # not an id: quoted
    for text in (console, report, (tmp_path / "step.log").read_text()):
        assert "QZ0000" not in text


@pytest.mark.parametrize("column", ["lesion_id", "Lesion ID", "lesionId", "record_id", "ID",
                                    "study identifier"])
def test_id_like_columns_of_any_table_are_identifiers(column):
    from netpet_stats.cohort.problems import _show

    assert _show("QZ00003X-L1", column) == "(value withheld)"
    assert _show("L1", "valid") == "'L1'"      # 'id' inside a word is not an id


def test_a_short_row_is_refused_as_shifted_without_quoting_its_cells(tmp_path, base_config):
    header = HEADER + ["nhs_number"]                     # an unmapped column, last
    rows = [r + ["943 476 5919".replace(" ", "")] for r in _rows(4)]
    del rows[1][4]                                       # a cell lost: the rest shift left
    problems = _problems(_config(base_config, _csv(tmp_path, rows, header)))
    assert [(p.row, p.column, p.value) for p in problems] == [
        (3, "-", "13 cells under 14 named columns")]
    assert "9434765919" not in format_problems(problems)
    assert "a cell for every named column" in problems[0].expected


# ------------------------------------------------------------------ 11. messages


@pytest.mark.parametrize("trailing", [";", ";;;"])
def test_empty_trailing_columns_are_accepted(tmp_path, base_config, trailing):
    path = tmp_path / "cohort.csv"
    lines = [";".join(r) + trailing for r in [HEADER, *_rows(4)]]
    path.write_text("\n".join(lines) + "\n")
    data = prepare_cohort(_config(base_config, path)).data
    assert len(data) == 4 and data["os_time"].tolist() == [10.5, 13.5, 16.5, 19.5]


def test_a_header_under_a_title_row_says_where_the_header_is(tmp_path, base_config):
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["NETPET cohort, export of 2026-11-02"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    ws.append(HEADER)
    for r in _typed(_rows(3)):
        ws.append(r)
    path = tmp_path / "titled.xlsx"
    book.save(path)
    problems = _problems(_config(base_config, path))
    assert [(p.row, p.column) for p in problems] == [(1, f"column {c}") for c in "BCDEFGHIJKLM"]
    assert problems[0].expected == (
        "a name for every column that holds data; row 2 looks like the header, under a title "
        "row (merged cells?): delete the rows above the header, so that it is the first row")


def test_links_that_lead_nowhere_say_so(tmp_path, base_config):
    loop = tmp_path / "loop.csv"
    os.symlink(loop, loop)
    (problem,) = _problems(_config(base_config, loop))
    assert problem.value == "(a symbolic link loop: the link leads back to itself)"
    dangling = tmp_path / "moved.csv"
    os.symlink(tmp_path / "gone.csv", dangling)
    (problem,) = _problems(_config(base_config, dangling))
    assert problem.value == "(a symbolic link to a file that does not exist)"
    (problem,) = _problems(_config(base_config, tmp_path / "absent.csv"))
    assert problem.value == "no such file"
    config_loop = tmp_path / "my_config.yaml"
    os.symlink(config_loop, config_loop)
    with pytest.raises(ConfigError, match="a symbolic link loop"):
        load_config([config_loop], base=BASE)


def test_an_empty_header_cell_above_a_patient_row_gives_no_title_row_hint(tmp_path,
                                                                         base_config):
    rows = _rows(3)
    path = _csv(tmp_path, rows, ["", *HEADER[1:]])         # A1 left empty in a text file
    (problem,) = _problems(_config(base_config, path))
    assert (problem.row, problem.column) == (1, "column A")
    assert problem.expected == "a name for every column that holds data"
