"""Rule report_pdf: the PDF report, typeset from the print copy the report rule wrote."""
from netpet_stats.steps import report, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    report.run_report_pdf(smk.input.print_copy, smk.output.pdf)
