"""Running one rule: logging to the rule's log, known errors as one readable message."""

from __future__ import annotations

import copy
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
from ..provenance import in_analysis_folder, uncovered_reads
from ..report.errors import ReportRenderError
from ..report.pdf import PdfRenderError

VALIDATION_REPORT = "logs/validation_report.txt"
#: Errors of a disk that cannot take more data.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
#: Set to 1 to have every rule check that its ``settings`` cover what it reads.
CHECK_SETTINGS = "NETPET_CHECK_SETTINGS"


def write_validation_report(exc: CohortValidationError, path: str = VALIDATION_REPORT) -> str:
    """Every problem, grouped by the rule broken, to a file kept out of results/."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(format_problems(exc.problems) + "\n", encoding="utf-8")
    return path


def report_cohort_problems(exc: CohortValidationError, path: str = VALIDATION_REPORT) -> str:
    """The console summary of a refused cohort, and where its full report is.

    On a full disk the full report cannot be written: the summary says so
    instead of ending in a traceback.
    """
    summary = format_problems(exc.problems, limit=10)
    try:
        path = write_validation_report(exc, path)
    except OSError as err:
        if err.errno not in DISK_FULL:
            raise
        return (f"{summary}\n\nThe full report could not be written to {path}: "
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


class SettingsReads(dict):
    """A configuration (sub)tree that notes the key paths read from it.

    ``reads`` collects ``(path, whole)``: ``whole`` for a value read (or a block
    iterated, copied, compared or dumped), not for a block only passed through
    on the way to one of its keys. Asking whether a block is empty (``x or {}``)
    reads none of its values, and the keys of the whole configuration are fixed by
    the schema, so neither counts. A plain dict for every other purpose; copies,
    pickles and deep copies are plain dicts.
    """

    def __init__(self, data: dict, reads: set, path: tuple = ()):
        super().__init__(data)
        self._reads, self._path = reads, path

    def _note(self, key, value):
        path = (*self._path, key)
        if isinstance(value, dict):
            self._reads.add((path, False))
            return SettingsReads(value, self._reads, path)
        self._reads.add((path, True))
        return value

    def _whole(self):
        self._reads.add((self._path, True))

    def _keys(self):
        if self._path:                      # the top level's keys are the schema's
            self._whole()

    def __getitem__(self, key):
        if not dict.__contains__(self, key):
            self._reads.add(((*self._path, key), True))
        return self._note(key, dict.__getitem__(self, key))

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return self._note(key, dict.__getitem__(self, key))
        self._reads.add(((*self._path, key), True))
        return default

    def __contains__(self, key):
        self._reads.add(((*self._path, key), True))
        return dict.__contains__(self, key)

    def _plain(self) -> dict:
        self._whole()
        return dict(dict.items(self))

    def __iter__(self):
        self._keys()
        return dict.__iter__(self)

    def __eq__(self, other):
        self._whole()
        return dict.__eq__(self, other)

    __hash__ = None

    def keys(self):
        self._keys()
        return dict.keys(self)

    def values(self):
        self._whole()
        return dict.values(self)

    def items(self):
        self._whole()
        return dict.items(self)

    def copy(self):
        return self._plain()

    def __deepcopy__(self, memo):
        return copy.deepcopy(self._plain(), memo)

    def __reduce_ex__(self, protocol):
        return dict, (self._plain(),)

    def __repr__(self):
        return repr(self._plain())


def _record_reads(smk) -> set | None:
    """Swap ``smk.config`` for a :class:`SettingsReads` when the check is asked for."""
    params = getattr(smk, "params", None)
    if os.environ.get(CHECK_SETTINGS) != "1" or params is None or "settings" not in params.keys():
        return None
    import yaml

    yaml.SafeDumper.add_representer(SettingsReads, yaml.SafeDumper.represent_dict)
    reads: set = set()
    smk.config = SettingsReads(smk.config, reads)
    return reads


def _check_reads(smk, reads: set) -> None:
    """Fail a rule that read a setting its ``settings`` parameter does not cover."""
    declared = smk.params.settings
    # output_folder says where a rule writes, not what: a new folder has new outputs
    missing = uncovered_reads([path for path, whole in reads
                               if whole and path[:1] != ("output_folder",)],
                              declared["reads"], declared["but"])
    if missing:
        _fail(f"rule {smk.rule} read the setting(s) {', '.join(missing)}, which its "
              "settings parameter does not cover: changing them would not rerun it. Add "
              "them to settings(...) in its rule (workflow/rules/).")


def _loaded(module: str, name: str) -> type[Exception] | tuple:
    """The error class ``name`` of ``netpet_stats.<module>``, or () if it is not loaded.

    A rule can raise an error of a module only once it has imported that module, so
    :func:`rule_context` looks the class up as the error propagates (``except ()``
    catches nothing) instead of importing it up front: the Cox model and the frozen
    model bring numpy, pandas and scipy, half a second of CPU for the rules that use
    neither (the PDF's and the manifest's).
    """
    module = sys.modules.get(f"netpet_stats.{module}")
    return getattr(module, name) if module is not None else ()


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
    # the folder of this analysis (config: output_folder), read before any check
    report_path = in_analysis_folder(getattr(smk, "config", None) or {}, VALIDATION_REPORT)
    log_path = smk.log[0] if smk.log else None
    handlers = [_RuleLog(log_path, mode="w")] if log_path else []
    logging.basicConfig(level=logging.INFO, handlers=handlers or None, force=True,
                        format="%(levelname)s %(message)s")
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    reads = _record_reads(smk)
    try:
        yield smk
    except _loaded("validation.frozen_model", "ModelMismatchError") as exc:
        _fail(f"The frozen model cannot be applied {model_use}: {exc}")
    except _loaded("validation.frozen_model", "FreezeError") as exc:
        _fail(f"The model cannot be frozen: {exc}")
    except _loaded("survival.cox", "CoxFitError") as exc:
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
    except ReportRenderError as exc:
        _fail(str(exc))
    except CohortValidationError as exc:
        message = report_cohort_problems(exc, report_path)
        logging.error(format_problems(exc.problems, limit=10))
        print(message, file=sys.stderr)
        sys.exit(1)
    if reads is not None:
        _check_reads(smk, reads)
    logging.info("rule %s finished", smk.rule)
