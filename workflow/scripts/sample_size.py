"""Rule sample_size: the simulated grid, precision by size, minimum sizes and the figure."""
import os

# One BLAS thread per process, set before NumPy loads: the cells run in forked
# processes on this rule's threads, and BLAS threads of their own in each of them
# (Snakemake sets OPENBLAS_NUM_THREADS to the rule's threads) would compete with them
# (see impute.py).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from netpet_stats.steps import rule_context, sample_size  # noqa: E402

with rule_context(snakemake, "for the sample-size simulation") as smk:  # noqa: F821
    sample_size.run(smk.config, smk.input.model, smk.output.cohorts, smk.output,
                    smk.threads)
