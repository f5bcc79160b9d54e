# Survival by NETPET group, per endpoint: Kaplan-Meier estimates and the log-rank
# tests that compare them (overall, stratified by centre, trend, pairwise with Holm).
# One job for the two: they read the same analysis set, and on a small cohort a job's
# interpreter and imports cost more than its estimates.


rule survival_by_group:
    input:
        analysis=rules.prepare_cohort.output.analysis,
    output:
        curves=out("results/{endpoint}/km_curves.csv"),
        curves_md=out("results/{endpoint}/km_curves.md"),
        summary=report(
            out("results/{endpoint}/km_summary.csv"),
            caption="../report/km_summary.rst",
            category="2. Kaplan-Meier",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "medians"},
        ),
        summary_md=out("results/{endpoint}/km_summary.md"),
        landmarks=report(
            out("results/{endpoint}/km_landmarks.csv"),
            caption="../report/km_landmarks.rst",
            category="2. Kaplan-Meier",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "landmark survival"},
        ),
        landmarks_md=out("results/{endpoint}/km_landmarks.md"),
        risk_table=out("results/{endpoint}/km_risk_table.csv"),
        risk_table_md=out("results/{endpoint}/km_risk_table.md"),
        follow_up=report(
            out("results/{endpoint}/follow_up.csv"),
            caption="../report/follow_up.rst",
            category="2. Kaplan-Meier",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "median follow-up"},
        ),
        follow_up_md=out("results/{endpoint}/follow_up.md"),
        tests=report(
            out("results/{endpoint}/logrank.csv"),
            caption="../report/logrank.rst",
            category="3. Log-rank tests",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "log-rank tests"},
        ),
        tests_md=out("results/{endpoint}/logrank.md"),
        observed_expected=out("results/{endpoint}/logrank_observed_expected.csv"),
        observed_expected_md=out("results/{endpoint}/logrank_observed_expected.md"),
    log:
        out("logs/survival_by_group_{endpoint}.log"),
    benchmark:
        out("logs/benchmarks/survival_by_group_{endpoint}.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "kaplan_meier", "logrank", "competing_risks"),
    script:
        "../scripts/survival_by_group.py"
