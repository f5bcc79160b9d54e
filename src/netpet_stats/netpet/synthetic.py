"""Seeded generator of a synthetic multicentre NETPET cohort with known truth.

Generating model (stated in full in ``data/synthetic/README.md``)
----------------------------------------------------------------
Covariates are drawn per patient: centre (unequal sizes), NETPET score, WHO grade
given the NETPET analysis group, Ki-67 given grade, age, sex, primary site and
extrahepatic disease given the group.

Overall survival and the latent time to progression each follow a Weibull
proportional-hazards model with a centre-specific baseline:

    h(t | x, centre c) = lambda * exp(gamma_c) * k * t**(k - 1) * exp(x' beta)

with ``x`` = (P2-4, P5 indicators vs P1; G2, G3 indicators vs G1; (age - 60)/10;
extrahepatic). Because the baseline differs by centre only through the
multiplicative factor ``exp(gamma_c)``, the Cox model stratified by centre is
correctly specified and its coefficients estimate ``beta``. The NETPET group
log-hazard ratios were calibrated (``calibrate_group_effects``) so that the
*marginal* median of each group, mixing over grade, age and centre, equals the
published medians of Chan et al. (Br J Cancer 2023): OS 101.8 / 46.5 / 11.5 and
TTP 25.5 / 16.7 / 6.6 months.

Observed follow-up is cut by administrative censoring (staggered entry: potential
follow-up uniform on [24, 180] months) and by loss to follow-up (exponential,
rate 0.006 per month), both independent of everything else. TTP counts
progression only: a death before progression censors TTP at the death time, which
is independent censoring conditional on the covariates because the two latent
times are generated independently given ``x``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

from .scoring import score_rank

CENTRES = ("A", "B", "C")
#: Patients per centre in the bundled 319-patient cohort (unequal sizes).
CENTRE_SIZES_319 = (151, 104, 64)
CENTRE_LOG_BASELINE = {"A": 0.0, "B": 0.25, "C": -0.20}

SCORE_PROBS = {"P0": 0.03, "P1": 0.29, "P2": 0.22, "P3": 0.14, "P4a": 0.07, "P4b": 0.09, "P5": 0.16}
GROUP_OF_SCORE = {"P0": "P1", "P1": "P1", "P2": "P2-4", "P3": "P2-4", "P4a": "P2-4",
                  "P4b": "P2-4", "P5": "P5"}
#: P(grade | analysis group): NETPET correlates with grade (Chan et al. 2023, p < 0.001).
GRADE_PROBS = {"P1": (0.55, 0.40, 0.05), "P2-4": (0.25, 0.60, 0.15), "P5": (0.05, 0.45, 0.50)}
#: Ki-67 (%) given grade, log-uniform within the WHO 2019 band.
KI67_RANGE = {"G1": (0.5, 2.9), "G2": (3.0, 20.0), "G3": (21.0, 80.0)}
EXTRAHEPATIC_PROB = {"P1": 0.35, "P2-4": 0.45, "P5": 0.60}
PRIMARY_SITES = ("pancreas", "small intestine", "stomach", "rectum", "colon", "unknown")
PRIMARY_PROBS = (0.44, 0.38, 0.05, 0.05, 0.03, 0.05)
P_KI67_MISSING = 0.12
P_GRADE_MISSING = 0.01

PUBLISHED_MEDIANS = {
    "os": {"P1": 101.8, "P2-4": 46.5, "P5": 11.5},
    "ttp": {"P1": 25.5, "P2-4": 16.7, "P5": 6.6},
}


@dataclass(frozen=True)
class EndpointModel:
    """True parameters of one Weibull proportional-hazards endpoint."""

    shape: float
    log_scale: float  # log lambda for centre A, P1, G1, age 60, no extrahepatic disease
    beta: dict[str, float] = field(default_factory=dict)


#: True parameters. The P2-4 / P5 log-HRs and log_scale come from
#: ``calibrate_group_effects`` (run with the default arguments); the others are set.
TRUE_MODELS = {
    "os": EndpointModel(
        shape=1.10,
        log_scale=-5.7668,
        beta={"P2-4": 0.6947, "P5": 1.9480, "G2": 0.35, "G3": 0.95, "age10": 0.30,
              "extrahepatic": 0.0},
    ),
    "ttp": EndpointModel(
        shape=1.00,
        log_scale=-3.7967,
        beta={"P2-4": 0.2912, "P5": 0.9724, "G2": 0.25, "G3": 0.80, "age10": 0.0,
              "extrahepatic": 0.0},
    ),
}

ADMIN_FOLLOW_UP = (24.0, 180.0)  # months, uniform
LOSS_RATE = 0.006  # per month


def _draw_covariates(rng: np.random.Generator, centre_sizes: tuple[int, ...]) -> pd.DataFrame:
    n = int(sum(centre_sizes))
    centre = np.repeat(np.array(CENTRES[: len(centre_sizes)]), centre_sizes)
    scores = np.array(list(SCORE_PROBS))
    score = rng.choice(scores, size=n, p=np.array(list(SCORE_PROBS.values())))
    group = np.array([GROUP_OF_SCORE[s] for s in score])
    u = rng.random(n)
    grade = np.empty(n, dtype=object)
    for g, probs in GRADE_PROBS.items():
        m = group == g
        cum = np.cumsum(probs)
        grade[m] = np.array(["G1", "G2", "G3"])[np.searchsorted(cum, u[m], side="right").clip(0, 2)]
    lo = np.array([KI67_RANGE[g][0] for g in grade])
    hi = np.array([KI67_RANGE[g][1] for g in grade])
    ki67 = np.round(np.exp(np.log(lo) + rng.random(n) * (np.log(hi) - np.log(lo))), 1)
    age = np.clip(np.round(rng.normal(62.0, 11.0, n)), 25, 88)
    sex = np.where(rng.random(n) < 0.48, "F", "M")
    primary = rng.choice(np.array(PRIMARY_SITES), size=n, p=np.array(PRIMARY_PROBS))
    extrahep = (rng.random(n) < np.array([EXTRAHEPATIC_PROB[g] for g in group])).astype(int)
    return pd.DataFrame({
        "centre": centre, "netpet": score, "group": group, "who_grade": grade,
        "ki67": ki67, "age": age, "sex": sex, "primary_site": primary,
        "extrahepatic": extrahep,
    })


def linear_predictor(cov: pd.DataFrame, model: EndpointModel) -> np.ndarray:
    """x' beta + centre log-baseline for each patient (true model)."""
    b = model.beta
    return (
        b["P2-4"] * (cov["group"] == "P2-4") + b["P5"] * (cov["group"] == "P5")
        + b["G2"] * (cov["who_grade"] == "G2") + b["G3"] * (cov["who_grade"] == "G3")
        + b["age10"] * (cov["age"] - 60.0) / 10.0
        + b["extrahepatic"] * cov["extrahepatic"]
        + cov["centre"].map(lambda c: CENTRE_LOG_BASELINE.get(c, 0.0))
    ).to_numpy(dtype=float)


