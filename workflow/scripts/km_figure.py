"""Rule km_figure: Kaplan-Meier figure from the KM and log-rank tables."""
from netpet_stats.steps import figures, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    figures.run_km_figure(smk.config, smk.wildcards.endpoint, dict(smk.input.items()),
                          list(smk.output))
