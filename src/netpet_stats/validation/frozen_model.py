"""A fitted Cox model frozen to a small, human-readable YAML file, and applied elsewhere.

The file holds everything needed to predict for a new patient and nothing
about any patient: the coefficients of each design column, how each covariate
is coded (type, levels and reference, transform, scale), the baseline survival
S0(t) at x = 0 at stated horizons (per stratum for a stratified model), the
distribution of the development linear predictor, and provenance (data
checksums, configuration, software versions). A model can also be written by
hand from published coefficients in the same format (see ``MODEL_FORMAT``).

Predicted survival for covariates x at horizon t: ``S0(t) ** exp(x' beta)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ..survival import cox
from . import case_mix

MODEL_FORMAT = 1


class ModelMismatchError(ValueError):
    """The data cannot be coded as the frozen model expects (or the file is incomplete)."""


class FreezeError(ValueError):
    """The fitted model cannot be frozen as asked (e.g. a horizon beyond the follow-up)."""


def check_time_unit(model: dict, unit: str) -> None:
    """Refuse to apply a model whose times (horizons, baseline survival) are in another unit.

    Examples
    --------
    >>> check_time_unit({"name": "m", "time_unit": "months"}, "months")
    >>> check_time_unit({"name": "m", "time_unit": "months"}, "days")
    Traceback (most recent call last):
    ...
    netpet_stats.validation.frozen_model.ModelMismatchError: model 'm' was frozen with times in months (its horizons and baseline survival are in months), but this analysis is in days: set analysis_time_unit: months (each endpoint's column keeps its own time_unit)
    """
    frozen = model.get("time_unit", "months")
    if frozen != unit:
        raise ModelMismatchError(
            f"model {model.get('name', '?')!r} was frozen with times in {frozen} (its horizons "
            f"and baseline survival are in {frozen}), but this analysis is in {unit}: set "
            f"analysis_time_unit: {frozen} (each endpoint's column keeps its own time_unit)")


def freeze(result: cox.CoxResult, covariates: dict, horizons: list[float], *, name: str,
           endpoint: str, time_unit: str = "months", provenance: dict | None = None,
           curve_step: float | None = None) -> dict:
    """Describe a fitted model as plain data (see the module docstring).

    Parameters
    ----------
    result
        A fitted model (:func:`netpet_stats.cox.fit_cox`).
    covariates
        Coding of each covariate in the model (the workflow's ``covariates``
        configuration); categorical levels are frozen as fitted.
    horizons
        Times at which the baseline survival is stored.
    curve_step
        If given, S0 is also stored on the grid ``0, step, 2 step, ..`` up to the
        last horizon (``baseline_survival.curve``), for predicted survival
        curves (Royston & Altman 2013, level 3). An aggregate of the
        development cohort, like S0 at the horizons.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats import fit_cox, freeze
    >>> d = pd.DataFrame({"time": [1, 2, 2, 3, 4, 4, 5, 6, 7, 8],
    ...                   "event": [1, 1, 0, 1, 1, 1, 0, 1, 0, 1],
    ...                   "x": [3, 1, 2, 2, 3, 1, 1, 2, 3, 1]})
    >>> coding = {"x": {"type": "continuous"}}
    >>> fit = fit_cox(d, "time", "event", ["x"], [], coding)
    >>> model = freeze(fit, coding, [4.0], name="x only", endpoint="os")
    >>> round(model["coefficients"]["x"], 6)  # R coef(coxph(Surv(time, event) ~ x))
    0.193546
    >>> (s0,) = model["baseline_survival"]["survival"].values()  # one stratum
    >>> round(s0[0], 6)  # S0(4) at x = 0
    0.607236

    The last value is R ``summary(survfit(fit, newdata = data.frame(x = 0)),
    times = 4)$surv``.
    """
    # S0 beyond the last follow-up would be the last value carried forward; R's
    # summary(survfit(fit), times = h) refuses it without extend = TRUE.
    strata = (np.zeros(result.frame.shape[0], dtype=object) if result.stratum is None
              else np.asarray(result.stratum, dtype=object))
    times = result.frame["__time"].to_numpy()
    for s in pd.unique(strata):
        last = float(times[strata == s].max())
        beyond = [h for h in horizons if float(h) > last]
        if beyond:
            where = "" if result.stratum is None else f" in stratum {s!r}"
            raise FreezeError(
                f"model {name!r}: horizon(s) {', '.join(f'{h:g}' for h in beyond)} lie beyond the "
                f"last follow-up{where} ({last:g}); the baseline survival there is not "
                "estimated (R's summary(survfit(fit), times =) refuses it): choose horizons "
                "within the development follow-up")
    coding = term_coding(result.terms, covariates)
    base = cox.baseline_cumhaz(result, horizons)
    strata = sorted(base["stratum"].astype(str).unique())
    survival = {s: [float(np.exp(-h)) for h in base.loc[base["stratum"].astype(str) == s, "cumhaz"]]
                for s in strata}
    lp = cox.linear_predictor(result)
    # 16th, 50th and 84th centiles: Royston & Altman's four prognostic groups
    quantiles = {f"{q:g}": float(np.quantile(lp, q / 100)) for q in (5, 16, 25, 50, 75, 84, 95)}
    baseline = {"horizons": [float(h) for h in horizons],
                "at": "x = 0 (reference levels; continuous covariates at 0 "
                      "after transform and scale)",
                "survival": survival}
    if curve_step:
        grid = np.round(np.arange(0, max(horizons) + curve_step / 2, curve_step), 10)
        cb = cox.baseline_cumhaz(result, grid)
        baseline["curve"] = {
            "times": [float(t) for t in grid],
            "survival": {s: [float(np.exp(-h)) for h in
                             cb.loc[cb["stratum"].astype(str) == s, "cumhaz"]] for s in strata}}
    return {
        "netpet_stats_model": MODEL_FORMAT,
        "name": name,
        "endpoint": endpoint,
        "time_unit": time_unit,
        "covariates": coding,
        "coefficients": {col: float(b) for col, b in zip(result.design.columns, result.beta)},
        "strata": strata if result.stratum is not None else None,
        "baseline_survival": baseline,
        "development": {"n": result.n, "events": result.events,
                        "linear_predictor": {"mean": float(lp.mean()), "sd": float(lp.std(ddof=1)),
                                             "quantiles": quantiles},
                        # case mix on the model's scale (TRIPOD+AI 20c), aggregates only
                        "predictors": case_mix.summarise(result.design, lp, coding)["predictors"]},
        "provenance": provenance or {},
    }


def save(model: dict, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(model, sort_keys=False, allow_unicode=True),
                          encoding="utf-8")


def load(path: str | Path, kind: str = "cox") -> dict:
    """Read a model file (safe YAML) and check that it is complete and of ``kind``.

    ``kind`` is ``"cox"`` (a survival model: predictions are S(t | x)) or
    ``"fine_gray"`` (a cumulative incidence model,
    :func:`netpet_stats.validation.competing.freeze_fine_gray`). A file of the
    other kind is refused: its predictions mean something else.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats import fit_cox, freeze
    >>> d = pd.DataFrame({"time": [1, 2, 2, 3, 4, 4, 5, 6, 7, 8],
    ...                   "event": [1, 1, 0, 1, 1, 1, 0, 1, 0, 1],
    ...                   "x": [3, 1, 2, 2, 3, 1, 1, 2, 3, 1]})
    >>> coding = {"x": {"type": "continuous"}}
    >>> fit = fit_cox(d, "time", "event", ["x"], [], coding)
    >>> import tempfile, pathlib
    >>> from netpet_stats import load_model
    >>> from netpet_stats.validation.frozen_model import save
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.yaml"
    >>> save(freeze(fit, coding, [4.0], name="x only", endpoint="os"), path)
    >>> load_model(path)["name"]
    'x only'
    """
    model = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    needed = ("coefficients", "covariates", "baseline_survival")
    if isinstance(model, dict) and model.get("kind", "cox") == "cox":
        needed = ("endpoint", *needed)   # a Cox model predicts one endpoint's survival
    missing = [k for k in needed if not isinstance(model, dict) or k not in model]
    if missing:
        raise ModelMismatchError(
            f"{path}: model file lacks {', '.join(missing)}"
            + (" (endpoint: the endpoint whose survival it predicts, e.g. os)"
               if "endpoint" in missing else ""))
    found = model.get("kind", "cox")
    if found != kind:
        what = {"cox": "a Cox model of survival (validation.model_file)",
                "fine_gray": "a Fine-Gray model of a cumulative incidence "
                             "(validation.fine_gray_file)"}
        raise ModelMismatchError(f"{path}: is {what.get(found, found)}, but {what.get(kind, kind)} "
                                 "is expected here; name each file under its own key")
    return model


def term_coding(terms, covariates: dict) -> dict:
    """Each term's coding as frozen: categorical levels as fitted, reference first."""
    coding = {}
    for term in terms:
        spec = dict(covariates.get(term.name, {"type": "continuous"}))
        if spec.get("type") == "categorical":
            spec["levels"] = [term.reference, *term.levels]
        coding[term.name] = spec
    return coding


def design(model: dict, data: pd.DataFrame) -> pd.DataFrame:
    """The model's design columns for new data, with the frozen codings.

    Every level of a categorical covariate keeps its column even when absent
    from ``data``; a value not among the frozen levels is an error.
    """
    columns = {}
    for name, spec in model["covariates"].items():
        values = data[name]
        if spec.get("type") == "categorical":
            levels = [str(v) for v in spec["levels"]]
            unknown = sorted(set(values.dropna().astype(str)) - set(levels))
            if unknown:
                raise ModelMismatchError(
                    f"covariate {name!r}: level(s) {unknown} of this cohort are not in the "
                    f"frozen model (levels {levels}); code them as the model does "
                    "(cohort.codings, netpet.grouping)")
            for lv in levels[1:]:
                columns[f"{name}[{lv}]"] = (values.astype(str) == lv).astype(float).where(
                    values.notna())
        else:
            x = values.astype(float)
            if spec.get("transform") == "log2":
                x = np.log2(np.maximum(x, spec.get("floor", 1.0)))
            columns[name] = x / float(spec.get("scale", 1.0))
    frame = pd.DataFrame(columns, index=data.index)
    missing = [c for c in model["coefficients"] if c not in frame]
    if missing:
        raise ModelMismatchError(
            f"cannot build design column(s) {missing} from the model's covariates")
    return frame[list(model["coefficients"])]


def linear_predictor(model: dict, data: pd.DataFrame,
                     X: pd.DataFrame | None = None) -> pd.Series:
    """x' beta for each row of ``data`` (missing where a covariate is missing).

    ``X``: the model's :func:`design` for ``data`` when the caller has built it
    already (it is then not built again).
    """
    X = design(model, data) if X is None else X
    beta = np.array([model["coefficients"][c] for c in X.columns])
    values = X.to_numpy()
    complete = ~np.isnan(values).any(axis=1)
    lp = np.full(len(X), np.nan)
    lp[complete] = cox.dot_by_pattern(values[complete], beta)
    return pd.Series(lp, index=data.index, name="lp")


def predict_survival(model: dict, data: pd.DataFrame, horizon: float,
                     stratum: pd.Series | None = None,
                     lp: pd.Series | None = None) -> pd.Series:
    """Predicted S(horizon | x) = S0(horizon) ** exp(x' beta).

    ``horizon`` must be one of the stored horizons. For a stratified model give
    each row's ``stratum``. ``lp``: :func:`linear_predictor` of ``data`` when the
    caller has it already (for several horizons; on 10^6 patients finding the
    distinct covariate rows is the costly part).
    """
    base = model["baseline_survival"]
    horizons = [float(h) for h in base["horizons"]]
    if float(horizon) not in horizons:
        raise ModelMismatchError(f"horizon {horizon} not stored in the model (stored: {horizons})")
    k = horizons.index(float(horizon))
    lp = linear_predictor(model, data) if lp is None else lp
    surv = base["survival"]
    if len(surv) == 1 and stratum is None:
        s0 = pd.Series(next(iter(surv.values()))[k], index=data.index)
    else:
        s0 = stratum.astype(str).map({s: v[k] for s, v in surv.items()})
    return s0 ** np.exp(lp)


def predict_curves(model: dict, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Predicted survival ``S0(t) ** exp(lp)`` on the stored grid, one row per patient.

    Needs ``baseline_survival.curve`` (see :func:`freeze`) and an unstratified
    model.

    Returns
    -------
    times : ndarray (T,)
    survival : ndarray (n, T)
    """
    curve = model["baseline_survival"].get("curve")
    if not curve:
        raise ModelMismatchError("the model stores no baseline survival curve "
                                 "(baseline_survival.curve); refreeze it with curve_step")
    if len(curve["survival"]) != 1:
        raise ModelMismatchError("predicted curves need an unstratified model")
    s0 = np.asarray(next(iter(curve["survival"].values())), float)
    lp = linear_predictor(model, data).to_numpy()
    return np.asarray(curve["times"], float), s0[None, :] ** np.exp(lp)[:, None]
