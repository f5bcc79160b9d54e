"""Rule cox_figures: forest plot and Schoenfeld residuals of the primary Cox model of each
endpoint."""
from netpet_stats.steps import figures, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    figures.run_cox_figures(smk.config, dict(smk.input.items()),
                            {k: list(v) for k, v in smk.output.items()})
