"""Rules report and manifest: the reproducible appendix and its provenance."""

from __future__ import annotations

from ..provenance import display_config, in_analysis_folder, write_manifest
from ..report.errors import rendering
from ..report.pdf import typeset
from ._runner import shown_path


def run_report(config: dict, inputs: list[str], out, log: str | None = None) -> None:
    """HTML report and its print copy (for the PDF) from exactly the rule's input files.

    The configuration it prints names the user's files by their display names
    (:func:`netpet_stats.provenance.display_path`), never by a path of this machine.
    The frozen model a validate run applied (``validation.model_file``, among the
    inputs wherever it lies) is handed over by its role, so the report prints its
    equation. A report that cannot be written is one message (:mod:`..report.errors`):
    the tables and figures, written by rules of their own, stay.
    """
    # imported here, not at the top: the report's tables (pandas, great-tables) are
    # half a second of imports that the PDF rule, which shares this module, never uses
    from ..report.document import write_report

    model = (config.get("validation") or {}).get("model_file")
    with rendering(shown_path(out.html), "The HTML report",
                   "The tables and figures are written by other rules and stay in place.",
                   shown_path(log) if log else None):
        write_report(display_config(config), inputs, out.html,
                     root=in_analysis_folder(config, "results"), print_path=out.print_copy,
                     model_path=model if model in inputs else None)


def run_report_pdf(print_copy: str, pdf: str) -> None:
    """The PDF report: the print copy typeset (its own rule, so a failure costs it alone)."""
    typeset(print_copy, pdf)


def run_manifest(config: dict, data: list[str], results: list[str], workflow_dir: str,
                 out) -> None:
    """SHA-256 of every input and output, resolved config, versions, git state, seeds."""
    write_manifest(config, data, results, workflow_dir, out.manifest, out.run_record)
