"""Figures drawn from the result tables (never from patient rows).

Every figure is drawn at its final printed width (a journal's single column,
85 mm, or double column, 175 mm) with every text at least :data:`MIN_FONT_PT`
points, in the seaborn ``ticks`` theme with a colour-blind-safe palette and a
line style per group. Saved as PNG, TIFF (LZW), and vector PDF or SVG with
TrueType fonts and fixed metadata, so that reruns give byte-identical files.
"""

from __future__ import annotations

import textwrap
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
# TrueType (42), not Type 3, fonts in PDF and PostScript figures: embedded, searchable
# and editable, as journals require
matplotlib.rcParams["pdf.fonttype"] = 42
matplotlib.rcParams["ps.fonttype"] = 42
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .tables import fmt_p  # noqa: E402

#: Okabe & Ito's colour-blind-safe palette (blue, vermilion, bluish green, reddish
#: purple, orange, sky blue, black), each group also drawn with its own line style, so
#: that groups stay apart under any colour-vision deficiency and in greyscale.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: Journal column widths in millimetres (Elsevier, BMJ, Springer Nature all within 1-2 mm).
COLUMN_WIDTH_MM = {"single": 85.0, "double": 175.0}
#: The smallest text any figure may carry at its final printed size.
MIN_FONT_PT = 6.0
_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
    "svg": {"Date": None, "Creator": None},
}


@dataclass(frozen=True)
class FigureStyle:
    """How every figure looks: printed width, fonts, palette and group labels.

    Parameters
    ----------
    width
        ``"single"`` (85 mm), ``"double"`` (175 mm) or a width in millimetres:
        figures are drawn at this size, so their text prints at the sizes given.
    font_family
        A font installed on the machine (matplotlib ships DejaVu Sans).
    font_size
        Axis labels and legends, in points; titles are 1 pt larger and the
        smallest text (tick labels, numbers at risk) 1 pt smaller, never below
        :data:`MIN_FONT_PT`.
    palette
        Colours of the groups in order (hex); each group also has a line style.
    group_labels
        Printed name of an analysis group (``{"P2-4": "P2–P4"}``); groups not
        listed keep their name.
    median_lines
        Kaplan-Meier figures: dotted lines from S = 0.5 down to each median.

    Examples
    --------
    >>> style = FigureStyle(width="single", font_size=7)
    >>> round(style.width_in, 2), style.small, style.label("P5")
    (3.35, 6.0, 'P5')
    """

    width: str | float = "double"
    font_family: str = "DejaVu Sans"
    font_size: float = 8.0
    palette: tuple[str, ...] = PALETTE
    group_labels: Mapping[str, str] = field(default_factory=dict)
    median_lines: bool = False

    def __post_init__(self):
        if isinstance(self.width, str) and self.width not in COLUMN_WIDTH_MM:
            raise ValueError(f"width must be 'single', 'double' or millimetres, not {self.width!r}")
        if self.font_size < MIN_FONT_PT:
            raise ValueError(f"font_size must be at least {MIN_FONT_PT:g} pt, not {self.font_size}")
        if not self.palette:
            raise ValueError("palette needs at least one colour")

    @classmethod
    def from_config(cls, figures: Mapping) -> "FigureStyle":
        """The style of a resolved configuration's ``figures`` block."""
        return cls(width=figures["width"], font_family=figures["font_family"],
                   font_size=float(figures["font_size"]), palette=tuple(figures["palette"]),
                   group_labels=dict(figures["group_labels"]),
                   median_lines=bool(figures["median_lines"]))

    @property
    def width_mm(self) -> float:
        return COLUMN_WIDTH_MM[self.width] if isinstance(self.width, str) else float(self.width)

    @property
    def width_in(self) -> float:
        return self.width_mm / 25.4

    @property
    def narrow(self) -> bool:
        """Narrower than 120 mm: panels stack and legends move above the axes."""
        return self.width_mm < 120

    @property
    def small(self) -> float:
        return max(MIN_FONT_PT, self.font_size - 1)

    @property
    def large(self) -> float:
        return self.font_size + 1

    def colour(self, i: int) -> str:
        return self.palette[i % len(self.palette)]

    def linestyle(self, i: int):
        return LINESTYLES[i % len(LINESTYLES)]

    def marker(self, i: int) -> str:
        return MARKERS[i % len(MARKERS)]

    def label(self, group) -> str:
        return self.group_labels.get(str(group), str(group))

    def wrap(self, text: str, width_in: float, size: float | None = None) -> str:
        """``text`` wrapped to lines that fit ``width_in`` inches at ``size`` pt."""
        chars = max(8, int(width_in * 72 / (0.55 * (size or self.font_size))))
        # line by line: a line break the caller chose (title, then the test) is kept
        return "\n".join("\n".join(textwrap.wrap(line, chars)) or line
                         for line in text.split("\n"))

    @contextmanager
    def theme(self):
        """seaborn's ``ticks`` theme at this style's font sizes (rcParams, restored after)."""
        import seaborn as sns

        rc = {**sns.axes_style("ticks"), **sns.plotting_context("paper")}
        rc.update({
            # the family by name, not "sans-serif": a generic family is resolved when the
            # figure is saved, outside this context, and would fall back silently
            "font.family": [self.font_family, "DejaVu Sans"],
            "font.size": self.font_size, "axes.labelsize": self.font_size,
            "axes.titlesize": self.large, "figure.titlesize": self.large,
            "xtick.labelsize": self.small, "ytick.labelsize": self.small,
            "legend.fontsize": self.small, "legend.title_fontsize": self.small,
            "axes.spines.top": False, "axes.spines.right": False,
            "axes.prop_cycle": matplotlib.cycler(color=list(self.palette)),
            "lines.linewidth": 1.4, "axes.linewidth": 0.8, "grid.linewidth": 0.5,
            "pdf.fonttype": 42, "ps.fonttype": 42, "svg.hashsalt": "netpet-stats",
            "figure.constrained_layout.h_pad": 0.03, "figure.constrained_layout.w_pad": 0.03,
        })
        with matplotlib.rc_context(rc):
            yield

    def figure(self, height_in: float, **kwargs) -> tuple[plt.Figure, object]:
        """A figure at the printed width, constrained layout (``plt.subplots`` kwargs)."""
        return plt.subplots(figsize=(self.width_in, height_in), layout="constrained", **kwargs)


