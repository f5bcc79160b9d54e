"""The input check every public estimator of the engine shares.

Survival data reach the estimators as arrays from anywhere (a data frame, R's
``lung``, a user's list), so each public function checks them the same way:

* every argument has one value per subject, or the call is refused naming the
  arguments and their lengths (never a silent use of the first rows);
* ``event`` is 1 = event, 0 = censored (booleans too). R's ``Surv(time, status)``
  1 = censored / 2 = event coding (``survival::lung$status``) is refused with the
  recoding to use, as is any other value, because reading it as something else
  would change every estimate without a word;
* times are finite and not negative;
* a subject with a missing value (NaN/None) in any argument is left out, as R's
  default ``na.action = na.omit``, and the number left out is reported
  (:class:`MissingDataWarning`, and ``n_omitted`` where a result has keys);
* times that differ only by floating-point noise are made equal, as R's survival
  (>= 3.0) does by default (:func:`timefix`, R ``aeqSurv``, ``timefix = TRUE``);
  with delayed entry the entry and exit times are fixed together, as
  ``aeqSurv`` does for ``Surv(start, stop, event)``;
* delayed entry (left truncation, R ``Surv(entry, time, event)``): a subject whose
  entry time is not before its exit time is left out, as R's ``Surv`` makes such a
  row missing ("Stop time must be > start time, NA created"), and counted in
  ``n_omitted`` with its own warning (:class:`DelayedEntryWarning`);
* case weights (R ``weights =``) are finite and not negative.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._ranks import sorted_distinct


class MissingDataWarning(UserWarning):
    """Subjects with a missing value were left out (R ``na.omit``)."""


class DelayedEntryWarning(MissingDataWarning):
    """Subjects whose entry time is not before their exit time were left out (R ``Surv``)."""


#: R's tolerance for ``aeqSurv``: ``sqrt(.Machine$double.eps)``.
TIMEFIX_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def whole_times(t: np.ndarray) -> bool:
    """Whether ``t`` (floats) are whole numbers (days, months) below 1/tol.

    Two distinct such times differ by 1 or more, more than R's tolerance and more than
    it times their mean, so :func:`timefix` ties none of them (the usual case, found in
    a pass instead of a sort; NaN and infinity are not whole numbers here).
    """
    return bool(t.size and (np.floor(t) == t).all()
                and np.abs(t).max() < 1 / TIMEFIX_TOLERANCE)


def timefix(time) -> np.ndarray:
    """Times that differ by less than R's tolerance made equal (R ``survival:::aeqSurv``).

    The sorted distinct finite times ``y`` are tied to their predecessor when
    ``diff(y) <= tol`` or ``diff(y) / mean(|y|) <= tol``, ``tol = sqrt(machine
    epsilon)``; each time is replaced by the first time of its run of ties. R's
    ``survfit``, ``survdiff``, ``coxph`` and ``concordance`` do this by default
    (``timefix = TRUE``), so that an event at 5.000000000001 and a censoring at
    5 are tied, as they were meant to be, and not ordered by rounding noise.
    Missing values stay missing.

    Examples
    --------
    >>> from netpet_stats.survival._checks import timefix
    >>> timefix([5.000000000001, 5.0, 7.0, 2.0]).tolist()
    [5.0, 5.0, 7.0, 2.0]
    """
    return timefix_of_subsets(time)[0]


def timefix_of_subsets(time) -> tuple[np.ndarray, bool]:
    """:func:`timefix` of ``time``, and whether it leaves every subset of the times as
    given (a bootstrap resample's time fix is then the identity too).

    A subset's distinct times are at least as far apart as the closest two here, and
    their mean magnitude at most the largest here: when the closest two differ by more
    than ``tol`` and more than ``tol`` times the largest magnitude, R's rule ties no
    two times of any subset.
    """
    t = np.asarray(time, dtype=float)
    if whole_times(t):
        return t, True
    y = sorted_distinct(t[np.isfinite(t)])     # the distinct finite times, ascending
    if y.size < 2:
        return t, True
    dy = np.diff(y)
    tied = (dy <= TIMEFIX_TOLERANCE) | (dy / np.mean(np.abs(y)) <= TIMEFIX_TOLERANCE)
    if not tied.any():
        scale = max(1.0, float(np.abs(y).max()))
        return t, bool(dy.min() > TIMEFIX_TOLERANCE * scale)
    cuts = y[np.concatenate([[True], ~tied])]
    out = t.copy()
    finite = np.isfinite(t)
    out[finite] = cuts[np.searchsorted(cuts, t[finite], side="right") - 1]
    return out, False


@dataclass
class Checked:
    """Checked survival data: arrays of equal length with the incomplete subjects removed."""

    time: np.ndarray
    event: np.ndarray
    others: dict
    keep: np.ndarray  # which input subjects remain
    n_omitted: int
    entry: np.ndarray | None = None  # delayed-entry times, None when every subject enters at 0
    weights: np.ndarray | None = None  # case weights, None when every subject weighs 1


def _missing(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values) if values.ndim == 1 else np.isnan(values).any(axis=1)
    if values.dtype.kind in "iub":
        return np.zeros(len(values), dtype=bool)
    return pd.isna(values) if values.ndim == 1 else pd.isna(values).any(axis=1)


def _as_array(name: str, values, numeric: bool, function: str) -> np.ndarray:
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy()
    if isinstance(values, pd.DataFrame):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.ndim == 0:
        raise ValueError(f"{function}: `{name}` must have one value per subject, got a scalar")
    if numeric:
        if arr.dtype == object:
            try:
                arr = pd.to_numeric(pd.Series(arr), errors="raise").to_numpy(dtype=float)
            except (ValueError, TypeError):
                raise ValueError(f"{function}: `{name}` must be numeric; it holds values such "
                                 f"as {arr[:3].tolist()}") from None
        elif arr.dtype.kind not in "fiub":
            raise ValueError(f"{function}: `{name}` must be numeric, got {arr.dtype}")
        arr = arr.astype(float)
    return arr


def check_event_coding(event: np.ndarray, function: str) -> None:
    """Refuse anything but 0/1 (missing values aside), with the fix for R's 1/2 coding."""
    if ((event == 0) | (event == 1)).all():   # the usual case, at the cost of one pass
        return
    observed = event[~np.isnan(event)]
    if np.all((observed == 0) | (observed == 1)):
        return
    values = np.unique(observed)
    if set(values) <= {1.0, 2.0}:
        raise ValueError(
            f"{function}: `event` is coded 1/2 (R Surv(time, status): 1 = censored, 2 = event, "
            "as survival::lung$status); expected 1 = event, 0 = censored. Pass event = "
            "status - 1.")
    shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if values.size > 6 else "")
    raise ValueError(f"{function}: `event` must be 1 (event) or 0 (censored); got the values "
                     f"{shown}")


