"""The bundled synthetic cohort split into its centres: the federation against the
single-machine analysis, the ledger, the bundle schema and the refusals."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from netpet_stats import load_config, prepare_cohort
from netpet_stats.config import ConfigError, model_specs
from netpet_stats.federated import protocol, results
from netpet_stats.federated.disclosure import (RULE_DISCLOSIVE, RULE_GRID, RULE_ROUNDED,
                                               RULE_SMALL_CATEGORY, flatten, suppress_counts)
from netpet_stats.steps import federation
from netpet_stats.steps._common import load_analysis
from netpet_stats.steps.cox import fit_spec
from netpet_stats.survival import concordance, cox, kaplan_meier, logrank

from federation_sim import as_sent, run_federation

COEF_COLUMNS = ["term", "term_label", "level", "reference", "coef", "se", "hr", "hr_lower",
                "hr_upper", "z", "p", "n", "events", "note"]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    cfg = load_config(overrides={"federation": {"km_tier": "exact"}})
    path = tmp_path_factory.mktemp("federation") / "analysis.parquet"
    prepare_cohort(cfg).data.to_parquet(path)
    data = load_analysis(path, cfg)
    spec = federation.spec(cfg)
    frames = {c: data[data["centre"] == c] for c in sorted(data["centre"].unique())}
    state, answers, ledgers = run_federation(spec, frames)
    return cfg, data, spec, state, answers, ledgers


@pytest.mark.parametrize("endpoint", ["os", "ttp"])
def test_primary_model_table_equals_the_single_machine_table(synthetic, endpoint):
    cfg, data, spec, state, _, _ = synthetic
    single = fit_spec(cfg, data, endpoint, model_specs(cfg)[cfg["cox"]["primary_model"]])
    coefs, tests = results.cox_pooled(spec, state, endpoint)
    pd.testing.assert_frame_equal(coefs[COEF_COLUMNS].reset_index(drop=True),
                                  single.coefficients[COEF_COLUMNS].reset_index(drop=True),
                                  check_exact=False, rtol=1e-10, atol=1e-12)
    cols = ["test", "term", "chisq", "df", "p", "method", "loglik", "loglik_null"]
    pd.testing.assert_frame_equal(tests[cols].reset_index(drop=True),
                                  single.tests[cols].reset_index(drop=True),
                                  check_exact=False, rtol=1e-10, atol=1e-12)
    # the robust SE, one cluster per patient, as fit_cox clustered on a patient id
    ids = data.loc[single.frame.index, "patient_id"] if "patient_id" in data else None
    if ids is not None:
        with_id = data.assign(__pid=data["patient_id"])
        clustered = cox.fit_cox(with_id.loc[single.frame.index], f"{endpoint}_time",
                                f"{endpoint}_event", spec["model"]["covariates"],
                                ["centre"], cfg["covariates"], cluster="__pid")
        np.testing.assert_allclose(coefs["robust_se"], clustered.coefficients["robust_se"],
                                   rtol=1e-10)


@pytest.mark.parametrize("endpoint", ["os", "ttp"])
def test_logrank_and_concordance_equal_the_single_machine(synthetic, endpoint):
    cfg, data, spec, state, _, _ = synthetic
    d = data.dropna(subset=["netpet_group", f"{endpoint}_time", f"{endpoint}_event", "centre"])
    single = logrank.logrank_test(d[f"{endpoint}_time"], d[f"{endpoint}_event"],
                                  d["netpet_group"].astype(str), d["centre"], spec["groups"])
    trend = logrank.logrank_trend_test(d[f"{endpoint}_time"], d[f"{endpoint}_event"],
                                       d["netpet_group"].astype(str), d["centre"],
                                       spec["groups"])
    lr = results.logrank_pooled(spec, state, endpoint).set_index("test")
    assert lr.loc["stratified log-rank", "chisq"] == pytest.approx(single["chisq"], rel=1e-12)
    assert lr.loc["stratified log-rank trend", "chisq"] == pytest.approx(trend["chisq"],
                                                                        rel=1e-12)
    pairs = results.logrank_pooled(spec, state, endpoint)
    pairs = pairs[pairs["test"] == "pairwise stratified log-rank"]
    ref_p = []
    for row in pairs.itertuples():
        a, b = row.comparison.split(" vs ")
        m = d["netpet_group"].astype(str).isin([a, b]).to_numpy()
        ref = logrank.logrank_test(d[f"{endpoint}_time"][m], d[f"{endpoint}_event"][m],
                                   d["netpet_group"].astype(str)[m], d["centre"][m], [a, b])
        assert row.chisq == pytest.approx(ref["chisq"], rel=1e-12)
        ref_p.append(ref["p"])
    np.testing.assert_allclose(pairs["p_adjusted"], logrank.adjust_p(ref_p, "holm"), rtol=1e-12)
    fit = fit_spec(cfg, data, endpoint, model_specs(cfg)[cfg["cox"]["primary_model"]])
    t, e = fit.frame["__time"].to_numpy(), fit.frame["__event"].to_numpy()
    conc = results.concordance_pooled(spec, state, endpoint).set_index("index")
    for index, fn in (("Harrell", concordance.harrell_c), ("Uno", concordance.uno_c)):
        ref = fn(t, e, cox.linear_predictor(fit), strata=fit.stratum)
        assert conc.loc[index, "estimate"] == pytest.approx(ref["estimate"], abs=1e-12)
        assert conc.loc[index, "se"] == pytest.approx(ref["se"], abs=1e-12)


def test_exact_tier_kaplan_meier_equals_the_pooled_rows(synthetic):
    _, data, spec, state, _, _ = synthetic
    km = results.km_pooled(spec, state, "os")
    for g in spec["groups"]:
        d = data.dropna(subset=["netpet_group", "os_time", "os_event", "centre"])
        d = d[d["netpet_group"].astype(str) == g]
        ref = kaplan_meier.km_table(d["os_time"], d["os_event"])
        ours = km[km["group"] == g].reset_index(drop=True)
        np.testing.assert_allclose(ours["time"], ref["time"])
        np.testing.assert_allclose(ours["surv"], ref["surv"], rtol=1e-13)
        np.testing.assert_allclose(ours["std_err"], ref["std_err"], rtol=1e-12)
        np.testing.assert_allclose(ours["n_risk"], ref["n_risk"])


def test_table1_margins(synthetic):
    cfg, data, spec, state, _, _ = synthetic
    t1 = results.table1_pooled(spec, list(state["describe"]), state)
    d = data.dropna(subset=["netpet_group"])
    age = t1[(t1["variable"] == "age")].set_index("group")
    for g in spec["groups"]:
        x = d.loc[d["netpet_group"].astype(str) == g, "age"].dropna()
        assert age.loc[g, "value"] == pytest.approx(x.mean(), rel=1e-12)
        assert age.loc[g, "sd"] == pytest.approx(x.std(ddof=1), rel=1e-10)
    sex = t1[t1["variable"] == "sex"]
    truth = pd.crosstab(d["sex"].astype(str), d["netpet_group"].astype(str))
    for r in sex.itertuples():
        if r.exact:
            assert r.value == truth.loc[r.level, r.group]
        else:  # a site suppressed its cell: a lower bound, the site named
            assert r.value < truth.loc[r.level, r.group] and r.suppressed_at


def test_every_released_number_is_in_the_ledger(synthetic):
    *_, answers, ledgers = synthetic
    for round_answers, round_ledgers in zip(answers, ledgers):
        for site, bundle in round_answers.items():
            ledger = round_ledgers[site].set_index("path")
            leaves = dict(flatten(bundle, []))
            assert set(leaves) == set(ledger.index)
            for path, value in leaves.items():
                assert ledger.loc[path, "value"] == value or (
                    isinstance(value, float) and np.isclose(ledger.loc[path, "value"], value))
            numbers = ledger[ledger["value"].map(lambda v: isinstance(v, (int, float))
                                                 and not isinstance(v, bool))]
            # every number from fewer patients than the minimum cell size says why (a
            # zero count rests on no patient)
            counted = numbers.dropna(subset=["smallest_count"])
            small = counted[(counted["smallest_count"] > 0) & (counted["smallest_count"] < 5)
                            & ~counted["rule"].isin([RULE_DISCLOSIVE, RULE_SMALL_CATEGORY,
                                                     RULE_ROUNDED, RULE_GRID])]
            assert small.empty, small


def _signature(bundle: dict) -> set[str]:
    """Every field of a bundle (a suppressed cell is still a field, released as null)."""
    return {path for path, _ in flatten(bundle, [])}


def test_no_bundle_field_grows_with_the_number_of_patients(synthetic):
    """Doubling every site's patients leaves every bundle's fields as they were,
    except the per-time counts of the opt-in exact Kaplan-Meier tier."""
    _, data, spec, *_ = synthetic
    for tier in ("none", "rounded", "exact"):
        sp = {**copy.deepcopy(spec), "km_tier": tier}
        frames = {c: data[data["centre"] == c] for c in sorted(data["centre"].unique())}
        double = {c: pd.concat([f, f.assign(os_time=f["os_time"] * 0.999,
                                            ttp_time=f["ttp_time"] * 0.999)])
                  for c, f in frames.items()}
        _, small, _ = run_federation(sp, frames, max_rounds=4)
        _, large, _ = run_federation(sp, double, max_rounds=4)
        for k, (r_small, r_large) in enumerate(zip(small[:3], large[:3])):
            for site in r_small:
                grows = _signature(r_small[site]) ^ _signature(r_large[site])
                assert all("/km/" in p for p in grows) if tier == "exact" else not grows, grows
                if tier == "exact" and k == 0:  # the per-time counts do grow
                    assert grows


def test_a_site_below_the_threshold_is_refused_and_says_only_that(synthetic):
    _, data, spec, *_ = synthetic
    frames = {c: data[data["centre"] == c] for c in ("A", "B")}
    frames["tiny"] = data[data["centre"] == "C"].head(4)
    state, answers, _ = run_federation(spec, frames)
    sites = results.sites_table(spec, list(frames), state)
    tiny = sites[sites["site"] == "tiny"]
    assert set(tiny["status"]) == {"refused"}
    assert set(tiny["reason"]) == {"fewer than 5 patients or events"}
    assert answers[0]["tiny"]["endpoints"]["os"] == {"status": "refused",
                                                     "reason": "fewer than 5 patients or events"}
    assert state["included"]["os"] == ["A", "B"]


def test_a_site_refused_for_every_endpoint_is_not_waited_for(synthetic):
    """After round 1 the coordinator needs only the sites included for an endpoint: the
    tiny site answers round 1 and nothing more, and the pooled model is that of A and B."""
    _, data, spec, *_ = synthetic
    frames = {c: data[data["centre"] == c] for c in ("A", "B")}
    frames["tiny"] = data[data["centre"] == "C"].head(4)
    answers = []
    for _ in range(20):
        state = protocol.replay(spec, list(frames), answers)
        request = as_sent(state["next"])
        if request["kind"] == "done":
            break
        if request["round"] > 1:
            assert state["waiting"] == ["A", "B"] and state["expected"][request["round"]] == [
                "A", "B"]
        answers.append({s: as_sent(protocol.site_answer(request, f, s)[0])
                        for s, f in frames.items() if request["round"] == 1 or s != "tiny"})
    assert request["kind"] == "done", f"still waiting for {state['waiting']}"
    assert state["expected"][1] == ["A", "B", "tiny"] and "tiny" not in answers[1]
    assert protocol.refused_everywhere(answers[0]["tiny"])
    assert not protocol.refused_everywhere(answers[0]["A"])
    alone, _, _ = run_federation(spec, {s: frames[s] for s in ("A", "B")})
    for ep in ("os", "ttp"):
        ours = results.cox_pooled(spec, state, ep)[0]
        ref = results.cox_pooled(spec, alone, ep)[0]
        np.testing.assert_allclose(ours["coef"], ref["coef"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(ours["robust_se"], ref["robust_se"], rtol=1e-12)


def test_a_site_without_the_reference_level_starts_newton_from_its_other_coefficients(synthetic):
    """Site C has no G1 patient (the pooled reference of grade): its own fit codes grade
    against G2, so its grade coefficients are left out of the start (its other ones enter
    with their marginal information); the pooled fit equals the single-machine one, in
    at most 5 rounds."""
    cfg, data, spec, *_ = synthetic
    data = data[~((data["centre"] == "C") & (data["grade"] == "G1"))]
    frames = {c: data[data["centre"] == c] for c in sorted(data["centre"].unique())}
    state, answers, _ = run_federation(spec, frames)
    fits = answers[0]["C"]["endpoints"]["os"]["local_fits"]["full"]
    assert fits["references"]["grade"] == "G2" and "grade[G2]" not in fits["columns"]
    assert state["design"]["grade"][0] == "G1"
    columns = state["models"]["full"]
    start = protocol.start_from_local_fits(
        [answers[0][s]["endpoints"]["os"]["local_fits"]["full"] for s in ("A", "B")], columns,
        state["terms"], state["design"])
    with_c = state["newton"]["os/full"].history[0]["beta"]  # the start evaluated in round 2
    assert not np.allclose(with_c, start)  # C's other coefficients did enter
    assert len(answers) <= 5
    single = fit_spec(cfg, data, "os", model_specs(cfg)[cfg["cox"]["primary_model"]])
    coefs, _ = results.cox_pooled(spec, state, "os")
    np.testing.assert_allclose(coefs["coef"], single.coefficients["coef"], rtol=1e-10,
                               atol=1e-12)


def test_an_answer_to_another_request_is_refused_by_name(synthetic):
    _, _, spec, _, answers, _ = synthetic
    forged = copy.deepcopy(answers[:2])
    forged[1]["B"]["request_sha256"] = "0" * 64
    with pytest.raises(protocol.ProtocolError, match="round 2: 'B' answered another request"):
        protocol.replay(spec, ["A", "B", "C"], forged)
    changed = {**spec, "min_cell": 6}  # the coordinator's settings changed since
    with pytest.raises(protocol.ProtocolError,
                       match="round 1: the coordinator's settings changed since round 1 was "
                             r"published: every site \(A, B, C\) answered the request"):
        protocol.replay(changed, ["A", "B", "C"], answers[:1])
    # with the requests of the exchange folder, which settings changed and since when
    published = {1: protocol.first_request(spec)}
    published[2] = protocol.replay(spec, ["A", "B", "C"], answers[:1])["next"]
    with pytest.raises(protocol.ProtocolError,
                       match=r"round 1: the coordinator's settings changed since round 2 was "
                             r"published \(min_cell: 5 then, 6 now\)"):
        protocol.replay(changed, ["A", "B", "C"], answers[:2], published=published)
    # one site's answer to another request is that site's, not the coordinator's
    with pytest.raises(protocol.ProtocolError, match="round 2: 'B' answered another request"):
        protocol.replay(spec, ["A", "B", "C"], forged, published=published)


def test_a_malformed_bundle_is_refused_naming_every_field(synthetic):
    *_, answers, _ = synthetic
    bad = copy.deepcopy(answers[1]["A"])
    key = next(iter(bad["evaluated"]))
    bad["evaluated"][key]["score"] = ["1.0"]
    bad["round"] = 0
    with pytest.raises(protocol.ProtocolError) as err:
        as_sent(bad)
    text = str(err.value)
    assert f"evaluated/{key}/score/0" in text and "round" in text


def test_waiting_names_the_sites_still_to_answer(synthetic):
    _, _, spec, _, answers, _ = synthetic
    partial = [answers[0], {"A": answers[1]["A"]}]
    state = protocol.replay(spec, ["A", "B", "C"], partial)
    assert state["waiting"] == ["B", "C"] and state["next"]["round"] == 2


def test_config_of_a_role_without_what_it_needs_is_refused():
    with pytest.raises(ConfigError) as err:
        load_config(overrides={"federation": {"role": "site"}})
    assert "federation.exchange" in str(err.value) and "federation.site" in str(err.value)
    with pytest.raises(ConfigError, match="not stratified by centre"):
        load_config(overrides={"federation": {"role": "coordinator", "sites": ["A", "B"],
                                              "exchange": "x"},
                               "cox": {"primary_model": "centre_clustered"}})
    with pytest.raises(ConfigError, match="did you mean 'km_tier'"):
        load_config(overrides={"federation": {"km_teir": "exact"}})


def test_secondary_suppression_protects_the_suppressed_cell():
    counts = np.array([[2, 10], [7, 12], [30, 1]])
    released, rule = suppress_counts(counts, 5)
    # column 0: the 2 suppressed, and the next smallest (7) with it; column 1: the 1
    # suppressed and the 10 with it
    assert np.isnan(released[[0, 1], 0]).all() and released[2, 0] == 30
    assert np.isnan(released[[0, 2], 1]).all() and released[1, 1] == 12


def test_validation_of_a_frozen_model_per_centre_equals_the_single_machine(synthetic):
    """validate mode: each site applies the frozen model to its patients; the pooled
    table equals centre_performance on the pooled rows (per centre and pooled)."""
    from netpet_stats.validation import external, frozen_model

    cfg, data, spec, *_ = synthetic
    fit = fit_spec(cfg, data, "os", model_specs(cfg)["centre_clustered"])
    frozen = frozen_model.freeze(fit, cfg["covariates"], [12.0, 36.0, 60.0],
                                 name="centre_clustered", endpoint="os", curve_step=1.0)
    sp = protocol.make_spec(cfg, spec["groups"], as_sent_model(frozen))
    frames = {c: data[data["centre"] == c] for c in sorted(data["centre"].unique())}
    state, _, _ = run_federation(sp, frames)
    ours = results.validation_pooled(sp, list(frames), state)
    d = data.dropna(subset=["netpet_group", "os_time", "os_event", *frozen["covariates"]])
    d = d.reset_index(drop=True)
    ref = external.centre_performance(
        d["os_time"], d["os_event"], frozen_model.linear_predictor(frozen, d),
        frozen_model.predict_survival(frozen, d, 60.0), d["centre"].astype(str), 60.0)
    merged = ref.merge(ours, on=["centre", "measure"], suffixes=("_ref", ""))
    assert len(merged) == len(ref) and (merged["centre"] == "pooled (random effects)").sum() == 5
    for col in ("estimate", "lower", "upper", "pi_lower", "pi_upper", "tau2"):
        np.testing.assert_allclose(merged[col], merged[f"{col}_ref"], rtol=1e-10,
                                   equal_nan=True, err_msg=col)


def as_sent_model(model: dict) -> dict:
    """A frozen model as it travels in a request (JSON)."""
    import json

    from netpet_stats.federated.disclosure import to_json

    return json.loads(json.dumps(to_json(model)))


def test_rounded_tier_releases_multiples_of_five_and_states_its_deviation(synthetic):
    """The deviation a site states is that of its rounded curve from its exact curve
    (computed here with lifelines and a hand product-limit), and the counts it
    releases are multiples of km_round_to."""
    from lifelines import KaplanMeierFitter

    _, data, spec, *_ = synthetic
    sp = {**copy.deepcopy(spec), "km_tier": "rounded"}
    site = data[data["centre"] == "A"]
    bundle, _ = protocol.site_answer(protocol.first_request(sp), site, "A")
    deviations = []
    for g, part in bundle["endpoints"]["os"]["km"].items():
        events, censored = np.array(part["events"]), np.array(part["censored"])
        assert (events % 5 == 0).all() and (censored % 5 == 0).all()
        assert (events >= 0).all() and (censored >= 0).all()
        rows = site[(site["netpet_group"].astype(str) == g)].dropna(subset=["os_time"])
        kmf = KaplanMeierFitter().fit(rows["os_time"], rows["os_event"])
        upper = np.array(part["upper"])
        exact = kmf.survival_function_at_times(upper).to_numpy()
        at_risk = events.sum() + censored.sum() - np.concatenate(
            [[0], np.cumsum(events + censored)[:-1]])
        rounded = np.cumprod([1 - d / n if n > 0 else 1.0 for d, n in zip(events, at_risk)])
        assert part["max_deviation"] == pytest.approx(np.max(np.abs(exact - rounded)), abs=1e-12)
        deviations.append(part["max_deviation"])
    assert max(deviations) > 0  # rounding costs something, and the site says how much


def test_a_fit_stopped_by_max_rounds_reports_no_estimate(synthetic):
    _, data, spec, *_ = synthetic
    frames = {c: data[data["centre"] == c] for c in sorted(data["centre"].unique())}
    state, answers, _ = run_federation(spec, frames, max_rounds=3)
    assert len(answers) == 3 and state["newton"]["os/full"].status == "not converged"
    coefs, tests = results.cox_pooled(spec, state, "os")
    assert coefs["coef"].isna().all() and coefs["note"].str.startswith("not converged").all()
    assert tests["chisq"].isna().all()


def test_a_site_whose_units_or_groups_differ_is_refused_before_it_sends_anything(synthetic):
    cfg, *_ = synthetic
    request = protocol.first_request(federation.spec(cfg))
    federation.check_site_settings(cfg, request)  # the same settings: nothing to say
    days = copy.deepcopy(cfg)
    days["analysis_time_unit"] = "days"
    days["netpet"]["grouping"] = "full"
    with pytest.raises(protocol.ProtocolError) as err:
        federation.check_site_settings(days, request)
    text = str(err.value)
    assert "'days' here and 'months' at the coordinator" in text
    assert "['P1', 'P2', 'P3', 'P4', 'P5'] here" in text


def test_a_site_without_a_column_the_request_uses_is_refused_by_name(synthetic):
    """A site that edited its model or endpoints (its config check passes) but lacks a
    column the coordinator's request uses: one message naming each, not a KeyError."""
    cfg, data, *_ = synthetic
    request = protocol.first_request(federation.spec(cfg))
    federation.check_site_settings(cfg, request, data)  # everything there: nothing to say
    lacking = data.drop(columns=["grade", "ttp_time"])
    with pytest.raises(protocol.ProtocolError) as err:
        federation.check_site_settings(cfg, request, lacking)
    text = str(err.value)
    assert "covariate 'grade' of the model" in text and "endpoint 'ttp'" in text
    assert "endpoint 'os'" not in text


