"""Rule table1: baseline characteristics by NETPET group."""
from netpet_stats.steps import association, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    association.run_table1(smk.config, smk.input.analysis, smk.output)
