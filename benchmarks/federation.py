"""Benchmark: a federated consortium on one machine, and one site's answer for 1,000 patients.

    python benchmarks/federation.py                    # 5 sites, a 1,000-patient site
    python benchmarks/federation.py --sites 5 --site-n 1000 --repeats 3 --keep /tmp/federation

1. **A site's answer, round by round.** A site of ``--site-n`` patients (the synthetic
   generator, seed 1) and two centres of the bundled cohort answer every round. For the
   large site it times each round two ways: ``snakemake --cores 2 --configfile site.yaml``
   (the manual path: Snakemake's start, the answer job in its own process), and the answer
   step alone as ``netpet-stats watch`` runs it in its one process (read the request,
   compute, sign nothing, write the answer and the ledger).
2. **A consortium on one machine.** The bundled cohort split into ``--sites`` sites
   (patient k to site k mod S), each answering through ``netpet-stats watch`` (the first
   runs, which show the settings, side by side; then approved, polling every 0.2 s). The
   coordinator either watches too (``netpet-stats watch --config coordinator.yaml``
   publishes every round as its answers arrive; one ``snakemake --cores 2`` at the end
   publishes the closing request and writes the pooled tables, report and manifest), or
   runs ``snakemake --cores 2`` whenever every site it waits for has answered. Timed
   from the coordinator's start to its manifest. Against it: the single-machine
   workflow on the same rows, cold, limited to the analyses the coordinator publishes
   (Table 1, Kaplan-Meier, log-rank, Cox models, concordance; ``snakemake --cores 2``
   with those targets). The coordinator's run also writes its HTML and PDF report,
   which the single-machine targets do not.

Prints wall times; asserts nothing (the test suite checks results, not times).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import yaml

from netpet_stats.netpet import synthetic

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "workflow", "config", "data"):
        src = ROOT / item
        if not (dest / item).exists():
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / item)
    return dest


def snakemake(cwd: Path, *args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([PY, "-m", "snakemake", "--cores", "2", *args], cwd=cwd,
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"snakemake failed in {cwd}:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def site_folder(base: Path, site: str, table: pd.DataFrame, exchange: Path) -> Path:
    work = copy_project(base / f"site_{site}")
    table.to_csv(work / "our_patients.csv", index=False)
    (work / "site.yaml").write_text(yaml.safe_dump({
        "cohort": {"table": "our_patients.csv", "lesions": None},
        "federation": {"role": "site", "site": site, "exchange": str(exchange)}}))
    return work


def coordinator_folder(base: Path, sites: list[str], exchange: Path) -> Path:
    work = copy_project(base / "coordinator")
    (work / "coordinator.yaml").write_text(yaml.safe_dump({
        "federation": {"role": "coordinator", "sites": sites, "exchange": str(exchange)}}))
    return work


def answers_complete(exchange: Path, sites: list[str]) -> bool:
    """Every site the newest request waits for has answered it (a refused site: round 1)."""
    rounds = sorted(exchange.glob("round_*/request.json"))
    if not rounds:
        return False
    newest = rounds[-1].parent
    if json.loads(rounds[-1].read_text())["kind"] == "done":
        return True
    number = int(newest.name.split("_")[1])
    for site in sites:
        first = exchange / "round_001" / f"{site}.json"
        if number > 1 and first.exists() and all(
                ep["status"] == "refused" for ep in json.loads(first.read_text())["endpoints"].values()):
            continue
        if not (newest / f"{site}.json").exists():
            return False
    return True


def site_answer_times(base: Path, n: int) -> list[dict]:
    """Round by round, the large site's answer: Snakemake run and the watch's answer step."""
    from netpet_stats import load_config
    from netpet_stats.federated import protocol
    from netpet_stats.steps import federation
    from netpet_stats.steps._common import load_analysis

    exchange = base / "exchange_site"
    exchange.mkdir(parents=True)
    big, _ = synthetic.generate_cohort(seed=1, centre_sizes=(n,), with_lesions=False)
    big["centre"] = "BIG"
    bundled = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv")
    tables = {"BIG": big, "A": bundled[bundled["centre"] == "A"],
              "B": bundled[bundled["centre"] == "B"]}
    folders = {s: site_folder(base / "one_site", s, t, exchange) for s, t in tables.items()}
    coordinator = coordinator_folder(base / "one_site", list(tables), exchange)
    rows = []
    while True:
        snakemake(coordinator, "--configfile", "coordinator.yaml")
        last = protocol.latest_round(exchange)
        request = protocol.read_bundle(protocol.request_path(exchange, last))
        if request["kind"] == "done":
            return rows
        seconds = {}
        for site, work in folders.items():
            seconds[site] = snakemake(work, "--configfile", "site.yaml")
        # the same answer computed again as the watch computes it (in one process)
        work = folders["BIG"]
        cfg = load_config([str(work / "config" / "config.yaml"), str(work / "site.yaml")])
        cfg["output_folder"] = str(work)
        cfg["cohort"]["table"] = str(work / "our_patients.csv")
        load_analysis(work / "intermediate" / "analysis_cohort.parquet", cfg)  # warm
        start = time.perf_counter()
        out = SimpleNamespace(answer=str(base / "again.json"), ledger=str(base / "again.csv"))
        federation.run_answer(cfg, str(work / "intermediate" / "analysis_cohort.parquet"),
                              str(protocol.request_path(exchange, last)), out)
        rows.append({"round": last, "kind": request["kind"],
                     "snakemake_s": round(seconds["BIG"], 2),
                     "watch_step_s": round(time.perf_counter() - start, 3)})


def start_site_watches(folders: dict[str, Path]) -> list[subprocess.Popen]:
    """Every site's ``netpet-stats watch``: the first runs (which show the settings and ask
    for approval) side by side, as the sites' data managers would, then the approved ones."""
    cmd = [PY, "-m", "netpet_stats.cli", "watch", "--config", "site.yaml",
           "--interval", "0.2", "--time-limit", "30m"]
    first = {site: subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
             for site, work in folders.items()}
    watches = []
    for site, proc in first.items():
        out, err = proc.communicate()
        digest = re.search(r"--approve (\w+)\. Nothing was sent", out)
        if digest is None:
            sys.exit(f"site {site}: the watch did not ask for approval:\n{out[-2000:]}{err[-2000:]}")
        watches.append(subprocess.Popen(cmd + ["--approve", digest[1]], cwd=folders[site],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return watches


def consortium_time(base: Path, n_sites: int, coordinator_watches: bool) -> dict:
    """The consortium's wall time to the coordinator's manifest; every site in a watch.

    ``coordinator_watches``: the coordinator publishes rounds with ``netpet-stats watch``
    and runs Snakemake once at the end (for the closing request, the pooled tables, the
    report and the manifest); otherwise it runs Snakemake for every round.
    """
    base = base / ("coordinator_watch" if coordinator_watches else "coordinator_snakemake")
    cohort = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv")
    sites = [f"H{k + 1}" for k in range(n_sites)]
    cohort["centre"] = [sites[k % n_sites] for k in range(len(cohort))]
    exchange = base / "exchange"
    exchange.mkdir(parents=True)
    folders = {s: site_folder(base, s, cohort[cohort["centre"] == s], exchange) for s in sites}
    coordinator = coordinator_folder(base, sites, exchange)
    manifest = coordinator / "results" / "federation" / "manifest.json"
    start = time.perf_counter()
    coordinator_runs = 0
    if coordinator_watches:
        publisher = subprocess.Popen(
            [PY, "-m", "netpet_stats.cli", "watch", "--config", "coordinator.yaml",
             "--interval", "0.2", "--time-limit", "30m"], cwd=coordinator,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while not (exchange / "round_001" / "request.json").exists():
            time.sleep(0.05)
        watches = start_site_watches(folders)
        if publisher.wait(timeout=1800):
            sys.exit(f"the coordinator's watch failed:\n{publisher.stderr.read()[-3000:]}")
        snakemake(coordinator, "--configfile", "coordinator.yaml")
        coordinator_runs = 1
    else:
        snakemake(coordinator, "--configfile", "coordinator.yaml")  # round 1
        coordinator_runs = 1
        watches = start_site_watches(folders)
        while not manifest.exists():
            while not answers_complete(exchange, sites):
                time.sleep(0.1)
            snakemake(coordinator, "--configfile", "coordinator.yaml")
            coordinator_runs += 1
    if not manifest.exists():
        sys.exit("the coordinator wrote no manifest")
    federation_s = time.perf_counter() - start
    for proc in watches:
        proc.wait(timeout=60)
    requests = len(list(exchange.glob("round_*/request.json")))
    answered = len(list(exchange.glob(f"round_*/{sites[0]}.json")))
    return {"sites": n_sites, "patients": len(cohort), "consortium_s": round(federation_s, 1),
            "requests": requests, "rounds_answered": answered,
            "coordinator_snakemake_runs": coordinator_runs,
            "coordinator": "netpet-stats watch" if coordinator_watches else "snakemake per round"}


def single_machine_time(base: Path, n_sites: int) -> float:
    """The single-machine workflow on the same rows, cold, limited to the analyses the
    coordinator publishes."""
    cohort = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv")
    sites = [f"H{k + 1}" for k in range(n_sites)]
    cohort["centre"] = [sites[k % n_sites] for k in range(len(cohort))]
    single = copy_project(base / "single")
    cohort.to_csv(single / "pooled.csv", index=False)
    (single / "pooled.yaml").write_text(yaml.safe_dump(
        {"cohort": {"table": "pooled.csv", "lesions": None}}))
    targets = ["results/table1/table1.csv"] + [
        f"results/{ep}/{name}.csv" for ep in ("os", "ttp")
        for name in ("km_summary", "logrank", "cox_coefficients", "concordance")]
    # targets first: --configfile takes every word after it
    return snakemake(single, *targets, "--configfile", "pooled.yaml")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=5)
    parser.add_argument("--site-n", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument("--skip-site", action="store_true", help="only the consortium")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved runs of the single-machine workflow and of both "
                             "consortia (medians reported)")
    args = parser.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="federation_"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        if not args.skip_site:
            rows = pd.DataFrame(site_answer_times(base, args.site_n))
            print(f"A site of {args.site_n} patients, each round's answer (wall seconds):")
            print(rows.to_string(index=False))
        # interleaved repeats (the machine's speed drifts): medians, and every run
        runs = {"single": [], True: [], False: []}
        for k in range(args.repeats):
            rep = base / f"repeat_{k + 1}"
            runs["single"].append(single_machine_time(rep, args.sites))
            for watches in (True, False):
                runs[watches].append(consortium_time(rep, args.sites, watches))
        single = statistics.median(runs["single"])
        print(f"\nThe single-machine workflow on the same {args.sites}-centre rows (the analyses "
              f"the coordinator publishes): median {single:.1f} s over {args.repeats} runs "
              f"({', '.join(f'{t:.1f}' for t in runs['single'])})")
        for watches in (True, False):
            rs = runs[watches]
            med = statistics.median(r["consortium_s"] for r in rs)
            r = rs[0]
            ratios = [f"{x['consortium_s'] / t:.2f}" for x, t in zip(rs, runs["single"])]
            print(f"{r['sites']} sites, {r['patients']} patients on one machine, the coordinator "
                  f"by {r['coordinator']}: median {med:.1f} s to the coordinator's manifest "
                  f"({', '.join(str(x['consortium_s']) for x in rs)}; {r['rounds_answered']} "
                  f"rounds answered, {r['requests']} requests published, "
                  f"{r['coordinator_snakemake_runs']} coordinator Snakemake runs; every site in "
                  f"`netpet-stats watch`): {med / single:.2f} times the single-machine run "
                  f"(per repeat: {', '.join(ratios)})")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
