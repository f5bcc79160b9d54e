"""Figures as a journal takes them: printed width, text >= 6 pt inside the figure, labels.

Every figure is drawn at single (85 mm) and double (175 mm) column width on inputs
shaped like an awkward cohort (long labels, many centres, many exclusion reasons);
:func:`figures.text_problems` must find nothing, and must find a planted fault.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from netpet_stats import km_table, logrank_tests, numbers_at_risk
from netpet_stats.report import figures as F

WIDTHS = {"single": 85.0, "double": 175.0}


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
    rows = [("NETPET group", "P2-4", "P1", 2.68, 1.66, 4.31, 1e-5),
            ("NETPET group", "P5", "P1", 9.86, 5.55, 17.5, 1e-9),
            ("WHO grade (2019 classification of digestive tumours)", "G3", "G1", 2.41, 1.47, 3.96,
             0.0004),
            ("Age (per 10 years)", "", "", 1.51, 1.27, 1.79, 0.0002),
            ("Extrahepatic disease", "", "", np.inf, np.nan, np.nan, np.nan)]
    return pd.DataFrame(rows, columns=["term_label", "level", "reference", "hr", "hr_lower",
                                       "hr_upper", "p"])


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
                            "95% CI, log", style=style)
    yield "forest", F.forest_figure(_coefs(), "Overall survival: NETPET + grade + age + "
                                    "extrahepatic, stratified by centre", style=style)
    yield "flow", F.flow_figure(_flow(), {"os": "Overall survival", "ttp": "Time to progression",
                                          "pfs": "Progression-free survival"}, "primary",
                                style=style)
    yield "centres", F.centre_forest_figure(_centres(), "Overall survival", style=style)
    yield "empty", F.empty_figure("Not done: " + "a reason that goes on " * 12, style=style)
    grid = np.linspace(0.05, 0.6, 20)
    smooth = {h: {"predicted": grid, "observed": grid * 1.1, "ICI": 0.02} for h in (12, 36, 60)}
    groups = pd.DataFrame([{"horizon": h, "predicted": p, "observed": p, "observed_lower": p - .05,
                            "observed_upper": p + .05} for h in (12, 36, 60)
                           for p in (0.1, 0.3, 0.5)])
    yield "calibration", F.calibration_figure(groups, smooth, "Overall survival", "months",
                                              style=style)
    yield "cumulative incidence", F.cumulative_incidence_figure(*_cif_inputs(), "months",
                                                                "95% CI, log", style=style)


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
    assert steps[1].get_label().startswith("Second: median")
    assert [t.get_text() for t in fig.axes[1].get_yticklabels()] == ["Second", "Group 1"]


def test_font_family_and_size_reach_the_text():
    style = F.FigureStyle(font_family="DejaVu Serif", font_size=9)
    fig = F.forest_figure(_coefs(), "t", style=style)
    label = fig.axes[0].xaxis.label
    assert label.get_fontsize() == 9
    assert "DejaVuSerif" in matplotlib.font_manager.findfont(label.get_fontproperties())
    assert min(t.get_fontsize() for t in fig.axes[0].get_yticklabels()) == 8


def test_wrapping_keeps_the_line_breaks_a_heading_asks_for():
    style = F.FigureStyle(width="single")
    assert style.wrap("Overall survival\nlog-rank p < 0.001", 3.0) == (
        "Overall survival\nlog-rank p < 0.001")
    curves, risk, summary, tests = _km_inputs(n_groups=3)
    fig = F.km_figure(curves, risk, summary, tests, "Overall survival", "months", "95% CI",
                      style=style)
    assert fig._suptitle.get_text().startswith("Overall survival\nlog-rank p")


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
