"""Scaled Schoenfeld residuals per contrast, as R ``cox.zph(fit, terms = FALSE)``.

Fixtures from zph_contrasts_reference.R beside this file: ``$y`` (one column per
coefficient), ``$var`` and the smooth and band ``plot.cox.zph`` draws per column, on
R's lung (a three-level factor), lung stratified by institution (levels absent from
some) and the bundled synthetic cohort's primary model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats import fit_cox, zph_residuals, zph_smooth

HERE = Path(__file__).resolve().parent
REF = {c["name"]: c for c in json.loads(
    (HERE / "zph_contrasts_reference.json").read_text())["cases"]}
DATA = HERE.parent / "data"
ROOT = HERE.parents[1]
ECOG = {"age": {"type": "continuous"}, "sex": {"type": "continuous"},
        "ph_ecog": {"type": "categorical", "levels": [0, 1, 2]}}


def _arr(values):
    return np.array([np.nan if v is None else v for v in np.ravel(values)], float)


def _fit(name):
    if name == "lung_ecog":
        d = pd.read_csv(DATA / "lung.csv").dropna(subset=["ph_ecog"])
        d = d[d["ph_ecog"] < 3].astype({"ph_ecog": int})
        return fit_cox(d, "time", "event", ["age", "sex", "ph_ecog"], [], ECOG)
    if name == "lung_inst_strata":
        d = pd.read_csv(DATA / "lung_inst.csv")
        d = d[d["ph_ecog"] < 3].astype({"ph_ecog": int})
        return fit_cox(d, "time", "status", ["age", "sex", "ph_ecog"], ["centre"], ECOG)
    coh = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv")
    group = coh["netpet"].map(lambda s: "P1" if s == "P1" else "P5" if s == "P5" else
                              ("P2-4" if s in ("P2", "P3", "P4", "P4a", "P4b") else None))
    d = pd.DataFrame({"time": coh["os_months"], "event": coh["os_event"], "group": group,
                      "grade": coh["who_grade"], "age": coh["age_at_diagnosis"].astype(float),
                      "extrahepatic": (coh["extrahepatic_disease"] == "yes").astype(float),
                      "centre": coh["centre"]}).dropna()
    coding = {"group": {"type": "categorical", "levels": ["P1", "P2-4", "P5"]},
              "grade": {"type": "categorical", "levels": ["G1", "G2", "G3"]},
              "age": {"type": "continuous", "scale": 10},
              "extrahepatic": {"type": "binary"}}
    return fit_cox(d, "time", "event", ["group", "grade", "age", "extrahepatic"], ["centre"],
                   coding)


@pytest.mark.parametrize("name", list(REF))
def test_one_column_per_contrast_as_cox_zph_terms_false(name):
    ref, fit = REF[name], _fit(name)
    np.testing.assert_allclose(fit.beta, ref["coef"], rtol=1e-6, atol=1e-8)
    z = zph_residuals(fit, "km", terms=False)
    # one column per coefficient, named as the design column (R: groupP5 -> group[P5])
    assert list(z.y.columns) == list(fit.design.columns)
    assert len(z.y.columns) == len(ref["columns"])
    np.testing.assert_allclose(z.time, ref["time"], rtol=1e-12)
    np.testing.assert_allclose(z.x, ref["x"], rtol=1e-8, atol=1e-12)
    if isinstance(ref["strata"], list):
        assert [str(s) for s in z.stratum_label] == ref["strata"]
    want = np.column_stack([_arr(col) for col in ref["y"]])
    got = z.y.to_numpy()
    assert (np.isnan(got) == np.isnan(want)).all()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8, equal_nan=True)
    np.testing.assert_allclose(z.var, np.reshape(ref["var"], z.var.shape), rtol=1e-6, atol=1e-10)
    for column, sm in zip(z.y.columns, ref["smooth"]):
        line = zph_smooth(z, column)
        for key in ("x", "estimate", "lower", "upper"):
            np.testing.assert_allclose(line[key], sm[key], rtol=1e-6, atol=1e-8)


def test_a_factor_per_contrast_differs_from_the_factor_as_one_term():
    """terms = True draws the factor's beta(t)/beta; terms = False each beta_j(t)."""
    fit = _fit("lung_ecog")
    whole, each = zph_residuals(fit, "km"), zph_residuals(fit, "km", terms=False)
    assert list(whole.y.columns) == ["age", "sex", "ph_ecog"]
    assert list(each.y.columns) == ["age", "sex", "ph_ecog[1]", "ph_ecog[2]"]
    assert not np.allclose(whole.y["ph_ecog"], each.y["ph_ecog[1]"])
    assert whole.var.shape == (3, 3) and each.var.shape == (4, 4)
