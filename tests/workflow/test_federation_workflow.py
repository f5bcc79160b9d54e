"""Three hospitals and a coordinator, each its own Snakemake run in its own folder.

The bundled cohort is split into its centres; each site folder holds only its own
table. They exchange rounds through a shared folder, as separate institutions
would, until the coordinator closes the exchange. The coordinator's primary-model
table must equal the single-machine run's. The exchange is a plain folder (nothing
to install); the first rounds are run again through Snakemake's ``fs`` storage
plugin, which copies with rsync, and must move the same bundles (skipped, with its
reason, where rsync is not installed). A second consortium runs a whole exchange
through the plugin in ``validation.mode: validate``, with a fourth site below the
threshold for every endpoint, which answers round 1 and leaves.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from workflow_run import ROOT, copy_project, run_snakemake

SITES = ("A", "B", "C")
TINY = "T"  # 4 patients: below the minimum cell size (5) for every endpoint


@pytest.fixture(scope="module")
def site_keys(tmp_path_factory):
    """Each site's key pair, made by ``netpet-stats keys`` (in a folder of the site's own,
    outside its analysis and the exchange): the private key's path and the public key."""
    folder = tmp_path_factory.mktemp("keys")
    keys = {}
    for site in (*SITES, TINY):
        proc = subprocess.run([sys.executable, "-m", "netpet_stats.cli", "keys", "--site", site,
                               "--out", str(folder / site)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        keys[site] = (str(folder / site / f"{site}.key"),
                      (folder / site / f"{site}.pub").read_text().strip())
    return keys


def coordinator_turn(coordinator, watch=False):
    """The coordinator's turn: ``snakemake``, or with ``watch`` ``netpet-stats watch`` for
    a second (it publishes what the answers call for, then waits) and Snakemake only
    once the watch says the exchange can close. Returns the console output."""
    if watch:
        proc = subprocess.run([sys.executable, "-m", "netpet_stats.cli", "watch", "--config",
                               "coordinator.yaml", "--interval", "0.5", "--time-limit", "1"],
                              cwd=coordinator, capture_output=True, text=True)
        assert proc.returncode in (0, 2), proc.stdout + proc.stderr[-3000:]
        if proc.returncode == 2:  # waiting for the sites
            return proc.stdout + proc.stderr
    proc = run_snakemake(coordinator, "--configfile", "coordinator.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr


def run_consortium(base, keys, storage=None, coordinator_runs=10, tables=None, settings=None,
                   coordinator_watch=False):
    """Sites and coordinator in folders under ``base``, taking turns until the exchange
    closes (or after ``coordinator_runs`` runs of the coordinator). Every site signs its
    answers with its key of ``keys``; the coordinator lists their public keys.
    ``tables``: each site's patients (default: the bundled cohort by centre);
    ``settings``: more configuration, the same for every site and the coordinator;
    ``coordinator_watch``: the coordinator publishes the rounds with ``netpet-stats
    watch`` and runs Snakemake once, for the closing request and the results."""
    exchange = base / "exchange"
    exchange.mkdir()
    if tables is None:
        cohort = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv")
        tables = {site: cohort[cohort["centre"] == site] for site in SITES}
    folders = {}
    for site, table in tables.items():
        work = copy_project(base / f"hospital_{site}")
        table.to_csv(work / "our_patients.csv", index=False)
        (work / "site.yaml").write_text(yaml.safe_dump({
            **(settings or {}),
            "cohort": {"table": "our_patients.csv", "lesions": None},
            "federation": {"role": "site", "site": site, "exchange": str(exchange),
                           "storage": storage, "signing_key": keys[site][0]}}))
        folders[site] = work
    coordinator = copy_project(base / "coordinator")
    (coordinator / "coordinator.yaml").write_text(yaml.safe_dump({
        **(settings or {}),
        "federation": {"role": "coordinator", "sites": list(tables), "exchange": str(exchange),
                       "storage": storage, "km_tier": "rounded",
                       "public_keys": {site: keys[site][1] for site in tables}}}))
    logs = []
    for turn in range(coordinator_runs):
        logs.append(coordinator_turn(coordinator, coordinator_watch))
        if (coordinator / "results" / "federation" / "manifest.json").exists() or \
                turn == coordinator_runs - 1:
            break
        for site, work in folders.items():
            proc = run_snakemake(work, "--configfile", "site.yaml")
            assert proc.returncode == 0, proc.stderr[-3000:]
            logs.append(proc.stderr)
    return {"exchange": exchange, "sites": folders, "coordinator": coordinator, "logs": logs}


@pytest.fixture(scope="module")
def consortium(tmp_path_factory, site_keys):
    """The whole exchange through a plain shared folder (federation.storage: null)."""
    return run_consortium(tmp_path_factory.mktemp("consortium"), site_keys)


def test_the_fs_storage_plugin_moves_the_same_bundles(consortium, tmp_path_factory, site_keys):
    if shutil.which("rsync") is None:
        pytest.skip("rsync is not installed: Snakemake's fs storage plugin copies with it "
                    "(Debian: apt-get install rsync); the exchange through a plain folder "
                    "ran without it")
    # round 1 published, answered by every site, and round 2 published, through the plugin
    fs = run_consortium(tmp_path_factory.mktemp("consortium_fs"), site_keys, storage="fs",
                        coordinator_runs=2)
    files = sorted(p.relative_to(fs["exchange"]) for p in fs["exchange"].rglob("*.json"))
    assert [str(f) for f in files] == [
        "round_001/A.json", "round_001/B.json", "round_001/C.json", "round_001/request.json",
        "round_002/request.json"]
    for f in files:
        assert (fs["exchange"] / f).read_bytes() == (consortium["exchange"] / f).read_bytes(), f


def test_the_coordinator_table_equals_the_single_machine_table(consortium, workflow_runs):
    fed = pd.read_csv(consortium["coordinator"] / "results" / "federation" /
                      "cox_coefficients.csv")
    single = pd.read_csv(workflow_runs[0] / "results" / "os" / "cox_coefficients.csv")
    single = pd.concat([single, pd.read_csv(workflow_runs[0] / "results" / "ttp" /
                                            "cox_coefficients.csv")])
    single = single[single["model"] == "primary"].reset_index(drop=True)
    cols = ["endpoint", "term", "level", "reference", "n", "events"]
    pd.testing.assert_frame_equal(fed[cols], single[cols])
    for col in ("coef", "se", "hr", "hr_lower", "hr_upper", "z", "p"):
        np.testing.assert_allclose(fed[col], single[col], rtol=1e-9, err_msg=col)


def test_the_exchange_holds_small_bundles_and_every_site_its_ledger(consortium):
    rounds = sorted(p.name for p in consortium["exchange"].iterdir())
    done = json.loads((consortium["exchange"] / rounds[-1] / "request.json").read_text())
    assert done["kind"] == "done" and len(rounds) <= 8
    for r in rounds[:-1]:
        files = sorted(p.name for p in (consortium["exchange"] / r).iterdir())
        assert files == ["A.json", "B.json", "C.json", "request.json"]
        for site in SITES:
            size = (consortium["exchange"] / r / f"{site}.json").stat().st_size
            assert size < 60_000  # aggregates (and the rounded KM counts), not rows
            ledger = consortium["sites"][site] / "results" / "federation" / \
                f"release_ledger_{r}.csv"
            assert ledger.exists()
    # a site's results/ holds aggregates only: no per-patient table left the hospital
    for work in consortium["sites"].values():
        for path in (work / "results").rglob("*.csv"):
            assert "patient_id" not in path.read_text(encoding="utf-8").splitlines()[0]


def test_the_report_names_the_sites_rounds_and_tiers(consortium):
    report = (consortium["coordinator"] / "results" / "federation" / "report.html").read_text()
    for text in ("The federation", "Rounds and convergence certificate", "What is exact",
                 "rounded", "Primary Cox model"):
        assert text in report
    sites = pd.read_csv(consortium["coordinator"] / "results" / "federation" / "sites.csv")
    assert sorted(sites["site"].unique()) == list(SITES)
    manifest = json.loads((consortium["coordinator"] / "results" / "federation" /
                           "manifest.json").read_text())
    assert any(k.endswith("A.json") for k in manifest["inputs"])


def test_a_finished_exchange_reruns_nothing(consortium):
    proc = run_snakemake(consortium["coordinator"], "--configfile", "coordinator.yaml")
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr
    proc = run_snakemake(consortium["sites"]["A"], "--configfile", "site.yaml")
    assert "closed the exchange" in proc.stderr


def test_every_answer_is_signed_and_an_edited_one_is_refused(consortium, site_keys,
                                                             tmp_path_factory):
    """After the exchange closed, a score of site A's round-2 answer is changed by 0.5 in
    (a copy of) the shared folder: the coordinator's next run refuses it, naming the
    site and the round, and its manifest names the changed file; no traceback."""
    for path in consortium["exchange"].glob("round_*/[ABC].json"):
        assert json.loads(path.read_text())["signature"]["algorithm"] == "Ed25519"
    ledger = pd.read_csv(consortium["sites"]["A"] / "results" / "federation" /
                         "release_ledger_round_001.csv")
    assert set(ledger.loc[ledger["path"].str.startswith("signature/"), "path"]) == {
        "signature/algorithm", "signature/key_id", "signature/value"}
    base = tmp_path_factory.mktemp("tampered")
    exchange = shutil.copytree(consortium["exchange"], base / "exchange")
    coordinator = shutil.copytree(consortium["coordinator"], base / "coordinator")
    settings = yaml.safe_load((coordinator / "coordinator.yaml").read_text())
    settings["federation"]["exchange"] = str(exchange)
    (coordinator / "coordinator.yaml").write_text(yaml.safe_dump(settings))
    answer = exchange / "round_002" / "A.json"
    bundle = json.loads(answer.read_text())
    bundle["evaluated"]["os/full"]["score"][0] += 0.5
    answer.write_text(json.dumps(bundle, indent=1, sort_keys=True) + "\n")
    proc = run_snakemake(coordinator, "--configfile", "coordinator.yaml")
    assert proc.returncode != 0
    assert "round 2, site 'A': the answer was changed after the site signed it" in proc.stderr
    assert ("changed since results/federation/manifest.json recorded their checksums: "
            "round_002/A.json") in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def validating(tmp_path_factory, site_keys):
    """A whole exchange through the ``fs`` storage plugin in ``validation.mode: validate``:
    sites A, B and C, and site T with 4 patients of centre C (refused for every
    endpoint). The coordinator publishes the rounds with ``netpet-stats watch`` and runs
    Snakemake once at the end. The frozen model is the bundled config's
    ``centre_clustered`` OS model, fitted and frozen here on the bundled cohort as a
    develop run freezes it."""
    if shutil.which("rsync") is None:
        pytest.skip("rsync is not installed: Snakemake's fs storage plugin copies with it "
                    "(Debian: apt-get install rsync)")
    from netpet_stats import load_config, prepare_cohort
    from netpet_stats.config import model_specs
    from netpet_stats.steps._common import load_analysis
    from netpet_stats.steps.cox import fit_spec
    from netpet_stats.steps.validation import freeze_spec
    from netpet_stats.validation import frozen_model

    base = tmp_path_factory.mktemp("consortium_validate")
    cfg = load_config()
    prepare_cohort(cfg).data.to_parquet(base / "analysis.parquet")
    data = load_analysis(base / "analysis.parquet", cfg)
    name = cfg["validation"]["model"]
    fit = fit_spec(cfg, data, cfg["validation"]["endpoint"], model_specs(cfg)[name])
    model_file = base / "frozen_model.yaml"
    frozen_model.save(freeze_spec(cfg, fit, name, []), model_file)
    cohort = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv")
    tables = {site: cohort[cohort["centre"] == site] for site in SITES}
    tables[TINY] = cohort[cohort["centre"] == "C"].iloc[:4].assign(centre=TINY)
    settings = {"validation": {"mode": "validate", "model_file": str(model_file),
                               "fine_gray_file": None, "added_value": None}}
    run = run_consortium(base, site_keys, storage="fs", tables=tables, settings=settings,
                         coordinator_watch=True)
    return run, data, frozen_model.load(model_file)


def test_a_validate_exchange_through_the_fs_plugin_leaves_the_tiny_site_after_round_1(
        validating, consortium):
    run, *_ = validating
    exchange = run["exchange"]
    rounds = sorted(p.name for p in exchange.iterdir())
    assert json.loads((exchange / rounds[-1] / "request.json").read_text())["kind"] == "done"
    assert len(rounds) - 1 <= 5  # rounds answered, the closing request aside
    assert sorted(p.name for p in (exchange / "round_001").iterdir()) == [
        "A.json", "B.json", "C.json", "T.json", "request.json"]
    for r in rounds[1:-1]:
        assert sorted(p.name for p in (exchange / r).iterdir()) == [
            "A.json", "B.json", "C.json", "request.json"], r
    answer = json.loads((exchange / "round_001" / "T.json").read_text())
    assert {ep: set(v) for ep, v in answer["endpoints"].items()} == {
        "os": {"status", "reason"}, "ttp": {"status", "reason"}}
    # the tiny site's later runs send nothing and say why
    assert any("refused for every endpoint in round 1" in log for log in run["logs"])
    # the coordinator's watch published rounds 1 to 5, Snakemake the closing request;
    # the watch's log stays among the coordinator's results
    log = (run["coordinator"] / "results" / "federation" / "watch.log").read_text()
    assert [f"round {r} (" in log for r in range(1, 7)] == [True] * 5 + [False]
    assert "round 2: waiting for A, B, C\n" in log
    assert not (run["coordinator"] / "set_aside").exists()
    assert not (run["sites"][TINY] / "results" / "federation" /
                "release_ledger_round_002.csv").exists()
    sites = pd.read_csv(run["coordinator"] / "results" / "federation" / "sites.csv")
    tiny = sites[sites["site"] == TINY]
    assert len(tiny) == 2 and set(tiny["status"]) == {"refused"}
    assert set(tiny["reason"]) == {"fewer than 5 patients or events"}
    # the pooled model is that of A, B and C (as the plain-folder exchange, which equals
    # the single-machine run on the bundled cohort)
    ours = pd.read_csv(run["coordinator"] / "results" / "federation" / "cox_coefficients.csv")
    ref = pd.read_csv(consortium["coordinator"] / "results" / "federation" /
                      "cox_coefficients.csv")
    pd.testing.assert_frame_equal(ours[["endpoint", "term", "level", "n", "events"]],
                                  ref[["endpoint", "term", "level", "n", "events"]])
    for col in ("coef", "se", "robust_se"):
        if col in ref:
            np.testing.assert_allclose(ours[col], ref[col], rtol=1e-10, err_msg=col)


def test_the_validate_exchange_equals_the_frozen_models_performance_on_the_pooled_rows(
        validating):
    """The coordinator's validation table: each of A, B and C applied the frozen model to
    its own patients; it must equal centre_performance on the pooled rows (per centre,
    and pooled by random effects), computed here in one process."""
    from netpet_stats.validation import external, frozen_model

    run, data, frozen = validating
    tau = max(float(h) for h in frozen["baseline_survival"]["horizons"])
    d = data.dropna(subset=["netpet_group", "os_time", "os_event", *frozen["covariates"]])
    d = d.reset_index(drop=True)
    ref = external.centre_performance(
        d["os_time"], d["os_event"], frozen_model.linear_predictor(frozen, d),
        frozen_model.predict_survival(frozen, d, tau), d["centre"].astype(str), tau)
    table = pd.read_csv(run["coordinator"] / "results" / "federation" / "validation.csv")
    tiny = table[table["centre"] == TINY]  # one row: why the tiny site has no estimate
    assert tiny[["measure", "note"]].values.tolist() == [
        ["(all)", "fewer than 5 patients or events"]] and tiny["estimate"].isna().all()
    ours = table[table["centre"] != TINY]
    assert set(ours["centre"]) == {"A", "B", "C", "pooled (random effects)"}
    merged = ref.merge(ours, on=["centre", "measure"], suffixes=("_ref", ""))
    assert len(merged) == len(ref) == len(ours)
    for col in ("estimate", "lower", "upper", "pi_lower", "pi_upper", "tau2"):
        # the table keeps 10 significant digits (report.tables.write_table)
        np.testing.assert_allclose(merged[col], merged[f"{col}_ref"], rtol=1e-9, atol=1e-12,
                                   equal_nan=True, err_msg=col)
