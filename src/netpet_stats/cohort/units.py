"""Time units: the unit of each input column, the unit of the analysis, one conversion.

Each endpoint's time column is in the unit its configuration declares
(``endpoints.<name>.time_unit``: days, weeks, months or years); the analysis is
in ``analysis_time_unit``, the unit of every time setting (landmarks, risk-table
times, horizons, the curve step, truncation times) and of every result. Times
are converted once, when the cohort is prepared. A month is 365.25 / 12 =
30.4375 days and a year 365.25 days (``cohort.dates.days_per_month`` sets the
month for times derived from dates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import unit_length_days

UNITS = ("days", "weeks", "months", "years")
DAYS_PER_MONTH = 30.4375


def days_per_unit(unit: str, days_per_month: float = DAYS_PER_MONTH) -> float:
    """Length of one ``unit`` in days (the one table, :func:`netpet_stats.config.unit_length_days`)."""
    return unit_length_days(unit, days_per_month)


def convert(values, from_unit: str, to_unit: str, days_per_month: float = DAYS_PER_MONTH):
    """``values`` in ``from_unit`` expressed in ``to_unit``.

    Examples
    --------
    >>> convert([365.25, 730.5], "days", "months").tolist()
    [12.0, 24.0]
    >>> convert([18], "months", "years").tolist()
    [1.5]
    """
    if from_unit == to_unit:
        return np.asarray(values, float)
    factor = days_per_unit(from_unit, days_per_month) / days_per_unit(to_unit, days_per_month)
    return np.asarray(values, float) * factor


#: Plausible bounds of the median observed time of a cohort, in years: beyond them
#: the declared unit is probably wrong (days declared as months, or the reverse).
PLAUSIBLE_MEDIAN_YEARS = (7 / 365.25, 40.0)
#: ... and of the longest observed time.
MAX_YEARS = 100.0


def plausibility_warnings(data: pd.DataFrame, config: dict) -> list[str]:
    """Cohort-level warnings when times or time settings look like the wrong unit.

    * the median observed time of an endpoint below a week or above 40 years, or its
      longest observed time above 100 years;
    * every landmark, risk-table time or validation horizon within the first tenth of
      the median observed time (settings written in months for data in days?).
    """
    unit = config["analysis_time_unit"]
    out = []
    for ep, spec in config["endpoints"].items():
        col = f"{ep}_time"
        if col not in data or data[col].notna().sum() == 0:
            continue
        median, longest = float(data[col].median()), float(data[col].max())
        years, longest_years = (float(v) for v in convert([median, longest], unit, "years"))
        low, high = PLAUSIBLE_MEDIAN_YEARS
        if not low <= years <= high or longest_years > MAX_YEARS:
            given = spec.get("time_unit", "months")
            out.append(f"{spec['label']}: the median observed time is {median:g} {unit} "
                       f"({years:.3g} years), the longest {longest:g} {unit} "
                       f"({longest_years:.3g} years), implausible for a cohort; is the time "
                       f"column really in {given} (endpoints.{ep}.time_unit)?")
            continue
        km = config.get("kaplan_meier", {})
        settings = {"kaplan_meier.landmarks": km.get("landmarks", []),
                    "kaplan_meier.risk_table_times": km.get("risk_table_times", [])}
        vcfg = config.get("validation") or {}
        if vcfg.get("mode", "none") != "none" and vcfg.get("endpoint") == ep:
            settings["validation.horizons"] = vcfg.get("horizons", [])
        for key, times in settings.items():
            if times and max(times) < median / 10:
                out.append(f"{spec['label']}: every {key} ({', '.join(f'{t:g}' for t in times)}"
                           f" {unit}) lies within the first tenth of the median observed time "
                           f"({median:g} {unit}); are they written in {unit} "
                           "(analysis_time_unit)?")
    return out
