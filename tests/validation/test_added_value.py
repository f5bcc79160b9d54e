"""Optimism-corrected C of the added-value pair and of its difference (issue 29, item 6).

Truth: R rms::validate on Rotterdam (tests/validation/validation_reference.R) for the
extended model's apparent C; the base and extended rows equal the single-model
bootstrap drawn from the same seed, and the difference's optimism is the difference
of the two optimisms (same resamples).
"""

from __future__ import annotations

import numpy as np
import pytest

from netpet_stats.cohort.ledger import analysis_set
from netpet_stats.survival import cox
from netpet_stats.validation.internal import added_value_bootstrap, optimism_bootstrap
from rotterdam_example import CONFIG, DEV, FULL, RG


@pytest.fixture(scope="module")
def designs():
    d = analysis_set(DEV, "rfs", FULL).reset_index(drop=True)
    base, _ = cox.design_matrix(d, FULL[:-1], CONFIG["covariates"])
    ext, _ = cox.design_matrix(d, FULL, CONFIG["covariates"])
    return (d["rfs_time"].to_numpy(float), d["rfs_event"].to_numpy(float),
            base.to_numpy(), ext.to_numpy())


def test_the_added_value_bootstrap_corrects_each_c_and_their_difference(designs):
    t, e, base, ext = designs
    table = added_value_bootstrap(t, e, base, ext, n_boot=25, seed=11).set_index("model")
    assert table.loc["extended", "apparent"] == pytest.approx(RG["validate_c_apparent"][0],
                                                              rel=1e-9)
    for name, X in (("base", base), ("extended", ext)):
        alone = optimism_bootstrap(t, e, X, 25, 11).set_index("measure").loc["Harrell's C"]
        for col in ("apparent", "training", "test", "optimism", "corrected"):
            assert table.loc[name, col] == pytest.approx(alone[col], abs=1e-12), (name, col)
    diff = table.loc["extended - base"]
    assert diff["measure"] == "ΔC"
    assert diff["apparent"] == pytest.approx(
        table.loc["extended", "apparent"] - table.loc["base", "apparent"], abs=1e-12)
    assert diff["optimism"] == pytest.approx(
        table.loc["extended", "optimism"] - table.loc["base", "optimism"], abs=1e-12)
    assert diff["corrected"] == pytest.approx(diff["apparent"] - diff["optimism"], abs=1e-12)
    assert int(diff["n_used"]) == 25


def test_each_centres_auc_brier_and_ipa_get_a_bootstrap_interval():
    """The interval of a centre's measure is the percentile bootstrap of that centre alone."""
    from netpet_stats.validation import external

    rng = np.random.default_rng(5)
    n = 240
    lp = rng.normal(size=n)
    latent = rng.exponential(1 / np.exp(lp))
    t, e = np.minimum(latent, 3.0), (latent < 3.0).astype(float)
    surv = np.exp(-0.3 * np.exp(lp))
    centre = np.repeat(["A", "B"], n // 2)
    table = external.centre_performance(t, e, lp, surv, centre, 1.0, n_boot=40, seed=9)
    assert external.centre_performance(t, e, lp, surv, centre, 1.0)[
        ["lower", "upper"]].loc[lambda f: table["measure"].eq("IPA").to_numpy()].isna().all().all()
    m = centre == "B"
    row = table[(table["centre"] == "B") & (table["measure"] == "time-dependent AUC")].iloc[0]
    # the centre's rows in time order, the resamples drawn in that order: the same
    # resamples as in the rows' own order, the same interval up to rounding
    o = np.argsort(t[m], kind="stable")
    tb, eb, sb = t[m][o], e[m][o], surv[m][o]
    lo, hi = external.bootstrap_ci(
        lambda i: external.time_dependent_auc(tb[i], eb[i], 1 - sb[i], 1.0),
        int(m.sum()), 40, 9, order=o)
    assert (row["lower"], row["upper"]) == (lo, hi)
    as_given = external.bootstrap_ci(
        lambda i: external.time_dependent_auc(t[m][i], e[m][i], 1 - surv[m][i], 1.0),
        int(m.sum()), 40, 9)
    np.testing.assert_allclose(as_given, (lo, hi), rtol=1e-12)
    assert lo < row["estimate"] < hi
    # the Brier score and IPA from one bootstrap of both: each as its own bootstrap gives
    a = centre == "A"
    oa = np.argsort(t[a], kind="stable")
    ta, ea, sa = t[a][oa], e[a][oa], surv[a][oa]
    for measure, key in (("Brier score", "brier"), ("IPA", "ipa")):
        r = table[(table["centre"] == "A") & (table["measure"] == measure)].iloc[0]
        alone = external.bootstrap_ci(
            lambda i: external.brier_score(ta[i], ea[i], sa[i], 1.0)[key], int(a.sum()), 40, 9,
            order=oa)
        assert (r["lower"], r["upper"]) == alone
    for measure in ("Brier score", "IPA"):
        r = table[(table["centre"] == "A") & (table["measure"] == measure)].iloc[0]
        assert r["lower"] <= r["estimate"] <= r["upper"]


def test_internal_validation_refits_with_the_models_tie_method(designs):
    """cox.ties reaches every refit: the bootstrap and internal-external CV fit as the
    model was fitted (Breslow here), not with Efron's method."""
    from netpet_stats.validation.internal import internal_external_cv

    t, e, base, ext = designs
    t = np.ceil(t / 12) * 12                         # whole years: many tied times
    b_breslow, _, _ = cox.fit_efron(t, e, ext, ties="breslow")
    b_efron, _, _ = cox.fit_efron(t, e, ext)
    assert not np.allclose(b_breslow, b_efron)
    tab = optimism_bootstrap(t, e, ext, 3, 1, ties="breslow").set_index("measure")
    from netpet_stats import harrell_c
    assert tab.loc["Harrell's C", "apparent"] == pytest.approx(
        harrell_c(t, e, ext @ b_breslow)["estimate"], abs=1e-12)
    centre = np.where(np.arange(len(t)) % 3 == 0, "A", "B")
    lp, _, _ = internal_external_cv(t, e, ext, centre, [60.0], ties="breslow")
    out = centre == "A"
    b_train, _, _ = cox.fit_efron(t[~out], e[~out], ext[~out], ties="breslow")
    np.testing.assert_allclose(lp[out], ext[out] @ b_train, rtol=1e-10)
