"""Loading, validating and preparing a cohort table for analysis.

Every problem in the input is collected and reported at once as a
:class:`CohortValidationError`; nothing is dropped silently. Rows that are valid
but cannot enter a given analysis (P0, a missing score, a missing time, a
missing covariate) are recorded in an exclusions ledger with the reason.

Privacy: messages name the file, the row as the user sees it in the spreadsheet
(header = row 1), the column and the offending cell only; they never echo a
whole row, and never echo the patient identifier (``value withheld``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from . import netpet as np_score

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


def format_problems(problems: list[Problem]) -> str:
    """Readable report: a count, then problems grouped by file and column."""
    lines = [f"The cohort has {len(problems)} problem(s); nothing was analysed. Fix these and rerun:"]
    keyed: dict[tuple[str, str], list[Problem]] = {}
    for p in problems:
        keyed.setdefault((p.file, p.column), []).append(p)
    for (file, column), items in keyed.items():
        lines.append(f"\n  {file} - column '{column}' ({len(items)}):")
        for p in items:
            where = f"row {p.row}" if p.row is not None else "header"
            lines.append(f"    {where}: got {p.value}; expected {p.expected}")
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
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return str(value).strip().lower() in MISSING_TOKENS


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def read_table(path: str | Path, sheet: int | str | None = 0) -> pd.DataFrame:
    """Read a CSV, TSV or Excel table with every cell as text (no type guessing).

    Returns a frame whose index is the spreadsheet row number (header = row 1).
    """
    path = Path(path)
    if not path.exists():
        raise CohortValidationError([Problem(str(path), None, "-", "no such file", "an existing table")])
    suffix = path.suffix.lower()
    try:
        if suffix in {".xlsx", ".xlsm", ".xls"}:
            frame = pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=object)
            frame = frame.map(lambda v: None if _is_missing(v) else (
                str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)))
        else:
            sep = "\t" if suffix in {".tsv", ".tab", ".txt"} else ","
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                                encoding="utf-8-sig")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise CohortValidationError(
            [Problem(str(path), None, "-", f"unreadable file ({type(exc).__name__}: {exc})",
                     "a CSV, TSV or Excel table with one header row")]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    return frame


# --------------------------------------------------------------------------------------
# Column parsers: raw text -> typed values, collecting problems
# --------------------------------------------------------------------------------------


class _Collector:
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, row, column, value, expected):
        self.problems.append(Problem(self.file, row, column, _show(value, column), expected))


def _parse_number(raw: pd.Series, column: str, out: _Collector) -> pd.Series:
    values = pd.Series(np.nan, index=raw.index, dtype=float)
    for row, v in raw.items():
        if _is_missing(v):
            continue
        try:
            x = float(str(v).strip())
        except ValueError:
            out.add(row, column, v, "a number")
            continue
        if not math.isfinite(x):
            out.add(row, column, v, "a finite number")
            continue
        values[row] = x
    return values


def _parse_coded(raw: pd.Series, column: str, canonical: tuple, coding: dict,
                 out: _Collector, what: str) -> pd.Series:
    table = {str(k).strip().lower(): v for k, v in (coding or {}).items()}
    table.update({str(c).lower(): c for c in canonical})
    values = pd.Series(None, index=raw.index, dtype=object)
    for row, v in raw.items():
        if _is_missing(v):
            continue
        key = str(v).strip().lower()
        if key.endswith(".0") and key[:-2].isdigit():
            key = key[:-2]
        if key not in table:
            allowed = ", ".join(map(str, canonical))
            extra = sorted(set(table) - {str(c).lower() for c in canonical})
            hint = f" (or a spelling mapped in cohort.codings: {', '.join(extra)})" if extra else ""
            out.add(row, column, v, f"{what}: one of {allowed}{hint}")
            continue
        values[row] = table[key]
    return values


def _parse_text(raw: pd.Series) -> pd.Series:
    return raw.map(lambda v: None if _is_missing(v) else str(v).strip()).astype(object)


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


def _schema_problems(frame: pd.DataFrame, schema: pa.DataFrameSchema, file: str,
                     columns: dict, raw: pd.DataFrame) -> list[Problem]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        out = []
        cases = exc.failure_cases
        for case in cases.itertuples(index=False):
            column = str(case.column)
            user_col = columns.get(column, column)
            row = None if pd.isna(case.index) else int(case.index)
            expected = _CHECK_TEXT.get(str(case.check), str(case.check))
            # Echo the cell as the user typed it, not its parsed value.
            cell = raw.at[row, user_col] if row is not None and user_col in raw else case.failure_case
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
        One row per input patient row (index = spreadsheet row), canonical columns.
    exclusions
        Tidy ledger: ``row``, ``analysis``, ``reason``.
    """

    data: pd.DataFrame
    exclusions: pd.DataFrame


