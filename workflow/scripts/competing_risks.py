"""Rule competing_risks: states, cumulative incidence, Gray's test, CS and Fine-Gray models."""
from netpet_stats.steps import competing_risks, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    competing_risks.run(smk.config, smk.input.analysis, smk.output)
