"""Rule manifest: checksums, resolved configuration, versions, git state, seeds.

The git state is that of the checkout holding this script (no path of the machine
is a parameter of the rule).
"""
from netpet_stats.steps import report, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    report.run_manifest(smk.config, list(smk.input.data), list(smk.input.results),
                        smk.scriptdir, smk.output)
