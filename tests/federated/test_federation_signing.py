"""Tamper-evident answers: each site signs what it sends, the coordinator checks every
answer before it reads it, and the coordinator's manifest is checked on every run.

The bundled synthetic cohort split into its centres A, B and C answers every round
through an exchange folder on disk, as the workflow's rules write it; then single
bytes are changed there, as someone with write access to the folder could.
"""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest

from netpet_stats import load_config, prepare_cohort
from netpet_stats.cli import main as cli
from netpet_stats.config import ConfigError
from netpet_stats.federated import protocol, results, signing
from netpet_stats.provenance import write_manifest
from netpet_stats.steps import federation
from netpet_stats.steps._common import load_analysis

from federation_sim import run_federation

SITES = ["A", "B", "C"]


def _coordinator_config(base, keys, **federation_settings):
    return load_config(overrides={
        "output_folder": str(base / "coordinator"),
        "federation": {"role": "coordinator", "sites": SITES, "exchange": str(base / "exchange"),
                       "public_keys": keys, **federation_settings}})


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    """Every site's keys (made by ``netpet-stats keys``), the answers of a finished
    exchange, and a copy of it written to disk, signed as rule federation_answer signs."""
    base = tmp_path_factory.mktemp("signed")
    keys, private = {}, {}
    for site in [*SITES, "D"]:  # D: a key the coordinator does not know
        assert cli(["keys", "--site", site, "--out", str(base / f"keys_{site}")]) == 0
        private[site] = signing.load_private_key(base / f"keys_{site}" / f"{site}.key")
        keys[site] = (base / f"keys_{site}" / f"{site}.pub").read_text().strip()
    cfg = _coordinator_config(base, {s: keys[s] for s in SITES})
    path = base / "analysis.parquet"
    prepare_cohort(cfg).data.to_parquet(path)
    data = load_analysis(path, cfg)
    spec = federation.spec(cfg)
    frames = {c: data[data["centre"] == c] for c in SITES}
    state, answers, ledgers = run_federation(spec, frames)
    return {"base": base, "keys": keys, "private": private, "spec": spec, "state": state,
            "answers": answers, "ledgers": ledgers}


def _write_exchange(signed, folder, sign=True):
    """The finished exchange written to ``folder``: every request and every answer."""
    if folder.exists():
        shutil.rmtree(folder)
    answers = signed["answers"]
    for k in range(len(answers) + 1):
        request = protocol.replay(signed["spec"], SITES, answers[:k])["next"]
        protocol.write_bundle(request, protocol.request_path(folder, k + 1))
    for k, round_answers in enumerate(answers, start=1):
        for site, bundle in round_answers.items():
            if sign:
                bundle = signing.sign(bundle, signed["private"][site])
            protocol.write_bundle(bundle, protocol.answer_path(folder, k, site))


@pytest.fixture
def exchange(signed):
    folder = signed["base"] / "exchange"
    _write_exchange(signed, folder)
    shutil.rmtree(signed["base"] / "coordinator", ignore_errors=True)
    return folder


def _edit(path, change):
    bundle = json.loads(path.read_text())
    change(bundle)
    path.write_text(json.dumps(bundle, indent=1, sort_keys=True) + "\n")


def _refusal(config) -> str:
    with pytest.raises(protocol.ProtocolError) as err:
        federation.coordinator_plan(config)
    return str(err.value)


def test_a_signed_exchange_is_accepted_and_pools_as_before(signed, exchange):
    cfg = _coordinator_config(signed["base"], {s: signed["keys"][s] for s in SITES})
    plan = federation.coordinator_plan(cfg)
    assert plan["kind"] == "done" and plan["signatures"] == "verified"
    paths = federation.exchange_answers(str(exchange), SITES)
    read = federation.answers_by_round(paths, cfg["federation"])
    # what the coordinator read is what the sites computed, signature aside
    for got, sent in zip(read, signed["answers"]):
        for site in SITES:
            assert got[site]["signature"]["key_id"] == signing.key_id(signed["keys"][site])
            assert {k: v for k, v in got[site].items() if k != "signature"} == sent[site]


def test_sign_and_verify_round_trip(signed):
    answer = signed["answers"][1]["A"]
    key, public = signed["private"]["A"], signed["keys"]["A"]
    signature = signing.sign(answer, key)["signature"]
    assert signature["algorithm"] == "Ed25519" and len(signature["value"]) == 88
    # the signature covers the canonical JSON: the file's indentation does not matter
    text = json.dumps(signing.sign(answer, key), indent=3)
    assert signing.verify(json.loads(text), "A", 2, {"A": public}, required=True) is None
    # an independent check with the library itself, of the message as documented
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    import base64

    message = b"netpet-stats federation answer\n" + json.dumps(
        answer, sort_keys=True, separators=(",", ":")).encode()
    Ed25519PublicKey.from_public_bytes(base64.b64decode(public)).verify(
        base64.b64decode(signature["value"]), message)


