"""Performance of a predicted cumulative incidence when death can come first.

A competing-risks prediction gives each patient a risk F_i(t) of the event of
interest (progression) by ``t``; death without progression is a competing event.
The measures follow R ``riskRegression::Score(..., cause = 1, cens.model = "km")``
(Blanche et al., Stat Med 2013; Gerds & Kattan, *Medical Risk Prediction Models*,
2021), with G the Kaplan-Meier estimate of the censoring distribution:

* the Brier score, ``mean_i w_i (I(T_i <= t, cause 1) - F_i(t))^2``, weights
  ``1/G(T_i-)`` for any event by ``t`` (progression or death first), ``1/G(t)``
  for patients event-free at ``t`` and 0 for those censored before ``t``; the
  index of prediction accuracy against the null model that predicts everyone the
  Aalen-Johansen cumulative incidence of the cohort;
* the cause-specific time-dependent AUC: cases progressed by ``t`` (weight
  ``1/G(T_i-)``), controls event-free at ``t`` (``1/G(t)``) or dead without
  progression by ``t`` (``1/G(T_j-)``), the weighted share of case-control pairs
  ranked right (ties 1/2) - Blanche's definition 2;
* observed/expected: the Aalen-Johansen cumulative incidence at ``t`` over the
  mean predicted risk, its CI from the infinitesimal-jackknife SE on the log scale.

Per centre, O/E (which has a standard error) is pooled by random effects on the
log scale as the survival measures are; AUC, Brier and IPA are reported per centre.

Where ``Score(cause = 1)`` estimates nothing, nothing is reported, and the ``note``
says why (:func:`not_estimable`): past the last follow-up time (Score: "Results at
evaluation time(s) beyond this time point are not computed") and in patients none of
whom progressed (Score: "Requested cause: 1. Available causes: ..."). A centre with
O/E = 0 (no progression by the horizon) has no log O/E and stays out of the pooling,
which says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..survival import competing_risks as cr
from ..survival import kaplan_meier
from ..survival.distributions import norm_ppf
from .external import random_effects

SCORE_METHOD = "IPCW, cause = 1 (riskRegression::Score, cens.model = 'km')"
CR_OE_METHOD = ("Aalen-Johansen cumulative incidence at h over the mean predicted risk; "
                "CI from its infinitesimal-jackknife SE on the log scale")


def not_estimable(time, cause, horizon: float) -> str:
    """Why ``Score(cause = 1)`` estimates nothing at ``horizon`` in these patients ("" if it does).

    R ``riskRegression::Score`` refuses data in which cause 1 never occurs
    ("Requested cause: 1. Available causes: ...") and computes nothing at a time
    past the last follow-up time ("Upper limit of followup is ...; results at
    evaluation time(s) beyond this time point are not computed"). At the last time
    itself it does compute.

    Examples
    --------
    >>> from netpet_stats.validation.competing import not_estimable
    >>> not_estimable([1, 2, 3], [1, 0, 2], 3.0)
    ''
    >>> not_estimable([1, 2, 3], [1, 0, 2], 5.0)
    'not estimable: no one is followed to 5 (last follow-up 3); R Score() computes nothing past it'
    >>> not_estimable([1, 2, 3], [0, 2, 2], 2.0)
    'not estimable: no one progressed; R Score(cause = 1) refuses ("Requested cause: 1")'
    """
    time, cause = np.asarray(time, float), np.asarray(cause, int)
    if time.size == 0:
        return "not estimable: no patients"
    if not (cause == 1).any():
        return ('not estimable: no one progressed; R Score(cause = 1) refuses '
                '("Requested cause: 1")')
    last = float(time.max())
    if horizon > last:
        return (f"not estimable: no one is followed to {horizon:g} (last follow-up {last:g}); "
                "R Score() computes nothing past it")
    return ""


def _weights(time, cause, horizon):
    """Score's IPCW weights at ``horizon`` and who is a case, a competitor, event-free."""
    time, cause = np.asarray(time, float), np.asarray(cause, int)
    G = kaplan_meier.censoring_survival(time, (cause > 0).astype(float))
    by = time <= horizon
    case = by & (cause == 1)
    other = by & (cause > 1)
    free = ~by
    w = np.zeros(time.size)
    ev = case | other
    w[ev] = 1.0 / G(time[ev], left=True)        # G(T-) > 0: the patient was at risk
    if free.any():                              # G(horizon) > 0 while anyone is followed on
        w[free] = 1.0 / G(horizon)
    return w, case, other, free


def cr_brier_score(time, cause, predicted_risk, horizon: float, *, aj=None) -> dict:
    """IPCW Brier score of a predicted cumulative incidence of cause 1, with the IPA.

    Parameters
    ----------
    time, cause
        Follow-up and cause (0 censored, 1 the event of interest, 2, ... competing).
    predicted_risk
        Each patient's predicted F(horizon).
    aj
        ``aalen_johansen(time, cause)`` when the caller has it (several horizons).

    Returns
    -------
    dict
        ``brier``, ``brier_null`` (everyone predicted the Aalen-Johansen estimate)
        and ``ipa`` = 1 - brier / brier_null; all NaN where Score estimates nothing
        (:func:`not_estimable`: past the last follow-up, or no one progressed), with
        the reason in ``note``. ``ipa`` is NaN where the null model's Brier score is
        0 (no progression by the horizon; R reports -Inf).

    Examples
    --------
    >>> from netpet_stats.validation.competing import cr_brier_score
    >>> res = cr_brier_score([1, 2, 3, 4, 5, 6], [1, 2, 0, 1, 0, 0],
    ...                      [0.6, 0.2, 0.3, 0.5, 0.1, 0.2], 4.5)
    >>> round(res["brier"], 4)  # by hand: (0.4² + 0.2² + 4/3 (0.5² + 0.1² + 0.2²)) / 6
    0.1
    """
    time, cause = np.asarray(time, float), np.asarray(cause, int)
    F = np.asarray(predicted_risk, float)
    why = not_estimable(time, cause, horizon)
    if why:
        return {"horizon": horizon, "brier": np.nan, "brier_null": np.nan, "ipa": np.nan,
                "note": why}
    w, case, _, _ = _weights(time, cause, horizon)
    y = case.astype(float)
    table = cr.aalen_johansen(time, cause) if aj is None else aj
    null_value = cr.cumulative_incidence_at(table[table.state == "1"], [horizon])
    f0 = float(null_value["estimate"].iloc[0])
    model = float(np.mean(w * (y - F) ** 2))
    null = float(np.mean(w * (y - f0) ** 2))
    if null > 0:
        return {"horizon": horizon, "brier": model, "brier_null": null,
                "ipa": 1 - model / null, "note": ""}
    return {"horizon": horizon, "brier": model, "brier_null": null, "ipa": np.nan,
            "note": f"IPA not estimable: no progression by {horizon:g}, so the null model's "
                    "Brier score is 0 (R reports -Inf)"}


def cr_time_dependent_auc(time, cause, predicted_risk, horizon: float) -> float:
    """Cause-specific cumulative/dynamic AUC at ``horizon`` (Blanche et al. 2013, def. 2).

    NaN where Score estimates nothing (:func:`not_estimable`), where no one
    progressed by the horizon (no case; R: NaN) and where there is no control.

    Examples
    --------
    >>> from netpet_stats.validation.competing import cr_time_dependent_auc
    >>> cr_time_dependent_auc([1, 2, 3, 4, 5, 6], [1, 2, 0, 1, 0, 0],
    ...                       [0.6, 0.2, 0.3, 0.5, 0.1, 0.2], 4.5)
    1.0
    """
    time, cause = np.asarray(time, float), np.asarray(cause, int)
    F = np.asarray(predicted_risk, float)
    if not_estimable(time, cause, horizon):
        return float("nan")
    w, case, other, free = _weights(time, cause, horizon)
    control = other | free
    if not case.any() or not control.any():
        return float("nan")
    order = np.argsort(F[control], kind="stable")
    fk, wk = F[control][order], w[control][order]
    cum = np.concatenate([[0.0], np.cumsum(wk)])
    below = cum[np.searchsorted(fk, F[case], side="left")]
    upto = cum[np.searchsorted(fk, F[case], side="right")]
    score = below + 0.5 * (upto - below)
    return float(np.sum(w[case] * score) / (np.sum(w[case]) * cum[-1]))


def cr_observed_expected(time, cause, predicted_risk, horizon: float,
                         conf_level: float = 0.95, *, aj=None) -> dict:
    """Observed (Aalen-Johansen) over expected (mean predicted) cumulative incidence.

    ``aj``: ``aalen_johansen(time, cause)`` when the caller has it (several horizons).

    Past the last follow-up time the Aalen-Johansen estimate is not defined (R
    ``summary(survfit(...), times = h)`` drops such a time): O/E is NaN there, and
    where the mean predicted risk is 0. Where no one progressed by the horizon, O/E
    is 0 and has no log-scale SE (``se_log`` NaN). ``note`` says which.

    Examples
    --------
    >>> from netpet_stats.validation.competing import cr_observed_expected
    >>> res = cr_observed_expected([1, 2, 3, 4, 5, 6], [1, 2, 0, 1, 0, 0],
    ...                            [0.6, 0.2, 0.3, 0.5, 0.1, 0.2], 4.5)
    >>> round(res["observed"], 4), round(res["expected"], 4)  # 1/6 + 4/6 * 1/3; 1.9/6
    (0.3889, 0.3167)
    """
    time, cause = np.asarray(time, float), np.asarray(cause, int)
    expected = float(np.mean(np.asarray(predicted_risk, float)))
    none = {"estimate": np.nan, "lower": np.nan, "upper": np.nan, "se_log": np.nan,
            "observed": np.nan, "expected": expected, "horizon": horizon,
            "method": CR_OE_METHOD}
    if time.size == 0 or horizon > time.max():
        last = f" (last follow-up {time.max():g})" if time.size else ""
        return {**none, "note": f"not estimable: no one is followed to {horizon:g}{last}"}
    if not expected > 0:
        return {**none, "note": "not estimable: the mean predicted risk is 0"}
    if (cause == 1).any():
        table = cr.aalen_johansen(time, cause) if aj is None else aj
        at = cr.cumulative_incidence_at(table[table.state == "1"], [horizon])
        observed, se = float(at["estimate"].iloc[0]), float(at["std_err"].iloc[0])
    else:
        observed, se = 0.0, 0.0
    ratio = observed / expected
    z = norm_ppf(1 - (1 - conf_level) / 2)
    if observed > 0:
        se_log = se / observed
        lower, upper, note = ratio * np.exp(-z * se_log), ratio * np.exp(z * se_log), ""
    else:
        se_log = lower = upper = np.nan
        note = (f"O/E = 0: no progression by {horizon:g}; no log-scale SE or CI, "
                "so left out of any pooling on the log scale")
    return {"estimate": ratio, "lower": lower, "upper": upper, "se_log": se_log,
            "observed": observed, "expected": expected, "horizon": horizon,
            "method": CR_OE_METHOD, "note": note}


def cr_performance(time, cause, predicted_risk: dict, centre=None) -> pd.DataFrame:
    """AUC, Brier, IPA and O/E at each horizon, overall or per centre and pooled.

    Parameters
    ----------
    predicted_risk
        ``{horizon: array of predicted F(horizon)}``.
    centre
        Optional centre per patient: then one block of rows per centre, and O/E
        pooled by random effects on the log scale (DerSimonian-Laird, with its
        prediction interval), as the survival measures are.

    Returns
    -------
    pandas.DataFrame
        ``centre``, ``horizon``, ``measure``, ``estimate``, ``lower``, ``upper``,
        ``n``, ``events`` (of cause 1), ``competing``, ``method``, ``note`` (why a
        value is empty, or why a centre stays out of the pooling); pooled rows add
        ``pi_lower``, ``pi_upper``, ``tau2``, ``i2``, ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> from netpet_stats.validation.competing import cr_performance
    >>> t, c = [1, 2, 3, 4, 5, 6], [1, 2, 0, 1, 0, 0]
    >>> res = cr_performance(t, c, {4.5: np.array([0.6, 0.2, 0.3, 0.5, 0.1, 0.2])})
    >>> res["measure"].tolist()
    ['time-dependent AUC', 'Brier score', 'IPA', 'O/E']
    """
    time, cause = np.asarray(time, float), np.asarray(cause, int)
    by_centre = centre is not None
    centre = (np.full(time.size, "all", dtype=object) if centre is None
              else np.asarray(centre, dtype=object))
    rows = []
    for c in sorted(pd.unique(centre), key=str):
        m = centre == c
        t, k = time[m], cause[m]
        base = {"centre": c, "n": int(m.sum()), "events": int((k == 1).sum()),
                "competing": int((k > 1).sum())}
        aj = None         # the centre's Aalen-Johansen table, one for all horizons
        for h, risk in predicted_risk.items():
            F = np.asarray(risk, float)[m]
            why = not_estimable(t, k, h)
            auc = cr_time_dependent_auc(t, k, F, h)
            if aj is None and (k == 1).any() and h <= t.max():
                # the Brier score's null model and O/E both read it (only then)
                aj = cr.aalen_johansen(t, k)
            bs = cr_brier_score(t, k, F, h, aj=aj)
            oe = cr_observed_expected(t, k, F, h, aj=aj)
            auc_note = why or ("" if np.isfinite(auc) else
                               f"not estimable: no progression by {h:g}"
                               if not ((t <= h) & (k == 1)).any() else
                               f"not estimable: no control (no one event-free at {h:g} "
                               "or dead first by then)")
            rows += [
                {**base, "horizon": h, "measure": "time-dependent AUC", "estimate": auc,
                 "method": SCORE_METHOD, "note": auc_note},
                {**base, "horizon": h, "measure": "Brier score", "estimate": bs["brier"],
                 "method": SCORE_METHOD, "note": why},
                {**base, "horizon": h, "measure": "IPA", "estimate": bs["ipa"],
                 "method": SCORE_METHOD + "; null model: Aalen-Johansen", "note": bs["note"]},
                {**base, "horizon": h, "measure": "O/E", "estimate": oe["estimate"],
                 "lower": oe["lower"], "upper": oe["upper"], "se_log": oe["se_log"],
                 "method": CR_OE_METHOD, "note": oe["note"]}]
    frame = pd.DataFrame(rows)
    for col in ("lower", "upper", "se_log"):
        if col not in frame:
            frame[col] = np.nan
    pooled = []
    if by_centre and len(pd.unique(centre)) > 1:
        for h in predicted_risk:
            sub = frame[(frame["measure"] == "O/E") & (frame["horizon"] == h)]
            usable = (np.isfinite(sub["se_log"]) & (sub["se_log"] > 0)
                      & np.isfinite(sub["estimate"]) & (sub["estimate"] > 0))
            out_of_pool = "; ".join(
                f"{r.centre}: " + (r.note or "O/E has no log-scale standard error")
                for r in sub[~usable].itertuples())
            left = f"Left out of the pooling: {out_of_pool}." if out_of_pool else ""
            sub = sub[usable]
            if len(sub) < 2:
                pooled.append({
                    "centre": "pooled (random effects)", "horizon": h, "measure": "O/E",
                    "estimate": np.nan, "k": len(sub), "n": int(sub["n"].sum()),
                    "events": int(sub["events"].sum()),
                    "competing": int(sub["competing"].sum()),
                    "method": "DerSimonian-Laird random effects, on log O/E",
                    "note": " ".join(["not pooled: fewer than two centres with a log O/E.",
                                      left]).strip()})
                continue
            re = random_effects(np.log(sub["estimate"]), sub["se_log"])
            pooled.append({
                "centre": "pooled (random effects)", "horizon": h, "measure": "O/E",
                "estimate": np.exp(re["estimate"]), "lower": np.exp(re["lower"]),
                "upper": np.exp(re["upper"]),
                "pi_lower": np.exp(re["pi_lower"]) if np.isfinite(re["pi_lower"]) else np.nan,
                "pi_upper": np.exp(re["pi_upper"]) if np.isfinite(re["pi_upper"]) else np.nan,
                "tau2": re["tau2"], "i2": re["i2"], "k": re["k"], "n": int(sub["n"].sum()),
                "events": int(sub["events"].sum()), "competing": int(sub["competing"].sum()),
                "method": re["method"] + ", on log O/E", "note": left})
    out = pd.concat([frame.drop(columns="se_log"), pd.DataFrame(pooled)], ignore_index=True)
    lead = ["centre", "horizon", "measure", "estimate", "lower", "upper"]
    return out[lead + [c for c in out.columns if c not in lead]]


# --------------------------------------------------------------------------------------
# A frozen Fine-Gray model
# --------------------------------------------------------------------------------------

#: ``kind`` of a frozen Fine-Gray model file. Its ``baseline_survival`` holds
#: exp(-H0(h)), the baseline probability of *not* having had the event of interest
#: by h, so that :func:`netpet_stats.validation.frozen_model.predict_survival` gives
#: 1 - F(h | x) and the file reads as any frozen model.
FINE_GRAY_KIND = "fine_gray"


def freeze_fine_gray(time, cause, design: pd.DataFrame, coding: dict, horizons, *, name: str,
                     event: str, competing: str, time_unit: str = "months",
                     provenance: dict | None = None) -> dict:
    """Fit a Fine-Gray model of cause 1 and describe it as plain data.

    Parameters
    ----------
    design
        The coded design (:func:`netpet_stats.survival.cox.design_matrix`).
    coding
        Covariate coding per term, categorical levels as fitted (reference first).
    horizons
        Times at which the baseline cumulative subdistribution hazard is stored;
        none may lie beyond the last follow-up.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats.validation.competing import freeze_fine_gray, predict_risk
    >>> d = pd.DataFrame({"x": [1.0, 0, 1, 0, 0, 1]})
    >>> m = freeze_fine_gray([1, 2, 3, 4, 5, 6], [1, 2, 1, 0, 1, 2], d, {"x": {"type": "continuous"}},
    ...                      [3.5], name="x", event="progression", competing="death")
    >>> round(float(predict_risk(m, pd.DataFrame({"x": [0.0]}), 3.5).iloc[0]), 4)  # 1 - exp(-0.2072)
    0.1871
    """
    from .frozen_model import FreezeError, MODEL_FORMAT

    time, cause = np.asarray(time, float), np.asarray(cause, int)
    last = float(time.max())
    beyond = [h for h in horizons if float(h) > last]
    if beyond:
        raise FreezeError(f"Fine-Gray model {name!r}: horizon(s) {beyond} lie beyond the last "
                          f"follow-up ({last:g}); choose horizons within the development "
                          "follow-up")
    X = design.to_numpy(float)
    fit = cr.fine_gray(time, cause, X, 1, names=list(design.columns))
    base = cr.fine_gray_baseline(time, cause, X, fit.beta, at=[float(h) for h in horizons])
    return {
        "netpet_stats_model": MODEL_FORMAT,
        "kind": FINE_GRAY_KIND,
        "name": name,
        "event": event,
        "competing_event": competing,
        "time_unit": time_unit,
        "covariates": coding,
        "coefficients": {c: float(b) for c, b in zip(design.columns, fit.beta)},
        "strata": None,
        "baseline_survival": {
            "horizons": [float(h) for h in horizons],
            "at": "x = 0; exp(-H0(h)), H0 the cumulative subdistribution hazard",
            "survival": {"all": [float(np.exp(-h)) for h in base["cumhaz"]]}},
        "development": {"n": fit.n, "events": fit.events, "competing": fit.competing},
        "method": cr.FG_METHOD,
        "provenance": provenance or {},
    }


def predict_risk(model: dict, data: pd.DataFrame, horizon: float) -> pd.Series:
    """Predicted cumulative incidence ``1 - exp(-H0(h) exp(x' beta))`` of a frozen model."""
    from .frozen_model import ModelMismatchError, predict_survival

    if model.get("kind") != FINE_GRAY_KIND:
        raise ModelMismatchError(f"model {model.get('name')!r} is not a frozen Fine-Gray model "
                                 f"(kind {model.get('kind', 'cox')!r})")
    return 1 - predict_survival(model, data, horizon)


def predict_risks(model: dict, data: pd.DataFrame, horizons) -> dict:
    """:func:`predict_risk` at each of ``horizons``, the linear predictor computed once.

    Returns
    -------
    dict
        horizon -> ndarray of predicted cumulative incidences, the same numbers as
        ``predict_risk(model, data, horizon).to_numpy()``.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats.validation.competing import freeze_fine_gray, predict_risks
    >>> d = pd.DataFrame({"x": [1.0, 0, 1, 0, 0, 1]})
    >>> m = freeze_fine_gray([1, 2, 3, 4, 5, 6], [1, 2, 1, 0, 1, 2], d, {"x": {"type": "continuous"}},
    ...                      [3.5, 5.0], name="x", event="progression", competing="death")
    >>> sorted(predict_risks(m, d, [3.5, 5.0]))
    [3.5, 5.0]
    """
    from .frozen_model import ModelMismatchError, linear_predictor, predict_survival

    if model.get("kind") != FINE_GRAY_KIND:
        raise ModelMismatchError(f"model {model.get('name')!r} is not a frozen Fine-Gray model "
                                 f"(kind {model.get('kind', 'cox')!r})")
    lp = linear_predictor(model, data)
    return {h: (1 - predict_survival(model, data, h, lp=lp)).to_numpy() for h in horizons}


def internal_external_risks(time, cause, X, centre, horizons) -> dict:
    """Out-of-centre predicted cumulative incidence, leaving one centre out.

    For each centre the Fine-Gray model is refitted on the other centres and its
    risks at ``horizons`` computed for the centre left out.

    Returns
    -------
    dict
        horizon -> ndarray of predicted risks (NaN where a refit failed).

    Examples
    --------
    >>> import numpy as np
    >>> from netpet_stats.validation.competing import internal_external_risks
    >>> rng = np.random.default_rng(2)
    >>> x = rng.normal(size=(90, 1))
    >>> t = rng.exponential(1.0, 90)
    >>> cause = rng.choice([0, 1, 2], 90)
    >>> risks = internal_external_risks(t, cause, x, np.repeat(["A", "B", "C"], 30), [0.5])
    >>> risks[0.5].shape, bool(np.isfinite(risks[0.5]).all())
    ((90,), True)
    """
    from ..survival.cox import CoxFitError

    time, cause = np.asarray(time, float), np.asarray(cause, int)
    X = np.asarray(X, float)
    centre = np.asarray(centre, dtype=object)
    risks = {float(h): np.full(time.size, np.nan) for h in horizons}
    for k in sorted(pd.unique(centre), key=str):
        out, train = centre == k, centre != k
        try:
            fit = cr.fine_gray(time[train], cause[train], X[train])
        except CoxFitError:
            continue                                  # left NaN: not estimable without it
        base = cr.fine_gray_baseline(time[train], cause[train], X[train], fit.beta,
                                     at=list(risks))
        lp = X[out] @ fit.beta
        for h, H0 in zip(risks, base["cumhaz"]):
            risks[h][out] = 1 - np.exp(-H0 * np.exp(lp))
    return risks
