"""Running one rule: logging to the rule's log, known errors as one readable message."""

from __future__ import annotations

import errno
import logging
import sys
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


def write_validation_report(exc: CohortValidationError, path: str = VALIDATION_REPORT) -> str:
    """Every problem, grouped by the rule broken, to a file kept out of results/."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(format_problems(exc.problems) + "\n", encoding="utf-8")
    return path


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
    log_path = smk.log[0] if smk.log else None
    handlers = [logging.FileHandler(log_path, mode="w")] if log_path else []
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
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" while writing {exc.filename}" if exc.filename else ""
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
        report_path = write_validation_report(exc)
        summary = format_problems(exc.problems, limit=10)
        logging.error(summary)
        print(f"{summary}\n\nFull report: {report_path}", file=sys.stderr)
        sys.exit(1)
    logging.info("rule %s finished", smk.rule)
