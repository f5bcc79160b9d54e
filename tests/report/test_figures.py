"""Figures as a journal takes them: printed width, text >= 6 pt inside the figure, labels,
no title inside a figure unless asked, every axis covering its data or saying where it
stops, one panel per contrast.

Every figure is drawn at single (85 mm) and double (175 mm) column width on inputs
shaped like an awkward cohort (long labels, many centres, many exclusion reasons, follow-up
beyond the risk table); :func:`figures.text_problems` must find nothing, and must find
each planted fault.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from netpet_stats import km_table, logrank_tests, numbers_at_risk
from netpet_stats.report import figures as F

WIDTHS = {"single": 85.0, "double": 175.0}
DATA = Path(__file__).resolve().parents[1] / "data"


def _km_inputs(n_groups=4, seed=3):
    rng = np.random.default_rng(seed)
    curves, risk, summary, t_all, e_all, g_all = [], [], [], [], [], []
    for k in range(n_groups):
        g = f"Group {k + 1}"
        t = np.round(rng.exponential(30 * (k + 1), 120), 1) + 0.1
        e = (rng.random(120) < 0.7).astype(int)
        km = km_table(t, e).assign(group=g)
        curves.append(km)
        at = list(range(0, 121, 12))
        risk.append(pd.DataFrame({"group": g, "time": at, "n_risk": numbers_at_risk(t, at)}))
        below = km[km["surv"] <= 0.5]
        summary.append({"group": g, "median": below["time"].iloc[0] if len(below) else np.nan})
        t_all += list(t)
        e_all += list(e)
        g_all += [g] * len(t)
    tests = logrank_tests(t_all, e_all, g_all, [f"Group {k + 1}" for k in range(n_groups)])
    return pd.concat(curves), pd.concat(risk), pd.DataFrame(summary), tests


def _coefs():
    rows = [("netpet_group", "NETPET group", "P2-4", "P1", 2.68, 1.66, 4.31, 1e-5),
            ("netpet_group", "NETPET group", "P5", "P1", 9.86, 5.55, 17.5, 1e-9),
            ("grade", "WHO grade (2019 classification of digestive tumours)", "G3", "G1", 2.41,
             1.47, 3.96, 0.0004),
            ("age", "Age (per 10 years)", "", "", 1.51, 1.27, 1.79, 0.0002),
            ("extrahepatic", "Extrahepatic disease", "", "", np.inf, np.nan, np.nan, np.nan)]
    return pd.DataFrame(rows, columns=["term", "term_label", "level", "reference", "hr",
                                       "hr_lower", "hr_upper", "p"]).assign(n=307, events=169)


def _flow(n_reasons=12):
    rows = [("received", "input rows", 1000, ""), ("all", "eligible", 700, "")]
    rows += [("all", "excluded", 5 + k, f"reason number {k} with a fairly long explanation")
             for k in range(n_reasons)]
    for ep in ("os", "ttp", "pfs"):
        rows += [(ep, "analysed (Kaplan-Meier, log-rank)", 690, ""),
                 (ep, "excluded", 10, "missing or non-positive time"),
                 (f"{ep}:primary", "analysed (Cox)", 650, ""),
                 (f"{ep}:primary", "excluded", 40, "missing WHO grade")]
    return pd.DataFrame(rows, columns=["analysis", "step", "n", "reason"])


def _centres(k=7):
    rows = []
    for measure, ref in (("Harrell's C", 0.7), ("calibration slope", 1.0), ("O/E", 1.0),
                         ("time-dependent AUC", 0.75)):
        for c in range(k):
            est = ref + 0.05 * (c - k / 2) / k
            rows.append({"centre": f"Hospital {c + 1}", "measure": measure, "estimate": est,
                         "lower": est - 0.1, "upper": est + 0.1})
        if measure != "time-dependent AUC":
            rows.append({"centre": "pooled (random effects)", "measure": measure,
                         "estimate": ref, "lower": ref - 0.04, "upper": ref + 0.04,
                         "pi_lower": ref - 3, "pi_upper": ref + 5})
    return pd.DataFrame(rows)


def _all_figures(style):
    curves, risk, summary, tests = _km_inputs()
    yield "km", F.km_figure(curves, risk, summary, tests, "Overall survival", "months",
                            "95% confidence interval", style=style)
    yield "forest", F.forest_figure(_coefs(), "Overall survival: NETPET + grade + age + "
                                    "extrahepatic, stratified by centre", style=style,
                                    counts=_counts())
    yield "flow", F.flow_figure(_flow(), {"os": "Overall survival", "ttp": "Time to progression",
                                          "pfs": "Progression-free survival"}, "primary",
                                style=style)
    yield "centres", F.centre_forest_figure(_centres(), "Overall survival", style=style)
    yield "empty", F.empty_figure("Not done: " + "a reason that goes on " * 12, style=style)
    groups, smooth = _calibration_inputs()
    yield "calibration", F.calibration_figure(groups, smooth, "Overall survival", "months",
                                              style=style)
    yield "cumulative incidence", F.cumulative_incidence_figure(*_cif_inputs(), "months",
                                                                "95% confidence interval",
                                                                style=style)
    residuals, ph, coefficients = _schoenfeld_inputs()
    yield "schoenfeld", F.schoenfeld_figure(residuals, ph, coefficients, "OS", "months",
                                            style=style)
    yield "case mix", F.case_mix_figure(_case_mix(), "case mix", style=style,
                                        covariates=CASE_MIX_COVARIATES)
    yield "distribution", F.netpet_distribution_figure(_distribution(), style=style)


def _counts():
    return pd.DataFrame([("netpet_group", "P1", 86, 29), ("netpet_group", "P2-4", 170, 94),
                         ("netpet_group", "P5", 51, 46), ("grade", "G1", 93, 41),
                         ("grade", "G3", 55, 44), ("extrahepatic", "no", 168, 96),
                         ("extrahepatic", "yes", "<5", "<5")],
                        columns=["term", "level", "n", "events"])


def _calibration_inputs():
    grid = np.linspace(0.05, 0.6, 20)
    smooth = {h: {"predicted": grid, "observed": grid * 1.1, "ICI": 0.02} for h in (12, 36, 60)}
    groups = pd.DataFrame([{"horizon": h, "predicted": p, "observed": p, "observed_lower": p - .05,
                            "observed_upper": p + .05} for h in (12, 36, 60)
                           for p in (0.1, 0.3, 0.5)])
    return groups, smooth


def _schoenfeld_inputs():
    """The per-contrast residual table of R's lung (age, sex, ECOG 0/1/2), as rule cox writes."""
    from netpet_stats import fit_cox
    from netpet_stats.steps.cox import ph_residual_table

    lung = pd.read_csv(DATA / "lung.csv").dropna(subset=["ph_ecog"])
    lung = lung[lung["ph_ecog"] < 3].astype({"ph_ecog": int})
    fit = fit_cox(lung, "time", "event", ["age", "sex", "ph_ecog"], [],
                  {"age": {"type": "continuous", "label": "Age"},
                   "sex": {"type": "binary", "label": "Sex"},
                   "ph_ecog": {"type": "categorical", "levels": [0, 1, 2],
                               "label": "ECOG performance status"}})
    table = ph_residual_table(fit, "km", points=False, threshold=5)
    ph = pd.DataFrame({"term": ["age", "sex", "ph_ecog"], "p": [0.5, 0.02, 0.3],
                       "df": [1, 1, 2]})
    coefficients = {(t, lv): float(b) for (t, lv), b in zip(
        [("age", ""), ("sex", ""), ("ph_ecog", "1"), ("ph_ecog", "2")], fit.beta)}
    return table, ph, coefficients


