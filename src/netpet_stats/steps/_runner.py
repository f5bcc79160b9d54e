"""Running one rule: logging to the rule's log, known errors as one readable message."""

from __future__ import annotations

import errno
import logging
import os
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from ..cohort.problems import CohortValidationError, format_problems
from ..config import ConfigError
from ..federated.errors import ProtocolError
from ..report.pdf import PdfRenderError
from ..survival.cox import CoxFitError
from ..validation.frozen_model import FreezeError, ModelMismatchError

VALIDATION_REPORT = "logs/validation_report.txt"
#: Errors of a disk that cannot take more data.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def write_validation_report(exc: CohortValidationError, path: str = VALIDATION_REPORT) -> str:
    """Every problem, grouped by the rule broken, to a file kept out of results/."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(format_problems(exc.problems) + "\n", encoding="utf-8")
    return path


def report_cohort_problems(exc: CohortValidationError) -> str:
    """The console summary of a refused cohort, and where its full report is.

    On a full disk the full report cannot be written: the summary says so
    instead of ending in a traceback.
    """
    summary = format_problems(exc.problems, limit=10)
    try:
        path = write_validation_report(exc)
    except OSError as err:
        if err.errno not in DISK_FULL:
            raise
        return (f"{summary}\n\nThe full report could not be written to {VALIDATION_REPORT}: "
                "the disk is full.")
    return f"{summary}\n\nFull report: {path}"


def shown_path(path: str | os.PathLike) -> str:
    """A path for a message: relative to the working directory when inside it."""
    text = os.fspath(path)
    if os.path.isabs(text):
        rel = os.path.relpath(text)
        if not rel.startswith(os.pardir):
            return rel
    return text


@contextmanager
def writing(path: str | os.PathLike):
    """Name ``path`` in an error raised while writing it (a library closing a full
    file raises ``OSError`` without a file name)."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            exc.filename = os.fspath(path)
        raise


class _RuleLog(logging.FileHandler):
    """The rule's log file. When the disk is full the log cannot be written either;
    the console message says why the rule stopped, without a second traceback."""

    def handleError(self, record):
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            return
        super().handleError(record)


def _being_written(smk, since: float) -> str | None:
    """The output of the rule written last since it started (the one the disk could
    not finish), for a full-disk error that names no file."""
    written = []
    for path in list(getattr(smk, "output", None) or []):
        try:
            mtime = os.stat(path).st_mtime
        except (OSError, TypeError):
            continue
        if mtime >= since:
            written.append((mtime, str(path)))
    return max(written)[1] if written else None


def _fail(message: str) -> None:
    logging.error(message)
    print(message, file=sys.stderr)
    sys.exit(1)


@contextmanager
def rule_context(smk, model_use: str = "to this cohort"):
    """Run the body of a rule's script with its log, and known errors as one message.

    Parameters
    ----------
    smk
        The ``snakemake`` object of the script.
    model_use
        How a frozen model is used here, for the message when it does not fit
        (e.g. "for the sample-size simulation").
    """
    started = time.time() - 1   # file times may be rounded to the second
    log_path = smk.log[0] if smk.log else None
    handlers = [_RuleLog(log_path, mode="w")] if log_path else []
    logging.basicConfig(level=logging.INFO, handlers=handlers or None, force=True,
                        format="%(levelname)s %(message)s")
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    try:
        yield smk
    except ModelMismatchError as exc:
        _fail(f"The frozen model cannot be applied {model_use}: {exc}")
    except FreezeError as exc:
        _fail(f"The model cannot be frozen: {exc}")
    except CoxFitError as exc:
        _fail(f"A Cox model cannot be fitted: {exc}")
    except OSError as exc:
        if exc.errno not in DISK_FULL:
            raise
        name = exc.filename or _being_written(smk, started)
        where = f" while writing {shown_path(name)}" if name else ""
        _fail(f"The disk is full{where} (rule {smk.rule}). Free some space and run the same "
              "command again: Snakemake removes the incomplete outputs of this job and "
              "reruns only what is missing.")
    except ConfigError as exc:
        _fail(str(exc))
    except ProtocolError as exc:
        _fail(f"federation: {exc}")
    except PdfRenderError as exc:
        _fail(f"The PDF report: {exc}")
    except CohortValidationError as exc:
        message = report_cohort_problems(exc)
        logging.error(format_problems(exc.problems, limit=10))
        print(message, file=sys.stderr)
        sys.exit(1)
    logging.info("rule %s finished", smk.rule)
