"""Rule cox: every configured Cox model fitted once; coefficients, tests, PH diagnostics.

The fits are kept (``intermediate/<endpoint>/cox_fits.pkl``, per-patient, never in
``results/``) so that concordance, its comparisons and the frozen model all use the
same fit instead of refitting.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd

from ..cohort.ledger import analysis_set
from ..config import cox_ties, model_specs
from ..report.tables import write_table
from ..survival import cox, functional_form
from ._common import endpoint_label, load_analysis, risk_set_columns, risk_set_method


def fit_spec(config: dict, data: pd.DataFrame, endpoint: str, spec: dict) -> cox.CoxResult:
    """Fit one configured model on its complete cases (R ``na.omit``)."""
    covs = spec["covariates"]
    cluster = spec.get("cluster")
    d = analysis_set(data, endpoint, [*covs, *spec["strata"], *([cluster] if cluster else [])])
    try:
        return cox.fit_cox(d, f"{endpoint}_time", f"{endpoint}_event", covs, spec["strata"],
                           config["covariates"], float(config["cox"]["conf_level"]), cluster,
                           ties=cox_ties(config), **risk_set_columns(d))
    except cox.CoxFitError as exc:
        raise cox.CoxFitError(
            f"{endpoint_label(config, endpoint)}, model {spec.get('label', covs)!r} "
            f"({' + '.join(covs)}; {len(d)} patients, {int(d[f'{endpoint}_event'].sum())} "
            f"events): {exc}. Remove the model (cox.models) or a covariate without "
            "variation in these patients.") from None


def fit_all(config: dict, data: pd.DataFrame, endpoint: str) -> dict[str, cox.CoxResult]:
    """Every model of the configuration for ``endpoint``, each fitted once."""
    return {name: fit_spec(config, data, endpoint, spec)
            for name, spec in model_specs(config).items()}


def save_fits(fits: dict[str, cox.CoxResult], path: str | Path) -> None:
    """Keep fitted models for the rules that use them (intermediate/, same package version)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(fits, fh, protocol=pickle.HIGHEST_PROTOCOL)


def load_fits(path: str | Path) -> dict[str, cox.CoxResult]:
    """The fits :func:`save_fits` kept (written by this workflow, never a user's file)."""
    with open(path, "rb") as fh:
        return pickle.load(fh)


def run(config: dict, analysis: str, endpoint: str, out) -> None:
    """Univariable and multivariable Cox models with tests and PH diagnostics."""
    data = load_analysis(analysis, config)
    fits = fit_all(config, data, endpoint)
    coefs, tests, zph = [], [], []
    transform = config["cox"]["zph_transform"]
    primary = config["cox"]["primary_model"]
    primary_ph = None
    for name, spec in model_specs(config).items():
        res = fits[name]
        kind = "univariable" if name.startswith("univariable_") else "multivariable"
        strata = ", ".join(spec["strata"])
        meta = {"endpoint": endpoint, "model": name, "analysis": kind,
                "model_label": spec["label"], "strata": strata}
        coefs.append(res.coefficients.assign(**meta))
        tests.append(res.tests.assign(**meta, n=res.n, events=res.events))
        tests.append(functional_form_tests(config, data, endpoint, spec, res).assign(**meta))
        if kind == "multivariable":
            tests.append(collinearity_rows(res).assign(**meta))
        zph.append(cox.ph_test(res, transform).assign(**meta))
        if name == primary:
            primary_ph = zph[-1]
    lead = ["endpoint", "model", "analysis", "model_label", "strata"]

    def tidy(frames):
        df = pd.concat(frames, ignore_index=True)
        return df[lead + [c for c in df.columns if c not in lead]]

    label = endpoint_label(config, endpoint)
    coef_method = cox.coef_method(cox_ties(config)) + risk_set_method(data)
    write_table(tidy(coefs).assign(method=coef_method), out.coefficients,
                f"{label}: Cox proportional-hazards models",
                f"{coef_method}. Complete cases per model (see the exclusions ledger); "
                "strata have separate baseline hazards. Models with a cluster also report "
                "robust (sandwich) SEs clustered on it (R coxph(cluster = ); Lin & Wei 1989); "
                "with few clusters these are unreliable."
                + (" Case weights that are not whole numbers give robust SEs with each "
                   "patient as a cluster, R's default." if "weight" in data.columns else ""))
    write_table(tidy(tests), out.tests, f"{label}: Cox model tests",
                "Model tests against the null model as R summary(coxph); per-term "
                "likelihood-ratio tests as drop1(fit, test = 'Chisq'); non-linearity of each "
                "continuous covariate by a restricted cubic spline (4 knots) against its "
                "linear term.")
    write_table(tidy(zph), out.ph_test, f"{label}: proportional-hazards tests",
                f"{cox.ZPH_METHOD}; time transform '{transform}'.")
    points = bool(config["figures"]["schoenfeld_points"])
    write_table(ph_residual_table(fits[primary], transform, points,
                                  int(config["privacy"]["threshold"]), primary_ph).assign(
                    endpoint=endpoint, model=primary),
                out.ph_residuals,
                f"{label}: scaled Schoenfeld residuals of the primary model, smoothed",
                f"{ZPH_CONTRAST_METHOD}; time transform '{transform}'. 'binned': mean scaled "
                "residual of consecutive events in groups of at least "
                f"{min_bin_events(int(config['privacy']['threshold']))}"
                + ("; 'event': each event's residual (figures.schoenfeld_points)." if points
                   else "; no row per event (figures.schoenfeld_points is false)."))
    save_fits(fits, out.fits)


