"""Rules report and manifest: the reproducible appendix and its provenance."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from ..provenance import display_config, in_analysis_folder, write_manifest
from ..report.document import write_report
from ..report.pdf import typeset


@contextmanager
def _working_folder(path: str | Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_report(config: dict, inputs: list[str], out) -> None:
    """HTML report and its print copy (for the PDF) from exactly the rule's input files.

    The configuration it prints names the user's files by their display names
    (:func:`netpet_stats.provenance.display_path`), never by a path of this machine.
    The report finds the frozen model it describes (validate mode) under
    ``validation.model_file``; a model outside the working folder is displayed by
    its name alone, so the report is then written from the folder in which that
    name leads to the file (every other path made absolute).
    """
    shown = display_config(config)
    root = in_analysis_folder(config, "results")
    model = (config.get("validation") or {}).get("model_file")
    name = (shown.get("validation") or {}).get("model_file")
    if model not in inputs or name == model:
        write_report(shown, inputs, out.html, root=root, print_path=out.print_copy)
        return
    base = Path(os.path.abspath(model)).parents[len(Path(name).parts) - 1]
    files = [name if p == model else os.path.abspath(p) for p in inputs]
    html, print_copy, root = (os.path.abspath(p) for p in (out.html, out.print_copy, root))
    with _working_folder(base):
        write_report(shown, files, html, root=root, print_path=print_copy)


def run_report_pdf(print_copy: str, pdf: str) -> None:
    """The PDF report: the print copy typeset (its own rule, so a failure costs it alone)."""
    typeset(print_copy, pdf)


def run_manifest(config: dict, data: list[str], results: list[str], workflow_dir: str,
                 out) -> None:
    """SHA-256 of every input and output, resolved config, versions, git state, seeds."""
    write_manifest(config, data, results, workflow_dir, out.manifest, out.run_record)
