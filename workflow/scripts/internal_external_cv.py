"""Rule internal_external_cv: leave-one-centre-out cross-validation."""
from netpet_stats.steps import internal_validation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    internal_validation.run_iecv(smk.config, smk.input.analysis, smk.output, smk.threads)
