# Multiple imputation (missing_data.method: multiple_imputation): the model covariates
# imputed by chained equations, every Cox model pooled by Rubin's rules beside the
# complete-case tables.


rule impute:
    input:
        analysis=rules.prepare_cohort.output.analysis,
    output:
        # per patient, never in results/
        imputed=out("intermediate/missing_data/imputed.parquet"),
        summary=out("results/missing_data/imputation.csv"),
        summary_md=out("results/missing_data/imputation.md"),
    log:
        out("logs/impute.log"),
    benchmark:
        out("logs/benchmarks/impute.tsv")
    conda:
        "../envs/netpet.yaml"
    # one process per imputation at a time; the sets are the same for any threads
    threads: 2
    resources:
        mem_mb=job_mem_mb(800, per_input_mb=110),
        runtime=job_runtime(10),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "missing_data"),
    script:
        "../scripts/impute.py"


rule cox_mi:
    input:
        imputed=rules.impute.output.imputed,
    output:
        coefficients=out("results/{endpoint}/cox_coefficients_mi.csv"),
        coefficients_md=out("results/{endpoint}/cox_coefficients_mi.md"),
        tests=out("results/{endpoint}/cox_tests_mi.csv"),
        tests_md=out("results/{endpoint}/cox_tests_mi.md"),
    log:
        out("logs/cox_mi_{endpoint}.log"),
    benchmark:
        out("logs/benchmarks/cox_mi_{endpoint}.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(800, per_input_mb=110),
        runtime=job_runtime(10),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "missing_data"),
    script:
        "../scripts/cox_mi.py"
