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

from pathlib import Path

import jinja2
from markupsafe import Markup
import numpy as np
import pandas as pd
from great_tables import GT

from .. import __version__
from ..survival import concordance, cox
from ..netpet.scoring import resolve_grouping
from ..config import CR_ANALYSIS, competing_risks_settings
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
    ("methods", "Methods"),
    ("software", "Software"),
    ("tripod", "TRIPOD+AI checklist"),
]

#: TRIPOD+AI items (Collins et al., BMJ 2024;385:e078378) this report answers, and where.
TRIPOD_ITEMS = [
    ("6a", "Study setting, number and location of centres", "summary, table1"),
    ("6b", "Eligibility criteria", "flow, methods"),
    ("8a", "Outcome definition, how and when assessed", "methods"),
    ("9a", "Predictors: definition and measurement", "methods"),
    ("10", "Study size", "summary, flow"),
    ("11", "Handling of missing data", "flow, methods"),
    ("12b", "Handling of predictors in the analyses", "methods"),
    ("12c", "Model type and model-building procedure", "methods, cox"),
    ("12d", "Handling of heterogeneity across centres", "methods, cox"),
    ("12e", "Performance measures used", "methods, concordance"),
    ("20a", "Flow of participants, with numbers and reasons at each step", "flow"),
    ("20b", "Characteristics of participants, including missing data", "table1"),
    ("21", "Number of participants and outcome events in each analysis", "survival, cox"),
    ("22", "Full model, to allow predictions", "cox"),
    ("23a", "Performance estimates with confidence intervals", "concordance"),
]
#: Items answered only when this run validates a model (results/validation/ present).
TRIPOD_INTERNAL_ITEMS = [
    ("12g", "Internal validation: bootstrap optimism; internal-external cross-validation",
     "validation"),
    ("23b", "Heterogeneity of performance across centres", "validation"),
    ("20c", "Distribution of the linear predictor and predictors by centre (case mix)",
     "validation"),
]
TRIPOD_EXTERNAL_ITEMS = [
    ("12f", "Model updating or recalibration in the validation data: none (frozen model)",
     "validation"),
    ("16", "Differences between development and validation settings", "summary, validation"),
    ("20c", "Comparison of development and validation data (linear predictor, predictors "
     "and events, by centre)", "validation"),
    ("23a", "External performance with confidence intervals (C, AUC, D, calibration, Brier)",
     "validation"),
    ("23b", "Heterogeneity of performance across centres", "validation"),
]
#: Items the authors must answer in the manuscript (not computable from the data).
TRIPOD_AUTHOR_ITEMS = "1, 2, 3a-c, 4, 5a-b, 6c, 7, 8b-c, 9b-c, 13-19, 24-27"


def tripod_items(results) -> list[tuple[str, str, str]]:
    """The TRIPOD+AI items this run's outputs answer."""
    items = list(TRIPOD_ITEMS)
    if "validation/discrimination.csv" in results:
        items += TRIPOD_EXTERNAL_ITEMS
    elif "validation/optimism.csv" in results:
        items += TRIPOD_INTERNAL_ITEMS
    return items


# --------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------




def _num(x, digits=2) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    return f"{x:.{digits}f}"


NR_NOTE = "NR: not reached (the curve stays above the level); —: not estimable."


def _ci(est, lo, hi, digits=2, quantile=False) -> str:
    """``est (lo–hi)``. For a survival quantile (``quantile``) a missing estimate or
    upper limit is "NR", not reached; anything else missing is "—", not estimable."""
    def missing(x):
        return x is None or (isinstance(x, (float, np.floating)) and np.isnan(x))

    if missing(est):
        return "NR" if quantile else "—"
    hi_txt = ("NR" if quantile else "—") if missing(hi) else _num(hi, digits)
    lo_txt = "—" if missing(lo) else _num(lo, digits)
    return f"{_num(est, digits)} ({lo_txt}–{hi_txt})"


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

    def __init__(self, paths, root: str | Path = "results"):
        root = Path(root)
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


