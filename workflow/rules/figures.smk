# Figures drawn from the result tables: KM curves and forest plots.


rule km_figure:
    input:
        curves=rules.survival_by_group.output.curves,
        risk_table=rules.survival_by_group.output.risk_table,
        summary=rules.survival_by_group.output.summary,
        logrank=rules.survival_by_group.output.tests,
    output:
        report(
            expand(out("results/figures/km_{{endpoint}}.{fmt}"), fmt=FIGURE_FORMATS),
            caption="../report/km_figure.rst",
            category="2. Kaplan-Meier",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "figure": "Kaplan-Meier"},
        ),
    log:
        out("logs/km_figure_{endpoint}.log"),
    benchmark:
        out("logs/benchmarks/km_figure_{endpoint}.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "kaplan_meier", "competing_risks", "figures"),
    script:
        "../scripts/km_figure.py"


rule forest_figure:
    input:
        coefficients=rules.cox.output.coefficients,
        # the fitted models: the patients and events of each level
        fits=rules.cox.output.fits,
    output:
        report(
            expand(
                out("results/figures/forest_{{endpoint}}.{fmt}"), fmt=FIGURE_FORMATS
            ),
            caption="../report/forest_figure.rst",
            category="4. Cox models",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "figure": "forest plot"},
        ),
    log:
        out("logs/forest_figure_{endpoint}.log"),
    benchmark:
        out("logs/benchmarks/forest_figure_{endpoint}.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "privacy", "figures"),
    script:
        "../scripts/forest_figure.py"


rule flow_figure:
    input:
        flow=rules.prepare_cohort.output.flow,
    output:
        report(
            expand(out("results/figures/patient_flow.{fmt}"), fmt=FIGURE_FORMATS),
            caption="../report/flow_figure.rst",
            category="1. Cohort",
            labels={"figure": "patient flow"},
        ),
    log:
        out("logs/flow_figure.log"),
    benchmark:
        out("logs/benchmarks/flow_figure.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "figures"),
    script:
        "../scripts/flow_figure.py"


rule schoenfeld_figure:
    input:
        residuals=rules.cox.output.ph_residuals,
        ph_test=rules.cox.output.ph_test,
        coefficients=rules.cox.output.coefficients,
    output:
        report(
            expand(
                out("results/figures/schoenfeld_{{endpoint}}.{fmt}"),
                fmt=FIGURE_FORMATS,
            ),
            caption="../report/schoenfeld_figure.rst",
            category="4. Cox models",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "figure": "Schoenfeld residuals"},
        ),
    log:
        out("logs/schoenfeld_figure_{endpoint}.log"),
    benchmark:
        out("logs/benchmarks/schoenfeld_figure_{endpoint}.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "figures"),
    script:
        "../scripts/schoenfeld_figure.py"


rule netpet_distribution_figure:
    input:
        distribution=rules.prepare_cohort.output.distribution,
    output:
        report(
            expand(
                out("results/figures/netpet_distribution.{fmt}"), fmt=FIGURE_FORMATS
            ),
            caption="../report/netpet_distribution_figure.rst",
            category="1. Cohort",
            labels={"figure": "NETPET score distribution"},
        ),
    log:
        out("logs/netpet_distribution_figure.log"),
    benchmark:
        out("logs/benchmarks/netpet_distribution_figure.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "privacy", "figures"),
    script:
        "../scripts/netpet_distribution_figure.py"
