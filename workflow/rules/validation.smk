# External validation: freeze a model (develop) or apply a frozen one (validate).
# Each rule exists only in its own mode, so that validating never refits the model
# on the validation cohort. Internal validation of the model to be frozen
# (bootstrap optimism, internal-external cross-validation) is in
# internal_validation.smk.

if VALIDATION_MODE == "develop":

    rule freeze_model:
        input:
            fits=rules.cox.output.fits.format(endpoint=config["validation"]["endpoint"]),
            data=cohort_input_files(),
        output:
            **added_value_files(),
            model=report(
                out("results/model/frozen_model.yaml"),
                caption="../report/frozen_model.rst",
                category="8. External validation",
                labels={"file": "frozen model"},
            ),
        log:
            out("logs/freeze_model.log"),
        benchmark:
            out("logs/benchmarks/freeze_model.tsv")
        # first among jobs ready together: the long jobs and the chain to them
        priority: 1
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(800, per_input_mb=3),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "cox", "validation"),
        script:
            "../scripts/freeze_model.py"


if VALIDATION_MODE == "validate":

    rule external_validation:
        input:
            **added_value_files(),
            analysis=rules.prepare_cohort.output.analysis,
            model=FROZEN_MODEL,
        output:
            discrimination=report(
                out("results/validation/discrimination.csv"),
                caption="../report/validation.rst",
                category="8. External validation",
                labels={"table": "discrimination"},
            ),
            discrimination_md=out("results/validation/discrimination.md"),
            added_value=report(
                out("results/validation/added_value.csv"),
                caption="../report/validation.rst",
                category="8. External validation",
                labels={"table": "added value (delta C)"},
            ),
            added_value_md=out("results/validation/added_value.md"),
            calibration=report(
                out("results/validation/calibration.csv"),
                caption="../report/validation.rst",
                category="8. External validation",
                labels={"table": "calibration"},
            ),
            calibration_md=out("results/validation/calibration.md"),
            groups=out("results/validation/risk_groups.csv"),
            groups_md=out("results/validation/risk_groups.md"),
            group_curves=report(
                out("results/validation/risk_group_curves.csv"),
                caption="../report/validation.rst",
                category="8. External validation",
                labels={"table": "KM vs predicted by prognostic group"},
            ),
            group_curves_md=out("results/validation/risk_group_curves.md"),
            centres=report(
                out("results/validation/centres.csv"),
                caption="../report/validation.rst",
                category="8. External validation",
                labels={"table": "by centre"},
            ),
            centres_md=out("results/validation/centres.md"),
            centre_figures=report(
                expand(
                    out("results/figures/validation_centres.{fmt}"), fmt=FIGURE_FORMATS
                ),
                caption="../report/validation.rst",
                category="8. External validation",
                labels={"figure": "by centre"},
            ),
            group_curve_figures=report(
                expand(
                    out("results/figures/validation_risk_group_curves.{fmt}"),
                    fmt=FIGURE_FORMATS,
                ),
                caption="../report/validation.rst",
                category="8. External validation",
                labels={"figure": "KM vs predicted by prognostic group"},
            ),
            figures=report(
                expand(out("results/figures/calibration.{fmt}"), fmt=FIGURE_FORMATS),
                caption="../report/validation.rst",
                category="8. External validation",
                labels={"figure": "calibration"},
            ),
        log:
            out("logs/external_validation.log"),
        benchmark:
            out("logs/benchmarks/external_validation.tsv")
        # first among jobs ready together: the long jobs and the chain to them
        priority: 1
        conda:
            "../envs/netpet.yaml"
        # bootstrap CIs on several threads (one on a small cohort: common.smk);
        # the same numbers for any number
        threads: cohort_threads(4)
        resources:
            mem_mb=job_mem_mb(900, per_worker=0.8),
            runtime=job_runtime(20),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "validation", "figures"),
        script:
            "../scripts/external_validation.py"


if VALIDATION_MODE in ("develop", "validate"):

    rule case_mix:
        input:
            analysis=rules.prepare_cohort.output.analysis,
            model=FROZEN_MODEL,
        output:
            table=report(
                out("results/validation/case_mix.csv"),
                caption="../report/case_mix.rst",
                category="8. External validation",
                labels={"table": "case mix"},
            ),
            table_md=out("results/validation/case_mix.md"),
            figures=report(
                expand(out("results/figures/case_mix.{fmt}"), fmt=FIGURE_FORMATS),
                caption="../report/case_mix.rst",
                category="8. External validation",
                labels={"figure": "case mix"},
            ),
        log:
            out("logs/case_mix.log"),
        benchmark:
            out("logs/benchmarks/case_mix.tsv")
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(600),
            runtime=job_runtime(5),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "validation.mode", "privacy", "figures"),
        script:
            "../scripts/case_mix.py"


# A competing-risks prediction of progression (Fine-Gray), when that analysis runs:
# frozen and assessed in develop mode, validated in validate mode when a frozen file
# is named (validation.fine_gray_file).
if COMPETING and VALIDATION_MODE == "develop":

    rule freeze_fine_gray:
        input:
            analysis=rules.prepare_cohort.output.analysis,
            data=cohort_input_files(),
        output:
            model=report(
                out("results/model/frozen_fine_gray.yaml"),
                caption="../report/frozen_fine_gray.rst",
                category="8. External validation",
                labels={"file": "frozen Fine-Gray model"},
            ),
            table=report(
                out("results/validation/competing_risks.csv"),
                caption="../report/competing_validation.rst",
                category="8. External validation",
                labels={"table": "competing-risks prediction"},
            ),
            table_md=out("results/validation/competing_risks.md"),
        log:
            out("logs/freeze_fine_gray.log"),
        benchmark:
            out("logs/benchmarks/freeze_fine_gray.tsv")
        conda:
            "../envs/netpet.yaml"
        resources:
            # the Fine-Gray information in O(n p) memory; the inputs are mostly the
            # cohort's files, hashed for the frozen model's provenance, not held (at 10^6:
            # 74 MB of inputs, a peak of 0.9 GB)
            mem_mb=job_mem_mb(800, per_input_mb=25),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
            settings=settings(
                *LABELS, "cox", "validation", "competing_risks", "kaplan_meier"
            ),
        script:
            "../scripts/freeze_fine_gray.py"


if (
    COMPETING
    and VALIDATION_MODE == "validate"
    and config["validation"]["fine_gray_file"]
):

    rule validate_fine_gray:
        input:
            analysis=rules.prepare_cohort.output.analysis,
            model=config["validation"]["fine_gray_file"],
        output:
            table=report(
                out("results/validation/competing_risks.csv"),
                caption="../report/competing_validation.rst",
                category="8. External validation",
                labels={"table": "competing-risks prediction"},
            ),
            table_md=out("results/validation/competing_risks.md"),
        log:
            out("logs/validate_fine_gray.log"),
        benchmark:
            out("logs/benchmarks/validate_fine_gray.tsv")
        conda:
            "../envs/netpet.yaml"
        resources:
            mem_mb=job_mem_mb(800, per_input_mb=100),
            runtime=job_runtime(10),
        params:
            version=PACKAGE_VERSION,
            settings=settings(*LABELS, "validation", "competing_risks", "kaplan_meier"),
        script:
            "../scripts/validate_fine_gray.py"
