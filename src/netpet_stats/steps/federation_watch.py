"""One command per site: answer every round of an exchange as it appears (``netpet-stats watch``).

A site's data manager starts the watch once. It checks and prepares the site's cohort
(the workflow's rule ``prepare_cohort``: the same analysis frame, exclusion ledger,
patient flow and warnings), then polls the exchange folder. Each new request is
answered as rule ``federation_answer`` answers it (:func:`netpet_stats.steps.federation.run_answer`:
the same answer, signature and release ledger), and logged. The watch stops when the
coordinator closes the exchange, when this site was refused for every endpoint in
round 1 (it has nothing more to send), or at its time limit.

The disclosure settings are approved once, not per round. They are the consortium's
analysis as the request states it (``spec``: endpoints, model, groups, minimum cell
size, Kaplan-Meier tier, Table 1 variables, a frozen model to validate): everything
that decides what the site releases. The first run shows them with the ledger of the
answer it would send, writes nothing into the exchange, and asks to be run again with
``--approve <digest>``; the approval is kept in ``results/federation/approval.json``.
A request whose settings differ from the approved ones stops the watch before
anything is computed for it, naming what changed.

The coordinator may watch too (:func:`coordinate`): it publishes each request as
soon as every site it waits for has answered the one before, as rule
``federation_request`` publishes it (:func:`netpet_stats.steps.federation.run_request`),
and stops when every model has converged. Its one Snakemake run after that publishes
the closing request and the pooled results. Each round then costs the sites' answers,
not a start of Snakemake.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from .. import provenance
from ..cohort.read import cohort_sources
from ..federated import protocol
from . import cohort as cohort_step
from . import federation
from ._common import load_analysis

#: Where the watch keeps its record (in the analysis folder, beside the ledgers).
APPROVAL = "results/federation/approval.json"
WATCH_LOG = "results/federation/watch.log"
#: The workflow's analysis frame and cohort tables (rule prepare_cohort).
ANALYSIS = "intermediate/analysis_cohort.parquet"
COHORT_TABLES = ("exclusions", "flow", "netpet_distribution", "warnings")
#: A request that cannot be parsed may be half written: read again this many times.
UNREADABLE_RETRIES = 3
#: The digest a data manager types: the first characters of the settings' SHA-256.
SHORT = 12

# exit codes of ``netpet-stats watch``
CLOSED, FAILED, TIME_LIMIT, NEEDS_APPROVAL = 0, 1, 2, 3


def settings_digest(spec: dict) -> str:
    """SHA-256 of the consortium's analysis settings (a request's ``spec``), canonical JSON."""
    return protocol.digest(spec)


def describe_settings(spec: dict) -> list[str]:
    """The disclosure settings of a request, one line each, for the data manager."""
    model = spec["model"]
    t1 = spec.get("table1", {})
    tier = spec["km_tier"]
    lines = [
        f"minimum cell size (privacy.threshold): {spec['min_cell']}",
        f"endpoints: {', '.join(spec['endpoints'])}",
        f"Cox model: {', '.join(model['covariates'])} (strata: {', '.join(model['strata'])})",
        f"NETPET groups: {', '.join(spec['groups'])}",
        "Kaplan-Meier tier: " + {"none": "none (no survival curve is sent)",
                                 "rounded": f"rounded (counts on a {spec['km_grid']:g}-"
                                            f"{spec['time_unit']} grid, rounded to multiples "
                                            f"of {spec['km_round_to']})",
                                 "exact": "EXACT (per-time event and censoring counts: "
                                          "disclosive)"}[tier],
        f"Table 1 variables: {', '.join(t1.get('variables', [])) or 'none'}"
        + (f" (continuous: {', '.join(t1['continuous'])})" if t1.get("continuous") else ""),
        f"time unit: {spec['time_unit']}",
    ]
    if spec.get("validation"):
        frozen = spec["validation"]["model"]
        lines.append(f"frozen model validated per centre: {frozen.get('name', '(unnamed)')} "
                     f"at {spec['validation']['horizon']:g} {spec['time_unit']}")
    return lines


class Watch:
    """The state of one watch: the site's configuration, its log and its approval."""

    def __init__(self, config: dict, echo=print):
        fed = config["federation"]
        if fed["role"] != "site":
            raise protocol.ProtocolError(
                f"netpet-stats watch answers as a site (or publishes as the coordinator): "
                f"federation.role is {fed['role']!r} in this configuration (set role: site, "
                "your site's name and the exchange)")
        self.config = config
        self.site = fed["site"]
        self.exchange = fed["exchange"]
        self.echo = echo
        self.path = lambda rel: Path(provenance.in_analysis_folder(config, rel))
        self.answered: list[int] = []
        self._inputs: dict[str, str] = {}

    # ------------------------------------------------------------------ record
    def log(self, message: str) -> None:
        """A line on the console and in results/federation/watch.log (with the time)."""
        self.echo(message)
        log = self.path(WATCH_LOG)
        log.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        with log.open("a", encoding="utf-8") as fh:
            for line in message.splitlines():
                fh.write(f"{stamp}  {line}\n")

    def approved(self) -> dict | None:
        path = self.path(APPROVAL)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            record["settings_sha256"], record["settings"]
        except (OSError, ValueError, KeyError, TypeError):
            raise protocol.ProtocolError(
                f"{provenance.display_path(path)}: the record of the approved settings cannot "
                "be read; delete it and approve the settings again") from None
        return record

    def approve(self, request: dict) -> None:
        spec = request["spec"]
        path = self.path(APPROVAL)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"site": self.site, "settings_sha256": settings_digest(spec),
                                    "approved_in_round": request["round"], "settings": spec},
                                   indent=1, sort_keys=True) + "\n", encoding="utf-8")

    # ------------------------------------------------------------------ cohort
    def prepare(self) -> None:
        """The site's cohort, checked and prepared as rule prepare_cohort does."""
        tables = {name: self.path(f"results/cohort/{name}.csv") for name in COHORT_TABLES}
        prepared = cohort_step.run(self.config, self.path(ANALYSIS), tables["exclusions"],
                                   tables["flow"], tables["netpet_distribution"],
                                   tables["warnings"])
        self._inputs = self._input_checksums()
        self.log(f"site {self.site}: cohort checked and prepared ({len(prepared.data)} rows; "
                 "exclusions and flow in results/cohort/)")

    def _input_files(self) -> list[str]:
        ccfg = self.config["cohort"]
        files = [path for path, _ in cohort_sources(ccfg)]
        return files + ([ccfg["lesions"]] if ccfg.get("lesions") else [])

    def _input_checksums(self) -> dict[str, str]:
        return {f: provenance.sha256(f) for f in self._input_files() if Path(f).is_file()}

    def check_inputs_unchanged(self) -> None:
        """Every round of one exchange is answered from the same table."""
        now = self._input_checksums()
        changed = sorted(provenance.display_path(f) for f in set(now) | set(self._inputs)
                         if now.get(f) != self._inputs.get(f))
        if changed:
            raise protocol.ProtocolError(
                f"{', '.join(changed)} changed since the watch started: the rounds of one "
                "exchange must all be answered from the same table (nothing was sent for the "
                "new round). Restore the file, or ask the coordinator to start a new exchange")

    # ------------------------------------------------------------------ rounds
    def ledger_path(self, round_: int) -> Path:
        return self.path(f"results/federation/release_ledger_round_{round_:03d}.csv")

    def preview(self, request: dict) -> pd.DataFrame:
        """The ledger of the answer this site would send (nothing written)."""
        data = load_analysis(self.path(ANALYSIS), self.config)
        federation.check_site_settings(self.config, request, data)
        _, ledger = protocol.site_answer(request, data, self.site)
        return ledger

    def answer(self, round_: int) -> None:
        """Answer ``round_`` (rule federation_answer's step) and log what left."""
        request = protocol.request_path(self.exchange, round_)
        out = SimpleNamespace(answer=str(protocol.answer_path(self.exchange, round_, self.site)),
                              ledger=str(self.ledger_path(round_)))
        federation.run_answer(self.config, str(self.path(ANALYSIS)), str(request), out)
        ledger = pd.read_csv(out.ledger)
        bundle = json.loads(Path(out.answer).read_text(encoding="utf-8"))
        self.answered.append(round_)
        self.log(f"round {round_} ({bundle['kind']}): released round_{round_:03d}/{self.site}.json "
                 f"(sha256 {provenance.sha256(out.answer)}); ledger "
                 f"{Path(out.ledger).relative_to(self.path('.'))}: {len(ledger)} rows")


