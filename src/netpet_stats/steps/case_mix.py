"""Rule case_mix: the cohort's case mix as the frozen model sees it (TRIPOD+AI 20c).

Develop mode: the development cohort and each of its centres. Validate mode: the
development cohort (from the aggregates stored in the frozen model), the
validation cohort and each of its centres. Centres too small to summarise
without describing individual patients are left out, and the table says so.
"""

from __future__ import annotations

import pandas as pd

from ..cohort.ledger import analysis_set
from ..report import figures
from ..report.tables import write_table
from ..validation import case_mix, frozen_model
from ._common import dpi, endpoint_label, figure_style, load_analysis

#: Fewest patients a centre needs for its own centiles.
MIN_CENTRE_PATIENTS = 10


def run_case_mix(config: dict, analysis: str, model_path: str, out) -> None:
    """Centiles and proportions of the linear predictor and predictors, by cohort and centre."""
    data = load_analysis(analysis, config)
    model = frozen_model.load(model_path)
    endpoint = model["endpoint"]
    covs = list(model["covariates"])
    d = analysis_set(data, endpoint, covs).reset_index(drop=True)
    X = frozen_model.design(model, d)
    lp = frozen_model.linear_predictor(model, d, X).to_numpy()
    mode = config["validation"]["mode"]
    this = "development" if mode == "develop" else "validation"
    summaries = {}
    if mode == "validate":
        summaries["development"] = model["development"]
    summaries[this] = case_mix.summarise(X, lp, model["covariates"])
    minimum = max(MIN_CENTRE_PATIENTS, int(config["privacy"]["threshold"]))
    left_out = []
    if "centre" in d.columns and d["centre"].nunique() > 1:
        for centre, rows in d.groupby("centre", sort=True).groups.items():
            if len(rows) < minimum:
                left_out.append(str(centre))
                continue
            summaries[f"{this}, centre {centre}"] = case_mix.summarise(
                X.loc[rows], lp[rows], model["covariates"])
    labels = {name: spec.get("label", name) for name, spec in model["covariates"].items()}
    table = case_mix.case_mix_table(summaries, labels)
    label = endpoint_label(config, endpoint)
    model_label = model.get("provenance", {}).get("model_spec", {}).get("label") or model["name"]
    note = (f"{case_mix.METHOD}. Model: {model_label}."
            + (" The development rows are the aggregates stored in the frozen model."
               if mode == "validate" else "")
            + (f" Not summarised alone (fewer than {minimum} patients): "
               f"{', '.join(left_out)}." if left_out else "")
            + (" The frozen model stores no predictor summaries (frozen by an earlier "
               "version): development rows give the linear predictor only."
               if mode == "validate" and "predictors" not in model["development"] else ""))
    write_table(table, out.table, f"{label}: case mix of the {this} cohort "
                "(linear predictor and predictors)", note)
    fig = figures.case_mix_figure(table, f"{label}: case mix, {model_label}",
                                  style=figure_style(config))
    figures.save(fig, out.figures, dpi(config))
