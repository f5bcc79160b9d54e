"""The reproducible appendix: one self-contained HTML report and its PDF.

The report is assembled from the result tables and figures only (never from
patient rows). Tables are rendered with great-tables, the page with a Jinja2
template; figures are embedded as data URIs, so the file makes no request to
any other host and reads the same offline. The methods text is generated from
the configuration in force and the method strings the estimators report, so it
cannot disagree with what was computed. Nothing in the report depends on the
clock: two runs give byte-identical HTML and PDF.

The PDF is the same page typeset for print by WeasyPrint (:mod:`.pdf`), so that
producing it needs no browser.
"""

from __future__ import annotations

import contextvars
from pathlib import Path

import jinja2
from markupsafe import Markup
import numpy as np
import pandas as pd
from great_tables import GT

from .. import __version__
from ..survival import concordance, cox
from ..netpet.scoring import resolve_grouping
from ..config import (CR_ANALYSIS, cohort_input_paths, cohort_is_simulated,
                      competing_risks_settings, cox_ties, delayed_entry)
from ..provenance import software_versions
from .manuscript import FOOTNOTE, hazard_ratio_table, table1_layout
from .pdf import EmbeddedFigure, write_print_copy
from .tables import fmt_p

SECTIONS = [
    ("summary", "Study summary"),
    ("flow", "Patient flow"),
    ("table1", "Table 1: baseline characteristics"),
    ("survival", "Kaplan-Meier estimates"),
    ("cox", "Cox models"),
    ("ph", "Proportional-hazards diagnostics"),
    ("competing", "Competing risks: progression and death"),
    ("concordance", "Concordance"),
    ("association", "NETPET and WHO grade"),
    ("validation", "Model validation"),
    ("missing", "Missing data and multiple imputation"),
    ("methods", "Methods"),
    ("software", "Software"),
    ("tripod", "TRIPOD+AI checklist"),
]

#: Status of a TRIPOD+AI item in this run.
ANSWERED, PARTLY, AUTHORS, NOT_APPLICABLE = ("answered", "partly answered",
                                             "not answered: for the authors", "not applicable")


def tripod_items(config: dict, results) -> list[dict]:
    """Every TRIPOD+AI item (Collins et al., BMJ 2024;385:e078378) and what this run answers.

    Topics follow the 2024 checklist's wording (shortened). An item is marked
    answered only where this run's report answers it in full; "partly answered"
    says what is left to the authors.
    """
    val = config.get("validation") or {}
    mode = val.get("mode", "none")
    frozen = (mode == "develop" and "model/frozen_model.yaml" in results) or (
        mode == "validate" and "validation/discrimination.csv" in results)
    used = {c for spec in config["cox"]["models"].values() for c in spec["covariates"]}
    undefined_outcomes = [spec["label"] for spec in config["endpoints"].values()
                          if not spec.get("definition") and not spec.get("derive")]
    undefined_predictors = [config["covariates"].get(c, {}).get("label", c) for c in sorted(used)
                            if c != "netpet_group" and not
                            config["covariates"].get(c, {}).get("definition")]
    described = bool((config["cohort"].get("description") or "").strip())
    centres_rows = ("validation/iecv.csv" in results or "validation/centres.csv" in results)

    def item(number, topic, status, where="", missing=""):
        return {"Item": number, "Topic": topic, "Status": status,
                "Where / what is left": "; ".join(x for x in (where, missing) if x)}

    rows = [
        item("1-4", "Title, abstract, background, objectives", AUTHORS),
        item("5a", "Sources of data", PARTLY if described else AUTHORS,
             "Study summary" if described else "",
             "" if described else "describe the cohort in cohort.description"),
        item("5b", "Dates of data collection, end of follow-up", AUTHORS),
        item("6a", "Setting, number and location of centres", PARTLY,
             "Study summary, Table 1 (number of centres)", "setting and location by the authors"),
        item("6b", "Eligibility criteria", ANSWERED, "Patient flow, Methods"),
        item("6c", "Treatments received", AUTHORS),
        item("7", "Data preparation and quality checking", PARTLY,
             "Methods, Patient flow, cohort/exclusions.csv and cohort/warnings.csv",
             "checks made before the data reached this workflow"),
        item("8a", "Outcome definition, time horizon, how and when assessed",
             PARTLY if undefined_outcomes else ANSWERED, "Methods",
             ("no definition given for " + ", ".join(undefined_outcomes)
              + " (endpoints.<name>.definition)")
             if undefined_outcomes else ""),
        item("8b-c", "Outcome assessors, blinding of outcome assessment", AUTHORS),
        item("9a", "Choice of initial predictors and any pre-selection", AUTHORS,
             "", "the predictors are those configured; their rationale is the authors'"),
        item("9b", "Definition of all predictors, how and when measured",
             PARTLY if undefined_predictors else ANSWERED, "Methods (coding)",
             ("when measured not given for " + ", ".join(undefined_predictors)
              + " (covariates.<name>.definition)")
             if undefined_predictors else ""),
        item("9c", "Predictor assessors (e.g. PET readers), blinding", AUTHORS),
        item("10", "Study size: how arrived at, and justification", PARTLY,
             "Patient flow, Cox tables (patients and events per analysis)",
             "the justification of the cohort's size"),
        item("11", "Handling of missing data, reasons for omitting data", ANSWERED,
             "Methods (complete cases), Patient flow, Table 1 (missing counts)"),
        item("12a", "How the data were used for development and evaluation",
             ANSWERED if mode in ("develop", "validate") else PARTLY, "Methods",
             "" if mode in ("develop", "validate") else "no prediction model was evaluated"),
        item("12b", "Handling of predictors (functional form, transformation)", ANSWERED,
             "Methods (coding of covariates, non-linearity tests), Cox models (tests of each "
             "term)"),
        item("12c", "Type of model, model-building steps, internal validation method",
             ANSWERED if mode == "develop" else PARTLY, "Methods, Cox models",
             "" if mode == "develop" else "no internal validation in this run"),
        item("12d", "Heterogeneity of estimates and performance across clusters", ANSWERED,
             "Methods, Cox models (stratified by centre)"
             + (", Model validation (by centre)" if centres_rows else "")),
        item("12e", "Performance measures and plots, and their rationale", ANSWERED,
             "Methods, Concordance" + (", Model validation" if mode != "none" else "")),
        item("12f", "Model updating (e.g. recalibration)",
             ANSWERED if mode == "validate" else NOT_APPLICABLE,
             "Methods: none, the model was applied unchanged" if mode == "validate" else ""),
        item("12g", "How the predictions were calculated (formula, code)",
             ANSWERED if frozen else NOT_APPLICABLE,
             "Model validation (full equation), Methods" if frozen else ""),
        item("13", "Class imbalance", NOT_APPLICABLE),
        item("14", "Fairness", AUTHORS),
        item("15", "Model output and thresholds", PARTLY if frozen else NOT_APPLICABLE,
             "Model validation (predicted survival at the horizons)" if frozen else "",
             "the rationale of any threshold" if frozen else ""),
        item("16", "Differences between development and evaluation data",
             PARTLY if mode == "validate" else NOT_APPLICABLE,
             "Model validation (case mix)" if mode == "validate" else "",
             "setting and eligibility by the authors" if mode == "validate" else ""),
        item("17-19", "Ethics, open science, patient and public involvement", AUTHORS,
             "", "code and configuration: manifest.json and this appendix"),
        item("20a", "Flow of participants, with and without the outcome, follow-up",
             ANSWERED, "Patient flow, Kaplan-Meier estimates (events, follow-up)"),
        item("20b", "Characteristics of participants, including missing data", PARTLY,
             "Table 1", "key dates and treatments"),
        item("20c", "Comparison of evaluation with development data",
             PARTLY if "validation/case_mix.csv" in results else NOT_APPLICABLE,
             "Model validation (case mix)" if "validation/case_mix.csv" in results else "",
             "outcomes by the authors" if "validation/case_mix.csv" in results else ""),
        item("21", "Number of participants and events in each analysis", ANSWERED,
             "Patient flow, Kaplan-Meier estimates, Cox models"),
        item("22", "Full model, to allow predictions in new individuals",
             ANSWERED if frozen else NOT_APPLICABLE,
             "Model validation (coefficients and baseline survival)" if frozen else ""),
        item("23a", "Performance with confidence intervals, including key subgroups",
             PARTLY, "Concordance" + (", Model validation" if mode != "none" else ""),
             {"develop": "the optimism-corrected C without CI; key subgroups",
              "validate": "the whole cohort's Brier score and IPA without CI; key subgroups"}
             .get(mode, "key subgroups")),
        item("23b", "Heterogeneity of performance across clusters",
             ANSWERED if centres_rows else NOT_APPLICABLE,
             "Model validation (by centre)" if centres_rows else ""),
        item("24", "Results of any model updating", NOT_APPLICABLE),
        item("25-27", "Interpretation, limitations, usability and next steps", AUTHORS),
    ]
    return rows


# --------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------




def _num(x, digits=2) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.000"


NR_NOTE = "NR: not reached (the curve stays above the level); —: not estimable."


def _missing(x) -> bool:
    return x is None or (isinstance(x, (float, np.floating)) and np.isnan(x))


def _signed(x, digits) -> str:
    """A number with a typographic minus, so that "-0.014–0.091" cannot misread."""
    return _num(x, digits).replace("-", "−")


def _ci(est, lo, hi, digits=2, quantile=False) -> str:
    """``est (lo–hi)``. For a survival quantile (``quantile``) a missing estimate or
    upper limit is "NR", not reached; anything else missing is "—", not estimable."""
    if _missing(est):
        return "NR" if quantile else "—"
    return f"{_signed(est, digits)} ({_range(lo, hi, digits, quantile)})"


def _range(lo, hi, digits=2, quantile=False) -> str:
    """``lo–hi``, or ``−lo to hi`` when a limit is negative (a dash would read as minus).

    A missing upper limit of a survival quantile is "NR" (not reached); anything
    else missing is "—".
    """
    hi_txt = ("NR" if quantile else "—") if _missing(hi) else _signed(hi, digits)
    lo_txt = "—" if _missing(lo) else _signed(lo, digits)
    negative = any(not _missing(x) and x < 0 for x in (lo, hi))
    return f"{lo_txt}{' to ' if negative else '–'}{hi_txt}"


#: A sentence every table of the report ends its note with (e.g. that the data are
#: simulated); set by :func:`report_context` for the report being written.
TABLE_STATEMENT: contextvars.ContextVar[str] = contextvars.ContextVar("table_statement",
                                                                      default="")


def gt_table(frame: pd.DataFrame, table_id: str, title: str | None = None,
             note: str | None = None) -> str:
    """Render a (pre-formatted) frame with great-tables; fixed id for reproducible bytes.

    great-tables escapes every cell, title and note, so the result is marked safe
    for the report template, which escapes everything else it is given.
    """
    frame = frame.astype(object).where(frame.notna(), "—")
    table = GT(frame, id=table_id, groupname_col=_group_column(frame))
    if title:
        table = table.tab_header(title=title)
    note = " ".join(x for x in (note, TABLE_STATEMENT.get()) if x)
    if note:
        table = table.tab_source_note(note)
    table = table.opt_table_font(stack="system-ui").tab_options(
        table_font_size="13px", heading_title_font_size="15px", source_notes_font_size="11px",
        column_labels_font_weight="bold", table_width="100%")
    return Markup(table.as_raw_html())


#: A first column of one of these names whose values repeat, row after row, is shown as
#: a row spanning the table above each run of rows, instead of in every row.
GROUP_COLUMNS = ("Model", "Analysis", "Centre", "Event", "Estimator", "Group", "Variable")


def _group_column(frame: pd.DataFrame) -> str | None:
    """The column to show as spanning group rows (runs only, so no row moves), or None."""
    if frame.shape[1] < 3 or frame.columns[0] not in GROUP_COLUMNS:
        return None
    first = frame.iloc[:, 0].astype(str)
    runs = int((first != first.shift()).sum())
    return frame.columns[0] if runs < len(first) and runs == first.nunique() else None


def _img(path: Path) -> str:
    """The figure's PNG as a data URI; the PDF's print copy swaps in its SVG."""
    return EmbeddedFigure(path)


# --------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------


class ResultFiles:
    """The files a report may read: exactly its rule's declared inputs.

    Keyed by their path below the results folder (``"os/km_summary.csv"``). A
    section is shown when its files are among them; a file left over in the
    folder from an earlier run with another configuration is never seen.
    """

    def __init__(self, paths, root: str | Path = "results", roles: dict | None = None):
        root = Path(root)
        self.root = root
        #: inputs found by their role rather than their place (``"model"``: the frozen
        #: model a validate run applies, wherever the user keeps it)
        self.roles = {k: Path(v) for k, v in (roles or {}).items() if v}
        self._files = {}
        for p in map(Path, paths):
            key = p.relative_to(root).as_posix() if p.is_relative_to(root) else p.as_posix()
            self._files[key] = p

    def __contains__(self, rel: str) -> bool:
        return rel in self._files

    def path(self, rel: str) -> Path:
        if rel not in self._files:
            raise KeyError(f"the report reads {rel!r}, which its rule does not declare as input")
        return self._files[rel]

    def read(self, rel: str, **kwargs) -> pd.DataFrame:
        options = {"keep_default_na": False, "na_values": [""], **kwargs}
        return pd.read_csv(self.path(rel), **options)


#: The sentence under every table of a report on a simulated cohort.
SIMULATED_NOTE = "Simulated data: no real patients."


def cohort_statement(config: dict, files: bool = True) -> str:
    """What the analysed cohort is: simulated or real, and its description.

    Printed at the top of the report and in the methods; for a simulated cohort
    also under every table (:data:`SIMULATED_NOTE`).
    """
    description = (config["cohort"].get("description") or "").strip()
    if description and description[-1] not in ".!?":
        description += "."
    names = ", ".join(dict.fromkeys(Path(p).name for p in cohort_input_paths(config)))
    if cohort_is_simulated(config):
        return ("The cohort analysed here is simulated: no number in this report describes "
                "real patients. " + (description or
                "It was generated by netpet-stats" + (f" (input: {names})" if files else "")
                + ", calibrated to the published medians of the NETPET validation, to "
                "demonstrate and test the analysis."))
    return description or ("The cohort analysed here was read from " + names + "."
                           if files else "The source of the cohort was not described.")


