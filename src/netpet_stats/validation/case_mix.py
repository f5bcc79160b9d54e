"""Case mix of a cohort as a frozen model sees it (TRIPOD+AI item 20c).

The distribution of the linear predictor and of each predictor, on the model's
scale (after transform and scaling), summarised by centiles and proportions:
aggregates that a development site can store in its frozen model and a
validation site can compare with, without exchanging patient rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Centiles summarising a continuous distribution (box: 25-75, whiskers: 5-95).
CENTILES = (5, 25, 50, 75, 95)
METHOD = ("centiles 5, 25, 50, 75, 95 (numpy/R quantile type 7) of the linear predictor and "
          "of continuous predictors on the model's scale; proportions of each level")


def summarise(design: pd.DataFrame, lp, terms: dict[str, dict]) -> dict:
    """Centiles and proportions of the linear predictor and each model term.

    Parameters
    ----------
    design
        The model's design matrix (one column per coefficient, named
        ``term`` or ``term[level]``) of the patients analysed.
    lp
        Their linear predictor.
    terms
        The frozen model's ``covariates`` (``type``, ``label``, and the fitted
        ``levels`` of a categorical term, reference first).

    Returns
    -------
    dict
        ``n``, ``linear_predictor`` (mean, sd, centiles) and ``predictors``:
        per term either ``centiles`` (continuous) or ``proportions`` per level.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [5.0, 6.0, 7.0, 8.0], "g[b]": [0.0, 1.0, 1.0, 0.0]})
    >>> s = summarise(X, [0.1, 0.2, 0.3, 0.4], {"age": {"type": "continuous"},
    ...               "g": {"type": "categorical", "levels": ["a", "b"]}})
    >>> s["predictors"]["g"]["proportions"], s["predictors"]["age"]["centiles"]["50"]
    ({'a': 0.5, 'b': 0.5}, 6.5)
    """
    lp = np.asarray(lp, float)
    out = {"n": int(len(lp)),
           "linear_predictor": {"mean": float(lp.mean()), "sd": float(lp.std(ddof=1))
                                if len(lp) > 1 else float("nan"),
                                "centiles": _centiles(lp)},
           "predictors": {}}
    for name, spec in terms.items():
        kind = spec.get("type", "continuous")
        if kind == "categorical":
            levels = [str(v) for v in spec["levels"]]
            shares = {lv: float(design[f"{name}[{lv}]"].mean()) for lv in levels[1:]}
            out["predictors"][name] = {"proportions": {levels[0]: float(1 - sum(shares.values())),
                                                       **shares}}
        elif kind == "binary":
            p = float(design[name].mean())
            out["predictors"][name] = {"proportions": {"0": 1 - p, "1": p}}
        else:
            out["predictors"][name] = {"centiles": _centiles(design[name].to_numpy(float))}
    return out


def _centiles(values: np.ndarray) -> dict[str, float]:
    return {f"{q:g}": float(np.quantile(values, q / 100)) for q in CENTILES}


def case_mix_table(summaries: dict[str, dict], labels: dict[str, str] | None = None
                   ) -> pd.DataFrame:
    """Tidy rows ``cohort, variable, label, level, statistic, value`` of several summaries.

    ``summaries`` maps a cohort's name (``development``, ``validation``, a centre)
    to :func:`summarise` output; a summary without predictors (a model frozen
    before they were stored) contributes its linear predictor only.
    """
    labels = labels or {}
    rows = []
    for cohort, s in summaries.items():
        lp = s["linear_predictor"]
        rows.append((cohort, "linear_predictor", "Linear predictor", "", "n", float(s["n"])))
        rows += [(cohort, "linear_predictor", "Linear predictor", "", f"centile {q}", v)
                 for q, v in lp.get("centiles", lp.get("quantiles", {})).items()
                 if q in {f"{c:g}" for c in CENTILES}]
        for name, p in s.get("predictors", {}).items():
            label = labels.get(name, name)
            if "centiles" in p:
                rows += [(cohort, name, label, "", f"centile {q}", v)
                         for q, v in p["centiles"].items()]
            else:
                rows += [(cohort, name, label, str(lv), "proportion", v)
                         for lv, v in p["proportions"].items()]
    return pd.DataFrame(rows, columns=["cohort", "variable", "label", "level", "statistic",
                                       "value"])