def check_survival(function: str, time, event, entry=None, weights=None,
                   **others) -> Checked:
    """Check ``time``, ``event`` and per-subject ``others`` (``None`` ones are skipped).

    Parameters
    ----------
    function
        The public function's name, for the messages.
    time, event
        Exit (follow-up) time and event indicator (1 = event, 0 = censored).
    entry
        Delayed-entry (left-truncation) time of each subject, on the scale of
        ``time``, or ``None`` (every subject at risk from 0). A subject is at
        risk on ``(entry, time]``, R ``Surv(entry, time, event)``.
    weights
        Case weights (R ``weights =``), finite and not negative, or ``None``.
    others
        Further per-subject arrays, ``name=values`` or ``name=(values, numeric)``.

    Returns
    -------
    Checked
        The arrays with incomplete subjects (and, with ``entry``, subjects whose
        entry is not before their exit) left out; ``entry``/``weights`` are
        ``None`` when not given.
    """
    t = _as_array("time", time, True, function)
    e = _as_array("event", event, True, function)
    start = None if entry is None else _as_array("entry", entry, True, function)
    w = None if weights is None else _as_array("weights", weights, True, function)
    arrays = {}
    for name, value in others.items():
        if value is None:
            continue
        values, numeric = value if isinstance(value, tuple) else (value, False)
        arrays[name] = _as_array(name, values, numeric, function)
    given = {"time": t, "event": e, "entry": start, "weights": w, **arrays}
    lengths = {k: len(v) for k, v in given.items() if v is not None}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"`{k}` {n}" for k, n in lengths.items())
        raise ValueError(f"{function}: the arguments must have one value per subject; their "
                         f"lengths differ ({shown})")
    check_event_coding(e, function)
    problems = []
    for name, values in (("time", t), ("entry", start)):
        if values is None or not ((values < 0) | np.isinf(values)).any():
            continue   # (a missing value is neither negative nor infinite)
        finite = values[~np.isnan(values)]
        if np.any(np.isinf(finite)):
            problems.append(f"`{name}` has infinite values")
        if np.any(finite < 0):
            problems.append(f"`{name}` has negative values ({finite[finite < 0][:3]})")
    if w is not None:
        observed = w[~np.isnan(w)]
        if np.any(~np.isfinite(observed)) or np.any(observed < 0):
            bad = observed[~np.isfinite(observed) | (observed < 0)]
            problems.append(f"`weights` must be finite and not negative; got {bad[:3]}")
    if problems:
        raise ValueError(f"{function}: " + "; ".join(problems))
    missing = np.isnan(t) | np.isnan(e)
    for arr in (start, w, *arrays.values()):
        if arr is not None:
            missing |= _missing(arr)
    if missing.any():
        warnings.warn(f"{function}: {int(missing.sum())} subject(s) with a missing value left "
                      "out (as R na.omit)", MissingDataWarning, stacklevel=3)
    if start is not None:
        # R's Surv() makes a row whose start is not before its stop missing.
        empty = ~missing & (start >= t)
        if empty.any():
            warnings.warn(f"{function}: {int(empty.sum())} subject(s) whose entry time is not "
                          "before their exit time left out (as R Surv(entry, time, event))",
                          DelayedEntryWarning, stacklevel=3)
            missing = missing | empty
    keep = ~missing
    n_omitted = int(missing.sum())
    if n_omitted:
        t, e = t[keep], e[keep]
        start = None if start is None else start[keep]
        w = None if w is None else w[keep]
        arrays = {k: v[keep] for k, v in arrays.items()}
    if start is None:
        t = timefix(t)
    else:
        # R's aeqSurv fixes entry and exit times together and refuses an interval
        # that the fix leaves of length 0.
        both = timefix(np.concatenate([start, t]))
        start, t = both[:len(t)], both[len(t):]
        if np.any(start >= t):
            raise ValueError(f"{function}: {int(np.sum(start >= t))} subject(s) have an entry "
                             "time equal to their exit time up to rounding noise (R aeqSurv: "
                             "'an interval has effective length 0'); correct the times")
    return Checked(t, e, arrays, keep, n_omitted, start, w)


def group_codes(labels, groups: list, function: str) -> np.ndarray:
    """Position of each label in ``groups``, labels compared by equality.

    ``pd.factorize`` finds the distinct labels in one hashing pass; only those few
    are looked up in ``groups`` (a Categorical costs five times as much on 300 rows).
    A label that is not among ``groups`` is refused, naming it.
    """
    codes, distinct = pd.factorize(np.asarray(labels, dtype=object), use_na_sentinel=True)
    unknown = [u for u in distinct if u not in groups]
    if unknown or (codes < 0).any():
        shown = sorted(str(u) for u in unknown)[:5] or ["a missing label"]
        raise ValueError(f"{function}: group label(s) {shown} are not among `groups` "
                         f"{[str(g) for g in groups]}")
    return np.array([groups.index(u) for u in distinct], int)[codes]
