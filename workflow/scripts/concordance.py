"""Rule concordance: Harrell's and Uno's C from the cox rule's fits; comparisons."""
from netpet_stats.steps import concordance, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    concordance.run(smk.config, smk.input.analysis, smk.input.fits, smk.wildcards.endpoint,
                    smk.output)
