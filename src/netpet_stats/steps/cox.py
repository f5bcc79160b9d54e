"""Rule cox: every configured Cox model fitted once; coefficients, tests, PH diagnostics.

The fits are kept (``intermediate/<endpoint>/cox_fits.pkl``, per-patient, never in
``results/``) so that concordance, its comparisons and the frozen model all use the
same fit instead of refitting.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd

from ..cohort.ledger import analysis_set
from ..config import model_specs
from ..report.tables import write_table
from ..survival import cox
from ._common import endpoint_label, load_analysis


def fit_spec(config: dict, data: pd.DataFrame, endpoint: str, spec: dict) -> cox.CoxResult:
    """Fit one configured model on its complete cases (R ``na.omit``)."""
    covs = spec["covariates"]
    cluster = spec.get("cluster")
    d = analysis_set(data, endpoint, [*covs, *spec["strata"], *([cluster] if cluster else [])])
    try:
        return cox.fit_cox(d, f"{endpoint}_time", f"{endpoint}_event", covs, spec["strata"],
                           config["covariates"], float(config["cox"]["conf_level"]), cluster)
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
    for name, spec in model_specs(config).items():
        res = fits[name]
        kind = "univariable" if name.startswith("univariable_") else "multivariable"
        strata = ", ".join(spec["strata"])
        meta = {"endpoint": endpoint, "model": name, "analysis": kind,
                "model_label": spec["label"], "strata": strata}
        coefs.append(res.coefficients.assign(**meta))
        tests.append(res.tests.assign(**meta, n=res.n, events=res.events))
        zph.append(cox.ph_test(res, transform).assign(**meta))
    lead = ["endpoint", "model", "analysis", "model_label", "strata"]

    def tidy(frames):
        df = pd.concat(frames, ignore_index=True)
        return df[lead + [c for c in df.columns if c not in lead]]

    label = endpoint_label(config, endpoint)
    write_table(tidy(coefs).assign(method=cox.COEF_METHOD), out.coefficients,
                f"{label}: Cox proportional-hazards models",
                f"{cox.COEF_METHOD}. Complete cases per model (see the exclusions ledger); "
                "strata have separate baseline hazards. Models with a cluster also report "
                "robust (sandwich) SEs clustered on it (R coxph(cluster = ); Lin & Wei 1989); "
                "with few clusters these are unreliable.")
    write_table(tidy(tests), out.tests, f"{label}: Cox model tests",
                "Model tests against the null model as R summary(coxph); per-term "
                "likelihood-ratio tests as drop1(fit, test = 'Chisq').")
    write_table(tidy(zph), out.ph_test, f"{label}: proportional-hazards tests",
                f"{cox.ZPH_METHOD}; time transform '{transform}'.")
    save_fits(fits, out.fits)
