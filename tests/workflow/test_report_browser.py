"""The report as a reader sees it: headless Chromium and the PDF rendered to images.

Needs Debian's ``chromium`` (and ``poppler-utils`` for the PDF); ``.ci/run``
installs both, and under CI a missing browser is a failure, not a skip.
Screenshots land in ``tests/_artifacts/`` for people to look at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.workflow

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "_artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IN_CI = os.environ.get("CI") == "true"
SECTIONS = ["summary", "flow", "table1", "survival", "cox", "ph", "competing", "concordance",
            "association", "validation", "methods", "software", "tripod"]


def _require(tool, name):
    if tool is None:
        if IN_CI:
            pytest.fail(f"{name} is required in CI (.ci/run installs it)")
        pytest.skip(f"{name} not installed")


@pytest.fixture(scope="module")
def built_report(workflow_runs):
    return workflow_runs[0] / "results"


def test_report_in_headless_chromium(built_report):
    _require(CHROMIUM, "chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    errors, requests = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto((built_report / "report.html").as_uri(), wait_until="load")
        page.screenshot(path=str(ARTIFACTS / "report_top.png"))
        page.screenshot(path=str(ARTIFACTS / "report_full.png"), full_page=True)
        present = [s for s in SECTIONS if page.locator(f"section#{s}").count() == 1]
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.naturalWidth, e.complete])")
        browser.close()
    assert errors == []
    external = [u for u in requests if not u.startswith(("file://", "data:"))]
    assert external == [], external
    assert present == SECTIONS
    assert images and all(w > 0 and ok for w, ok in images)


def test_pdf_renders(built_report):
    pdftoppm = shutil.which("pdftoppm")
    _require(pdftoppm, "pdftoppm (poppler-utils)")
    ARTIFACTS.mkdir(exist_ok=True)
    subprocess.run([pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "3",
                    str(built_report / "report.pdf"), str(ARTIFACTS / "report_pdf")], check=True)
    pages = sorted(ARTIFACTS.glob("report_pdf-*.png"))
    assert len(pages) == 3 and all(p.stat().st_size > 10_000 for p in pages)
    info = subprocess.run(["pdfinfo", str(built_report / "report.pdf")], capture_output=True,
                          text=True)
    n_pages = int(next(line.split()[-1] for line in info.stdout.splitlines()
                       if line.startswith("Pages:")))
    assert n_pages >= 10


def _numbers_missing_from_pdf(results: Path) -> tuple[set, set]:
    """Numbers of the HTML report's table cells, and those absent from its PDF's text."""
    import html as html_lib
    import re

    pdftotext = shutil.which("pdftotext")
    _require(pdftotext, "pdftotext (poppler-utils)")
    page = (results / "report.html").read_text()
    pdf = subprocess.run([pdftotext, "-layout", str(results / "report.pdf"), "-"],
                         capture_output=True, text=True, check=True).stdout
    number = re.compile(r"\d+\.\d+|\d{2,}")
    cells = [html_lib.unescape(re.sub(r"<[^>]+>", "", c))
             for c in re.findall(r"<td[^>]*>(.*?)</td>", page, re.S)]
    shown = {tok for cell in cells for tok in number.findall(cell)}
    return shown, shown - set(number.findall(pdf))


def test_the_pdf_holds_every_number_of_the_html_tables(built_report):
    """The PDF is the HTML: no table shrunk, cut or dropped (pdftotext of the whole PDF)."""
    shown, missing = _numbers_missing_from_pdf(built_report)
    assert len(shown) > 500                       # the tables are there to compare
    assert missing == set()


def test_the_pdf_is_the_html_on_awkward_cohorts(tmp_path):
    """An empty group, 60+ excluded rows, then validation in four centres: no number lost.

    Each of these crashed or shrank the PDF before (a 60-row patient-flow table, a
    cohort without P5, a 29-row performance-by-centre table).
    """
    from workflow_run import copy_project, run_snakemake

    import pandas as pd

    work = copy_project(tmp_path)
    table = work / "data" / "synthetic" / "cohort.csv"
    cohort = pd.read_csv(table, dtype=str, keep_default_na=False)
    cohort = cohort[cohort["netpet"] != "P5"].reset_index(drop=True)      # an empty group
    cohort.loc[:64, "netpet"] = "P0"                      # 65 rows excluded (in no group)
    cohort.loc[65:69, "os_months"] = ""                   # and 5 without a time
    cohort.to_csv(table, index=False)
    (work / "fast.yaml").write_text("cohort: {lesions: null}\nvalidation: {n_boot: 20}\n"
                                    "sample_size: {enabled: false}\n")
    # developed in the folder config/validate.yaml reads the frozen model from
    proc = run_snakemake(work, "--configfile", "config/develop.yaml", "fast.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    developed = work / "analyses" / "develop" / "results"
    ledger = pd.read_csv(developed / "cohort" / "exclusions.csv")
    assert len(ledger) >= 60
    shown, missing = _numbers_missing_from_pdf(developed)
    assert len(shown) > 300 and missing == set()

    val = work / "data" / "synthetic" / "validation" / "cohort.csv"
    vcohort = pd.read_csv(val, dtype=str, keep_default_na=False)
    vcohort["centre"] = [f"Hospital {k % 4 + 1}" for k in range(len(vcohort))]
    vcohort = vcohort[vcohort["netpet"] != "P5"]         # a group empty here, not in the model
    vcohort.to_csv(val, index=False)
    proc = run_snakemake(work, "--configfile", "config/validate.yaml", "fast.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    validated = work / "analyses" / "validate" / "results"
    centres = pd.read_csv(validated / "validation" / "centres.csv")
    assert centres["centre"].astype(str).str.startswith("Hospital").sum() >= 4 * 3
    shown, missing = _numbers_missing_from_pdf(validated)
    assert len(shown) > 300 and missing == set()
