"""Disclosure control checked from outside: consortia with groups of 1, 2 and 4 patients.

The bundled synthetic cohort is split into sites whose P5 group holds 1, 2 and 4
patients (one of them also with a reference grade, G1, of 4 patients) and a site of
4 patients in all. Every answer of every round is read back as sent and checked by
``disclosure_checker`` (written apart from the ledger code): every number it releases
is recounted from the site's rows. Then each defect found by the consortium that
tried the protocol (issue 26) is checked on its own.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from netpet_stats import load_config, prepare_cohort
from netpet_stats.federated import protocol, results
from netpet_stats.steps import federation
from netpet_stats.steps._common import load_analysis

from disclosure_checker import check
from federation_sim import as_sent, run_federation


def _keep(frame: pd.DataFrame, mask: pd.Series, n: int) -> pd.DataFrame:
    """``frame`` with only the first ``n`` of the rows in ``mask``."""
    drop = frame.index[mask][n:]
    return frame.drop(drop)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    cfg = load_config(overrides={"federation": {"km_tier": "rounded"}})
    path = tmp_path_factory.mktemp("disclosure") / "analysis.parquet"
    prepare_cohort(cfg).data.to_parquet(path)
    return cfg, load_analysis(path, cfg)


def consortium(data: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Sites with a P5 group of 1, 2 and 4 patients, a G1 of 4, and a site of 4."""
    a, b, c = (data[data["centre"] == x] for x in ("A", "B", "C"))
    one = _keep(a, a["netpet_group"].astype(str) == "P5", 1)
    two = _keep(b, b["netpet_group"].astype(str) == "P5", 2)
    two = _keep(two, two["grade"] == "G1", 4)
    four = _keep(c, c["netpet_group"].astype(str) == "P5", 4)
    tiny = c.drop(four.index, errors="ignore").head(4)
    if len(tiny) < 4:
        tiny = a.tail(4)
    frames = {"one": one, "two": two, "four": four, "tiny": tiny}
    return {site: f.assign(centre=site) for site, f in frames.items()}


@pytest.fixture(scope="module")
def exchange(cohort):
    cfg, data = cohort
    spec = federation.spec(cfg)
    frames = consortium(data)
    state, answers, ledgers = run_federation(spec, frames)
    return spec, frames, state, answers, ledgers


def test_the_consortium_has_the_small_groups_it_is_meant_to(exchange):
    _, frames, *_ = exchange
    p5 = {s: int((f["netpet_group"].astype(str) == "P5").sum()) for s, f in frames.items()}
    assert p5["one"] == 1 and p5["two"] == 2 and p5["four"] == 4
    assert int((frames["two"]["grade"] == "G1").sum()) == 4 and len(frames["tiny"]) == 4


def test_no_answer_releases_anything_the_checker_finds(exchange):
    spec, frames, state, answers, ledgers = exchange
    requests = [protocol.replay(spec, list(frames), answers[:k])["next"]
                for k in range(len(answers))]
    findings = []
    for request, round_answers, round_ledgers in zip(requests, answers, ledgers):
        for site, bundle in round_answers.items():
            findings += [f"round {request['round']}, {site}: {f}" for f in
                         check(bundle, round_ledgers[site], frames[site], spec, request)]
    assert findings == []
    assert state["next"]["kind"] == "done"


def test_the_checker_finds_what_the_old_protocol_released(exchange):
    """The checker is not blind: planted releases of the kinds issue 26 found are flagged."""
    spec, frames, _, answers, ledgers = exchange
    request = protocol.first_request(spec)
    bundle, ledger = copy.deepcopy(answers[0]["one"]), ledgers[0]["one"].copy()
    sex = bundle["table1"]["categorical"]["sex"]
    p5 = spec["groups"].index("P5")
    truth = frames["one"][frames["one"]["netpet_group"].astype(str) == "P5"]["sex"].astype(str)
    for i, level in enumerate(sex["levels"]):  # zeros beside the suppressed cell
        sex["counts"][i][p5] = None if level in set(truth) else 0
    ledger.loc[ledger["path"] == "endpoints/os/n", "smallest_count"] = 3
    findings = check(bundle, ledger, frames["one"], spec, request)
    assert any("a breakdown of group P5, 1 patients" in f for f in findings), findings
    assert any("endpoints/os/n: the ledger says 3" in f for f in findings), findings


def test_a_group_of_one_releases_no_breakdown_not_even_zeros(exchange):
    spec, _, _, answers, ledgers = exchange
    t1 = answers[0]["one"]["table1"]
    p5 = spec["groups"].index("P5")
    assert t1["n"][p5] is None
    for var, cat in t1["categorical"].items():
        assert all(row[p5] is None for row in cat["counts"]), var
    for var, part in t1["continuous"].items():
        assert part["n"][p5] is None and part["sum"][p5] is None, var
    # a second group is withheld with it, so that 1 = total - the others cannot be done
    assert sum(v is None for v in t1["n"]) == 2
    rules = ledgers[0]["one"].set_index("path")["rule"]
    assert "fewer than min_cell" in rules[f"table1/categorical/sex/counts/0/{p5}"]


@pytest.mark.parametrize("site", ["two", "four"])
def test_groups_of_two_and_four_release_no_breakdown(exchange, site):
    spec, _, _, answers, _ = exchange
    t1 = answers[0][site]["table1"]
    p5 = spec["groups"].index("P5")
    assert t1["n"][p5] is None
    assert all(row[p5] is None for cat in t1["categorical"].values() for row in cat["counts"])
    assert "P5" not in answers[0][site]["endpoints"]["os"].get("km", {})


