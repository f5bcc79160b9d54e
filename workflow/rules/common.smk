# Shared configuration checks and output lists (no rules here).

import os
import re
import sys

from snakemake.exceptions import WorkflowError

import netpet_stats
from netpet_stats.cohort.read import cohort_sources
from netpet_stats.config import ConfigError, competing_risks_settings, resolve
from netpet_stats.provenance import (
    in_analysis_folder,
    settings_digest,
    with_relative_inputs,
)

# One loader for the workflow and the CLI (netpet_stats.config): defaults from the
# schema, unknown keys refused with the closest valid key, cross-key checks.
try:
    _resolved = resolve(config, " + ".join(map(str, workflow.configfiles)))
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None
config.clear()
# Input files inside the working folder are named relative to it, however given (an
# absolute path names the user's folders, and would change when the project moves).
config.update(with_relative_inputs(_resolved))


def out(path):
    """``path`` (results/..., intermediate/..., logs/...) in this analysis's folder.

    Each analysis writes into its own folder (``output_folder``, e.g.
    analyses/develop), so that a develop run, a validate run and a user's cohort
    never overwrite each other; the default folder is the working folder itself.
    Input files (``cohort.table``, ``validation.model_file``, ...) are named
    relative to the working folder, wherever the analysis writes.
    """
    return in_analysis_folder(config, path)


ENDPOINTS = list(config["endpoints"])
# The competing-risks analysis (progression vs death first), or None.
COMPETING = competing_risks_settings(config)
# The HTML report embeds each figure as PNG and the PDF report as SVG (vectors), so
# both are always written besides the formats asked for (a configuration of PDF alone
# left the report without its inputs).
FIGURE_FORMATS = list(dict.fromkeys([*config["figures"]["formats"], "png", "svg"]))
ANALYSIS = out("intermediate/analysis_cohort.parquet")
# A params entry of every rule: upgrading the package reruns the analysis.
PACKAGE_VERSION = netpet_stats.__version__


def settings(*reads, but=()):
    """A rule's ``settings`` parameter: a digest of the configuration keys its step reads.

    Snakemake tracks params, not the configuration, so without it a changed setting
    would leave earlier results in place as if they were the new ones; with a digest
    of the whole configuration, a figure width reran every analysis. Each rule
    names the keys (dotted paths; ``"*"``: all) its script and step read, less
    those under ``but``: changing a key reruns exactly the rules that read it (and,
    through their outputs, what depends on them). Be generous: a key left out here
    is a result that silently stays stale. With NETPET_CHECK_SETTINGS=1 every rule
    records what it reads and fails on a key these do not cover (the tests set it).
    """
    return {
        "reads": list(reads),
        "but": list(but),
        "sha256": settings_digest(config, reads, but),
    }


# What many steps read besides their own block: the analysis frame's groups, the
# labels of endpoints and covariates, the unit of times.
LABELS = ("netpet.grouping", "endpoints", "covariates", "analysis_time_unit")


wildcard_constraints:
    endpoint="|".join(ENDPOINTS),


def cohort_inputs(wildcards):
    inputs = {"tables": [path for path, _ in cohort_sources(config["cohort"])]}
    if config["cohort"]["lesions"]:
        inputs["lesions"] = config["cohort"]["lesions"]
    return inputs


def cohort_input_files():
    inputs = cohort_inputs(None)
    return inputs["tables"] + ([inputs["lesions"]] if "lesions" in inputs else [])


def report_tables():
    """Every CSV table the report reads (so the report reruns when any changes)."""
    tables = [
        out("results/cohort/exclusions.csv"),
        out("results/cohort/flow.csv"),
        out("results/cohort/netpet_distribution.csv"),
        out("results/cohort/warnings.csv"),
        out("results/table1/table1.csv"),
        out("results/association/netpet_by_grade_counts.csv"),
        out("results/association/netpet_by_grade_tests.csv"),
    ]
    for ep in ENDPOINTS:
        tables += [
            out(f"results/{ep}/{name}.csv")
            for name in (
                "km_curves",
                "km_summary",
                "km_landmarks",
                "km_risk_table",
                "follow_up",
                "logrank",
                "logrank_observed_expected",
                "cox_coefficients",
                "cox_tests",
                "ph_test",
                "ph_residuals",
                "concordance",
                "concordance_comparison",
            )
        ]
    return tables + competing_risks_tables()


