"""Figures drawn from the result tables (never from patient rows).

Every figure is drawn at its final printed width (a journal's single column,
85 mm, or double column, 175 mm) with every text at least :data:`MIN_FONT_PT`
points, in the seaborn ``ticks`` theme with a colour-blind-safe palette and a
line style per group. Saved as PNG, TIFF (LZW), and vector PDF or SVG with
TrueType fonts and fixed metadata, so that reruns give byte-identical files.

As a journal takes them, figures carry no title (it belongs to the caption) unless
the style asks for one (:attr:`FigureStyle.titles`, for slides or a poster); a panel
may carry a heading saying which group, contrast or horizon it shows. Every axis
covers its data, or says where it stops (:func:`text_problems` checks both).
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
# and text as text in SVG figures (not a path per glyph): editable, searchable in the PDF
# report that embeds them, and drawn there with the report's embedded fonts
matplotlib.rcParams["svg.fonttype"] = "none"
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
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
#: ``gid`` of a title drawn because the style asks for titles (FigureStyle.titles).
TITLE_GID = "figure-title"
#: ``gid`` of a panel's heading: which group, contrast or horizon the panel shows.
PANEL_GID = "panel-heading"
#: ``gid`` of a text saying where an axis stops short of the data drawn on it.
STOPS_GID = "axis-stops"
_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
    "svg": {"Date": None, "Creator": None},
}


#: seaborn's ``ticks`` style with its ``paper`` context (seaborn 0.13:
#: ``{**sns.axes_style("ticks"), **sns.plotting_context("paper")}``), as rcParams.
#: Written out because importing seaborn loads scipy.stats, about 0.6 s of every figure
#: job's start; ``tests/report/test_figures.py`` checks that it still equals what
#: seaborn returns. seaborn's ``image.cmap`` ("rocket") is left out: that colormap
#: exists only once seaborn is imported, and no figure here draws an image.
SEABORN_TICKS_PAPER = {
    "figure.facecolor": "white", "axes.labelcolor": ".15",
    "xtick.direction": "out", "ytick.direction": "out",
    "xtick.color": ".15", "ytick.color": ".15", "axes.axisbelow": True,
    "grid.linestyle": "-", "text.color": ".15", "font.family": ["sans-serif"],
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans",
                        "sans-serif"],
    "lines.solid_capstyle": "round", "patch.edgecolor": "w", "patch.force_edgecolor": True,
    "xtick.top": False, "ytick.right": False, "axes.grid": False,
    "axes.facecolor": "white", "axes.edgecolor": ".15", "grid.color": ".8",
    "axes.spines.left": True, "axes.spines.bottom": True, "axes.spines.right": True,
    "axes.spines.top": True, "xtick.bottom": True, "ytick.left": True,
    # the paper context: seaborn's notebook sizes x 0.8
    "axes.linewidth": 1.0, "grid.linewidth": 0.8, "lines.linewidth": 1.2000000000000002,
    "lines.markersize": 4.800000000000001, "patch.linewidth": 0.8,
    "xtick.major.width": 1.0, "ytick.major.width": 1.0,
    "xtick.minor.width": 0.8, "ytick.minor.width": 0.8,
    "xtick.major.size": 4.800000000000001, "ytick.major.size": 4.800000000000001,
    "xtick.minor.size": 3.2, "ytick.minor.size": 3.2,
    "font.size": 9.600000000000001, "axes.labelsize": 9.600000000000001,
    "axes.titlesize": 9.600000000000001, "xtick.labelsize": 8.8, "ytick.labelsize": 8.8,
    "legend.fontsize": 8.8, "legend.title_fontsize": 9.600000000000001,
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
    titles
        Draw the title a figure function is given inside the figure (slides, a
        poster). Off by default: a journal prints the title in the caption.

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
    titles: bool = False

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
        rc = dict(SEABORN_TICKS_PAPER)
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
            "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",
            "svg.hashsalt": "netpet-stats",
            "figure.constrained_layout.h_pad": 0.03, "figure.constrained_layout.w_pad": 0.03,
        })
        with matplotlib.rc_context(rc):
            yield

    def figure(self, height_in: float, **kwargs) -> tuple[plt.Figure, object]:
        """A figure at the printed width, constrained layout (``plt.subplots`` kwargs)."""
        return plt.subplots(figsize=(self.width_in, height_in), layout="constrained", **kwargs)


DEFAULT_STYLE = FigureStyle()

#: Censoring marks (or steps of the curves) a survival figure draws as vector marks (or
#: vector confidence bands); beyond them the marks (the bands) are one image each
#: (matplotlib's rasterized artist, at the figure's dpi) inside the SVG and PDF, whose
#: curves, axes and text stay vector. A registry's tens of thousands of censored times
#: and steps print as a band either way; as vectors they made SVGs of 5-8 MB that took
#: the PDF half a minute to typeset.
MAX_VECTOR_MARKS = 2000


def save(fig: plt.Figure, paths: list[str | Path], dpi: int = 200) -> None:
    """Save to each path (format from the suffix) at the figure's size, without timestamps.

    The figure is not cropped, so that it prints at the width it was drawn for.
    """
    plt.rcParams["svg.hashsalt"] = "netpet-stats"
    plt.rcParams["svg.fonttype"] = "none"
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
    """What a journal's production editor and a reviewer would flag in a figure.

    * a text smaller than :data:`MIN_FONT_PT` or reaching outside the figure;
    * a title inside the figure (a figure or axes title), unless the style asked for
      one (``gid`` :data:`TITLE_GID`); a panel's heading (``gid``
      :data:`PANEL_GID`) is not a title;
    * an axis that stops short of the data drawn on it (lines, bands, points, bars)
      without a text on that axes saying so (``gid`` :data:`STOPS_GID`).

    The tests call it on every figure at both column widths.
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
    return problems + title_problems(fig) + axis_problems(fig)


def title_problems(fig: plt.Figure) -> list[str]:
    """Titles drawn inside the figure that nobody asked for (a journal prints them
    in the caption): figure titles and axes titles other than panel headings."""
    titles = [("figure title", t) for f in [fig, *fig.subfigs] for t in
              [getattr(f, "_suptitle", None)] if t is not None]
    titles += [("axes title", t) for ax in fig.axes
               for t in (ax.title, ax._left_title, ax._right_title)]
    return [f"{kind} {t.get_text()!r} inside the figure (it belongs in the caption)"
            for kind, t in titles
            if t.get_visible() and t.get_text().strip() and t.get_gid() not in (TITLE_GID,
                                                                                 PANEL_GID)]


def axis_problems(fig: plt.Figure) -> list[str]:
    """Axes whose limits cut off data drawn on them without a text saying so."""
    problems = []
    for ax in fig.axes:
        if not ax.axison or ax.dataLim.width < 0 or not np.all(
                np.isfinite(ax.dataLim.get_points())):
            continue
        said = any(t.get_gid() == STOPS_GID and t.get_visible() and t.get_text().strip()
                   for t in ax.findobj(matplotlib.text.Text))
        if said:
            continue
        (dx0, dy0), (dx1, dy1) = ax.dataLim.get_points()
        for name, (lo, hi), (d0, d1), axis in (("x", sorted(ax.get_xlim()), (dx0, dx1), 0),
                                                 ("y", sorted(ax.get_ylim()), (dy0, dy1), 1)):
            def place(v):   # display coordinate along this axis (log axes as drawn)
                xy = (v, 0.5 * (dy0 + dy1)) if axis == 0 else (0.5 * (dx0 + dx1), v)
                with np.errstate(all="ignore"):
                    return ax.transData.transform(xy)[axis]
            a, b, lo_px, hi_px = place(d0), place(d1), place(lo), place(hi)
            lo_px, hi_px = min(lo_px, hi_px), max(lo_px, hi_px)
            beyond = [v for v, px in ((d0, a), (d1, b))
                      if np.isfinite(px) and (px < lo_px - 0.5 or px > hi_px + 0.5)]
            if beyond:
                label = ax.get_xlabel() if axis == 0 else ax.get_ylabel()
                problems.append(
                    f"the {name} axis ({label or 'unlabelled'!s}) ends at {lo:g}-{hi:g} but "
                    f"data reach {', '.join(f'{v:g}' for v in beyond)}, without saying so")
    return problems