DEFAULT_STYLE = FigureStyle()


def save(fig: plt.Figure, paths: list[str | Path], dpi: int = 200) -> None:
    """Save to each path (format from the suffix) at the figure's size, without timestamps.

    The figure is not cropped, so that it prints at the width it was drawn for.
    """
    plt.rcParams["svg.hashsalt"] = "netpet-stats"
    for path in paths:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = path.suffix.lstrip(".").lower()
        if fmt in ("tif", "tiff"):  # LZW-compressed TIFF, the format journals ask for
            fig.savefig(path, dpi=dpi, format="tiff", pil_kwargs={"compression": "tiff_lzw"})
            continue
        fig.savefig(path, dpi=dpi, metadata=_METADATA.get(fmt))
    plt.close(fig)


def text_problems(fig: plt.Figure) -> list[str]:
    """Texts smaller than :data:`MIN_FONT_PT` or reaching outside the figure.

    What a journal's production editor checks; the tests call it on every figure
    at both column widths.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = fig.bbox
    undrawn = set()      # labels of ticks beyond the axis limits, which are not drawn
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            tol = 1e-9 * max(1.0, abs(lo), abs(hi))
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - tol <= tick.get_loc() <= hi + tol:
                    undrawn.update({id(tick.label1), id(tick.label2)})
    problems = []
    for text in fig.findobj(matplotlib.text.Text):
        if (not text.get_visible() or not text.get_text().strip() or id(text) in undrawn):
            continue
        if text.get_fontsize() < MIN_FONT_PT - 1e-9:
            problems.append(f"{text.get_text()!r} at {text.get_fontsize():g} pt")
        box = text.get_window_extent(renderer)
        if (box.x0 < frame.x0 - 1 or box.x1 > frame.x1 + 1 or box.y0 < frame.y0 - 1
                or box.y1 > frame.y1 + 1):
            problems.append(f"{text.get_text()!r} reaches outside the figure")
    return problems


def _fmt_p(p: float) -> str:
    text = fmt_p(p)
    return f"p {text}" if text[0] in "<>" else f"p = {text}"


def km_figure(curves: pd.DataFrame, risk: pd.DataFrame, summary: pd.DataFrame,
              logrank_tests: pd.DataFrame, title: str, time_unit: str,
              conf_label: str, median_lines: bool | None = None,
              style: FigureStyle = DEFAULT_STYLE, legend_title: str = "NETPET group"
              ) -> plt.Figure:
    """Kaplan-Meier curves by group with CIs, censoring marks and a risk table.

    Parameters
    ----------
    curves
        ``km_curves`` table (group, time, surv, lower, upper, n_censor).
    risk
        ``risk_table`` (group, time, n_risk).
    summary
        ``km_summary`` (group, median, median_lower, median_upper).
    logrank_tests
        ``logrank`` table; the unstratified k-sample test is shown.
    median_lines
        Draw a dotted line from S = 0.5 to each group's median and down to the axis
        (none for a median not reached); ``None`` takes ``style.median_lines``.
    style
        Width, fonts, palette and group labels.

    Each group has its own colour and line style, so that the curves stay apart in
    greyscale and for readers with a colour-vision deficiency. The legend sits
    beside the curves (above them at single-column width), never over a band.
    """
    median_lines = style.median_lines if median_lines is None else median_lines
    groups = list(dict.fromkeys(curves["group"]))
    times = sorted(risk["time"].unique())
    with style.theme():
        row_h = style.small * 1.6 / 72
        plot_h = style.width_in * (0.72 if style.narrow else 0.5)
        table_h = row_h * (len(groups) + 1.5)
        fig, (ax, tab) = style.figure(plot_h + table_h + 0.6, nrows=2,
                                      height_ratios=[plot_h, table_h])
        for i, g in enumerate(groups):
            c = curves[curves["group"] == g]
            color = style.colour(i)
            t = np.concatenate([[0.0], c["time"].to_numpy()])
            s = np.concatenate([[1.0], c["surv"].to_numpy()])
            lo = np.concatenate([[1.0], c["lower"].to_numpy()])
            hi = np.concatenate([[1.0], c["upper"].to_numpy()])
            med = summary[summary["group"] == g].iloc[0]
            med_txt = "NR" if pd.isna(med["median"]) else f"{med['median']:.1f}"
            ax.step(t, s, where="post", color=color, ls=style.linestyle(i),
                    label=f"{style.label(g)}: median {med_txt}")
            ax.fill_between(t, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=0.0),
                            step="post", color=color, alpha=0.12, lw=0)
            cens = c[c["n_censor"] > 0]
            ax.plot(cens["time"], cens["surv"], "|", color=color, ms=4, mew=0.8)
            if median_lines and not pd.isna(med["median"]):   # dotted: S = 0.5 to the median
                ax.plot([0, med["median"], med["median"]], [0.5, 0.5, 0.0], color=color, lw=0.8,
                        ls=":", gid="median-line")
        overall = logrank_tests[logrank_tests["test"] == "log-rank"].iloc[0]
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, max(times))
        ax.set_xticks(times)
        ax.set_ylabel("Survival probability")
        ax.set_xlabel(f"Time ({time_unit})")
        heading = f"{title}\nlog-rank {_fmt_p(overall['p'])}"
        legend_title = f"{legend_title} (median, {time_unit})\nshaded: {conf_label}"
        if style.narrow:   # heading above the legend, the legend above the curves
            fig.suptitle(style.wrap(heading, style.width_in, style.large), x=0.02, ha="left",
                         fontsize=style.large)
            longest = max(len(h.get_label()) for h in ax.get_lines()[:1] + [
                ln for ln in ax.get_lines() if not ln.get_label().startswith("_")])
            two = 2 * (longest * 0.6 * style.small / 72 + 0.5) < style.width_in
            ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), frameon=False,
                      ncol=min(2 if two else 1, len(groups)), title=legend_title,
                      alignment="left")
        else:
            ax.set_title(heading, loc="left")
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
                      title=legend_title, alignment="left")
        ax.grid(alpha=0.25)
        _risk_table(tab, ax, risk, groups, times, style, "Number at risk")
    return fig


def _risk_table(tab, ax, risk: pd.DataFrame, groups: list, times: list, style: FigureStyle,
                title: str) -> None:
    """Numbers at risk on axes ``tab``, aligned with the time axis of ``ax``."""
    tab.set_xlim(ax.get_xlim())
    tab.set_ylim(-0.5, len(groups) - 0.5)
    for i, g in enumerate(groups):
        r = risk[risk["group"] == g].set_index("time")["n_risk"]
        for t in times:
            tab.text(t, len(groups) - 1 - i, str(int(r.get(t, 0))), ha="center",
                     va="center", fontsize=style.small, color=style.colour(i))
    tab.set_yticks(range(len(groups)))
    tab.set_yticklabels([style.label(g) for g in reversed(groups)])
    for tick, i in zip(tab.get_yticklabels(), reversed(range(len(groups)))):
        tick.set_color(style.colour(i))
    tab.set_xticks([])
    tab.set_title(title, loc="left", fontsize=style.small)
    for side in ("top", "right", "bottom", "left"):
        tab.spines[side].set_visible(False)
    # the first column's numbers are centred on t = 0: keep the labels clear of them
    widest = max(len(str(int(n))) for n in risk["n_risk"]) if len(risk) else 1
    tab.tick_params(left=False, pad=0.6 * style.small * widest + 3)


def cumulative_incidence_figure(curves: pd.DataFrame, naive: pd.DataFrame, risk: pd.DataFrame,
                                gray: pd.DataFrame, time_unit: str, conf_label: str,
                                states: tuple[str, str] = ("progressed", "died without progression"),
                                titles: tuple[str, str] = ("Progression",
                                                           "Death without progression"),
                                style: FigureStyle = DEFAULT_STYLE) -> plt.Figure:
    """Cumulative incidence of progression and of death first, by group, with 1 - KM.

    Left (top at single-column width): the Aalen-Johansen cumulative incidence of
    progression with its pointwise band, and the naive 1 - Kaplan-Meier that censors
    deaths (dotted, same colour), so the reader sees how much the naive estimate
    overstates the risk. Right: the cumulative incidence of death without
    progression. Gray's p in each title; the numbers event-free at risk below.

    Parameters
    ----------
    curves
        ``cumulative_incidence`` table (group, state, time, estimate, lower, upper).
    naive
        ``progression_naive_km`` table (group, time, one_minus_km).
    risk
        ``risk_table`` (group, time, n_risk).
    gray
        ``gray_test`` table (cause, p).
    """
    groups = list(dict.fromkeys(risk["group"]))
    times = sorted(risk["time"].unique())
    with style.theme():
        row_h = style.small * 1.6 / 72
        table_h = row_h * (len(groups) + 1.5)
        panel_h = style.width_in * (0.62 if style.narrow else 0.36)
        legend_h = row_h * 3 + 0.2
        if style.narrow:
            fig, axes = style.figure(2 * panel_h + table_h + legend_h + 0.9, nrows=3,
                                     height_ratios=[panel_h, panel_h, table_h])
            panels, tables = list(axes[:2]), [axes[2]]
        else:
            fig, axes = style.figure(panel_h + table_h + legend_h + 0.7, nrows=2, ncols=2,
                                     height_ratios=[panel_h, table_h])
            panels, tables = list(axes[0]), list(axes[1])
        p_of = dict(zip(gray["cause"], gray["p"]))
        for k, (ax, state, title) in enumerate(zip(panels, states, titles)):
            for i, g in enumerate(groups):
                c = curves[(curves["group"] == g) & (curves["state"] == state)]
                t = np.concatenate([[0.0], c["time"].to_numpy()])
                f = np.concatenate([[0.0], c["estimate"].to_numpy()])
                lo = np.concatenate([[0.0], c["lower"].to_numpy()])
                hi = np.concatenate([[0.0], c["upper"].to_numpy()])
                ax.step(t, f, where="post", color=style.colour(i), ls=style.linestyle(i),
                        label=style.label(g))
                ax.fill_between(t, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=0.0),
                                step="post", color=style.colour(i), alpha=0.12, lw=0)
                if k == 0:
                    nv = naive[naive["group"] == g]
                    ax.step(np.concatenate([[0.0], nv["time"].to_numpy()]),
                            np.concatenate([[0.0], nv["one_minus_km"].to_numpy()]),
                            where="post", color=style.colour(i), ls=(0, (1, 1.5)), lw=0.9,
                            gid="naive-km")
            p = p_of.get(state, np.nan)
            heading = title + (f"\nGray's test {_fmt_p(p)}" if np.isfinite(p) else "")
            ax.set_title(style.wrap(heading, style.width_in / (1 if style.narrow else 2),
                                    style.large), loc="left")
            ax.set_ylim(0, 1.02)
            ax.set_xlim(0, max(times))
            ax.set_xticks(times)
            ax.set_ylabel("Cumulative incidence")
            ax.set_xlabel(f"Time ({time_unit})")
            ax.grid(alpha=0.25)
        handles, labels = panels[0].get_legend_handles_labels()
        handles.append(matplotlib.lines.Line2D([], [], color="0.3", ls=(0, (1, 1.5)), lw=0.9))
        labels.append("1 - Kaplan-Meier (deaths censored)")
        # as many legend columns as fit the width (an entry: its text and the line sample)
        entry_in = max(len(x) for x in labels) * 0.6 * style.small / 72 + 0.5
        ncol = max(1, min(len(labels), 4, int(style.width_in // entry_in)))
        fig.legend(handles, labels, loc="outside upper left", frameon=False, ncol=ncol,
                   title=f"NETPET group; shaded: {conf_label}", alignment="left")
        for tab in tables:
            _risk_table(tab, panels[0], risk, groups, times, style, "Number at risk (event-free)")
    return fig


def forest_figure(coefs: pd.DataFrame, title: str, style: FigureStyle = DEFAULT_STYLE
                  ) -> plt.Figure:
    """Forest plot of hazard ratios (log scale) with 95% CIs for one model.

    Each row: the term (and level against its reference) on the left, the HR with
    its CI and p on the right; a coefficient that may be infinite, or of a fit that did
    not converge, is listed as not estimable and not drawn.
    """
    rows = coefs.reset_index(drop=True)
    with style.theme():
        side_in = style.width_in * (0.34 if style.narrow else 0.3)
        labels = [style.wrap(f"{r.term_label}: {style.label(r.level)} vs {style.label(r.reference)}"
                             if isinstance(r.level, str) and r.level else str(r.term_label),
                             side_in, style.small) for r in rows.itertuples()]
        n = len(rows)
        lines = max(label.count("\n") + 1 for label in labels) if labels else 1
        row_in = style.small * (1.5 * lines + 0.6) / 72
        fig, ax = style.figure(row_in * n + 0.9)
        y = np.arange(n)[::-1]
        shown = rows["hr_lower"].notna().to_numpy()
        ax.errorbar(rows["hr"][shown], y[shown],
                    xerr=[(rows["hr"] - rows["hr_lower"])[shown],
                          (rows["hr_upper"] - rows["hr"])[shown]],
                    fmt="s", color=style.colour(0), ecolor="#4d4d4d", capsize=2, ms=4)
        ax.axvline(1.0, color="#999999", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yticks(y)
        ax.set_yticklabels(labels)
        ax.set_ylim(-0.6, n - 0.4)
        sep = "\n" if style.narrow else ", "
        for yi, r, ok in zip(y, rows.itertuples(), shown):
            stopped = str(getattr(r, "note", "")).startswith("the fit did not converge")
            text = (f"{r.hr:.2f} ({r.hr_lower:.2f}–{r.hr_upper:.2f}){sep}{_fmt_p(r.p)}" if ok
                    else style.wrap("not estimable (the fit did not converge)" if stopped
                                    else "not estimable (may be infinite)", side_in * 0.8,
                                    style.small))
            ax.text(1.03, yi, text, transform=ax.get_yaxis_transform(), va="center",
                    fontsize=style.small)
        ax.text(1.03, 1.0, "HR (95% CI)", transform=ax.transAxes, va="bottom",
                fontsize=style.small, fontweight="bold")
        ax.set_xlabel("Hazard ratio (95% CI, log scale)")
        fig.suptitle(style.wrap(title, style.width_in, style.large), x=0.01, ha="left")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        # plain numbers on the minor ticks too (matplotlib writes 2x10^0 on a log axis)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
    return fig


def flow_figure(flow: pd.DataFrame, endpoint_labels: dict, primary_model: str,
                style: FigureStyle = DEFAULT_STYLE) -> plt.Figure:
    """Patient-flow diagram (TRIPOD+AI item 20a) from the ``flow`` table.

    Received -> eligible (with the reasons for exclusion beside the arrow) ->
    one column per endpoint: analysed by Kaplan-Meier/log-rank (or, for the
    competing-risks column, Aalen-Johansen/Gray), then by the primary model, each
    with its exclusions; the methods are those the flow table names. Boxes are sized to their wrapped
    text at the printed width, so a long list of reasons grows the figure instead
    of overflowing it.
    """
    from matplotlib.patches import FancyBboxPatch

    def count(analysis, step):
        rows = flow[(flow["analysis"] == analysis) & (flow["step"].str.startswith(step))]
        return int(rows["n"].sum())

    def reasons(analysis):
        rows = flow[(flow["analysis"] == analysis) & (flow["step"] == "excluded")]
        return [f"{r.reason}: {int(r.n)}" for r in rows.itertuples()]

    endpoints = list(endpoint_labels)
    W = style.width_in
    fs = style.small
    line_in = fs * 1.3 / 72
    pad = 0.08

    def wrapped(parts: list[str], w: float) -> str:
        return "\n".join(style.wrap(p, w - 2 * pad, fs) for p in parts)

    def height(text: str) -> float:
        return (text.count("\n") + 1) * line_in + 2 * pad

    gap = 0.28
    col_w = min(2.6, (W - 0.1 - 0.15 * (len(endpoints) - 1)) / len(endpoints))
    span = len(endpoints) * col_w + 0.15 * (len(endpoints) - 1)
    xs = [(W - span) / 2 + col_w / 2 + k * (col_w + 0.15) for k in range(len(endpoints))]
    main_w = min(2.2, W * 0.42)
    cx = max(0.05 + main_w / 2, W * 0.3)
    received = int(flow.loc[flow["step"] == "input rows", "n"].iloc[0])
    boxes = []  # (x, y_top, w, text, excluded?)
    top_text = wrapped([f"Patients received: n = {received}"], main_w)
    excl = reasons("all")
    excl_w = min(W - (cx + main_w / 2) - 0.35, 3.2)
    excl_text = wrapped(["Excluded from all analyses:", *excl], excl_w) if excl else ""
    elig_text = wrapped([f"Eligible: n = {count('all', 'eligible')}"], main_w)
    def methods(analysis, default):
        """What the flow table says the patients were analysed by: 'analysed (KM, ...)'."""
        steps = flow.loc[(flow["analysis"] == analysis)
                         & flow["step"].str.startswith("analysed"), "step"]
        text = steps.iloc[0] if len(steps) else ""
        return text[text.find("(") + 1:text.rfind(")")] if "(" in text else default

    def model_of(ep):
        """The primary model's rows, or the first model the analysis has (competing risks)."""
        names = [a.split(":", 1)[1] for a in dict.fromkeys(flow["analysis"])
                 if str(a).startswith(f"{ep}:")]
        return primary_model if primary_model in names or not names else names[0]

    ep_texts = [wrapped([str(endpoint_labels[ep]),
                         f"{methods(ep, 'Kaplan-Meier, log-rank')}: n = {count(ep, 'analysed')}",
                         *[f"excluded, {r}" for r in reasons(ep)]], col_w) for ep in endpoints]
    cox_texts = [wrapped([f"{'Primary' if model_of(ep) == primary_model else model_of(ep)} "
                          f"model, {methods(f'{ep}:{model_of(ep)}', 'Cox')}: "
                          f"n = {count(f'{ep}:{model_of(ep)}', 'analysed')}",
                          *[f"excluded, {r}" for r in reasons(f"{ep}:{model_of(ep)}")]], col_w)
                 for ep in endpoints]
    h_top, h_elig = height(top_text), height(elig_text)
    h_excl = height(excl_text) if excl else 0.0
    h_ep = max(height(t) for t in ep_texts)
    h_cox = max(height(t) for t in cox_texts)
    title_h = style.large * 1.6 / 72
    y = title_h + 0.05
    y_top = y
    y_excl = y + h_top + gap
    y_elig = y_excl + max(h_excl, 0.2) + gap
    y_ep = y_elig + h_elig + gap
    y_cox = y_ep + h_ep + gap
    total = y_cox + h_cox + 0.08
    with style.theme():
        fig = plt.figure(figsize=(W, total))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, W)
        ax.set_ylim(total, 0)          # inches from the top
        ax.axis("off")

        def box(x, top, w, text, face="#eef3f8", edge="#1b4f72"):
            h = height(text)
            ax.add_patch(FancyBboxPatch((x - w / 2, top), w, h, boxstyle="round,pad=0.01",
                                        fc=face, ec=edge, lw=0.8))
            ax.text(x - w / 2 + pad, top + h / 2, text, ha="left", va="center", fontsize=fs,
                    linespacing=1.15)
            return top + h

        def arrow(x0, y0, x1, y1):
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops=dict(arrowstyle="->", color="#52606d", lw=0.8))

        bottom = box(cx, y_top, main_w, top_text)
        arrow(cx, bottom, cx, y_elig)
        if excl:
            ex = cx + main_w / 2 + 0.3 + excl_w / 2
            box(ex, y_excl, excl_w, excl_text, face="#fdf2e9", edge="#b9770e")
            arrow(cx, y_excl + h_excl / 2, ex - excl_w / 2, y_excl + h_excl / 2)
        bottom = box(cx, y_elig, main_w, elig_text)
        for x, ep_text, cox_text in zip(xs, ep_texts, cox_texts):
            arrow(cx, bottom, x, y_ep)
            ep_bottom = box(x, y_ep, col_w, ep_text)
            arrow(x, ep_bottom, x, y_cox)
            box(x, y_cox, col_w, cox_text)
        ax.text(0.05, 0.05, "Patient flow", ha="left", va="top", fontsize=style.large)
    return fig