def functional_form_tests(config: dict, data: pd.DataFrame, endpoint: str,
                          spec: dict, fit: cox.CoxResult | None = None) -> pd.DataFrame:
    """Non-linearity test of each continuous covariate of a model (rows of cox_tests).

    A restricted cubic spline with four knots against the linear term on the model's
    scale (:func:`netpet_stats.survival.functional_form.nonlinearity_test`), on the
    model's complete cases, strata and other covariates.
    """
    rows = []
    covs = spec["covariates"]
    d = analysis_set(data, endpoint, [*covs, *spec["strata"]])
    for term in covs:
        if config["covariates"].get(term, {}).get("type") != "continuous":
            continue
        res = functional_form.nonlinearity_test(d, f"{endpoint}_time", f"{endpoint}_event", covs,
                                                spec["strata"], config["covariates"], term,
                                                linear=fit, ties=cox_ties(config),
                                                **risk_set_columns(d))
        rows.append({"test": "non-linearity (spline)", "term": term, "chisq": res["chisq"],
                     "df": res["df"], "p": res["p"],
                     "method": res["method"] + (f"; {res['note']}" if res["note"] else ""),
                     "loglik": res["loglik_spline"], "n": res["n"], "events": res["events"]})
    return pd.DataFrame(rows)


GVIF_METHOD = ("generalized variance-inflation factor GVIF and GVIF^(1/(2 df)) of each term "
               "(Fox & Monette 1992; R car::vif on coxph)")


def collinearity_rows(fit: cox.CoxResult) -> pd.DataFrame:
    """Rows of cox_tests giving each term's GVIF (:func:`cox.variance_inflation`)."""
    vif = cox.variance_inflation(fit)
    return pd.DataFrame({"test": "variance inflation (GVIF)", "term": vif["term"],
                         "df": vif["df"], "gvif": vif["gvif"],
                         "gvif_adjusted": vif["gvif_adjusted"], "method": GVIF_METHOD,
                         "n": fit.n, "events": fit.events})


#: Fewest events averaged into one binned mean of the residual plots.
MIN_BIN_EVENTS = 10


def min_bin_events(threshold: int) -> int:
    """Fewest events in a binned mean: ten, or the privacy threshold if larger."""
    return max(MIN_BIN_EVENTS, threshold)


def ph_residual_table(fit: cox.CoxResult, transform: str, points: bool,
                      threshold: int, ph: pd.DataFrame | None = None) -> pd.DataFrame:
    """What the Schoenfeld residual plots draw, one block of rows per coefficient.

    One block per design column, as R ``plot(cox.zph(fit, terms = FALSE))`` draws one
    panel per column: a factor gets one block per contrast (``level`` against
    ``reference``), each on the ``beta(t)`` scale of its coefficient. ``smooth``: the
    plot(cox.zph) spline and its band on 40 grid points; ``binned``: mean scaled
    residual of consecutive events, about ten groups of at least ``max(10, threshold)``
    events (aggregates, so the plot needs no patient row); ``event``: one row per
    event, only when ``points`` is asked for. Where R's ``cox.zph`` stops (its test's
    information singular, :func:`cox.ph_test`; ``ph`` is that test when the caller has
    it), only the grid is written, the smooth empty (not estimable), as R draws nothing.
    """
    if ph is None:
        ph = cox.ph_test(fit, transform)
    stopped = bool((ph["method"] == cox.ZPH_SINGULAR_METHOD).any())
    z = cox.zph_residuals(fit, transform, terms=False)
    order = np.argsort(z.x, kind="stable")
    xs, ts = z.x[order], z.time[order]
    ux, first = np.unique(xs, return_index=True)
    size = max(min_bin_events(threshold), len(xs) // 10)
    rows = []
    for term in fit.terms:
        for column, level in zip(term.columns, term.levels):
            base = {"term": term.name, "term_label": term.label, "level": level,
                    "reference": term.reference if level else "", "scale": "beta(t)"}
            line = cox.zph_smooth(z, column)
            line["time"] = np.interp(line["x"], ux, ts[first])
            if stopped:
                line[["estimate", "lower", "upper"]] = np.nan
                rows.append(line.assign(kind="smooth", n=np.nan, **base))
                continue
            rows.append(line.assign(kind="smooth", n=np.nan, **base))
            ys = z.y[column].to_numpy()[order]
            ok = ~np.isnan(ys)
            xk, tk, yk = xs[ok], ts[ok], ys[ok]
            n_bins = len(yk) // size
            if n_bins >= 1:
                edges = np.linspace(0, len(yk), n_bins + 1).astype(int)
                rows.append(pd.DataFrame([
                    {"x": xk[a:b].mean(), "time": float(np.median(tk[a:b])),
                     "estimate": yk[a:b].mean(), "n": b - a, "kind": "binned", **base}
                    for a, b in zip(edges[:-1], edges[1:])]))
            if points:
                rows.append(pd.DataFrame({"x": xk, "time": tk, "estimate": yk, "n": 1.0,
                                          "kind": "event", **base}))
    out = pd.concat(rows, ignore_index=True)
    out["transform"] = transform
    out["method"] = ZPH_CONTRAST_METHOD
    return out[["term", "term_label", "level", "reference", "scale", "kind", "x", "time",
                "estimate", "lower", "upper", "n", "transform", "method"]]


#: How the residual table's curves are made: per coefficient, as plot(cox.zph(terms = FALSE)).
ZPH_CONTRAST_METHOD = (cox.ZPH_SMOOTH_METHOD + "; one curve per coefficient (a factor: per "
                       "contrast with its reference), R cox.zph(fit, terms = FALSE)")