#: A frozen model's covariates as the case-mix figure reads them (scale, transform, label).
CASE_MIX_COVARIATES = {"age": {"type": "continuous", "label": "Age (per 10 years)", "scale": 10},
                       "ki67": {"type": "continuous", "label": "Ki-67 (per doubling)",
                                "transform": "log2"},
                       "grade": {"type": "categorical", "label": "WHO grade"}}


def _case_mix():
    rows = []
    for cohort, shift in (("development", 0.0), ("validation, centre with a long name", 0.3)):
        for var, label, centiles in (
                ("linear_predictor", "Linear predictor", (2.2, 2.9, 3.5, 4.2, 5.4)),
                ("age", "Age (per 10 years)", (4.6, 5.6, 6.3, 6.95, 7.8)),
                ("ki67", "Ki-67 (per doubling)", (0.0, 1.0, 2.5, 4.0, 6.0))):
            rows += [(cohort, var, label, "", f"centile {q}", v + shift)
                     for q, v in zip((5, 25, 50, 75, 95), centiles)]
        rows += [(cohort, "grade", "WHO grade", lv, "proportion", v)
                 for lv, v in (("G1", 0.3), ("G2", 0.5), ("G3", 0.2))]
    return pd.DataFrame(rows, columns=["cohort", "variable", "label", "level", "statistic",
                                       "value"])