def _weibull_times(rng, lp, model: EndpointModel) -> np.ndarray:
    # Inverse of S(t) = exp(-lambda * exp(lp) * t^k)
    e = rng.exponential(1.0, lp.size)
    return (e / np.exp(model.log_scale + lp)) ** (1.0 / model.shape)


def marginal_survival(t: float, cov: pd.DataFrame, model: EndpointModel) -> float:
    """Population-averaged true survival at ``t`` over the covariate sample ``cov``."""
    lp = linear_predictor(cov, model)
    return float(np.mean(np.exp(-np.exp(model.log_scale + lp) * t ** model.shape)))


def true_marginal_medians(model: EndpointModel, n_mc: int = 400_000, seed: int = 1) -> dict:
    """True marginal median per NETPET group, by numerical integration over covariates.

    Used to state the truth in ``data/synthetic/README.md`` and by the recovery
    test: it depends only on the generating model, not on any estimator.
    """
    rng = np.random.default_rng(seed)
    props = np.array([0.47, 0.33, 0.20])
    cov = _draw_covariates(rng, tuple(np.round(props * n_mc).astype(int)))
    out = {}
    for g in ("P1", "P2-4", "P5"):
        sub = cov[cov["group"] == g]
        out[g] = float(optimize.brentq(lambda t: marginal_survival(t, sub, model) - 0.5,
                                       1e-6, 1e4, xtol=1e-9))
    return out


