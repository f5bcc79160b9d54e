"""Deriving endpoint times and events from dates, with consistency checks.

Given the dates of the SSTR and FDG scans, diagnosis, progression, death and
last follow-up, time zero is chosen by ``cohort.dates.time_zero`` (default the
later of the two scans) and

* OS  = death - time zero (event 1), else last follow-up - time zero (event 0);
* TTP = progression - time zero (event 1), else the earlier of death and last
  follow-up - time zero (event 0: death without progression censors TTP);

in months of ``days_per_month`` days (default 30.4375 = 365.25 / 12).

Every violation is reported, row by row: impossible or unreadable dates, dates
after the data cut-off (default: the day of the run), progression after death
or after last follow-up, last follow-up after death, and any event on or before
time zero are **errors**. Scans further apart than ``scan_window_days`` (default
60) and missing follow-up only **exclude** the patient (the exclusions ledger).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

DATE_COLUMNS = ("sstr_scan_date", "fdg_scan_date", "diagnosis_date", "progression_date",
                "death_date", "last_follow_up_date")
TIME_ZERO = ("later_scan", "earlier_scan", "sstr_scan", "fdg_scan", "diagnosis")
DAYS_PER_MONTH = 30.4375


def parse_dates(raw: pd.Series, fmt: str | None, dayfirst: bool):
    """Parse one column; return (dates, rows that are present but unreadable)."""
    present = raw.notna() & (raw.astype(str).str.strip() != "")
    text = raw.where(present).astype(object)
    if fmt:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    else:
        parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
        for i, v in text.items():
            if isinstance(v, (dt.date, pd.Timestamp)):
                parsed[i] = pd.Timestamp(v)
            elif isinstance(v, str):
                try:
                    parsed[i] = pd.Timestamp(pd.to_datetime(v.strip(), dayfirst=dayfirst))
                except (ValueError, OverflowError):
                    parsed[i] = pd.NaT
    bad = present & parsed.isna()
    return parsed.dt.normalize(), bad


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
        ``<endpoint>_time`` (months) and ``<endpoint>_event``.
    errors : list of (row, column, value, expected)
    exclusions : list of (row, reason)
        Rows that cannot enter any analysis (scan window exceeded).
    """
    def col(name):
        return dates[name] if name in dates else pd.Series(pd.NaT, index=dates.index)

    sstr, fdg = col("sstr_scan_date"), col("fdg_scan_date")
    zero_rule = settings.get("time_zero", "later_scan")
    zero = {
        "later_scan": pd.concat([sstr, fdg], axis=1).max(axis=1, skipna=False),
        "earlier_scan": pd.concat([sstr, fdg], axis=1).min(axis=1, skipna=False),
        "sstr_scan": sstr, "fdg_scan": fdg, "diagnosis": col("diagnosis_date"),
    }[zero_rule]
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
    if window is not None:
        gap = (sstr - fdg).abs().dt.days
        for row in dates.index[(gap > int(window)).fillna(False)]:
            exclusions.append((row, f"scans {int(gap[row])} days apart (window {int(window)} days)"))

    times = pd.DataFrame(index=dates.index)
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
