# Figures drawn from the result tables: KM curves and forest plots.


rule km_figure:
    input:
        curves="results/{endpoint}/km_curves.csv",
        risk_table="results/{endpoint}/km_risk_table.csv",
        summary="results/{endpoint}/km_summary.csv",
        logrank="results/{endpoint}/logrank.csv",
    output:
        report(
            expand("results/figures/km_{{endpoint}}.{fmt}", fmt=FIGURE_FORMATS),
            caption="../report/km_figure.rst",
            category="2. Kaplan-Meier",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "figure": "Kaplan-Meier"},
        ),
    params:
        step="km_figure",
        version=PACKAGE_VERSION,
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    log:
        "logs/km_figure_{endpoint}.log",
    conda:
        "../envs/netpet.yaml"
    script:
        "../scripts/run_step.py"


rule forest_figure:
    input:
        coefficients="results/{endpoint}/cox_coefficients.csv",
    output:
        report(
            expand("results/figures/forest_{{endpoint}}.{fmt}", fmt=FIGURE_FORMATS),
            caption="../report/forest_figure.rst",
            category="4. Cox models",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "figure": "forest plot"},
        ),
    params:
        step="forest_figure",
        version=PACKAGE_VERSION,
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    log:
        "logs/forest_figure_{endpoint}.log",
    conda:
        "../envs/netpet.yaml"
    script:
        "../scripts/run_step.py"


rule flow_figure:
    input:
        flow="results/cohort/flow.csv",
    output:
        report(
            expand("results/figures/patient_flow.{fmt}", fmt=FIGURE_FORMATS),
            caption="../report/flow_figure.rst",
            category="1. Cohort",
            labels={"figure": "patient flow"},
        ),
    params:
        step="flow_figure",
        version=PACKAGE_VERSION,
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    log:
        "logs/flow_figure.log",
    conda:
        "../envs/netpet.yaml"
    script:
        "../scripts/run_step.py"