def test_the_ledger_names_a_category_smaller_than_the_minimum(synthetic):
    """A site with only 3 patients of grade G3: its Cox sums still go (the exact fit
    needs them), and the ledger gives that count and says so."""
    _, data, spec, _, answers, _ = synthetic
    request = as_sent(protocol.replay(spec, ["A", "B", "C"], answers[:1])["next"])
    site = data[data["centre"] == "C"]
    g3 = site.index[site["grade"] == "G3"]
    site = site.drop(g3[3:])
    _, ledger = protocol.site_answer(request, site, "C")
    scores = ledger[ledger["path"].str.startswith("evaluated/os/full/score/")]
    assert set(scores["smallest_count"]) == {3} and set(scores["rule"]) == {RULE_SMALL_CATEGORY}
    # the model without grade: its smallest category, counted here from the rows
    d = site.dropna(subset=["netpet_group", "os_time", "os_event", "grade", "age",
                            "extrahepatic", "centre"])
    counts = [*d["netpet_group"].value_counts().loc[lambda c: c > 0],
              *d["extrahepatic"].value_counts(), len(d)]
    no_grade = ledger[ledger["path"].str.startswith("evaluated/os/drop grade/score/")]
    assert set(no_grade["smallest_count"]) == {min(counts)}


def test_validate_mode_without_its_model_file_is_refused_by_name(synthetic, tmp_path):
    cfg, *_ = synthetic
    bad = copy.deepcopy(cfg)
    bad["validation"]["mode"] = "validate"
    bad["validation"]["model_file"] = str(tmp_path / "missing.yaml")
    with pytest.raises(protocol.ProtocolError, match="missing.yaml does not exist"):
        federation.spec(bad)
