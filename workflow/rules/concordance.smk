# Harrell's and Uno's concordance for predictors and models; paired comparisons.


rule concordance:
    input:
        analysis=rules.prepare_cohort.output.analysis,
        fits=rules.cox.output.fits,
    output:
        concordance=report(
            out("results/{endpoint}/concordance.csv"),
            caption="../report/concordance.rst",
            category="5. Discrimination",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "Harrell's C"},
        ),
        concordance_md=out("results/{endpoint}/concordance.md"),
        comparison=report(
            out("results/{endpoint}/concordance_comparison.csv"),
            caption="../report/concordance_comparison.rst",
            category="5. Discrimination",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "C comparison"},
        ),
        comparison_md=out("results/{endpoint}/concordance_comparison.md"),
    log:
        out("logs/concordance_{endpoint}.log"),
    benchmark:
        out("logs/benchmarks/concordance_{endpoint}.tsv")
    # first among jobs ready together: the long jobs and the chain to them
    priority: 1
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600, per_input_mb=3),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "concordance", "validation.added_value"),
    script:
        "../scripts/concordance.py"
