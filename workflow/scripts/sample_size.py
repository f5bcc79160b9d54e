"""Rule sample_size: precision by size, minimum sizes and the figure."""
from netpet_stats.steps import rule_context, sample_size

with rule_context(snakemake, "for the sample-size simulation") as smk:  # noqa: F821
    sample_size.run_gather(smk.config, smk.input.model, list(smk.input.cells), smk.output)
