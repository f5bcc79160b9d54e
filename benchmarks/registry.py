"""Benchmark: the default workflow end to end on a synthetic registry of N patients.

    python benchmarks/registry.py 100000            # a registry of 10^5 patients
    python benchmarks/registry.py 1000000 --keep /tmp/registry

Draws the cohort from the synthetic generator (seed 1, three centres in proportion
47/33/20%, no lesion table), runs ``snakemake --cores 2`` on it with the default
configuration, and prints each rule's wall time and peak memory from Snakemake's
own ``benchmark:`` files (``logs/benchmarks/``) beside the memory the rule
declared (``mem_mb``), then the total. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from netpet_stats.netpet import synthetic

ROOT = Path(__file__).resolve().parents[1]


def write_registry(n: int, path: Path) -> None:
    sizes = tuple(int(round(n * p)) for p in (0.47, 0.33))
    cohort, _ = synthetic.generate_cohort(seed=1, centre_sizes=(*sizes, n - sum(sizes)),
                                          with_lesions=False)
    cohort.to_csv(path, index=False)


def declared_memory(log: str) -> dict[str, int]:
    """Largest ``mem_mb`` Snakemake gave each rule, from its printed job headers."""
    out: dict[str, int] = {}
    for rule, block in re.findall(r"(?m)^(?:local)?rule (\w+):\n((?:    .*\n)+)", log):
        found = re.search(r"mem_mb=(\d+)", block)
        if found:
            out[rule] = max(out.get(rule, 0), int(found.group(1)))
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="registry_"))
    work.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "workflow", "config", "data"):
        src = ROOT / item
        if not (work / item).exists():
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, work / item)
    start = time.perf_counter()
    write_registry(args.n, work / "registry.csv")
    drawn = time.perf_counter() - start
    (work / "registry.yaml").write_text("cohort: {table: registry.csv, lesions: null}\n")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--configfile",
                           "registry.yaml", "--printshellcmds"], cwd=work, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    declared = declared_memory(proc.stdout + proc.stderr)
    rows = []
    for tsv in sorted((work / "logs" / "benchmarks").rglob("*.tsv")):
        b = pd.read_csv(tsv, sep="\t")
        name = str(tsv.relative_to(work / "logs" / "benchmarks").with_suffix(""))
        rule = next((r for r in sorted(declared, key=len, reverse=True)
                     if name.split("/")[-1].startswith(r) or name.startswith(r)), "")
        rows.append((name, float(b["s"].iloc[0]), float(b["max_rss"].iloc[0]),
                     declared.get(rule)))
    width = max(len(r[0]) for r in rows)
    print(f"registry of {args.n} patients (drawn in {drawn:.0f} s); snakemake --cores 2")
    print(f"{'job':<{width}}  {'seconds':>8}  {'peak MiB':>9}  {'declared MB':>11}")
    for name, sec, rss, mem in sorted(rows, key=lambda r: -r[1]):
        print(f"{name:<{width}}  {sec:>8.1f}  {rss:>9.0f}  {mem if mem else '':>11}")
    print(f"{'whole workflow (wall)':<{width}}  {elapsed:>8.1f}")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
