"""End to end: the Snakemake workflow on the bundled cohort, as a user runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import netpet_stats as ns
from netpet_stats.config import load_config
from netpet_stats.validation.frozen_model import linear_predictor
from workflow_run import copy_project, run_snakemake

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.workflow


EXPECTED = [
    "report.html", "report.pdf", "manifest.json", "run_record.json",
    "cohort/exclusions.csv", "cohort/flow.csv", "cohort/netpet_distribution.csv",
    "table1/table1.csv", "association/netpet_by_grade_tests.csv",
    *[f"{ep}/{name}" for ep in ("os", "ttp") for name in (
        "km_curves.csv", "km_summary.csv", "km_landmarks.csv", "km_risk_table.csv",
        "follow_up.csv", "logrank.csv", "cox_coefficients.csv", "cox_tests.csv",
        "ph_test.csv", "ph_residuals.csv", "concordance.csv", "concordance_comparison.csv")],
    *[f"figures/{kind}_{ep}.{fmt}" for kind in ("km", "forest", "schoenfeld")
      for ep in ("os", "ttp") for fmt in ("png", "pdf")],
    "validation/case_mix.csv", "figures/case_mix.png",
    "manuscript/tables.docx", "manuscript/hazard_ratios_os.csv",
    "manuscript/hazard_ratios_ttp.csv",
]


def test_the_word_tables_hold_the_same_numbers_as_the_results(workflow_runs):
    """python-docx reads the manuscript tables back: Table 1 and the hazard ratios."""
    from netpet_stats.report.manuscript import read_docx_tables

    from docx import Document

    results = workflow_runs[0] / "results"
    docx = read_docx_tables(results / "manuscript" / "tables.docx")
    assert len(docx) == 3                              # Table 1, OS, TTP
    # the methods, with their references, open the document and are in methods.md
    paragraphs = [p.text for p in Document(str(results / "manuscript" / "tables.docx")).paragraphs]
    methods_md = (results / "manuscript" / "methods.md").read_text()
    first = next(p for p in paragraphs if p.startswith("Patients were grouped"))
    assert first in methods_md and "## References" in methods_md
    t1 = pd.read_csv(results / "table1" / "table1.csv", keep_default_na=False, dtype=str)
    overall = [row[1] for row in docx[0][1:]]          # Characteristic, Overall, groups...
    assert set(t1["Overall"]) <= set(overall) | {""}
    assert "Missing" in [row[0] for row in docx[0]]   # a row, not a column
    for table, ep in zip(docx[1:], ("os", "ttp")):
        csv = pd.read_csv(results / "manuscript" / f"hazard_ratios_{ep}.csv",
                          keep_default_na=False, dtype=str)
        # the same cells; the levels are indented by the paragraph, not by typed spaces
        assert table[0][1:] == ["Univariable"] * 4 + ["Multivariable"] * 2
        assert table[1] == ["Characteristic", "n", "Events", "HR (95% CI)", "p",
                            "HR (95% CI)", "p"]
        # the CSV is tidy: a level in its own column, no heading row without values,
        # no leading spaces
        assert not csv["Characteristic"].str.startswith(" ").any()
        with_values = [row for row in table[2:] if any(row[1:])]
        assert with_values == [[r["Level"] or r["Characteristic"], *r.iloc[2:].tolist()]
                               for _, r in csv.iterrows()]
        # the multivariable column is the primary model of the Cox table
        coefs = pd.read_csv(results / ep / "cox_coefficients.csv")
        p5 = coefs[(coefs["model"] == "primary") & (coefs["level"] == "P5")].iloc[0]
        row = next(r for r in table if r[0] == "P5")
        assert row[5] == f"{p5['hr']:.2f} ({p5['hr_lower']:.2f}–{p5['hr_upper']:.2f})"


def test_all_outputs_written_with_markdown_copies(workflow_runs):
    results = workflow_runs[0] / "results"
    for rel in EXPECTED:
        assert (results / rel).is_file(), rel
        if rel.endswith(".csv") and rel != "manifest.json":
            assert (results / rel).with_suffix(".md").is_file(), rel


def test_reruns_are_byte_identical(workflow_runs):
    # Everything, report, PDF and manifest included; only the run record (time, host)
    # may differ, and it is kept apart for that reason.
    a, b = (run / "results" for run in workflow_runs)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    assert len(files_a) > 60
    differing = [str(p) for p in files_a if (a / p).read_bytes() != (b / p).read_bytes()]
    assert differing in ([], ["run_record.json"])


def test_manifest_records_every_output_and_input(workflow_runs):
    import hashlib
    import json

    work = workflow_runs[0]
    manifest = json.loads((work / "results" / "manifest.json").read_text())
    written = {str(p.relative_to(work)) for p in (work / "results").rglob("*") if p.is_file()}
    assert set(manifest["outputs"]) == written - {"results/manifest.json", "results/run_record.json"}
    for rel, digest in {**manifest["outputs"], **manifest["inputs"]}.items():
        assert hashlib.sha256((work / rel).read_bytes()).hexdigest() == digest, rel
    assert "data/synthetic/cohort.csv" in manifest["inputs"]
    assert manifest["seeds"] == {"seed": 1, "synthetic.seed": 164}
    assert manifest["config"]["kaplan_meier"]["conf_type"] == "log"
    assert manifest["software"]["packages"]["lifelines"] == "0.30.3"
    assert manifest["workflow"]["commit"] is None  # the test copy is not a git checkout
    record = json.loads((work / "results" / "run_record.json").read_text())
    assert record["manifest_sha256"] == hashlib.sha256(
        (work / "results" / "manifest.json").read_bytes()).hexdigest()


def test_nothing_to_do_when_nothing_changed(workflow_runs):
    proc = run_snakemake(workflow_runs[0], "-n")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_a_changed_setting_reruns_what_it_may_change(workflow_runs, tmp_path):
    """Snakemake tracks params, not the config: every rule carries the config's digest.

    Before, a new CI type or figure width left the old results in place as if new.
    """
    override = tmp_path / "plain.yaml"
    override.write_text("kaplan_meier: {conf_type: plain}\n")
    proc = run_snakemake(workflow_runs[0], "-n", "--configfile", str(override))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-2000:]
    assert "Nothing to be done" not in out
    assert "rule survival_by_group:" in out and "Params have changed" in out


def test_figures_in_one_format_still_give_the_report_its_pngs(tmp_path):
    """A configuration asking for PDF figures only used to leave the report without inputs.

    The HTML report embeds the PNG and the PDF report the SVG, so both are written."""
    work = copy_project(tmp_path / "pdf_only")
    override = tmp_path / "pdf.yaml"
    override.write_text("figures: {formats: [pdf]}\n")
    proc = run_snakemake(work, "-n", "--configfile", str(override))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-2000:]
    assert "results/figures/km_os.pdf" in out and "results/figures/km_os.png" in out
    assert "results/figures/km_os.svg" in out and "results/figures/km_os.tiff" not in out


#: A typesetting engine that fails as xhtml2pdf did on a four-site coordinator's report
#: (weasyprint for this code, xhtml2pdf for the code before it).
BROKEN_ENGINES = {
    "weasyprint/__init__.py": (
        "class URLFetcher:\n    def __init__(self, **kwargs): pass\n"
        "class CSS:\n    def __init__(self, **kwargs): pass\n"
        "class HTML:\n    def __init__(self, **kwargs): pass\n"
        "    def write_pdf(self, *args, **kwargs):\n"
        "        raise ValueError('flowable given negative availWidth')\n"),
    "weasyprint/text/__init__.py": "",
    "weasyprint/text/fonts.py": "class FontConfiguration:\n    pass\n",
    "xhtml2pdf/__init__.py": "",
    "xhtml2pdf/pisa.py": (
        "def CreatePDF(*args, **kwargs):\n"
        "    raise ValueError('flowable given negative availWidth')\n"),
}


def test_a_pdf_that_cannot_be_typeset_costs_the_pdf_alone(tmp_path):
    """The tables, the HTML report and the print copy stay; one message says why.

    The PDF was written by the job that wrote the HTML (the coordinator's: with its
    tables), so Snakemake deleted them all with the failed job's outputs."""
    import os

    work = copy_project(tmp_path / "work")
    shutil.copytree(ROOT / ".test", work / ".test")
    engines = tmp_path / "engines"
    for rel, text in BROKEN_ENGINES.items():
        (engines / rel).parent.mkdir(parents=True, exist_ok=True)
        (engines / rel).write_text(text)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(engines), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = run_snakemake(work, "--configfile", ".test/config/config.yaml", "--keep-going",
                         env=env)
    assert proc.returncode != 0
    results = work / "results"
    assert not (results / "report.pdf").exists()
    assert (results / "report.html").is_file()
    assert (work / "intermediate" / "report" / "report.print.html").is_file()
    for rel in ("os/cox_coefficients.csv", "pfs/km_summary.csv", "cohort/flow.csv",
                "competing_risks/models.csv", "manuscript/tables.docx", "table1/table1.csv"):
        assert (results / rel).is_file(), rel
    out = proc.stdout + proc.stderr
    message = ("The PDF report: results/report.pdf could not be typeset (ValueError: flowable "
               "given negative availWidth). The tables and the HTML report are written by "
               "other rules and stay in place")
    assert out.count(message) == 1 and "Traceback" not in out


