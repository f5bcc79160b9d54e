"""Kaplan-Meier curves, medians, landmark survival, numbers at risk, follow-up
(part of rule survival_by_group)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..cohort.ledger import analysis_set
from ..config import competing_risks_settings
from ..report.tables import write_table
from ..survival import kaplan_meier
from ._common import endpoint_label, groups_of, risk_set_kw, risk_set_method, time_unit


def write_estimates(config: dict, data: pd.DataFrame, endpoint: str, out) -> None:
    """KM curves, medians, landmark survival, numbers at risk and follow-up by group.

    ``data`` is the analysis frame (:func:`._common.load_analysis`); ``out`` maps
    ``curves, summary, landmarks, risk_table, follow_up`` to CSV paths.
    """
    km_cfg = config["kaplan_meier"]
    ct, cl = km_cfg["conf_type"], float(km_cfg["conf_level"])
    d = analysis_set(data, endpoint)
    method = kaplan_meier.method_text(ct, cl) + risk_set_method(d)
    tcol, ecol = f"{endpoint}_time", f"{endpoint}_event"
    curves, summary, landmarks, risk, follow = [], [], [], [], []
    cr = competing_risks_settings(config)
    progression = (cr is not None and endpoint == cr["progression"]
                   and "cr_status" in d.columns and d["cr_status"].notna().all())
    for g in groups_of(d) + ["all"]:
        sub = d if g == "all" else d[d["netpet_group"] == g]
        if len(sub) == 0:
            continue
        t, e = sub[tcol].to_numpy(), sub[ecol].to_numpy()
        kw = risk_set_kw(sub)   # delayed entry, case weights
        curve = kaplan_meier.km_table(t, e, ct, cl, **kw)
        q = kaplan_meier.km_quantiles(curve, (0.5,)).iloc[0]
        if g != "all":
            curves.append(curve.assign(group=g))
            lm = kaplan_meier.survival_at(curve, t, e, km_cfg["landmarks"], **kw)
            landmarks.append(lm.assign(group=g))
            risk.append(pd.DataFrame({"group": g, "time": km_cfg["risk_table_times"],
                                      "n_risk": kaplan_meier.numbers_at_risk(
                                          t, km_cfg["risk_table_times"],
                                          **_only(kw, "entry"))}))
        summary.append({"group": g, "n": len(sub), "events": int(e.sum()),
                        "median": q["quantile"], "median_lower": q["lower"],
                        "median_upper": q["upper"]})
        fu = kaplan_meier.reverse_km_follow_up(*_follow_up_data(sub, t, e, progression),
                                               ct, cl, **kw)
        follow.append({"group": g, "n": fu["n"], "n_censored": fu["n_censored"],
                       "median_follow_up": fu["median_follow_up"], "lower": fu["lower"],
                       "upper": fu["upper"]})
    unit = time_unit(config, endpoint)
    label = endpoint_label(config, endpoint)
    entered = "entry_time" in d.columns
    curves_df = pd.concat(curves, ignore_index=True)
    curves_df = curves_df[["group", *[c for c in curves_df.columns if c != "group"]]]
    # R survfit()$std.err: the SE of the cumulative hazard (-log S), infinite where S
    # reaches 0; left empty there (not estimable) rather than written as "inf".
    curves_df = curves_df.rename(columns={"std_err": "se_cumhaz"})
    curves_df["se_cumhaz"] = curves_df["se_cumhaz"].where(np.isfinite(curves_df["se_cumhaz"]))
    write_table(curves_df.assign(method=method), out["curves"], f"{label}: Kaplan-Meier curves",
                "se_cumhaz: standard error of the cumulative hazard -log S (R survfit()$std.err), "
                "empty where S = 0.")
    note = (f"{method}. Median: R quantile.survfit rule (midpoint of a flat at exactly 0.5); "
            f"its CI is read off the pointwise confidence curves. Times in {unit}. "
            "A missing median or limit means the curve did not reach 0.5.")
    write_table(pd.DataFrame(summary).assign(method=method), out["summary"],
                f"{label}: medians by NETPET group", note)
    lm_df = pd.concat(landmarks, ignore_index=True)
    lm_df = lm_df[["group", *[c for c in lm_df.columns if c != "group"]]]
    lm_df = lm_df.rename(columns={"std_err": "se_surv"})  # R summary.survfit()$std.err
    write_table(lm_df.assign(method=method), out["landmarks"],
                f"{label}: survival at landmark times",
                f"{method}. se_surv: standard error of S (R summary.survfit()$std.err). "
                f"n_risk counts subjects {AT_RISK[entered]} (R summary.survfit); "
                "estimates past the last observation are left empty.")
    write_table(pd.concat(risk, ignore_index=True), out["risk_table"],
                f"{label}: numbers at risk", f"Subjects {AT_RISK[entered]}.")
    write_table(pd.DataFrame(follow).assign(method=FOLLOW_UP_METHODS[progression]),
                out["follow_up"], f"{label}: median follow-up")


#: Who is at risk at t: followed to t at least, and, with delayed entry, R's convention
#: (summary.survfit(fit, times = t)$n.risk, as risk tables drawn from R print): the risk
#: set at the first exit time u at or after t, entry < u <= time, so that a patient who
#: enters between t and u is counted.
AT_RISK = {False: "with follow-up time >= t",
           True: "in the risk set at the first exit time u at or after t (delayed entry: "
                 "entry < u <= time, as R summary.survfit(fit, times = t); a patient "
                 "entering between t and u is counted)"}


#: How follow-up is estimated: on the endpoint's own clock, or, for progression with
#: death competing, on the progression clock with death as an event too (a death ends
#: follow-up; it is not a loss to follow-up).
FOLLOW_UP_METHODS = {
    False: "reverse Kaplan-Meier (Schemper & Smith 1996): quantile(survfit(Surv(time, "
           "1 - event) ~ 1), 0.5)",
    True: "reverse Kaplan-Meier (Schemper & Smith 1996) on the progression clock with death "
          "before progression counted as an event, not as a censoring: only patients alive "
          "and progression-free are censored (quantile(survfit(Surv(time, status == 0) ~ 1), "
          "0.5))",
}


def _only(kw: dict, *names: str) -> dict:
    """The keywords among ``names`` (the number at risk counts patients, not weights)."""
    return {k: v for k, v in kw.items() if k in names}


def _follow_up_data(sub: pd.DataFrame, t, e, progression: bool):
    """Times and events whose reverse KM is the follow-up (see FOLLOW_UP_METHODS)."""
    if not progression:
        return t, e
    return sub["cr_time"].to_numpy(), (sub["cr_status"].to_numpy() != 0).astype(float)