def _summary(config, results, caveat: str = "") -> dict:
    dist = results.read("cohort/netpet_distribution.csv")
    flow = results.read("cohort/flow.csv")
    received = int(flow.loc[flow["step"] == "input rows", "n"].iloc[0])
    eligible = int(flow.loc[flow["step"] == "eligible", "n"].iloc[0])
    t1 = results.read("table1/table1.csv")
    centres = t1[t1["variable"].str.startswith("Centre")]["level"].tolist()
    groups = list(resolve_grouping(config["netpet"]["grouping"]))
    rows = []
    for ep, spec in config["endpoints"].items():
        med = results.read(f"{ep}/km_summary.csv").set_index("group")
        lr = results.read(f"{ep}/logrank.csv").set_index("test")
        coefs = results.read(f"{ep}/cox_coefficients.csv")
        prim = coefs[(coefs["model"] == config["cox"]["primary_model"])
                     & (coefs["term"] == "netpet_group")].set_index("level")
        conc = results.read(f"{ep}/concordance.csv")
        c = conc[(conc["estimator"] == "Harrell") & (conc["predictor"] == "netpet_group")].iloc[0]
        row = {"Endpoint": spec["label"]}
        for g in groups:
            if g in med.index:
                m = med.loc[g]
                row[f"Median {g} ({config['analysis_time_unit']})"] = _ci(
                    m["median"], m["median_lower"], m["median_upper"], 1, quantile=True)
        row["Log-rank p"] = fmt_p(lr.loc["log-rank", "p"])
        for g in groups[1:]:
            if g in prim.index:
                r = prim.loc[g]
                row[f"HR {g} vs {groups[0]} (adjusted)"] = _ci(r["hr"], r["hr_lower"], r["hr_upper"])
        row["Harrell's C, NETPET"] = _ci(c["c"], c["lower"], c["upper"], 3)
        rows.append(row)
    key = pd.DataFrame(rows)
    simulated = "simulated " if cohort_is_simulated(config) else ""
    text = (f"{received} {simulated}patients were received from {len(centres)} centres "
            f"({', '.join(centres)}); {eligible} had a NETPET score in an analysis group "
            f"({', '.join(groups)}). Distribution of scores: "
            + ", ".join(f"{r.netpet} {r.n}" for r in dist.itertuples()) + ".")
    return {"text": text, "table": gt_table(key, "key_results", "Key results",
                                            "Medians with 95% CI; HR from the primary "
                                            "multivariable model. " + NR_NOTE
                                            + (" " + caveat if caveat else ""))}


def _km_section(config, results, ep) -> dict:
    spec = config["endpoints"][ep]
    med = results.read(f"{ep}/km_summary.csv")
    few = int(config["report"]["min_at_risk"])
    at_risk = at_risk_lookup(results.read(f"{ep}/km_curves.csv"))

    def median(r) -> str:
        text = _ci(r.median, r.median_lower, r.median_upper, 1, quantile=True)
        if np.isfinite(r.median) and r.group != "all" and at_risk(r.group, r.median) < few:
            text += f" [{at_risk(r.group, r.median)} at risk]*"
        return text

    med_tab = pd.DataFrame({
        "Group": med["group"], "n": med["n"], "Events": med["events"],
        f"Median ({config['analysis_time_unit']}), 95% CI": [median(r)
                                                             for r in med.itertuples()]})
    lm = results.read(f"{ep}/km_landmarks.csv")
    few = int(config["report"]["min_at_risk"])

    def landmark(r) -> str:
        if not (np.isfinite(r.surv) and np.isfinite(r.lower)):
            return f"— [{int(r.n_risk)}]"
        flag = "*" if r.n_risk < few else ""
        return (f"{100 * r.surv:.1f}% ({100 * r.lower:.1f}–{100 * r.upper:.1f}) "
                f"[{int(r.n_risk)}]{flag}")

    lm_wide = lm.assign(value=[landmark(r) for r in lm.itertuples()])
    lm_wide = lm_wide.pivot(index="group", columns="time", values="value")
    lm_wide = lm_wide.reindex(list(dict.fromkeys(lm["group"])))
    lm_wide.columns = [f"{t:g} {config['analysis_time_unit']}" for t in lm_wide.columns]
    lm_wide = lm_wide.reset_index().rename(columns={"group": "Group"})
    fu = results.read(f"{ep}/follow_up.csv")
    fu_tab = pd.DataFrame({"Group": fu["group"], "n": fu["n"], "Censored": fu["n_censored"],
                           "Median follow-up, 95% CI": [
                               _ci(r.median_follow_up, r.lower, r.upper, 1, quantile=True)
                               for r in fu.itertuples()]})
    lr = results.read(f"{ep}/logrank.csv")
    lr_tab = pd.DataFrame({"Test": lr["test"], "Comparison": lr["comparison"],
                           "Stratified by": lr["stratified_by"].fillna(""),
                           "Chi-square": [_num(x) for x in lr["chisq"]], "df": lr["df"],
                           "p": [fmt_p(x) for x in lr["p"]],
                           "p (adjusted)": [fmt_p(x) if np.isfinite(x) else "" for x in lr["p_adjusted"]]})
    method = med["method"].iloc[0]
    return {
        "endpoint": ep, "label": spec["label"],
        "figure": _img(results.path(f"figures/km_{ep}.png")),
        "medians": gt_table(med_tab, f"km_medians_{ep}", "Medians by NETPET group",
                            method + ". " + NR_NOTE + f" *: the median is reached with fewer "
                            f"than {few} patients at risk, so it rests on few events."),
        "landmarks": gt_table(lm_wide, f"km_landmarks_{ep}", _landmark_title(config, ep),
                              "Kaplan-Meier estimate (95% CI) [number at risk]; "
                              f"*: fewer than {few} at risk, the estimate is imprecise."
                              + (" Deaths before progression are censored, so 1 minus this "
                                 "overstates the probability of progression; see the "
                                 "competing-risks section." if _is_progression(config, ep)
                                 else "")),
        "follow_up": gt_table(fu_tab, f"follow_up_{ep}", "Median follow-up",
                              str(fu["method"].iloc[0]) + "."),
        "logrank": gt_table(lr_tab, f"logrank_{ep}", "Log-rank tests",
                            "Hypergeometric variance (R survdiff); trend over ordered groups; "
                            "pairwise p adjusted by " + config["logrank"]["pairwise_adjustment"] + "."),
    }


def _is_progression(config: dict, ep: str) -> bool:
    cr = competing_risks_settings(config)
    return cr is not None and ep == cr["progression"]


def _landmark_title(config: dict, ep: str) -> str:
    """What the Kaplan-Meier estimate of ``ep`` is the probability of."""
    if _is_progression(config, ep):
        return "Proportion free of progression at landmark times (deaths censored)"
    return "Survival at landmark times"


def _coef_table(coefs: pd.DataFrame, table_id: str, title: str, note: str,
                covariates: dict | None = None) -> str:
    """Hazard ratios, one row per coefficient, with the patients and events of its model.

    A binary covariate's row names its contrast ("yes vs no"); a column says what a
    model is stratified by, when any is.
    """
    binary = {name for name, spec in (covariates or {}).items() if spec.get("type") == "binary"}
    strata = coefs["strata"].fillna("").astype(str) if "strata" in coefs else None
    rows = []
    for i, r in enumerate(coefs.itertuples()):
        level = "" if not isinstance(r.level, str) else r.level
        row_note = r.note if isinstance(getattr(r, "note", None), str) else ""
        infinite = row_note.startswith("coefficient may be infinite")
        stopped = row_note.startswith(cox.NOT_CONVERGED_NOTE_START)
        term = (f"{r.term_label}: {level} vs {r.reference}" if level else
                f"{r.term_label}: yes vs no" if r.term in binary else r.term_label)
        row = {
            "Model": (r.model_label if r.analysis == "multivariable" else "univariable")
            + (" (model-based CI here)" if isinstance(getattr(r, "cluster", None), str)
               and r.cluster else ""),
            "Term": term,
            "HR (95% CI)": ("not estimable: may be infinite (a level without events)"
                            if infinite else
                            "not estimable: the fit did not converge (as R: ran out of "
                            "iterations)" if stopped else _ci(r.hr, r.hr_lower, r.hr_upper)),
            "p": "" if infinite or stopped else fmt_p(r.p), "n": r.n, "Events": r.events}
        if strata is not None and strata.str.len().gt(0).any():
            row["Stratified by"] = strata.iloc[i]
        rows.append(row)
    return gt_table(pd.DataFrame(rows), table_id, title, note)


def _model_labels(config, results) -> dict:
    """Readers' names of the fitted models, from the Cox tables (model -> label).

    Read once per report (:func:`report_context`) and handed to the sections.
    """
    labels = {}
    for ep in config["endpoints"]:
        coefs = results.read(f"{ep}/cox_coefficients.csv")
        for model, analysis, label in coefs[["model", "analysis", "model_label"]].drop_duplicates(
                "model").itertuples(index=False):
            labels[model] = f"{label} (univariable)" if analysis == "univariable" else label
    labels[config["cox"]["primary_model"]] = (
        "primary model: " + labels.get(config["cox"]["primary_model"], ""))
    return labels


def _analysis_label(config, models: dict, key: str) -> str:
    """'os:univariable_grade' -> 'Overall survival: WHO grade (univariable)'."""
    if key == "all":
        return "All analyses"
    endpoint, _, model = str(key).partition(":")
    name = config["endpoints"].get(endpoint, {}).get("label", endpoint)
    if endpoint == CR_ANALYSIS:
        name = "Competing risks (progression, death first)"
    return f"{name}: {models.get(model, model)}" if model else name


def _term_labels(coefs: pd.DataFrame) -> dict:
    return dict(zip(coefs["term"], coefs["term_label"]))


def _cox_section(config, results, ep, models: dict) -> dict:
    coefs = results.read(f"{ep}/cox_coefficients.csv")
    tests = results.read(f"{ep}/cox_tests.csv")
    uni = coefs[coefs["analysis"] == "univariable"]
    multi = coefs[coefs["analysis"] == "multivariable"]
    gvif = tests[tests["test"] == "variance inflation (GVIF)"] if "gvif" in tests else \
        tests.iloc[0:0]
    tests = tests[tests["test"] != "variance inflation (GVIF)"]
    model_tests = tests[tests["term"] != "(model)"].copy()
    terms = _term_labels(coefs)
    tt = pd.DataFrame({"Model": [models.get(m, m) for m in model_tests["model"]],
                       "Term": [terms.get(x, x) for x in model_tests["term"]],
                       "Test": model_tests["test"], "Chi-square": [_num(x) for x in model_tests["chisq"]],
                       "df": model_tests["df"], "p": [fmt_p(x) for x in model_tests["p"]]})
    robust = multi.dropna(subset=["robust_se"]) if "robust_se" in multi else multi.iloc[0:0]
    robust_tab = None
    robust_text = ""
    if len(robust):
        rt = pd.DataFrame({"Model": robust["model_label"], "Term": [
            f"{r.term_label}: {r.level} vs {r.reference}" if isinstance(r.level, str) else r.term_label
            for r in robust.itertuples()],
            "HR (robust 95% CI)": [_ci(r.hr, r.robust_hr_lower, r.robust_hr_upper)
                                   for r in robust.itertuples()],
            "Robust p": [fmt_p(x) for x in robust["robust_p"]],
            "Clusters": robust["n_clusters"].astype(int)})
        enough = robust["n_clusters"] >= cox.MIN_CLUSTERS
        if enough.any():
            robust_tab = gt_table(rt[enough.to_numpy()], f"cox_robust_{ep}",
                                  "Robust standard errors",
                                  "Sandwich variance clustered on the named column (R coxph "
                                  "cluster =).")
        few = robust[~enough]
        if len(few):
            counts = sorted({int(k) for k in few["n_clusters"]})
            robust_text = (
                f"Robust (sandwich) standard errors of {', '.join(dict.fromkeys(few['model_label']))} "
                f"rest on {' or '.join(map(str, counts))} clusters, fewer than "
                f"{cox.MIN_CLUSTERS}: they are unreliable and can reverse a conclusion, so "
                "they are not shown here (cox_coefficients.csv keeps them); the table above "
                "gives that model's model-based confidence intervals.")
    primary = config["cox"]["primary_model"]
    return {
        "endpoint": ep, "label": config["endpoints"][ep]["label"],
        "model": config["cox"]["models"].get(primary, {}).get("label", primary),
        "forest": _img(results.path(f"figures/forest_{ep}.png")),
        "side_by_side": gt_table(
            hazard_ratio_table(coefs, config["cox"]["primary_model"],
                               float(config["cox"]["conf_level"])),
            f"cox_side_{ep}", "Univariable and multivariable (primary model) hazard ratios",
            FOOTNOTE),
        "multivariable": _coef_table(multi, f"cox_multi_{ep}", "Multivariable models",
                                     cox.coef_method(cox_ties(config))
                                     + ". n and Events: the patients and "
                                     "events of each model (complete cases).",
                                     config["covariates"]),
        "univariable": _coef_table(uni, f"cox_uni_{ep}", "Univariable models",
                                   cox.coef_method(cox_ties(config))
                                   + ". n and Events: the patients and events "
                                   "of each model (complete cases).", config["covariates"]),
        "tests": gt_table(tt, f"cox_tests_{ep}", "Tests of each term",
                          "Likelihood-ratio test per term (drop1) and joint Wald test of "
                          "multi-level terms; non-linearity (spline): restricted cubic spline "
                          "with 4 knots against the linear term, on the model's scale."),
        "robust": robust_tab,
        "robust_text": robust_text,
        "collinearity": None if gvif.empty else gt_table(pd.DataFrame({
            "Model": [models.get(m, m) for m in gvif["model"]],
            "Term": [terms.get(x, x) for x in gvif["term"]], "df": gvif["df"].astype(int),
            "GVIF": [_num(x, 2) for x in gvif["gvif"]],
            "GVIF^(1/(2 df))": [_num(x, 2) for x in gvif["gvif_adjusted"]]}),
            f"cox_vif_{ep}", "Collinearity of the terms of each multivariable model",
            "Generalized variance-inflation factor (Fox & Monette 1992; R car::vif): how much "
            "the other terms inflate a term's variance; GVIF^(1/(2 df)) is the inflation of "
            "its confidence interval's width (1: none)."),
    }


def _ph_section(config, results, ep, models: dict) -> dict:
    ph = results.read(f"{ep}/ph_test.csv")
    tab = pd.DataFrame({"Model": [models.get(m, m) for m in ph["model"]], "Term": ph["term_label"],
                        "Chi-square": [_num(x) for x in ph["chisq"]], "df": ph["df"],
                        "p": [fmt_p(x) for x in ph["p"]]})
    label = config["endpoints"][ep]["label"]
    primary = config["cox"]["primary_model"]
    return {"endpoint": ep, "label": label, "model": models.get(primary, primary),
            "text": ph_text(ph, primary, label, models),
            "figure": _img(results.path(f"figures/schoenfeld_{ep}.png")),
            "table": gt_table(tab, f"ph_{ep}", f"{label}: proportional-hazards tests",
                              f"{cox.ZPH_METHOD}; time transform "
                              f"'{config['cox']['zph_transform']}'.")}


def ph_text(ph: pd.DataFrame, primary: str, label: str, models: dict | None = None) -> str:
    """Plain words on the proportional-hazards tests: the primary model, then the others."""
    terms = ph[ph["term"] != "GLOBAL"]
    rows = terms[terms["model"] == primary]
    if rows.empty:
        return ""
    bad = rows[rows["p"] < 0.05]
    if bad.empty:
        text = (f"{label}: no term of the primary model shows evidence against proportional "
                "hazards (every p ≥ 0.05); with few events per group the test has little "
                "power, so the Schoenfeld plots are shown too.")
    else:
        text = (f"{label}: the test rejects proportional hazards in the primary model for "
                + "; ".join(f"{r.term_label} (p = {fmt_p(r.p)})" for r in bad.itertuples())
                + ". The hazard ratio of such a term is an average over follow-up, weighted "
                "by the events; the Schoenfeld plot shows how the effect changes with time, "
                "and an analysis that lets it change (a time-varying coefficient, or "
                "estimates within time intervals) shows whether the conclusion depends on it.")
    others = terms[(terms["model"] != primary) & (terms["p"] < 0.05)]
    if len(others):
        names = models or {}
        text += (" In other models the test rejects proportional hazards for "
                 + "; ".join(f"{r.term_label} in {names.get(r.model, r.model_label)} "
                             f"(p = {fmt_p(r.p)})" for r in others.itertuples())
                 + ": their hazard ratios are averages over follow-up too.")
    return text


