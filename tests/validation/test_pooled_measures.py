"""Performance measures pooled over imputations against R (pooled_measures_reference.R):
mice::pool.scalar on the logit scale for C, the log scale for O/E, as is for the
calibration slope, the interval transformed back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from netpet_stats.survival.rubin import pool_transformed

REF = json.loads((Path(__file__).parent / "pooled_measures_reference.json").read_text())
KEYS = ("estimate", "lower", "upper", "estimate_scale", "se_scale", "df", "fmi")


@pytest.mark.parametrize("measure, scale, se_key, on_scale", [
    ("c", "logit", "se", False), ("oe", "log", "se_log", True),
    ("slope", "identity", "se", False)])
def test_pooled_measure_equals_mice_pool_scalar(measure, scale, se_key, on_scale):
    ref = REF[measure]
    ours = pool_transformed(ref["est"], ref[se_key], scale, se_on_scale=on_scale)
    for key in KEYS:
        assert ours[key] == pytest.approx(ref["pooled"][key], rel=1e-10, abs=1e-12), key
    assert ours["m"] == len(ref["est"])
