"""Manuscript tables: reference rows, univariable and multivariable side by side."""

from __future__ import annotations

import pandas as pd

import netpet_stats as ns
from netpet_stats.report.manuscript import (NOT_ESTIMABLE, hazard_ratio_table, read_docx_tables,
                                            write_docx)


def _coefs():
    d = pd.DataFrame({"time": [1, 2, 2, 3, 4, 4, 5, 6, 7, 8],
                      "event": [1, 1, 0, 1, 1, 1, 0, 1, 0, 1],
                      "x": [3, 1, 2, 2, 3, 1, 1, 2, 3, 1],
                      "group": ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"]})
    coding = {"x": {"type": "continuous", "label": "X score"},
              "group": {"type": "categorical", "levels": ["a", "b"], "label": "Group"}}
    multi = ns.fit_cox(d, "time", "event", ["group", "x"], [], coding).coefficients
    uni = ns.fit_cox(d, "time", "event", ["group"], [], coding).coefficients
    return pd.concat([multi.assign(model="primary", analysis="multivariable"),
                      uni.assign(model="univariable_group", analysis="univariable")])


def test_reference_rows_and_both_models_side_by_side():
    coefs = _coefs()
    table = hazard_ratio_table(coefs, "primary")
    assert table["Characteristic"].tolist() == ["Group", "    a (reference)", "    b", "X score"]
    # beside the univariable HRs, the patients and events of each univariable model (10
    # patients, 7 events: counted by hand from the data); blank where it is not fitted
    assert table.iloc[0][["n", "Events"]].tolist() == ["10", "7"]
    assert table.iloc[3][["n", "Events"]].tolist() == ["", ""]
    b_multi = coefs[(coefs["model"] == "primary") & (coefs["level"] == "b")].iloc[0]
    b_uni = coefs[(coefs["model"] == "univariable_group")].iloc[0]
    row = table.iloc[2]
    assert row["Multivariable HR (95% CI)"] == (
        f"{b_multi['hr']:.2f} ({b_multi['hr_lower']:.2f}–{b_multi['hr_upper']:.2f})")
    assert row["Univariable HR (95% CI)"] == (
        f"{b_uni['hr']:.2f} ({b_uni['hr_lower']:.2f}–{b_uni['hr_upper']:.2f})")
    # X score is only in the multivariable model: blank, not "not estimable"
    assert table.iloc[3]["Univariable HR (95% CI)"] == ""
    # R's coxph(Surv ~ group + x): exp(1.33260) = 3.79
    assert row["Multivariable HR (95% CI)"].startswith("3.79 (")


def test_a_coefficient_that_may_be_infinite_is_not_estimable_not_a_number():
    coefs = _coefs()
    coefs.loc[coefs["level"] == "b", "note"] = "coefficient may be infinite (...)"
    coefs.loc[coefs["level"] == "b", ["hr_lower", "hr_upper", "p"]] = float("nan")
    row = hazard_ratio_table(coefs, "primary").iloc[2]
    assert row["Multivariable HR (95% CI)"] == NOT_ESTIMABLE and row["p (multivariable)"] == (
        NOT_ESTIMABLE)


def test_the_word_document_reads_back_and_is_byte_identical_on_rerun(tmp_path):
    table = hazard_ratio_table(_coefs(), "primary")
    write_docx([("Cox models", table, "note")], tmp_path / "a.docx")
    write_docx([("Cox models", table, "note")], tmp_path / "b.docx")
    assert (tmp_path / "a.docx").read_bytes() == (tmp_path / "b.docx").read_bytes()
    (read,) = read_docx_tables(tmp_path / "a.docx")
    # the same text; the indentation of the levels is the paragraph's, not typed spaces
    assert read[0] == list(table.columns)
    assert read[1:] == [[c.strip() for c in row] for row in table.values.tolist()]


# ------------------------------------------------------------------------------------
# The Word tables as a journal takes them (python-docx reads the file back)
# ------------------------------------------------------------------------------------

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _document(tmp_path, paper="a4"):
    from docx import Document

    from netpet_stats.report.manuscript import WordTable, hazard_ratio_notes

    coefs = _coefs()
    table = hazard_ratio_table(coefs, "primary")
    t1 = pd.DataFrame({"Characteristic": ["Sex, n (%)", "    F", "    M"],
                       "Overall": ["", "3 (60.0)", "2 (40.0)"]})
    tables = [WordTable("Baseline characteristics", t1, ["n (%)."]),
              WordTable("Cox models of overall survival", table,
                        hazard_ratio_notes(coefs, "primary", ["Group", "X score"], ["Centre"]),
                        spanners=[("Univariable", 1, 4), ("Multivariable", 5, 6)])]
    path = tmp_path / f"{paper}.docx"
    write_docx(tables, path, paper=paper)
    return Document(str(path))


def _borders(element, tag):
    found = element.find(f"{W}{tag}")
    if found is None:
        return {}
    return {child.tag.removeprefix(W): child.get(f"{W}val") for child in found}


def test_the_page_is_a4_by_default_and_letter_by_option(tmp_path):
    from docx.shared import Mm

    a4 = _document(tmp_path).sections[0]
    letter = _document(tmp_path, "letter").sections[0]
    # python-docx's template is US Letter (215.9 x 279.4 mm): the PDF report is A4
    assert abs(a4.page_width - Mm(210)) <= Mm(0.1) and abs(a4.page_height - Mm(297)) <= Mm(0.1)
    assert abs(letter.page_width - Mm(215.9)) <= Mm(0.1)
    assert abs(letter.page_height - Mm(279.4)) <= Mm(0.1)


def test_three_horizontal_rules_and_no_vertical_lines(tmp_path):
    for table in _document(tmp_path).tables:
        assert table.style is None or table.style.name != "Table Grid"
        edges = _borders(table._tbl.tblPr, "tblBorders")
        # the top rule (above the headings) and the bottom rule (under the last row)
        assert edges["top"] == "single" and edges["bottom"] == "single"
        assert {edges[e] for e in ("left", "right", "insideH", "insideV")} == {"nil"}
        header_rows = [r for r in table.rows if r._tr.trPr is not None
                       and r._tr.trPr.find(f"{W}tblHeader") is not None]
        # the rule under the column headings: on every cell of the last heading row
        last_heading = header_rows[-1]
        assert all(_borders(c._tc.tcPr, "tcBorders") == {"bottom": "single"}
                   for c in last_heading.cells)
        # and no other cell draws any line
        others = [c for r in table.rows if r._tr is not last_heading._tr for c in r.cells]
        assert all(c._tc.tcPr is None or c._tc.tcPr.find(f"{W}tcBorders") is None
                   for c in others)


def test_tables_are_numbered_with_titles_and_footnotes(tmp_path):
    doc = _document(tmp_path)
    texts = [p.text for p in doc.paragraphs]
    assert "Table 1. Baseline characteristics" in texts
    assert "Table 2. Cox models of overall survival" in texts
    title = next(p for p in doc.paragraphs if p.text.startswith("Table 2."))
    assert title.runs[0].bold and title.runs[0].text == "Table 2."
    notes = texts[texts.index("Table 2. Cox models of overall survival") + 1:]
    assert notes[0].startswith("HR, hazard ratio; CI, confidence interval")
    # the model, its stratification and its patients and events (10 and 7, by hand)
    assert notes[1] == ("Multivariable: the primary model, group and X score together, "
                        "stratified by centre (a baseline hazard for each centre, so no hazard "
                        "ratio for centre); n = 10 patients, 7 events.")


def test_heading_rows_repeat_on_every_page(tmp_path):
    hr = _document(tmp_path).tables[1]
    flags = [r._tr.trPr is not None and r._tr.trPr.find(f"{W}tblHeader") is not None
             for r in hr.rows]
    # the spanner row ("Univariable", "Multivariable") and the column labels
    assert flags[:2] == [True, True] and not any(flags[2:])
    assert [c.text for c in hr.rows[0].cells][1:7] == ["Univariable"] * 4 + ["Multivariable"] * 2
    assert all(r._tr.trPr.find(f"{W}cantSplit") is not None for r in hr.rows)


def test_levels_are_indented_by_the_paragraph_not_by_typed_spaces(tmp_path):
    t1 = _document(tmp_path).tables[0]
    first = [row.cells[0] for row in t1.rows[1:]]
    assert [c.text for c in first] == ["Sex, n (%)", "F", "M"]
    indents = [c.paragraphs[0].paragraph_format.left_indent for c in first]
    assert indents[0] is None and indents[1] > 0 and indents[1] == indents[2]


def test_not_reached_and_not_estimable_are_told_apart():
    from netpet_stats.report.document import _ci

    nan = float("nan")
    assert _ci(nan, 30.2, nan, 1, quantile=True) == "NR"              # median not reached
    assert _ci(41.5, 30.2, nan, 1, quantile=True) == "41.5 (30.2–NR)"  # upper limit not reached
    assert _ci(2.5, nan, nan) == "2.50 (—–—)"                          # an HR without a CI
    assert _ci(nan, nan, nan) == "—"


def test_a_fit_that_did_not_converge_is_not_estimable_in_every_table_and_figure():
    """R: 'Ran out of iterations and did not converge' (events in the reverse order of
    x): the tables say so instead of printing a hazard ratio from the last iteration."""
    import warnings

    from netpet_stats.report import figures
    from netpet_stats.report.document import _coef_table

    d = pd.DataFrame({"time": [1, 2, 3, 4.0], "event": [1, 0, 1, 1], "x": [1, 3, 2, 5]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coefs = ns.fit_cox(d, "time", "event", ["x"], [], {"x": {"type": "continuous"}}
                           ).coefficients.assign(model="primary", analysis="multivariable",
                                                 model_label="primary")
    row = hazard_ratio_table(coefs, "primary").iloc[0]
    assert row["Multivariable HR (95% CI)"] == NOT_ESTIMABLE
    assert row["p (multivariable)"] == NOT_ESTIMABLE
    html = _coef_table(coefs, "t", "t", "n")
    assert "not estimable: the fit did not converge" in html
    fig = figures.forest_figure(coefs, "t")
    assert any("did not converge" in " ".join(t.get_text().split()) for t in fig.axes[0].texts)
