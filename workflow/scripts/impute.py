"""Rule impute: the model covariates imputed m times by chained equations."""
from netpet_stats.steps import imputation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    imputation.run(smk.config, smk.input.analysis, smk.output, smk.threads)
