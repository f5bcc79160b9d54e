"""Rule external_validation: a frozen model's performance in this cohort."""
from netpet_stats.steps import rule_context, validation

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    inp = smk.input
    added = {role: inp[role] for role in ("base", "extended")} if "base" in inp.keys() else None
    validation.run_external(smk.config, inp.analysis, inp.model, added, smk.output,
                            smk.threads)
