"""Rule prepare_cohort: the analysis frame, exclusion ledger, patient flow, warnings."""
from netpet_stats.steps import cohort, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    out = smk.output
    cohort.run(smk.config, out.analysis, out.exclusions, out.flow, out.distribution,
               out.warnings)
