# Harrell's and Uno's concordance for predictors and models; paired comparisons.


rule concordance:
    input:
        analysis=rules.prepare_cohort.output.analysis,
        fits=rules.cox.output.fits,
    output:
        concordance=report(
            "results/{endpoint}/concordance.csv",
            caption="../report/concordance.rst",
            category="5. Discrimination",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "Harrell's C"},
        ),
        concordance_md="results/{endpoint}/concordance.md",
        comparison=report(
            "results/{endpoint}/concordance_comparison.csv",
            caption="../report/concordance_comparison.rst",
            category="5. Discrimination",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "C comparison"},
        ),
        comparison_md="results/{endpoint}/concordance_comparison.md",
    log:
        "logs/concordance_{endpoint}.log",
    benchmark:
        "logs/benchmarks/concordance_{endpoint}.tsv"
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600, per_input_mb=3),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=CONFIG_DIGEST,
    script:
        "../scripts/concordance.py"
