"""Rules report and manifest: the reproducible appendix and its provenance."""

from __future__ import annotations

from ..provenance import display_config, in_analysis_folder, write_manifest
from ..report.document import write_report


def run_report(config: dict, inputs: list[str], out) -> None:
    """HTML and PDF report from exactly the files the rule declares as input.

    The configuration it prints names the user's files by their display names
    (:func:`netpet_stats.provenance.display_path`), never by a path of this machine.
    """
    write_report(display_config(config), inputs, out.html, out.pdf,
                 root=in_analysis_folder(config, "results"))


def run_manifest(config: dict, data: list[str], results: list[str], workflow_dir: str,
                 out) -> None:
    """SHA-256 of every input and output, resolved config, versions, git state, seeds."""
    write_manifest(config, data, results, workflow_dir, out.manifest, out.run_record)
