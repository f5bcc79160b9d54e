"""Deriving endpoint times and events from dates, with consistency checks.

Given the dates of the SSTR and FDG scans, diagnosis, progression, death and
last follow-up, time zero is chosen by ``cohort.dates.time_zero`` (default the
later of the two scans) and

* OS  = death - time zero (event 1), else last follow-up - time zero (event 0);
* TTP = progression - time zero (event 1), else the earlier of death and last
  follow-up - time zero (event 0: death without progression censors TTP);

in months of ``days_per_month`` days (default 30.4375 = 365.25 / 12).

With ``cohort.dates.entry`` set to a scan, each patient enters the risk set at that
scan (delayed entry, left truncation): ``entry_time`` = entry - time zero. This is
how survival from diagnosis is analysed without immortal time: the NETPET score
exists only from the scan, so a patient is not counted at risk before it.

Every violation is reported, row by row: impossible or unreadable dates, dates
after the data cut-off (default: the day of the run), progression after death
or after last follow-up, last follow-up after death, and any event on or before
time zero are **errors**. Scans further apart than ``scan_window_days`` (default
60) and missing follow-up only **exclude** the patient (the exclusions ledger).
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from .units import DAYS_PER_MONTH  # one definition of the month

DATE_COLUMNS = ("sstr_scan_date", "fdg_scan_date", "diagnosis_date", "progression_date",
                "death_date", "last_follow_up_date")
TIME_ZERO = ("later_scan", "earlier_scan", "sstr_scan", "fdg_scan", "diagnosis")


_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_NUMERIC = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")
_INCOMPLETE = re.compile(r"\d{4}|\d{4}[/.-]\d{1,2}|\d{1,2}[/.-]\d{4}")


def _date_of(v, fmt: str | None, dayfirst: bool | None):
    """One cell read as a date: ``(timestamp or None, what was expected or None)``."""
    real = "a real calendar date"
    if v is None or (isinstance(v, float) and v != v) or type(v).__name__ in {"NaTType",
                                                                              "NAType"}:
        return None, None
    if isinstance(v, (dt.date, pd.Timestamp)):
        return pd.Timestamp(v), None
    if not isinstance(v, str):
        return None, "a date (a date cell or text such as 2024-03-31), not a number"
    text = v.strip()
    if not text:
        return None, None
    if fmt:
        try:
            return pd.Timestamp(dt.datetime.strptime(text, fmt)), None
        except ValueError:
            return None, f"{real} in the format {fmt} (cohort.dates.format)"
    iso = _ISO.fullmatch(text)
    numeric = _NUMERIC.fullmatch(text)
    try:
        if iso:
            return pd.Timestamp(dt.date(int(iso[1]), int(iso[2]), int(iso[3]))), None
        if numeric and dayfirst is not None:
            a, b, year = int(numeric[1]), int(numeric[2]), int(numeric[3])
            day, month = (a, b) if dayfirst else (b, a)
            return pd.Timestamp(dt.date(year, month, day)), None
        if numeric:
            return None, ("an unambiguous date: YYYY-MM-DD, or set cohort.dates.dayfirst "
                          "(true for 31/12/2024, false for 12/31/2024) or "
                          "cohort.dates.format")
        if _INCOMPLETE.fullmatch(text):
            return None, "a complete date with day, month and year"
        return None, (f"{real} as YYYY-MM-DD (or set cohort.dates.format for "
                      "another layout)")
    except ValueError:
        return None, real


def parse_dates(raw: pd.Series, fmt: str | None, dayfirst: bool | None):
    """Parse one date column by one explicit rule.

    A spreadsheet date cell is a date whatever the settings. Text is read with
    ``fmt`` (``strptime`` codes) when one is set; otherwise ISO ``YYYY-MM-DD``
    is accepted, and ``DD/MM/YYYY`` or ``MM/DD/YYYY`` (separators ``/ . -``)
    only when ``dayfirst`` says which (``True`` or ``False``): without it,
    ``03/04/2024`` is ambiguous and refused. A bare year or a month without a
    day is always refused unless ``fmt`` asks for it.

    Returns
    -------
    dates : pandas.Series (datetime64, normalised to the day)
    problems : dict
        Row -> what was expected, for every present value that is not a date.
    """
    from .distinct import broadcast, cell_array, distinct_cells, positions_of

    # each distinct text read once (a registry's date column repeats its days), each
    # date cell on its own
    key, values = distinct_cells(cell_array(raw))
    results = [_held(*_date_of(v, fmt, dayfirst)) for v in values]
    days = broadcast([np.datetime64("NaT", "ns") if ts is None else
                      ts.as_unit("ns").to_datetime64() for ts, _ in results], key,
                     "datetime64[ns]")
    parsed = pd.Series(days, index=raw.index, dtype="datetime64[ns]")
    refused = [k for k, (_, expected) in enumerate(results) if expected is not None]
    problems: dict = {}
    if refused:
        cells = positions_of(key, refused)
        problems = {row: results[k][1] for row, k in zip(raw.index[cells].tolist(),
                                                         key[cells].tolist())}
    return parsed.dt.normalize(), problems


#: The days a datetime64[ns] column holds (the first and last whole ones).
_FIRST_DAY = (pd.Timestamp.min + pd.Timedelta(days=1)).normalize()
_LAST_DAY = pd.Timestamp.max.normalize()


def _held(ts, expected):
    """A date as the column holds it: a date with a time zone (a Parquet or
    spreadsheet timestamp) is the calendar day where it was recorded, its zone
    dropped; a date the column cannot hold (the year 1500, a typing error) is refused
    as a problem of its cell, not a failure of the reading."""
    if ts is None:
        return ts, expected
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    if not _FIRST_DAY <= ts.normalize() <= _LAST_DAY:
        return None, f"a date between {_FIRST_DAY.date()} and {_LAST_DAY.date()}"
    return ts, None


def derive_times(dates: pd.DataFrame, settings: dict, endpoints: list[str]):
    """Times and events from parsed dates.

    Parameters
    ----------
    dates
        Columns from :data:`DATE_COLUMNS` (missing columns allowed), datetime64.
    settings
        ``cohort.dates`` configuration.
    endpoints
        Endpoints to derive (``os``, ``ttp``).

    Returns
    -------
    times : pandas.DataFrame
        ``<endpoint>_time`` (months) and ``<endpoint>_event``; with delayed entry
        (``settings["entry"]`` a scan), ``entry_time`` (months from time zero).
    errors : list of (row, column, value, expected)
    exclusions : list of (row, reason)
        Rows that cannot enter any analysis (scan window exceeded).
    """
    def col(name):
        return dates[name] if name in dates else pd.Series(pd.NaT, index=dates.index)

    sstr, fdg = col("sstr_scan_date"), col("fdg_scan_date")
    zero_rule = settings.get("time_zero", "later_scan")
    scans = {
        "later_scan": pd.concat([sstr, fdg], axis=1).max(axis=1, skipna=False),
        "earlier_scan": pd.concat([sstr, fdg], axis=1).min(axis=1, skipna=False),
        "sstr_scan": sstr, "fdg_scan": fdg,
    }
    zero = {**scans, "diagnosis": col("diagnosis_date")}[zero_rule]
    per_month = float(settings.get("days_per_month", DAYS_PER_MONTH))
    window = settings.get("scan_window_days", 60)
    cutoff = pd.Timestamp(settings.get("data_cutoff") or dt.date.today())
    prog, death, last = col("progression_date"), col("death_date"), col("last_follow_up_date")
    errors, exclusions = [], []

    def err(mask, column, value_of, expected):
        for row in dates.index[mask.fillna(False)]:
            errors.append((row, column, value_of(row), expected))

    def d(series):
        return lambda row: str(series[row].date())

    for name in DATE_COLUMNS:
        if name in dates:
            err(dates[name] > cutoff, name, d(dates[name]),
                f"a date on or before the data cut-off {cutoff.date()}")
    err(prog > death, "progression_date", d(prog), "progression on or before death")
    err(prog > last, "progression_date", d(prog), "progression on or before last follow-up")
    err(last > death, "last_follow_up_date", d(last), "last follow-up on or before death")
    for name, series in (("progression_date", prog), ("death_date", death)):
        err(series <= zero, name, d(series),
            f"an event after time zero ({zero_rule.replace('_', ' ')})")
    err(last < zero, "last_follow_up_date", d(last),
        f"follow-up ending on or after time zero ({zero_rule.replace('_', ' ')})")
    entry_rule = settings.get("entry", "time_zero")
    entry = zero if entry_rule == "time_zero" else scans[entry_rule]
    if entry_rule != "time_zero":
        # delayed entry: at risk from the entry day on (R Surv(entry, time, event)); an
        # event or the end of follow-up on or before it leaves nothing to analyse
        what = entry_rule.replace("_", " ")
        column = {"sstr_scan": "sstr_scan_date", "fdg_scan": "fdg_scan_date"}.get(
            entry_rule, "sstr_scan_date")
        err(entry < zero, column, d(entry),
            f"an entry ({what}) on or after time zero ({zero_rule.replace('_', ' ')})")
        for name, series in (("progression_date", prog), ("death_date", death),
                             ("last_follow_up_date", last)):
            err(series <= entry, name, d(series),
                f"a date after the entry into the risk set ({what}): delayed entry counts "
                "a patient from the entry on")
    if window is not None:
        gap = (sstr - fdg).abs().dt.days
        for row in dates.index[(gap > int(window)).fillna(False)]:
            exclusions.append((row, f"scans {int(gap[row])} days apart (window {int(window)} days)"))

    times = pd.DataFrame(index=dates.index)
    if entry_rule != "time_zero":
        times["entry_time"] = (entry - zero).dt.days / per_month
    if "os" in endpoints:
        end = death.where(death.notna(), last)
        times["os_time"] = (end - zero).dt.days / per_month
        times["os_event"] = np.where(death.notna(), 1.0, np.where(last.notna(), 0.0, np.nan))
    if "ttp" in endpoints:
        censor = pd.concat([death, last], axis=1).min(axis=1)
        end = prog.where(prog.notna(), censor)
        times["ttp_time"] = (end - zero).dt.days / per_month
        times["ttp_event"] = np.where(prog.notna(), 1.0, np.where(censor.notna(), 0.0, np.nan))
    for ep in endpoints:
        if f"{ep}_time" in times:
            times.loc[times[f"{ep}_time"].isna(), f"{ep}_event"] = np.nan
    return times, errors, exclusions
