"""Rule sample_size_figure: mean CI width by validation size, from the precision table."""
from netpet_stats.steps import rule_context, sample_size

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    sample_size.run_figure(smk.config, smk.input.model, smk.input.precision,
                           list(smk.output.figures))