def test_the_keys_command_keeps_the_private_key_private(signed, tmp_path):
    key_file = signed["base"] / "keys_A" / "A.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert cli(["keys", "--site", "A", "--out", str(signed["base"] / "keys_A")]) == 1  # exists
    assert cli(["keys", "--site", "A", "--out", str(tmp_path / "results" / "keys")]) == 1
    assert not (tmp_path / "results").exists()
    os.chmod(key_file, 0o644)
    try:
        with pytest.raises(protocol.ProtocolError, match="may be read by other users"):
            signing.load_private_key(key_file)
    finally:
        os.chmod(key_file, 0o600)


def test_a_logrank_count_changed_by_one_is_refused_naming_site_and_round(signed, exchange):
    """The issue's edit: one observed count +1 in site A's round-1 answer. Unsigned, it
    changes the published trend test without a word; signed, it is refused."""
    def plus_one(bundle):
        bundle["endpoints"]["os"]["logrank"]["all"]["observed"][0] += 1

    cfg = _coordinator_config(signed["base"], {s: signed["keys"][s] for s in SITES})
    _edit(protocol.answer_path(exchange, 1, "A"), plus_one)
    text = _refusal(cfg)
    assert text.startswith("round 1, site 'A': the answer was changed after the site signed it")
    assert "Traceback" not in text and len(text.splitlines()) == 1
    # what the refusal prevents: the edited count moves the pooled trend test
    edited = [dict(r) for r in signed["answers"]]
    edited[0] = {**edited[0], "A": json.loads(protocol.answer_path(exchange, 1, "A").read_text())}
    state = protocol.replay(signed["spec"], SITES, edited)
    before = results.logrank_pooled(signed["spec"], signed["state"], "os").set_index("test")
    after = results.logrank_pooled(signed["spec"], state, "os").set_index("test")
    trend = "stratified log-rank trend"
    assert after.loc[trend, "chisq"] != pytest.approx(before.loc[trend, "chisq"], rel=1e-3)


def test_a_score_changed_by_half_is_refused_naming_site_and_round(signed, exchange):
    def plus_half(bundle):
        bundle["evaluated"]["os/full"]["score"][0] += 0.5

    cfg = _coordinator_config(signed["base"], {s: signed["keys"][s] for s in SITES})
    _edit(protocol.answer_path(exchange, 2, "B"), plus_half)
    assert _refusal(cfg).startswith("round 2, site 'B': the answer was changed after the site "
                                    "signed it")
    # every refused answer is named at once
    _edit(protocol.answer_path(exchange, 3, "C"), plus_half)
    text = _refusal(cfg)
    assert "round 2, site 'B'" in text and "round 3, site 'C'" in text


def test_an_answer_signed_with_another_key_is_refused(signed, exchange):
    cfg = _coordinator_config(signed["base"], {s: signed["keys"][s] for s in SITES})
    path = protocol.answer_path(exchange, 2, "A")
    # site B signs an answer and files it as A's
    forged = signing.sign(signed["answers"][1]["A"], signed["private"]["B"])
    protocol.write_bundle(forged, path)
    assert _refusal(cfg).startswith("round 2, site 'A': the answer is signed with the key of "
                                    "site 'B', not 'A''s")
    # a key the coordinator does not know at all
    protocol.write_bundle(signing.sign(signed["answers"][1]["A"], signed["private"]["D"]), path)
    text = _refusal(cfg)
    assert text.startswith("round 2, site 'A': the answer is signed with another key than "
                           "'A''s public key")
    # and an answer whose signature was taken away
    protocol.write_bundle(signed["answers"][1]["A"], path)
    assert _refusal(cfg).startswith("round 2, site 'A': the answer is not signed")


def test_a_replayed_answer_is_still_caught(signed, exchange):
    cfg = _coordinator_config(signed["base"], {s: signed["keys"][s] for s in SITES})
    # A's signed answer to round 2, copied over its answer to round 3: signed, but of round 2
    shutil.copy(protocol.answer_path(exchange, 2, "A"), protocol.answer_path(exchange, 3, "A"))
    assert "round 3: the answer filed as 'A' says it is from site 'A', round 2" in _refusal(cfg)
    # its round changed to 3 to pass: then the signature no longer holds
    _edit(protocol.answer_path(exchange, 3, "A"), lambda b: b.update(round=3))
    assert _refusal(cfg).startswith("round 3, site 'A': the answer was changed after")


