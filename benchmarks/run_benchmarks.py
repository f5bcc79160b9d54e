"""Benchmark: the whole workflow cold, the core analyses at growing n, and R side by side.

    python benchmarks/run_benchmarks.py                 # n = 319, 10,000, 100,000
    python benchmarks/run_benchmarks.py --sizes 319     # quick check (as CI runs it)
    python benchmarks/run_benchmarks.py --sizes 319 10000 100000 1000000 --boot 1000

Prints two tables. (1) Workflow steps: step, n, median wall time over repeats.
(2) Against R: the same kernels on the same data in Python and in R's survival
(``benchmarks/r_benchmark.R`` through ``Rscript``; skipped with a message when R
is absent): Cox fit with SEs (Efron; continuous and whole-month tied times, six
design columns; with delayed entry; with case weights and R's robust SE; Breslow and exact
ties), Kaplan-Meier, log-rank and Harrell's C with delayed entry (and weights),
Harrell's and Uno's C with SE, and the bootstrap loops at the
smallest n; median times, the ratio Python / R, Python's peak memory during the
Cox fit beyond the data already loaded (resident set, Linux), and the largest
difference between the Python and R coefficients. Install R with
``apt-get install r-base-core r-cran-survival``.
Cohorts are drawn from the synthetic generator (seed fixed) with three centres in
proportion 47/33/20%. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from netpet_stats.netpet import synthetic
from netpet_stats.survival import competing_risks, concordance, cox, kaplan_meier, logrank
from netpet_stats.validation import external
from netpet_stats.netpet.scoring import assign_groups, resolve_grouping

ROOT = Path(__file__).resolve().parents[1]
COV = {"netpet_group": {"type": "categorical"},
       "grade": {"type": "categorical", "levels": ["G1", "G2", "G3"]},
       "age": {"type": "continuous", "scale": 10}, "extrahepatic": {"type": "binary"}}


def _timed(fn, repeats):
    """Median over ``repeats`` of the time per evaluation, measured as R's side is.

    As ``timed()`` in r_benchmark.R: a fast ``fn`` is evaluated k times per
    measurement, k grown tenfold until a measurement takes at least 0.2 s, so that
    both languages are timed over the same kind of loop (a single sub-millisecond
    call is mostly timer and cache noise).
    """
    def run(k):
        start = time.perf_counter()
        for _ in range(k):
            fn()
        return time.perf_counter() - start

    k, first = 1, run(1)
    if first >= 0.2:  # a slow step: its first evaluation is the first measurement
        times = [first] + [run(1) for _ in range(repeats - 1)]
        return statistics.median(times), repeats
    while k < 100_000 and run(k) < 0.2:
        k *= 10
    times = [run(k) / k for _ in range(repeats)]
    return statistics.median(times), repeats


def _cohort(n):
    sizes = tuple(int(round(n * p)) for p in (0.47, 0.33))
    sizes = (*sizes, n - sum(sizes))
    cohort, _ = synthetic.generate_cohort(seed=1, centre_sizes=sizes, with_lesions=False)
    import pandas as pd

    data = pd.DataFrame({
        "netpet_group": assign_groups(cohort["netpet"], resolve_grouping("published")),
        "grade": cohort["who_grade"], "age": cohort["age_at_diagnosis"].astype(float),
        "extrahepatic": (cohort["extrahepatic_disease"] == "yes").astype(float),
        "centre": cohort["centre"], "time": cohort["os_months"], "event": cohort["os_event"],
        # progression first (1), death first (2), censored (0), on the TTP clock
        "cr_time": cohort["ttp_months"],
        "cause": np.where(cohort["ttp_event"] == 1, 1,
                          np.where((cohort["os_event"] == 1)
                                   & (cohort["ttp_months"] == cohort["os_months"]), 2, 0)),
    })
    return data.dropna()


def core_rows(n, repeats):
    d = _cohort(n)
    t, e = d["time"].to_numpy(), d["event"].to_numpy()
    g = d["netpet_group"].astype(str).to_numpy()
    groups = ["P1", "P2-4", "P5"]
    fit = cox.fit_cox(d, "time", "event", ["netpet_group", "grade", "age", "extrahepatic"],
                      ["centre"], COV)
    lp = cox.linear_predictor(fit)
    steps = {
        "Kaplan-Meier by group (+ median, CI)": lambda: [
            kaplan_meier.km_quantiles(kaplan_meier.km_table(t[g == k], e[g == k]))
            for k in groups],
        "log-rank: overall, stratified, trend, pairwise": lambda: logrank.logrank_tests(
            t, e, g, groups, strata=d["centre"].to_numpy()),
        "Cox primary model (6 coef, strata, + drop1 LRTs)": lambda: cox.fit_cox(
            d, "time", "event", ["netpet_group", "grade", "age", "extrahepatic"], ["centre"], COV),
        "Harrell's C + IJ SE (model, by centre)": lambda: concordance.harrell_c(
            t, e, lp, strata=d["centre"].to_numpy()),
    }
    rows = []
    for name, fn in steps.items():
        med, reps = _timed(fn, repeats if n <= 10_000 else 1)
        rows.append((name, len(d), med, reps))
    return rows


def _design(d):
    X, _ = cox.design_matrix(d, ["netpet_group", "grade", "age", "extrahepatic"], COV)
    return X.to_numpy()


def _status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_mib_beyond_data(fn):
    """Peak resident memory of ``fn()`` above what the process held before it (MiB).

    Linux: the peak (VmHWM) is reset through /proc/self/clear_refs, so this
    counts every allocation, numpy's and the compiled kernels' alike (tracemalloc
    sees only Python's). Elsewhere: tracemalloc's peak.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _status_kib("VmRSS")
    except OSError:
        import tracemalloc

        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
        tracemalloc.stop()
        return peak
    fn()
    return max(0, _status_kib("VmHWM") - before) / 1024


def memory_probe(n, kind):
    """Peak memory of one Cox fit beyond its loaded data, in a fresh process (MiB).

    A fresh interpreter builds the data, warms the compiled kernel up on 50 rows,
    returns the memory freed meanwhile to the system (glibc ``malloc_trim``), then
    fits once; measured in the benchmark's own process, memory freed by earlier
    fits would be reused and hide the fit's real peak.
    """
    proc = subprocess.run([sys.executable, __file__, "--memory-probe", str(n), kind],
                          capture_output=True, text=True)
    try:
        return float(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return None


def _probe(n, kind):
    d = _cohort(n)
    X = _design(d)
    t, e = d["time"].to_numpy(), d["event"].to_numpy()
    times = np.ceil(t) if kind == "cox_tied" else t
    cox.fit_efron(times[:50], e[:50], X[:50])
    del d
    try:  # glibc: hand memory freed while building the data back to the system first
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    print(peak_mib_beyond_data(lambda: np.sqrt(np.diag(np.linalg.inv(
        cox.fit_efron(times, e, X)[2])))))


#: Horizon of the time-dependent AUC and Brier score (months).
HORIZON = 36.0


def _predicted_survival(t, e, lp):
    """S(HORIZON | lp) of a Cox model with Breslow's baseline: the same numbers for both."""
    order = np.argsort(t)
    risk = np.exp(lp - lp.max())
    at_risk = np.cumsum(risk[order][::-1])[::-1]
    h0 = np.sum((e[order] / at_risk)[t[order] <= HORIZON])
    return np.exp(-h0 * risk)


def entry_and_weights(d):
    """Whole-month entry times (a uniform fraction, up to 60 %, of each patient's time)
    and case weights (uniform on 0.5-2.5) for the Cox rows with delayed entry and
    weights; the same seed for every n."""
    rng = np.random.default_rng(3)
    entry = np.floor(rng.uniform(0, 0.6, len(d)) * d["time"].to_numpy())
    return entry, np.round(rng.uniform(0.5, 2.5, len(d)), 3)


def cox_entry_weight_kernels(d, X, repeats):
    """The Cox fits with delayed entry and with case weights (whole-month times), as
    r_benchmark.R times them: R's ``coxph(Surv(entry, time, event) ~ X)`` with its SEs,
    and ``coxph(Surv(time, event) ~ X, weights = w)`` with the robust SEs R reports by
    default for non-integer weights (the weighted dfbeta's sandwich)."""
    e = d["event"].to_numpy()
    tied = np.ceil(d["time"].to_numpy())
    entry, w = entry_and_weights(d)

    def entry_fit():
        beta, _, info = cox.fit_efron(tied, e, X, entry=entry)
        return beta, np.sqrt(np.diag(np.linalg.inv(info)))

    def weighted_fit():
        beta, _, info = cox.fit_efron(tied, e, X, weights=w)
        dfbeta = (w[:, None] * cox.score_residuals(tied, e, X, beta, weights=w)) \
            @ np.linalg.inv(info)
        return beta, np.sqrt(np.diag(dfbeta.T @ dfbeta))

    def tie_fit(ties):
        beta, _, info = cox.fit_efron(tied, e, X, ties=ties)
        return beta, np.sqrt(np.diag(np.linalg.inv(info)))

    fits = [("cox_entry", entry_fit), ("cox_weights", weighted_fit),
            ("cox_breslow", lambda: tie_fit("breslow"))]
    if len(d) <= EXACT_MAX_N:
        fits.append(("cox_exact", lambda: tie_fit("exact")))
    out = {}
    for name, fn in fits:
        out[name] = (_timed(fn, repeats)[0], None)
        out["coef_" + name] = fn()[0]
    return out


#: Exact ties (the conditional logistic likelihood) are timed up to this n only: the
#: number of subsets at a tied time grows combinatorially (the engine refuses past
#: cox.EXACT_MAX_STEPS), and R's coxph(ties = "exact") with them.
EXACT_MAX_N = 1000


def python_kernels(d, repeats, boot):
    """The kernels R is timed on (r_benchmark.R), in Python: {step: (seconds, peak MiB)}."""
    X = _design(d)
    t, e = d["time"].to_numpy(), d["event"].to_numpy()
    tied = np.ceil(t)

    def cox_fit(times):
        beta, _, info = cox.fit_efron(times, e, X)
        return beta, np.sqrt(np.diag(np.linalg.inv(info)))

    out = {}
    for name, times in (("cox_continuous", t), ("cox_tied", tied)):
        med, _ = _timed(lambda: cox_fit(times), repeats)
        out[name] = (med, memory_probe(len(d), name))
        out["coef_" + name] = cox_fit(times)[0]
    out.update(cox_entry_weight_kernels(d, X, repeats))
    groups = d["netpet_group"].astype(str).to_numpy()
    levels = sorted(set(groups))

    # curves with log CIs and the medians with their CIs of the three groups, at once
    out["km_median"] = (_timed(lambda: kaplan_meier.km_by_group(tied, e, groups, levels),
                               repeats)[0], None)
    out["logrank"] = (_timed(lambda: logrank.logrank_test(tied, e, groups), repeats)[0], None)
    entry, w = entry_and_weights(d)
    out["km_entry"] = (_timed(lambda: kaplan_meier.km_by_group(tied, e, groups, levels,
                                                               entry=entry), repeats)[0], None)
    out["logrank_entry"] = (_timed(lambda: logrank.logrank_test(tied, e, groups, entry=entry),
                                   repeats)[0], None)
    out["logrank_entry_w"] = (_timed(lambda: logrank.logrank_test(
        tied, e, groups, entry=entry, weights=w), repeats)[0], None)
    lp = X @ cox.fit_efron(t, e, X)[0]
    # cox.zph of the same model (the fit itself is timed above)
    frame = d.assign(time=t)
    res = cox.fit_cox(frame, "time", "event", ["netpet_group", "grade", "age", "extrahepatic"],
                      [], COV)
    out["cox_zph"] = (_timed(lambda: cox.ph_test(res, "km"), repeats)[0], None)
    # drop1: the model refitted without each of its four terms (as fit_cox does)
    full = res.design.to_numpy()
    keeps = [[j for j, c in enumerate(res.design.columns) if c not in term.columns]
             for term in res.terms]
    out["drop1"] = (_timed(lambda: [cox.fit_efron(t, e, full[:, k]) for k in keeps],
                           repeats)[0], None)
    out["royston_d"] = (_timed(lambda: external.royston_d(t, e, lp), repeats)[0], None)
    out["calibration_slope"] = (_timed(lambda: external.calibration_slope(t, e, lp),
                                       repeats)[0], None)
    surv = _predicted_survival(t, e, lp)
    out["auc"] = (_timed(lambda: external.time_dependent_auc(t, e, 1 - surv, HORIZON),
                         repeats)[0], None)
    out["brier"] = (_timed(lambda: external.brier_score(t, e, surv, HORIZON), repeats)[0], None)
    cr_t, cause = d["cr_time"].to_numpy(), d["cause"].to_numpy()
    out["aalen_johansen"] = (_timed(lambda: competing_risks.aalen_johansen(
        np.ceil(cr_t), cause, groups, levels), repeats)[0], None)
    out["gray"] = (_timed(lambda: competing_risks.gray_test(np.ceil(cr_t), cause, groups),
                          repeats)[0], None)
    out["fine_gray"] = (_timed(lambda: competing_risks.fine_gray(cr_t, cause, X),
                               repeats)[0], None)
    out["coef_fine_gray"] = competing_risks.fine_gray(cr_t, cause, X).beta
    out["harrell_c"] = (_timed(lambda: concordance.harrell_c(t, e, lp), repeats)[0], None)
    out["uno_c"] = (_timed(lambda: concordance.uno_c(t, e, lp),
                           repeats)[0], None)
    out["harrell_c_entry"] = (_timed(lambda: concordance.harrell_c(t, e, lp, entry=entry),
                                     repeats)[0], None)
    out["harrell_c_entry_w"] = (_timed(lambda: concordance.harrell_c(
        t, e, lp, entry=entry, weights=w), repeats)[0], None)
    if boot:
        rng = np.random.default_rng(1)
        n = t.size

        def boot_c():
            for _ in range(boot):
                i = rng.integers(0, n, n)
                concordance.harrell_c(t[i], e[i], lp[i])

        def boot_cox():
            for _ in range(boot):
                i = rng.integers(0, n, n)
                cox.fit_efron(t[i], e[i], X[i])

        out["boot_c"] = (_timed(boot_c, 1)[0], None)
        out["boot_cox"] = (_timed(boot_cox, 1)[0], None)
    return out


def r_kernels(d, repeats, boot, only="all"):
    """The same kernels in R; None when Rscript or the survival package is missing.
    ``only="api"``: only the public calls of :func:`api_calls` (``api_<name>``)."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    X = _design(d)
    import pandas as pd

    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(1, 7)])
    t, e = d["time"].to_numpy(), d["event"].to_numpy()
    frame.insert(0, "surv36", _predicted_survival(t, e, X @ cox.fit_efron(t, e, X)[0]))
    frame.insert(0, "group", d["netpet_group"].astype(str).to_numpy())
    frame.insert(0, "event", d["event"].to_numpy())
    frame.insert(0, "time_tied", np.ceil(d["time"].to_numpy()))
    frame.insert(0, "time", d["time"].to_numpy())
    frame["cr_time"], frame["cause"] = d["cr_time"].to_numpy(), d["cause"].to_numpy()
    frame["entry_tied"], frame["w"] = entry_and_weights(d)
    return run_r_script("r_benchmark.R", frame, repeats, boot, only)


def run_r_script(script: str, frame, *args):
    """Run ``benchmarks/<script>`` on ``frame`` (written as CSV, full precision) with
    ``args``; its lines ``step<TAB>seconds`` and ``coef_<step><TAB>values`` as a dict, or
    None (with the reason on stderr) when R fails."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        frame.to_csv(path, index=False, float_format="%.17g")
        proc = subprocess.run([shutil.which("Rscript"), str(ROOT / "benchmarks" / script),
                               str(path), *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"R benchmark failed, skipped: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    out = {}
    for key, value in (line.split("\t") for line in proc.stdout.splitlines()):
        out[key] = (np.array([float(v) for v in value.split(",")]) if key.startswith("coef_")
                    else float(value))
    return out


#: Times at which the user's cumulative incidence is read (months).
CIF_TIMES = [12.0, 24.0, 36.0]


def api_frame(d):
    """The analysis frame as a user holds it: the columns the public calls take."""
    X = _design(d)
    t, e = d["time"].to_numpy(), d["event"].to_numpy()
    return d.assign(time_tied=np.ceil(d["time"]), cr_tied=np.ceil(d["cr_time"]),
                    group=d["netpet_group"].astype(str),
                    lp=X @ cox.fit_efron(t, e, X)[0])


def api_calls(d):
    """The calls a user of the library writes, on the columns of a data frame, each
    beside the R call r_benchmark.R times (``api_<name>``): {name: function}."""
    import netpet_stats as ns

    u = api_frame(d)
    fit = ns.fit_cox(u, "time", "event", ["netpet_group", "grade", "age", "extrahepatic"],
                     [], COV)
    labels = {1: "progression", 2: "death"}

    def km():  # R: quantile(survfit(Surv(time_tied, event) ~ group, data = d), 0.5)
        return [ns.km_quantiles(ns.km_table(part["time_tied"], part["event"]))
                for _, part in u.groupby("group")]

    return {
        "km": km,
        "zph": lambda: ns.ph_test(fit, "km"),  # R: cox.zph(fit, transform = "km")
        # R: summary(survfit(Surv(cr_tied, factor(cause)) ~ group, data = d), times = ...)
        "aj": lambda: ns.cumulative_incidence_at(ns.aalen_johansen(
            u["cr_tied"], u["cause"], u["group"], cause_labels=labels), CIF_TIMES),
        "gray": lambda: ns.gray_test(u["cr_tied"], u["cause"], u["group"]),  # R: cuminc
        "harrell": lambda: ns.harrell_c(u["time"], u["event"], u["lp"]),  # R: concordance
    }


def api_overheads(d):
    """What each public call spends besides its estimate, timed apart on the same data:
    {name: {"checks": f, "labels": f, "frames": f}} (a part a call does not have is
    absent). ``checks``: reading and checking the input (the check the call runs);
    ``labels``: finding the groups (for the Kaplan-Meier curves the user's split of
    the frame by group, ``groupby``); ``frames``: building the returned tables from their
    columns, already computed."""
    import pandas as pd

    from netpet_stats.survival import _frames
    from netpet_stats.survival._checks import check_survival

    u = api_frame(d)
    parts = [(part["time_tied"], part["event"]) for _, part in u.groupby("group")]
    curves = [kaplan_meier.km_table(t, e) for t, e in parts]
    km_columns = [{k: c[k].to_numpy() for k in c.columns} for c in curves]
    quantile_columns = [{k: q[k].to_numpy() for k in q.columns}
                        for q in (kaplan_meier.km_quantiles(c) for c in curves)]
    fit = cox.fit_cox(u, "time", "event", ["netpet_group", "grade", "age", "extrahepatic"],
                      [], COV)
    zph = cox.ph_test(fit, "km")
    zph_columns = {k: zph[k].to_numpy() for k in zph.columns}
    aj = competing_risks.aalen_johansen(u["cr_tied"], u["cause"], u["group"],
                                        cause_labels={1: "progression", 2: "death"})
    aj_columns = {k: aj[k].to_numpy() for k in aj.columns}
    at = competing_risks.cumulative_incidence_at(aj, CIF_TIMES)
    at_columns = {k: at[k].to_numpy() for k in at.columns}

    def fresh(columns):  # the frame the call builds from these columns (then dropped)
        return _frames.frame(dict(columns))

    def fit_input():  # what ph_test reads from the fit before its sums
        fit.frame["__time"].to_numpy(), fit.frame["__event"].to_numpy()
        return fit.design.to_numpy(), cox.fit_entry(fit), cox.fit_weights(fit)

    def cr_groups():
        codes, distinct = pd.factorize(u["group"].to_numpy().astype(object))
        return codes, sorted(distinct, key=str)

    return {
        "km": {"checks": lambda: [check_survival("km_table", t, e) for t, e in parts],
               "labels": lambda: [(part["time_tied"], part["event"])
                                  for _, part in u.groupby("group")],
               "frames": lambda: [(fresh(a), fresh(b))
                                  for a, b in zip(km_columns, quantile_columns)]},
        "zph": {"checks": fit_input, "frames": lambda: fresh(zph_columns)},
        "aj": {"checks": lambda: competing_risks._checked(
                   "aalen_johansen", u["cr_tied"], u["cause"], group=u["group"]),
               "labels": cr_groups,
               "frames": lambda: (fresh(aj_columns), fresh(at_columns))},
        "gray": {"checks": lambda: competing_risks._checked(
                     "gray_test", u["cr_tied"], u["cause"], fix_times=False,
                     group=u["group"]),
                 "labels": cr_groups},
        "harrell": {"checks": lambda: check_survival("harrell_c", u["time"], u["event"],
                                                     x=(u["lp"], True))},
    }


API_LABELS = {
    "km": "km_table per group + km_quantiles (R survfit(~ group) + quantile)",
    "zph": "ph_test(fit, 'km') (R cox.zph)",
    "aj": "aalen_johansen + cumulative_incidence_at (R survfit, factor status, summary)",
    "gray": "gray_test (R cmprsk::cuminc)",
    "harrell": "harrell_c with SE (R concordance)",
}


def api_rows(sizes, repeats, rounds=2):
    """The public calls against R, with their overhead: rows of (label, n, python s,
    R s or None, {part: s}).

    Each side is timed as the other rows are (:func:`_timed`, R's ``timed``), in
    ``rounds`` interleaved rounds (Python, R, Python, R), and the lower median of each
    side is kept: on a shared machine a load that comes and goes between the two runs
    would otherwise decide the ratio.
    """
    rows = []
    have_r = shutil.which("Rscript") is not None
    for n in sizes:
        d = _cohort(n)
        reps = repeats if n <= 100_000 else 1
        calls, overheads = api_calls(d), api_overheads(d)
        py, r = {}, {}
        for _ in range(rounds):
            for name, fn in calls.items():
                py[name] = min(py.get(name, np.inf), _timed(fn, reps)[0])
            got = r_kernels(d, reps, 0, only="api") if have_r else None
            for key, sec in (got or {}).items():
                r[key] = min(r.get(key, np.inf), sec)
        for name in calls:
            parts = {part: _timed(f, reps)[0] for part, f in overheads[name].items()}
            rows.append((API_LABELS[name], len(d), py[name], r.get("api_" + name), parts))
    return rows


def print_api_rows(rows):
    width = max(len(r[0]) for r in rows)
    print(f"{'public call (as a user writes it)':<{width}}  {'n':>8}  {'python s':>9}  "
          f"{'R s':>9}  {'py/R':>6}  {'checks s':>9}  {'labels s':>9}  {'frames s':>9}")
    for name, n, sec, r_sec, parts in rows:
        r_txt = "—" if r_sec is None else f"{r_sec:.5f}"
        ratio = "—" if not r_sec else f"{sec / r_sec:.2f}"
        over = "  ".join(f"{parts[p]:>9.5f}" if p in parts else f"{'—':>9}"
                         for p in ("checks", "labels", "frames"))
        print(f"{name:<{width}}  {n:>8}  {sec:>9.5f}  {r_txt:>9}  {ratio:>6}  {over}")


STEP_LABELS = {
    "cox_continuous": "Cox fit + SE, 6 coef, continuous times",
    "cox_tied": "Cox fit + SE, 6 coef, whole-month ties",
    "cox_entry": "Cox fit + SE, 6 coef, ties, delayed entry",
    "cox_weights": "Cox fit + robust SE, 6 coef, ties, case weights",
    "cox_breslow": "Cox fit + SE, 6 coef, whole-month ties, Breslow (SAS, Stata)",
    "cox_exact": "Cox fit + SE, 6 coef, whole-month ties, exact (n <= 1000)",
    "km_median": "Kaplan-Meier + median with CI, 3 groups (tied)",
    "logrank": "log-rank, 3 groups (tied)",
    "km_entry": "Kaplan-Meier + median with CI, 3 groups (tied), delayed entry",
    "logrank_entry": "log-rank, 3 groups (tied), delayed entry (R: coxph score, Breslow)",
    "logrank_entry_w": "log-rank, 3 groups (tied), entry + weights (coxph score, Breslow)",
    "cox_zph": "cox.zph: PH score tests per term + global",
    "drop1": "drop1: LRT of each of 4 terms (4 refits)",
    "royston_d": "Royston's D + SE",
    "calibration_slope": "calibration slope (Cox on lp) + CI",
    "auc": "time-dependent AUC at 36 months (IPCW)",
    "brier": "Brier score + IPA at 36 months (IPCW)",
    "aalen_johansen": "Aalen-Johansen CIF + IJ SE, 3 groups (tied)",
    "gray": "Gray's test, 3 groups (tied)",
    "fine_gray": "Fine-Gray, 6 coef, robust SE (R: finegray + coxph)",
    "harrell_c": "Harrell's C + SE",
    "uno_c": "Uno's C + SE",
    "harrell_c_entry": "Harrell's C + SE, delayed entry",
    "harrell_c_entry_w": "Harrell's C + SE, delayed entry + case weights",
    "boot_c": "bootstrap loop: C (per {boot} resamples)",
    "boot_cox": "bootstrap loop: Cox refit (per {boot} resamples)",
}


def against_r(sizes, repeats, boot):
    rows = []
    have_r = shutil.which("Rscript") is not None
    if not have_r:
        print("Rscript not found: the comparison with R is skipped "
              "(apt-get install r-base-core r-cran-survival).")
    for k, n in enumerate(sizes):
        d = _cohort(n)
        b = boot if k == 0 else 0
        reps = repeats if n <= 100_000 else 1
        py = python_kernels(d, reps, b)
        r = r_kernels(d, reps, b) if have_r else None
        for step, value in py.items():
            if step.startswith("coef_"):
                continue
            sec, peak = value
            r_sec = None if r is None else r.get(step)
            diff = None
            if r is not None and "coef_" + step in r:
                diff = float(np.max(np.abs(py["coef_" + step] - r["coef_" + step])))
            rows.append((STEP_LABELS[step].format(boot=b), len(d), sec, r_sec, peak, diff))
    return rows


CORE_TARGETS = [f"results/{ep}/{name}.csv" for ep in ("os", "ttp")
                for name in ("km_summary", "logrank", "cox_coefficients", "concordance")]


def _snakemake_cold(targets=(), dry_run=False, figure_edit=False):
    """Seconds of ``snakemake --cores 2`` on a fresh copy of the workflow, as a list:
    the cold run, then with ``figure_edit`` the rerun in the same folder with another
    figure width (``figures.width: single``), what a user waits for after a
    figure-only edit."""
    with tempfile.TemporaryDirectory() as tmp:
        for item in ("Snakefile", "workflow", "config", "data"):
            src = ROOT / item
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, Path(tmp) / item)

        def run(*extra):
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "-q",
                                   *(["-n"] if dry_run else []), *extra, "--", *targets],
                                  cwd=tmp, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(proc.stderr[-2000:])
            return elapsed

        seconds = [run()]
        if figure_edit:
            (Path(tmp) / "single.yaml").write_text("figures: {width: single}\n")
            seconds.append(run("--configfile", "config/config.yaml", "single.yaml"))
    return seconds


def _r_script_seconds():
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    start = time.perf_counter()
    proc = subprocess.run([rscript, str(ROOT / "benchmarks" / "r_full_analysis.R"),
                           str(ROOT / "data" / "synthetic" / "cohort.csv")],
                          capture_output=True, text=True)
    return time.perf_counter() - start if proc.returncode == 0 else None


def workflow_rows(repeats=3):
    """Whole workflow cold; the analyses R's script also does; R's script (with start-up).

    The short runs are interleaved and their medians reported: on a shared machine
    one run of a few seconds can be off by 20 %.
    """
    core, dry, r = [], [], []
    for _ in range(repeats):
        core.append(_snakemake_cold(CORE_TARGETS)[0])
        dry.append(_snakemake_cold(CORE_TARGETS, dry_run=True)[0])
        r.append(_r_script_seconds())
    cold, figure_edit = _snakemake_cold(figure_edit=True)
    rows = [("whole workflow, cold (snakemake --cores 2)", 319, cold, 1),
            ("whole workflow, rerun after a figure-width edit", 319, figure_edit, 1),
            ("workflow: KM, log-rank, Cox, C only (cold)", 319, float(np.median(core)), repeats),
            ("  of which Snakemake's start (the same, dry run)", 319, float(np.median(dry)),
             repeats)]
    if None not in r:
        rows.append(("R script: KM, log-rank, Cox, C (r_full_analysis.R)", 319,
                     float(np.median(r)), repeats))
    return rows


def resampling_rows(n, n_boot, cores=(1, 2)):
    """Bootstrap optimism against its budget: resamples x (one refit + its measures) / cores.

    The unit is the work of one resample, timed alone: read the resample (drawn in time
    order) off the original data's sort, refit the Cox model on it from the original
    coefficients and compute C and the calibration slope in the resample and in the
    original data (sorted once, outside the unit), what ``optimism_bootstrap`` does per
    resample. The ratio is the
    bootstrap's wall time over ``n_boot * unit / cores``; the target is <= 1.10.
    """
    from netpet_stats.validation import internal
    from netpet_stats.validation._progress import bootstrap_draws

    d = _cohort(n)
    X = _design(d)
    t, e = d["time"].to_numpy(), d["event"].to_numpy()
    order = internal._time_order(t)
    ts, es, Xs = t[order], e[order], X[order]
    whole = internal._Sample(ts, es, Xs, None, "efron")
    beta = whole.fit()
    dot = cox.PatternDot(Xs)
    idx = next(bootstrap_draws(np.random.default_rng(7), t.size, 1, order))

    def one_resample():
        resample = whole.resample(idx, None)
        values = dot.values(resample.fit(start=beta))
        resample.performance(values, dot.inverse[idx])
        whole.performance(values, dot.inverse)

    unit, _ = _timed(one_resample, 5)
    rows = []
    for k in cores:
        start = time.perf_counter()
        internal.optimism_bootstrap(t, e, X, n_boot=n_boot, seed=1, threads=k)
        wall = time.perf_counter() - start
        budget = n_boot * unit / k
        rows.append((f"bootstrap optimism, {n_boot} resamples, {k} thread(s)", len(d), wall,
                     budget, wall / budget))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[319, 10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-workflow", action="store_true")
    parser.add_argument("--boot", type=int, default=1000,
                        help="bootstrap resamples timed at the smallest size (0: none)")
    parser.add_argument("--no-r", action="store_true", help="skip the comparison with R")
    parser.add_argument("--api-only", action="store_true",
                        help="only the public calls against R, with their overhead")
    parser.add_argument("--memory-probe", nargs=2, metavar=("N", "KIND"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_probe:
        _probe(int(args.memory_probe[0]), args.memory_probe[1])
        return
    if args.api_only:
        print_api_rows(api_rows(args.sizes, args.repeats))
        return
    rows = [] if args.no_workflow else workflow_rows()
    for n in args.sizes:
        rows += core_rows(n, args.repeats)
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  {'n':>8}  {'seconds':>9}  repeats")
    for name, n, sec, reps in rows:
        print(f"{name:<{width}}  {n:>8}  {sec:>9.3f}  {reps}")
    if not args.no_r:
        comparison = against_r(args.sizes, args.repeats, args.boot)
        width = max(len(r[0]) for r in comparison)
        print()
        print(f"{'kernel (same data in Python and R)':<{width}}  {'n':>8}  {'python s':>9}  "
              f"{'R s':>9}  {'py/R':>6}  {'peak MiB':>8}  {'max |b_py - b_R|':>16}")
        for name, n, sec, r_sec, peak, diff in comparison:
            r_txt = "—" if r_sec is None else f"{r_sec:.4f}"
            ratio = "—" if not r_sec else f"{sec / r_sec:.2f}"
            peak_txt = "" if peak is None else f"{peak:.1f}"
            diff_txt = "" if diff is None else f"{diff:.1e}"
            print(f"{name:<{width}}  {n:>8}  {sec:>9.4f}  {r_txt:>9}  {ratio:>6}  {peak_txt:>8}  "
                  f"{diff_txt:>16}")
        print()
        print_api_rows(api_rows(args.sizes, args.repeats))
    if args.boot:
        rows = [r for n in args.sizes[:2] for r in resampling_rows(n, args.boot)]
        width = max(len(r[0]) for r in rows)
        print()
        print(f"{'resampling against its budget (target <= 1.10)':<{width}}  {'n':>8}  "
              f"{'wall s':>8}  {'budget s':>8}  {'ratio':>6}")
        for name, n, wall, budget, ratio in rows:
            print(f"{name:<{width}}  {n:>8}  {wall:>8.3f}  {budget:>8.3f}  {ratio:>6.2f}")
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
