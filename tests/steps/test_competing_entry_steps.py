"""Rule competing_risks on a cohort with delayed entry, case weights, or both.

Truth: ``competing_entry_reference.R`` beside this file, R survival on the cohort it
wrote (``competing_entry_cohort.csv``: the delayed-entry cohort of
``delayed_entry_reference.R`` with a simulated progression; whole-month ties, entries
at other patients' exits, two P5 patients entering after the group's last event):
``survfit(Surv(entry, time, factor(status)) ~ group, id =, weights =)`` at the
horizons (cumulative incidences, SEs, log CIs; no row past a group's data) and its
``summary(times =, extend = TRUE)$n.risk``, the naive ``1 - survfit(Surv(entry, time,
status == 1) ~ group, weights =)`` and ``coxph(Surv(entry, time, status == k) ~ ...,
weights =)`` for each cause. Gray's test and the Fine-Gray model have no R answer for
such data: the tables must say so, with no number. Tolerance 1e-10 (estimates, SEs,
CIs), 1e-8 (Cox, R's convergence).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.cohort.ledger import patient_flow
from netpet_stats.config import load_config
from netpet_stats.report import document as doc
from netpet_stats.report import figures as F
from netpet_stats.steps import competing_risks

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
REF = json.loads((HERE / "competing_entry_reference.json").read_text())
HORIZONS = [12, 24, 36, 60]
RISK_TIMES = [0, 12, 24, 36, 48, 60]
SCENARIOS = {"entry": ["weight"], "weights": ["entry_time"], "both": []}
NAMES = ("states", "curves", "naive", "horizons", "risk_table", "gray", "models")
STATES = {1: "progressed", 2: "died without progression"}


@pytest.fixture(scope="module")
def config():
    return load_config(base=ROOT / "config" / "config.yaml", overrides={
        "competing_risks": {"horizons": HORIZONS},
        "kaplan_meier": {"risk_table_times": RISK_TIMES}})


@pytest.fixture(scope="module", params=list(SCENARIOS))
def run(request, config, tmp_path_factory):
    """The rule's tables for one scenario (the analysis frame as the cohort rule writes it)."""
    scenario = request.param
    out = tmp_path_factory.mktemp(f"competing_{scenario}")
    data = pd.read_csv(HERE / "competing_entry_cohort.csv").drop(columns=SCENARIOS[scenario])
    data.to_parquet(out / "analysis.parquet")
    paths = {name: out / f"{name}.csv" for name in NAMES}
    competing_risks.run(config, out / "analysis.parquet", paths)
    tables = {name: pd.read_csv(p, comment="#", keep_default_na=False, na_values=[""])
              for name, p in paths.items()}
    notes = {name: p.with_suffix(".md").read_text() for name, p in paths.items()}
    return scenario, tables, notes, out


def _close(got, want, tol=1e-10):
    if want is None:                    # R: NA (a log CI of an incidence of 0)
        assert np.isnan(got) or got == pytest.approx(0.0, abs=tol)
    else:
        assert got == pytest.approx(want, abs=tol)


def test_cumulative_incidence_at_the_horizons_equals_survfit(run):
    scenario, tables, _, _ = run
    ref, h = REF[scenario]["horizons"], tables["horizons"]
    assert ref["states"] == ["(s0)", "1", "2"]
    seen = set()
    for i, (g, t) in enumerate(zip(ref["group"], ref["time"])):
        for j, state in STATES.items():
            row = h[(h["group"] == g) & (h["state"] == state) & (h["time"] == t)].iloc[0]
            _close(row["estimate"], ref["pstate"][i][j])
            _close(row["std_err"], ref["std_err"][i][j])
            _close(row["lower"], ref["lower"][i][j])
            _close(row["upper"], ref["upper"][i][j])
            seen.add((g, state, t))
    # R's summary(times =) has no row past a group's data: the table leaves those empty
    rest = h[[(g, s, t) not in seen for g, s, t in zip(h["group"], h["state"], h["time"])]]
    assert rest["estimate"].isna().all()
    assert len(seen) == 2 * len(ref["group"])


