# External validation: freeze a model (develop) or apply a frozen one (validate).
# Each rule exists only in its own mode, so that validating never refits the model
# on the validation cohort.

if VALIDATION_MODE == "develop":

    rule freeze_model:
        input:
            analysis=ANALYSIS,
            data=cohort_input_files(),
        output:
            report(
                "results/model/frozen_model.yaml",
                caption="../report/frozen_model.rst",
                category="7. External validation",
                labels={"file": "frozen model"},
            ),
        params:
            step="freeze_model",
            version=PACKAGE_VERSION,
        log:
            "logs/freeze_model.log",
        conda:
            "../envs/netpet.yaml"
        script:
            "../scripts/run_step.py"


if VALIDATION_MODE == "validate":

    rule external_validation:
        input:
            analysis=ANALYSIS,
            model=config["validation"].get("model_file", "results/model/frozen_model.yaml"),
        output:
            discrimination=report(
                "results/validation/discrimination.csv",
                caption="../report/validation.rst",
                category="7. External validation",
                labels={"table": "discrimination"},
            ),
            discrimination_md="results/validation/discrimination.md",
            calibration=report(
                "results/validation/calibration.csv",
                caption="../report/validation.rst",
                category="7. External validation",
                labels={"table": "calibration"},
            ),
            calibration_md="results/validation/calibration.md",
            groups="results/validation/risk_groups.csv",
            groups_md="results/validation/risk_groups.md",
            centres=report(
                "results/validation/centres.csv",
                caption="../report/validation.rst",
                category="7. External validation",
                labels={"table": "by centre"},
            ),
            centres_md="results/validation/centres.md",
            centre_figures=report(
                expand("results/figures/validation_centres.{fmt}", fmt=FIGURE_FORMATS),
                caption="../report/validation.rst",
                category="7. External validation",
                labels={"figure": "by centre"},
            ),
            figures=report(
                expand("results/figures/calibration.{fmt}", fmt=FIGURE_FORMATS),
                caption="../report/validation.rst",
                category="7. External validation",
                labels={"figure": "calibration"},
            ),
        params:
            step="external_validation",
            version=PACKAGE_VERSION,
        log:
            "logs/external_validation.log",
        conda:
            "../envs/netpet.yaml"
        script:
            "../scripts/run_step.py"