def _panels(style: FigureStyle, n: int, panel_h: float, wide_cols: int = 4, **kwargs):
    """``n`` panels in a grid: stacked at single-column width, side by side otherwise."""
    ncol = max(1, min(n, wide_cols if style.narrow and kwargs.get("sharey") else
                      1 if style.narrow else wide_cols))
    nrow = -(-n // ncol)
    fig, axes = style.figure(panel_h * nrow + 0.35, nrows=nrow, ncols=ncol, squeeze=False,
                             **kwargs)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()[:n]


def calibration_figure(groups: pd.DataFrame, smooth: dict, title: str, time_unit: str,
                       style: FigureStyle = DEFAULT_STYLE) -> plt.Figure:
    """Predicted vs observed risk at each horizon: risk groups (KM, 95% CI) and smoothed curve."""
    horizons = sorted(smooth)
    with style.theme():
        panel = min(style.width_in, 2.6) if style.narrow else min(
            2.8, style.width_in / max(1, min(len(horizons), 4)))
        fig, axes = _panels(style, len(horizons), panel)
        for ax, h in zip(axes, horizons):
            g = groups[groups["horizon"] == h]
            sm = smooth[h]
            order = np.argsort(sm["predicted"])
            ax.plot([0, 1], [0, 1], ls="--", color="#999999", lw=0.8)
            ax.plot(np.asarray(sm["predicted"])[order], np.asarray(sm["observed"])[order],
                    color=style.colour(0), label=f"smoothed (ICI {sm['ICI']:.3f})")
            ax.errorbar(g["predicted"], g["observed"],
                        yerr=[g["observed"] - g["observed_lower"],
                              g["observed_upper"] - g["observed"]],
                        fmt="o", color=style.colour(1), ms=3.5, capsize=2,
                        label="risk groups (KM, 95% CI)")
            top = float(max(1e-3, np.nanmax([g["observed_upper"].max(), g["predicted"].max(),
                                             np.max(sm["predicted"])])) * 1.05)
            ax.set_xlim(0, min(1, top))
            ax.set_ylim(0, min(1, top))
            ax.set_xlabel(f"Predicted risk at {h:g} {time_unit}")
            ax.set_ylabel("Observed risk")
            ax.set_title(f"{h:g} {time_unit}", loc="left")
            ax.legend(frameon=False, loc="upper left")
        fig.suptitle(style.wrap(f"{title}: calibration of the frozen model", style.width_in,
                                style.large), x=0.01, ha="left")
    return fig


def centre_forest_figure(table: pd.DataFrame, title: str,
                         style: FigureStyle = DEFAULT_STYLE) -> plt.Figure:
    """Per-centre estimates and the random-effects pooled estimate, one panel per measure.

    Panels share the centre axis (named once per row of panels); the pooled
    estimate is a diamond with its 95% prediction interval dotted below it.
    """
    measures = list(dict.fromkeys(table["measure"]))
    centres = list(dict.fromkeys(table["centre"].astype(str)))
    position = {c: len(centres) - 1 - k for k, c in enumerate(centres)}
    reference = {"Harrell's C": 0.5, "Uno's C": 0.5, "Royston's D": 0.0, "calibration slope": 1.0,
                 "O/E": 1.0, "time-dependent AUC": 0.5, "IPA": 0.0}
    with style.theme():
        panel_h = style.small * 1.9 * (len(centres) + 1) / 72 + 0.55
        fig, axes = _panels(style, len(measures), panel_h, sharey=True,
                            wide_cols=3 if style.width_mm >= 150 else 2)
        # the stacked (single-column) layout has one panel per row: two per row read better
        has_pi = False
        for k, (ax, measure) in enumerate(zip(axes, measures)):
            sub = table[table["measure"] == measure].reset_index(drop=True)
            y = np.array([position[str(c)] for c in sub["centre"]], float)
            pooled = sub["centre"].astype(str).str.startswith("pooled").to_numpy()
            ax.errorbar(sub["estimate"], y, xerr=[sub["estimate"] - sub["lower"],
                                                  sub["upper"] - sub["estimate"]],
                        fmt="none", ecolor="#4d4d4d", capsize=2, lw=0.8)
            ax.plot(sub.loc[~pooled, "estimate"], y[~pooled], "s", color=style.colour(0), ms=4)
            ax.plot(sub.loc[pooled, "estimate"], y[pooled], "D", color=style.colour(1), ms=5)
            if measure in reference:
                ax.axvline(reference[measure], color="#999999", ls="--", lw=0.8)
            # the axis spans the CIs (and the reference value), not the prediction interval,
            # which with few centres can be many times wider: it is cut at the axis with an
            # arrowhead saying it goes on
            ends = pd.concat([sub["lower"], sub["upper"], sub["estimate"]]).astype(float)
            ends = ends[np.isfinite(ends)]
            lo, hi = (float(ends.min()), float(ends.max())) if len(ends) else (0.0, 1.0)
            if measure in reference and lo <= reference[measure] <= hi + (hi - lo):
                lo, hi = min(lo, reference[measure]), max(hi, reference[measure])
            span = (hi - lo) or abs(hi) or 1.0
            lo, hi = lo - 0.1 * span, hi + 0.1 * span
            ax.set_xlim(lo, hi)
            if pooled.any() and "pi_lower" in sub and np.isfinite(
                    sub.loc[pooled, "pi_lower"].astype(float)).all():
                p = sub[pooled].iloc[0]
                y_pi = y[pooled][0] - 0.35
                a, b = max(float(p["pi_lower"]), lo), min(float(p["pi_upper"]), hi)
                ax.hlines(y_pi, a, b, color=style.colour(1), lw=0.9, ls=":")
                for end, cut, mark in ((a, float(p["pi_lower"]) < lo, "<"),
                                       (b, float(p["pi_upper"]) > hi, ">")):
                    if cut:
                        ax.plot([end], [y_pi], marker=mark, color=style.colour(1), ms=3,
                                clip_on=False)
                has_pi = True
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(3))
            ax.set_title(style.wrap(measure, style.width_in / (2 if style.width_mm < 150 else 3)
                                    * 0.45, style.large), loc="left")
        axes[0].set_yticks([position[c] for c in centres])
        axes[0].set_yticklabels(centres)
        axes[0].set_ylim(-0.8, len(centres) - 0.4)
        if has_pi:
            from matplotlib.lines import Line2D

            fig.legend(handles=[Line2D([], [], color=style.colour(1), marker="D", ls="none",
                                       ms=5, label="pooled (random effects), 95% CI"),
                                Line2D([], [], color=style.colour(1), ls=":",
                                       label=style.wrap("95% prediction interval for a new centre "
                                                        "(> or <: it goes on beyond the axis)",
                                                        style.width_in * 0.8, style.small))],
                       loc="outside lower left", frameon=False, ncol=1 if style.narrow else 2)
        fig.suptitle(style.wrap(f"{title}: performance by centre", style.width_in, style.large),
                     x=0.01, ha="left")
    return fig


