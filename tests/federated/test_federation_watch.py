"""One command per site: ``netpet-stats watch`` answers every round until the exchange closes.

Site A runs the watch on its own table. Between two of its looks at the exchange
folder (the watch's ``sleep``), the other sites answer the newest request and the
coordinator publishes the next one, through the same step functions the workflow's
rules run, in folders of their own. Site D has 4 patients, none of whom died: it is
refused for every endpoint in round 1 (and its cohort is not refused for lack of events).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from netpet_stats import load_config
from netpet_stats.cli import main as cli
from netpet_stats.federated import protocol
from netpet_stats.provenance import sha256
from netpet_stats.steps import cohort as cohort_step
from netpet_stats.steps import federation
from netpet_stats.steps import federation_watch as fw

ROOT = Path(__file__).resolve().parents[2]
SITES = ["A", "B", "C", "D"]


def _site_config(base: Path, site: str, exchange: Path) -> dict:
    return load_config(overrides={
        "output_folder": str(base / f"site_{site}"),
        "cohort": {"table": str(base / f"{site}.csv"), "lesions": None},
        "federation": {"role": "site", "site": site, "exchange": str(exchange)}})


class Consortium:
    """Sites B, C, D and the coordinator, acting whenever site A's watch sleeps."""

    def __init__(self, base: Path, coordinator_overrides: dict | None = None):
        self.base = base
        self.exchange = base / "exchange"
        self.exchange.mkdir(parents=True, exist_ok=True)
        cohort = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv")
        tables = {"A": cohort[cohort["centre"] == "A"], "B": cohort[cohort["centre"] == "B"],
                  "C": cohort[cohort["centre"] == "C"],
                  "D": cohort[(cohort["centre"] == "C") & (cohort["os_event"] == 0)]
                  .iloc[:4].assign(centre="D")}  # no death: refused, not stopped
        self.config = {}
        for site, table in tables.items():
            table.to_csv(base / f"{site}.csv", index=False)
            cfg = _site_config(base, site, self.exchange)
            self.config[site] = cfg
            if site != "A":
                folder = Path(cfg["output_folder"])
                cohort_step.run(cfg, folder / fw.ANALYSIS,
                                *(folder / f"results/cohort/{n}.csv" for n in fw.COHORT_TABLES))
        self.coordinator = load_config(overrides={
            "output_folder": str(base / "coordinator"),
            "federation": {"role": "coordinator", "sites": SITES, "exchange": str(self.exchange),
                           **(coordinator_overrides or {})}})
        self.looks = 0
        self.published = []

    def publish(self) -> dict:
        """The coordinator's turn (rule federation_request): publish what the answers call for."""
        plan = federation.coordinator_plan(self.coordinator)
        if plan["publish"]:
            out = SimpleNamespace(request=str(protocol.request_path(self.exchange, plan["round"])))
            federation.run_request(self.coordinator, plan["answers"], plan["round"], out)
            self.published.append(plan["round"])
        return plan

    def others_answer(self, sites=SITES[1:]) -> None:
        """Sites B, C and D answer the newest request (rule federation_answer), if asked."""
        for site in sites:
            cfg = self.config[site]
            plan = federation.site_plan(cfg)
            r = plan["round"]
            if not plan["answer"] or protocol.answer_path(self.exchange, r, site).exists():
                continue
            folder = Path(cfg["output_folder"])
            out = SimpleNamespace(
                answer=str(protocol.answer_path(self.exchange, r, site)),
                ledger=str(folder / f"results/federation/release_ledger_round_{r:03d}.csv"))
            federation.run_answer(cfg, str(folder / fw.ANALYSIS),
                                  str(protocol.request_path(self.exchange, r)), out)

    def sleep(self, seconds: float) -> None:
        self.looks += 1
        self.others_answer()
        self.publish()


def _run(consortium: Consortium, approve=None, config=None, **kwargs):
    lines = []
    code = fw.watch(config or consortium.config["A"], interval=5, approve=approve,
                    echo=lines.append, sleep=consortium.sleep, **kwargs)
    return code, "\n".join(lines)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """An exchange run to its end, site A approving the settings on its second run."""
    consortium = Consortium(tmp_path_factory.mktemp("watch"))
    consortium.publish()  # round 1
    first, shown = _run(consortium)
    second, log = _run(consortium, approve=shown.split("--approve ")[-1].split()[0].rstrip("."))
    return consortium, first, shown, second, log


