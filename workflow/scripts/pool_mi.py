"""Rule pool_mi: every model fitted once on each imputed set; every pooled table from it."""
from netpet_stats.steps import imputation, rule_context

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    imputation.run_pooled(smk.config, smk.input.imputed, smk.output,
                          model_path=smk.input.get("model"),
                          input_files=list(smk.input.get("data", [])), workers=smk.threads)
