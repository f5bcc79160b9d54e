"""Rule cumulative_incidence_figure: cumulative incidence beside the naive 1 - Kaplan-Meier."""
from netpet_stats.steps import figures, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    figures.run_cumulative_incidence_figure(smk.config, dict(smk.input.items()),
                                            list(smk.output))