def risk_group_curves_figure(curves: pd.DataFrame, title: str, time_unit: str,
                             style: FigureStyle = DEFAULT_STYLE) -> plt.Figure:
    """Kaplan-Meier by prognostic group (steps, 95% CI) and mean predicted survival (dashed).

    Royston & Altman (2013), level 3 of external validation.
    """
    with style.theme():
        fig, ax = style.figure(style.width_in * (0.95 if style.narrow else 0.55) + 0.6)
        for k, (g, sub) in enumerate(curves.groupby("group", sort=True)):
            colour = style.colour(k)
            first = sub.iloc[0]
            ax.step(sub["time"], sub["observed"], where="post", color=colour,
                    label=f"group {g} ({first['lp_range']}; n = {first['n']}, "
                          f"{first['events']} events)")
            ax.fill_between(sub["time"], sub["observed_lower"], sub["observed_upper"],
                            step="post", color=colour, alpha=0.12, lw=0)
            ax.plot(sub["time"], sub["predicted"], color=colour, lw=1.2, ls="--")
        ax.plot([], [], color="#4d4d4d", ls="--", label="predicted by the model (mean)")
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, float(curves["time"].max()))
        ax.set_xlabel(f"Time ({time_unit})")
        ax.set_ylabel("Survival probability")
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(0.0, -0.16),
                  ncol=1 if style.narrow else 2)
        ax.set_title(style.wrap(f"{title}: observed (Kaplan-Meier) and predicted survival by "
                                "prognostic group", style.width_in, style.large), loc="left")
    return fig


