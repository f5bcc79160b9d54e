"""Rule imputation_figure: observed against imputed values of each imputed covariate, and
(validate mode) the frozen model's performance by centre after multiple imputation."""
from netpet_stats.steps import imputation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    imputation.run_figure(smk.config, smk.input.analysis, smk.input.imputed,
                          list(smk.output.values))
    if "centres" in smk.input.keys():
        imputation.run_centre_figure(smk.config, smk.input.centres, list(smk.output.centres))
