"""Validating and preparing a cohort table for analysis.

Every problem in the input is collected and reported at once as a
:class:`CohortValidationError`; nothing is dropped silently. Rows that are valid
but cannot enter a given analysis (P0, a missing score, a missing time, a
missing covariate) are recorded in an exclusions ledger with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ..netpet import scoring as np_score
from . import dates as dates_mod
from .ledger import exclusion_ledger
from .problems import (GRADES, REQUIRED, SEXES,
                       CohortValidationError, Problem, _is_missing, _show)
from .read import cohort_sources, read_table


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

    Examples
    --------
    >>> from netpet_stats import load_config, prepare_cohort
    >>> cohort = prepare_cohort(load_config())  # the bundled synthetic cohort
    >>> len(cohort.data), cohort.data["netpet_group"].value_counts(sort=False).to_dict()
    (319, {'P1': 86, 'P2-4': 170, 'P5': 51})
    >>> sorted(cohort.exclusions.columns)
    ['analysis', 'file', 'reason', 'row']
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
