"""Rule manuscript_tables: Table 1 and hazard ratios as a paper prints them, and a .docx."""
from netpet_stats.steps import manuscript, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    coefficients = dict(zip(smk.params.endpoints, smk.input.coefficients))
    manuscript.run(smk.config, smk.input.table1, coefficients, smk.output)
