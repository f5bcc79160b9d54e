"""Rule competing_risks: progression with death before progression as a competing event.

Tables (``results/competing_risks/``): the patients in each state by group; the
Aalen-Johansen cumulative incidence of progression and of death without
progression, with the naive 1 - Kaplan-Meier beside it at the horizons; numbers
at risk; Gray's test; cause-specific Cox and Fine-Gray models with the
covariates of the configured Cox models.

With delayed entry (an ``entry_time`` column: each patient at risk from entry on)
or case weights (a ``weight`` column), the estimators defined for such data take
them: the Aalen-Johansen estimate as R ``survfit(Surv(entry, time, factor(status))
~ group, id =, weights =)``, the naive 1 - Kaplan-Meier and the cause-specific Cox
models as ``survfit`` and ``coxph`` on ``Surv(entry, time, status == k)``. Gray's
test and the Fine-Gray model, which R defines only for right-censored unweighted
data, are not computed: their rows say why (:func:`not_computed`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..cohort.competing import STATE_NAMES
from ..config import competing_risks_settings, model_specs
from ..report.tables import suppress_counts, write_table
from ..survival import competing_risks as cr
from ..survival import cox, kaplan_meier
from ..validation import competing as crv
from ..validation import frozen_model
from ._common import (endpoint_label, groups_of, load_analysis, privacy, risk_set_columns,
                      risk_set_kw, risk_set_method)
from .kaplan_meier import AT_RISK

PROGRESSION, DEATH = STATE_NAMES[1], STATE_NAMES[2]
CAUSES = {1: PROGRESSION, 2: DEATH}
CS_METHOD = ("cause-specific Cox: Efron ties, the other event censoring (R coxph(Surv(time, "
             "status == k) ~ ...)); model-based SE")


def cs_method(d: pd.DataFrame) -> str:
    """What the cause-specific models are, with the cohort's delayed entry and case weights."""
    if "weight" not in d.columns:
        return CS_METHOD + risk_set_method(d)
    return (CS_METHOD.replace("; model-based SE", "; robust SE (each patient a cluster) where "
                              "the weights are not whole numbers, as R coxph")
            + risk_set_method(d))


def analysis_frame(config: dict, analysis: str) -> pd.DataFrame:
    """Patients with a NETPET group and a known state (the ``competing_risks`` analysis),
    and their entry time and case weight where the cohort has them (the exclusion
    ledger lists the rows without)."""
    data = load_analysis(analysis, config)
    extra = [c for c in ("entry_time", "weight") if c in data.columns]
    return data.dropna(subset=["netpet_group", "cr_time", "cr_status", *extra])


def not_computed(d: pd.DataFrame) -> dict[str, str]:
    """Why Gray's test and the Fine-Gray model are not computed on these rows.

    Empty for right-censored unweighted rows. With delayed entry or case weights,
    ``{"gray": reason, "fine_gray": reason}``: Gray's test is R ``cmprsk::cuminc``,
    which takes neither; the Fine-Gray model is R ``cmprsk::crr`` (equivalently
    ``survival::finegray`` + ``coxph``), whose censoring weights assume every patient
    at risk from time zero (``finegray``: "not (currently) delayed entry") and which
    here takes no case weights. Neither is computed as if the rows had no entry or
    weights, which would give a wrong number.
    """
    entered, weighted = "entry_time" in d.columns, "weight" in d.columns
    if not (entered or weighted):
        return {}
    what = " and ".join((["delayed entry (left truncation)"] if entered else [])
                        + (["case weights"] if weighted else []))
    gray = (f"not computed: the cohort has {what}; Gray's test (R cmprsk::cuminc) takes "
            "neither, and no test of equal cumulative incidence for such data is "
            "implemented here")
    fine_gray = (f"not computed: the cohort has {what}; the Fine-Gray model (R cmprsk::crr, "
                 "survival::finegray + coxph) "
                 + ("weights the censoring distribution as if every patient were at risk "
                    "from time zero (finegray takes no delayed entry)" if entered else
                    "is implemented here as cmprsk::crr, which takes no case weights")
                 + "; the cause-specific Cox model takes them")
    return {"gray": gray, "fine_gray": fine_gray}


