# Shared configuration checks and output lists (no rules here).

from snakemake.utils import validate

import netpet_stats


validate(config, schema="../schemas/config.schema.yaml")

ENDPOINTS = list(config["endpoints"])
FIGURE_FORMATS = config["figures"]["formats"]
ANALYSIS = "intermediate/analysis_cohort.parquet"
# A params entry of every rule: upgrading the package reruns the analysis.
PACKAGE_VERSION = netpet_stats.__version__

wildcard_constraints:
    endpoint="|".join(ENDPOINTS),


def cohort_inputs(wildcards):
    inputs = {"table": config["cohort"]["table"]}
    if config["cohort"].get("lesions"):
        inputs["lesions"] = config["cohort"]["lesions"]
    return inputs


def figure_paths(name):
    return [f"results/figures/{name}.{fmt}" for fmt in FIGURE_FORMATS]


def all_outputs():
    targets = [
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
    return targets