def _summary(config, results) -> dict:
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
    text = (f"{received} patients were received from {len(centres)} centres "
            f"({', '.join(centres)}); {eligible} had a NETPET score in an analysis group "
            f"({', '.join(groups)}). Distribution of scores: "
            + ", ".join(f"{r.netpet} {r.n}" for r in dist.itertuples()) + ".")
    return {"text": text, "table": gt_table(key, "key_results", "Key results",
                                            "Medians with 95% CI; HR from the primary "
                                            "multivariable model. " + NR_NOTE)}


def _km_section(config, results, ep) -> dict:
    spec = config["endpoints"][ep]
    med = results.read(f"{ep}/km_summary.csv")
    med_tab = pd.DataFrame({
        "Group": med["group"], "n": med["n"], "Events": med["events"],
        f"Median ({config['analysis_time_unit']}), 95% CI": [
            _ci(r.median, r.median_lower, r.median_upper, 1, quantile=True)
            for r in med.itertuples()]})
    lm = results.read(f"{ep}/km_landmarks.csv")
    lm_wide = lm.assign(value=[f"{100 * r.surv:.1f}% ({100 * r.lower:.1f}–{100 * r.upper:.1f})"
                               if np.isfinite(r.surv) and np.isfinite(r.lower) else "—"
                               for r in lm.itertuples()])
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
                            method + ". " + NR_NOTE),
        "landmarks": gt_table(lm_wide, f"km_landmarks_{ep}", "Survival at landmark times",
                              "Kaplan-Meier estimate (95% CI)."),
        "follow_up": gt_table(fu_tab, f"follow_up_{ep}", "Median follow-up",
                              "Reverse Kaplan-Meier (censoring as the event)."),
        "logrank": gt_table(lr_tab, f"logrank_{ep}", "Log-rank tests",
                            "Hypergeometric variance (R survdiff); trend over ordered groups; "
                            "pairwise p adjusted by " + config["logrank"]["pairwise_adjustment"] + "."),
    }


def _coef_table(coefs: pd.DataFrame, table_id: str, title: str, note: str) -> str:
    rows = []
    for r in coefs.itertuples():
        level = "" if not isinstance(r.level, str) else r.level
        infinite = isinstance(getattr(r, "note", None), str) and r.note.startswith(
            "coefficient may be infinite")
        rows.append({
            "Model": r.model_label if r.analysis == "multivariable" else "univariable",
            "Term": f"{r.term_label}: {level} vs {r.reference}" if level else r.term_label,
            "HR (95% CI)": ("not estimable: may be infinite (a level without events)"
                            if infinite else _ci(r.hr, r.hr_lower, r.hr_upper)),
            "p": "" if infinite else fmt_p(r.p), "n": r.n, "Events": r.events})
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
    model_tests = tests[tests["term"] != "(model)"].copy()
    terms = _term_labels(coefs)
    tt = pd.DataFrame({"Model": [models.get(m, m) for m in model_tests["model"]],
                       "Term": [terms.get(x, x) for x in model_tests["term"]],
                       "Test": model_tests["test"], "Chi-square": [_num(x) for x in model_tests["chisq"]],
                       "df": model_tests["df"], "p": [fmt_p(x) for x in model_tests["p"]]})
    robust = multi.dropna(subset=["robust_se"]) if "robust_se" in multi else multi.iloc[0:0]
    robust_tab = None
    if len(robust):
        rt = pd.DataFrame({"Model": robust["model_label"], "Term": [
            f"{r.term_label}: {r.level} vs {r.reference}" if isinstance(r.level, str) else r.term_label
            for r in robust.itertuples()],
            "HR (robust 95% CI)": [_ci(r.hr, r.robust_hr_lower, r.robust_hr_upper)
                                   for r in robust.itertuples()],
            "Robust p": [fmt_p(x) for x in robust["robust_p"]],
            "Clusters": robust["n_clusters"].astype(int)})
        few = sorted({int(k) for k in robust["n_clusters"] if k < cox.MIN_CLUSTERS})
        robust_tab = gt_table(rt, f"cox_robust_{ep}", "Robust standard errors",
                              "Sandwich variance clustered on the named column (R coxph "
                              "cluster =)."
                              + (f" With {', '.join(map(str, few))} cluster(s) these SEs are "
                                 f"unreliable (fewer than {cox.MIN_CLUSTERS}; not estimable "
                                 "below 2)." if few else ""))
    return {
        "endpoint": ep, "label": config["endpoints"][ep]["label"],
        "forest": _img(results.path(f"figures/forest_{ep}.png")),
        "side_by_side": gt_table(
            hazard_ratio_table(coefs, config["cox"]["primary_model"],
                               float(config["cox"]["conf_level"])),
            f"cox_side_{ep}", "Univariable and multivariable (primary model) hazard ratios",
            FOOTNOTE),
        "multivariable": _coef_table(multi, f"cox_multi_{ep}", "Multivariable models",
                                     cox.COEF_METHOD + "."),
        "univariable": _coef_table(uni, f"cox_uni_{ep}", "Univariable models",
                                   cox.COEF_METHOD + "."),
        "tests": gt_table(tt, f"cox_tests_{ep}", "Tests of each term",
                          "Likelihood-ratio test per term (drop1) and joint Wald test of "
                          "multi-level terms."),
        "robust": robust_tab,
    }