def missing_text(t1: pd.DataFrame) -> str:
    """Which baseline variables are missing, in how many patients and in which groups.

    From Table 1's ``Missing`` rows (:func:`netpet_stats.table_one`).
    """
    n = pd.to_numeric(t1.loc[t1["variable"] == "n", "Overall"], errors="coerce")
    total = int(n.iloc[0]) if len(n) else None
    rows = t1[t1["level"] == "Missing"]
    groups = [c for c in t1.columns if c not in ("variable", "level", "Missing", "Overall")]
    if rows.empty:
        return "No baseline variable of Table 1 is missing."
    parts = []
    for r in rows.itertuples(index=False):
        row = dict(zip(t1.columns, r))
        k = int(float(row["Overall"]))
        by_group = ", ".join(f"{row[g]} in {g}" for g in groups)
        parts.append(f"{str(row['variable']).split(' (n =')[0].split(',')[0]} in {k}"
                     + (f" ({100 * k / total:.1f}%)" if total else "")
                     + (f": {by_group}" if by_group else ""))
    return ("Missing values: " + "; ".join(parts)
            + (f" (of {total} patients)" if total else "")
            + ". Each model left out the patients missing one of its variables (complete "
              "cases; see Patient flow), so models with and without a variable rest on "
              "different patients.")


def _concordance_section(config, results, ep, models: dict) -> dict:
    conc = results.read(f"{ep}/concordance.csv")
    strata = conc["strata"].fillna("").astype(str) if "strata" in conc else pd.Series(
        "", index=conc.index)
    tab = pd.DataFrame({"Estimator": conc["estimator"], "Predictor": conc["label"],
                        "Kind": conc["kind"], "n": conc["n"], "Events": conc["events"],
                        "Pairs": [f"{int(k):,} within {s}" if s else f"{int(k):,} (all)"
                                  for k, s in zip(conc["n_pairs"], strata)],
                        "C (95% CI)": [_ci(r.c, r.lower, r.upper, 3) for r in conc.itertuples()],
                        "SE": [_num(x, 4) for x in conc["se"]]})
    cmp = results.read(f"{ep}/concordance_comparison.csv")
    def name(item):  # "model:primary" or a covariate
        item = str(item)
        if item.startswith("model:"):
            return models.get(item[6:], item[6:])
        return config["covariates"].get(item, {}).get("label", item)

    kind = cmp["kind"] if "kind" in cmp else pd.Series("comparison", index=cmp.index)
    lr_cols = {"lr_chisq", "lr_df", "lr_p"} <= set(cmp.columns)
    cmp_tab = pd.DataFrame({
        "Comparison": ["added value" if k == "added value" else "" for k in kind],
        "First": [name(x) for x in cmp["first"]],
        "Second": [name(x) for x in cmp["second"]], "n": cmp["n"],
        "Pairs": ([f"{int(k):,} {'(all)' if p == 'all pairs' else p}"
                   for k, p in zip(cmp["n_pairs"], cmp["pairs"])] if "pairs" in cmp else ""),
        "C first": [_num(x, 3) for x in cmp["c_first"]],
        "C second": [_num(x, 3) for x in cmp["c_second"]],
        "ΔC (95% CI)": [_ci(r.difference, r.lower, r.upper, 3) for r in cmp.itertuples()],
        "p": [fmt_p(x) for x in cmp["p"]],
        "LR test of the added terms": (
            [f"χ² {r.lr_chisq:.2f}, {int(r.lr_df)} df, p {fmt_p(r.lr_p)}"
             if pd.notna(r.lr_chisq) else "" for r in cmp.itertuples()] if lr_cols else "")})
    if not (kind == "added value").any():
        cmp_tab = cmp_tab.drop(columns="Comparison")
    label = config["endpoints"][ep]["label"]
    stratified = bool(strata.str.len().gt(0).any())
    return {"table": gt_table(tab, f"conc_{ep}", f"{label}: concordance",
                              "Harrell: " + concordance.METHODS["n"] + ". Uno: "
                              + concordance.METHODS["n/G2"] + ". "
                              + ("A stratified model counts only pairs of patients within a "
                                 "stratum (Pairs), so its C is not comparable with a C over all "
                                 "pairs; compare them in the table below, on the same pairs. "
                                 if stratified else "")
                              + "Apparent C: a model's C is optimistic by its number of "
                              "parameters (see the optimism-corrected C in Model validation)."),
            "comparison": gt_table(cmp_tab, f"conc_cmp_{ep}",
                                   f"{label}: comparison of concordance indices",
                                   concordance.COMPARE_METHOD + ". Both members on the same "
                                   "patients and the same pairs (within strata where one member "
                                   "is stratified); apparent C, not corrected for optimism. "
                                   "Added value: the extended against the base model of "
                                   "validation.added_value, with the likelihood-ratio test of "
                                   "the added terms (R anova(base, extended)).")}


def _association_section(config, results) -> dict:
    counts = results.read("association/netpet_by_grade_counts.csv")
    row, col = config["association"]["row"], config["association"]["column"]
    wide = counts.pivot(index=row, columns=col, values="n")
    wide = wide.reindex(list(dict.fromkeys(counts[row])))[list(dict.fromkeys(counts[col]))]
    wide = wide.reset_index().rename(columns={row: "NETPET group"})
    tests = results.read("association/netpet_by_grade_tests.csv")
    tt = pd.DataFrame({"Test": tests["test"], "Statistic": [_num(x) for x in tests["statistic"]],
                       "df": tests["df"].map(lambda v: "" if pd.isna(v) else int(v)),
                       "p": [fmt_p(x) for x in tests["p"]], "n": tests["n"],
                       "Missing": tests["n_missing"], "Method": tests["method"]})
    return {"counts": gt_table(wide, "assoc_counts", "NETPET group by WHO grade (n)"),
            "tests": gt_table(tt, "assoc_tests", "Tests of association")}


def _internal_validation(results, naming: str = "", models: dict | None = None) -> dict:
    """Bootstrap optimism and internal-external CV tables (develop mode), if present."""
    of = f" of {naming}" if naming else ""
    out = {}
    if "validation/optimism.csv" in results:
        opt = results.read("validation/optimism.csv")
        labels = {name: spec.get("label", name) for name, spec in (models or {}).items()}
        ot = pd.DataFrame({"Model": [labels.get(m, " vs ".join(labels.get(x, x) for x in
                                                                 str(m).split(" - ")))
                                     for m in opt.get("model", pd.Series("", index=opt.index))],
                           "Measure": opt["measure"],
                           "Apparent": [_num(x, 3) for x in opt["apparent"]],
                           "Optimism": [_num(x, 3) for x in opt["optimism"]],
                           "Optimism-corrected": [_num(x, 3) for x in opt["corrected"]],
                           "Resamples used": [f"{u} of {b}" for u, b in zip(opt["n_used"],
                                                                           opt["n_boot"])],
                           "Seed": opt["seed"]})
        out["optimism"] = gt_table(ot, "validation_optimism",
                                   "Internal validation: bootstrap optimism correction",
                                   (f"Frozen model: {naming}. " if naming else "")
                                   + str(opt["method"].iloc[0]) + ". Each value is rounded "
                                   "on its own: optimism-corrected = apparent − optimism before "
                                   "rounding."
                                   + (" Added value: both models of validation.added_value "
                                      "refitted in the same resamples, on the patients complete "
                                      "for both; ΔC = C extended − C base, corrected for the "
                                      "optimism of each."
                                      if (opt["measure"] == "ΔC").any() else ""))
    if "validation/iecv.csv" in results:
        iecv = results.read("validation/iecv.csv")
        if not iecv.empty:
            out["iecv"] = gt_table(_centre_rows(iecv, left_out=True), "validation_iecv",
                                   f"Internal-external cross-validation{of} "
                                   "(leave one centre out)",
                                   "Each centre's row: its patients predicted by the model "
                                   "refitted on the other centres (leave-one-centre-out); "
                                   "pooled row: DerSimonian-Laird random effects, with the 95% "
                                   "prediction interval for a new centre. "
                                   + _heterogeneity_caveat(iecv) + _centre_ipa_note(iecv)
                                   + row_notes(iecv, "centre"))
            out["iecv_figure"] = _img(results.path("figures/validation_iecv.png"))
    return out


def _sample_size(results) -> dict:
    """Minimum external-validation size by simulation (Riley et al. 2022), if run."""
    if "sample_size/minimum_n.csv" not in results:
        return {}
    from ..validation.sample_size import MEASURE_LABELS, METHOD

    mn = results.read("sample_size/minimum_n.csv")
    table = pd.DataFrame({
        "Event fraction": mn["event_fraction"].map(lambda f: f"{f:g}"),
        "Criterion": mn["criterion"].map(lambda c: MEASURE_LABELS.get(c, "every target")),
        "Target CI width": mn["target_width"].map(lambda w: "" if pd.isna(w) else f"{w:g}"),
        "Minimum n": mn["minimum_n"].map(lambda n: "" if pd.isna(n) else f"{int(n)}"),
        "Events (mean)": mn["events_mean"].map(lambda e: "" if pd.isna(e) else f"{e:.0f}"),
        "Note": mn["note"].fillna("")})
    return {"sample_size": gt_table(table, "sample_size",
                                    "Smallest validation cohort in the grid reaching the target "
                                    "95% CI widths", METHOD + "."),
            "sample_size_figure": _img(results.path("figures/sample_size.png"))}


def row_notes(table: pd.DataFrame, where: str | None = None) -> str:
    """The distinct reasons in a table's ``note`` column, as sentences for its footnote.

    ``where`` names the column that says which row a note belongs to (a centre or a
    horizon); each reason is printed once, after the rows it concerns.
    """
    if "note" not in table:
        return ""
    notes = {}
    for _, r in table.iterrows():
        text = str(r["note"]).strip() if pd.notna(r["note"]) else ""
        if text:
            key = text[0].upper() + text[1:].rstrip(".")
            label = r[where] if where and where in table else None
            notes.setdefault(key, [])
            if label is not None and pd.notna(label):
                label = f"{label:g}" if isinstance(label, float) else str(label)
                if label not in notes[key]:
                    notes[key].append(label)
    return "".join(f"{text}" + (f" ({', '.join(labels)})" if labels else "") + ". "
                   for text, labels in notes.items())


def _heterogeneity_caveat(cen: pd.DataFrame) -> str:
    """With few centres, I² = 0 and tau² = 0 cannot show that centres agree."""
    k = pd.to_numeric(cen.get("k"), errors="coerce").dropna()
    if k.empty or k.max() >= 10:
        return ""
    return (f"With {int(k.max())} centres, tau\u00b2 and I\u00b2 are imprecise: a value of 0 "
            "does not show that the centres agree. ")


def _ipa_note(values, where) -> str:
    """An IPA at or below 0: the model predicts no better than the null model.

    ``values`` are IPA estimates and ``where`` what each row is ("centre A",
    "60 months").
    """
    bad = [w for v, w in zip(pd.to_numeric(pd.Series(list(values)), errors="coerce"), where)
           if v <= 0]
    if not bad:
        return ""
    return (f"IPA at or below 0 ({', '.join(map(str, bad))}): there the model's predictions "
            "are no better than the null model's (the Kaplan-Meier estimate without "
            "covariates). ")


def _centre_ipa_note(cen: pd.DataFrame) -> str:
    ipa = cen[cen["measure"] == "IPA"]
    return _ipa_note(ipa["estimate"], [f"centre {c}" for c in ipa["centre"]])


def _centre_rows(cen: pd.DataFrame, left_out: bool = False) -> pd.DataFrame:
    names = [f"{c} (left out)" if left_out and not str(c).startswith("pooled") else c
             for c in cen["centre"]]
    return pd.DataFrame({"Centre": names, "Measure": cen["measure"],
                         "Estimate (95% CI)": [_ci(r.estimate, r.lower, r.upper, 3)
                                               for r in cen.itertuples()],
                         "95% prediction interval": [
                             "" if pd.isna(r.pi_lower) else _range(r.pi_lower, r.pi_upper, 3)
                             for r in cen.itertuples()],
                         "tau²": ["" if pd.isna(x) else f"{x:.4f}" for x in cen["tau2"]],
                         "I²": ["" if pd.isna(x) else f"{100 * x:.0f}%" for x in cen["i2"]],
                         "n": cen["n"]})


def _case_mix(results, covariates: dict | None = None) -> dict:
    """Case mix by cohort and centre (TRIPOD+AI 20c): the figure and the table, if run."""
    if "validation/case_mix.csv" not in results:
        return {}
    from ..validation.case_mix import METHOD

    cm = results.read("validation/case_mix.csv")
    binary = {name for name, spec in (covariates or {}).items() if spec.get("type") == "binary"}
    levels = cm["level"].fillna("").astype(str)
    # a binary predictor's levels read as Table 1 shows them, not as its 0/1 codes
    levels = levels.where(~cm["variable"].isin(binary),
                          levels.replace({"0": "no", "1": "yes", "0.0": "no", "1.0": "yes"}))
    wide = cm.assign(level=levels,
                     value=[_num(v, 3) if s != "n" else str(int(v))
                            for v, s in zip(cm["value"], cm["statistic"])])
    wide = wide.pivot_table(index=["label", "level", "statistic"], columns="cohort",
                            values="value", aggfunc="first", sort=False)
    wide = wide[list(dict.fromkeys(cm["cohort"]))].reset_index().fillna("—")
    wide = wide.rename(columns={"label": "Variable", "level": "Level",
                                "statistic": "Statistic"})
    return {"case_mix": gt_table(wide, "validation_case_mix", "Case mix by cohort and centre",
                                 METHOD + "."),
            "case_mix_figure": _img(results.path("figures/case_mix.png"))}


