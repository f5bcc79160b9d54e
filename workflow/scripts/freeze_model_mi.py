"""Rule freeze_model_mi: the validation model developed on the imputed sets, frozen."""
from netpet_stats.steps import imputation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    imputation.run_freeze(smk.config, smk.input.imputed, list(smk.input.data), smk.output)