def _ledger_lines(ledger: pd.DataFrame) -> list[str]:
    """The ledger as the data manager reads it: path, value, smallest count, rule."""
    lines = []
    for r in ledger.itertuples():
        value = r.value if not isinstance(r.value, float) else f"{r.value:.6g}"
        count = "" if pd.isna(r.smallest_count) else int(r.smallest_count)
        lines.append(f"  {r.path} = {value}  [smallest count {count or '-'}; {r.rule}]")
    return lines


def coordinate(config: dict, interval: float = 30.0, time_limit: float | None = None,
               echo=print, sleep=time.sleep, clock=time.monotonic) -> int:
    """The coordinator's watch: publish every request the answers call for; the exit code.

    Each look at the exchange folder is the coordinator's plan as its workflow makes it
    (:func:`netpet_stats.steps.federation.coordinator_plan`: every answer checked, its
    signature included); a request the answers call for is published as rule
    ``federation_request`` publishes it. The watch stops, with code 0, when every
    model has converged: the closing request and the pooled results are then one run
    of ``snakemake --configfile <the coordinator's configuration>``, which writes them
    with the report and the manifest.

    Parameters
    ----------
    config
        The coordinator's configuration (``federation.role: coordinator``).
    interval, time_limit, echo, sleep, clock
        As in :func:`watch`.

    Returns
    -------
    int
        0 when the exchange is ready to close (or closed), 1 on an error, 2 at the
        time limit.
    """
    fed = config["federation"]
    path = Path(provenance.in_analysis_folder(config, WATCH_LOG))

    def log(message: str) -> None:
        echo(message)
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"{stamp}  {message}\n")

    start, published, waiting = clock(), [], None
    log(f"coordinator: watching {provenance.display_path(fed['exchange'])} every "
        f"{interval:g} s for the answers of {', '.join(fed['sites'])}"
        + (f", for at most {time_limit:g} s" if time_limit else ""))
    while True:
        plan = federation.coordinator_plan(config)
        if plan["kind"] == "done":
            closed = not plan["publish"]
            log("coordinator: " + ("the exchange is closed" if closed else
                                   f"the answers of {plan['round'] - 1} rounds call for no "
                                   "more (every model converged, or federation.max_rounds "
                                   "reached: the results say which)")
                + f"; rounds published by this watch: {', '.join(map(str, published)) or 'none'}. "
                "Run snakemake --cores 2 --configfile <this configuration> to "
                + ("write the pooled results" if closed else
                   "publish the closing request and write the pooled results"))
            return CLOSED
        if plan["publish"]:
            r = plan["round"]
            out = SimpleNamespace(request=str(protocol.request_path(fed["exchange"], r)))
            federation.run_request(config, plan["answers"], r, out)
            published.append(r)
            waiting = None
            log(f"round {r} ({plan['kind']}) published: round_{r:03d}/request.json "
                f"(sha256 {provenance.sha256(out.request)}), from {len(plan['answers'])} "
                "answers")
            continue
        if plan["waiting"] != waiting:
            waiting = plan["waiting"]
            log(f"round {plan['round']}: waiting for {', '.join(waiting)}")
        if time_limit is not None and clock() - start >= time_limit:
            log(f"coordinator: time limit of {time_limit:g} s reached (waiting for "
                f"{', '.join(plan['waiting'])}); rounds published: "
                f"{', '.join(map(str, published)) or 'none'}. Run the same command to go on")
            return TIME_LIMIT
        sleep(interval)


