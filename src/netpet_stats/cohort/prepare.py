"""Validating and preparing a cohort table for analysis.

Every problem in the input is collected and reported at once as a
:class:`CohortValidationError`; nothing is dropped silently. Rows that are valid
but cannot enter a given analysis (P0, a missing score, a missing time, a
missing covariate) are recorded in an exclusions ledger with the reason.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ..config import (block_defaults, competing_risks_settings, derived_endpoints,
                      time_default_notes, unmapped_columns)
from ..netpet import scoring as np_score
from . import competing
from . import dates as dates_mod
from . import units
from .ledger import exclusion_ledger
from .distinct import broadcast, cell_array, distinct_cells, positions_of
from .problems import (GRADES, MISSING_TOKENS, REQUIRED, SEXES,
                       CohortValidationError, Problem, _is_missing, _show)
from .read import Percent, cohort_sources, read_table


class _Collector:
    """Problems of one file. ``identifiers``: the user's names of its id columns
    (``cohort.columns.patient_id``, ``cohort.lesion_columns.lesion_id``...), whose
    values are never quoted whatever they are called."""

    def __init__(self, file: str, identifiers=()):
        self.file = file
        self.identifiers = frozenset(identifiers)
        self.problems: list[Problem] = []

    def add(self, row, column, value, expected):
        shown = "(value withheld)" if column in self.identifiers and not (
            str(value).startswith("(") and str(value).endswith(")")) else _show(value, column)
        self.problems.append(Problem(self.file, row, column, shown, expected))

    def describe(self, row, column, description, expected):
        """A problem whose value is described in words, not quoted from one cell."""
        self.problems.append(Problem(self.file, row, column, description, expected))


#: The one rule for a number typed as text, by ``cohort.decimal``: digits with at most
#: one decimal separator, an optional sign and (decimal point only) an exponent. No
#: thousands separators, spaces or underscores: ``1.250`` with a decimal comma is
#: neither 1.25 nor 1250, so it is refused rather than guessed.
_NUMBER_RULES = {
    ".": (re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"),
          "a number with a decimal point, such as 12.5 (no thousands separators)"),
    ",": (re.compile(r"[+-]?(?:\d+(?:,\d*)?|,\d+)"),
          "a number with a decimal comma, such as 12,5 (no thousands separators)"),
}


def _number_of(v, pattern, expected: str, percent: bool) -> tuple:
    """One cell read as a number: ``(value, written as a percentage, shown, expected)``.

    ``value`` is NaN for a missing cell and for a problem; ``expected`` is ``None``
    unless the cell is a problem, ``shown`` then the value that the message quotes.
    """
    explicit = False
    if _is_missing(v):
        return np.nan, False, None, None
    if isinstance(v, Percent):
        if not percent:
            return (np.nan, False, f"{float(v) * 100:g}% (a cell formatted as a percentage)",
                    "a number (not a percentage format)")
        x = float(v) * 100
        explicit = True
    elif isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        x = float(v)
    elif isinstance(v, str):
        text = v.strip()
        if percent and text.endswith("%"):
            text = text[:-1].rstrip()
            explicit = True
        if not pattern.fullmatch(text):
            return np.nan, explicit, v, expected + (" or a percentage such as 12%" if percent
                                                    else "")
        x = float(text.replace(",", "."))
    else:
        return np.nan, False, v, expected
    if not math.isfinite(x):
        return np.nan, explicit, v, "a finite number"
    return x, explicit, None, None


def _report(out: _Collector, raw: pd.Series, column: str, key: np.ndarray,
            results: list, shown: int, expected: int) -> None:
    """Add a problem for each cell whose value's result names one, in row order.

    ``results[k][expected]`` is what the value ``k`` of :func:`distinct_cells` should
    have been (``None``: no problem) and ``results[k][shown]`` the value quoted.
    """
    bad = [k for k, r in enumerate(results) if r[expected] is not None]
    if not bad:
        return
    cells = positions_of(key, bad)
    for row, k in zip(raw.index[cells].tolist(), key[cells].tolist()):
        out.add(row, column, results[k][shown], results[k][expected])


def _parse_number(raw: pd.Series, column: str, out: _Collector, decimal: str = ".",
                  percent: bool = False) -> pd.Series:
    """Numbers from text (one rule, :data:`_NUMBER_RULES`) or from typed cells.

    With ``percent`` (a percentage such as Ki-67) a trailing ``%`` is allowed in
    text and a spreadsheet cell formatted as a percentage (stored as 0.12 for
    12%) is read as 12; elsewhere such a cell is refused. The returned series has
    attribute ``attrs["explicit_percent"]``: the rows written with a percent sign
    or format.
    """
    pattern, expected = _NUMBER_RULES[decimal]
    # each distinct text read once (a registry's age or time column holds a few hundred
    # or thousand texts for 10^6 patients), each typed cell on its own
    key, distinct = distinct_cells(cell_array(raw))
    results = [_number_of(v, pattern, expected, percent) for v in distinct]
    _report(out, raw, column, key, results, 2, 3)
    values = pd.Series(broadcast([r[0] for r in results], key, float), index=raw.index,
                       dtype=float)
    values.attrs["explicit_percent"] = raw.index[broadcast([r[1] for r in results], key,
                                                           bool)].tolist()
    return values


#: Ki-67 values all at most 1 in this many patients (or more) look like fractions.
KI67_FRACTION_MIN_N = 20


def _ki67_fraction_problem(values: pd.Series, column: str, out: _Collector,
                           grade: pd.Series | None = None) -> None:
    """Refuse a Ki-67 column that looks like fractions (0.12 meant as 12%).

    Every value typed without a percent sign between 0 and 1 is read as fractions
    when a patient among them is graded G2 or G3 (which needs a Ki-67 of at least
    3%, WHO 2019) or when there are :data:`KI67_FRACTION_MIN_N` or more of them;
    a small all-G1 cohort with Ki-67 below 1% is plausible and kept.
    """
    plain = values.drop(index=values.attrs.get("explicit_percent", [])).dropna()
    if not (len(plain) and plain.max() <= 1 and (plain > 0).any()):
        return
    graded = grade.reindex(plain.index) if grade is not None else pd.Series(dtype=object)
    higher = int(graded.isin(["G2", "G3"]).sum())
    if not higher and len(plain) < KI67_FRACTION_MIN_N:
        return
    why = (f"{higher} of them graded G2 or G3, which needs a Ki-67 of at least 3%" if higher
           else f"{len(plain)} patients")
    out.problems.append(Problem(
        out.file, None, column, f"all {len(plain)} value(s) between 0 and 1 "
        f"(largest {plain.max():g}; {why})",
        "Ki-67 as a percentage from 0 to 100; these look like fractions (0.12 for 12%): "
        "multiply them by 100, or write a Ki-67 below 1% with its percent sign (0.5%)"))


#: A spelling the user declared as missing in ``cohort.codings`` (mapped to null).
_DECLARED_MISSING = object()


def _coding_table(canonical: tuple, coding: dict | None, name: str,
                  out: _Collector) -> tuple[dict, bool]:
    """Spelling -> code, the user's ``cohort.codings`` over the built-in codes.

    If the user's coding gives a canonical code another meaning (R's event
    coding ``{1: 0, 2: 1}``), the built-in identity codes are not added: the
    user has declared the whole coding, and a value outside it is refused. A
    spelling mapped to null (``"not recorded": null``) means missing.
    Returns the table and whether it is the user's alone.
    """
    user: dict = {}
    allowed = {str(c).lower(): c for c in canonical}
    for key, value in (coding or {}).items():
        spelt = str(key).strip().lower()
        if value is None:
            user[spelt] = _DECLARED_MISSING
            continue
        code = allowed.get(str(value).strip().lower().removesuffix(".0"))
        if code is None:
            out.problems.append(Problem(
                "config", None, f"cohort.codings.{name}", f"{key!r}: {value!r}",
                f"a code among {', '.join(map(str, canonical))} for each spelling"))
            continue
        if spelt in user and user[spelt] != code:
            out.problems.append(Problem(
                "config", None, f"cohort.codings.{name}", f"{key!r} given two codes",
                "one code per spelling (case and spaces are ignored)"))
            continue
        user[spelt] = code
    recodes = any(k in allowed and v is not _DECLARED_MISSING and allowed[k] != v
                  for k, v in user.items())
    return ({**allowed, **user} if not recodes else user), recodes


def _parse_coded(raw: pd.Series, column: str, canonical: tuple, coding: dict,
                 out: _Collector, what: str, name: str = "") -> pd.Series:
    table, declared = _coding_table(canonical, coding, name or column, out)
    codes = ", ".join(map(str, canonical))
    if declared:
        shown = ", ".join(sorted(k for k, c in table.items() if c is not _DECLARED_MISSING))
        refused = (f"{what}: one of the codes declared in cohort.codings.{name or column} "
                   f"({shown}), which recode {codes}")
    else:
        extra = sorted(k for k, c in table.items() if c is not _DECLARED_MISSING
                       and k not in {str(c).lower() for c in canonical})
        hint = f" (or a spelling mapped in cohort.codings: {', '.join(extra)})" if extra else ""
        refused = f"{what}: one of {codes}{hint}"

    def code_of(v):
        """(code or None, the cell, what was expected when the cell is refused)."""
        if v is None:
            return None, v, None
        key = str(v).strip().lower()
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            key = str(int(v))
        elif key.endswith(".0") and key[:-2].isdigit():
            key = key[:-2]
        if key in table:  # a declared spelling wins over the missing-value tokens
            code = table[key]
            return (None if code is _DECLARED_MISSING else code), v, None
        if _is_missing(v):
            return None, v, None
        return None, v, refused

    # each distinct text looked up once: a coded column holds a handful of spellings
    key, values = distinct_cells(cell_array(raw))
    results = [code_of(v) for v in values]
    _report(out, raw, column, key, results, 1, 2)
    return pd.Series(broadcast([r[0] for r in results], key), index=raw.index, dtype=object)


def _declared_missing(value: object, texts: frozenset, numbers: frozenset) -> bool:
    """Whether a cell is one of the spellings ``cohort.missing_values`` declares missing."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value.strip().lower() in texts
    if isinstance(value, (int, float, np.integer, np.floating)):
        return not np.isnan(value) and float(value) in numbers
    return False


