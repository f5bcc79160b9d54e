"""Rule federation_results: the pooled tables (the report is rule federation_report)."""
from netpet_stats.steps import federation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    federation.run_results(smk.config, list(smk.input.answers), smk.output)
