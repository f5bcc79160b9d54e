"""Rule sample_size_cell: simulated validation cohorts of one grid cell."""
from netpet_stats.steps import rule_context, sample_size

with rule_context(snakemake, "for the sample-size simulation") as smk:  # noqa: F821
    sample_size.run_cell(smk.config, smk.input.model, int(smk.wildcards.n),
                         float(smk.wildcards.fraction), smk.output.cells)