def test_naive_one_minus_km_equals_survfit_with_entry_and_weights(run):
    scenario, tables, _, _ = run
    ref, h = REF[scenario]["naive"], tables["horizons"]
    for i, (g, t) in enumerate(zip(ref["group"], ref["time"])):
        row = h[(h["group"] == g) & (h["state"] == "progressed") & (h["time"] == t)].iloc[0]
        _close(row["one_minus_km"], ref["one_minus_km"][i])
        _close(row["one_minus_km_lower"], ref["lower"][i])
        _close(row["one_minus_km_upper"], ref["upper"][i])


def test_numbers_at_risk_equal_summary_survfit(run):
    scenario, tables, notes, _ = run
    ref, risk = REF[scenario]["risk"], tables["risk_table"]
    got = [int(risk[(risk["group"] == g) & (risk["time"] == t)]["n_risk"].iloc[0])
           for g, t in zip(ref["group"], ref["time"])]
    assert got == ref["n_risk"]
    assert ("first exit time" in notes["risk_table"]) == (scenario != "weights")


def test_cause_specific_models_equal_coxph_with_entry_and_weights(run):
    scenario, tables, _, _ = run
    m = tables["models"]
    cs = m[(m["model"] == "primary") & (m["approach"] == "cause-specific hazard")]
    for k, state in STATES.items():
        ref = REF[scenario]["cause_specific"]["progressed" if k == 1 else "died"]
        rows = cs[cs["event"] == state]
        np.testing.assert_allclose(rows["coef"], ref["coef"], rtol=0, atol=1e-8)
        if scenario == "entry":          # weights of 1: R's model-based SE
            np.testing.assert_allclose(rows["se"], ref["se"], rtol=0, atol=1e-8)
            assert (rows["se_type"] == "model-based").all()
        else:                            # non-integer weights: R's robust SE
            np.testing.assert_allclose(rows["se"], ref["robust_se"], rtol=0, atol=1e-8)
            assert (rows["se_type"] == "robust").all()
        assert (rows["n"] == ref["n"]).all() and (rows["events"] == ref["events"]).all()
        method = rows["method"].iloc[0]
        assert ("delayed entry" in method) == (scenario != "weights")
        assert ("case weights" in method) == (scenario != "entry")


def test_gray_and_fine_gray_are_not_computed_and_say_why(run):
    scenario, tables, notes, _ = run
    gray = tables["gray"]
    assert gray[["statistic", "df", "p"]].isna().all().all()
    assert gray["note"].str.startswith("not computed").all()
    assert gray["note"].str.contains("cmprsk::cuminc").all()
    fg = tables["models"][tables["models"]["approach"] == "subdistribution hazard (Fine-Gray)"]
    assert (fg["term"] == "(model)").all() and len(fg) == 2    # one row per event
    assert fg["hr"].isna().all() and fg["coef"].isna().all()
    assert fg["note"].str.startswith("not computed").all()
    assert ("delayed entry" in fg["note"].iloc[0]) == (scenario != "weights")
    assert ("case weights" in fg["note"].iloc[0]) == (scenario != "entry")
    assert "not computed" in notes["gray"] and "Fine-Gray model not computed" in notes["models"]


def test_every_table_states_the_risk_sets(run):
    scenario, tables, _, _ = run
    for name in ("curves", "horizons"):
        method = tables[name]["method"].iloc[0]
        assert ("delayed entry" in method) == (scenario != "weights")
        assert ("case weights" in method) == (scenario != "entry")


@pytest.mark.parametrize("width", ["single", "double"])
def test_the_figure_says_gray_was_not_computed(run, width):
    _, tables, _, _ = run
    fig = F.cumulative_incidence_figure(tables["curves"], tables["naive"],
                                        tables["risk_table"], tables["gray"], "months",
                                        "95% CI", style=F.FigureStyle(width=width))
    texts = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert "Gray's test not computed" in " ".join(texts.split())
    assert F.text_problems(fig) == []


