"""What the appendix says: true of the run, naming what was analysed (issue 29).

Hand-computable cases for the text builders, and the bundled run's report read
as a referee would (the simulated-data statement, the validated model printed in
full, numbers at risk beside every landmark, the TRIPOD+AI items the run answers).
"""

from __future__ import annotations

import copy
import re
from html import unescape

import numpy as np
import pandas as pd
import pytest
import yaml

from netpet_stats.config import cohort_is_simulated
from netpet_stats.report import document as doc


# ---- the cohort statement --------------------------------------------------------------

def test_the_bundled_cohort_is_simulated_and_a_users_own_is_not(config):
    assert cohort_is_simulated(config)        # data/synthetic/, named over the shipped config
    assert doc.cohort_statement(config).startswith("The cohort analysed here is simulated")
    own = copy.deepcopy(config)
    own["cohort"].update(table="/home/someone/study/netpet.xlsx", lesions=None)
    assert not cohort_is_simulated(own)
    own["cohort"]["description"] = "Patients of three NEN centres, 2014-2020"
    assert doc.cohort_statement(own) == "Patients of three NEN centres, 2014-2020."
    own["cohort"]["simulated"] = True                   # the user's declaration wins
    assert doc.cohort_statement(own).startswith("The cohort analysed here is simulated")
    text = " ".join(doc.methods_text(own)["paragraphs"])
    assert "simulated" in text and "Patients of three NEN centres" in text


def test_a_user_cohort_that_mixes_bundled_and_own_files_is_not_called_simulated(config):
    cfg = copy.deepcopy(config)
    cfg["cohort"]["lesions"] = "my_lesions.csv"
    assert not cohort_is_simulated(cfg)


# ---- the validated model -----------------------------------------------------------------

HAND_MODEL = {
    "covariates": {"grade": {"label": "WHO grade", "type": "categorical",
                             "levels": ["G1", "G2", "G3"]},
                   "age": {"label": "Age (per 10 years)", "type": "continuous", "scale": 10}},
    "coefficients": {"grade[G2]": -0.25, "grade[G3]": 0.5, "age": 0.125},
    "baseline_survival": {"horizons": [12.0, 60.0], "survival": {"0": [0.95, 0.5]}},
}


def test_the_full_model_is_printed_with_every_coefficient_and_the_baseline():
    d = doc.frozen_model_description(HAND_MODEL, "months")
    assert d["coefficients"]["Coefficient"].tolist() == ["-0.2500", "0.5000", "0.1250"]
    assert d["coefficients"]["HR"].tolist() == [f"{np.exp(-0.25):.3f}", f"{np.exp(0.5):.3f}",
                                                f"{np.exp(0.125):.3f}"]
    assert d["coefficients"]["Term"].tolist() == [
        "WHO grade: G2 (vs G1)", "WHO grade: G3 (vs G1)", "Age (per 10 years)"]
    assert d["baseline"].to_dict("records") == [{"S0(12 months)": "0.9500",
                                                 "S0(60 months)": "0.5000"}]
    assert ("LP = −0.2500 × [WHO grade: G2 (vs G1)] + 0.5000 × [WHO grade: G3 (vs G1)] "
            "+ 0.1250 × [Age (per 10 years)]") in d["equation"]


# ---- numbers at risk and crossing curves --------------------------------------------------

def test_numbers_at_risk_are_those_of_the_first_time_at_or_after_t():
    curve = pd.DataFrame({"group": ["a"] * 3 + ["b"], "time": [1.0, 4.0, 9.0, 2.0],
                          "n_risk": [10, 7, 2, 5]})
    at = doc.at_risk_lookup(curve)
    assert [at("a", 0), at("a", 1), at("a", 3), at("a", 9), at("a", 9.5)] == [10, 10, 7, 2, 0]
    assert (at("b", 2), at("c", 1)) == (5, 0)


def test_curves_that_change_order_are_found_and_parallel_ones_are_not():
    t = np.arange(1.0, 11.0)
    low = pd.DataFrame({"group": "low", "time": t, "estimate": 0.05 * t})
    high = pd.DataFrame({"group": "high", "time": t, "estimate": 0.05 * t + 0.1})
    late = pd.DataFrame({"group": "late", "time": t, "estimate": np.where(t < 6, 0.0, 0.9)})
    assert doc.curves_cross(pd.concat([low, high])) == []
    assert doc.curves_cross(pd.concat([low, late])) == [("low", "late")]


