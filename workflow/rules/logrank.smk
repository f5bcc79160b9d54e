# Log-rank tests: overall, stratified by centre, trend, pairwise (Holm).


rule logrank:
    input:
        analysis=rules.prepare_cohort.output.analysis,
    output:
        tests=report(
            "results/{endpoint}/logrank.csv",
            caption="../report/logrank.rst",
            category="3. Log-rank tests",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "log-rank tests"},
        ),
        tests_md="results/{endpoint}/logrank.md",
        observed_expected="results/{endpoint}/logrank_observed_expected.csv",
        observed_expected_md="results/{endpoint}/logrank_observed_expected.md",
    log:
        "logs/logrank_{endpoint}.log",
    benchmark:
        "logs/benchmarks/logrank_{endpoint}.tsv"
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=CONFIG_DIGEST,
    script:
        "../scripts/logrank.py"
