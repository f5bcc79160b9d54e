"""A coordinator's report that cannot be written costs the report alone.

On a four-site consortium the coordinator's closing run died drawing its report and
Snakemake removed every pooled table of the job (issue 26). The tables, the HTML report
and the PDF are now three rules. Here a finished exchange (the bundled cohort split
into its centres) is pooled by Snakemake with a table engine that fails: the pooled
tables stay, the report is not written, and one message says why, without a
traceback. Run again with the engine working, the coordinator writes only what is
missing.
"""

from __future__ import annotations

import os

import pandas as pd
import yaml

from netpet_stats import load_config, prepare_cohort
from netpet_stats.federated import protocol
from netpet_stats.steps import federation
from netpet_stats.steps._common import load_analysis

from workflow_run import ROOT, copy_project, run_snakemake

SITES = ["A", "B", "C"]
#: great_tables, which the report (and only the report) draws its tables with, failing.
BROKEN_TABLE_ENGINE = ("class GT:\n    def __init__(self, *args, **kwargs):\n"
                       "        raise ValueError('flowable given negative availWidth')\n")


def _finished_exchange(folder, cfg):
    """Every request and answer of a finished exchange of the three centres, on disk."""
    data = prepare_cohort(cfg).data
    data.to_parquet(folder / "analysis.parquet")
    data = load_analysis(folder / "analysis.parquet", cfg)
    spec = federation.spec(cfg)
    frames = {c: data[data["centre"] == c] for c in SITES}
    answers = []
    while True:
        request = protocol.replay(spec, SITES, answers)["next"]
        protocol.write_bundle(request, protocol.request_path(folder / "exchange",
                                                             request["round"]))
        if request["kind"] == "done":
            return
        request = protocol.read_bundle(protocol.request_path(folder / "exchange",
                                                             request["round"]))
        round_answers = {}
        for site, frame in frames.items():
            bundle, _ = protocol.site_answer(request, frame, site)
            protocol.write_bundle(bundle, protocol.answer_path(folder / "exchange",
                                                               request["round"], site))
            round_answers[site] = protocol.read_bundle(
                protocol.answer_path(folder / "exchange", request["round"], site))
        answers.append(round_answers)


def test_a_report_that_fails_leaves_the_pooled_tables(tmp_path):
    work = copy_project(tmp_path / "coordinator")
    settings = {"federation": {"role": "coordinator", "sites": SITES,
                               "exchange": str(tmp_path / "exchange")}}
    (work / "coordinator.yaml").write_text(yaml.safe_dump(settings))
    cfg = load_config(base=ROOT / "config" / "config.yaml", overrides=settings)
    _finished_exchange(tmp_path, cfg)
    engine = tmp_path / "engine" / "great_tables"
    engine.mkdir(parents=True)
    (engine / "__init__.py").write_text(BROKEN_TABLE_ENGINE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(engine.parent), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = run_snakemake(work, "--configfile", "coordinator.yaml", "--keep-going", env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    results = work / "results" / "federation"
    for name in ("sites", "rounds", "table1", "cox_coefficients", "cox_tests", "concordance",
                 "logrank", "exactness"):
        assert (results / f"{name}.csv").is_file(), name
    coefs = pd.read_csv(results / "cox_coefficients.csv")
    assert set(coefs["endpoint"]) == {"os", "ttp"} and coefs["coef"].notna().all()
    assert not (results / "report.html").exists() and not (results / "manifest.json").exists()
    message = ("The coordinator's report: results/federation/report.html could not be written "
               "(ValueError: flowable given negative availWidth). The pooled tables are "
               "written by rule federation_results and stay in place "
               "(results/federation/*.csv). The full error is in "
               "logs/federation_report.log.")
    assert out.count(message) == 1, out[-3000:]
    assert "Traceback" not in out
    assert "Traceback" in (work / "logs" / "federation_report.log").read_text()
    # the engine mended, the next run writes the report, its PDF and the manifest, and
    # leaves the tables as they were
    before = (results / "cox_coefficients.csv").stat().st_mtime_ns
    proc = run_snakemake(work, "--configfile", "coordinator.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (results / "report.html").is_file() and (results / "report.pdf").is_file()
    assert (results / "manifest.json").is_file()
    assert (results / "cox_coefficients.csv").stat().st_mtime_ns == before
