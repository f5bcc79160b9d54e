"""Rule logrank: overall, centre-stratified, trend and pairwise log-rank tests."""
from netpet_stats.steps import logrank, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    logrank.run(smk.config, smk.input.analysis, smk.wildcards.endpoint, smk.output)
