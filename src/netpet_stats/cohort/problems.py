"""Problems found in a user's cohort, and the words used to report them.

Every problem in the input is collected and reported at once as a
:class:`CohortValidationError`; nothing is dropped silently.

Privacy: messages name the file, the row as the user sees it in the spreadsheet
(header = row 1), the column and the offending cell only; they never echo a
whole row, and never echo the patient identifier (``value withheld``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", ".", "missing", "-"})
#: Columns that must be present (endpoint columns are added per configured endpoint).
REQUIRED = ("patient_id", "centre")
#: Canonical columns that identify a patient or embed its id (``QZ00003X-L1``).
IDENTIFIER_COLUMNS = frozenset({"patient_id", "lesion_id"})
GRADES = ("G1", "G2", "G3")
#: Plain names of canonical columns, for messages and the exclusions ledger.
VARIABLE_NAMES = {"grade": "WHO grade", "ki67": "Ki-67", "age": "age", "sex": "sex",
                  "extrahepatic": "extrahepatic disease", "centre": "centre",
                  "primary_site": "primary site"}
SEXES = ("F", "M")


@dataclass(frozen=True)
class Problem:
    """One input problem: where it is and what was expected."""

    file: str
    row: int | None  # spreadsheet row (header = 1); None for a whole-column problem
    column: str
    value: str
    expected: str

    def location(self) -> str:
        """Where: file, row and column; a setting, or an endpoint of the whole cohort."""
        if self.file == "config":
            return f"configuration, {self.column}"
        if self.file == "(whole cohort)":
            return f"whole cohort, {self.column}"
        where = f"row {self.row}" if self.row is not None else "header"
        return f"{self.file}, {where}, column '{self.column}'"

    def format(self) -> str:
        return f"{self.location()}: got {self.value}; expected {self.expected}"


class CohortValidationError(Exception):
    """The cohort could not be analysed; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(format_problems(problems))


def format_problems(problems: list[Problem], limit: int | None = None) -> str:
    """Readable report: a count, then problems grouped by the rule they break.

    Within a group each line names the file, the row as the spreadsheet shows
    it, the column and the value. ``limit`` caps the lines shown per group
    (the console summary); the full report has them all.
    """
    lines = [f"The cohort has {len(problems)} problem(s); nothing was analysed. Fix these and rerun:"]
    keyed: dict[str, list[Problem]] = {}
    for p in problems:
        keyed.setdefault(p.expected, []).append(p)
    for expected, items in keyed.items():
        lines.append(f"\n  expected {expected} ({len(items)}):")
        shown = items if limit is None else items[:limit]
        for p in shown:
            lines.append(f"    {p.location()}: got {p.value}")
        if len(shown) < len(items):
            lines.append(f"    ... and {len(items) - len(shown)} more (see the full report)")
    return "\n".join(lines)


#: Column names that suggest identifying data; their values are never echoed.
#: An identifier of any table (``lesion_id``, ``ID``, ``record id``) is one too: ids often
#: embed the patient's (``QZ00003X-L1``).
IDENTIFYING_NAME = re.compile(
    r"(^|[^a-z])(patient|name|surname|forename|initials|dob|birth|nhs|mrn|ssn|social|"
    r"address|street|postcode|post_code|zip|phone|mobile|email|e_mail|hospital_number|"
    r"ids?|identifiers?|uuid|guid|pid)"
    r"($|[^a-z])", re.IGNORECASE)
#: ... and an id in camel case (``lesionId``, ``recordID``).
_CAMEL_ID = re.compile(r"[a-z](Id|ID|IDs)($|[^a-z])")
_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T].*)?")
_CODE_LIKE = re.compile(r"[A-Za-z0-9.,%+\-<>=/_]{1,12}")


def is_identifier(column: object) -> bool:
    """A column whose values are never quoted: an id of any table, or named like one."""
    name = str(column)
    return (name in IDENTIFIER_COLUMNS or bool(IDENTIFYING_NAME.search(name))
            or bool(_CAMEL_ID.search(name)))


def _show(value: object, column: str, date: bool = False) -> str:
    """How a cell's value may appear in a message: quoted, or only described.

    Messages reach the console and the logs, so a value is quoted only when it is
    short and plainly not identifying: a number or a code (one token of at most
    12 characters). A column named like an identifier (``patient_id``, any
    ``*_id`` such as ``lesion_id``, name, date of birth, NHS/MRN number,
    address...) is never quoted; a date in a
    column that is not a date column (a date of birth mapped as age, a shifted
    row) and longer text are described, not quoted. ``date``: the column holds
    dates (its value is quoted as typed, so that the user can find it).
    """
    text = str(value)
    if text.startswith("(") and text.endswith(")"):
        return text  # a placeholder such as "(column absent)", not a cell value
    if is_identifier(column):
        return "(value withheld)"
    stripped = text.strip()
    is_date_column = date or "date" in str(column).lower()
    if _DATE_LIKE.fullmatch(stripped) and not is_date_column:
        return "(a date, not shown)"
    if _CODE_LIKE.fullmatch(stripped) or (is_date_column and len(stripped) <= 25):
        return repr(text)
    return f"(text of {len(text)} characters, not shown)"


def _is_missing(value: object) -> bool:
    """The one rule for a missing value, in every column and every file format.

    An empty cell, ``None``, NaN, ``pandas.NA`` or ``NaT``, or text that is one of
    :data:`MISSING_TOKENS` (case and surrounding spaces ignored). A number or a
    date is never missing. (A spelling the user maps in ``cohort.codings`` is
    read as its code before this rule applies.)
    """
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if type(value).__name__ in {"NAType", "NaTType"}:
        return True
    if not isinstance(value, str):
        return False
    return value.strip().lower() in MISSING_TOKENS
