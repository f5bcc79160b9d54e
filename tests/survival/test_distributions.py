"""Normal and chi-square functions against R (distributions_reference.R beside this file)."""

import json
from pathlib import Path

import numpy as np
import pytest

from netpet_stats.survival.distributions import chi2_sf, norm_ppf, norm_sf, t_ppf

REF = json.loads((Path(__file__).with_name("distributions_reference.json")).read_text())


def test_norm_ppf_equals_r_qnorm_into_the_far_tails():
    q = np.array(REF["qnorm"]["q"])
    np.testing.assert_allclose(norm_ppf(q), REF["qnorm"]["value"], rtol=1e-14, atol=0)


def test_norm_sf_equals_r_pnorm_upper_tail():
    z = np.array(REF["pnorm_upper"]["z"])
    # erfc(z / sqrt 2): the rounding of z / sqrt 2 grows as z^2 in the far tail
    # (2e-13 relative at z = 37, p = 1e-308); within 5e-14 to z = 8.
    np.testing.assert_allclose(norm_sf(z), REF["pnorm_upper"]["value"], rtol=2e-13, atol=0)
    near = np.abs(z) <= 8
    np.testing.assert_allclose(norm_sf(z[near]), np.array(REF["pnorm_upper"]["value"])[near],
                               rtol=5e-14, atol=0)


def test_chi2_sf_equals_r_pchisq_for_whole_df():
    ref = REF["pchisq_upper"]
    x, df, p = np.array(ref["x"]), np.array(ref["df"]), np.array(ref["value"])
    ours = chi2_sf(x, df)
    np.testing.assert_allclose(ours, p, rtol=1e-13, atol=0)
    # one at a time, as the Cox and log-rank tables call it
    for xi, di, pi in zip(x[::7], df[::7], p[::7]):
        assert chi2_sf(float(xi), int(di)) == pytest.approx(pi, rel=1e-13, abs=0)


def test_edges_follow_r():
    assert np.isneginf(norm_ppf(0.0)) and np.isposinf(norm_ppf(1.0))
    assert np.isnan(norm_ppf(-0.1)) and np.isnan(norm_ppf(1.1)) and np.isnan(norm_ppf(np.nan))
    assert norm_sf(np.inf) == 0.0 and norm_sf(-np.inf) == 1.0 and np.isnan(norm_sf(np.nan))
    assert chi2_sf(0.0, 3) == 1.0 and chi2_sf(-2.0, 1) == 1.0  # R: pchisq(-2, 1, lower = FALSE) = 1
    assert chi2_sf(np.inf, 4) == 0.0 and np.isnan(chi2_sf(np.nan, 2))


def test_shapes_scalars_stay_scalars():
    assert np.ndim(norm_ppf(0.975)) == 0 and np.ndim(norm_sf(1.0)) == 0
    assert np.ndim(chi2_sf(3.0, 2)) == 0
    assert norm_ppf(np.array([[0.5, 0.975]])).shape == (1, 2)
    assert chi2_sf(np.array([1.0, 2.0, 3.0]), 2).shape == (3,)


def test_whole_df_by_hand():
    # df = 2: P(X > x) = exp(-x / 2); df = 4: exp(-x / 2) (1 + x / 2)
    for x in (0.3, 7.0, 90.0):
        assert chi2_sf(x, 2) == pytest.approx(np.exp(-x / 2), rel=1e-15)
        assert chi2_sf(x, 4) == pytest.approx(np.exp(-x / 2) * (1 + x / 2), rel=1e-15)


def test_fractional_df_and_t_quantile_fall_back_to_scipy():
    from scipy import stats

    assert chi2_sf(2.0, 2.5) == pytest.approx(stats.chi2.sf(2.0, 2.5), rel=1e-15)
    assert t_ppf(0.975, 7) == pytest.approx(stats.t.ppf(0.975, 7), rel=1e-15)


def test_a_scalar_and_an_array_give_the_same_values():
    q = np.r_[1e-300, 1e-9, np.linspace(0.001, 0.999, 999), 1 - 1e-12]
    np.testing.assert_allclose([norm_ppf(float(v)) for v in q], norm_ppf(q), rtol=4e-16, atol=0)
    z = np.linspace(-9, 30, 400)
    np.testing.assert_array_equal([norm_sf(float(v)) for v in z], norm_sf(z))
    x = np.linspace(0, 80, 161)
    for df in (1, 2, 5):
        np.testing.assert_array_equal([chi2_sf(float(v), df) for v in x], chi2_sf(x, df))
