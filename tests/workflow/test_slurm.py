"""The sample-size simulation through SLURM, on a one-node cluster started here.

``tests/slurm/local_cluster.sh`` starts munged, slurmctld and slurmd on this
machine (Debian's slurm-wlm and munge, as root) and the workflow runs with the
SLURM profile, adapted to a cluster without accounting
(``tests/slurm/profile``). Every rule becomes a SLURM job; the gathered table
must equal, byte for byte, the one a local run writes. The daemons the test
started are stopped afterwards.

Skipped, with the reason printed, where SLURM cannot start (not root, packages
missing, a SLURM already configured); ``.ci/run`` installs the packages and sets
``NETPET_REQUIRE_SLURM=1``, which turns that skip into a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_run import copy_project, run_snakemake

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "tests" / "slurm" / "local_cluster.sh"
pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

SMALL = """\
sample_size:
  enabled: true
  sizes: [100, 200]
  event_fractions: [0.3, 0.5]
  horizon: null
  n_sim: 20
  seed: 3
  conf_level: 0.95
  targets: {slope: 0.2, c: 0.1, o_e: 0.2}
"""
TARGET = "results/sample_size/precision.csv"


def _unavailable(reason: str):
    message = f"SLURM test not run: {reason}"
    print(message, file=sys.stderr)
    if os.environ.get("NETPET_REQUIRE_SLURM") == "1":
        pytest.fail(message + " (NETPET_REQUIRE_SLURM=1)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    if shutil.which("bash") is None:
        _unavailable("bash not found")
    state = tmp_path_factory.mktemp("slurm")
    proc = subprocess.run(["bash", str(CLUSTER), "start", str(state)], capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0:
        _unavailable(proc.stderr.strip() or f"local_cluster.sh exited {proc.returncode}")
    env = {**os.environ, "SLURM_CONF": str(state / "slurm.conf")}
    try:
        yield env, state
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(state)], capture_output=True,
                       timeout=60)


def _project(dest: Path) -> Path:
    copy_project(dest)
    (dest / "small.yaml").write_text(SMALL)
    return dest


def test_simulation_runs_through_slurm_and_equals_a_local_run(slurm, tmp_path):
    env, state = slurm
    on_slurm = _project(tmp_path / "slurm")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--profile", str(ROOT / "tests" / "slurm" / "profile"),
         "--configfile", "small.yaml", "--", TARGET],
        cwd=on_slurm, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    # Every job went through SLURM: one submission and one SLURM log per job
    # (cohort, the Cox fits the frozen model is taken from, frozen model, the
    # simulated grid with its tables).
    expected_jobs = 1 + 1 + 1 + 1
    submitted = re.findall(r"submitted with SLURM jobid (\d+)", proc.stdout + proc.stderr)
    assert len(submitted) == expected_jobs
    logs = list((on_slurm / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert len(logs) == expected_jobs
    assert len(list((on_slurm / ".snakemake" / "slurm_logs" / "rule_sample_size").iterdir())) == 1
    ctld = (state / "slurmctld.log").read_text()
    for jobid in submitted:
        assert re.search(rf"JobId={jobid} .*WEXITSTATUS 0", ctld), jobid

    local = _project(tmp_path / "local")
    proc = run_snakemake(local, "--configfile", "small.yaml", "--", TARGET)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rel in (TARGET, "results/sample_size/minimum_n.csv"):
        assert (on_slurm / rel).read_bytes() == (local / rel).read_bytes(), rel
