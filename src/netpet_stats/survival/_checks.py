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
  (>= 3.0) does by default (:func:`timefix`, R ``aeqSurv``, ``timefix = TRUE``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd


class MissingDataWarning(UserWarning):
    """Subjects with a missing value were left out (R ``na.omit``)."""


#: R's tolerance for ``aeqSurv``: ``sqrt(.Machine$double.eps)``.
TIMEFIX_TOLERANCE = float(np.sqrt(np.finfo(float).eps))


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
    t = np.asarray(time, dtype=float)
    y = np.unique(t[np.isfinite(t)])
    if y.size < 2:
        return t
    dy = np.diff(y)
    tied = (dy <= TIMEFIX_TOLERANCE) | (dy / np.mean(np.abs(y)) <= TIMEFIX_TOLERANCE)
    if not tied.any():
        return t
    cuts = y[np.concatenate([[True], ~tied])]
    out = t.copy()
    finite = np.isfinite(t)
    out[finite] = cuts[np.searchsorted(cuts, t[finite], side="right") - 1]
    return out


@dataclass
class Checked:
    """Checked survival data: arrays of equal length with the incomplete subjects removed."""

    time: np.ndarray
    event: np.ndarray
    others: dict
    keep: np.ndarray  # which input subjects remain
    n_omitted: int


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


def check_survival(function: str, time, event, **others) -> Checked:
    """Check ``time``, ``event`` and per-subject ``others`` (``None`` ones are skipped).

    Parameters
    ----------
    function
        The public function's name, for the messages.
    others
    """
    t = _as_array("time", time, True, function)
    e = _as_array("event", event, True, function)
    arrays = {}
    for name, value in others.items():
        if value is None:
            continue
        values, numeric = value if isinstance(value, tuple) else (value, False)
        arrays[name] = _as_array(name, values, numeric, function)
    lengths = {"time": len(t), "event": len(e), **{k: len(v) for k, v in arrays.items()}}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"`{k}` {n}" for k, n in lengths.items())
        raise ValueError(f"{function}: the arguments must have one value per subject; their "
                         f"lengths differ ({shown})")
    check_event_coding(e, function)
    finite = t[~np.isnan(t)]
    if np.any(np.isinf(finite)):
        raise ValueError(f"{function}: `time` has infinite values")
    if np.any(finite < 0):
        raise ValueError(f"{function}: `time` has negative values ({finite[finite < 0][:3]})")
    missing = np.isnan(t) | np.isnan(e)
    for arr in arrays.values():
        missing |= _missing(arr)
    keep = ~missing
    n_omitted = int(missing.sum())
    if n_omitted:
        warnings.warn(f"{function}: {n_omitted} subject(s) with a missing value left out "
                      "(as R na.omit)", MissingDataWarning, stacklevel=3)
        t, e = t[keep], e[keep]
        arrays = {k: v[keep] for k, v in arrays.items()}
    return Checked(timefix(t), e, arrays, keep, n_omitted)


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
