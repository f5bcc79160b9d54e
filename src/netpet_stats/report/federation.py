"""The coordinator's report: the pooled analysis and how it was obtained, site by site.

Built from the coordinator's tables only (aggregates the sites released); every
value from a site (its name, a level) is escaped by great-tables or the template.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..provenance import software_versions
from .document import _ci, _config_yaml, _template, gt_table
from .pdf import write_print_copy
from .manuscript import hazard_ratio_table
from .tables import fmt_p

REFERENCES = [
    "Chan DL, Hayes AR, Karfis I, et al. Dual [68Ga]DOTATATE and [18F]FDG PET/CT in patients "
    "with metastatic gastroenteropancreatic neuroendocrine neoplasms: a multicentre validation "
    "of the NETPET score. Br J Cancer 2023;128:549-555.",
    "Therneau TM, Grambsch PM. Modeling Survival Data: Extending the Cox Model. Springer, 2000.",
    "Lu CL, Wang S, Ji Z, et al. WebDISCO: a web service for distributed Cox model learning "
    "without patient-level data sharing. J Am Med Inform Assoc 2015;22:1212-1219.",
    "Therneau TM, Atkinson E. The concordance statistic. Vignette of the R package survival.",
    "Hundepool A, Domingo-Ferrer J, Franconi L, et al. Statistical Disclosure Control. Wiley, "
    "2012.",
]


def table1_display(table: pd.DataFrame) -> pd.DataFrame:
    """Table 1 as printed: a row per variable and level, a column per group.

    Counts with a suppressed site cell are shown as "≥ n"; means as "mean (SD)".
    """
    def cell(r):
        if r.statistic == "mean":
            text = f"{r.value:.1f} ({r.sd:.1f})" if pd.notna(r.value) else "—"
            return f"{text}*" if r.suppressed_at else text
        if not r.suppressed_at:
            return f"{int(r.value)}"
        return f"≥ {int(r.value)}" if r.value > 0 else "suppressed"

    shown = table.assign(cell=[cell(r) for r in table.itertuples()])
    wide = shown.pivot_table(index=["variable", "level"], columns="group", values="cell",
                             aggfunc="first", sort=False)
    wide = wide[[g for g in table["group"].drop_duplicates()]].reset_index()
    wide["level"] = wide["level"].replace("", "—")
    return wide.rename(columns={"variable": "Characteristic", "level": "Level"})


def _summary(spec: dict, state: dict, tables: dict) -> str:
    sites = tables["sites"]
    n_sites = sites["site"].nunique()
    refused = sites[sites["status"] == "refused"]
    parts = [f"{n_sites} sites answered {state['rounds']} rounds of requests; no patient row "
             "left any site."]
    if not refused.empty:
        parts.append("Refused for too few patients or events (minimum "
                     f"{spec['min_cell']}): " + "; ".join(
                         f"{r.site} ({r.endpoint})" for r in refused.itertuples()) + ".")
    coefs = tables["cox_coefficients"]
    for ep, label in ((e, s["label"]) for e, s in spec["endpoints"].items()):
        c = coefs[coefs["endpoint"] == ep] if not coefs.empty else coefs
        if c.empty:
            parts.append(f"{label}: no site had enough patients and events.")
            continue
        first = c.iloc[0]
        certificate = tables["rounds"].query("evaluation == @ep + '/full'")["max_abs_score"]
        parts.append(
            f"{label}: the pooled primary model on {int(first['n'])} patients "
            f"({int(first['events'])} events) gives, for {first['term_label']} "
            f"{first['level']} vs {first['reference']}, HR "
            f"{_ci(first['hr'], first['hr_lower'], first['hr_upper'])}; largest absolute summed "
            f"score at the estimate {certificate.iloc[-1]:.1e}.")
    return " ".join(parts)


def _fmt_frame(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if col in ("p", "p_adjusted", "robust_p", "trend_p"):
            out[col] = [fmt_p(v) if pd.notna(v) else "" for v in out[col]]
        elif pd.api.types.is_float_dtype(out[col]):
            out[col] = [f"{v:.{digits}g}" if pd.notna(v) else "" for v in out[col]]
    return out


def _methods(config: dict, spec: dict) -> list[str]:
    model = spec["model"]
    tier = spec["km_tier"]
    return [
        "Each site ran the same workflow on its own table: the cohort contract, the "
        "exclusion ledger and the NETPET grouping as in a single-centre run. Sites exchanged "
        "only aggregates, through a shared folder, one sub-folder per round; each file was a "
        "JSON bundle checked against a schema, and each site kept a ledger of every number it "
        "released, the smallest count of patients behind it and the rule applied.",
        f"The primary Cox model ({' + '.join(model['covariates'])}, stratified by "
        f"{', '.join(model['strata'])}) was fitted with "
        f"{'Breslow' if spec.get('ties') == 'breslow' else 'Efron'}'s method for ties by "
        "Newton-Raphson on the sums of the sites' log partial likelihoods, score vectors and "
        "information matrices, starting from the inverse-variance weighted mean of the sites' "
        "own fits, until the largest absolute summed score was below 1e-9. Because the model "
        "is stratified by centre, these sums equal the pooled-row quantities, so the "
        "coefficients, model-based and robust (sandwich, one cluster per patient) standard "
        "errors, likelihood-ratio, Wald and score tests and the drop-one likelihood-ratio "
        "tests equal R coxph(..., ties = 'efron') and drop1() on the pooled rows.",
        "The log-rank tests stratified by centre summed the sites' observed and expected "
        "events and hypergeometric variance matrices (R survdiff); the trend test used scores "
        "1..k. Harrell's and Uno's C of the model's linear predictor compared pairs within "
        "centres, as R concordance(fit) for a stratified model; their infinitesimal-jackknife "
        "variances were rebuilt exactly from three sums per site.",
        f"Disclosure control: a site with fewer than {spec['min_cell']} patients or events "
        "for an endpoint was refused for it and released only that fact; counts below the "
        "minimum cell size were suppressed, with secondary suppression in the same column; "
        "the pooled Kaplan-Meier curves used the tier '" + tier + "'. Analyses that need "
        "patient-level event times across sites (the unstratified Kaplan-Meier curve unless "
        "an opt-in tier is used, cox.zph) are not computed.",
    ]


def write_federation_report(config: dict, spec: dict, state: dict, tables: dict,
                            html_path: str | Path, pdf_path: str | Path | None = None,
                            print_path: str | Path | None = None) -> None:
    """The coordinator's HTML report (and PDF) from the pooled tables.

    ``print_path`` receives the print copy the PDF rule typesets; ``pdf_path`` the
    PDF itself, typeset here (:mod:`.pdf`).
    """
    conf = spec["conf_level"]
    cox_sections = []
    for ep, eps in spec["endpoints"].items():
        coefs = tables["cox_coefficients"]
        c = coefs[coefs["endpoint"] == ep] if not coefs.empty else coefs
        if c.empty:
            continue
        hr = hazard_ratio_table(c, spec["model"]["name"], conf)
        hr = hr.drop(columns=[col for col in hr.columns if col.startswith("Univariable")
                              or col in ("p", "n", "Events")])
        rob = c[["term_label", "level", "reference", "robust_se", "robust_hr_lower",
                 "robust_hr_upper", "robust_p"]].rename(columns={
                     "term_label": "Term", "level": "Level", "reference": "Reference",
                     "robust_se": "Robust SE", "robust_hr_lower": "Robust lower",
                     "robust_hr_upper": "Robust upper", "robust_p": "Robust p"})
        tests = tables["cox_tests"]
        t = tests[tests["endpoint"] == ep][["test", "term", "chisq", "df", "p", "method"]]
        cox_sections.append({
            "label": eps["label"],
            "hr": gt_table(hr, f"fed_hr_{ep}", f"{eps['label']}: pooled hazard ratios",
                           f"Pooled over sites; {int(c['n'].iloc[0])} patients, "
                           f"{int(c['events'].iloc[0])} events."),
            "robust": gt_table(_fmt_frame(rob), f"fed_robust_{ep}",
                               f"{eps['label']}: robust standard errors",
                               "Robust (sandwich) SE, one cluster per patient."),
            "tests": gt_table(_fmt_frame(t), f"fed_tests_{ep}",
                              f"{eps['label']}: tests of the model and of each term", None)})
    versions = software_versions()
    context = {
        "title": "NETPET federated analysis: pooled over sites without pooling patient rows",
        "version": __version__,
        "summary": _summary(spec, state, tables),
        "sites": gt_table(_fmt_frame(tables["sites"].fillna("")), "fed_sites", "Sites",
                          "n and events are released only for included sites."),
        "rounds": gt_table(_rounds_summary(tables["rounds"]), "fed_rounds",
                           "Rounds and convergence certificate",
                           "Per model: the rounds it was evaluated in, and at its last round "
                           "the summed log likelihood and the convergence certificate, the "
                           "largest absolute summed score. Every round is in "
                           "federation/rounds.csv."),
        "exactness": gt_table(tables["exactness"], "fed_exact",
                              "What is exact in the pooled analysis", None),
        "table1": gt_table(table1_display(tables["table1"]), "fed_table1",
                           "Table 1 margins pooled over sites",
                           "n by group; continuous variables as mean (SD). ≥: a site's cell "
                           "below the minimum cell size was suppressed; *: a site's group "
                           "below it left out; (not recorded at a site): the patients "
                           "of a site whose table does not have that variable."),
        "cox": cox_sections,
        "logrank": gt_table(_fmt_frame(tables["logrank"]), "fed_logrank",
                            "Log-rank tests stratified by centre", None)
        if not tables["logrank"].empty else "",
        "concordance": gt_table(_fmt_frame(tables["concordance"][
            ["endpoint", "predictor", "index", "estimate", "se", "lower", "upper", "n_pairs",
             "method"]]), "fed_conc", "Harrell's and Uno's C of the pooled model",
            None) if not tables["concordance"].empty else "",
        "km": _km_landmarks(tables["km"], config) if not tables["km"].empty else "",
        "validation": _validation_table(tables["validation"]),
        "km_tier": spec["km_tier"],
        "methods": _methods(config, spec),
        "references": REFERENCES,
        "software": f"Python {versions['python']}, netpet-stats {versions['netpet-stats']}",
        "config_yaml": _config_yaml(config),
    }
    page = _template("federation.html.j2").render(**context, for_pdf=False)
    Path(html_path).write_text(page, encoding="utf-8")
    if pdf_path or print_path:
        write_print_copy(_template("federation.html.j2"), context, config,
                         print_path=print_path, pdf_path=pdf_path)


def _rounds_summary(rounds: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for evaluation, sub in rounds.groupby("evaluation", sort=False):
        endpoint, _, model = evaluation.partition("/")
        last = sub.iloc[-1]
        rows.append({"Endpoint": endpoint,
                     "Model": "primary" if model == "full" else f"primary without {model[5:]}",
                     "Rounds": f"{int(sub['round'].min())}–{int(last['round'])}",
                     "Log likelihood": f"{last['loglik']:.6f}",
                     "Certificate": f"{last['max_abs_score']:.1e}", "Status": last["status"]})
    return pd.DataFrame(rows)


def _validation_table(table: pd.DataFrame) -> str:
    if table.empty:
        return ""
    shown = table[[c for c in ("centre", "measure", "estimate", "lower", "upper", "pi_lower",
                               "pi_upper", "i2", "n", "events", "note") if c in table.columns]]
    return gt_table(_fmt_frame(shown.fillna({"note": ""})), "fed_validation",
                    "Performance of the frozen model by centre",
                    "Per centre as each site computed it; pooled: DerSimonian-Laird random "
                    "effects with the 95% prediction interval for a new centre.")


def _km_landmarks(km: pd.DataFrame, config: dict) -> str:
    rows = []
    for (ep, group), curve in km.groupby(["endpoint", "group"], sort=False):
        row = {"Endpoint": ep, "Group": group}
        times = curve["time"].to_numpy(float)
        for t in config["kaplan_meier"]["landmarks"]:
            i = np.searchsorted(times, t, side="right") - 1
            row[f"S({t:g})"] = (_ci(curve["surv"].iloc[i], curve["lower"].iloc[i],
                                    curve["upper"].iloc[i]) if i >= 0 else "1")
        row["Tier"] = curve["tier"].iloc[0]
        row["Largest site deviation"] = f"{curve['site_max_deviation'].iloc[0]:.3f}"
        rows.append(row)
    return gt_table(pd.DataFrame(rows), "fed_km", "Pooled Kaplan-Meier survival at the landmarks",
                    "Survival (95% CI) at the landmarks from the pooled counts.")
