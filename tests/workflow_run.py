"""Copying the workflow into a scratch folder and running Snakemake there (test helper)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What a user's checkout needs to run the workflow.
WORKFLOW_ITEMS = ("Snakefile", "workflow", "config", "data")


def copy_project(dest: Path) -> Path:
    """The workflow (Snakefile, workflow/, config/, data/) copied into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for item in WORKFLOW_ITEMS:
        src = ROOT / item
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / item)
    return dest


def run_snakemake(cwd: Path, *args: str, timeout: int = 900, **kwargs) -> subprocess.CompletedProcess:
    """``snakemake --cores 2 *args`` in ``cwd``, output captured."""
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, **kwargs)
