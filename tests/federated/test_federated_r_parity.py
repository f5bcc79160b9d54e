"""The federated analysis equals R on the pooled rows (tests/federated/federated_reference.R).

R's colon deaths split into three centres by ``id %% 3`` and R's lung split by its
real institutions: each centre answers the coordinator's rounds with aggregates only,
and the coordinator's pooled results must equal ``coxph``, ``drop1``, ``survdiff``
and ``concordance`` run by R on all the rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats.federated import results

from federation_sim import r_dataset_frame, r_spec, run_federation

HERE = Path(__file__).parent
DATA = HERE.parent / "data"
REF = json.loads((HERE / "federated_reference.json").read_text())


@pytest.fixture(scope="module")
def colon():
    data = r_dataset_frame(pd.read_csv(DATA / "colon_death.csv"), "rx",
                           ["Obs", "Lev", "Lev+5FU"])
    covs = {"netpet_group": {"type": "categorical", "label": "rx"},
            "sex": {"type": "continuous"}, "age": {"type": "continuous"},
            "obstruct": {"type": "continuous"}}
    spec = r_spec(covs, ["Obs", "Lev", "Lev+5FU"])
    frames = {c: data[data["centre"] == c] for c in sorted(data["centre"].unique())}
    state, answers, _ = run_federation(spec, frames)
    return spec, state, answers


@pytest.fixture(scope="module")
def lung():
    data = pd.read_csv(DATA / "lung_inst.csv")
    data = r_dataset_frame(data, "sex", ["1", "2"])
    covs = {"age": {"type": "continuous"}, "sex": {"type": "continuous"},
            "ph_ecog": {"type": "continuous"}}
    spec = r_spec(covs, ["1", "2"], min_cell=REF["lung"]["threshold"])
    frames = {c: data[data["centre"] == c] for c in sorted(data["centre"].unique())}
    state, answers, _ = run_federation(spec, frames)
    return spec, state, answers


def _cox_checks(spec, state, ref):
    coefs, tests = results.cox_pooled(spec, state, "os")
    np.testing.assert_allclose(coefs["coef"], ref["coef"], rtol=0, atol=1e-8)
    var = np.linalg.inv(state["newton"]["os/full"].information)
    np.testing.assert_allclose(var, ref["var"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(coefs["se"], np.sqrt(np.diag(ref["var"])), rtol=1e-8)
    np.testing.assert_allclose(coefs["robust_se"], np.sqrt(np.diag(ref["robust_var"])),
                               rtol=1e-8)
    model = tests.set_index(["test", "term"])
    assert model.loc[("likelihood ratio", "(model)"), "chisq"] == pytest.approx(ref["lrt"],
                                                                               abs=1e-8)
    assert model.loc[("Wald", "(model)"), "chisq"] == pytest.approx(ref["wald_test"], abs=1e-8)
    assert model.loc[("score (log-rank)", "(model)"), "chisq"] == pytest.approx(
        ref["score_test"], abs=1e-8)
    assert tests["loglik"].iloc[0] == pytest.approx(ref["loglik"][1], abs=1e-8)
    assert tests["loglik_null"].iloc[0] == pytest.approx(ref["loglik"][0], abs=1e-8)
    drop = tests[(tests["test"] == "likelihood ratio") & (tests["term"] != "(model)")]
    # R names a term by its formula variable; here the group variable carries the term
    ours = dict(zip(drop["term"], drop["chisq"]))
    names = {"rx": "netpet_group"}
    for term, lrt, df in zip(ref["drop1_terms"], ref["drop1_lrt"], ref["drop1_df"]):
        assert ours[names.get(term, term)] == pytest.approx(lrt, abs=1e-8), term
        assert int(drop.set_index("term").loc[names.get(term, term), "df"]) == df
    assert coefs["n"].iloc[0] == ref["n"] and coefs["events"].iloc[0] == ref["events"]


@pytest.mark.parametrize("case", ["colon", "lung"])
def test_cox_equals_r_in_at_most_five_rounds(case, colon, lung):
    """Round 1 describes and brings each site's own fit; the Cox rounds start from their
    inverse-variance mean (round 2, with the model at zero), and Newton-Raphson is
    certified (largest summed score below 1e-9) by round 5, for every model."""
    spec, state, answers = {"colon": colon, "lung": lung}[case]
    _cox_checks(spec, state, REF[case])
    assert len(answers) <= 5 and state["next"]["round"] == len(answers) + 1
    assert all(nw.status == "converged" and nw.certificate < 1e-9
               for nw in state["newton"].values())


def test_colon_stratified_logrank_equals_survdiff(colon):
    spec, state, _ = colon
    lr = results.logrank_pooled(spec, state, "os").set_index("test")
    assert lr.loc["stratified log-rank", "chisq"] == pytest.approx(REF["colon"]["logrank_chisq"],
                                                                  abs=1e-10)
    assert lr.loc["stratified log-rank trend", "chisq"] == pytest.approx(
        REF["colon"]["trend_chisq"], abs=1e-10)


@pytest.mark.parametrize("case", ["colon", "lung"])
def test_concordance_and_its_variance_equal_r(case, colon, lung):
    spec, state, _ = {"colon": colon, "lung": lung}[case]
    ref = REF[case]
    conc = results.concordance_pooled(spec, state, "os").set_index("index")
    assert conc.loc["Harrell", "estimate"] == pytest.approx(ref["harrell_c"], abs=1e-10)
    assert conc.loc["Harrell", "se"] ** 2 == pytest.approx(ref["harrell_var"], abs=1e-10)
    assert conc.loc["Uno", "estimate"] == pytest.approx(ref["uno_c"], abs=1e-10)
    assert conc.loc["Uno", "se"] ** 2 == pytest.approx(ref["uno_var"], abs=1e-10)
    if case == "colon":
        c, d, tx, _ = ref["harrell_count"]
        assert (conc.loc["Harrell", "concordant"], conc.loc["Harrell", "discordant"],
                conc.loc["Harrell", "tied_x"]) == (c, d, tx)


def test_lung_small_institutions_refused_by_name_and_the_rest_equal_r(lung):
    """Seven of lung's institutions are below the threshold for its one endpoint: each
    answers round 1 with its refusal and leaves; the coordinator finishes without them,
    and its fit equals R's coxph on the rows of the remaining institutions."""
    spec, state, answers = lung
    sites = results.sites_table(spec, list(state["describe"]), state)
    refused = sorted(sites.loc[sites["status"] == "refused", "site"])
    assert refused == REF["lung"]["refused"]
    assert (sites.loc[sites["status"] == "refused", "reason"]
            == "fewer than 5 patients or events").all()
    # a refused institution releases nothing but the refusal, in round 1 only
    for site in refused:
        assert set(state["describe"][site]["endpoints"]["os"]) == {"status", "reason"}
        assert site in answers[0] and not any(site in later for later in answers[1:])
    remaining = sorted(set(answers[0]) - set(refused))
    assert len(remaining) >= 4 and all(sorted(later) == remaining for later in answers[1:])
    assert state["next"]["kind"] == "done"
    _cox_checks(spec, state, REF["lung"])


