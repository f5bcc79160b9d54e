"""A site sets only its cohort section: its table, columns, codings and time units.

A hospital that records neither sex, nor the primary site, nor Ki-67, and its times in
days, takes part with the consortium's analysis settings unchanged: its cohort section
maps those columns to null and declares ``cohort.time_units``. Its Table 1 answer says
which variables it does not record, and the coordinator's Table 1 counts its patients
as "not recorded at" it (it was refused before, until the site edited
``table1.variables``, ``cox.univariable``, the models with Ki-67 and
``concordance``; its time unit had to be set under ``endpoints``).
"""

from __future__ import annotations

import pandas as pd
import pytest

from netpet_stats import load_config, prepare_cohort
from netpet_stats.config import ConfigError
from netpet_stats.federated import protocol, results
from netpet_stats.report.federation import table1_display
from netpet_stats.steps import federation
from netpet_stats.steps._common import load_analysis

from disclosure_checker import check
from federation_sim import run_federation
from workflow_run import ROOT

DAYS_PER_MONTH = 30.4375


@pytest.fixture(scope="module")
def consortium(tmp_path_factory):
    base = tmp_path_factory.mktemp("site_settings")
    cohort = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv")
    b = cohort[cohort["centre"] == "B"].drop(columns=["sex", "primary_site", "ki67_percent"])
    b = b.assign(os_days=b.pop("os_months") * DAYS_PER_MONTH,
                 ttp_days=b.pop("ttp_months") * DAYS_PER_MONTH)
    b.to_csv(base / "b.csv", index=False)
    site_b = load_config(base=ROOT / "config" / "config.yaml", overrides={
        "cohort": {"table": str(base / "b.csv"), "lesions": None,
                   "columns": {"sex": None, "primary_site": None, "ki67": None, "os_time": "os_days",
                               "ttp_time": "ttp_days"},
                   "time_units": {"os": "days", "ttp": "days"}},
        "federation": {"role": "site", "site": "B", "exchange": str(base / "x")}})
    full = load_config(base=ROOT / "config" / "config.yaml")
    frames = {}
    for name, cfg in (("full", full), ("B", site_b)):
        path = base / f"{name}.parquet"
        prepare_cohort(cfg).data.to_parquet(path)
        frames[name] = load_analysis(path, cfg)
    data = frames.pop("full")
    frames = {"A": data[data["centre"] == "A"], "B": frames["B"],
              "C": data[data["centre"] == "C"]}
    spec = federation.spec(full)
    state, answers, ledgers = run_federation(spec, frames)
    return site_b, data, frames, spec, state, answers, ledgers


def test_the_sites_settings_are_its_cohort_section_only(consortium):
    site_b, data, frames, spec, *_ = consortium
    federation.check_site_settings(site_b, {"round": 1, "spec": spec})  # nothing differs
    assert site_b["endpoints"]["os"]["time_unit"] == "days"
    # times in days, analysed in the consortium's months, as the single-machine run does
    ours = frames["B"].sort_values("os_time")["os_time"].to_numpy()
    theirs = data[data["centre"] == "B"].sort_values("os_time")["os_time"].to_numpy()
    assert ours == pytest.approx(theirs, rel=1e-12)