def empty_figure(message: str, style: FigureStyle = DEFAULT_STYLE) -> plt.Figure:
    """A placeholder figure stating why an analysis was not done."""
    with style.theme():
        text = style.wrap(message, style.width_in - 0.2)
        fig = plt.figure(figsize=(style.width_in, 0.3 + (text.count("\n") + 1) * style.font_size
                                  * 1.4 / 72))
        fig.text(0.02, 0.5, text, va="center", fontsize=style.font_size)
    return fig


def sample_size_figure(summary: pd.DataFrame, title: str,
                       style: FigureStyle = DEFAULT_STYLE) -> plt.Figure:
    """Mean 95% CI width against validation sample size, one panel per measure.

    One line per event fraction (colour and marker); the dashed line is the target
    width (Riley et al., Stat Med 2022). Cells whose event fraction the model
    cannot reach are left out (the table says so).
    """
    from ..validation.sample_size import MEASURE_LABELS, MEASURES

    ok = summary[~summary["status"].astype(str).str.startswith("infeasible")]
    with style.theme():
        panel = 2.2 if style.narrow else min(2.6, style.width_in / len(MEASURES) + 0.4)
        fig, axes = _panels(style, len(MEASURES), panel, wide_cols=len(MEASURES))
        for ax, measure in zip(axes, MEASURES):
            sub = ok[ok["measure"] == measure]
            for k, (fraction, line) in enumerate(sub.groupby("event_fraction", sort=True)):
                line = line.sort_values("n")
                ax.plot(line["n"], line["width_mean"], color=style.colour(k),
                        marker=style.marker(k), ms=3.5, ls=style.linestyle(k),
                        label=f"{fraction:g} with an event")
            target = summary.loc[summary["measure"] == measure, "target_width"]
            if len(target):
                ax.axhline(float(target.iloc[0]), color="#999999", ls="--", lw=0.8,
                           label="target width")
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_xlabel("Validation cohort size")
            ax.set_ylabel("Mean 95% CI width")
            ax.set_title(MEASURE_LABELS[measure], loc="left")
        axes[0].legend(frameon=False)
        fig.suptitle(style.wrap(f"{title}: precision of an external validation by its size "
                                "(simulation)", style.width_in, style.large), x=0.01, ha="left")
    return fig