def test_no_patient_identifiers_in_results_or_logs(workflow_runs):
    ids = pd.read_csv(ROOT / "data" / "synthetic" / "cohort.csv")["patient_id"]
    for folder in ("results", "logs"):
        for path in (workflow_runs[0] / folder).rglob("*"):
            if path.suffix in {".csv", ".md", ".log", ".html", ".json"}:
                text = path.read_text()
                assert not any(pid in text for pid in ids), path


def test_published_pattern_reproduced(workflow_runs):
    results = workflow_runs[0] / "results"
    for ep in ("os", "ttp"):
        med = pd.read_csv(results / ep / "km_summary.csv").set_index("group")["median"]
        # Ordered P1 > P2-4 > P5, as in Chan et al. 2023.
        assert med["P1"] > med["P2-4"] > med["P5"]
        lr = pd.read_csv(results / ep / "logrank.csv").set_index("test")
        assert lr.loc["log-rank", "p"] < 0.01
    flow = pd.read_csv(results / "cohort" / "flow.csv")
    received = flow.loc[flow["step"] == "input rows", "n"].item()
    excluded = flow.loc[(flow["analysis"] == "all") & (flow["step"] == "excluded"), "n"].sum()
    eligible = flow.loc[flow["step"] == "eligible", "n"].item()
    assert received == 319 and excluded + eligible == received


