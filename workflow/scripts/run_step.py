# Thin shim: every rule runs one step of the netpet_stats package.
from netpet_stats.workflow_step import run

run(snakemake)  # noqa: F821 (provided by Snakemake)
