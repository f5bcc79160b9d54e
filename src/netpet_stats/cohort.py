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

from . import dates as dates_mod
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
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return str(value).strip().lower() in MISSING_TOKENS


# --------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------


def _sniff_delimiter(path: Path) -> str:
    import csv

    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        sample = fh.read(65536)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","


def read_table(path: str | Path, sheet: int | str | None = 0,
               delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV/TSV (any delimiter), Excel or Parquet table, every cell as text.

    CSV and TSV may be UTF-8 with or without a byte-order mark; the delimiter is
    detected unless given. Returns a frame whose index is the spreadsheet row
    number (header = row 1).
    """
    path = Path(path)
    if not path.exists():
        raise CohortValidationError([Problem(str(path), None, "-", "no such file", "an existing table")])
    suffix = path.suffix.lower()
    try:
        if suffix in {".xlsx", ".xlsm", ".xls", ".parquet", ".pq"}:
            frame = (pd.read_parquet(path) if suffix in {".parquet", ".pq"} else
                     pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=object))
            frame = frame.astype(object).map(lambda v: None if _is_missing(v) else (
                str(int(v)) if isinstance(v, float) and v.is_integer() else
                (v.date().isoformat() if isinstance(v, pd.Timestamp) and v == v.normalize()
                 else str(v))))
        else:
            sep = delimiter if delimiter and delimiter != "auto" else _sniff_delimiter(path)
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False,
                                encoding="utf-8-sig")
    except (ValueError, OSError, pd.errors.ParserError, KeyError, ImportError) as exc:
        raise CohortValidationError(
            [Problem(str(path), None, "-", f"unreadable file ({type(exc).__name__}: {exc})",
                     "a CSV, TSV, Excel or Parquet table with one header row")]) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    return frame


def cohort_sources(ccfg: dict) -> list[tuple[str, str | None]]:
    """The input files and the centre each stands for (``None``: from a column).

    ``cohort.table`` is one file; ``cohort.tables`` a list of ``{path, centre}``;
    ``cohort.folder`` with ``pattern`` every matching file, the centre taken
    from the file name (its stem, or the first group of ``centre_from_name``).
    """
    import re

    if ccfg.get("tables"):
        return [(str(t["path"]), t.get("centre")) for t in ccfg["tables"]]
    if ccfg.get("folder"):
        folder = Path(ccfg["folder"])
        files = sorted(folder.glob(ccfg.get("pattern", "*")))
        regex = re.compile(ccfg.get("centre_from_name", r"(.+)"))
        out = []
        for f in files:
            match = regex.search(f.stem)
            out.append((str(f), match.group(1) if match else f.stem))
        if not out:
            raise CohortValidationError([Problem(str(folder), None, "-", "no matching files",
                                                 f"files matching {ccfg.get('pattern', '*')}")])
        return out
    return [(str(ccfg["table"]), None)]


# --------------------------------------------------------------------------------------
# Column parsers: raw text -> typed values, collecting problems
# --------------------------------------------------------------------------------------


class _Collector:
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def add(self, row, column, value, expected):
        self.problems.append(Problem(self.file, row, column, _show(value, column), expected))


def _parse_number(raw: pd.Series, column: str, out: _Collector, decimal: str = ".") -> pd.Series:
    values = pd.Series(np.nan, index=raw.index, dtype=float)
    for row, v in raw.items():
        if _is_missing(v):
            continue
        text = str(v).strip()
        if decimal == ",":
            text = text.replace(".", "").replace(",", ".") if "," in text else text
        try:
            x = float(text)
        except ValueError:
            out.add(row, column, v, "a number" + (" (decimal comma)" if decimal == "," else ""))
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


DATE_MODE_ENDPOINTS = ("os", "ttp")


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
        out.add(None, "-", "no data rows", "at least one patient row")
    present = {canon: user for canon, user in columns.items()
               if user in raw.columns and user not in dupes}
    data = pd.DataFrame(index=raw.index)
    for canon in ("patient_id", "centre", "primary_site"):
        if canon in present:
            data[canon] = _parse_text(raw[present[canon]])
    if centre is not None and "centre" not in data:
        data["centre"] = centre
    for canon in ("ki67", "age"):
        if canon in present:
            data[canon] = _parse_number(raw[present[canon]], present[canon], out, decimal)
    coded = {"grade": (GRADES, "grade", "a WHO grade"), "sex": (SEXES, "sex", "a sex code"),
             "extrahepatic": ((0, 1), "extrahepatic", "extrahepatic disease")}
    for canon, (canonical, coding, what) in coded.items():
        if canon in present:
            data[canon] = _parse_coded(raw[present[canon]], present[canon], canonical,
                                       codings.get(coding), out, what)
    if "extrahepatic" in data:
        data["extrahepatic"] = data["extrahepatic"].astype(float)
    if ccfg.get("times", "given") == "dates":
        settings = ccfg.get("dates") or {}
        for name in dates_mod.DATE_COLUMNS:
            if name in present:
                parsed, bad = dates_mod.parse_dates(raw[present[name]], settings.get("format"),
                                                    bool(settings.get("dayfirst", False)))
                for row in raw.index[bad]:
                    out.add(row, present[name], raw.at[row, present[name]],
                            "a real calendar date" + (f" in the format {settings['format']}"
                                                      if settings.get("format") else ""))
                data[name] = parsed
    else:
        for ep in endpoints:
            tcol, ecol = f"{ep}_time", f"{ep}_event"
            if tcol in present:
                data[tcol] = _parse_number(raw[present[tcol]], present[tcol], out, decimal)
            if ecol in present:
                data[ecol] = _parse_coded(raw[present[ecol]], present[ecol], (0, 1),
                                          codings.get("event"), out, "an event indicator"
                                          ).astype(float)
    given = pd.Series(None, index=raw.index, dtype=object)
    if "netpet" in present:
        for row, v in raw[present["netpet"]].items():
            try:
                given[row] = np_score.normalise_score(v)
            except ValueError:
                out.add(row, present["netpet"], v,
                        "a NETPET score (P0-P5, P4a, P4b; e.g. 'P4b', '4', 'NETPET 3')")
    data["netpet"] = given
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
    rows = [{"file": Path(f).name, "row": int(r),
             "warning": f"WHO grade {g} but Ki-67 {x:g}% (a {i} value under WHO 2019); "
                        "grade terms use the recorded grade, Ki-67 terms the recorded Ki-67"}
            for f, r, g, x, i in zip(data.loc[bad, "file"], data.loc[bad, "row"],
                                     data.loc[bad, "grade"], data.loc[bad, "ki67"], implied[bad])]
    return pd.DataFrame(rows, columns=["file", "row", "warning"])


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
    endpoints = list(config["endpoints"])
    required = _required_columns(ccfg, endpoints)
    problems: list[Problem] = []
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
    parts, raws = [], {}
    for path, centre in sources:
        try:
            raw = read_table(path, ccfg.get("sheet", 0), ccfg.get("delimiter"))
        except CohortValidationError as exc:
            problems.extend(exc.problems)
            continue
        raws[path] = raw
        out = _Collector(path)
        parts.append(_parse_source(raw, path, centre, ccfg, endpoints, required, out))
        problems.extend(out.problems)
    if problems and not parts:
        raise CohortValidationError(problems)
    data = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    data["exclusion"] = None

    if ccfg.get("times", "given") == "dates":
        date_cols = [c for c in dates_mod.DATE_COLUMNS if c in data]
        times, errors, excluded = dates_mod.derive_times(data[date_cols], ccfg.get("dates") or {},
                                                         endpoints)
        for idx, column, value, expected in errors:
            problems.append(Problem(data.at[idx, "file"], int(data.at[idx, "row"]),
                                    columns.get(column, column), repr(value), expected))
        for idx, reason in excluded:
            data.at[idx, "exclusion"] = reason
        for col in times:
            data[col] = times[col]

    if ccfg.get("lesions"):
        # The lesion table is always checked, so that its problems are listed with
        # the others; scores are compared only once both tables are clean.
        out = _Collector(str(ccfg["lesions"]))
        try:
            lesions = _read_lesions(ccfg["lesions"], ccfg.get("sheet", 0),
                                    ccfg["lesion_columns"], ccfg.get("codings", {}) or {}, out)
        except CohortValidationError as exc:
            lesions = None
            out.problems.extend(exc.problems)
        clean = not problems and not out.problems
        problems.extend(out.problems)
        if lesions is not None and clean and "patient_id" in data:
            problems.extend(_apply_lesion_scores(data, lesions, ccfg, columns))

    problems.extend(_schema_problems(data, cohort_schema(endpoints), columns, raws))
    if problems:
        raise CohortValidationError(sorted(problems, key=_problem_order))

    grouping = np_score.resolve_grouping(config["netpet"]["grouping"])
    data["netpet_group"] = np_score.assign_groups(data["netpet"], grouping)
    data.loc[data["exclusion"].notna(), "netpet_group"] = np.nan
    return PreparedCohort(data=data, exclusions=exclusion_ledger(data, config),
                          warnings=grade_ki67_warnings(data))


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


def exclusion_ledger(data: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Who is excluded from which analysis, and why (R's ``na.action = na.omit``).

    Analyses: ``all`` (no NETPET group, or excluded by a date rule such as the
    scan window), ``<endpoint>`` (no time or event), and ``<endpoint>:<model>``
    for each Cox model and univariable covariate (a covariate in the model is
    missing). A row excluded from ``all`` is not listed again for the individual
    analyses. Rows are identified by input file name and spreadsheet row only.
    """
    records = []
    files = data["file"].map(lambda f: Path(f).name)
    no_group = data["netpet_group"].isna()
    for f, row, score, why, bad in zip(files, data["row"], data["netpet"], data["exclusion"],
                                       no_group):
        if bad:
            if isinstance(why, str):
                reason = why
            elif pd.isna(score):
                reason = "NETPET score missing (none given, no lesions listed)"
            else:
                reason = f"NETPET score {score} is in no analysis group (netpet.grouping)"
            records.append((f, int(row), "all", reason))
    models = model_specs(config)
    for ep in config["endpoints"]:
        time_col, ev_col = f"{ep}_time", f"{ep}_event"
        no_ep = data[time_col].isna() | data[ev_col].isna()
        for f, row, t_missing, flag in zip(files, data["row"], data[time_col].isna(),
                                           no_ep & ~no_group):
            if flag:
                records.append((f, int(row), ep, f"{ep} {'time' if t_missing else 'event'} missing"))
        base_ok = ~no_group & ~no_ep
        for name, spec in models.items():
            needed = [c for c in spec["covariates"] + spec["strata"]
                      + ([spec["cluster"]] if spec.get("cluster") else []) if c != "netpet_group"]
            if not needed:
                continue
            miss = data.loc[base_ok, needed].isna()
            miss = miss[miss.any(axis=1)]
            names = np.array([VARIABLE_NAMES.get(c, c) for c in needed], dtype=object)
            for f, row, flags in zip(files[miss.index], data.loc[miss.index, "row"],
                                     miss.to_numpy()):
                records.append((f, int(row), f"{ep}:{name}", "missing " + ", ".join(names[flags])))
    ledger = pd.DataFrame(records, columns=["file", "row", "analysis", "reason"])
    return ledger.sort_values(["file", "row", "analysis"], kind="mergesort").reset_index(drop=True)


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


def validation_config_problems(config: dict) -> list[str]:
    """Inconsistencies of the ``validation`` block that the JSON schema cannot see.

    Every problem at once, each naming the key and what was expected.
    """
    v = config.get("validation") or {}
    if v.get("mode", "none") == "none":
        return []
    problems = []
    specs = model_specs(config)
    if v.get("endpoint") not in config["endpoints"]:
        problems.append(f"validation.endpoint: {v.get('endpoint')!r} is not one of the endpoints "
                        f"{sorted(config['endpoints'])}")
    named = {"validation.model": v.get("model")}
    if v.get("added_value"):
        named.update({f"validation.added_value.{role}": v["added_value"][role]
                      for role in ("base", "extended")})
    for key, name in named.items():
        if v.get("mode") != "develop" and key != "validation.model":
            continue  # validate mode reads the frozen files, not the specs
        if name not in specs:
            problems.append(f"{key}: model {name!r} is not in cox.models "
                            f"(expected one of {sorted(config['cox']['models'])})")
        elif specs[name]["strata"] and v.get("mode") == "develop":
            problems.append(f"{key}: model {name!r} is stratified by {specs[name]['strata']}; "
                            "a model frozen for new cohorts must be unstratified")
    return problems


def analysis_set(data: pd.DataFrame, endpoint: str, columns: list[str] = ()) -> pd.DataFrame:
    """Rows that enter an analysis of ``endpoint`` using ``columns`` (complete cases).

    In a NETPET cohort a patient must also have an analysis group; a generic
    cohort (no ``netpet_group`` column) needs only the outcome and ``columns``.
    """
    group = ["netpet_group"] if "netpet_group" in data.columns else []
    need = [*group, f"{endpoint}_time", f"{endpoint}_event", *columns]
    return data.dropna(subset=list(dict.fromkeys(need)))
