"""Generalized variance-inflation factors of a Cox model's terms.

Truth: tests/survival/collinearity_reference.R (R car::vif on coxph).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from netpet_stats.survival import cox
from rotterdam_example import CONFIG, DEV, FULL

REF = json.loads(Path(__file__).with_name("collinearity_reference.json").read_text())


def test_gvif_of_each_term_matches_car_vif():
    fit = cox.fit_cox(DEV, "rfs_time", "rfs_event", FULL, [], CONFIG["covariates"])
    vif = cox.variance_inflation(fit)
    assert vif["term"].tolist() == FULL
    assert vif["df"].tolist() == REF["df"]
    np.testing.assert_allclose(vif["gvif"], REF["gvif"], rtol=1e-7)
    np.testing.assert_allclose(vif["gvif_adjusted"], REF["gvif_adjusted"], rtol=1e-7)


def test_a_one_term_model_has_no_variance_inflation():
    fit = cox.fit_cox(DEV, "rfs_time", "rfs_event", ["age"], [], CONFIG["covariates"])
    assert cox.variance_inflation(fit).empty