def test_the_patient_flow_names_only_the_analyses_run(run, config):
    scenario, _, _, _ = run
    data = pd.read_csv(HERE / "competing_entry_cohort.csv").drop(columns=SCENARIOS[scenario])
    ledger = pd.DataFrame(columns=["file", "row", "analysis", "reason"])
    steps = set(patient_flow(data, ledger, config)["step"])
    assert {"analysed (Aalen-Johansen)", "analysed (cause-specific Cox)"} <= steps
    assert not any("Gray" in s or "Fine-Gray" in s for s in steps)


REPORT_FILES = {"states": "states", "curves": "cumulative_incidence",
                "naive": "progression_naive_km", "horizons": "horizons",
                "risk_table": "risk_table", "gray": "gray_test", "models": "models"}


def _report_config(config, scenario):
    cfg = json.loads(json.dumps(config))
    columns = cfg["cohort"]["columns"]
    if scenario != "weights":
        columns["entry_time"] = "entry_months"
    if scenario != "entry":
        columns["weight"] = "ipw"
    return cfg


def test_the_report_section_says_what_was_not_computed_and_why(run, config, tmp_path):
    scenario, tables, _, out = run
    results = tmp_path / "results"
    (results / "competing_risks").mkdir(parents=True)
    (results / "cohort").mkdir()
    (results / "figures").mkdir()
    files = []
    for name, stem in REPORT_FILES.items():
        files.append(results / "competing_risks" / f"{stem}.csv")
        files[-1].write_bytes((out / f"{name}.csv").read_bytes())
    files.append(results / "cohort" / "warnings.csv")
    files[-1].write_text("file,row,warning\n")
    figure = F.cumulative_incidence_figure(tables["curves"], tables["naive"],
                                           tables["risk_table"], tables["gray"], "months",
                                           "95% CI")
    files.append(results / "figures" / "cumulative_incidence.png")
    F.save(figure, [files[-1]], 72)
    cfg = _report_config(config, scenario)
    res = doc.ResultFiles(files, results)
    caveat = doc.competing_caveat(cfg, res)
    section = doc._competing_section(cfg, res, caveat)
    text = section["text"]
    assert "Gray's test was not computed" in text and "Fine-Gray model was not computed" in text
    assert "are not computed, as the cohort has" in caveat
    assert section["gray_caption"].startswith("Gray's test not computed (")
    assert "subdistribution hazard ratio of" not in text     # no number for it
    gray, models = str(section["gray"]), str(section["models"])
    assert "not computed" in gray and "Chi-square" not in gray
    assert "Subdistribution HR" not in models and "Cause-specific HR" in models
    assert "Fine-Gray model not computed" in models
    assert ("robust SE" in models) == (scenario != "entry")
    # the cause-specific HR of P5 printed as the table holds it
    m = tables["models"]
    row = m[(m["approach"] == "cause-specific hazard") & (m["event"] == "progressed")
            & (m["model"] == "primary") & (m["level"] == "P5")].iloc[0]
    assert doc._ci(row["hr"], row["hr_lower"], row["hr_upper"]) in models


def test_the_methods_say_which_estimates_take_entry_and_weights(run, config):
    scenario, _, _, _ = run
    cfg = _report_config(config, scenario)
    text = " ".join(doc.methods_text(cfg)["paragraphs"])
    assert "Gray's test" in text and "were not computed" in text
    assert ("each patient at risk from entry on" in text) == (scenario != "weights")
    assert ("weighted by the case weight" in text) == (scenario != "entry")
    assert "Groups were compared by Gray's test" not in text
    plain = " ".join(doc.methods_text(config)["paragraphs"])
    assert "Groups were compared by Gray's test" in plain and "not computed" not in plain
