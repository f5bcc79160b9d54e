"""Problems found in a user's cohort, and the words used to report them.

Every problem in the input is collected and reported at once as a
:class:`CohortValidationError`; nothing is dropped silently.

Privacy: messages name the file, the row as the user sees it in the spreadsheet
(header = row 1), the column and the offending cell only; they never echo a
whole row, and never echo the patient identifier (``value withheld``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", ".", "missing", "-"})
#: Columns that must be present (endpoint columns are added per configured endpoint).
REQUIRED = ("patient_id", "centre")
IDENTIFIER_COLUMNS = frozenset({"patient_id"})
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

    def format(self) -> str:
        where = f"row {self.row}" if self.row is not None else "header"
        return f"{self.file}, {where}, column '{self.column}': got {self.value}; expected {self.expected}"


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
            where = f"row {p.row}" if p.row is not None else "header"
            lines.append(f"    {p.file}, {where}, column '{p.column}': got {p.value}")
        if len(shown) < len(items):
            lines.append(f"    ... and {len(items) - len(shown)} more (see the full report)")
    return "\n".join(lines)


def _show(value: object, column: str) -> str:
    if column in IDENTIFIER_COLUMNS:
        return "(value withheld)"
    text = str(value)
    if text.startswith("(") and text.endswith(")"):
        return text  # a placeholder such as "(column absent)", not a cell value
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text)


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
