"""Rules drawing figures: the counts beside the forest plot, the score distribution figure."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from netpet_stats import fit_cox
from netpet_stats.steps.figures import level_counts, run_netpet_distribution_figure

DATA = Path(__file__).resolve().parents[1] / "data"
COVARIATES = {"age": {"type": "continuous", "label": "Age"},
              "female": {"type": "binary", "label": "Female"},
              "sex": {"type": "binary", "label": "Sex (R's 1/2 coding)"},
              "ph_ecog": {"type": "categorical", "levels": [0, 1, 2], "label": "ECOG"}}


@pytest.fixture(scope="module")
def lung():
    d = pd.read_csv(DATA / "lung.csv").dropna(subset=["ph_ecog"])
    d = d[d["ph_ecog"] < 3].astype({"ph_ecog": int})
    return d.assign(female=(d["sex"] == 2).astype(int))       # R's lung: sex 1 male, 2 female


def _config(suppress=False, threshold=5):
    return {"covariates": COVARIATES,
            "privacy": {"suppress_small_cells": suppress, "threshold": threshold}}


def test_each_level_has_its_patients_and_events_as_table_in_r(lung):
    """table(ph.ecog, status) and table(sex == 2, status) of the patients the fit analysed."""
    fit = fit_cox(lung, "time", "event", ["age", "female", "ph_ecog"], [], COVARIATES)
    counts = level_counts(fit, _config())
    used = lung.dropna(subset=["time", "event", "age", "female", "ph_ecog"])
    want = []
    for level in (0, 1, 2):
        rows = used[used["ph_ecog"] == level]
        want.append(("ph_ecog", str(level), len(rows), int(rows["event"].sum())))
    for name, value in (("no", 1), ("yes", 2)):    # female: R's sex == 2
        rows = used[used["sex"] == value]
        want.append(("female", name, len(rows), int(rows["event"].sum())))
    got = counts.set_index(["term", "level"]).loc[[(t, lv) for t, lv, _, _ in want]]
    assert got["n"].tolist() == [n for _, _, n, _ in want]
    assert got["events"].tolist() == [e for _, _, _, e in want]
    assert "age" not in set(counts["term"])                      # continuous: no levels
    assert counts.loc[counts["term"] == "ph_ecog", "n"].sum() == fit.n
    assert counts.loc[counts["term"] == "female", "n"].sum() == fit.n
    # a binary covariate not coded 0/1 gets no level rows (its forest row stays one row)
    other = fit_cox(lung, "time", "event", ["sex"], [], COVARIATES)
    assert level_counts(other, _config()).empty


def test_small_counts_are_hidden_when_privacy_asks(lung):
    few = lung.copy()
    few.loc[few.index[few["ph_ecog"] == 2][3:], "ph_ecog"] = 1     # three patients in ECOG 2
    fit = fit_cox(few, "time", "event", ["age", "ph_ecog"], [], COVARIATES)
    shown = level_counts(fit, _config()).set_index("level")
    assert int(shown.loc["2", "n"]) == 3
    hidden = level_counts(fit, _config(suppress=True, threshold=5)).set_index("level")
    assert hidden.loc["2", "n"] == "<5"
    # and one more, so that the hidden count cannot be recovered from the total
    assert (hidden["n"] == "<5").sum() >= 2


def test_the_distribution_rule_writes_its_figure(tmp_path):
    table = tmp_path / "netpet_distribution.csv"
    pd.DataFrame({"netpet": ["P0", "P1", "P2", "P5"], "n": ["<5", "40", "30", "12"],
                  "analysis_group": ["(not analysed)", "P1", "P2-4", "P5"]}).to_csv(table,
                                                                                   index=False)
    config = {"figures": {"width": "single", "font_family": "DejaVu Sans", "font_size": 7,
                          "palette": ["#0072B2", "#D55E00", "#009E73"], "group_labels": {},
                          "median_lines": False, "dpi": 100}}
    run_netpet_distribution_figure(config, str(table), [str(tmp_path / "d.png"),
                                                        str(tmp_path / "d.pdf")])
    assert (tmp_path / "d.png").stat().st_size > 0 and (tmp_path / "d.pdf").stat().st_size > 0


def test_the_km_axis_of_time_to_progression_says_deaths_are_censored(config):
    from netpet_stats.steps.figures import _km_y_label

    assert _km_y_label(config, "os") == "Survival probability"
    assert _km_y_label(config, "ttp") == "Free of progression (deaths censored)"
    config["competing_risks"]["enabled"] = False
    assert _km_y_label(config, "ttp") == "Survival probability"
