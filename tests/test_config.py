"""The one configuration loader (netpet_stats.config), for the workflow and the CLI alike."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from workflow_run import copy_project, run_snakemake

from netpet_stats.cli import main
from netpet_stats.config import ConfigError, competing_risks_settings, load_config, load_schema

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "config" / "config.yaml"


def _write(tmp_path, data) -> str:
    path = tmp_path / "my_config.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_misspelt_keys_are_refused_with_the_closest_valid_key(tmp_path):
    user = _write(tmp_path, {"cohort": {"tabel": "my_cohort.csv", "colums": {}},
                             "privacy": {"supress_small_cells": True}})
    with pytest.raises(ConfigError) as info:
        load_config([user], base=BASE)
    problems = "\n".join(info.value.problems)
    assert "cohort.tabel: unknown key; did you mean 'table'?" in problems
    assert "cohort.colums: unknown key; did you mean 'columns'?" in problems
    assert "privacy.supress_small_cells: unknown key; did you mean 'suppress_small_cells'?" \
        in problems


def test_defaults_come_from_the_schema_and_a_file_overrides_them(tmp_path):
    cfg = load_config(base=BASE)
    schema = load_schema()["properties"]
    assert cfg["kaplan_meier"]["conf_type"] == schema["kaplan_meier"]["properties"][
        "conf_type"]["default"]
    assert cfg["privacy"] == {"suppress_small_cells": False, "threshold": 5}
    user = _write(tmp_path, {"privacy": {"suppress_small_cells": True}})
    assert load_config([user], base=BASE)["privacy"] == {"suppress_small_cells": True,
                                                         "threshold": 5}


def _leaves(tree, prefix=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, (*prefix, key))
    else:
        yield prefix, tree


def _schema_default(path):
    node = load_schema()
    for key in path:
        node = node.get("properties", {}).get(key)
        if node is None:
            return None
    return node.get("default", None) if isinstance(node, dict) else None


def test_shipped_config_repeats_no_schema_default():
    """Defaults live only in the schema: config.yaml states only what differs from them."""
    shipped = yaml.safe_load(BASE.read_text())
    repeated = [".".join(p) for p, v in _leaves(shipped)
                if _schema_default(p) is not None and _schema_default(p) == v]
    assert not repeated


def test_cross_key_problems_are_listed_together(tmp_path):
    user = _write(tmp_path, {"cox": {"primary_model": "nope", "univariable": ["weight"]}})
    with pytest.raises(ConfigError) as info:
        load_config([user], base=BASE)
    problems = "\n".join(info.value.problems)
    assert "cox.univariable: 'weight' is not in covariates" in problems
    assert "cox.primary_model: 'nope' is not in cox.models" in problems


@pytest.mark.workflow
@pytest.mark.parametrize("name", ["centres.yaml", "validate.yaml", "develop.yaml", "typo"])
def test_cli_and_snakemake_accept_or_refuse_the_same_file(tmp_path, name, monkeypatch):
    work = copy_project(tmp_path / "work")
    if name == "typo":
        path = _write(tmp_path, {"cohort": {"tabel": "my_cohort.csv"}})
    else:
        path = str(work / "config" / name)
    monkeypatch.chdir(work)
    cli = main(["validate", "--config", path])
    proc = run_snakemake(work, "--configfile", path, "-n", timeout=300)
    output = proc.stdout + proc.stderr
    # (validate.yaml's dry run also needs develop's frozen model: a missing input, which
    # is not a configuration problem)
    snakemake_accepts = "configuration problem" not in output
    assert (cli == 0) == snakemake_accepts, output[-2000:]
    if name == "typo":
        assert cli == 1 and "cohort.tabel: unknown key; did you mean 'table'?" in output
    else:
        assert cli == 0


def test_the_tie_method_is_a_setting_defaulting_to_efron(tmp_path):
    assert load_config(base=ROOT / "config" / "config.yaml")["cox"]["ties"] == "efron"
    user = tmp_path / "user.yaml"
    user.write_text("cox: {ties: breslow}\n")
    assert load_config([user], base=ROOT / "config" / "config.yaml")["cox"]["ties"] == "breslow"
    user.write_text("cox: {ties: Breslow}\n")
    with pytest.raises(ConfigError, match=r"cox.ties.*'efron', 'breslow', 'exact'"):
        load_config([user], base=ROOT / "config" / "config.yaml")


def test_exact_ties_with_a_clustered_model_are_refused_with_rs_reason():
    config = load_config(base=ROOT / "config" / "config.yaml")
    name = next(iter(config["cox"]["models"]))
    with pytest.raises(ConfigError, match=rf"cox.models.{name}.cluster: 'centre' with cox.ties: "
                                          r"exact; robust SEs need score residuals"):
        load_config(base=ROOT / "config" / "config.yaml",
                    overrides={"cox": {"ties": "exact",
                                       "models": {name: {"cluster": "centre"}}}})


def test_a_federated_role_takes_efron_or_breslow_ties_and_refuses_exact():
    with pytest.raises(ConfigError, match=r"cox.ties: 'exact' with federation.role 'site'; "
                                          r"the federated fit exchanges Efron's or Breslow's"):
        load_config(base=ROOT / "config" / "config.yaml",
                    overrides={"cox": {"ties": "exact"},
                               "federation": {"role": "site", "site": "A", "exchange": "/x"}})
    ok = load_config(base=ROOT / "config" / "config.yaml",
                     overrides={"cox": {"ties": "breslow"},
                                "federation": {"role": "site", "site": "A", "exchange": "/x"}})
    assert ok["cox"]["ties"] == "breslow"


def test_delayed_entry_refuses_analyses_without_left_truncation_all_at_once():
    overrides = {"cohort": {"times": "dates", "dates": {"time_zero": "diagnosis",
                                                        "entry": "later_scan"}}}
    with pytest.raises(ConfigError) as err:
        load_config(base=ROOT / "config" / "config.yaml", overrides=overrides)
    text = str(err.value)
    assert "validation.mode: 'develop' with delayed entry (cohort.dates.entry)" in text
    # the competing-risks analysis runs with entry (Aalen-Johansen, cause-specific Cox;
    # Gray's test and Fine-Gray say why not); only a setting Gray's test alone reads is
    # refused
    assert "competing_risks" not in text
    with pytest.raises(ConfigError, match="missing_data.method: 'multiple_imputation' with "
                                          "delayed entry"):
        load_config(base=ROOT / "config" / "config.yaml", overrides={
            **overrides, "validation": {"mode": "none"},
            "concordance": {"uno": False}, "missing_data": {"method": "multiple_imputation"}})
    ok = load_config(base=ROOT / "config" / "config.yaml", overrides={
        **overrides, "validation": {"mode": "none"}, "concordance": {"uno": False}})
    assert ok["cohort"]["dates"]["entry"] == "later_scan"
    assert competing_risks_settings(ok) is not None
    for extra, where in (({"cohort": overrides["cohort"]}, "delayed entry (cohort.dates.entry)"),
                         ({"cohort": {"columns": {"weight": "ipw"}}},
                          "case weights (cohort.columns.weight)")):
        with pytest.raises(ConfigError) as err:
            load_config(base=ROOT / "config" / "config.yaml", overrides={
                **extra, "validation": {"mode": "none"}, "concordance": {"uno": False},
                "competing_risks": {"enabled": True, "gray_strata": "centre"}})
        assert (f"competing_risks.gray_strata: 'centre' with {where}: it stratifies Gray's "
                "test") in str(err.value)
        ok = load_config(base=ROOT / "config" / "config.yaml", overrides={
            **extra, "validation": {"mode": "none"}, "concordance": {"uno": False},
            "competing_risks": {"enabled": True}})
        assert competing_risks_settings(ok)["gray_strata"] is None
