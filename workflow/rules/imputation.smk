# Multiple imputation (missing_data.method: multiple_imputation): the model covariates
# imputed by chained equations (rule impute), then every Cox model, the concordance and
# (develop or validate mode) the calibration pooled by Rubin's rules beside the
# complete-case tables (rule pool_mi, one job), and the figure of imputed values.


rule impute:
    input:
        analysis=rules.prepare_cohort.output.analysis,
    output:
        # per patient, never in results/
        imputed=out("intermediate/missing_data/imputed.parquet"),
        summary=out("results/missing_data/imputation.csv"),
        summary_md=out("results/missing_data/imputation.md"),
        by_variable=out("results/missing_data/missing_by_variable.csv"),
        by_variable_md=out("results/missing_data/missing_by_variable.md"),
        patterns=out("results/missing_data/missing_patterns.csv"),
        patterns_md=out("results/missing_data/missing_patterns.md"),
    log:
        out("logs/impute.log"),
    benchmark:
        out("logs/benchmarks/impute.tsv")
    conda:
        "../envs/netpet.yaml"
    # one process per imputation at a time; the sets are the same for any threads
    threads: 2
    resources:
        # each forked imputation process counts its pages in its own resident size:
        # 1,714 MiB in all at 10^5 patients on 2 threads (benchmarks/mi_registry.py),
        # above the 1,045 MB one process was declared
        mem_mb=job_mem_mb(800, per_input_mb=110, per_worker=0.7),
        runtime=job_runtime(10),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "missing_data"),
    script:
        "../scripts/impute.py"


rule pool_mi:
    # Every configured model fitted once on each imputed set of each endpoint, and from
    # those fits: the Cox models pooled by Rubin's rules, Harrell's and Uno's C pooled
    # on the logit scale, and (develop) the validation model developed on the imputed
    # sets with its apparent calibration, or (validate) the frozen model's calibration
    # and performance per centre on each imputed set, pooled. One job: each fit is made
    # once, and the process starts once.
    input:
        **pool_mi_inputs(),
    output:
        **pool_mi_outputs(),
    log:
        out("logs/pool_mi.log"),
    benchmark:
        out("logs/benchmarks/pool_mi.tsv")
    conda:
        "../envs/netpet.yaml"
    # the fits in forked processes; the same for any number of threads
    threads: 2
    resources:
        mem_mb=job_mem_mb(800, per_input_mb=110, per_worker=0.5),
        runtime=job_runtime(10),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "concordance", "validation", "missing_data"),
    script:
        "../scripts/pool_mi.py"


rule imputation_figure:
    input:
        **imputation_figure_io()[0],
    output:
        **imputation_figure_io()[1],
    log:
        out("logs/imputation_figure.log"),
    benchmark:
        out("logs/benchmarks/imputation_figure.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(800, per_input_mb=110),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "missing_data", "figures"),
    script:
        "../scripts/imputation_figure.py"
