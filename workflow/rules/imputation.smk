# Multiple imputation (missing_data.method: multiple_imputation): the model covariates
# imputed by chained equations, every Cox model, the concordance and (develop or
# validate mode) the calibration pooled by Rubin's rules beside the complete-case tables.


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


rule concordance_mi:
    input:
        imputed=rules.impute.output.imputed,
    output:
        concordance=out("results/{endpoint}/concordance_mi.csv"),
        concordance_md=out("results/{endpoint}/concordance_mi.md"),
    log:
        out("logs/concordance_mi_{endpoint}.log"),
    benchmark:
        out("logs/benchmarks/concordance_mi_{endpoint}.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(800, per_input_mb=110),
        runtime=job_runtime(10),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "concordance", "missing_data"),
    script:
        "../scripts/concordance_mi.py"


if VALIDATION_MODE in ("develop", "validate"):

    rule calibration_mi:
        input:
            imputed=rules.impute.output.imputed,
            # develop: the model developed on the imputed sets (rule freeze_model_mi);
            # validate: the frozen model applied to each imputed set
            model=(
                out("results/model/frozen_model_mi.yaml")
                if VALIDATION_MODE == "develop"
                else FROZEN_MODEL
            ),
        output:
            calibration=out(
                f"results/{config['validation']['endpoint']}/calibration_mi.csv"
            ),
            calibration_md=out(
                f"results/{config['validation']['endpoint']}/calibration_mi.md"
            ),
        log:
            out("logs/calibration_mi.log"),
        benchmark:
            out("logs/benchmarks/calibration_mi.tsv")
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(800, per_input_mb=110),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "cox", "validation", "missing_data"),
        script:
            "../scripts/calibration_mi.py"


if VALIDATION_MODE == "develop":

    rule freeze_model_mi:
        input:
            imputed=rules.impute.output.imputed,
            data=cohort_input_files(),
        output:
            # beside the complete-case frozen_model.yaml, which stays the primary model
            model=out("results/model/frozen_model_mi.yaml"),
        log:
            out("logs/freeze_model_mi.log"),
        benchmark:
            out("logs/benchmarks/freeze_model_mi.tsv")
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(800, per_input_mb=110),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "cox", "validation", "missing_data"),
        script:
            "../scripts/freeze_model_mi.py"


if VALIDATION_MODE == "validate":

    rule external_validation_mi:
        input:
            imputed=rules.impute.output.imputed,
            model=FROZEN_MODEL,
        output:
            centres=out("results/validation/centres_mi.csv"),
            centres_md=out("results/validation/centres_mi.md"),
        log:
            out("logs/external_validation_mi.log"),
        benchmark:
            out("logs/benchmarks/external_validation_mi.tsv")
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(800, per_input_mb=110),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "cox", "validation", "missing_data"),
        script:
            "../scripts/external_validation_mi.py"


rule imputation_figure:
    input:
        analysis=rules.prepare_cohort.output.analysis,
        imputed=rules.impute.output.imputed,
    output:
        expand(out("results/figures/imputed_values.{fmt}"), fmt=FIGURE_FORMATS),
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
