"""What several steps share: the analysis frame, the configured groups and labels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..netpet.scoring import resolve_grouping


def privacy(config: dict) -> tuple[bool, int]:
    """Whether small counts are suppressed in published tables, and below what."""
    return bool(config["privacy"]["suppress_small_cells"]), int(config["privacy"]["threshold"])


def risk_set_kw(frame: pd.DataFrame) -> dict:
    """The rows' delayed-entry times and case weights as the engine's keywords.

    ``{"entry": ..., "weights": ...}`` for the columns the cohort has
    (``entry_time``: R ``Surv(entry, time, event)``; ``weight``: R ``weights =``),
    empty without them, so that every estimator sees the same risk sets.
    """
    kw = {}
    if "entry_time" in frame.columns:
        kw["entry"] = frame["entry_time"].to_numpy(float)
    if "weight" in frame.columns:
        kw["weights"] = frame["weight"].to_numpy(float)
    return kw


def risk_set_columns(frame: pd.DataFrame) -> dict:
    """:func:`risk_set_kw` as the column keywords of ``cox.fit_cox`` (``entry_col``,
    ``weights_col``), None where the cohort has no such column."""
    return {"entry_col": "entry_time" if "entry_time" in frame.columns else None,
            "weights_col": "weight" if "weight" in frame.columns else None}


def risk_set_method(frame: pd.DataFrame) -> str:
    """What a table's method says of delayed entry and case weights ("" without them)."""
    parts = []
    if "entry_time" in frame.columns:
        parts.append("delayed entry: each patient at risk from entry on, entry < t <= time "
                     "(left truncation; R Surv(entry, time, event))")
    if "weight" in frame.columns:
        parts.append("case weights from the cohort (R weights =)")
    return "".join(f"; {p}" for p in parts)


def groups_of(data: pd.DataFrame) -> list[str]:
    """Analysis groups in their configured order."""
    return [str(c) for c in data["netpet_group"].cat.categories]


def label(config: dict, cov: str) -> str:
    """A covariate's label from the configuration (its name if it has none)."""
    return config["covariates"].get(cov, {}).get("label", cov)


def endpoint_label(config: dict, endpoint: str) -> str:
    return config["endpoints"][endpoint]["label"]


def time_unit(config: dict, endpoint: str) -> str:
    """The unit every time of ``endpoint`` is analysed and reported in (one for all)."""
    return config["analysis_time_unit"]


def load_analysis(path: str | Path, config: dict) -> pd.DataFrame:
    """Read the prepared cohort back, restoring the ordered NETPET group."""
    data = pd.read_parquet(path)
    if "netpet_group" not in data.columns:  # a generic cohort (no NETPET score)
        return data
    order = list(resolve_grouping(config["netpet"]["grouping"]))
    data["netpet_group"] = pd.Categorical(data["netpet_group"], categories=order, ordered=True)
    return data


def dpi(config: dict) -> int:
    return int(config["figures"]["dpi"])


def figure_style(config: dict):
    """The configured look of every figure (width, fonts, palette, group labels)."""
    from ..report.figures import FigureStyle

    return FigureStyle.from_config(config["figures"])