def true_cumulative_incidence(times, n_mc: int = 100_000, seed: int = 1,
                              nodes: int = 200) -> pd.DataFrame:
    """True marginal cumulative incidence of progression and of death first, per group.

    Progression and death are latent independent Weibull times given the
    covariates (``TRUE_MODELS``), and censoring is independent of both, so the
    cumulative incidence of progression for a patient with covariates x is
    ``F_p(t | x) = int_0^t h_p(u | x) S_p(u | x) S_d(u | x) du`` and that of death
    first the same with the roles exchanged. The marginal value averages over a
    Monte Carlo sample of covariates drawn as the generator draws them (centre
    shares 47/33/20%); each integral is taken by Gauss-Legendre quadrature with
    ``nodes`` points on [0, t] (200 agree with 400 to 2e-6).

    Returns
    -------
    pandas.DataFrame
        ``group``, ``event`` (``progression``, ``death without progression``),
        ``time``, ``cumulative_incidence``.
    """
    rng = np.random.default_rng(seed)
    props = np.array([0.47, 0.33, 0.20])
    cov = _draw_covariates(rng, tuple(np.round(props * n_mc).astype(int)))
    x, w = np.polynomial.legendre.leggauss(nodes)
    rows = []
    for g in ("P1", "P2-4", "P5"):
        sub = cov[cov["group"] == g]
        rate = {ep: np.exp(m.log_scale + linear_predictor(sub, m))[:, None]
                for ep, m in TRUE_MODELS.items()}
        k = {ep: m.shape for ep, m in TRUE_MODELS.items()}
        for t in np.asarray(times, float):
            u = (x + 1) * t / 2                                  # nodes on [0, t]
            alive = np.exp(-rate["os"] * u ** k["os"] - rate["ttp"] * u ** k["ttp"])
            for ep, event in (("ttp", "progression"), ("os", "death without progression")):
                hazard = rate[ep] * k[ep] * u ** (k[ep] - 1)
                value = float(((hazard * alive) @ w).mean() * t / 2)
                rows.append((g, event, float(t), value))
    return pd.DataFrame(rows, columns=["group", "event", "time", "cumulative_incidence"])


def calibrate_group_effects(endpoint: str, n_mc: int = 400_000, seed: int = 1) -> EndpointModel:
    """Solve for ``log_scale`` and the P2-4 / P5 log-HRs that reproduce the published medians.

    Grade, age and extrahepatic effects and the Weibull shape are held at their
    values in ``TRUE_MODELS``. Three equations (one marginal median per group),
    three unknowns, solved by nested one-dimensional root finding.
    """
    base = TRUE_MODELS[endpoint]
    target = PUBLISHED_MEDIANS[endpoint]
    rng = np.random.default_rng(seed)
    props = np.array([0.47, 0.33, 0.20])
    cov = _draw_covariates(rng, tuple(np.round(props * n_mc).astype(int)))
    subs = {g: cov[cov["group"] == g] for g in target}

    def with_params(log_scale, b24, b5):
        beta = dict(base.beta, **{"P2-4": b24, "P5": b5})
        return EndpointModel(base.shape, log_scale, beta)

    def solve(param_fn, group):
        return optimize.brentq(
            lambda v: marginal_survival(target[group], subs[group], param_fn(v)) - 0.5,
            -30, 30, xtol=1e-10)

    log_scale = solve(lambda v: with_params(v, 0.0, 0.0), "P1")
    b24 = solve(lambda v: with_params(log_scale, v, 0.0), "P2-4")
    b5 = solve(lambda v: with_params(log_scale, 0.0, v), "P5")
    return with_params(round(log_scale, 4), round(b24, 4), round(b5, 4))


