# Manuscript tables: Table 1 and the hazard ratios side by side, as CSV, Markdown and
# an editable Word document (what journals ask authors to upload).


rule manuscript_tables:
    input:
        table1=rules.table1.output.table1,
        coefficients=expand(
            out("results/{endpoint}/cox_coefficients.csv"), endpoint=ENDPOINTS
        ),
    output:
        hazard_ratios=expand(
            out("results/manuscript/hazard_ratios_{endpoint}.csv"), endpoint=ENDPOINTS
        ),
        hazard_ratios_md=expand(
            out("results/manuscript/hazard_ratios_{endpoint}.md"), endpoint=ENDPOINTS
        ),
        methods=out("results/manuscript/methods.md"),
        docx=report(
            out("results/manuscript/tables.docx"),
            caption="../report/manuscript_tables.rst",
            category="0. Report",
            labels={"document": "Manuscript tables (Word)"},
        ),
    log:
        out("logs/manuscript_tables.log"),
    benchmark:
        out("logs/benchmarks/manuscript_tables.tsv")
    conda:
        "../envs/netpet.yaml"
    resources:
        mem_mb=job_mem_mb(500),
        runtime=job_runtime(5),
    params:
        version=PACKAGE_VERSION,
        settings=settings("*", but=["figures"]),
        endpoints=ENDPOINTS,
    script:
        "../scripts/manuscript_tables.py"
