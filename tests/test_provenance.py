"""What an analysis publishes of the user's machine, and what reruns a rule (provenance)."""

from __future__ import annotations

import copy
import json
import pickle

import yaml

from netpet_stats.provenance import (display_config, display_names, display_path,
                                     in_analysis_folder, settings_digest, uncovered_reads,
                                     with_relative_inputs)
from netpet_stats.steps._runner import SettingsReads


def test_an_input_is_named_relative_to_the_working_folder_or_by_its_name(tmp_path):
    work = tmp_path / "study"
    (work / "data").mkdir(parents=True)
    assert display_path("data/cohort.csv", work) == "data/cohort.csv"
    assert display_path(str(work / "data" / "cohort.csv"), work) == "data/cohort.csv"
    assert display_path("./data/../data/cohort.csv", work) == "data/cohort.csv"
    # outside: the name only, never the folders (../ would name them too)
    assert display_path("/home/jdoe/share/cohort.xlsx", work) == "cohort.xlsx"
    assert display_path("../other/cohort.xlsx", work) == "cohort.xlsx"
    # inside through a symbolic link to the working folder
    (tmp_path / "link").symlink_to(work)
    assert display_path(str(tmp_path / "link" / "data" / "cohort.csv"), work) == "data/cohort.csv"


def test_two_outside_files_of_one_name_are_told_apart_by_their_folders(tmp_path):
    names = display_names(["/a/hosp1/export.xlsx", "/a/hosp2/export.xlsx",
                           "/b/hosp1/export.xlsx", "data/export.xlsx", "/c/other.csv"], tmp_path)
    assert names == {"/a/hosp1/export.xlsx": "a/hosp1/export.xlsx",
                     "/a/hosp2/export.xlsx": "hosp2/export.xlsx",
                     "/b/hosp1/export.xlsx": "b/hosp1/export.xlsx",
                     "data/export.xlsx": "data/export.xlsx", "/c/other.csv": "other.csv"}
    assert len(set(names.values())) == len(names)


def test_the_published_configuration_names_no_folder_of_the_machine(base_config, tmp_path):
    cfg = copy.deepcopy(base_config)            # (its paths made absolute by the fixture)
    cfg["cohort"]["table"] = "/home/jdoe/study/cohort.xlsx"
    cfg["cohort"]["tables"] = [{"path": "/home/jdoe/a/centre.xlsx", "centre": "A"},
                               {"path": "/home/jdoe/b/centre.xlsx", "centre": "B"}]
    cfg["validation"]["model_file"] = str(tmp_path / "analyses" / "develop" / "model.yaml")
    cfg["output_folder"] = "/scratch/jdoe/analyses/mine"
    shown = display_config(cfg, tmp_path)
    assert "jdoe" not in json.dumps(shown) and str(tmp_path) not in json.dumps(shown)
    assert shown["cohort"]["table"] == "cohort.xlsx"
    assert [t["path"] for t in shown["cohort"]["tables"]] == ["a/centre.xlsx", "b/centre.xlsx"]
    assert shown["validation"]["model_file"] == "analyses/develop/model.yaml"
    assert shown["output_folder"] == "mine"
    assert cfg["cohort"]["table"] == "/home/jdoe/study/cohort.xlsx"     # a copy


def test_inputs_inside_the_working_folder_are_read_by_their_relative_names(base_config, tmp_path):
    cfg = copy.deepcopy(base_config)
    cfg["cohort"]["table"] = str(tmp_path / "data" / "cohort.csv")
    cfg["cohort"]["lesions"] = "/elsewhere/lesions.csv"
    cfg["validation"]["added_value"]["base_file"] = str(tmp_path / "m" / "base.yaml")
    develop = with_relative_inputs(cfg, tmp_path)
    assert develop["cohort"]["table"] == "data/cohort.csv"
    assert develop["cohort"]["lesions"] == "/elsewhere/lesions.csv"
    # in develop mode the added-value files are outputs, written where they are named
    assert develop["validation"]["added_value"]["base_file"] == str(tmp_path / "m" / "base.yaml")
    cfg["validation"]["mode"] = "validate"
    assert with_relative_inputs(cfg, tmp_path)["validation"]["added_value"]["base_file"] == \
        "m/base.yaml"


