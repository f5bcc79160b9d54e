"""Rules sample_size and sample_size_figure: simulated precision of an external validation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..report.tables import write_table
from ..validation import frozen_model, sample_size
from ._common import dpi, figure_style


def _sample_size_scenario(config: dict, model_path: str):
    scfg = config["sample_size"]
    model = frozen_model.load(model_path)
    return model, sample_size.scenario_from_model(model, scfg["horizon"], scfg["lp_sd"])


def run(config: dict, model_path: str, cohorts_csv: str, out, threads: int = 1) -> None:
    """Rule sample_size: simulate every cell of the grid, then the tables (the figure is
    :func:`run_figure`'s).

    Parameters
    ----------
    config
        The analysis configuration (``sample_size``, ``endpoints``).
    model_path
        The frozen model (:mod:`netpet_stats.validation.frozen_model`).
    cohorts_csv
        Written: every simulated cohort of every cell, one row each (simulated
        data only, no patient).
    out
        The rule's outputs: ``precision`` and ``minimum`` (CSV, with their Markdown
        beside them).
    threads
        Processes the cells are simulated on (forked); the cohorts are the same for
        any number, each cell drawing from its own stream.
    """
    scfg = config["sample_size"]
    model, scenario = _sample_size_scenario(config, model_path)
    frame = sample_size.simulate_grid(scenario, scfg["sizes"], scfg["event_fractions"],
                                      int(scfg["n_sim"]), int(scfg["seed"]),
                                      float(scfg["conf_level"]), threads=int(threads),
                                      progress=True)
    Path(cohorts_csv).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(cohorts_csv, index=False, float_format="%.10g", lineterminator="\n")
    # The tables are summarised from the file (10 significant digits), not from the
    # frame in memory: what anyone re-reading the file gets, and what the tables
    # were when each cell was a job of its own and the gather read the cells' files.
    cells = pd.read_csv(cohorts_csv, keep_default_na=False, na_values=[""])
    _gather(config, model, scenario, cells, out)


def _gather(config: dict, model: dict, scenario, cells: pd.DataFrame, out) -> None:
    """The precision table and the minimum sizes of the simulated cohorts."""
    scfg = config["sample_size"]
    summary = sample_size.summarise(cells, scfg["targets"])
    unit = model.get("time_unit", "months")
    assumptions = (f"Model '{model.get('name')}' ({model.get('endpoint')}); linear predictor "
                   f"Normal({scenario.lp_mean:.4g}, {scenario.lp_sd:.4g}); follow-up "
                   f"{scenario.follow_up:g} {unit}; horizon {scenario.horizon:g} {unit}; "
                   f"{int(scfg['n_sim'])} cohorts per cell, seed {int(scfg['seed'])} (numpy "
                   "PCG64, one stream per cell). Slope here is the Cox calibration slope on the "
                   "linear predictor, not Riley et al.'s pseudo-observation slope.")
    label = _endpoint_label(config, model)
    write_table(summary, out.precision,
                f"{label}: precision of an external validation by its size (simulation)",
                f"{sample_size.METHOD}. {assumptions}")
    write_table(sample_size.minimum_sizes(summary), out.minimum,
                f"{label}: minimum external validation size within the grid",
                f"{sample_size.METHOD}. {assumptions} 'all': every target at once; "
                "collins_*: whether the mean number of events at that size reaches 100 / 200.")


def _endpoint_label(config: dict, model: dict) -> str:
    return config["endpoints"].get(model.get("endpoint"), {}).get("label", model.get("endpoint"))


def run_figure(config: dict, model_path: str, precision_csv: str, outputs: list[str]) -> None:
    """Rule sample_size_figure: mean CI width by validation size, from the precision table.

    Drawn apart from the simulation so that a figure setting redraws the figure
    without simulating the grid again.
    """
    from ..report import figures   # matplotlib: only in the jobs that draw
    model = frozen_model.load(model_path)
    summary = pd.read_csv(precision_csv, keep_default_na=False, na_values=[""])
    figures.save(figures.sample_size_figure(summary, _endpoint_label(config, model),
                                            style=figure_style(config)), outputs, dpi(config))