def test_the_first_run_shows_the_settings_and_ledger_and_sends_nothing(finished):
    consortium, first, shown, *_ = finished
    assert first == fw.NEEDS_APPROVAL
    spec = federation.spec(consortium.coordinator)
    digest = fw.settings_digest(spec)
    assert f"Settings digest: {digest}" in shown
    assert f"run the same command with --approve {digest[:12]}. Nothing was sent." in shown
    for text in ("minimum cell size (privacy.threshold): 5", "Kaplan-Meier tier: none",
                 "Cox model: ", "NETPET groups: "):
        assert text in shown
    # the ledger shown is the ledger of the answer later sent, line for line
    ledger = pd.read_csv(Path(consortium.config["A"]["output_folder"]) /
                         "results/federation/release_ledger_round_001.csv")
    assert f"This round's answer would release {len(ledger)} values:" in shown
    for r in ledger.head(40).itertuples():
        assert f"  {r.path} = " in shown


def test_a_wrong_digest_is_not_an_approval(tmp_path):
    consortium = Consortium(tmp_path)
    consortium.publish()
    code, text = _run(consortium, approve="0123456789ab")
    assert code == fw.NEEDS_APPROVAL
    assert "--approve 0123456789ab does not match these settings" in text
    code, text = _run(consortium, approve=fw.settings_digest(
        federation.spec(consortium.coordinator))[:6])  # too short to be a digest
    assert code == fw.NEEDS_APPROVAL
    assert not protocol.answer_path(consortium.exchange, 1, "A").exists()
    assert not (tmp_path / "site_A" / fw.APPROVAL).exists()


def test_the_approved_watch_answers_every_round_until_the_exchange_closes(finished):
    consortium, _, _, second, log = finished
    assert second == fw.CLOSED
    last = protocol.latest_round(consortium.exchange)
    assert protocol.read_bundle(protocol.request_path(consortium.exchange, last))["kind"] == "done"
    assert f"the coordinator closed the exchange in round {last}" in log
    folder = Path(consortium.config["A"]["output_folder"])
    written = (folder / fw.WATCH_LOG).read_text()
    for r in range(1, last):
        answer = protocol.answer_path(consortium.exchange, r, "A")
        ledger = pd.read_csv(folder / f"results/federation/release_ledger_round_{r:03d}.csv")
        line = (f"round {r} ({'describe' if r == 1 else 'cox'}): released "
                f"round_{r:03d}/A.json (sha256 {sha256(answer)}); ledger "
                f"results/federation/release_ledger_round_{r:03d}.csv: {len(ledger)} rows")
        assert line in log and line in written
        # the answer is the protocol's answer to that request, computed independently
        request = protocol.read_bundle(protocol.request_path(consortium.exchange, r))
        data = federation.load_analysis(folder / fw.ANALYSIS, consortium.config["A"])
        expected, _ = protocol.site_answer(request, data, "A")
        assert json.loads(answer.read_text()) == json.loads(json.dumps(expected))
    approval = json.loads((folder / fw.APPROVAL).read_text())
    assert approval["settings_sha256"] == fw.settings_digest(federation.spec(consortium.coordinator))
    # each line of the log file carries the time it was written
    assert all(line[:4].isdigit() and " UTC  " in line for line in written.splitlines())


def test_a_later_change_of_settings_stops_the_watch(finished, tmp_path):
    """Approved once; then a request with a smaller minimum cell size appears (an edited
    request, or a coordinator that changed its settings): nothing is computed for it."""
    consortium, *_ = finished
    folder = Path(consortium.config["A"]["output_folder"])
    exchange = tmp_path / "exchange"
    request = protocol.first_request({**federation.spec(consortium.coordinator), "min_cell": 3,
                                      "km_tier": "exact"})
    protocol.write_bundle(request, protocol.request_path(exchange, 1))
    cfg = copy.deepcopy(consortium.config["A"])
    cfg["federation"]["exchange"] = str(exchange)
    with pytest.raises(protocol.ProtocolError) as err:
        fw.watch(cfg, echo=lambda line: None, sleep=lambda s: None)
    text = str(err.value)
    assert text.startswith("round 1: the consortium's settings differ from the ones approved")
    assert "km_tier: \"none\" then, \"exact\" now" in text and "min_cell: 5 then, 3 now" in text
    assert "Nothing was sent" in text
    assert not protocol.answer_path(exchange, 1, "A").exists()
    assert json.loads((folder / fw.APPROVAL).read_text())["settings"]["min_cell"] == 5


def test_the_time_limit_stops_a_watch_that_waits(tmp_path):
    """Nobody publishes: the watch looks every interval and stops at its time limit."""
    consortium = Consortium(tmp_path)
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    code = fw.watch(consortium.config["A"], interval=60, time_limit=300, echo=lambda s: None,
                    sleep=sleep, clock=lambda: now[0])
    assert code == fw.TIME_LIMIT and now[0] == 300
    log = (tmp_path / "site_A" / fw.WATCH_LOG).read_text()
    assert "time limit of 300 s reached (no request has been published yet)" in log


