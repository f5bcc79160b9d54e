"""Kaplan-Meier estimation with R ``survival`` conventions.

The product-limit estimate and its event table come from lifelines
(``KaplanMeierFitter``). The rest is written here because lifelines differs from
R's ``survfit`` in ways a reader comparing with R would notice:

* lifelines offers only the log-log ("exponential Greenwood") interval; R's
  ``survfit(conf.type=)`` offers ``plain``, ``log`` (R's default), ``log-log``,
  ``logit`` and ``arcsin``, all from the Greenwood variance;
* lifelines' median is the first time S(t) <= 0.5; R's ``quantile.survfit``
  takes the midpoint of a flat stretch lying exactly at the quantile, and reads
  the quantile's confidence limits off the pointwise confidence curves;
* numbers at risk at time t count subjects with time >= t (R ``summary.survfit``).

All functions return tidy :class:`pandas.DataFrame` objects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._checks import check_survival, group_codes
from ._frames import as_column, float_columns, frame
from ._ranks import is_sorted, sorted_counts
from .distributions import norm_ppf

CONF_TYPES = ("plain", "log", "log-log", "logit", "arcsin")
#: Tolerance for "the curve is exactly at the quantile" (R: sqrt(.Machine$double.eps)).
QUANTILE_TOL = float(np.sqrt(np.finfo(float).eps))


def method_text(conf_type: str, conf_level: float) -> str:
    """Short description of the estimator, for tables and the report."""
    return (f"Kaplan-Meier; Greenwood variance; {conf_level:.0%} pointwise CI on the "
            f"{conf_type} scale (R survfit conf.type='{conf_type}')")


def confidence_limits(surv: np.ndarray, se_log: np.ndarray, conf_type: str,
                      conf_level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise confidence limits for S(t) from the Greenwood standard error.

    Matches R ``survival:::survfit_confint`` (survival >= 3.0) with
    ``ulimit = TRUE``: ``se_log`` is the standard error of -log S(t), i.e.
    ``survfit()$std.err``; limits are missing where the transform is undefined
    (S = 0 for all but ``plain``; also S = 1 for ``log-log``).

    Parameters
    ----------
    surv
        Kaplan-Meier estimate S(t).
    se_log
        sqrt(sum d / (n (n - d))) up to t (Greenwood).
    conf_type
        One of ``plain``, ``log``, ``log-log``, ``logit``, ``arcsin``.
    conf_level
        Two-sided coverage.
    """
    if conf_type not in CONF_TYPES:
        raise ValueError(f"conf_type must be one of {CONF_TYPES}, not {conf_type!r}")
    z = norm_ppf(1 - (1 - conf_level) / 2)
    p = np.asarray(surv, dtype=float)
    se = np.asarray(se_log, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            half = z * se * p
            lower, upper = np.maximum(p - half, 0.0), np.minimum(p + half, 1.0)
        elif conf_type == "log":
            log_p, half = np.log(np.where(p == 0, np.nan, p)), z * se
            lower = np.exp(log_p - half)
            upper = np.minimum(np.exp(log_p + half), 1.0)
        elif conf_type == "log-log":
            xx = np.where((p == 0) | (p == 1), np.nan, p)
            half = z * se / np.log(xx)
            lower = np.exp(-np.exp(np.log(-np.log(xx)) - half))
            upper = np.exp(-np.exp(np.log(-np.log(xx)) + half))
        elif conf_type == "logit":
            xx = np.where(p == 0, np.nan, p)
            half = z * se * (1 + xx / (1 - xx))
            logit = np.log(xx / (1 - xx))
            lower = 1 - 1 / (1 + np.exp(logit - half))
            upper = 1 - 1 / (1 + np.exp(logit + half))
        else:  # arcsin
            xx = np.where(p == 0, np.nan, p)
            half = 0.5 * z * se * np.sqrt(xx / (1 - xx))
            lower = np.sin(np.maximum(0.0, np.arcsin(np.sqrt(xx)) - half)) ** 2
            upper = np.sin(np.minimum(np.pi / 2, np.arcsin(np.sqrt(xx)) + half)) ** 2
    return lower, upper


def _km_counts(time: np.ndarray, event: np.ndarray, entry=None, weights=None):
    """Distinct times, numbers at risk, events, censorings, S(t) and its SE on the log scale.

    Counted here rather than with lifelines' KaplanMeierFitter (the same product-limit
    estimate, checked in the tests): its event table and frames cost ~5 ms a curve,
    and curves are built thousands of times in bootstraps and simulations.

    Without ``entry`` and ``weights`` this is the path it always was. With them it is
    :func:`_km_counts_general` (R ``survfit(Surv(entry, time, event) ~ 1, weights =)``).
    """
    if entry is not None or weights is not None:
        return _km_counts_general(time, event, entry, weights)
    order = np.argsort(time, kind="stable")
    t_sorted, e_sorted = time[order], event[order]
    # the distinct times and where each starts among the sorted ones
    first = np.flatnonzero(np.concatenate(([True], t_sorted[1:] != t_sorted[:-1]))) \
        if time.size else np.zeros(0, np.int64)
    times = t_sorted[first]
    counts = np.diff(np.append(first, time.size))
    n_event = np.add.reduceat(e_sorted, first) if times.size else np.zeros(0)
    n_risk = (time.size - first).astype(float)
    n_event = n_event.astype(float, copy=False)
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    std_err = np.sqrt(np.cumsum(term))
    # (times and n_event are new float arrays already: astype without a copy)
    return (times.astype(float, copy=False), n_risk, n_event,
            (counts - n_event).astype(int), surv, std_err)


def robust_by_default(weights) -> bool:
    """Whether R's ``survfit`` gives the infinitesimal-jackknife SE: non-integer weights.

    R ``survfitKM`` sets ``robust = TRUE`` by default when ``any(weights !=
    floor(weights))`` (survival 3.5), with or without delayed entry; integer
    weights are read as replication counts and keep Greenwood's variance.
    """
    return weights is not None and bool(np.any(weights != np.floor(weights)))


def _km_counts_general(time, event, entry=None, weights=None, robust=None):
    """The product-limit estimate with delayed entry and case weights, as R ``survfit``.

    A subject is at risk at ``t`` when ``entry < t <= time`` (R ``Surv(entry, time,
    event)``; ``entry`` None: from 0); the curve has a step at every distinct exit
    time. The numbers at risk, events and censorings are sums of the case weights;
    ``S(t) = prod(1 - d_k / n_k)`` over the times with an event of positive weight.
    Once the risk set empties (S = 0, or no one at risk before a later entry) the
    product stays where it is: R carries 0 forward past a curve that reached 0, and
    a time with nobody at risk has no event to count.

    The SE of -log S (R's ``std.err`` on its log scale) is Greenwood's
    ``sqrt(sum d_k / (n_k (n_k - d_k)))`` on the weighted counts, or, with non-integer
    weights (:func:`robust_by_default`), R's infinitesimal jackknife, one cluster per
    row (survival's ``survfitkm.c``): subject ``i``'s influence on S(t) divided by
    S(t) is ``w_i * sum_{t_k <= t} (Y_i(t_k) h_k - dN_i(t_k)) / (n_k - d_k)`` with
    ``h_k = d_k / n_k``, and the SE is the root of the sum of their squares. R reports
    that SE on the scale of S (``logse = FALSE``); the curve keeps it on the log
    scale, ``se(S) / S``, and :func:`survival_at` multiplies it back.
    """
    n = time.size
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    times = np.unique(time)
    index = np.searchsorted(times, time)
    is_event = event == 1
    n_event = np.bincount(index[is_event], weights=w[is_event], minlength=times.size)
    n_censor = np.bincount(index[~is_event], weights=w[~is_event], minlength=times.size)
    any_event = np.bincount(index[is_event], minlength=times.size) > 0
    # weight still in follow-up at each time: exits at or after it ...
    exits = np.bincount(index, weights=w, minlength=times.size)
    n_risk = np.cumsum(exits[::-1])[::-1]
    if entry is not None:
        # ... less those who have not entered yet (entry >= t)
        n_risk = n_risk - _not_entered(times, entry, w)
    steps = any_event & (n_event > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(steps, (n_risk - n_event) / n_risk, 1.0)
    surv = np.cumprod(factor)
    if robust_by_default(weights) if robust is None else robust:
        std_err = _km_ij_se_log(time, event, entry, w, times, index, n_risk, n_event, steps, surv)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            term = np.where(steps, n_event / (n_risk * (n_risk - n_event)), 0.0)
        std_err = np.sqrt(np.cumsum(term))
    return times.astype(float), n_risk, n_event, n_censor, surv, std_err


def _not_entered(times, entry, w):
    """Weight of the subjects with ``entry >= t`` at each of ``times``."""
    order = np.argsort(entry, kind="stable")
    cum = np.r_[0.0, np.cumsum(w[order])]
    below = np.searchsorted(entry[order], times, side="left")  # entry < t
    return cum[-1] - cum[below]


def _km_ij_se_log(time, event, entry, w, times, index, n_risk, n_event, steps, surv):
    """R's infinitesimal-jackknife SE of S(t), divided by S(t), at every curve time.

    With ``c_k = h_k / (n_k - d_k)`` at the event times and ``C`` its running sum,
    subject ``i``'s scaled influence at ``t`` is ``w_i (C(min(t, time_i)) -
    C(entry_i) - e_i / (n - d)`` at its exit once ``time_i <= t``); the sum of
    squares is kept in running sums over the subjects who have left and those
    still at risk, in O(n log n). Where the curve has reached 0 the SE of S is 0
    and its ratio to S undefined (R: NA limits), returned as NaN.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        room = n_risk - n_event
        c = np.where(steps & (room > 0), n_event / (n_risk * room), 0.0)
        own = np.where(steps & (room > 0), 1.0 / room, 0.0)
    C = np.cumsum(c)
    start = np.zeros(time.size) if entry is None else entry
    # C just at entry: the sum over event times <= entry
    pos = np.searchsorted(times, start, side="right") - 1
    C0 = np.where(pos >= 0, C[np.maximum(pos, 0)], 0.0)
    B = C[index] - C0 - np.where(event == 1, own[index], 0.0)  # after the subject's exit
    w2 = w * w
    k = times.size
    # the subjects who have left by time k (exit <= t_k)
    done = np.cumsum(np.bincount(index, weights=w2 * B * B, minlength=k))
    # the subjects at risk (entry < t_k < exit): add at entry, remove at exit
    enter_at = np.searchsorted(times, start, side="right")  # first curve time after entry
    def running(values):
        added = np.bincount(enter_at, weights=values, minlength=k + 1)[:k]
        removed = np.bincount(index, weights=values, minlength=k)
        return np.cumsum(added) - np.cumsum(removed)
    s0, s1, s2 = running(w2), running(w2 * C0), running(w2 * C0 * C0)
    var_log = done + C * C * s0 - 2 * C * s1 + s2
    var_log = np.maximum(var_log, 0.0)
    with np.errstate(invalid="ignore"):
        out = np.sqrt(var_log)
    return np.where(surv > 0, out, np.nan)


def km_table(time, event, conf_type: str = "log", conf_level: float = 0.95, *, entry=None,
             weights=None) -> pd.DataFrame:
    """Kaplan-Meier curve at every distinct observed time, as R ``survfit``.

    R ``survfit(Surv(time, event) ~ 1)``, or with delayed entry and case weights
    ``survfit(Surv(entry, time, event) ~ 1, weights = weights)`` (survival 3.5).

    Parameters
    ----------
    time, event
        Follow-up times (> 0) and event indicators (1 event, 0 censored).
    conf_type, conf_level
        See :func:`confidence_limits`.
    entry
        Delayed-entry (left-truncation) times: a subject is at risk on ``(entry,
        time]``. A subject whose entry is not before its exit is left out, as R's
        ``Surv`` does.
    weights
        Case weights (R ``weights =``). Integer weights count as replicates
        (Greenwood's variance on the weighted counts); non-integer weights give R's
        default infinitesimal-jackknife SE (:func:`robust_by_default`).

    Returns
    -------
    pandas.DataFrame
        ``time, n_risk, n_event, n_censor, surv, std_err, lower, upper`` where
        ``std_err`` is the standard error of the cumulative hazard -log S(t)
        (Greenwood; R's ``std.err``; with non-integer weights R's ``std.err / surv``,
        R reporting the jackknife SE on the scale of S). The counts are integers
        without weights and weighted sums with them. The curve has a step at every
        distinct exit time; with delayed entry the risk set may empty and fill
        again, and once S reaches 0 it stays 0 (R).

    Examples
    --------
    >>> from netpet_stats import km_table
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> km = km_table(t, e)
    >>> km["surv"].round(6).tolist()  # R: summary(survfit(Surv(t, e) ~ 1))$surv
    [0.9, 0.8, 0.685714, 0.457143, 0.457143, 0.304762, 0.304762, 0.0]
    """
    checked = check_survival("km_table", time, event, entry=entry, weights=weights)
    times, n_risk, n_event, n_censor, surv, std_err = _km_counts(
        checked.time, checked.event, checked.entry, checked.weights)
    lower, upper = confidence_limits(surv, std_err, conf_type, conf_level)
    count = float if checked.weights is not None else int
    return frame({
        "time": times.astype(float, copy=False),   # each a new array of this call
        "n_risk": n_risk.astype(count, copy=False),
        "n_event": n_event.astype(count, copy=False),
        "n_censor": n_censor.astype(count, copy=False),
        "surv": surv,
        "std_err": std_err,
        "lower": lower,
        "upper": upper,
    })


def km_from_counts(time, n_event, n_censor, conf_type: str = "log",
                   conf_level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier curve from counts of events and censorings per time.

    The product-limit estimate and Greenwood SE of :func:`km_table`, from
    aggregated counts instead of subjects: ``n_event[k]`` events and
    ``n_censor[k]`` censorings at ``time[k]`` (counts at one time may come from
    several sources and are summed). With the exact counts of every subject this
    equals :func:`km_table` (R ``survfit``); with rounded counts it is the curve
    those counts imply.

    Examples
    --------
    >>> from netpet_stats.survival.kaplan_meier import km_from_counts
    >>> km = km_from_counts([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 1, 2, 0, 1, 0, 1],
    ...                     [0, 1, 0, 0, 1, 0, 1, 0])
    >>> km["surv"].round(6).tolist()  # as km_table on the subjects
    [0.9, 0.8, 0.685714, 0.457143, 0.457143, 0.304762, 0.304762, 0.0]
    """
    time = np.asarray(time, float)
    frame = pd.DataFrame({"time": time, "d": np.asarray(n_event, float),
                          "c": np.asarray(n_censor, float)}).groupby("time", sort=True).sum()
    d, c = frame["d"].to_numpy(), frame["c"].to_numpy()
    n_risk = (d + c)[::-1].cumsum()[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(n_risk > 0, 1.0 - d / n_risk, 1.0))
        term = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)  # inf at S = 0, as R
    std_err = np.sqrt(np.cumsum(term))
    lower, upper = confidence_limits(surv, std_err, conf_type, conf_level)
    return pd.DataFrame({"time": frame.index.to_numpy(float), "n_risk": n_risk, "n_event": d,
                         "n_censor": c, "surv": surv, "std_err": std_err, "lower": lower,
                         "upper": upper})


def step_at(curve: pd.DataFrame, at, column: str = "surv") -> np.ndarray:
    """A right-continuous step curve (``time``, ``column``) read at the times ``at``."""
    at = np.asarray(at, float)
    idx = np.searchsorted(curve["time"].to_numpy(float), at, side="right") - 1
    values = curve[column].to_numpy(float)
    return np.where(idx >= 0, values[np.clip(idx, 0, None)], 1.0)


def km_point(time, event, at: float, *, entry=None, weights=None) -> tuple[float, float]:
    """Kaplan-Meier S(at) and Greenwood SE of the cumulative hazard at ``at``.

    The same estimate as :func:`km_table` followed by :func:`survival_at` (R
    ``summary(survfit(...), times = at)``: the last step at or before ``at``;
    missing beyond the last observed time), computed directly for one time:
    ``S = prod(1 - d_k / n_k)`` and ``se = sqrt(sum d_k / (n_k (n_k - d_k)))`` over
    event times ``t_k <= at``. For loops that need S at one time thousands of
    times (simulation), where building the whole curve dominates. With ``entry`` or
    ``weights`` (as :func:`km_table`) it reads the curve of :func:`km_table` at ``at``.

    Examples
    --------
    >>> from netpet_stats import km_point
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> surv, se_cumhaz = km_point(t, e, 4)
    >>> round(surv, 6), round(se_cumhaz, 6)
    (0.457143, 0.363515)
    """
    checked = check_survival("km_point", time, event, entry=entry, weights=weights)
    time, event = checked.time, checked.event
    if checked.entry is not None or checked.weights is not None:
        if time.size == 0 or at > time.max():
            return np.nan, np.nan
        times, _, _, _, surv, std_err = _km_counts(time, event, checked.entry, checked.weights)
        k = np.searchsorted(times, at, side="right") - 1
        return (1.0, 0.0) if k < 0 else (float(surv[k]), float(std_err[k]))
    if time.size == 0 or at > time.max():
        return np.nan, np.nan
    ordered = time if is_sorted(time) else np.sort(time)
    t_k, d_k = sorted_counts(time[(event == 1) & (time <= at)])
    n_k = time.size - np.searchsorted(ordered, t_k, side="left")
    surv = float(np.prod(1.0 - d_k / n_k))
    with np.errstate(divide="ignore"):
        se = float(np.sqrt(np.sum(d_k / (n_k * (n_k - d_k)))))
    return surv, se


def _findq(times: np.ndarray, surv: np.ndarray, p: float, last_time: float) -> float:
    """Time at which 1 - S reaches ``p``, exactly as ``survival:::findq``.

    R (quantile.survfit.R) drops missing points and repeated values of 1 - S
    (keeping the first time each value appears), then looks ``p`` up with
    ``approx(..., method = "constant")``, which orders the points by their
    1 - S value. The quantile is the time of the point with the smallest
    1 - S >= p; if the curve sits at exactly ``p`` (within ``QUANTILE_TOL``) it
    is the midpoint between that time and the time of the next larger value,
    and a flat at ``p`` that runs to the end of follow-up ends at the last
    observed time. For a monotone curve this is the first time S(t) <= 1 - p;
    the ordering matters for confidence curves that are not monotone (the
    upper logit or arcsin limit can rise again as the Greenwood variance grows).
    """
    x = np.concatenate(([0.0], times))
    y = np.concatenate(([0.0], 1.0 - surv))
    keep = ~np.isnan(y)
    at_end = not _ends_missing(y)      # whether the last-point rule applies
    if not keep.all():
        x, y = x[keep], y[keep]
    if p == 0:
        return float(x[0])
    if (y[1:] >= y[:-1]).all():
        # A monotone curve (every Kaplan-Meier estimate, most confidence curves): its
        # values in time order are already sorted (the largest last), and the first
        # point at or above a level is the first time that value is seen, so the
        # lookups below are two binary searches; the same points, the same answer.
        if y[-1] < p:
            return np.nan
        i1 = np.searchsorted(y, p - QUANTILE_TOL, side="left")
        if at_end and abs(p - y[-1]) < QUANTILE_TOL:
            return float((x[i1] + last_time) / 2)
        i2 = np.searchsorted(y, p + QUANTILE_TOL, side="left")
        if i2 == y.size:
            return np.nan
        return float((x[i1] + x[i2]) / 2)
    if y.max() < p:
        return np.nan
    values, first = np.unique(y, return_index=True)  # sorted by value, first time seen
    y_last = y[np.sort(first)[-1]]  # last distinct value in time order
    x_by_value = x[first]
    i1 = np.flatnonzero(values >= p - QUANTILE_TOL)
    i2 = np.flatnonzero(values >= p + QUANTILE_TOL)
    if i1.size == 0:
        return np.nan
    if at_end and abs(p - y_last) < QUANTILE_TOL:
        return float((x_by_value[i1[0]] + last_time) / 2)
    if i2.size == 0:
        return np.nan
    return float((x_by_value[i1[0]] + x_by_value[i2[0]]) / 2)


def _ends_missing(y: np.ndarray) -> bool:
    """Whether ``survival:::findq`` sees a missing value as the last point of ``y``.

    R removes repeated values with ``duplicated(y)``, to which NA is a value: the first
    missing point stays, and it is the last point left when no value first appears
    after it (a confidence limit missing from where S reaches 0 to the end). R then
    skips its last-point rule (``if (!is.na(y[n]))``): a level the curve reaches only
    on its final flat has no quantile (NA), not the midpoint to the last time.
    """
    nan = np.isnan(y)
    if not nan.any():
        return False
    first = int(np.argmax(nan))
    rest = ~nan[first + 1:]
    if not rest.any():              # missing to the end (a limit from where S = 0)
        return True
    return bool(np.isin(y[first + 1:][rest], y[:first]).all())


def km_quantiles(curve: pd.DataFrame, probs=(0.5,)) -> pd.DataFrame:
    """Survival-time quantiles with confidence limits, as R ``quantile.survfit``.

    The ``p``-th quantile is the time at which 1 - S(t) reaches ``p`` (the median
    for p = 0.5); its lower and upper limits are the same quantity read off the
    lower and upper pointwise confidence curves (Brookmeyer & Crowley 1982 by
    test inversion, in the form R uses). Missing where a curve never reaches it.

    Examples
    --------
    >>> from netpet_stats import km_quantiles, km_table
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> km_quantiles(km_table(t, e)).iloc[0].tolist()  # R quantile(fit, 0.5): 4 (3, NA)
    [0.5, 4.0, 3.0, nan]
    """
    probs = list(probs)
    if not probs:
        return pd.DataFrame({name: [] for name in ("prob", "quantile", "lower", "upper")})
    bad = [p for p in probs if not (isinstance(p, (int, float, np.number))
                                   and not isinstance(p, bool) and 0 <= p <= 1)]
    if bad:   # R quantile.survfit: "invalid probability" / "between 0 and 1"
        raise ValueError(f"km_quantiles: probs must be numbers between 0 and 1; got {bad[:3]}")
    times, surv, lower, upper = float_columns(curve, ("time", "surv", "lower", "upper"))
    last = float(times[-1]) if len(times) else np.nan
    found = _findq_curves(times, np.vstack((surv, lower, upper)), probs, last)
    return frame({"prob": as_column(probs), "quantile": found[0], "lower": found[1],
                  "upper": found[2]})


def _findq_curves(times: np.ndarray, curves: np.ndarray, probs: list,
                  last_time: float) -> np.ndarray:
    """:func:`_findq` of each curve (a row of ``curves``) at each of ``probs``.

    The curves whose 1 - S never decreases over the points R keeps (the estimate
    always, its confidence limits mostly) are read together: on such a curve the
    first point at or above a level is the number of points below it, which one
    comparison of all rows counts (one pass instead of three calls of :func:`_findq`
    for the estimate and its two limits). Any other curve is read by :func:`_findq`.
    The same points and rules, so the same times.
    """
    y = np.empty((curves.shape[0], curves.shape[1] + 1))
    y[:, 0] = 0.0
    np.subtract(1.0, curves, out=y[:, 1:])
    x = np.concatenate(([0.0], times))
    missing = np.isnan(y)
    at_end = np.ones(y.shape[0], bool)      # the rows whose last-point rule applies
    if missing.any():
        # a row missing from its first missing point to the end (a confidence limit
        # from where S reaches 0, the usual case) ends missing; any other row with a
        # missing point is read by _ends_missing
        first = np.argmax(missing, axis=1)
        some = missing.any(axis=1)
        to_end = some & (missing.sum(axis=1) == y.shape[1] - first)
        at_end = ~to_end
        for k in np.flatnonzero(some & ~to_end):
            at_end[k] = not _ends_missing(y[k])
        # R drops a missing point (a confidence limit where S = 0): each takes the value
        # of the point before it, which changes neither the first point at or above a
        # level (always a point R keeps) nor the last value
        pos = np.where(missing, 0, np.arange(y.shape[1]))
        np.maximum.accumulate(pos, axis=1, out=pos)
        y = np.take_along_axis(y, pos, axis=1)
    plain = (y[:, 1:] >= y[:, :-1]).all(axis=1)
    out = np.empty((curves.shape[0], len(probs)))
    top = y[:, -1]
    for j, p in enumerate(probs):
        if p == 0:
            out[:, j] = x[0]
            continue
        i1 = (y < p - QUANTILE_TOL).sum(axis=1)   # first point at or above p - tol
        i2 = (y < p + QUANTILE_TOL).sum(axis=1)   # first point at or above p + tol
        x1 = x[np.minimum(i1, x.size - 1)]
        end = np.where(i2 < x.size, x[np.minimum(i2, x.size - 1)], np.nan)
        out[:, j] = np.where(top < p, np.nan,
                             np.where((np.abs(p - top) < QUANTILE_TOL) & at_end,
                                      (x1 + last_time) / 2,
                                      (x1 + end) / 2))
    for k in np.flatnonzero(~plain):
        out[k] = [_findq(times, curves[k], p, last_time) for p in probs]
    return out


def km_by_group(time, event, group, groups=None, conf_type: str = "log",
                conf_level: float = 0.95, probs=(0.5,), *, entry=None,
                weights=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kaplan-Meier curve and quantiles of every group at once.

    The same numbers as :func:`km_table` and :func:`km_quantiles` group by group
    (R ``survfit(Surv(time, event) ~ group)`` and ``quantile(fit, probs)``), in two
    tables with a leading ``group`` column, built once for all groups.

    Parameters
    ----------
    time, event, group
        One value per subject; ``group`` labels are compared by equality.
    groups
        Order of the groups (default: sorted labels); a group without subjects has
        no rows.
    conf_type, conf_level, probs
        As :func:`km_table` and :func:`km_quantiles`.
    entry, weights
        Delayed entry and case weights, as :func:`km_table` (R ``survfit(Surv(entry,
        time, event) ~ group, weights = w)``); whether the SE is the jackknife
        (non-integer weights) is decided, as R, by the weights of all groups.

    Examples
    --------
    >>> from netpet_stats import km_by_group
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> g = ["a", "b"] * 5
    >>> curves, medians = km_by_group(t, e, g)
    >>> medians[["group", "quantile", "lower"]].values.tolist()  # R quantile(survfit(~ g), 0.5)
    [['a', nan, 4.0], ['b', 4.0, 3.0]]
    """
    checked = check_survival("km_by_group", time, event, entry=entry, weights=weights,
                             group=group)
    t, e, start, w = checked.time, checked.event, checked.entry, checked.weights
    robust = robust_by_default(w)
    labels = np.asarray(checked.others["group"], dtype=object)
    groups = sorted(pd.unique(labels)) if groups is None else list(groups)
    codes = group_codes(labels, groups, "km_by_group")
    parts, quantiles = [], {"group": [], "prob": [], "quantile": [], "lower": [], "upper": []}
    for k, g in enumerate(groups):
        m = codes == k
        if not m.any():
            continue
        if start is None and w is None:
            counts = _km_counts(t[m], e[m])
        else:
            counts = _km_counts_general(t[m], e[m], None if start is None else start[m],
                                        None if w is None else w[m], robust)
        lower, upper = confidence_limits(counts[4], counts[5], conf_type, conf_level)
        parts.append((g, *counts, lower, upper))
        last = float(counts[0][-1])
        for p in probs:
            quantiles["group"].append(g)
            quantiles["prob"].append(p)
            quantiles["quantile"].append(_findq(counts[0], counts[4], p, last))
            quantiles["lower"].append(_findq(counts[0], lower, p, last))
            quantiles["upper"].append(_findq(counts[0], upper, p, last))
    names = ("time", "n_risk", "n_event", "n_censor", "surv", "std_err", "lower", "upper")
    columns = {"group": np.repeat(np.array([part[0] for part in parts], dtype=object),
                                  [len(part[1]) for part in parts])}
    for j, name in enumerate(names, start=1):
        column = np.concatenate([part[j] for part in parts]) if parts else np.zeros(0)
        columns[name] = column.astype(int) if name in ("n_risk", "n_event", "n_censor") \
            and w is None else column
    return pd.DataFrame(columns), pd.DataFrame(quantiles)


def survival_at(curve: pd.DataFrame, time, event, at, *, entry=None,
                weights=None) -> pd.DataFrame:
    """S(t), its CI and the number at risk at chosen times, as R ``summary(fit, times=)``.

    The estimate at ``t`` is the last step at or before ``t``; the number at risk
    counts subjects with time >= t. Times after the last observation give a
    missing estimate (R drops them unless ``extend = TRUE``). ``std_err`` is the
    standard error of S(t) itself, as ``summary.survfit`` reports it (Greenwood:
    S(t) times the SE of the cumulative hazard, which is ``km_table``'s
    ``std_err``, R ``survfit()$std.err``).

    With ``entry`` and ``weights`` (give those the curve was built with) the
    numbers at risk and events are weighted, and the number at risk is R's: the
    curve's ``n_risk`` at its first time at or after ``t`` (0 past the last), see
    :func:`numbers_at_risk`. Where a jackknife curve (non-integer weights) has
    reached 0 the SE of S is 0, as R reports it.

    Examples
    --------
    >>> from netpet_stats import km_table, survival_at
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> at = survival_at(km_table(t, e), t, e, [3, 6])
    >>> at["n_risk"].tolist(), at["surv"].round(6).tolist()  # R summary(fit, times = c(3, 6))
    ([7, 3], [0.685714, 0.304762])
    >>> at["std_err"].round(6).tolist()  # R summary(fit, times = c(3, 6))$std.err
    [0.151494, 0.166593]
    """
    checked = check_survival("survival_at", time, event, entry=entry, weights=weights)
    time, event = checked.time, checked.event
    w = np.ones(time.size) if checked.weights is None else checked.weights
    robust = robust_by_default(checked.weights)
    ct = curve["time"].to_numpy()
    risk = _risk_at(time, checked.entry, w, np.asarray(at, float))
    rows = []
    for t, n_risk in zip(at, risk):
        idx = np.searchsorted(ct, t, side="right") - 1
        n_risk = int(n_risk) if checked.weights is None else float(n_risk)
        beyond = len(ct) == 0 or t > ct[-1]
        if beyond:
            s = lo = hi = se = np.nan
        elif idx < 0:
            s, se, lo, hi = 1.0, 0.0, 1.0, 1.0
        else:
            row = curve.iloc[idx]
            # SE of S(t) (summary.survfit), not of the cumulative hazard (the curve's)
            # where S = 0 the cumulative hazard's SE is infinite and R gives 0 * Inf = NaN
            se = row["surv"] * row["std_err"] if np.isfinite(row["std_err"]) else np.nan
            if robust and row["surv"] == 0:
                se = 0.0  # R's jackknife SE of a curve at 0
            s, lo, hi = row["surv"], row["lower"], row["upper"]
        n_event = float(np.sum(w[(time <= t) & (np.asarray(event) == 1)]))
        n_event = int(n_event) if checked.weights is None else n_event
        rows.append({"time": float(t), "n_risk": n_risk, "cum_events": n_event, "surv": s,
                     "std_err": se, "lower": lo, "upper": hi})
    return pd.DataFrame(rows)


def numbers_at_risk(time, at, entry=None) -> list[int]:
    """Number at risk at each t, as R ``summary(survfit(...), times = at, extend = TRUE)``.

    Without ``entry`` the number with follow-up time >= t. With delayed entry
    (``entry``: a subject at risk on ``(entry, time]``), R's convention, which risk
    tables drawn from R (survminer) print: the curve's number at risk at its first
    exit time at or after t, i.e. the subjects with ``entry < u <= time`` for that
    time ``u`` (someone entering between t and u is counted, as R counts them).
    0 past the last exit.

    Examples
    --------
    >>> from netpet_stats import numbers_at_risk
    >>> numbers_at_risk([1, 2, 2, 3, 4, 4, 5, 6, 7, 8], [0, 3, 6])
    [10, 7, 3]
    >>> numbers_at_risk([1, 2, 7, 9], [0, 3, 8], entry=[0, 0, 5, 6])  # R: 2, 2, 1
    [2, 2, 1]
    """
    if entry is None:
        time = np.asarray(time, dtype=float)
        return [int((time >= t).sum()) for t in at]
    checked = check_survival("numbers_at_risk", time, np.zeros(len(time)), entry=entry)
    return [int(v) for v in _risk_at(checked.time, checked.entry, np.ones(checked.time.size),
                                      np.asarray(at, float))]


def _risk_at(time, entry, w, at):
    """Weighted number at risk at ``at`` as R's ``summary.survfit``: see :func:`numbers_at_risk`."""
    if entry is None:
        order = np.argsort(time, kind="stable")
        cum = np.r_[np.cumsum(w[order][::-1])[::-1], 0.0]
        return cum[np.searchsorted(time[order], at, side="left")]
    times = np.unique(time)
    k = np.searchsorted(times, at, side="left")  # first exit time >= t
    u = times[np.minimum(k, times.size - 1)] if times.size else np.zeros(at.size)
    later = np.sort(time)
    o = np.argsort(time, kind="stable")
    cum_exit = np.r_[np.cumsum(w[o][::-1])[::-1], 0.0]
    o2 = np.argsort(entry, kind="stable")
    cum_entry = np.r_[0.0, np.cumsum(w[o2])]
    exiting = cum_exit[np.searchsorted(later, u, side="left")]          # time >= u
    entered = cum_entry[np.searchsorted(entry[o2], u, side="left")]     # entry < u
    not_entered = cum_entry[-1] - entered
    return np.where(k < times.size, exiting - not_entered, 0.0)


def reverse_km_follow_up(time, event, conf_type: str = "log",
                         conf_level: float = 0.95, *, entry=None, weights=None) -> dict:
    """Median follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996).

    Censoring is treated as the event: R ``quantile(survfit(Surv(time, 1 - event)
    ~ 1), 0.5)``; with ``entry``/``weights`` ``survfit(Surv(entry, time, 1 - event) ~ 1,
    weights = w)`` (see :func:`km_table`).

    Examples
    --------
    >>> from netpet_stats import reverse_km_follow_up
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> fu = reverse_km_follow_up(t, e)  # R quantile(survfit(Surv(t, 1 - e) ~ 1), 0.5)
    >>> float(fu["median_follow_up"]), float(fu["lower"]), fu["n_censored"]
    (7.0, 5.0, 3)
    """
    checked = check_survival("reverse_km_follow_up", time, event, entry=entry, weights=weights)
    time, event = checked.time, checked.event
    curve = km_table(time, 1 - event, conf_type, conf_level, entry=checked.entry,
                     weights=checked.weights)
    q = km_quantiles(curve, (0.5,)).iloc[0]
    return {"median_follow_up": q["quantile"], "lower": q["lower"], "upper": q["upper"],
            "n": int(time.size), "n_censored": int((event == 0).sum())}


def censoring_survival(time, event):
    """Kaplan-Meier of the censoring distribution, G, for inverse-probability weights.

    At a time with both events and censorings the events leave the risk set
    first (a subject censored at t is known to have survived t), the convention
    of R's ``fastkm1`` (Uno's C) and of ``prodlim`` (riskRegression's IPCW).

    Returns
    -------
    G : callable
        ``G(t)`` right-continuous, ``G(t, left=True)`` the value just before t.
    """
    utimes, after, _ = censoring_steps(time, event)

    def G(t, left: bool = False):
        pos = np.searchsorted(utimes, np.asarray(t, float), side="left" if left else "right") - 1
        return np.where(pos >= 0, after[np.clip(pos, 0, None)], 1.0)
    return G


def censoring_steps(time, event, order=None, weights=None):
    """The steps of :func:`censoring_survival`'s G, from one sort of the times.

    Returns the distinct times, G just after each, and the index of each
    subject's time among them, so that G(t-) at the subjects' own times is
    ``after[index - 1]`` (1 at the first time) without searching. ``order`` is
    ``np.argsort(time, kind="stable")`` when the caller has it already. With case
    ``weights`` the counts are weighted, as R's ``fastkm1`` (Uno's C).
    """
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    utimes, starts, index = distinct_times(time, order)
    if weights is not None:
        w = np.asarray(weights, float)
        at_time = np.bincount(index, weights=w, minlength=utimes.size)
        n_after = np.r_[np.cumsum(at_time[::-1])[::-1][1:], 0.0]  # weight after each time
        cens = np.bincount(index[event == 0], weights=w[event == 0], minlength=utimes.size)
        at_risk = n_after + cens
        factor = np.where(cens > 0, (at_risk - cens) / np.where(at_risk > 0, at_risk, 1), 1.0)
        return utimes, np.cumprod(factor), index
    n_after = time.size - np.append(starts[1:], time.size)  # subjects after each distinct time
    cens = np.bincount(index[event == 0], minlength=utimes.size).astype(float)
    at_risk = n_after + cens  # deaths at the time have already left
    factor = np.where(cens > 0, (at_risk - cens) / np.where(at_risk > 0, at_risk, 1), 1.0)
    return utimes, np.cumprod(factor), index


def distinct_times(time, order=None):
    """The distinct times, where each starts among the sorted times, and each subject's.

    Returns ``utimes`` (ascending), ``starts`` (the position of each distinct time's
    first subject in sorted order, so ``n - starts`` are at risk at it) and
    ``index`` (each subject's time as a position in ``utimes``: the number of
    distinct times strictly before it), from one stable sort of ``time``
    (``order``, when the caller has it) instead of a search per subject.
    """
    time = np.asarray(time, float)
    if time.size == 0:
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64)
    if order is None:
        order = np.argsort(time, kind="stable")
    ts = time[order]
    first = np.concatenate(([True], ts[1:] != ts[:-1]))
    index = np.empty(time.size, np.int64)
    index[order] = np.cumsum(first) - 1
    return ts[first], np.flatnonzero(first), index
