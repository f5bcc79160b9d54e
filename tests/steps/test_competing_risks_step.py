"""Rule competing_risks on the bundled cohort against R (competing_risks_reference.R).

R builds the same states from the cohort table (progression first, death first,
else censored), then survfit, cuminc, coxph and finegray + coxph; the step's
tables must say the same. The cumulative incidence figure is drawn from them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats import load_config, prepare_cohort
from netpet_stats.report import figures as F
from netpet_stats.steps import competing_risks

HERE = Path(__file__).resolve().parents[1]
REF = json.loads((HERE / "survival" / "competing_risks_reference.json").read_text())["synthetic"]
NAMES = ("states", "curves", "naive", "horizons", "risk_table", "gray", "models")


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    out = tmp_path_factory.mktemp("competing")
    cfg = load_config(overrides={"competing_risks": {"horizons": [12, 24, 36]}})
    prepare_cohort(cfg).data.to_parquet(out / "analysis.parquet")
    paths = {name: out / f"{name}.csv" for name in NAMES}
    competing_risks.run(cfg, out / "analysis.parquet", paths)
    return {name: pd.read_csv(p, keep_default_na=False, na_values=[""])
            for name, p in paths.items()}


def test_states_by_group_equal_r(tables):
    s = tables["states"]
    s = s[s["group"] != "all"]
    # R's table(group, status) in column-major order: status 0, 1, 2 by group P1, P2-4, P5
    expected = np.array(REF["states"]).reshape(3, 3)      # [status][group]
    for k, state in enumerate(["censored", "progressed", "died without progression"]):
        got = s[s["state"] == state].set_index("group").loc[["P1", "P2-4", "P5"], "n"]
        assert got.tolist() == expected[k].tolist()


def test_cumulative_incidence_at_the_horizons_equals_survfit(tables):
    h = tables["horizons"]
    ref = REF["horizons"]
    strata = [s.split("=")[1] for s in ref["strata"]]
    for j, state in ((1, "progressed"), (2, "died without progression")):
        for i, (g, t) in enumerate(zip(strata, ref["time"])):
            row = h[(h["group"] == g) & (h["state"] == state) & (h["time"] == t)].iloc[0]
            assert row["estimate"] == pytest.approx(ref["pstate"][i][j], abs=1e-10)
            assert row["std_err"] == pytest.approx(ref["std_err"][i][j], abs=1e-10)
            assert row["lower"] == pytest.approx(ref["lower"][i][j], abs=1e-10)
            assert row["upper"] == pytest.approx(ref["upper"][i][j], abs=1e-10)
            if state == "progressed":
                assert row["one_minus_km"] == pytest.approx(ref["naive"][i], abs=1e-10)


def test_naive_one_minus_km_exceeds_the_cumulative_incidence_in_p5_at_24_months(tables):
    h = tables["horizons"]
    row = h[(h["group"] == "P5") & (h["state"] == "progressed") & (h["time"] == 24)].iloc[0]
    assert row["one_minus_km"] > row["upper"]   # well outside the CI, not a wobble
    assert row["difference"] == pytest.approx(row["one_minus_km"] - row["estimate"])


def test_gray_test_equals_cuminc(tables):
    g = tables["gray"].set_index("cause")
    for state, stat, p in zip(["progressed", "died without progression"], REF["gray"]["stat"],
                              REF["gray"]["p"]):
        assert g.loc[state, "statistic"] == pytest.approx(stat, rel=1e-8)
        assert g.loc[state, "p"] == pytest.approx(p, abs=1e-8)


@pytest.mark.parametrize("approach,key", [("cause-specific hazard", "cause_specific"),
                                          ("subdistribution hazard (Fine-Gray)", "fine_gray")])
def test_models_equal_coxph_and_finegray(tables, approach, key):
    m = tables["models"]
    rows = m[(m["approach"] == approach) & (m["event"] == "progressed")]
    # R's coefficient order: P2-4, P5, G2, G3, age/10, extrahepatic
    np.testing.assert_allclose(rows["coef"], REF[key]["coef"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(rows["se"], REF[key]["se"], rtol=1e-6)


def test_the_risk_table_counts_the_event_free(tables):
    r = tables["risk_table"]
    curves = tables["curves"]
    p1 = curves[(curves["group"] == "P1") & (curves["state"] == "event-free")]
    assert r[(r["group"] == "P1") & (r["time"] == 0)]["n_risk"].iloc[0] == p1["n_risk"].iloc[0]


@pytest.mark.parametrize("width", ["single", "double"])
def test_the_figure_prints_at_both_widths(tables, width):
    fig = F.cumulative_incidence_figure(tables["curves"], tables["naive"], tables["risk_table"],
                                        tables["gray"], "months", "95% CI, log",
                                        style=F.FigureStyle(width=width))
    assert F.text_problems(fig) == []
    naive = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == "naive-km"]
    assert len(naive) == 3          # one dotted 1 - KM per group, in that group's panel
    F.plt.close(fig)


def test_small_counts_are_suppressed_when_asked(tmp_path):
    cfg = load_config(overrides={"privacy": {"suppress_small_cells": True, "threshold": 5}})
    prepare_cohort(cfg).data.to_parquet(tmp_path / "a.parquet")
    paths = {name: tmp_path / f"{name}.csv" for name in NAMES}
    competing_risks.run(cfg, tmp_path / "a.parquet", paths)
    states = pd.read_csv(paths["states"], dtype=str)
    assert "percent" not in states
    p5_censored = states[(states["group"] == "P5") & (states["state"] == "censored")]
    assert p5_censored["n"].iloc[0] == "<5"          # 1 patient: hidden


def test_a_cohort_where_nobody_dies_first_still_gives_every_table(tmp_path):
    cfg = load_config(overrides={"competing_risks": {"horizons": [12, 24]}})
    data = prepare_cohort(cfg).data
    data.loc[data["cr_status"] == 2, "cr_status"] = 0     # deaths first made censorings
    data.to_parquet(tmp_path / "a.parquet")
    paths = {name: tmp_path / f"{name}.csv" for name in NAMES}
    competing_risks.run(cfg, tmp_path / "a.parquet", paths)
    gray = pd.read_csv(paths["gray"], keep_default_na=False, na_values=[""])
    assert gray.set_index("cause").loc["died without progression", "note"].startswith(
        "not estimable")
    models = pd.read_csv(paths["models"], keep_default_na=False, na_values=[""])
    death = models[models["event"] == "died without progression"]
    assert (death["note"] == "no patient died without progression").all() and len(death) == 2
    curves = pd.read_csv(paths["curves"])
    assert "died without progression" not in set(curves["state"])
    fig = F.cumulative_incidence_figure(curves, pd.read_csv(paths["naive"]),
                                        pd.read_csv(paths["risk_table"]), gray, "months",
                                        "95% CI, log")
    assert F.text_problems(fig) == []
    F.plt.close(fig)