def competing_risks_tables():
    """The competing-risks tables, when that analysis runs."""
    if not COMPETING:
        return []
    return [
        out(f"results/competing_risks/{name}.csv")
        for name in (
            "states",
            "cumulative_incidence",
            "progression_naive_km",
            "horizons",
            "risk_table",
            "gray_test",
            "models",
        )
    ]


def competing_risks_figures():
    return figure_paths("cumulative_incidence") if COMPETING else []


def imputation_outputs():
    """The pooled tables of missing_data.method: multiple_imputation (imputation.smk)."""
    if config["missing_data"]["method"] != "multiple_imputation":
        return []
    return (
        [
            out(f"results/missing_data/{name}.csv")
            for name in ("imputation", "missing_by_variable", "missing_patterns")
        ]
        + [
            out(f"results/{ep}/{kind}_mi.csv")
            for ep in ENDPOINTS
            for kind in ("cox_coefficients", "cox_tests", "concordance")
        ]
        + (
            [out(f"results/{config['validation']['endpoint']}/calibration_mi.csv")]
            if config["validation"]["mode"] in ("develop", "validate")
            else []
        )
        + (
            [out("results/model/frozen_model_mi.yaml")]
            if config["validation"]["mode"] == "develop"
            else []
        )
        + (
            [out("results/validation/centres_mi.csv")]
            if config["validation"]["mode"] == "validate"
            else []
        )
    )


def imputation_figures():
    """Observed against imputed values (imputation.smk), under multiple imputation."""
    if config["missing_data"]["method"] != "multiple_imputation":
        return []
    return figure_paths("imputed_values") + (
        figure_paths("validation_centres_mi")
        if config["validation"]["mode"] == "validate"
        else []
    )


def manifest_outputs():
    """Every file the workflow writes to results/ before the manifest."""
    outputs = report_tables()
    outputs += [t[:-4] + ".md" for t in outputs]
    for ep in ENDPOINTS:
        outputs += [
            path for kind in FIGURE_KINDS for path in figure_paths(f"{kind}_{ep}")
        ]
    outputs += (
        figure_paths("patient_flow")
        + figure_paths("netpet_distribution")
        + competing_risks_figures()
        + validation_outputs()
        + sample_size_outputs()
        + imputation_figures()
        + [
            t[:-4] + x if t.endswith(".csv") else t
            for t in imputation_outputs()
            for x in ((".csv", ".md") if t.endswith(".csv") else ("",))
        ]
    )

    outputs += [
        out(f"results/manuscript/hazard_ratios_{ep}.{x}")
        for ep in ENDPOINTS
        for x in ("csv", "md")
    ]
    outputs += [
        out("results/manuscript/tables.docx"),
        out("results/manuscript/methods.md"),
    ]
    return outputs + [out("results/report.html"), out("results/report.pdf")]


VALIDATION_MODE = config["validation"]["mode"]
ADDED_VALUE = config["validation"]["added_value"]
# The model a sample-size simulation plans for: the one develop mode freezes, or
# the one validate mode applies.
FROZEN_MODEL = (
    out("results/model/frozen_model.yaml")
    if VALIDATION_MODE == "develop"
    else config["validation"]["model_file"]
)
SAMPLE_SIZE = (
    VALIDATION_MODE in ("develop", "validate") and config["sample_size"]["enabled"]
)


def _input_mb(input):
    """Size of a job's existing input files in MB (missing ones count 0)."""
    return sum(os.path.getsize(f) for f in input if os.path.exists(f)) / 2**20


# A job that splits its resamples over processes gains from more than one thread
# only when the resamples outlast the start of the job (Python and its libraries,
# about 1.5 s of CPU): at a few hundred patients its workers keep a second core
# less than half busy, and a job holding two cores waits until both are free, while
# one-thread jobs keep taking them as they come free (on the bundled cohort the
# bootstrap, the cross-validation and the simulation ran one after another at the
# end, each alone on two cores). Below these sizes such a job takes one thread, so
# that two run side by side; --set-threads <rule>=N overrides either way.
SMALL_COHORT_MB = 0.25  # the analysis file: about 3,500 patients
SMALL_SIMULATION = 3_000_000  # simulated patients of a sample-size grid (~5 s of CPU)