def test_malformed_cohort_gives_one_readable_error(tmp_path):
    work = copy_project(tmp_path)
    cohort = pd.read_csv(work / "data" / "synthetic" / "cohort.csv", dtype=str,
                         keep_default_na=False)
    cohort.loc[0, "os_months"] = "about a year"
    cohort.loc[1, "who_grade"] = "G4"
    cohort.loc[3, "patient_id"] = cohort.loc[2, "patient_id"]
    cohort = cohort.drop(columns=["os_event"])
    cohort.to_csv(work / "data" / "synthetic" / "cohort.csv", index=False)
    proc = run_snakemake(work)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    for expected in ("column 'os_event': got (column absent)",
                     # free text is described, not quoted (it could be a name)
                     "row 2, column 'os_months': got (text of 12 characters, not shown)",
                     "row 3, column 'who_grade': got 'G4'",
                     "row 4, column 'patient_id': got (value withheld)",
                     "row 5, column 'patient_id': got (value withheld)",
                     "Full report: logs/validation_report.txt"):
        assert expected in out, expected
    # The full report, grouped by the rule broken, is kept out of results/.
    full = (work / "logs" / "validation_report.txt").read_text()
    assert ("expected a number with a decimal point, such as 12.5 (no thousands separators) (1):"
            in full and "expected a unique value" in full)
    assert cohort.loc[2, "patient_id"] not in full + out
    assert not (work / "results" / "os").exists()


def test_bundled_cohort_is_the_generator_output(tmp_path):
    from netpet_stats.netpet.synthetic import write_synthetic

    seed = load_config(base=ROOT / "config" / "config.yaml")["synthetic"]["seed"]
    for path in write_synthetic(str(tmp_path), seed):
        assert path.read_bytes() == (ROOT / "data" / "synthetic" / path.name).read_bytes()


def test_results_tables_equal_r_fixtures(workflow_runs):
    """The numbers the workflow writes are R's numbers (wiring, not just the functions)."""
    import json

    import numpy as np

    ref = json.loads((ROOT / "tests" / "survival" /
                      "survival_reference.json").read_text())
    results = workflow_runs[0] / "results"

    def close(a, b, rtol=1e-6):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)

    for ep in ("os", "ttp"):
        summary = pd.read_csv(results / ep / "km_summary.csv").set_index("group")
        for entry in ref["km"]:
            if entry["dataset"] == "synthetic" and entry["conf_type"] == "log" and \
                    entry["subset"].startswith(f"{ep}:"):
                group = entry["subset"].split(":")[1]
                got = summary.loc[group, ["median", "median_lower", "median_upper"]]
                want = [np.nan if v is None else v for v in
                        (entry["quantile"][1], entry["quantile_lower"][1], entry["quantile_upper"][1])]
                close(got.to_numpy(float), np.array(want, float))
        lr = pd.read_csv(results / ep / "logrank.csv").set_index("test")
        for entry in ref["logrank"]:
            if entry["dataset"] == "synthetic" and entry["subset"] == ep:
                test = "stratified log-rank" if entry["stratified"] else "log-rank"
                close(lr.loc[test, "chisq"], entry["chisq"])
                if not entry["stratified"]:
                    close(lr.loc["log-rank trend", "chisq"], entry["trend_chisq"])
        coefs = pd.read_csv(results / ep / "cox_coefficients.csv")
        zph = pd.read_csv(results / ep / "ph_test.csv")
        primary = next(e for e in ref["cox"] if e["subset"] == f"{ep}:primary")
        close(coefs[coefs["model"] == "primary"]["coef"].to_numpy(), primary["coef"])
        km_zph = next(z for z in primary["zph"] if z["transform"] == "km")
        close(zph[zph["model"] == "primary"]["chisq"].to_numpy(), km_zph["chisq"])
        conc = pd.read_csv(results / ep / "concordance.csv")
        harrell = conc[conc["estimator"] == "Harrell"].set_index("predictor")
        for entry in ref["concordance"]:
            if entry["dataset"] == "synthetic" and entry["subset"] in (
                    f"{ep}:netpet_group", f"{ep}:grade", f"{ep}:ki67"):
                name = entry["subset"].split(":")[1]
                close(harrell.loc[name, ["c", "se"]].to_numpy(float), [entry["c"], entry["se"]])
        close(harrell.loc["primary", ["c", "se"]].to_numpy(float),
              [primary["concordance"], primary["concordance_se"]])
        uno = conc[conc["estimator"] == "Uno"].set_index("predictor")
        for entry in ref["concordance_weighted"]:
            if entry["subset"] in (f"{ep}:netpet_group", f"{ep}:ki67"):
                name = entry["subset"].split(":")[1]
                close(uno.loc[name, ["c", "se"]].to_numpy(float), [entry["c"], entry["se"]])
        cmp = pd.read_csv(results / ep / "concordance_comparison.csv").set_index(["first", "second"])
        entry = next(e for e in ref["concordance_comparison"]
                     if e["subset"] == f"{ep}:netpet_group_vs_grade")
        var = np.asarray(entry["var"])
        close(cmp.loc[("netpet_group", "grade"), "se"], np.sqrt(var[0, 0] + var[1, 1] - 2 * var[0, 1]))
    assoc = pd.read_csv(results / "association" / "netpet_by_grade_tests.csv").set_index("test")
    fisher = next(e for e in ref["association"] if e["subset"] == "group_x_grade")
    close(assoc.loc["exact", "p"], fisher["fisher_p"])
    close(assoc.loc["Pearson chi-square", "statistic"], fisher["chisq"])


