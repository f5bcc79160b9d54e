"""Rule freeze_fine_gray: a frozen Fine-Gray model of progression, and its assessment."""
from netpet_stats.steps import competing_risks, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    competing_risks.run_freeze_fine_gray(smk.config, smk.input.analysis, list(smk.input.data),
                                         smk.output)
