"""The cohort rule's tables on cohorts that are ordinary but not the bundled one."""

from __future__ import annotations

import copy

import pandas as pd

from netpet_stats.steps.cohort import run


def test_a_cohort_without_p5_lists_p5_empty_in_its_group(tmp_path, base_config):
    cohort = pd.read_csv(base_config["cohort"]["table"], dtype=str, keep_default_na=False)
    cohort = cohort[cohort["netpet"] != "P5"]
    cohort.to_csv(tmp_path / "c.csv", index=False)
    cfg = copy.deepcopy(base_config)
    cfg["cohort"].update({"table": str(tmp_path / "c.csv"), "lesions": None})
    out = {k: tmp_path / f"{k}.csv" for k in ("exclusions", "flow", "dist", "warnings")}
    run(cfg, tmp_path / "a.parquet", out["exclusions"], out["flow"], out["dist"], out["warnings"])
    dist = pd.read_csv(out["dist"], keep_default_na=False).set_index("netpet")
    assert dist.loc["P5", "n"] == 0 and dist.loc["P5", "analysis_group"] == "P5"
    assert dist.loc["P0", "analysis_group"] == "(not analysed)"
    expected = cohort["netpet"].value_counts()
    for score in ("P1", "P2", "P3"):
        assert dist.loc[score, "n"] == expected.get(score, 0)


def test_published_files_name_each_file_without_this_machines_folders(tmp_path, base_config):
    import numpy as np

    from netpet_stats.steps.cohort import published_files

    cfg = copy.deepcopy(base_config)
    outside = tmp_path / "jdoe" / "export.csv"
    cfg["cohort"].update({"table": str(outside), "lesions": None})
    other = tmp_path / "elsewhere" / "notes.csv"          # a path not in the config
    table = pd.DataFrame({"file": [str(outside), "data/x.csv", np.nan, str(outside),
                                   str(other)], "row": [2, 3, 4, 5, 6]})
    shown = published_files(table, cfg)
    assert shown["file"].iloc[[0, 1, 3, 4]].tolist() == ["export.csv", "data/x.csv",
                                                        "export.csv", "notes.csv"]
    assert pd.isna(shown["file"].iloc[2]) and shown["row"].tolist() == [2, 3, 4, 5, 6]
    assert table["file"].iloc[0] == str(outside)            # the input is left as it was