def _competing_validation(results, left_out: bool = False) -> dict:
    """The Fine-Gray prediction of progression: AUC, Brier, IPA and O/E by centre.

    ``left_out``: the per-centre rows are leave-one-centre-out predictions (develop
    mode), and are labelled so. A value R's Score does not estimate is left empty
    with its reason in the Note column.
    """
    if "validation/competing_risks.csv" not in results:
        return {}
    cv = results.read("validation/competing_risks.csv")
    if "note" not in cv:
        cv["note"] = ""
    rows = []
    for (centre, horizon), part in cv.groupby(["centre", "horizon"], sort=False):
        get = part.set_index("measure")
        name = str(centre)
        if left_out and not name.startswith(("all", "pooled")):
            name += " (left out)"
        row = {"Centre": name, "Horizon": f"{horizon:g}"}
        for measure, digits in (("time-dependent AUC", 3), ("Brier score", 3), ("IPA", 3)):
            row[measure.replace("time-dependent ", "")] = (
                _num(get.loc[measure, "estimate"], digits) if measure in get.index else "")
        if "O/E" in get.index:
            r = get.loc["O/E"]
            row["O/E (95% CI)"] = _ci(r["estimate"], r["lower"], r["upper"])
            pi = (_range(r["pi_lower"], r["pi_upper"])
                  if "pi_lower" in r and pd.notna(r["pi_lower"]) else "")
            i2 = (f"{100 * r['i2']:.0f}%" if "i2" in r and pd.notna(r["i2"]) else "")
            row["O/E 95% PI; I²"] = "; ".join(x for x in (pi, i2) if x)
        row["n"] = int(part["n"].iloc[0])
        row["Progressed"] = int(part["events"].iloc[0])
        row["Died first"] = int(part["competing"].iloc[0])
        notes = [str(x) for x in part["note"].dropna() if str(x).strip()]
        row["Note"] = " ".join(dict.fromkeys(notes))
        rows.append(row)
    table = pd.DataFrame(rows)
    note = str(cv["method"].iloc[0]) if "method" in cv else ""
    ipa = cv[cv["measure"] == "IPA"]
    return {"competing_validation": gt_table(
        table, "validation_competing",
        "Competing risks: predicted cumulative incidence of progression (Fine-Gray)",
        "Cause-specific AUC, Brier and IPA as R riskRegression::Score(cause = 1); O/E: "
        "Aalen-Johansen over mean predicted; pooled row: random effects on log O/E, with "
        "its 95% prediction interval (PI) for a new centre and I². "
        + ("Centre rows: each centre predicted by the model refitted on the other centres "
           "(leave-one-centre-out). " if left_out else "")
        + "Empty: not estimable (see Note). "
        + _heterogeneity_caveat(cv)
        + _ipa_note(ipa["estimate"], [f"{c} at {h:g}" for c, h in zip(ipa["centre"],
                                                                      ipa["horizon"])])
        + note)}


def _model_term(name: str, covariates: dict) -> str:
    """'grade[G2]' -> 'WHO grade: G2 (vs G1)'; 'age' -> 'Age (per 10 years)'."""
    base, _, level = name.partition("[")
    spec = covariates.get(base, {})
    label = spec.get("label", base)
    if level:
        levels = spec.get("levels") or []
        ref = f" (vs {levels[0]})" if levels else ""
        return f"{label}: {level.rstrip(']')}{ref}"
    return label


def _coding_text(spec: dict) -> str:
    """How a covariate enters the linear predictor of a frozen model."""
    kind = spec.get("type")
    if kind == "categorical":
        levels = spec.get("levels") or []
        return (f"indicator of each level against {levels[0]}" if levels
                else "indicator of each level against the reference")
    if kind == "binary":
        return "1 if present, 0 if absent"
    steps = []
    if spec.get("transform") == "log2":
        steps.append(f"log2 of the value (values below {spec.get('floor', 1):g} set to "
                     f"{spec.get('floor', 1):g})")
    if spec.get("scale"):
        steps.append(f"divided by {spec['scale']:g}")
    return ", ".join(steps) if steps else "the value as recorded"


def frozen_model_description(model: dict, unit: str) -> dict:
    """The frozen model's full equation (TRIPOD+AI 22): coefficients and baseline survival.

    Returns ``{"equation": str, "coefficients": DataFrame, "baseline": DataFrame}``.
    The equation is the one :func:`netpet_stats.validation.frozen_model.predict_survival`
    evaluates: S(t | x) = S0(t) ** exp(LP), LP = sum of coefficient x covariate, with
    x = 0 at the reference levels and at 0 of each transformed continuous covariate.
    """
    covariates = model.get("covariates") or {}
    coefs = model.get("coefficients") or {}
    coef_tab = pd.DataFrame({
        "Term": [_model_term(k, covariates) for k in coefs],
        "Coding": [_coding_text(covariates.get(k.partition("[")[0], {})) for k in coefs],
        "Coefficient": [f"{v:.4f}" for v in coefs.values()],
        "HR": [f"{np.exp(v):.3f}" for v in coefs.values()]})
    base = model.get("baseline_survival") or {}
    horizons = base.get("horizons") or []
    rows = []
    for stratum, values in (base.get("survival") or {}).items():
        row = {"Stratum": "all patients" if str(stratum) == "0" else str(stratum)}
        for h, v in zip(horizons, values):
            row[f"S0({h:g} {unit})"] = f"{v:.4f}"
        rows.append(row)
    baseline = pd.DataFrame(rows)
    if len(baseline) == 1:
        baseline = baseline.drop(columns="Stratum")
    def sign(v: float, first: bool) -> str:
        return ("−" if v < 0 else "") if first else (" − " if v < 0 else " + ")

    terms = "".join(f"{sign(v, i == 0)}{abs(v):.4f} × [{_model_term(k, covariates)}]"
                    for i, (k, v) in enumerate(coefs.items()))
    equation = (f"Predicted probability of surviving to time t: S(t | x) = S0(t) ^ exp(LP), "
                f"with LP = {terms or '0'}; S0(t) is the baseline survival (all covariates at "
                f"their reference level or 0 after their coding).")
    return {"equation": equation, "coefficients": coef_tab, "baseline": baseline}


def _model_naming(config: dict, model: dict | None) -> str:
    """'the frozen model "<label>" (overall survival, at 12, 36, 60 months)'."""
    val = config.get("validation") or {}
    unit = config["analysis_time_unit"]
    name = val.get("model", "")
    spec = config["cox"]["models"].get(name, {})
    label = spec.get("label") or (model or {}).get("name") or name
    ep = (model or {}).get("endpoint") or val.get("endpoint", "")
    ep_label = config["endpoints"].get(ep, {}).get("label", ep)
    horizons = ", ".join(f"{h:g}" for h in val.get("horizons") or [])
    return f"the frozen model \u201c{label}\u201d ({ep_label}; horizons {horizons} {unit})"


def _centre_effect(config, results, model_spec: dict) -> str:
    """Why the validated model leaves centre out, and the centre effect the data show."""
    if "centre" in (model_spec.get("covariates") or []):
        return ("The validated model includes centre as a covariate: its predictions hold "
                "only for the development centres.")
    if "centre" in (model_spec.get("strata") or []):
        return ("The validated model is stratified by centre: each development centre has "
                "its own baseline survival, so it predicts only for those centres.")
    text = ("Centre is left out of the validated model (neither a covariate nor a stratum), "
            "so that it can predict for a patient of a centre not in the development data, "
            "which has no baseline survival or coefficient of its own; the primary model, "
            "stratified by centre, estimates the hazard ratios within centres instead. "
            "Choose another model for validation with validation.model.")
    ep = (config.get("validation") or {}).get("endpoint")
    if ep and f"{ep}/cox_coefficients.csv" in results:
        coefs = results.read(f"{ep}/cox_coefficients.csv")
        rows = coefs[(coefs["term"] == "centre") & (coefs["analysis"] == "multivariable")]
        if len(rows):
            model = rows["model"].iloc[0]
            rows = rows[rows["model"] == model]
            effects = "; ".join(f"{r.level} vs {r.reference}: HR {_ci(r.hr, r.hr_lower, r.hr_upper)}"
                                for r in rows.itertuples())
            text += (f" The centre effect in these data, adjusted as in the model "
                     f"\u201c{rows['model_label'].iloc[0]}\u201d: {effects}.")
    if "validation/iecv.csv" in results:
        iecv = results.read("validation/iecv.csv")
        pooled = iecv[(iecv["measure"] == "O/E") & iecv["centre"].astype(str).str.startswith("pooled")]
        if len(pooled) and np.isfinite(pooled["i2"].iloc[0]):
            r = pooled.iloc[0]
            text += (f" Between centres left out in turn, O/E varied with I\u00b2 = "
                     f"{100 * r.i2:.0f}% and a 95% prediction interval for a new centre of "
                     f"{_num(r.pi_lower)} to {_num(r.pi_upper)}.")
    return text


def _frozen_model_part(config, results) -> dict:
    """The validated model named, its full equation, and why centre is (not) in it."""
    val = config.get("validation") or {}
    mode = val.get("mode", "none")
    if mode == "develop" and "model/frozen_model.yaml" in results:
        path = results.path("model/frozen_model.yaml")
    elif mode == "validate" and "model" in results.roles:
        path = results.roles["model"]
    else:
        return {}
    import yaml

    model = yaml.safe_load(path.read_text(encoding="utf-8"))
    unit = model.get("time_unit") or config["analysis_time_unit"]
    described = frozen_model_description(model, unit)
    spec = config["cox"]["models"].get(val.get("model", ""), {}) or \
        ((model.get("provenance") or {}).get("model_spec") or {})
    naming = _model_naming(config, model)
    primary = config["cox"]["primary_model"]
    text = (f"The model validated here is {naming}. "
            + (f"It is not the primary model of the Cox section "
               f"(\u201c{config['cox']['models'][primary].get('label', primary)}\u201d), "
               "whose concordance counts only pairs of patients within a centre; the two "
               "C indices therefore describe different models on different pairs. "
               if val.get("model") != primary else "")
            + _centre_effect(config, results, spec))
    return {
        "model_text": text,
        "equation": described["equation"],
        "model_coefficients": gt_table(
            described["coefficients"], "frozen_model_coefficients",
            f"Full model: {naming}",
            "Coefficients on the log-hazard scale as frozen (TRIPOD+AI 22); HR = exp(coefficient)."),
        "model_baseline": gt_table(
            described["baseline"], "frozen_model_baseline",
            "Baseline survival S0(t) of the full model",
            "S(t | x) = S0(t) ^ exp(LP)."),
        "naming": naming,
    }


def _validation_section(config, results) -> dict | None:
    left_out = (config.get("validation") or {}).get("mode") == "develop"
    sample_size = {**_sample_size(results), **_case_mix(results, config["covariates"]),
                   **_competing_validation(results, left_out)}
    frozen = _frozen_model_part(config, results)
    if "validation/discrimination.csv" not in results:
        mode = (config.get("validation") or {}).get("mode", "none")
        text = ("This run developed and froze the model (results/model/frozen_model.yaml) and "
                "validated it internally; run the workflow with validation.mode: validate on "
                "another cohort to validate it externally."
                if mode == "develop" else
                "This run analyses one cohort; no frozen model was applied to it.")
        return {"text": text, **frozen,
                **_internal_validation(results, frozen.get("naming", ""),
                                       config["cox"]["models"]), **sample_size}
    disc = results.read("validation/discrimination.csv")
    dt = pd.DataFrame({"Measure": disc["measure"],
                       "Horizon": disc["horizon"].map(lambda h: "" if pd.isna(h) else f"{h:g}"),
                       "Estimate (95% CI)": [_ci(r.estimate, r.lower, r.upper, 3)
                                             for r in disc.itertuples()],
                       "Method": disc["method"]})
    cal = results.read("validation/calibration.csv")
    ct = pd.DataFrame({"Horizon": cal["horizon"].map(lambda h: f"{h:g}"),
                       "Calibration slope": [_ci(r.calibration_slope, r.slope_lower, r.slope_upper)
                                             for r in cal.itertuples()],
                       "O/E": [_ci(r.o_e, r.o_e_lower, r.o_e_upper) for r in cal.itertuples()],
                       "ICI": [_num(x, 3) for x in cal["ICI"]], "E50": [_num(x, 3) for x in cal["E50"]],
                       "E90": [_num(x, 3) for x in cal["E90"]], "Brier": [_num(x, 3) for x in cal["brier"]],
                       "IPA": [_num(x, 3) for x in cal["ipa"]]})
    cen = results.read("validation/centres.csv")
    cent = _centre_rows(cen) if not cen.empty else None
    av = results.read("validation/added_value.csv")
    added = None
    if "delta_c" in av.columns:
        added = gt_table(pd.DataFrame({
            "Extended model": av["extended"], "Base model": av["base"],
            "C extended": [_num(x, 3) for x in av["c_extended"]],
            "C base": [_num(x, 3) for x in av["c_base"]],
            "ΔC (95% CI)": [_ci(r.delta_c, r.lower, r.upper, 3) for r in av.itertuples()],
            "p": [fmt_p(x) for x in av["p"]], "n": av["n"], "Events": av["events"]}),
            "validation_added", "Added value: ΔC of the extended over the base model",
            concordance.COMPARE_METHOD)
    naming = frozen.get("naming") or _model_naming(config, None)
    return {"text": f"External validation of {naming} on this cohort "
                    f"(n = {int(disc['n'].iloc[0])}, events = {int(disc['events'].iloc[0])}).",
            **frozen,
            "discrimination": gt_table(dt, "validation_disc", f"Discrimination of {naming}",
                                       row_notes(disc, "horizon") or None),
            "calibration": gt_table(ct, "validation_cal",
                                    f"Calibration and overall performance of {naming}",
                                    "Calibration slope from coxph(Surv ~ lp); O/E with Greenwood "
                                    "CI; ICI/E50/E90 (Austin et al. 2020); IPCW Brier and IPA. "
                                    + _ipa_note(cal["ipa"], [f"{h:g} {config['analysis_time_unit']}"
                                                             for h in cal["horizon"]])
                                    + row_notes(cal, "horizon")),
            "centres": None if cent is None else gt_table(
                cent, "validation_centres", f"Performance of {naming} by centre",
                "DerSimonian-Laird random effects; prediction interval for a new "
                "centre (undefined below 3 centres). " + _heterogeneity_caveat(cen)
                + _centre_ipa_note(cen) + row_notes(cen, "centre")),
            "centre_figure": _img(results.path("figures/validation_centres.png")),
            "added_value": added,
            "curves_figure": _img(results.path("figures/validation_risk_group_curves.png")),
            "figure": _img(results.path("figures/calibration.png")),
            **sample_size}