def _distribution(hidden=False):
    rows = [("P0", 12, "(not analysed)"), ("P1", 86, "P1"), ("P2", 89, "P2-4"),
            ("P3", 28, "P2-4"), ("P4a", 29, "P2-4"), ("P4b", 24, "P2-4"), ("P5", 51, "P5")]
    if hidden:
        rows[0], rows[3] = ("P0", "<5", "(not analysed)"), ("P3", "<5", "P2-4")
    return pd.DataFrame(rows, columns=["netpet", "n", "analysis_group"])


def _cif_inputs(n_groups=4, seed=5):
    """Four groups with long labels, progression and death first, and the naive 1 - KM."""
    from netpet_stats import aalen_johansen
    rng = np.random.default_rng(seed)
    n = 480
    group = np.repeat([f"Group {k + 1} (a long label)" for k in range(n_groups)], n // n_groups)
    t = np.round(rng.exponential(30, n), 1) + 0.1
    cause = rng.choice([0, 1, 2], n, p=[0.2, 0.5, 0.3])
    curves = aalen_johansen(t, cause, group, cause_labels={1: "progressed",
                                                           2: "died without progression"})
    naive, risk = [], []
    for g in pd.unique(group):
        m = group == g
        km = km_table(t[m], (cause[m] == 1).astype(int))
        naive.append(pd.DataFrame({"group": g, "time": km["time"], "one_minus_km": 1 - km["surv"]}))
        at = list(range(0, 121, 12))
        risk.append(pd.DataFrame({"group": g, "time": at, "n_risk": numbers_at_risk(t[m], at)}))
    gray = pd.DataFrame({"cause": ["progressed", "died without progression"], "p": [0.03, 0.4]})
    return curves, pd.concat(naive), pd.concat(risk), gray


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_figure_prints_at_its_column_width_with_readable_text(width):
    style = F.FigureStyle(width=width, median_lines=True)
    for name, fig in _all_figures(style):
        assert fig.get_size_inches()[0] == pytest.approx(WIDTHS[width] / 25.4), name
        assert F.text_problems(fig) == [], name
        matplotlib.pyplot.close(fig)


def test_saved_files_keep_the_printed_width(tmp_path):
    from PIL import Image

    style = F.FigureStyle(width="single")
    fig = F.forest_figure(_coefs(), "t", style=style)
    F.save(fig, [tmp_path / "f.png"], dpi=300)
    with Image.open(tmp_path / "f.png") as image:
        assert abs(image.size[0] - 85 / 25.4 * 300) < 1     # not cropped or grown


def test_the_text_check_finds_small_and_cut_text():
    fig = matplotlib.pyplot.figure(figsize=(2, 2))
    fig.text(0.5, 0.5, "tiny", fontsize=5)
    fig.text(0.9, 0.5, "this sentence runs off the edge", fontsize=8)
    found = F.text_problems(fig)
    assert any("tiny" in p and "5 pt" in p for p in found)
    assert any("runs off" in p and "outside" in p for p in found)


def test_palette_group_labels_and_line_styles_come_from_the_style():
    curves, risk, summary, tests = _km_inputs(n_groups=2)
    style = F.FigureStyle(palette=("#111111", "#eeeeee"), group_labels={"Group 2": "Second"})
    fig = F.km_figure(curves, risk, summary, tests, "t", "months", "95% CI", style=style)
    steps = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith(("Group", "Sec"))]
    assert [ln.get_color() for ln in steps] == ["#111111", "#eeeeee"]
    assert steps[0].get_linestyle() != steps[1].get_linestyle()     # a cue besides colour
    assert steps[1].get_label().startswith("Second: ")
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["Second", "Group 1"]


