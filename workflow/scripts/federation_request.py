"""Rule federation_request: the coordinator's next request, from the answers so far."""
from netpet_stats.steps import federation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    federation.run_request(smk.config, list(smk.input.answers), smk.params.round, smk.output)