def cohort_threads(most):
    """``most`` threads for a large cohort, one below :data:`SMALL_COHORT_MB`.

    Evaluated when the job is scheduled, once its input exists (as its memory).
    """

    def threads(wildcards, input):
        return most if _input_mb(input) >= SMALL_COHORT_MB else 1

    return threads


def simulation_threads(most):
    """``most`` threads for a sample-size grid of more than :data:`SMALL_SIMULATION`
    simulated patients (cohorts x sizes x event fractions), else one."""
    scfg = config["sample_size"]
    work = (
        int(scfg["n_sim"])
        * sum(int(n) for n in scfg["sizes"])
        * len(scfg["event_fractions"])
    )
    return most if work > SMALL_SIMULATION else 1


def job_mem_mb(base, per_input_mb=40, per_worker=0.0):
    """Memory (MB) of a job: ``base`` plus ``per_input_mb`` per MB of input, doubled per retry.

    Pandas holds a parquet or CSV cohort in roughly 10-40 times its file size, and
    the Cox rule its design for every model (about 100 times), so registries of
    10^5-10^6 patients ask a cluster for more; the pickled fits are read back at
    about their size. Calibrated on the peaks benchmarks/registry.py reports at 10^6.
    A rule whose resamples run in forked worker processes adds ``per_worker`` times
    that for each worker beyond the first (each counts the pages it shares with
    its parent in its own resident size).
    """

    def mem_mb(wildcards, input, threads, attempt):
        one = base + per_input_mb * _input_mb(input)
        workers = 1 + per_worker * max(threads - 1, 0)
        return int(one * workers * 2 ** (attempt - 1))

    return mem_mb


def job_runtime(base):
    """Wall time (minutes) of a job: ``base`` plus 1 per MB of input, doubled per retry."""

    def runtime(wildcards, input, attempt):
        return int((base + _input_mb(input)) * 2 ** (attempt - 1))

    return runtime


def sample_size_outputs():
    if not SAMPLE_SIZE:
        return []
    return [
        out("results/sample_size/precision.csv"),
        out("results/sample_size/precision.md"),
        out("results/sample_size/minimum_n.csv"),
        out("results/sample_size/minimum_n.md"),
    ] + figure_paths("sample_size")


def added_value_files():
    """Frozen base and extended models of the added-value (ΔC) comparison, if any.

    Written by develop mode into this analysis's folder; read by validate mode from
    where the configuration names them (relative to the working folder, e.g. in the
    develop run's folder).
    """
    if not ADDED_VALUE:
        return {}
    files = {role: ADDED_VALUE[f"{role}_file"] for role in ("base", "extended")}
    if VALIDATION_MODE == "develop":
        return {role: out(path) for role, path in files.items()}
    return files


def frozen_model_inputs():
    """The frozen models validate mode reads (another run's), recorded in the manifest."""
    if VALIDATION_MODE != "validate":
        return []
    files = [FROZEN_MODEL, *added_value_files().values()]
    if COMPETING and config["validation"]["fine_gray_file"]:
        files.append(config["validation"]["fine_gray_file"])
    return files


def validation_outputs():
    """Files of the validation steps in force (develop or validate)."""
    case_mix = [
        out("results/validation/case_mix.csv"),
        out("results/validation/case_mix.md"),
    ] + figure_paths("case_mix")
    competing = (
        [
            out("results/validation/competing_risks.csv"),
            out("results/validation/competing_risks.md"),
        ]
        if COMPETING
        and (
            VALIDATION_MODE == "develop"
            or (
                VALIDATION_MODE == "validate" and config["validation"]["fine_gray_file"]
            )
        )
        else []
    )
    if VALIDATION_MODE == "develop" and COMPETING:
        competing.append(out("results/model/frozen_fine_gray.yaml"))
    if VALIDATION_MODE == "develop":
        return (
            [out("results/model/frozen_model.yaml")]
            + list(added_value_files().values())
            + [
                out("results/validation/optimism.csv"),
                out("results/validation/optimism.md"),
                out("results/validation/iecv.csv"),
                out("results/validation/iecv.md"),
            ]
            + figure_paths("validation_iecv")
            + case_mix
            + competing
        )
    if VALIDATION_MODE == "validate":
        tables = [
            "discrimination",
            "added_value",
            "calibration",
            "risk_groups",
            "risk_group_curves",
            "centres",
        ]
        return (
            [
                out(f"results/validation/{t}.{ext}")
                for t in tables
                for ext in ("csv", "md")
            ]
            + figure_paths("calibration")
            + figure_paths("validation_centres")
            + figure_paths("validation_risk_group_curves")
            + case_mix
            + competing
        )
    return []