def _blank_declared_missing(raw: pd.DataFrame, present: dict, spec: dict
                            ) -> tuple[pd.DataFrame, list[str]]:
    """The table with the user's missing-value spellings emptied, and a note per column.

    ``spec`` is ``cohort.missing_values``: spellings per canonical column, and
    under ``all`` for every column. Text is matched case-insensitively with
    surrounding spaces ignored; a number (``-99``) by value, typed as a number
    or as text. Each column's count is a data warning, so that no value
    disappears without a word.
    """
    if not spec:
        return raw, []
    out, notes = None, []
    for canon, user in present.items():
        tokens = [*spec.get("all", ()), *spec.get(canon, ())]
        if not tokens or user not in raw.columns:
            continue
        texts = frozenset(str(t).strip().lower() for t in tokens)
        numbers = set()
        for t in tokens:
            try:
                numbers.add(float(t))
            except (TypeError, ValueError):
                pass
        numbers = frozenset(numbers)
        key, values = distinct_cells(cell_array(raw[user]))   # each distinct text once
        hit = broadcast([_declared_missing(v, texts, numbers) for v in values], key, bool)
        n = int(hit.sum())
        if n:
            out = raw.copy() if out is None else out
            out[user] = out[user].astype(object).where(~hit, None)
            notes.append(f"{n} cell(s) of column {user!r} read as missing "
                         "(cohort.missing_values)")
    return (raw if out is None else out), notes


