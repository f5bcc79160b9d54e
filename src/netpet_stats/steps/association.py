"""Rules association and table1: NETPET group x grade, and baseline characteristics."""

from __future__ import annotations

from ..report.tables import suppress_counts, suppress_table1, write_table
from ..survival import association, table_one
from ._common import groups_of, label, load_analysis, privacy


def run_association(config: dict, analysis: str, out) -> None:
    """NETPET group x grade: counts, Pearson chi-square and the exact test."""
    data = load_analysis(analysis, config)
    acfg = config["association"]
    d = data[data["netpet_group"].notna()]
    row, col = acfg["row"], acfg["column"]
    row_levels = groups_of(d) if row == "netpet_group" else None
    col_levels = config["covariates"].get(col, {}).get("levels")
    counts, tests = association.association_table(
        d, row, col, row_levels, col_levels, seed=int(config["seed"]))
    suppress, threshold = privacy(config)
    if suppress:
        counts = suppress_counts(counts, "n", threshold, by=[row, col])
    write_table(counts, out["counts"], f"{label(config, row)} x {label(config, col)}",
                f"Counts below {threshold} hidden, and as many others as needed so that none "
                "can be recovered from the row and column totals (secondary suppression)."
                if suppress else None)
    write_table(tests, out["tests"], f"Association of {label(config, row)} with "
                f"{label(config, col)}",
                "Rows with either variable missing are not counted (n_missing).")


TABLE1_LABELS = {"age": "Age (years)", "sex": "Sex", "primary_site": "Primary site",
                 "centre": "Centre", "grade": "WHO grade", "ki67": "Ki-67 (%)",
                 "extrahepatic": "Extrahepatic disease"}






def run_table1(config: dict, analysis: str, out) -> None:
    """Baseline characteristics by NETPET group (analysis population)."""
    data = load_analysis(analysis, config)
    tcfg = config["table1"]
    d = data[data["netpet_group"].notna()]
    labels = {**TABLE1_LABELS, **tcfg["labels"]}
    variables = [v for v in tcfg["variables"] if v in d.columns]
    level_labels = {name: {0: "No", 1: "Yes"} for name, spec in config["covariates"].items()
                    if spec.get("type") == "binary"}
    level_labels["sex"] = {"F": "Female", "M": "Male"}    # the canonical coding of sex
    table = table_one.table_one(d, "netpet_group", variables,
                               [v for v in tcfg["continuous"] if v in variables], labels,
                               level_labels=level_labels)
    suppress, threshold = privacy(config)
    if suppress:
        table = suppress_table1(table, threshold)
        # the label's "(n = ...)" would give away a hidden overall Missing count
        table["variable"] = table["variable"].str.replace(r" \(n = \d+\)", "", regex=True)
    write_table(table, out["table1"], "Table 1: baseline characteristics by NETPET group",
                "Continuous: median [Q1, Q3] of the patients with a value; categorical: n (% "
                "of the patients with a value). A variable with missing values has a Missing "
                "row (count per column) and says in its label on how many patients its summary "
                "rests (n = ...). Patients in an analysis group only."
                + (f" Counts below {threshold} hidden, and as many others as needed so that "
                   "none can be recovered from the margins (secondary suppression)."
                   if suppress else ""))