#: References of the methods text, cited by key and numbered in order of first use.
REFERENCES = {
    "netpet2017": "Chan DLH, et al. Dual somatostatin receptor/FDG "
                  "PET/CT imaging in metastatic neuroendocrine tumours: proposal for a novel "
                  "grading scheme with prognostic significance. Theranostics. "
                  "2017;7(5):1149-1158. doi:10.7150/thno.18068",
    "netpet2023": "Chan DL, Hayes AR, Karfis I, et al. Dual [68Ga]DOTATATE and [18F]FDG PET/CT "
                  "in patients with metastatic gastroenteropancreatic neuroendocrine neoplasms: "
                  "a multicentre validation of the NETPET score. Br J Cancer. "
                  "2023;128(4):549-555. doi:10.1038/s41416-022-02061-5",
    "km": "Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. "
          "J Am Stat Assoc. 1958;53:457-481",
    "greenwood": "Greenwood M. The natural duration of cancer. Reports on Public Health and "
                 "Medical Subjects. 1926;33:1-26",
    "brookmeyer": "Brookmeyer R, Crowley J. A confidence interval for the median survival "
                  "time. Biometrics. 1982;38:29-41",
    "schemper": "Schemper M, Smith TL. A note on quantifying follow-up in studies of failure "
                "time. Control Clin Trials. 1996;17:343-346",
    "mantel": "Mantel N. Evaluation of survival data and two new rank order statistics "
              "arising in its consideration. Cancer Chemother Rep. 1966;50:163-170",
    "holm": "Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat. "
            "1979;6:65-70",
    "cox": "Cox DR. Regression models and life-tables. J R Stat Soc B. 1972;34:187-220",
    "efron": "Efron B. The efficiency of Cox's likelihood function for censored data. "
             "J Am Stat Assoc. 1977;72:557-565",
    "breslow": "Breslow N. Covariance analysis of censored survival data. Biometrics. "
               "1974;30:89-99",
    "kalbfleisch": "Kalbfleisch JD, Prentice RL. Marginal likelihoods based on Cox's "
                   "regression and life model. Biometrika. 1973;60:267-278",
    "linwei": "Lin DY, Wei LJ. The robust inference for the Cox proportional hazards model. "
              "J Am Stat Assoc. 1989;84:1074-1078",
    "grambsch": "Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based "
                "on weighted residuals. Biometrika. 1994;81:515-526",
    "harrell": "Harrell FE, Califf RM, Pryor DB, Lee KL, Rosati RA. Evaluating the yield of "
               "medical tests. JAMA. 1982;247:2543-2546",
    "uno": "Uno H, Cai T, Pencina MJ, D'Agostino RB, Wei LJ. On the C-statistics for "
           "evaluating overall adequacy of risk prediction procedures with censored survival "
           "data. Stat Med. 2011;30:1105-1117",
    "freeman": "Freeman GH, Halton JH. Note on an exact treatment of contingency, goodness of "
               "fit and other problems of significance. Biometrika. 1951;38:141-149",
    "aalen1978": "Aalen OO, Johansen S. An empirical transition matrix for non-homogeneous "
                 "Markov chains based on censored observations. Scand J Stat. 1978;5:141-150",
    "gray1988": "Gray RJ. A class of K-sample tests for comparing the cumulative incidence of "
                "a competing risk. Ann Stat. 1988;16:1141-1154",
    "finegray1999": "Fine JP, Gray RJ. A proportional hazards model for the subdistribution "
                    "of a competing risk. J Am Stat Assoc. 1999;94:496-509",
    "putter2007": "Putter H, Fiocco M, Geskus RB. Tutorial in biostatistics: competing risks "
                  "and multi-state models. Stat Med. 2007;26:2389-2430",
    "cmprsk": "Gray RJ. cmprsk: Subdistribution Analysis of Competing Risks. R package. "
              "https://CRAN.R-project.org/package=cmprsk",
    "harrell_rms": "Harrell FE. Regression Modeling Strategies: With Applications to Linear "
                   "Models, Logistic and Ordinal Regression, and Survival Analysis. 2nd ed. "
                   "Springer; 2015",
    "harrell_validate": "Harrell FE, Lee KL, Mark DB. Multivariable prognostic models: issues "
                        "in developing models, evaluating assumptions and adequacy, and "
                        "measuring and reducing errors. Stat Med. 1996;15:361-387",
    "steyerberg_iecv": "Steyerberg EW, Harrell FE. Prediction models need appropriate internal, "
                       "internal-external, and external validation. J Clin Epidemiol. "
                       "2016;69:245-247",
    "royston_altman": "Royston P, Altman DG. External validation of a Cox prognostic model: "
                      "principles and methods. BMC Med Res Methodol. 2013;13:33",
    "royston_d": "Royston P, Sauerbrei W. A new measure of prognostic separation in survival "
                 "data. Stat Med. 2004;23:723-748",
    "austin2020": "Austin PC, Harrell FE, van Klaveren D. Graphical calibration curves and the "
                  "integrated calibration index (ICI) for survival models. Stat Med. "
                  "2020;39:2714-2742",
    "graf1999": "Graf E, Schmoor C, Sauerbrei W, Schumacher M. Assessment and comparison of "
                "prognostic classification schemes for survival data. Stat Med. "
                "1999;18:2529-2545",
    "kattan2018": "Kattan MW, Gerds TA. The index of prediction accuracy: an intuitive measure "
                  "useful for evaluating risk prediction models. Diagn Progn Res. 2018;2:7",
    "blanche2013": "Blanche P, Dartigues JF, Jacqmin-Gadda H. Estimating and comparing "
                   "time-dependent areas under receiver operating characteristic curves for "
                   "censored event times with competing risks. Stat Med. 2013;32:5381-5397",
    "dersimonian": "DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin "
                   "Trials. 1986;7:177-188",
    "riley2011": "Riley RD, Higgins JPT, Deeks JJ. Interpretation of random effects "
                 "meta-analyses. BMJ. 2011;342:d549",
    "riley2022": "Riley RD, Collins GS, Ensor J, et al. Minimum sample size calculations for "
                 "external validation of a clinical prediction model with a time-to-event "
                 "outcome. Stat Med. 2022;41:1280-1295",
    "riskregression": "Gerds TA, Kattan MW. Medical Risk Prediction Models: With Ties to "
                      "Machine Learning. Chapman and Hall/CRC; 2021 (R package riskRegression)",
    "rms": "Harrell FE. rms: Regression Modeling Strategies. R package. "
           "https://CRAN.R-project.org/package=rms",
    "survival": "Therneau TM. A Package for Survival Analysis in R. R package survival, "
                "version 3.5-3. https://CRAN.R-project.org/package=survival",
    "rubin1987": "Rubin DB. Multiple Imputation for Nonresponse in Surveys. New York: Wiley; "
                 "1987. doi:10.1002/9780470316696",
    "white2011": "White IR, Royston P, Wood AM. Multiple imputation using chained equations: "
                 "issues and guidance for practice. Stat Med. 2011;30(4):377-399. "
                 "doi:10.1002/sim.4067",
    "vanbuuren2018": "van Buuren S. Flexible Imputation of Missing Data. 2nd ed. Boca Raton, "
                     "FL: Chapman & Hall/CRC; 2018. doi:10.1201/9780429492259",
    "white_royston2009": "White IR, Royston P. Imputing missing covariate values for the Cox "
                         "model. Stat Med. 2009;28(15):1982-1998. doi:10.1002/sim.3618",
    "white_daniel2010": "White IR, Daniel R, Royston P. Avoiding bias due to perfect "
                        "prediction in multiple imputation of incomplete categorical "
                        "variables. Comput Stat Data Anal. 2010;54(10):2267-2275. "
                        "doi:10.1016/j.csda.2010.04.005",
    "barnard_rubin1999": "Barnard J, Rubin DB. Small-sample degrees of freedom with multiple "
                         "imputation. Biometrika. 1999;86(4):948-955. "
                         "doi:10.1093/biomet/86.4.948",
    "li1991": "Li KH, Raghunathan TE, Rubin DB. Large-sample significance levels from "
              "multiply imputed data using moment-based statistics and an F reference "
              "distribution. J Am Stat Assoc. 1991;86(416):1065-1073. "
              "doi:10.1080/01621459.1991.10475152",
    "marshall2009": "Marshall A, Altman DG, Holder RL, Royston P. Combining estimates of "
                    "interest in prognostic modelling studies after multiple imputation: "
                    "current practice and guidelines. BMC Med Res Methodol. 2009;9:57. "
                    "doi:10.1186/1471-2288-9-57",
}


class _Citations:
    """Numbers references in order of first use, as a paper does."""

    def __init__(self):
        self.order: list[str] = []

    def __call__(self, *keys: str) -> str:
        for key in keys:
            if key not in self.order:
                self.order.append(key)
        return "[" + ", ".join(str(self.order.index(k) + 1) for k in keys) + "]"

    def listing(self) -> list[str]:
        return [REFERENCES[k] for k in self.order]


def _label(config: dict, name: str) -> str:
    spec = config["covariates"].get(name, {})
    return spec.get("label", "centre" if name == "centre" else name)


def entry_sentence(config: dict) -> str:
    """How patients entered the risk set: at time zero, or late (left truncation).

    Said in every run, because a reader must know whether time before the scan was
    counted as time at risk; a configuration that counts time from diagnosis with
    every patient at risk from diagnosis is named as immortal time.
    """
    ccfg = config["cohort"]
    dates = ccfg.get("dates") or {}
    how = delayed_entry(config)
    if how == "scan":
        scan = dates["entry"].replace("_", " ")
        return (f" Each patient entered the risk set at the {scan} (delayed entry, left "
                f"truncation): time was counted from the {dates['time_zero'].replace('_', ' ')}"
                ", but a patient contributed time at risk only from the scan, from which the "
                "NETPET score is known, so that the time before it is not immortal time. "
                "Kaplan-Meier estimates, log-rank tests (as Cox score tests at zero, which R's "
                "survdiff does not compute for such data), Cox models and concordance used the "
                "counting-process risk sets (R Surv(entry, time, event)).")
    if how == "column":
        return (f" Each patient entered the risk set at the entry time recorded in column "
                f"{ccfg['columns']['entry_time']!r} (delayed entry, left truncation); "
                "Kaplan-Meier estimates, log-rank tests (as Cox score tests at zero, which R's "
                "survdiff does not compute for such data), Cox models and concordance used the "
                "counting-process risk sets (R Surv(entry, time, event)).")
    if ccfg.get("times", "given") == "dates" and dates.get("time_zero") == "diagnosis":
        return (" Every patient was counted at risk from diagnosis, although the NETPET score "
                "exists only from the scan: the time from diagnosis to the scan is immortal "
                "time, which biases survival upwards and hazard ratios towards 1 (no delayed "
                "entry was configured).")
    return " Every patient was at risk from time zero (no delayed entry)."


def weights_sentence(config: dict) -> str:
    """Case weights, when the cohort brings them (e.g. inverse-probability weights)."""
    column = (config["cohort"].get("columns") or {}).get("weight")
    if not column:
        return ""
    return (f" Each patient was weighted by the case weight in column {column!r} (R "
            "weights =): Kaplan-Meier estimates, log-rank tests (Cox score tests with Breslow's "
            "ties), Cox models and concordance are weighted; with weights that are not whole numbers, Cox standard errors are "
            "robust (sandwich), as R coxph reports them by default.")


def methods_text(config) -> dict:
    """Methods paragraphs, with numbered references, generated from the configuration.

    Returns ``{"paragraphs": [...], "references": [...]}``: prose a reader can paste
    into a manuscript, naming variables by their labels (not configuration keys)
    and citing the methods and the R functions they match.
    """
    cite = _Citations()
    km = config["kaplan_meier"]
    groups = resolve_grouping(config["netpet"]["grouping"])
    unit = config["analysis_time_unit"]
    dated = config["cohort"].get("times", "given") == "dates"
    per_month = (config["cohort"].get("dates") or {}).get("days_per_month", 30.4375)

    def recorded(spec):
        given = "days" if dated else spec.get("time_unit", "months")
        return (f"in {unit}" if given == unit else
                f"recorded in {given} and analysed in {unit} (a month being {per_month:g} days)")

    zero = (config["cohort"].get("dates") or {}).get("time_zero", "later_scan").replace("_", " ")
    def in_sentence(label: str) -> str:  # "Overall survival" -> "overall survival"; "OS" stays
        return label[:1].lower() + label[1:] if label[1:2].islower() else label

    endpoints = " and ".join(f"{in_sentence(spec['label'])} ({recorded(spec)})"
                             for spec in config["endpoints"].values())
    labels = {n: _label(config, n) for n in config["covariates"]}
    specs = config["cox"]["models"]

    def model_text(spec):
        text = " + ".join(labels.get(c, c) for c in spec["covariates"])
        if spec.get("strata"):
            text += ", stratified by " + " and ".join(labels.get(s, s) for s in spec["strata"])
        if spec.get("cluster"):
            text += (f", with robust standard errors clustered by "
                     f"{labels.get(spec['cluster'], spec['cluster'])}")
        return text

    primary = specs[config["cox"]["primary_model"]]
    others = [model_text(s) for n, s in specs.items() if n != config["cox"]["primary_model"]]
    covs = []
    for name, spec in config["covariates"].items():
        desc = []
        if spec.get("levels"):
            desc.append(f"reference {spec['levels'][0]}")
        if spec.get("transform") == "log2":
            desc.append(f"log2-transformed after setting values below {spec.get('floor', 1):g} "
                        f"to {spec.get('floor', 1):g}, so that the hazard ratio is per doubling")
        if spec.get("scale"):
            desc.append(f"divided by {spec['scale']:g}")
        if desc:
            covs.append(f"{spec['label'].split(' (')[0]}: {'; '.join(desc)}")
    conc = config["concordance"]
    level = int(round(100 * float(km["conf_level"])))
    ties = cox_ties(config)
    scan_window = (config["cohort"].get("dates") or {}).get("scan_window_days", 60)
    zero_text = {
        "later scan": "the later of the two PET/CT scans (SSTR and FDG), the first day on "
                      "which the NETPET score is known",
        "earlier scan": "the earlier of the two PET/CT scans",
        "sstr scan": "the SSTR PET/CT scan", "fdg scan": "the FDG PET/CT scan",
        "diagnosis": "the date of diagnosis (without delayed entry: patients count as at risk "
                     "before their scans, so survival from diagnosis is overstated by the time "
                     "to the scan)"}.get(zero, zero)
    if config["cohort"].get("lesions"):
        scoring = ("The NETPET score was derived from the lesion-level table: each lesion's "
                   "SSTR and FDG positivity and FDG avidity relative to SSTR gave its pattern, "
                   "and the patient's score was the worst pattern, with P4a/P4b set by the "
                   "number of lesions with FDG avidity higher than SSTR (1-2 / 3 or more)"
                   + ("; where the patient table also recorded a score, the two had to agree"
                      if config["cohort"]["columns"].get("netpet") else "") + ". ")
    else:
        scoring = "The NETPET score was taken as recorded in the patient table. "
    outcome_defs = [f"{in_sentence(spec['label'])}: {spec['definition'].rstrip('.')}"
                    for spec in config["endpoints"].values() if spec.get("definition")]
    undefined = [in_sentence(spec["label"]) for spec in config["endpoints"].values()
                 if not spec.get("definition") and not spec.get("derive")]
    predictor_defs = [f"{_label(config, n).split(' (')[0]}: {spec['definition'].rstrip('.')}"
                      for n, spec in config["covariates"].items() if spec.get("definition")]
    paragraphs = [
        cohort_statement(config, files=False) + " " + scoring
        + ("The scan readers and their blinding to outcome are not recorded in the data; the "
           "authors report them. "),
        ("Outcomes were defined as follows: " + "; ".join(outcome_defs) + ". "
         if outcome_defs else "")
        + (f"The definition of {' and '.join(undefined)} (e.g. progression criteria, cause of "
           "death) was not stated with the data; the authors state it. "
           if undefined else "")
        + ("Predictors were measured as follows: " + "; ".join(predictor_defs) + ". "
           if predictor_defs else
           "When each predictor was measured (e.g. age at diagnosis or at the PET scan, "
           "Ki-67 on which specimen) was not stated with the data; the authors state it. "),
        "Patients were grouped by their NETPET score " + cite("netpet2017") + " as in the "
        "multicentre validation " + cite("netpet2023") + ": "
        + "; ".join(f"{k} ({', '.join(v)})" for k, v in groups.items())
        + ". Patients without a score, or with a score in no group (P0), were excluded from "
        "all analyses; a missing time or event indicator excluded a patient from that "
        "endpoint, and a missing covariate from the models that use it (complete-case "
        "analysis). Every exclusion is listed with its reason in the exclusions table.",
        f"The endpoints were {endpoints}. "
        + (f"Times were derived from dates, from time zero, {zero_text}, to the event or "
           "the last follow-up"
           + (f"; patients whose two scans were more than {scan_window} days apart were "
              "excluded" if scan_window is not None else "")
           + "; a death before progression censored time to progression."
           if dated else
           "Times and event indicators were taken as recorded in the table; time zero is "
           "the one used by the data's authors (for the NETPET score, the PET/CT date, from "
           "which the score is known), and a death before progression censored time to "
           "progression.") + entry_sentence(config) + weights_sentence(config),
        f"Survival was estimated by the Kaplan-Meier method {cite('km')} with Greenwood's "
        f"variance {cite('greenwood')} and {level}% pointwise confidence intervals on the "
        f"{km['conf_type']} scale; medians with their confidence intervals follow Brookmeyer "
        f"and Crowley {cite('brookmeyer')}, and the median follow-up was estimated by the "
        f"reverse Kaplan-Meier method {cite('schemper')}. Survival is reported at "
        + ", ".join(f"{x:g}" for x in km["landmarks"]) + f" {unit}. The groups were "
        f"compared by the log-rank test {cite('mantel')}, both unstratified and stratified "
        "by centre (both are reported), by the log-rank test for trend over the ordered "
        "groups, and pairwise, with p-values "
        + ("adjusted by Holm's method " + cite("holm")
           if config["logrank"]["pairwise_adjustment"] == "holm" else
           f"adjusted by the {config['logrank']['pairwise_adjustment']} method") + ".",
        f"Hazard ratios were estimated by Cox proportional-hazards regression {cite('cox')} "
        + {"efron": "with Efron's method for tied times {}",      # cite only the one used
           "breslow": "with Breslow's method for tied times {}",
           "exact": "with the exact (conditional logistic) partial likelihood for tied times "
                    "{}"}[ties].format(cite({"exact": "kalbfleisch"}.get(ties, ties)))
        + f", with {level}% Wald confidence "
        "intervals. Each variable was first analysed alone; the primary multivariable "
        f"model was {model_text(primary)}"
        + (f", and further models were {'; '.join(others)}" if others else "") + ". "
        + ("Coding of covariates: " + "; ".join(covs) + ". " if covs else "")
        + ("WHO grade is defined from the Ki-67 index (with the mitotic count), so models "
           "with both estimate each adjusted for the other and their separate hazard "
           "ratios are imprecise where the two agree; their joint contribution is the "
           "likelihood-ratio test of both terms, and the collinearity of every model's terms "
           "is reported as generalized variance-inflation factors (Fox and Monette). "
           if any({"grade", "ki67"} <= set(spec["covariates"]) for spec in specs.values())
           else "")
        + (f"Robust (sandwich) standard errors follow Lin and Wei {cite('linwei')}. "
           if any(s.get("cluster") for s in specs.values()) else "")
        + "Each model was tested by likelihood-ratio, Wald and score tests, and each term by "
        "a likelihood-ratio test. "
        + ("Each continuous covariate entered linearly on its scale in the model; the "
           "linearity was tested by the likelihood-ratio test of a restricted cubic spline "
           "with four knots (at the 5th, 35th, 65th and 95th centiles) against the linear term "
           f"{cite('harrell_rms')}. "
           if any(spec.get("type") == "continuous" for spec in config["covariates"].values())
           else "")
        + "Proportional hazards were checked by the score test of "
        f"Grambsch and Therneau {cite('grambsch')} with time transformed by "
        + {"km": "the Kaplan-Meier estimate", "rank": "its rank",
           "identity": "nothing (identity)"}.get(config["cox"]["zph_transform"],
                                                 config["cox"]["zph_transform"])
        + ", and by plotting the scaled Schoenfeld residuals of each coefficient (each "
        "contrast of a factor) of the primary model against time with a natural-spline smooth and its two-standard-error band.",
        f"Discrimination was measured by Harrell's C {cite('harrell')}"
        + (f" and Uno's C {cite('uno')}" if conc.get("uno", True) else "")
        + (f", counting pairs whose earlier event is at or before {conc['horizon']:g} {unit}"
           if conc.get("horizon") else "")
        + ", with infinitesimal-jackknife standard errors; two indices on the same patients "
        "were compared through the covariance of their influences.",
        "The association of the NETPET group with "
        + labels.get(config["association"]["column"], config["association"]["column"])
        + " was tested by Pearson's chi-square test without continuity correction and by "
        f"the Freeman-Halton exact test {cite('freeman')}.",
        *_competing_methods(config, cite, level, unit, models=specs, model_text=model_text),
        *_validation_methods(config, cite, unit, labels),
        *_imputation_methods(config, cite, unit),
        "Multiplicity: the primary analysis is the comparison of the NETPET groups for "
        + in_sentence(next(iter(config["endpoints"].values()))["label"])
        + " (log-rank test and the primary Cox model); the pairwise log-rank comparisons "
        "are adjusted as stated; all other p-values (secondary endpoints, univariable and "
        "further models, tests of each term, proportional-hazards and association tests) "
        "are not adjusted for multiplicity and are descriptive.",
        "Software: the analysis was run by netpet-stats (Python), whose estimators are "
        "checked in its test suite against R: Kaplan-Meier, log-rank, Cox models, cox.zph, "
        f"concordance, Aalen-Johansen and Fine-Gray against R's survival package "
        f"{cite('survival')}; Gray's test against cmprsk {cite('cmprsk')}; the time-dependent "
        f"AUC, Brier score and IPA against riskRegression {cite('riskregression')}; the "
        f"bootstrap optimism against rms::validate {cite('rms')}; Pearson's chi-square and "
        "the Freeman-Halton test against R's chisq.test and fisher.test. R's conventions "
        "are followed for times that differ only by rounding and for coefficients that may "
        "be infinite.",
    ]
    return {"paragraphs": paragraphs, "references": cite.listing()}


