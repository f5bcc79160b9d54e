"""One dependency list: pyproject.toml; the conda files must name the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: pip names whose conda-forge package is spelt otherwise, and pip-only extras.
CONDA_NAME = {"snakemake[reports]": "snakemake"}
#: conda-only additions (the interpreter, pip itself, what an extra brings on pip).
CONDA_ONLY = {"python", "pip", "pygments", "pytest", "hypothesis"}


def _pip_names() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = set()
    for dep in deps:
        name = re.split(r"[<>=!~ ]", dep, maxsplit=1)[0].strip().lower()
        names.add(CONDA_NAME.get(name, name))
    return names


def _conda_names(path: Path) -> set[str]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    return {re.split(r"[<>=!~ ]", d, maxsplit=1)[0].strip().lower() for d in deps
            if isinstance(d, str)}


def test_environment_files_name_the_pyproject_dependencies():
    pip = _pip_names()
    for path in (ROOT / "environment.yml", ROOT / "workflow" / "envs" / "netpet.yaml"):
        conda = _conda_names(path) - CONDA_ONLY
        assert conda == pip, f"{path.name}: missing {sorted(pip - conda)}, extra {sorted(conda - pip)}"