def test_font_family_and_size_reach_the_text():
    style = F.FigureStyle(font_family="DejaVu Serif", font_size=9)
    fig = F.forest_figure(_coefs(), "t", style=style)
    label = fig.axes[0].xaxis.label
    assert label.get_fontsize() == 9
    assert "DejaVuSerif" in matplotlib.font_manager.findfont(label.get_fontproperties())
    assert min(t.get_fontsize() for t in fig.axes[0].get_yticklabels()) == 8


def test_wrapping_keeps_the_line_breaks_a_heading_asks_for():
    style = F.FigureStyle(width="single", titles=True)
    assert style.wrap("Overall survival\nlog-rank p < 0.001", 3.0) == (
        "Overall survival\nlog-rank p < 0.001")
    curves, risk, summary, tests = _km_inputs(n_groups=3)
    fig = F.km_figure(curves, risk, summary, tests, "Overall survival\nby NETPET group",
                      "months", "95% CI", style=style)
    assert fig._suptitle.get_text() == "Overall survival\nby NETPET group"


def test_a_style_that_cannot_print_is_refused():
    with pytest.raises(ValueError, match="at least 6"):
        F.FigureStyle(font_size=5)
    with pytest.raises(ValueError, match="single"):
        F.FigureStyle(width="triple")


def test_a_font_that_is_not_installed_is_refused_with_a_suggestion():
    from netpet_stats.config import font_problems

    assert font_problems("DejaVu Sans") == []
    (problem,) = font_problems("DejaVu Sanz")
    assert "not installed" in problem and "'DejaVu Sans'" in problem


def test_the_flow_names_the_methods_each_column_was_analysed_by():
    flow = pd.concat([_flow(2), pd.DataFrame([
        ("competing_risks", "analysed (Aalen-Johansen, Gray)", 690, ""),
        ("competing_risks:primary", "analysed (Fine-Gray, cause-specific Cox)", 650, "")],
        columns=["analysis", "step", "n", "reason"])], ignore_index=True)
    fig = F.flow_figure(flow, {"os": "Overall survival", "competing_risks": "Competing risks"},
                        "primary")
    texts = " ".join(t.get_text().replace("\n", " ") for t in fig.findobj(matplotlib.text.Text))
    assert "Aalen-Johansen, Gray: n = 690" in texts
    assert "Kaplan-Meier, log-rank: n = 690" in texts            # the OS column
    assert "Fine-Gray, cause-specific Cox: n = 650" in texts.replace("cause- specific",
                                                                      "cause-specific")
    F.plt.close(fig)


# ---------------------------------------------------------------- what a reviewer flags


def _texts(fig) -> list[str]:
    return [t.get_text().replace("\n", " ").replace("\u00a0", " ")
            for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text()]


def test_the_check_finds_a_title_nobody_asked_for():
    fig, (a, b) = matplotlib.pyplot.subplots(1, 2, figsize=(4, 2))
    fig.suptitle("Overall survival: NETPET + grade")
    a.set_title("A title on the axes")
    F._heading(b, "P1", F.DEFAULT_STYLE)                    # a panel's heading is no title
    found = F.text_problems(fig)
    assert any("Overall survival" in p and "caption" in p for p in found)
    assert any("A title on the axes" in p for p in found)
    assert not any("'P1'" in p for p in found)
    matplotlib.pyplot.close(fig)


