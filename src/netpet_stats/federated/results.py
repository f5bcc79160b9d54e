"""The coordinator's pooled tables, in the columns of the single-machine workflow."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from ..survival.cox import add_robust_columns, cox_tables
from ..survival.kaplan_meier import km_from_counts, method_text
from ..survival.logrank import adjust_p
from ..validation.external import pool_centre_measures
from . import aggregates
from .aggregates import COX_METHOD, ROBUST_METHOD

#: How exact each pooled analysis is, for the tables and the report.
EXACTNESS = {
    "cox": "exact: equal to the pooled-row analysis (sums of the centres' partial-likelihood "
           "terms)",
    "logrank": "exact: equal to the pooled-row analysis stratified by centre",
    "concordance": "exact: pairs within centres, as R concordance(fit) of the stratified model",
    "table1": "exact counts except cells suppressed at a site (then shown as a lower bound, "
              "≥; a site's group below the minimum cell size, and one withheld with it, "
              "release no breakdown); continuous: exact pooled mean and SD (medians need rows "
              "and are not given; * a site's group left out); a variable a site does not "
              "record is counted as not recorded there",
    "km": {"none": "not computed (tier 'none')",
           "exact": "exact pooled Kaplan-Meier from per-time counts (disclosive tier, opted in)",
           "rounded": "approximate: pooled from counts on a time grid rounded at each site; "
                      "each site states its largest deviation"},
}


def sites_table(spec: dict, sites: list[str], state: dict) -> pd.DataFrame:
    """Every site and endpoint: included or refused, with the reason and counts."""
    rows = []
    for site in sites:
        for ep in spec["endpoints"]:
            info = state["describe"][site]["endpoints"][ep]
            lr = info.get("logrank", {})
            rows.append({"site": site, "endpoint": ep, "status": info["status"],
                         "reason": info.get("reason", ""), "n": info.get("n"),
                         "events": info.get("events"),
                         "logrank": lr.get("status", ""), "logrank_reason": lr.get("reason", "")})
    return pd.DataFrame(rows)


def cox_pooled(spec: dict, state: dict, endpoint: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coefficients (model-based and robust SEs) and tests of the pooled primary model."""
    key = f"{endpoint}/full"
    nw = state["newton"][key]
    included = state["included"][endpoint]
    describe = state["describe"]
    n = int(sum(describe[s]["endpoints"][endpoint]["n"] for s in included))
    events = int(sum(describe[s]["endpoints"][endpoint]["events"] for s in included))
    null = state["extras"][key + "|null"]
    p = len(state["columns"])
    done = ("converged", "infinite")
    reduced = {name.removeprefix("drop "): (state["newton"][f"{endpoint}/{name}"].loglik
                                            if state["newton"][f"{endpoint}/{name}"].status
                                            in done else np.nan)
               for name in state["models"] if name != "full"}
    coefs, tests = cox_tables(state["terms"], state["columns"], nw.beta, nw.information,
                              nw.loglik, (null["loglik"], np.asarray(null["score"]).reshape(p),
                                          np.asarray(null["information"]).reshape(p, p)),
                              reduced, set(nw.infinite), n, events, spec["conf_level"])
    parts = state["extras"][key]["parts"]
    meat = sum(np.asarray(q["score_crossproduct"], float).reshape(p, p) for q in parts)
    V = np.linalg.inv(nw.information)
    order = [state["columns"].index(c) for t in state["terms"] for c in t.columns]
    rse = np.sqrt(np.diag(V @ meat @ V))[order]
    add_robust_columns(coefs, rse, spec["conf_level"], "patient", n)
    if nw.status not in done:
        # no estimate is reported from an iteration that did not converge
        estimates = ["coef", "se", "hr", "hr_lower", "hr_upper", "z", "p", "robust_se",
                     "robust_hr_lower", "robust_hr_upper", "robust_p"]
        coefs[estimates] = np.nan
        coefs["note"] = (f"not converged in {state['rounds']} rounds (largest summed score "
                         f"{nw.certificate:.1e}); raise federation.max_rounds and run the "
                         "coordinator again")
        tests[["chisq", "p"]] = np.nan
    meta = {"endpoint": endpoint, "model": spec["model"]["name"], "analysis": "multivariable",
            "model_label": spec["model"]["label"], "strata": ", ".join(spec["model"]["strata"])}
    lead = list(meta)
    coefs = coefs.assign(**meta, method=f"{aggregates.cox_method(spec.get('ties', 'efron'))}; "
                                        f"{aggregates.ROBUST_METHOD}")
    tests = tests.assign(**meta, n=n, events=events)
    coefs = coefs[lead + [c for c in coefs.columns if c not in lead]]
    tests = tests[lead + [c for c in tests.columns if c not in lead]]
    return coefs, tests


