"""Rule optimism_bootstrap: Harrell's bootstrap optimism correction."""
from netpet_stats.steps import internal_validation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    internal_validation.run_optimism(smk.config, smk.input.analysis, smk.output, smk.threads)
