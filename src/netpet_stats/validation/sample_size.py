"""How large should an external validation cohort be? Simulation from a frozen model.

The simulation-based framework of Riley et al. (Stat Med 2022;41:1280-95,
"Minimum sample size calculations for external validation of a clinical
prediction model with a time-to-event outcome"), with the rule of thumb of
Collins, Ogundimu & Altman (Stat Med 2016;35:214-26: at least 100, preferably
200, events) shown beside it:

1. Assume the validation population: the model's linear predictor is normal
   with the mean and SD of the development cohort (Riley et al., section 3.2),
   the event times follow the model itself, ``S(t | lp) = S0(t) ** exp(lp)``
   with the frozen baseline S0 (cumulative hazard interpolated linearly between
   the stored grid times), follow-up ends at the last stored time, and random
   censoring is exponential with the rate that gives the chosen expected
   proportion of patients with an observed event (the "event fraction").
2. For each size n in a grid and each event fraction, simulate many validation
   cohorts and compute in each the measures the validate mode reports: the
   calibration slope (``coxph(Surv(time, status) ~ lp)``), Harrell's C over
   pairs whose earlier event is by the horizon (with its infinitesimal-jackknife
   SE) and O/E at the horizon (Greenwood SE on the log scale); record each
   95% CI width.
3. The minimum size is the smallest n whose mean CI width reaches the target
   for every measure (Riley et al. target the slope; C and O/E are their
   secondary checks).

Differences from Riley et al., stated in every output: the slope is the Cox
calibration slope on the linear predictor (what :mod:`netpet_stats.validation`
reports), not the slope of pseudo-observations on the log cumulative hazard
scale at one time; and the answer is read off the grid (no search between grid
points). The model is assumed correct in the validation population (slope 1,
O/E 1), as in Riley et al.'s base case.

No library does this for a frozen Cox model (R's ``pmvalsampsize`` covers
binary outcomes only), hence this module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import external
from ..survival.concordance import harrell_c
from ..survival.cox import CoxConvergenceWarning, CoxFitError
from .frozen_model import ModelMismatchError

log = logging.getLogger(__name__)

METHOD = ("Simulation from the frozen model (Riley et al., Stat Med 2022;41:1280): linear "
          "predictor ~ Normal(development mean, SD); event times from S0(t)^exp(lp), cumulative "
          "hazard linear between grid times; follow-up ends at the last grid time; exponential "
          "random censoring tuned to the event fraction. Per cohort: Cox calibration slope "
          "(coxph(Surv ~ lp), Efron), Harrell's C with infinitesimal-jackknife SE over pairs "
          "whose earlier event is by the horizon, O/E at the horizon (Greenwood SE of log O/E); "
          "Wald 95% CI widths. Minimum n: smallest n in the grid whose mean width reaches the "
          "target for every measure. Rule of thumb: >= 100, preferably 200, events (Collins "
          "et al., Stat Med 2016)")

MEASURES = ("slope", "c", "o_e")
MEASURE_LABELS = {"slope": "calibration slope", "c": "Harrell's C", "o_e": "O/E"}


@dataclass(frozen=True)
class Scenario:
    """The assumed validation population (see the module docstring).

    Attributes
    ----------
    lp_mean, lp_sd
        Normal distribution of the linear predictor.
    times, cumhaz
        Baseline cumulative hazard H0 on a grid starting at 0; linear in between;
        follow-up ends at ``times[-1]``.
    horizon
        Time of the O/E ratio and the end of the pairs used by C.
    """

    lp_mean: float
    lp_sd: float
    times: np.ndarray
    cumhaz: np.ndarray
    horizon: float

    @property
    def follow_up(self) -> float:
        return float(self.times[-1])

    def baseline_cumhaz(self, t) -> np.ndarray:
        return np.interp(t, self.times, self.cumhaz)

    def event_times(self, target) -> np.ndarray:
        """Times at which H0 reaches ``target`` (inf beyond follow-up)."""
        target = np.asarray(target, float)
        h, t = self.cumhaz, self.times
        # Segment k with H0[k] < target <= H0[k+1]; a flat stretch of H0 holds no
        # target strictly inside, so the inverse jumps across it (np.interp would
        # interpolate over it instead).
        k = np.clip(np.searchsorted(h, target, side="left") - 1, 0, len(h) - 2)
        rise = h[k + 1] - h[k]
        share = np.divide(target - h[k], rise, out=np.zeros_like(target), where=rise > 0)
        out = t[k] + share * (t[k + 1] - t[k])
        return np.where(target > h[-1], np.inf, out)


def scenario_from_model(model: dict, horizon: float | None = None,
                        lp_sd: float | None = None) -> Scenario:
    """The validation population implied by a frozen model (:mod:`frozen_model`).

    Uses the baseline survival curve stored on a grid (``curve_step``) when
    present, else S0 at the stored horizons with S0(0) = 1; the linear predictor
    distribution of the development cohort unless ``lp_sd`` is given.

    Raises
    ------
    ModelMismatchError
        For a stratified model, a horizon beyond the stored baseline survival, or
        a model file (e.g. written by hand) without its linear predictor's mean and SD.
    """
    strata = model.get("strata")
    if strata and len(strata) > 1:
        raise ModelMismatchError(f"model {model.get('name')!r} has strata {list(strata)}; the "
                                 "simulation needs an unstratified model (one baseline survival)")
    base = model["baseline_survival"]
    curve = base.get("curve")
    if curve:
        times = np.asarray(curve["times"], float)
        surv = np.asarray(next(iter(curve["survival"].values())), float)
    else:
        times = np.asarray([0.0, *base["horizons"]], float)
        surv = np.asarray([1.0, *next(iter(base["survival"].values()))], float)
    if times[0] > 0:
        times, surv = np.r_[0.0, times], np.r_[1.0, surv]
    lp = (model.get("development") or {}).get("linear_predictor") or {}
    if "mean" not in lp or ("sd" not in lp and lp_sd is None):
        raise ModelMismatchError(f"model {model.get('name')!r} does not give the mean and SD of "
                                 "its linear predictor (development.linear_predictor: mean, sd), "
                                 "which the simulation draws from; add them to the model file "
                                 "or set sample_size.enabled: false")
    horizon = float(max(base["horizons"]) if horizon is None else horizon)
    if horizon > times[-1]:
        raise ModelMismatchError(f"sample_size.horizon {horizon:g} is beyond the model's "
                                 f"baseline survival (last time {times[-1]:g})")
    return Scenario(lp_mean=float(lp["mean"]), lp_sd=float(lp["sd"] if lp_sd is None else lp_sd),
                    times=times, cumhaz=-np.log(surv), horizon=horizon)


def event_fraction(scenario: Scenario, censor_rate: float, grid: int = 4000,
                   nodes: int = 60) -> float:
    """Expected share of patients whose event is observed, by numerical integration.

    P(T <= min(C, tau)) = E_lp integral_0^tau exp(-r t) dF(t | lp), with
    Gauss-Hermite quadrature over the normal linear predictor and the
    trapezoid rule over a fine time grid.
    """
    t = np.linspace(0.0, scenario.follow_up, grid + 1)
    h0 = scenario.baseline_cumhaz(t)
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    lp = scenario.lp_mean + scenario.lp_sd * x
    surv = np.exp(-np.outer(np.exp(lp), h0))            # nodes x times
    drop = surv[:, :-1] - surv[:, 1:]                    # P(event in each interval)
    weight = np.exp(-censor_rate * 0.5 * (t[:-1] + t[1:]))
    return float(w @ (drop @ weight) / w.sum())


def censoring_rate(scenario: Scenario, target: float) -> float | None:
    """Exponential censoring rate giving the expected event fraction ``target``.

    None when ``target`` exceeds the share with an event by the end of
    follow-up without any random censoring (the most the model allows).
    """
    top = event_fraction(scenario, 0.0)
    if target > top:
        return None
    if np.isclose(target, top, rtol=0, atol=1e-12):
        return 0.0
    hi = 1.0 / scenario.follow_up
    while event_fraction(scenario, hi) > target:
        hi *= 2
    # imported here: the report reads this module's labels and should not load scipy
    from scipy import optimize

    return float(optimize.brentq(lambda r: event_fraction(scenario, r) - target, 0.0, hi,
                                 xtol=1e-12, rtol=1e-10))


def simulate_cohort(scenario: Scenario, n: int, censor_rate: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One validation cohort: ``time, event, lp`` (see the module docstring)."""
    lp = rng.normal(scenario.lp_mean, scenario.lp_sd, n)
    t_event = scenario.event_times(rng.standard_exponential(n) * np.exp(-lp))
    t_cens = (rng.exponential(1.0 / censor_rate, n) if censor_rate > 0
              else np.full(n, np.inf))
    end = np.minimum(t_cens, scenario.follow_up)
    event = (t_event <= end).astype(float)
    return np.where(event == 1, t_event, end), event, lp


