"""Rules descriptive_figures, cox_figures and cumulative_incidence_figure: figures drawn
from result tables.

Each ``run_*_figure`` draws one figure; the two rules draw several in one process
(:func:`run_descriptive_figures`, :func:`run_cox_figures`), since a process's start
(Python, pandas, matplotlib: about 1 s) cost more than a figure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import competing_risks_settings
from ..report import figures
from ..report.tables import suppress_counts
from ._common import dpi, endpoint_label, figure_style, privacy, time_unit


def conf_label(config: dict) -> str:
    """What a figure's shaded bands are, in words (the caption names the transformation)."""
    return f"{float(config['kaplan_meier']['conf_level']):.0%} confidence interval"


def run_km_figure(config: dict, endpoint: str, tables: dict, outputs: list[str]) -> None:
    """Kaplan-Meier figure of ``endpoint`` from its curve, risk, median and test tables."""
    fig = figures.km_figure(
        pd.read_csv(tables["curves"]), pd.read_csv(tables["risk_table"]),
        pd.read_csv(tables["summary"]), pd.read_csv(tables["logrank"]),
        endpoint_label(config, endpoint),
        time_unit(config, endpoint),
        conf_label(config), style=figure_style(config), y_label=_km_y_label(config, endpoint))
    figures.save(fig, outputs, dpi(config))


def _km_y_label(config: dict, endpoint: str) -> str:
    """What a Kaplan-Meier curve estimates: survival, or for progression with death
    competing, the proportion free of progression with deaths censored."""
    cr = competing_risks_settings(config)
    if cr is not None and endpoint == cr["progression"]:
        return "Free of progression (deaths censored)"
    return "Survival probability"


def run_cumulative_incidence_figure(config: dict, tables: dict, outputs: list[str]) -> None:
    """Cumulative incidence of progression and of death first by group, with 1 - Kaplan-Meier."""
    read = lambda name: pd.read_csv(tables[name], keep_default_na=False,  # noqa: E731
                                    na_values=[""])
    fig = figures.cumulative_incidence_figure(
        read("curves"), read("naive"), read("risk_table"), read("gray"),
        config["analysis_time_unit"], conf_label(config), style=figure_style(config))
    figures.save(fig, outputs, dpi(config))


def run_flow_figure(config: dict, flow_csv: str, outputs: list[str]) -> None:
    """Patient-flow diagram from the flow table."""
    flow = pd.read_csv(flow_csv, keep_default_na=False, na_values=[""])
    labels = {ep: spec["label"] for ep, spec in config["endpoints"].items()}
    labels["competing_risks"] = "Competing risks"
    fig = figures.flow_figure(flow, labels, config["cox"]["primary_model"],
                              style=figure_style(config))
    figures.save(fig, outputs, dpi(config))


def run_forest_figure(config: dict, endpoint: str, coefficients: str, outputs: list[str],
                      fits: str | None = None) -> None:
    """Forest plot of the primary multivariable model's hazard ratios.

    With ``fits`` (the rule cox's ``cox_fits.pkl``) each level's patients and events are
    printed beside its hazard ratio (counts below the privacy threshold hidden when
    ``privacy.suppress_small_cells``); without, the model's totals only.
    """
    coefs = pd.read_csv(coefficients, keep_default_na=False, na_values=[""])
    coefs["level"] = coefs["level"].fillna("")
    coefs["reference"] = coefs["reference"].fillna("")
    model = config["cox"]["primary_model"]
    sub = coefs[coefs["model"] == model]
    title = (f"{config['endpoints'][endpoint]['label']}: "
             f"{config['cox']['models'][model].get('label', model)}")
    counts = None
    if fits:
        from .cox import load_fits

        counts = level_counts(load_fits(fits)[model], config)
    figures.save(figures.forest_figure(sub, title, style=figure_style(config), counts=counts),
                 outputs, dpi(config))