def test_the_check_finds_an_axis_cut_short_of_its_data():
    fig, ax = matplotlib.pyplot.subplots(figsize=(3, 2), layout="constrained")
    ax.plot([0, 158], [1.0, 0.2])
    ax.set_xlim(0, 120)
    (found,) = F.text_problems(fig)
    assert "x axis" in found and "158" in found
    ax.set_xlabel("axis ends at 120; data to 158", gid=F.STOPS_GID)
    assert F.text_problems(fig) == []
    matplotlib.pyplot.close(fig)


@pytest.mark.parametrize("width", list(WIDTHS))
def test_no_figure_carries_a_title_unless_asked(width):
    for name, fig in _all_figures(F.FigureStyle(width=width)):
        assert F.title_problems(fig) == [], name
        assert fig._suptitle is None or not fig._suptitle.get_text(), name
        matplotlib.pyplot.close(fig)
    asked = F.FigureStyle(width=width, titles=True)
    fig = F.forest_figure(_coefs(), "Overall survival: primary model", style=asked)
    assert fig._suptitle.get_text().replace("\n", " ") == "Overall survival: primary model"
    assert F.text_problems(fig) == []


def test_km_axis_says_where_it_stops_and_the_risk_table_has_a_time_axis():
    curves, risk, summary, tests = _km_inputs(n_groups=3)
    last = float(curves["time"].max())
    assert last > 120                                    # follow-up beyond the risk table
    fig = F.km_figure(curves, risk, summary, tests, "OS", "months", "95% confidence interval")
    ax, tab = fig.axes
    assert ax.get_xlim() == (0.0, 120.0)
    label = ax.get_xlabel().replace("\n", " ")
    assert "axis ends at 120" in label and f"follow-up runs to {last:.4g}" in label
    assert tab.get_xlabel() == "Time (months)"
    assert [t.get_text() for t in tab.get_xticklabels()] == [f"{t:g}" for t in range(0, 121, 12)]
    # the legend is above the curves across the width, not beside them
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.y0 >= ax.get_window_extent().y1 - 1
    assert ax.get_window_extent().width > 0.8 * fig.bbox.width
    words = " ".join(_texts(fig))
    assert "shaded" not in words and ", log" not in words
    assert "95% confidence interval" in words and "censored" in words
    assert "log-rank p" in words
    assert F.text_problems(fig) == []


def test_cumulative_incidence_pairs_each_naive_curve_with_its_own_group():
    curves, naive, risk, gray = _cif_inputs(n_groups=3)
    fig = F.cumulative_incidence_figure(curves, naive, risk, gray, "months", "95% CI")
    panels = [ax for ax in fig.axes if ax.get_ylabel() or ax.get_lines()]
    panels = [ax for ax in panels if ax.get_lines()]
    groups = list(dict.fromkeys(risk["group"]))
    assert [ax.get_title(loc="left") for ax in panels] == groups        # a panel per group
    colours = set()
    for ax, g in zip(panels, groups):
        lines = [ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]
        naive_lines = [ln for ln in lines if ln.get_gid() == "naive-km"]
        assert len(naive_lines) == 1                                      # its own naive 1 - KM
        nv = naive[naive["group"] == g]
        assert naive_lines[0].get_ydata()[-1] == pytest.approx(nv["one_minus_km"].iloc[-1])
        colours |= {ln.get_color() for ln in lines}
    # colours stand for the event, the same in every panel (not for the group)
    assert len(colours) == 3
    # each group's numbers at risk are drawn once
    numbers = [t.get_text() for ax in fig.axes for t in ax.texts]
    for g in groups:
        r = risk[risk["group"] == g].set_index("time")["n_risk"]
        assert str(int(r.loc[0])) in numbers
    assert len(numbers) == 3 * len(fig.axes[1].get_xticks())
    words = " ".join(_texts(fig))
    assert "Gray's test" in words and "p = 0.03" in words
    assert F.text_problems(fig) == []