# Figures drawn for every endpoint.
FIGURE_KINDS = ("km", "forest", "schoenfeld")


def figure_paths(name):
    return [out(f"results/figures/{name}.{fmt}") for fmt in FIGURE_FORMATS]


def _figure_item(name, caption, category, figure, endpoint=None):
    """A figure's files (one per format) as one item of Snakemake's report."""
    extra = {} if endpoint is None else {"subcategory": endpoint}
    labels = (
        {"figure": figure}
        if endpoint is None
        else {"endpoint": endpoint, "figure": figure}
    )
    return report(
        figure_paths(name),
        caption=f"../report/{caption}",
        category=category,
        labels=labels,
        **extra,
    )


def descriptive_figure_inputs():
    """The tables the rule descriptive_figures draws from, by name."""
    inputs = {
        "flow": rules.prepare_cohort.output.flow,
        "distribution": rules.prepare_cohort.output.distribution,
    }
    for ep in ENDPOINTS:
        for key, table in (
            ("curves", "curves"),
            ("risk_table", "risk_table"),
            ("summary", "summary"),
            ("logrank", "tests"),
        ):
            inputs[f"km_{key}_{ep}"] = expand(
                getattr(rules.survival_by_group.output, table), endpoint=ep
            )[0]
    return inputs


def descriptive_figure_outputs():
    """The figures of the rule descriptive_figures, by name (their formats each)."""
    outputs = {
        "patient_flow": _figure_item(
            "patient_flow", "flow_figure.rst", "1. Cohort", "patient flow"
        ),
        "netpet_distribution": _figure_item(
            "netpet_distribution",
            "netpet_distribution_figure.rst",
            "1. Cohort",
            "NETPET score distribution",
        ),
    }
    for ep in ENDPOINTS:
        outputs[f"km_{ep}"] = _figure_item(
            f"km_{ep}", "km_figure.rst", "2. Kaplan-Meier", "Kaplan-Meier", ep
        )
    return outputs


def cox_figure_inputs():
    """The tables (and fitted models) the rule cox_figures draws from, by name."""
    inputs = {}
    for ep in ENDPOINTS:
        for key in ("coefficients", "fits", "ph_residuals", "ph_test"):
            inputs[f"{key}_{ep}"] = expand(getattr(rules.cox.output, key), endpoint=ep)[
                0
            ]
    return inputs


def cox_figure_outputs():
    """The forest plot and Schoenfeld residuals of the primary model of each endpoint."""
    outputs = {}
    for ep in ENDPOINTS:
        outputs[f"forest_{ep}"] = _figure_item(
            f"forest_{ep}", "forest_figure.rst", "4. Cox models", "forest plot", ep
        )
        outputs[f"schoenfeld_{ep}"] = _figure_item(
            f"schoenfeld_{ep}",
            "schoenfeld_figure.rst",
            "4. Cox models",
            "Schoenfeld residuals",
            ep,
        )
    return outputs


def all_outputs():
    if config["federation"]["role"] != "none":
        return federation_outputs()  # workflow/rules/federation.smk
    targets = [
        out("results/manuscript/tables.docx"),
        out("results/report.html"),
        out("results/report.pdf"),
        out("results/manifest.json"),
        out("results/cohort/exclusions.csv"),
        out("results/cohort/flow.csv"),
        out("results/cohort/netpet_distribution.csv"),
        out("results/association/netpet_by_grade_tests.csv"),
        out("results/table1/table1.csv"),
    ]
    for ep in ENDPOINTS:
        targets += [
            out(f"results/{ep}/km_summary.csv"),
            out(f"results/{ep}/logrank.csv"),
            out(f"results/{ep}/cox_coefficients.csv"),
            out(f"results/{ep}/concordance.csv"),
        ]
        targets += [
            path for kind in FIGURE_KINDS for path in figure_paths(f"{kind}_{ep}")
        ]
    return (
        targets
        + figure_paths("patient_flow")
        + competing_risks_tables()
        + competing_risks_figures()
        + validation_outputs()
        + sample_size_outputs()
        + imputation_outputs()
        + imputation_figures()
    )


