"""Competing risks: cumulative incidence, Gray's test and the Fine-Gray model.

A subject is followed until the first of several events (``cause`` = 1, 2, ...)
or censoring (``cause`` = 0). Three estimators, each matched to the R function
that defines it:

* :func:`aalen_johansen` - the Aalen-Johansen estimate of the probability of
  being event-free and of each cause's cumulative incidence, with the
  infinitesimal-jackknife standard error of R ``survfit(Surv(time, factor(cause)))``
  (survival >= 3.0, ``survfitCI``).
* :func:`gray_test` - Gray's (1988) K-sample test of equal cumulative incidence,
  optionally stratified, as R ``cmprsk::cuminc``.
* :func:`fine_gray` - the Fine & Gray (1999) subdistribution hazard model, as R
  ``coxph(Surv(fgstart, fgstop, fgstatus) ~ ..., weights = fgwt, cluster = id)``
  on the data ``survival::finegray`` builds: Efron ties, robust (sandwich) SE.

Why written here: lifelines' ``AalenJohansenFitter`` breaks tied times by random
jitter (results change from run to run) and gives Aalen's, not R's, variance;
no Python library offers Gray's test or a Fine-Gray fit that reproduces R.
The Aalen-Johansen estimate and the Fine-Gray model apply R's time fix
(``aeqSurv``), as ``survfit``, ``finegray`` and ``coxph`` do; Gray's test does
not, as ``cmprsk::cuminc`` does not: times that differ in the 12th digit are
distinct times there. A cause-specific Cox model needs no new code: it is
:func:`~netpet_stats.survival.cox.fit_cox` with the other causes censored.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._checks import _as_array, check_survival, timefix
from ._frames import float_columns, frame
from .distributions import chi2_sf, norm_ppf, norm_sf
from .kaplan_meier import censoring_survival, confidence_limits

AJ_METHOD = ("Aalen-Johansen cumulative incidence; infinitesimal-jackknife SE "
             "(R survfit, multi-state)")
GRAY_METHOD = "Gray's test of equal cumulative incidence (R cmprsk::cuminc)"
FG_METHOD = ("Fine-Gray subdistribution hazards; censoring weights and Efron ties as R "
             "finegray + coxph(weights = fgwt, cluster = id); robust SE")

#: Label of the state "no event yet" (R's "(s0)").
EVENT_FREE = "event-free"


def _checked(function: str, time, cause, fix_times: bool = True, **others):
    """Time, integer cause codes (0 = censored) and per-subject extras, complete cases only.

    ``fix_times``: tie times closer than R's tolerance (``aeqSurv``, as ``survfit``,
    ``finegray`` and ``coxph``); ``False`` keeps them as given (``cmprsk::cuminc``).
    """
    t = _as_array("time", time, True, function)
    c = _as_array("cause", cause, True, function)
    extras = {k: _as_array(k, v, False, function) for k, v in others.items() if v is not None}
    lengths = {"time": len(t), "cause": len(c), **{k: len(v) for k, v in extras.items()}}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"`{k}` {n}" for k, n in lengths.items())
        raise ValueError(f"{function}: the arguments must have one value per subject; their "
                         f"lengths differ ({shown})")
    if np.isnan(t).any() or np.isnan(c).any():
        raise ValueError(f"{function}: `time` and `cause` must not be missing "
                         f"({int((np.isnan(t) | np.isnan(c)).sum())} missing)")
    bad = (c < 0) | (c != np.round(c))
    if bad.any():
        raise ValueError(f"{function}: `cause` must be 0 (censored) or a positive whole number "
                         f"(the event type); got {np.unique(c[bad])[:5].tolist()}")
    if np.isinf(t).any() or (t < 0).any():
        raise ValueError(f"{function}: `time` must be finite and not negative")
    for k, v in extras.items():
        if pd.isna(v).any():
            raise ValueError(f"{function}: `{k}` must not be missing")
    return (timefix(t) if fix_times else t), c.astype(int), extras


# --------------------------------------------------------------------------------------
# Aalen-Johansen
# --------------------------------------------------------------------------------------


def _aj_one(t: np.ndarray, c: np.ndarray, causes: list[int]):
    """Counts, state probabilities and IJ standard errors of one group.

    At each distinct time ``s`` with ``n`` at risk and ``d_m`` events of cause m
    (``D`` in all), the hazards are ``d_m / n``; ``S(s) = S(s-) (1 - D/n)`` and
    ``F_k(s) = F_k(s-) + S(s-) d_k / n``.

    Variance. R ``survfitCI`` accumulates each subject's influence on the state
    probabilities, an n x states x times computation. For unweighted right-censored
    data the influences of different times are uncorrelated (a subject who fails at
    s is not at risk later), so ``sum_i U_i(t)^2`` reduces to a sum over times of
    the multinomial covariance of the hazard increments,
    ``C_ml(s) = (delta_ml d_m - d_m d_l / n) / n^2``, weighted by the derivatives of
    the estimate: ``dS(t)/dlambda_m(s) = -S(t) / (1 - D/n)`` and
    ``dF_k(t)/dlambda_m(s) = S(s-) (delta_mk - (F_k(t) - F_k(s)) / S(s))``.

    The derivative is the same for every other cause, so the causes other than k
    can be pooled (``o``: ``d_o = D - d_k``, ``F_o = sum of their F``), and with
    ``r = n - D`` still at risk the term of time s is a sum of squares::

        S(s-)^2 d_k d_o / n^3 + d_k / (n r) (A(t) - F_o(s))^2
                              + d_o / (n r) (F_k(t) - F_k(s))^2

    where ``A(t) = 1 - F_k(t)`` is computed as ``S(t) + F_o(t)`` (the terms in r
    vanish where ``r = 0``). Each square is quadratic in a quantity of time t, so
    cumulative sums give the variance at every time in O(times), in memory that
    does not grow with n x times: the same numbers as R (checked to 1e-10). Written
    this way, nothing cancels where the incidence reaches 1 (``A = S = 0`` with no
    other cause): the SE is 0 there, as R's (2e-17) is, not the square root of
    rounding noise (1e-8).
    """
    order = np.argsort(t, kind="stable")
    ts, cs = t[order], c[order]
    times, first, counts = np.unique(ts, return_index=True, return_counts=True)
    n_risk = (t.size - first).astype(float)
    pos = np.repeat(np.arange(times.size), counts)
    d = np.zeros((len(causes), times.size))
    for j, k in enumerate(causes):
        d[j] = np.bincount(pos, weights=(cs == k).astype(float), minlength=times.size)
    D = d.sum(axis=0)
    n_censor = counts - D
    S = np.cumprod(1.0 - D / n_risk)
    S_before = np.concatenate([[1.0], S[:-1]])
    F = np.cumsum(S_before * d / n_risk, axis=1)
    c_all = (D - D ** 2 / n_risk) / n_risk ** 2
    remain = n_risk - D                                           # r, at risk after s
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(remain > 0, n_risk / remain, 0.0)           # 1 / (1 - D/n)
        per_remain = np.where(remain > 0, 1.0 / (n_risk * remain), 0.0)
    var_S = S ** 2 * np.cumsum(h ** 2 * c_all)
    se = [np.sqrt(np.maximum(var_S, 0.0))]
    both = S_before ** 2 / n_risk ** 3
    for j in range(len(causes)):
        dk, Fk = d[j], F[j]
        do = D - dk
        Fo = np.cumsum(S_before * do / n_risk)
        A = S + Fo                                                # 1 - F_k(t), no cancellation
        b, c_ = dk * per_remain, do * per_remain
        var = (np.cumsum(both * dk * do)
               + A ** 2 * np.cumsum(b) - 2 * A * np.cumsum(b * Fo) + np.cumsum(b * Fo ** 2)
               + Fk ** 2 * np.cumsum(c_) - 2 * Fk * np.cumsum(c_ * Fk)
               + np.cumsum(c_ * Fk ** 2))
        se.append(np.sqrt(np.maximum(var, 0.0)))
    return times, n_risk, d, n_censor, np.vstack([S, F]), np.vstack(se)


def _aj_general(t, c, causes, entry, w):
    """:func:`_aj_one` with delayed entry and case weights, as R ``survfit(Surv(entry,
    time, factor(cause)) ~ 1, weights = w, id = row)``.

    A subject is at risk on ``(entry, time]``; the hazards are weighted, ``d_m / n``
    on sums of case weights. The counts returned (at risk, events, censored) are
    numbers of subjects, as R's multi-state ``survfit`` reports them.

    Variance. Subject i's influence on the hazard of cause m at s is ``w_i (dN_im(s)
    - Y_i(s) d_m/n) / n``. With delayed entry or weights the closed form of
    :func:`_aj_one` no longer holds (a subject who enters late is at risk at some
    times and not others, and weights differ), so each subject's influence is
    written as R accumulates it, through the derivatives of :func:`_aj_one`:
    ``U_ik(t) = a_ik(t) - F_k(t) b_i(t) + c_ik(t)`` with
    ``a_ik = sum_s S(s-) (dN_ik - Y_i h_k) / n``, ``b_i = sum_s (dN_i - Y_i H) /
    (n - D)`` and ``c_ik = sum_s F_k(s) (dN_i - Y_i H) / (n - D)``, and for being
    event-free ``-S(t) b_i(t)``. Each sum is a running sum between the subject's
    entry and ``min(t, exit)``, so ``sum_i w_i^2 U_ik(t)^2`` is kept in running sums
    over the subjects still at risk and those who have left: O(n log n), as
    :func:`netpet_stats.survival.kaplan_meier._km_ij_se_log`.
    """
    times = np.unique(t)
    index = np.searchsorted(times, t)
    T = times.size
    n_count = np.cumsum(np.bincount(index, minlength=T)[::-1])[::-1].astype(float)
    n_w = np.cumsum(np.bincount(index, weights=w, minlength=T)[::-1])[::-1]
    start = np.full(t.size, -np.inf) if entry is None else entry
    enter_at = np.searchsorted(times, start, side="right")     # first time with entry < s
    if entry is not None:
        late = np.cumsum(np.bincount(enter_at, minlength=T + 1)[:T])
        late_w = np.cumsum(np.bincount(enter_at, weights=w, minlength=T + 1)[:T])
        n_count = n_count - (t.size - late)
        n_w = n_w - (w.sum() - late_w)
    d = np.zeros((len(causes), T))
    d_count = np.zeros((len(causes), T))
    for j, k in enumerate(causes):
        d[j] = np.bincount(index, weights=w * (c == k), minlength=T)
        d_count[j] = np.bincount(index, weights=(c == k).astype(float), minlength=T)
    D = d.sum(axis=0)
    n_censor = np.bincount(index, minlength=T) - d_count.sum(axis=0)
    # Where every subject at risk has an event, no weight remains: say so exactly, as
    # n_w - D of sums of weights leaves rounding noise (5e-15) that the variance below
    # would divide by.
    none_left = (D > 0) & (n_count - d_count.sum(axis=0) == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        H = np.where(none_left, 1.0, np.where(D > 0, D / n_w, 0.0))
        S = np.cumprod(1.0 - H)
        S_before = np.concatenate([[1.0], S[:-1]])
        F = np.cumsum(S_before * np.where(D > 0, d / n_w, 0.0), axis=1)
        remain = np.where(none_left, 0.0, n_w - D)
        per_remain = np.where((D > 0) & (remain > 0), 1.0 / remain, 0.0)
        per_n = np.where(D > 0, 1.0 / n_w, 0.0)
    any_event = (c > 0).astype(float)
    pos = index

    def at_entry(cum):
        """A running sum's value at each subject's entry (0 before the first time)."""
        return np.where(enter_at > 0, cum[np.maximum(enter_at - 1, 0)], 0.0)

    def spread(cum, own):
        """Per subject: the value after exit (``own`` the jump of its own event) and at entry."""
        return cum[pos] - at_entry(cum) + own, at_entry(cum)

    B_cum = np.cumsum(-H * per_remain)                 # sum -Y H / (n - D), while at risk
    se = []
    # event-free: U = -S(t) b_i(t); b_i = (B(t) - B(entry)) while at risk,
    # B(exit) - B(entry) + e_i / (n - D)(exit) after
    own_b = any_event * per_remain[pos]
    b_done, b0 = spread(B_cum, own_b)
    w2 = w * w

    def running(values):
        added = np.bincount(enter_at, weights=values, minlength=T + 1)[:T]
        removed = np.bincount(pos, weights=values, minlength=T)
        return np.cumsum(added) - np.cumsum(removed)

    def gone(values):
        return np.cumsum(np.bincount(pos, weights=values, minlength=T))

    var_b = (gone(w2 * b_done ** 2) + B_cum ** 2 * running(w2) - 2 * B_cum * running(w2 * b0)
             + running(w2 * b0 ** 2))
    se.append(np.sqrt(np.maximum(S ** 2 * var_b, 0.0)))
    for j, k in enumerate(causes):
        hk = np.where(D > 0, d[j] * per_n, 0.0)
        A_cum = np.cumsum(-S_before * hk * per_n)          # sum -S(s-) Y h_k / n
        C_cum = np.cumsum(-F[j] * H * per_remain)          # sum -F_k(s) Y H / (n - D)
        own_a = (c == k) * S_before[pos] * per_n[pos]
        own_c = any_event * F[j][pos] * per_remain[pos]
        a_done, a0 = spread(A_cum, own_a)
        c_done, c0 = spread(C_cum, own_c)
        Fk = F[j]
        # after exit: P = a + c, Q = b (constants); at risk: U = G(t) - (P0 - F Q0)
        P_done, P0 = a_done + c_done, a0 + c0
        G = A_cum + C_cum - Fk * B_cum
        done = (gone(w2 * P_done ** 2) - 2 * Fk * gone(w2 * P_done * b_done)
                + Fk ** 2 * gone(w2 * b_done ** 2))
        # at risk: (G - P0 + Fk Q0)^2 summed
        R0 = running(w2)
        R_P, R_Q = running(w2 * P0), running(w2 * b0)
        R_PP, R_QQ, R_PQ = running(w2 * P0 ** 2), running(w2 * b0 ** 2), running(w2 * P0 * b0)
        active = (G ** 2 * R0 - 2 * G * R_P + 2 * G * Fk * R_Q + R_PP
                  - 2 * Fk * R_PQ + Fk ** 2 * R_QQ)
        se.append(np.sqrt(np.maximum(done + active, 0.0)))
    return times, n_count, d_count, n_censor, np.vstack([S, F]), np.vstack(se)


def aalen_johansen(time, cause, group=None, groups=None, cause_labels=None,
                   conf_type: str = "log", conf_level: float = 0.95, *, entry=None,
                   weights=None) -> pd.DataFrame:
    """Aalen-Johansen state probabilities by group, as R ``survfit`` for competing risks.

    Parameters
    ----------
    time
        Follow-up time to the first event or censoring.
    cause
        0 = censored, 1, 2, ... = the event that ended follow-up.
    group
        Optional group label per subject (one curve per group).
    groups
        Order of the groups (default: sorted distinct labels).
    cause_labels
        Names of the causes, ``{1: "progression", 2: "death"}`` (default: the codes).
    conf_type, conf_level
        Pointwise CI as R ``survfit_confint`` with the SE on the probability scale.
    entry, weights
        Delayed-entry times (at risk on ``(entry, time]``) and case weights: R
        ``survfit(Surv(entry, time, factor(cause)) ~ group, weights = w, id = row)``
        (R needs an ``id`` for start-stop data; one row per subject here). The
        estimates and SEs are weighted; the counts are numbers of subjects, as R's
        multi-state ``survfit`` reports them (:func:`_aj_general`). A subject whose
        entry is not before its exit is left out, as R's ``Surv``.

    Returns
    -------
    pandas.DataFrame
        One row per group, state and distinct time (events and censorings, as
        ``summary(fit, censored = TRUE)``): ``group``, ``state`` (``event-free``
        or the cause), ``time``, ``n_risk``, ``n_event`` (of that cause; of all
        causes for ``event-free``), ``n_censor``, ``estimate``, ``std_err``,
        ``lower``, ``upper``. ``estimate`` is the cumulative incidence of a cause
        or the probability of being event-free.

    References
    ----------
    Aalen & Johansen, Scand J Stat 1978;5:141-50. R ``survival::survfit`` with a
    factor status (Therneau, Crowson & Atkinson, "Multi-state models and competing
    risks", survival vignette).

    Examples
    --------
    >>> from netpet_stats.survival.competing_risks import aalen_johansen
    >>> cif = aalen_johansen([1, 2, 2, 3, 4, 5], [1, 2, 0, 1, 0, 2])
    >>> cif[cif.state == "1"][["time", "estimate"]].round(4).values.tolist()[-1]  # 1/6 + 2/3 * 1/3
    [5.0, 0.3889]
    """
    t, c, extra = _checked("aalen_johansen", time, cause, group=group)
    start, w = None, None
    if entry is not None or weights is not None:
        # delayed entry and weights checked as every engine function checks them
        # (entry not before exit left out, as R's Surv; entry and exit fixed together)
        checked = check_survival("aalen_johansen", time, (np.asarray(cause, float) > 0) * 1.0,
                                 entry=entry, weights=weights, group=group)
        t = checked.time
        c = c[checked.keep]
        start, w = checked.entry, checked.weights
        extra = dict(checked.others)
        if w is None:
            w = np.ones(t.size)
    labels = extra.get("group", np.full(t.size, "all", dtype=object))
    labels = labels.astype(object)
    if groups is None:
        groups = sorted(pd.unique(labels), key=str)
    causes = sorted(int(k) for k in np.unique(c) if k > 0)
    names = {k: str(k) for k in causes}
    if cause_labels:
        names.update({int(k): str(v) for k, v in cause_labels.items()})
    states = [EVENT_FREE] + [names[k] for k in causes]
    # columns collected as arrays and framed once (nine small frames cost more than the
    # estimate itself on a few hundred patients)
    cols = {k: [] for k in ("group", "state", "time", "n_risk", "n_event", "n_censor",
                            "estimate", "std_err")}
    codes, distinct = pd.factorize(labels)
    for g in groups:
        where = [i for i, u in enumerate(distinct) if u == g]
        if not where:
            continue
        mask = codes == where[0]
        if w is None:
            times, n_risk, d, n_censor, prob, se = _aj_one(t[mask], c[mask], causes)
        else:
            times, n_risk, d, n_censor, prob, se = _aj_general(
                t[mask], c[mask], causes, None if start is None else start[mask], w[mask])
        events = np.vstack([d.sum(axis=0), d])
        m = times.size
        for j, state in enumerate(states):
            cols["group"].append(np.full(m, g, dtype=object))
            cols["state"].append(np.full(m, state, dtype=object))
            cols["time"].append(times)
            cols["n_risk"].append(n_risk)
            cols["n_event"].append(events[j])
            cols["n_censor"].append(n_censor)
            cols["estimate"].append(prob[j])
            cols["std_err"].append(se[j])
    out = {k: np.concatenate(v) for k, v in cols.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        se_log = np.where(out["std_err"] == 0, 0.0, out["std_err"] / out["estimate"])
    out["lower"], out["upper"] = confidence_limits(out["estimate"], se_log, conf_type,
                                                   conf_level)
    for k in ("n_risk", "n_event", "n_censor"):
        out[k] = out[k].astype(int)
    return frame(out)


def cumulative_incidence_at(table: pd.DataFrame, at) -> pd.DataFrame:
    """Read an :func:`aalen_johansen` table at given times (the step just before or at).

    Returns one row per group, state and time in ``at``; before the first time the
    event-free probability is 1 and every incidence 0 with SE 0.

    Examples
    --------
    >>> from netpet_stats.survival.competing_risks import aalen_johansen, cumulative_incidence_at
    >>> cif = aalen_johansen([1, 2, 2, 3, 4, 5], [1, 2, 0, 1, 0, 2])
    >>> cumulative_incidence_at(cif, [2.5]).query("state == '1'").estimate.round(4).tolist()
    [0.1667]
    """
    at = np.asarray(at, float)
    columns = ["group", "state", "time", "estimate", "std_err", "lower", "upper"]
    group, state = table["group"].to_numpy(), table["state"].to_numpy()
    # each (group, state) curve in the order it first appears (groupby(sort=False)); a
    # row with a missing group or state belongs to none (groupby drops missing keys)
    g_code, g_values = pd.factorize(group)
    s_code, s_values = pd.factorize(state)
    n_states = max(len(s_values), 1)
    valid = np.flatnonzero((g_code >= 0) & (s_code >= 0))
    pair, curves = pd.factorize((g_code * n_states + s_code)[valid])
    if not len(curves) or not at.size:
        return pd.DataFrame([], columns=columns)
    times, estimate, std_err, lower, upper = float_columns(
        table, ("time", "estimate", "std_err", "lower", "upper"))
    # rows of each curve in table order, the curves one after another
    by_curve = np.argsort(pair, kind="stable")
    rows = valid[by_curve]
    starts = np.searchsorted(pair[by_curve], np.arange(len(curves)))
    ends = np.append(starts[1:], rows.size)
    picked = np.empty((len(curves), at.size), np.int64)
    for k in range(len(curves)):
        part = rows[starts[k]:ends[k]]
        i = np.searchsorted(times[part], at, side="right") - 1
        picked[k] = np.where(i >= 0, part[np.maximum(i, 0)], -1)
    picked = picked.ravel()
    before = picked < 0                         # before the curve's first time
    curve_g = np.repeat(g_values.take(curves // n_states), at.size)
    curve_s = np.repeat(s_values.take(curves % n_states), at.size)
    base = np.where(curve_s == EVENT_FREE, 1.0, 0.0)
    safe = np.maximum(picked, 0)
    return frame({
        "group": _inferred(curve_g), "state": _inferred(curve_s),
        "time": np.tile(at, len(curves)),
        "estimate": np.where(before, base, estimate[safe]),
        "std_err": np.where(before, 0.0, std_err[safe]),
        "lower": np.where(before, np.nan, lower[safe]),
        "upper": np.where(before, np.nan, upper[safe]),
    })


def _inferred(labels: np.ndarray) -> np.ndarray:
    """Labels as the column pandas infers from them in a list (strings stay objects,
    whole numbers become int64, and so on)."""
    labels = np.asarray(labels, dtype=object)
    if all(isinstance(v, str) for v in labels):
        return labels
    return pd.Series(list(labels)).to_numpy()


def _refuse_entry_weights(function: str, entry, weights, r_function: str, instead: str):
    """Refuse delayed entry or case weights where the R function matched takes neither."""
    given = [name for name, v in (("entry", entry), ("weights", weights)) if v is not None]
    if given:
        raise ValueError(
            f"{function}: {' and '.join(given)} not supported: {r_function}, whose numbers "
            f"this matches, takes neither delayed entry (left truncation) nor case weights, "
            f"so there is no R result to reproduce (its censoring weights assume every "
            f"subject at risk from time 0). Use {instead}.")


# --------------------------------------------------------------------------------------
# Gray's test
# --------------------------------------------------------------------------------------


def _gray_stratum(t, c, g, ng, cause, rho):
    """Score and variance of Gray's test in one stratum (Gray 1988, section 2).

    The quantities of cmprsk's ``crstm``: at each distinct event time, the score of
    group j adds ``(1 - F(t-))^rho (d1_j - d1 R_j / sum R)`` with ``R_j = n_j (1 -
    F1_j(t-)) / S_j(t-)``, and the variance collects the cause-1 and other-cause
    terms of the asymptotic covariance. ``crstm`` walks the times one by one; the
    recursions it carries (each group's Kaplan-Meier and cumulative incidence, the
    pooled F, the matrix ``c``) are cumulative products and sums, so here they are
    computed for all event times at once (arrays of times x groups x groups), which
    is what makes the test as fast as R's Fortran.
    """
    times, inverse = np.unique(t, return_inverse=True)
    k = ng - 1
    d = np.zeros((3, times.size, ng))
    kind = np.where(c == cause, 1, np.where(c == 0, 0, 2))
    np.add.at(d, (kind, inverse, g), 1.0)
    leaving = d.sum(axis=0)
    # at risk just before each time: the group's size less everyone who left earlier
    rs_all = d.sum(axis=(0, 1))[None, :] - np.vstack([np.zeros((1, ng)),
                                                      np.cumsum(leaving, axis=0)[:-1]])
    ev = (d[1] + d[2]).sum(axis=1) > 0
    d1, d2, rs = d[1][ev], d[2][ev], rs_all[ev]
    nd1, nd2 = d1.sum(axis=1), d2.sum(axis=1)
    act = rs > 0
    safe_rs = np.where(act, rs, 1.0)
    step = np.where(act, (rs - d1 - d2) / safe_rs, 1.0)
    skm = np.cumprod(step, axis=0)                                   # S_j(t)
    skmm = np.vstack([np.ones((1, ng)), skm[:-1]])                    # S_j(t-)
    f1 = np.cumsum(np.where(act, skmm * d1 / safe_rs, 0.0), axis=0)
    f1m = np.vstack([np.zeros((1, ng)), f1[:-1]])
    t1 = np.where(act, rs / np.where(act, skmm, 1.0), 0.0)
    tr = t1.sum(axis=1)
    tq = (t1 * (1 - f1m)).sum(axis=1)
    f = np.cumsum(nd1 / tr)
    fm = np.concatenate([[0.0], f[:-1]])
    fb = (1 - fm) ** rho
    a = fb[:, None, None] * (t1[:, :, None] * np.eye(ng)[None]
                             - t1[:, :, None] * t1[:, None, :] / tr[:, None, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        dc = np.where((nd1 > 0)[:, None, None],
                      a * (nd1 / (tr * (1 - fm)))[:, None, None], 0.0)
    cmat = np.cumsum(dc, axis=0)                                     # c after each time
    s = (fb[:, None] * np.where(act, d1 - nd1[:, None] * t1 * (1 - f1m) / tq[:, None],
                                0.0)).sum(axis=0)[:k]
    v = np.zeros((k, k))
    v3 = np.zeros(ng)
    v2 = np.zeros((k, ng))
    with np.errstate(divide="ignore", invalid="ignore"):
        # cause-1 terms
        one = nd1 > 0
        t4 = np.where(skm > 0, 1 - (1 - f)[:, None] / np.where(skm > 0, skm, 1.0), 1.0)
        t5 = np.where((nd1 > 1)[:, None], 1 - (nd1 - 1)[:, None] / (tr[:, None] * skmm - 1),
                      1.0)
        t3 = np.where(act & one[:, None], t5 * skmm * nd1[:, None] / (tr[:, None] * safe_rs),
                      0.0)
        b = a[:, :k, :] - t4[:, None, :] * cmat[:, :k, :]
        v3 += (t4 ** 2 * t3).sum(axis=0)
        v2 += (b * (t4 * t3)[:, None, :]).sum(axis=0)
        v += np.einsum("jig,jg,jhg->ih", b, t3, b)
        # other-cause terms
        ok = (skm > 0) & (d2 > 0)
        t4 = np.where(ok, (1 - f)[:, None] / np.where(ok, skm, 1.0), 0.0)
        t5 = np.where(d2 > 1, 1 - (d2 - 1) / np.where(d2 > 1, rs - 1, 1.0), 1.0)
        t3 = np.where(ok, t5 * skmm ** 2 * d2 / safe_rs ** 2, 0.0)
        b = t4[:, None, :] * cmat[:, :k, :]
        v3 += (t4 ** 2 * t3).sum(axis=0)
        v2 -= (b * (t4 * t3)[:, None, :]).sum(axis=0)
        v += np.einsum("jig,jg,jhg->ih", b, t3, b)
    c_end = cmat[-1, :k, :] if cmat.size else np.zeros((k, ng))
    v += (c_end * v3) @ c_end.T + c_end @ v2.T + v2 @ c_end.T
    return s, v


@dataclass
class GrayTest:
    """Gray's test for one cause: chi-square, df and p, with the method named."""

    cause: int
    statistic: float
    df: int
    p_value: float
    method: str = GRAY_METHOD


def gray_test(time, cause, group, event_of_interest: int = 1, strata=None,
              rho: float = 0.0, *, entry=None, weights=None) -> GrayTest:
    """Gray's test that a cause's cumulative incidence is equal across groups.

    As R ``cmprsk::cuminc``, the times are compared as given: unlike
    :func:`aalen_johansen` (``survfit``), no time fix ties times that differ only
    by rounding noise (in the 12th digit, say).

    Parameters
    ----------
    time, cause
        As :func:`aalen_johansen` (0 = censored).
    group
        Group label per subject (at least two groups with subjects).
    event_of_interest
        The cause whose cumulative incidence is compared.
    strata
        Optional stratum per subject: scores and variances are summed over strata
        (R ``cuminc(..., strata = )``).
    rho
        Power of the weight ``(1 - F(t-))^rho`` (R's ``rho``, default 0).

    Returns
    -------
    GrayTest
        ``statistic`` = U' V^-1 U on ``groups - 1`` df; NaN when V is singular
        (R reports -1).

    References
    ----------
    Gray RJ. A class of K-sample tests for comparing the cumulative incidence of a
    competing risk. Ann Stat 1988;16:1141-54. R ``cmprsk::cuminc``.

    Examples
    --------
    >>> from netpet_stats.survival.competing_risks import gray_test
    >>> res = gray_test([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 1, 0, 2, 1, 1, 0],
    ...                 ["a", "a", "a", "a", "b", "b", "b", "b"])
    >>> res.df
    1
    """
    # cuminc compares the times as given: no aeqSurv time fix (unlike survfit)
    _refuse_entry_weights("gray_test", entry, weights, "cmprsk::cuminc",
                          "aalen_johansen(..., entry=, weights=) for the curves")
    t, c, extra = _checked("gray_test", time, cause, fix_times=False, group=group,
                           strata=strata)
    first, distinct = pd.factorize(extra["group"].astype(object))
    if len(distinct) < 2:
        raise ValueError("gray_test: `group` must have at least two groups with subjects")
    # groups in sorted order, as R's factor levels (the statistic does not depend on it)
    rank = np.argsort(np.argsort([str(u) for u in distinct], kind="stable"))
    codes = rank[first]
    ng = len(distinct)
    s, v = np.zeros(ng - 1), np.zeros((ng - 1, ng - 1))
    if "strata" in extra:
        strat, _ = pd.factorize(extra["strata"].astype(object))
        parts = [strat == k for k in range(strat.max() + 1)]
    else:
        parts = [slice(None)]
    for m in parts:
        ss, vv = _gray_stratum(t[m], c[m], codes[m], ng, event_of_interest, rho)
        s, v = s + ss, v + vv
    if np.linalg.matrix_rank(v) < ng - 1:
        stat = float("nan")
    else:
        stat = float(s @ np.linalg.solve(v, s))
    return GrayTest(event_of_interest, stat, ng - 1, chi2_sf(stat, ng - 1))


# --------------------------------------------------------------------------------------
# Fine-Gray
# --------------------------------------------------------------------------------------


class _FineGrayData:
    """One stratum's subdistribution risk sets, built once for every Newton step.

    At an event time t of the cause of interest the risk set is everyone still
    event-free (weight 1) plus everyone who had a competing event before t, with
    weight G(t-)/G(T_i-) (Fine & Gray 1999, eq. 6; exactly the rows and weights of
    R ``finegray``, whose expanded intervals are constant between censoring
    times). The weight factorises, so each risk-set sum is a reverse cumulative
    sum over the event-free plus G(t-) times a forward cumulative sum over the
    competing events: no expanded data set.

    The subjects are kept sorted by time (one stable sort, here), so that the
    risk-set sums are sums over contiguous blocks; :meth:`evaluate` gives the
    residuals back in the order the subjects came in.

    Why the information needs no n x p^2 array: write ``a_k = sum_l 1/den_kl``
    and ``a'_k = sum_l (l/d_k)/den_kl`` over Efron's tie steps l at event time k.
    The second-moment part of the information is
    ``sum_k (a_k S2(k) - a'_k D2(k))``, where S2(k) is a sum over subjects of
    ``w_ik r_i x_i x_i'`` whose weight w_ik depends on subject i and time k alone
    (1 while i is event-free at t_k; G(t_k-)/G(T_i-) after a competing event
    before t_k; else 0), and D2(k) the same sum over the events at t_k.
    Exchanging the sums over k and i gives ``X' diag(r_i q_i) X`` with one scalar
    per subject, ``q_i = sum_k w_ik a_k`` less ``a'_k`` at its own event time: for
    every subject the cumulative sum of a_k over the event times up to its own
    time; for a competing event plus ``sum_{t_k > T_i} G(t_k-) a_k / G(T_i-)``,
    a cumulative sum too. This is an exact regrouping of the same terms (only
    the rounding differs): O(n p^2) flops in one matrix product and O(n p)
    memory, instead of n x p^2 products and their cumulative sums.
    """

    def __init__(self, t, c, X, cause):
        # one stable sort by time: every risk set is a contiguous block from here on
        order = np.argsort(t, kind="stable")
        self.order = order
        t = np.asarray(t, float)[order]
        c = np.asarray(c)[order]
        self.X = np.ascontiguousarray(np.asarray(X, float)[order])
        dead = c == cause
        self.dead_idx = np.flatnonzero(dead)            # in time order
        self.etimes = np.unique(t[dead])
        T = self.etimes.size
        # subjects first[k] onwards have t >= etimes[k] (event-free just before it)
        self.first = np.searchsorted(t, self.etimes, side="left")
        # the last event time at or before each subject's own time (-1: none): the
        # event times k <= upto[i] are those whose risk set holds i as event-free
        self.upto = np.searchsorted(self.etimes, t, side="right") - 1
        # G(t-), the censoring Kaplan-Meier with events before censorings at ties: the
        # curve survival::finegray builds (Gsurv), read just before each time
        G = censoring_survival(t, (c > 0).astype(float))
        self.g_event = G(self.etimes, left=True)
        self.comp_idx = np.flatnonzero((c != cause) & (c != 0))   # in time order
        self.inv_g_comp = 1.0 / G(t[self.comp_idx], left=True)
        # number of competing events strictly before each event time
        self.n_comp_before = np.searchsorted(t[self.comp_idx], self.etimes, side="left")
        self.pos = self.upto[self.dead_idx]               # event time of each event
        self.d = np.bincount(self.pos, minlength=T).astype(float)
        # each event time's block among the (time-ordered) events
        self.dead_start = np.r_[0, np.cumsum(self.d[:-1])].astype(np.intp) if T else None
        self.increments = None

    def _sums(self, wv):
        """Risk-set sums of the weighted rows ``wv`` (n x m) at every event time (T x m)."""
        # blocks [first[k], first[k+1]) summed, then reversed cumulative sums over the
        # event times: the event-free part of each risk set
        at_risk = np.cumsum(np.add.reduceat(wv, self.first, axis=0)[::-1], axis=0)[::-1]
        ci = self.comp_idx
        fwd = np.vstack([np.zeros((1, wv.shape[1])),
                         np.cumsum(wv[ci] * self.inv_g_comp[:, None], axis=0)])
        return at_risk + self.g_event[:, None] * fwd[self.n_comp_before]

    def _per_subject(self, cum, g_cum):
        """Each subject's sum of a per-event-time quantity over the risk sets it is in.

        ``cum`` and ``g_cum`` are the cumulative sums over event times of ``z_k`` and
        ``G(t_k-) z_k`` (vectors, or matrices with one column per component). A subject
        is event-free in the risk sets of the event times k <= upto[i]: ``cum[upto]``.
        A subject with a competing event is moreover in those after its own time, with
        weight ``G(t_k-) / G(T_i-)``: ``(g_cum[-1] - g_cum[upto]) / G(T_i-)``. Returns
        the first part for every subject and the second for the competing ones.
        """
        up, ci = self.upto, self.comp_idx
        none = up < 0                             # no event time at or before T_i
        upc = np.clip(up, 0, None)
        own = cum[upc]
        own[none] = 0.0
        before = g_cum[upc[ci]]
        before[none[ci]] = 0.0
        later = np.subtract(g_cum[-1], before, out=before)
        later *= self.inv_g_comp if cum.ndim == 1 else self.inv_g_comp[:, None]
        return own, later

    def evaluate(self, beta, residuals: bool = False):
        """Log partial likelihood, score and information at ``beta`` (and residuals).

        Efron's approximation at tied event times: at event time k with d_k events,
        tie step l = 0..d_k-1 has denominator ``den_kl = S0(k) - (l/d_k) D0(k)`` and
        mean ``(S1(k) - (l/d_k) D1(k)) / den_kl``, S the weighted risk-set sums and D
        the sums over the d_k events. The information
        ``sum_kl [(S2(k) - (l/d_k) D2(k)) / den_kl - mean_kl mean_kl']`` is computed
        as ``X' diag(r q) X - sum_kl mean_kl mean_kl'`` (see the class notes): no S2.

        Returns
        -------
        tuple
            ``(loglik, score, info)``; with ``residuals`` also the n x p score
            residuals in the caller's order (R ``residuals(type = "score")`` of the
            ``finegray`` rows times their weights, summed by subject). Sets
            ``self.increments``, the baseline hazard increments ``sum_l 1/den_kl``
            with risks scaled by ``exp(-max lp)``.
        """
        X, n, p = self.X, self.X.shape[0], self.X.shape[1]
        T = self.etimes.size
        lp = X @ beta
        shift = lp.max() if n else 0.0
        r = np.exp(lp - shift)            # scaled: no overflow; log likelihood corrected
        di, pos = self.dead_idx, self.pos
        loglik = float(lp[di].sum())
        score = X[di].sum(axis=0).astype(float)
        if T == 0:                        # no events of interest in this stratum
            self.increments = np.zeros(0)
            zero = np.zeros((p, p))
            return (loglik, score, zero, np.zeros((n, p))) if residuals else (loglik, score, zero)
        rX = r[:, None] * X
        S0 = self._sums(r[:, None])[:, 0]
        S1 = self._sums(rX)
        D0 = np.add.reduceat(r[di], self.dead_start)
        D1 = np.add.reduceat(rX[di], self.dead_start, axis=0)
        del rX
        outer = np.zeros((p, p))
        a_k, a_own = np.zeros(T), np.zeros(T)
        if residuals:
            b_k, b_own, mbar = np.zeros((T, p)), np.zeros((T, p)), np.zeros((T, p))
        for ell in range(int(self.d.max())):
            act = self.d > ell
            frac = np.where(act, ell / np.where(act, self.d, 1.0), 0.0)
            den = S0 - frac * D0
            den_safe = np.where(act, den, 1.0)
            mean = (S1 - frac[:, None] * D1) / den_safe[:, None]
            loglik -= float(np.log(den_safe[act]).sum() + act.sum() * shift)
            m = mean[act]
            score -= m.sum(axis=0)
            outer += m.T @ m
            a_k += act / den_safe                 # weight of S2(k)
            a_own += act * frac / den_safe        # weight of D2(k)
            if residuals:
                b_k += act[:, None] * mean / den_safe[:, None]
                b_own += (act * frac)[:, None] * mean / den_safe[:, None]
                mbar += act[:, None] * mean / np.where(act, self.d, 1.0)[:, None]
        self.increments = a_k                     # sum_l 1/den at each event time
        # q_i = sum of a_k over the risk sets holding subject i (with the competing
        # events' weight G(t_k-)/G(T_i-)), less a'_k at its own event time
        a_cum, ga_cum = np.cumsum(a_k), np.cumsum(self.g_event * a_k)
        q, q_comp = self._per_subject(a_cum, ga_cum)
        q[self.comp_idx] += q_comp
        q[di] -= a_own[pos]
        second = X.T @ ((r * q)[:, None] * X)
        info = (second + second.T) / 2 - outer    # symmetric as the sum it replaces
        if not residuals:
            return loglik, score, info
        # Score residual of each subject (R residuals(type = "score") on the expanded
        # rows, times their weights, summed by subject): x_i times the summed 1/den
        # minus the summed mean/den over the risk sets it is in, with the same
        # per-subject regrouping as q.
        b_cum, gb_cum = np.cumsum(b_k, axis=0), np.cumsum(self.g_event[:, None] * b_k, axis=0)
        own_a, later_a = self._per_subject(a_cum, ga_cum)
        own_b, later_b = self._per_subject(b_cum, gb_cum)
        u = X * own_a[:, None]                    # -r (x own_a - own_b), in place: n x p
        u -= own_b
        del own_b
        u *= -r[:, None]
        u[di] += X[di] - mbar[pos]
        u[di] += r[di, None] * (X[di] * a_own[pos, None] - b_own[pos])
        ci = self.comp_idx
        u[ci] -= r[ci, None] * (X[ci] * later_a[:, None] - later_b)
        out = np.empty_like(u)
        out[self.order] = u                       # back to the caller's order
        return loglik, score, info, out


@dataclass
class FineGrayResult:
    """A fitted Fine-Gray model: coefficients with robust and model-based SEs."""

    coefficients: pd.DataFrame
    beta: np.ndarray
    variance: np.ndarray        # robust (sandwich), R fit$var
    naive_variance: np.ndarray  # inverse information, R fit$naive.var
    loglik: tuple[float, float]  # at beta = 0 and at the estimate
    n: int
    events: int
    competing: int
    method: str = FG_METHOD


def fine_gray(time, cause, X, event_of_interest: int = 1, strata=None, names=None,
              conf_level: float = 0.95, tol: float = 1e-9, max_iter: int = 30, *,
              entry=None, weights=None) -> FineGrayResult:
    """Fine-Gray subdistribution hazard model for one cause.

    Parameters
    ----------
    time, cause
        As :func:`aalen_johansen` (0 = censored).
    X
        Design matrix (n x p), numeric, already coded.
    event_of_interest
        The cause modelled; the other causes are competing events.
    strata
        Optional stratum per subject: censoring weights and risk sets within strata
        (R ``finegray(... + strata(s))`` then ``coxph(... + strata(s))``).
    names
        Names of the design columns.

    Returns
    -------
    FineGrayResult
        ``coefficients``: ``term``, ``coef``, ``hr``, ``se_robust``, ``se_model``,
        ``z``, ``p``, ``lower``, ``upper`` (Wald with the robust SE, as R prints) and
        ``note``: a coefficient that may be infinite (monotone likelihood) is flagged
        there, without z, p or CI, as R warns.

    References
    ----------
    Fine JP, Gray RJ. A proportional hazards model for the subdistribution of a
    competing risk. J Am Stat Assoc 1999;94:496-509. R ``survival::finegray`` and
    ``coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt, cluster = id)``.

    Examples
    --------
    >>> import numpy as np
    >>> from netpet_stats.survival.competing_risks import fine_gray
    >>> t = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    >>> cause = [1, 2, 1, 0, 1, 2, 0, 1, 2, 1]
    >>> x = np.array([[1.0], [0], [1], [0], [0], [1], [1], [0], [0], [1]])
    >>> fg = fine_gray(t, cause, x, names=["x"])
    >>> list(fg.coefficients.columns[:3])
    ['term', 'coef', 'hr']
    """
    from .cox import INFINITE_NOTE, CoxConvergenceWarning, newton_raphson

    _refuse_entry_weights("fine_gray", entry, weights, "cmprsk::crr",
                          "a cause-specific Cox model with delayed entry")
    t, c, extra = _checked("fine_gray", time, cause, strata=strata)
    X = np.asarray(X, float).reshape(t.size, -1)
    if np.isnan(X).any():
        raise ValueError("fine_gray: `X` must not be missing")
    p = X.shape[1]
    names = list(names) if names is not None else [f"x{j + 1}" for j in range(p)]
    if "strata" in extra:
        # integer codes in order of first appearance (pd.unique's order): comparing
        # codes, not objects, to find each stratum's subjects
        codes, levels = pd.factorize(extra["strata"].astype(object))
        parts = [np.flatnonzero(codes == k) for k in range(len(levels))]
    else:
        parts = [slice(None)]          # one stratum: no copy of the data
    data = [(idx, _FineGrayData(t[idx], c[idx], X[idx], event_of_interest)) for idx in parts]

    def derivatives(beta):
        ll, u, info = 0.0, np.zeros(p), np.zeros((p, p))
        for _, d in data:
            a, b, i = d.evaluate(beta)
            ll, u, info = ll + a, u + b, info + i
        return ll, u, info

    at_zero = derivatives(np.zeros(p))
    ll0 = at_zero[0]

    def from_zero(beta):
        # newton_raphson starts at beta = 0, whose derivatives are at hand
        return at_zero if not np.any(beta) else derivatives(beta)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CoxConvergenceWarning)
        beta, ll, info = newton_raphson(from_zero, np.zeros(p), tol, max_iter)
    infinite = sorted({j for w in caught if issubclass(w.category, CoxConvergenceWarning)
                       for j in w.message.columns})
    for w in caught:       # anything else is passed on
        if not issubclass(w.category, CoxConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if infinite:
        warnings.warn(CoxConvergenceWarning(
            f"fine_gray: coefficient(s) {[names[j] for j in infinite]} may be infinite "
            "(monotone likelihood, e.g. a level without events of this cause)", infinite),
            stacklevel=2)
    naive = np.linalg.inv(info)
    resid = np.zeros((t.size, p))
    for idx, d in data:
        resid[idx] = d.evaluate(beta, residuals=True)[3]
    dfbeta = resid @ naive
    robust = dfbeta.T @ dfbeta
    se = np.sqrt(np.diag(robust))
    z = beta / se
    q = norm_ppf(1 - (1 - conf_level) / 2)
    flag = np.isin(np.arange(p), infinite)
    coef = pd.DataFrame({
        "term": names, "coef": beta, "hr": np.exp(beta), "se_robust": se,
        "se_model": np.sqrt(np.diag(naive)), "z": np.where(flag, np.nan, z),
        "p": np.where(flag, np.nan, 2 * norm_sf(np.abs(z))),
        "lower": np.where(flag, np.nan, np.exp(beta - q * se)),
        "upper": np.where(flag, np.nan, np.exp(beta + q * se)),
        "note": np.where(flag, INFINITE_NOTE, "")})
    return FineGrayResult(coef, beta, robust, naive, (ll0, ll), int(t.size),
                          int((c == event_of_interest).sum()),
                          int(((c != event_of_interest) & (c != 0)).sum()))


def fine_gray_baseline(time, cause, X, beta, event_of_interest: int = 1, strata=None,
                       at=None) -> pd.DataFrame:
    """Baseline cumulative subdistribution hazard at x = 0, per stratum.

    ``H0(t) = sum over events s <= t of sum_l 1 / (S0(s) - (l/d) D0(s))``, the
    Efron-type increments over the weighted subdistribution risk sets at ``beta``:
    R ``survfit(fit, newdata = x0)$cumhaz`` for ``fit`` the Fine-Gray ``coxph`` on
    ``finegray`` data (ctype 2, as its Efron ties). The predicted cumulative
    incidence is ``1 - exp(-H0(t) exp(x' beta))``.

    Parameters
    ----------
    at
        Times to read H0 at (step function; 0 before the first event); default
        every event time.

    Returns
    -------
    pandas.DataFrame
        ``stratum``, ``time``, ``cumhaz``.

    Examples
    --------
    >>> import numpy as np
    >>> from netpet_stats.survival.competing_risks import fine_gray, fine_gray_baseline
    >>> t, cause = [1, 2, 3, 4, 5, 6], [1, 2, 1, 0, 1, 2]
    >>> x = np.array([[1.0], [0], [1], [0], [0], [1]])
    >>> fit = fine_gray(t, cause, x)
    >>> fine_gray_baseline(t, cause, x, fit.beta, at=[3.5])["cumhaz"].round(4).tolist()
    [0.2072]

    R: ``summary(survfit(fit, newdata = data.frame(x = 0)), times = 3.5)$cumhaz`` =
    0.2071866 for ``fit`` the ``coxph`` on ``finegray(Surv(t, cause) ~ x)``.
    """
    t, c, extra = _checked("fine_gray_baseline", time, cause, strata=strata)
    X = np.asarray(X, float).reshape(t.size, -1)
    beta = np.asarray(beta, float)
    strat = extra.get("strata", np.zeros(t.size, dtype=object)).astype(object)
    frames = []
    for s in pd.unique(strat):
        idx = np.flatnonzero(strat == s)
        data = _FineGrayData(t[idx], c[idx], X[idx], event_of_interest)
        data.evaluate(beta)            # sets the increments; no residuals needed
        # evaluate() works with risks scaled by exp(-max lp): undo it
        lp = X[idx] @ beta
        inc = data.increments * np.exp(-(lp.max() if idx.size else 0.0))
        cum = np.cumsum(inc)
        times = data.etimes if at is None else np.asarray(at, float)
        pos = np.searchsorted(data.etimes, times, side="right") - 1
        values = np.where(pos >= 0, cum[np.clip(pos, 0, None)] if cum.size else 0.0, 0.0)
        frames.append(pd.DataFrame({"stratum": s, "time": times, "cumhaz": values}))
    return pd.concat(frames, ignore_index=True)
