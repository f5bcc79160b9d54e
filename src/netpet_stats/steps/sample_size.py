"""Rules sample_size_cell and sample_size: simulated precision of an external validation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..report import figures
from ..report.tables import write_table
from ..validation import frozen_model, sample_size
from ._common import dpi, figure_style


def _sample_size_scenario(config: dict, model_path: str):
    scfg = config["sample_size"]
    model = frozen_model.load(model_path)
    return model, sample_size.scenario_from_model(model, scfg["horizon"], scfg["lp_sd"])




def run_cell(config: dict, model_path: str, n: int, fraction: float,
                         out_csv: str) -> None:
    """Simulated validation cohorts of one grid cell (one Snakemake job per cell).

    Writes one row per simulated cohort (simulated data only, no patient).
    """
    scfg = config["sample_size"]
    _, scenario = _sample_size_scenario(config, model_path)
    frame = sample_size.simulate_cell(scenario, int(n), float(fraction), int(scfg["n_sim"]),
                                      int(scfg["seed"]), float(scfg["conf_level"]),
                                      progress=True)
    Path(out_csv).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out_csv, index=False, float_format="%.10g", lineterminator="\n")




def run_gather(config: dict, model_path: str, cell_csvs: list[str], out) -> None:
    """Gather the grid cells: precision table, minimum sizes and the figure."""
    scfg = config["sample_size"]
    model, scenario = _sample_size_scenario(config, model_path)
    cells = pd.concat([pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in cell_csvs],
                      ignore_index=True)
    summary = sample_size.summarise(cells, scfg["targets"])
    unit = model.get("time_unit", "months")
    assumptions = (f"Model '{model.get('name')}' ({model.get('endpoint')}); linear predictor "
                   f"Normal({scenario.lp_mean:.4g}, {scenario.lp_sd:.4g}); follow-up "
                   f"{scenario.follow_up:g} {unit}; horizon {scenario.horizon:g} {unit}; "
                   f"{int(scfg['n_sim'])} cohorts per cell, seed {int(scfg['seed'])} (numpy "
                   "PCG64, one stream per cell). Slope here is the Cox calibration slope on the "
                   "linear predictor, not Riley et al.'s pseudo-observation slope.")
    label = config["endpoints"].get(model.get("endpoint"), {}).get("label", model.get("endpoint"))
    write_table(summary, out.precision,
                f"{label}: precision of an external validation by its size (simulation)",
                f"{sample_size.METHOD}. {assumptions}")
    write_table(sample_size.minimum_sizes(summary), out.minimum,
                f"{label}: minimum external validation size within the grid",
                f"{sample_size.METHOD}. {assumptions} 'all': every target at once; "
                "collins_*: whether the mean number of events at that size reaches 100 / 200.")
    figures.save(figures.sample_size_figure(summary, label, style=figure_style(config)), out.figures,
                 dpi(config))