def schoenfeld_figure(residuals: pd.DataFrame, ph: pd.DataFrame, coefficients: dict,
                      title: str, time_unit: str, style: FigureStyle = DEFAULT_STYLE
                      ) -> plt.Figure:
    """Scaled Schoenfeld residuals per term against time, as R ``plot(cox.zph)``.

    Parameters
    ----------
    residuals
        The ``ph_residuals`` table: per term the ``smooth`` (spline, +/- 2 SE band),
        ``binned`` means and, if asked for, one ``event`` row per event.
    ph
        The ``ph_test`` rows of the model (term, p), shown in each panel's title.
    coefficients
        The fitted coefficient of each one-column term: proportional hazards is a
        flat line at it (at 1 for a factor, drawn as beta(t)/beta).

    The time axis is the transformed time of the test (``km``: 1 - KM, as R), its
    ticks labelled with the times they stand for.
    """
    terms = list(dict.fromkeys(residuals["term"]))
    p_of = ph.set_index("term")["p"].to_dict()
    with style.theme():
        panel = 2.1 if style.narrow else min(2.4, style.width_in / 3 * 0.85)
        fig, axes = _panels(style, len(terms), panel, wide_cols=3)
        for ax, term in zip(axes, terms):
            sub = residuals[residuals["term"] == term]
            smooth = sub[sub["kind"] == "smooth"].sort_values("x")
            binned = sub[sub["kind"] == "binned"]
            events = sub[sub["kind"] == "event"]
            relative = sub["scale"].iloc[0] == "beta(t)/beta"
            if smooth["estimate"].isna().all():   # R skips it: "spline fit is singular"
                ax.text(0.5, 0.5, style.wrap("not estimable: too few events with this term "
                                             "varying", panel * 0.9, style.small),
                        transform=ax.transAxes, ha="center", va="center", fontsize=style.small)
                ax.set_title(style.wrap(str(sub["term_label"].iloc[0]), panel, style.font_size),
                             loc="left", fontsize=style.font_size)
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            if len(events):
                ax.plot(events["x"], events["estimate"], ".", color="#9a9a9a", ms=2.5,
                        label="scaled residual (one per event)")
            ax.fill_between(smooth["x"], smooth["lower"], smooth["upper"],
                            color=style.colour(0), alpha=0.18, lw=0, label="± 2 SE")
            ax.plot(smooth["x"], smooth["estimate"], color=style.colour(0),
                    label="smoothed β(t) (spline, 4 df)")
            if len(binned):
                ax.plot(binned["x"], binned["estimate"], ls="none", marker="o", ms=3,
                        color=style.colour(1), label="mean of binned residuals")
            flat = 1.0 if relative else coefficients.get(term)
            if flat is not None and np.isfinite(flat):
                ax.axhline(flat, color="#4d4d4d", ls="--", lw=0.8,
                           label="proportional hazards (β constant)")
            # the axis shows the smooth and its band (R: range of the fit and band)
            lo = float(np.nanmin(smooth["lower"])) if len(smooth) else -1.0
            hi = float(np.nanmax(smooth["upper"])) if len(smooth) else 1.0
            if len(binned):
                lo, hi = min(lo, binned["estimate"].min()), max(hi, binned["estimate"].max())
            if flat is not None and np.isfinite(flat):
                lo, hi = min(lo, flat), max(hi, flat)
            pad = 0.06 * ((hi - lo) or 1.0)
            ax.set_ylim(lo - pad, hi + pad)
            _time_ticks(ax, smooth)
            ax.set_xlabel(f"Time ({time_unit})")
            ax.set_ylabel("β(t) / β" if relative else "β(t)")
            p = p_of.get(term, np.nan)
            ax.set_title(style.wrap(f"{sub['term_label'].iloc[0]} ({_fmt_p(p)})",
                                    style.width_in / (1 if style.narrow else 3) * 0.8,
                                    style.font_size), loc="left", fontsize=style.font_size)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower left", frameon=False,
                   ncol=1 if style.narrow else 3)
        fig.suptitle(style.wrap(f"{title}: scaled Schoenfeld residuals (p: test of "
                                "proportional hazards)", style.width_in, style.large),
                     x=0.01, ha="left")
    return fig