def _ph_section(config, results, ep, models: dict) -> dict:
    ph = results.read(f"{ep}/ph_test.csv")
    tab = pd.DataFrame({"Model": [models.get(m, m) for m in ph["model"]], "Term": ph["term_label"],
                        "Chi-square": [_num(x) for x in ph["chisq"]], "df": ph["df"],
                        "p": [fmt_p(x) for x in ph["p"]]})
    label = config["endpoints"][ep]["label"]
    primary = config["cox"]["primary_model"]
    return {"endpoint": ep, "label": label, "model": models.get(primary, primary),
            "figure": _img(results.path(f"figures/schoenfeld_{ep}.png")),
            "table": gt_table(tab, f"ph_{ep}", f"{label}: proportional-hazards tests",
                              f"{cox.ZPH_METHOD}; time transform "
                              f"'{config['cox']['zph_transform']}'.")}


def _concordance_section(config, results, ep, models: dict) -> dict:
    conc = results.read(f"{ep}/concordance.csv")
    tab = pd.DataFrame({"Estimator": conc["estimator"], "Predictor": conc["label"],
                        "Kind": conc["kind"], "n": conc["n"], "Events": conc["events"],
                        "C (95% CI)": [_ci(r.c, r.lower, r.upper, 3) for r in conc.itertuples()],
                        "SE": [_num(x, 4) for x in conc["se"]]})
    cmp = results.read(f"{ep}/concordance_comparison.csv")
    def name(item):  # "model:primary" or a covariate
        item = str(item)
        if item.startswith("model:"):
            return models.get(item[6:], item[6:])
        return config["covariates"].get(item, {}).get("label", item)

    cmp_tab = pd.DataFrame({"First": [name(x) for x in cmp["first"]],
                            "Second": [name(x) for x in cmp["second"]], "n": cmp["n"],
                            "C first": [_num(x, 3) for x in cmp["c_first"]],
                            "C second": [_num(x, 3) for x in cmp["c_second"]],
                            "Difference (95% CI)": [_ci(r.difference, r.lower, r.upper, 3)
                                                    for r in cmp.itertuples()],
                            "p": [fmt_p(x) for x in cmp["p"]]})
    label = config["endpoints"][ep]["label"]
    return {"table": gt_table(tab, f"conc_{ep}", f"{label}: concordance",
                              "Harrell: " + concordance.METHODS["n"] + ". Uno: "
                              + concordance.METHODS["n/G2"] + "."),
            "comparison": gt_table(cmp_tab, f"conc_cmp_{ep}",
                                   f"{label}: comparison of concordance indices",
                                   concordance.COMPARE_METHOD + ".")}


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