def test_the_command_line(tmp_path, monkeypatch, capsys):
    """netpet-stats watch --config site.yaml: a configuration of neither a site nor the
    coordinator is refused in one line; durations read as 30s, 15m, 12h."""
    monkeypatch.chdir(ROOT)
    (tmp_path / "single.yaml").write_text(yaml.safe_dump({"federation": {"role": "none"}}))
    assert cli(["watch", "--config", str(tmp_path / "single.yaml")]) == fw.FAILED
    err = capsys.readouterr().err
    assert "netpet-stats watch answers as a site (or publishes as the coordinator): " \
        "federation.role is 'none'" in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit):
        cli(["watch", "--config", "x.yaml", "--interval", "soon"])
    assert "'soon' is not a duration" in capsys.readouterr().err


def test_a_site_refused_for_every_endpoint_answers_round_1_and_leaves(finished):
    """Site D (4 patients, no death) answers round 1 with its refusal; its watch then stops,
    and the coordinator finishes without waiting for it."""
    consortium, *_ = finished
    d1 = protocol.read_bundle(protocol.answer_path(consortium.exchange, 1, "D"))
    assert protocol.refused_everywhere(d1)
    last = protocol.latest_round(consortium.exchange)
    assert last > 2
    for r in range(2, last):
        assert sorted(p.stem for p in (consortium.exchange / f"round_{r:03d}").glob("*.json")
                      if p.stem != "request") == ["A", "B", "C"]
    # the exchange as it was in round 2: D's own watch says why it leaves, and sends nothing
    import shutil

    early = consortium.base / "exchange_round_2"
    for r in (1, 2):
        shutil.copytree(consortium.exchange / f"round_{r:03d}", early / f"round_{r:03d}")
    (early / "round_002" / "D.json").unlink(missing_ok=True)
    cfg = copy.deepcopy(consortium.config["D"])
    cfg["federation"]["exchange"] = str(early)
    plan = federation.site_plan(cfg)
    assert plan["closed"] and not plan["answer"]
    assert "refused for every endpoint in round 1" in plan["why"]
    code, text = _run(consortium, config=cfg)
    assert code == fw.CLOSED
    assert "site D: this site was refused for every endpoint in round 1" in text
    assert "rounds answered by this watch: none" in text
    assert not (early / "round_002" / "D.json").exists()


def test_the_coordinators_watch_publishes_the_rules_requests_until_the_fit_converges(
        finished, tmp_path):
    """The coordinator watches instead of running Snakemake each round: between two of its
    looks every site answers (through rule federation_answer's step). It publishes rounds
    1 to 5, byte for byte the requests the workflow's rule published in the exchange of
    ``finished`` (the same sites and settings), then stops and leaves the closing request
    and the results to one Snakemake run; site D, refused in round 1, is not waited for."""
    rule_exchange = finished[0].exchange
    consortium = Consortium(tmp_path)
    cfg = consortium.config["A"]
    folder = Path(cfg["output_folder"])
    cohort_step.run(cfg, folder / fw.ANALYSIS,
                    *(folder / f"results/cohort/{n}.csv" for n in fw.COHORT_TABLES))
    looks = []

    def sleep(seconds):
        looks.append(seconds)
        consortium.others_answer(SITES)

    lines = []
    code = fw.watch(consortium.coordinator, interval=7, echo=lines.append, sleep=sleep)
    assert code == fw.CLOSED and set(looks) == {7}
    rounds = sorted(p.parent.name for p in consortium.exchange.glob("round_*/request.json"))
    ruled = sorted(p.parent.name for p in rule_exchange.glob("round_*/request.json"))
    assert rounds == ruled[:-1] == [f"round_{r:03d}" for r in range(1, 6)]
    for name in rounds:
        assert (consortium.exchange / name / "request.json").read_bytes() == \
            (rule_exchange / name / "request.json").read_bytes(), name
    assert not (consortium.exchange / "round_002" / "D.json").exists()
    plan = federation.coordinator_plan(consortium.coordinator)
    assert plan["publish"] and plan["kind"] == "done" and plan["round"] == 6
    log = (Path(consortium.coordinator["output_folder"]) / fw.WATCH_LOG).read_text()
    for r in range(1, 6):
        assert f"round {r} (" in log and f"round_{r:03d}/request.json (sha256 " in log
    assert "publish the closing request and write the pooled results" in lines[-1]
    # a coordinator approves nothing
    with pytest.raises(protocol.ProtocolError, match="takes none"):
        fw.watch(consortium.coordinator, approve="abc")