def concordance_pooled(spec: dict, state: dict, endpoint: str) -> pd.DataFrame:
    """Harrell's and Uno's C of the pooled model's linear predictor, within centres."""
    parts = state["extras"][f"{endpoint}/full"]["parts"]
    rows = []
    for name, timewt in (("harrell", "n"), ("uno", "n/G2")):
        res = aggregates.pool_concordance([q["concordance"][name] for q in parts], timewt,
                                          spec["conf_level"])
        rows.append({"endpoint": endpoint, "predictor": f"model:{spec['model']['name']}",
                     "index": "Harrell" if name == "harrell" else "Uno", **res})
    return pd.DataFrame(rows)


def logrank_pooled(spec: dict, state: dict, endpoint: str, adjust: str = "holm") -> pd.DataFrame:
    """Stratified log-rank, trend and pairwise tests from the sites' sums."""
    sites = [s for s in state["included"][endpoint]
             if state["describe"][s]["endpoints"][endpoint]["logrank"]["status"] == "included"]
    lr = [state["describe"][s]["endpoints"][endpoint]["logrank"] for s in sites]
    groups = spec["groups"]
    note = ("exact over the sites contributing"
            + ("" if len(sites) == len(state["included"][endpoint]) else
               "; withheld by " + ", ".join(sorted(set(state["included"][endpoint]) - set(sites)))))
    if not lr:
        return pd.DataFrame()
    overall = aggregates.pool_logrank([q["all"] for q in lr])
    rows = [{"endpoint": endpoint, "test": "stratified log-rank", "comparison": " vs ".join(groups),
             "stratified_by": "centre", "chisq": overall["chisq"], "df": overall["df"],
             "p": overall["p"], "p_adjusted": np.nan, "sites": len(sites), "exactness": note,
             "method": "survdiff(Surv(time, event) ~ group + strata(centre)) from the sites' "
                       "O, E and V"},
            {"endpoint": endpoint, "test": "stratified log-rank trend",
             "comparison": " < ".join(groups), "stratified_by": "centre",
             "chisq": overall["trend_chisq"], "df": 1, "p": overall["trend_p"],
             "p_adjusted": np.nan, "sites": len(sites), "exactness": note,
             "method": "scores 1..k, (c'(O - E))^2 / c'Vc summed over centres"}]
    pairs = []
    for a, b in combinations(groups, 2):
        parts = [q[f"{a} vs {b}"] for q in lr if f"{a} vs {b}" in q]
        if not parts:
            continue
        res = aggregates.pool_logrank(parts)
        pairs.append({"endpoint": endpoint, "test": "pairwise stratified log-rank",
                      "comparison": f"{a} vs {b}", "stratified_by": "centre",
                      "chisq": res["chisq"], "df": res["df"], "p": res["p"],
                      "sites": len(parts), "exactness": note,
                      "method": f"survdiff on the pair + strata(centre); p adjusted by {adjust}"})
    if pairs:
        for row, adj in zip(pairs, adjust_p([r["p"] for r in pairs], adjust)):
            row["p_adjusted"] = adj
    return pd.DataFrame(rows + pairs)