def test_forest_has_reference_rows_and_patients_with_events():
    fig = F.forest_figure(_coefs(), "t", counts=_counts())
    ax = fig.axes[0]
    labels = [t.get_text().strip() for t in ax.get_yticklabels()]
    assert labels[:5] == ["All patients", "NETPET group", "P1", "P2-4", "P5"]
    assert labels[-3:] == ["Extrahepatic disease", "no", "yes"]
    words = _texts(fig)
    assert words.count("1 (reference)") == 3                 # P1, G1 and no
    for cell in ("307 (169)", "86 (29)", "170 (94)", "51 (46)", "168 (96)", "<5 (<5)"):
        assert cell in words
    assert "Patients (events)" in words
    # without counts, the model's totals are still given
    plain = _texts(F.forest_figure(_coefs(), "t"))
    assert "307 (169)" in plain and plain.count("1 (reference)") == 2


def test_schoenfeld_draws_one_panel_per_contrast_and_no_empty_slot():
    residuals, ph, coefficients = _schoenfeld_inputs()
    for width in WIDTHS:
        fig = F.schoenfeld_figure(residuals, ph, coefficients, "t", "days",
                                  style=F.FigureStyle(width=width))
        headings = [ax.get_title(loc="left").replace("\n", " ") for ax in fig.axes
                    if ax.get_title(loc="left")]
        assert [h.split(" PH test")[0] for h in headings] == [
            "Age", "Sex", "ECOG performance status: 1 vs 0", "ECOG performance status: 2 vs 0"]
        # every axes shows a panel or holds the legend: no empty slot
        for ax in fig.axes:
            assert ax.get_lines() or ax.get_legend() is not None
        assert "spaced as 1 − KM" in fig.axes[0].get_xlabel().replace("\n", " ")
        matplotlib.pyplot.close(fig)


def test_case_mix_draws_predictors_on_their_own_scale():
    fig = F.case_mix_figure(_case_mix(), "t", style=F.FigureStyle(width="double"),
                            covariates=CASE_MIX_COVARIATES)
    by_label = {ax.get_xlabel(): ax for ax in fig.axes if ax.get_xlabel()}
    age = by_label["Age (years)"]
    whiskers = np.concatenate([ln.get_xdata() for ln in age.get_lines()])
    assert whiskers.min() == pytest.approx(46.0) and whiskers.max() == pytest.approx(81.0)
    ki67 = by_label["Ki-67, log scale"]
    assert ki67.get_xscale() == "log"
    assert np.concatenate([ln.get_xdata() for ln in ki67.get_lines()]).max() == pytest.approx(
        2 ** 6.3)
    # without the model's covariates the axis says it is on the model's scale
    plain = F.case_mix_figure(_case_mix())
    assert "Age (per 10 years) (model scale)" in [ax.get_xlabel() for ax in plain.axes]


def test_performance_by_centre_axes_do_not_magnify_trivial_differences():
    table = _centres(k=3)
    table = pd.concat([table, pd.DataFrame(
        [{"centre": f"Hospital {c + 1}", "measure": "IPA", "estimate": 0.25 + 0.03 * c,
          "lower": np.nan, "upper": np.nan} for c in range(3)])], ignore_index=True)
    table.loc[table["measure"] == "time-dependent AUC", "estimate"] = [0.811, 0.828, 0.826]
    fig = F.centre_forest_figure(table, "OS")
    panel = {ax.get_xlabel().replace("\n", " "): ax for ax in fig.axes if ax.get_xlabel()}
    auc = panel["time-dependent AUC"]
    lo, hi = auc.get_xlim()
    assert lo <= 0.5 and hi >= 1.0            # issue 29: not 0.816-0.824
    c_lo, c_hi = panel["Harrell's C"].get_xlim()
    assert c_lo <= 0.5 and c_hi >= 1.0
    assert panel["IPA (no CI)"].get_xlim()[0] <= 0.0
    # measures without a pooled estimate get no (empty) pooled row
    assert "pooled" not in [t.get_text() for t in auc.get_yticklabels()]
    assert "pooled" in [t.get_text() for t in panel["Harrell's C"].get_yticklabels()]
    # a prediction interval cut at the axis has its limits printed
    words = _texts(fig)
    assert "-2.30 to 5.70" in words                    # Harrell's C: 0.7 - 3, 0.7 + 5
    assert F.text_problems(fig) == []