# Federated roles (federation.role: site | coordinator; rules in federation.smk).
FEDERATION = config["federation"]
FED_ROLE = FEDERATION["role"]
FED_TABLES = [
    "sites",
    "rounds",
    "exactness",
    "table1",
    "cox_coefficients",
    "cox_tests",
    "concordance",
    "logrank",
    "km",
    "validation",
]

if FEDERATION["storage"] == "fs":

    storage fs:
        provider="fs",


def exchange_file(rel):
    """A file of the exchange folder, through the storage plugin if one is named."""
    path = f"{FEDERATION['exchange'].rstrip('/')}/{rel}"
    if FEDERATION["storage"] == "fs":
        return storage.fs(path)
    return path


def _federation_plan():
    if FED_ROLE == "none":
        return None
    # imported only in a federated role: the single-machine DAG does not pay for them
    from netpet_stats.federated.errors import ProtocolError
    from netpet_stats.steps import federation as fed_steps

    try:
        if FED_ROLE == "coordinator":
            return fed_steps.coordinator_plan(config)
        if FED_ROLE == "site":
            return fed_steps.site_plan(config)
    except ProtocolError as exc:
        raise WorkflowError(f"federation: {exc}") from None
    return None


FED_PLAN = _federation_plan()


def answers_before(round_):
    """The answers a request or the results rest on: every site's in round 1, then only
    those of sites included for an endpoint (a site refused for all is not waited for).
    """
    expected = FED_PLAN["expected"] if FED_PLAN else {}
    return [
        exchange_file(f"round_{k:03d}/{site}.json")
        for k in range(1, round_)
        for site in expected.get(k, FEDERATION["sites"])
    ]


def federation_outputs():
    """What this role does now; says on the console what it waits for."""
    if FED_ROLE == "site":
        targets = [
            out("results/cohort/exclusions.csv"),
            out("results/cohort/flow.csv"),
            out("results/cohort/warnings.csv"),
        ]
        print(
            f"federation: site {FEDERATION['site']}: {FED_PLAN['why']}", file=sys.stderr
        )
        if FED_PLAN["answer"]:
            r = FED_PLAN["round"]
            targets += [
                exchange_file(f"round_{r:03d}/{FEDERATION['site']}.json"),
                out(f"results/federation/release_ledger_round_{r:03d}.csv"),
            ]
        return targets
    plan = FED_PLAN
    targets = []
    if plan["signatures"] != "verified" and plan["answers"]:
        print(
            "federation: the answers are not signed (federation.public_keys lists no "
            "key; see docs/federation.md, 'Who can do what')",
            file=sys.stderr,
        )
    if plan["publish"]:
        targets.append(exchange_file(f"round_{plan['round']:03d}/request.json"))
        print(
            f"federation: publishing round {plan['round']} ({plan['kind']})",
            file=sys.stderr,
        )
    elif plan["kind"] != "done":
        print(
            f"federation: round {plan['round']} waits for the answers of "
            + ", ".join(plan["waiting"]),
            file=sys.stderr,
        )
    if plan["kind"] == "done":
        targets += [out(f"results/federation/{name}.csv") for name in FED_TABLES]
        targets += [
            out("results/federation/report.html"),
            out("results/federation/manifest.json"),
        ]
    return targets


_MISSING_MODELS = [p for p in frozen_model_inputs() if not os.path.exists(p)]
if _MISSING_MODELS:
    print(
        "netpet-stats: validate mode applies frozen models that do not exist (yet): "
        + ", ".join(_MISSING_MODELS)
        + ". Run the develop analysis first (e.g. snakemake --cores 2 --configfile "
        "config/develop.yaml, which writes them to analyses/develop/results/model/), or "
        "point validation.model_file (and fine_gray_file, added_value.*_file) at the "
        "files a develop run froze (relative to the working folder).",
        file=sys.stderr,
    )


