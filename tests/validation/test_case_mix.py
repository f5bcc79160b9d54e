"""Case mix as a frozen model sees it (TRIPOD+AI 20c), by hand.

A summary computed from patients, and the development summaries a model file may
store: all of it (frozen by this package), nothing (a model written from a paper:
coefficients and baseline survival only) or a part (a hand-written file with the
linear predictor's mean and SD).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from netpet_stats.validation.case_mix import case_mix_table, lacking, summarise

TERMS = {"age": {"type": "continuous"}, "g": {"type": "categorical", "levels": ["a", "b"]},
         "male": {"type": "binary"}}
X = pd.DataFrame({"age": [5.0, 6.0, 7.0, 8.0, 9.0], "g[b]": [0.0, 1.0, 1.0, 0.0, 1.0],
                  "male": [1.0, 1.0, 0.0, 0.0, 0.0]})
LP = [0.1, 0.2, 0.3, 0.4, 1.0]


def test_a_summary_from_patients_by_hand():
    s = summarise(X, LP, TERMS)
    assert s["n"] == 5
    assert s["linear_predictor"]["mean"] == 2.0 / 5
    # sd: deviations -0.3, -0.2, -0.1, 0, 0.6 -> sum of squares 0.5, / 4
    assert abs(s["linear_predictor"]["sd"] - np.sqrt(0.5 / 4)) < 1e-15
    # type 7 centiles of 0.1 .. 0.4, 1.0: the 25th is the 2nd value, the 95th 0.4 + 0.8 * 0.6
    c = s["linear_predictor"]["centiles"]
    assert c["25"] == 0.2 and abs(c["95"] - 0.88) < 1e-15
    assert s["predictors"]["g"]["proportions"] == {"a": 0.4, "b": 0.6}
    assert s["predictors"]["male"]["proportions"] == {"0": 0.6, "1": 0.4}
    table = case_mix_table({"validation": s})
    lp = table[table.variable == "linear_predictor"].set_index("statistic")["value"]
    assert lp.index.tolist() == ["n", "mean", "SD", "centile 5", "centile 25", "centile 50",
                                 "centile 75", "centile 95"]
    assert lacking(s) == []


def test_a_model_file_without_a_development_summary_gives_no_rows_and_says_what_it_lacks():
    for stored in (None, {}):
        assert case_mix_table({"development": stored}).empty
        assert lacking(stored) == [
            "the number of patients", "the linear predictor's centiles 5, 25, 50, 75 and 95",
            "the linear predictor's mean and SD", "the predictors' centiles and proportions"]


def test_a_hand_written_summary_gives_what_it_has():
    # mean and SD (what the sample-size simulation needs), three centiles, one predictor
    stored = {"events": 40, "linear_predictor": {"mean": 0.25, "sd": 0.9,
                                                 "quantiles": {16: -0.6, 50: 0.2, 84: 1.1}},
              "predictors": {"g": {"proportions": {"a": 0.7, "b": 0.3}}}}
    table = case_mix_table({"development": stored, "validation": summarise(X, LP, TERMS)})
    dev = table[table.cohort == "development"]
    assert dev[["variable", "level", "statistic", "value"]].values.tolist() == [
        ["linear_predictor", "", "mean", 0.25], ["linear_predictor", "", "SD", 0.9],
        ["g", "a", "proportion", 0.7], ["g", "b", "proportion", 0.3]]
    assert lacking(stored) == ["the number of patients",
                               "the linear predictor's centiles 5, 25, 50, 75 and 95"]
    # all five centiles, keyed as numbers, are read
    stored["linear_predictor"]["quantiles"] = {5: -1.0, 25: -0.3, 50: 0.2, 75: 0.7, 95: 1.5}
    rows = case_mix_table({"development": stored}).set_index("statistic")["value"]
    assert rows["centile 5"] == -1.0 and rows["centile 95"] == 1.5


def test_a_model_file_without_its_endpoint_is_refused_by_name(tmp_path):
    import yaml

    from netpet_stats.validation.frozen_model import ModelMismatchError, load

    path = tmp_path / "published.yaml"
    path.write_text(yaml.safe_dump({"coefficients": {"age": 0.1},
                                    "covariates": {"age": {"type": "continuous"}},
                                    "baseline_survival": {"horizons": [12.0],
                                                          "survival": {"0": [0.9]}}}))
    with pytest.raises(ModelMismatchError, match="lacks endpoint"):
        load(path)
