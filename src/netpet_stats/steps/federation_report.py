"""Rule federation_report: the coordinator's HTML report and its print copy.

A rule of its own, after the pooled tables (rule ``federation_results``): a report
that cannot be written leaves the tables, and says so in one message. The report
machinery is imported here only, so that planning a round or writing the tables never
loads it.
"""

from __future__ import annotations

from ..report.errors import rendering
from . import federation
from ._runner import shown_path


def run_report(config: dict, answers: list[str], out, log: str | None = None) -> None:
    """The coordinator's report (HTML and print copy) from the same answers as the tables.

    The pooled tables are recomputed from the answers (the exchange is deterministic),
    so the report shows exactly the numbers of ``results/federation/*.csv``.
    """
    sp, state, tables = federation.pooled_tables(config, answers)
    with rendering(shown_path(out.report), "The coordinator's report",
                   "The pooled tables are written by rule federation_results and stay in "
                   "place (results/federation/*.csv).", shown_path(log) if log else None):
        from ..report.federation import write_federation_report

        write_federation_report(config, sp, state, tables, out.report,
                                print_path=out.print_copy)
