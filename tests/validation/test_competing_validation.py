"""Validating a competing-risks prediction against R (competing_validation_reference.R).

A Fine-Gray model of progression in mgus2 fitted on the odd ids; its baseline
cumulative subdistribution hazard against ``survfit``; its predicted risks for
the even ids scored against ``riskRegression::Score(..., cause = 1)``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival.competing_risks import fine_gray, fine_gray_baseline
from netpet_stats.validation.competing import (cr_brier_score, cr_observed_expected,
                                               cr_performance, cr_time_dependent_auc)

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "competing_validation_reference.json").read_text())
MGUS2 = pd.read_csv(HERE.parent / "data" / "mgus2.csv")
TRAIN, TEST = MGUS2[MGUS2.id % 2 == 1], MGUS2[MGUS2.id % 2 == 0]
TIMES = REF["times"]


def _x(d):
    return np.column_stack([(d.sex == "M").astype(float), d.age])


@pytest.fixture(scope="module")
def risk():
    fit = fine_gray(TRAIN.etime, TRAIN.event, _x(TRAIN))
    base = fine_gray_baseline(TRAIN.etime, TRAIN.event, _x(TRAIN), fit.beta, at=TIMES)
    np.testing.assert_allclose(fit.beta, REF["coef"], rtol=1e-8)
    np.testing.assert_allclose(base["cumhaz"], REF["baseline_cumhaz"], rtol=1e-8)
    lp = _x(TEST) @ fit.beta
    return {h: 1 - np.exp(-H * np.exp(lp)) for h, H in zip(TIMES, base["cumhaz"])}


def test_predicted_risks_equal_r(risk):
    np.testing.assert_array_equal(TEST.id, REF["test_id"])
    np.testing.assert_allclose(np.column_stack([risk[h] for h in TIMES]),
                               np.array(REF["risk"]), rtol=1e-8)


def test_auc_equals_score(risk):
    for h, expected in zip(REF["auc"]["times"], REF["auc"]["auc"]):
        assert cr_time_dependent_auc(TEST.etime, TEST.event, risk[h], h) == pytest.approx(
            expected, abs=1e-6)


def test_brier_and_ipa_equal_score(risk):
    b = pd.DataFrame(REF["brier"])
    for h in TIMES:
        res = cr_brier_score(TEST.etime, TEST.event, risk[h], h)
        row = b[(b.model == "FG") & (b.times == h)].iloc[0]
        null = b[(b.model == "Null model") & (b.times == h)].iloc[0]
        assert res["brier"] == pytest.approx(row.brier, abs=1e-6)
        assert res["brier_null"] == pytest.approx(null.brier, abs=1e-6)
        assert res["ipa"] == pytest.approx(row.ipa, abs=1e-6)


def test_observed_is_the_aalen_johansen_estimate(risk):
    for k, h in enumerate(TIMES):
        oe = cr_observed_expected(TEST.etime, TEST.event, risk[h], h)
        assert oe["observed"] == pytest.approx(REF["aj"]["pcm"][k], abs=1e-10)
        assert oe["se_log"] == pytest.approx(REF["aj"]["se"][k] / REF["aj"]["pcm"][k], rel=1e-8)
        assert oe["expected"] == pytest.approx(np.mean(risk[h]))


def test_a_perfect_ranking_has_auc_one_and_a_reversed_one_zero():
    t = np.array([1, 2, 3, 4, 5, 6, 7, 8.0])
    c = np.array([1, 2, 1, 0, 2, 1, 0, 0])
    good = np.where(c == 1, 0.9, 0.1)
    assert cr_time_dependent_auc(t, c, good, 6.5) == 1.0
    assert cr_time_dependent_auc(t, c, 1 - good, 6.5) == 0.0


def test_per_centre_o_e_is_pooled_on_the_log_scale(risk):
    centre = np.where(TEST.id % 3 == 0, "A", np.where(TEST.id % 3 == 1, "B", "C"))
    table = cr_performance(TEST.etime, TEST.event, risk, centre)
    oe = table[(table.measure == "O/E") & (table.horizon == 120)]
    per = oe[oe.centre != "pooled (random effects)"]
    assert per.centre.tolist() == ["A", "B", "C"]
    pooled = oe[oe.centre == "pooled (random effects)"].iloc[0]
    assert min(per.estimate) <= pooled.estimate <= max(per.estimate)
    assert pooled.k == 3 and pooled.n == len(TEST)
    # each centre's O/E is the whole-cohort estimator on that centre alone
    a = TEST[centre == "A"]
    alone = cr_observed_expected(a.etime, a.event, risk[120][centre == "A"], 120)
    assert per.iloc[0].estimate == pytest.approx(alone["estimate"])


def test_performance_at_several_horizons_equals_each_measure_on_its_own(risk):
    # cr_performance computes each centre's Aalen-Johansen table once for all
    # horizons; each measure called alone computes its own: the same numbers
    centre = np.where(TEST.id % 3 == 0, "A", np.where(TEST.id % 3 == 1, "B", "C"))
    table = cr_performance(TEST.etime, TEST.event, risk, centre)
    assert len(risk) >= 2
    for c in ("A", "B", "C"):
        m = centre == c
        t, k = TEST.etime[m].to_numpy(), TEST.event[m].to_numpy()
        for h, r in risk.items():
            rows = table[(table.centre == c) & (table.horizon == h)].set_index("measure")
            bs = cr_brier_score(t, k, r[m], h)
            oe = cr_observed_expected(t, k, r[m], h)
            np.testing.assert_array_equal(
                [rows.loc["Brier score", "estimate"], rows.loc["IPA", "estimate"],
                 *rows.loc["O/E", ["estimate", "lower", "upper"]]],
                [bs["brier"], bs["ipa"], oe["estimate"], oe["lower"], oe["upper"]])


# ---------------------------------------------------------------------------- edges
# Fixture "edges" (competing_validation_reference.R): where Score(cause = 1) estimates
# nothing, nothing is reported, and the note says why.

RISK_R = np.array(REF["risk"])          # the test half's predicted risks at 60, 120, 240


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_score_at_the_last_time_and_nothing_past_it_as_r():
    ref = REF["edges"]["late"]
    late = TEST.id.isin(ref["id"]).to_numpy()
    d, last = TEST[late], ref["last"]
    assert d.etime.max() == last and d[d.etime == last].event.eq(0).all()  # G(last) = 0
    risk = {60: RISK_R[late, 0], 120: RISK_R[late, 1], last: RISK_R[late, 1]}
    b = pd.DataFrame({"model": ref["model"], "times": ref["brier_times"],
                      "brier": ref["brier"], "ipa": ref["ipa"]})
    for h, auc in zip(ref["times"], ref["auc"]):
        assert cr_time_dependent_auc(d.etime, d.event, risk[h], h) == pytest.approx(auc,
                                                                                    abs=1e-6)
        res = cr_brier_score(d.etime, d.event, risk[h], h)
        row = b[(b.model == "FG") & (b.times == h)].iloc[0]
        null = b[(b.model == "Null model") & (b.times == h)].iloc[0]
        assert res["brier"] == pytest.approx(row.brier, abs=1e-6)      # at 200: was empty
        assert res["brier_null"] == pytest.approx(null.brier, abs=1e-6)
        assert res["ipa"] == pytest.approx(row.ipa, abs=1e-6)
    # past the last time R computes nothing; the AUC used to be printed there
    assert "not computed" in ref["beyond_240"]
    assert np.isnan(cr_time_dependent_auc(d.etime, d.event, RISK_R[late, 2], 240))
    res = cr_brier_score(d.etime, d.event, RISK_R[late, 2], 240)
    assert np.isnan(res["brier"]) and np.isnan(res["ipa"])
    assert "no one is followed to 240 (last follow-up 200)" in res["note"]
    table = cr_performance(d.etime, d.event, {240.0: RISK_R[late, 2]})
    assert table.estimate.isna().all()                # AUC, Brier, IPA and O/E alike
    assert table.note.str.contains("no one is followed to 240").all()


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_no_brier_score_where_no_one_progressed_as_r_refuses():
    ref = REF["edges"]["none"]
    assert ref["refused"].startswith("Requested cause: 1. Available causes:")
    none = TEST.id.isin(ref["id"]).to_numpy()
    d = TEST[none]
    assert not (d.event == 1).any()
    res = cr_brier_score(d.etime, d.event, RISK_R[none, 1], 120)
    assert np.isnan(res["brier"]) and np.isnan(res["ipa"])       # the Brier used to be printed
    assert 'Score(cause = 1) refuses ("Requested cause: 1")' in res["note"]
    table = cr_performance(d.etime, d.event, {120.0: RISK_R[none, 1]}).set_index("measure")
    for measure in ("time-dependent AUC", "Brier score", "IPA"):
        assert np.isnan(table.loc[measure, "estimate"])
        assert "no one progressed" in table.loc[measure, "note"]
    # O/E is estimable: the observed incidence is 0
    assert table.loc["O/E", "estimate"] == 0.0
    assert table.loc["O/E", "note"].startswith("O/E = 0: no progression by 120")


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_centre_with_o_e_zero_leaves_the_pooling_with_a_note():
    ref = REF["edges"]["none"]
    none = TEST.id.isin(ref["id"]).to_numpy()
    centre = np.where(none, "N", np.where(TEST.id % 3 == 1, "B", "C"))
    risk = {120.0: RISK_R[:, 1]}
    table = cr_performance(TEST.etime, TEST.event, risk, centre)
    oe = table[table.measure == "O/E"].set_index("centre")
    assert oe.loc["N", "estimate"] == 0.0 and np.isnan(oe.loc["N", "lower"])
    pooled = oe.loc["pooled (random effects)"]
    assert pooled.k == 2 and pooled.n == (centre != "N").sum()
    assert "Left out of the pooling: N: O/E = 0: no progression by 120" in pooled.note
    # the pooled value is that of the other two centres alone
    two = centre != "N"
    alone = cr_performance(TEST.etime[two], TEST.event[two], {120.0: RISK_R[two, 1]},
                           centre[two])
    again = alone[(alone.measure == "O/E") & (alone.centre == "pooled (random effects)")]
    assert pooled.estimate == pytest.approx(again.estimate.iloc[0], rel=1e-12)
    # with one centre left, there is nothing to pool, and the row says why
    one = centre != "C"
    single = cr_performance(TEST.etime[one], TEST.event[one], {120.0: RISK_R[one, 1]},
                            centre[one])
    row = single[single.centre == "pooled (random effects)"].iloc[0]
    assert np.isnan(row.estimate) and row.note.startswith("not pooled: fewer than two")
    assert "N: O/E = 0" in row.note
