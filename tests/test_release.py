"""One version everywhere a reader looks for it: package, CLI, citation, changelog."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

import netpet_stats

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_the_same_in_every_file_that_states_it():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert netpet_stats.__version__ == version
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert str(citation["version"]) == version
    assert f"## [{version}] - {citation['date-released']}" in (ROOT / "CHANGELOG.md").read_text()
    assert netpet_stats.__release_date__ == citation["date-released"]
    cli = subprocess.run([sys.executable, "-m", "netpet_stats.cli", "--version"],
                         capture_output=True, text=True)
    assert cli.stdout.strip() == f"netpet-stats {version}"
