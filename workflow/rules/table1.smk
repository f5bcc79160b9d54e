# Baseline characteristics (Table 1) by NETPET group.


rule table1:
    input:
        analysis=rules.prepare_cohort.output.analysis,
    output:
        table1=report(
            out("results/table1/table1.csv"),
            caption="../report/table1.rst",
            category="1. Cohort",
            labels={"table": "Table 1"},
        ),
        table1_md=out("results/table1/table1.md"),
    log:
        out("logs/table1.log"),
    benchmark:
        out("logs/benchmarks/table1.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600, per_input_mb=90),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "table1", "privacy"),
    script:
        "../scripts/table1.py"
