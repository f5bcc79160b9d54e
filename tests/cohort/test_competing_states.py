"""Progression, death without progression or censored: each rule, by hand, and its refusals.

The rule is stated in netpet_stats.cohort.competing; each case below builds the
rows it decides and asserts the state and time, the warning that lists the row,
or the one message that refuses it (file, row, column, value, what was expected).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from netpet_stats.cohort.competing import competing_states
from netpet_stats.cohort.ledger import patient_flow
from netpet_stats.cohort.prepare import prepare_cohort
from netpet_stats.cohort.problems import CohortValidationError
from netpet_stats.config import ConfigError, load_config, resolve

HEADER = ["patient_id", "centre", "age_at_diagnosis", "sex", "primary_site", "who_grade",
          "ki67_percent", "extrahepatic_disease", "netpet", "os_months", "os_event",
          "ttp_months", "ttp_event"]
ONE_DAY = 1 / 30.4375   # months


def _frame(rows):
    return pd.DataFrame(rows, columns=["ttp_time", "ttp_event", "os_time", "os_event"])


def test_each_rule_by_hand():
    d = _frame([
        (5.0, 1, 9.0, 1),            # progression, then death: progressed at 5
        (9.0, 1, 9.0, 1),            # progression and death the same day: progressed, listed
        (8.0, 0, 8.0 + 0.5 * ONE_DAY, 1),   # no progression, death within a day: died at 8
        (3.0, 0, 20.0, 1),           # progression follow-up stopped 17 months before death
        (12.0, 0, 10.0, 1),          # progression follow-up recorded past death
        (7.0, 0, 7.0, 0),            # alive, censored
        (11.0, 0, 7.0, 0),           # progression follow-up past the end of follow-up
        (np.nan, 0, 7.0, 0),         # missing: left to the ledger
    ])
    s = competing_states(d, "ttp", "os", 1, "months")
    np.testing.assert_array_equal(s.status, [1, 1, 2, 0, 2, 0, 0, np.nan])
    np.testing.assert_array_equal(s.time, [5, 9, 8, 3, 10, 7, 7, np.nan])
    listed = dict(s.notes)
    assert sorted(listed) == [1, 3, 4, 6]
    assert "same time: counted as progression" in listed[1]
    assert "ended 17 months before death: censored" in listed[3]
    assert "past death: died without progression at the death time" in listed[4]
    assert "censored at the end of follow-up" in listed[6]
    assert s.problems == []


def test_the_tolerance_is_in_days_whatever_the_unit():
    d = _frame([(240.0, 0, 241.0, 1), (240.0, 0, 243.0, 1)])   # days
    s = competing_states(d, "ttp", "os", 1, "days")
    np.testing.assert_array_equal(s.status, [2, 0])
    s = competing_states(d, "ttp", "os", 3, "days")
    np.testing.assert_array_equal(s.status, [2, 2])


def test_a_progression_after_the_end_of_follow_up_is_refused():
    s = competing_states(_frame([(12.0, 1, 10.0, 1)]), "ttp", "os", 1, "months")
    assert np.isnan(s.status[0])
    [(idx, column, value, expected)] = s.problems
    assert (idx, column, value) == (0, "ttp_time", 12.0)
    assert "progression after the end of follow-up" in expected


def _table(tmp_path, rows, extra_header=(), name="cohort.csv"):
    path = tmp_path / name
    lines = [",".join(HEADER + list(extra_header))] + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _row(i, os_t, os_e, ttp_t, ttp_e, *extra):
    return [f"ID{i}", "A", 60, "F", "pancreas", "G2", 5.0, "no", ["P1", "P2", "P5"][i % 3],
            os_t, os_e, ttp_t, ttp_e, *extra]


def _config(base_config, path, **changes):
    cfg = copy.deepcopy(base_config)
    cfg["cohort"].update({"table": str(path), "lesions": None})
    for key, value in changes.items():
        cfg[key] = value
    return resolve(cfg)


def test_contradictions_are_refused_at_once_naming_file_row_and_cell(tmp_path, base_config):
    rows = [_row(i, 20, 1, 10, 1) for i in range(6)]
    rows[2] = _row(2, 10.5, 1, 14.25, 1)          # progression 3.75 months after death
    rows[4] = _row(4, 8, 0, 9, 1)                 # ... after the end of follow-up
    cfg = _config(base_config, _table(tmp_path, rows))
    with pytest.raises(CohortValidationError) as info:
        prepare_cohort(cfg)
    problems = info.value.problems
    assert [(p.row, p.column, p.value) for p in problems] == [
        (4, "ttp_months", "'14.25'"), (6, "ttp_months", "'9'")]
    assert all("progression after the end of follow-up" in p.expected for p in problems)
    assert str(tmp_path / "cohort.csv") in str(info.value)


def test_decided_rows_are_listed_as_warnings(tmp_path, base_config):
    rows = [_row(i, 20, 1, 10, 1) for i in range(6)]
    rows[1] = _row(1, 30, 1, 12, 0)               # progression follow-up stopped early
    cfg = _config(base_config, _table(tmp_path, rows))
    prepared = prepare_cohort(cfg)
    warned = prepared.warnings[prepared.warnings["warning"].str.startswith("competing risks")]
    assert warned["row"].tolist() == [3]
    assert "censored at the end of progression follow-up" in warned["warning"].iloc[0]
    assert prepared.data["cr_status"].tolist() == [1, 0, 1, 1, 1, 1]


def test_an_explicit_status_column_with_its_own_coding_wins(tmp_path, base_config):
    rows = [_row(0, 20, 1, 10, 1, "PD"), _row(1, 15, 1, 15, 0, "died"),
            _row(2, 30, 0, 30, 0, "alive"), _row(3, 25, 1, 25, 0, "DIED"),
            _row(4, 20, 1, 10, 1, "pd"), _row(5, 12, 0, 12, 0, "alive")]
    cfg = copy.deepcopy(base_config)
    cfg["cohort"]["columns"]["progression_status"] = "first_event"
    cfg["cohort"]["codings"]["progression_status"] = {"pd": "progression", "died": "death",
                                                      "alive": "censored"}
    cfg = _config(cfg, _table(tmp_path, rows, ["first_event"]))
    prepared = prepare_cohort(cfg)
    assert prepared.data["cr_status"].tolist() == [1, 2, 0, 2, 1, 0]


def test_an_explicit_status_that_the_endpoints_deny_is_refused(tmp_path, base_config):
    rows = [_row(0, 20, 1, 10, 1, "death"), _row(1, 15, 0, 15, 0, "death"),
            _row(2, 30, 0, 30, 0, "censored"), _row(3, 25, 1, 25, 0, "relapse")]
    cfg = copy.deepcopy(base_config)
    cfg["cohort"]["columns"]["progression_status"] = "first_event"
    cfg = _config(cfg, _table(tmp_path, rows, ["first_event"]))
    with pytest.raises(CohortValidationError) as info:
        prepare_cohort(cfg)
    got = {(p.row, p.column): p.expected for p in info.value.problems}
    assert set(got) == {(2, "first_event"), (3, "first_event"), (5, "first_event")}
    assert "the progression event is 1" in got[(2, "first_event")]
    assert "death only where the death event is 1" in got[(3, "first_event")]
    assert "one of censored, progression, death" in got[(5, "first_event")]


def test_progression_free_survival_is_the_first_of_the_two(tmp_path, base_config):
    rows = [_row(0, 20, 1, 10, 1), _row(1, 15, 1, 15, 0), _row(2, 30, 0, 30, 0),
            _row(3, 25, 1, 9, 0), _row(4, 20, 1, 10, 1), _row(5, 12, 0, 12, 0)]
    endpoints = {**base_config["endpoints"],
                 "pfs": {"label": "Progression-free survival", "derive": "progression_or_death"}}
    cfg = _config(base_config, _table(tmp_path, rows), endpoints=endpoints)
    data = prepare_cohort(cfg).data
    assert data["pfs_time"].tolist() == [10, 15, 30, 9, 10, 12]
    assert data["pfs_event"].tolist() == [1, 1, 0, 0, 1, 0]


def test_the_flow_counts_the_competing_risks_analysis(base_config):
    cfg = load_config()
    prepared = prepare_cohort(cfg)
    flow = patient_flow(prepared.data, prepared.exclusions, cfg)
    row = flow[flow["analysis"] == "competing_risks"].iloc[0]
    assert row["step"] == "analysed (Aalen-Johansen, Gray)"
    eligible = int(flow.loc[flow["step"] == "eligible", "n"].iloc[0])
    assert row["n"] == eligible == prepared.data["netpet_group"].notna().sum()


@pytest.mark.parametrize("change,message", [
    ({"competing_risks": {"enabled": True, "death": "death"}},
     "competing_risks.enabled is true, but the death endpoint 'death'"),
    ({"competing_risks": {"models": ["primery"]}}, "competing_risks.models: 'primery'"),
    ({"competing_risks": {"progression": "os"}}, "progression and death are both 'os'"),
    ({"endpoints": {"os": {"label": "OS"}, "pfs": {"label": "PFS",
                                                   "derive": "progression_or_death"}}},
     "endpoints.pfs.derive: progression_or_death needs the progression endpoint 'ttp'"),
])
def test_competing_risks_settings_that_name_nothing_are_refused(change, message):
    cfg = load_config()
    cfg.update(change)        # a block replaced as a user's file would give it
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve(cfg)


def test_without_a_progression_endpoint_auto_leaves_the_analysis_out():
    from netpet_stats.config import competing_risks_settings
    cfg = load_config()
    cfg["endpoints"] = {"os": {"label": "OS"}}
    assert competing_risks_settings(resolve(cfg)) is None
