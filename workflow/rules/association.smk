# Association of the NETPET group with WHO grade.


rule association:
    input:
        analysis=rules.prepare_cohort.output.analysis,
    output:
        counts=report(
            "results/association/netpet_by_grade_counts.csv",
            caption="../report/association.rst",
            category="6. Association",
            labels={"table": "NETPET x grade counts"},
        ),
        counts_md="results/association/netpet_by_grade_counts.md",
        tests=report(
            "results/association/netpet_by_grade_tests.csv",
            caption="../report/association.rst",
            category="6. Association",
            labels={"table": "NETPET x grade tests"},
        ),
        tests_md="results/association/netpet_by_grade_tests.md",
    log:
        "logs/association.log",
    benchmark:
        "logs/benchmarks/association.tsv"
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=CONFIG_DIGEST,
    script:
        "../scripts/association.py"
