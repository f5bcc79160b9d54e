"""Rule manuscript_tables: Table 1 and the hazard-ratio tables as a paper prints them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..report.document import methods_text
from ..report.manuscript import (WordTable, hazard_ratio_notes, hazard_ratio_table,
                                 methods_markdown, table1_layout, write_docx)
from ..report.tables import write_table
from ._common import endpoint_label, label


def run(config: dict, table1_csv: str, coefficients: dict[str, str], out) -> None:
    """Manuscript tables as CSV and Markdown (one per endpoint), the methods as Markdown,
    and one Word document with the methods and every table.

    ``coefficients`` maps each endpoint to its ``cox_coefficients.csv``; ``out`` has
    ``docx``, ``methods`` and ``hazard_ratios`` (CSV paths in endpoint order).
    """
    table1 = pd.read_csv(table1_csv, keep_default_na=False, dtype=object)
    t1 = table1_layout(table1)
    t1_notes = ["Continuous characteristics: median [Q1, Q3]; categorical: n (%). Missing: "
                "patients without the value (not counted in the percentages)."]
    docs = [WordTable("Baseline characteristics by NETPET group", t1, t1_notes)]
    primary = config["cox"]["primary_model"]
    spec = config["cox"]["models"][primary]
    strata = [label(config, s) for s in spec.get("strata") or []]
    covariates = [label(config, c) for c in spec["covariates"]]
    conf_level = float(config["cox"]["conf_level"])
    for (endpoint, path), csv_out in zip(coefficients.items(), out.hazard_ratios):
        coefs = pd.read_csv(path, keep_default_na=False, na_values=[""])
        table = hazard_ratio_table(coefs, primary, conf_level)
        notes = hazard_ratio_notes(coefs, primary, covariates, strata)
        title = f"Cox proportional-hazards models of {endpoint_label(config, endpoint).lower()}"
        write_table(table, csv_out, title, " ".join(notes))
        docs.append(WordTable(
            title, table, notes,
            spanners=[("Univariable", 1, 4), ("Multivariable", 5, 6)],
            columns=["Characteristic", "n", "Events", table.columns[3].removeprefix(
                "Univariable "), "p", table.columns[5].removeprefix("Multivariable "), "p"]))
    methods = methods_text(config)
    Path(out.methods).parent.mkdir(parents=True, exist_ok=True)
    Path(out.methods).write_text(methods_markdown(methods), encoding="utf-8")
    write_docx(docs, out.docx, methods, paper=config["report"]["paper"])
