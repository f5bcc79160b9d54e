"""Write the imputed data sets that imputation_reference.R pools (committed test data).

The first 160 patients of the bundled synthetic cohort (simulated; no real patient),
Ki-67 and grade imputed m = 5 times by netpet_stats.validation.imputation (seed 2026,
10 cycles), written as tests/validation/imputed/imputation_<i>.csv. Rerun with

    PYTHONPATH=src python tests/validation/imputation_fixture.py

then Rscript tests/validation/imputation_reference.R. The CSVs are the fixture: the
test pools them in Python and compares with R's pooling of the same files, so the
R check does not depend on this script's draws being the same on another machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from netpet_stats.validation import imputation

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GROUPS = {"P1": "P1", "P2": "P2-4", "P3": "P2-4", "P4": "P2-4", "P4a": "P2-4", "P4b": "P2-4",
          "P5": "P5"}


def small_cohort() -> pd.DataFrame:
    raw = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv").head(160)
    d = pd.DataFrame({
        "centre": raw["centre"].astype(str),
        "netpet_group": raw["netpet"].map(GROUPS),
        "grade": raw["who_grade"],
        "ki67": raw["ki67_percent"].astype(float),
        "age": raw["age_at_diagnosis"].astype(float),
        "extrahepatic": (raw["extrahepatic_disease"] == "yes").astype(float),
        "os_time": raw["os_months"].astype(float), "os_event": raw["os_event"].astype(float),
        "ttp_time": raw["ttp_months"].astype(float),
        "ttp_event": raw["ttp_event"].astype(float)})
    d = d[d["netpet_group"].notna()].reset_index(drop=True)
    # more missing Ki-67 than the bundled file has, so that pooling has work to do
    rng = np.random.default_rng(7)
    d.loc[rng.random(len(d)) < 0.2, "ki67"] = np.nan
    return d


def main() -> None:
    d = small_cohort()
    for ep in ("os", "ttp"):
        d[f"H_{ep}"] = imputation.nelson_aalen(d[f"{ep}_time"], d[f"{ep}_event"])
    targets = {"ki67": imputation.Target("pmm", transform="log2"),
               "grade": imputation.Target("polr", levels=["G1", "G2", "G3"])}
    sets = imputation.impute(d, targets, ["age", "extrahepatic", "os_event", "H_os",
                                          "ttp_event", "H_ttp"], ["netpet_group", "centre"],
                             m=5, iterations=10, seed=2026)
    out = HERE / "imputed"
    out.mkdir(exist_ok=True)
    d.drop(columns=["H_os", "H_ttp"]).to_csv(out / "incomplete.csv", index=False)
    for i, s in enumerate(sets, start=1):
        s.drop(columns=["H_os", "H_ttp"]).to_csv(out / f"imputation_{i}.csv", index=False)


if __name__ == "__main__":
    main()
