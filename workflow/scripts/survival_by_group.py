"""Rule survival_by_group: Kaplan-Meier estimates and log-rank tests by NETPET group."""
from netpet_stats.steps import kaplan_meier, logrank, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    for step in (kaplan_meier, logrank):
        step.run(smk.config, smk.input.analysis, smk.wildcards.endpoint, smk.output)