def _title(fig, style: "FigureStyle", text: str | None, **kwargs) -> None:
    """The figure's title, drawn only when the style asks for titles."""
    if style.titles and text:
        fig.suptitle(style.wrap(text, style.width_in, style.large), x=0.01, ha="left",
                     gid=TITLE_GID, **kwargs)


def _heading(ax, text: str, style: "FigureStyle", size: float | None = None):
    """A panel's heading (which group, contrast or horizon it shows), not a title."""
    return ax.set_title(text, loc="left", fontsize=size or style.font_size, gid=PANEL_GID)


def _fmt_p(p: float) -> str:
    text = fmt_p(p)
    return f"p {text}" if text[0] in "<>" else f"p = {text}"


def km_figure(curves: pd.DataFrame, risk: pd.DataFrame, summary: pd.DataFrame,
              logrank_tests: pd.DataFrame, title: str, time_unit: str,
              conf_label: str, median_lines: bool | None = None,
              style: FigureStyle = DEFAULT_STYLE, legend_title: str = "NETPET group",
              y_label: str = "Survival probability") -> plt.Figure:
    """Kaplan-Meier curves by group with CIs, censoring marks and a risk table.

    ``y_label`` names what the curve estimates (e.g. the proportion free of
    progression, deaths censored, for time to progression).

    Parameters
    ----------
    curves
        ``km_curves`` table (group, time, surv, lower, upper, n_censor), as R
        ``survfit``.
    risk
        ``risk_table`` (group, time, n_risk): its times are the time axis's ticks,
        and the axis ends at the last of them.
    summary
        ``km_summary`` (group, median, median_lower, median_upper).
    logrank_tests
        ``logrank`` table; the unstratified k-sample test (R ``survdiff``) is shown.
    title
        Drawn only when ``style.titles`` asks for titles (else it is the caption's).
    conf_label
        What the shaded bands are, in words (``"95% confidence interval"``).
    median_lines
        Draw a dotted line from S = 0.5 to each group's median and down to the axis
        (none for a median not reached); ``None`` takes ``style.median_lines``.
    style
        Width, fonts, palette and group labels.

    Each group has its own colour and line style, so that the curves stay apart in
    greyscale and for readers with a colour-vision deficiency. The legend (groups with
    their medians, the band, the censoring mark) and the log-rank p sit in rows above
    the curves, across the width. The risk table below has its own time axis. Where
    follow-up runs past the last time of the risk table, the axis label says so.
    """
    median_lines = style.median_lines if median_lines is None else median_lines
    groups = list(dict.fromkeys(curves["group"]))
    times = sorted(risk["time"].unique())
    end, last = float(max(times)), float(curves["time"].max())
    with style.theme():
        row_h = style.small * 1.6 / 72
        plot_h = style.width_in * (0.62 if style.narrow else 0.42)
        table_h = row_h * (len(groups) + 0.5)
        fig, (ax, tab) = style.figure(plot_h + table_h + 1.3, nrows=2,
                                      height_ratios=[plot_h, table_h + 0.45])
        # a registry's marks (one per censored time, as R's plot.survfit) and bands
        dense_marks = int((curves["n_censor"] > 0).sum()) > MAX_VECTOR_MARKS
        dense_bands = len(curves) > MAX_VECTOR_MARKS
        for i, g in enumerate(groups):
            c = curves[curves["group"] == g]
            color = style.colour(i)
            t = np.concatenate([[0.0], c["time"].to_numpy()])
            s = np.concatenate([[1.0], c["surv"].to_numpy()])
            lo = np.concatenate([[1.0], c["lower"].to_numpy()])
            hi = np.concatenate([[1.0], c["upper"].to_numpy()])
            med = summary[summary["group"] == g].iloc[0]
            med_txt = "not reached" if pd.isna(med["median"]) else f"{med['median']:.1f}"
            ax.step(t, s, where="post", color=color, ls=style.linestyle(i),
                    label=f"{style.label(g)}: {med_txt}")
            ax.fill_between(t, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=0.0),
                            step="post", color=color, alpha=0.12, lw=0,
                            rasterized=dense_bands)
            cens = c[c["n_censor"] > 0]
            ax.plot(cens["time"], cens["surv"], "|", color=color, ms=4, mew=0.8,
                    rasterized=dense_marks)
            if median_lines and not pd.isna(med["median"]):   # dotted: S = 0.5 to the median
                ax.plot([0, med["median"], med["median"]], [0.5, 0.5, 0.0], color=color, lw=0.8,
                        ls=":", gid="median-line")
        overall = logrank_tests[logrank_tests["test"] == "log-rank"].iloc[0]
        ax.set_ylim(0, 1.02)
        ax.set_xlim(0, end)
        ax.set_xticks(times)
        ax.set_ylabel(y_label)
        _time_label(ax, time_unit, end, last, style)
        handles, labels = ax.get_legend_handles_labels()
        handles += [Patch(color="#4d4d4d", alpha=0.2, lw=0),
                    Line2D([], [], color="#4d4d4d", marker="|", ls="none",
                                            ms=6, mew=0.8)]
        labels += [conf_label, "censored"]
        _legend_rows(fig, ax, handles, labels, style,
                     f"{legend_title}: median ({time_unit}); log-rank {_fmt_p(overall['p'])}")
        ax.grid(alpha=0.25)
        _risk_table(tab, ax, risk, groups, times, style, "Number at risk", time_unit)
        _title(fig, style, title)
    return fig


def _time_label(ax, time_unit: str, end: float, last: float, style: FigureStyle) -> None:
    """The time axis's label; where the data run past the axis, it says where it stops."""
    if last > end * (1 + 1e-9):
        width = ax.get_position().width * ax.figure.get_figwidth()
        ax.set_xlabel(style.wrap(f"Time ({time_unit}); axis ends at {end:g}, follow-up runs "
                                 f"to {last:.4g}", max(1.0, width * 0.9)))
        ax.xaxis.label.set_gid(STOPS_GID)
    else:
        ax.set_xlabel(f"Time ({time_unit})")


def _legend_columns(labels: list[str], style: FigureStyle, width_in: float) -> int:
    """The most legend columns whose entries (line sample and text) fit ``width_in``."""
    def entry(text):
        return len(max(text.split("\n"), key=len)) * 0.6 * style.small / 72 + 0.55
    for ncol in range(min(len(labels), 6), 1, -1):
        rows = -(-len(labels) // ncol)
        cols = [labels[k * rows:(k + 1) * rows] for k in range(ncol)]   # filled down first
        if sum(max(entry(x) for x in col) for col in cols if col) <= width_in:
            return ncol
    return 1


def _legend_rows(fig, ax, handles, labels, style: FigureStyle, heading: str, **kwargs):
    """A legend in rows above ``ax``, as many columns as fit the width, never over data."""
    ncol = _legend_columns(labels, style, style.width_in * 0.95)
    return ax.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.0, 1.01),
                     frameon=False, ncol=ncol, alignment="left", borderaxespad=0.2,
                     title=style.wrap(heading, style.width_in * 0.95, style.small),
                     columnspacing=1.0, handlelength=2.2, **kwargs)


