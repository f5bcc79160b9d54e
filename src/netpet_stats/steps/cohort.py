"""Rule prepare_cohort: read, validate, score and group; exclusions, flow, warnings."""

from __future__ import annotations

import logging
import sys

from pathlib import Path

import pandas as pd

from ..cohort.distinct import broadcast, cell_array, distinct_cells
from ..cohort.ledger import patient_flow
from ..cohort.prepare import PreparedCohort, check_analysable, prepare_cohort
from ..cohort.read import cohort_sources
from ..netpet.scoring import SCORES, assign_groups, resolve_grouping
from ..provenance import display_names, display_path
from ..report.tables import suppress_counts, write_table
from ._common import privacy
from ._runner import writing


def save_analysis(data: pd.DataFrame, path: str | Path) -> None:
    """Keep the per-patient analysis frame (intermediate/, never results/) for the steps.

    :func:`netpet_stats.steps._common.load_analysis` reads it back with the NETPET
    group ordered as configured; a generic cohort without that column is kept as is.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    data = data.copy()
    if "netpet_group" in data.columns:
        group = data["netpet_group"]
        data["netpet_group"] = group.astype(str).where(group.notna())
    data.to_parquet(path, index=False)


def published_files(table: pd.DataFrame, config: dict) -> pd.DataFrame:
    """``table`` with its ``file`` column naming the input files by their display names.

    The analysis frame keeps each row's file as the configuration gives it (to read
    it back in messages); what goes to results/ names it relative to the working
    folder, or by its name alone when it lies outside (never a path of this machine,
    such as /home/<login>/...), as the manifest and the report do.
    """
    ccfg = config["cohort"]
    inputs = [path for path, _ in cohort_sources(ccfg)]
    if ccfg.get("lesions"):
        inputs.append(ccfg["lesions"])
    names = display_names(inputs)

    def shown(value):
        if not isinstance(value, str):
            return value
        return names.get(value, display_path(value) if Path(value).is_absolute() else value)

    if "file" not in table:
        return table
    # each distinct file once (a registry's ledger names one file on 10^6 rows)
    key, files = distinct_cells(cell_array(table["file"]))
    return table.assign(file=broadcast([shown(f) for f in files], key))


def run(config: dict, analysis_path: str | Path, exclusions_path: str | Path,
               flow_path: str | Path, distribution_path: str | Path,
               warnings_path: str | Path) -> PreparedCohort:
    """Validate the cohort; write the analysis frame, the ledger, the flow and warnings."""
    prepared = prepare_cohort(config)
    check_analysable(prepared, config)
    for line in general_warnings(prepared.warnings):
        # whole-cohort and whole-file warnings (a time unit that looks wrong, the sheet
        # read) reach the console too
        logging.warning(line)
        print(f"Warning: {line}", file=sys.stderr)
    with writing(warnings_path):
        write_table(published_files(prepared.warnings, config), warnings_path, "Data warnings",
                    "Values kept as recorded but worth checking (they do not exclude anyone).")
    with writing(analysis_path):
        save_analysis(prepared.data, analysis_path)
    with writing(exclusions_path):
        write_table(published_files(prepared.exclusions, config), exclusions_path, "Exclusions ledger",
                    "One line per input row and analysis it does not enter; `file` and `row` "
                    "give the input file and its spreadsheet row (header = row 1). Analyses: "
                    "`all` (no NETPET group), `<endpoint>` (time or event missing), "
                    "`<endpoint>:<model>` (a covariate of that Cox model or univariable "
                    "analysis is missing; complete-case analysis).")
    with writing(flow_path):
        write_table(patient_flow(prepared.data, prepared.exclusions, config), flow_path,
                    "Patient flow",
                    "Every input row is counted once per line: analysed + excluded = received.")
    dist = (prepared.data["netpet"].astype(object).where(prepared.data["netpet"].notna(), "(missing)")
            .value_counts()
            .reindex([*SCORES, "P4", "(missing)"], fill_value=0))
    dist = dist[(dist > 0) | dist.index.isin(SCORES)].rename_axis("netpet").reset_index(name="n")
    # each score's group by the grouping itself, so that a score without patients is
    # shown in its group, not as excluded
    grouping = resolve_grouping(config["netpet"]["grouping"])
    scores = dist["netpet"].where(dist["netpet"] != "(missing)")
    group_of = assign_groups(scores, grouping).astype(object)
    dist["analysis_group"] = group_of.where(group_of.notna(), "(not analysed)")
    suppress, threshold = privacy(config)
    if suppress:
        dist = suppress_counts(dist, "n", threshold)
    with writing(distribution_path):
        write_table(dist, distribution_path, "NETPET score distribution",
                    f"Counts below {threshold} hidden, and as many others as needed so that "
                    "none can be recovered from the total (secondary suppression)."
                    if suppress else None)
    return prepared


def general_warnings(warnings: pd.DataFrame) -> list[str]:
    """Warnings about the whole cohort or a whole file, as printed on the console."""
    rows = warnings[warnings["row"].isna()]
    return [w if f == "(whole cohort)" else f"{f}: {w}" for f, w in zip(rows["file"],
                                                                       rows["warning"])]


