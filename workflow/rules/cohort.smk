# Cohort: read, validate, score and group; exclusions ledger and patient flow.


rule prepare_cohort:
    input:
        unpack(cohort_inputs),
    output:
        # Per-patient analysis frame: kept out of results/ (identifiable).
        analysis=ANALYSIS,
        exclusions=report(
            out("results/cohort/exclusions.csv"),
            caption="../report/exclusions.rst",
            category="1. Cohort",
            labels={"table": "exclusions ledger"},
        ),
        exclusions_md=out("results/cohort/exclusions.md"),
        flow=report(
            out("results/cohort/flow.csv"),
            caption="../report/flow.rst",
            category="1. Cohort",
            labels={"table": "patient flow"},
        ),
        flow_md=out("results/cohort/flow.md"),
        distribution=report(
            out("results/cohort/netpet_distribution.csv"),
            caption="../report/distribution.rst",
            category="1. Cohort",
            labels={"table": "NETPET distribution"},
        ),
        distribution_md=out("results/cohort/netpet_distribution.md"),
        warnings=report(
            out("results/cohort/warnings.csv"),
            caption="../report/warnings.rst",
            category="1. Cohort",
            labels={"table": "data warnings"},
        ),
        warnings_md=out("results/cohort/warnings.md"),
    log:
        out("logs/prepare_cohort.log"),
    benchmark:
        out("logs/benchmarks/prepare_cohort.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(800),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(
            "cohort",
            *LABELS,
            "netpet",
            "cox.univariable",
            "cox.models",
            "concordance",
            "table1",
            "association",
            "competing_risks",
            "kaplan_meier.landmarks",
            "kaplan_meier.risk_table_times",
            "validation.mode",
            "validation.endpoint",
            "federation.role",
            "validation.horizons",
            "privacy",
            "figures.group_labels",
            # (cohort/prepare.py passes a copy of the whole configuration on)
            "seed",
        ),
    script:
        "../scripts/prepare_cohort.py"