def _risk_table(tab, ax, risk: pd.DataFrame, groups: list, times: list, style: FigureStyle,
                title: str, time_unit: str) -> None:
    """Numbers at risk on axes ``tab``, aligned with the time axis of ``ax``, with its
    own time axis (ticks and label) so that the columns say which time they are."""
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
    tab.set_xticks(times)
    tab.tick_params(axis="x", length=0, labelsize=style.small)
    tab.set_xlabel(f"Time ({time_unit})", fontsize=style.small)
    _heading(tab, title, style, style.small)
    for side in ("top", "right", "bottom", "left"):
        tab.spines[side].set_visible(False)
    # the first column's numbers are centred on t = 0: keep the labels clear of them
    widest = max(len(str(int(n))) for n in risk["n_risk"]) if len(risk) else 1
    tab.tick_params(axis="y", left=False, pad=0.6 * style.small * widest + 3)


def cumulative_incidence_figure(curves: pd.DataFrame, naive: pd.DataFrame, risk: pd.DataFrame,
                                gray: pd.DataFrame, time_unit: str, conf_label: str,
                                states: tuple[str, str] = ("progressed", "died without progression"),
                                state_labels: tuple[str, str] = ("Progression",
                                                                 "Death without progression"),
                                style: FigureStyle = DEFAULT_STYLE, title: str | None = None,
                                legend_title: str = "NETPET group") -> plt.Figure:
    """Cumulative incidence of progression and of death first, one panel per group.

    In each group's panel: the Aalen-Johansen cumulative incidence of progression and
    of death without progression (R ``survfit`` multi-state, as ``cmprsk::cuminc``)
    with their pointwise bands, and the naive 1 - Kaplan-Meier of progression that
    censors deaths (dotted, no band), so that the reader sees, group by group, how much
    the naive estimate overstates the risk. Lines are told apart by the event (colour
    and line style), panels by the group; panels share their axes. Gray's tests (the
    groups compared, per event) head the legend, or, where the table says the test was
    not computed (delayed entry, case weights), that fact; the number still event-free
    at risk is given once per group, under its panel.

    Parameters
    ----------
    curves
        ``cumulative_incidence`` table (group, state, time, estimate, lower, upper).
    naive
        ``progression_naive_km`` table (group, time, one_minus_km).
    risk
        ``risk_table`` (group, time, n_risk): its times are the axis's ticks, and the
        axis ends at the last of them.
    gray
        ``gray_test`` table (cause, p, and note: "not computed: ..." where it was not).
    title
        Drawn only when ``style.titles`` asks for titles.
    """
    groups = list(dict.fromkeys(risk["group"]))
    times = sorted(risk["time"].unique())
    end = float(max(times))
    last = float(max(curves["time"].max(), naive["time"].max() if len(naive) else 0.0))
    ncol = 1 if style.narrow else min(3, len(groups))
    nrow = -(-len(groups) // ncol)
    with style.theme():
        row_h = style.small * 1.6 / 72
        panel_h = style.width_in * (0.42 if style.narrow else 0.28)
        table_h = row_h * 1.1
        legend_h = row_h * (3 if style.narrow else 2) + 0.25
        fig = plt.figure(figsize=(style.width_in, nrow * (panel_h + table_h + 0.75) + legend_h),
                         layout="constrained")
        grid = fig.add_gridspec(2 * nrow, ncol, height_ratios=[panel_h, table_h] * nrow)
        p_of = dict(zip(gray["cause"], gray["p"]))
        first = None
        panels = []
        for k, g in enumerate(groups):
            r, c = divmod(k, ncol)
            ax = fig.add_subplot(grid[2 * r, c], sharex=first, sharey=first)
            tab = fig.add_subplot(grid[2 * r + 1, c])
            first = first or ax
            panels.append(ax)
            for i, (state, label) in enumerate(zip(states, state_labels)):
                if not (curves["state"] == state).any():    # nobody had this event
                    continue
                cur = curves[(curves["group"] == g) & (curves["state"] == state)]
                t = np.concatenate([[0.0], cur["time"].to_numpy()])
                f = np.concatenate([[0.0], cur["estimate"].to_numpy()])
                lo = np.concatenate([[0.0], cur["lower"].to_numpy()])
                hi = np.concatenate([[0.0], cur["upper"].to_numpy()])
                ax.step(t, f, where="post", color=style.colour(i), ls=style.linestyle(i),
                        label=label)
                ax.fill_between(t, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=0.0),
                                step="post", color=style.colour(i), alpha=0.15, lw=0,
                                rasterized=len(curves) > MAX_VECTOR_MARKS)   # a registry's
            nv = naive[naive["group"] == g]
            ax.step(np.concatenate([[0.0], nv["time"].to_numpy()]),
                    np.concatenate([[0.0], nv["one_minus_km"].to_numpy()]),
                    where="post", color="#000000", ls=(0, (1, 1.5)), lw=1.0, gid="naive-km",
                    label=f"{state_labels[0]}: 1 − Kaplan-Meier (deaths censored)")
            _heading(ax, style.label(g), style)
            ax.set_ylim(0, 1.02)
            ax.set_xlim(0, end)
            # at most about 6 labelled times per panel (every other one in narrow panels)
            step = max(1, -(-(len(times) - 1) // (7 if ncol == 1 else 5)))
            labelled = times[::step]
            ax.set_xticks(times)
            ax.set_xticklabels([f"{t:g}" if t in labelled else "" for t in times])
            if c == 0:
                ax.set_ylabel("Cumulative incidence")
            else:
                ax.tick_params(labelleft=False)
            ax.tick_params(axis="x", labelbottom=False)    # the times are under the numbers
            if last > end * (1 + 1e-9):
                _time_label(ax, time_unit, end, last, style)
            ax.grid(alpha=0.25)
            _risk_row(tab, ax, risk[risk["group"] == g], labelled, style, time_unit)
        handles, labels = panels[0].get_legend_handles_labels()
        handles.append(Patch(color="#4d4d4d", alpha=0.2, lw=0))
        labels.append(conf_label)
        tests = "; ".join(f"{lab.lower() if k else lab} {_fmt_p(p_of[st])}"
                          for k, (st, lab) in enumerate(zip(states, state_labels))
                          if st in p_of and np.isfinite(p_of[st]))
        heading = (f"Gray's test across {legend_title}s: {tests}" if tests else "")
        skipped = [n for n in gray.get("note", pd.Series(dtype=object)).dropna().astype(str)
                   if n.startswith("not computed")]
        if skipped and not tests:    # delayed entry or case weights: said, not left out
            heading = ("Gray's test not computed (" + skipped[0].split("; ")[0].replace(
                "not computed: the cohort has ", "") + ")")
        ncol_legend = _legend_columns(labels, style, style.width_in * 0.95)
        fig.legend(handles, labels, loc="outside upper left", frameon=False, ncol=ncol_legend,
                   title=style.wrap(heading, style.width_in * 0.95, style.small) or None,
                   alignment="left", handlelength=2.2, columnspacing=1.0)
        _title(fig, style, title)
    return fig


def _risk_row(tab, ax, risk: pd.DataFrame, times: list, style: FigureStyle,
              time_unit: str) -> None:
    """One group's number event-free and at risk under its panel at ``times``, which
    its own time axis labels."""
    tab.set_xlim(ax.get_xlim())
    tab.set_ylim(-0.5, 0.5)
    r = risk.set_index("time")["n_risk"]
    for t in times:
        tab.text(t, 0, str(int(r.get(t, 0))), ha="center", va="center", fontsize=style.small)
    tab.set_yticks([])
    tab.set_xticks(times)
    tab.set_xticklabels([f"{t:g}" for t in times])
    tab.tick_params(axis="x", length=0, labelsize=style.small)
    tab.set_xlabel(f"Time ({time_unit})", fontsize=style.small)
    _heading(tab, "Number at risk (event-free)", style, style.small)
    for side in ("top", "right", "bottom", "left"):
        tab.spines[side].set_visible(False)


def forest_figure(coefs: pd.DataFrame, title: str | None = None,
                  style: FigureStyle = DEFAULT_STYLE, counts: pd.DataFrame | None = None
                  ) -> plt.Figure:
    """Forest plot of hazard ratios (log scale) with 95% CIs for one model.

    Rows, as a journal's forest plot: the patients and events of the model; then per
    term its rows: a factor under its name, its reference level first ("1
    (reference)"), then each level; a covariate per unit on one row. Right of the
    plot: the patients (events) of each row, the HR (95% CI) and the Wald p (R
    ``summary(coxph)``). A coefficient that may be infinite, or of a fit that did not
    converge, is listed as not estimable and not drawn.

    Parameters
    ----------
    coefs
        One model's rows of ``cox_coefficients`` (term, term_label, level, reference,
        hr, hr_lower, hr_upper, p, n, events; ``note``).
    title
        The model's name; drawn only when ``style.titles`` asks for titles.
    counts
        Optional patients and events per level (term, level, n, events; a binary
        covariate as levels ``no`` and ``yes``, drawn then with its reference row).
        Counts may be text (``"<5"``, suppressed small cells).
    """
    rows = coefs.reset_index(drop=True)
    count_of = {} if counts is None else {
        (str(r.term), str(r.level)): (r.n, r.events) for r in counts.itertuples()}

    def cell(n, events) -> str:
        return f"{n} ({events})" if pd.notna(n) and str(n) != "" else ""

    def number(v):
        return int(v) if isinstance(v, (int, float, np.integer, np.floating)) and np.isfinite(
            v) else v

    # the printed rows: (label, bold header, indented, coefficient row or None, counts cell)
    lines = []
    if {"n", "events"} <= set(rows.columns) and len(rows):
        lines.append(("All patients", True, False, None,
                      cell(number(rows["n"].iloc[0]), number(rows["events"].iloc[0]))))
    for term, block in rows.groupby("term" if "term" in rows else "term_label", sort=False):
        first = block.iloc[0]
        label = str(first["term_label"])
        level = str(first.get("level", "") or "")
        binary = (len(block) == 1 and not level and (str(term), "yes") in count_of)
        if level or binary:
            reference = "no" if binary else str(first["reference"])
            lines.append((label, True, False, None, ""))
            lines.append((style.label(reference), False, True, "reference",
                          cell(*count_of.get((str(term), reference), ("", "")))))
            for r in block.itertuples():
                lv = "yes" if binary else str(r.level)
                lines.append((style.label(lv), False, True, r,
                              cell(*count_of.get((str(term), lv), ("", "")))))
        else:
            r = next(block.itertuples())
            lines.append((label, False, False, r, ""))
    n = len(lines)
    with style.theme():
        # the counts column as wide as its widest entry (its heading takes two lines)
        widest = max((len(x[4]) for x in lines), default=0)
        count_w = (max(widest, 8) * 0.55 * style.small / 72 + 0.12) if widest else 0.0
        side_in = style.width_in * (0.24 if style.narrow else 0.26)
        labels = [style.wrap(("   " if indent else "") + text, side_in, style.small)
                  for text, _, indent, _, _ in lines]
        wrapped = max(lab.count("\n") + 1 for lab in labels) if labels else 1
        two_lines = style.narrow          # HR and p on two lines in a single column
        per_row = max(wrapped, 2 if two_lines else 1)
        row_in = style.small * (1.3 * per_row + 0.7) / 72
        fig, ax = style.figure(row_in * n + 0.75)
        y = np.arange(n)[::-1].astype(float)
        drawn = [(yi, r) for yi, (_, _, _, r, _) in zip(y, lines)
                 if r is not None and r != "reference" and pd.notna(r.hr_lower)]
        if drawn:
            ys, rs = zip(*drawn)
            hr = np.array([r.hr for r in rs], float)
            lo = np.array([r.hr_lower for r in rs], float)
            hi = np.array([r.hr_upper for r in rs], float)
            ax.errorbar(hr, ys, xerr=[hr - lo, hi - hr], fmt="s", color=style.colour(0),
                        ecolor="#4d4d4d", capsize=2, ms=4)
        ax.axvline(1.0, color="#999999", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yticks(y)
        ax.set_yticklabels(labels)
        for tick, (_, bold, _, _, _) in zip(ax.get_yticklabels(), lines):
            tick.set_fontweight("bold" if bold else "normal")
        ax.tick_params(axis="y", length=0)
        _left_align_ticks(ax)
        ax.set_ylim(-0.6, n - 0.4)
        pts = 72.0
        x_hr = 8 + count_w * pts
        for yi, (_, _, _, r, counted) in zip(y, lines):
            if counted:
                _right(ax, yi, 8, counted, style)
            if r is None:
                continue
            if r == "reference":
                _right(ax, yi, x_hr, "1 (reference)", style)
                continue
            stopped = str(getattr(r, "note", "")).startswith("the fit did not converge")
            text = (f"{r.hr:.2f} ({r.hr_lower:.2f}–{r.hr_upper:.2f})"
                    + ("\n" if two_lines else ", ") + _fmt_p(r.p) if pd.notna(r.hr_lower)
                    else style.wrap("not estimable (the fit did not converge)" if stopped
                                    else "not estimable (may be infinite)", side_in * 0.8,
                                    style.small))
            _right(ax, yi, x_hr, text, style)
        top = n - 0.4
        if count_w:
            _right(ax, top, 8, "Patients\n(events)", style, va="bottom", fontweight="bold")
        _right(ax, top, x_hr, "HR (95% CI)" + ("\np" if two_lines else ", p"), style,
               va="bottom", fontweight="bold")
        ax.set_xlabel("Hazard ratio (95% CI, log scale)")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        # plain numbers on the minor ticks too (matplotlib writes 2x10^0 on a log axis)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))
        _title(fig, style, title)
    return fig


def _right(ax, y: float, offset_pt: float, text: str, style: FigureStyle, va="center",
           **kwargs):
    """A text right of the axes at height ``y`` (data), ``offset_pt`` points from its edge."""
    return ax.annotate(text, xy=(1.0, y), xycoords=("axes fraction", "data"),
                       xytext=(offset_pt, 0), textcoords="offset points", va=va, ha="left",
                       fontsize=style.small, annotation_clip=False, **kwargs)


def _left_align_ticks(ax) -> None:
    """Left-align the y tick labels (indented levels under their term), padded by the
    widest label as measured by the renderer."""
    renderer = ax.figure.canvas.get_renderer()
    ticks = ax.get_yticklabels()
    widest = max((t.get_window_extent(renderer).width for t in ticks), default=0.0)
    for t in ticks:
        t.set_horizontalalignment("left")
    ax.yaxis.set_tick_params(pad=widest * 72 / ax.figure.dpi + 3)


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
    title_h = style.large * 1.6 / 72 if style.titles else 0.0
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
        if style.titles:
            ax.text(0.05, 0.05, "Patient flow", ha="left", va="top", fontsize=style.large,
                    gid=TITLE_GID)
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


def calibration_figure(groups: pd.DataFrame, smooth: dict, title: str | None,
                       time_unit: str, style: FigureStyle = DEFAULT_STYLE) -> plt.Figure:
    """Predicted against observed risk at each horizon, with the predictions' spread.

    Per horizon: the risk groups (observed by Kaplan-Meier, 95% CI) and the smoothed
    calibration curve (Austin, Harrell & van Klaveren 2020), the diagonal of perfect
    calibration, and below them the distribution of the predicted risks (a histogram
    of counts, as R ``rms::calibrate`` and ``riskRegression::plotCalibration`` show it).
    The legend is below the panels, never over a point; each axis covers everything
    drawn on it.

    Parameters
    ----------
    groups
        ``calibration_groups`` rows (horizon, predicted, observed, observed_lower,
        observed_upper).
    smooth
        Per horizon: ``predicted`` (each patient's predicted risk), ``observed`` (the
        smoothed observed risk at it) and ``ICI``.
    title
        Drawn only when ``style.titles`` asks for titles.
    """
    horizons = sorted(smooth)
    ncol = 1 if style.narrow else max(1, min(len(horizons), 3))
    nrow = -(-len(horizons) // ncol)
    with style.theme():
        panel = min(style.width_in / ncol * 0.85, 2.6 if style.narrow else 2.3)
        hist = panel * 0.28
        fig = plt.figure(figsize=(style.width_in, nrow * (panel + hist + 0.75) + 0.45),
                         layout="constrained")
        grid = fig.add_gridspec(2 * nrow, ncol, height_ratios=[panel, hist] * nrow)
        for k, h in enumerate(horizons):
            r, c = divmod(k, ncol)
            ax = fig.add_subplot(grid[2 * r, c])
            bottom = fig.add_subplot(grid[2 * r + 1, c], sharex=ax)
            g = groups[groups["horizon"] == h]
            sm = smooth[h]
            predicted = np.asarray(sm["predicted"], float)
            observed = np.asarray(sm["observed"], float)
            order = np.argsort(predicted)
            ax.axline((0, 0), slope=1, ls="--", color="#999999", lw=0.8,
                      label="perfect calibration")
            if observed.size:
                ax.plot(predicted[order], observed[order], color=style.colour(0),
                        label="smoothed calibration curve")
            ax.errorbar(g["predicted"], g["observed"],
                        yerr=[g["observed"] - g["observed_lower"],
                              g["observed_upper"] - g["observed"]],
                        fmt="o", color=style.colour(1), ms=3.5, capsize=2,
                        label="risk groups: Kaplan-Meier, 95% CI")
            values = np.concatenate([np.asarray(v, float).ravel() for v in (
                g["observed_upper"], g["predicted"], predicted, observed)])
            values = values[np.isfinite(values)]
            top = float(min(1.0, max(1e-3, values.max() if values.size else 1.0) * 1.05))
            ax.set_xlim(0, top)
            ax.set_ylim(0, top)
            ax.set_ylabel(f"Observed risk at {h:g} {time_unit}")
            ax.tick_params(axis="x", labelbottom=False)
            ici = sm.get("ICI", np.nan)
            _heading(ax, f"{h:g} {time_unit}" + (f" (ICI {ici:.3f})" if np.isfinite(ici)
                                                   else ""), style)
            ax.set_aspect("auto")
            counts, edges = np.histogram(predicted[np.isfinite(predicted)], bins=40,
                                         range=(0.0, top))
            bottom.bar(edges[:-1], counts, width=np.diff(edges), align="edge",
                       color="#8c8c8c", lw=0)
            bottom.set_ylim(0, max(1, counts.max()) * 1.1)
            bottom.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(2, integer=True))
            bottom.set_ylabel("Patients", fontsize=style.small)
            bottom.set_xlabel(f"Predicted risk at {h:g} {time_unit}")
        handles, labels = fig.axes[0].get_legend_handles_labels()
        handles.append(Patch(color="#8c8c8c", lw=0))
        labels.append("predicted risks (histogram)")
        fig.legend(handles, labels, loc="outside lower left", frameon=False,
                   ncol=_legend_columns(labels, style, style.width_in * 0.95))
        _title(fig, style, title)
    return fig


#: The value of no discrimination, perfect calibration or no improvement, per measure.
REFERENCE_VALUE = {"Harrell's C": 0.5, "Uno's C": 0.5, "Royston's D": 0.0,
                   "calibration slope": 1.0, "O/E": 1.0, "time-dependent AUC": 0.5, "IPA": 0.0}
#: The range every axis of a measure covers, so that trivial differences between centres
#: are not magnified: C and AUC from no discrimination (0.5) to perfect (1), the Brier
#: score from 0 to that of a non-informative 50% prediction (0.25); IPA and Royston's D
#: from 0 (no better than no model); calibration from perfect (1).
REFERENCE_RANGE = {"Harrell's C": (0.5, 1.0), "Uno's C": (0.5, 1.0),
                   "time-dependent AUC": (0.5, 1.0), "Brier score": (0.0, 0.25),
                   "IPA": (0.0,), "Royston's D": (0.0,), "calibration slope": (1.0,),
                   "O/E": (1.0,)}


#: The row of a pooled measure's prediction interval.
PI_ROW = "95% PI"


def centre_forest_figure(table: pd.DataFrame, title: str | None = None,
                         style: FigureStyle = DEFAULT_STYLE) -> plt.Figure:
    """Per-centre estimates and the random-effects pooled estimate, one panel per measure.

    Measures pooled across centres (DerSimonian-Laird) come first, each panel with the
    centres, the pooled estimate (diamond) and the 95% prediction interval for a new
    centre (dotted); the measures reported per centre only follow on rows of their own
    (no empty pooled row). Each axis covers the estimates, their CIs and the measure's
    reference range (:data:`REFERENCE_RANGE`: C and AUC from 0.5 to 1, so that a
    difference of 0.01 looks like one). A prediction interval reaching past the axis
    (with few centres it can be many times wider) is cut there with an arrowhead and
    its limits are printed above it.

    Parameters
    ----------
    table
        ``centre_performance`` rows: centre, measure, estimate, lower, upper and, on a
        pooled row (centre ``pooled ...``), pi_lower and pi_upper.
    title
        Drawn only when ``style.titles`` asks for titles.
    """
    table = table.copy()
    table["centre"] = table["centre"].astype(str)
    measures = list(dict.fromkeys(table["measure"]))
    is_pooled = table["centre"].str.startswith("pooled")
    pooled_measures = [m for m in measures if (is_pooled & (table["measure"] == m)).any()]
    groups = [g for g in (pooled_measures, [m for m in measures if m not in pooled_measures])
              if g]
    centres = list(dict.fromkeys(table.loc[~is_pooled, "centre"]))
    # short row names; the legend says what they are
    table.loc[is_pooled, "centre"] = pooled_name = "pooled"
    ncol = 2 if style.width_mm < 150 else 3
    with style.theme():
        row_h = style.small * 1.9 / 72

        def rows_of(group):
            with_pi = group is pooled_measures and "pi_lower" in table and np.isfinite(
                table.loc[is_pooled, "pi_lower"].astype(float)).any()
            return centres + ([pooled_name] if group is pooled_measures else []) + (
                [PI_ROW] if with_pi else [])

        # one grid: the panels of a group share their rows (y), every column its left edge
        layout = [(group, r) for group in groups for r in range(-(-len(group) // ncol))]
        heights = [row_h * (len(rows_of(group)) + 0.8) + 0.55 for group, _ in layout]
        fig, grid = style.figure(sum(heights) + 0.2, nrows=len(layout), ncols=ncol,
                                 squeeze=False, height_ratios=heights)
        for group in groups:
            rows = rows_of(group)
            position = {name: len(rows) - 1 - k for k, name in enumerate(rows)}
            first = [i for i, (g, _) in enumerate(layout) if g is group][0]
            axes = list(grid[first:first + -(-len(group) // ncol)].ravel())
            for ax in axes[1:]:
                ax.sharey(axes[0])
            spare = axes[len(group):]
            for ax in spare:
                ax.axis("off")
            for k, (ax, measure) in enumerate(zip(axes, group)):
                _centre_panel(ax, table[table["measure"] == measure], measure, position, style)
                if k % ncol:
                    ax.tick_params(axis="y", labelleft=False)
            for ax in axes[:len(group):ncol]:
                ax.set_yticks(list(position.values()))
                ax.set_yticklabels([style.wrap(name, style.width_in * 0.22, style.small)
                                    for name in position])
            axes[0].set_ylim(-0.7, len(rows) - 0.3)
            if group is pooled_measures:
                handles = [Line2D([], [], color=style.colour(0), marker="s", ls="none", ms=4),
                           Line2D([], [], color=style.colour(1), marker="D", ls="none", ms=5),
                           Line2D([], [], color=style.colour(1), ls=":")]
                labels = [style.wrap(text, style.width_in / ncol * 0.8, style.small) for text in
                          ("centre, 95% CI", "pooled (random effects), 95% CI",
                           f"{PI_ROW}: 95% prediction interval for a new centre")]
                if spare:
                    spare[0].legend(handles, labels, loc="center left", frameon=False)
                else:
                    fig.legend(handles, labels, loc="outside lower left", frameon=False,
                               ncol=_legend_columns(labels, style, style.width_in * 0.95))
            for ax in spare[1 if group is pooled_measures else 0:]:
                fig.delaxes(ax)
        _title(fig, style, title)
    return fig


def _centre_panel(ax, sub: pd.DataFrame, measure: str, position: dict, style: FigureStyle):
    """One measure's centres, pooled estimate and prediction interval on ``ax``."""
    sub = sub.reset_index(drop=True)
    pooled = sub["centre"].str.startswith("pooled").to_numpy()
    y = np.array([position[c] for c in sub["centre"]], float)
    lower = sub["lower"].astype(float).to_numpy()
    upper = sub["upper"].astype(float).to_numpy()
    est = sub["estimate"].astype(float).to_numpy()
    has_ci = np.isfinite(lower) & np.isfinite(upper)
    ax.errorbar(est[has_ci], y[has_ci], xerr=[est[has_ci] - lower[has_ci],
                                              upper[has_ci] - est[has_ci]],
                fmt="none", ecolor="#4d4d4d", capsize=2, lw=0.8)
    ax.plot(est[~pooled], y[~pooled], "s", color=style.colour(0), ms=4)
    ax.plot(est[pooled], y[pooled], "D", color=style.colour(1), ms=5)
    ends = np.concatenate([est, lower, upper, REFERENCE_RANGE.get(measure, ())])
    ends = ends[np.isfinite(ends)]
    lo, hi = (float(ends.min()), float(ends.max())) if len(ends) else (0.0, 1.0)
    span = (hi - lo) or abs(hi) or 1.0
    lo, hi = lo - 0.06 * span, hi + 0.06 * span
    ax.set_xlim(lo, hi)
    if measure in REFERENCE_VALUE:
        ax.axvline(REFERENCE_VALUE[measure], color="#999999", ls="--", lw=0.8)
    if pooled.any() and "pi_lower" in sub and PI_ROW in position:
        p = sub[pooled].iloc[0]
        pi_lo, pi_hi = float(p["pi_lower"]), float(p["pi_upper"])
        if np.isfinite(pi_lo) and np.isfinite(pi_hi):
            y_pi = position[PI_ROW]
            a, b = max(pi_lo, lo), min(pi_hi, hi)
            ax.hlines(y_pi, a, b, color=style.colour(1), lw=0.9, ls=":")
            for end, cut, mark in ((a, pi_lo < lo, "<"), (b, pi_hi > hi, ">")):
                if cut:
                    ax.plot([end], [y_pi], marker=mark, color=style.colour(1), ms=3,
                            clip_on=False)
            if pi_lo < lo or pi_hi > hi:     # cut at the axis: its limits in numbers
                ax.text(0.5 * (lo + hi), y_pi + 0.12, f"{pi_lo:.2f} to {pi_hi:.2f}",
                        ha="center", va="bottom", fontsize=style.small,
                        color=style.colour(1), gid=STOPS_GID)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(3 if style.narrow else 4))
    ncol = 2 if style.width_mm < 150 else 3
    ax.set_xlabel(style.wrap(measure + ("" if has_ci.any() else " (no CI)"),
                             style.width_in / ncol - 0.6))
    ax.tick_params(axis="y", length=0)


def risk_group_curves_figure(curves: pd.DataFrame, title: str, time_unit: str,
                             style: FigureStyle = DEFAULT_STYLE) -> plt.Figure:
    """Kaplan-Meier by prognostic group (steps, 95% CI) and mean predicted survival (dashed).

    Royston & Altman (2013), level 3 of external validation. ``title`` is drawn only
    when ``style.titles`` asks for titles.
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
        _title(fig, style, f"{title}: observed (Kaplan-Meier) and predicted survival by "
                           "prognostic group")
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
    cannot reach are left out (the table says so). ``title`` is drawn only when
    ``style.titles`` asks for titles.
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
            _heading(ax, MEASURE_LABELS[measure], style)
        axes[0].legend(frameon=False)
        _title(fig, style, f"{title}: precision of an external validation by its size "
                           "(simulation)")
    return fig


#: How each cox.zph time transform spaces the time axis, for the axis label.
ZPH_SPACING = {"km": "spaced as 1 − KM", "rank": "spaced by event rank",
               "log": "log scale", "identity": ""}


def schoenfeld_figure(residuals: pd.DataFrame, ph: pd.DataFrame, coefficients: Mapping,
                      title: str | None, time_unit: str, style: FigureStyle = DEFAULT_STYLE
                      ) -> plt.Figure:
    """Scaled Schoenfeld residuals against time, one panel per coefficient, as R
    ``plot(cox.zph(fit, terms = FALSE))``.

    Parameters
    ----------
    residuals
        The ``ph_residuals`` table: per coefficient (``term`` and, for a contrast of a
        factor, its ``level`` against ``reference``) the ``smooth`` (spline, +/- 2 SE
        band), ``binned`` means and, if asked for, one ``event`` row per event. A table
        with one block per term (``beta(t)/beta`` for a factor, R's ``cox.zph(fit)``)
        is drawn a panel per term.
    ph
        The ``ph_test`` rows of the model (term, p, df), R's ``cox.zph`` test per term:
        a factor's panels give its test of all its contrasts together.
    coefficients
        The fitted coefficient of each panel, keyed by ``(term, level)`` (``level``
        ``""`` for a one-column term) or by ``term``: proportional hazards is a flat
        line at it (at 1 on the ``beta(t)/beta`` scale).
    title
        Drawn only when ``style.titles`` asks for titles.

    The time axis is the transformed time of the test (``km``: 1 - KM, as R), its
    ticks labelled with the times they stand for; the axis label says how it is
    spaced. Panels fill the grid row by row; the legend takes the first empty slot
    (below the panels when there is none).
    """
    residuals = residuals.copy()
    for column in ("level", "reference"):
        residuals[column] = (residuals[column].fillna("").astype(str)
                             if column in residuals else "")
    blocks = list(dict.fromkeys(zip(residuals["term"], residuals["level"])))
    tests = ph.set_index("term")
    spacing = ZPH_SPACING.get(str(residuals["transform"].iloc[0])
                              if "transform" in residuals and len(residuals) else "km", "")
    contrasts = residuals.groupby("term", sort=False)["level"].nunique().to_dict()
    with style.theme():
        ncol = 2 if style.narrow else 3
        panel = 2.2 if style.narrow else min(2.4, style.width_in / 3 * 0.85)
        fig, axes, spare = _panel_grid(style, len(blocks), panel, ncol)
        for ax, (term, level) in zip(axes, blocks):
            sub = residuals[(residuals["term"] == term) & (residuals["level"] == level)]
            first = sub.iloc[0]
            name = (f"{first['term_label']}: {style.label(level)} vs "
                    f"{style.label(first['reference'])}" if level else str(first["term_label"]))
            p = float(tests.loc[term, "p"]) if term in tests.index else np.nan
            df = int(tests.loc[term, "df"]) if term in tests.index and "df" in tests else 1
            p_text = _fmt_p(p).replace(" ", "\u00a0")     # "p = 0.83" never broken
            test = ("" if not np.isfinite(p) else f"PH test, {df} df: {p_text}"
                    if contrasts.get(term, 1) > 1 else f"PH test {p_text}")
            width = style.width_in / ncol - 0.6       # the panel less its y axis
            _heading(ax, style.wrap(name, width, style.font_size)
                     + (f"\n{style.wrap(test, width, style.font_size)}" if test else ""), style)
            smooth = sub[sub["kind"] == "smooth"].sort_values("x")
            binned = sub[sub["kind"] == "binned"]
            events = sub[sub["kind"] == "event"]
            relative = first["scale"] == "beta(t)/beta"
            if smooth["estimate"].isna().all():   # R skips it: "spline fit is singular"
                ax.text(0.5, 0.5, style.wrap("not estimable: too few events with this term "
                                             "varying", panel * 0.9, style.small),
                        transform=ax.transAxes, ha="center", va="center", fontsize=style.small)
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
            flat = 1.0 if relative else coefficients.get((term, level),
                                                         None if level else coefficients.get(term))
            if flat is not None and np.isfinite(flat):
                ax.axhline(flat, color="#4d4d4d", ls="--", lw=0.8,
                           label="proportional hazards (β constant)")
            # the axis covers everything drawn: the smooth and its band (as R), the binned
            # means, the flat line and, when drawn, every event's residual (as R resid = TRUE)
            values = [smooth["lower"], smooth["upper"], binned["estimate"], events["estimate"]]
            values = np.concatenate([np.asarray(v, float) for v in values]
                                    + ([np.array([flat], float)] if flat is not None else []))
            values = values[np.isfinite(values)]
            lo, hi = (float(values.min()), float(values.max())) if len(values) else (-1.0, 1.0)
            pad = 0.06 * ((hi - lo) or 1.0)
            ax.set_ylim(lo - pad, hi + pad)
            _time_ticks(ax, smooth)
            ax.set_xlabel(style.wrap(f"Time ({time_unit}" + (f"; {spacing})" if spacing
                                                               else ")"), width, style.font_size))
            ax.set_ylabel("β(t) / β" if relative else "β(t)")
        handles, labels = [], []
        for ax in axes:                 # every kind of line any panel drew, once
            for h, lab in zip(*ax.get_legend_handles_labels()):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
        _legend_in(fig, spare, handles, labels, style)
        _title(fig, style, title)
    return fig


def _panel_grid(style: FigureStyle, n: int, panel_h: float, ncol: int, **kwargs):
    """``n`` panels filling ``ncol`` columns row by row; the slots left over in the last
    row are returned separately (for a legend), the rest removed."""
    ncol = max(1, min(n, ncol))
    nrow = -(-n // ncol)
    fig, axes = style.figure(panel_h * nrow + 0.35, nrows=nrow, ncols=ncol, squeeze=False,
                             **kwargs)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.axis("off")
    return fig, flat[:n], flat[n:]


def _legend_in(fig, spare: list, handles, labels, style: FigureStyle, **kwargs) -> None:
    """The legend in the first spare panel slot, or below the panels when none is left;
    spare slots without the legend are removed (no empty panel)."""
    if spare:
        spare[0].legend(handles, labels, loc="center left", frameon=False,
                        borderaxespad=0.0, **kwargs)
        for ax in spare[1:]:
            fig.delaxes(ax)
        return
    fig.legend(handles, labels, loc="outside lower left", frameon=False,
               ncol=_legend_columns(labels, style, style.width_in * 0.95), **kwargs)


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


def case_mix_figure(table: pd.DataFrame, title: str | None = None,
                    style: FigureStyle = DEFAULT_STYLE,
                    covariates: Mapping[str, Mapping] | None = None) -> plt.Figure:
    """Case mix by cohort and centre (TRIPOD+AI 20c) from the ``case_mix`` table.

    The linear predictor and each continuous predictor as boxes drawn from their
    centiles (box 25th-75th, line at the median, whiskers 5th-95th; no points, as
    the table holds no patient); each categorical predictor as the proportion of
    each level per cohort (grouped horizontal bars, as seaborn's ``barplot`` draws
    them).

    Parameters
    ----------
    table
        The ``case_mix`` table: continuous predictors on the model's scale (after its
        transform and scale, e.g. age / 10).
    covariates
        The frozen model's ``covariates`` (``type``, ``label``, ``scale``,
        ``transform``): each continuous predictor is drawn back on its own scale (age
        in years, not per 10 years; a ``log2`` predictor on a logarithmic axis), the
        unit taken from its label ("Age (per 10 years)": years). Without it, on the
        model's scale, which the axis label says.
    title
        Drawn only when ``style.titles`` asks for titles.
    """
    covariates = covariates or {}
    variables = list(dict.fromkeys(table["variable"]))
    cohorts = list(dict.fromkeys(table["cohort"]))
    colour = {c: style.colour(i) for i, c in enumerate(cohorts)}
    with style.theme():
        row_h = style.small * 1.8 / 72
        panel = max(1.3, row_h * (len(cohorts) + 1) + 0.7)
        fig, axes, spare = _panel_grid(style, len(variables), panel, 1 if style.narrow else 2)
        for ax, var in zip(axes, variables):
            sub = table[table["variable"] == var]
            label = str(sub["label"].iloc[0])
            if sub["statistic"].str.startswith("centile").any():
                back, axis_label, log = _original_scale(var, label, covariates.get(var))
                stats, names = [], []
                for cohort in cohorts:
                    c = sub[(sub["cohort"] == cohort) & sub["statistic"].str.startswith("centile")]
                    if c.empty:
                        continue
                    q = {k: back(v) for k, v in zip(
                        c["statistic"].str.removeprefix("centile ").astype(str),
                        c["value"].astype(float))}
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
                if log:
                    ax.set_xscale("log", base=2)
                    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
                        lambda v, _: f"{v:g}"))
                ax.set_yticks(y)
                ax.set_yticklabels([style.wrap(n, style.width_in * 0.3, style.small)
                                    for n in names])
                ax.set_xlabel(style.wrap(axis_label, style.width_in * 0.4))
            else:
                props = sub[sub["statistic"] == "proportion"].copy()
                levels = list(dict.fromkeys(props["level"].astype(str)))
                if set(levels) == {"0", "1"}:        # a binary predictor: the share with it
                    props = props[props["level"].astype(str) == "1"]
                    props["level"] = "yes"
                _grouped_bars(ax, props, [c for c in cohorts if c in set(props["cohort"])],
                              colour)
                ax.set_xlim(0, 1)
                ax.set_ylabel("")
                ax.set_xlabel(style.wrap(f"{label}: proportion", style.width_in * 0.4))
            ax.set_title("")
        _legend_in(fig, spare, [Patch(color=colour[c], alpha=0.7, label=c) for c in cohorts],
                   cohorts, style)
        _title(fig, style, title)
    return fig


def _grouped_bars(ax, props: pd.DataFrame, hues: list, colour: Mapping) -> None:
    """One horizontal bar per level (``level``) and cohort (``hue``) of ``value``.

    The layout of seaborn's ``barplot(orient="h", hue=...)``: the levels top to
    bottom in their order of appearance (numbers in numeric order), the bars of
    a level side by side within 0.8 of its row. Drawn with matplotlib because
    importing seaborn loads scipy.stats (about 0.6 s of the job).
    """
    levels = pd.unique(props["level"])
    if pd.api.types.is_numeric_dtype(props["level"]):
        levels = np.sort(levels)
    row = {level: i for i, level in enumerate(levels)}
    height = 0.8 / max(len(hues), 1)
    for j, hue in enumerate(hues):
        sub = props[props["cohort"] == hue]
        offset = -0.4 + height * (j + 0.5)
        ax.barh([row[v] + offset for v in sub["level"]], sub["value"].astype(float),
                height=height, color=colour[hue], label=str(hue))
    ax.set_yticks(range(len(levels)))
    ax.set_yticklabels([str(v) for v in levels])
    ax.set_ylim(len(levels) - 0.5, -0.5)


def _original_scale(name: str, label: str, spec: Mapping | None):
    """How to draw a continuous predictor of the case-mix table on its own scale.

    Returns the back-transform of a model-scale value, the axis label and whether the
    axis is logarithmic. The model's value is ``transform(x) / scale`` (netpet_stats
    ``design_matrix``); the unit is read from a label "... (per <scale> <unit>)".
    """
    import re

    if name == "linear_predictor":
        return float, label, False
    spec = spec or {}
    scale = float(spec.get("scale", 1.0) or 1.0)
    log2 = spec.get("transform") == "log2"
    if not spec:
        return float, f"{label} (model scale)", False
    match = re.match(r"^(.*?)\s*\(per\s+(?:[\d.]+\s+)?([^)]*)\)\s*$", label)
    base, unit = (match.group(1), match.group(2).strip()) if match else (label, "")
    if log2 or unit in ("doubling", "unit", "1 unit"):
        unit = ""
    axis_label = f"{base} ({unit})" if unit else base
    if log2:
        return (lambda v: float(2.0 ** (float(v) * scale))), axis_label + ", log scale", True
    return (lambda v: float(v) * scale), axis_label, False


def netpet_distribution_figure(distribution: pd.DataFrame, title: str | None = None,
                               style: FigureStyle = DEFAULT_STYLE,
                               score_label: str = "NETPET score") -> plt.Figure:
    """Patients per NETPET score, coloured by the analysis group each score enters.

    Parameters
    ----------
    distribution
        The ``netpet_distribution`` table (netpet, n, analysis_group): one row per
        score (P0-P5, P4a/P4b, ``(missing)``), with its count, or ``<k`` where small
        counts are suppressed (``privacy.suppress_small_cells``): such a score gets no
        bar, its count is printed as it is in the table.
    title
        Drawn only when ``style.titles`` asks for titles.

    Each bar's count is printed above it; scores left out of the analyses (``(not
    analysed)``: P0, a missing score) are grey. The groups' colours follow their
    order in the table, as in the other figures.
    """
    dist = distribution.reset_index(drop=True)
    groups = [g for g in dict.fromkeys(dist["analysis_group"].astype(str))
              if g != "(not analysed)"]
    colour = {g: style.colour(i) for i, g in enumerate(groups)}
    counts = pd.to_numeric(dist["n"], errors="coerce")
    with style.theme():
        fig, ax = style.figure(style.width_in * (0.62 if style.narrow else 0.38) + 0.5)
        x = np.arange(len(dist))
        shown = counts.notna().to_numpy()
        bar_colour = [colour.get(str(g), "#a6a6a6") for g in dist["analysis_group"]]
        ax.bar(x[shown], counts[shown], color=np.asarray(bar_colour, dtype=object)[shown],
               width=0.7)
        top = float(counts.max()) if counts.notna().any() else 1.0
        for xi, n, ok in zip(x, dist["n"], shown):
            ax.text(xi, (float(n) if ok else 0.0) + 0.015 * top, str(n), ha="center",
                    va="bottom", fontsize=style.small)
        ax.set_xticks(x)
        ax.set_xticklabels([str(s) for s in dist["netpet"]])
        ax.set_xlim(-0.6, len(dist) - 0.4)
        ax.set_ylim(0, top * 1.12)
        ax.set_xlabel(score_label)
        ax.set_ylabel("Patients")
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        handles = [Patch(color=colour[g]) for g in groups]
        labels = [style.label(g) for g in groups]
        if (dist["analysis_group"].astype(str) == "(not analysed)").any():
            handles.append(Patch(color="#a6a6a6"))
            labels.append("not analysed")
        hidden = [str(n) for n, ok in zip(dist["n"], shown) if not ok]
        heading = "Analysis group" + (f" (counts {hidden[0]} hidden)" if hidden else "")
        _legend_rows(fig, ax, handles, labels, style, heading)
        _title(fig, style, title)
    return fig


def imputation_figure(values: pd.DataFrame, labels: Mapping, kinds: Mapping,
                      title: str | None = None,
                      style: FigureStyle = DEFAULT_STYLE) -> plt.Figure:
    """Observed against imputed values of each imputed covariate (seaborn).

    Parameters
    ----------
    values
        Long table: ``variable``, ``value`` (on the scale imputed: log2 for a
        log2-transformed covariate), ``source`` (``"observed"``, or ``"imputed"`` for
        the values drawn in all imputations together).
    labels, kinds
        Per variable, its axis label and ``"continuous"`` or ``"categorical"``.

    A continuous covariate gets the two densities (kernel estimates, each scaled to 1);
    a categorical one the proportion in each level, observed beside imputed. Plausible
    imputations look like the observed values, up to the differences the predictors
    explain (van Buuren 2018, sec. 6.6); a missing-at-random mechanism allows them to
    differ.
    """
    import seaborn as sns

    variables = list(dict.fromkeys(values["variable"]))
    palette = {"observed": style.colour(0), "imputed": style.colour(1)}
    with style.theme():
        fig, axes = _panels(style, max(1, len(variables)), 1.9, wide_cols=2)
        for ax, var in zip(axes, variables):
            sub = values[values["variable"] == var]
            if kinds.get(var) == "categorical":
                props = (sub.groupby("source")["value"].value_counts(normalize=True)
                         .rename("proportion").reset_index())
                sns.barplot(data=props, x="value", y="proportion", hue="source",
                            hue_order=["observed", "imputed"], palette=palette, ax=ax,
                            order=sorted(sub["value"].astype(str).unique()))
                ax.set_ylabel("Proportion")
                ax.set_ylim(0, 1)
            else:
                sub = sub.assign(value=sub["value"].astype(float))
                sns.kdeplot(data=sub, x="value", hue="source", hue_order=["observed", "imputed"],
                            common_norm=False, palette=palette, ax=ax, cut=0, fill=False)
                ax.set_ylabel("Density")
                ax.set_ylim(bottom=0)
            ax.set_xlabel(labels.get(var, var))
            legend = ax.get_legend()
            if legend is not None:
                legend.set_title("")
                legend.set_frame_on(False)
        if not variables:
            axes[0].text(0.5, 0.5, "No covariate was imputed", ha="center", va="center",
                         transform=axes[0].transAxes)
            axes[0].axis("off")
        _title(fig, style, title)
    return fig