def _missing_cells(raw: pd.Series) -> np.ndarray:
    """Which cells are missing (:func:`_is_missing`), each distinct text judged once."""
    key, values = distinct_cells(cell_array(raw))
    return broadcast([_is_missing(v) for v in values], key, bool)


def _parse_text(raw: pd.Series) -> pd.Series:
    """Text values (ids, names): stripped, ``None`` when missing (:func:`_is_missing`)."""
    def text(v):
        if _is_missing(v):
            return None
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))  # an id typed as a number in a spreadsheet
        return str(v).strip()

    # each distinct text once: a centre or a site column holds a few names. A text is
    # read inline, without text()'s call and type checks, as an id column has a text per
    # patient (str(v) of a text is the same characters).
    key, values = distinct_cells(cell_array(raw))
    return pd.Series(broadcast([(None if (stripped := v.strip()).lower() in MISSING_TOKENS
                                 else stripped) if isinstance(v, str) else text(v)
                                for v in values], key),
                     index=raw.index, dtype=object, name=raw.name)


# --------------------------------------------------------------------------------------
# Schema (types are already parsed; pandera checks ranges, codes and uniqueness)
# --------------------------------------------------------------------------------------


def cohort_schema(endpoints: list[str]) -> pa.DataFrameSchema:
    """Declared checks on the parsed cohort: ranges, allowed codes, uniqueness."""
    cols = {
        "patient_id": pa.Column(object, unique=True, nullable=False, required=False),
        "centre": pa.Column(object, nullable=False, required=False),
        "grade": pa.Column(object, pa.Check.isin(GRADES), nullable=True, required=False),
        "ki67": pa.Column(float, pa.Check.in_range(0, 100), nullable=True, required=False),
        "age": pa.Column(float, pa.Check.in_range(0, 120, include_min=False), nullable=True,
                         required=False),
        "sex": pa.Column(object, pa.Check.isin(SEXES), nullable=True, required=False),
        "extrahepatic": pa.Column(float, pa.Check.isin([0, 1]), nullable=True, required=False),
    }
    for ep in endpoints:
        cols[f"{ep}_time"] = pa.Column(float, pa.Check.gt(0), nullable=True, required=False)
        cols[f"{ep}_event"] = pa.Column(float, pa.Check.isin([0, 1]), nullable=True,
                                        required=False)
    return pa.DataFrameSchema(cols, strict=False)


_CHECK_TEXT = {
    "field_uniqueness": "a unique value (this id occurs on more than one row)",
    "not_nullable": "a value (this column may not be empty)",
    "greater_than(0)": "a time > 0",
    "in_range(0, 100)": "a percentage between 0 and 100",
    "in_range(0, 120)": "an age in years, > 0 and <= 120",
    "isin([0, 1])": "0 or 1",
}