def test_unsigned_answers_are_refused_once_keys_are_configured(signed, tmp_path):
    folder = signed["base"] / "exchange"
    _write_exchange(signed, folder, sign=False)
    cfg = _coordinator_config(signed["base"], {s: signed["keys"][s] for s in SITES})
    text = _refusal(cfg)
    assert text.startswith("round 1, site 'A': the answer is not signed")
    assert len(text.splitlines()) == 3 * len(signed["answers"])  # every answer named
    # a consortium without keys accepts them (and says they are not signed)
    plan = federation.coordinator_plan(_coordinator_config(signed["base"], {}))
    assert plan["kind"] == "done" and plan["signatures"] == "not configured"
    # require_signatures: false lets a site without a key answer unsigned; never a site
    # with one (a signature taken away is refused)
    mixed = _coordinator_config(signed["base"], {"A": signed["keys"]["A"]},
                                require_signatures=False)
    assert set(_refusal(mixed).splitlines()) == {
        f"round {k}, site 'A': the answer is not signed, and the coordinator's configuration "
        "lists a public key for 'A'; the site must answer again with federation.signing_key set"
        for k in range(1, len(signed["answers"]) + 1)}


def test_keys_in_the_configuration_are_checked(signed, tmp_path):
    keys = signed["keys"]
    with pytest.raises(ConfigError) as err:
        _coordinator_config(tmp_path, {"A": keys["A"], "B": keys["B"], "E": keys["C"]})
    text = str(err.value)
    assert "keys for ['E'], which are not among federation.sites" in text
    assert "no public key for ['C']" in text
    with pytest.raises(ConfigError, match=r"\['A', 'B'\] have the same key"):
        _coordinator_config(tmp_path, {"A": keys["A"], "B": keys["A"], "C": keys["C"]})
    with pytest.raises(ConfigError, match=r"no public key for \['A', 'B', 'C'\]"):
        _coordinator_config(tmp_path, {}, require_signatures=True)
    with pytest.raises(ConfigError, match="public_keys"):
        _coordinator_config(tmp_path, {"A": "not a key", "B": keys["B"], "C": keys["C"]})
    site = {"role": "site", "site": "A", "exchange": str(tmp_path / "exchange")}
    (tmp_path / "results").mkdir()
    (tmp_path / "exchange").mkdir()
    for where, says in ((tmp_path / "results" / "A.key", "under a results/ folder"),
                        (tmp_path / "exchange" / "A.key", "inside the exchange folder"),
                        (tmp_path / "nowhere.key", "does not exist")):
        with pytest.raises(ConfigError, match=says):
            load_config(overrides={"federation": {**site, "signing_key": str(where)}})


def test_the_manifest_is_checked_on_every_coordinator_run(signed, exchange):
    """A finished exchange's manifest: an answer (unsigned consortium) or a published
    table changed since is refused by name."""
    base = signed["base"]
    _write_exchange(signed, exchange, sign=False)
    table = base / "coordinator" / "results" / "federation" / "logrank.csv"
    table.parent.mkdir(parents=True)
    table.write_text("test,chisq\nstratified log-rank trend,143.19\n")
    answers = federation.exchange_answers(str(exchange), SITES)
    config = _coordinator_config(base, {})
    config["output_folder"] = "coordinator"
    config["federation"]["exchange"] = "exchange"
    cwd = os.getcwd()
    os.chdir(base)  # the workflow's working folder: paths in the manifest relative to it
    try:
        write_manifest(config, [os.path.relpath(p, base) for p in answers],
                       ["coordinator/results/federation/logrank.csv"], str(base),
                       "coordinator/" + federation.MANIFEST, "coordinator/" + federation.RUN_RECORD)
        assert federation.manifest_problems(config) == []
        assert federation.coordinator_plan(config)["kind"] == "done"
        table.write_text("test,chisq\nstratified log-rank trend,145.50\n")
        _edit(exchange / "round_002" / "B.json",
              lambda b: b["evaluated"]["os/full"]["score"].__setitem__(0, 1.0))
        text = _refusal(config)
        assert text.splitlines()[0] == (
            "changed since results/federation/manifest.json recorded their checksums: "
            "exchange/round_002/B.json, results/federation/logrank.csv")
        (exchange / "round_001" / "C.json").unlink()
        assert "listed in results/federation/manifest.json but gone: exchange/round_001/C.json" \
            in _refusal(config)
    finally:
        os.chdir(cwd)
