# The reproducible appendix: HTML report and PDF, then the provenance manifest.
# The PDF is typeset by a rule of its own from the print copy the report rule writes,
# so that a page that cannot be typeset costs the PDF alone (Snakemake removes the
# outputs of the failing job only): the tables and the HTML report stay.


rule report:
    input:
        tables=report_tables(),
        validation=validation_outputs(),
        # the model validated (its equation is printed): develop mode freezes it
        # among the validation outputs; validate mode reads it from model_file
        model=[FROZEN_MODEL] if VALIDATION_MODE == "validate" else [],
        sample_size=sample_size_outputs(),
        # missing_data.method multiple_imputation: the pooled tables beside the others
        missing_data=imputation_outputs()
        + [f for f in imputation_figures() if f.endswith((".png", ".svg"))],
        figures=[
            out(f"results/figures/{k}_{ep}.{fmt}")
            for k in FIGURE_KINDS
            for ep in ENDPOINTS
            for fmt in ("png", "svg")
        ]
        + [
            out(f"results/figures/{name}.{fmt}")
            for name in ("patient_flow", "netpet_distribution")
            for fmt in ("png", "svg")
        ]
        + (
            [
                out("results/figures/cumulative_incidence.png"),
                out("results/figures/cumulative_incidence.svg"),
            ]
            if COMPETING
            else []
        ),
    output:
        html=report(
            out("results/report.html"),
            caption="../report/report_html.rst",
            category="0. Report",
            labels={"document": "HTML report"},
        ),
        print_copy=out("intermediate/report/report.print.html"),
    log:
        out("logs/report.log"),
    benchmark:
        out("logs/benchmarks/report.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(1000),
        runtime=job_runtime(10),
    params:
        version=PACKAGE_VERSION,
        settings=settings("*"),
    script:
        "../scripts/report.py"


rule report_pdf:
    input:
        print_copy=rules.report.output.print_copy,
    output:
        pdf=out("results/report.pdf"),
    log:
        out("logs/report_pdf.log"),
    benchmark:
        out("logs/benchmarks/report_pdf.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(800),
        runtime=job_runtime(10),
    params:
        version=PACKAGE_VERSION,
        settings=settings(),  # typesets the print copy; reads no setting
    script:
        "../scripts/report_pdf.py"


rule manifest:
    input:
        data=cohort_input_files() + frozen_model_inputs(),
        results=manifest_outputs(),
    output:
        manifest=out("results/manifest.json"),
        run_record=out("results/run_record.json"),
    log:
        out("logs/manifest.log"),
    benchmark:
        out("logs/benchmarks/manifest.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(500, per_input_mb=2),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings("*"),
    script:
        "../scripts/manifest.py"
