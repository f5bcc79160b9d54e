"""Cox proportional-hazards models as R ``survival::coxph(ties = "efron")``, or with
``ties = "breslow"`` or ``"exact"``.

Coefficients maximise the partial likelihood (optional strata; tied event times by
Efron's approximation, R's default, by Breslow's, or exactly) by
Newton-Raphson, iterated and stopped as R's ``coxph`` with its default
``coxph.control()`` (:func:`coxph_newton`, :func:`fit_efron`); model-based standard
errors are the inverse information at the maximum. Where R stops short of a maximum (a
coefficient that may be infinite, or 20 iterations without convergence), every number
is R's at its stopping point.
Written here rather than taken from lifelines' ``CoxPHFitter`` because
lifelines stops on its own step-size rule with the score at ~1e-5 (coefficients
~1e-7 from the maximum, visible in p-values), reports neither the score
(log-rank) test nor per-term tests of multi-level factors, and is 9-16 times
slower than R (benchmarks/); lifelines remains a cross-check in the tests.
:class:`EfronData` sorts the data once and evaluates the log likelihood, score
and information in one compiled pass (:mod:`netpet_stats.kernels`), in memory
linear in n.

Proportional hazards are tested as R ``cox.zph`` (survival >= 3.0): the score
test of a time-varying coefficient ``beta + theta g(t)`` per term and globally
(:func:`ph_test`). lifelines' ``proportional_hazard_test`` implements the older
Grambsch-Therneau approximation and does not reproduce it.
"""

from __future__ import annotations

import copy
import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _numpy_kernels
from ._checks import check_survival, timefix, timefix_of_subsets
from ._frames import frame as _frame
from ._ranks import dense_rank, exit_order, hashing_keeps_text, zero_signs_joined
from .splines import rcs_basis
from .distributions import chi2_sf, norm_ppf, norm_sf
from .kaplan_meier import distinct_times

log = logging.getLogger(__name__)

#: The methods for tied event times (R ``coxph(ties = )``).
TIES = ("efron", "breslow", "exact")
TIES_NAME = {"efron": "Efron", "breslow": "Breslow", "exact": "exact (conditional logistic)"}


def coef_method(ties: str = "efron") -> str:
    """The method sentence of a coefficient table fitted with ``ties``."""
    return (f"Cox PH, {TIES_NAME[check_ties(ties)]} ties (R coxph ties='{ties}'); model-based "
            "SE from the inverse information; Wald CI and p")


def check_ties(ties: str) -> str:
    """``ties`` if it is one of :data:`TIES`, else a ValueError naming them."""
    if ties not in TIES:
        raise ValueError(f"ties must be one of {', '.join(TIES)} (R coxph), not {ties!r}")
    return ties


COEF_METHOD = coef_method("efron")

#: Bounds of the exact partial likelihood (``ties = "exact"``): the recursion's steps,
#: summed over the event times with tied deaths of the risk set size times the deaths,
#: and the number of subsets of one time's risk set, ``choose(n, d)``, which its sums
#: must hold in double precision.
EXACT_MAX_STEPS = 10 ** 7
EXACT_MAX_SUBSETS = 1e250


class ExactTiesTooLarge(ValueError):
    """Data whose exact partial likelihood (``ties = "exact"``) exceeds the stated bounds."""


# --------------------------------------------------------------------------------------
# Design matrix
# --------------------------------------------------------------------------------------


@dataclass
class Term:
    """One model term and the design columns that code it."""

    name: str
    label: str
    columns: list[str]
    levels: list[str]  # level of each column (categorical) or "" for numeric
    reference: str


