"""Rules report and manifest: the reproducible appendix and its provenance."""

from __future__ import annotations

from ..provenance import write_manifest
from ..report.document import write_report
from ..report.pdf import typeset


def run_report(config: dict, inputs: list[str], out) -> None:
    """HTML report and its print copy from exactly the files the rule declares as input."""
    write_report(config, inputs, out.html, print_path=out.print_copy)


def run_report_pdf(print_copy: str, pdf: str) -> None:
    """The PDF report: the print copy typeset (its own rule, so a failure costs it alone)."""
    typeset(print_copy, pdf)


def run_manifest(config: dict, data: list[str], results: list[str], workflow_dir: str,
                 out) -> None:
    """SHA-256 of every input and output, resolved config, versions, git state, seeds."""
    write_manifest(config, data, results, workflow_dir, out.manifest, out.run_record)
