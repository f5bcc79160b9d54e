from __future__ import annotations

import copy
from pathlib import Path

import pytest
from netpet_stats.config import load_config
from workflow_run import copy_project, run_snakemake

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def base_config() -> dict:
    """The shipped configuration with paths made absolute."""
    cfg = load_config(base=ROOT / "config" / "config.yaml")
    cfg["cohort"]["table"] = str(ROOT / cfg["cohort"]["table"])
    cfg["cohort"]["lesions"] = str(ROOT / cfg["cohort"]["lesions"])
    return cfg


@pytest.fixture
def config(base_config) -> dict:
    return copy.deepcopy(base_config)


@pytest.fixture(scope="session")
def workflow_runs(tmp_path_factory):
    """The workflow run twice from scratch on the bundled cohort with the default config.

    Shared by the end-to-end and report tests, which only read what it wrote
    (a dry run at most), so the workflow is not run again for each.
    """
    runs = []
    for name in ("run1", "run2"):
        work = copy_project(tmp_path_factory.mktemp(name))
        proc = run_snakemake(work)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(work)
    return runs
