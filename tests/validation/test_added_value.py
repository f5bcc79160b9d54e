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
