"""Rule freeze_model: the validation model and added-value pair, from the cox fits."""
from netpet_stats.steps import rule_context, validation

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    validation.run_freeze(smk.config, smk.input.fits, list(smk.input.data), smk.output)
