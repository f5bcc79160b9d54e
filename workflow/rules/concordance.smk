# Harrell's concordance for single predictors and the primary model.


rule concordance:
    input:
        analysis=ANALYSIS,
    output:
        concordance=report(
            "results/{endpoint}/concordance.csv",
            caption="../report/concordance.rst",
            category="5. Discrimination",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "Harrell's C"},
        ),
        concordance_md="results/{endpoint}/concordance.md",
    params:
        step="concordance",
        version=PACKAGE_VERSION,
    log:
        "logs/concordance_{endpoint}.log",
    conda:
        "../envs/netpet.yaml"
    script:
        "../scripts/run_step.py"
