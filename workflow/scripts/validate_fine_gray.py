"""Rule validate_fine_gray: a frozen Fine-Gray model of progression on this cohort."""
from netpet_stats.steps import competing_risks, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    competing_risks.run_validate_fine_gray(smk.config, smk.input.analysis, smk.input.model,
                                           smk.output)
