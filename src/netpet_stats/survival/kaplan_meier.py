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
            xx = np.where(p == 0, np.nan, p)
            lower = np.exp(np.log(xx) - z * se)
            upper = np.minimum(np.exp(np.log(xx) + z * se), 1.0)
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


def _km_counts(time: np.ndarray, event: np.ndarray):
    """Distinct times, numbers at risk, events, censorings, S(t) and Greenwood SE.

    Counted here rather than with lifelines' KaplanMeierFitter (the same product-limit
    estimate, checked in the tests): its event table and frames cost ~5 ms a curve,
    and curves are built thousands of times in bootstraps and simulations.
    """
    order = np.argsort(time, kind="stable")
    t_sorted, e_sorted = time[order], event[order]
    times, first, counts = np.unique(t_sorted, return_index=True, return_counts=True)
    n_event = np.add.reduceat(e_sorted, first) if times.size else np.zeros(0)
    n_risk = (time.size - first).astype(float)
    n_event = n_event.astype(float)
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    std_err = np.sqrt(np.cumsum(term))
    return times.astype(float), n_risk, n_event, (counts - n_event).astype(int), surv, std_err


def km_table(time, event, conf_type: str = "log", conf_level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier curve at every distinct observed time, as R ``survfit``.

    Parameters
    ----------
    time, event
        Follow-up times (> 0) and event indicators (1 event, 0 censored).
    conf_type, conf_level
        See :func:`confidence_limits`.

    Returns
    -------
    pandas.DataFrame
        ``time, n_risk, n_event, n_censor, surv, std_err, lower, upper`` where
        ``std_err`` is R's ``std.err`` (standard error of the cumulative hazard,
        Greenwood).

    Examples
    --------
    >>> from netpet_stats import km_table
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> km = km_table(t, e)
    >>> km["surv"].round(6).tolist()  # R: summary(survfit(Surv(t, e) ~ 1))$surv
    [0.9, 0.8, 0.685714, 0.457143, 0.457143, 0.304762, 0.304762, 0.0]
    """
    checked = check_survival("km_table", time, event)
    times, n_risk, n_event, n_censor, surv, std_err = _km_counts(checked.time, checked.event)
    lower, upper = confidence_limits(surv, std_err, conf_type, conf_level)
    return pd.DataFrame({
        "time": times.astype(float),
        "n_risk": n_risk.astype(int),
        "n_event": n_event.astype(int),
        "n_censor": n_censor,
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


def km_point(time, event, at: float) -> tuple[float, float]:
    """Kaplan-Meier S(at) and Greenwood SE of the cumulative hazard at ``at``.

    The same estimate as :func:`km_table` followed by :func:`survival_at` (R
    ``summary(survfit(...), times = at)``: the last step at or before ``at``;
    missing beyond the last observed time), computed directly for one time:
    ``S = prod(1 - d_k / n_k)`` and ``se = sqrt(sum d_k / (n_k (n_k - d_k)))`` over
    event times ``t_k <= at``. For loops that need S at one time thousands of
    times (simulation), where building the whole curve dominates.

    Examples
    --------
    >>> from netpet_stats import km_point
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> surv, se_cumhaz = km_point(t, e, 4)
    >>> round(surv, 6), round(se_cumhaz, 6)
    (0.457143, 0.363515)
    """
    checked = check_survival("km_point", time, event)
    time, event = checked.time, checked.event
    if time.size == 0 or at > time.max():
        return np.nan, np.nan
    ordered = np.sort(time)
    t_k, d_k = np.unique(time[(event == 1) & (time <= at)], return_counts=True)
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
    x = np.concatenate([[0.0], times])
    y = np.concatenate([[0.0], 1.0 - surv])
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    if p == 0:
        return float(x[0])
    if y.max() < p:
        return np.nan
    values, first = np.unique(y, return_index=True)  # sorted by value, first time seen
    y_last = y[np.sort(first)[-1]]  # last distinct value in time order
    x_by_value = x[first]
    i1 = np.flatnonzero(values >= p - QUANTILE_TOL)
    i2 = np.flatnonzero(values >= p + QUANTILE_TOL)
    if i1.size == 0:
        return np.nan
    if abs(p - y_last) < QUANTILE_TOL:
        return float((x_by_value[i1[0]] + last_time) / 2)
    if i2.size == 0:
        return np.nan
    return float((x_by_value[i1[0]] + x_by_value[i2[0]]) / 2)


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
    times = curve["time"].to_numpy()
    last = float(times[-1]) if len(times) else np.nan
    curves = {key: curve[key].to_numpy() for key in ("surv", "lower", "upper")}
    out = {"prob": list(probs)}
    for key, name in (("surv", "quantile"), ("lower", "lower"), ("upper", "upper")):
        out[name] = [_findq(times, curves[key], p, last) for p in probs]
    return pd.DataFrame(out)


def km_by_group(time, event, group, groups=None, conf_type: str = "log",
                conf_level: float = 0.95, probs=(0.5,)) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    checked = check_survival("km_by_group", time, event, group=group)
    t, e = checked.time, checked.event
    labels = np.asarray(checked.others["group"], dtype=object)
    groups = sorted(pd.unique(labels)) if groups is None else list(groups)
    codes = group_codes(labels, groups, "km_by_group")
    parts, quantiles = [], {"group": [], "prob": [], "quantile": [], "lower": [], "upper": []}
    for k, g in enumerate(groups):
        m = codes == k
        if not m.any():
            continue
        counts = _km_counts(t[m], e[m])
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
            else column
    return pd.DataFrame(columns), pd.DataFrame(quantiles)


def survival_at(curve: pd.DataFrame, time, event, at) -> pd.DataFrame:
    """S(t), its CI and the number at risk at chosen times, as R ``summary(fit, times=)``.

    The estimate at ``t`` is the last step at or before ``t``; the number at risk
    counts subjects with time >= t. Times after the last observation give a
    missing estimate (R drops them unless ``extend = TRUE``). ``std_err`` is the
    standard error of S(t) itself, as ``summary.survfit`` reports it (Greenwood:
    S(t) times the SE of the cumulative hazard, which is ``km_table``'s
    ``std_err``, R ``survfit()$std.err``).

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
    checked = check_survival("survival_at", time, event)
    time, event = checked.time, checked.event
    ct = curve["time"].to_numpy()
    rows = []
    for t in at:
        idx = np.searchsorted(ct, t, side="right") - 1
        n_risk = int((time >= t).sum())
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
            s, lo, hi = row["surv"], row["lower"], row["upper"]
        n_event = int(((time <= t) & (np.asarray(event) == 1)).sum())
        rows.append({"time": float(t), "n_risk": n_risk, "cum_events": n_event, "surv": s,
                     "std_err": se, "lower": lo, "upper": hi})
    return pd.DataFrame(rows)