def _days(n: float) -> str:
    return f"{n:g} day" if n == 1 else f"{n:g} days"


def _validation_methods(config, cite, unit, labels) -> list[str]:
    """The validation paragraph: which model, how it was frozen, validated and measured."""
    val = config.get("validation") or {}
    mode = val.get("mode", "none")
    if mode not in ("develop", "validate"):
        return []
    spec = config["cox"]["models"].get(val.get("model", ""), {})
    ep = config["endpoints"].get(val.get("endpoint", ""), {}).get("label", val.get("endpoint"))
    horizons = ", ".join(f"{h:g}" for h in val.get("horizons") or [])
    model = (f"the Cox model \u201c{spec.get('label', val.get('model'))}\u201d of "
             f"{ep.lower() if ep[1:2].islower() else ep}, predicting survival at {horizons} {unit}")
    def measures() -> str:  # cited where the sentence stands, so numbered in order
        return (f"Discrimination was measured by Harrell's and Uno's C and Royston's D "
                f"{cite('royston_d')}, and the time-dependent AUC; calibration by the "
                "calibration slope (the coefficient of the linear predictor in a Cox model "
                "of the validation data), the ratio of observed (Kaplan-Meier) to mean "
                "predicted risk (O/E) and the integrated calibration index with E50 and E90 "
                f"{cite('austin2020')}; overall performance by the inverse-probability-of-"
                f"censoring-weighted Brier score {cite('graf1999')} and the index of "
                "prediction accuracy (IPA, the Brier score's improvement over the null "
                f"model; 0 or less: no better than the null model) {cite('kattan2018')}.")
    if mode == "develop":
        text = (f"The prediction model frozen for validation was {model}; its coefficients "
                "and baseline survival are printed in full in the validation section. "
                f"It was validated internally by Harrell's bootstrap {cite('harrell_validate')} "
                f"({val.get('n_boot', 200)} resamples, each refitting the model; optimism-"
                "corrected C and calibration slope) and by internal-external cross-validation "
                f"{cite('steyerberg_iecv')}: each centre was predicted by the model refitted on "
                "the other centres, and the centres' estimates were pooled by DerSimonian-Laird "
                f"random effects {cite('dersimonian')} with a 95% prediction interval for a new "
                f"centre {cite('riley2011')}. " + measures())
    else:
        text = (f"The frozen model, {model}, was applied unchanged (no recalibration or "
                f"updating) to this cohort {cite('royston_altman')}. " + measures()
                + f" Centres were pooled by DerSimonian-Laird random effects "
                f"{cite('dersimonian')} with a 95% prediction interval {cite('riley2011')}.")
    if competing_risks_settings(config) is not None:
        text += (" The cumulative incidence of progression was predicted by a Fine-Gray "
                 "model with the same covariates, assessed by the cause-specific time-"
                 f"dependent AUC {cite('blanche2013')}, Brier score and IPA (as "
                 "riskRegression::Score with cause = 1) and O/E (Aalen-Johansen over mean "
                 "predicted), only at horizons within a centre's follow-up.")
    if (config.get("sample_size") or {}).get("enabled"):
        text += (" The size of a future external validation was planned by simulating "
                 f"validation cohorts from the frozen model {cite('riley2022')} and reading "
                 "the precision of the calibration slope, C and O/E by size.")
    return [text]


def _imputation_methods(config, cite, unit) -> list[str]:
    """The multiple-imputation paragraph, only when missing_data.method asks for it.

    Says what the imputation rules do (``steps.imputation``), nothing more: which
    pooled tables exist depends on the validation mode, as their rules do.
    """
    mcfg = config.get("missing_data") or {}
    if mcfg.get("method") != "multiple_imputation":
        return []
    m = (f"m = {mcfg['m']} data sets were imputed" if mcfg.get("m") else
         "the number of imputed data sets was the larger of 20 and the percentage of "
         "patients with a missing model covariate (given in the missing-data section)")
    ordered = [_label(config, n).split(" (")[0] for n, spec in config["covariates"].items()
               if spec.get("ordered")]
    text = (
        "As a secondary analysis beside the complete-case analysis, missing values of the "
        "Cox models' covariates were multiply imputed by chained equations "
        f"{cite('vanbuuren2018', 'white2011')}: continuous covariates by predictive mean "
        "matching (five donors) on the scale the model uses them, binary ones by logistic, "
        "nominal ones by multinomial logistic and ordered ones"
        + (f" ({', '.join(ordered)})" if ordered else "")
        + " by proportional-odds regression, with the augmentation that avoids perfect "
        f"prediction {cite('white_daniel2010')}. Every imputation model included each "
        "endpoint's event indicator and Nelson-Aalen cumulative hazard "
        f"{cite('white_royston2009')}, the other model covariates and, as fixed effects, the "
        "NETPET group and the stratification variables, which were never imputed, and the "
        "products of each cumulative hazard with each complete covariate (the covariates' "
        "effects multiply the cumulative hazard in the distribution imputed from); patients "
        "without a NETPET score or an outcome were not imputed. "
        f"{m[:1].upper() + m[1:] if not m.startswith('m =') else m}, with "
        f"{mcfg.get('iterations', 10)} cycles of the chained "
        f"equations (seed {mcfg.get('seed', 1)}). Each Cox model was fitted on each imputed "
        f"data set and the estimates combined by Rubin's rules {cite('rubin1987')}, with "
        f"Barnard-Rubin degrees of freedom {cite('barnard_rubin1999')}; multi-level terms "
        f"were tested by the D1 Wald statistic {cite('li1991')}. Harrell's"
        + (" and Uno's C were" if config["concordance"].get("uno", True) else " C was")
        + " computed on each imputed data set and pooled on the logit scale "
        + cite("marshall2009"))
    val = config.get("validation") or {}
    horizons = ", ".join(f"{h:g}" for h in val.get("horizons") or [])
    if val.get("mode") == "develop":
        text += (f"; the calibration slope (as it is) and O/E at {horizons} {unit} (on the log "
                 "scale) of the validation model developed on the imputed data sets "
                 "(coefficients by Rubin's rules, baseline survival averaged on the "
                 "complementary log-log scale) were pooled the same way, as apparent "
                 "calibration in the data the model was developed on; that model is frozen "
                 "beside the complete-case one, which stays the primary model")
    elif val.get("mode") == "validate":
        text += (f"; the calibration slope (as it is) and O/E at the model's horizons (on the "
                 "log scale) of the frozen model, applied unchanged to each imputed data set "
                 "of this cohort (imputed with its own outcome), were pooled the same way; "
                 "in each centre, every performance measure was pooled over the imputations "
                 "before the centres were pooled by random effects")
    text += (". The complete-case analysis remains the primary one; both are shown side "
             "by side.")
    return [text]


def _competing_methods(config, cite, level, unit, models, model_text) -> list[str]:
    """The competing-risks paragraph, when that analysis runs."""
    cr = competing_risks_settings(config)
    if cr is None:
        return []
    prog = config["endpoints"][cr["progression"]]["label"]
    death = config["endpoints"][cr["death"]]["label"]
    status = "progression_status" in {k for k, v in config["cohort"]["columns"].items() if v}
    rule = ("taken from the recorded progression status" if status else
            f"derived from {prog.lower()} and {death.lower()}: a progression was counted as "
            "such (also when death was recorded at the same time); a death without a "
            f"progression, with progression follow-up ending within {_days(cr['same_time_days'])} "
            "of death, as death without progression; a patient whose progression "
            "follow-up ended earlier than death was censored at its end (not assumed "
            "progression-free until death); a progression after the end of follow-up was "
            "refused as an error. Every patient the rule had to decide is listed")
    pfs = [spec["label"] for spec in config["endpoints"].values() if spec.get("derive")]
    entered, weighted = competing_entry_weights(config)
    models_text = "; ".join(model_text(models[m]) for m in cr["models"])
    horizons = ("Cumulative incidences are reported at "
                + ", ".join(f"{h:g}" for h in cr["horizons"]) + f" {unit}."
                + (f" {', '.join(pfs)} counted progression or death, whichever came first."
                   if pfs else ""))
    opening = (
        f"Because death precludes later progression, progression was also analysed with "
        f"death without progression as a competing event {cite('putter2007')}. Each "
        f"patient's state (progressed, died without progression, censored) was {rule}. ")
    if not (entered or weighted):
        return [
            opening
            + f"The cumulative incidence of each event was estimated by the Aalen-Johansen "
            f"method {cite('aalen1978')} with infinitesimal-jackknife standard errors and "
            f"{level}% pointwise confidence intervals (R survival's survfit for multi-state "
            f"data), and compared with the naive 1 - Kaplan-Meier estimate that censors "
            f"deaths. Groups were compared by Gray's test {cite('gray1988')} (R "
            f"cmprsk::cuminc {cite('cmprsk')}"
            + (f", stratified by {cr['gray_strata']}" if cr["gray_strata"] else "") + "). "
            f"Hazard ratios were estimated by cause-specific Cox models, in which the other "
            f"event censors, and by Fine-Gray subdistribution hazard models "
            f"{cite('finegray1999')} with inverse-probability-of-censoring weights and robust "
            f"standard errors (R survival's finegray and coxph), for {models_text}. "
            + horizons]
    how = " and ".join(
        (["each patient at risk from entry on (delayed entry, left truncation; R "
          "Surv(entry, time, status))"] if entered else [])
        + (["each patient weighted by the case weight (R weights =)"] if weighted else []))
    why = ("R's cmprsk takes neither delayed entry nor case weights, and survival's "
           "finegray takes no delayed entry" if entered else
           "R's cmprsk (cuminc, crr), which they reproduce here, takes no case weights")
    return [
        opening
        + f"The cumulative incidence of each event was estimated by the Aalen-Johansen method "
        f"{cite('aalen1978')} with infinitesimal-jackknife standard errors and {level}% "
        f"pointwise confidence intervals (R survival's survfit for multi-state data with an "
        f"id), with {how}, and compared with the naive 1 - Kaplan-Meier estimate that "
        f"censors deaths, on the same risk sets; numbers at risk are patients, as R's "
        f"summary.survfit gives them. Hazard ratios were estimated by cause-specific Cox "
        f"models, in which the other event censors, on the same risk sets"
        + (" (robust standard errors for weights that are not whole numbers, as R coxph)"
           if weighted else "")
        + f", for {models_text}. Gray's test {cite('gray1988')} and Fine-Gray "
        f"subdistribution hazard models {cite('finegray1999')} were not computed: {why} "
        f"{cite('cmprsk')}, and computing them as if every patient were at risk from time "
        f"zero with equal weight would be wrong. " + horizons]


