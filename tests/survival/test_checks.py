"""The input check shared by the engine's public estimators (defect 4 of the redesign).

Truth: R's survival on ``lung`` (status 1/2 recoded as status - 1), from the fixtures
of tests/survival/survival_reference.R; hand-made vectors otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import netpet_stats as ns
from netpet_stats.survival._checks import check_survival

HERE = Path(__file__).resolve().parents[1]
LUNG = pd.read_csv(HERE / "data" / "lung.csv")


def test_r_surv_1_2_event_coding_is_refused_with_the_recoding():
    status = LUNG["event"] + 1  # R's lung$status: 1 = censored, 2 = dead
    for call in (lambda: ns.km_table(LUNG["time"], status),
                 lambda: ns.harrell_c(LUNG["time"], status, LUNG["age"]),
                 lambda: ns.logrank_test(LUNG["time"], status, LUNG["sex"])):
        with pytest.raises(ValueError, match=r"coded 1/2 .*event = status - 1"):
            call()


def test_other_event_values_are_refused():
    with pytest.raises(ValueError, match=r"`event` must be 1 \(event\) or 0 \(censored\); got "
                                         r"the values 0, 1, 3"):
        ns.km_table([1, 2, 3], [0, 1, 3])


def test_integer_groups_and_missing_values_give_r_survdiff():
    """R: survdiff(Surv(time, status - 1) ~ ph.ecog, lung), which drops the NA ph.ecog."""
    ref = json.loads((HERE / "survival" / "survival_reference.json").read_text())
    (entry,) = [x for x in ref["logrank"] if x["dataset"] == "lung"]
    ecog = LUNG["ph_ecog"]  # floats with one missing value
    assert ecog.isna().sum() == 1
    with pytest.warns(ns.MissingDataWarning, match="1 subject"):
        res = ns.logrank_test(LUNG["time"], LUNG["event"], ecog, groups=[0, 1, 2, 3])
    assert res["chisq"] == pytest.approx(entry["chisq"], rel=1e-10)
    assert res["df"] == entry["df"]


def test_vectors_of_different_lengths_are_refused_naming_them():
    with pytest.raises(ValueError, match=r"harrell_c: .* lengths differ \(`time` 3, `event` 3, "
                                         r"`x` 4\)"):
        ns.harrell_c([1, 2, 3], [1, 0, 1], [0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match="lengths differ"):
        ns.km_table([1, 2, 3], [1, 0])


def test_nan_predictor_rows_are_omitted_as_r_na_omit():
    t = np.array([5.0, 8, 3, 9, 4, 7, 6, 2])
    e = np.array([1.0, 0, 1, 1, 0, 1, 1, 1])
    x = np.array([0.3, np.nan, 0.9, 0.1, 0.5, np.nan, 0.4, 1.2])
    keep = ~np.isnan(x)
    with pytest.warns(ns.MissingDataWarning, match="2 subject"):
        res = ns.harrell_c(t, e, x)
    complete = ns.harrell_c(t[keep], e[keep], x[keep])
    assert res["estimate"] == complete["estimate"] and res["se"] == complete["se"]
    assert (res["n"], res["n_omitted"]) == (6, 2)
    # C on the complete cases by hand: 12 comparable pairs, 11 concordant
    assert complete["n_pairs"] == 12 and complete["concordant"] == 11
    assert complete["estimate"] == pytest.approx(11 / 12)


def test_compare_c_refuses_estimates_with_omitted_subjects():
    t, e = [1.0, 2, 3, 4], [1.0, 1, 0, 1]
    with pytest.warns(ns.MissingDataWarning):
        first = ns.harrell_c(t, e, [4.0, np.nan, 2, 1])
    second = ns.harrell_c(t[:3] + [4.0], e, [1.0, 2, 3, 4])
    with pytest.raises(ValueError, match="missing values"):
        ns.compare_c(first, second)


def test_integer_group_labels():
    t = [1.0, 2, 3, 4, 5, 6, 7, 8]
    e = [1.0, 1, 0, 1, 1, 0, 1, 1]
    by_int = ns.logrank_tests(t, e, [1, 1, 1, 1, 2, 2, 2, 2], [1, 2])
    by_str = ns.logrank_tests(t, e, ["1"] * 4 + ["2"] * 4, ["1", "2"])
    pd.testing.assert_frame_equal(by_int, by_str)
    assert by_int["comparison"].iloc[0] == "1 vs 2"


def test_negative_and_infinite_times_are_refused():
    with pytest.raises(ValueError, match="negative"):
        ns.km_table([-1.0, 2], [1, 1])
    with pytest.raises(ValueError, match="infinite"):
        ns.harrell_c([np.inf, 2], [1, 1], [1, 2])


def test_harrell_c_cannot_be_asked_for_unos_weights():
    """Uno's C has its own name; ``harrell_c(timewt="n/G2")`` used to return it."""
    t, e, x = [1, 2, 3, 4, 5], [1, 1, 0, 1, 0], [5, 4, 3, 2, 1]
    with pytest.raises(TypeError, match="timewt"):
        ns.harrell_c(t, e, x, timewt="n/G2")
    assert ns.harrell_c(t, e, x)["method"].startswith("Harrell's C")
    assert ns.uno_c(t, e, x)["method"].startswith("Uno's C")


