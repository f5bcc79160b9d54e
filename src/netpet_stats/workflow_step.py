"""Entry point of the Snakemake scripts: run one pipeline step for a rule.

Kept in the package so the rule files and ``workflow/scripts/run_step.py`` stay
thin. Input problems end as one readable report on stderr and in the rule's
log, with exit status 1 and no traceback.
"""

from __future__ import annotations

import logging
import sys
import warnings

from . import pipeline
from pathlib import Path

from .cohort import CohortValidationError, format_problems
from .frozen_model import ModelMismatchError

VALIDATION_REPORT = "logs/validation_report.txt"


def write_validation_report(exc: CohortValidationError, path: str = VALIDATION_REPORT) -> str:
    """Every problem, grouped by the rule broken, to a file kept out of results/."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(format_problems(exc.problems) + "\n", encoding="utf-8")
    return path


def _step(smk) -> None:
    step, cfg = smk.params.step, smk.config
    inp, out = smk.input, smk.output
    if step == "cohort":
        pipeline.run_cohort(cfg, out.analysis, out.exclusions, out.flow, out.distribution,
                            out.warnings)
        return
    if step == "km_figure":
        pipeline.run_km_figure(cfg, smk.wildcards.endpoint, dict(inp.items()), list(out))
        return
    if step == "report":
        from .report import write_report

        write_report(cfg, "results", out.html, out.pdf)
        return
    if step == "manifest":
        from .manifest import write_manifest

        write_manifest(cfg, list(inp.data), list(inp.results), smk.params.workflow_dir,
                       out.manifest, out.run_record)
        return
    if step == "freeze_model":
        data = pipeline.load_analysis(inp.analysis, cfg)
        pipeline.run_freeze_model(cfg, data, out.model, list(inp.data))
        added = cfg["validation"].get("added_value")
        if added:
            for role in ("base", "extended"):
                pipeline.run_freeze_model(cfg, data, getattr(out, role), list(inp.data),
                                          name=added[role])
        return
    if step == "external_validation":
        data = pipeline.load_analysis(inp.analysis, cfg)
        tables = {k: v for k, v in out.items() if str(v).endswith(".csv")}
        tables["centre_figures"] = list(out.centre_figures)
        tables["group_curve_figures"] = list(out.group_curve_figures)
        pipeline.run_external_validation(cfg, data, inp.model, tables, list(out.figures))
        return
    if step == "optimism":
        data = pipeline.load_analysis(inp.analysis, cfg)
        pipeline.run_optimism(cfg, data, {"optimism": out.optimism})
        return
    if step == "iecv":
        data = pipeline.load_analysis(inp.analysis, cfg)
        pipeline.run_iecv(cfg, data, {"iecv": out.iecv}, list(out.figures))
        return
    if step == "sample_size_cell":
        pipeline.run_sample_size_cell(cfg, inp.model, int(smk.wildcards.n),
                                      float(smk.wildcards.fraction), out.cells)
        return
    if step == "sample_size":
        pipeline.run_sample_size(cfg, inp.model, list(inp.cells),
                                 {"precision": out.precision, "minimum": out.minimum},
                                 list(out.figures))
        return
    if step == "flow_figure":
        pipeline.run_flow_figure(cfg, inp.flow, list(out))
        return
    if step == "forest_figure":
        pipeline.run_forest_figure(cfg, smk.wildcards.endpoint, inp.coefficients, list(out))
        return
    data = pipeline.load_analysis(inp.analysis, cfg)
    csv_out = {k: v for k, v in out.items() if str(v).endswith(".csv")}
    if step in ("association", "table1"):
        getattr(pipeline, f"run_{step}")(cfg, data, csv_out)
    else:
        getattr(pipeline, f"run_{step}")(cfg, data, smk.wildcards.endpoint, csv_out)


def run(smk) -> None:
    """Run ``smk.params.step`` with logging and warnings sent to the rule's log."""
    log_path = smk.log[0] if smk.log else None
    handlers = [logging.FileHandler(log_path, mode="w")] if log_path else []
    logging.basicConfig(level=logging.INFO, handlers=handlers or None, force=True,
                        format="%(levelname)s %(message)s")
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    try:
        _step(smk)
    except ModelMismatchError as exc:
        use = ("for the sample-size simulation" if smk.params.step.startswith("sample_size")
               else "to this cohort")
        message = f"The frozen model cannot be applied {use}: {exc}"
        logging.error(message)
        print(message, file=sys.stderr)
        sys.exit(1)
    except CohortValidationError as exc:
        report_path = write_validation_report(exc)
        summary = format_problems(exc.problems, limit=10)
        logging.error(summary)
        print(f"{summary}\n\nFull report: {report_path}", file=sys.stderr)
        sys.exit(1)
    logging.info("step %s finished", smk.params.step)
