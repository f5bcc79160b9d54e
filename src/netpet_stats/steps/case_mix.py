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
    # a published model (coefficients and baseline survival only) stores no development
    # summary, a hand-written one perhaps a part: the table shows what the file gives
    stored = model.get("development") if isinstance(model.get("development"), dict) else {}
    lacks = case_mix.lacking(stored) if mode == "validate" else []
    if mode == "validate" and not case_mix.case_mix_table({"development": stored}).empty:
        summaries["development"] = stored
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
    spec = (model.get("provenance") or {}).get("model_spec") or {}
    model_label = spec.get("label") or model.get("name") or "the frozen model"
    note = (f"{case_mix.METHOD}. Model: {model_label}."
            + (_development_note(lacks, "development" in summaries) if mode == "validate"
               else "")
            + (f" Not summarised alone (fewer than {minimum} patients): "
               f"{', '.join(left_out)}." if left_out else ""))
    write_table(table, out.table, f"{label}: case mix of the {this} cohort "
                "(linear predictor and predictors)", note)
    fig = figures.case_mix_figure(table, f"{label}: case mix, {model_label}",
                                  style=figure_style(config), covariates=model["covariates"])
    figures.save(fig, out.figures, dpi(config))


def _development_note(lacks: list[str], shown: bool) -> str:
    """What the development rows are, and what the model file does not give for them."""
    if not shown:
        return (" No development rows: the model file stores no summary of its development "
                "cohort (as a model written from a paper, with coefficients and baseline "
                "survival only), so the validation cohort cannot be compared with it here; "
                "the validation rows are complete.")
    text = " The development rows are the aggregates stored in the frozen model."
    if lacks:
        text += (" The model file does not give " + ", ".join(lacks[:-1])
                 + (" or " if len(lacks) > 1 else "") + lacks[-1]
                 + ": those development rows are missing (—).")
    return text
