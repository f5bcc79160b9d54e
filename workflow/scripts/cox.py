"""Rule cox: every configured Cox model, fitted once; tables and kept fits."""
from netpet_stats.steps import cox, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    cox.run(smk.config, smk.input.analysis, smk.wildcards.endpoint, smk.output)
