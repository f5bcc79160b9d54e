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


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_constraints_pin_every_dependency_within_its_declared_range():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"],
                *project["optional-dependencies"]["cluster"]]
    pins = _pins()
    for spec in declared:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside {req.specifier}")


def test_readme_and_ci_install_and_test_with_the_same_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = 'pip install -e ".[test]" -c constraints.txt && python -m pytest'
    assert command in readme and command in ci
    assert "pip install -e . -c constraints.txt && snakemake --cores 2" in readme


def test_conda_files_pin_the_versions_of_constraints():
    """A conda rerun resolves the versions the pip install does (byte-identical results)."""
    pins = _pins()
    for path in (ROOT / "environment.yml", ROOT / "workflow" / "envs" / "netpet.yaml"):
        deps = [d for d in yaml.safe_load(path.read_text())["dependencies"] if isinstance(d, str)]
        for dep in deps:
            name, _, version = dep.partition("==")
            name = name.strip().lower()
            if name in ("pip",) or name.startswith("python="):
                continue
            assert version, f"{path.name}: {dep!r} is not pinned (==)"
            assert pins[name] == version.strip(), f"{path.name}: {dep} but constraints.txt has {pins[name]}"
        assert "python=3.11" in deps
