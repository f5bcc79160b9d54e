"""Known errors inside a rule end in one readable message, not a traceback.

:func:`netpet_stats.steps.rule_context` is what every rule's script runs in; it
turns the package's known errors into one line on stderr (and the rule's log)
and exit code 1.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from netpet_stats.steps import rule_context
from netpet_stats.steps.sample_size import run
from netpet_stats.validation import frozen_model


def test_a_model_mismatch_in_external_validation_is_one_message(tmp_path, capsys):
    # a hand-written model whose coefficients name a column its covariates cannot build
    model = {"netpet_stats_model": 1, "name": "paper", "strata": None,
             "coefficients": {"age": 0.02, "stage[IV]": 0.3},
             "covariates": {"age": {"type": "continuous"}},
             "baseline_survival": {"horizons": [12.0], "survival": {"all": [0.9]}}}
    data = pd.DataFrame({"age": np.arange(50.0, 60.0)})
    smk = SimpleNamespace(rule="external_validation", log=[str(tmp_path / "step.log")])
    with pytest.raises(SystemExit) as exit_info:
        with rule_context(smk):
            frozen_model.linear_predictor(model, data)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("The frozen model cannot be applied to this cohort: cannot build "
                          "design column(s) ['stage[IV]']")
    assert "Traceback" not in err


def test_a_stratified_model_ends_in_a_message_not_a_traceback(tmp_path, capsys):
    # validate mode may be given a stratified model file; its sample-size job says why it stops
    model = {"netpet_stats_model": 1, "name": "by_centre", "endpoint": "os",
             "strata": ["A", "B"],
             "coefficients": {"x": 0.5}, "covariates": {"x": {"type": "continuous"}},
             "baseline_survival": {"horizons": [12.0], "survival": {"A": [0.9], "B": [0.8]}},
             "development": {"linear_predictor": {"mean": 0.0, "sd": 1.0}}}
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(model))
    config = {"sample_size": {"n_sim": 2, "seed": 1, "horizon": None, "lp_sd": None,
                              "conf_level": 0.95}}
    config["sample_size"].update(sizes=[100], event_fractions=[0.3])
    out = SimpleNamespace(precision=str(tmp_path / "precision.csv"),
                          minimum=str(tmp_path / "minimum_n.csv"),
                          figures=[str(tmp_path / "sample_size.png")])
    smk = SimpleNamespace(rule="sample_size", log=[str(tmp_path / "step.log")])
    with pytest.raises(SystemExit) as exit_info:
        with rule_context(smk, "for the sample-size simulation"):
            run(config, str(path), str(tmp_path / "cells.csv"), out, threads=2)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("The frozen model cannot be applied for the sample-size simulation: "
                          "model 'by_centre' has strata ['A', 'B']")
    assert "Traceback" not in err
    assert not any(tmp_path.glob("*.csv"))


def test_a_full_disk_says_so_and_how_to_resume(tmp_path, capsys):
    import errno

    smk = SimpleNamespace(rule="cox", log=[str(tmp_path / "step.log")])
    with pytest.raises(SystemExit) as exit_info:
        with rule_context(smk):
            raise OSError(errno.ENOSPC, "No space left on device", "results/os/cox.csv")
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("The disk is full while writing results/os/cox.csv (rule cox). "
                          "Free some space and run the same command again")
    assert "Traceback" not in err


def test_another_os_error_is_not_disguised(tmp_path):
    smk = SimpleNamespace(rule="cox", log=[str(tmp_path / "step.log")])
    with pytest.raises(PermissionError):
        with rule_context(smk):
            raise PermissionError(13, "Permission denied", "results/os/cox.csv")


def test_a_horizon_beyond_the_development_follow_up_is_refused(tmp_path, capsys):
    from netpet_stats import fit_cox, freeze

    d = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6, 7, 8.0], "event": [1, 0, 1, 1, 0, 1, 0, 1],
                      "x": [1, 3, 2, 5, 4, 2, 3, 1]})
    fit = fit_cox(d, "time", "event", ["x"], [], {"x": {"type": "continuous"}})
    assert freeze(fit, {}, [8.0], name="m", endpoint="os")   # at the last follow-up: fine
    smk = SimpleNamespace(rule="freeze_model", log=[str(tmp_path / "step.log")])
    with pytest.raises(SystemExit):
        with rule_context(smk):
            freeze(fit, {}, [6.0, 12.0], name="m", endpoint="os")
    err = capsys.readouterr().err
    assert err.startswith("The model cannot be frozen: model 'm': horizon(s) 12 lie beyond the "
                          "last follow-up (8)")


def test_an_html_report_that_fails_is_one_message_and_its_cause_in_the_log(tmp_path, capsys,
                                                                         monkeypatch):
    """The single-machine report rule: a template or table engine that fails ends in one
    message naming the report, its cause and the log; the traceback is in the log only.
    (The tables and figures are other rules' outputs: Snakemake keeps them.)"""
    from types import SimpleNamespace

    from netpet_stats.report import document
    from netpet_stats.steps import report, rule_context

    def broken(*args, **kwargs):
        raise KeyError("fed_hr_os")

    monkeypatch.chdir(tmp_path)
    # the step imports write_report when it runs (the PDF rule shares its module)
    monkeypatch.setattr(document, "write_report", broken)
    log = "logs/report.log"
    (tmp_path / "logs").mkdir()
    out = SimpleNamespace(html="results/report.html",
                          print_copy="intermediate/report/report.print.html")
    smk = SimpleNamespace(rule="report", log=[log])
    with pytest.raises(SystemExit):
        with rule_context(smk):
            report.run_report({"output_folder": "."}, [], out, log)
    err = capsys.readouterr().err
    assert err.strip() == ("The HTML report: results/report.html could not be written "
                           "(KeyError: 'fed_hr_os'). The tables and figures are written by "
                           "other rules and stay in place. The full error is in "
                           "logs/report.log.")
    assert "Traceback" in (tmp_path / log).read_text()


def test_a_cox_fit_error_is_one_message(tmp_path, capsys):
    # rule_context looks the Cox model's error up only once a rule has loaded the module
    from netpet_stats.survival.cox import CoxFitError

    smk = SimpleNamespace(rule="cox", log=[str(tmp_path / "step.log")])
    with pytest.raises(SystemExit) as exit_info:
        with rule_context(smk):
            raise CoxFitError("no event in stratum B")
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.strip() == ("A Cox model cannot be fitted: no event in "
                                               "stratum B")


def test_the_pdf_and_manifest_steps_load_no_analysis_or_table_libraries():
    """The PDF and manifest rules (on the path of every rerun) import neither the Cox
    model nor the report's tables: pandas, scipy, great-tables and matplotlib stay
    unloaded, which saves each job about 0.7 s of CPU."""
    from fresh_process import modules_loaded

    code = ("from netpet_stats.steps import report, rule_context\n"
            "from netpet_stats.report.pdf import font_faces\n"
            "font_faces()\n")
    assert modules_loaded(code, ["pandas", "scipy", "great_tables", "matplotlib"]) == []


def test_the_analysis_steps_that_draw_nothing_do_not_load_matplotlib():
    """The model's freeze, its bootstrap and the sample-size simulation draw no figure
    (the simulation's figure is a rule of its own): their jobs do not import
    matplotlib (0.3-0.5 s of CPU a job), which the steps that draw import when they
    draw."""
    from fresh_process import modules_loaded

    code = ("from netpet_stats.steps import internal_validation, rule_context, sample_size, "
            "validation\n")
    assert modules_loaded(code, ["matplotlib"]) == []
