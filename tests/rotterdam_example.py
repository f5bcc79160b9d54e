"""The worked example Rotterdam -> GBSG, shared by the API and the steps tests.

A Cox model for recurrence-free survival developed on node-positive Rotterdam
patients and validated on GBSG (Royston & Altman, BMC Med Res Methodol 2013;
McLernon et al., Ann Intern Med 2023). Data and R values from
tests/validation/validation_reference.R.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from netpet_stats.config import block_defaults

TESTS = Path(__file__).resolve().parent
REF = json.loads((TESTS / "validation" / "validation_reference.json").read_text())
RG = REF["rotterdam_gbsg"]
DEV = pd.read_csv(TESTS / "data" / "rotterdam.csv", keep_default_na=False)
VAL = pd.read_csv(TESTS / "data" / "gbsg.csv", keep_default_na=False)
FULL = ["size", "nodes", "grade3", "age", "hormon", "pgr"]

#: The workflow configuration of the example (what the steps read of it).
CONFIG = {
    "analysis_time_unit": "months",
    "endpoints": {"rfs": {"label": "Recurrence-free survival", "time_unit": "months"}},
    "covariates": {
        "size": {"label": "Tumour size (mm)", "type": "categorical",
                 "levels": ["<=20", "20-50", ">50"]},
        "nodes": {"label": "Positive nodes (per doubling)", "type": "continuous",
                  "transform": "log2"},
        "grade3": {"label": "Grade 3", "type": "binary"},
        "age": {"label": "Age (per 10 years)", "type": "continuous", "scale": 10},
        "hormon": {"label": "Hormonal therapy", "type": "binary"},
        "pgr": {"label": "PGR (per doubling, floor 1)", "type": "continuous",
                "transform": "log2", "floor": 1},
    },
    "cox": {"conf_level": 0.95, "univariable": [],
            "models": {"full": {"covariates": FULL, "strata": []},
                       "base": {"covariates": FULL[:-1], "strata": []}}},
    "figures": block_defaults("figures", formats=["png"], dpi=50),
}
