"""Rule cox's residual table and the Schoenfeld figure drawn from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from netpet_stats import fit_cox, zph_residuals, zph_smooth
from netpet_stats.report import figures as F
from netpet_stats.steps.cox import MIN_BIN_EVENTS, ph_residual_table

DATA = Path(__file__).resolve().parents[1] / "data"
CODING = {"age": {"type": "continuous", "label": "Age"},
          "sex": {"type": "binary", "label": "Sex"},
          "ph_ecog": {"type": "categorical", "levels": [0, 1, 2, 3], "label": "ECOG"}}


@pytest.fixture(scope="module")
def lung_fit():
    lung = pd.read_csv(DATA / "lung.csv").dropna(subset=["ph_ecog"])
    lung = lung[lung["ph_ecog"] < 3].assign(ph_ecog=lambda d: d["ph_ecog"].astype(int))
    coding = {**CODING, "ph_ecog": {**CODING["ph_ecog"], "levels": [0, 1, 2]}}
    return fit_cox(lung, "time", "event", ["age", "sex", "ph_ecog"], [], coding)


def test_the_table_holds_aggregates_unless_points_are_asked_for(lung_fit):
    table = ph_residual_table(lung_fit, "km", points=False, threshold=5)
    assert set(table["kind"]) == {"smooth", "binned"}
    binned = table[table["kind"] == "binned"]
    assert binned["n"].min() >= MIN_BIN_EVENTS
    z = zph_residuals(lung_fit, "km", terms=False)       # R cox.zph(fit, terms = FALSE)
    keys = {"age": ("age", ""), "sex": ("sex", ""), "ph_ecog[1]": ("ph_ecog", "1"),
            "ph_ecog[2]": ("ph_ecog", "2")}
    assert list(z.y.columns) == list(keys)
    for column, (term, level) in keys.items():
        # the binned means are means of the residuals: their weighted mean is the mean
        mine = (table["term"] == term) & (table["level"] == level)
        b = binned[mine[binned.index]]
        assert np.average(b["estimate"], weights=b["n"]) == pytest.approx(z.y[column].mean())
        assert b["n"].sum() == z.y[column].notna().sum()
        smooth = table[(table["kind"] == "smooth") & mine]
        assert smooth["estimate"].to_numpy() == pytest.approx(
            zph_smooth(z, column)["estimate"].to_numpy())
    with_points = ph_residual_table(lung_fit, "km", points=True, threshold=5)
    events = with_points[with_points["kind"] == "event"]
    assert len(events) == len(z.y) * len(z.y.columns)


def test_a_privacy_threshold_above_ten_widens_the_bins(lung_fit):
    table = ph_residual_table(lung_fit, "km", points=False, threshold=40)
    assert table.loc[table["kind"] == "binned", "n"].min() >= 40


def test_a_factor_is_drawn_per_contrast_on_the_scale_of_its_coefficient(lung_fit):
    """One block per coefficient, as plot(cox.zph(fit, terms = FALSE)): ECOG 1 and 2
    against 0, not the factor's beta(t)/beta that cox.zph(fit) gives."""
    table = ph_residual_table(lung_fit, "km", points=False, threshold=5)
    blocks = table[["term", "level", "reference", "scale"]].drop_duplicates()
    assert blocks.values.tolist() == [["age", "", "", "beta(t)"], ["sex", "", "", "beta(t)"],
                                      ["ph_ecog", "1", "0", "beta(t)"],
                                      ["ph_ecog", "2", "0", "beta(t)"]]
    # each contrast's smooth is centred near its own coefficient, not near 1
    for level, beta in (("1", lung_fit.beta[2]), ("2", lung_fit.beta[3])):
        smooth = table[(table["level"] == level) & (table["kind"] == "smooth")]
        assert smooth["estimate"].mean() == pytest.approx(beta, abs=0.5)


