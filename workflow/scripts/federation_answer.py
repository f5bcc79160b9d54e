"""Rule federation_answer: this site's answer to the newest request, and its ledger."""
from netpet_stats.steps import federation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    federation.run_answer(smk.config, smk.input.analysis, smk.input.request, smk.output)
