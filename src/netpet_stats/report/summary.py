"""The few lines a finished run prints: where the report is and what it found.

Read from the result tables only (aggregates), so it can be printed on the
console and in the log without showing a patient.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import cohort_is_simulated, competing_risks_settings
from .tables import fmt_p


def _ci(est, lo, hi, digits: int, quantile: bool = False) -> str:
    def text(x, missing):
        return missing if x is None or not np.isfinite(x) else f"{x:.{digits}f}"

    if not np.isfinite(est):
        return "not reached" if quantile else "not estimable"
    return f"{est:.{digits}f} ({text(lo, '—')}–{text(hi, 'NR' if quantile else '—')})"


def run_summary(config: dict, results: str | Path = "results") -> str:
    """Closing lines of a run: the report's path, then per endpoint n, events, the
    median of each group, the primary model's hazard ratios and its Harrell's C.

    Missing tables (a run that stopped early, another configuration) are skipped,
    never guessed.

    Examples
    --------
    >>> from netpet_stats.config import load_config
    >>> print(run_summary(load_config(), "no-such-folder").splitlines()[0])
    Report: no-such-folder/report.html (not written) -- a SIMULATED cohort: no real patients
    """
    results = Path(results)
    unit = config["analysis_time_unit"]
    primary = config["cox"]["primary_model"]
    html, pdf = results / "report.html", results / "report.pdf"
    lines = [f"Report: {html.as_posix()}" + ("" if html.exists() else " (not written)")
             + (f" and {pdf.as_posix()}" if pdf.exists() else "")
             + (" -- a SIMULATED cohort: no real patients" if cohort_is_simulated(config)
                else "")]
    cr = competing_risks_settings(config)
    for ep, spec in config["endpoints"].items():
        km = results / ep / "km_summary.csv"
        if not km.exists():
            continue
        med = pd.read_csv(km).set_index("group")
        total = med.loc["all"] if "all" in med.index else None
        head = f"{spec['label']}: " + (
            f"{int(total['n'])} patients, {int(total['events'])} events. " if total is not None
            else "")
        medians = "; ".join(
            f"{g} {_ci(r['median'], r['median_lower'], r['median_upper'], 1, quantile=True)}"
            for g, r in med.iterrows() if g != "all")
        lines.append(head + f"Median ({unit}, 95% CI): {medians}."
                     + (" Deaths before progression censored: see the competing-risks "
                        "section." if cr is not None and ep == cr["progression"] else ""))
        coefs = results / ep / "cox_coefficients.csv"
        if coefs.exists():
            c = pd.read_csv(coefs)
            rows = c[(c["model"] == primary) & (c["term"] == "netpet_group")]
            if len(rows):
                hrs = "; ".join(f"{r.level} vs {r.reference} {_ci(r.hr, r.hr_lower, r.hr_upper, 2)}"
                                for r in rows.itertuples())
                lines.append(f"  primary model ({rows['model_label'].iloc[0]}): HR {hrs}")
        conc = results / ep / "concordance.csv"
        if conc.exists():
            cc = pd.read_csv(conc)
            row = cc[(cc["estimator"] == "Harrell") & (cc["predictor"] == primary)]
            if len(row):
                r = row.iloc[0]
                lines.append(f"  Harrell's C of the primary model {_ci(r.c, r.lower, r.upper, 3)}"
                             + (f", within {r.strata}" if isinstance(r.strata, str) and r.strata
                                else ""))
        lr = results / ep / "logrank.csv"
        if lr.exists():
            t = pd.read_csv(lr).set_index("test")
            if "log-rank" in t.index:
                lines.append(f"  log-rank test p {fmt_p(t.loc['log-rank', 'p'])}")
    return "\n".join(lines)