def test_per_centre_spreadsheets_run_by_config_alone(tmp_path):
    work = copy_project(tmp_path)
    proc = run_snakemake(work, "--configfile", "config/centres.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    received = sum(len(pd.read_excel(f, sheet_name="patients"))
                   for f in sorted((work / "data" / "synthetic" / "centres").glob("*.xlsx")))
    flow = pd.read_csv(work / "results" / "cohort" / "flow.csv", keep_default_na=False)
    assert flow.loc[flow["step"] == "input rows", "n"].item() == received
    excluded = flow.loc[(flow["analysis"] == "all") & (flow["step"] == "excluded"), "n"].sum()
    eligible = flow.loc[flow["step"] == "eligible", "n"].item()
    assert excluded + eligible == received
    for ep in ("os", "ttp"):
        lost = flow.loc[(flow["analysis"] == ep) & (flow["step"] == "excluded"), "n"].sum()
        analysed = flow.loc[(flow["analysis"] == ep) & flow["step"].str.startswith("analysed"), "n"]
        assert lost + analysed.item() == eligible
    ledger = pd.read_csv(work / "results" / "cohort" / "exclusions.csv")
    # a row is identified by its file's path as the configuration gives it
    assert set(ledger["file"]) <= {f"data/synthetic/centres/centre_{c}.xlsx" for c in "ABC"}
    assert (work / "results" / "figures" / "patient_flow.png").is_file()
    assert (work / "results" / "report.html").is_file()


