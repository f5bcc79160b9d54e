"""Rule external_validation_mi: the frozen model per centre on each imputed set, pooled."""
from netpet_stats.steps import imputation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    imputation.run_external(smk.config, smk.input.imputed, smk.input.model, smk.output)
