# netpet-stats: reproducible validation analysis of the NETPET score.
#
#     snakemake --cores 2                              # bundled synthetic cohort
#     snakemake --cores 2 --configfile my_config.yaml  # your cohort
#
# Each analysis writes into its own folder (output_folder in the configuration, or
# --config output_folder=analyses/mine): results/, intermediate/ and logs/; the
# default is the working folder itself (results/ here).
#
# Rules live in workflow/rules/ (one concern per file); each calls the netpet_stats
# package through its own short script, workflow/scripts/<rule>.py.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/cohort.smk"
include: "workflow/rules/survival_by_group.smk"
include: "workflow/rules/cox.smk"
include: "workflow/rules/imputation.smk"
include: "workflow/rules/competing_risks.smk"
include: "workflow/rules/concordance.smk"
include: "workflow/rules/association.smk"
include: "workflow/rules/table1.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/internal_validation.smk"
include: "workflow/rules/validation.smk"
include: "workflow/rules/sample_size.smk"
include: "workflow/rules/manuscript.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/federation.smk"


localrules:
    all,


onstart:
    set_aside_stale_results()


onsuccess:
    print_run_summary()


rule all:
    default_target: True
    input:
        all_outputs(),
