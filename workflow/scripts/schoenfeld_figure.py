"""Rule schoenfeld_figure: scaled Schoenfeld residuals of the primary model."""
from netpet_stats.steps import figures, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    figures.run_schoenfeld_figure(smk.config, smk.wildcards.endpoint, smk.input.residuals,
                                  smk.input.ph_test, smk.input.coefficients, list(smk.output))
