"""Median follow-up of time to progression: a death ends follow-up, it is not a loss.

Truth: tests/steps/follow_up_reference.R (R survival's reverse Kaplan-Meier).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.steps import kaplan_meier

REF = json.loads((Path(__file__).with_name("follow_up_reference.json")).read_text())


def _frame() -> pd.DataFrame:
    d = pd.DataFrame(REF["data"])
    group = pd.Categorical(["P1"] * len(d), categories=["P1", "P2-4", "P5"], ordered=True)
    return pd.DataFrame({
        "netpet_group": group,
        "ttp_time": d["time"].astype(float), "ttp_event": (d["status"] == 1).astype(float),
        "os_time": d["time"].astype(float) + 1.0, "os_event": (d["status"] == 2).astype(float),
        "cr_time": d["time"].astype(float), "cr_status": d["status"].astype(float)})


def _follow_up(config, tmp_path) -> pd.Series:
    out = {k: tmp_path / f"{k}.csv" for k in
           ("curves", "summary", "landmarks", "risk_table", "follow_up")}
    kaplan_meier.write_estimates(config, _frame(), "ttp", out)
    table = pd.read_csv(out["follow_up"])
    return table.set_index("group").loc["all"]


def _same(value, expected):
    if expected is None:
        assert np.isnan(value)
    else:
        assert value == pytest.approx(expected, abs=1e-12)


def test_progression_follow_up_counts_death_as_an_event(config, tmp_path):
    fu = _follow_up(config, tmp_path)
    ref = REF["death_as_event"]
    _same(fu["median_follow_up"], ref["median"])
    _same(fu["lower"], ref["lower"])
    _same(fu["upper"], ref["upper"])
    assert fu["n_censored"] == ref["n_censored"]
    assert "death before progression counted as an event" in fu["method"]


def test_without_competing_risks_follow_up_stays_on_the_endpoint_clock(config, tmp_path):
    cfg = copy.deepcopy(config)
    cfg["competing_risks"]["enabled"] = False
    fu = _follow_up(cfg, tmp_path)
    ref = REF["death_as_censoring"]
    _same(fu["median_follow_up"], ref["median"])
    _same(fu["lower"], ref["lower"])
    assert fu["method"].startswith("reverse Kaplan-Meier (Schemper & Smith 1996): quantile")


def test_the_curve_and_landmark_tables_name_their_standard_errors(config, tmp_path):
    out = {k: tmp_path / f"{k}.csv" for k in
           ("curves", "summary", "landmarks", "risk_table", "follow_up")}
    data = _frame()
    data.loc[data["ttp_time"] == data["ttp_time"].max(), "ttp_event"] = 1.0  # S reaches 0
    kaplan_meier.write_estimates(config, data, "ttp", out)
    curves = pd.read_csv(out["curves"])
    landmarks = pd.read_csv(out["landmarks"])
    assert "std_err" not in curves and "std_err" not in landmarks
    last = curves.iloc[-1]
    assert last["surv"] == 0 and np.isnan(last["se_cumhaz"])        # not "inf"
    assert "inf" not in out["curves"].read_text()
    # the landmark SE is that of S: S x the SE of the cumulative hazard at that time
    at12 = landmarks.set_index("time").loc[12]
    row = curves[curves["time"] <= 12].iloc[-1]
    assert at12["se_surv"] == pytest.approx(row["surv"] * row["se_cumhaz"], rel=1e-9)
