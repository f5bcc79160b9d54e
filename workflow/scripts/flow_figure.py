"""Rule flow_figure: patient-flow diagram from the flow table."""
from netpet_stats.steps import figures, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    figures.run_flow_figure(smk.config, smk.input.flow, list(smk.output))