def state_counts(d: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """Patients per group and state, with the share who died before progression."""
    rows = []
    for g in groups + ["all"]:
        sub = d if g == "all" else d[d["netpet_group"] == g]
        n = len(sub)
        for code, state in STATE_NAMES.items():
            k = int((sub["cr_status"] == code).sum())
            rows.append({"group": g, "state": state, "n": k,
                         "percent": 100.0 * k / n if n else np.nan, "group_n": n})
    return pd.DataFrame(rows)


def incidence_at_horizons(d: pd.DataFrame, groups: list[str], table: pd.DataFrame,
                          horizons: list[float], conf_type: str, conf_level: float
                          ) -> pd.DataFrame:
    """Cumulative incidence at the horizons, with 1 - Kaplan-Meier beside progression.

    The naive estimate treats death before progression as censoring (R
    ``1 - survfit(Surv(time, status == 1) ~ group)``, with ``Surv(entry, time, ...)``
    and ``weights =`` where the cohort has them); it estimates the risk in a
    world where nobody dies, and exceeds the cumulative incidence by about the
    probability of dying first.
    """
    at = cr.cumulative_incidence_at(table[table.state != cr.EVENT_FREE], horizons)
    naive = []
    for g in groups:
        sub = d[d["netpet_group"] == g]
        if len(sub) == 0:
            continue
        t, e = sub["cr_time"].to_numpy(), (sub["cr_status"] == 1).to_numpy(float)
        kw = risk_set_kw(sub)     # delayed entry, case weights
        curve = kaplan_meier.km_table(t, e, conf_type, conf_level, **kw)
        lm = kaplan_meier.survival_at(curve, t, e, horizons, **kw)
        for h, s, lo, hi in zip(lm["time"], lm["surv"], lm["lower"], lm["upper"]):
            naive.append({"group": g, "state": PROGRESSION, "time": h, "one_minus_km": 1 - s,
                          "one_minus_km_lower": 1 - hi, "one_minus_km_upper": 1 - lo})
    out = at.merge(pd.DataFrame(naive), on=["group", "state", "time"], how="left")
    last = table.groupby(["group", "state"])["time"].max()
    beyond = [last.get((g, s), -np.inf) < h for g, s, h in zip(out.group, out.state, out.time)]
    out.loc[beyond, ["estimate", "std_err", "lower", "upper"]] = np.nan   # past the data
    out["difference"] = out["one_minus_km"] - out["estimate"]
    return out


def naive_curves(d: pd.DataFrame, groups: list[str], conf_type: str, conf_level: float
                 ) -> pd.DataFrame:
    """1 - Kaplan-Meier of progression by group, deaths before progression censored
    (with delayed entry and case weights where the cohort has them)."""
    frames = []
    for g in groups:
        sub = d[d["netpet_group"] == g]
        curve = kaplan_meier.km_table(sub["cr_time"], (sub["cr_status"] == 1).astype(float),
                                      conf_type, conf_level, **risk_set_kw(sub))
        frames.append(pd.DataFrame({
            "group": g, "time": curve["time"], "n_risk": curve["n_risk"],
            "one_minus_km": 1 - curve["surv"], "lower": 1 - curve["upper"],
            "upper": 1 - curve["lower"]}))
    return pd.concat(frames, ignore_index=True)


def risk_table(d: pd.DataFrame, groups: list[str], times: list[float]) -> pd.DataFrame:
    """Patients still event-free and under follow-up at each time, as R
    ``summary(survfit(...), times = t, extend = TRUE)$n.risk`` of the event-free state:
    time >= t; with delayed entry, the risk set at the first exit time at or after t
    (``entry < u <= time``). Patients, not weights, as R's multi-state ``survfit``."""
    rows = []
    for g in groups:
        sub = d[d["netpet_group"] == g]
        entry = sub["entry_time"].to_numpy(float) if "entry_time" in sub.columns else None
        counts = kaplan_meier.numbers_at_risk(sub["cr_time"].to_numpy(float), times, entry)
        rows += [{"group": g, "time": x, "n_risk": k} for x, k in zip(times, counts)]
    return pd.DataFrame(rows)


def gray_tests(d: pd.DataFrame, strata: str | None) -> pd.DataFrame:
    """Gray's test per cause across the NETPET groups present (a row saying why not,
    with delayed entry or case weights: :func:`not_computed`)."""
    present = d["netpet_group"].astype(str)
    why = not_computed(d).get("gray")
    rows = []
    for code, state in CAUSES.items():
        if why:
            rows.append({"cause": state, "statistic": np.nan, "df": np.nan, "p": np.nan,
                         "strata": strata or "", "note": why})
            continue
        if present.nunique() < 2 or not (d["cr_status"] == code).any():
            rows.append({"cause": state, "statistic": np.nan, "df": np.nan, "p": np.nan,
                         "strata": strata or "", "note": "not estimable: fewer than two "
                         "groups, or no such event"})
            continue
        res = cr.gray_test(d["cr_time"], d["cr_status"], present, code,
                           None if strata is None else d[strata])
        rows.append({"cause": state, "statistic": res.statistic, "df": res.df,
                     "p": res.p_value, "strata": strata or "",
                     "note": "" if np.isfinite(res.statistic) else
                     "variance singular (R cuminc reports -1)"})
    return pd.DataFrame(rows).assign(method=cr.GRAY_METHOD)


def _fine_gray_rows(d: pd.DataFrame, spec: dict, config: dict, cause: int) -> pd.DataFrame:
    X, terms = cox.design_matrix(d, spec["covariates"], config["covariates"])
    strata = cox.stratum_labels(d, spec["strata"]) if spec["strata"] else None
    fit = cr.fine_gray(d["cr_time"], d["cr_status"], X.to_numpy(), cause, strata,
                       list(X.columns), float(config["cox"]["conf_level"]))
    coef = fit.coefficients.set_index("term")
    rows = []
    for term in terms:
        for col, level in zip(term.columns, term.levels):
            r = coef.loc[col]
            rows.append({"term": term.name, "term_label": term.label, "level": level,
                         "reference": term.reference, "coef": r.coef, "se": r.se_robust,
                         "se_type": "robust", "hr": r.hr, "hr_lower": r.lower,
                         "hr_upper": r.upper, "p": r.p, "n": fit.n, "events": fit.events,
                         "note": r.note})
    return pd.DataFrame(rows)


def _cause_specific_rows(d: pd.DataFrame, spec: dict, config: dict, cause: int
                         ) -> pd.DataFrame:
    frame = d.assign(cs_time=d["cr_time"], cs_event=(d["cr_status"] == cause).astype(float))
    fit = cox.fit_cox(frame, "cs_time", "cs_event", spec["covariates"], spec["strata"],
                      config["covariates"], float(config["cox"]["conf_level"]),
                      **risk_set_columns(frame))     # delayed entry, case weights
    c = fit.coefficients
    if "robust_se" in c and c["robust_se"].notna().any():
        # weights that are not whole numbers: R's coxph reports the robust variance (each
        # patient a cluster), and summary(coxph)'s CI and p use it
        return pd.DataFrame({
            "term": c.term, "term_label": c.term_label, "level": c.level,
            "reference": c.reference, "coef": c.coef, "se": c.robust_se,
            "se_type": "robust", "hr": c.hr, "hr_lower": c.robust_hr_lower,
            "hr_upper": c.robust_hr_upper, "p": c.robust_p, "n": c.n, "events": c.events,
            "note": c.note})
    return pd.DataFrame({
        "term": c.term, "term_label": c.term_label, "level": c.level, "reference": c.reference,
        "coef": c.coef, "se": c.se, "se_type": "model-based", "hr": c.hr,
        "hr_lower": c.hr_lower, "hr_upper": c.hr_upper, "p": c.p, "n": c.n,
        "events": c.events, "note": c.note})


def model_table(d: pd.DataFrame, config: dict, models: list[str]) -> pd.DataFrame:
    """Cause-specific Cox and Fine-Gray coefficients of each model, for both events.

    With delayed entry or case weights the cause-specific models take them and the
    Fine-Gray model is one row saying why it is not computed (:func:`not_computed`).
    """
    specs = model_specs(config)
    skip_fine_gray = not_computed(d).get("fine_gray")
    cs_text = cs_method(d)
    frames = []
    for name in models:
        spec = specs[name]
        dm = d.dropna(subset=[*spec["covariates"], *spec["strata"]])
        meta = {"model": name, "model_label": spec["label"], "strata": ", ".join(spec["strata"])}
        for code, state in CAUSES.items():
            for approach, fitter, method in (
                    ("cause-specific hazard", _cause_specific_rows, cs_text),
                    ("subdistribution hazard (Fine-Gray)", _fine_gray_rows, cr.FG_METHOD)):
                why = None if (dm["cr_status"] == code).any() else f"no patient {state}"
                if fitter is _fine_gray_rows and skip_fine_gray:
                    why = skip_fine_gray
                if why is None:
                    try:
                        with warnings.catch_warnings():   # flagged in the table's note
                            warnings.simplefilter("ignore", cox.CoxConvergenceWarning)
                            rows = fitter(dm, spec, config, code)
                    except cox.CoxFitError as exc:
                        why = f"not estimable ({exc})"
                if why is not None:       # said in the table, not a failed run
                    rows = pd.DataFrame([{"term": "(model)", "note": why}])
                frames.append(rows.assign(approach=approach, event=state, method=method,
                                          **meta))
    out = pd.concat(frames, ignore_index=True)
    lead = ["model", "model_label", "strata", "approach", "event"]
    return out[lead + [c for c in out.columns if c not in lead]]


def run(config: dict, analysis: str, out) -> None:
    """Every competing-risks table; ``out`` maps the output names to CSV paths."""
    settings = competing_risks_settings(config)
    d = analysis_frame(config, analysis)
    groups = [g for g in groups_of(d) if (d["netpet_group"] == g).any()]
    km = config["kaplan_meier"]
    ct, cl = km["conf_type"], float(km["conf_level"])
    prog = endpoint_label(config, settings["progression"]).lower()
    unit = config["analysis_time_unit"]

    counts = state_counts(d, groups)
    suppress, threshold = privacy(config)
    if suppress:
        counts = suppress_counts(counts.drop(columns="percent"), "n", threshold,
                                 by=["group", "state"])
    write_table(counts, out["states"], "Progression, death without progression and censoring",
                f"State on the {prog} clock by the rule in the methods (the rows it had to "
                "decide are listed in results/cohort/warnings.csv). percent: of the group.")

    # delayed entry and case weights, where the cohort has them: the same risk sets in
    # every estimate defined for them; Gray's test and Fine-Gray say why they are not run
    kw, extra = risk_set_kw(d), risk_set_method(d)
    skipped = not_computed(d)
    aj_method = cr.AJ_METHOD + extra
    table = cr.aalen_johansen(d["cr_time"], d["cr_status"], d["netpet_group"].astype(str),
                              groups, CAUSES, ct, cl, **kw)
    table = table.assign(method=aj_method)
    write_table(table, out["curves"], "Cumulative incidence (Aalen-Johansen) by NETPET group",
                f"{aj_method}; {cl:.0%} pointwise CI on the {ct} scale. Times in {unit}."
                + (" n_risk, n_event, n_censor: patients, not weights (as R)." if "weights" in kw
                   else ""))
    write_table(naive_curves(d, groups, ct, cl), out["naive"],
                "Naive 1 - Kaplan-Meier of progression (deaths censored)",
                f"{kaplan_meier.method_text(ct, cl)}{extra}, of 1 - S(t), with death before "
                f"progression censored. Times in {unit}.")
    at = incidence_at_horizons(d, groups, table, settings["horizons"], ct, cl)
    write_table(at.assign(method=aj_method), out["horizons"],
                "Cumulative incidence at the horizons, with the naive 1 - Kaplan-Meier",
                "one_minus_km: 1 - Kaplan-Meier with death before progression censored "
                "(what a time-to-progression analysis reports); difference: how much it "
                "exceeds the cumulative incidence. Empty past a group's last follow-up.")
    write_table(risk_table(d, groups, km["risk_table_times"]), out["risk_table"],
                "Numbers at risk (event-free and under follow-up)",
                f"Patients {AT_RISK['entry_time' in d.columns]}, on the progression clock.")
    write_table(gray_tests(d, settings["gray_strata"]), out["gray"],
                "Gray's test of equal cumulative incidence across NETPET groups",
                (f"Gray's test {skipped['gray']}." if skipped else
                 f"{cr.GRAY_METHOD}, rho = 0"
                 + (f"; stratified by {settings['gray_strata']}" if settings["gray_strata"]
                    else "") + "."))
    write_table(model_table(d, config, settings["models"]), out["models"],
                "Cause-specific and subdistribution (Fine-Gray) hazard ratios",
                f"{cs_method(d)}. "
                + (f"Fine-Gray model {skipped['fine_gray']}." if skipped else
                   f"{cr.FG_METHOD}.") + " Complete cases per model.")


# --------------------------------------------------------------------------------------
# Validation of a competing-risks prediction (develop and validate modes)
# --------------------------------------------------------------------------------------

VALIDATION_NOTE = (
    "Predicted cumulative incidence of progression from a Fine-Gray model "
    "(1 - exp(-H0(h) exp(x'b))), death without progression competing. "
    f"{crv.SCORE_METHOD}: cause-specific time-dependent AUC (Blanche's definition 2), "
    "Brier score and IPA against the Aalen-Johansen null model; O/E: "
    f"{crv.CR_OE_METHOD}. O/E pooled across centres by random effects on the log scale. "
    "Where R's Score(cause = 1) estimates nothing (a horizon past a centre's last "
    "follow-up on the progression clock; a centre in which no one progressed) the value "
    "is left empty and the note column says why; a centre with O/E = 0 has no log O/E "
    "and stays out of the pooling, as the pooled row's note says.")


def _model_design(config: dict, d: pd.DataFrame):
    spec = model_specs(config)[config["validation"]["model"]]
    dm = d.dropna(subset=spec["covariates"]).reset_index(drop=True)
    X, terms = cox.design_matrix(dm, spec["covariates"], config["covariates"])
    return dm, X, terms


def run_freeze_fine_gray(config: dict, analysis: str, input_files: list[str], out) -> None:
    """Develop mode: freeze the Fine-Gray model of ``validation.model``'s covariates and
    assess it (apparent, and leaving one centre out)."""
    from ..provenance import sha256, software_versions
    from pathlib import Path

    vcfg = config["validation"]
    horizons = [float(h) for h in vcfg["horizons"]]
    d, X, terms = _model_design(config, analysis_frame(config, analysis))
    coding = frozen_model.term_coding(terms, config["covariates"])
    t, c = d["cr_time"].to_numpy(float), d["cr_status"].to_numpy(int)
    provenance = {"data_sha256": {Path(p).name: sha256(p) for p in input_files},
                  "model_spec": model_specs(config)[vcfg["model"]],
                  "software": {k: v for k, v in software_versions().items() if k != "packages"}}
    model = crv.freeze_fine_gray(t, c, X, coding, horizons, name=vcfg["model"],
                                 event=PROGRESSION, competing=DEATH,
                                 time_unit=config["analysis_time_unit"], provenance=provenance)
    frozen_model.save(model, out.model)
    apparent = crv.cr_performance(t, c, crv.predict_risks(model, d, horizons))
    apparent["centre"] = "all (apparent)"
    tables = [apparent]
    note = VALIDATION_NOTE + " Apparent: the model on the data it was fitted to."
    if "centre" in d and d["centre"].nunique() >= 2:
        risks = crv.internal_external_risks(t, c, X.to_numpy(float), d["centre"], horizons)
        tables.append(crv.cr_performance(t, c, risks, d["centre"].to_numpy()))
        note += (" Per centre: predictions of the model refitted without that centre "
                 "(internal-external cross-validation).")
    write_table(pd.concat(tables, ignore_index=True).assign(model=vcfg["model"]), out.table,
                "Competing risks: validation of the predicted cumulative incidence of "
                "progression", note)


def run_validate_fine_gray(config: dict, analysis: str, model_path: str, out) -> None:
    """Validate mode: a frozen Fine-Gray model applied to this cohort, overall and by centre."""
    model = frozen_model.load(model_path, kind=crv.FINE_GRAY_KIND)
    frozen_model.check_time_unit(model, config["analysis_time_unit"])
    d = analysis_frame(config, analysis).dropna(subset=list(model["covariates"]))
    d = d.reset_index(drop=True)
    t, c = d["cr_time"].to_numpy(float), d["cr_status"].to_numpy(int)
    horizons = [float(h) for h in model["baseline_survival"]["horizons"]]
    risks = crv.predict_risks(model, d, horizons)
    overall = crv.cr_performance(t, c, risks).assign(centre="all")
    tables = [overall]
    if "centre" in d and d["centre"].nunique() >= 2:
        tables.append(crv.cr_performance(t, c, risks, d["centre"].to_numpy()))
    write_table(pd.concat(tables, ignore_index=True).assign(model=model["name"]), out.table,
                "Competing risks: external validation of the predicted cumulative incidence "
                "of progression", VALIDATION_NOTE)
