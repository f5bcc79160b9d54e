# Competing risks: progression, with death before progression as a competing event.


if COMPETING:

    rule competing_risks:
        input:
            analysis=rules.prepare_cohort.output.analysis,
        output:
            states=report(
                out("results/competing_risks/states.csv"),
                caption="../report/competing_states.rst",
                category="4b. Competing risks",
                labels={"table": "states by group"},
            ),
            states_md=out("results/competing_risks/states.md"),
            curves=out("results/competing_risks/cumulative_incidence.csv"),
            curves_md=out("results/competing_risks/cumulative_incidence.md"),
            naive=out("results/competing_risks/progression_naive_km.csv"),
            naive_md=out("results/competing_risks/progression_naive_km.md"),
            horizons=report(
                out("results/competing_risks/horizons.csv"),
                caption="../report/competing_horizons.rst",
                category="4b. Competing risks",
                labels={"table": "cumulative incidence at the horizons"},
            ),
            horizons_md=out("results/competing_risks/horizons.md"),
            risk_table=out("results/competing_risks/risk_table.csv"),
            risk_table_md=out("results/competing_risks/risk_table.md"),
            gray=report(
                out("results/competing_risks/gray_test.csv"),
                caption="../report/competing_gray.rst",
                category="4b. Competing risks",
                labels={"table": "Gray's test"},
            ),
            gray_md=out("results/competing_risks/gray_test.md"),
            models=report(
                out("results/competing_risks/models.csv"),
                caption="../report/competing_models.rst",
                category="4b. Competing risks",
                labels={"table": "cause-specific and Fine-Gray models"},
            ),
            models_md=out("results/competing_risks/models.md"),
        log:
            out("logs/competing_risks.log"),
        benchmark:
            out("logs/benchmarks/competing_risks.tsv")
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(800, per_input_mb=100),
            runtime=job_runtime(5),
        params:
            version=PACKAGE_VERSION,
            settings=settings(
                *LABELS, "competing_risks", "kaplan_meier", "cox", "privacy"
            ),
        script:
            "../scripts/competing_risks.py"

    rule cumulative_incidence_figure:
        input:
            curves=rules.competing_risks.output.curves,
            naive=rules.competing_risks.output.naive,
            risk_table=rules.competing_risks.output.risk_table,
            gray=rules.competing_risks.output.gray,
        output:
            report(
                expand(
                    out("results/figures/cumulative_incidence.{fmt}"),
                    fmt=FIGURE_FORMATS,
                ),
                caption="../report/competing_figure.rst",
                category="4b. Competing risks",
                labels={"figure": "cumulative incidence"},
            ),
        log:
            out("logs/cumulative_incidence_figure.log"),
        benchmark:
            out("logs/benchmarks/cumulative_incidence_figure.tsv")
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(600),
            runtime=job_runtime(5),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "kaplan_meier", "figures"),
        script:
            "../scripts/cumulative_incidence_figure.py"