def test_an_ordinary_user_cohort_without_p5_and_with_markup_gets_its_report(tmp_path):
    """No P5 patient (an empty published group) and a centre named like an HTML tag.

    The whole workflow runs; the PDF is written (it crashed on an empty group); the
    score distribution lists P5 with 0 patients in its group; the centre's name is
    shown as text in the report, which requests nothing from another host.
    """
    work = copy_project(tmp_path)
    table = work / "data" / "synthetic" / "cohort.csv"
    cohort = pd.read_csv(table, dtype=str, keep_default_na=False)
    cohort = cohort[cohort["netpet"] != "P5"]
    evil = '<img src="http://example.invalid/x.png">'
    cohort.loc[cohort["centre"] == "C", "centre"] = evil
    cohort.to_csv(table, index=False)
    (work / "fast.yaml").write_text("cohort: {lesions: null}\nvalidation: {n_boot: 20}\n"
                                    "sample_size: {enabled: false}\n")
    proc = run_snakemake(work, "--configfile", "fast.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (work / "results" / "report.html").read_text()
    assert "<img src=\"http://example.invalid" not in html
    assert "&lt;img src=" in html    # the centre's name, shown as text
    assert (work / "results" / "report.pdf").read_bytes().startswith(b"%PDF")
    dist = pd.read_csv(work / "results" / "cohort" / "netpet_distribution.csv",
                       keep_default_na=False).set_index("netpet")
    assert (dist.loc["P5", "n"], dist.loc["P5", "analysis_group"]) == (0, "P5")


def test_broken_centre_spreadsheets_give_one_report(tmp_path):
    from openpyxl import load_workbook

    work = copy_project(tmp_path)
    centres = work / "data" / "synthetic" / "centres"
    wb = load_workbook(centres / "centre_B.xlsx")
    ws = wb["patients"]
    header = [c.value for c in ws[1]]
    col = {name: header.index(name) + 1 for name in header}
    ws.cell(row=2, column=col["death_date"]).value = "31/02/2021"        # impossible date
    ws.cell(row=3, column=col["who_grade"]).value = "G4"                 # unknown grade
    ws.cell(row=4, column=col["last_follow_up_date"]).value = "2031-05-01"  # after the cut-off
    a_id = load_workbook(centres / "centre_A.xlsx")["patients"].cell(row=2, column=1).value
    ws.cell(row=5, column=1).value = a_id                                # id also in centre A
    wb.save(centres / "centre_B.xlsx")
    wb = load_workbook(centres / "centre_C.xlsx")
    wb["patients"].delete_cols(header.index("sex") + 1)                  # a column missing
    wb.save(centres / "centre_C.xlsx")
    proc = run_snakemake(work, "--configfile", "config/centres.yaml")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out
    full = (work / "logs" / "validation_report.txt").read_text()
    for expected in ("centre_B.xlsx, row 2, column 'death_date': got '31/02/2021'",
                     "centre_B.xlsx, row 3, column 'who_grade': got 'G4'",
                     "centre_B.xlsx, row 4, column 'last_follow_up_date'",
                     "centre_B.xlsx, row 5, column 'patient_id': got (value withheld)",
                     "centre_A.xlsx, row 2, column 'patient_id': got (value withheld)",
                     "centre_C.xlsx, header, column 'sex': got (column absent)"):
        assert expected in full, expected
    assert a_id not in full + out


#: A folder name of the user's machine (as a login name is): no output may contain it.
MARK = "jdoe-4711"


@pytest.fixture(scope="module")
def analyses(tmp_path_factory):
    """Develop, then validate, each in its own folder (config/develop.yaml, validate.yaml).

    Run from a project inside the user's own folders (named ``MARK``), with every input
    named by its absolute path as a user's configuration may name it, and the
    validation cohort outside the project. With NETPET_CHECK_SETTINGS=1 every rule
    fails if it reads a setting its ``settings`` digest does not cover.
    """
    import yaml

    home = tmp_path_factory.mktemp(MARK)
    work = copy_project(home / "netpet")
    share = home / "hospital share"                  # outside the working folder
    share.mkdir()
    outside = share / "validation_cohort.csv"
    outside.write_bytes((work / "data" / "synthetic" / "validation" / "cohort.csv").read_bytes())
    data = work / "data" / "synthetic"
    (work / "mine_develop.yaml").write_text(yaml.safe_dump({"cohort": {
        "table": str(data / "cohort.csv"), "lesions": str(data / "lesions.csv")}}))
    env = {**os.environ, "NETPET_CHECK_SETTINGS": "1"}
    develop = ("--configfile", "config/develop.yaml", "mine_develop.yaml")
    validate = ("--configfile", "config/validate.yaml", "mine_validate.yaml")
    proc = run_snakemake(work, *develop, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = work / "analyses" / "develop" / "results" / "model"
    frozen = {p.name: p.read_bytes() for p in model.iterdir()}
    # the model as a colleague sent it, outside the project; the others read in place
    (share / "frozen_model.yaml").write_bytes(frozen["frozen_model.yaml"])
    (work / "mine_validate.yaml").write_text(yaml.safe_dump({
        "cohort": {"table": str(outside)},
        "validation": {"model_file": str(share / "frozen_model.yaml"),
                       "fine_gray_file": str(model / "frozen_fine_gray.yaml"),
                       "added_value": {"base_file": str(model / "added_value_base.yaml"),
                                       "extended_file": str(model / "added_value_extended.yaml")}}}))
    proc = run_snakemake(work, *validate, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return SimpleNamespace(work=work, home=home, develop=develop, validate=validate,
                           frozen=frozen, outside=outside)


def test_develop_and_validate_side_by_side_in_their_folders(analyses):
    import yaml

    work = analyses.work
    dev = work / "analyses" / "develop" / "results"
    val = work / "analyses" / "validate" / "results"
    # nothing in the default folder: each analysis wrote into its own
    assert not (work / "results").exists() and not (work / "intermediate").exists()
    for folder in ("develop", "validate"):
        assert {p.name for p in (work / "analyses" / folder).iterdir()} == {
            "results", "intermediate", "logs"}
    # each folder holds exactly its configuration's outputs, listed in its manifest
    for results in (dev, val):
        manifest = json.loads((results / "manifest.json").read_text())
        written = {p.relative_to(results.parent).as_posix()
                   for p in results.rglob("*") if p.is_file()}
        assert set(manifest["outputs"]) == written - {"results/manifest.json",
                                                      "results/run_record.json"}
    assert not (val / "model").exists() and not (dev / "validation" / "discrimination.csv").exists()

    model_path = dev / "model" / "frozen_model.yaml"
    model = yaml.safe_load(model_path.read_bytes())
    # the frozen coefficients are the development fit of the chosen model
    coefs = pd.read_csv(dev / "os" / "cox_coefficients.csv")
    devc = coefs[coefs["model"] == model["name"]]["coef"].to_numpy()
    # (the CSV carries 10 significant digits)
    assert list(model["coefficients"].values()) == pytest.approx(devc, rel=1e-9)
    assert "cohort.csv" in model["provenance"]["data_sha256"]
    # develop mode validates the model internally
    opt = pd.read_csv(dev / "validation" / "optimism.csv")
    opt = opt[opt["model"] == model["name"]].set_index("measure")   # (and the added-value pair)
    assert opt.loc["Harrell's C", "n_boot"] == 200 and opt.loc["Harrell's C", "seed"] == 1
    assert opt.loc["Harrell's C", "corrected"] < opt.loc["Harrell's C", "apparent"]
    assert "bootstrap optimism: 200 of 200 resamples used, seed 1" in (
        dev.parent / "logs" / "optimism_bootstrap.log").read_text()
    iecv = pd.read_csv(dev / "validation" / "iecv.csv")
    assert set(iecv["centre"]) == {"A", "B", "C", "pooled (random effects)"}
    assert (dev / "figures" / "validation_iecv.png").is_file()
    html = (dev / "report.html").read_text()
    assert "validation_optimism" in html and "validation_iecv" in html
    assert "validation_disc" not in html
    # the sample-size simulation: every grid cell in one job, n_sim cohorts each,
    # gathered into one table
    cfg = load_config(base=work / "config" / "config.yaml")["sample_size"]
    cohorts = pd.read_csv(dev.parent / "intermediate" / "sample_size" / "simulated_cohorts.csv")
    per_cell = cohorts.groupby(["n", "event_fraction"], sort=False).size()
    assert list(per_cell.index) == [(n, f) for n in cfg["sizes"] for f in cfg["event_fractions"]]
    assert (per_cell == cfg["n_sim"]).all()
    precision = pd.read_csv(dev / "sample_size" / "precision.csv")
    assert len(precision) == 3 * len(per_cell) and (precision["n_sim"] == cfg["n_sim"]).all()
    # the model generated the data: slope near 1 at the largest size
    big = precision[(precision["n"] == max(cfg["sizes"])) & (precision["measure"] == "slope")]
    assert ((big["estimate_mean"] - 1).abs() < 4 * big["estimate_sd"] / big["n_used"] ** 0.5).all()
    assert "sample_size" in html and (dev / "figures" / "sample_size.png").is_file()
    assert yaml.safe_load(analyses.frozen["added_value_base.yaml"])["name"] == "grade_ki67"

    # validating read the develop folder's frozen files and never refitted them
    assert {p.name: p.read_bytes() for p in model_path.parent.iterdir()} == analyses.frozen
    _check_competing_validation(work, val)
    delta = pd.read_csv(val / "validation" / "added_value.csv").iloc[0]
    assert (delta["extended"], delta["base"]) == ("netpet_grade_ki67", "grade_ki67")
    # The same comparison through the public API, from the validation cohort and
    # the two frozen files (R's concordance(f1, f2) agreement is in
    # tests/validation/test_rotterdam_gbsg.py); the CSV carries 10 significant digits.
    cfg = load_config([work / "config" / "validate.yaml"], base=work / "config" / "config.yaml")
    cfg["cohort"]["table"] = str(work / cfg["cohort"]["table"])
    data = ns.prepare_cohort(cfg).data
    ext, base = (ns.load_model(model_path.parent / f"added_value_{role}.yaml")
                 for role in ("extended", "base"))
    need = ["os_time", "os_event", *dict.fromkeys([*ext["covariates"], *base["covariates"]])]
    d = data.dropna(subset=need).reset_index(drop=True)
    assert delta["n"] == len(d)
    first, second = (ns.harrell_c(d["os_time"], d["os_event"],
                                  linear_predictor(m, d), ymax=delta["horizon"])
                     for m in (ext, base))
    want = ns.compare_c(first, second)
    for col, key in (("delta_c", "estimate"), ("se", "se"), ("lower", "lower"),
                     ("upper", "upper"), ("p", "p")):
        assert delta[col] == pytest.approx(want[key], rel=1e-8), col
    curves = pd.read_csv(val / "validation" / "risk_group_curves.csv")
    assert sorted(curves["group"].unique()) == [1, 2, 3, 4]
    assert curves["time"].max() == 60
    assert (val / "figures" / "validation_risk_group_curves.png").is_file()
    disc = pd.read_csv(val / "validation" / "discrimination.csv")
    cal = pd.read_csv(val / "validation" / "calibration.csv")
    assert set(disc["measure"]) >= {"Harrell's C", "Uno's C", "time-dependent AUC", "Royston's D"}
    vdata = pd.read_csv(analyses.outside)
    # analysed: an analysis group and every covariate of the frozen model (grade may be missing)
    assert disc["n"].iloc[0] == (vdata["netpet"].ne("P0") & vdata["who_grade"].notna()).sum()
    assert list(cal["horizon"]) == [12, 36, 60]
    assert (val / "figures" / "calibration.png").is_file()
    assert (val / "figures" / "validation_centres.png").is_file()
    centres = pd.read_csv(val / "validation" / "centres.csv")
    assert set(centres["centre"]) == {"D", "E", "pooled (random effects)"}
    assert (centres["tau2"].dropna() >= 0).all() and (centres["i2"].dropna() >= 0).all()
    html = (val / "report.html").read_text()
    assert "validation_disc" in html and "frozen_model_coefficients" in html
    assert "validation_added" in html and "Royston &amp; Altman 2013" in html
    assert "validation_optimism" not in html


def _published_texts(results: Path):
    """Every file under ``results`` as text: as it is, the Word document's XML parts,
    the PDF's text (pdftotext, where installed)."""
    import shutil
    import subprocess
    import zipfile

    for path in sorted(p for p in results.rglob("*") if p.is_file()):
        yield path, path.read_bytes().decode("utf-8", "replace")
        if path.suffix == ".docx":
            with zipfile.ZipFile(path) as docx:
                for name in docx.namelist():
                    yield path / name, docx.read(name).decode("utf-8", "replace")
        if path.suffix == ".pdf" and shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True,
                                  text=True, check=True).stdout
            yield path, text


def test_no_path_of_the_users_machine_in_any_output(analyses):
    """Inputs given by absolute paths under the user's folders (one outside the project).

    Every file under results/ (and the report, the Word tables, the frozen models)
    names them relative to the working folder, or by their name alone when outside
    it. Before, the absolute paths reached report.html, manifest.json, exclusions.csv
    and warnings.csv.
    """
    work = analyses.work
    looked = 0
    for folder in ("develop", "validate"):
        for path, text in _published_texts(work / "analyses" / folder / "results"):
            assert MARK not in text and str(analyses.home) not in text, path
            looked += 1
    assert looked > 150
    # how the inputs are named instead
    dev = json.loads((work / "analyses" / "develop" / "results" / "manifest.json").read_text())
    assert set(dev["inputs"]) == {"data/synthetic/cohort.csv", "data/synthetic/lesions.csv"}
    assert dev["config"]["cohort"]["table"] == "data/synthetic/cohort.csv"
    val = json.loads((work / "analyses" / "validate" / "results" / "manifest.json").read_text())
    assert set(val["inputs"]) == {
        "validation_cohort.csv", "frozen_model.yaml",
        *(f"analyses/develop/results/model/{name}.yaml" for name in (
            "frozen_fine_gray", "added_value_base", "added_value_extended"))}
    assert val["config"]["cohort"]["table"] == "validation_cohort.csv"
    assert val["config"]["validation"]["model_file"] == "frozen_model.yaml"
    assert val["config"]["validation"]["fine_gray_file"] == \
        "analyses/develop/results/model/frozen_fine_gray.yaml"
    # the report still found the model it describes (named frozen_model.yaml)
    html = (work / "analyses" / "validate" / "results" / "report.html").read_text()
    assert "frozen_model_coefficients" in html
    for folder, name in (("develop", "data/synthetic/cohort.csv"),
                         ("validate", "validation_cohort.csv")):
        results = work / "analyses" / folder / "results"
        ledger = pd.read_csv(results / "cohort" / "exclusions.csv")
        assert len(ledger) > 0 and set(ledger["file"]) == {name}, folder
        assert f"table: {name}" in (results / "report.html").read_text()


def _rules_to_run(work: Path, *args: str) -> set[str]:
    proc = run_snakemake(work, "-n", *args)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    return set(re.findall(r"^(?:local)?rule (\w+):", proc.stdout, re.M))


def test_a_changed_setting_reruns_only_the_rules_that_read_it(analyses, tmp_path):
    """Each rule's settings digest covers the keys its step reads, no more, no less.

    Before, one digest of the whole configuration made a new figure width rerun every
    analysis (the Cox models, the bootstrap, the simulation) instead of the figures,
    the report and the analyses that draw their own figures (the cross-validation,
    the case mix); the sample-size figure is drawn apart from its simulation.
    """
    work = analyses.work
    for name, text in (("width.yaml", "figures: {width: single}\n"),
                       ("ci.yaml", "cox: {conf_level: 0.9}\n"),
                       ("groups.yaml", "validation: {risk_groups: 4}\n")):
        (tmp_path / name).write_text(text)
    assert _rules_to_run(work, *analyses.develop) == set()          # nothing changed
    # a figure setting: the figures (also those drawn by validation steps), the report
    assert _rules_to_run(work, *analyses.develop, str(tmp_path / "width.yaml")) == {
        "descriptive_figures", "cox_figures", "cumulative_incidence_figure",
        "internal_external_cv",
        "case_mix", "sample_size_figure", "report", "report_pdf", "manifest", "all"}
    assert _rules_to_run(work, *analyses.validate, str(tmp_path / "width.yaml")) == {
        "descriptive_figures", "cox_figures", "cumulative_incidence_figure",
        "external_validation",
        "case_mix", "sample_size_figure", "report", "report_pdf", "manifest", "all"}
    # an analysis setting: the analysis that reads it and what uses its results
    ci = _rules_to_run(work, *analyses.develop, str(tmp_path / "ci.yaml"))
    assert {"cox", "concordance", "competing_risks", "freeze_model", "cox_figures",
            "manuscript_tables", "report", "manifest"} <= ci
    assert not ci & {"prepare_cohort", "survival_by_group", "table1", "association",
                     "descriptive_figures"}
    groups = _rules_to_run(work, *analyses.validate, str(tmp_path / "groups.yaml"))
    assert "external_validation" in groups
    assert not groups & {"prepare_cohort", "cox", "survival_by_group", "case_mix"}


def test_files_an_earlier_configuration_left_are_set_aside(tmp_path):
    """A rerun in the same folder with another configuration leaves only its own outputs.

    The PDF figures of a run that asked for them, a workflow-report.zip of earlier
    results and a note the user put there are moved to set_aside/<time>/ (and
    listed); an input file inside results/ stays where it is. Before, they stayed
    among the new results.
    """
    import shutil

    work = copy_project(tmp_path / "work")
    shutil.copytree(ROOT / ".test", work / ".test")
    small = ("--configfile", ".test/config/config.yaml", "small.yaml")
    (work / "small.yaml").write_text("output_folder: analyses/small\n"
                                     "figures: {formats: [png, pdf]}\n")
    proc = run_snakemake(work, *small)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = work / "analyses" / "small" / "results"
    before = {p.relative_to(results).as_posix() for p in results.rglob("*") if p.is_file()}
    assert "figures/km_os.pdf" in before
    (results / "workflow-report.zip").write_bytes(b"PK")
    (results / "notes.txt").write_text("my notes")
    shutil.copy(work / ".test" / "data" / "cohort.csv", results / "cohort" / "input.csv")
    (work / "small.yaml").write_text("output_folder: analyses/small\n"
                                     "figures: {formats: [png]}\n"
                                     "cohort: {table: analyses/small/results/cohort/input.csv}\n")
    proc = run_snakemake(work, *small)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stale = sorted({rel for rel in before if rel.endswith(".pdf") and rel.startswith("figures/")}
                   | {"workflow-report.zip", "notes.txt"})
    assert len(stale) > 10
    out = proc.stdout + proc.stderr
    assert f"{len(stale)} file(s) in analyses/small/results/ are not outputs of this " \
           "configuration" in out
    aside = list((work / "analyses" / "small" / "set_aside").iterdir())
    assert len(aside) == 1
    assert sorted(p.relative_to(aside[0] / "results").as_posix()
                  for p in aside[0].rglob("*") if p.is_file()) == stale
    assert (aside[0] / "results" / "notes.txt").read_text() == "my notes"
    for rel in stale:
        assert f"analyses/small/results/{rel}" in out
    # left: exactly this configuration's outputs, and the input
    manifest = json.loads((results / "manifest.json").read_text())
    written = {p.relative_to(results.parent).as_posix() for p in results.rglob("*") if p.is_file()}
    assert written == set(manifest["outputs"]) | {
        "results/manifest.json", "results/run_record.json", "results/cohort/input.csv"}
    assert set(manifest["inputs"]) == {"analyses/small/results/cohort/input.csv"}


def test_each_model_is_fitted_once_per_run(workflow_runs):
    """Cox rule, concordance and freezing share one fit per model and endpoint."""
    cfg = load_config(base=workflow_runs[0] / "config" / "config.yaml")
    n_models = len(cfg["cox"]["univariable"]) + len(cfg["cox"]["models"])
    logs = workflow_runs[0] / "logs"
    fits = sum(path.read_text().count("Cox model fitted:") for path in logs.rglob("*.log"))
    # plus the cause-specific Cox models of the competing-risks step (one per event), and
    # the spline of each continuous covariate of each model (its non-linearity test)
    specs = [[c] for c in cfg["cox"]["univariable"]] + [
        m["covariates"] for m in cfg["cox"]["models"].values()]
    splines = sum(cfg["covariates"][c]["type"] == "continuous" for covs in specs for c in covs)
    assert fits == ((n_models + splines) * len(cfg["endpoints"])
                    + 2 * len(cfg["competing_risks"]["models"]))


def test_bundled_validation_cohort_is_the_generator_output(tmp_path):
    from netpet_stats.netpet.synthetic import write_validation_cohort

    path = write_validation_cohort(str(tmp_path))
    assert path.read_bytes() == (ROOT / "data" / "synthetic" / "validation" / "cohort.csv").read_bytes()


def _check_competing_validation(work, results):
    """The validate run's Fine-Gray table equals the public API on the validation cohort."""
    from netpet_stats.validation.competing import cr_performance, predict_risk

    cfg = load_config([work / "config" / "validate.yaml"], base=work / "config" / "config.yaml")
    cfg["cohort"]["table"] = str(work / cfg["cohort"]["table"])
    data = ns.prepare_cohort(cfg).data
    model = ns.load_model(work / "analyses" / "develop" / "results" / "model" / "frozen_fine_gray.yaml",
                          kind="fine_gray")
    d = data.dropna(subset=["netpet_group", "cr_time", "cr_status", *model["covariates"]])
    d = d.reset_index(drop=True)
    horizons = model["baseline_survival"]["horizons"]
    want = cr_performance(d["cr_time"], d["cr_status"],
                          {h: predict_risk(model, d, h).to_numpy() for h in horizons})
    got = pd.read_csv(results / "validation" / "competing_risks.csv")
    overall = got[got["centre"] == "all"].reset_index(drop=True)
    assert overall["measure"].tolist() == want["measure"].tolist()
    np.testing.assert_allclose(overall["estimate"], want["estimate"], rtol=1e-8)
    assert set(got["centre"]) >= {"all", "D", "E"}
