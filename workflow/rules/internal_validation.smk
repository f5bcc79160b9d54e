# Internal validation of the model that develop mode freezes: Harrell's bootstrap
# optimism correction, and internal-external cross-validation by centre.

if VALIDATION_MODE == "develop":

    rule optimism_bootstrap:
        input:
            analysis=rules.prepare_cohort.output.analysis,
        output:
            optimism=report(
                out("results/validation/optimism.csv"),
                caption="../report/internal_validation.rst",
                category="7. Internal validation",
                labels={"table": "bootstrap optimism"},
            ),
            optimism_md=out("results/validation/optimism.md"),
        log:
            out("logs/optimism_bootstrap.log"),
        benchmark:
            out("logs/benchmarks/optimism_bootstrap.tsv")
        # first among jobs ready together: the long jobs and the chain to them
        priority: 1
        conda:
            "../envs/netpet.yaml"
        # resamples refitted in parallel (Snakemake lowers this to --cores; one
        # thread on a small cohort: common.smk); the table is the same for any
        # number of threads
        threads: cohort_threads(4)
        resources:
            mem_mb=job_mem_mb(900, per_worker=0.8),
            runtime=job_runtime(20),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "cox", "validation"),
        script:
            "../scripts/optimism_bootstrap.py"

    rule internal_external_cv:
        input:
            analysis=rules.prepare_cohort.output.analysis,
        output:
            iecv=report(
                out("results/validation/iecv.csv"),
                caption="../report/internal_validation.rst",
                category="7. Internal validation",
                labels={"table": "internal-external cross-validation"},
            ),
            iecv_md=out("results/validation/iecv.md"),
            figures=report(
                expand(
                    out("results/figures/validation_iecv.{fmt}"), fmt=FIGURE_FORMATS
                ),
                caption="../report/internal_validation.rst",
                category="7. Internal validation",
                labels={"figure": "internal-external cross-validation"},
            ),
        log:
            out("logs/internal_external_cv.log"),
        benchmark:
            out("logs/benchmarks/internal_external_cv.tsv")
        # first among jobs ready together: the long jobs and the chain to them
        priority: 1
        conda:
            "../envs/netpet.yaml"
        # one refit per centre, in parallel (one thread on a small cohort:
        # common.smk); the table is the same for any threads. Each worker holds as
        # much as the job (a refit on all but one centre): 3.2 GB on 2 threads at 10^6
        threads: cohort_threads(4)
        resources:
            mem_mb=job_mem_mb(900, per_worker=1.0),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "cox", "validation", "figures"),
        script:
            "../scripts/internal_external_cv.py"