def set_aside_stale_results():
    """Move files in this analysis's results/ that its configuration does not write.

    A folder holds one configuration's results: what an earlier configuration left
    there (sample-size tables after ``sample_size.enabled: false``, the validation
    tables of another mode, a ``workflow-report.zip`` of earlier results) would be
    read as this run's. They are moved, not deleted, to set_aside/<time>/ in the
    analysis folder, and listed on the console. Input files are never moved.
    Called when Snakemake starts to run jobs (onstart in the Snakefile; not in a dry
    run, and not when there is nothing to do).
    """
    import shutil
    import time

    results = out("results")
    if not os.path.isdir(results):
        return
    written = [f.regex() for rule in workflow.rules for f in rule.output]
    # the record of netpet-stats watch (steps/federation_watch.py): a site's approval
    # and log, the coordinator's log of the rounds it published
    if FED_ROLE == "site":
        written += [
            re.compile(re.escape(out(rel)) + "$")
            for rel in (
                "results/federation/approval.json",
                "results/federation/watch.log",
            )
        ]
    if FED_ROLE == "coordinator":
        written.append(re.compile(re.escape(out("results/federation/watch.log")) + "$"))
    inputs = {os.path.normpath(p) for p in cohort_input_files() + frozen_model_inputs()}
    stale = []
    for folder, _, names in os.walk(results):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.normpath(path) in inputs or any(r.match(path) for r in written):
                continue
            stale.append(path)
    if not stale:
        return
    stamp = time.strftime("%Y-%m-%d_%H%M%S")
    aside = out(f"set_aside/{stamp}")
    for path in sorted(stale):
        dest = os.path.join(aside, os.path.relpath(path, os.path.dirname(results)))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.move(path, dest)
    for folder, _, _ in sorted(os.walk(results), reverse=True):
        if folder != results and not os.listdir(folder):
            os.rmdir(folder)
    listed = "\n".join(f"    {p}" for p in sorted(stale))
    print(
        f"netpet-stats: {len(stale)} file(s) in {results}/ are not outputs of this "
        f"configuration (left by an earlier one); moved to {aside}/ so that they are "
        f"not taken for this run's results:\n{listed}",
        file=sys.stderr,
    )


def print_run_summary():
    """The last lines of a finished run: where the report is and what it found
    (from the result tables only; nothing when this run did not write them)."""
    from netpet_stats.report.summary import run_summary

    if FED_ROLE == "none" and os.path.exists(out("results/cohort/flow.csv")):
        print(f"\n{run_summary(config, out('results'))}", file=sys.stderr)


# multiple imputation (imputation.smk): the inputs and outputs of its rules


def pool_mi_outputs():
    """Every pooled table of the imputed sets (of pool_mi), by name; per endpoint in
    the configuration's order, then those of the validation mode."""
    per_endpoint = {
        "coefficients": "cox_coefficients_mi",
        "coefficients_md": "cox_coefficients_mi",
        "tests": "cox_tests_mi",
        "tests_md": "cox_tests_mi",
        "concordance": "concordance_mi",
        "concordance_md": "concordance_mi",
    }
    outputs = {
        name: [
            out(f"results/{ep}/{stem}.{'md' if name.endswith('_md') else 'csv'}")
            for ep in ENDPOINTS
        ]
        for name, stem in per_endpoint.items()
    }
    vep = config["validation"]["endpoint"]
    if VALIDATION_MODE in ("develop", "validate"):
        outputs["calibration"] = out(f"results/{vep}/calibration_mi.csv")
        outputs["calibration_md"] = out(f"results/{vep}/calibration_mi.md")
    if VALIDATION_MODE == "develop":
        # beside the complete-case frozen_model.yaml, which stays the primary model
        outputs["model"] = out("results/model/frozen_model_mi.yaml")
    if VALIDATION_MODE == "validate":
        outputs["centres"] = out("results/validation/centres_mi.csv")
        outputs["centres_md"] = out("results/validation/centres_mi.md")
    return outputs


def pool_mi_inputs():
    inputs = {"imputed": rules.impute.output.imputed}
    if VALIDATION_MODE == "develop":
        inputs["data"] = cohort_input_files()  # the frozen model's provenance
    if VALIDATION_MODE == "validate":
        inputs["model"] = FROZEN_MODEL
    return inputs


def imputation_figure_io():
    """The figure of imputed values; in validate mode also the per-centre forest of the
    frozen model after multiple imputation, the companion of validation_centres."""
    inputs = {
        "analysis": rules.prepare_cohort.output.analysis,
        "imputed": rules.impute.output.imputed,
    }
    outputs = {
        "values": expand(
            out("results/figures/imputed_values.{fmt}"), fmt=FIGURE_FORMATS
        )
    }
    if VALIDATION_MODE == "validate":
        inputs["centres"] = out("results/validation/centres_mi.csv")
        outputs["centres"] = expand(
            out("results/figures/validation_centres_mi.{fmt}"), fmt=FIGURE_FORMATS
        )
    return inputs, outputs
