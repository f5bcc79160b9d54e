# Figures drawn from the result tables, in two jobs: the cohort and its survival
# (patient flow, NETPET distribution, Kaplan-Meier curves), and the primary Cox model
# (forest plots, Schoenfeld residuals); the cumulative incidence figure is drawn by
# competing_risks.smk. One job draws several figures because starting a job (Python,
# pandas, matplotlib: about 1 s) cost more than drawing a figure; two, so that a Cox
# setting does not redraw the Kaplan-Meier curves.


rule descriptive_figures:
    input:
        **descriptive_figure_inputs(),
    output:
        **descriptive_figure_outputs(),
    log:
        out("logs/descriptive_figures.log"),
    benchmark:
        out("logs/benchmarks/descriptive_figures.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(
            *LABELS,
            "kaplan_meier",
            "competing_risks",
            "cox.primary_model",
            "privacy",
            "figures",
        ),
    script:
        "../scripts/descriptive_figures.py"


rule cox_figures:
    input:
        **cox_figure_inputs(),
    output:
        **cox_figure_outputs(),
    log:
        out("logs/cox_figures.log"),
    benchmark:
        out("logs/benchmarks/cox_figures.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        # the inputs are mostly the pickled fits, read one endpoint at a time at about
        # their size (at 10^6: 1.7 GB of fits, a peak of 0.8 GB)
        mem_mb=job_mem_mb(600, per_input_mb=1),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "privacy", "figures"),
    script:
        "../scripts/cox_figures.py"
