"""Multiple imputation and Rubin's rules against R (mice 3.15, mitml, MASS, nnet).

Fixture: tests/validation/imputation_reference.R -> imputation_reference.json, on the
imputed data sets in tests/validation/imputed/ (written by imputation_fixture.py with
netpet_stats.validation.imputation on 153 simulated patients).
Tolerances: pooled Cox estimates, SEs, df, p, fmi and the D1 test 1e-8 (the Cox fits
agree with R's to ~1e-12); pooled C and O/E 1e-8; the polr and multinom fits 1e-5
(R's optimisers stop at their own tolerance; polr's SEs come from optim's numerical
Hessian).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.survival import cox, rubin
from netpet_stats.survival.concordance import harrell_c
from netpet_stats.validation import imputation
from netpet_stats.validation.external import observed_expected

HERE = Path(__file__).resolve().parent
REF = json.loads((HERE / "imputation_reference.json").read_text())
SETS = [pd.read_csv(HERE / "imputed" / f"imputation_{i}.csv") for i in range(1, 6)]
CODING = {"netpet_group": {"type": "categorical", "levels": ["P1", "P2-4", "P5"]},
          "grade": {"type": "categorical", "levels": ["G1", "G2", "G3"]},
          "ki67": {"type": "continuous", "transform": "log2"},
          "age": {"type": "continuous", "scale": 10},
          "extrahepatic": {"type": "binary"}}
MODELS = {"ki67": ("os", ["netpet_group", "ki67", "age", "extrahepatic"], ["centre"]),
          "grade": ("ttp", ["netpet_group", "grade", "ki67", "age"], [])}


def _fits(name):
    ep, covs, strata = MODELS[name]
    return [cox.fit_cox(d, f"{ep}_time", f"{ep}_event", covs, strata, CODING) for d in SETS]


@pytest.mark.parametrize("name", list(MODELS))
def test_pooled_cox_equals_mice_pool(name):
    ref = REF["models"][name]
    fits = _fits(name)
    for fit, per in zip(fits, ref["per"]):  # the same fits as R's, before pooling
        np.testing.assert_allclose(fit.beta, per["coef"], rtol=0, atol=1e-9)
    coefs, _ = rubin.pool_cox(fits)
    assert coefs["dfcom"].iloc[0] == ref["dfcom"]
    for ours, theirs in [("estimate", "estimate"), ("se", "se"), ("df", "df"), ("p", "p"),
                         ("lower", "lower"), ("upper", "upper"), ("ubar", "ubar"), ("b", "b"),
                         ("t", "t"), ("riv", "riv"), ("lambda", "lambda"), ("fmi", "fmi"),
                         ("statistic", "statistic")]:
        np.testing.assert_allclose(coefs[ours], ref[theirs], rtol=1e-8, atol=1e-10,
                                   err_msg=f"{name}: {ours}")


@pytest.mark.parametrize("name", list(MODELS))
def test_d1_per_term_equals_mice_d1(name):
    ref = REF["models"][name]["d1"]
    _, tests = rubin.pool_cox(_fits(name))
    assert list(tests["term"]) == list(ref)
    for _, row in tests.iterrows():
        r = ref[row["term"]]
        for key in ("statistic", "df1", "df2", "p", "riv"):
            np.testing.assert_allclose(row[key], r[key], rtol=1e-8, atol=1e-12,
                                       err_msg=f"{name} {row['term']}: {key}")


def _pooled_measures():
    cs, ses, oe, se_log = [], [], [], []
    for fit, d in zip(_fits("grade"), SETS):
        lp = fit.design.to_numpy() @ fit.beta
        c = harrell_c(d["ttp_time"], d["ttp_event"], lp)
        cs.append(c["estimate"])
        ses.append(c["se"])
        h0 = cox.baseline_cumhaz(fit, at=[36.0])["cumhaz"].iloc[0]
        res = observed_expected(d["ttp_time"], d["ttp_event"], np.exp(-h0 * np.exp(lp)), 36.0)
        oe.append(res["estimate"])
        se_log.append(res["se_log"])
    return cs, ses, oe, se_log


def test_pooled_c_on_logit_and_oe_on_log_scale_equal_r():
    cs, ses, oe, se_log = _pooled_measures()
    np.testing.assert_allclose(cs, REF["c"]["per_c"], rtol=1e-10)
    np.testing.assert_allclose(ses, REF["c"]["per_se"], rtol=1e-8)
    np.testing.assert_allclose(oe, REF["oe"]["per_oe"], rtol=1e-8)
    np.testing.assert_allclose(se_log, REF["oe"]["per_se_log"], rtol=1e-8)
    c = rubin.pool_transformed(cs, ses, "logit")
    o = rubin.pool_transformed(oe, se_log, "log", se_on_scale=True)
    for res, ref in ((c, REF["c"]), (o, REF["oe"])):
        for key in ("estimate", "lower", "upper", "df", "fmi"):
            np.testing.assert_allclose(res[key], ref[key], rtol=1e-8, err_msg=key)


def test_d1_of_one_coefficient_is_the_square_of_the_pooled_t():
    """By hand: with k = 1, F = t^2 (Li, Raghunathan & Rubin 1991; Ttilde = (1 + r) Ubar)."""
    q = np.array([[0.3], [0.5], [0.4], [0.45]])
    u = np.array([0.02, 0.025, 0.022, 0.021])
    pooled = rubin.pool(q, u).iloc[0]
    d1 = rubin.d1_test(q, u.reshape(4, 1, 1))
    assert d1["statistic"] == pytest.approx(pooled["statistic"] ** 2, rel=1e-12)


def test_ordinal_and_multinomial_models_equal_polr_and_multinom():
    d = SETS[0]
    X = d[["age", "extrahepatic", "os_event"]].to_numpy(float)
    y = d["grade"].map({"G1": 0, "G2": 1, "G3": 2}).to_numpy()
    w = np.ones(len(y))
    theta, cov = imputation._newton(imputation._ordinal_derivs(X, y, w, 3),
                                    np.array([0, 0, 0, -0.5, 1.0]))
    np.testing.assert_allclose(theta, REF["polr"]["coef"] + REF["polr"]["zeta"], atol=1e-5)
    # polr's SEs invert optim's finite-difference Hessian (1e-4 off); ours are the
    # analytic Hessian's, checked against central differences of the log likelihood
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), REF["polr"]["se"], rtol=2e-4)
    from statsmodels.tools.numdiff import approx_hess

    loglik = imputation._ordinal_derivs(X, y, w, 3)
    numeric = approx_hess(theta, lambda th: loglik(th)[0])
    np.testing.assert_allclose(loglik(theta)[2], numeric, rtol=1e-5, atol=1e-6)
    Xc = np.column_stack([np.ones(len(y)), X])
    theta, cov = imputation._newton(imputation._multinomial_derivs(Xc, np.eye(3)[y], w),
                                    np.zeros(8))
    np.testing.assert_allclose(theta, np.ravel(REF["multinom"]["coef"]), atol=1e-5)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), REF["multinom"]["se"], rtol=1e-5)


def _dense_ordinal_derivatives(X, y, w, k, theta):
    """The proportional-odds gradient and Hessian summed over dense rows ``du = (-x, e_y)``
    and ``dl = (-x, e_{y-1})`` (zero in the top and bottom category): the textbook form
    that _ordinal_derivs sums in blocks."""
    n, p = X.shape
    du = np.column_stack([-X, np.zeros((n, k - 1))])
    dl = du.copy()
    for i in range(n):
        if y[i] < k - 1:
            du[i, p + y[i]] = 1.0
        else:
            du[i] = 0.0
        if y[i] > 0:
            dl[i, p + y[i] - 1] = 1.0
        else:
            dl[i] = 0.0
    cuts = np.concatenate([[-np.inf], theta[p:], [np.inf]])
    eta = X @ theta[:p]
    grad, hess = np.zeros(p + k - 1), np.zeros((p + k - 1, p + k - 1))
    for i in range(n):
        Fu = 1 / (1 + np.exp(-(cuts[y[i] + 1] - eta[i])))
        Fl = 1 / (1 + np.exp(-(cuts[y[i]] - eta[i])))
        fu, fl = Fu * (1 - Fu), Fl * (1 - Fl)
        g = (fu * du[i] - fl * dl[i]) / (Fu - Fl)
        grad += w[i] * g
        hess += w[i] * ((fu * (1 - 2 * Fu) * np.outer(du[i], du[i])
                         - fl * (1 - 2 * Fl) * np.outer(dl[i], dl[i])) / (Fu - Fl)
                        - np.outer(g, g))
    return grad, hess


@pytest.mark.parametrize("k", [2, 3, 4])
def test_ordinal_derivatives_in_blocks_equal_the_dense_rows(k):
    # 12 weighted rows, every category present, cut-points apart from 0
    X = np.array([[0.5, -1.0], [1.2, 0.3], [-0.7, 2.0], [0.0, 0.1], [2.1, -0.4],
                  [-1.5, -1.1], [0.9, 0.8], [-0.2, 1.7], [1.1, -2.2], [0.3, 0.0],
                  [-0.9, 0.6], [1.6, 1.4]])
    y = np.arange(12) % k
    w = np.array([1.0, 0.5, 2.0, 1.0, 0.25, 1.5, 1.0, 0.75, 1.0, 3.0, 0.5, 1.0])
    theta = np.concatenate([[0.4, -0.3], np.linspace(-1.0, 1.5, k - 1)])
    loglik = imputation._ordinal_derivs(X, y, w, k)
    ll, grad, hess = loglik(theta)
    dense_grad, dense_hess = _dense_ordinal_derivatives(X, y, w, k, theta)
    np.testing.assert_allclose(grad, dense_grad, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(hess, dense_hess, rtol=1e-12, atol=1e-13)
    # the lazy form Newton-Raphson uses: the same log likelihood, the same derivatives
    ll_lazy, derivatives = loglik(theta, lazy=True)
    assert ll_lazy == ll
    lazy_grad, lazy_hess = derivatives()
    assert np.array_equal(lazy_grad, grad) and np.array_equal(lazy_hess, hess)


def test_weighted_cross_products_in_blocks_equal_the_whole_product():
    # 2,500 rows: two full blocks of 1,024 and a partial one
    rng = np.random.default_rng(4)
    X, s, V = rng.normal(size=(2500, 5)), rng.normal(size=2500), rng.normal(size=(2500, 3))
    block = np.empty((imputation._CROSS_ROWS, 8))
    whole = X.T @ np.column_stack([X * s[:, None], V])
    np.testing.assert_allclose(imputation._cross_weighted(X, s, V, block), whole,
                               rtol=1e-12, atol=1e-10)


def test_ordinal_log_likelihood_after_a_row_underflowed_is_unchanged():
    # far along b two rows' probabilities round to 0 (F(u) - F(l) with F(l) rounded to
    # 1), a point Newton-Raphson rejects; the rows remembered from it are computed
    # first at later points, which must change nothing where the likelihood is finite
    X = np.array([[-2.0], [-1.0], [-0.5], [0.0], [0.5], [1.0], [2.0], [-1.5]])
    y = np.array([0, 0, 1, 1, 1, 2, 2, 2])
    w = np.ones(8)
    fresh, used = (imputation._ordinal_derivs(X, y, w, 3) for _ in range(2))
    far = np.array([80.0, -1.0, 1.0])  # P(Y = 2 | x = -1.5) = 1 - F(1 + 120): 0
    assert used(far)[0] == -np.inf and used(far, lazy=True)[0] == -np.inf
    # the last point: row 7's l = 1 + 1.5 b = 36.0, below 53 log 2 = 36.74 where
    # F(l) rounds to 1, so its probability 1 - F(l) = 2.2e-16 is not 0
    for theta in (np.array([1.0, -0.5, 0.8]), np.array([3.0, -1.0, 2.0]),
                  np.array([35.0 / 1.5, -1.0, 1.0])):
        ll, grad, hess = used(theta)
        ll0, grad0, hess0 = fresh(theta)
        assert np.isfinite(ll) and ll == ll0
        assert np.array_equal(grad, grad0) and np.array_equal(hess, hess0)
    # l = 36.9: 1 - F(l) is 0 in doubles, rejected by the remembered row as in full
    near = np.array([35.9 / 1.5, -1.0, 1.0])
    assert used(near)[0] == fresh(near)[0] == -np.inf
    assert used(far)[0] == -np.inf


def _qr_kept(X):
    """The columns a pivoted QR of the standardised non-constant columns keeps (rank:
    diagonal of R above 1e-7 times its first element), for every matrix."""
    from scipy.linalg import qr

    keep = np.nonzero(X.std(axis=0) > 1e-12)[0]
    sub = (X[:, keep] - X[:, keep].mean(axis=0)) / X[:, keep].std(axis=0)
    _, r, piv = qr(sub, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    return np.sort(keep[piv[:int(np.sum(diag > 1e-7 * diag[0]))]])


def test_independent_columns_are_those_of_the_pivoted_qr():
    rng = np.random.default_rng(8)
    base = rng.normal(size=(300, 4))
    near = base.copy()
    near[:, 3] = base[:, 2] + 1e-3 * base[:, 3]   # correlation matrix's smallest eigenvalue ~5e-7
    cases = {
        "independent": base,
        "a sum of two": np.column_stack([base, base[:, 0] - 2 * base[:, 1]]),
        "a constant": np.column_stack([np.full(300, 3.0), base]),
        "dummies and their total": np.column_stack(
            [np.eye(3)[np.arange(300) % 3], np.ones(300) - (np.arange(300) % 3 == 0), base[:, 0]]),
        "nearly collinear, kept": near,
        "collinear to rounding": np.column_stack([base, base[:, 1] * 3 + 1e-12 * base[:, 2]]),
    }
    expected_counts = {"independent": 4, "a sum of two": 4, "a constant": 4,
                       "dummies and their total": 3, "nearly collinear, kept": 4,
                       "collinear to rounding": 4}
    for name, X in cases.items():
        kept = imputation._independent(X)
        assert np.array_equal(kept, _qr_kept(X)), name
        assert len(kept) == expected_counts[name], name


def test_nelson_aalen_by_hand():
    # times 1, 2, 2, 3, 5 with events 1, 1, 0, 1, 0: H = 1/5, +1/4, +1/2
    h = imputation.nelson_aalen([2, 1, 2, 3, 5], [1, 1, 0, 1, 0])
    np.testing.assert_allclose(h, [0.2 + 0.25, 0.2, 0.2 + 0.25, 0.95, 0.95])


def test_default_m():
    assert imputation.default_m(0.05) == 20
    assert imputation.default_m(0.345) == 35
    assert imputation.default_m(0.225) == 23  # halves up, not R's round-half-even


def _small():
    d = pd.read_csv(HERE / "imputed" / "incomplete.csv")
    for ep in ("os", "ttp"):
        d[f"H_{ep}"] = imputation.nelson_aalen(d[f"{ep}_time"], d[f"{ep}_event"])
    return d


TARGETS = {"ki67": imputation.Target("pmm", transform="log2"),
           "grade": imputation.Target("polr", levels=["G1", "G2", "G3"])}
PRED = ["age", "extrahepatic", "os_event", "H_os", "ttp_event", "H_ttp"]


def test_imputations_are_seeded_and_the_same_on_any_number_of_processes():
    d = _small()
    one = imputation.impute(d, TARGETS, PRED, ["netpet_group", "centre"], m=3, iterations=3,
                            seed=11, workers=1)
    two = imputation.impute(d, TARGETS, PRED, ["netpet_group", "centre"], m=3, iterations=3,
                            seed=11, workers=2)
    other = imputation.impute(d, TARGETS, PRED, ["netpet_group", "centre"], m=3,
                              iterations=3, seed=12)
    for a, b in zip(one, two):
        pd.testing.assert_frame_equal(a, b)
    assert not one[0]["ki67"].equals(other[0]["ki67"])
    observed = set(d["ki67"].dropna())
    for s in one:
        assert s["ki67"].notna().all() and s["grade"].notna().all()
        assert set(s["ki67"]) <= observed  # PMM imputes donors' observed values
        kept = d["ki67"].notna()
        pd.testing.assert_series_equal(s.loc[kept, "ki67"], d.loc[kept, "ki67"])
        assert set(s["grade"]) <= {"G1", "G2", "G3"}


def test_a_complete_predictor_with_missing_values_is_refused_by_name():
    d = _small()
    d.loc[3, "age"] = np.nan
    with pytest.raises(imputation.ImputationError, match="'age': 1 missing"):
        imputation.impute(d, TARGETS, PRED, ["centre"], m=2, iterations=1)
