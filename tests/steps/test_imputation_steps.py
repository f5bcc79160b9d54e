"""The pooled analyses of multiply imputed sets, fitted once (rule pool_mi), and the
imputation's own least squares.

The fits pool_mi pools must be ``fit_cox``'s own fits to the bit (the same design,
times and Newton-Raphson, without the drop-one refits pooling does not use), the same
in one process or several; the imputation's least squares must be statsmodels' OLS to
the bit, without importing statsmodels (1.5-2 s of every imputation job before).
Data: the five imputed sets of the mice fixture (tests/validation/imputed/).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.config import cox_ties, load_config, model_specs
from netpet_stats.steps import imputation as step
from netpet_stats.survival import cox
from netpet_stats.validation import imputation

from fresh_process import modules_loaded

ROOT = Path(__file__).resolve().parents[2]
IMPUTED = ROOT / "tests" / "validation" / "imputed"


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture(scope="module")
def sets(config):
    order = ["P1", "P2-4", "P5"]
    return [pd.read_csv(IMPUTED / f"imputation_{i}.csv").assign(
        netpet_group=lambda d: pd.Categorical(d["netpet_group"], order, ordered=True))
        for i in range(1, 6)]


def test_each_pooled_fit_is_fit_cox_to_the_bit(config, sets):
    models = [(ep, name) for ep in ("os", "ttp") for name in model_specs(config)]
    fits = step.fit_imputed(config, sets, models, workers=1)
    for (ep, name), per_set in fits.items():
        spec = model_specs(config)[name]
        for d, fit in zip(sets, per_set):
            ref = cox.fit_cox(d, f"{ep}_time", f"{ep}_event", spec["covariates"],
                              spec["strata"], config["covariates"],
                              ties=cox_ties(config))
            assert list(fit.design.columns) == list(ref.design.columns)
            assert np.array_equal(fit.beta, ref.beta), (ep, name)
            assert np.array_equal(fit.variance, ref.variance), (ep, name)
            assert (fit.n, fit.events) == (ref.n, ref.events)
            assert [t.name for t in fit.terms] == [t.name for t in ref.terms]
            assert np.array_equal(cox.linear_predictor(fit), cox.linear_predictor(ref))
            assert np.array_equal(fit.frame["__time"], ref.frame["__time"])
            if spec["strata"]:
                assert np.array_equal(fit.stratum, ref.stratum)
                assert np.array_equal(fit.stratum_code, ref.stratum_code)


def test_the_fits_are_the_same_in_forked_workers(config, sets):
    models = [("os", "ki67"), ("ttp", "primary")]
    one = step.fit_imputed(config, sets, models, workers=1)
    two = step.fit_imputed(config, sets, models, workers=2)
    for key in one:
        for a, b in zip(one[key], two[key]):
            assert np.array_equal(a.beta, b.beta) and np.array_equal(a.variance, b.variance)


def test_least_squares_is_statsmodels_ols_to_the_bit():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(80), rng.normal(size=(80, 4)), rng.integers(0, 2, 80)])
    y = X @ [0.5, 1, -2, 0.3, 0, 1.5] + rng.normal(size=80)
    fit = sm.OLS(y, X).fit()
    beta, normalized_cov, ssr = imputation._least_squares(y, X)
    assert np.array_equal(beta, fit.params)
    assert np.array_equal(normalized_cov, fit.normalized_cov_params)
    assert ssr == fit.ssr


def test_imputing_does_not_import_statsmodels():
    code = (
        "import pandas as pd\n"
        "from netpet_stats.validation import imputation as im\n"
        f"d = pd.read_csv({str(IMPUTED / 'incomplete.csv')!r})\n"
        "for ep in ('os', 'ttp'):\n"
        "    d[f'H_{ep}'] = im.nelson_aalen(d[f'{ep}_time'], d[f'{ep}_event'])\n"
        "im.impute(d, {'ki67': im.Target('pmm', transform='log2'),\n"
        "              'grade': im.Target('polr', levels=['G1', 'G2', 'G3'])},\n"
        "          ['age', 'extrahepatic', 'os_event', 'H_os', 'ttp_event', 'H_ttp'],\n"
        "          ['netpet_group', 'centre'], m=2, iterations=2, seed=1)\n")
    assert modules_loaded(code, ["statsmodels"]) == []


def test_nearest_donors_are_those_of_a_full_stable_sort():
    """Predictive mean matching's k nearest donors, found around each recipient in the
    sorted predictions, equal a stable sort of every donor's distance (ties included:
    many donors share a prediction when the predictors are categorical)."""
    rng = np.random.default_rng(5)
    for values in (rng.normal(size=500), np.round(rng.normal(size=500), 1),
                   rng.integers(0, 4, 500).astype(float)):
        order = np.argsort(values, kind="stable")
        sorted_values = values[order]
        targets = np.array([*rng.normal(size=200), *values[:50], -9.0, 9.0, 0.05])
        full = np.array([np.argsort(np.abs(values - t), kind="stable")[:5] for t in targets])
        for target, expected in zip(targets, full):
            assert np.array_equal(
                imputation._nearest(values, order, sorted_values, target, 5), expected)
        # every recipient at once, as predictive mean matching asks
        assert np.array_equal(imputation._nearest_all(values, order, sorted_values, targets, 5),
                              full)


def test_hazard_interactions_by_hand():
    """Each hazard times each complete predictor, and times each non-reference level of
    each complete factor (White & Royston 2009: exp(g'z) multiplies H0(T))."""
    d = pd.DataFrame({"H_os": [0.1, 0.5, 1.2, 0.0], "H_ttp": [0.3, 0.2, 0.0, 2.0],
                      "age": [5.0, 6.0, 7.0, 8.0],
                      "centre": pd.Categorical(["B", "A", "C", "A"], ["A", "B", "C"])})
    out = imputation.hazard_interactions(d, ["H_os", "H_ttp"], ["age"], ["centre"])
    assert list(out.columns) == ["H_os:age", "H_os:centre[B]", "H_os:centre[C]",
                                 "H_ttp:age", "H_ttp:centre[B]", "H_ttp:centre[C]"]
    np.testing.assert_allclose(out["H_os:age"], [0.5, 3.0, 8.4, 0.0], rtol=1e-15)
    assert out["H_os:centre[B]"].tolist() == [0.1, 0.0, 0.0, 0.0]
    assert out["H_ttp:centre[C]"].tolist() == [0.0, 0.0, 0.0, 0.0]
    np.testing.assert_allclose(out["H_ttp:age"], [1.5, 1.2, 0.0, 16.0], rtol=1e-15)


def test_a_fit_only_pooled_keeps_no_rows(config, sets):
    """Fits only pooled keep coefficients, variance and coding, not the data (440 fits of
    10^5 patients held 4.2 GB); the pooled result is the same."""
    from netpet_stats.survival import rubin

    models = [("os", "ki67"), ("os", "primary")]
    whole = step.fit_imputed(config, sets, models)
    slim = step.fit_imputed(config, sets, models, full={("os", "primary")})
    assert all(len(f.frame) == 0 and len(f.design) == 0 for f in slim["os", "ki67"])
    assert all(len(f.frame) == len(sets[0]) for f in slim["os", "primary"])
    for a, b in zip(rubin.pool_cox(whole["os", "ki67"]), rubin.pool_cox(slim["os", "ki67"])):
        pd.testing.assert_frame_equal(a, b)