def watch(config: dict, interval: float = 30.0, time_limit: float | None = None,
          approve: str | None = None, echo=print, sleep=time.sleep,
          clock=time.monotonic) -> int:
    """Answer every new round of the exchange until it closes; the exit code.

    Parameters
    ----------
    config
        The site's configuration (``federation.role: site``), as
        :func:`netpet_stats.config.load_config` reads it.
    interval
        Seconds between two looks at the exchange folder.
    time_limit
        Seconds after which the watch stops (``None``: until the exchange closes).
    approve
        The digest of the disclosure settings the data manager approves (as the
        first run prints it; its first 12 characters suffice).
    echo, sleep, clock
        Output, waiting and time (replaceable in tests).

    Returns
    -------
    int
        0 when the exchange closed or this site has nothing more to send, 1 on an
        error (said in one message), 2 at the time limit, 3 when the settings await
        approval.
    """
    if config["federation"]["role"] == "coordinator":
        if approve:
            raise protocol.ProtocolError(
                "--approve is a site's approval of the consortium's disclosure settings; "
                "the coordinator's watch takes none")
        return coordinate(config, interval, time_limit, echo, sleep, clock)
    w = Watch(config, echo)
    start = clock()
    unreadable = 0
    w.log(f"site {w.site}: watching {provenance.display_path(w.exchange)} every "
          f"{interval:g} s" + (f" for at most {time_limit:g} s" if time_limit else ""))
    w.prepare()
    while True:
        try:
            plan = federation.site_plan(config)
        except protocol.ProtocolError as exc:
            # the coordinator may be writing the request right now: read it again
            unreadable += 1
            if unreadable > UNREADABLE_RETRIES:
                raise
            w.log(f"the newest request cannot be read yet ({str(exc).splitlines()[0]}); "
                  "looking again")
            plan = {"round": None, "answer": False, "why": "", "closed": False}
        else:
            unreadable = 0
        if plan.get("closed"):
            w.log(f"site {w.site}: {plan['why']}; rounds answered by this watch: "
                  f"{', '.join(map(str, w.answered)) or 'none'}")
            return CLOSED
        r = plan["round"]
        if plan["answer"] and not protocol.answer_path(w.exchange, r, w.site).exists():
            request = protocol.read_bundle(protocol.request_path(w.exchange, r))
            digest = settings_digest(request["spec"])
            record = w.approved()
            if record is None:
                if not approve or not digest.startswith(approve.strip().lower()) or \
                        len(approve.strip()) < SHORT:
                    ledger = w.preview(request)
                    text = [f"site {w.site}: round {r} is published. Before anything is sent, "
                            "the consortium's disclosure settings need your approval:",
                            *(f"  {line}" for line in describe_settings(request["spec"])),
                            f"This round's answer would release {len(ledger)} values:",
                            *_ledger_lines(ledger),
                            f"Settings digest: {digest}",
                            ("--approve " + approve + " does not match these settings. "
                             if approve else "")
                            + "To approve them and start answering, run the same command with "
                              f"--approve {digest[:SHORT]}. Nothing was sent."]
                    w.log("\n".join(text))
                    return NEEDS_APPROVAL
                w.approve(request)
                w.log(f"site {w.site}: disclosure settings approved (digest {digest[:SHORT]}), "
                      f"kept in {APPROVAL}")
            elif record["settings_sha256"] != digest:
                changed = protocol._settings_changed({"spec": record["settings"]}, request)
                raise protocol.ProtocolError(
                    f"round {r}: the consortium's settings differ from the ones approved for "
                    f"this site (digest {record['settings_sha256'][:SHORT]}): {changed}. "
                    f"Nothing was sent. If the change is agreed, review the new settings and "
                    f"approve them: delete {APPROVAL} and run again")
            w.check_inputs_unchanged()
            w.answer(r)
            continue  # the next round may already be there
        if time_limit is not None and clock() - start >= time_limit:
            w.log(f"site {w.site}: time limit of {time_limit:g} s reached ({plan['why'] or 'waiting'}); "
                  f"rounds answered: {', '.join(map(str, w.answered)) or 'none'}. Run the same "
                  "command to go on watching")
            return TIME_LIMIT
        sleep(interval)