def table1_pooled(spec: dict, sites: list[str], state: dict) -> pd.DataFrame:
    """Table 1 margins by group, one row per variable, level and group.

    Categorical: the sum of the sites' released counts; where a site suppressed
    its cell, the sum is a lower bound and the site is named. Continuous: the
    exact pooled mean and SD from the sites' n, sums and sums of squares (a
    group below the minimum cell size at a site is left out and named). A
    variable a site does not record gets a level "(not recorded at <sites>)"
    counting those sites' patients. A site refused for every endpoint released
    no Table 1 and is not in it (the sites table says why).
    """
    groups = spec["groups"]
    t1 = {s: state["describe"][s]["table1"] for s in sites
          if "table1" in state["describe"][s]}
    rows = []
    for j, g in enumerate(groups):
        n = [q["n"][j] for q in t1.values()]
        rows.append({"variable": "n", "level": "", "group": g, "statistic": "patients",
                     "value": float(sum(v for v in n if v is not None)),
                     "sd": np.nan, "n": np.nan,
                     "suppressed_at": ", ".join(s for s, q in t1.items() if q["n"][j] is None)})
    for var in spec["table1"]["variables"]:
        absent = [s for s, q in t1.items() if var in q.get("not_recorded", [])]
        if var in spec["table1"]["continuous"]:
            for j, g in enumerate(groups):
                nn = ss = sq = 0.0
                missing = []
                for s, q in t1.items():
                    if s in absent:
                        continue
                    part = q.get("continuous", {}).get(var)
                    if part is None or part["n"][j] is None:
                        missing.append(s)
                        continue
                    nn, ss, sq = nn + part["n"][j], ss + part["sum"][j], sq + part["sum_squares"][j]
                mean = ss / nn if nn else np.nan
                sd = float(np.sqrt(max(sq - nn * mean ** 2, 0.0) / (nn - 1))) if nn > 1 else np.nan
                rows.append({"variable": var, "level": "", "group": g, "statistic": "mean",
                             "value": mean, "sd": sd, "n": nn,
                             "suppressed_at": ", ".join(missing)})
            rows += _not_recorded(var, groups, absent, t1)
            continue
        levels = sorted({lv for q in t1.values()
                         for lv in q.get("categorical", {}).get(var, {}).get("levels", [])})
        for lv in levels:
            for j, g in enumerate(groups):
                total, missing = 0, []
                for s, q in t1.items():
                    cat = q.get("categorical", {}).get(var)
                    if cat is None or lv not in cat["levels"]:
                        continue
                    value = cat["counts"][cat["levels"].index(lv)][j]
                    if value is None:
                        missing.append(s)
                    else:
                        total += int(value)
                rows.append({"variable": var, "level": lv, "group": g, "statistic": "count",
                             "value": float(total), "sd": np.nan, "n": np.nan,
                             "suppressed_at": ", ".join(missing)})
        rows += _not_recorded(var, groups, absent, t1)
    out = pd.DataFrame(rows)
    out["exact"] = out["suppressed_at"] == ""
    return out


def _not_recorded(var: str, groups: list[str], absent: list[str], t1: dict) -> list[dict]:
    """Rows of a variable some sites do not record: their patients, by group."""
    if not absent:
        return []
    rows = []
    for j, g in enumerate(groups):
        n = [t1[s]["n"][j] for s in absent]
        rows.append({"variable": var, "level": f"(not recorded at {', '.join(absent)})",
                     "group": g, "statistic": "count",
                     "value": float(sum(v for v in n if v is not None)), "sd": np.nan,
                     "n": np.nan,
                     "suppressed_at": ", ".join(s for s, v in zip(absent, n) if v is None)})
    return rows


def km_pooled(spec: dict, state: dict, endpoint: str, conf_type: str = "log") -> pd.DataFrame:
    """Pooled (unstratified) Kaplan-Meier by group from the tier's counts."""
    tier = spec["km_tier"]
    if tier == "none":
        return pd.DataFrame()
    frames = []
    for g in spec["groups"]:
        times, d, c, dev, left_out = [], [], [], [], []
        for s in state["included"][endpoint]:
            part = state["describe"][s]["endpoints"][endpoint].get("km", {}).get(g)
            if part is None:  # no patient of the group, or fewer than min_cell
                left_out.append(s)
                continue
            times.append(np.asarray(part["time" if tier == "exact" else "upper"], float))
            d.append(np.asarray(part["events"], float))
            c.append(np.asarray(part["censored"], float))
            if tier == "rounded":
                dev.append(part["max_deviation"])
        if not times:
            continue
        curve = km_from_counts(np.concatenate(times), np.concatenate(d), np.concatenate(c),
                               conf_type, spec["conf_level"])
        curve.insert(0, "group", g)
        curve.insert(0, "endpoint", endpoint)
        curve["tier"] = tier
        curve["site_max_deviation"] = max(dev) if dev else 0.0
        curve["method"] = (method_text(conf_type, spec["conf_level"]) + "; "
                           + EXACTNESS["km"][tier]
                           + ("; without " + ", ".join(left_out) + " (no patient of the group "
                              f"there, or fewer than {spec['min_cell']})" if left_out else ""))
        frames.append(curve)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def rounds_table(state: dict) -> pd.DataFrame:
    """Per round and evaluation: the summed log likelihood and largest |score|."""
    return pd.DataFrame(state["certificates"],
                        columns=["round", "evaluation", "loglik", "max_abs_score", "status"])


