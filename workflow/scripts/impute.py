"""Rule impute: the model covariates imputed m times by chained equations."""
import os

# One BLAS thread per process, set before NumPy loads: this rule runs its work in
# forked processes on its threads, and OpenBLAS threads of their own in each of them
# (Snakemake sets OPENBLAS_NUM_THREADS to the rule's threads) made a least-squares fit
# of 3,000 rows 100 times slower on a busy 2-core machine (60 s for m = 20 instead of 2).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from netpet_stats.steps import imputation, rule_context  # noqa: E402

with rule_context(snakemake) as smk:  # noqa: F821 (Snakemake provides it)
    imputation.run(smk.config, smk.input.analysis, smk.output, smk.threads)