def _schema_problems(frame: pd.DataFrame, schema: pa.DataFrameSchema, columns: dict,
                     raws: dict) -> list[Problem]:
    """Run the declared checks on the combined cohort; map failures to file and row."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        out = []
        for case in exc.failure_cases.itertuples(index=False):
            column = str(case.column)
            user_col = columns.get(column, column)
            expected = _CHECK_TEXT.get(str(case.check), str(case.check))
            if pd.isna(case.index):
                out.append(Problem("-", None, user_col, "-", expected))
                continue
            file, row = frame.at[case.index, "file"], int(frame.at[case.index, "row"])
            raw = raws[file]
            # Echo the cell as the user typed it, not its parsed value.
            cell = raw.at[row, user_col] if user_col in raw else case.failure_case
            value = "(empty)" if _is_missing(cell) else _show(cell, column)
            out.append(Problem(file, row, user_col, value, expected))
        return out
    return []


# --------------------------------------------------------------------------------------
# The whole preparation step
# --------------------------------------------------------------------------------------


@dataclass
class PreparedCohort:
    """A validated cohort and the ledger of who is excluded from what.

    Attributes
    ----------
    data
        One row per input patient row, canonical columns, with ``file`` and
        ``row`` (spreadsheet row, header = 1) of its origin.
    exclusions
        Tidy ledger: ``file``, ``row``, ``analysis``, ``reason``.
    warnings
        Problems that do not stop the analysis (grade vs Ki-67): ``file``, ``row``,
        ``warning``.
    """

    data: pd.DataFrame
    exclusions: pd.DataFrame
    warnings: pd.DataFrame


def _read_lesions(path: str, sheet, lesion_columns: dict, codings: dict,
                  out: _Collector, missing_values: dict | None = None) -> pd.DataFrame | None:
    raw = read_table(path, sheet)
    raw, declared = _blank_declared_missing(raw, lesion_columns, missing_values or {})
    raw.attrs.setdefault("notes", [])
    raw.attrs["notes"] = [*raw.attrs["notes"], *declared]
    lc = _Collector(str(path), (lesion_columns["patient_id"], lesion_columns["lesion_id"]))
    missing = [user for canon, user in lesion_columns.items() if user not in raw.columns]
    for user in missing:
        lc.add(None, user, "(column absent)", "a column named so (cohort.lesion_columns)")
    if missing:
        out.problems.extend(lc.problems)
        return None
    data = pd.DataFrame(index=raw.index)
    data["patient_id"] = _parse_text(raw[lesion_columns["patient_id"]])
    for row in data.index[data["patient_id"].isna()]:
        lc.add(row, lesion_columns["patient_id"], "(empty)", "a patient id")
    lesion_id = _parse_text(raw[lesion_columns["lesion_id"]])
    for row in data.index[lesion_id.isna()]:
        lc.add(row, lesion_columns["lesion_id"], "(empty)", "a lesion id")
    # A lesion listed twice would count twice towards P4b (3 or more FDG > SSTR lesions).
    key = pd.Series(list(zip(data["patient_id"], lesion_id)), index=data.index)
    repeated = key.duplicated(keep="first") & data["patient_id"].notna() & lesion_id.notna()
    for row in data.index[repeated]:
        first = int(data.index[(key == key[row]).to_numpy()][0])
        # a lesion id is not quoted: ids often embed the patient's (QZ00003X-L1)
        lc.describe(row, lesion_columns["lesion_id"], f"(value withheld) (as on row {first})",
                    "each lesion once per patient: a (patient, lesion) pair on one row only")
    for flag in ("sstr_positive", "fdg_positive"):
        parsed = _parse_coded(raw[lesion_columns[flag]], lesion_columns[flag], (0, 1),
                              codings.get("positive"), lc, "uptake above background",
                              "positive")
        for row in parsed.index[parsed.isna() & _missing_cells(raw[lesion_columns[flag]])]:
            lc.add(row, lesion_columns[flag], "(empty)", "0 or 1")
        data[flag] = parsed
    av_col = lesion_columns["fdg_vs_sstr"]
    key, values = distinct_cells(cell_array(raw[av_col]))   # each distinct spelling once
    avid = pd.Series(broadcast([None if _is_missing(v) else
                                np_score.AVIDITY_SPELLINGS.get(str(v).strip().lower(), "?")
                                for v in values], key), index=raw.index, dtype=object,
                     name=av_col)
    both = (data["sstr_positive"] == 1) & (data["fdg_positive"] == 1)
    known = data["sstr_positive"].notna() & data["fdg_positive"].notna()
    for row in data.index:
        if avid[row] == "?":
            lc.add(row, av_col, raw.at[row, av_col], "lower, equal or higher")
        elif both[row] and avid[row] is None:
            lc.add(row, av_col, "(empty)",
                   "lower, equal or higher (the lesion is positive on both tracers)")
        elif known[row] and not both[row] and avid[row] is not None:
            flags = (f"{lesion_columns['sstr_positive']} = {int(data.at[row, 'sstr_positive'])}, "
                     f"{lesion_columns['fdg_positive']} = {int(data.at[row, 'fdg_positive'])}")
            lc.describe(row, av_col, f"{_show(raw.at[row, av_col], av_col)} with {flags}",
                   "FDG compared with SSTR only for a lesion positive on both tracers "
                   "(leave it empty otherwise)")
    data["fdg_vs_sstr"] = avid.where(avid != "?")
    out.problems.extend(lc.problems)
    data.attrs["notes"] = raw.attrs.get("notes", [])
    return data


DATE_MODE_ENDPOINTS = ("os", "ttp")
SCAN_DATES = ("sstr_scan_date", "fdg_scan_date")
#: A date of birth is never quoted in a message, whatever its column is called.
BIRTH_DATE_SHOWN = "(a date of birth, not shown)"
#: Years of age from days: the Julian year, as R's ``as.numeric(difftime) / 365.25``.
DAYS_PER_YEAR = 365.25


#: Said when time is counted from diagnosis and every patient is at risk from it.
IMMORTAL_TIME_WARNING = (
    "time is counted from diagnosis (cohort.dates.time_zero: diagnosis) and every patient "
    "is counted at risk from diagnosis (cohort.dates.entry: time_zero), although the NETPET "
    "score exists only from the scan: the time from diagnosis to the scan is immortal time, "
    "which biases survival upwards and hazard ratios towards 1. Set cohort.dates.entry: "
    "later_scan (delayed entry at the scan), or count time from the scan")


def entry_warnings(ccfg: dict) -> list[str]:
    """The cohort-level warning of a configuration that counts immortal time."""
    settings = ccfg.get("dates") or {}
    if (ccfg.get("times", "given") == "dates" and settings.get("time_zero") == "diagnosis"
            and settings.get("entry", "time_zero") == "time_zero"):
        return [IMMORTAL_TIME_WARNING]
    return []


def _entry_problems(data: pd.DataFrame, columns: dict, endpoints: list[str]) -> list[Problem]:
    """Entry times that leave nothing to analyse: negative, or not before an exit time.

    Delayed entry counts a patient at risk on (entry, exit]; R's ``Surv(entry, time,
    event)`` drops a row whose entry is not before its exit. Here such a row is a
    contradiction in the table, refused by row with the endpoint named, as a time of
    0 is without delayed entry.
    """
    column = columns["entry_time"]
    problems = []
    entry = data["entry_time"]
    for idx in data.index[(entry < 0).fillna(False)]:
        problems.append(Problem(data.at[idx, "file"], int(data.at[idx, "row"]), column,
                                _show(entry[idx], column), "an entry time of 0 or more"))
    for ep in endpoints:
        if f"{ep}_time" not in data:
            continue
        late = (entry >= data[f"{ep}_time"]).fillna(False) & (entry >= 0).fillna(False)
        for idx in data.index[late]:
            problems.append(Problem(
                data.at[idx, "file"], int(data.at[idx, "row"]), column, _show(entry[idx], column),
                f"an entry time before the {ep} time ({columns.get(f'{ep}_time', ep)}): a "
                "patient is at risk from entry to the end of follow-up"))
    return problems


def _age_from_birth(data: pd.DataFrame, ccfg: dict, columns: dict) -> tuple[list, list[str]]:
    """Age at the scan (years) from the date of birth, when the table has no age column.

    The scan is the one time zero names (``cohort.dates.time_zero``) when it is a
    scan, otherwise the later of the two scans (the day the NETPET score exists).
    The date of birth is dropped from the data here: it never leaves the cohort
    step. Returns problems (a birth after the scan, an age over 120 years: the
    date is described, never quoted) and a note saying how age was derived.
    """
    if "date_of_birth" not in data:
        return [], []
    birth = data.pop("date_of_birth")
    if "age" in columns:
        return [], [f"age read from column {columns['age']!r}; the date of birth is not used"]
    scans = [c for c in SCAN_DATES if c in data]
    if not scans:
        return [Problem("config", None, "date_of_birth", "(no scan date)",
                        "cohort.columns.sstr_scan_date and/or fdg_scan_date naming the scan "
                        "dates, from which age is derived with the date of birth")], []
    rule = (ccfg.get("dates") or {}).get("time_zero", "later_scan") \
        if ccfg.get("times", "given") == "dates" else "later_scan"
    frame = data[scans]
    if rule in ("sstr_scan", "fdg_scan") and f"{rule}_date" in data:
        scan, which = data[f"{rule}_date"], rule.replace("_", " ")
    elif rule == "earlier_scan":
        scan, which = frame.min(axis=1, skipna=False), "earlier scan"
    else:
        scan, which = frame.max(axis=1, skipna=False), "later scan"
    age = (scan - birth).dt.days / DAYS_PER_YEAR
    problems = []
    for idx in data.index[(age <= 0).fillna(False)]:
        problems.append(Problem(data.at[idx, "file"], int(data.at[idx, "row"]),
                                columns["date_of_birth"], BIRTH_DATE_SHOWN,
                                f"a date of birth before the {which} date"))
    for idx in data.index[(age > 120).fillna(False)]:
        problems.append(Problem(data.at[idx, "file"], int(data.at[idx, "row"]),
                                columns["date_of_birth"], BIRTH_DATE_SHOWN,
                                f"a date of birth giving an age of at most 120 years at the "
                                f"{which}"))
    data["age"] = age.where((age > 0) & (age <= 120))
    return problems, [f"age derived from the date of birth (column {columns['date_of_birth']!r}) "
                      f"at the {which}, in years of {DAYS_PER_YEAR:g} days; the date of birth "
                      "is not kept"]


def _parse_source(raw: pd.DataFrame, path: str, centre: str | None, ccfg: dict,
                  endpoints: list[str], required: list[str], out: _Collector) -> pd.DataFrame:
    """Header checks and typed columns of one input file (index = spreadsheet row)."""
    columns: dict = {k: v for k, v in ccfg["columns"].items() if v}
    codings = ccfg.get("codings", {}) or {}
    decimal = ccfg.get("decimal", ".")
    dupes = raw.columns[raw.columns.duplicated()].unique()
    for d in dupes:
        out.add(None, d, "(column appears more than once)", "unique column names")
    for canon, user in columns.items():
        if user not in raw.columns and not (canon == "centre" and centre is not None):
            kind = "required" if canon in required else "optional: set it to null if you have none"
            out.add(None, user, "(column absent)", f"a column named so for '{canon}' ({kind})")
    if len(raw) == 0:
        out.add(None, "-", "(no data rows)", "at least one patient row")
    present = {canon: user for canon, user in columns.items()
               if user in raw.columns and user not in dupes}
    raw, declared_notes = _blank_declared_missing(raw, present, ccfg.get("missing_values") or {})
    data = pd.DataFrame(index=raw.index)
    data.attrs["notes"] = declared_notes
    for canon in ("patient_id", "centre", "primary_site"):
        if canon in present:
            data[canon] = _parse_text(raw[present[canon]])
    if centre is not None and "centre" not in data:
        data["centre"] = centre
    if "ki67" in present:
        data["ki67"] = _parse_number(raw[present["ki67"]], present["ki67"], out, decimal,
                                     percent=True)
    if "age" in present:
        data["age"] = _parse_number(raw[present["age"]], present["age"], out, decimal)
    coded = {"grade": (GRADES, "grade", "a WHO grade"), "sex": (SEXES, "sex", "a sex code"),
             "extrahepatic": ((0, 1), "extrahepatic", "extrahepatic disease")}
    for canon, (canonical, coding, what) in coded.items():
        if canon in present:
            data[canon] = _parse_coded(raw[present[canon]], present[canon], canonical,
                                       codings.get(coding), out, what, coding)
    if "progression_status" in present:
        data["progression_status"] = _parse_coded(
            raw[present["progression_status"]], present["progression_status"],
            tuple(competing.STATUS_CODES), codings.get("progression_status"), out,
            "a progression status", "progression_status")
    if "extrahepatic" in data:
        data["extrahepatic"] = data["extrahepatic"].astype(float)
    if "ki67" in data:
        _ki67_fraction_problem(data["ki67"], present["ki67"], out, data.get("grade"))
    dates_mode = ccfg.get("times", "given") == "dates"
    date_names = list(dates_mod.DATE_COLUMNS) if dates_mode else []
    if "date_of_birth" in present:
        date_names += [*(n for n in SCAN_DATES if n not in date_names), "date_of_birth"]
    settings = ccfg.get("dates") or {}
    for name in date_names:
        if name in present:
            parsed, bad = dates_mod.parse_dates(raw[present[name]], settings.get("format"),
                                                settings.get("dayfirst"))
            for row, expected in bad.items():
                shown = (BIRTH_DATE_SHOWN if name == "date_of_birth" else
                         _show(raw.at[row, present[name]], present[name], date=True))
                out.describe(row, present[name], shown, expected)
            data[name] = parsed
    if "weight" in present:   # case weights (e.g. inverse-probability weights)
        data["weight"] = _parse_number(raw[present["weight"]], present["weight"], out, decimal)
        for row in data.index[(data["weight"] <= 0).fillna(False)]:
            out.add(row, present["weight"], raw.at[row, present["weight"]],
                    "a case weight greater than 0 (R coxph refuses weights <= 0; leave the "
                    "patient out instead)")
        data["weight"] = data["weight"].where(data["weight"] > 0)
    if not dates_mode:
        if "entry_time" in present:
            data["entry_time"] = _parse_number(raw[present["entry_time"]], present["entry_time"],
                                               out, decimal)
        for ep in endpoints:
            tcol, ecol = f"{ep}_time", f"{ep}_event"
            if tcol in present:
                data[tcol] = _parse_number(raw[present[tcol]], present[tcol], out, decimal)
            if ecol in present:
                data[ecol] = _parse_coded(raw[present[ecol]], present[ecol], (0, 1),
                                          codings.get("event"), out, "an event indicator",
                                          "event").astype(float)
    given = np.full(len(raw), None, dtype=object)
    if "netpet" in present:
        def score_of(v):
            """(score or None, the cell, what was expected when the cell is refused)."""
            if _is_missing(v):
                return None, v, None
            try:
                return np_score.normalise_score(v), v, None
            except ValueError:
                return None, v, "a NETPET score (P0-P5, P4a, P4b; e.g. 'P4b', '4', 'NETPET 3')"

        # each distinct spelling read once: a score column holds a dozen of them
        key, values = distinct_cells(cell_array(raw[present["netpet"]]))
        results = [score_of(v) for v in values]
        _report(out, raw[present["netpet"]], present["netpet"], key, results, 1, 2)
        given = broadcast([r[0] for r in results], key)
    data["netpet"] = pd.Series(given, index=raw.index, dtype=object)
    data.insert(0, "row", raw.index.to_numpy())
    data.insert(0, "file", path)
    return data


def _required_columns(ccfg: dict, endpoints: list[str]) -> list[str]:
    required = list(REQUIRED)
    if ccfg.get("times", "given") == "dates":
        required += ["sstr_scan_date", "fdg_scan_date", "death_date", "last_follow_up_date"]
        if "ttp" in endpoints:
            required.append("progression_date")
        if (ccfg.get("dates") or {}).get("time_zero") == "diagnosis":
            required.append("diagnosis_date")
    else:
        required += [f"{ep}_{x}" for ep in endpoints for x in ("time", "event")]
    if not ccfg.get("lesions"):
        required.append("netpet")
    return required


def grade_ki67_warnings(data: pd.DataFrame) -> pd.DataFrame:
    """Rows whose WHO grade and Ki-67 disagree under the WHO 2019 cut-offs.

    G1: Ki-67 < 3%; G2: 3-20%; G3: > 20% (neuroendocrine tumours; grade may
    also rest on mitotic count, so disagreement is a warning, not an error).
    Each analysis uses the variable it names: grade terms the recorded grade,
    Ki-67 terms the recorded Ki-67.
    """
    if "grade" not in data or "ki67" not in data:
        return pd.DataFrame(columns=["file", "row", "warning"])
    k = data["ki67"]
    implied = pd.Series(np.select([k < 3, k <= 20, k > 20], ["G1", "G2", "G3"], default=""),
                        index=data.index)
    bad = data["grade"].notna() & k.notna() & (implied != data["grade"])
    rows = [{"file": str(f), "row": int(r),
             "warning": f"WHO grade {g} but Ki-67 {x:g}% (a {i} value under WHO 2019); "
                        "grade terms use the recorded grade, Ki-67 terms the recorded Ki-67"}
            for f, r, g, x, i in zip(data.loc[bad, "file"], data.loc[bad, "row"],
                                     data.loc[bad, "grade"], data.loc[bad, "ki67"], implied[bad])]
    return pd.DataFrame(rows, columns=["file", "row", "warning"])


def _nfc_settings(ccfg: dict) -> dict:
    """``cohort`` settings with column names and codings in composed Unicode (NFC).

    The cells are read in NFC (:func:`netpet_stats.cohort.read.read_table`), so the
    names that must match them are too: a column or a spelling typed with a
    decomposed accent still matches. File paths are left as they are.
    """
    import unicodedata

    def nfc(value):
        if isinstance(value, str):
            return unicodedata.normalize("NFC", value)
        if isinstance(value, dict):
            return {nfc(k): nfc(v) for k, v in value.items()}
        return value

    return {**ccfg, **{key: nfc(ccfg[key]) for key in ("columns", "lesion_columns", "codings")
                       if ccfg.get(key)}}


def prepare_cohort(config: dict) -> PreparedCohort:
    """Read, validate, score and group the cohort described by ``config``.

    Parameters
    ----------
    config
        The workflow configuration (already validated against its JSON schema).

    Returns
    -------
    PreparedCohort

    Raises
    ------
    CohortValidationError
        Listing every problem found in every input file.

    Examples
    --------
    >>> from netpet_stats import load_config, prepare_cohort
    >>> cohort = prepare_cohort(load_config())  # the bundled synthetic cohort
    >>> len(cohort.data), cohort.data["netpet_group"].value_counts(sort=False).to_dict()
    (319, {'P1': 86, 'P2-4': 170, 'P5': 51})
    >>> sorted(cohort.exclusions.columns)
    ['analysis', 'file', 'reason', 'row']
    """
    ccfg = _nfc_settings(config["cohort"])
    columns: dict = {k: v for k, v in ccfg["columns"].items() if v}
    derived = derived_endpoints(config)
    endpoints = [ep for ep in config["endpoints"] if ep not in derived]   # read from the table
    required = _required_columns(ccfg, endpoints)
    problems: list[Problem] = [
        Problem("config", None, where, f"{name!r} (cohort.columns.{name} is null)",
                f"only variables the table has: remove {name!r} there, or map "
                f"cohort.columns.{name} to a column")
        for where, name in unmapped_columns(config)]
    try:
        groups = list(np_score.resolve_grouping(config["netpet"]["grouping"]))
    except ValueError as exc:  # a score such as P7, or one score in two groups
        problems.append(Problem("config", None, "netpet.grouping",
                                repr(config["netpet"]["grouping"]),
                                f"'published', 'full' or groups of NETPET scores ({exc})"))
    else:   # a label for a group that does not exist is a typo, not a no-op
        problems += [Problem("config", None, "figures.group_labels", repr(name),
                             f"a group of netpet.grouping ({', '.join(groups)})")
                     for name in config.get("figures", {}).get("group_labels", ())
                     if name not in groups]   # (a bare API config may have no figures block)
    sources = cohort_sources(ccfg)
    for canon in required:
        if canon not in columns and not (canon == "centre" and all(c for _, c in sources)):
            problems.append(Problem("config", None, canon, "(not mapped)",
                                    f"cohort.columns.{canon} naming a column"))
    if ccfg.get("times", "given") == "dates":
        for ep in endpoints:
            if ep not in DATE_MODE_ENDPOINTS:
                problems.append(Problem("config", None, ep, "(endpoint)",
                                        "os or ttp when times are derived from dates"))
    parts, raws, notes = [], {}, []
    for path, centre in sources:
        try:
            raw = read_table(path, ccfg.get("sheet"), ccfg.get("delimiter"))
        except CohortValidationError as exc:
            problems.extend(exc.problems)
            continue
        raws[path] = raw
        notes += [(path, note) for note in raw.attrs.get("notes", [])]
        out = _Collector(path)
        part = _parse_source(raw, path, centre, ccfg, endpoints, required, out)
        notes += [(path, note) for note in part.attrs.get("notes", [])]
        parts.append(part)
        problems.extend(out.problems)
    known = {*columns, *(ccfg.get("lesion_columns") or {}), "all"}
    problems += [Problem("config", None, f"cohort.missing_values.{name}", repr(name),
                         "`all` or a canonical column name of cohort.columns "
                         f"({', '.join(sorted(known - {'all'}))})")
                 for name in (ccfg.get("missing_values") or {}) if name not in known]
    if problems and not parts:
        raise CohortValidationError(problems)
    data = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    data["exclusion"] = None

    if ccfg.get("times", "given") == "dates":
        date_cols = [c for c in dates_mod.DATE_COLUMNS if c in data]
        times, errors, excluded = dates_mod.derive_times(data[date_cols], ccfg.get("dates") or {},
                                                         endpoints)
        for idx, column, value, expected in errors:
            file, row, user_col = data.at[idx, "file"], int(data.at[idx, "row"]), columns.get(
                column, column)
            # quote the cell as the user typed it, not the date it was read as
            typed = raws[file].at[row, user_col] if user_col in raws[file] else value
            shown = _show(typed, column, date=True) if isinstance(typed, str) else (
                repr(typed.date().isoformat()) if isinstance(typed, pd.Timestamp) else repr(value))
            problems.append(Problem(file, row, user_col, shown, expected))
        for idx, reason in excluded:
            data.at[idx, "exclusion"] = reason
        # a row whose dates contradict each other has no time: its dates are the problem
        bad_rows = [idx for idx, *_ in errors]
        for col in times:
            times.loc[bad_rows, col] = np.nan
        for col in times:
            data[col] = times[col]

    birth_problems, birth_notes = _age_from_birth(data, ccfg, columns)
    problems.extend(birth_problems)
    notes += [("(whole cohort)", note) for note in birth_notes]

    if ccfg.get("lesions"):
        # The lesion table is always checked, so that its problems are listed with
        # the others; scores are compared only once both tables are clean.
        out = _Collector(str(ccfg["lesions"]))
        try:
            lesions = _read_lesions(ccfg["lesions"], ccfg.get("sheet"),
                                    ccfg["lesion_columns"], ccfg.get("codings", {}) or {}, out,
                                    ccfg.get("missing_values"))
        except CohortValidationError as exc:
            lesions = None
            out.problems.extend(exc.problems)
        if lesions is not None:
            notes += [(str(ccfg["lesions"]), note) for note in lesions.attrs.get("notes", [])]
        clean = not problems and not out.problems
        problems.extend(out.problems)
        if lesions is not None and clean and "patient_id" in data:
            problems.extend(_apply_lesion_scores(data, lesions, ccfg, columns))

    problems.extend(_schema_problems(data, cohort_schema(endpoints), columns, raws))
    # one conversion, to the unit of the analysis (every time setting is in it)
    unit = config.get("analysis_time_unit", "months")
    per_month = float((ccfg.get("dates") or {}).get("days_per_month", units.DAYS_PER_MONTH))
    for ep, spec in config["endpoints"].items():
        if f"{ep}_time" in data:
            given = "months" if ccfg.get("times", "given") == "dates" else spec.get(
                "time_unit", "months")
            data[f"{ep}_time"] = units.convert(data[f"{ep}_time"], given, unit, per_month)
    if "entry_time" in data:
        given = "months" if ccfg.get("times", "given") == "dates" else ccfg.get(
            "entry_time_unit", "months")
        data["entry_time"] = units.convert(data["entry_time"], given, unit, per_month)
        if ccfg.get("times", "given") != "dates":
            problems.extend(_entry_problems(data, columns, endpoints))
    # states on the progression clock; contradictions are listed with every other problem
    cr_notes, cr_problems = _competing_states(data, config, columns, raws, unit, per_month,
                                              problems)
    problems.extend(cr_problems)
    if problems:
        raise CohortValidationError(sorted(problems, key=_problem_order))


    grouping = np_score.resolve_grouping(config["netpet"]["grouping"])
    data["netpet_group"] = np_score.assign_groups(data["netpet"], grouping)
    data.loc[data["exclusion"].notna(), "netpet_group"] = np.nan
    warnings = grade_ki67_warnings(data)
    if len(cr_notes):
        warnings = pd.concat([warnings, cr_notes], ignore_index=True) if len(warnings) \
            else cr_notes
    cohort_level = time_default_notes(config) + units.plausibility_warnings(
        data, {"analysis_time_unit": unit, **config}) + entry_warnings(ccfg)
    general = ([pd.DataFrame({"file": "(whole cohort)", "row": pd.NA, "warning": cohort_level})]
               if cohort_level else [])
    if notes:   # per file: the sheet read, text recomposed
        general.append(pd.DataFrame({"file": [f for f, _ in notes], "row": pd.NA,
                                     "warning": [n for _, n in notes]}))
    if general:
        warnings = pd.concat([*general, warnings] if len(warnings) else general,
                             ignore_index=True)
    return PreparedCohort(data=data, exclusions=exclusion_ledger(data, config),
                          warnings=warnings)


def _competing_states(data: pd.DataFrame, config: dict, columns: dict, raws: dict, unit: str,
                      per_month: float, found: list[Problem] = ()
                      ) -> tuple[pd.DataFrame, list[Problem]]:
    """Progression / death-without-progression / censored state of each row (in place).

    Adds ``cr_time`` and ``cr_status`` (:mod:`netpet_stats.cohort.competing`) and
    fills every derived progression-free survival endpoint. Returns the rows the
    rule had to decide, as warnings with the rule applied, and the contradictions
    (a progression after the end of follow-up, a status the endpoints deny) as
    problems, refused with the others.
    """
    cr = competing_risks_settings(config)
    derived = derived_endpoints(config)
    empty = pd.DataFrame(columns=["file", "row", "warning"])
    if cr is None and not derived:
        return empty, []
    cr = cr or config.get("competing_risks") or block_defaults("competing_risks")
    needed = [f"{ep}_{x}" for ep in (cr["progression"], cr["death"]) for x in ("time", "event")]
    if any(col not in data for col in needed):   # an absent column is already a problem
        return empty, []
    # a row whose time or event is already refused is not judged again on that value
    refused = {columns.get(c, c) for c in needed}
    bad = {(p.file, p.row) for p in found if p.column in refused and p.row is not None}
    keep = np.array([(f, int(r)) not in bad for f, r in zip(data["file"], data["row"])], bool)
    states = competing.competing_states(data[keep] if bad else data, cr["progression"],
                                        cr["death"], cr["same_time_days"], unit, per_month)
    if bad:   # back to every row, the refused ones without a state
        full_time, full_status = np.full(len(data), np.nan), np.full(len(data), np.nan)
        full_time[keep], full_status[keep] = states.time, states.status
        states.time, states.status = full_time, full_status
    problems = []
    if states.problems:
        dates = config["cohort"].get("times", "given") == "dates"
        for idx, column, value, expected in states.problems:
            file, row = data.at[idx, "file"], int(data.at[idx, "row"])
            if column == "progression_status" or not dates:
                user_col = columns.get(column, column)
                cell = raws[file].at[row, user_col] if user_col in raws[file] else value
                shown = _show(cell, column)
            else:   # times from dates: the progression date is the cell to look at
                user_col = columns.get("progression_date", "progression_date")
                shown = f"a progression {value:.4g} {unit} after time zero"
            problems.append(Problem(file, row, user_col, shown, expected))
    data["cr_time"], data["cr_status"] = states.time, states.status
    for ep in derived:
        data[f"{ep}_time"] = states.time
        data[f"{ep}_event"] = np.where(np.isnan(states.status), np.nan,
                                       (states.status > 0).astype(float))
    rows = [{"file": str(data.at[idx, "file"]), "row": int(data.at[idx, "row"]),
             "warning": f"competing risks: {note}"} for idx, note in states.notes]
    return (pd.DataFrame(rows, columns=["file", "row", "warning"]) if rows else empty), problems


def check_analysable(prepared: PreparedCohort, config: dict) -> None:
    """Refuse, in one message, a cohort on which the workflow can estimate nothing.

    Called by the workflow's cohort rule and by ``netpet-stats validate`` (so both
    give the same verdict); :func:`prepare_cohort` itself reads any cohort.

    Raises
    ------
    CohortValidationError
        See :func:`minimum_data_problems`.

    A federation site (``federation.role: site``) estimates nothing on its own: a site
    with too few patients, events or groups takes part by answering that it is below
    the consortium's minimum cell size (the protocol's round 1), so it is not refused
    here.
    """
    if (config.get("federation") or {}).get("role") == "site":
        return
    problems = minimum_data_problems(prepared.data, config)
    if problems:
        raise CohortValidationError(problems)


def minimum_data_problems(data: pd.DataFrame, config: dict) -> list[Problem]:
    """What every endpoint needs before anything can be estimated, checked up front.

    At least two patients with a NETPET group, a time and an event indicator, at
    least one event, and patients in at least two NETPET groups (the log-rank
    test and the Cox models compare groups). Otherwise every analysis step would
    fail on its own; one message says why instead.
    """
    problems = []
    for ep, spec in config["endpoints"].items():
        tcol, ecol = f"{ep}_time", f"{ep}_event"
        if tcol not in data or ecol not in data:
            continue
        ok = data["netpet_group"].notna() & data[tcol].notna() & data[ecol].notna()
        n, events = int(ok.sum()), int(data.loc[ok, ecol].sum())
        groups = int(data.loc[ok, "netpet_group"].nunique())
        needs = []
        if n < 2:
            needs.append("at least 2 patients with a NETPET group, a time and an event")
        if events == 0:
            needs.append("at least one event")
        if groups < 2:
            needs.append("patients in at least 2 NETPET groups (to compare them)")
        if needs:
            problems.append(Problem(
                "(whole cohort)", None, spec.get("label", ep),
                f"{n} patient(s) analysable, {events} event(s), {groups} NETPET group(s)",
                "; ".join(needs)))
    return problems


def _problem_order(p: Problem):
    return (p.expected, p.file, p.row if p.row is not None else -1, p.column)


def _apply_lesion_scores(data, lesions, ccfg, columns) -> list[Problem]:
    problems = []
    lesion_file = str(ccfg["lesions"])
    known = set(data["patient_id"].dropna())
    unknown = ~lesions["patient_id"].isin(known)
    for row in lesions.index[unknown]:
        problems.append(Problem(lesion_file, int(row), ccfg["lesion_columns"]["patient_id"],
                                "(value withheld)", "a patient id present in the cohort table"))
    derived = np_score.score_from_lesions(lesions[~unknown])
    pid_to_idx = pd.Series(data.index, index=data["patient_id"])
    pid_to_idx = pid_to_idx[~pid_to_idx.index.duplicated()]
    for pid, score in derived.items():
        idx = pid_to_idx[pid]
        given = data.at[idx, "netpet"]
        # A bare "P4" given in the table agrees with a derived P4a or P4b.
        agrees = pd.isna(given) or given == score or (
            given == "P4" and np_score.base_score(score) == "P4")
        if not agrees:
            problems.append(Problem(
                data.at[idx, "file"], int(data.at[idx, "row"]), columns.get("netpet", "netpet"),
                repr(given), f"the score derived from the lesion table ({score})"))
        data.at[idx, "netpet"] = score
    return problems
