"""Progression with death as a competing event: each patient's state, by a stated rule.

Three states on the progression clock: progressed (1), died without progression
(2), censored (0). Taken from an explicit status column when the cohort has one
(``cohort.columns.progression_status``), else derived from the progression and
death endpoints (themselves given or derived from dates):

* progression at t_p (no later than t_d + tol): progressed at t_p (a death within
  tol of it is listed: counted as progression);
* no progression, follow-up to t_p, death at t_d within tol: died without
  progression at t_p;
* no progression, follow-up to t_p ending more than tol before death: censored at
  t_p (listed: progression follow-up stopped before death; the patient is not
  assumed progression-free until death);
* no progression, follow-up recorded past death: died without progression at t_d
  (listed);
* no progression, alive: censored at min(t_p, t_d) (listed when t_p > t_d + tol);
* progression after the end of follow-up (t_p > t_d + tol): refused.

``tol`` is ``competing_risks.same_time_days`` (default one day), in the analysis
unit. Progression-free survival (an endpoint with ``derive: progression_or_death``)
is the same time with event = progressed or died.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import units

#: Canonical values of an explicit status column and their codes.
STATUS_CODES = {"censored": 0, "progression": 1, "death": 2}
STATE_NAMES = {0: "censored", 1: "progressed", 2: "died without progression"}


@dataclass
class CompetingStates:
    """Per-row state and time (NaN where unknown) and the rows the rule had to decide."""

    time: np.ndarray
    status: np.ndarray
    notes: list          # (index, note): ambiguous rows and the rule applied
    problems: list       # (index, column, value, expected): contradictions, refused


def competing_states(data: pd.DataFrame, progression: str, death: str, tolerance_days: float,
                     unit: str, days_per_month: float = units.DAYS_PER_MONTH) -> CompetingStates:
    """Each row's progression / death-without-progression / censored state and time.

    Parameters
    ----------
    data
        Prepared cohort with ``<progression>_time/_event``, ``<death>_time/_event``
        in ``unit``, and optionally ``progression_status`` (progression, death,
        censored: then the time is the progression endpoint's time).
    tolerance_days
        Two times at most this many days apart are the same time.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"ttp_time": [5.0, 8.0, 3.0], "ttp_event": [1.0, 0.0, 0.0],
    ...                   "os_time": [9.0, 8.0, 20.0], "os_event": [1.0, 1.0, 1.0]})
    >>> s = competing_states(d, "ttp", "os", 1, "months")
    >>> s.status.tolist(), len(s.notes)
    ([1.0, 2.0, 0.0], 1)
    """
    tol = units.convert([tolerance_days], "days", unit, days_per_month)[0]
    tp, ep = data[f"{progression}_time"].to_numpy(float), data[f"{progression}_event"].to_numpy(float)
    td, ed = data[f"{death}_time"].to_numpy(float), data[f"{death}_event"].to_numpy(float)
    n = len(data)
    time, status = np.full(n, np.nan), np.full(n, np.nan)
    notes, problems = [], []
    index = data.index.to_numpy()
    known = ~(np.isnan(tp) | np.isnan(ep) | np.isnan(td) | np.isnan(ed))   # else: the ledger
    gap = tp - td
    same = np.abs(gap) <= tol
    explicit = np.zeros(n, bool)
    if "progression_status" in data:
        given = data["progression_status"].to_numpy(object)
        explicit = known & pd.notna(given)
        for i in np.flatnonzero(explicit):
            code = STATUS_CODES[given[i]]
            bad = _explicit_conflict(code, ep[i], ed[i], gap[i], tol)
            if bad:
                problems.append((index[i], "progression_status", given[i], bad))
            else:
                time[i], status[i] = tp[i], code
    rule = known & ~explicit
    late = rule & (ep == 1) & (gap > tol)
    for i in np.flatnonzero(late):
        problems.append((index[i], f"{progression}_time", tp[i],
                         f"a progression time no later than the {death} time ({td[i]:g}): "
                         "progression after the end of follow-up"))
    progressed = rule & (ep == 1) & ~late
    time[progressed], status[progressed] = tp[progressed], 1
    died = rule & (ep == 0) & (ed == 1)
    at_death = died & same
    time[at_death], status[at_death] = tp[at_death], 2
    stopped = died & ~same & (gap < 0)
    time[stopped], status[stopped] = tp[stopped], 0
    past = died & ~same & (gap > 0)
    time[past], status[past] = td[past], 2
    alive = rule & (ep == 0) & (ed == 0)
    time[alive], status[alive] = np.minimum(tp[alive], td[alive]), 0
    for i in np.flatnonzero(progressed & (ed == 1) & same):
        notes.append((index[i], "progression and death at the same time: counted as "
                                "progression"))
    for i in np.flatnonzero(stopped):
        notes.append((index[i], f"progression follow-up ended {-gap[i]:.3g} {unit} before "
                                "death: censored at the end of progression follow-up (not "
                                "assumed progression-free until death)"))
    for i in np.flatnonzero(past):
        notes.append((index[i], f"progression follow-up recorded {gap[i]:.3g} {unit} past "
                                "death: died without progression at the death time"))
    for i in np.flatnonzero(alive & (gap > tol)):
        notes.append((index[i], f"progression follow-up recorded {gap[i]:.3g} {unit} past the "
                                "end of follow-up: censored at the end of follow-up"))
    notes.sort(key=lambda x: x[0])
    return CompetingStates(time, status, notes, problems)


def _explicit_conflict(code: int, prog_event: float, death_event: float, gap: float,
                       tol: float) -> str | None:
    """Why an explicit status contradicts the endpoints, or ``None``."""
    if code == 1 and prog_event != 1:
        return "progression only where the progression event is 1 (it is 0 on this row)"
    if code != 1 and prog_event == 1:
        return "progression: the progression event is 1 on this row"
    if code == 2 and death_event != 1:
        return "death only where the death event is 1 (it is 0 on this row)"
    if code == 2 and abs(gap) > tol:
        return ("death only at the death time: the progression follow-up ends at another "
                "time on this row")
    return None
