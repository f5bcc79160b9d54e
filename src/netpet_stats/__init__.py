"""netpet-stats: reproducible survival-analysis validation of the NETPET score.

The package is built in wings, each importing only the ones below it:

``survival``
    The engine: Kaplan-Meier, log-rank, Efron Cox, concordance, association,
    Table 1 (arrays and frames in, results out; no configuration, NETPET or centres).
``validation``
    Prediction-model validation on the engine: frozen models, external and internal
    validation, random-effects pooling, sample size.
``netpet``
    The score: scoring, analysis groups, the synthetic cohort.
``cohort``
    A user's table to the canonical analysis frame: reading, problems, dates,
    preparation, exclusion ledger and patient flow.
``report``
    Presentation: tables, figures, the HTML/PDF report.
``steps``
    Orchestration: one module per rule group of the Snakemake workflow.

``config`` is the one configuration loader and ``provenance`` the manifest. The
public estimators are importable from here (loaded on first use, so that
``import netpet_stats`` stays cheap for every workflow job):

>>> import netpet_stats as ns
>>> km = ns.km_table([1, 2, 2, 3], [1, 1, 0, 1])
>>> km["surv"].round(4).tolist()
[0.75, 0.5, 0.0]
"""

from importlib import import_module

__version__ = "0.2.0"
#: Release date of this version (CITATION.cff, CHANGELOG.md): the report's date when
#: the configuration names none, never the clock.
__release_date__ = "2026-11-26"

#: public name -> module that defines it
_API = {
    "km_table": "survival.kaplan_meier",
    "km_quantiles": "survival.kaplan_meier",
    "km_point": "survival.kaplan_meier",
    "survival_at": "survival.kaplan_meier",
    "km_by_group": "survival.kaplan_meier",
    "numbers_at_risk": "survival.kaplan_meier",
    "reverse_km_follow_up": "survival.kaplan_meier",
    "logrank_test": "survival.logrank",
    "logrank_trend_test": "survival.logrank",
    "logrank_tests": "survival.logrank",
    "fit_cox": "survival.cox",
    "fit_efron": "survival.cox",
    "ph_test": "survival.cox",
    "zph_residuals": "survival.cox",
    "zph_smooth": "survival.cox",
    "harrell_c": "survival.concordance",
    "uno_c": "survival.concordance",
    "compare_c": "survival.concordance",
    "aalen_johansen": "survival.competing_risks",
    "cumulative_incidence_at": "survival.competing_risks",
    "gray_test": "survival.competing_risks",
    "fine_gray": "survival.competing_risks",
    "fine_gray_baseline": "survival.competing_risks",
    "association_table": "survival.association",
    "table_one": "survival.table_one",
    "MissingDataWarning": "survival._checks",
    "validate": "validation.external",
    "random_effects": "validation.external",
    "freeze": "validation.frozen_model",
    "load_model": "validation.frozen_model",
    "freeze_fine_gray": "validation.competing",
    "cr_performance": "validation.competing",
    "optimism_bootstrap": "validation.internal",
    "internal_external_cv": "validation.internal",
    "site_answer": "federated.protocol",
    "replay": "federated.protocol",
    "pool_concordance": "federated.aggregates",
    "pool_logrank": "federated.aggregates",
    "km_from_counts": "survival.kaplan_meier",
    "load_config": "config",
    "prepare_cohort": "cohort.prepare",
    "assign_groups": "netpet.scoring",
    "score_from_lesions": "netpet.scoring",
}
_RENAMED = {"load_model": "load"}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'netpet_stats' has no attribute {name!r}")
    value = getattr(import_module(f".{_API[name]}", __name__), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)
