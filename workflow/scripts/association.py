"""Rule association: NETPET group x WHO grade counts and tests."""
from netpet_stats.steps import association, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    association.run_association(smk.config, smk.input.analysis, smk.output)