def _read_lesions(path: str, sheet, lesion_columns: dict, codings: dict,
                  out: _Collector) -> pd.DataFrame | None:
    raw = read_table(path, sheet)
    lc = _Collector(str(path))
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
    for flag in ("sstr_positive", "fdg_positive"):
        parsed = _parse_coded(raw[lesion_columns[flag]], lesion_columns[flag], (0, 1),
                              {**codings.get("positive", {}), "1": 1, "0": 0}, lc,
                              "uptake above background")
        for row in parsed.index[raw[lesion_columns[flag]].map(_is_missing)]:
            lc.add(row, lesion_columns[flag], "(empty)", "0 or 1")
        data[flag] = parsed
    av_col = lesion_columns["fdg_vs_sstr"]
    avid = raw[av_col].map(lambda v: None if _is_missing(v) else
                           np_score.AVIDITY_SPELLINGS.get(str(v).strip().lower(), "?"))
    both = (data["sstr_positive"] == 1) & (data["fdg_positive"] == 1)
    for row in data.index:
        if avid[row] == "?":
            lc.add(row, av_col, raw.at[row, av_col], "lower, equal or higher")
        elif both[row] and avid[row] is None:
            lc.add(row, av_col, "(empty)",
                   "lower, equal or higher (the lesion is positive on both tracers)")
    data["fdg_vs_sstr"] = avid.where(avid != "?")
    out.problems.extend(lc.problems)
    return data


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
    """
    ccfg = config["cohort"]
    columns: dict = {k: v for k, v in ccfg["columns"].items() if v}
    codings = ccfg.get("codings", {}) or {}
    endpoints = list(config["endpoints"])
    path = str(ccfg["table"])
    raw = read_table(path, ccfg.get("sheet", 0))
    out = _Collector(path)

    required = list(REQUIRED) + [f"{ep}_{x}" for ep in endpoints for x in ("time", "event")]
    if not ccfg.get("lesions"):
        required.append("netpet")
    for canon in required:
        if canon not in columns:
            out.add(None, canon, "(not mapped)", f"cohort.columns.{canon} naming a column")
    dupes = raw.columns[raw.columns.duplicated()].unique()
    for d in dupes:
        out.add(None, d, "(column appears more than once)", "unique column names")
    for canon, user in columns.items():
        if user not in raw.columns:
            kind = "required" if canon in required else "optional: set it to null if you have none"
            out.add(None, user, "(column absent)", f"a column named so for '{canon}' ({kind})")
    if len(raw) == 0:
        out.add(None, "-", "no data rows", "at least one patient row")
    # Check every column that is present, even when others are missing, so that
    # the report lists all problems at once.
    present = {canon: user for canon, user in columns.items()
               if user in raw.columns and user not in dupes}
    data = pd.DataFrame(index=raw.index)
    for canon in ("patient_id", "centre", "primary_site"):
        if canon in present:
            data[canon] = _parse_text(raw[present[canon]])
    for canon in ("ki67", "age"):
        if canon in present:
            data[canon] = _parse_number(raw[present[canon]], present[canon], out)
    coded = {"grade": (GRADES, "grade", "a WHO grade"), "sex": (SEXES, "sex", "a sex code"),
             "extrahepatic": ((0, 1), "extrahepatic", "extrahepatic disease")}
    for canon, (canonical, coding, what) in coded.items():
        if canon in present:
            data[canon] = _parse_coded(raw[present[canon]], present[canon], canonical,
                                       codings.get(coding), out, what)
    if "extrahepatic" in data:
        data["extrahepatic"] = data["extrahepatic"].astype(float)
    for ep in endpoints:
        tcol, ecol = f"{ep}_time", f"{ep}_event"
        if tcol in present:
            data[tcol] = _parse_number(raw[present[tcol]], present[tcol], out)
        if ecol in present:
            data[ecol] = _parse_coded(raw[present[ecol]], present[ecol], (0, 1),
                                      codings.get("event"), out, "an event indicator"
                                      ).astype(float)

    # NETPET score from the patient table, the lesion table, or both (then they must agree).
    given = pd.Series(None, index=raw.index, dtype=object)
    if "netpet" in present:
        for row, v in raw[present["netpet"]].items():
            try:
                given[row] = np_score.normalise_score(v)
            except ValueError:
                out.add(row, present["netpet"], v, "a NETPET score (P0-P5, P4a, P4b; e.g. 'P4b', '4', 'NETPET 3')")
    data["netpet"] = given
    if ccfg.get("lesions"):
        lesions = _read_lesions(ccfg["lesions"], ccfg.get("sheet", 0), ccfg["lesion_columns"],
                                codings, out)
        if lesions is not None and not out.problems and "patient_id" in data:
            _apply_lesion_scores(data, lesions, ccfg, columns, out)

    out.problems.extend(_schema_problems(data, cohort_schema(endpoints), path, columns, raw))
    if out.problems:
        raise CohortValidationError(sorted(out.problems, key=_problem_order))

    grouping = np_score.resolve_grouping(config["netpet"]["grouping"])
    data["netpet_group"] = np_score.assign_groups(data["netpet"], grouping)
    data.insert(0, "row", data.index.to_numpy())
    return PreparedCohort(data=data, exclusions=exclusion_ledger(data, config))


def _problem_order(p: Problem):
    return (p.file, p.row if p.row is not None else -1, p.column)


def _apply_lesion_scores(data, lesions, ccfg, columns, out):
    lesion_file = str(ccfg["lesions"])
    known = set(data["patient_id"].dropna())
    unknown = ~lesions["patient_id"].isin(known)
    for row in lesions.index[unknown]:
        out.problems.append(Problem(lesion_file, int(row), ccfg["lesion_columns"]["patient_id"],
                                    "(value withheld)", "a patient id present in the cohort table"))
    derived = np_score.score_from_lesions(lesions[~unknown])
    pid_to_row = pd.Series(data.index, index=data["patient_id"])
    pid_to_row = pid_to_row[~pid_to_row.index.duplicated()]
    for pid, score in derived.items():
        row = pid_to_row[pid]
        given = data.at[row, "netpet"]
        # A bare "P4" given in the table agrees with a derived P4a or P4b.
        agrees = pd.isna(given) or given == score or (
            given == "P4" and np_score.base_score(score) == "P4")
        if not agrees:
            out.problems.append(Problem(
                str(ccfg["table"]), int(row), columns.get("netpet", "netpet"), repr(given),
                f"the score derived from the lesion table ({score})"))
        data.at[row, "netpet"] = score


def exclusion_ledger(data: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Who is excluded from which analysis, and why (R's ``na.action = na.omit``).

    Analyses: ``all`` (no NETPET group), ``<endpoint>`` (no time or event), and
    ``<endpoint>:<model>`` for each Cox model and univariable covariate (a
    covariate in the model is missing). A row excluded from ``all`` is not
    listed again for the individual analyses.
    """
    records = []
    no_group = data["netpet_group"].isna()
    for row, score, bad in zip(data["row"], data["netpet"], no_group):
        if bad:
            reason = ("NETPET score missing (none given, no lesions listed)" if pd.isna(score) else
                      f"NETPET score {score} is in no analysis group (netpet.grouping)")
            records.append((row, "all", reason))
    models = model_specs(config)
    for ep in config["endpoints"]:
        time_col, ev_col = f"{ep}_time", f"{ep}_event"
        no_ep = data[time_col].isna() | data[ev_col].isna()
        for row, t_missing, ok in zip(data["row"], data[time_col].isna(), ~no_ep | no_group):
            if not ok:
                records.append((row, ep, f"{ep} {'time' if t_missing else 'event'} missing"))
        base_ok = ~no_group & ~no_ep
        for name, spec in models.items():
            needed = [c for c in spec["covariates"] + spec["strata"]
                      + ([spec["cluster"]] if spec.get("cluster") else []) if c != "netpet_group"]
            if not needed:
                continue
            miss = data.loc[base_ok, needed].isna()
            miss = miss[miss.any(axis=1)]
            names = np.array([VARIABLE_NAMES.get(c, c) for c in needed], dtype=object)
            for row, flags in zip(data.loc[miss.index, "row"], miss.to_numpy()):
                records.append((int(row), f"{ep}:{name}", "missing " + ", ".join(names[flags])))
    ledger = pd.DataFrame(records, columns=["row", "analysis", "reason"])
    return ledger.sort_values(["row", "analysis"], kind="mergesort").reset_index(drop=True)


def model_specs(config: dict) -> dict[str, dict]:
    """All Cox models the configuration asks for: univariable ones and named ones."""
    specs = {}
    for cov in config["cox"]["univariable"]:
        specs[f"univariable_{cov}"] = {"covariates": [cov], "strata": [], "cluster": None,
                                       "label": config["covariates"][cov]["label"]}
    for name, spec in config["cox"]["models"].items():
        specs[name] = {"covariates": list(spec["covariates"]),
                       "strata": list(spec.get("strata", [])),
                       "cluster": spec.get("cluster"),
                       "label": spec.get("label", name)}
    return specs


def analysis_set(data: pd.DataFrame, endpoint: str, columns: list[str] = ()) -> pd.DataFrame:
    """Rows that enter an analysis of ``endpoint`` using ``columns`` (complete cases)."""
    need = ["netpet_group", f"{endpoint}_time", f"{endpoint}_event", *columns]
    return data.dropna(subset=list(dict.fromkeys(need)))