def test_outputs_go_into_the_analysis_folder():
    assert in_analysis_folder({}, "results/report.html") == "results/report.html"
    assert in_analysis_folder({"output_folder": "."}, "logs/x.log") == "logs/x.log"
    assert in_analysis_folder({"output_folder": "analyses/dev/"}, "results/a.csv") == \
        "analyses/dev/results/a.csv"
    assert in_analysis_folder({"output_folder": "./analyses//dev"}, "logs/x.log") == \
        "analyses/dev/logs/x.log"


def test_a_digest_changes_with_the_settings_it_covers_and_only_with_them(base_config):
    cfg = copy.deepcopy(base_config)
    reads, but = ("kaplan_meier", "figures"), ("figures.dpi",)
    before = settings_digest(cfg, reads, but)
    cfg["figures"]["dpi"] = 600                         # excluded
    cfg["cox"]["conf_level"] = 0.9                      # not read
    assert settings_digest(cfg, reads, but) == before
    cfg["figures"]["width"] = "single"
    assert settings_digest(cfg, reads, but) != before
    assert settings_digest(cfg, ["*"]) != settings_digest(base_config, ["*"])


def test_a_read_is_covered_by_a_declared_key_unless_it_touches_an_excluded_one():
    reads = [("kaplan_meier", "conf_type"), ("figures", "width"), ("figures",), ("cox",),
             ("endpoints", "os", "label")]
    assert uncovered_reads(reads, ["kaplan_meier", "figures", "endpoints"], ["figures.dpi"]) == \
        ["cox", "figures"]                   # all of figures contains the excluded dpi
    assert uncovered_reads(reads, ["*"]) == []


def test_the_settings_recorder_notes_what_a_step_reads(base_config):
    reads = set()
    cfg = SettingsReads(copy.deepcopy(base_config), reads)
    assert cfg["kaplan_meier"]["conf_type"] == "log"
    assert cfg.get("validation") or {}                   # is it empty: no value read
    labels = {ep: spec["label"] for ep, spec in cfg["endpoints"].items()}
    assert labels["os"] == "Overall survival"
    assert "grade" in cfg["covariates"]
    assert cfg["cohort"].get("nothing") is None
    whole = {".".join(path) for path, w in reads if w}
    assert whole == {"kaplan_meier.conf_type", "endpoints", "covariates.grade",
                     "cohort.nothing"}
    # a plain dict to YAML (after registering it, as the runner does), copies and pickles
    yaml.SafeDumper.add_representer(SettingsReads, yaml.SafeDumper.represent_dict)
    assert yaml.safe_load(yaml.safe_dump(cfg["privacy"])) == base_config["privacy"]
    assert type(copy.deepcopy(cfg["figures"])) is dict
    assert type(pickle.loads(pickle.dumps(cfg["cox"]))) is dict
    assert {"privacy", "figures", "cox"} <= {".".join(p) for p, w in reads if w}


def test_software_versions_are_what_the_metadata_says():
    """The versions read from the header lines of each distribution's METADATA equal
    those of ``importlib.metadata``'s full parse, for every installed distribution."""
    from importlib import metadata

    from netpet_stats.provenance import software_versions

    expected = {}
    for dist in metadata.distributions():
        if dist.metadata["Name"]:
            expected[dist.metadata["Name"].lower()] = dist.version
    packages = software_versions()["packages"]
    assert packages == dict(sorted(expected.items()))
    assert len(packages) > 50 and "numpy" in packages and "pandas" in packages
    assert list(packages) == sorted(packages)