def performance(time, event, lp, scenario: Scenario, conf_level: float = 0.95) -> dict:
    """Calibration slope, Harrell's C and O/E of the true model in one cohort, with CI widths."""
    slope = external.calibration_slope(time, event, lp, conf_level)
    c = harrell_c(time, event, lp, ymax=scenario.horizon, conf_level=conf_level)
    predicted = np.exp(-scenario.baseline_cumhaz(scenario.horizon) * np.exp(lp))
    oe = external.observed_expected(time, event, predicted, scenario.horizon, conf_level)
    return {"events": int(event.sum()),
            "slope": slope["estimate"], "slope_width": slope["upper"] - slope["lower"],
            "c": c["estimate"], "c_width": c["upper"] - c["lower"],
            "o_e": oe["estimate"], "o_e_width": oe["upper"] - oe["lower"]}


def cell_seed(seed: int, n: int, fraction: float) -> np.random.SeedSequence:
    """Seed of one grid cell, independent of the order in which cells run."""
    return np.random.SeedSequence([int(seed), int(n), int(round(fraction * 1_000_000))])


def simulate_cell(scenario: Scenario, n: int, fraction: float, n_sim: int, seed: int,
                  conf_level: float = 0.95, progress: bool = False,
                  log_cell: bool = True) -> pd.DataFrame:
    """``n_sim`` validation cohorts of size ``n`` at one event fraction: one row each.

    A cohort whose slope cannot be estimated (no events, or a likelihood without
    a finite maximum) keeps its row with ``status`` saying why and missing
    measures, so every simulated cohort is accounted for. An infeasible event
    fraction gives one row with ``status = "infeasible: ..."``. ``log_cell``: log
    a line on the cell (its censoring rate and cohorts not estimable).
    """
    import warnings

    rate = censoring_rate(scenario, fraction)
    base = {"n": n, "event_fraction": fraction}
    if rate is None:
        top = event_fraction(scenario, 0.0)
        return pd.DataFrame([{**base, "censor_rate": np.nan, "sim": np.nan,
                              "status": f"infeasible: the model gives at most {top:.3f} events "
                                        f"per patient by the end of follow-up"}])
    rng = np.random.default_rng(cell_seed(seed, n, fraction))
    rows = []
    sims = range(n_sim)
    if progress:
        from ._progress import progress

        sims = progress(sims, n_sim, f"n={n} events={fraction:g}", True)
    for i in sims:
        time, event, lp = simulate_cohort(scenario, n, rate, rng)
        row = {**base, "censor_rate": rate, "sim": i, "status": "ok"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", CoxConvergenceWarning)
                row.update(performance(time, event, lp, scenario, conf_level))
        except (CoxFitError, CoxConvergenceWarning, ZeroDivisionError,
                FloatingPointError) as exc:
            row.update({"events": int(event.sum()), "status": f"not estimable: {exc}"})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if log_cell:
        _log_cell(frame, seed)
    return frame


def _log_cell(frame: pd.DataFrame, seed: int) -> None:
    """The log line of a simulated cell (none for an infeasible one)."""
    if frame["status"].iloc[0].startswith("infeasible"):
        return
    n, fraction = int(frame["n"].iloc[0]), float(frame["event_fraction"].iloc[0])
    failed = int((frame["status"] != "ok").sum())
    log.info("sample size n=%d, event fraction %g: %d cohorts (censoring rate %.6g, seed %d), "
             "%d not estimable", n, fraction, len(frame), frame["censor_rate"].iloc[0], seed,
             failed)


def _load_compiled(scenario: Scenario, conf_level: float) -> None:
    """Load the compiled survival loops here, before worker processes are forked.

    The workers then inherit them instead of each importing numba and loading its
    cache (about 0.4 s of CPU per process). They are loaded the way a cell loads
    them, by one small cohort through :func:`performance`: a call with other
    argument types could compile a new version of a loop instead of loading the
    cached one. The cohort (no random censoring) comes from a generator of its
    own, so no cell's stream is touched, and its result is discarded.
    """
    import warnings

    from ..survival._numpy_kernels import prefer_compiled

    prefer_compiled()
    time, event, lp = simulate_cohort(scenario, 100, 0.0, np.random.default_rng(0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            performance(time, event, lp, scenario, conf_level)
    except (CoxFitError, ZeroDivisionError, FloatingPointError):
        pass        # a cohort without events: the cells load what is still missing


def simulate_grid(scenario: Scenario, sizes, fractions, n_sim: int, seed: int,
                  conf_level: float = 0.95, threads: int = 1,
                  progress: bool = False) -> pd.DataFrame:
    """Every cell of the grid ``sizes`` x ``fractions``: :func:`simulate_cell`, one frame.

    Parameters
    ----------
    scenario
        The assumed validation population (:func:`scenario_from_model`).
    sizes, fractions
        The grid: cohort sizes and expected event fractions.
    n_sim, seed, conf_level
        As in :func:`simulate_cell`; each cell draws from its own stream
        (:func:`cell_seed`), so a cell's cohorts do not depend on the other cells,
        on their order or on ``threads``.
    threads
        Processes to simulate the cells on (forked; 1: one after the other, here).
        The cells are the unit of work, so more threads than cells do not help.
    progress
        A progress bar over the cells on stderr.

    Returns
    -------
    pandas.DataFrame
        The cells' rows one after the other, sizes in the outer and fractions in
        the inner order (``pd.concat`` of the cells).
    """
    from ..survival._numpy_kernels import prefer_compiled
    from ._progress import _parallel, fork_context
    from ._progress import progress as progress_bar

    cells = [(int(n), float(f)) for n in sizes for f in fractions]
    workers = min(int(threads), len(cells))
    forked = workers > 1 and fork_context() is not None

    def cell(i: int) -> pd.DataFrame:
        # no log line here: a worker's lines would reach the log in the order the
        # cells finish; they are logged below in the grid's order
        n, fraction = cells[i]
        return simulate_cell(scenario, n, fraction, int(n_sim), int(seed), float(conf_level),
                             log_cell=False)

    # Some thousand fits: the compiled loops pay for loading them (the numpy twins,
    # meant for a few fits in a short process, took 2.5 times as long over the
    # default grid). Identical doubles either way (survival/_numpy_kernels.py).
    if forked:
        _load_compiled(scenario, conf_level)
        # The largest cohorts first, so that no worker is left with a long cell at
        # the end while the others wait (the cost of a cell grows with its size).
        queue = sorted(range(len(cells)), key=lambda i: -cells[i][0])
        done = progress_bar(_parallel(cell, queue, workers, 1), len(cells),
                            "sample-size grid", progress)
    else:
        prefer_compiled()
        queue = range(len(cells))
        done = (cell(i) for i in progress_bar(queue, len(cells), "sample-size grid", progress))
    frames: list = [None] * len(cells)
    for i, frame in zip(queue, done):
        frames[i] = frame
    for frame in frames:
        _log_cell(frame, int(seed))
    return pd.concat(frames, ignore_index=True)


def summarise(cells: pd.DataFrame, targets: dict) -> pd.DataFrame:
    """Per grid cell and measure: mean estimate, its SD, mean CI width, share meeting target.

    Returns a tidy frame with one row per (n, event fraction, measure).
    """
    rows = []
    for (n, fraction), cell in cells.groupby(["n", "event_fraction"], sort=True):
        ok = cell[cell["status"] == "ok"]
        infeasible = cell["status"].str.startswith("infeasible").any()
        for m in MEASURES:
            target = float(targets[m])
            if infeasible:
                rows.append({"n": n, "event_fraction": fraction, "measure": m,
                             "target_width": target, "status": cell["status"].iloc[0]})
                continue
            width = ok[f"{m}_width"].to_numpy(float) if len(ok) else np.array([])
            est = ok[m].to_numpy(float) if len(ok) else np.array([])
            finite = np.isfinite(width) & np.isfinite(est)
            width, est = width[finite], est[finite]
            missing = len(cell) - int(finite.sum())
            rows.append({
                "n": n, "event_fraction": fraction, "measure": m, "target_width": target,
                "censor_rate": float(cell["censor_rate"].iloc[0]),
                "events_mean": float(cell["events"].mean()),
                "n_sim": len(cell), "n_used": int(finite.sum()),
                "estimate_mean": float(est.mean()) if est.size else np.nan,
                "estimate_sd": float(est.std(ddof=1)) if est.size > 1 else np.nan,
                "width_mean": float(width.mean()) if width.size else np.nan,
                "width_p90": float(np.quantile(width, 0.9)) if width.size else np.nan,
                # A cohort where the measure cannot be estimated counts as missing the target.
                "share_meeting_target": float(np.sum(width <= target) / len(cell)),
                # Met only when estimable in every simulated cohort and precise on average.
                "meets_target": bool(missing == 0 and width.mean() <= target),
                "status": "ok" if missing == 0 else
                          f"not estimable in {missing} of {len(cell)} cohorts"
                          + (" (no one followed to the horizon)" if m == "o_e" else ""),
            })
    return pd.DataFrame(rows)


def minimum_sizes(summary: pd.DataFrame) -> pd.DataFrame:
    """Smallest n in the grid meeting each target, and all of them, per event fraction."""
    rows = []
    for fraction, part in summary.groupby("event_fraction", sort=True):
        if part["status"].astype(str).str.startswith("infeasible").all():
            rows.append({"event_fraction": fraction, "criterion": "all",
                         "note": part["status"].iloc[0]})
            continue
        sizes = sorted(part["n"].unique())
        met = {m: part[part["measure"] == m].set_index("n")["meets_target"].astype(bool)
               for m in MEASURES}
        met["all"] = pd.concat(met.values(), axis=1).all(axis=1)
        for criterion in (*MEASURES, "all"):
            hits = [n for n in sizes if met[criterion].get(n, False)]
            if hits:
                n_min = int(hits[0])
                events = float(part.loc[part["n"] == n_min, "events_mean"].iloc[0])
                note = ""
            else:
                n_min, events = np.nan, np.nan
                note = f"not reached within the grid (largest n {int(sizes[-1])})"
            rows.append({"event_fraction": fraction, "criterion": criterion,
                         "target_width": (float(part.loc[part["measure"] == criterion,
                                                         "target_width"].iloc[0])
                                          if criterion != "all" else np.nan),
                         "minimum_n": n_min, "events_mean": events,
                         "collins_100_events": (bool(events >= 100) if hits else np.nan),
                         "collins_200_events": (bool(events >= 200) if hits else np.nan),
                         "note": note})
    # the same columns when every cell is infeasible (no row has a target then)
    return pd.DataFrame(rows, columns=["event_fraction", "criterion", "target_width",
                                       "minimum_n", "events_mean", "collins_100_events",
                                       "collins_200_events", "note"])