def numbers_at_risk(time, at) -> list[int]:
    """Number with follow-up time >= t for each t (R's convention).

    Examples
    --------
    >>> from netpet_stats import numbers_at_risk
    >>> numbers_at_risk([1, 2, 2, 3, 4, 4, 5, 6, 7, 8], [0, 3, 6])
    [10, 7, 3]
    """
    time = np.asarray(time, dtype=float)
    return [int((time >= t).sum()) for t in at]


def reverse_km_follow_up(time, event, conf_type: str = "log",
                         conf_level: float = 0.95) -> dict:
    """Median follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996).

    Censoring is treated as the event: R ``quantile(survfit(Surv(time, 1 - event)
    ~ 1), 0.5)``.

    Examples
    --------
    >>> from netpet_stats import reverse_km_follow_up
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> fu = reverse_km_follow_up(t, e)  # R quantile(survfit(Surv(t, 1 - e) ~ 1), 0.5)
    >>> float(fu["median_follow_up"]), float(fu["lower"]), fu["n_censored"]
    (7.0, 5.0, 3)
    """
    checked = check_survival("reverse_km_follow_up", time, event)
    time, event = checked.time, checked.event
    curve = km_table(time, 1 - event, conf_type, conf_level)
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


def censoring_steps(time, event, order=None):
    """The steps of :func:`censoring_survival`'s G, from one sort of the times.

    Returns the distinct times, G just after each, and the index of each
    subject's time among them, so that G(t-) at the subjects' own times is
    ``after[index - 1]`` (1 at the first time) without searching. ``order`` is
    ``np.argsort(time, kind="stable")`` when the caller has it already.
    """
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    utimes, starts, index = distinct_times(time, order)
    n_after = time.size - np.r_[starts[1:], time.size]  # subjects after each distinct time
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
    first = np.r_[True, ts[1:] != ts[:-1]]
    index = np.empty(time.size, np.int64)
    index[order] = np.cumsum(first) - 1
    return ts[first], np.flatnonzero(first), index