def competing_entry_weights(config: dict) -> tuple[bool, bool]:
    """Whether the cohort has delayed entry and case weights (the competing-risks
    analysis then computes no Gray's test nor Fine-Gray model)."""
    weighted = bool((config["cohort"].get("columns") or {}).get("weight"))
    return delayed_entry(config) is not None, weighted


def _competing_section(config, results, caveat: str = "") -> dict | None:
    """Section: who died before progression, the cumulative incidences, Gray's test, models."""
    if "competing_risks/states.csv" not in results:
        return None
    cr = competing_risks_settings(config)
    unit = config["analysis_time_unit"]
    states = results.read("competing_risks/states.csv", dtype={"n": str})
    wide = states.pivot(index="group", columns="state", values="n")
    order = list(dict.fromkeys(states["group"]))
    wide = wide.reindex(order)[["progressed", "died without progression", "censored"]]
    sizes = states.drop_duplicates("group").set_index("group")["group_n"] \
        if "group_n" in states else None
    state_tab = wide.reset_index().rename(columns={
        "group": "Group", "progressed": "Progressed", "died without progression":
        "Died without progression", "censored": "Censored"})
    if sizes is not None:
        state_tab.insert(1, "n", [sizes.get(g) for g in order])
    hz = results.read("competing_risks/horizons.csv")
    # one row per group and estimate, one column per horizon (as the landmark table)
    rows = {}
    for r in hz.itertuples():
        key = (r.group, r.state)
        rows.setdefault(key, {"Group": r.group, "Estimate": f"{r.state}: cumulative incidence"})
        rows[key][f"{r.time:g} {unit}"] = _ci(r.estimate, r.lower, r.upper)
        if r.state == "progressed":
            naive = rows.setdefault((r.group, "naive"), {
                "Group": r.group, "Estimate": "progressed: 1 - Kaplan-Meier (deaths censored)"})
            naive[f"{r.time:g} {unit}"] = _ci(r.one_minus_km, r.one_minus_km_lower,
                                              r.one_minus_km_upper)
    order = {"progressed": 0, "naive": 1, "died without progression": 2}
    rows = [rows[k] for k in sorted(rows, key=lambda k: (list(dict.fromkeys(hz["group"]))
                                                          .index(k[0]), order.get(k[1], 3)))]
    gray = results.read("competing_risks/gray_test.csv")
    not_run = _not_computed(gray)
    if not_run:    # delayed entry or case weights: the reason, not an empty test
        gray_tab = pd.DataFrame({"Event": gray["cause"], "Gray's test": "not computed"})
    else:
        gray_tab = pd.DataFrame({"Event": gray["cause"],
                                 "Chi-square": [_num(x) for x in gray["statistic"]],
                                 "df": gray["df"], "p": [fmt_p(x) for x in gray["p"]]})
    models = results.read("competing_risks/models.csv")
    fg_rows = models[models["approach"] == "subdistribution hazard (Fine-Gray)"]
    fg_not_run = _not_computed(fg_rows)
    if fg_not_run:     # one row per event saying why: in the caption, not as a model row
        models = models[models["approach"] != "subdistribution hazard (Fine-Gray)"]
    mrows = []
    for (model, event, term, level), part in models.groupby(
            ["model_label", "event", "term_label", "level"], sort=False, dropna=False):
        row = {"Model": model, "Event": event,
               "Term": "(whole model)" if not isinstance(term, str) else
               f"{term}: {level} vs {part['reference'].iloc[0]}"
               if isinstance(level, str) else term}
        for approach, short in (("cause-specific hazard", "Cause-specific HR"),
                                ("subdistribution hazard (Fine-Gray)", "Subdistribution HR")):
            r = part[part["approach"] == approach]
            if len(r):
                r = r.iloc[0]
                note = r.note if isinstance(r.get("note"), str) else ""
                if note.startswith("coefficient may be infinite"):
                    row[f"{short} (95% CI)"] = "not estimable: may be infinite"
                elif note:
                    row[f"{short} (95% CI)"] = note
                else:
                    row[f"{short} (95% CI)"] = _ci(r.hr, r.hr_lower, r.hr_upper)
                row[f"{short} p"] = "" if note else fmt_p(r.p)
        mrows.append(row)
    mtab = pd.DataFrame(mrows)
    cs_se = set(models.loc[models["approach"] == "cause-specific hazard", "se_type"].dropna())
    one_model = mtab["Model"].nunique() == 1
    models_note = (f"Model: {mtab['Model'].iloc[0]}. " if one_model else "")
    if one_model:
        mtab = mtab.drop(columns="Model")
    warnings = results.read("cohort/warnings.csv")
    decided = int(warnings["warning"].astype(str).str.startswith("competing risks:").sum())
    counts = states[states["group"] == "all"].set_index("state")["n"]
    naive = results.read("competing_risks/progression_naive_km.csv")
    text = (_competing_text(config, cr, counts, hz, decided, at_risk_lookup(naive))
            + _hr_contrast(models) + " " + caveat)
    if not_run:
        text += f" Gray's test was {not_run}."
    if fg_not_run:
        text += f" The Fine-Gray model was {fg_not_run}."
    return {
        "text": text,
        "figure": _img(results.path("figures/cumulative_incidence.png")),
        # the figure's caption: "" keeps the template's own words (Gray's tests compare)
        "gray_caption": ("Gray's test not computed (" + not_run.split("; ")[0].removeprefix(
            "not computed: the cohort has ") + ")") if not_run else "",
        "states": gt_table(state_tab, "competing_states", "Progression and death first",
                           "Patients by state on the progression clock."),
        "horizons": gt_table(pd.DataFrame(rows), "competing_horizons",
                             "Cumulative incidence at the horizons",
                             hz["method"].iloc[0] + ". 1 - Kaplan-Meier: deaths before "
                             "progression censored. —: past the group's follow-up."),
        "gray": gt_table(gray_tab, "competing_gray", "Gray's test",
                         f"Gray's test {not_run}." if not_run else
                         gray["method"].iloc[0] + (f"; stratified by {cr['gray_strata']}"
                                                   if cr["gray_strata"] else "") + "."),
        "models": gt_table(mtab, "competing_models",
                           "Cause-specific hazard ratios" if fg_not_run else
                           "Cause-specific and subdistribution hazard ratios",
                           models_note + "Cause-specific: Cox model in which the other event "
                           "censors (" + _se_words(cs_se) + ")"
                           + _risk_set_words(models) + ". "
                           + (f"Fine-Gray model {fg_not_run}." if fg_not_run else
                              "Subdistribution: Fine-Gray model (R finegray + coxph, robust "
                              "SE).")),
    }


def _not_computed(table: pd.DataFrame) -> str:
    """The reason a competing-risks table gives for an analysis it did not compute (its
    ``note`` starting "not computed"), or ""."""
    if "note" not in table or table.empty:
        return ""
    notes = table["note"].dropna().astype(str)
    notes = notes[notes.str.startswith("not computed")]
    return notes.iloc[0] if len(notes) == len(table) else ""


def _se_words(se_types: set) -> str:
    """The cause-specific models' SEs in words (model-based unless weights made them robust)."""
    if se_types == {"robust"}:
        return "robust SE, each patient a cluster, as R coxph with non-integer case weights"
    if "robust" in se_types:
        return "model-based SE; robust where the case weights are not whole numbers"
    return "model-based SE"


def _risk_set_words(models: pd.DataFrame) -> str:
    """Delayed entry and case weights of the cause-specific models, as their method says."""
    method = " ".join(models.loc[models["approach"] == "cause-specific hazard", "method"]
                      .dropna().astype(str).unique())
    parts = (["delayed entry: each patient at risk from entry on"] if "delayed entry" in method
             else []) + (["case weights"] if "case weights" in method else [])
    return "; " + " and ".join(parts) if parts else ""


def _hr_contrast(models: pd.DataFrame) -> str:
    """The most severe NETPET group's cause-specific against its subdistribution HR."""
    prog = models[(models["event"] == "progressed") & (models["term"] == "netpet_group")]
    if prog.empty or "level" not in prog:
        return ""
    model = prog["model"].iloc[0]
    prog = prog[prog["model"] == model]
    level = prog["level"].dropna().iloc[-1] if prog["level"].notna().any() else None
    cs = prog[(prog["level"] == level) & (prog["approach"] == "cause-specific hazard")]
    fg = prog[(prog["level"] == level) & (prog["approach"] != "cause-specific hazard")]
    if level is None or cs.empty or fg.empty or not np.isfinite(cs["hr"].iloc[0]) \
            or not np.isfinite(fg["hr"].iloc[0]):
        return ""
    ref = cs["reference"].iloc[0]
    return (f" For {level} against {ref}, the cause-specific hazard ratio of progression "
            f"(the rate among those still alive and progression-free) is "
            f"{_ci(cs['hr'].iloc[0], cs['hr_lower'].iloc[0], cs['hr_upper'].iloc[0])}; the "
            f"subdistribution hazard ratio, which also reflects how often patients in "
            f"{level} die before progression, is "
            f"{_ci(fg['hr'].iloc[0], fg['hr_lower'].iloc[0], fg['hr_upper'].iloc[0])}.")


def _competing_text(config, cr, counts, hz, decided, at_risk=None) -> str:
    """Plain-words summary: how many died first, and what that changes."""
    def count(state):
        v = counts.get(state)
        return str(v) if v is not None else "—"

    total = sum(int(v) for v in counts.values if str(v).isdigit())
    text = (f"Of the patients analysed, {count('progressed')} progressed, "
            f"{count('died without progression')} died without progression and "
            f"{count('censored')} were censored"
            + (f" (of {total})" if total else "") + ". ")
    few = int(config["report"]["min_at_risk"])
    prog = hz[(hz["state"] == "progressed") & hz["one_minus_km"].notna()
              & hz["estimate"].notna()].copy()
    if at_risk is not None and len(prog):
        prog["n_risk"] = [at_risk(r.group, r.time) for r in prog.itertuples()]
        prog = prog[prog["n_risk"] >= few]
    if len(prog) and prog["difference"].max() > 0.005:
        worst = prog.loc[prog["difference"].idxmax()]
        text += (f"Censoring deaths overstates the risk of progression: in {worst.group} at "
                 f"{worst.time:g} {config['analysis_time_unit']}"
                 + (f" ({int(worst.n_risk)} still at risk)" if "n_risk" in prog else "")
                 + f", 1 - Kaplan-Meier gives {worst.one_minus_km:.2f} where the cumulative "
                 f"incidence is {worst.estimate:.2f}. ")
    text += (f"{decided} {'patient' if decided == 1 else 'patients'} had a state the rule "
             "had to decide; they are listed in cohort/warnings.csv." if decided else
             "No patient's state needed a rule beyond the recorded events.")
    return text


def at_risk_lookup(curve: pd.DataFrame):
    """``(group, t) -> number at risk at t`` from a curve with group, time, n_risk rows.

    The number at risk at t is that of the first tabulated time at or after t
    (R summary.survfit(times = t)); 0 past a group's last time.
    """
    by_group = {g: part.sort_values("time") for g, part in curve.groupby("group", sort=False)}

    def lookup(group, t) -> int:
        part = by_group.get(group)
        if part is None:
            return 0
        later = part[part["time"] >= t]
        return int(later["n_risk"].iloc[0]) if len(later) else 0

    return lookup


def curves_cross(curves: pd.DataFrame, tolerance: float = 0.02) -> list[tuple[str, str]]:
    """Pairs of groups whose step curves change order by more than ``tolerance``.

    ``curves`` has group, time, estimate rows. Each pair is compared at every
    time up to the shorter follow-up of the two; a pair crosses when one curve is
    above the other by more than ``tolerance`` at some time and below by more
    than ``tolerance`` at another (a single summary ratio does not describe it).
    """
    groups = list(dict.fromkeys(curves["group"]))
    steps = {g: part.sort_values("time") for g, part in curves.groupby("group", sort=False)}
    out = []
    for i, a in enumerate(groups):
        for b in groups[i + 1:]:
            ca, cb = steps[a], steps[b]
            end = min(ca["time"].max(), cb["time"].max())
            grid = np.unique(np.concatenate([ca["time"], cb["time"]]))
            grid = grid[grid <= end]

            def at(c):
                idx = np.searchsorted(c["time"].to_numpy(), grid, side="right") - 1
                values = c["estimate"].to_numpy()
                return np.where(idx >= 0, values[np.clip(idx, 0, None)], 0.0)

            diff = at(ca) - at(cb)
            if (diff > tolerance).any() and (diff < -tolerance).any():
                out.append((a, b))
    return out


def competing_caveat(config, results) -> str:
    """What the competing-risks analysis says of the progression endpoint's hazard ratios.

    The cause-specific HR (deaths censored) and the association with the cumulative
    incidence of progression can disagree when groups die before progressing at
    different rates; the key results must say which the numbers are.
    """
    cr = competing_risks_settings(config)
    if cr is None or "competing_risks/gray_test.csv" not in results:
        return ""
    label = config["endpoints"][cr["progression"]]["label"]
    gray = results.read("competing_risks/gray_test.csv").set_index("cause")
    models = results.read("competing_risks/models.csv")
    primary = config["cox"]["primary_model"]
    fg = models[(models["event"] == "progressed") & (models["term"] == "netpet_group")
                & (models["approach"] != "cause-specific hazard")]
    fg = fg[fg["model"] == (primary if (fg["model"] == primary).any() else fg["model"].iloc[0])] \
        if len(fg) else fg
    text = (f"{label}: its hazard ratios are cause-specific (deaths before progression "
            "censored): they compare the rate of progression among patients still alive. ")
    not_run = _not_computed(gray.reset_index())
    if not_run:
        what = not_run.split("; ")[0].removeprefix("not computed: the cohort has ")
        text += ("Gray's test and the subdistribution hazard ratio, which would describe the "
                 f"cumulative incidence of progression, are not computed, as the cohort has "
                 f"{what}; the cumulative incidence curves are shown. ")
    if "progressed" in gray.index and np.isfinite(gray.loc["progressed", "p"]):
        text += (f"With death as a competing event, Gray's test of the cumulative incidence "
                 f"of progression gives p = {fmt_p(gray.loc['progressed', 'p'])}")
        finite = fg[np.isfinite(fg["hr"])] if len(fg) else fg
        if len(finite):
            r = finite.iloc[-1]
            text += (f" and the subdistribution HR of {r.level} vs {r.reference} is "
                     f"{_ci(r.hr, r.hr_lower, r.hr_upper)}")
        significant = gray.loc["progressed", "p"] < 0.05
        text += ("; the NETPET group is associated with the cumulative incidence of "
                 "progression. " if significant else
                 "; these data do not show an association of the NETPET group with the "
                 "cumulative incidence of progression, which can differ from the "
                 "cause-specific result when some groups more often die before "
                 "progression. ")
    if "competing_risks/cumulative_incidence.csv" in results:
        ci = results.read("competing_risks/cumulative_incidence.csv")
        crossing = curves_cross(ci[ci["state"] == "progressed"])
        if crossing:
            text += ("The cumulative incidence curves of progression cross ("
                     + "; ".join(f"{a} and {b}" for a, b in crossing)
                     + "), so no single subdistribution hazard ratio summarises the "
                     "difference. ")
    return text


