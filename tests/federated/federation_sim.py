"""Running the federation in one process: sites and coordinator exchanging bundles.

Every bundle goes through JSON text and the schema, as it would through files, so
the tests see exactly what a site would send.
"""

from __future__ import annotations

import json

import pandas as pd

from netpet_stats.federated import protocol


def as_sent(bundle: dict) -> dict:
    """A bundle after a trip through its file: JSON text, then the schema."""
    bundle = json.loads(json.dumps(bundle, sort_keys=True, allow_nan=False))
    protocol.validate_bundle(bundle, "test bundle")
    return bundle


def run_federation(spec: dict, frames: dict[str, pd.DataFrame], max_rounds: int = 20):
    """Rounds until the coordinator says done.

    Each round, only the sites the coordinator waits for answer (every site in round 1;
    a site refused for every endpoint leaves after it), so a consortium that finishes
    shows that the coordinator did not wait for a site that left.

    Returns
    -------
    state, answers (per round, by site), ledgers (per round, by site)
    """
    sites = list(frames)
    answers, ledgers = [], []
    while True:
        state = protocol.replay(spec, sites, answers, max_rounds)
        request = as_sent(state["next"])
        if request["kind"] == "done":
            return state, answers, ledgers
        round_answers, round_ledgers = {}, {}
        for site in state["waiting"]:
            bundle, ledger = protocol.site_answer(request, frames[site], site)
            round_answers[site] = as_sent(bundle)
            round_ledgers[site] = ledger
        answers.append(round_answers)
        ledgers.append(round_ledgers)


def r_dataset_frame(data: pd.DataFrame, group: str, groups: list[str]) -> pd.DataFrame:
    """An R data set in the prepared-cohort layout: one endpoint 'os', group as NETPET group."""
    out = data.rename(columns={"time": "os_time", "status": "os_event"}).copy()
    out["netpet_group"] = pd.Categorical(out[group].astype(str), categories=groups, ordered=True)
    return out


def r_spec(covariates: dict, groups: list[str], min_cell: int = 5) -> dict:
    """A federation spec for an R data set (model covariates in the given order)."""
    return protocol.simple_spec(covariates, groups, min_cell=min_cell, time_unit="days")
