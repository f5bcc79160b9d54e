# Cox proportional-hazards models: univariable and multivariable, PH tests.


rule cox:
    input:
        analysis=rules.prepare_cohort.output.analysis,
    output:
        coefficients=report(
            out("results/{endpoint}/cox_coefficients.csv"),
            caption="../report/cox_coefficients.rst",
            category="4. Cox models",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "hazard ratios"},
        ),
        coefficients_md=out("results/{endpoint}/cox_coefficients.md"),
        tests=report(
            out("results/{endpoint}/cox_tests.csv"),
            caption="../report/cox_tests.rst",
            category="4. Cox models",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "model tests"},
        ),
        tests_md=out("results/{endpoint}/cox_tests.md"),
        ph_test=report(
            out("results/{endpoint}/ph_test.csv"),
            caption="../report/ph_test.rst",
            category="4. Cox models",
            subcategory="{endpoint}",
            labels={"endpoint": "{endpoint}", "table": "proportional hazards"},
        ),
        ph_test_md=out("results/{endpoint}/ph_test.md"),
        ph_residuals=report(
            out("results/{endpoint}/ph_residuals.csv"),
            caption="../report/ph_residuals.rst",
            category="4. Cox models",
            subcategory="{endpoint}",
            labels={
                "endpoint": "{endpoint}",
                "table": "Schoenfeld residuals (smoothed)",
            },
        ),
        ph_residuals_md=out("results/{endpoint}/ph_residuals.md"),
        # Every model fitted once, for concordance and freezing (per patient: not results/).
        fits=out("intermediate/{endpoint}/cox_fits.pkl"),
    log:
        out("logs/cox_{endpoint}.log"),
    benchmark:
        out("logs/benchmarks/cox_{endpoint}.tsv")
    # Scheduled before the other analyses of the cohort: concordance, the forest and
    # Schoenfeld figures and the validation wait for its fits.
    priority: 1
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(600, per_input_mb=110),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings(*LABELS, "cox", "privacy", "figures.schoenfeld_points"),
    script:
        "../scripts/cox.py"
