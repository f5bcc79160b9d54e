"""Overall, centre-stratified, trend and pairwise log-rank tests (part of rule
survival_by_group)."""

from __future__ import annotations

from ..cohort.ledger import analysis_set
from ..report.tables import write_table
from ..survival import logrank
from ._common import endpoint_label, groups_of, risk_set_kw, risk_set_method


def write_tests(config: dict, data, endpoint: str, out) -> None:
    """Overall, centre-stratified, trend and pairwise log-rank tests.

    ``data`` is the analysis frame (:func:`._common.load_analysis`); ``out`` maps
    ``tests, observed_expected`` to CSV paths.
    """
    d = analysis_set(data, endpoint, ["centre"])
    tcol, ecol = f"{endpoint}_time", f"{endpoint}_event"
    groups = [g for g in groups_of(d) if (d["netpet_group"] == g).any()]
    group = d["netpet_group"].astype(str).to_numpy()
    kw = risk_set_kw(d)     # delayed entry, case weights
    tests = logrank.logrank_tests(d[tcol], d[ecol], group, groups, strata=d["centre"],
                                  adjust=config["logrank"]["pairwise_adjustment"],
                                  strata_name="centre", **kw)
    tests.insert(0, "endpoint", endpoint)
    label = endpoint_label(config, endpoint)
    write_table(tests, out["tests"], f"{label}: log-rank tests",
                ("Hypergeometric variance (R survdiff, rho = 0). " if not kw else
                 "Each row's method names the R call it equals (survdiff takes neither delayed "
                 "entry nor case weights: the Cox score test at beta = 0 on the same risk "
                 "sets). ")
                + "Trend: group scores 1..k in the order " + " < ".join(groups) + ".")
    oe = logrank.observed_expected(d[tcol], d[ecol], group, groups, **kw)
    write_table(oe, out["observed_expected"], f"{label}: observed and expected events",
                ("Expected events of the null Cox model on the same risk sets, summed per "
                 "group (R coxph(... ~ 1, ties = 'breslow'))" + risk_set_method(d) + ".")
                if kw else None)
