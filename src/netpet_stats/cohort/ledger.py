"""Who enters which analysis: the exclusion ledger and the complete-case rule."""

from __future__ import annotations


import numpy as np
import pandas as pd

from ..config import (CR_ANALYSIS, analysed_models, block_defaults, competing_risks_settings,
                      derived_endpoints)
from .problems import VARIABLE_NAMES


def exclusion_ledger(data: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Who is excluded from which analysis, and why (R's ``na.action = na.omit``).

    Analyses: ``all`` (no NETPET group, or excluded by a date rule such as the
    scan window), ``<endpoint>`` (no time or event), and ``<endpoint>:<model>``
    for each Cox model and univariable covariate (a covariate in the model is
    missing). A row excluded from ``all`` is not listed again for the individual
    analyses. Rows are identified by the input file's path as the configuration
    gives it (so that ``A/export.csv`` and ``B/export.csv`` stay apart) and the
    spreadsheet row only.
    """
    records = []
    files = data["file"].astype(str)
    no_group = data["netpet_group"].isna()
    for f, row, score, why, bad in zip(files, data["row"], data["netpet"], data["exclusion"],
                                       no_group):
        if bad:
            if isinstance(why, str):
                reason = why
            elif pd.isna(score):
                reason = "NETPET score missing (none given, no lesions listed)"
            else:
                reason = f"NETPET score {score}, in no analysis group of the grouping"
            records.append((f, int(row), "all", reason))
    models = analysed_models(config)
    cr = competing_risks_settings(config)
    analyses = {ep: (f"{ep}_time", f"{ep}_event") for ep in config["endpoints"]}
    if cr is not None:
        analyses[CR_ANALYSIS] = ("cr_time", "cr_status")
    derived = derived_endpoints(config)
    for ep, (time_col, ev_col) in analyses.items():
        no_ep = data[time_col].isna() | data[ev_col].isna()
        if ep in derived or ep == CR_ANALYSIS:
            c = cr or config.get("competing_risks") or block_defaults("competing_risks")
            why = f"{c['progression']} or {c['death']} time or event missing"
            reasons = np.full(len(data), why if ep == CR_ANALYSIS else f"{ep}: {why}", object)
        else:
            reasons = np.where(data[time_col].isna(), f"{ep} time missing", f"{ep} event missing")
        for column, why in (("entry_time", "entry time missing"), ("weight", "case weight missing")):
            if column in data:   # delayed entry / case weights: needed by every analysis
                lacking = data[column].isna() & ~no_ep
                reasons = np.where(lacking, why, reasons)
                no_ep = no_ep | data[column].isna()
        for f, row, reason, flag in zip(files, data["row"], reasons, no_ep & ~no_group):
            if flag:
                records.append((f, int(row), ep, reason))
        base_ok = ~no_group & ~no_ep
        wanted = models if ep != CR_ANALYSIS else {m: models[m] for m in cr["models"] if m in models}
        for name, spec in wanted.items():
            needed = [c for c in spec["covariates"] + spec["strata"]
                      + ([spec["cluster"]] if spec.get("cluster") else []) if c != "netpet_group"]
            if not needed:
                continue
            miss = data.loc[base_ok, needed].isna()
            miss = miss[miss.any(axis=1)]
            names = np.array([VARIABLE_NAMES.get(c, c) for c in needed], dtype=object)
            for f, row, flags in zip(files[miss.index], data.loc[miss.index, "row"],
                                     miss.to_numpy()):
                records.append((f, int(row), f"{ep}:{name}", "missing " + ", ".join(names[flags])))
    ledger = pd.DataFrame(records, columns=["file", "row", "analysis", "reason"])
    return ledger.sort_values(["file", "row", "analysis"], kind="mergesort").reset_index(drop=True)


def analysis_set(data: pd.DataFrame, endpoint: str, columns: list[str] = ()) -> pd.DataFrame:
    """Rows that enter an analysis of ``endpoint`` using ``columns`` (complete cases).

    In a NETPET cohort a patient must also have an analysis group; a generic
    cohort (no ``netpet_group`` column) needs only the outcome and ``columns``.
    With delayed entry (an ``entry_time`` column) the entry time is needed too, and
    with case weights (a ``weight`` column) the weight.
    """
    group = ["netpet_group"] if "netpet_group" in data.columns else []
    # delayed entry and case weights, where the cohort has them
    extra = [c for c in ("entry_time", "weight") if c in data.columns]
    need = [*group, f"{endpoint}_time", f"{endpoint}_event", *extra, *columns]
    return data.dropna(subset=list(dict.fromkeys(need)))


def patient_flow(data: pd.DataFrame, ledger: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Counts from received to analysed, per analysis, with reasons (TRIPOD+AI 20a).

    ``data`` is every input row, ``ledger`` the :func:`exclusion_ledger`; every
    row is counted once per line, so analysed + excluded = received.
    """
    n = len(data)
    rows = [{"analysis": "received", "step": "input rows", "n": n, "reason": ""}]
    excl_all = ledger[ledger["analysis"] == "all"]
    for reason, k in excl_all["reason"].value_counts().sort_index().items():
        rows.append({"analysis": "all", "step": "excluded", "n": int(k), "reason": reason})
    eligible = n - len(excl_all)
    rows.append({"analysis": "all", "step": "eligible", "n": eligible, "reason": ""})
    cr = competing_risks_settings(config)
    analyses = list(config["endpoints"]) + ([CR_ANALYSIS] if cr is not None else [])
    # with delayed entry or case weights Gray's test and Fine-Gray are not computed
    plain = not {"entry_time", "weight"} & set(data.columns)
    cr_steps = (("analysed (Aalen-Johansen, Gray)", "analysed (Fine-Gray, cause-specific Cox)")
                if plain else ("analysed (Aalen-Johansen)", "analysed (cause-specific Cox)"))
    for ep in analyses:
        sub = ledger[ledger["analysis"] == ep]
        for reason, k in sub["reason"].value_counts().sort_index().items():
            rows.append({"analysis": ep, "step": "excluded", "n": int(k), "reason": reason})
        analysed = eligible - len(sub)
        rows.append({"analysis": ep, "step": cr_steps[0] if ep == CR_ANALYSIS
                     else "analysed (Kaplan-Meier, log-rank)", "n": analysed, "reason": ""})
        for name in (cr["models"] if ep == CR_ANALYSIS else analysed_models(config)):
            sub_m = ledger[ledger["analysis"] == f"{ep}:{name}"]
            for reason, k in sub_m["reason"].value_counts().sort_index().items():
                rows.append({"analysis": f"{ep}:{name}", "step": "excluded", "n": int(k),
                             "reason": reason})
            rows.append({"analysis": f"{ep}:{name}", "step": cr_steps[1]
                         if ep == CR_ANALYSIS else "analysed (Cox)",
                         "n": analysed - len(sub_m), "reason": ""})
    return pd.DataFrame(rows)