# ---- TRIPOD+AI ----------------------------------------------------------------------------

def test_tripod_items_carry_the_2024_wording_and_claim_only_what_the_run_answers(config):
    develop = {"model/frozen_model.yaml", "validation/optimism.csv", "validation/iecv.csv"}
    items = {r["Item"]: r for r in doc.tripod_items(config, develop)}
    assert items["12g"]["Topic"].startswith("How the predictions were calculated")
    assert items["12c"]["Topic"].startswith("Type of model")
    assert "internal validation" in items["12c"]["Topic"]
    assert items["9a"]["Topic"].startswith("Choice of initial predictors")
    assert items["9a"]["Status"] == doc.AUTHORS
    assert items["9b"]["Topic"].startswith("Definition of all predictors")
    assert {"12a", "12f", "22", "23a", "10", "8a"} <= set(items)
    assert items["22"]["Status"] == doc.ANSWERED
    # no definitions of the outcomes in the shipped configuration: 8a only partly
    assert items["8a"]["Status"] == doc.PARTLY
    assert items["10"]["Status"] == doc.PARTLY and items["23a"]["Status"] == doc.PARTLY
    # a run that freezes no model answers neither 22 nor 12g
    none = {r["Item"]: r for r in doc.tripod_items(
        {**config, "validation": {**config["validation"], "mode": "none"}}, set())}
    assert none["22"]["Status"] == doc.NOT_APPLICABLE
    assert none["12g"]["Status"] == doc.NOT_APPLICABLE
    defined = copy.deepcopy(config)
    for spec in defined["endpoints"].values():
        spec["definition"] = "death from any cause"
    assert {r["Item"]: r for r in doc.tripod_items(defined, develop)}["8a"]["Status"] \
        == doc.ANSWERED


# ---- the methods ------------------------------------------------------------------------

def test_methods_state_time_zero_the_scan_window_and_the_validation(config):
    cfg = copy.deepcopy(config)
    cfg["cohort"]["times"] = "dates"
    cfg["cohort"]["dates"] = {"time_zero": "later_scan", "scan_window_days": 45,
                              "days_per_month": 30.4375}
    text = " ".join(doc.methods_text(cfg)["paragraphs"])
    assert "the later of the two PET/CT scans" in text
    assert "more than 45 days apart were excluded" in text
    assert "Harrell's bootstrap" in text and "internal-external cross-validation" in text
    assert "Multiplicity:" in text
    assert "Gray's test against cmprsk" in text
    assert "matches the function of R's survival package" not in text
    assert "unstratified and stratified by centre" in text
    assert "day(s)" not in text


# ---- the bundled run's report -----------------------------------------------------------

def _text(html: str) -> str:
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


@pytest.mark.workflow
def test_the_bundled_report_says_it_is_simulated_everywhere(workflow_runs):
    html = (workflow_runs[0] / "results" / "report.html").read_text()
    text = _text(html)
    head = text[:1500]
    assert "simulated cohort" in head and "Simulated data." in head
    assert "319 simulated patients were received" in text
    tables = html.count("<table")
    assert tables > 20
    assert html.count(doc.SIMULATED_NOTE) == tables       # under every table


@pytest.mark.workflow
def test_the_bundled_report_prints_the_validated_model(workflow_runs):
    results = workflow_runs[0] / "results"
    text = _text((results / "report.html").read_text())
    model = yaml.safe_load((results / "model" / "frozen_model.yaml").read_text())
    for value in model["coefficients"].values():
        assert f"{abs(value):.4f}" in text
    for value in model["baseline_survival"]["survival"]["0"]:
        assert f"{value:.4f}" in text
    assert "The model validated here is the frozen model" in text
    assert "It is not the primary model" in text
    assert "C vs A: HR 0.55" in text                       # the centre effect in the data
    assert "(left out)" in text                            # IECV rows named as such


@pytest.mark.workflow
def test_every_landmark_has_its_number_at_risk_and_few_are_flagged(workflow_runs):
    results = workflow_runs[0] / "results"
    text = _text((results / "report.html").read_text())
    for ep in ("os", "ttp"):
        lm = pd.read_csv(results / ep / "km_landmarks.csv")
        for r in lm.itertuples():
            if np.isfinite(r.surv):
                cell = (f"{100 * r.surv:.1f}% ({100 * r.lower:.1f}–{100 * r.upper:.1f}) "
                        f"[{r.n_risk}]" + ("*" if r.n_risk < 10 else ""))
                assert cell in text, cell
    assert "Proportion free of progression at landmark times (deaths censored)" in text


