"""Tiny datasets whose answers are computed by hand in the test itself."""

from fractions import Fraction as F

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival import association
from netpet_stats.survival import concordance
from netpet_stats.survival import cox
from netpet_stats.survival import kaplan_meier
from netpet_stats.survival import logrank

# time, event, group for the 10-subject example (also tests/data/tiny.csv)
TIME = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
EVENT = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
GROUP = ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"]


def test_kaplan_meier_by_hand():
    curve = kaplan_meier.km_table(TIME, EVENT, "log")
    # Product-limit: n at risk and deaths at each distinct time.
    s1 = F(9, 10)
    s2 = s1 * F(8, 9)
    s3 = s2 * F(6, 7)
    s4 = s3 * F(4, 6)
    s6 = s4 * F(2, 3)
    expected = [s1, s2, s3, s4, s4, s6, s6, 0]
    np.testing.assert_allclose(curve["surv"], [float(x) for x in expected], rtol=1e-12)
    assert list(curve["n_risk"]) == [10, 9, 7, 6, 4, 3, 2, 1]
    # Greenwood: sum d / (n (n - d))
    g2 = 1 / (10 * 9) + 1 / (9 * 8)
    assert curve["std_err"].iloc[1] == pytest.approx(np.sqrt(g2), rel=1e-12)
    # log transform: S * exp(+- 1.96 se)
    z = 1.959963984540054
    assert curve["lower"].iloc[1] == pytest.approx(float(s2) * np.exp(-z * np.sqrt(g2)), rel=1e-12)
    # Median: first time S <= 0.5 is t = 4 (S = 0.457).
    assert kaplan_meier.km_quantiles(curve).iloc[0]["quantile"] == 4


def test_median_on_plateau_at_half_is_midpoint():
    # S = 0.75, 0.5, 0.25, 0: flat at exactly 0.5 from t=2 to t=3 -> median 2.5 (R rule);
    # lifelines would report 2.
    curve = kaplan_meier.km_table([1, 2, 3, 4], [1, 1, 1, 1])
    assert kaplan_meier.km_quantiles(curve).iloc[0]["quantile"] == 2.5
    # Flat at 0.5 running to the last (censored) time 4 -> (2 + 4) / 2 = 3.
    curve = kaplan_meier.km_table([1, 2, 3, 4], [1, 1, 0, 0])
    assert kaplan_meier.km_quantiles(curve).iloc[0]["quantile"] == 3


def test_numbers_at_risk_count_times_at_or_after_t():
    assert kaplan_meier.numbers_at_risk(TIME, [0, 2, 4, 8, 9]) == [10, 9, 6, 1, 0]


def test_logrank_by_hand():
    # Group a at each event time (n_a, n, d, d_a):
    rows = [(5, 10, 1, 1), (4, 9, 1, 0), (3, 7, 1, 0), (3, 6, 2, 1), (1, 3, 1, 0), (0, 1, 1, 0)]
    o = sum(r[3] for r in rows)
    e = sum(F(na * d, n) for na, n, d, _ in rows)
    v = sum(F(d * (n - d), n - 1) * F(na, n) * (1 - F(na, n)) for na, n, d, _ in rows if n > 1)
    chisq = float((o - e) ** 2 / v)
    res = logrank.logrank_test(TIME, EVENT, GROUP, groups=["a", "b"])
    assert res["chisq"] == pytest.approx(chisq, rel=1e-12)
    assert res["components"].expected[0] == pytest.approx(float(e), rel=1e-12)
    # With two groups the trend test equals the two-sample test.
    assert logrank.logrank_trend_test(TIME, EVENT, GROUP, groups=["a", "b"])["chisq"] == \
        pytest.approx(chisq, rel=1e-12)


def test_harrell_c_by_hand():
    # Three subjects: times 1 (event), 2 (event), 3 (censored); risk scores 3, 1, 2.
    # Comparable pairs: (1,2), (1,3), (2,3). Higher risk should fail first:
    # (1,2): 3 > 1 concordant; (1,3): 3 > 2 concordant; (2,3): 1 < 2 discordant.
    res = concordance.harrell_c([1, 2, 3], [1, 1, 0], [3, 1, 2], reverse=True)
    assert (res["concordant"], res["discordant"], res["tied_x"]) == (2, 1, 0)
    assert res["estimate"] == pytest.approx(2 / 3)
    # Subjects A (t=1, x=2), B (t=1, x=1), C (t=2, x=2), all events.
    # (A,B): tied event times, not comparable; (A,C): tied on x, counts 1/2;
    # (B,C): B fails first with the lower risk, discordant. C = (0 + 1/2) / 2.
    res = concordance.harrell_c([1, 1, 2], [1, 1, 1], [2, 1, 2], reverse=True)
    assert (res["concordant"], res["discordant"], res["tied_x"]) == (0, 1, 1)
    assert res["estimate"] == pytest.approx(0.25)