@pytest.mark.parametrize("width", ["single", "double"])
def test_the_schoenfeld_figure_prints_at_both_widths(lung_fit, width):
    table = ph_residual_table(lung_fit, "km", points=True, threshold=5)
    ph = pd.DataFrame({"term": ["age", "sex", "ph_ecog"], "p": [0.5, 0.02, 0.0004],
                       "df": [1, 1, 2]})
    coefs = {("age", ""): float(lung_fit.beta[0]), ("sex", ""): float(lung_fit.beta[1]),
             ("ph_ecog", "1"): float(lung_fit.beta[2]), ("ph_ecog", "2"): float(lung_fit.beta[3])}
    fig = F.schoenfeld_figure(table, ph, coefs, "Lung: age + sex + ECOG", "days",
                              style=F.FigureStyle(width=width))
    assert F.text_problems(fig) == []
    titles = [ax.get_title(loc="left").replace("\n", " ").replace("\u00a0", " ")
              for ax in fig.axes if ax.get_title(loc="left")]
    # one panel per coefficient, as plot(cox.zph(fit, terms = FALSE)): ECOG 1 and 2 apart
    assert [t.split(" PH test")[0] for t in titles] == ["Age", "Sex", "ECOG: 1 vs 0",
                                                       "ECOG: 2 vs 0"]
    assert "p = 0.02" in titles[1]
    assert "2 df: p < 0.001" in titles[2] and "2 df: p < 0.001" in titles[3]
    # each contrast's flat line is its own coefficient (beta(t) scale, not beta(t)/beta = 1)
    for ax, beta in zip(fig.axes, lung_fit.beta):
        flat = [ln for ln in ax.get_lines() if ln.get_label().startswith("proportional")]
        assert flat and flat[0].get_ydata()[0] == pytest.approx(beta)
    # tick labels are times, increasing along the transformed axis, which says so
    ticks = [float(t.get_text()) for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert ticks == sorted(ticks) and len(ticks) >= 3
    assert "spaced as 1 − KM" in fig.axes[0].get_xlabel().replace("\n", " ")


def test_a_term_without_enough_varying_events_is_drawn_as_not_estimable():
    """R's plot(cox.zph) skips such a term ("spline fit is singular"); the panel says so."""
    d = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6, 7, 8], "event": [1, 1, 0, 1, 0, 1, 0, 0],
                      "x": [0.3, 1.2, 0.4, 2.0, 1.1, 0.8, 1.5, 0.2]})
    fit = fit_cox(d, "time", "event", ["x"], [], {"x": {"type": "continuous"}})
    z = zph_residuals(fit, "km")
    assert len(z.y) == 4
    smooth = zph_smooth(z, "x")            # 4 events: exactly df, an interpolating fit
    assert smooth["estimate"].notna().all()
    fewer = fit_cox(d.assign(event=[1, 1, 0, 0, 0, 1, 0, 0]), "time", "event", ["x"], [],
                    {"x": {"type": "continuous"}})
    table = ph_residual_table(fewer, "km", points=False, threshold=5)
    assert table.loc[table["kind"] == "smooth", "estimate"].isna().all()   # 3 events < 4 df
    fig = F.schoenfeld_figure(table, pd.DataFrame({"term": ["x"], "p": [0.5]}), {"x": 0.1},
                              "t", "months")
    assert any("not estimable" in t.get_text() for t in fig.axes[0].texts)
    assert F.text_problems(fig) == []


def test_the_configured_tie_method_is_fitted_and_named():
    """cox.ties reaches the fit (R coxph(ties = "breslow"), tests/survival/ties_reference.R)
    and the method sentence of the coefficient table."""
    import json

    from netpet_stats.steps.cox import fit_spec
    from netpet_stats.survival import cox

    ref = json.loads((Path(__file__).resolve().parents[1] / "survival"
                      / "ties_reference.json").read_text())
    entry = next(e for e in ref["fits"] if e["data"] == "larynx" and e["ties"] == "breslow")
    data = pd.DataFrame(ref["data"]["larynx"]).rename(columns={"time": "os_time",
                                                               "event": "os_event"})
    config = {"covariates": {"stage": {"type": "categorical", "levels": ["1", "2", "3", "4"]},
                             "age": {"type": "continuous"}},
              "cox": {"conf_level": 0.95, "ties": "breslow"}, "endpoints": {}}
    fit = fit_spec(config, data, "os", {"covariates": ["stage", "age"], "strata": []})
    assert fit.ties == "breslow"
    np.testing.assert_allclose(fit.beta, entry["coef"], rtol=1e-8)
    assert "Breslow ties (R coxph ties='breslow')" in cox.coef_method(fit.ties)
    assert "Efron ties (R coxph ties='efron')" in cox.COEF_METHOD