def test_the_reference_level_is_counted_in_the_ledger(cohort, exchange):
    """A site with 4 patients of grade G1, the reference level, and every NETPET group of
    at least 5: every Cox sum of a model with grade rests on 4 patients and says so
    under the small-category rule (the ledger counted indicator columns only: 'smallest
    count 6, aggregate over >= min_cell patients')."""
    _, data = cohort
    spec, frames, _, answers, _ = exchange
    request = as_sent(protocol.replay(spec, list(frames), answers[:1])["next"])
    site = data[data["centre"] == "A"]
    site = _keep(site, site["grade"] == "G1", 4).assign(centre="one")
    assert site["netpet_group"].value_counts().min() >= 5
    assert (site["grade"] == "G3").sum() >= 5 and (site["grade"] == "G2").sum() >= 5
    _, ledger = protocol.site_answer(request, site, "one")
    full = ledger[ledger["path"].str.match(
        r"evaluated/os/full/(loglik|score|information|score_crossproduct|local_fit)")]
    assert len(full) and set(full["smallest_count"]) == {4}
    assert all("fewer than min_cell" in r for r in full["rule"])
    no_grade = ledger[ledger["path"].str.startswith("evaluated/os/drop grade/score/")]
    d = site.dropna(subset=["os_time", "os_event", "grade", "age", "extrahepatic"])
    assert set(no_grade["smallest_count"]) == {min(
        *d["netpet_group"].value_counts().loc[lambda c: c > 0],
        *d["extrahepatic"].value_counts())}
    assert check(ledger=ledger, bundle=protocol.site_answer(request, site, "one")[0],
                 rows=site, spec=spec, request=request) == []


def test_a_site_refused_for_every_endpoint_releases_only_that(exchange):
    spec, _, state, answers, ledgers = exchange
    tiny = answers[0]["tiny"]
    assert set(tiny) == {"protocol", "round", "kind", "site", "request_sha256", "endpoints"}
    assert tiny["endpoints"] == {ep: {"status": "refused",
                                      "reason": "fewer than 5 patients or events"}
                                 for ep in spec["endpoints"]}
    # the coordinator's Table 1 leaves it out and says so; the sites table names it
    t1 = results.table1_pooled(spec, ["one", "two", "four", "tiny"], state)
    assert not t1["suppressed_at"].str.contains("tiny").any()
    sites = results.sites_table(spec, ["one", "two", "four", "tiny"], state)
    assert set(sites.loc[sites["site"] == "tiny", "status"]) == {"refused"}


def test_the_rounded_curve_of_a_small_group_is_not_released(exchange):
    """The rounded tier's max_deviation of a 2-patient group was computed from that
    group's exact curve and labelled 'aggregate over >= min_cell'; now a group under
    the threshold sends no curve and every deviation rests on its group's patients."""
    _, frames, _, answers, ledgers = exchange
    for site in ("one", "two", "four"):
        km = answers[0][site]["endpoints"]["os"]["km"]
        assert "P5" not in km
        ledger = ledgers[0][site].set_index("path")
        for g in km:
            row = ledger.loc[f"endpoints/os/km/{g}/max_deviation"]
            size = int((frames[site].dropna(subset=["os_time", "os_event"])["netpet_group"]
                        .astype(str) == g).sum())
            assert row["smallest_count"] == size >= 5


def test_secondary_suppression_needs_min_cell_patients_in_the_suppressed_cells():
    from netpet_stats.federated.disclosure import suppress_counts

    # a column of 8: 3 and 5 suppressed together (3 alone would be total - 5 - 0)
    released, _ = suppress_counts(np.array([[3], [5], [0]]), 5)
    assert np.isnan(released[:2, 0]).all() and released[2, 0] == 0
    # two suppressed cells of 2 hold 4 patients together: a third cell goes with them
    released, _ = suppress_counts(np.array([[2], [2], [0], [20], [9]]), 5)
    assert np.isnan(released[[0, 1, 4], 0]).all() and released[3, 0] == 20
    # a group of 3 patients: no cell of its column, zeros included
    released, _ = suppress_counts(np.array([[3, 10], [0, 12]]), 5)
    assert np.isnan(released[:, 0]).all() and (released[:, 1] == [10, 12]).all()
    # a group withheld with a small one releases nothing either
    released, _ = suppress_counts(np.array([[6, 10], [7, 12]]), 5, withheld_columns=[0])
    assert np.isnan(released[:, 0]).all()


def test_a_withheld_group_with_values_missing_releases_no_mean():
    """A group of 10 with 2 ages missing: 10 - 8 would show 2 patients without an age."""
    spec = protocol.simple_spec({"age": {}}, ["a", "b"],
                                table1={"variables": ["age"], "continuous": ["age"]})
    rows = pd.DataFrame({"os_time": np.arange(1.0, 21), "os_event": [1, 0] * 10,
                         "age": [50.0] * 8 + [None] * 2 + [60.0] * 10,
                         "netpet_group": ["a"] * 10 + ["b"] * 10, "centre": "S"})
    bundle, ledger = protocol.site_answer(protocol.first_request(spec), rows, "S")
    age = bundle["table1"]["continuous"]["age"]
    assert age["n"] == [None, 10] and age["sum"] == [None, 600.0]
    assert check(as_sent(bundle), ledger, rows, spec, protocol.first_request(spec)) == []
