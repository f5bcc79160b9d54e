"""Rule descriptive_figures: patient flow, NETPET distribution, Kaplan-Meier curves and
cumulative incidence, from the result tables."""
from netpet_stats.steps import figures, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    figures.run_descriptive_figures(smk.config, dict(smk.input.items()),
                                    {k: list(v) for k, v in smk.output.items()})
