"""Rules km_figure, forest_figure and flow_figure: figures drawn from result tables."""

from __future__ import annotations

import pandas as pd

from ..report import figures
from ._common import dpi, endpoint_label, figure_style, time_unit


def run_km_figure(config: dict, endpoint: str, tables: dict, outputs: list[str]) -> None:
    """Kaplan-Meier figure of ``endpoint`` from its curve, risk, median and test tables."""
    km_cfg = config["kaplan_meier"]
    fig = figures.km_figure(
        pd.read_csv(tables["curves"]), pd.read_csv(tables["risk_table"]),
        pd.read_csv(tables["summary"]), pd.read_csv(tables["logrank"]),
        endpoint_label(config, endpoint),
        time_unit(config, endpoint),
        f"{float(km_cfg['conf_level']):.0%} CI, {km_cfg['conf_type']}",
        style=figure_style(config))
    figures.save(fig, outputs, dpi(config))


def run_cumulative_incidence_figure(config: dict, tables: dict, outputs: list[str]) -> None:
    """Cumulative incidence of progression and of death first, beside 1 - Kaplan-Meier."""
    km_cfg = config["kaplan_meier"]
    read = lambda name: pd.read_csv(tables[name], keep_default_na=False,  # noqa: E731
                                    na_values=[""])
    fig = figures.cumulative_incidence_figure(
        read("curves"), read("naive"), read("risk_table"), read("gray"),
        config["analysis_time_unit"],
        f"{float(km_cfg['conf_level']):.0%} CI, {km_cfg['conf_type']}", style=figure_style(config))
    figures.save(fig, outputs, dpi(config))


def run_flow_figure(config: dict, flow_csv: str, outputs: list[str]) -> None:
    """Patient-flow diagram from the flow table."""
    flow = pd.read_csv(flow_csv, keep_default_na=False, na_values=[""])
    labels = {ep: spec["label"] for ep, spec in config["endpoints"].items()}
    labels["competing_risks"] = "Competing risks"
    fig = figures.flow_figure(flow, labels, config["cox"]["primary_model"],
                              style=figure_style(config))
    figures.save(fig, outputs, dpi(config))


def run_forest_figure(config: dict, endpoint: str, coefficients: str, outputs: list[str]) -> None:
    """Forest plot of the primary multivariable model's hazard ratios."""
    coefs = pd.read_csv(coefficients, keep_default_na=False, na_values=[""])
    coefs["level"] = coefs["level"].fillna("")
    model = config["cox"]["primary_model"]
    sub = coefs[coefs["model"] == model]
    title = (f"{config['endpoints'][endpoint]['label']}: "
             f"{config['cox']['models'][model].get('label', model)}")
    figures.save(figures.forest_figure(sub, title, style=figure_style(config)), outputs,
                 dpi(config))




def run_schoenfeld_figure(config: dict, endpoint: str, residuals: str, ph_test: str,
                          coefficients: str, outputs: list[str]) -> None:
    """Schoenfeld residual plots of the primary model, one panel per term."""
    model = config["cox"]["primary_model"]
    res = pd.read_csv(residuals, keep_default_na=False, na_values=[""])
    ph = pd.read_csv(ph_test, keep_default_na=False, na_values=[""])
    coefs = pd.read_csv(coefficients, keep_default_na=False, na_values=[""])
    coefs = coefs[coefs["model"] == model]
    single = coefs.groupby("term")["coef"].agg(["size", "first"])
    flat = {term: row["first"] for term, row in single.iterrows() if row["size"] == 1}
    title = (f"{config['endpoints'][endpoint]['label']}: "
             f"{config['cox']['models'][model].get('label', model)}")
    fig = figures.schoenfeld_figure(res, ph[ph["model"] == model], flat, title,
                                    time_unit(config, endpoint), style=figure_style(config))
    figures.save(fig, outputs, dpi(config))