def test_exact_test_2x2_equals_hypergeometric_sum():
    from math import comb
    table = np.array([[3, 1], [1, 3]])
    # P(a) = C(4,a) C(4,4-a) / C(8,4); p sums tables no more likely than the observed.
    probs = [comb(4, a) * comb(4, 4 - a) / comb(8, 4) for a in range(5)]
    p_obs = probs[3]
    expected = sum(p for p in probs if p <= p_obs * (1 + 1e-7))
    assert association.fisher_exact_rxc(table)["p"] == pytest.approx(expected, rel=1e-12)


def test_exact_test_falls_back_honestly(monkeypatch):
    monkeypatch.setattr(association, "MAX_TABLES", 10)
    res = association.fisher_exact_rxc(np.array([[5, 3, 2], [2, 4, 6], [3, 3, 3]]), n_mc=2000)
    # Named as a Monte Carlo estimate, never as exact; close to the enumerated p.
    assert res["method"].startswith("Monte Carlo estimate")
    monkeypatch.setattr(association, "MAX_TABLES", 200_000_000)
    exact = association.fisher_exact_rxc(np.array([[5, 3, 2], [2, 4, 6], [3, 3, 3]]))
    assert exact["method"].startswith("Fisher-Freeman-Halton")
    # Binomial SE of a p near 0.4 with 2000 draws is ~0.011; allow 4 SE.
    assert abs(res["p"] - exact["p"]) < 0.045


def test_association_table_counts_missing():
    d = pd.DataFrame({"g": ["x", "x", "y", "y", None], "h": ["u", "v", "u", None, "v"]})
    counts, tests = association.association_table(d, "g", "h")
    assert counts["n"].sum() == 3
    assert (tests["n_missing"] == 2).all()


def test_km_point_by_hand_and_as_the_whole_curve():
    # times 2, 3, 3, 5+, 7, 9+: S(3) = (5/6)(3/5) = 1/2; S(7) = 1/2 * (1/2) = 1/4
    time = np.array([2, 3, 3, 5, 7, 9], float)
    event = np.array([1, 1, 1, 0, 1, 0], float)
    s, se = kaplan_meier.km_point(time, event, 3)
    assert s == pytest.approx(0.5)
    assert se == pytest.approx(np.sqrt(1 / (6 * 5) + 2 / (5 * 3)))
    s, se = kaplan_meier.km_point(time, event, 8)
    assert s == pytest.approx(0.25)
    assert se == pytest.approx(np.sqrt(1 / 30 + 2 / 15 + 1 / (2 * 1)))
    assert kaplan_meier.km_point(time, event, 1.5) == (1.0, 0.0)
    assert np.isnan(kaplan_meier.km_point(time, event, 9.5)[0])
    # the same numbers as the curve (R survfit, tested against R) read at those times
    rng = np.random.default_rng(4)
    t = rng.integers(1, 30, 200).astype(float)
    e = (rng.random(200) < 0.6).astype(float)
    curve = kaplan_meier.km_table(t, e)
    at = [0.5, 1, 7, 7.5, 12, 29, t.max()]
    expected = kaplan_meier.survival_at(curve, t, e, at)
    got = np.array([kaplan_meier.km_point(t, e, a) for a in at])
    np.testing.assert_allclose(got[:, 0], expected["surv"], rtol=1e-12)
    # km_point gives the SE of the cumulative hazard; the landmark table that of S(t)
    np.testing.assert_allclose(got[:, 0] * got[:, 1], expected["std_err"], rtol=1e-12)


