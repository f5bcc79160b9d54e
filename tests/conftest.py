from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def base_config() -> dict:
    """The shipped configuration with paths made absolute."""
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["cohort"]["table"] = str(ROOT / cfg["cohort"]["table"])
    cfg["cohort"]["lesions"] = str(ROOT / cfg["cohort"]["lesions"])
    return cfg


@pytest.fixture
def config(base_config) -> dict:
    return copy.deepcopy(base_config)