def _time_ticks(ax, smooth: pd.DataFrame, n: int = 6) -> None:
    """Ticks of a transformed-time axis labelled with times, as R plot.cox.zph.

    Ticks are spread evenly along the transformed axis, their times rounded to two
    significant digits and placed back where those times fall.
    """
    x, t = smooth["x"].to_numpy(float), smooth["time"].to_numpy(float)
    if len(x) < 2 or not np.all(np.diff(t) >= 0) or t[-1] <= t[0]:
        return
    spots = np.linspace(x[0], x[-1], 2 * n + 1)[1::2]
    times = sorted({float(f"{v:.2g}") for v in np.interp(spots, x, t)})
    times = [v for v in times if t[0] <= v <= t[-1]]
    where = np.interp(times, t, x)
    keep = np.concatenate([[True], np.diff(where) > 0.06 * (x[-1] - x[0])])  # no overprint
    ax.set_xticks(where[keep])
    ax.set_xticklabels([f"{v:g}" for v in np.asarray(times)[keep]])
    ax.set_xlim(x[0], x[-1])


def case_mix_figure(table: pd.DataFrame, title: str, style: FigureStyle = DEFAULT_STYLE
                    ) -> plt.Figure:
    """Case mix by cohort and centre (TRIPOD+AI 20c) from the ``case_mix`` table.

    The linear predictor and each continuous predictor as boxes drawn from their
    centiles (box 25th-75th, line at the median, whiskers 5th-95th; no points, as
    the table holds no patient); each categorical predictor as the proportion of
    each level per cohort (seaborn bar plot).
    """
    import seaborn as sns

    variables = list(dict.fromkeys(table["variable"]))
    cohorts = list(dict.fromkeys(table["cohort"]))
    colour = {c: style.colour(i) for i, c in enumerate(cohorts)}
    with style.theme():
        row_h = style.small * 1.8 / 72
        panel = max(1.3, row_h * (len(cohorts) + 1) + 0.7)
        fig, axes = _panels(style, len(variables), panel, wide_cols=2)
        for ax, var in zip(axes, variables):
            sub = table[table["variable"] == var]
            label = str(sub["label"].iloc[0])
            if sub["statistic"].str.startswith("centile").any():
                stats, names = [], []
                for cohort in cohorts:
                    c = sub[(sub["cohort"] == cohort) & sub["statistic"].str.startswith("centile")]
                    if c.empty:
                        continue
                    q = dict(zip(c["statistic"].str.removeprefix("centile ").astype(str),
                                 c["value"].astype(float)))
                    stats.append({"med": q["50"], "q1": q["25"], "q3": q["75"],
                                  "whislo": q["5"], "whishi": q["95"], "fliers": []})
                    names.append(cohort)
                y = np.arange(len(stats))[::-1]
                boxes = ax.bxp(stats, positions=y, orientation="horizontal", widths=0.55,
                               patch_artist=True, showfliers=False,
                               medianprops={"color": "black", "lw": 1.0})
                for patch, name in zip(boxes["boxes"], names):
                    patch.set_facecolor(colour[name])
                    patch.set_alpha(0.55)
                ax.set_yticks(y)
                ax.set_yticklabels([style.wrap(n, style.width_in * 0.3, style.small)
                                    for n in names])
                ax.set_xlabel(style.wrap(f"{label} (model scale)", style.width_in * 0.4))
            else:
                props = sub[sub["statistic"] == "proportion"].copy()
                levels = list(dict.fromkeys(props["level"].astype(str)))
                if set(levels) == {"0", "1"}:        # a binary predictor: the share with it
                    props = props[props["level"].astype(str) == "1"]
                    props["level"] = "yes"
                sns.barplot(data=props, y="level", x="value", hue="cohort", hue_order=[
                    c for c in cohorts if c in set(props["cohort"])], palette=colour,
                    orient="h", ax=ax, legend=False, saturation=1.0)
                ax.set_xlim(0, 1)
                ax.set_ylabel("")
                ax.set_xlabel(style.wrap(f"{label}: proportion", style.width_in * 0.4))
            ax.set_title("")
        from matplotlib.patches import Patch

        fig.legend(handles=[Patch(color=colour[c], alpha=0.7, label=c) for c in cohorts],
                   loc="outside lower left", frameon=False, ncol=1 if style.narrow else 2)
        fig.suptitle(style.wrap(title, style.width_in, style.large), x=0.01, ha="left")
    return fig