def test_a_range_with_a_negative_limit_reads_as_a_range():
    assert doc._ci(0.038, -0.014, 0.091, 3) == "0.038 (−0.014 to 0.091)"
    assert doc._ci(0.5, 0.25, 0.75) == "0.50 (0.25–0.75)"


def test_proportional_hazards_violations_are_put_in_words():
    ph = pd.DataFrame({
        "model": ["primary", "primary", "primary", "other"],
        "model_label": ["P", "P", "P", "grade alone"],
        "term": ["grade", "age", "GLOBAL", "grade"],
        "term_label": ["WHO grade", "Age", "global test", "WHO grade"],
        "p": [0.2, 0.01, 0.03, 0.04]})
    text = doc.ph_text(ph, "primary", "Overall survival")
    assert "rejects proportional hazards in the primary model for Age (p = 0.01)" in text
    assert "WHO grade in grade alone (p = 0.04)" in text
    calm = doc.ph_text(ph.assign(p=0.5), "primary", "Overall survival")
    assert "no term of the primary model shows evidence" in calm
    assert "In other models" not in calm


def test_missing_values_are_counted_from_table1_by_group():
    t1 = pd.DataFrame({"variable": ["n", "Ki-67 (%) (n = 160), median", "Ki-67 (%) (n = 160), median",
                                    "WHO grade (n = 197), n (%)", "WHO grade (n = 197), n (%)"],
                       "level": ["", "", "Missing", "G1", "Missing"],
                       "Overall": ["200", "7 [2, 17]", "40", "90 (45.7)", "3"],
                       "P1": ["120", "", "30", "", "1"], "P5": ["80", "", "10", "", "2"]})
    text = doc.missing_text(t1)
    assert text.startswith("Missing values: Ki-67 (%) in 40 (20.0%): 30 in P1, 10 in P5; "
                           "WHO grade in 3 (1.5%): 1 in P1, 2 in P5 (of 200 patients).")


def test_a_value_that_rounds_to_zero_has_no_sign():
    assert doc._num(-0.0001, 3) == "0.000" and doc._num(-0.02, 3) == "-0.020"


def test_row_notes_are_printed_once_with_the_rows_they_concern():
    table = pd.DataFrame({"horizon": [12.0, 120.0, 120.0, 150.0],
                          "note": ["", "not estimable: no one is followed to 120",
                                   "not estimable: no one is followed to 120", np.nan]})
    assert doc.row_notes(table, "horizon") == "Not estimable: no one is followed to 120 (120). "
    assert doc.row_notes(table.drop(columns="note")) == ""


@pytest.mark.workflow
def test_robust_errors_from_three_centres_stay_out_of_the_model_tables(workflow_runs):
    results = workflow_runs[0] / "results"
    text = _text((results / "report.html").read_text())
    assert "HR (robust 95% CI)" not in text
    assert "rest on 3 clusters, fewer than 10" in text
    coefs = pd.read_csv(results / "os" / "cox_coefficients.csv")
    assert coefs["robust_se"].notna().any()                 # kept in the CSV


@pytest.mark.workflow
def test_case_mix_reads_binary_levels_as_table1_does(workflow_runs):
    html = (workflow_runs[0] / "results" / "report.html").read_text()
    table = html[html.index('id="validation_case_mix"'):]
    table = _text(table[:table.index("</table>")])
    block = table[table.index("Extrahepatic disease"):]
    assert block.startswith("Extrahepatic disease no proportion")
    assert " yes proportion" in block
    assert " 0 proportion" not in block and " 1 proportion" not in block


def test_a_prediction_interval_with_a_negative_limit_reads_as_a_range():
    cen = pd.DataFrame({"centre": ["pooled (random effects)"], "measure": ["Royston's D"],
                        "estimate": [1.594], "lower": [1.287], "upper": [1.901],
                        "pi_lower": [-0.395], "pi_upper": [3.583], "tau2": [0.0], "i2": [0.0],
                        "n": [303]})
    assert doc._centre_rows(cen)["95% prediction interval"].iloc[0] == "−0.395 to 3.583"


