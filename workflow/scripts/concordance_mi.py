"""Rule concordance_mi: Harrell's and Uno's C on each imputed set, pooled (logit scale)."""
from netpet_stats.steps import imputation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    imputation.run_concordance(smk.config, smk.input.imputed, smk.wildcards.endpoint,
                               smk.output)
