"""Rule forest_figure: hazard ratios of the primary model (with each level's patients and
events when the rule is given the fitted models, input ``fits``)."""
from netpet_stats.steps import figures, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    figures.run_forest_figure(smk.config, smk.wildcards.endpoint, smk.input.coefficients,
                              list(smk.output), fits=getattr(smk.input, "fits", None))
