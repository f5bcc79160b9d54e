"""Rule report: the HTML report, and its print copy for the PDF, from exactly its inputs."""
from netpet_stats.steps import report, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    report.run_report(smk.config, list(smk.input), smk.output, smk.log[0] if smk.log else None)
