"""The coordinator's report of a consortium of five sites, typeset to PDF.

xhtml2pdf stopped on the coordinator's report of a four-site consortium ("flowable given
negative availWidth"), and the tables written in the same job were deleted with it. The
coordinator's tables (steps.federation.run_results), its HTML report and print copy
(steps.federation_report.run_report) and the PDF, typeset from the print copy, are now
three rules.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from netpet_stats import load_config, prepare_cohort
from netpet_stats.federated import protocol
from netpet_stats.report.pdf import typeset
from netpet_stats.steps import federation, federation_report
from netpet_stats.steps._common import load_analysis

from federation_sim import run_federation

SITES = [f"H{k}" for k in range(1, 6)]


class _Outputs:
    """The rule's named outputs, as Snakemake hands them to the script."""

    def __init__(self, folder: Path):
        self._folder = folder

    def __getattr__(self, name: str) -> str:
        suffix = {"report": "report.html", "print_copy": "report.print.html"}.get(name)
        return str(self._folder / (suffix or f"{name}.csv"))


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory):
    base = tmp_path_factory.mktemp("five_sites")
    cfg = load_config(overrides={"federation": {
        "role": "coordinator", "sites": SITES, "exchange": str(base / "exchange"),
        "km_tier": "rounded"}})
    path = base / "analysis.parquet"
    prepare_cohort(cfg).data.to_parquet(path)
    data = load_analysis(path, cfg)
    data["centre"] = [SITES[k % 5] for k in range(len(data))]
    frames = {site: data[data["centre"] == site] for site in SITES}
    _, answers, _ = run_federation(federation.spec(cfg), frames)
    paths = []
    for number, round_answers in enumerate(answers, start=1):
        for site, bundle in round_answers.items():
            answer = protocol.answer_path(cfg["federation"]["exchange"], number, site)
            Path(answer).parent.mkdir(parents=True, exist_ok=True)
            protocol.write_bundle(bundle, answer)
            paths.append(str(answer))
    out = base / "results"
    out.mkdir()
    federation.run_results(cfg, paths, _Outputs(out))
    federation_report.run_report(cfg, paths, _Outputs(out))
    return out


def test_the_coordinators_report_of_five_sites_is_typeset(coordinator):
    typeset(coordinator / "report.print.html", coordinator / "report.pdf")
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    text = subprocess.run([pdftotext, "-layout", str(coordinator / "report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    # every site in the sites table, and every number of the HTML's tables in the PDF
    assert all(re.search(rf"\b{site}\b", text) for site in SITES)
    page = (coordinator / "report.html").read_text()
    cells = re.findall(r"<td[^>]*>(.*?)</td>", page, re.S)
    number = re.compile(r"\d+\.\d+|\d{2,}")
    shown = {tok for cell in cells
             for tok in number.findall(html.unescape(re.sub(r"<[^>]+>", "", cell)))}
    assert len(shown) > 100 and shown - set(number.findall(text)) == set()
    assert re.search(r"Page 1 of \d+", text) and "Contents" in text
