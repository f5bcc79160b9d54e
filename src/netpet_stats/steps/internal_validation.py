"""Rules optimism_bootstrap and internal_external_cv: internal validation (develop mode)."""

from __future__ import annotations

import logging

import pandas as pd

from ..cohort.ledger import analysis_set
from ..config import cox_ties, model_specs
from ..report.tables import write_table
from ..survival import cox
from ..validation import external, internal
from ._common import dpi, endpoint_label, figure_style, load_analysis

log = logging.getLogger(__name__)


def _development_design(config: dict, data: pd.DataFrame):
    """Outcome, design matrix and rows of the model to be frozen, in the development cohort."""
    vcfg = config["validation"]
    endpoint = vcfg["endpoint"]
    spec = model_specs(config)[vcfg["model"]]
    if spec["strata"]:
        raise ValueError(f"validation.model {vcfg['model']!r} is stratified; internal validation "
                         "and a model for new centres need an unstratified model")
    d = analysis_set(data, endpoint, spec["covariates"]).reset_index(drop=True)
    X, _ = cox.design_matrix(d, spec["covariates"], config["covariates"])
    return d, d[f"{endpoint}_time"].to_numpy(float), d[f"{endpoint}_event"].to_numpy(float), X




def _added_value_optimism(config: dict, data: pd.DataFrame, n_boot: int, seed: int,
                          horizon: float, threads: int) -> pd.DataFrame | None:
    """Optimism-corrected C of the added-value pair and of their difference, if configured.

    Both models on the patients complete for the extended one's covariates and the
    base one's; ``None`` when no pair is configured or either is stratified (the
    bootstrap refits unstratified models, as the frozen model).
    """
    vcfg = config["validation"]
    added = vcfg.get("added_value")
    specs = model_specs(config)
    if not added or added["base"] not in specs or added["extended"] not in specs:
        return None
    base, ext = specs[added["base"]], specs[added["extended"]]
    if base["strata"] or ext["strata"]:
        log.info("added value: a stratified model; no bootstrap of its optimism")
        return None
    endpoint = vcfg["endpoint"]
    d = analysis_set(data, endpoint, list(dict.fromkeys(ext["covariates"] + base["covariates"])))
    d = d.reset_index(drop=True)
    X_base, _ = cox.design_matrix(d, base["covariates"], config["covariates"])
    X_ext, _ = cox.design_matrix(d, ext["covariates"], config["covariates"])
    t, e = d[f"{endpoint}_time"].to_numpy(float), d[f"{endpoint}_event"].to_numpy(float)
    table = internal.added_value_bootstrap(t, e, X_base.to_numpy(), X_ext.to_numpy(), n_boot,
                                           seed, horizon, progress=True, threads=threads,
                                           ties=cox_ties(config))
    names = {"base": added["base"], "extended": added["extended"],
             "extended - base": f"{added['extended']} - {added['base']}"}
    return table.assign(model=table["model"].map(names), endpoint=endpoint, n=len(t),
                        events=int(e.sum()))


def run_optimism(config: dict, analysis: str, out, threads: int = 1) -> None:
    """Bootstrap optimism-corrected C and calibration slope of ``validation.model``.

    ``threads``: the cores Snakemake gives the job; the table does not depend on it.
    """
    data = load_analysis(analysis, config)
    vcfg = config["validation"]
    _, t, e, X = _development_design(config, data)
    n_boot, seed = int(vcfg["n_boot"]), int(vcfg["seed"])
    horizon = max(float(h) for h in vcfg["horizons"])
    table = internal.optimism_bootstrap(t, e, X.to_numpy(), n_boot, seed, horizon,
                                        progress=True, threads=threads,
                                        ties=cox_ties(config))
    label = endpoint_label(config, vcfg["endpoint"])
    table = table.assign(endpoint=vcfg["endpoint"], model=vcfg["model"], n=len(t),
                         events=int(e.sum()))
    added = _added_value_optimism(config, data, n_boot, seed, horizon, threads)
    if added is not None:
        table = pd.concat([table, added], ignore_index=True)
    write_table(table,
                out.optimism, f"{label}: internal validation of the model (bootstrap)",
                f"{internal.OPTIMISM_METHOD}. {n_boot} resamples, seed {seed} (numpy "
                f"PCG64); Harrell's C over pairs whose earlier event is at or before {horizon:g}; "
                "calibration slope = coxph(Surv ~ lp) of the resample's model in the original "
                "data (apparent slope is 1).")




def run_iecv(config: dict, analysis: str, out, threads: int = 1) -> None:
    """Internal-external cross-validation of ``validation.model``, leaving one centre out.

    ``threads``: the cores Snakemake gives the job (centres refitted in parallel); the
    table does not depend on it.
    """
    from ..report import figures   # matplotlib: only in the jobs that draw
    data = load_analysis(analysis, config)
    vcfg = config["validation"]
    d, t, e, X = _development_design(config, data)
    horizon = max(float(h) for h in vcfg["horizons"])
    label = endpoint_label(config, vcfg["endpoint"])
    note = (f"{internal.IECV_METHOD}. At {horizon:g}: Harrell's C (pairs with the "
            "earlier event by then), calibration slope and O/E of the out-of-centre predictions "
            "in each centre; DerSimonian-Laird pooling as in the external validation. AUC, "
            f"Brier score and IPA: percentile bootstrap intervals over the centre's patients "
            f"({vcfg['n_boot']} resamples, seed {vcfg['seed']}), not pooled.")
    if "centre" not in d.columns or d["centre"].nunique() < 2:
        write_table(pd.DataFrame(columns=["centre", "measure", "estimate"]), out.iecv,
                    f"{label}: internal-external cross-validation",
                    "Not done: the development cohort has fewer than two centres.")
        figures.save(figures.empty_figure("Internal-external cross-validation: fewer than two "
                                          "centres", figure_style(config)), out.figures,
                     dpi(config))
        return
    lp, surv, _ = internal.internal_external_cv(t, e, X.to_numpy(), d["centre"],
                                                [horizon], progress=True, threads=threads,
                                                ties=cox_ties(config))
    table = external.centre_performance(t, e, lp, surv[horizon], d["centre"].to_numpy(), horizon,
                                        n_boot=int(vcfg["n_boot"]), seed=int(vcfg["seed"]),
                                        threads=threads)
    write_table(table.assign(endpoint=vcfg["endpoint"], model=vcfg["model"], horizon=horizon),
                out.iecv, f"{label}: internal-external cross-validation (leave one centre out)",
                note)
    figures.save(figures.centre_forest_figure(table, f"{label}: internal-external "
                                              "cross-validation", style=figure_style(config)),
                 out.figures, dpi(config))


