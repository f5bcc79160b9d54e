# Cohort: read, validate, score and group; exclusions ledger and patient flow.


rule prepare_cohort:
    input:
        unpack(cohort_inputs),
    output:
        # Per-patient analysis frame: kept out of results/ (identifiable).
        analysis=ANALYSIS,
        exclusions=report(
            "results/cohort/exclusions.csv",
            caption="../report/exclusions.rst",
            category="1. Cohort",
            labels={"table": "exclusions ledger"},
        ),
        exclusions_md="results/cohort/exclusions.md",
        flow=report(
            "results/cohort/flow.csv",
            caption="../report/flow.rst",
            category="1. Cohort",
            labels={"table": "patient flow"},
        ),
        flow_md="results/cohort/flow.md",
        distribution=report(
            "results/cohort/netpet_distribution.csv",
            caption="../report/distribution.rst",
            category="1. Cohort",
            labels={"table": "NETPET distribution"},
        ),
        distribution_md="results/cohort/netpet_distribution.md",
        warnings=report(
            "results/cohort/warnings.csv",
            caption="../report/warnings.rst",
            category="1. Cohort",
            labels={"table": "data warnings"},
        ),
        warnings_md="results/cohort/warnings.md",
    log:
        "logs/prepare_cohort.log",
    benchmark:
        "logs/benchmarks/prepare_cohort.tsv"
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(800),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=CONFIG_DIGEST,
    script:
        "../scripts/prepare_cohort.py"
