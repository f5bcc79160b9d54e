"""The error of a report that cannot be written, as one message for the user."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager


class ReportRenderError(Exception):
    """A report could not be written; the message says what stays and where the cause is."""


@contextmanager
def rendering(path, what: str, kept: str, log: str | None = None):
    """Turn any failure while writing the report ``path`` into a :class:`ReportRenderError`.

    The full traceback goes to the rule's log; the message names the report, the
    cause, what other rules wrote and keep (``kept``), and the log. A full disk is
    left to the rule's own message (``OSError`` passes through).

    Examples
    --------
    >>> from netpet_stats.report.errors import ReportRenderError, rendering
    >>> try:
    ...     with rendering("results/report.html", "The HTML report", "The tables stay."):
    ...         raise KeyError("fed_hr_os")
    ... except ReportRenderError as exc:
    ...     print(exc)
    The HTML report: results/report.html could not be written (KeyError: 'fed_hr_os'). The tables stay.
    """
    try:
        yield
    except OSError:
        raise
    except Exception as exc:  # any failure of the templates or the table engine
        logging.getLogger(__name__).exception("%s: %s could not be written", what, path)
        where = f" The full error is in {log}." if log else ""
        raise ReportRenderError(f"{what}: {os.fspath(path)} could not be written "
                                f"({type(exc).__name__}: {exc}). {kept}{where}") from exc
