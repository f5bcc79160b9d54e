"""Table 1 against counts and quartiles computed by hand."""

import pandas as pd

from netpet_stats.survival.table_one import table_one


def test_table_one_by_hand():
    d = pd.DataFrame({
        "group": pd.Categorical(["A", "A", "A", "B", "B"], categories=["A", "B"], ordered=True),
        "age": [50.0, 60.0, 70.0, 40.0, 80.0],
        "grade": ["G1", "G2", None, "G2", "G2"],
    })
    t = table_one(d, "group", ["age", "grade"], ["age"], {"age": "Age", "grade": "Grade"})
    rows = {(v.split(",")[0], lv): r for v, lv, r in
            zip(t["variable"], t["level"], t.to_dict("records"))}
    # Median [Q1, Q3], linear interpolation (R quantile type 7): A = 60 [55, 65].
    assert rows[("Age", "")]["A"] == "60.0 [55.0, 65.0]"
    assert rows[("Age", "")]["Overall"] == "60.0 [50.0, 70.0]"
    # n (%) of the patients with a value (4 of 5 have a grade): G2 3 of 4, in A 1 of 2;
    # the missing one is a row of counts, and the label says on how many it rests
    assert rows[("Grade (n = 4)", "G2")]["Overall"] == "3 (75.0)"
    assert rows[("Grade (n = 4)", "G1")]["A"] == "1 (50.0)"
    assert [rows[("Grade (n = 4)", "Missing")][c] for c in ("Overall", "A", "B")] == \
        ["1", "1", "0"]
    assert list(t.columns) == ["variable", "level", "Overall", "A", "B"]


def test_an_empty_group_has_counts_but_no_percentages_or_quantiles():
    d = pd.DataFrame({"group": pd.Categorical(list("aabbb"), categories=["a", "b", "c"],
                                              ordered=True),
                      "age": [60, 70, 50, 55, None], "sex": ["F", "M", "F", "F", "M"]})
    t1 = table_one(d, "group", ["age", "sex"], ["age"])
    assert t1["c"].tolist() == ["0", "—", "0", "0", "0"]        # n, age, age missing, F, M
    assert "nan" not in " ".join(map(str, t1.to_numpy().ravel()))


def test_levels_equal_in_python_but_printed_apart_are_counted_apart_in_any_order():
    """An object column of 0, 0.0 and False (equal to Python, printed "0", "0.0",
    "False"): three rows of Table 1 by hand, 2, 1 and 1 patients, whatever the order of
    the rows (hashing each distinct value once labelled all four by the first)."""
    values = [0.0, 0, False, 0, "x"]
    for rows in (values, values[::-1]):
        d = pd.DataFrame({"group": ["A"] * 5, "v": pd.Series(rows, dtype=object)})
        t = table_one(d, "group", ["v"], [])
        counts = dict(zip(t["level"], t["Overall"]))
        assert {k: counts[k] for k in ("0", "0.0", "False", "X")} == {
            "0": "2 (40.0)", "0.0": "1 (20.0)", "False": "1 (20.0)", "X": "1 (20.0)"}
