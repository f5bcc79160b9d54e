"""Provenance: ``manifest.json`` (reproducible) and ``run_record.json`` (when and where).

The manifest holds the SHA-256 of every input and output, the full resolved
configuration, the versions of Python and of every installed package, the
workflow's git commit and whether its tree was dirty, and the random seeds. It
contains nothing that changes between two runs of the same inputs, so it is
itself byte-identical across reruns. The time of the run and the host are kept
apart in ``run_record.json``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from importlib import metadata
import sys

from . import __version__


def software_versions() -> dict:
    """Python and the versions of every installed distribution, sorted by name."""
    packages = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower()] = dist.version
    return {"python": sys.version.split()[0], "netpet-stats": __version__,
            "packages": dict(sorted(packages.items()))}


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def git_state(workflow_dir: str | Path) -> dict:
    """Commit of the workflow's git checkout and whether tracked files differ from it."""
    def run(*args):
        return subprocess.run(["git", "-C", str(workflow_dir), *args], capture_output=True,
                              text=True, timeout=30)
    try:
        head = run("rev-parse", "HEAD")
        if head.returncode != 0:
            return {"commit": None, "dirty": None, "note": "not a git checkout"}
        status = run("status", "--porcelain", "--untracked-files=no")
        return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "note": "git not available"}


def write_manifest(config: dict, inputs: list[str], outputs: list[str], workflow_dir: str,
                   manifest_path: str | Path, run_record_path: str | Path) -> None:
    """Write the manifest and the run record.

    Parameters
    ----------
    inputs, outputs
        Paths (as the workflow names them, relative to its working directory).
    workflow_dir
        Directory of the Snakefile (for the git commit).
    """
    manifest = {
        "netpet_stats": software_versions()["netpet-stats"],
        "workflow": git_state(workflow_dir),
        "inputs": {p: sha256(p) for p in sorted(set(inputs))},
        "outputs": {p: sha256(p) for p in sorted(set(outputs))},
        "config": config,
        "seeds": {"seed": config.get("seed"),
                  "synthetic.seed": (config.get("synthetic") or {}).get("seed")},
        "software": software_versions(),
    }
    Path(manifest_path).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                   encoding="utf-8")
    record = {
        "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "manifest_sha256": sha256(manifest_path),
    }
    Path(run_record_path).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