def _text_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code among the distinct values (-1 where missing) and the text of each
    distinct value, ``str`` taken once per distinct value (of every row of 10^6
    patients it took 0.2-0.4 s a column).

    A zero is one level whatever its sign, as R's (:func:`._ranks.zero_signs_joined`).
    Where hashing would join values whose text differs (1 and 1.0 in an object column:
    :func:`._ranks.hashing_keeps_text`), the text of every row is coded instead, as it
    was before: otherwise the joined rows took the text of whichever came first, and
    the strata or dummy columns changed with the order of the rows."""
    values = zero_signs_joined(values)
    codes, distinct = pd.factorize(values)
    if not hashing_keeps_text(values, distinct):
        codes, distinct = pd.factorize(values.astype(str).where(values.notna()))
        return codes, np.asarray(distinct, dtype=object)
    return codes, np.array([str(v) for v in distinct], dtype=object)


def design_matrix(data: pd.DataFrame, covariates: list[str], cov_config: dict,
                  fixed_levels: bool = False) -> tuple[pd.DataFrame, list[Term]]:
    """Code covariates as R's default treatment contrasts.

    Categorical covariates get one indicator per non-reference level (the
    reference is the first of ``levels`` in the configuration, or the first
    category of an ordered categorical such as the NETPET group, or the first
    sorted value). Levels absent from ``data`` are dropped, as R drops unused
    factor levels, unless ``fixed_levels`` is true: then the declared ``levels``
    are coded as given (a design fixed elsewhere, e.g. over several centres).
    Continuous covariates may be log2-transformed (with a floor) and divided by
    ``scale`` so that the HR is per ``scale`` units.
    """
    columns = {}
    terms = []
    for cov in covariates:
        spec = cov_config.get(cov, {"type": "continuous"})
        label = spec.get("label", cov)
        kind = spec.get("type", "continuous")
        values = data[cov]
        if kind == "categorical":
            codes, text = _text_codes(values)   # a missing value matches no level
            if spec.get("levels"):
                levels = [str(lv) for lv in spec["levels"]]
            elif isinstance(values.dtype, pd.CategoricalDtype):
                levels = [str(c) for c in values.cat.categories]
            else:
                levels = sorted(set(text))
            present = set(text)
            # a value outside the declared levels would silently join the reference level
            undeclared = sorted(present - set(levels))
            if undeclared:
                raise ValueError(
                    f"covariate {cov!r}: value(s) {', '.join(map(repr, undeclared[:10]))} "
                    f"are not among its declared levels {levels} (compared as text, so 1.0 "
                    "is not 1); declare every level or recode the column")
            if not (fixed_levels and spec.get("levels")):
                levels = [lv for lv in levels if lv in present]
            ref, rest = levels[0], levels[1:]
            names = []
            for lv in rest:
                col = f"{cov}[{lv}]"
                columns[col] = np.r_[text == lv, False][codes].astype(float)
                names.append(col)
            terms.append(Term(cov, label, names, rest, ref))
        else:
            x = values.astype(float).to_numpy()
            if spec.get("transform") == "log2":
                x = np.log2(np.maximum(x, spec.get("floor", 1.0)))
            x = x / float(spec.get("scale", 1.0))
            columns[cov] = x
            terms.append(Term(cov, label, [cov], [""], ""))
    return pd.DataFrame(columns, index=data.index), terms


# --------------------------------------------------------------------------------------
# Efron partial likelihood derivatives
# --------------------------------------------------------------------------------------


class EfronData:
    """Data of a Cox model sorted once for repeated Efron (Breslow, exact) evaluations.

    Within each stratum the rows are sorted by time, latest first (events
    before censorings at a tied time), so that the risk set of an event time
    is a prefix of the rows and its tied events are consecutive. Newton-Raphson
    evaluates the likelihood at several ``beta`` on the same data: sorting once
    is the point of this class. ``ties`` chooses the partial likelihood (R ``coxph(ties
    = )``): Efron's approximation, Breslow's, or the exact one; the exact one is refused
    (:class:`ExactTiesTooLarge`) beyond :data:`EXACT_MAX_STEPS` and
    :data:`EXACT_MAX_SUBSETS`.

    ``entry`` (delayed entry, left truncation) puts a subject in the risk set of the
    event times ``s`` with ``entry < s <= time``, as R ``coxph(Surv(entry, time,
    event) ~ .)``; the rows whose interval holds no event time of their stratum are
    left out of the sums, as R's ``agreg.fit`` leaves them out. ``weights`` are R's
    case weights (``coxph(weights = )``): every sum weighs a subject by its weight, and
    Efron's steps of ``d`` tied deaths by their mean weight (R's ``coxfit6.c`` and
    ``agfit4.c``). Weights must be positive (R: "Invalid weights, must be >0"); the
    exact method takes none (R: "Case weights are not supported for the exact
    method"). Without ``entry`` and ``weights`` the sums are those of right-censored
    data, evaluated by the unchanged fast loops.
    """

    def __init__(self, time, event, X, strata=None, timefixed: bool = False,
                 ties: str = "efron", entry=None, weights=None, centre: bool = True):
        self.ties = check_ties(ties)
        # whether R's time fix leaves every subset of the times as they are: a
        # resample's data can then be read off these (:meth:`resample`)
        self._fix_free = False
        if entry is None and not timefixed:
            time, self._fix_free = timefix_of_subsets(time)
        else:
            time, entry = _fixed_times(time, entry, timefixed)
        event = np.asarray(event, float)
        weights = _checked_weights(weights, time.size, self.ties)
        X = np.asarray(X, float).reshape(time.size, -1)
        self.n, self.p = X.shape
        # the covariates centred, as R's coxph centres them (its means; a -1/0/1 column
        # as it is): the sums are the same in exact arithmetic, and a covariate far from
        # 0 for its spread (1e6 + z, 1 + 1e-5 z) keeps its information instead of
        # losing it to rounding in sums of x and x x'. ``centre=False``: the sums of the
        # covariates as given, as R's cox.zph forms them (its zph1.c, on the model matrix)
        self._centre = centre
        self.means = r_column_means(X) if centre else np.zeros(self.p)
        self.general = entry is not None or weights is not None
        self.strata = []
        for s, idx in _stratum_groups(strata, time.size):
            t, e = time[idx], event[idx]
            dead = e == 1
            if not dead.any():
                continue
            if entry is not None:
                # R agreg.fit: a row whose (entry, time] holds no event time is never at risk
                etimes = np.unique(t[dead])
                idx = idx[np.searchsorted(etimes, entry[idx], side="right")
                          < np.searchsorted(etimes, t, side="right")]
                t, e = time[idx], event[idx]
            order = exit_order(t, e)  # time descending, events first within a time
            t, e, x = t[order], e[order], X[idx[order]]  # one copy of the design
            if self.means.any():
                x -= self.means
            dead = e == 1
            td = t[dead]
            etimes = td[np.r_[True, td[1:] != td[:-1]]]  # distinct event times, latest first
            st = {"label": s, "x": np.ascontiguousarray(x), "dead": dead,
                  "t": np.ascontiguousarray(t), "etimes": etimes, "rows": idx[order]}
            if self.general:
                rows = idx[order]
                st["entry"] = (np.full(t.size, -np.inf) if entry is None
                               else np.ascontiguousarray(entry[rows]))
                st["wt"] = (np.ones(t.size) if weights is None
                            else np.ascontiguousarray(weights[rows]))
                st["by_entry"] = (np.zeros(0, np.int64) if entry is None else
                                  np.argsort(-st["entry"], kind="stable").astype(np.int64))
            self.strata.append(st)
        if self.ties == "exact":
            _check_exact_size(self.strata)

    def with_columns(self, columns) -> "EfronData":
        """The same rows, sorted as they are, with only ``columns`` of the design.

        A model without one term (R ``drop1``) has the same risk sets: its refit reuses
        this sort (0.2-0.5 s at 10^6 patients) and the structure cached on it.
        """
        columns = list(columns)
        data = copy.copy(self)
        data.p = len(columns)
        data.means = self.means[columns]
        data.strata = [{**st, "x": np.ascontiguousarray(st["x"][:, columns])}
                       for st in self.strata]
        return data

    def with_design(self, X) -> "EfronData":
        """The same rows, sorted as they are, with the design ``X`` instead (its rows in
        the order the data were given in).

        A model of other covariates on the same subjects (a linear predictor's
        calibration slope, R ``coxph(Surv ~ lp)``) has the same risk sets: it reuses this
        sort and the structure cached on it.
        """
        X = np.asarray(X, float).reshape(self.n, -1)
        data = copy.copy(self)
        data.p = X.shape[1]
        data.means = r_column_means(X) if self._centre else np.zeros(data.p)
        data.strata = []
        for st in self.strata:
            x = X[st["rows"]]                 # a copy, centred in place
            if data.means.any():
                x -= data.means
            data.strata.append({**st, "x": np.ascontiguousarray(x)})
        if self.ties == "exact":
            _check_exact_size(data.strata)
        return data

    def resample(self, idx) -> "EfronData | None":
        """The data of the rows ``idx`` (places in the order the data were given in, in
        increasing order, repeats allowed: a bootstrap resample), read off this sort.

        A resample's rows in time order are this data's rows in time order, each as
        many times as it was drawn, so its sort is a repeat of this one (no sort, and
        its design read in order instead of gathered twice): the same rows in the same
        order as ``EfronData(time[idx], event[idx], X[idx])``, the covariates centred on
        this data's means instead of the resample's (the same sums in exact arithmetic,
        equal to rounding). None where that does not hold by construction, for the
        caller to build the data afresh: delayed entry or case weights, or times that R's time fix could tie in
        a subset (:func:`~._checks.timefix_of_subsets`: two times closer than R's
        tolerance allows in some subset).
        """
        if self.general or not self._fix_free:
            return None
        idx = np.asarray(idx, np.int64)
        if idx.size and (np.diff(idx) < 0).any():
            raise ValueError("EfronData.resample: the rows must be given in increasing order")
        counts = np.bincount(idx, minlength=self.n)
        first_place = np.cumsum(counts) - counts      # a row's first copy in the resample
        parts = []
        for st in self.strata:
            c = counts[st["rows"]]
            # each sorted row as many times as it was drawn (an increasing gather: faster
            # than np.repeat of each array)
            copies = np.repeat(np.arange(c.size), c)
            dead = st["dead"][copies]
            if not dead.any():                         # as __init__: no death, no sums
                continue
            t = st["t"][copies]
            # each copy's place in the resample: its row's first place, then the next
            offset = np.arange(t.size) - (np.cumsum(c) - c)[copies]
            rows = first_place[st["rows"]][copies] + offset
            td = t[dead]
            parts.append({"label": st["label"], "x": np.take(st["x"], copies, axis=0),
                          "dead": dead, "t": t, "rows": rows,
                          "etimes": td[np.concatenate(([True], td[1:] != td[:-1]))]})
        data = copy.copy(self)
        data.n = idx.size
        # strata in the order the resample first meets them, as __init__ orders them
        data.strata = sorted(parts, key=lambda st: int(st["rows"].min()))
        if self.ties == "exact":
            _check_exact_size(data.strata)
        return data

    def evaluate(self, beta, per_time: bool = False) -> dict:
        """Efron log partial likelihood, score and information at ``beta``.

        For an event time with ``d`` tied events, risk-set sums ``S0, S1, S2``
        and tied-event sums ``D0, D1, D2`` (weights ``exp(x'beta)``), Efron's
        approximation uses, for ``l = 0 .. d-1``, ``den_l = S0 - (l/d) D0`` and
        the mean ``m_l = (S1 - (l/d) D1) / den_l``: the score adds
        ``sum x_ties - sum_l m_l`` and the information
        ``sum_l [(S2 - (l/d) D2)/den_l - m_l m_l']`` (Therneau & Grambsch 2000,
        ch. 3; R ``coxph(ties = "efron")``). The sums are accumulated in one
        compiled pass over the sorted rows (:func:`netpet_stats.kernels.efron_stratum`),
        so memory grows as ``n p``. Breslow's sums are these with ``l/d`` = 0 (every
        tied death sees the whole risk set); the exact ones are
        :func:`netpet_stats.survival._kernels.exact_stratum`'s.

        Returns
        -------
        dict
            ``loglik``, ``score`` (p,), ``info`` (p, p); with ``per_time``
            also ``score_t`` (T, p) and ``info_t`` (T, p, p) per distinct event
            time (latest first within each stratum), ``time`` and ``stratum``.
        """
        beta = np.ascontiguousarray(beta, dtype=float)
        p = self.p
        loglik, score, info = 0.0, np.zeros(p), np.zeros((p, p))
        score_t, info_t, times, labels = [], [], [], []
        for st in self.strata:
            k = st["etimes"].size
            ll, sc, inf, sc_t, inf_t = _stratum_sums(st, beta, k, per_time, self.ties)
            loglik += ll
            score += sc
            info += inf
            if per_time:
                score_t.append(sc_t)
                info_t.append(inf_t)
                times.append(st["etimes"])
                labels.append(np.repeat(np.array([st["label"]], dtype=object), k))
        out = {"loglik": loglik, "score": score, "info": info}
        if per_time:
            if score_t:
                out.update(score_t=np.vstack(score_t), info_t=np.concatenate(info_t),
                           time=np.concatenate(times), stratum=np.concatenate(labels))
            else:
                out.update(score_t=np.zeros((0, p)), info_t=np.zeros((0, p, p)),
                           time=np.zeros(0), stratum=np.zeros(0, object))
        return out


def _stratum_sums(st: dict, beta, n_times: int, per_time: bool, ties: str = "efron"):
    """One stratum's Efron (Breslow) sums, by the numpy formulation or the compiled loop;
    the exact ones by the compiled recursion.

    The two give identical doubles (:mod:`._numpy_kernels`); the numpy one spares a
    short process numba's start-up, the compiled one is faster once loaded.
    """
    if "wt" in st:      # delayed entry or case weights
        from ._kernels import counting_stratum

        return counting_stratum(st["x"], st["dead"], st["t"], st["entry"], st["wt"],
                                st["by_entry"], beta, n_times, per_time, _METHOD_CODE[ties])
    if ties == "exact":
        from ._kernels import exact_stratum

        return exact_stratum(st["x"], st["dead"], st["t"], beta, n_times, per_time)
    efron = ties == "efron"
    structure = _numpy_kernels.efron_structure(st)
    if structure is not None:
        return _numpy_kernels.efron_sums(st["x"], st["dead"], st["t"], beta, n_times,
                                       per_time, structure, efron)
    from ._kernels import efron_stratum

    return efron_stratum(st["x"], st["dead"], st["t"], beta, n_times, per_time, efron)


#: The tie methods as :func:`._kernels.counting_stratum` numbers them.
_METHOD_CODE = {"breslow": 0, "efron": 1, "exact": 2}


def _stratum_groups(strata, n: int) -> list:
    """The rows of each stratum, as (label, rows), strata in the order their labels first
    appear (as ``pd.unique``; the sums do not depend on it). Each label is compared once
    (``pd.factorize``): comparing an object column with every stratum's label took 25 ms
    a stratum at 10^6 rows. A missing label (None or NaN) is refused: R's coxph drops
    such rows (na.omit) before fitting, and here the caller decides, as fit_cox does by
    its complete cases; they were left out of the sums without a word."""
    if strata is None:
        return [(np.int64(0), np.arange(n))]
    codes, distinct = pd.factorize(np.asarray(strata, object))
    if (codes < 0).any():
        raise ValueError(f"strata: {int((codes < 0).sum())} missing label(s) (None or "
                         "NaN); leave those rows out first, as R's coxph does (na.omit)")
    return [(label, np.flatnonzero(codes == k)) for k, label in enumerate(distinct)]


def _fixed_times(time, entry, timefixed: bool):
    """Exit and entry times as floats, fixed as R's ``aeqSurv`` unless ``timefixed``.

    With ``entry``, entry and exit times are fixed together (R ``Surv(entry, time,
    event)``); a subject whose entry is not before its exit is refused: R's ``Surv``
    makes such a row missing, and :func:`~._checks.check_survival` leaves it out with
    a warning before a fit (as :func:`fit_cox` does).
    """
    if entry is None:
        # R coxph(timefix = TRUE): noise-level differences are ties (unless the caller
        # passes times already fixed)
        return (np.asarray(time, float) if timefixed else timefix(time)), None
    time, entry = np.asarray(time, float), np.asarray(entry, float)
    if entry.shape != time.shape:
        raise ValueError(f"entry must have one value per subject: {entry.size} entry times "
                         f"for {time.size} exit times")
    if not timefixed:
        both = timefix(np.concatenate([entry, time]))
        entry, time = both[:time.size], both[time.size:]
    late = ~(entry < time)
    if late.any():
        raise ValueError(
            f"{int(late.sum())} subject(s) have an entry time not before their exit time "
            f"(first at position {int(np.flatnonzero(late)[0])}); such a subject is never at "
            "risk (R's Surv(entry, time, event) makes the row missing): leave it out, as "
            "check_survival() does")
    return time, entry


def _checked_weights(weights, n: int, ties: str):
    """Case weights as floats, or None; refused where R's ``coxph`` refuses them."""
    if weights is None:
        return None
    w = np.asarray(weights, float)
    if w.shape != (n,):
        raise ValueError(f"weights must have one value per subject: {w.size} weights for "
                         f"{n} subjects")
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        shown = ", ".join(f"{v:g}" for v in w[bad][:3])
        raise ValueError(
            f"{int(bad.sum())} case weight(s) not positive and finite (e.g. {shown}): R's "
            "coxph refuses them ('Invalid weights, must be >0'); leave those subjects out "
            "or give them a positive weight")
    if ties == "exact" and np.any(w != 1):
        raise ValueError("ties = 'exact' with case weights: R's coxph refuses them ('Case "
                         "weights are not supported for the exact method'); use ties = "
                         "'efron' or 'breslow'")
    return w


def _check_exact_size(strata: list[dict]) -> None:
    """Refuse the exact partial likelihood of tied deaths beyond the stated bounds."""
    from scipy.special import gammaln

    steps, log_subsets, worst = 0, 0.0, (0, 0)
    for st in strata:
        ascending = st["t"][::-1]
        etimes, d = np.unique(st["t"][st["dead"]], return_counts=True)
        n_risk = ascending.size - np.searchsorted(ascending, etimes, side="left")
        if "entry" in st:   # less those entering at or after the time
            entries = np.sort(st["entry"])
            n_risk = n_risk - (entries.size - np.searchsorted(entries, etimes, side="left"))
        tied = d > 1
        if "entry" in st:   # the counting-process recursion restarts at each tied time
            steps += int((n_risk[tied] * d[tied]).sum())
        else:               # carried over the nested risk sets (_kernels.exact_stratum):
            # each row once, for subset sizes up to the most tied deaths at or before its
            # time
            times, rows = np.unique(st["t"], return_counts=True)
            deaths = np.zeros(times.size)
            deaths[np.searchsorted(times, etimes)] = d
            need = np.maximum.accumulate(deaths)
            steps += int((rows * need * (need > 1)).sum())
        logc = (gammaln(n_risk + 1.0) - gammaln(d + 1.0) - gammaln(n_risk - d + 1.0)) / np.log(10)
        if tied.any() and logc[tied].max() > log_subsets:
            j = np.flatnonzero(tied)[np.argmax(logc[tied])]
            log_subsets, worst = float(logc[j]), (int(n_risk[j]), int(d[j]))
    if steps > EXACT_MAX_STEPS or log_subsets > np.log10(EXACT_MAX_SUBSETS):
        raise ExactTiesTooLarge(
            "ties = 'exact' refused: the exact partial likelihood sums over every subset of "
            "each risk set of the size of its tied deaths; these data need "
            f"{steps:,} recursion steps (rows x tied deaths; "
            f"bound {EXACT_MAX_STEPS:,}) and up to choose({worst[0]}, {worst[1]}) = "
            f"10^{log_subsets:.0f} subsets at one time (bound "
            f"10^{np.log10(EXACT_MAX_SUBSETS):.0f}, double precision). Use ties = 'efron' "
            "(closest to the exact likelihood) or 'breslow'")


def efron_contributions(time, event, X, beta, strata=None, ties: str = "efron", *,
                        entry=None, weights=None):
    """Efron (``ties``) terms of each distinct event time (within strata); see
    :class:`EfronData` (``entry``: delayed entry; ``weights``: R's case weights).

    Returns
    -------
    dict
        ``loglik`` (total), ``score`` (T, p), ``info`` (T, p, p), ``time`` (T,)
        and ``stratum`` (T,) of each event time, latest first within a stratum.
    """
    c = EfronData(time, event, X, strata, ties=ties, entry=entry,
                  weights=weights).evaluate(beta, per_time=True)
    return {"loglik": c["loglik"], "score": c["score_t"], "info": c["info_t"],
            "time": c["time"], "stratum": c["stratum"]}


def efron_derivatives(time, event, X, beta, strata=None, ties: str = "efron", *,
                      entry=None, weights=None):
    """Efron (``ties``) log partial likelihood, score vector and information matrix.

    As R ``coxph(Surv(entry, time, event) ~ X, weights = weights, ties = ties)`` at
    ``beta`` (its ``coxfit6.c`` / ``agfit4.c`` sums; see :class:`EfronData`).

    Parameters
    ----------
    time, event
        Follow-up and event indicator.
    X
        (n, p) design matrix.
    beta
        (p,) coefficients at which to evaluate.
    strata
        Optional stratum labels (separate baseline hazard per stratum).
    ties
        ``"efron"``, ``"breslow"`` or ``"exact"`` (R ``coxph(ties = )``).
    entry
        Delayed-entry times (left truncation), or None: a subject is at risk at the
        event times ``s`` with ``entry < s <= time``.
    weights
        Case weights (positive), or None.

    Returns
    -------
    loglik : float
    score : ndarray (p,)
    information : ndarray (p, p)
    """
    c = EfronData(time, event, X, strata, ties=ties, entry=entry,
                  weights=weights).evaluate(beta)
    return c["loglik"], c["score"], c["info"]


def score_residuals(time, event, X, beta, strata=None, ties: str = "efron", *,
                    entry=None, weights=None) -> np.ndarray:
    """Efron score residuals, one row per subject (R ``residuals(fit, "score")``).

    For subject ``i`` at risk at event times ``t_k`` (with ``d_k`` tied events,
    Efron steps ``l``, denominators ``den_kl`` and means ``m_kl``):
    ``U_i = delta_i (x_i - mean_l m_kl) - r_i sum_k sum_l f_ikl (x_i - m_kl) / den_kl``
    with ``f_ikl = 1`` for a subject still at risk and ``1 - l/d_k`` for one of
    the events at ``t_k``. The rows sum to the total score. With ``ties = "breslow"``
    every step uses the whole risk set (``l/d`` = 0). R has none for ``ties =
    "exact"`` ("score residuals are not available for the exact method"): refused.

    With ``entry`` a subject is at risk at the event times in ``(entry, time]`` only (R
    ``agscore3.c``). With case ``weights`` the risk sets weigh each subject by its weight
    and each step's hazard increment is the tied deaths' mean weight over ``den_kl``;
    the residuals are R's unweighted ones (``residuals(fit, "score", weighted =
    FALSE)``): ``weights * U`` sum to the score.
    """
    if check_ties(ties) == "exact":
        raise ValueError("score residuals are not available for ties = 'exact' (R "
                         "residuals.coxph refuses them, hence robust SEs and dfbeta too)")
    breslow = ties == "breslow"
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    X = np.asarray(X, float).reshape(time.size, -1)
    beta = np.asarray(beta, float)
    wt = np.ones(time.size) if weights is None else np.asarray(weights, float)
    start = None if entry is None else np.asarray(entry, float)
    n, p = X.shape
    resid = np.zeros((n, p))
    for _, idx in _stratum_groups(strata, n):
        t, e, x, w = time[idx], event[idx], X[idx], wt[idx]
        lp = x @ beta
        shift = lp.max()
        r = np.exp(lp - shift)
        wr = w * r                 # each subject's weight in the risk sets
        dead = e == 1
        etimes = np.unique(t[dead])  # ascending
        if etimes.size == 0:
            continue
        k = etimes.size
        # risk-set sums at each event time (time >= t_k, and entry < t_k)
        order = np.argsort(t, kind="mergesort")
        ts = t[order]
        first = np.searchsorted(ts, etimes, side="left")
        rev0 = np.cumsum(wr[order][::-1])[::-1]
        rev1 = np.cumsum((wr[:, None] * x)[order][::-1], axis=0)[::-1]
        S0, S1 = rev0[first], rev1[first]
        if start is not None:       # less those entering at or after t_k
            a = start[idx]
            by_entry = np.argsort(a, kind="mergesort")
            later = np.searchsorted(a[by_entry], etimes, side="left")
            out0 = np.r_[np.cumsum(wr[by_entry][::-1])[::-1], 0.0]
            out1 = np.vstack([np.cumsum((wr[:, None] * x)[by_entry][::-1], axis=0)[::-1],
                              np.zeros((1, p))])
            S0, S1 = S0 - out0[later], S1 - out1[later]
        pos = np.searchsorted(etimes, t[dead])
        d = np.bincount(pos, minlength=k).astype(float)
        meanwt = np.bincount(pos, weights=w[dead], minlength=k) / d
        d0 = np.bincount(pos, weights=wr[dead], minlength=k)
        d1 = np.zeros((k, p))
        np.add.at(d1, pos, wr[dead][:, None] * x[dead])
        a_k = np.zeros(k)          # sum_l meanwt/den (the hazard increment)
        b_k = np.zeros((k, p))     # sum_l meanwt m/den
        a_own = np.zeros(k)        # sum_l meanwt (l/d)/den
        b_own = np.zeros((k, p))   # sum_l meanwt (l/d) m/den
        mbar = np.zeros((k, p))    # mean_l m
        for ell in range(int(d.max())):
            act = d > ell
            frac = np.where(act & ~breslow, ell / np.where(act, d, 1), 0.0)
            den = S0 - frac * d0
            mean = (S1 - frac[:, None] * d1) / den[:, None]
            c = act * meanwt       # the step's share of the deaths' weight
            a_k += c / den
            b_k += c[:, None] * mean / den[:, None]
            a_own += c * frac / den
            b_own += (c * frac)[:, None] * mean / den[:, None]
            mbar += act[:, None] * mean / d[:, None]
        a_cum, b_cum = np.cumsum(a_k), np.cumsum(b_k, axis=0)
        upto = np.searchsorted(etimes, t, side="right") - 1  # last event time <= t_i
        has = upto >= 0
        u = np.zeros((idx.size, p))
        u[has] = -r[has, None] * (x[has] * a_cum[upto[has], None] - b_cum[upto[has]])
        if start is not None:      # not at risk at the event times up to the entry
            before = np.searchsorted(etimes, start[idx], side="right") - 1
            was = before >= 0
            u[was] += r[was, None] * (x[was] * a_cum[before[was], None] - b_cum[before[was]])
        own = pos
        u[dead] += x[dead] - mbar[own]
        u[dead] += r[dead, None] * (x[dead] * a_own[own, None] - b_own[own])
        resid[idx] = u
    return resid


def efron_cumhaz(time, event, risk, at=None, ties: str = "efron", *, entry=None,
                 weights=None):
    """Efron-type cumulative hazard at risk weights ``risk`` = exp(x' beta), one stratum.

    At an event time with ``d`` tied events the increment is
    ``sum_{l=0}^{d-1} 1 / (S0 - (l/d) D0)`` (R ``survfit.coxph``, ``ctype = 2``, its
    default for a fit with ``ties = "efron"``). For a fit with ``ties = "breslow"`` or
    ``"exact"`` R's default is Breslow's estimator, ``ctype = 1``: ``d / S0``.

    With ``entry`` the risk set of time ``s`` holds the subjects with ``entry < s <=
    time``; with case ``weights`` the sums weigh each subject and the numerators are the
    deaths' weights (Efron: each step their mean weight), as R's ``agsurv``.

    Returns
    -------
    times, cumhaz : ndarray
        At every event time, or at ``at`` (step function; 0 before the first event).
    """
    r = np.asarray(risk, float)
    t, start = _fixed_times(time, entry, timefixed=False)
    e = np.asarray(event, float)
    w = np.ones(t.size) if weights is None else np.asarray(weights, float)
    wr = r if weights is None else w * r
    dead = e == 1
    etimes = np.unique(t[dead])
    order = np.argsort(t, kind="mergesort")
    first = np.searchsorted(t[order], etimes, side="left")
    s0 = np.cumsum(wr[order][::-1])[::-1][first]
    if start is not None:
        by_entry = np.argsort(start, kind="mergesort")
        later = np.searchsorted(start[by_entry], etimes, side="left")
        s0 = s0 - np.r_[np.cumsum(wr[by_entry][::-1])[::-1], 0.0][later]
    pos = np.searchsorted(etimes, t[dead])
    d = np.bincount(pos, minlength=etimes.size).astype(float)
    d0 = np.bincount(pos, weights=wr[dead], minlength=etimes.size)
    inc = np.zeros(etimes.size)
    efron = check_ties(ties) == "efron"
    meanwt = (None if weights is None
              else np.bincount(pos, weights=w[dead], minlength=etimes.size) / np.maximum(d, 1))
    for ell in range(int(d.max()) if etimes.size else 0):
        act = d > ell
        frac = np.where(act & efron, ell / np.where(act, d, 1), 0.0)
        inc += (act if meanwt is None else act * meanwt) / (s0 - frac * d0)
    cum = np.cumsum(inc)
    if at is None:
        return etimes, cum
    at = np.asarray(at, float)
    if etimes.size == 0:  # no events: H0 = 0 throughout (R survfit: S = 1)
        return at, np.zeros(at.size)
    idx = np.searchsorted(etimes, at, side="right") - 1
    return at, np.where(idx >= 0, cum[np.clip(idx, 0, None)], 0.0)


def baseline_cumhaz(result: "CoxResult", at=None) -> pd.DataFrame:
    """Baseline cumulative hazard H0(t) at covariates x = 0, per stratum.

    Efron-type increments (:func:`efron_cumhaz`), as R ``survfit(fit, newdata =
    <x = 0>)`` for a fit with ``ties = "efron"``; Breslow's for a fit with ``ties =
    "breslow"`` or ``"exact"``, as R's ``survfit`` then. Survival of a patient is
    ``exp(-H0(t) exp(x'beta))``. The risk sets follow the fit's delayed entry and case
    weights, as R's ``survfit`` of a ``coxph(Surv(entry, time, event) ~ ., weights =
    )`` fit.

    Parameters
    ----------
    result
        A fitted model.
    at
        Times at which to report H0 (step function, value at the last event time
        <= t); default every event time.

    Returns
    -------
    pandas.DataFrame
        ``stratum, time, cumhaz``. A stratum without events has H0 = 0
        throughout (R's ``survfit`` gives S = 1): zeros at ``at``, or, without
        ``at``, one row at time 0, so that no stratum is left out.
    """
    frame = result.frame
    time, event = frame["__time"].to_numpy(), frame["__event"].to_numpy()
    entry, weights = fit_entry(result), fit_weights(result)
    risk = np.exp(result.design.to_numpy() @ result.beta)
    strata = (np.zeros(time.size, dtype=object) if result.stratum is None
              else np.asarray(result.stratum, dtype=object))
    rows = []
    for s in pd.unique(strata):
        m = strata == s
        times, cum = efron_cumhaz(time[m], event[m], risk[m], at, result.ties,
                                  entry=None if entry is None else entry[m],
                                  weights=None if weights is None else weights[m])
        if at is None and times.size == 0:
            times, cum = np.zeros(1), np.zeros(1)
        rows += [(s, float(tt), float(hh)) for tt, hh in zip(times, cum)]
    return pd.DataFrame(rows, columns=["stratum", "time", "cumhaz"])


def robust_variance(result: "CoxResult", cluster) -> np.ndarray:
    """Sandwich variance clustered by ``cluster`` (R ``coxph(..., cluster = )``).

    ``D`` = score residuals times the model-based variance (dfbeta), summed
    within clusters; the robust variance is ``D' D`` (Lin & Wei 1989). The
    model-based variance is the one R reports (``result.variance``), as R's
    ``residuals(fit, "dfbeta")`` takes it. The score residuals are those of the fit's
    ``ties``; R has none for ``ties = "exact"`` (refused, as R refuses it). With
    delayed entry they are the counting-process ones; with case weights each subject's
    dfbeta is multiplied by its weight (R ``residuals(fit, "dfbeta", weighted = TRUE)``,
    what ``coxph`` sums for its robust variance).
    """
    X = result.design.to_numpy()
    frame = result.frame
    weights = fit_weights(result)
    resid = score_residuals(frame["__time"], frame["__event"], X, result.beta, result.stratum,
                            result.ties, entry=fit_entry(result), weights=weights)
    if weights is not None:
        resid = resid * weights[:, None]
    variance = (np.linalg.inv(result.information) if result.variance is None
                else result.variance)
    dfbeta = resid @ variance
    collapsed = pd.DataFrame(dfbeta).groupby(np.asarray(cluster, dtype=object), sort=True).sum()
    D = collapsed.to_numpy()
    return D.T @ D


# --------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------


@dataclass
class CoxResult:
    """A fitted Cox model with its tidy tables.

    ``status`` is ``"converged"``, ``"infinite"`` (the log likelihood converged while a
    coefficient may be infinite; R's "Loglik converged before variable ...") or ``"not
    converged"`` (R's "Ran out of iterations and did not converge"); ``iterations`` the
    Newton-Raphson iterations R's rule took. ``variance`` is the variance R reports
    (``vcov(fit)``): the inverse information, except after running out of iterations.
    ``stratum_code`` numbers the strata in R's order of their levels. ``ties`` is the
    method for tied event times it was fitted with (R ``fit$method``).
    """

    coefficients: pd.DataFrame
    tests: pd.DataFrame
    terms: list[Term]
    beta: np.ndarray
    design: pd.DataFrame
    n: int
    events: int
    frame: pd.DataFrame  # design, time, event (and stratum) as fitted
    stratum: np.ndarray | None
    information: np.ndarray  # information at beta (of the fit's ties)
    variance: np.ndarray | None = None
    status: str = "converged"
    iterations: int = 0
    stratum_code: np.ndarray | None = None
    ties: str = "efron"


def fit_entry(result: CoxResult) -> np.ndarray | None:
    """The delayed-entry times a model was fitted with (fixed with the exit times), or
    None."""
    frame = result.frame
    return frame["__entry"].to_numpy(float) if "__entry" in frame.columns else None


def fit_weights(result: CoxResult) -> np.ndarray | None:
    """The case weights a model was fitted with (R ``fit$weights``), or None."""
    frame = result.frame
    return frame["__weight"].to_numpy(float) if "__weight" in frame.columns else None


class CoxFitError(ValueError):
    """A Cox model that cannot be fitted (singular information or no convergence)."""


class CoxConvergenceWarning(UserWarning):
    """The log likelihood converged while a coefficient kept growing (infinite estimate).

    ``columns`` holds the indices of the design columns concerned.
    """

    def __init__(self, message: str, columns=()):
        super().__init__(message)
        self.columns = list(columns)


class CoxNonConvergenceWarning(CoxConvergenceWarning):
    """Newton-Raphson ran out of iterations (R: "Ran out of iterations and did not
    converge"); no coefficient is named, ``columns`` is empty."""


#: Note beside a coefficient whose estimate tends to infinity (R: "Loglik converged
#: before variable ...; coefficient may be infinite").
INFINITE_NOTE = ("coefficient may be infinite (monotone likelihood, e.g. a level without "
                 "events); its Wald z, p and CI are not reported")
#: Start of the note beside every coefficient of a fit that ran out of iterations.
NOT_CONVERGED_NOTE_START = "the fit did not converge"
#: Clusters below which a sandwich (robust) SE is flagged as unreliable.
MIN_CLUSTERS = 10


def not_converged_note(iter_max: int, large: bool = False) -> str:
    """The note beside the coefficients of a fit that ran out of iterations."""
    return (f"{NOT_CONVERGED_NOTE_START} in {iter_max} iterations (R: 'Ran out of iterations "
            "and did not converge'"
            + ("; 'one or more coefficients may be infinite'" if large else "")
            + "): coefficient at the last iteration, SE from the diagonal of the information "
              "as R reports it; Wald z, p and CI not reported")


#: R ``coxph.control()``: convergence when the log likelihood changes by at most
#: ``eps`` relatively; at most ``iter_max`` iterations; a coefficient may be infinite
#: when its remaining Newton step exceeds ``toler_inf`` times its size.
COXPH_CONTROL = {"eps": 1e-9, "iter_max": 20, "toler_inf": 1e-9 ** 0.5}


@dataclass
class NewtonFit:
    """Where R ``coxph``'s Newton-Raphson stopped (:func:`coxph_newton`)."""

    beta: np.ndarray
    loglik: float
    score: np.ndarray        # at beta
    information: np.ndarray  # at beta
    variance: np.ndarray     # as R reports it (vcov)
    status: str              # "converged", "infinite" or "not converged"
    infinite: list[int]      # columns R names ("Loglik converged before variable ...")
    iterations: int
    large: bool = False      # not converged and R adds "one or more coefficients may be infinite"
    last_step: np.ndarray | None = None   # the step that reached beta


def coxph_newton(derivatives, beta, eps: float = 1e-9, iter_max: int = 20,
                 toler_inf: float | None = None, means=None, agreg: bool = False
                 ) -> NewtonFit:
    """R ``coxph``'s Newton-Raphson, stopping where R stops (``coxfit6.c``, ``coxph.fit``).

    From ``beta`` (R's ``init``, 0 by default) each iteration evaluates the log
    likelihood at the proposed ``beta + I^-1 U``. It stops, accepting that point, when
    the log likelihood changed by at most ``eps`` relatively to the best so far
    (``|1 - best / new| <= eps``). A point whose log likelihood fell (or is not finite)
    is pulled back towards the last accepted one (``(new + k beta) / (k + 1)`` at the
    ``k``-th successive time); otherwise it is accepted and the next step proposed.
    After ``iter_max`` evaluations without convergence, the last accepted point is
    returned ("Ran out of iterations and did not converge"); R then reports as variance
    the inverse of the information's diagonal (its ``coxfit6.c`` inverts an information
    matrix it has not decomposed), reproduced here. After convergence, coefficient ``j``
    may be infinite (R: "Loglik converged before variable j; coefficient may be
    infinite") when its remaining Newton step ``|(U' I^-1)_j|`` exceeds both ``eps`` and
    ``toler_inf |beta_j|`` (``toler_inf`` = sqrt(eps) by default), or the score is not
    finite.

    Parameters
    ----------
    derivatives
        ``beta -> (loglik, score, information)``.
    beta
        Starting coefficients.
    eps, iter_max, toler_inf
        R ``coxph.control(eps, iter.max, toler.inf)``.
    means
        Column means R centres on (:func:`r_column_means` of ``derivatives.design`` by
        default), for R's second warning after running out of iterations (a centred
        linear predictor above 500), when ``derivatives`` has a ``design``.
    agreg
        The rule of R's ``agreg.fit`` (Efron and Breslow fits with delayed entry): a
        coefficient may be infinite when its remaining step exceeds ``toler_inf (1 +
        |beta_j|)``, and no second warning after running out of iterations.

    Returns
    -------
    NewtonFit

    Examples
    --------
    >>> import numpy as np
    >>> from netpet_stats.survival.cox import coxph_newton
    >>> f = lambda b: (-(b[0] - 2.0) ** 2 - 1, np.array([-2 * (b[0] - 2.0)]), np.array([[2.0]]))
    >>> fit = coxph_newton(f, np.zeros(1))
    >>> float(fit.beta[0]), fit.status, fit.iterations
    (2.0, 'converged', 2)
    """
    toler_inf = eps ** 0.5 if toler_inf is None else toler_inf
    beta = np.asarray(beta, float).copy()
    best, u, info = derivatives(beta)

    def newton_step(u, info):
        try:
            return np.linalg.solve(info, u)
        except np.linalg.LinAlgError as exc:
            raise CoxFitError("singular information matrix") from exc

    new_beta = beta + newton_step(u, info)
    halving = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for iteration in range(1, iter_max + 1):
            new_ll, new_u, new_info = derivatives(new_beta)
            finite = (np.isfinite(new_ll) and np.isfinite(new_u).all()
                      and np.isfinite(new_info).all())
            if finite and abs(1 - best / new_ll) <= eps:
                variance = _inverse(new_info)
                remaining = np.abs(new_u @ variance)
                flagged = ~np.isfinite(new_u) | (
                    remaining > toler_inf * (1 + np.abs(new_beta)) if agreg else
                    (remaining > eps) & (remaining > toler_inf * np.abs(new_beta)))
                infinite = np.flatnonzero(flagged).tolist()
                return NewtonFit(new_beta, float(new_ll), new_u, new_info, variance,
                                 "infinite" if infinite else "converged", infinite, iteration,
                                 last_step=new_beta - beta)
            if not finite or new_ll < best:
                halving += 1
                new_beta = (new_beta + halving * beta) / (halving + 1.0)
            else:
                halving = 0
                best, beta = new_ll, new_beta
                new_beta = new_beta + newton_step(new_u, new_info)
    # out of iterations: the last accepted point, its information's diagonal inverted
    loglik, u, info = derivatives(beta)
    diag = np.diag(info)
    variance = np.diag(np.where(diag > 0, 1 / np.where(diag > 0, diag, 1), 0.0))
    lp = None
    design = getattr(derivatives, "design", None)
    if design is not None:
        means = r_column_means(design) if means is None else means
        lp = design @ beta - float(np.asarray(means) @ beta)
    large = not agreg and bool((lp is not None and lp.size and lp.max() > 500)
                               or not np.isfinite(u @ variance).all())
    return NewtonFit(beta, float(loglik), u, info, variance, "not converged", [], iter_max,
                     large)


def _inverse(info: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError as exc:
        raise CoxFitError("singular information matrix") from exc


def _numerically_singular(info: np.ndarray) -> bool:
    """Whether the information matrix is singular to working precision, whatever the
    covariates' units.

    Its condition number above 1e12 both as it is and scaled to unit diagonal (a
    correlation-like matrix). The scaled one alone measures collinearity: a covariate
    recorded in units a million times smaller (a biomarker in pg/mL, an amount in
    cents) multiplies the raw condition number by 10^12 without making the model any
    less estimable, and R's ``coxph`` (which rescales each covariate before its
    Cholesky decomposition) fits it. Requiring both keeps every fit accepted before.
    The sums are those of centred covariates (:class:`EfronData`, as R's), so a
    covariate far from 0 for its spread (1 + 1e-7 z) keeps its information too.
    """
    if np.linalg.cond(info) <= 1e12:
        return False
    d = np.diag(info)
    if not (d > 0).all():
        return True
    s = 1.0 / np.sqrt(d)
    return bool(np.linalg.cond(info * s[:, None] * s[None, :]) > 1e12)


def _polish(derivatives, fit: NewtonFit, tol: float, max_iter: int) -> NewtonFit:
    """Newton steps from R's stopping point until the largest step is below ``tol``.

    R's rule on the log likelihood (``eps`` = 1e-9) leaves a finite estimate within about
    its last step of the maximum; continuing to a step below 1e-9 (quadratic
    convergence) leaves it ~1e-15 away, the maximum R reaches with a smaller ``eps``. A
    step that lowers the log likelihood (beyond rounding) is halved.
    """
    beta, ll, u, info = fit.beta, fit.loglik, fit.score, fit.information
    if fit.last_step is not None and np.max(np.abs(fit.last_step), initial=0.0) < tol:
        if _numerically_singular(info):
            raise CoxFitError("information matrix is numerically singular")
        return fit
    for _ in range(max_iter):
        step, ll_new, u_new, info_new = _newton_step(derivatives, beta, ll, u, info)
        beta = beta + step
        ll, u, info = ll_new, u_new, info_new
        if np.max(np.abs(step)) < tol:
            if _numerically_singular(info):
                raise CoxFitError("information matrix is numerically singular")
            return NewtonFit(beta, ll, u, info, _inverse(info), "converged", [],
                             fit.iterations)
    raise CoxFitError(f"no convergence in {max_iter} iterations after R's stopping point")


def _newton_step(derivatives, beta, ll, u, info):
    """One Newton-Raphson step from ``beta``, halved while it lowers the log likelihood.

    Returns the step taken and ``(loglik, score, information)`` at ``beta + step``.
    """
    try:
        step = np.linalg.solve(info, u)
    except np.linalg.LinAlgError as exc:
        raise CoxFitError("singular information matrix") from exc
    for _ in range(31):
        ll_new, u_new, info_new = derivatives(beta + step)
        if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
            return step, ll_new, u_new, info_new
        step = step / 2
    raise CoxFitError("step halving failed")


class _EfronDerivatives:
    """``beta -> (loglik, score, information)`` on data sorted once (:class:`EfronData`)."""

    def __init__(self, time, event, X, strata=None, timefixed: bool = False,
                 ties: str = "efron", entry=None, weights=None, data=None):
        # no design with ``data`` given: a fit read off sorted data alone (a bootstrap
        # refit from the original coefficients), without R's check of the linear
        # predictor after running out of iterations, which reads the design
        self.design = (None if X is None and data is not None
                       else np.asarray(X, float).reshape(np.asarray(time).size, -1))
        self.data = data if data is not None else EfronData(
            time, event, self.design, strata, timefixed, ties, entry, weights)

    def __call__(self, beta):
        c = self.data.evaluate(beta)
        return c["loglik"], c["score"], c["info"]


def r_column_means(X: np.ndarray) -> np.ndarray:
    """The means R ``coxph`` centres the columns on: 0 for a column of -1, 0, 1 values
    (its ``nocenter``), else the column mean."""
    X = np.asarray(X, float)
    if X.size == 0:
        return np.zeros(X.shape[1] if X.ndim == 2 else 0)
    zero_one = np.isin(X, (-1.0, 0.0, 1.0)).all(axis=0)
    return np.where(zero_one, 0.0, X.mean(axis=0))


def coxph_fit(time, event, X, strata=None, beta=None, timefixed: bool = False,
              eps: float = 1e-9, iter_max: int = 20, toler_inf: float | None = None,
              tol: float = 1e-9, max_iter: int = 30, ties: str = "efron", *, entry=None,
              weights=None, data: EfronData | None = None) -> NewtonFit:
    """Fit the Efron (``ties``) partial likelihood and stop where R ``coxph`` stops.

    R's iteration (:func:`coxph_newton`) decides: a fit that converged with every
    coefficient finite is then taken to the maximum (:func:`_polish`, steps below
    ``tol``); a coefficient that may be infinite, or a fit out of iterations, is
    reported at R's stopping point, where every number R prints is evaluated.
    ``entry`` (delayed entry) and ``weights`` (case weights) are R's ``coxph(Surv(entry,
    time, event) ~ X, weights = weights)`` (:class:`EfronData`); with ``entry`` and
    Efron's or Breslow's ties R flags infinite coefficients by ``agreg.fit``'s rule.
    ``data``: these rows already sorted (:class:`EfronData` of the same arguments, or
    :meth:`EfronData.with_columns` of a larger design), not sorted again.
    """
    derivatives = _EfronDerivatives(time, event, X, strata, timefixed, ties, entry, weights,
                                    data)
    p = derivatives.data.p
    start = np.zeros(p) if beta is None else np.asarray(beta, float).copy()
    fit = coxph_newton(derivatives, start, eps, iter_max, toler_inf,
                       agreg=entry is not None and ties != "exact")
    if fit.status == "converged":
        fit = _polish(derivatives, fit, tol, max_iter)
    return fit


def fit_efron(time, event, X, strata=None, beta=None, tol: float = 1e-9, max_iter: int = 30,
              ties: str = "efron", *, entry=None, weights=None, data: EfronData | None = None):
    """Maximise the Efron partial likelihood by Newton-Raphson, stopping as R ``coxph``.

    The iteration of R ``coxph`` with its default ``coxph.control()``
    (:func:`coxph_newton`: start at ``beta = 0``, Newton steps ``I^-1 U``, a step that
    lowers the log likelihood pulled back, convergence at a relative change of the
    log likelihood of 1e-9, at most 20 iterations). A fit that converges with finite
    coefficients is then taken on until the largest step is below ``tol``, which with
    quadratic convergence leaves the coefficients ~1e-15 from the maximum. The data are
    sorted once (:class:`EfronData`) for all iterations. ``ties = "breslow"`` or
    ``"exact"`` maximises that partial likelihood instead (R ``coxph(ties = )``).
    ``entry`` gives delayed-entry times (R ``Surv(entry, time, event)``: a subject is
    at risk at the event times in ``(entry, time]``) and ``weights`` case weights (R
    ``coxph(weights = )``, positive; not with ``ties = "exact"``, as R). ``data``: these
    rows already sorted (as :func:`coxph_fit`).

    Returns
    -------
    beta, loglik, information

    Raises
    ------
    CoxFitError
        If the information matrix is singular (e.g. a factor level absent from
        a resample).

    Warns
    -----
    CoxConvergenceWarning
        When R warns "Loglik converged before variable ...; coefficient may be
        infinite" (monotone likelihood, e.g. a level with no events): the estimate
        at R's stopping point is returned.
    CoxNonConvergenceWarning
        When R warns "Ran out of iterations and did not converge" (20 iterations):
        the last accepted estimate is returned, as R returns it.

    Examples
    --------
    >>> import numpy as np
    >>> from netpet_stats import fit_efron
    >>> t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8]
    >>> e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1]
    >>> beta, loglik, info = fit_efron(t, e, np.array([[3.0], [1], [2], [2], [3], [1], [1], [2], [3], [1]]))
    >>> round(float(beta[0]), 6)  # R coef(coxph(Surv(t, e) ~ x)): 0.193546
    0.193546
    """
    fit = coxph_fit(time, event, X, strata, beta, tol=tol, max_iter=max_iter, ties=ties,
                    entry=entry, weights=weights, data=data)
    _warn_status(fit, f"log likelihood converged before design column(s) {fit.infinite}; "
                      "coefficient may be infinite", stacklevel=2)
    return fit.beta, fit.loglik, fit.information


def _warn_status(fit: NewtonFit, infinite_message: str, stacklevel: int,
                 prefix: str = "") -> None:
    """R's warning of a fit stopped at an edge (``infinite_message`` names the columns)."""
    if fit.status == "infinite":
        warnings.warn(CoxConvergenceWarning(infinite_message, fit.infinite),
                      stacklevel=stacklevel + 1)
    elif fit.status == "not converged":
        warnings.warn(CoxNonConvergenceWarning(
            f"{prefix}ran out of iterations and did not converge ({fit.iterations} "
            "iterations, as R coxph)"
            + ("; one or more coefficients may be infinite" if fit.large else "")),
            stacklevel=stacklevel + 1)


def newton_raphson(derivatives, beta, tol: float = 1e-9, max_iter: int = 30):
    """R ``coxph``'s Newton-Raphson with step halving on a partial likelihood.

    ``derivatives(beta)`` returns the log likelihood, score and information. Used
    by the Fine-Gray fit (Cox fits stop as R's ``coxph``, :func:`coxph_newton`): a
    step that lowers the log likelihood is halved; the iteration stops when the
    largest step is below ``tol``, or, warning that a coefficient may be infinite,
    when the log likelihood stops changing (relative change < 1e-12) while a step is
    still above 1e-3.

    Examples
    --------
    >>> import numpy as np
    >>> from netpet_stats.survival.cox import newton_raphson
    >>> f = lambda b: (-(b[0] - 2.0) ** 2, np.array([-2 * (b[0] - 2.0)]), np.array([[2.0]]))
    >>> float(newton_raphson(f, np.zeros(1))[0][0])
    2.0
    """
    beta = np.asarray(beta, float).copy()
    ll, u, info = derivatives(beta)
    for _ in range(max_iter):
        step, ll_new, u_new, info_new = _newton_step(derivatives, beta, ll, u, info)
        beta = beta + step
        converged = np.max(np.abs(step)) < tol
        change = abs(ll_new - ll)
        flat = change <= 1e-12 * abs(ll_new)
        ll, u, info = ll_new, u_new, info_new
        if flat and np.max(np.abs(step)) > 1e-3:
            big = np.flatnonzero(np.abs(step) > 1e-3)
            warnings.warn(CoxConvergenceWarning(
                f"log likelihood converged before design column(s) {big.tolist()}; "
                "coefficient may be infinite", big.tolist()), stacklevel=3)
            return beta, ll, info
        if converged:
            if _numerically_singular(info):
                raise CoxFitError("information matrix is numerically singular")
            return beta, ll, info
    # Out of iterations with the log likelihood all but flat while coefficients still
    # move by whole units: a monotone likelihood (R warns and returns the iterate).
    if change <= 1e-6 * max(abs(ll), 1.0) and np.max(np.abs(step)) > 1e-3:
        big = np.flatnonzero(np.abs(step) > 1e-3)
        warnings.warn(CoxConvergenceWarning(
            f"no convergence in {max_iter} iterations, the log likelihood flat while design "
            f"column(s) {big.tolist()} kept growing; coefficient may be infinite",
            big.tolist()), stacklevel=3)
        return beta, ll, info
    raise CoxFitError(f"no convergence in {max_iter} iterations (a coefficient may be infinite)")


def fit_cox(data: pd.DataFrame, time_col: str, event_col: str, covariates: list[str],
            strata: list[str], cov_config: dict, conf_level: float = 0.95,
            cluster: str | None = None, ties: str = "efron", entry_col: str | None = None,
            weights_col: str | None = None, *, term_tests: bool = True) -> CoxResult:
    """Fit a Cox model on complete cases and return coefficient and test tables.

    Tests: the model's likelihood-ratio, Wald and score (log-rank) tests against
    the null model, as printed by R ``summary(coxph)``; and for each term its
    likelihood-ratio test (R ``drop1(fit, test = "Chisq")``) and joint Wald test.
    With ``cluster`` (a column name), robust sandwich standard errors clustered
    on it are added (``robust_se``, ``robust_p``, robust CI), as R
    ``coxph(..., cluster = )``.

    ``ties`` is R's ``coxph(ties = )``: ``"efron"`` (R's default), ``"breslow"`` (the
    default of SAS PROC PHREG and Stata ``stcox``) or ``"exact"`` (the conditional
    logistic likelihood; refused beyond :data:`EXACT_MAX_STEPS` and
    :data:`EXACT_MAX_SUBSETS`, and with ``cluster``, which R refuses for it: it has no
    score residuals). The fit, its tests, ``drop1`` and everything computed from the
    result (baseline hazard, ``cox.zph``, robust SE) follow it as R's do.

    ``entry_col`` names a column of delayed-entry times on the scale of ``time_col`` (left
    truncation, R ``coxph(Surv(entry, time, event) ~ ...)``): a patient is in the risk
    set of the event times after their entry, up to their exit. A patient whose entry is
    not before their exit is left out, with a warning, as R's ``Surv`` makes the row
    missing (:func:`~._checks.check_survival`); ``n`` counts the patients analysed.
    ``weights_col`` names a column of case weights (R ``coxph(weights = )``, e.g.
    inverse-probability weights): positive (R refuses a weight of 0 or below), and not
    with ``ties = "exact"`` (R refuses them). The log likelihoods, tests, SEs, baseline
    hazard, ``cox.zph`` and ``drop1`` are the weighted ones R reports; as R's ``coxph``,
    a model with weights that are not whole numbers reports robust SEs (each patient
    their own cluster, unless ``cluster`` is given), from the weighted dfbeta. ``n`` and
    ``events`` stay counts of patients.

    ``term_tests=False`` leaves out the likelihood-ratio test of each term (R
    ``drop1``), one refit per term, for a caller that reads the model's fit alone (a
    spline model whose likelihood a test of non-linearity compares); its rows are then
    absent from the tests table.

    Examples
    --------
    >>> from netpet_stats import fit_cox
    >>> import pandas as pd
    >>> d = pd.DataFrame({"time": [1, 2, 2, 3, 4, 4, 5, 6, 7, 8],
    ...                   "event": [1, 1, 0, 1, 1, 1, 0, 1, 0, 1],
    ...                   "x": [3, 1, 2, 2, 3, 1, 1, 2, 3, 1],
    ...                   "group": ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"]})
    >>> coding = {"x": {"type": "continuous"},
    ...           "group": {"type": "categorical", "levels": ["a", "b"]}}
    >>> fit = fit_cox(d, "time", "event", ["x", "group"], [], coding)
    >>> fit.coefficients[["term", "level", "coef"]].round(5).values.tolist()
    [['x', '', 0.74756], ['group', 'b', 1.3326]]

    As R ``coef(coxph(Surv(time, event) ~ x + group, d))``: 0.74756, 1.33260.
    """
    if check_ties(ties) == "exact" and cluster:
        raise ValueError(f"ties = 'exact' with cluster = {cluster!r}: robust SEs need score "
                         "residuals, which the exact method does not have (R's coxph stops: "
                         "'dfbeta residuals are not available for the exact method'); use "
                         "ties = 'efron' or 'breslow' for a clustered model")
    # the model's columns only: a cohort's other columns are not copied (0.2 s at 10^6)
    needed = list(dict.fromkeys([time_col, event_col, *covariates, *strata,
                                 *([cluster] if cluster else []),
                                 *([entry_col] if entry_col else []),
                                 *([weights_col] if weights_col else [])]))
    used = data[needed].dropna()
    entry = weights = None
    if entry_col or weights_col:
        used, time, entry, weights = _entry_and_weights(used, time_col, event_col, entry_col,
                                                        weights_col, ties)
    else:
        time = timefix(used[time_col].to_numpy(float))  # R aeqSurv, as coxph
    X, terms = design_matrix(used, covariates, cov_config)
    # A factor with one level among the patients analysed (one centre, say) has no
    # contrast to estimate: R's coxph refuses it; the term is left out with a note.
    dropped = [term for term in terms if not term.columns]
    terms = [term for term in terms if term.columns]
    frame = X.copy()
    frame["__time"] = time
    frame["__event"] = used[event_col].to_numpy(float)
    if entry is not None:
        frame["__entry"] = entry
    if weights is not None:
        frame["__weight"] = weights
    stratum = None
    if strata:
        stratum = stratum_labels(used, strata)
        frame["__stratum"] = stratum
    t, ev = frame["__time"].to_numpy(), frame["__event"].to_numpy()
    model = " + ".join(covariates)
    # sorted once for the fit, the null model and every drop1 refit (the same rows)
    # the times are fixed above (R's fix is not idempotent: a second pass can tie times
    # R keeps apart), so the sort takes them as they are
    rows = EfronData(t, ev, X.to_numpy(), stratum, timefixed=True, ties=ties, entry=entry,
                     weights=weights)
    fit = coxph_fit(t, ev, X.to_numpy(), stratum, ties=ties, entry=entry, weights=weights,
                    data=rows)
    names = ", ".join(X.columns[j] for j in fit.infinite)
    _warn_status(fit, f"{model}: coefficient of {names} may be infinite", stacklevel=2,
                 prefix=f"{model}: ")
    beta, ll, info = fit.beta, fit.loglik, fit.information
    # One line per model fit, so that a run can be audited for refits (no identifiers).
    log.info("Cox model fitted: %s%s; n = %d, events = %d", model or "(null)",
             f", strata {', '.join(strata)}" if strata else "", len(used), int(ev.sum()))
    null = rows.evaluate(np.zeros(len(beta)))
    ll0, u0, i0 = null["loglik"], null["score"], null["info"]
    reduced = {} if term_tests else None
    if len(terms) > 1 and term_tests:
        for term in terms:
            # R drop1: the model without the term, refitted with the same control
            keep = [c for c in X.columns if c not in term.columns]
            part = coxph_fit(t, ev, frame[keep].to_numpy(), stratum, ties=ties, entry=entry,
                             weights=weights,
                             data=rows.with_columns([list(X.columns).index(c) for c in keep]))
            without = " + ".join(c for c in covariates if c != term.name)
            _warn_status(part, f"{without} (for the likelihood-ratio test of {term.name}): "
                               f"coefficient of {', '.join(keep[j] for j in part.infinite)} "
                               "may be infinite", stacklevel=2,
                         prefix=f"{without} (for the likelihood-ratio test of {term.name}): ")
            reduced[term.name] = part.loglik
    n, events = len(used), int(ev.sum())
    coefs, tests_df = cox_tables(terms, list(X.columns), beta, info, ll, (ll0, u0, i0),
                                 reduced, set(fit.infinite), n, events, conf_level, dropped,
                                 variance=fit.variance,
                                 not_converged=(not_converged_note(COXPH_CONTROL["iter_max"],
                                                                   fit.large)
                                                if fit.status == "not converged" else ""),
                                 ties=ties)
    result = CoxResult(coefs, tests_df, terms, beta, X, n, events, frame, stratum, info,
                       variance=fit.variance, status=fit.status, iterations=fit.iterations,
                       stratum_code=stratum_codes(used, strata) if strata else None,
                       ties=ties)
    # R's coxph reports robust SEs with a cluster, and with weights that are not whole
    # numbers (each patient their own cluster)
    if cluster or (weights is not None and np.any(weights != np.floor(weights))):
        groups = used[cluster].to_numpy() if cluster else np.arange(n)
        k = int(pd.unique(groups).size)
        order = [list(X.columns).index(c) for t in terms for c in t.columns]
        if k >= 2:
            rse = np.sqrt(np.diag(robust_variance(result, groups)))[order]
        else:  # one cluster: the sandwich is zero up to rounding (R: ~1e-15, p = 0)
            rse = np.full(len(order), np.nan)
        add_robust_columns(coefs, rse, conf_level, cluster or EACH_PATIENT, k)
    return result


#: The cluster of a robust SE that R's ``coxph`` computes for non-integer case weights.
EACH_PATIENT = "(each patient)"


def _entry_and_weights(used: pd.DataFrame, time_col: str, event_col: str,
                       entry_col: str | None, weights_col: str | None, ties: str):
    """The rows of a fit with delayed entry or case weights, checked as the engine checks
    survival data (:func:`~._checks.check_survival`: rows whose entry is not before their
    exit left out with a warning, entry and exit fixed together), and weights refused
    where R's ``coxph`` refuses them. Returns the rows kept, their exit and entry times
    and weights (None where not given)."""
    checked = check_survival("fit_cox", used[time_col], used[event_col],
                             entry=used[entry_col] if entry_col else None,
                             weights=used[weights_col] if weights_col else None)
    used = used[checked.keep]
    weights = checked.weights
    if weights is not None:
        bad = weights <= 0
        if bad.any():
            shown = ", ".join(f"{v:g}" for v in np.unique(weights[bad])[:3])
            raise ValueError(
                f"fit_cox: column {weights_col!r}: {int(bad.sum())} case weight(s) of 0 "
                f"(values {shown}); R's coxph refuses weights that are not positive ('Invalid "
                "weights, must be >0'): leave those patients out of the data, or give them a "
                "positive weight")
        if ties == "exact" and np.any(weights != 1):
            raise ValueError(
                f"fit_cox: ties = 'exact' with case weights (column {weights_col!r}): R's "
                "coxph refuses them ('Case weights are not supported for the exact method'); "
                "use ties = 'efron' or 'breslow'")
    return used, checked.time, checked.entry, weights


def model_loglik(fit: CoxResult) -> float:
    """The log partial likelihood at the estimate (R ``fit$loglik[2]``)."""
    row = fit.tests[(fit.tests["term"] == "(model)") & (fit.tests["test"] == "likelihood ratio")]
    return float(row["loglik"].iloc[0])


def variance_inflation(fit: CoxResult) -> pd.DataFrame:
    """Generalized variance-inflation factor of each term (Fox & Monette 1992).

    As R ``car::vif(coxph_fit)``: with R the correlation matrix of the estimates
    (``cov2cor(vcov(fit))``), a term's GVIF is det(R_term) det(R_rest) / det(R);
    ``gvif_adjusted`` = GVIF^(1 / (2 df)) makes terms of different df comparable
    (it is the inflation of the confidence interval's width). Empty for a model
    of one term.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from netpet_stats import fit_cox
    >>> rng = np.random.default_rng(4)
    >>> x = rng.normal(size=200)
    >>> d = pd.DataFrame({"t": rng.exponential(size=200), "e": 1, "x": x,
    ...                   "z": x + rng.normal(scale=0.5, size=200)})
    >>> coding = {"x": {"type": "continuous"}, "z": {"type": "continuous"}}
    >>> vif = variance_inflation(fit_cox(d, "t", "e", ["x", "z"], [], coding))
    >>> bool((vif["gvif"] > 3).all()), vif["df"].tolist()
    (True, [1, 1])
    """
    columns = list(fit.design.columns)
    out = []
    if len(fit.terms) < 2 or fit.variance is None:
        return pd.DataFrame(columns=["term", "term_label", "df", "gvif", "gvif_adjusted"])
    v = np.asarray(fit.variance, float)
    sd = np.sqrt(np.diag(v))
    r = v / np.outer(sd, sd)
    whole = np.linalg.det(r)
    for term in fit.terms:
        idx = [columns.index(c) for c in term.columns]
        rest = [j for j in range(len(columns)) if j not in idx]
        gvif = np.linalg.det(r[np.ix_(idx, idx)]) * np.linalg.det(r[np.ix_(rest, rest)]) / whole
        out.append({"term": term.name, "term_label": term.label, "df": len(idx),
                    "gvif": gvif, "gvif_adjusted": gvif ** (1 / (2 * len(idx)))})
    return pd.DataFrame(out)


def stratum_labels(data: pd.DataFrame, strata: list[str]) -> np.ndarray:
    """One label per row for the combination of its ``strata`` values ("a|b").

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats.survival.cox import stratum_labels
    >>> stratum_labels(pd.DataFrame({"c": ["A", "B"], "s": [1, 2]}), ["c", "s"]).tolist()
    ['A|1', 'B|2']
    """
    # a zero is one stratum whatever its sign, as R's strata()
    labels = pd.DataFrame({c: zero_signs_joined(data[c]) for c in strata}).astype(str)
    joined = labels.iloc[:, 0]
    for col in labels.columns[1:]:  # vectorised: a row-wise join took half of a
        joined = joined + "|" + labels[col]  # 10^5-patient fit
    return joined.to_numpy(dtype=object)


def stratum_codes(data: pd.DataFrame, strata: list[str]) -> np.ndarray:
    """The number of each row's stratum in R's order of the levels of ``strata(...)``.

    As R's ``strata()``: each variable's levels are a factor's own levels (a pandas
    categorical keeps its categories' order), numbers in numeric order, text in sorted
    order (R's ``sort`` in the C locale); the combinations present are ordered by the
    first variable, then the next. ``cox.zph`` orders its events, and assigns them to
    strata, in this order.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats.survival.cox import stratum_codes
    >>> stratum_codes(pd.DataFrame({"inst": [10, 2, 1, 2]}), ["inst"]).tolist()
    [2, 1, 0, 1]
    """
    codes, sizes = [], []
    for col in strata:
        values = data[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            code, size = values.cat.codes.to_numpy(np.int64), len(values.cat.categories)
        elif pd.api.types.is_numeric_dtype(values):
            code, distinct = pd.factorize(values, sort=True)
            size = len(distinct)
        else:
            # the text of each distinct value, sorted (R's C-locale sort); values whose
            # text is the same are one level, as the text of every row made them
            code, text = _text_codes(values)
            if (code < 0).any():          # a missing value: its text "nan" is a level
                code, distinct = pd.factorize(values.astype(str), sort=True)
            else:
                distinct, rank = np.unique(text, return_inverse=True)
                code = rank.ravel()[code]
            size = len(distinct)
        codes.append(np.asarray(code, np.int64))
        sizes.append(max(size, 1))
    if any((code < 0).any() for code in codes) or np.prod(np.array(sizes, float)) >= 2.0 ** 53:
        # a missing category, or more combinations than a double counts exactly: the rows
        return np.unique(np.column_stack(codes), axis=0, return_inverse=True)[1].ravel()
    # the combinations as one number in mixed radix (first variable most significant),
    # whose order is the rows' lexicographic order; ranked by hashing, not sorting rows
    key = np.zeros(len(data), np.int64)
    for code, size in zip(codes, sizes):
        key = key * size + code
    return dense_rank(key)


def add_robust_columns(coefs: pd.DataFrame, rse, conf_level: float, cluster: str,
                       n_clusters: int) -> None:
    """Robust SE, CI and p beside the model-based ones, in place (R ``coxph(cluster = )``).

    ``rse`` is in the order of the coefficient rows; it is withheld where a
    coefficient may be infinite or the fit did not converge, and the note flags
    fewer than :data:`MIN_CLUSTERS` clusters.
    """
    z = norm_ppf(1 - (1 - conf_level) / 2)
    withheld = (coefs["note"].str.contains(INFINITE_NOTE, regex=False)
                | coefs["note"].str.startswith(NOT_CONVERGED_NOTE_START))
    rse = np.where(withheld, np.nan, np.asarray(rse, float))
    b = coefs["coef"].to_numpy()
    coefs["robust_se"] = rse
    coefs["robust_hr_lower"] = np.exp(b - z * rse)
    coefs["robust_hr_upper"] = np.exp(b + z * rse)
    coefs["robust_p"] = 2 * norm_sf(np.abs(b / rse))
    coefs["cluster"] = cluster
    coefs["n_clusters"] = n_clusters
    if n_clusters < MIN_CLUSTERS:
        flag = (f"robust SE from {n_clusters} cluster(s) of {cluster}: not estimable below 2, "
                f"unreliable below {MIN_CLUSTERS}")
        coefs["note"] = [f"{note}; {flag}" if note else flag for note in coefs["note"]]


def cox_tables(terms: list[Term], columns: list[str], beta, info, loglik, null,
               reduced: dict | None,
               infinite: set, n: int, events: int, conf_level: float = 0.95,
               dropped: list[Term] = (), variance=None, not_converged: str = "",
               ties: str = "efron") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coefficient and test tables of a Cox fit from its sufficient quantities.

    What R ``summary(coxph)`` and ``drop1(fit, test = "Chisq")`` print, built from
    the estimate ``beta``, the information at it, the log likelihood, the
    log likelihood, score and information at ``beta = 0`` (``null``) and the
    maximised log likelihood of each model without one term (``reduced``, by
    term name; ``None``: no test of each term). Shared by :func:`fit_cox` and the federated fit, which obtains the
    same quantities as sums over centres.

    ``variance`` is the variance R reports, when it is not the inverse of ``info``
    (after running out of iterations). ``not_converged``, the note of a fit that ran
    out of iterations: it stands beside every coefficient, whose Wald z, p and CI, as
    the Wald tests, are then not reported (those of a coefficient in ``infinite``
    never are). ``ties`` names the partial likelihood of the score test's method.
    """
    beta = np.asarray(beta, float)
    ll = loglik
    ll0, u0, i0 = null
    cov = np.linalg.inv(info) if variance is None else np.asarray(variance, float)
    if not_converged:
        infinite = set(range(len(beta)))     # nothing Wald-based is reported
    se = np.sqrt(np.diag(cov))
    z = norm_ppf(1 - (1 - conf_level) / 2)

    rows = []
    for term in terms:
        for col, level in zip(term.columns, term.levels):
            j = columns.index(col)
            zval = beta[j] / se[j] if j not in infinite else np.nan
            lower, upper = ((np.exp(beta[j] - z * se[j]), np.exp(beta[j] + z * se[j]))
                            if j not in infinite else (np.nan, np.nan))
            rows.append({
                "term": term.name, "term_label": term.label, "level": level,
                "reference": term.reference, "coef": beta[j], "se": se[j],
                "hr": np.exp(beta[j]), "hr_lower": lower, "hr_upper": upper, "z": zval,
                "p": 2 * norm_sf(abs(zval)) if j not in infinite else np.nan,
                "n": n, "events": events,
                "note": not_converged or (INFINITE_NOTE if j in infinite else ""),
            })
    coefs = pd.DataFrame(rows, columns=[
        "term", "term_label", "level", "reference", "coef", "se", "hr", "hr_lower",
        "hr_upper", "z", "p", "n", "events", "note"])

    lrt = 2 * (ll - ll0)
    wald = float(beta @ np.linalg.solve(cov, beta))
    score = float(u0 @ np.linalg.solve(i0, u0))
    df = len(beta)
    tests = [
        {"test": "likelihood ratio", "term": "(model)", "chisq": lrt, "df": df,
         "p": chi2_sf(lrt, df), "method": "2 (logL(beta) - logL(0))" + (
             "; beta where the fit stopped without converging" if not_converged else "")},
        {"test": "Wald", "term": "(model)", "chisq": wald if not infinite else np.nan, "df": df,
         "p": chi2_sf(wald, df) if not infinite else np.nan,
         "method": "beta' V^-1 beta" if not infinite else
                   "not reported: the fit did not converge" if not_converged else
                   "not reported: a coefficient may be infinite (use the likelihood-ratio test)"},
        {"test": "score (log-rank)", "term": "(model)", "chisq": score, "df": df,
         "p": chi2_sf(score, df), "method": f"U(0)' I(0)^-1 U(0), {TIES_NAME[check_ties(ties)]}"},
    ]
    if len(terms) > 1 and reduced is not None:
        for term in terms:
            chi = 2 * (ll - reduced[term.name])
            tests.append({"test": "likelihood ratio", "term": term.name, "chisq": chi,
                          "df": len(term.columns), "p": chi2_sf(chi, len(term.columns)),
                          "method": "drop1(fit, test = 'Chisq')"})
    for term in terms:
        if len(term.columns) > 1:
            idx = [columns.index(c) for c in term.columns]
            b = beta[idx]
            chi = float(b @ np.linalg.solve(cov[np.ix_(idx, idx)], b))
            bad = bool(infinite & set(idx))
            tests.append({"test": "Wald", "term": term.name, "chisq": np.nan if bad else chi,
                          "df": len(idx), "p": np.nan if bad else chi2_sf(chi, len(idx)),
                          "method": "joint Wald test of the term's coefficients" if not bad else
                                    "not reported: the fit did not converge" if not_converged
                                    else "not reported: a coefficient may be infinite"})
    for term in dropped:
        tests.append({"test": "term left out", "term": term.name, "chisq": np.nan, "df": 0,
                      "p": np.nan, "method": "one level among the patients analysed: no "
                                             "contrast to estimate (R coxph refuses it)"})
    tests_df = pd.DataFrame(tests)
    tests_df["loglik"] = ll
    tests_df["loglik_null"] = ll0
    return coefs, tests_df


def dot_by_pattern(X: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``X @ beta``, computed once per distinct row of ``X``.

    A matrix-vector product through BLAS may round two identical rows
    differently, which would turn tied risk scores into spurious concordant or
    discordant pairs (R counts them as ties) and change rank-based measures.
    """
    return PatternDot(X)(beta)


class PatternDot:
    """:func:`dot_by_pattern` for one ``X`` and many coefficient vectors.

    The distinct rows are found once; each call then takes one dot product per
    distinct row, the same arithmetic for every row wherever it lies and however
    many threads run. Rows are the same pattern when their bits are, found by hashing
    each column's bits and then the combination of their codes: 0.1 s on 10^6
    patients, where np.unique's sort of the rows took 4-6 s. (np.unique merged +0
    and -0 and kept NaN rows apart; either way the products are equal.)
    """

    def __init__(self, X: np.ndarray):
        X = np.ascontiguousarray(X, dtype=float)
        X = X.reshape(len(X), -1) if X.ndim != 2 else X
        n = X.shape[0]
        bits = X.view(np.int64)
        key, size = np.zeros(n, np.int64), 1
        for j in range(bits.shape[1]):
            codes, distinct = pd.factorize(bits[:, j])
            if size * max(len(distinct), 1) >= 2 ** 62:      # renumber before overflow
                key, found = pd.factorize(key)
                size = len(found)
            key, size = key * len(distinct) + codes, size * max(len(distinct), 1)
        inverse, found = pd.factorize(key)
        first = np.zeros(len(found), np.int64)
        first[inverse] = np.arange(n)          # any row of a pattern: its bits are the same
        self.patterns, self.inverse = X[first], inverse.astype(np.int64)

    def __call__(self, beta: np.ndarray) -> np.ndarray:
        return self.values(beta)[self.inverse]

    def values(self, beta: np.ndarray) -> np.ndarray:
        """``x' beta`` of each distinct row (``patterns``); row ``i``'s is at ``inverse[i]``."""
        # one value per distinct row, so identical rows share its bits. Summed column
        # by column in elementwise products (x_1 b_1 + x_2 b_2 + ...), not by BLAS,
        # whose matrix-vector product rounds a row by its position and the number of
        # threads; and not a Python loop over the rows (a model with a continuous
        # covariate has ~n of them: 1 s at 10^6 in every bootstrap refit).
        beta = np.asarray(beta, float)
        values = np.zeros(len(self.patterns))
        for j in range(beta.size):
            values += self.patterns[:, j] * beta[j]
        return values


def linear_predictor(result: "CoxResult") -> np.ndarray:
    """x' beta of each subject, bit-identical for identical covariate rows."""
    return dot_by_pattern(result.design.to_numpy(), result.beta)


ZPH_METHOD = ("score test of beta(t) = beta + theta g(t) at theta = 0, per term and "
              "global (R cox.zph, survival >= 3.0)")


def zph_time_transform(time, event, transform: str, order=None, entry=None) -> np.ndarray:
    """g(t) of each subject before centring, as R ``cox.zph(transform=)``.

    ``km``: 1 - S(t-) from the Kaplan-Meier of all subjects pooled (ignoring
    strata and case weights, as R's), left-continuous; with ``entry`` its risk sets
    hold the subjects with ``entry < t <= time`` (R's ``survfitKM`` of the fit's
    ``Surv(entry, time, event)``); ``rank``: average ranks of the (exit) times;
    ``identity``. ``order``: the stable argsort of ``time``, when the caller has it
    (``km`` counts its risk sets from it).
    """
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    if transform == "identity":
        return time
    if transform == "rank":
        from scipy.stats import rankdata

        return rankdata(time)
    if transform == "km":
        # each subject's index among the distinct times is the number of distinct
        # times strictly before it -> S(t-)
        utimes, starts, before = distinct_times(time, order)
        at_risk = time.size - starts
        if entry is not None:     # less those entering at or after each time
            entries = np.sort(np.asarray(entry, float))
            at_risk = at_risk - (entries.size - np.searchsorted(entries, utimes, side="left"))
        deaths = np.bincount(before[event == 1], minlength=at_risk.size)
        surv = np.cumprod(1 - deaths / at_risk)
        return 1.0 - np.concatenate([[1.0], surv])[before]
    raise ValueError(f"transform must be km, rank or identity, not {transform!r}")


def ph_test(result: CoxResult, transform: str = "km") -> pd.DataFrame:
    """Proportional-hazards score test per term and globally, as R ``cox.zph``.

    For each covariate ``x_j`` the model is extended by ``theta_j x_j g(t)``,
    with ``g`` the chosen transform of time centred on its mean over events.
    The score test of ``theta = 0`` at the fitted ``beta`` uses the full
    ``2p x 2p`` Efron information (Breslow's for a fit with ``ties = "breslow"`` or
    ``"exact"``: R's ``cox.zph`` uses Efron's sums only for an Efron fit); a term's test uses the ``beta`` block and that
    term's ``theta`` block (a factor's levels are pooled, ``df`` = its number of
    columns). A fit with delayed entry or case weights is tested on its own risk sets and
    weights (R's ``zph2.c`` for counting-process data, ``zph1.c`` with weights); ``g`` is
    centred on its unweighted mean over the events, as R's. Written here because lifelines implements only the earlier
    approximation (survival < 3.0) and no Python library implements this test. Where
    R's ``solve`` refuses one of these systems (exactly singular, or a reciprocal
    condition number below the machine epsilon), R's ``cox.zph`` stops: no test is
    reported then (NaN, and the method says why).

    Examples
    --------
    >>> from netpet_stats import fit_cox, ph_test
    >>> import pandas as pd
    >>> d = pd.DataFrame({"time": [1, 2, 2, 3, 4, 4, 5, 6, 7, 8],
    ...                   "event": [1, 1, 0, 1, 1, 1, 0, 1, 0, 1],
    ...                   "x": [3, 1, 2, 2, 3, 1, 1, 2, 3, 1],
    ...                   "group": ["a", "b", "a", "b", "a", "b", "a", "b", "a", "b"]})
    >>> coding = {"x": {"type": "continuous"},
    ...           "group": {"type": "categorical", "levels": ["a", "b"]}}
    >>> zph = ph_test(fit_cox(d, "time", "event", ["x", "group"], [], coding))
    >>> zph[["term", "chisq", "df"]].round(3).values.tolist()  # R print(cox.zph(fit))
    [['x', 0.146, 1], ['group', 0.658, 1], ['GLOBAL', 0.812, 2]]
    """
    frame = result.frame
    t, ev = frame["__time"].to_numpy(), frame["__event"].to_numpy()
    entry, weights = fit_entry(result), fit_weights(result)
    X = result.design.to_numpy()
    p = X.shape[1]
    order = np.argsort(t, kind="stable")
    g_all = zph_time_transform(t, ev, transform, order, entry)
    centre = g_all[ev == 1].mean()
    # the frame's times are already fixed (fit_cox): sorted once here, not fixed again
    contrib = EfronData(t, ev, X, result.stratum, timefixed=True, ties=_zph_ties(result),
                        entry=entry, weights=weights,
                        centre=False).evaluate(result.beta, per_time=True)
    # g at each distinct event time (tied events share the time, hence g)
    g = g_all[order][np.searchsorted(t[order], contrib["time"])] - centre
    info = contrib["info_t"]
    i_bb = info.sum(axis=0)
    i_bt = np.einsum("t,tjk->jk", g, info)
    i_tt = np.einsum("t,tjk->jk", g * g, info)
    u_theta = g @ contrib["score_t"]
    imat = np.block([[i_bb, i_bt], [i_bt.T, i_tt]])
    columns = list(result.design.columns)
    tests, singular = [], False
    for term in result.terms:
        jj = [columns.index(c) for c in term.columns]
        kk = list(range(p)) + [p + j for j in jj]
        u = np.concatenate([np.zeros(p), u_theta[jj]])
        chi = _solve_as_r(imat[np.ix_(kk, kk)], u)
        singular |= chi is None
        tests.append((term.name, term.label, np.nan if chi is None else float(u @ chi),
                      len(jj)))
    u = np.concatenate([np.zeros(p), u_theta])
    chi = _solve_as_r(imat, u)
    singular |= chi is None
    tests.append(("GLOBAL", "global test", np.nan if chi is None else float(u @ chi), p))
    k = len(tests)
    # R's cox.zph stops at the first singular system: no test is reported then
    method = ZPH_SINGULAR_METHOD if singular else ZPH_METHOD
    chisq = np.array([np.nan if singular else x[2] for x in tests], dtype=float)
    # numpy columns, framed without copies (a third of the test's time at n = 300 went
    # to building the frame from lists)
    return _frame({"term": np.array([x[0] for x in tests], dtype=object),
                         "term_label": np.array([x[1] for x in tests], dtype=object),
                         "chisq": chisq,
                         "df": np.array([x[3] for x in tests], dtype=np.int64),
                         "p": np.array([chi2_sf(c, x[3]) if np.isfinite(c) else np.nan
                                        for c, x in zip(chisq, tests)], dtype=float),
                         "transform": np.full(k, transform, dtype=object),
                         "method": np.full(k, method, dtype=object)})


def _zph_ties(result: CoxResult) -> str:
    """The sums R's ``cox.zph`` uses: Efron's for an Efron fit, else Breslow's (its C code
    takes ``fit$method == "efron"``)."""
    return "efron" if getattr(result, "ties", "efron") == "efron" else "breslow"


ZPH_SINGULAR_METHOD = ("not computed: the information matrix of the test is singular (R's "
                       "cox.zph stops: 'system is computationally singular'), as at the "
                       "stopping point of a fit whose coefficients diverge")


def _solve_as_r(a: np.ndarray, b: np.ndarray):
    """``solve(a, b)``, or None where R's ``solve`` refuses: an exactly singular matrix,
    or a reciprocal condition number (1-norm) below the machine epsilon."""
    try:
        x = np.linalg.solve(a, b)
        rcond = 1.0 / (np.linalg.norm(a, 1) * np.linalg.norm(np.linalg.inv(a), 1))
    except np.linalg.LinAlgError:
        return None
    return x if np.isfinite(rcond) and rcond >= np.finfo(float).eps else None


@dataclass
class ZphResiduals:
    """Scaled Schoenfeld residuals of a Cox fit, as R ``cox.zph`` returns them.

    One row per event, ordered by stratum then time. ``y`` has one column per
    term: ``beta_j + (scaled residual)_j`` for a one-column term (an estimate of
    ``beta_j(t)``); for a term of several columns (a factor), the residuals
    combined with the coefficients as weights, plus 1 (``beta(t) / beta`` of the
    term's linear predictor). With ``terms = False`` (R ``cox.zph(fit, terms =
    FALSE)``) ``y`` has one column per design column, named as the design column
    (``group[P5]``): ``beta_j(t)`` of each contrast. ``var`` is R's ``zph$var``,
    the inverse of the information per event, which scales the smoother's band.
    """

    x: np.ndarray           # transformed time g(t) of each event (not centred)
    time: np.ndarray        # event time
    stratum: np.ndarray     # stratum of each event, numbered in R's order (0 unstratified)
    y: pd.DataFrame         # one column per term (term names), NaN where not estimable
    var: np.ndarray         # (terms x terms)
    transform: str
    stratum_label: np.ndarray | None = None   # stratum label of each event


def zph_residuals(result: CoxResult, transform: str = "km", terms: bool = True
                  ) -> ZphResiduals:
    """Scaled Schoenfeld residuals per term, as R ``cox.zph(fit, transform, terms)``.

    The residual of an event is its covariates minus their Efron-weighted mean
    over the risk set (for ``d`` tied events the mean of the ``d`` Efron means,
    as R's ``zph1.c``; the risk set's mean for a fit with ``ties = "breslow"`` or
    ``"exact"``, as R's). Within each stratum, residuals are scaled by the inverse
    of the information per event (Grambsch & Therneau 1994; Breslow's information for
    an exact fit, as R's), using only the
    columns that vary in that stratum; each term's coefficient is added back.

    R's per-stratum rules are kept (``survival:::cox.zph``, 3.5-3): a factor counts as
    varying in a stratum, all its columns, when any of its columns varies there (a
    level absent from a centre); the events are assigned to the strata by counting,
    stratum by stratum in R's order, the events of the strata where some term varies,
    so that a stratum where nothing varies (a centre with one patient) contributes no
    count: its events and those after it are scaled with the next strata's
    information, and the last events of all keep their unscaled residual.

    ``terms = False`` treats each design column as a term of its own, as R's
    ``cox.zph(fit, terms = FALSE)``: one column of ``y`` per contrast of a factor
    (``beta_j(t)``, what ``plot(cox.zph(fit, terms = FALSE))`` draws, one panel per
    contrast), each column used in a stratum when it varies there.

    With delayed entry the means are over the risk set ``entry < t <= time`` (R's
    ``zph2.c``, which lists the tied events of a time in the reverse of their order in
    the data, as here); with case weights they are weighted means, and the residuals
    themselves unweighted, as R's.

    Examples
    --------
    >>> from netpet_stats import fit_cox, zph_residuals
    >>> import pandas as pd
    >>> d = pd.DataFrame({"time": [1, 2, 2, 3, 4, 4, 5, 6, 7, 8],
    ...                   "event": [1, 1, 0, 1, 1, 1, 0, 1, 0, 1],
    ...                   "x": [3, 1, 2, 2, 3, 1, 1, 2, 3, 1]})
    >>> z = zph_residuals(fit_cox(d, "time", "event", ["x"], [], {"x": {"type": "continuous"}}))
    >>> z.y["x"].round(4).tolist()        # R cox.zph(fit)$y
    [1.7539, -1.2618, 0.2041, 1.8558, -1.377, -0.0137, 0.1935]
    """
    frame = result.frame
    t = frame["__time"].to_numpy(float)
    ev = frame["__event"].to_numpy(float)
    entry, weights = fit_entry(result), fit_weights(result)
    X = result.design.to_numpy(float)
    n, p = X.shape
    if result.stratum is None:
        strata = np.zeros(n, int)
    elif result.stratum_code is not None:
        strata = np.asarray(result.stratum_code, int)     # R's order of the levels
    else:
        strata = pd.factorize(pd.Series(result.stratum), sort=True)[0]
    g = zph_time_transform(t, ev, transform, entry=entry)
    efron = _zph_ties(result) == "efron"
    risk = np.exp(X @ result.beta - (X @ result.beta).max())
    if weights is not None:
        risk = weights * risk
    # R: order(istrat, time); for counting-process data rev(order(-istrat, -stop))
    order = np.lexsort((np.arange(n) if entry is None else -np.arange(n), t, strata))
    rows, resid, used = [], [], np.zeros((strata.max() + 1, p))
    for s in range(strata.max() + 1):
        idx = order[strata[order] == s]
        xs, ts, es, rs = X[idx], t[idx], ev[idx], risk[idx]
        # a column constant within the stratum carries no information there (R: used = 0)
        used[s] = np.where(np.ptp(xs, axis=0) > 0, es.sum(), 0)
        # sums over the risk set {time >= t}: reverse cumulative sums on the sorted times
        den_all = np.cumsum(rs[::-1])[::-1]
        num_all = np.cumsum((rs[:, None] * xs)[::-1], axis=0)[::-1]
        first = np.searchsorted(ts, ts, side="left")     # first row at each row's time
        if entry is not None:     # the sums over those entering at or after a time
            en = entry[idx]
            by_entry = np.argsort(en, kind="mergesort")
            en_sorted = en[by_entry]
            out0 = np.r_[np.cumsum(rs[by_entry][::-1])[::-1], 0.0]
            out1 = np.vstack([np.cumsum((rs[:, None] * xs)[by_entry][::-1], axis=0)[::-1],
                              np.zeros((1, p))])
        for tt in np.unique(ts[es == 1]):
            at = np.flatnonzero(ts == tt)
            dead = at[es[at] == 1]
            d = dead.size
            den2, num2 = rs[dead].sum(), (rs[dead, None] * xs[dead]).sum(axis=0)
            den, num = den_all[first[at[0]]] - den2, num_all[first[at[0]]] - num2
            if entry is not None:
                later = np.searchsorted(en_sorted, tt, side="left")
                den, num = den - out0[later], num - out1[later]
            frac = (np.arange(1, d + 1)[:, None] / d if efron else np.ones((d, 1)))
            mean = ((num + frac * num2) / (den + frac * den2)).mean(axis=0)
            resid.append(xs[dead] - mean)
            rows.extend(idx[dead])
    rows = np.asarray(rows, int)
    sres = np.vstack(resid) if resid else np.zeros((0, p))
    ev_stratum = strata[rows]
    columns = list(result.design.columns)
    if terms:
        assign = [[columns.index(c) for c in term.columns] for term in result.terms]
        names = [term.name for term in result.terms]
    else:      # R cox.zph(terms = FALSE): asgn <- as.list(1:nvar), one term per column
        assign, names = [[j] for j in range(p)], columns
    for a in assign:   # a factor is used in a stratum when any of its columns varies there
        if len(a) > 1 and (used[:, a] == 0).any():
            used[:, a] = used[:, a].max(axis=1)[:, None]
    wt = sum(np.minimum.outer(u, u) for u in used)
    # R scales by the information of cox.zph's own sums: the fit's, except for an exact
    # fit, whose cox.zph sums are Breslow's (at the exact beta)
    info = (result.information if getattr(result, "ties", "efron") != "exact" else
            EfronData(t, ev, X, result.stratum, timefixed=True, ties="breslow", entry=entry,
                      weights=weights, centre=False).evaluate(result.beta)["info"])
    vmean = info / np.where(wt == 0, 1, wt)
    if any(len(a) > 1 for a in assign):      # R cox.zph(terms = TRUE): one column per term
        M = np.zeros((p, len(assign)))
        for i, a in enumerate(assign):
            M[a, i] = 1.0 if len(a) == 1 else result.beta[a]
        sres, vmean = sres @ M, M.T @ vmean @ M
        used = used[:, [a[0] for a in assign]]
    # R assigns the events to strata by counts: stratum s takes the next max(used[s])
    # rows, none where nothing varies; rows beyond the counted ones stay unscaled
    y = sres.copy()
    group = np.repeat(np.arange(used.shape[0]), used.max(axis=1).astype(int))
    for s in range(used.shape[0]):
        k = np.flatnonzero(used[s] > 0)
        here = np.flatnonzero(group == s)
        if k.size and here.size:
            y[np.ix_(here, k)] = np.linalg.solve(vmean[np.ix_(k, k)], sres[np.ix_(here, k)].T).T
            y[np.ix_(here, np.setdiff1d(np.arange(y.shape[1]), k))] = np.nan
    for i, a in enumerate(assign):
        y[:, i] += result.beta[a[0]] if len(a) == 1 else 1.0
    labels = (np.zeros(rows.size, dtype=object) if result.stratum is None
              else np.asarray(result.stratum, dtype=object)[rows])
    return ZphResiduals(x=g[rows], time=t[rows], stratum=ev_stratum,
                        y=pd.DataFrame(y, columns=names),
                        var=np.linalg.inv(vmean), transform=transform, stratum_label=labels)


ZPH_SMOOTH_METHOD = ("natural cubic spline (4 df) fitted by least squares to the scaled "
                     "Schoenfeld residuals, band +/- 2 SE (R plot.cox.zph)")


def zph_smooth(zph: ZphResiduals, term: str, df: int = 4, n_points: int = 40) -> pd.DataFrame:
    """The smooth of one term's scaled residuals against g(t), as R ``plot(cox.zph)``.

    A natural cubic spline with ``df`` degrees of freedom (intercept included;
    boundary knots at the range of g(t), interior knots at its quantiles over the
    plotting grid and the events together, as R's ``ns(c(pred.x, x), df)``) is fitted
    by least squares; the band is ``+/- 2 sqrt(var_jj * h)`` with ``h`` the
    leverage of each grid point (R uses the Cox variance, not the residual scatter).
    The spline space is spanned here by Harrell's restricted cubic spline basis
    (:func:`~netpet_stats.survival.splines.rcs_basis`), which has the same fitted
    values as R's B-spline basis (no Python library offers R's ``ns`` with these
    knots).

    Returns
    -------
    DataFrame
        ``x`` (grid of g(t)), ``estimate``, ``lower``, ``upper``.

    Examples
    --------
    >>> from netpet_stats import fit_cox, zph_residuals, zph_smooth
    >>> import pandas as pd
    >>> d = pd.DataFrame({"time": [1, 2, 2, 3, 4, 4, 5, 6, 7, 8],
    ...                   "event": [1, 1, 0, 1, 1, 1, 0, 1, 0, 1],
    ...                   "x": [3, 1, 2, 2, 3, 1, 1, 2, 3, 1]})
    >>> z = zph_residuals(fit_cox(d, "time", "event", ["x"], [], {"x": {"type": "continuous"}}))
    >>> zph_smooth(z, "x")["estimate"].iloc[[0, -1]].round(4).tolist()  # as plot(cox.zph)
    [1.0324, -0.0042]
    """
    j = list(zph.y.columns).index(term)
    y = zph.y[term].to_numpy()
    keep = ~np.isnan(y)
    x = zph.x
    if x.size == 0:
        raise ValueError("zph_smooth: the model has no events")
    grid = np.linspace(x.min(), x.max(), n_points)
    both = np.concatenate([grid, x])
    inner = np.quantile(both, np.linspace(0, 1, df)[1:-1])   # R quantile type 7
    knots = np.concatenate([[both.min()], inner, [both.max()]])

    def basis(v):      # intercept + natural cubic spline (R: ns(..., intercept = TRUE))
        return np.column_stack([np.ones_like(v), rcs_basis(v, knots)])

    B, P = basis(x[keep]), basis(grid)
    if keep.sum() < df or np.linalg.matrix_rank(B) < df:   # R: "spline fit is singular"
        nan = np.full(n_points, np.nan)
        return pd.DataFrame({"x": grid, "estimate": nan, "lower": nan, "upper": nan})
    coef, *_ = np.linalg.lstsq(B, y[keep], rcond=None)
    fit = P @ coef
    h = np.einsum("ij,jk,ik->i", P, np.linalg.pinv(B.T @ B), P)
    half = 2 * np.sqrt(zph.var[j, j] * h)
    return pd.DataFrame({"x": grid, "estimate": fit, "lower": fit - half, "upper": fit + half})