def test_lung_logrank_withheld_by_small_groups_and_exact_over_the_rest(lung):
    spec, state, _ = lung
    sites = results.sites_table(spec, list(state["describe"]), state)
    contributing = sorted(sites.loc[(sites["status"] == "included")
                                    & (sites["logrank"] == "included"), "site"])
    assert contributing == REF["lung"]["logrank_sites"]
    lr = results.logrank_pooled(spec, state, "os").set_index("test")
    assert lr.loc["stratified log-rank", "chisq"] == pytest.approx(
        REF["lung"]["logrank_sites_chisq"], abs=1e-10)
    assert "withheld by" in lr.loc["stratified log-rank", "exactness"]


def test_breslow_ties_equal_r_coxph_ties_breslow():
    """cox.ties: breslow (SAS PROC PHREG, Stata stcox) in a federation: every site sums
    Breslow's terms, and the pooled fit, SEs, robust SEs, tests and drop1 equal R's
    coxph(..., ties = "breslow") on the pooled colon rows."""
    data = r_dataset_frame(pd.read_csv(DATA / "colon_death.csv"), "rx",
                           ["Obs", "Lev", "Lev+5FU"])
    covs = {"netpet_group": {"type": "categorical", "label": "rx"},
            "sex": {"type": "continuous"}, "age": {"type": "continuous"},
            "obstruct": {"type": "continuous"}}
    spec = {**r_spec(covs, ["Obs", "Lev", "Lev+5FU"]), "ties": "breslow"}
    frames = {c: data[data["centre"] == c] for c in sorted(data["centre"].unique())}
    state, answers, _ = run_federation(spec, frames)
    ref = REF["colon_breslow"]
    # the tie methods differ here by far more than the tolerance below
    assert np.max(np.abs(np.array(ref["coef"]) - REF["colon"]["coef"])) > 5e-5
    _cox_checks(spec, state, ref)
    assert len(answers) <= 5
    coefs, _ = results.cox_pooled(spec, state, "os")
    assert coefs["method"].str.contains("Breslow ties").all()
