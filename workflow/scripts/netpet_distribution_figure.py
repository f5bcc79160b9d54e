"""Rule netpet_distribution_figure: patients per NETPET score, by analysis group."""
from netpet_stats.steps import figures, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    figures.run_netpet_distribution_figure(smk.config, smk.input.distribution, list(smk.output))
