# Association of the NETPET group with WHO grade.


rule association:
    input:
        analysis=rules.prepare_cohort.output.analysis,
    output:
        counts=report(
            out("results/association/netpet_by_grade_counts.csv"),
            caption="../report/association.rst",
            category="6. Association",
            labels={"table": "NETPET x grade counts"},
        ),
        counts_md=out("results/association/netpet_by_grade_counts.md"),
        tests=report(
            out("results/association/netpet_by_grade_tests.csv"),
            caption="../report/association.rst",
            category="6. Association",
            labels={"table": "NETPET x grade tests"},
        ),
        tests_md=out("results/association/netpet_by_grade_tests.md"),
    log:
        out("logs/association.log"),
    benchmark:
        out("logs/benchmarks/association.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "association", "privacy", "seed"),
    script:
        "../scripts/association.py"
