"""Rule kaplan_meier: Kaplan-Meier curves, medians, landmarks, risk table, follow-up."""
from netpet_stats.steps import kaplan_meier, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    kaplan_meier.run(smk.config, smk.input.analysis, smk.wildcards.endpoint, smk.output)
