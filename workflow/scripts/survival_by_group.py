"""Rule survival_by_group: Kaplan-Meier estimates and log-rank tests by NETPET group."""
from netpet_stats.steps import rule_context, survival_by_group

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    survival_by_group.run(smk.config, smk.input.analysis, smk.wildcards.endpoint, smk.output)
