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


def _five_centiles(stored) -> dict[str, float] | None:
    """The centiles 5, 25, 50, 75 and 95 of a stored summary, or None unless all are there.

    A frozen model stores them (beside the 16th and 84th) under ``quantiles`` of its
    linear predictor; a hand-written file may hold fewer, keyed as numbers or strings.
    """
    if not isinstance(stored, dict):
        return None
    by_key = {f"{float(k):g}": v for k, v in stored.items()
              if isinstance(k, (int, float, str)) and str(k).replace(".", "", 1).isdigit()}
    wanted = [f"{q:g}" for q in CENTILES]
    if not all(isinstance(by_key.get(q), (int, float)) for q in wanted):
        return None
    return {q: float(by_key[q]) for q in wanted}


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and np.isfinite(value) else None


def lacking(summary: dict | None) -> list[str]:
    """What a stored development summary lacks for the case-mix table (TRIPOD+AI 20c).

    A model frozen by this package stores everything; a model written by hand from a
    paper may store nothing (coefficients and baseline survival only) or part of it.

    Examples
    --------
    >>> lacking({"linear_predictor": {"mean": 0.1, "sd": 0.8}})  # doctest: +NORMALIZE_WHITESPACE
    ['the number of patients', "the linear predictor's centiles 5, 25, 50, 75 and 95",
     "the predictors' centiles and proportions"]
    """
    s = summary if isinstance(summary, dict) else {}
    lp = s.get("linear_predictor") if isinstance(s.get("linear_predictor"), dict) else {}
    out = []
    if _number(s.get("n")) is None:
        out.append("the number of patients")
    if _five_centiles(lp.get("centiles", lp.get("quantiles"))) is None:
        out.append("the linear predictor's centiles 5, 25, 50, 75 and 95")
    if _number(lp.get("mean")) is None or _number(lp.get("sd")) is None:
        out.append("the linear predictor's mean and SD")
    if not isinstance(s.get("predictors"), dict) or not s["predictors"]:
        out.append("the predictors' centiles and proportions")
    return out


def case_mix_table(summaries: dict[str, dict], labels: dict[str, str] | None = None
                   ) -> pd.DataFrame:
    """Tidy rows ``cohort, variable, label, level, statistic, value`` of several summaries.

    ``summaries`` maps a cohort's name (``development``, ``validation``, a centre)
    to :func:`summarise` output, or to the development summary a model file stores.
    Of the linear predictor: ``n``, ``mean``, ``SD`` and the centiles; of each
    predictor: its centiles or the proportion of each level. A stored summary
    contributes what it has (:func:`lacking` says what it has not): a value it lacks
    is no row, and centiles only when all five are there (the figure draws a box
    from them).

    Examples
    --------
    >>> case_mix_table({"development": {"linear_predictor": {"mean": 0.1, "sd": 0.8}}}
    ...                )[["statistic", "value"]].values.tolist()
    [['mean', 0.1], ['SD', 0.8]]
    """
    labels = labels or {}
    rows = []
    lp_label = ("linear_predictor", "Linear predictor", "")
    for cohort, s in summaries.items():
        s = s if isinstance(s, dict) else {}
        lp = s.get("linear_predictor") if isinstance(s.get("linear_predictor"), dict) else {}
        for statistic, value in (("n", s.get("n")), ("mean", lp.get("mean")),
                                 ("SD", lp.get("sd"))):
            if _number(value) is not None:
                rows.append((cohort, *lp_label, statistic, float(value)))
        centiles = _five_centiles(lp.get("centiles", lp.get("quantiles")))
        rows += [(cohort, *lp_label, f"centile {q}", v) for q, v in (centiles or {}).items()]
        predictors = s.get("predictors") if isinstance(s.get("predictors"), dict) else {}
        for name, p in predictors.items():
            label = labels.get(name, name)
            p = p if isinstance(p, dict) else {}
            if "centiles" in p:
                rows += [(cohort, name, label, "", f"centile {q}", v)
                         for q, v in (_five_centiles(p["centiles"]) or {}).items()]
            elif isinstance(p.get("proportions"), dict):
                rows += [(cohort, name, label, str(lv), "proportion", float(v))
                         for lv, v in p["proportions"].items() if _number(v) is not None]
    return pd.DataFrame(rows, columns=["cohort", "variable", "label", "level", "statistic",
                                       "value"])