def _internal_validation(results) -> dict:
    """Bootstrap optimism and internal-external CV tables (develop mode), if present."""
    out = {}
    if "validation/optimism.csv" in results:
        opt = results.read("validation/optimism.csv")
        ot = pd.DataFrame({"Measure": opt["measure"], "Apparent": [_num(x, 3) for x in opt["apparent"]],
                           "Optimism": [_num(x, 3) for x in opt["optimism"]],
                           "Optimism-corrected": [_num(x, 3) for x in opt["corrected"]],
                           "Resamples used": [f"{u} of {b}" for u, b in zip(opt["n_used"],
                                                                           opt["n_boot"])],
                           "Seed": opt["seed"]})
        out["optimism"] = gt_table(ot, "validation_optimism",
                                   "Internal validation: bootstrap optimism correction",
                                   str(opt["method"].iloc[0]))
    if "validation/iecv.csv" in results:
        iecv = results.read("validation/iecv.csv")
        if not iecv.empty:
            out["iecv"] = gt_table(_centre_rows(iecv), "validation_iecv",
                                   "Internal-external cross-validation (leave one centre out)",
                                   "Each centre predicted by the model refitted on the others; "
                                   "DerSimonian-Laird random effects; prediction interval for a "
                                   "new centre.")
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


def _centre_rows(cen: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"Centre": cen["centre"], "Measure": cen["measure"],
                         "Estimate (95% CI)": [_ci(r.estimate, r.lower, r.upper, 3)
                                               for r in cen.itertuples()],
                         "95% prediction interval": [
                             "" if pd.isna(r.pi_lower) else f"{r.pi_lower:.3f}–{r.pi_upper:.3f}"
                             for r in cen.itertuples()],
                         "tau²": ["" if pd.isna(x) else f"{x:.4f}" for x in cen["tau2"]],
                         "I²": ["" if pd.isna(x) else f"{100 * x:.0f}%" for x in cen["i2"]],
                         "n": cen["n"]})


