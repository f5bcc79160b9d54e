# Shared configuration checks and output lists (no rules here).

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

import netpet_stats
from netpet_stats.cohort import cohort_sources, validation_config_problems


validate(config, schema="../schemas/config.schema.yaml")
if validation_config_problems(config):
    raise WorkflowError(
        "Configuration problems:\n  " + "\n  ".join(validation_config_problems(config))
    )

ENDPOINTS = list(config["endpoints"])
FIGURE_FORMATS = config["figures"]["formats"]
ANALYSIS = "intermediate/analysis_cohort.parquet"
# A params entry of every rule: upgrading the package reruns the analysis.
PACKAGE_VERSION = netpet_stats.__version__

wildcard_constraints:
    endpoint="|".join(ENDPOINTS),


def cohort_inputs(wildcards):
    inputs = {"tables": [path for path, _ in cohort_sources(config["cohort"])]}
    if config["cohort"].get("lesions"):
        inputs["lesions"] = config["cohort"]["lesions"]
    return inputs


def cohort_input_files():
    inputs = cohort_inputs(None)
    return inputs["tables"] + ([inputs["lesions"]] if "lesions" in inputs else [])


def report_tables():
    """Every CSV table the report reads (so the report reruns when any changes)."""
    tables = [
        "results/cohort/exclusions.csv",
        "results/cohort/flow.csv",
        "results/cohort/netpet_distribution.csv",
        "results/cohort/warnings.csv",
        "results/table1/table1.csv",
        "results/association/netpet_by_grade_counts.csv",
        "results/association/netpet_by_grade_tests.csv",
    ]
    for ep in ENDPOINTS:
        tables += [
            f"results/{ep}/{name}.csv"
            for name in (
                "km_curves", "km_summary", "km_landmarks", "km_risk_table", "follow_up",
                "logrank", "logrank_observed_expected", "cox_coefficients", "cox_tests",
                "ph_test", "concordance", "concordance_comparison",
            )
        ]
    return tables


def manifest_outputs():
    """Every file the workflow writes to results/ before the manifest."""
    outputs = report_tables()
    outputs += [t[:-4] + ".md" for t in outputs]
    for ep in ENDPOINTS:
        outputs += figure_paths(f"km_{ep}") + figure_paths(f"forest_{ep}")
    outputs += figure_paths("patient_flow") + validation_outputs()
    return outputs + ["results/report.html", "results/report.pdf"]


VALIDATION_MODE = config.get("validation", {}).get("mode", "none")
ADDED_VALUE = config.get("validation", {}).get("added_value")


def added_value_files():
    """Frozen base and extended models of the added-value (ΔC) comparison, if any."""
    if not ADDED_VALUE:
        return {}
    return {role: ADDED_VALUE[f"{role}_file"] for role in ("base", "extended")}


def validation_outputs():
    """Files of the validation steps in force (develop or validate)."""
    if VALIDATION_MODE == "develop":
        return (
            ["results/model/frozen_model.yaml"]
            + list(added_value_files().values())
            + [
                "results/validation/optimism.csv",
                "results/validation/optimism.md",
                "results/validation/iecv.csv",
                "results/validation/iecv.md",
            ]
            + figure_paths("validation_iecv")
        )
    if VALIDATION_MODE == "validate":
        tables = [
            "discrimination",
            "added_value",
            "calibration",
            "risk_groups",
            "risk_group_curves",
            "centres",
        ]
        return (
            [f"results/validation/{t}.{ext}" for t in tables for ext in ("csv", "md")]
            + figure_paths("calibration")
            + figure_paths("validation_centres")
            + figure_paths("validation_risk_group_curves")
        )
    return []


def figure_paths(name):
    return [f"results/figures/{name}.{fmt}" for fmt in FIGURE_FORMATS]


def all_outputs():
    targets = [
        "results/report.html",
        "results/report.pdf",
        "results/manifest.json",
        "results/cohort/exclusions.csv",
        "results/cohort/flow.csv",
        "results/cohort/netpet_distribution.csv",
        "results/association/netpet_by_grade_tests.csv",
        "results/table1/table1.csv",
    ]
    for ep in ENDPOINTS:
        targets += [
            f"results/{ep}/km_summary.csv",
            f"results/{ep}/logrank.csv",
            f"results/{ep}/cox_coefficients.csv",
            f"results/{ep}/concordance.csv",
        ]
        targets += figure_paths(f"km_{ep}") + figure_paths(f"forest_{ep}")
    return targets + figure_paths("patient_flow") + validation_outputs()
