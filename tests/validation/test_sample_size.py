"""Sample-size simulation for external validation (Riley et al. 2022).

Checked against closed forms and numerical integrals computed here
independently of the module (exponential baseline: event fraction with
censoring; Harrell's C without censoring for a normal linear predictor), and
against simulation truth (slope 1 and O/E 1 for a correct model; the
SE-based CI width against the spread of the estimates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from netpet_stats.validation import sample_size as ss
from netpet_stats.validation.frozen_model import ModelMismatchError


def _exponential(rate=0.05, lp_mean=0.0, lp_sd=0.5, follow_up=60.0, horizon=36.0):
    """H0(t) = rate * t, exactly linear between the two grid points."""
    return ss.Scenario(lp_mean=lp_mean, lp_sd=lp_sd, times=np.array([0.0, follow_up]),
                       cumhaz=np.array([0.0, rate * follow_up]), horizon=horizon)


def _event_fraction_by_quad(rate, censor, lp_mean, lp_sd, tau):
    # P(T <= min(C, tau)) for T ~ Exp(rate e^lp), C ~ Exp(censor), lp ~ N(mean, sd)
    def given_lp(lp):
        h = rate * np.exp(lp)
        return h / (h + censor) * (1 - np.exp(-(h + censor) * tau))

    value, _ = integrate.quad(lambda x: given_lp(x) * stats.norm.pdf(x, lp_mean, lp_sd),
                              lp_mean - 10 * lp_sd, lp_mean + 10 * lp_sd, epsabs=1e-12)
    return value


@pytest.mark.parametrize("censor", [0.0, 0.01, 0.05])
def test_event_fraction_matches_closed_form(censor):
    sc = _exponential(rate=0.03, lp_mean=0.2, lp_sd=0.8)
    expected = _event_fraction_by_quad(0.03, censor, 0.2, 0.8, 60.0)
    assert ss.event_fraction(sc, censor) == pytest.approx(expected, abs=2e-6)


def test_censoring_rate_gives_the_event_fraction_in_simulated_cohorts():
    sc = _exponential(rate=0.03, lp_mean=0.2, lp_sd=0.8)
    rate = ss.censoring_rate(sc, 0.4)
    assert _event_fraction_by_quad(0.03, rate, 0.2, 0.8, 60.0) == pytest.approx(0.4, abs=1e-6)
    n = 200_000
    _, event, _ = ss.simulate_cohort(sc, n, rate, np.random.default_rng(7))
    assert abs(event.mean() - 0.4) < 4 * np.sqrt(0.4 * 0.6 / n)


def test_unreachable_event_fraction_is_reported_not_dropped():
    sc = _exponential(rate=0.01, lp_sd=0.3)          # about 45% events by 60 at most
    top = ss.event_fraction(sc, 0.0)
    assert ss.censoring_rate(sc, top + 0.05) is None
    cell = ss.simulate_cell(sc, 100, round(top + 0.05, 3), 5, seed=1)
    assert len(cell) == 1 and cell["status"].iloc[0].startswith("infeasible")
    summary = ss.summarise(cell, {"slope": 0.2, "c": 0.1, "o_e": 0.2})
    assert (summary["status"].str.startswith("infeasible")).all()
    minimum = ss.minimum_sizes(summary)
    assert minimum["note"].iloc[0].startswith("infeasible")


def test_event_times_invert_a_piecewise_linear_cumulative_hazard():
    # H0: 0 -> 0.2 over [0, 10], flat over [10, 20], 0.2 -> 0.6 over [20, 30]
    sc = ss.Scenario(0.0, 1.0, np.array([0.0, 10.0, 20.0, 30.0]),
                     np.array([0.0, 0.2, 0.2, 0.6]), 30.0)
    got = sc.event_times([0.1, 0.2, 0.4, 0.6, 0.7])
    np.testing.assert_allclose(got, [5.0, 10.0, 25.0, 30.0, np.inf])


def test_harrell_c_of_simulated_cohorts_equals_the_true_c():
    # No censoring, follow-up long enough that every event is seen: the true C of
    # a normal linear predictor with exponential times is E[expit(|D|)],
    # D = lp_i - lp_j ~ N(0, 2 sd^2) (the earlier failure has the larger lp with
    # probability expit(|D|)).
    sd = 0.7
    truth, _ = integrate.quad(lambda d: 2 * stats.norm.pdf(d, 0, np.sqrt(2) * sd)
                              / (1 + np.exp(-d)), 0, 12 * sd)
    sc = _exponential(rate=1.0, lp_sd=sd, follow_up=200.0, horizon=200.0)
    rng = np.random.default_rng(3)
    values = []
    for _ in range(20):
        time, event, lp = ss.simulate_cohort(sc, 2000, 0.0, rng)
        assert event.all()
        values.append(ss.performance(time, event, lp, sc)["c"])
    values = np.asarray(values)
    assert abs(values.mean() - truth) < 4 * values.std(ddof=1) / np.sqrt(len(values))


def test_correct_model_is_calibrated_and_widths_match_the_spread():
    sc = _exponential(rate=0.02, lp_sd=0.8, horizon=36.0)
    cell = ss.simulate_cell(sc, 400, 0.4, 300, seed=11)
    assert (cell["status"] == "ok").all()
    summary = ss.summarise(cell, {"slope": 0.2, "c": 0.1, "o_e": 0.2}).set_index("measure")
    mc = summary["estimate_sd"] / np.sqrt(summary["n_used"])
    # Simulation truth: slope 1 and O/E 1 (the model generated the data).
    assert abs(summary.loc["slope", "estimate_mean"] - 1) < 4 * mc["slope"]
    assert abs(summary.loc["o_e", "estimate_mean"] - 1) < 4 * mc["o_e"]
    # Wald widths from the analytic SEs agree with the spread of the estimates.
    z = stats.norm.ppf(0.975)
    for m in ("slope", "c", "o_e"):
        empirical = 2 * z * summary.loc[m, "estimate_sd"]
        assert summary.loc[m, "width_mean"] == pytest.approx(empirical, rel=0.15), m
    assert summary.loc["slope", "events_mean"] == pytest.approx(160, rel=0.05)


def test_width_shrinks_as_one_over_root_events():
    sc = _exponential(rate=0.02, lp_sd=0.8, horizon=36.0)
    small = ss.summarise(ss.simulate_cell(sc, 300, 0.4, 100, seed=2),
                         {"slope": 0.2, "c": 0.1, "o_e": 0.2}).set_index("measure")
    large = ss.summarise(ss.simulate_cell(sc, 1200, 0.4, 100, seed=2),
                         {"slope": 0.2, "c": 0.1, "o_e": 0.2}).set_index("measure")
    ratio = large["width_mean"] / small["width_mean"]
    np.testing.assert_allclose(ratio, 0.5, rtol=0.1)


def test_cells_are_reproducible_and_independent_of_order():
    sc = _exponential()
    a = ss.simulate_cell(sc, 120, 0.3, 10, seed=5)
    ss.simulate_cell(sc, 150, 0.3, 10, seed=5)         # another cell in between
    b = ss.simulate_cell(sc, 120, 0.3, 10, seed=5)
    pd.testing.assert_frame_equal(a, b)
    c = ss.simulate_cell(sc, 120, 0.3, 10, seed=6)
    assert not np.allclose(a["slope"], c["slope"])


@pytest.mark.parametrize("threads", [1, 3])
def test_the_grid_in_one_process_or_forked_equals_its_cells_one_by_one(threads, caplog):
    # Each cell of the grid, simulated alone from its own stream, then put one after
    # the other, sizes outer and fractions inner: what the grid gives on any number
    # of worker processes (3 workers for 4 cells, dispatched largest first, finish
    # out of grid order). An unreachable fraction keeps its one row in its place.
    sc = _exponential(rate=0.01, lp_sd=0.3)          # about 45% events by 60 at most
    sizes, fractions = [150, 60], [0.3, 0.9]
    alone = [ss.simulate_cell(sc, n, f, 8, seed=4) for n in sizes for f in fractions]
    expected = pd.concat(alone, ignore_index=True)
    assert len(expected) == 8 + 1 + 8 + 1
    caplog.set_level("INFO", logger=ss.__name__)
    caplog.clear()
    grid = ss.simulate_grid(sc, sizes, fractions, 8, seed=4, threads=threads)
    pd.testing.assert_frame_equal(grid, expected, check_exact=True)
    # one log line per feasible cell, in the grid's order, here in the parent process
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "sample size n=150, event fraction 0.3", "sample size n=60, event fraction 0.3"]


def test_minimum_sizes_reads_the_grid():
    rows = []
    widths = {"slope": [0.5, 0.3, 0.19], "c": [0.12, 0.09, 0.06], "o_e": [0.3, 0.2, 0.15]}
    for i, n in enumerate((100, 200, 400)):
        for m, w in widths.items():
            rows.append({"n": n, "event_fraction": 0.5, "measure": m,
                         "target_width": {"slope": 0.2, "c": 0.1, "o_e": 0.2}[m],
                         "events_mean": n / 2, "meets_target": w[i] <= {"slope": 0.2, "c": 0.1,
                                                                          "o_e": 0.2}[m],
                         "status": "ok"})
    out = ss.minimum_sizes(pd.DataFrame(rows)).set_index("criterion")
    assert out.loc["slope", "minimum_n"] == 400
    assert out.loc["c", "minimum_n"] == 200
    assert out.loc["o_e", "minimum_n"] == 200
    assert out.loc["all", "minimum_n"] == 400
    assert bool(out.loc["all", "collins_200_events"]) and out.loc["all", "events_mean"] == 200
    assert not bool(out.loc["c", "collins_200_events"])
    rows = [r | {"meets_target": False} for r in rows]
    out = ss.minimum_sizes(pd.DataFrame(rows)).set_index("criterion")
    assert np.isnan(out.loc["all", "minimum_n"])
    assert "not reached within the grid (largest n 400)" == out.loc["all", "note"]
    # every cell infeasible (times in days against horizons in months, say): one row per
    # fraction saying so, with the same columns the report reads
    rows = [r | {"status": "infeasible: event fraction not reachable"} for r in rows]
    out = ss.minimum_sizes(pd.DataFrame(rows))
    assert out[["event_fraction", "criterion", "note"]].values.tolist() == [
        [0.5, "all", "infeasible: event fraction not reachable"]]
    assert {"target_width", "minimum_n", "events_mean"} <= set(out.columns)


def test_unestimable_measure_does_not_meet_its_target():
    # Censoring so heavy that small cohorts often have nobody followed to 60.
    sc = _exponential(rate=0.01, lp_sd=0.5, horizon=60.0)
    cell = ss.simulate_cell(sc, 30, 0.1, 40, seed=1)
    summary = ss.summarise(cell, {"slope": 5, "c": 5, "o_e": 50}).set_index("measure")
    assert summary.loc["o_e", "n_used"] < 40
    assert not summary.loc["o_e", "meets_target"]
    assert "not estimable" in summary.loc["o_e", "status"]


def test_scenario_from_a_frozen_model():
    model = {"strata": None,
             "baseline_survival": {"horizons": [12.0, 24.0],
                                   "survival": {"all": [0.9, 0.7]},
                                   "curve": {"times": [0.0, 12.0, 24.0],
                                             "survival": {"all": [1.0, 0.9, 0.7]}}},
             "development": {"linear_predictor": {"mean": 1.5, "sd": 0.4}}}
    sc = ss.scenario_from_model(model)
    np.testing.assert_allclose(sc.cumhaz, -np.log([1.0, 0.9, 0.7]))
    assert (sc.lp_mean, sc.lp_sd, sc.horizon, sc.follow_up) == (1.5, 0.4, 24.0, 24.0)
    assert ss.scenario_from_model(model, horizon=12, lp_sd=1.0).lp_sd == 1.0
    del model["baseline_survival"]["curve"]
    np.testing.assert_allclose(ss.scenario_from_model(model).times, [0, 12, 24])
    with pytest.raises(ModelMismatchError, match="beyond"):
        ss.scenario_from_model(model, horizon=36)
    model["strata"] = ["a", "b"]
    with pytest.raises(ModelMismatchError, match="unstratified"):
        ss.scenario_from_model(model)
    model["strata"] = None
    del model["development"]                       # a model written by hand from a paper
    with pytest.raises(ModelMismatchError, match="mean and SD of its linear predictor"):
        ss.scenario_from_model(model)