def test_calibration_shows_the_predicted_risks_and_keeps_the_legend_off_the_points():
    groups, smooth = _calibration_inputs()
    fig = F.calibration_figure(groups, smooth, "t", "months")
    assert all(ax.get_legend() is None for ax in fig.axes)         # the legend is the figure's
    histograms = [ax for ax in fig.axes if ax.get_ylabel() == "Patients"]
    assert len(histograms) == 3
    for ax in histograms:
        assert sum(p.get_height() for p in ax.patches) == len(smooth[12]["predicted"])
    assert "predicted risks (histogram)" in _texts(fig)


def test_the_score_distribution_figure_draws_the_table():
    fig = F.netpet_distribution_figure(_distribution())
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [12, 86, 89, 28, 29, 24, 51]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["P0", "P1", "P2", "P3", "P4a",
                                                            "P4b", "P5"]
    colours = [matplotlib.colors.to_hex(p.get_facecolor()) for p in ax.patches]
    assert colours[0] == "#a6a6a6"                                   # P0: not analysed
    assert colours[2] == colours[3] == colours[5] != colours[1]      # P2-P4b: one group
    hidden = F.netpet_distribution_figure(_distribution(hidden=True))
    assert len(hidden.axes[0].patches) == 5                           # no bar for <5
    assert [t.get_text() for t in hidden.axes[0].texts].count("<5") == 2
    assert F.text_problems(hidden) == []


def test_figures_are_the_same_bytes_twice(tmp_path):
    for run in ("a", "b"):
        curves, risk, summary, tests = _km_inputs(n_groups=3)
        F.save(F.km_figure(curves, risk, summary, tests, "OS", "months", "95% CI"),
               [tmp_path / f"km_{run}.{fmt}" for fmt in ("png", "pdf", "svg")])
        F.save(F.netpet_distribution_figure(_distribution()),
               [tmp_path / f"dist_{run}.{fmt}" for fmt in ("png", "pdf", "svg")])
    for name in ("km", "dist"):
        for fmt in ("png", "pdf", "svg"):
            assert (tmp_path / f"{name}_a.{fmt}").read_bytes() == (
                tmp_path / f"{name}_b.{fmt}").read_bytes(), (name, fmt)


def test_theme_is_seaborns_ticks_paper():
    """The theme written out (so that a figure job need not import seaborn, which loads
    scipy.stats) is still seaborn's ``ticks`` style in its ``paper`` context."""
    import seaborn as sns

    seaborns = {**sns.axes_style("ticks"), **sns.plotting_context("paper")}
    assert seaborns.pop("image.cmap") == "rocket"      # left out: no figure draws an image
    assert F.SEABORN_TICKS_PAPER == seaborns


def test_figure_module_does_not_import_seaborn():
    """Drawing a Kaplan-Meier figure loads neither seaborn nor scipy (a new process)."""
    from fresh_process import modules_loaded

    code = ("from netpet_stats.report import figures as F\n"
            "with F.DEFAULT_STYLE.theme():\n"
            "    fig, ax = F.DEFAULT_STYLE.figure(2.0)\n"
            "    ax.plot([0, 1], [1, 0.5])\n")
    assert modules_loaded(code, ["seaborn", "scipy"]) == []


def test_a_registrys_censoring_marks_are_one_image_in_the_vector_figure(tmp_path, monkeypatch):
    """Beyond MAX_VECTOR_MARKS censored times (curve steps) the marks (the confidence
    bands) are drawn as images inside the SVG and PDF, the curves, axes and text staying
    vector; below it every mark and band is a vector, as before."""
    curves, risk, summary, tests = _km_inputs(n_groups=2)
    marks = int((curves["n_censor"] > 0).sum())
    for limit, dense in ((len(curves), False), (marks - 1, True)):
        monkeypatch.setattr(F, "MAX_VECTOR_MARKS", limit)
        path = tmp_path / f"km_{dense}.svg"
        F.save(F.km_figure(curves, risk, summary, tests, "OS", "months", "95% CI"), [path])
        svg = path.read_text()
        assert ("<image" in svg) == dense                    # the bands and the marks
        assert (svg.count("<use ") >= marks) != dense
        assert svg.count("<text") > 10                       # the text is still text
