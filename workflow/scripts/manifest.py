"""Rule manifest: checksums, resolved configuration, versions, git state, seeds."""
from netpet_stats.steps import report, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    report.run_manifest(smk.config, list(smk.input.data), list(smk.input.results),
                        smk.params.workflow_dir, smk.output)
