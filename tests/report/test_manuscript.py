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
    write_docx([("Table 2", table, "note")], tmp_path / "a.docx")
    write_docx([("Table 2", table, "note")], tmp_path / "b.docx")
    assert (tmp_path / "a.docx").read_bytes() == (tmp_path / "b.docx").read_bytes()
    (read,) = read_docx_tables(tmp_path / "a.docx")
    assert read[0] == list(table.columns) and read[1:] == table.values.tolist()


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