def test_a_value_outside_the_declared_levels_is_refused_not_made_reference():
    import pandas as pd
    import pytest

    from netpet_stats import fit_cox

    d = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6, 7, 8], "event": [1, 0, 1, 1, 0, 1, 1, 0],
                      "grade": ["G1", "G2", "G3", "G1", "G2", "G3", "G1", "G2"]})
    coding = {"grade": {"type": "categorical", "levels": ["G1", "G2"]}}
    with pytest.raises(ValueError, match=r"'G3' are not among its declared levels"):
        fit_cox(d, "time", "event", ["grade"], [], coding)
    d["x"] = [0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0]
    with pytest.raises(ValueError, match="1.0 is not 1"):
        fit_cox(d, "time", "event", ["x"], [], {"x": {"type": "categorical", "levels": [0, 1, 2]}})


def test_a_group_label_outside_the_declared_groups_is_named():
    import pytest

    from netpet_stats import km_by_group, logrank_test

    t, e, g = [1, 2, 3, 4], [1, 0, 1, 1], ["a", "b", "c", "a"]
    with pytest.raises(ValueError, match=r"km_by_group: group label\(s\) \['c'\]"):
        km_by_group(t, e, g, groups=["a", "b"])
    with pytest.raises(ValueError, match=r"logrank: group label\(s\) \['c'\]"):
        logrank_test(t, e, g, groups=["a", "b"])


def test_delayed_entry_rows_not_before_exit_left_out_as_r_surv():
    # R: Surv(c(0, 2, 0.5, 1), c(1, 2, 3, 4), c(1, 0, 1, 0)) makes row 2 NA
    # ("Stop time must be > start time, NA created"); row 4 has a missing entry.
    from netpet_stats.survival._checks import DelayedEntryWarning, MissingDataWarning
    with pytest.warns(MissingDataWarning) as caught:
        checked = check_survival("f", [1, 2, 3, 4], [1, 0, 1, 0],
                                 entry=[0, 2, 0.5, np.nan], weights=[1, 2, 3, 4])
    assert any(issubclass(w.category, DelayedEntryWarning) for w in caught)
    assert checked.n_omitted == 2
    assert checked.time.tolist() == [1.0, 3.0]
    assert checked.entry.tolist() == [0.0, 0.5]
    assert checked.weights.tolist() == [1.0, 3.0]
    assert checked.keep.tolist() == [True, False, True, False]


def test_entry_and_exit_fixed_together_and_zero_length_refused():
    # aeqSurv ties 5 and 5 + 1e-12 across start and stop; the interval collapses
    checked = check_survival("f", [5.000000000001, 7.0], [1, 0], entry=[4.0, 5.0])
    assert checked.time.tolist() == [5.0, 7.0]
    with pytest.raises(ValueError, match="effective length 0"):
        check_survival("f", [5.000000000001, 7.0], [1, 0], entry=[5.0, 0.0])


def test_negative_entry_and_weights_refused_together():
    with pytest.raises(ValueError) as err:
        check_survival("f", [1, 2], [1, 0], entry=[-1, 0], weights=[-1, 1])
    assert "`entry` has negative values" in str(err.value)
    assert "`weights` must be finite and not negative" in str(err.value)