def level_counts(fit, config: dict) -> pd.DataFrame:
    """Patients and events of each level of each factor (and binary covariate: ``no``,
    ``yes``) among the patients a Cox fit analysed, as ``table(x, event)`` in R."""
    event = fit.frame["__event"].to_numpy() == 1
    rows = []
    for term in fit.terms:
        X = fit.design[term.columns].to_numpy()
        if term.levels and term.levels[0]:                 # a factor: reference, levels
            masks = [(term.reference, (X == 0).all(axis=1))]
            masks += [(lv, X[:, j] == 1) for j, lv in enumerate(term.levels)]
        elif (config["covariates"].get(term.name, {}).get("type") == "binary"
              and set(np.unique(X[:, 0])) <= {0.0, 1.0}):        # coded 0/1 (the cohort's)
            masks = [("no", X[:, 0] == 0), ("yes", X[:, 0] == 1)]
        else:
            continue
        block = pd.DataFrame([{"term": term.name, "level": lv, "n": int(m.sum()),
                               "events": int((m & event).sum())} for lv, m in masks])
        suppress, threshold = privacy(config)
        if suppress:
            block = suppress_counts(suppress_counts(block, "n", threshold), "events", threshold)
        rows.append(block)
    return (pd.concat(rows, ignore_index=True) if rows
            else pd.DataFrame(columns=["term", "level", "n", "events"]))


def run_schoenfeld_figure(config: dict, endpoint: str, residuals: str, ph_test: str,
                          coefficients: str, outputs: list[str]) -> None:
    """Schoenfeld residual plots of the primary model, one panel per coefficient."""
    model = config["cox"]["primary_model"]
    res = pd.read_csv(residuals, keep_default_na=False, na_values=[""])
    ph = pd.read_csv(ph_test, keep_default_na=False, na_values=[""])
    coefs = pd.read_csv(coefficients, keep_default_na=False, na_values=[""])
    coefs = coefs[coefs["model"] == model]
    flat = {(str(r.term), "" if pd.isna(r.level) else str(r.level)): float(r.coef)
            for r in coefs.itertuples()}
    title = (f"{config['endpoints'][endpoint]['label']}: "
             f"{config['cox']['models'][model].get('label', model)}")
    fig = figures.schoenfeld_figure(res, ph[ph["model"] == model], flat, title,
                                    time_unit(config, endpoint), style=figure_style(config))
    figures.save(fig, outputs, dpi(config))


def run_netpet_distribution_figure(config: dict, distribution_csv: str, outputs: list[str]
                                   ) -> None:
    """Patients per NETPET score, coloured by analysis group, from the distribution table."""
    dist = pd.read_csv(distribution_csv, keep_default_na=False, na_values=[""], dtype={"n": str})
    figures.save(figures.netpet_distribution_figure(dist, "NETPET score distribution",
                                                    style=figure_style(config)),
                 outputs, dpi(config))


def run_descriptive_figures(config: dict, inputs: dict, outputs: dict) -> None:
    """Rule descriptive_figures: the figures of the cohort and of its survival.

    ``inputs`` are the rule's tables by name (``flow``, ``distribution``,
    ``km_<table>_<endpoint>``) and ``outputs`` each figure's files by name
    (``patient_flow``, ``netpet_distribution``, ``km_<endpoint>``).
    """
    run_flow_figure(config, inputs["flow"], outputs["patient_flow"])
    run_netpet_distribution_figure(config, inputs["distribution"], outputs["netpet_distribution"])
    for endpoint in config["endpoints"]:
        tables = {key: inputs[f"km_{key}_{endpoint}"]
                  for key in ("curves", "risk_table", "summary", "logrank")}
        run_km_figure(config, endpoint, tables, outputs[f"km_{endpoint}"])


def run_cox_figures(config: dict, inputs: dict, outputs: dict) -> None:
    """Rule cox_figures: each endpoint's forest plot and Schoenfeld residuals of the
    primary model, from ``coefficients_<endpoint>``, ``fits_<endpoint>``,
    ``ph_residuals_<endpoint>`` and ``ph_test_<endpoint>``."""
    for endpoint in config["endpoints"]:
        run_forest_figure(config, endpoint, inputs[f"coefficients_{endpoint}"],
                          outputs[f"forest_{endpoint}"], fits=inputs[f"fits_{endpoint}"])
        run_schoenfeld_figure(config, endpoint, inputs[f"ph_residuals_{endpoint}"],
                              inputs[f"ph_test_{endpoint}"], inputs[f"coefficients_{endpoint}"],
                              outputs[f"schoenfeld_{endpoint}"])