def test_km_table_equals_lifelines_on_heavy_ties():
    """The counted product-limit curve equals lifelines' KaplanMeierFitter."""
    import numpy as np
    from lifelines import KaplanMeierFitter

    from netpet_stats import km_table

    rng = np.random.default_rng(11)
    t = rng.integers(1, 40, 500).astype(float)
    e = (rng.random(500) < 0.6).astype(int)
    km = km_table(t, e)
    kmf = KaplanMeierFitter().fit(t, e)
    et = kmf.event_table[kmf.event_table.index > 0]
    assert km["time"].tolist() == et.index.tolist()
    assert km["n_risk"].tolist() == et["at_risk"].tolist()
    assert km["n_censor"].tolist() == et["censored"].tolist()
    np.testing.assert_allclose(km["surv"], kmf.survival_function_.loc[et.index].iloc[:, 0],
                               rtol=1e-12)


def test_km_by_group_equals_km_table_group_by_group():
    import numpy as np

    from netpet_stats import km_by_group, km_quantiles, km_table

    rng = np.random.default_rng(5)
    t = rng.integers(1, 60, 300).astype(float)
    e = (rng.random(300) < 0.6).astype(int)
    g = rng.choice(["P1", "P2-4", "P5"], 300)
    curves, medians = km_by_group(t, e, g, groups=["P1", "P2-4", "P5", "P0"],
                                  conf_type="log-log", probs=(0.25, 0.5))
    assert list(dict.fromkeys(curves["group"])) == ["P1", "P2-4", "P5"]   # P0: no rows
    for grp in ("P1", "P2-4", "P5"):
        one = km_table(t[g == grp], e[g == grp], "log-log")
        mine = curves[curves["group"] == grp].drop(columns="group").reset_index(drop=True)
        assert mine.equals(one)
        q = km_quantiles(one, (0.25, 0.5))
        got = medians[medians["group"] == grp].drop(columns="group").reset_index(drop=True)
        assert got.equals(q)


def test_holm_and_bonferroni_equal_statsmodels_bit_for_bit():
    """adjust_p computes these two itself (statsmodels collects garbage on every call)."""
    import numpy as np
    from statsmodels.stats.multitest import multipletests

    from netpet_stats.survival.logrank import adjust_p

    rng = np.random.default_rng(2)
    for k in range(100):
        p = rng.random(int(rng.integers(1, 8))) ** 3
        if k % 3 == 0:
            p[0] = p[-1]                     # tied p-values
        for method in ("holm", "bonferroni", "fdr_bh"):
            assert np.array_equal(adjust_p(p, method), multipletests(p, method=method)[1])
    # R: p.adjust(c(0.01, 0.04, 0.03), "holm")
    assert adjust_p([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])


# times with an event and a censoring tied at 2 and at 4
TIES_T = np.array([1, 2, 2, 3, 4, 4, 5], float)
TIES_E = np.array([1, 0, 1, 0, 1, 0, 0], float)


def test_censoring_weights_by_hand():
    # G, the KM of censoring with events leaving first at a tie: 1 at 1; at 2, 4 still
    # at risk after 2 and the one censored there, 4/5; at 3, 3/4; at 4, 1/2; at 5, 0.
    # Uno's weight is 1 / G(t-)^2 at each subject's own time.
    g_before = np.array([1, 1, 1, 0.8, 0.8 * 0.75, 0.8 * 0.75, 0.8 * 0.75 * 0.5])
    w = concordance.censoring_weights(TIES_T, TIES_E)
    np.testing.assert_allclose(w, 1 / g_before ** 2, rtol=1e-14)
    # the same doubles as the G that the IPCW measures use, and with a given sort
    G = kaplan_meier.censoring_survival(TIES_T, TIES_E)
    assert np.array_equal(w, 1.0 / G(TIES_T, left=True) ** 2)
    shuffled = np.array([4, 0, 6, 2, 1, 5, 3])
    t, e = TIES_T[shuffled], TIES_E[shuffled]
    assert np.array_equal(concordance.censoring_weights(t, e, np.argsort(t, kind="stable")),
                          w[shuffled])


def test_zph_km_transform_by_hand():
    # pooled KM: 6/7 after 1, 5/7 after 2, 10/21 after 4; g = 1 - S(t-)
    g = cox.zph_time_transform(TIES_T, TIES_E, "km")
    np.testing.assert_allclose(g, [0, 1 / 7, 1 / 7, 2 / 7, 2 / 7, 2 / 7, 11 / 21], atol=1e-15)
    shuffled = np.array([6, 3, 0, 5, 2, 4, 1])
    t, e = TIES_T[shuffled], TIES_E[shuffled]
    assert np.array_equal(cox.zph_time_transform(t, e, "km", np.argsort(t, kind="stable")),
                          g[shuffled])