def validation_pooled(spec: dict, sites: list[str], state: dict) -> pd.DataFrame:
    """The frozen model's performance per centre and pooled by random effects.

    The rows of :func:`netpet_stats.validation.external.centre_performance` on the
    pooled rows: per-centre measures as each site computed them, then the
    DerSimonian-Laird pooling (Debray et al. 2017 scales). A centre below the
    minimum cell size is listed as refused.
    """
    if not spec.get("validation"):
        return pd.DataFrame()
    rows, refused = [], []
    for site in sites:
        described = state["describe"][site]
        if "validation" not in described and all(
                part.get("status") == "refused"
                for part in described.get("endpoints", {}).values()):
            # a site refused for every endpoint releases only that fact: one row, under
            # the site's name, says why it has no estimate
            refused.append({"site": site, "centre": site, "measure": "(all)",
                            "note": f"fewer than {spec['min_cell']} patients or events"})
            continue
        for centre, part in described.get("validation", {}).items():
            if part["status"] != "included":
                refused.append({"site": site, "centre": centre, "measure": "(all)",
                                "note": part["reason"]})
                continue
            for measure, r in part["measures"].items():
                rows.append({"site": site, "centre": centre, "measure": measure,
                             **{k: (np.nan if v is None else v) for k, v in r.items()}})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(refused)
    pooled = pool_centre_measures(frame)
    out = pd.concat([frame.drop(columns=["scale_estimate", "scale_se"]), pooled,
                     pd.DataFrame(refused)], ignore_index=True)
    out["horizon"] = spec["validation"]["horizon"]
    out["model"] = spec["validation"]["model"]["name"]
    return out


def exactness_table(spec: dict) -> pd.DataFrame:
    """Which pooled analyses are exact and which tier each approximate one used."""
    rows = [
        {"analysis": "primary Cox model (coefficients, model-based and robust SE, LR / Wald / "
                     "score tests, drop-one LRTs)", "exactness": EXACTNESS["cox"],
         "tier": "aggregates"},
        {"analysis": "stratified log-rank, trend and pairwise tests",
         "exactness": EXACTNESS["logrank"], "tier": "aggregates"},
        {"analysis": "Harrell's and Uno's C of the primary model",
         "exactness": EXACTNESS["concordance"], "tier": "aggregates"},
        {"analysis": "Table 1 margins", "exactness": EXACTNESS["table1"],
         "tier": f"counts below {spec['min_cell']} suppressed"},
        {"analysis": "pooled Kaplan-Meier curves", "exactness": EXACTNESS["km"][spec["km_tier"]],
         "tier": spec["km_tier"]},
        *([{"analysis": "validation of the frozen model per centre, random-effects pooled",
             "exactness": "exact: each centre's measures depend on its own patients only",
             "tier": "aggregates"}] if spec.get("validation") else []),
        {"analysis": "Schoenfeld residual test (cox.zph, 'km' transform)",
         "exactness": "not computed: needs the pooled event times", "tier": "none"},
    ]
    return pd.DataFrame(rows)


#: Title and note of each coordinator table.
TABLE_NOTES = {
    "sites": ("Sites and what they contributed",
              "A site with fewer patients or events than the minimum cell size is refused for "
              "that endpoint and releases only that fact; its log-rank sums are withheld when "
              "one of its groups is below the minimum."),
    "rounds": ("Rounds of the pooled Cox fits",
               "Per round and model: summed log partial likelihood and the largest absolute "
               "summed score at the coefficients evaluated (the convergence certificate)."),
    "table1": ("Table 1 margins, pooled", EXACTNESS["table1"]),
    "cox_coefficients": ("Primary Cox model, pooled over sites",
                         COX_METHOD + ". " + ROBUST_METHOD + "."),
    "cox_tests": ("Primary Cox model: tests, pooled over sites",
                  "As R summary(coxph) and drop1(fit, test = 'Chisq'); every reduced model "
                  "fitted by the same rounds."),
    "concordance": ("Concordance of the primary model, pooled over sites",
                    EXACTNESS["concordance"]),
    "logrank": ("Log-rank tests stratified by centre, pooled over sites", EXACTNESS["logrank"]),
    "km": ("Kaplan-Meier curves by group, pooled over sites",
           "Present only when federation.km_tier is rounded or exact."),
    "exactness": ("What is exact in the pooled analysis", ""),
    "validation": ("The frozen model's performance by centre, pooled by random effects",
                   "Per centre: Harrell's and Uno's C (pairs with the earlier event by the "
                   "horizon), Royston's D, calibration slope, O/E, AUC, Brier and IPA, as each "
                   "site computed them; DerSimonian-Laird pooling on the logit (C), identity "
                   "(D, slope) and log (O/E) scales. Empty unless validation.mode is "
                   "'validate'."),
}