def generate_cohort(seed: int = 164, centre_sizes: tuple[int, ...] = CENTRE_SIZES_319,
                    with_lesions: bool = True, centre_names: tuple[str, ...] | None = None,
                    id_prefix: str = "SYN") -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Generate the patient-level cohort and the lesion-level table.

    Parameters
    ----------
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives the same tables.
    centre_sizes
        Patients per centre (centres named A, B, C, ...).
    with_lesions
        Also generate the lesion-level table (``None`` otherwise; the patient
        table is the same either way, the lesions being drawn last).

    Returns
    -------
    cohort, lesions : pandas.DataFrame
        Column names as in ``config/config.yaml``'s defaults (see
        ``config/README.md``). ``lesions`` scores back to ``cohort.netpet`` under
        the worst-pattern rule.
    """
    rng = np.random.default_rng(seed)
    cov = _draw_covariates(rng, centre_sizes)
    if centre_names:
        # Centre labels only; the baseline of centre k is that of the k-th default centre.
        cov["centre"] = cov["centre"].map(dict(zip(CENTRES, centre_names)))
    n = len(cov)
    t_death = _weibull_times(rng, linear_predictor(cov, TRUE_MODELS["os"]), TRUE_MODELS["os"])
    t_prog = _weibull_times(rng, linear_predictor(cov, TRUE_MODELS["ttp"]), TRUE_MODELS["ttp"])
    admin = rng.uniform(*ADMIN_FOLLOW_UP, n)
    loss = rng.exponential(1.0 / LOSS_RATE, n)
    censor = np.minimum(admin, loss)
    os_time = np.minimum(t_death, censor)
    os_event = (t_death <= censor).astype(int)
    ttp_time = np.minimum.reduce([t_prog, t_death, censor])
    ttp_event = ((t_prog <= t_death) & (t_prog <= censor)).astype(int)
    # Record times to 2 decimals (~ a day); keep them strictly positive.
    os_time = np.maximum(np.round(os_time, 2), 0.01)
    ttp_time = np.maximum(np.round(np.minimum(ttp_time, os_time), 2), 0.01)

    ki67 = cov["ki67"].astype(float).to_numpy()
    ki67[rng.random(n) < P_KI67_MISSING] = np.nan
    grade = cov["who_grade"].astype(object).to_numpy()
    grade[rng.random(n) < P_GRADE_MISSING] = None

    width = len(str(n))
    ids = [f"{id_prefix}{i + 1:0{max(width, 4)}d}" for i in range(n)]
    cohort = pd.DataFrame({
        "patient_id": ids,
        "centre": cov["centre"],
        "age_at_diagnosis": cov["age"].astype(int),
        "sex": cov["sex"],
        "primary_site": cov["primary_site"],
        "who_grade": grade,
        "ki67_percent": ki67,
        "extrahepatic_disease": np.where(cov["extrahepatic"] == 1, "yes", "no"),
        "netpet": cov["netpet"],
        "os_months": os_time,
        "os_event": os_event,
        "ttp_months": ttp_time,
        "ttp_event": ttp_event,
    })
    lesions = _generate_lesions(rng, ids, cov["netpet"].tolist()) if with_lesions else None
    return cohort, lesions


_PATTERNS = {  # rank -> (sstr_positive, fdg_positive, avidity)
    0: (0, 0, ""), 1: (1, 0, ""), 2: (1, 1, "lower"), 3: (1, 1, "equal"),
    4: (1, 1, "higher"), 5: (0, 1, ""),
}


def _generate_lesions(rng, ids, scores) -> pd.DataFrame:
    rows = []
    for pid, score in zip(ids, scores):
        rank = score_rank(score)
        n_les = int(rng.poisson(3.0)) + 1
        if score == "P4a":
            n_top = int(rng.integers(1, 3))
        elif score == "P4b":
            n_top = int(rng.integers(3, 7))
        else:
            n_top = int(rng.integers(1, 3))
        n_les = max(n_les, n_top)
        if rank == 0:
            ranks = [0] * n_les
        elif rank == 5:
            # Discordant disease plus any mixture of other SSTR-positive lesions.
            ranks = [5] * n_top + list(rng.integers(1, 5, n_les - n_top))
        else:
            # The worst lesion pattern appears n_top times; the rest are milder
            # (never "higher" unless the patient is P4, so P4a/P4b counts stay exact).
            high = rank + 1 if rank < 4 else 4
            ranks = [rank] * n_top + list(rng.integers(1, high, n_les - n_top))
        order = rng.permutation(len(ranks))
        for j, idx in enumerate(order, start=1):
            s, f, a = _PATTERNS[int(ranks[idx])]
            rows.append((pid, f"L{j}", s, f, a))
    return pd.DataFrame(rows, columns=["patient_id", "lesion_id", "sstr_positive",
                                       "fdg_positive", "fdg_vs_sstr"])


def write_synthetic(outdir: str = "data/synthetic", seed: int = 164) -> list:
    """Write ``cohort.csv`` and ``lesions.csv`` (byte-stable formatting)."""
    from pathlib import Path

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    cohort, lesions = generate_cohort(seed=seed)
    paths = [out / "cohort.csv", out / "lesions.csv"]
    cohort.to_csv(paths[0], index=False, float_format="%.10g", lineterminator="\n")
    lesions.to_csv(paths[1], index=False, lineterminator="\n")
    return paths


def representative_seed(candidates=range(1, 201)) -> tuple[int, dict]:
    """The seed whose 319-patient cohort has medians closest to the published ones.

    Criterion: minimise the sum over endpoints and groups of
    ``log(sample KM median / published median) ** 2``, with P0 excluded and
    P1 / P2-4 / P5 as in the workflow; KM medians by R's rule
    (:func:`netpet_stats.kaplan_meier.km_quantiles`). A seed whose cohort leaves
    any median unreached is skipped.

    Returns
    -------
    seed, medians
    """
    from ..survival.kaplan_meier import km_quantiles, km_table

    best = (np.inf, None, None)
    for seed in candidates:
        cohort, _ = generate_cohort(seed=seed, with_lesions=False)
        group = cohort["netpet"].map(GROUP_OF_SCORE).where(cohort["netpet"] != "P0")
        loss, medians = 0.0, {}
        for ep, published in PUBLISHED_MEDIANS.items():
            for g, target in published.items():
                sub = cohort[group == g]
                med = km_quantiles(km_table(sub[f"{ep}_months"], sub[f"{ep}_event"])).iloc[0]["quantile"]
                medians[(ep, g)] = med
                loss += np.log(med / target) ** 2 if np.isfinite(med) else np.inf
        if loss < best[0]:
            best = (loss, seed, medians)
    return best[1], best[2]


#: Local codings of the three synthetic centres (each centre spells things its own way).
CENTRE_CODINGS = {
    "A": {"grade": {"G1": "1", "G2": "2", "G3": "3"}, "sex": {"F": "female", "M": "male"},
          "extrahepatic": {"yes": "yes", "no": "no"}, "netpet": lambda s: s},
    "B": {"grade": {"G1": "G1", "G2": "G2", "G3": "G3"}, "sex": {"F": "F", "M": "M"},
          "extrahepatic": {"yes": "Y", "no": "N"}, "netpet": lambda s: s[1:]},
    "C": {"grade": {"G1": "grade 1", "G2": "grade 2", "G3": "grade 3"},
          "sex": {"F": "f", "M": "m"}, "extrahepatic": {"yes": "true", "no": "false"},
          "netpet": lambda s: "NETPET " + s[1:]},
}
END_OF_STUDY = "2025-06-30"
DAYS_PER_MONTH = 30.4375


def centre_spreadsheets(seed: int = 164, window_breakers: int = 2) -> dict:
    """The bundled cohort as one dated, locally coded table per centre.

    Each patient gets a time zero (the later of the two scans) such that all of
    follow-up ends before 30 June 2025; the other scan 0-45 days earlier
    (``window_breakers`` patients: 75 days, beyond the 60-day window); diagnosis
    up to about four years before the first scan; death, progression and last
    follow-up at time zero plus the cohort's times (whole days, at least one).
    Deriving times from these dates gives back the cohort's OS and TTP to within
    half a day.

    Returns
    -------
    dict
        centre -> DataFrame (columns as in ``config/centres.yaml``).
    """
    cohort, _ = generate_cohort(seed=seed, with_lesions=False)
    rng = np.random.default_rng(seed + 1)
    n = len(cohort)
    end = pd.Timestamp(END_OF_STUDY)
    to_days = lambda months: np.maximum(1, np.round(months * DAYS_PER_MONTH)).astype(int)  # noqa: E731
    os_days = to_days(cohort["os_months"].to_numpy())
    ttp_days = to_days(cohort["ttp_months"].to_numpy())
    t0 = end - pd.to_timedelta(os_days + rng.integers(0, 731, n), unit="D")
    gap = rng.integers(0, 46, n)
    gap[rng.choice(n, size=window_breakers, replace=False)] = 75
    sstr_first = rng.random(n) < 0.5
    earlier = t0 - pd.to_timedelta(gap, unit="D")
    sstr = np.where(sstr_first, earlier, t0)
    fdg = np.where(sstr_first, t0, earlier)
    diagnosis = earlier - pd.to_timedelta(rng.integers(0, 1500, n), unit="D")
    died = cohort["os_event"].to_numpy() == 1
    death = np.where(died, t0 + pd.to_timedelta(os_days, unit="D"), pd.NaT)
    last = t0 + pd.to_timedelta(os_days, unit="D")  # = death date for those who died
    progressed = cohort["ttp_event"].to_numpy() == 1
    prog = np.where(progressed, t0 + pd.to_timedelta(ttp_days, unit="D"), pd.NaT)

    def as_date(values):
        return [pd.Timestamp(v).date() if not pd.isna(v) else None for v in values]

    tables = {}
    for centre, coding in CENTRE_CODINGS.items():
        m = (cohort["centre"] == centre).to_numpy()
        sub = cohort[m]
        tables[centre] = pd.DataFrame({
            "patient_id": sub["patient_id"].to_numpy(),
            "age_at_diagnosis": sub["age_at_diagnosis"].to_numpy(),
            "sex": sub["sex"].map(coding["sex"]).to_numpy(),
            "primary_site": sub["primary_site"].to_numpy(),
            "who_grade": sub["who_grade"].map(coding["grade"]).to_numpy(),
            "ki67_percent": sub["ki67_percent"].to_numpy(),
            "extrahepatic_disease": sub["extrahepatic_disease"].map(coding["extrahepatic"]).to_numpy(),
            "netpet": sub["netpet"].map(coding["netpet"]).to_numpy(),
            "sstr_scan_date": as_date(np.asarray(sstr)[m]),
            "fdg_scan_date": as_date(np.asarray(fdg)[m]),
            "diagnosis_date": as_date(np.asarray(diagnosis)[m]),
            "progression_date": as_date(np.asarray(prog)[m]),
            "death_date": as_date(np.asarray(death)[m]),
            "last_follow_up_date": as_date(np.asarray(last)[m]),
        })
    return tables


def write_centre_spreadsheets(outdir: str = "data/synthetic/centres", seed: int = 164) -> list:
    """Write ``centre_A.xlsx``, ``centre_B.xlsx``, ``centre_C.xlsx``."""
    from pathlib import Path

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for centre, table in centre_spreadsheets(seed).items():
        path = out / f"centre_{centre}.xlsx"
        table.to_excel(path, index=False, sheet_name="patients")
        paths.append(path)
    return paths


#: The external-validation cohort: two new centres from the same generating model.
VALIDATION_SEED = 2024
VALIDATION_CENTRES = {"D": 140, "E": 110}


def write_validation_cohort(outdir: str = "data/synthetic/validation") -> Path:
    """Write ``cohort.csv`` of the synthetic validation cohort (centres D and E).

    Same generating model as the development cohort, with the centre baselines
    of A and B; patient ids ``VAL0001``... so the two cohorts never collide.
    """
    from pathlib import Path as _Path

    out = _Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    cohort, _ = generate_cohort(seed=VALIDATION_SEED, centre_sizes=tuple(VALIDATION_CENTRES.values()),
                                with_lesions=False, centre_names=tuple(VALIDATION_CENTRES),
                                id_prefix="VAL")
    path = out / "cohort.csv"
    cohort.to_csv(path, index=False, float_format="%.10g", lineterminator="\n")
    return path
