"""Rule federation_report: the coordinator's HTML report and its print copy."""
from netpet_stats.steps import federation_report, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    federation_report.run_report(smk.config, list(smk.input.answers), smk.output,
                                 smk.log[0] if smk.log else None)