def test_a_variable_not_recorded_is_said_so_not_refused(consortium):
    _, data, frames, spec, state, answers, _ = consortium
    t1 = answers[0]["B"]["table1"]
    assert t1["not_recorded"] == ["sex", "primary_site", "ki67"]
    assert "sex" not in t1["categorical"] and "grade" in t1["categorical"]
    assert "ki67" not in t1["continuous"] and "age" in t1["continuous"]
    assert {s: answers[0][s]["endpoints"]["os"]["status"] for s in "ABC"} == {
        "A": "included", "B": "included", "C": "included"}
    pooled = results.table1_pooled(spec, ["A", "B", "C"], state)
    sex = pooled[pooled["variable"] == "sex"]
    absent = sex[sex["level"] == "(not recorded at B)"].set_index("group")["value"]
    b = data[data["centre"] == "B"].dropna(subset=["netpet_group"])
    for g in spec["groups"]:
        assert absent[g] == (b["netpet_group"].astype(str) == g).sum()
    # and the coordinator's printed Table 1 says so
    shown = table1_display(pooled).set_index(["Characteristic", "Level"])
    assert shown.loc[("sex", "(not recorded at B)")].tolist() == [
        str(int(absent[g])) for g in spec["groups"]]
    # the other sites' counts are the pooled counts of A and C alone
    ac = data[data["centre"].isin(["A", "C"])].dropna(subset=["netpet_group"])
    male = sex[(sex["level"] == "M") & sex["exact"]].set_index("group")["value"]
    for g, v in male.items():
        assert v == ((ac["sex"] == "M") & (ac["netpet_group"].astype(str) == g)).sum()
    # a continuous variable: B's patients counted as not recorded; the mean and SD
    # of the patients of A and C (less a site that withheld that group, named)
    ki67 = pooled[pooled["variable"] == "ki67"]
    absent = ki67[ki67["level"] == "(not recorded at B)"].set_index("group")["value"]
    mean = ki67[ki67["statistic"] == "mean"].set_index("group")
    assert "B" not in "".join(mean["suppressed_at"])
    exact = 0
    for g in spec["groups"]:
        assert absent[g] == (b["netpet_group"].astype(str) == g).sum()
        left_out = [s for s in mean.loc[g, "suppressed_at"].split(", ") if s]
        x = ac.loc[(ac["netpet_group"].astype(str) == g) & ~ac["centre"].isin(left_out),
                   "ki67"].dropna()
        assert mean.loc[g, "n"] == len(x)
        if len(x) > 1:
            assert mean.loc[g, "value"] == pytest.approx(x.mean(), rel=1e-12)
            assert mean.loc[g, "sd"] == pytest.approx(x.std(ddof=1), rel=1e-10)
        exact += not left_out
    assert exact >= 1


def test_a_site_still_needs_the_columns_of_the_primary_model(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(base=ROOT / "config" / "config.yaml", overrides={
            "cohort": {"columns": {"grade": None, "ki67": None}},
            "federation": {"role": "site", "site": "B", "exchange": str(tmp_path)}})
    text = str(err.value)
    assert "cox.models.primary.covariates: uses 'grade'" in text
    assert "ki67" not in text   # not in the primary model: Table 1 says "not recorded"


def test_time_units_name_an_endpoint_with_a_time_column():
    with pytest.raises(ConfigError) as err:
        load_config(overrides={"cohort": {"time_units": {"pfs": "days", "dfs": "days"}},
                               "endpoints": {"pfs": {"label": "PFS",
                                                     "derive": "progression_or_death"}}})
    text = str(err.value)
    assert "cohort.time_units.dfs: not an endpoint" in text
    assert "cohort.time_units.pfs: endpoint 'pfs' is derived from others" in text


def test_outside_a_federation_table1_still_needs_its_columns():
    with pytest.raises(ConfigError, match="table1.variables: uses 'sex'"):
        load_config(overrides={"cohort": {"columns": {"sex": None}}})


def test_the_disclosure_checker_finds_nothing_in_what_the_site_released(consortium):
    _, _, frames, spec, _, answers, ledgers = consortium
    requests = [protocol.replay(spec, list(frames), answers[:k])["next"]
                for k in range(len(answers))]
    findings = []
    for request, round_answers, round_ledgers in zip(requests, answers, ledgers):
        for site, bundle in round_answers.items():
            findings += [f"round {request['round']}, {site}: {f}" for f in
                         check(bundle, round_ledgers[site], frames[site], spec, request)]
    assert findings == []
    ledger = ledgers[0]["B"].set_index("path")
    assert ledger.loc["table1/not_recorded/2", "value"] == "ki67"
    assert pd.isna(ledger.loc["table1/not_recorded/2", "smallest_count"])
