"""Benchmark: one Fine-Gray fit on N synthetic patients, CPU time and peak memory.

    python benchmarks/fine_gray.py 1000000             # 10^6 patients, p = 10
    python benchmarks/fine_gray.py 100000 --p 8 --strata 3 --baseline

Each fit runs in a fresh interpreter (``ru_maxrss`` is the peak of that process
only): ``fine_gray`` (and with ``--baseline`` then ``fine_gray_baseline`` at the
estimate, timed on its own). The cohort: standard normal covariates, the first
binary, the second an age (mean 60, sd 10: a column far from zero, as in the
registry); event times of interest exponential with a proportional hazard,
competing event times exponential, uniform censoring, all rounded up to whole
days (many tied times); about 10% events of interest and 10% competing events.
Prints the CPU seconds (``time.process_time``, all threads), the wall seconds and
the peak resident memory before and after the fit. Not a test: nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
n, p, strata_k, seed, baseline = json.loads(sys.argv[1])
rng = np.random.default_rng(seed)
X = rng.normal(size=(n, p))
X[:, 0] = rng.integers(0, 2, n)
if p > 2:
    X[:, 1] = 60 + 10 * rng.normal(size=n)
beta = np.linspace(-0.3, 0.3, p) / np.r_[1, 10, np.ones(p - 2)][:p]
lp = X @ beta
lp -= lp.mean()
t_event = rng.exponential(10000 * np.exp(-lp))
t_competing = rng.exponential(10000, n)
t_censor = rng.uniform(0, 2500, n)
t = np.minimum(np.minimum(t_event, t_competing), t_censor)
cause = np.where(t == t_censor, 0, np.where(t == t_event, 1, 2))
t = np.ceil(t)
strata = rng.integers(0, strata_k, n) if strata_k > 1 else None
from netpet_stats.survival.competing_risks import fine_gray, fine_gray_baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cpu, wall = time.process_time(), time.perf_counter()
fit = fine_gray(t, cause, X, 1, strata=strata)
out = {"fit_cpu": time.process_time() - cpu, "fit_wall": time.perf_counter() - wall}
if baseline:
    cpu, wall = time.process_time(), time.perf_counter()
    fine_gray_baseline(t, cause, X, fit.beta, 1, strata=strata)
    out.update(baseline_cpu=time.process_time() - cpu, baseline_wall=time.perf_counter() - wall)
out.update(rss_before_mb=before / 1024,
           rss_peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           events=int((cause == 1).sum()), competing=int((cause == 2).sum()),
           event_times=int(np.unique(t[cause == 1]).size))
print(json.dumps(out))
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--p", type=int, default=10, help="covariates (default 10)")
    parser.add_argument("--strata", type=int, default=1, help="strata (default 1: none)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--baseline", action="store_true",
                        help="also time fine_gray_baseline at the estimate")
    args = parser.parse_args(argv)
    spec = json.dumps([args.n, args.p, args.strata, args.seed, args.baseline])
    proc = subprocess.run([sys.executable, "-c", CHILD, spec], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"fine_gray on n = {args.n}, p = {args.p}, strata = {args.strata}: {r['events']} "
          f"events, {r['competing']} competing, {r['event_times']} distinct event times")
    print(f"  fit      CPU {r['fit_cpu']:7.2f} s   wall {r['fit_wall']:7.2f} s")
    if args.baseline:
        print(f"  baseline CPU {r['baseline_cpu']:7.2f} s   wall {r['baseline_wall']:7.2f} s")
    print(f"  peak memory {r['rss_peak_mb']:.0f} MB (cohort drawn: {r['rss_before_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
