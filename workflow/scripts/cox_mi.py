"""Rule cox_mi: every configured Cox model on the imputed sets, pooled (Rubin's rules)."""
from netpet_stats.steps import imputation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    imputation.run_cox(smk.config, smk.input.imputed, smk.wildcards.endpoint, smk.output)