# --------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------


def report_context(config: dict, results: ResultFiles) -> dict:
    """Everything the report template shows, rendered from the result files."""
    token = TABLE_STATEMENT.set(SIMULATED_NOTE if cohort_is_simulated(config) else "")
    try:
        return _report_context(config, results)
    finally:
        TABLE_STATEMENT.reset(token)


def _missing_data_section(config: dict, results: ResultFiles, models: dict) -> dict | None:
    """Missing data and multiple imputation: patterns, then complete case beside MI.

    Only when ``missing_data.method`` is ``multiple_imputation`` and the rule's tables
    are among the report's inputs; every number is read from them.
    """
    if (config.get("missing_data") or {}).get("method") != "multiple_imputation" \
            or "missing_data/imputation.csv" not in results:
        return None
    summary = results.read("missing_data/imputation.csv")
    by_var = results.read("missing_data/missing_by_variable.csv")
    patterns = results.read("missing_data/missing_patterns.csv")
    imputed = summary[summary["method"].isin(["pmm", "logreg", "polyreg", "polr"])]
    left_out = summary[summary["method"] == "left out"]
    m = int(summary["m"].iloc[0])
    n = int(by_var["patients"].iloc[0]) if len(by_var) else 0
    complete_rows = patterns[patterns["variables_missing"] == 0]["patients"]
    incomplete = n - int(complete_rows.sum())
    method_names = {"pmm": "predictive mean matching", "logreg": "logistic regression",
                    "polyreg": "multinomial logistic regression",
                    "polr": "proportional-odds regression"}
    text = (f"Of the {n} patients the imputation models took, {incomplete} "
            f"({100 * incomplete / n:.1f}%) lacked at least one model covariate. "
            if n else "")
    if len(imputed):
        text += ("Imputed: " + "; ".join(
            f"{_label(config, r.variable)} ({int(r.missing)} missing, "
            f"{method_names.get(r.method, r.method)})" for r in imputed.itertuples())
            + f", in {m} data sets. ")
    else:
        text += "No model covariate was missing: nothing was imputed. "
    if len(left_out):
        text += ("Not imputed: " + "; ".join(f"{int(r.missing)} patients, {r.note}"
                                              for r in left_out.itertuples()) + ". ")
    if "model/frozen_model_mi.yaml" in results:
        text += (f"The validation model was also developed on the {m} imputed data sets and "
                 "frozen apart (results/model/frozen_model_mi.yaml: coefficients by Rubin's "
                 "rules, baseline survival pooled on the complementary log-log scale); the "
                 "complete-case frozen model stays the primary one. ")
    labels = {c: _label(config, c) for c in by_var["variable"]}
    var_tab = pd.DataFrame({
        "Variable": [labels[c] for c in by_var["variable"]],
        "Missing, n (%)": [f"{int(k)} ({p:.1f}%)" for k, p in
                           zip(by_var["missing"], by_var["percent"])],
        "Imputed": by_var["imputed"]})
    pat = patterns.rename(columns=labels)
    pat = pat.rename(columns={"patients": "Patients", "variables_missing": "Variables missing"})
    sides, cs = [], []
    for ep in config["endpoints"]:
        mi_file, cc_file = f"{ep}/cox_coefficients_mi.csv", f"{ep}/cox_coefficients.csv"
        if mi_file not in results or cc_file not in results:
            continue
        mi, cc = results.read(mi_file), results.read(cc_file)
        for frame in (mi, cc):
            frame["level"] = frame["level"].fillna("").astype(str)
        merged = cc.merge(mi, on=["model", "term", "level"], suffixes=("_cc", "_mi"))
        # the models the missing values change: fewer patients in the complete cases
        affected = merged[merged["n_cc"] != merged["n_mi"]]
        if affected.empty:
            continue
        sides.append(gt_table(pd.DataFrame({
            "Model": [models.get(x, x) for x in affected["model"]],
            "Term": [f"{r.term_label}: {r.level} vs {r.reference}" if r.level else r.term_label
                     for r in affected.itertuples()],
            "Complete case HR (95% CI)": [_ci(r.hr_cc, r.hr_lower_cc, r.hr_upper_cc)
                                          for r in affected.itertuples()],
            "p (CC)": [fmt_p(x) for x in affected["p_cc"]],
            "n (CC)": affected["n_cc"].astype(int),
            "MI HR (95% CI)": [_ci(r.hr_mi, r.hr_lower_mi, r.hr_upper_mi)
                               for r in affected.itertuples()],
            "p (MI)": [fmt_p(x) for x in affected["p_mi"]],
            "n (MI)": affected["n_mi"].astype(int),
            "FMI": [_num(x, 2) for x in affected["fmi"]]}),
            f"mi_cox_{ep}", f"{config['endpoints'][ep]['label']}: complete case and multiple "
            "imputation",
            "The models with a covariate missing for some patients. CC: complete cases (R "
            f"na.omit); MI: {m} imputed data sets pooled by Rubin's rules (t intervals on "
            "Barnard-Rubin df); FMI: fraction of missing information."))
        c_mi, c_cc = f"{ep}/concordance_mi.csv", f"{ep}/concordance.csv"
        if c_mi in results and c_cc in results:
            a, b = results.read(c_cc), results.read(c_mi)
            both = a.merge(b, on=["estimator", "predictor", "kind"], suffixes=("_cc", "_mi"))
            cs.append(gt_table(pd.DataFrame({
                "Estimator": both["estimator"],
                "Predictor": [r.label_cc for r in both.itertuples()],
                "Complete case C (95% CI)": [_ci(r.c_cc, r.lower_cc, r.upper_cc)
                                             for r in both.itertuples()],
                "n (CC)": both["n_cc"].astype(int),
                "MI C (95% CI)": [_ci(r.c_mi, r.lower_mi, r.upper_mi)
                                  for r in both.itertuples()],
                "n (MI)": both["n_mi"].astype(int),
                "FMI": [_num(x, 2) for x in both["fmi"]]}),
                f"mi_c_{ep}", f"{config['endpoints'][ep]['label']}: concordance, complete "
                "case and multiple imputation",
                "MI: C on each imputed data set (each model refitted), pooled on the logit "
                "scale; apparent C, not corrected for optimism."))
    calibration = None
    val_ep = (config.get("validation") or {}).get("endpoint")
    if f"{val_ep}/calibration_mi.csv" in results:
        cal = results.read(f"{val_ep}/calibration_mi.csv")
        calibration = gt_table(pd.DataFrame({
            "Horizon": [f"{h:g}" for h in cal["horizon"]],
            "Calibration slope (95% CI)": [_ci(r.calibration_slope, r.slope_lower,
                                               r.slope_upper) for r in cal.itertuples()],
            "Observed risk": [_num(x, 3) for x in cal["observed_risk"]],
            "Expected risk": [_num(x, 3) for x in cal["expected_risk"]],
            "O/E (95% CI)": [_ci(r.o_e, r.o_e_lower, r.o_e_upper) for r in cal.itertuples()],
            "Note": cal["note"].fillna("")}),
            "mi_calibration", "Calibration after multiple imputation (pooled)",
            ("Apparent calibration of the model developed on the imputed data sets, in "
             "those data sets (a slope and O/E near 1 are expected by construction)"
             if config["validation"]["mode"] == "develop" else
             "The frozen model on each imputed data set of this cohort")
            + "; slope pooled as it is, O/E on the log scale (Rubin's rules).")
    centres = None
    if "validation/centres_mi.csv" in results and "validation/centres.csv" in results:
        a, b = results.read("validation/centres.csv"), results.read("validation/centres_mi.csv")
        keep = ["Harrell's C", "calibration slope", "O/E"]
        both = a[a["measure"].isin(keep)].merge(b[b["measure"].isin(keep)],
                                                on=["centre", "measure"], suffixes=("_cc", "_mi"))
        centres = gt_table(pd.DataFrame({
            "Centre": both["centre"].astype(str), "Measure": both["measure"],
            "Complete case (95% CI)": [_ci(r.estimate_cc, r.lower_cc, r.upper_cc)
                                       for r in both.itertuples()],
            "n (CC)": both["n_cc"],
            "MI (95% CI)": [_ci(r.estimate_mi, r.lower_mi, r.upper_mi)
                            for r in both.itertuples()],
            "n (MI)": both["n_mi"]}),
            "mi_centres", "External validation by centre: complete case and multiple "
            "imputation",
            "MI: the frozen model on each imputed data set of this cohort; each centre pooled "
            "over the imputations by Rubin's rules (logit C, log O/E), then the centres by "
            "DerSimonian-Laird random effects (the pooled rows).")
    figure = (_img(results.path("figures/imputed_values.png"))
              if "figures/imputed_values.png" in results else None)
    # the per-centre forest of complete cases and the same after MI, one after the other
    centre_figures = None
    if ("figures/validation_centres_mi.png" in results
            and "figures/validation_centres.png" in results):
        centre_figures = [
            ("complete case", _img(results.path("figures/validation_centres.png")),
             "The frozen model in the patients complete for its predictors (R na.omit), "
             "as in the validation section."),
            ("multiple imputation", _img(results.path("figures/validation_centres_mi.png")),
             "The frozen model on each imputed data set of this cohort, each centre pooled "
             "over the imputations by Rubin's rules (logit C, log O/E), then the centres by "
             "random effects; AUC, Brier score and IPA: the mean over imputations, without "
             "an interval.")]
    return {"text": text, "centres": centres, "figure": figure,
            "centre_figures": centre_figures, "by_variable": gt_table(
                var_tab, "mi_by_variable", "Missing values of the model covariates",
                f"Among the {n} patients the imputation models took."),
            "patterns": gt_table(pat, "mi_patterns", "Missing-data patterns",
                                 "1 = observed, 0 = missing; one row per pattern that occurs "
                                 "(R mice::md.pattern)."),
            "cox": sides, "concordance": cs, "calibration": calibration}


def _report_context(config: dict, results: ResultFiles) -> dict:
    eps = list(config["endpoints"])
    flow = results.read("cohort/flow.csv")
    models = _model_labels(config, results)
    flow_tab = pd.DataFrame({"Analysis": [_analysis_label(config, models, a)
                                          for a in flow["analysis"]],
                             "Step": flow["step"], "n": flow["n"],
                             "Reason": flow["reason"].fillna("")})
    t1 = table1_layout(pd.read_csv(results.path("table1/table1.csv"), dtype=str,
                                   keep_default_na=False))
    versions = software_versions()
    key_pkgs = ["numpy", "scipy", "pandas", "lifelines", "statsmodels", "matplotlib", "seaborn",
                "snakemake", "pandera", "tableone", "great-tables", "weasyprint", "python-docx"]
    sw = pd.DataFrame([{"Software": "Python", "Version": versions["python"]},
                       {"Software": "netpet-stats", "Version": versions["netpet-stats"]}]
                      + [{"Software": k, "Version": versions["packages"].get(k, "—")}
                         for k in key_pkgs])
    caveat = competing_caveat(config, results)   # in the key results and the section alike
    competing = _competing_section(config, results, caveat)
    missing = _missing_data_section(config, results, models)
    sections = [(k, v) for k, v in SECTIONS
                if (k != "competing" or competing is not None)
                and (k != "missing" or missing is not None)]
    tripod = pd.DataFrame(tripod_items(config, results))
    return {
        "title": "NETPET score validation" + (" on a simulated cohort"
                                              if cohort_is_simulated(config) else "")
                 + ": reproducible analysis report",
        "simulated": cohort_is_simulated(config),
        "cohort_statement": cohort_statement(config),
        "version": __version__,
        "sections": sections,
        "summary": _summary(config, results, caveat),
        "flow_figure": _img(results.path("figures/patient_flow.png")),
        "distribution_figure": (_img(results.path("figures/netpet_distribution.png"))
                                if "figures/netpet_distribution.png" in results else None),
        "flow": gt_table(flow_tab, "flow", "Patients received, excluded and analysed",
                         "Received − excluded = eligible; for each analysis, eligible − "
                         "excluded = analysed (TRIPOD+AI 20a)."),
        "table1_text": missing_text(pd.read_csv(results.path("table1/table1.csv"), dtype=str,
                                                keep_default_na=False)),
        "table1": gt_table(t1, "table1", "Baseline characteristics by NETPET group",
                           "Median [Q1, Q3] or n (% of the patients with a value); Missing: "
                           "patients without the value (not in the percentages)."),
        "km": [_km_section(config, results, ep) for ep in eps],
        "cox": [_cox_section(config, results, ep, models) for ep in eps],
        "ph": [_ph_section(config, results, ep, models) for ep in eps],
        "concordance": [_concordance_section(config, results, ep, models) for ep in eps],
        "competing": competing,
        "num": {sid: k + 1 for k, (sid, _) in enumerate(sections)},
        "association": _association_section(config, results),
        "validation": _validation_section(config, results),
        "missing": missing,
        "methods": methods_text(config),
        "software": gt_table(sw, "software", "Software versions",
                             "All installed packages and their versions are in manifest.json."),
        "tripod": gt_table(tripod, "tripod", "TRIPOD+AI items and what this run answers",
                           "answered: this report answers the item in full; partly answered: "
                           "what is left is named; not answered: the authors report it in "
                           "the manuscript."),
        "config_yaml": _config_yaml(config),
    }


def _config_yaml(config) -> str:
    import yaml
    return yaml.safe_dump(config, sort_keys=True, allow_unicode=True)


def _template(name: str) -> jinja2.Template:
    # Everything from the data (centre names, labels, file names) is escaped; only
    # the tables great-tables built (and escaped) are marked safe (gt_table).
    env = jinja2.Environment(loader=jinja2.PackageLoader("netpet_stats.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(name)


def write_report(config: dict, files, html_path: str | Path,
                 pdf_path: str | Path | None = None, root: str | Path = "results",
                 print_path: str | Path | None = None,
                 model_path: str | Path | None = None) -> None:
    """Write the HTML report (and its PDF) from exactly the tables and figures in ``files``.

    ``files`` are the paths the report rule declares as input (below ``root``);
    the report reads nothing else, so a file an earlier run left in the folder
    never reaches it. ``print_path`` receives the print copy that the PDF rule
    typesets (:mod:`.pdf`); ``pdf_path`` the PDF itself, typeset here.
    ``model_path``: the frozen model a validate run applied (one of ``files``),
    whose equation the report prints.
    """
    context = report_context(config, ResultFiles(files, root, {"model": model_path}))
    page = _template("report.html.j2").render(**context, for_pdf=False)
    Path(html_path).write_text(page, encoding="utf-8")
    if pdf_path or print_path:
        write_print_copy(_template("report.html.j2"), context, config, files,
                         print_path=print_path, pdf_path=pdf_path)
