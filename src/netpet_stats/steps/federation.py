"""Rules of the federated roles: a site answers a round; the coordinator plans and pools.

``federation.role: site`` answers the newest request in the exchange folder from the
site's own prepared cohort (rule ``federation_answer``); ``coordinator`` publishes the
next request from the answers so far (``federation_request``) and, once every model
has converged, the pooled tables (``federation_results``); the report is written by a
rule of its own (:mod:`.federation_report`), so that a report that fails leaves the
tables. The protocol itself is :mod:`netpet_stats.federated.protocol`.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pandas as pd

from .. import provenance
from ..federated import aggregates, protocol, results, signing
from ..federated.disclosure import RULE_DISCLOSIVE
from ..netpet.scoring import resolve_grouping
from ..validation import frozen_model
from ..report.tables import write_table
from ._common import load_analysis

log = logging.getLogger(__name__)


def spec(config: dict) -> dict:
    """The analysis every site runs (from the coordinator's configuration).

    In ``validation.mode: validate`` the frozen model of ``validation.model_file``
    travels with the request, and every site validates it on its own patients.
    """
    frozen = None
    if config["validation"]["mode"] == "validate":
        path = Path(config["validation"]["model_file"])
        if not path.is_file():
            raise protocol.ProtocolError(
                f"validation.model_file: {path} does not exist; the coordinator sends the "
                "frozen model it names to every site (validate mode)")
        try:
            frozen = frozen_model.load(path)
            frozen_model.check_time_unit(frozen, config["analysis_time_unit"])
        except frozen_model.ModelMismatchError as exc:
            raise protocol.ProtocolError(f"validation.model_file: {exc}") from None
    return protocol.make_spec(config, list(resolve_grouping(config["netpet"]["grouping"])),
                              frozen)


def check_site_settings(config: dict, request: dict, data=None) -> None:
    """The site's data must be prepared as the coordinator's analysis assumes.

    The times are in the site's ``analysis_time_unit`` and the groups are its
    ``netpet.grouping``: a site in days, or with another grouping, would send
    sums that add up to a wrong answer without a word, so it is refused. With the
    site's prepared ``data``, every endpoint and model covariate the request names
    must be a column of it (a site that edited its endpoints or model is refused by
    name, not with a traceback).
    """
    spec_ = request["spec"]
    problems = []
    if data is not None:
        needed = {f"endpoint {ep!r}": [f"{ep}_time", f"{ep}_event"] for ep in spec_["endpoints"]}
        needed.update({f"covariate {c!r} of the model": [c]
                       for c in spec_["model"]["covariates"]})
        for what, columns in needed.items():
            if not set(columns) <= set(data.columns):
                problems.append(f"the request uses {what}, which this site's prepared cohort "
                                "does not have (map it in cohort.columns, and keep the "
                                "consortium's endpoints and cox settings)")
    if config["analysis_time_unit"] != spec_["time_unit"]:
        problems.append(f"analysis_time_unit is {config['analysis_time_unit']!r} here and "
                        f"{spec_['time_unit']!r} at the coordinator")
    groups = list(resolve_grouping(config["netpet"]["grouping"]))
    if groups != spec_["groups"]:
        problems.append(f"netpet.grouping gives the groups {groups} here and "
                        f"{spec_['groups']} at the coordinator")
    if problems:
        raise protocol.ProtocolError(
            f"round {request['round']}: this site's settings differ from the coordinator's: "
            + "; ".join(problems) + ". Use the consortium's analysis settings (only "
            "cohort.* is local) and run again.")


def answers_by_round(paths: list[str], federation: dict) -> list[dict[str, dict]]:
    """Answer files (``.../round_NNN/<site>.json``) grouped by round, first round first.

    Each answer's signature is checked with the site's key of
    ``federation.public_keys`` before its content is read; every answer refused is
    named (round and site) in one message.
    """
    keys = federation.get("public_keys") or {}
    required = signing.signatures_required(federation)
    rounds: dict[int, dict[str, dict]] = {}
    problems = []
    for path in map(Path, paths):
        number = int(path.parent.name.removeprefix("round_"))
        try:
            rounds.setdefault(number, {})[path.stem] = protocol.read_answer(
                path, number, path.stem, keys, required)
        except protocol.ProtocolError as exc:
            problems.append(str(exc))
    if problems:
        raise protocol.ProtocolError("\n".join(problems))
    return [rounds[k] for k in sorted(rounds)]


#: The coordinator's manifest: the checksums of the answers and tables of its results.
MANIFEST = "results/federation/manifest.json"
RUN_RECORD = "results/federation/run_record.json"


def manifest_problems(config: dict) -> list[str]:
    """Files changed or gone since the coordinator's manifest recorded their checksums.

    The manifest (written last by a finished run) records the SHA-256 of every
    answer the pooled results rest on and of every table and report. On each run
    the coordinator recomputes them: an answer edited in the exchange folder, or a
    published table edited by hand, is named. Answers are looked up in the
    exchange folder of the configuration (by ``round_NNN/<site>.json``); a
    manifest of another exchange folder is checked for its tables only.
    """
    folder = provenance.analysis_folder(config)
    path = Path(provenance.in_analysis_folder(config, MANIFEST))
    if not path.is_file():
        return []
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        inputs, outputs = dict(manifest["inputs"]), dict(manifest["outputs"])
        recorded_exchange = manifest["config"]["federation"]["exchange"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST}: cannot be read ({type(exc).__name__}); it is the record of the "
                "published results: restore it, or move results/federation/ away to pool the "
                "exchange again"]
    exchange = config["federation"]["exchange"]
    same_exchange = recorded_exchange == provenance.display_path(exchange)
    changed, missing = [], []
    files = {}
    if same_exchange:
        for name, checksum in inputs.items():
            match = re.search(r"round_(\d+)/([^/]+)\.json$", name)
            if match:
                files[name] = (protocol.answer_path(exchange, int(match[1]), match[2]), checksum)
    for name, checksum in outputs.items():
        files[name] = (Path(folder) / name, checksum)
    for name, (file, checksum) in sorted(files.items()):
        if not file.is_file():
            missing.append(name)
        elif provenance.sha256(file) != checksum:
            changed.append(name)
    problems = []
    if changed:
        problems.append(f"changed since {MANIFEST} recorded their checksums: "
                        + ", ".join(changed))
    if missing:
        problems.append(f"listed in {MANIFEST} but gone: " + ", ".join(missing))
    if problems:
        problems.append("The published results no longer match what they were computed from. "
                        "Restore the files (an answer from the site that sent it), or, if the "
                        "change is yours and meant, move results/federation/ away and run again "
                        "to pool the exchange afresh")
    return problems


def exchange_answers(exchange: str, sites: list[str]) -> list[str]:
    """Every answer of the listed sites in the exchange folder, in round order."""
    last = protocol.latest_round(exchange)
    return [str(p) for r in range(1, last + 1) for s in sites
            if (p := protocol.answer_path(exchange, r, s)).exists()]


def coordinator_plan(config: dict) -> dict:
    """What the coordinator does now: publish a request, write the results, or wait.

    Returns
    -------
    dict
        ``round`` and ``kind`` of the newest request the answers call for,
        ``publish`` (that request is not yet in the exchange folder), ``waiting``
        (sites whose answer to the newest published request is missing),
        ``expected`` (by round, the sites whose answers are needed: from round 2 not
        a site refused for every endpoint) and ``answers`` (the answer files the
        next request or the results rest on).
    """
    fed = config["federation"]
    paths = exchange_answers(fed["exchange"], fed["sites"])
    problems = manifest_problems(config)
    try:
        answers = answers_by_round(paths, fed)
    except protocol.ProtocolError as exc:
        problems.insert(0, str(exc))
    if problems:
        raise protocol.ProtocolError("\n".join(problems))
    published = {}
    for r in range(1, protocol.latest_round(fed["exchange"]) + 1):
        path = protocol.request_path(fed["exchange"], r)
        if path.exists():
            published[r] = protocol.read_bundle(path)
    state = protocol.replay(spec(config), fed["sites"], answers, fed["max_rounds"], published)
    nxt = state["next"]
    published = protocol.latest_round(fed["exchange"])
    expected = {r: list(s) for r, s in state["expected"].items()}
    needed = {str(protocol.answer_path(fed["exchange"], r, s))
              for r, sites in expected.items() if r < nxt["round"] for s in sites}
    return {"round": nxt["round"], "kind": nxt["kind"], "publish": nxt["round"] > published,
            "waiting": [] if nxt["round"] > published else state["waiting"],
            "answers": [p for p in paths if p in needed], "expected": expected,
            "signatures": ("verified" if fed.get("public_keys") else "not configured")}


def site_plan(config: dict) -> dict:
    """What a site does now: answer the newest request, or nothing.

    Returns
    -------
    dict
        ``round`` (the newest published), ``answer`` (the site has that round to
        answer or answered it), ``closed`` (nothing more will be asked of this
        site) and ``why``, in words.
    """
    fed = config["federation"]
    last = protocol.latest_round(fed["exchange"])
    if last == 0:
        return {"round": 0, "answer": False, "closed": False,
                "why": "no request has been published yet"}
    request = protocol.read_bundle(protocol.request_path(fed["exchange"], last))
    if request["kind"] == "done":
        return {"round": last, "answer": False, "closed": True,
                "why": f"the coordinator closed the exchange in round {last}"}
    first = protocol.answer_path(fed["exchange"], 1, fed["site"])
    if first.exists() and protocol.refused_everywhere(protocol.read_bundle(first)):
        return {"round": last, "answer": False, "closed": True,
                "why": "this site was refused for every endpoint in round 1 (below the "
                       "consortium's minimum cell size): it has nothing more to send, and the "
                       "coordinator does not wait for it"}
    done = protocol.answer_path(fed["exchange"], last, fed["site"]).exists()
    return {"round": last, "answer": True, "closed": False,
            "why": f"round {last} answered" if done else f"round {last} to answer"}


def run_answer(config: dict, analysis: str, request: str, out) -> None:
    """A site's answer to one request, and its release ledger."""
    data = load_analysis(analysis, config)
    bundle = protocol.read_bundle(request)
    check_site_settings(config, bundle, data)
    site = config["federation"]["site"]
    answer, ledger = protocol.site_answer(bundle, data, site)
    key_path = config["federation"].get("signing_key")
    if key_path:
        answer, ledger = signing.sign_release(answer, ledger, signing.load_private_key(key_path))
    else:
        log.warning("site %s: the answer is not signed (federation.signing_key is not set); "
                    "a coordinator that lists public keys refuses it", site)
    protocol.write_bundle(answer, out.answer)
    disclosive = (ledger["rule"] == RULE_DISCLOSIVE).sum()
    write_table(ledger, out.ledger, f"Site {site}: numbers released in round {bundle['round']}",
                "Every number in the answer, the smallest count of patients behind it and "
                "the rule that let it out (minimum cell size "
                f"{bundle['spec']['min_cell']})."
                + (f" {disclosive} numbers are per-time counts of the opt-in disclosive "
                   "Kaplan-Meier tier." if disclosive else ""))
    log.info("site %s answered round %d (%s): %d numbers released", site, bundle["round"],
             bundle["kind"], len(ledger))


def run_request(config: dict, answers: list[str], round_: int, out) -> None:
    """The coordinator's request for ``round_``, from the answers of the earlier rounds."""
    fed = config["federation"]
    state = protocol.replay(spec(config), fed["sites"], answers_by_round(answers, fed),
                            fed["max_rounds"])
    nxt = state["next"]
    if nxt["round"] != round_:
        raise protocol.ProtocolError(
            f"the answers call for round {nxt['round']}, not {round_} (waiting for "
            f"{', '.join(state['waiting']) or 'nobody'})")
    protocol.write_bundle(nxt, out.request)
    log.info("round %d published (%s)", round_, nxt["kind"])


def pooled_tables(config: dict, answers: list[str]) -> tuple[dict, dict, dict]:
    """The coordinator's pooled tables from the answers: (spec, state, tables by name)."""
    fed = config["federation"]
    sp = spec(config)
    state = protocol.replay(sp, fed["sites"], answers_by_round(answers, fed), fed["max_rounds"])
    if state["next"]["kind"] != "done":
        raise protocol.ProtocolError("the exchange is not finished: waiting for "
                                     + ", ".join(state["waiting"]))
    adjust = config["logrank"]["pairwise_adjustment"]
    tables = {"sites": results.sites_table(sp, fed["sites"], state),
              "rounds": results.rounds_table(state),
              "table1": results.table1_pooled(sp, fed["sites"], state)}
    coefs, tests, conc, lr, km = [], [], [], [], []
    for ep in sp["endpoints"]:
        if not state["included"][ep]:
            continue
        c, t = results.cox_pooled(sp, state, ep)
        coefs.append(c)
        tests.append(t)
        conc.append(results.concordance_pooled(sp, state, ep))
        lr.append(results.logrank_pooled(sp, state, ep, adjust))
        km.append(results.km_pooled(sp, state, ep, config["kaplan_meier"]["conf_type"]))

    def cat(frames):
        frames = [f for f in frames if not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    tables.update(cox_coefficients=cat(coefs), cox_tests=cat(tests), concordance=cat(conc),
                  logrank=cat(lr), km=cat(km))
    tables["exactness"] = results.exactness_table(sp)
    tables["validation"] = results.validation_pooled(sp, fed["sites"], state)
    return sp, state, tables


def run_results(config: dict, answers: list[str], out) -> None:
    """The pooled tables (rule federation_results; the report is rule federation_report)."""
    # the manifest describes the results about to be rewritten: it goes now, and the
    # rule federation_manifest writes it again last (a run stopped in between leaves
    # no manifest that the new tables would contradict)
    for rel in (MANIFEST, RUN_RECORD):
        Path(provenance.in_analysis_folder(config, rel)).unlink(missing_ok=True)
    _, _, tables = pooled_tables(config, answers)
    notes = dict(results.TABLE_NOTES)
    ties = config["cox"].get("ties", "efron")
    notes["cox_coefficients"] = (notes["cox_coefficients"][0],
                                 f"{aggregates.cox_method(ties)}. {aggregates.ROBUST_METHOD}.")
    for name, frame in tables.items():
        write_table(frame, getattr(out, name), notes[name][0], notes[name][1])
