# Kaplan-Meier estimates by NETPET group, per endpoint.


rule kaplan_meier:
    input:
        analysis=rules.prepare_cohort.output.analysis,
    output:
        curves="results/{endpoint}/km_curves.csv",
        curves_md="results/{endpoint}/km_curves.md",
        summary=report(
            "results/{endpoint}/km_summary.csv",
            caption="../report/km_summary.rst",
            category="2. Kaplan-Meier",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "medians"},
        ),
        summary_md="results/{endpoint}/km_summary.md",
        landmarks=report(
            "results/{endpoint}/km_landmarks.csv",
            caption="../report/km_landmarks.rst",
            category="2. Kaplan-Meier",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "landmark survival"},
        ),
        landmarks_md="results/{endpoint}/km_landmarks.md",
        risk_table="results/{endpoint}/km_risk_table.csv",
        risk_table_md="results/{endpoint}/km_risk_table.md",
        follow_up=report(
            "results/{endpoint}/follow_up.csv",
            caption="../report/follow_up.rst",
            category="2. Kaplan-Meier",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "median follow-up"},
        ),
        follow_up_md="results/{endpoint}/follow_up.md",
    log:
        "logs/kaplan_meier_{endpoint}.log",
    benchmark:
        "logs/benchmarks/kaplan_meier_{endpoint}.tsv"
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=CONFIG_DIGEST,
    script:
        "../scripts/kaplan_meier.py"
