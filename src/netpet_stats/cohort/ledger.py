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
    # Built block by block from masks (a registry of 10^6 patients has a row here for
    # every patient and analysis a missing value keeps out: ~10^6 entries), in the
    # order the analyses are listed below; the sort at the end orders the whole.
    blocks = []
    files = data["file"].astype(str).to_numpy(dtype=object)
    rows = data["row"].to_numpy()

    def add(mask, analysis: str, reasons) -> None:
        at = np.flatnonzero(np.asarray(mask, bool))
        if at.size:
            why = reasons[at] if isinstance(reasons, np.ndarray) else reasons
            blocks.append(pd.DataFrame({"file": files[at], "row": rows[at].astype(np.int64),
                                        "analysis": analysis, "reason": why}))

    no_group = data["netpet_group"].isna().to_numpy()
    at = np.flatnonzero(no_group)
    reasons = np.empty(len(data), dtype=object)
    reasons[at] = [why if isinstance(why, str)
                   else "NETPET score missing (none given, no lesions listed)" if pd.isna(score)
                   else f"NETPET score {score}, in no analysis group of the grouping"
                   for score, why in zip(data["netpet"].to_numpy()[at],
                                         data["exclusion"].to_numpy()[at])]
    add(no_group, "all", reasons)
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
        add(no_ep.to_numpy() & ~no_group, ep, np.asarray(reasons, dtype=object))
        base_ok = ~no_group & ~no_ep.to_numpy()
        wanted = models if ep != CR_ANALYSIS else {m: models[m] for m in cr["models"] if m in models}
        for name, spec in wanted.items():
            needed = [c for c in spec["covariates"] + spec["strata"]
                      + ([spec["cluster"]] if spec.get("cluster") else []) if c != "netpet_group"]
            if not needed:
                continue
            miss = data[needed].isna().to_numpy() & base_ok[:, None]
            names = np.array([VARIABLE_NAMES.get(c, c) for c in needed], dtype=object)
            # each row's set of missing covariates as one number, named once per set
            bits = np.arange(len(needed), dtype=np.int64)
            pattern = miss @ (1 << bits)
            seen = np.unique(pattern[pattern > 0])
            said = np.array([None] + ["missing " + ", ".join(names[(int(k) >> bits) & 1 == 1])
                                      for k in seen], dtype=object)
            add(pattern > 0, f"{ep}:{name}",
                said[np.searchsorted(np.concatenate(([0], seen)), pattern)])
    columns = ["file", "row", "analysis", "reason"]
    ledger = (pd.concat(blocks, ignore_index=True) if blocks
              else pd.DataFrame([], columns=columns))
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