def _case_mix(results) -> dict:
    """Case mix by cohort and centre (TRIPOD+AI 20c): the figure and the table, if run."""
    if "validation/case_mix.csv" not in results:
        return {}
    from ..validation.case_mix import METHOD

    cm = results.read("validation/case_mix.csv")
    wide = cm.assign(level=cm["level"].fillna("").astype(str),
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


def _competing_validation(results) -> dict:
    """The Fine-Gray prediction of progression: AUC, Brier, IPA and O/E by centre."""
    if "validation/competing_risks.csv" not in results:
        return {}
    cv = results.read("validation/competing_risks.csv")
    rows = []
    for (centre, horizon), part in cv.groupby(["centre", "horizon"], sort=False):
        get = part.set_index("measure")
        row = {"Centre": centre, "Horizon": f"{horizon:g}"}
        for measure, digits in (("time-dependent AUC", 3), ("Brier score", 3), ("IPA", 3)):
            row[measure.replace("time-dependent ", "")] = (
                _num(get.loc[measure, "estimate"], digits) if measure in get.index else "")
        if "O/E" in get.index:
            r = get.loc["O/E"]
            row["O/E (95% CI)"] = _ci(r["estimate"], r["lower"], r["upper"])
        row["n"] = int(part["n"].iloc[0])
        row["Progressed"] = int(part["events"].iloc[0])
        row["Died first"] = int(part["competing"].iloc[0])
        rows.append(row)
    note = str(cv["method"].iloc[0]) if "method" in cv else ""
    return {"competing_validation": gt_table(
        pd.DataFrame(rows), "validation_competing",
        "Competing risks: predicted cumulative incidence of progression (Fine-Gray)",
        "Cause-specific AUC, Brier and IPA as R riskRegression::Score(cause = 1); O/E: "
        "Aalen-Johansen over mean predicted; pooled row: random effects on log O/E. " + note)}


def _validation_section(config, results) -> dict | None:
    sample_size = {**_sample_size(results), **_case_mix(results),
                   **_competing_validation(results)}
    if "validation/discrimination.csv" not in results:
        mode = (config.get("validation") or {}).get("mode", "none")
        text = ("This run developed and froze the model (results/model/frozen_model.yaml) and "
                "validated it internally; run the workflow with validation.mode: validate on "
                "another cohort to validate it externally."
                if mode == "develop" else
                "This run analyses one cohort; no frozen model was applied to it.")
        return {"text": text, **_internal_validation(results), **sample_size}
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
    model_file = (config.get("validation") or {}).get("model_file", "")
    return {"text": f"Frozen model {model_file} applied to this cohort "
                    f"(n = {int(disc['n'].iloc[0])}, events = {int(disc['events'].iloc[0])}).",
            "discrimination": gt_table(dt, "validation_disc", "Discrimination"),
            "calibration": gt_table(ct, "validation_cal", "Calibration and overall performance",
                                    "Calibration slope from coxph(Surv ~ lp); O/E with Greenwood "
                                    "CI; ICI/E50/E90 (Austin et al. 2020); IPCW Brier and IPA."),
            "centres": None if cent is None else gt_table(
                cent, "validation_centres", "Performance by centre",
                "DerSimonian-Laird random effects; prediction interval for a new "
                "centre (undefined below 3 centres)."),
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
    "survival": "Therneau TM. A Package for Survival Analysis in R. R package survival, "
                "version 3.5-3. https://CRAN.R-project.org/package=survival",
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
    paragraphs = [
        "Patients were grouped by their NETPET score " + cite("netpet2017") + " as in the "
        "multicentre validation " + cite("netpet2023") + ": "
        + "; ".join(f"{k} ({', '.join(v)})" for k, v in groups.items())
        + ". Patients without a score, or with a score in no group (P0), were excluded from "
        "all analyses; a missing time or event indicator excluded a patient from that "
        "endpoint, and a missing covariate from the models that use it (complete-case "
        "analysis). Every exclusion is listed with its reason in the exclusions table.",
        f"The endpoints were {endpoints}. "
        + (f"Times were derived from dates, from time zero ({zero}) to the event or the last "
           "follow-up; a death before progression censored time to progression."
           if dated else
           "Times and event indicators were taken as recorded, from the time zero defined by "
           "the data's authors; a death before progression censored time to progression."),
        f"Survival was estimated by the Kaplan-Meier method {cite('km')} with Greenwood's "
        f"variance {cite('greenwood')} and {level}% pointwise confidence intervals on the "
        f"{km['conf_type']} scale; medians with their confidence intervals follow Brookmeyer "
        f"and Crowley {cite('brookmeyer')}, and the median follow-up was estimated by the "
        f"reverse Kaplan-Meier method {cite('schemper')}. Survival is reported at "
        + ", ".join(f"{x:g}" for x in km["landmarks"]) + f" {unit}. The groups were "
        f"compared by the log-rank test {cite('mantel')}, stratified by centre, by the "
        "log-rank test for trend over the ordered groups, and pairwise, with p-values "
        + ("adjusted by Holm's method " + cite("holm")
           if config["logrank"]["pairwise_adjustment"] == "holm" else
           f"adjusted by the {config['logrank']['pairwise_adjustment']} method") + ".",
        f"Hazard ratios were estimated by Cox proportional-hazards regression {cite('cox')} "
        f"with Efron's method for tied times {cite('efron')}, with {level}% Wald confidence "
        "intervals. Each variable was first analysed alone; the primary multivariable "
        f"model was {model_text(primary)}"
        + (f", and further models were {'; '.join(others)}" if others else "") + ". "
        + ("Coding of covariates: " + "; ".join(covs) + ". " if covs else "")
        + (f"Robust (sandwich) standard errors follow Lin and Wei {cite('linwei')}. "
           if any(s.get("cluster") for s in specs.values()) else "")
        + "Each model was tested by likelihood-ratio, Wald and score tests, and each term by "
        "a likelihood-ratio test. Proportional hazards were checked by the score test of "
        f"Grambsch and Therneau {cite('grambsch')} with time transformed by "
        + {"km": "the Kaplan-Meier estimate", "rank": "its rank",
           "identity": "nothing (identity)"}.get(config["cox"]["zph_transform"],
                                                 config["cox"]["zph_transform"])
        + ", and by plotting the scaled Schoenfeld residuals of each term of the primary "
        "model against time with a natural-spline smooth and its two-standard-error band.",
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
        "Each estimator matches the function of R's survival package that defines it "
        f"{cite('survival')}, including R's conventions for times that differ only by "
        "rounding and for coefficients that may be infinite.",
    ]
    return {"paragraphs": paragraphs, "references": cite.listing()}


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
            f"progression, with progression follow-up ending within {cr['same_time_days']:g} "
            "day(s) of death, as death without progression; a patient whose progression "
            "follow-up ended earlier than death was censored at its end (not assumed "
            "progression-free until death); a progression after the end of follow-up was "
            "refused as an error. Every patient the rule had to decide is listed")
    pfs = [spec["label"] for spec in config["endpoints"].values() if spec.get("derive")]
    return [
        f"Because death precludes later progression, progression was also analysed with "
        f"death without progression as a competing event {cite('putter2007')}. Each "
        f"patient's state (progressed, died without progression, censored) was {rule}. "
        f"The cumulative incidence of each event was estimated by the Aalen-Johansen method "
        f"{cite('aalen1978')} with infinitesimal-jackknife standard errors and {level}% "
        f"pointwise confidence intervals (R survival's survfit for multi-state data), and "
        f"compared with the naive 1 - Kaplan-Meier estimate that censors deaths. Groups were "
        f"compared by Gray's test {cite('gray1988')} (R cmprsk::cuminc {cite('cmprsk')}"
        + (f", stratified by {cr['gray_strata']}" if cr["gray_strata"] else "") + "). "
        f"Hazard ratios were estimated by cause-specific Cox models, in which the other "
        f"event censors, and by Fine-Gray subdistribution hazard models "
        f"{cite('finegray1999')} with inverse-probability-of-censoring weights and robust "
        f"standard errors (R survival's finegray and coxph), for "
        + "; ".join(model_text(models[m]) for m in cr["models"]) + ". Cumulative incidences "
        f"are reported at " + ", ".join(f"{h:g}" for h in cr["horizons"]) + f" {unit}."
        + (f" {', '.join(pfs)} counted progression or death, whichever came first." if pfs
           else "")]


def _competing_section(config, results) -> dict | None:
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
    gray_tab = pd.DataFrame({"Event": gray["cause"], "Chi-square": [_num(x) for x in gray["statistic"]],
                             "df": gray["df"], "p": [fmt_p(x) for x in gray["p"]]})
    models = results.read("competing_risks/models.csv")
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
    one_model = mtab["Model"].nunique() == 1
    models_note = (f"Model: {mtab['Model'].iloc[0]}. " if one_model else "")
    if one_model:
        mtab = mtab.drop(columns="Model")
    warnings = results.read("cohort/warnings.csv")
    decided = int(warnings["warning"].astype(str).str.startswith("competing risks:").sum())
    counts = states[states["group"] == "all"].set_index("state")["n"]
    text = _competing_text(config, cr, counts, hz, decided) + _hr_contrast(models)
    return {
        "text": text,
        "figure": _img(results.path("figures/cumulative_incidence.png")),
        "states": gt_table(state_tab, "competing_states", "Progression and death first",
                           "Patients by state on the progression clock."),
        "horizons": gt_table(pd.DataFrame(rows), "competing_horizons",
                             "Cumulative incidence at the horizons",
                             hz["method"].iloc[0] + ". 1 - Kaplan-Meier: deaths before "
                             "progression censored. —: past the group's follow-up."),
        "gray": gt_table(gray_tab, "competing_gray", "Gray's test",
                         gray["method"].iloc[0] + (f"; stratified by {cr['gray_strata']}"
                                                   if cr["gray_strata"] else "") + "."),
        "models": gt_table(mtab, "competing_models",
                           "Cause-specific and subdistribution hazard ratios",
                           models_note + "Cause-specific: Cox model in which the other event censors "
                           "(model-based SE). Subdistribution: Fine-Gray model (R finegray + "
                           "coxph, robust SE)."),
    }


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


def _competing_text(config, cr, counts, hz, decided) -> str:
    """Plain-words summary: how many died first, and what that changes."""
    def count(state):
        v = counts.get(state)
        return str(v) if v is not None else "—"

    total = sum(int(v) for v in counts.values if str(v).isdigit())
    text = (f"Of the patients analysed, {count('progressed')} progressed, "
            f"{count('died without progression')} died without progression and "
            f"{count('censored')} were censored"
            + (f" (of {total})" if total else "") + ". ")
    prog = hz[(hz["state"] == "progressed") & hz["one_minus_km"].notna()
              & hz["estimate"].notna()]
    if len(prog) and prog["difference"].max() > 0.005:
        worst = prog.loc[prog["difference"].idxmax()]
        text += (f"Censoring deaths overstates the risk of progression: in {worst.group} at "
                 f"{worst.time:g} {config['analysis_time_unit']}, 1 - Kaplan-Meier gives "
                 f"{worst.one_minus_km:.2f} where the cumulative incidence is "
                 f"{worst.estimate:.2f}. ")
    text += (f"{decided} patient(s) had a state the rule had to decide; they are listed in "
             "cohort/warnings.csv." if decided else
             "No patient's state needed a rule beyond the recorded events.")
    return text


# --------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------


def report_context(config: dict, results: ResultFiles) -> dict:
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
    competing = _competing_section(config, results)
    sections = [(k, v) for k, v in SECTIONS if k != "competing" or competing is not None]
    tripod = pd.DataFrame([{"Item": i, "Topic": t,
                            "Answered in": ", ".join(dict(SECTIONS)[s.strip()] for s in where.split(","))}
                           for i, t, where in tripod_items(results)])
    return {
        "title": "NETPET score validation: reproducible analysis report",
        "version": __version__,
        "sections": sections,
        "summary": _summary(config, results),
        "flow_figure": _img(results.path("figures/patient_flow.png")),
        "flow": gt_table(flow_tab, "flow", "Patients received, excluded and analysed",
                         "Excluded + analysed = received at every step (TRIPOD+AI 20a)."),
        "table1": gt_table(t1, "table1", "Baseline characteristics by NETPET group",
                           "Median [Q1, Q3] or n (%); Missing: patients without the value."),
        "km": [_km_section(config, results, ep) for ep in eps],
        "cox": [_cox_section(config, results, ep, models) for ep in eps],
        "ph": [_ph_section(config, results, ep, models) for ep in eps],
        "concordance": [_concordance_section(config, results, ep, models) for ep in eps],
        "competing": competing,
        "num": {sid: k + 1 for k, (sid, _) in enumerate(sections)},
        "association": _association_section(config, results),
        "validation": _validation_section(config, results),
        "methods": methods_text(config),
        "software": gt_table(sw, "software", "Software versions",
                             "All installed packages and their versions are in manifest.json."),
        "tripod": gt_table(tripod, "tripod", "TRIPOD+AI items answered by this report",
                           "Items for the authors to report in the manuscript: "
                           + TRIPOD_AUTHOR_ITEMS + "."),
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
                 print_path: str | Path | None = None) -> None:
    """Write the HTML report (and its PDF) from exactly the tables and figures in ``files``.

    ``files`` are the paths the report rule declares as input (below ``root``);
    the report reads nothing else, so a file an earlier run left in the folder
    never reaches it. ``print_path`` receives the print copy that the PDF rule
    typesets (:mod:`.pdf`); ``pdf_path`` the PDF itself, typeset here.
    """
    context = report_context(config, ResultFiles(files, root))
    page = _template("report.html.j2").render(**context, for_pdf=False)
    Path(html_path).write_text(page, encoding="utf-8")
    if pdf_path or print_path:
        write_print_copy(_template("report.html.j2"), context, config, files,
                         print_path=print_path, pdf_path=pdf_path)
