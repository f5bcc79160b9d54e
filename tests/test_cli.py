"""The command line as a user meets it: plain help, which configuration was read,
where the warnings are, and no report left from an earlier failed check."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import yaml

from netpet_stats.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_help_is_plain_text(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "``" not in out and ":func:" not in out
    assert "validate" in out and "snakemake --configfile" in out


def test_validate_names_the_configuration_it_read_outside_the_project(tmp_path, capsys,
                                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my.yaml").write_text("cohort: {table: cohort.csv}\n")
    assert main(["validate", "--config", "my.yaml"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Configuration: my.yaml (config/config.yaml is not in this folder")
    assert err.count("'endpoints' is a required property") == 1


def test_a_clean_check_lists_its_warnings_and_removes_an_old_refusal(tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(
        (ROOT / "config" / "config.yaml").read_text())
    cohort = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv", dtype=str,
                         keep_default_na=False)
    cohort.loc[0, "who_grade"] = "G1"
    cohort.loc[0, "ki67_percent"] = "40"        # grade and Ki-67 disagree: a warning, kept
    cohort.to_csv(tmp_path / "cohort.csv", index=False)
    (tmp_path / "my.yaml").write_text(yaml.safe_dump(
        {"cohort": {"table": "cohort.csv", "lesions": None}}))
    (tmp_path / "logs").mkdir()
    old = tmp_path / "logs" / "validation_report.txt"
    old.write_text("an earlier refusal\n")
    assert main(["validate", "--config", "my.yaml"]) == 0
    err = capsys.readouterr()
    assert "Configuration: config/config.yaml then my.yaml" in err.err
    assert "Warning: cohort.csv, row 2:" in err.err
    assert "listed above; the workflow writes every one" in err.out
    assert not old.exists()
    assert os.fspath(tmp_path) not in err.err + err.out      # no machine path
