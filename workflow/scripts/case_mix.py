"""Rule case_mix: the linear predictor and predictors by cohort and centre."""
from netpet_stats.steps import case_mix, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    case_mix.run_case_mix(smk.config, smk.input.analysis, smk.input.model, smk.output)