def test_hazard_ratio_rows_name_the_binary_contrast_the_strata_and_keep_the_table_note():
    coefs = pd.DataFrame({
        "model": ["m", "m"], "analysis": ["multivariable"] * 2, "model_label": ["M"] * 2,
        "strata": ["centre", "centre"], "term": ["extrahepatic", "grade"],
        "term_label": ["Extrahepatic disease", "WHO grade"], "level": [np.nan, "G2"],
        "reference": [np.nan, "G1"], "hr": [1.2, 2.0], "hr_lower": [0.9, 1.1],
        "hr_upper": [1.6, 3.6], "p": [0.2, 0.02], "n": [303, 303], "events": [168, 168],
        "note": ["", "a row's own note"]})
    html = doc._coef_table(coefs, "t", "Title", "THE TABLE NOTE",
                           {"extrahepatic": {"type": "binary"}})
    text = _text(html)
    assert "Extrahepatic disease: yes vs no" in text and "WHO grade: G2 vs G1" in text
    assert "Stratified by" in text and "THE TABLE NOTE" in text
    assert "a row's own note" not in text


@pytest.mark.workflow
def test_the_collinearity_of_grade_and_ki67_is_shown(workflow_runs):
    results = workflow_runs[0] / "results"
    tests = pd.read_csv(results / "os" / "cox_tests.csv")
    vif = tests[(tests["test"] == "variance inflation (GVIF)")
                & (tests["model"] == "grade_ki67")].set_index("term")
    assert vif.loc["grade", "gvif"] == pytest.approx(vif.loc["ki67", "gvif"], rel=1e-9)  # 2 terms
    text = _text((results / "report.html").read_text())
    assert "Collinearity of the terms of each multivariable model" in text
    assert f"{vif.loc['ki67', 'gvif_adjusted']:.2f}" in text


@pytest.mark.workflow
def test_the_word_file_says_the_data_are_simulated_under_every_table(workflow_runs):
    from docx import Document

    doc_ = Document(str(workflow_runs[0] / "results" / "manuscript" / "tables.docx"))
    text = [p.text for p in doc_.paragraphs]
    assert any(t.startswith("The cohort analysed here is simulated") for t in text)
    assert sum(doc.SIMULATED_NOTE in t for t in text) == len(doc_.tables)


@pytest.mark.workflow
def test_the_run_ends_with_where_the_report_is_and_what_it_found(workflow_runs, base_config):
    from netpet_stats.report.summary import run_summary

    results = workflow_runs[0] / "results"
    text = run_summary(base_config, results)
    assert text.splitlines()[0].startswith(f"Report: {(results / 'report.html').as_posix()}")
    assert "SIMULATED" in text.splitlines()[0]
    med = pd.read_csv(results / "os" / "km_summary.csv").set_index("group")
    assert f"{int(med.loc['all', 'n'])} patients, {int(med.loc['all', 'events'])} events" in text
    p5 = med.loc["P5"]
    assert f"P5 {p5['median']:.1f} ({p5['median_lower']:.1f}–{p5['median_upper']:.1f})" in text
    coefs = pd.read_csv(results / "os" / "cox_coefficients.csv")
    row = coefs[(coefs["model"] == "primary") & (coefs["level"] == "P5")].iloc[0]
    assert f"P5 vs P1 {row['hr']:.2f} ({row['hr_lower']:.2f}–{row['hr_upper']:.2f})" in text


def test_methods_say_how_patients_entered_the_risk_set(base_config):
    # issue 27: the methods say whether time before the scan was time at risk
    cfg = copy.deepcopy(base_config)
    assert doc.entry_sentence(cfg) == " Every patient was at risk from time zero (no delayed entry)."
    cfg["cohort"]["times"] = "dates"
    cfg["cohort"]["dates"] = {**cfg["cohort"].get("dates", {}), "time_zero": "diagnosis",
                              "entry": "time_zero"}
    assert "immortal time" in doc.entry_sentence(cfg)
    assert "no delayed entry was configured" in doc.entry_sentence(cfg)
    cfg["cohort"]["dates"]["entry"] = "later_scan"
    text = doc.entry_sentence(cfg)
    assert "entered the risk set at the later scan (delayed entry, left truncation)" in text
    assert "time was counted from the diagnosis" in text
    paragraphs = " ".join(doc.methods_text(cfg)["paragraphs"])
    assert "Surv(entry, time, event)" in paragraphs
