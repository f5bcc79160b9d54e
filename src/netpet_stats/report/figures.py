"""Figures drawn from the result tables (never from patient rows).

Kaplan-Meier curves with a number-at-risk table under the axes, medians and the
log-rank p; a forest plot of hazard ratios. Saved as PNG and vector PDF with
fixed metadata so that reruns give byte-identical files.
"""

from __future__ import annotations

from pathlib import Path

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
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1)), (0, (8, 2))]
_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
    "svg": {"Date": None, "Creator": None},
}


def save(fig: plt.Figure, paths: list[str | Path], dpi: int = 200) -> None:
    """Save to each path (format from the suffix) without timestamps."""
    plt.rcParams["svg.hashsalt"] = "netpet-stats"
    for path in paths:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = path.suffix.lstrip(".").lower()
        if fmt in ("tif", "tiff"):  # LZW-compressed TIFF, the format journals ask for
            fig.savefig(path, dpi=dpi, bbox_inches="tight", format="tiff",
                        pil_kwargs={"compression": "tiff_lzw"})
            continue
        fig.savefig(path, dpi=dpi, metadata=_METADATA.get(fmt), bbox_inches="tight")
    plt.close(fig)


def _fmt_p(p: float) -> str:
    text = fmt_p(p)
    return f"p {text}" if text[0] in "<>" else f"p = {text}"


def km_figure(curves: pd.DataFrame, risk: pd.DataFrame, summary: pd.DataFrame,
              logrank_tests: pd.DataFrame, title: str, time_unit: str,
              conf_label: str, median_lines: bool = False) -> plt.Figure:
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
        (none for a median not reached).

    Each group has its own colour (Okabe-Ito) and line style, so that the curves
    stay apart in greyscale and for readers with a colour-vision deficiency.
    """
    groups = list(dict.fromkeys(curves["group"]))
    times = sorted(risk["time"].unique())
    fig = plt.figure(figsize=(7.5, 6.0))
    # the legend sits to the right of the curves, never over a confidence band
    ax = fig.add_axes([0.12, 0.33, 0.6, 0.6])
    tab = fig.add_axes([0.12, 0.04, 0.6, 0.035 * len(groups) + 0.03])
    for i, g in enumerate(groups):
        c = curves[curves["group"] == g]
        color = PALETTE[i % len(PALETTE)]
        t = np.concatenate([[0.0], c["time"].to_numpy()])
        s = np.concatenate([[1.0], c["surv"].to_numpy()])
        lo = np.concatenate([[1.0], c["lower"].to_numpy()])
        hi = np.concatenate([[1.0], c["upper"].to_numpy()])
        med = summary[summary["group"] == g].iloc[0]
        med_txt = "NR" if pd.isna(med["median"]) else f"{med['median']:.1f}"
        ax.step(t, s, where="post", color=color, lw=1.8, ls=LINESTYLES[i % len(LINESTYLES)],
                label=f"{g}\nmedian {med_txt} {time_unit}")
        ax.fill_between(t, np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=0.0),
                        step="post", color=color, alpha=0.12, lw=0)
        cens = c[c["n_censor"] > 0]
        ax.plot(cens["time"], cens["surv"], "|", color=color, ms=6, mew=1)
        if median_lines and not pd.isna(med["median"]):   # dotted: S = 0.5 to the median
            ax.plot([0, med["median"], med["median"]], [0.5, 0.5, 0.0], color=color, lw=0.8,
                    ls=":", gid="median-line")
    overall = logrank_tests[logrank_tests["test"] == "log-rank"].iloc[0]
    ax.set_title(f"Log-rank {_fmt_p(overall['p'])}", loc="right", fontsize=10)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max(times))
    ax.set_xticks(times)
    ax.set_ylabel("Survival probability")
    ax.set_xlabel(f"Time ({time_unit})")
    ax.set_title(title, loc="left", fontsize=12)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8.5,
              title=f"NETPET group\n(shaded: {conf_label})", title_fontsize=8,
              alignment="left")
    ax.grid(alpha=0.25, lw=0.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    # Numbers-at-risk table aligned with the x axis.
    tab.set_xlim(ax.get_xlim())
    tab.set_ylim(-0.5, len(groups) - 0.5)
    for i, g in enumerate(groups):
        r = risk[risk["group"] == g].set_index("time")["n_risk"]
        y = len(groups) - 1 - i
        for t in times:
            tab.text(t, y, str(int(r.get(t, 0))), ha="center", va="center", fontsize=8.5,
                     color=PALETTE[i % len(PALETTE)])
    tab.set_yticks(range(len(groups)))
    tab.set_yticklabels(list(reversed(groups)), fontsize=8.5)
    tab.set_xticks([])
    tab.set_title("Number at risk", loc="left", fontsize=9)
    for side in ("top", "right", "bottom", "left"):
        tab.spines[side].set_visible(False)
    tab.tick_params(left=False, pad=14)
    return fig


def forest_figure(coefs: pd.DataFrame, title: str) -> plt.Figure:
    """Forest plot of hazard ratios (log scale) with 95% CIs for one model."""
    rows = coefs.reset_index(drop=True)
    labels = [f"{r.term_label}: {r.level} vs {r.reference}"
              if isinstance(r.level, str) and r.level else r.term_label
              for r in rows.itertuples()]
    n = len(rows)
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * n + 1.6))
    y = np.arange(n)[::-1]
    # a coefficient that may be infinite has no CI: listed, not drawn (it would stretch
    # the axis to 1e-14)
    shown = rows["hr_lower"].notna().to_numpy()
    ax.errorbar(rows["hr"][shown], y[shown],
                xerr=[(rows["hr"] - rows["hr_lower"])[shown], (rows["hr_upper"] - rows["hr"])[shown]],
                fmt="s", color="#2166ac", ecolor="#4d4d4d", capsize=3, ms=5)
    ax.axvline(1.0, color="#999999", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=9)
    for yi, r, ok in zip(y, rows.itertuples(), shown):
        text = (f"{r.hr:.2f} ({r.hr_lower:.2f}-{r.hr_upper:.2f}), {_fmt_p(r.p)}" if ok else
                "may be infinite (no events in a level): not estimable")
        ax.text(1.02, yi, text, transform=ax.get_yaxis_transform(), va="center", fontsize=8.5)
    ax.set_xlabel("Hazard ratio (95% CI, log scale)")
    ax.set_title(title, loc="left", fontsize=11)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    # plain numbers on the minor ticks too (matplotlib writes 2x10^0 on a log axis)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
        lambda v, _: f"{v:g}" if f"{v:g}"[0] in "235" else ""))
    return fig


def flow_figure(flow: pd.DataFrame, endpoint_labels: dict, primary_model: str) -> plt.Figure:
    """Patient-flow diagram (TRIPOD+AI item 20a) from the ``flow`` table.

    Received -> eligible (with the reasons for exclusion beside the arrow) ->
    one column per endpoint: analysed by Kaplan-Meier/log-rank, then by the
    primary Cox model, each with its exclusions.
    """
    from matplotlib.patches import FancyBboxPatch

    def count(analysis, step):
        rows = flow[(flow["analysis"] == analysis) & (flow["step"].str.startswith(step))]
        return int(rows["n"].sum())

    def reasons(analysis):
        rows = flow[(flow["analysis"] == analysis) & (flow["step"] == "excluded")]
        return [f"{r.reason}: {int(r.n)}" for r in rows.itertuples()]

    endpoints = list(endpoint_labels)
    width = max(7.5, 3.6 * len(endpoints) + 1.5)
    fig, ax = plt.subplots(figsize=(width, 6.3))
    ax.set_xlim(0, width)
    ax.set_ylim(1.2, 10)
    ax.axis("off")

    def box(x, y, text, w=3.2, h=0.9, face="#eef3f8", edge="#1b4f72", size=9):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05",
                                    fc=face, ec=edge, lw=1))
        ax.text(x, y, text, ha="center", va="center", fontsize=size, wrap=True)

    def arrow(x0, y0, x1, y1):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="->", color="#52606d", lw=1))

    import textwrap

    cx = width * 0.33 if len(endpoints) > 1 else width * 0.3
    received = int(flow.loc[flow["step"] == "input rows", "n"].iloc[0])
    eligible = count("all", "eligible")
    box(cx, 9.5, f"Patients received\nn = {received}")
    arrow(cx, 9.0, cx, 7.1)
    excl = reasons("all")
    if excl:
        lines = [ln for r in excl for ln in textwrap.wrap(r, 46)]
        bw = min(width - cx - 0.4, 4.6)
        bx = width - 0.2 - bw / 2
        box(bx, 8.05, "Excluded from all analyses\n" + "\n".join(lines), w=bw,
            h=min(0.26 * len(lines) + 0.5, 1.5), face="#fdf2e9", edge="#b9770e", size=8)
        arrow(cx, 8.05, bx - bw / 2 - 0.05, 8.05)
    box(cx, 6.6, f"Eligible\nn = {eligible}")
    xs = np.linspace(width / (2 * len(endpoints)), width - width / (2 * len(endpoints)),
                     len(endpoints))
    for x, ep in zip(xs, endpoints):
        arrow(cx, 6.1, x, 5.3)
        km_n = count(ep, "analysed")
        lost = reasons(ep)
        box(x, 4.8, f"{endpoint_labels[ep]}\nKaplan-Meier, log-rank: n = {km_n}"
            + ("\n" + "\n".join(f"excluded, {r}" for r in lost) if lost else ""),
            w=3.4, h=0.9 + 0.3 * len(lost))
        arrow(x, 4.2, x, 2.9)
        cox_n = count(f"{ep}:{primary_model}", "analysed")
        lost_cox = reasons(f"{ep}:{primary_model}")
        box(x, 2.3, f"Primary Cox model: n = {cox_n}"
            + ("\n" + "\n".join(f"excluded, {r}" for r in lost_cox) if lost_cox else ""),
            w=3.4, h=0.8 + 0.3 * len(lost_cox))
    ax.set_title("Patient flow", loc="left", fontsize=12)
    return fig


def calibration_figure(groups: pd.DataFrame, smooth: dict, title: str, time_unit: str) -> plt.Figure:
    """Predicted vs observed risk at each horizon: risk groups (KM, 95% CI) and smoothed curve."""
    horizons = sorted(smooth)
    fig, axes = plt.subplots(1, len(horizons), figsize=(4.2 * len(horizons), 4.4), squeeze=False)
    for ax, h in zip(axes[0], horizons):
        g = groups[groups["horizon"] == h]
        sm = smooth[h]
        order = np.argsort(sm["predicted"])
        ax.plot([0, 1], [0, 1], ls="--", color="#999999", lw=1)
        ax.plot(sm["predicted"][order], sm["observed"][order], color="#2166ac", lw=1.6,
                label=f"smoothed (ICI {sm['ICI']:.3f})")
        ax.errorbar(g["predicted"], g["observed"],
                    yerr=[g["observed"] - g["observed_lower"], g["observed_upper"] - g["observed"]],
                    fmt="o", color="#b2182b", ms=5, capsize=3, label="risk groups (KM, 95% CI)")
        top = float(max(1e-3, np.nanmax([g["observed_upper"].max(), g["predicted"].max(),
                                         sm["predicted"].max()])) * 1.05)
        ax.set_xlim(0, min(1, top))
        ax.set_ylim(0, min(1, top))
        ax.set_xlabel(f"Predicted risk at {h:g} {time_unit}")
        ax.set_ylabel("Observed risk")
        ax.set_title(f"{h:g} {time_unit}", loc="left", fontsize=10)
        ax.legend(fontsize=8, frameon=False, loc="upper left")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.suptitle(f"{title}: calibration of the frozen model", x=0.01, ha="left", fontsize=11)
    fig.tight_layout()
    return fig


def centre_forest_figure(table: pd.DataFrame, title: str) -> plt.Figure:
    """Per-centre estimates and the random-effects pooled estimate, one panel per measure."""
    measures = list(dict.fromkeys(table["measure"]))
    ncol = min(4, len(measures))
    nrow = -(-len(measures) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, nrow * (0.45 * (
        table["centre"].nunique()) + 1.6)), squeeze=False)
    for ax in axes.ravel()[len(measures):]:
        ax.axis("off")
    reference = {"Harrell's C": 0.5, "Uno's C": 0.5, "Royston's D": 0.0, "calibration slope": 1.0,
                 "O/E": 1.0, "time-dependent AUC": 0.5, "IPA": 0.0}
    for ax, measure in zip(axes.ravel(), measures):
        sub = table[table["measure"] == measure].reset_index(drop=True)
        y = np.arange(len(sub))[::-1]
        pooled = sub["centre"].astype(str).str.startswith("pooled")
        ax.errorbar(sub["estimate"], y, xerr=[sub["estimate"] - sub["lower"], sub["upper"] - sub["estimate"]],
                    fmt="none", ecolor="#4d4d4d", capsize=3)
        ax.plot(sub.loc[~pooled, "estimate"], y[~pooled], "s", color="#2166ac", ms=5)
        ax.plot(sub.loc[pooled, "estimate"], y[pooled], "D", color="#b2182b", ms=7)
        if pooled.any() and "pi_lower" in sub and np.isfinite(sub.loc[pooled, "pi_lower"]).all():
            p = sub[pooled].iloc[0]
            ax.hlines(y[pooled][0] - 0.25, p["pi_lower"], p["pi_upper"], color="#b2182b", lw=1,
                      ls=":", label="95% prediction interval")
            ax.legend(fontsize=7, frameon=False, loc="lower right")
        if measure in reference:
            ax.axvline(reference[measure], color="#999999", ls="--", lw=1)
        ax.set_yticks(y)
        ax.set_yticklabels(sub["centre"].astype(str), fontsize=8)
        ax.set_title(measure, loc="left", fontsize=10)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.suptitle(f"{title}: performance by centre", x=0.01, ha="left", fontsize=11)
    fig.tight_layout()
    return fig


def risk_group_curves_figure(curves: pd.DataFrame, title: str, time_unit: str) -> plt.Figure:
    """Kaplan-Meier by prognostic group (steps, 95% CI) and mean predicted survival (dashed).

    Royston & Altman (2013), level 3 of external validation.
    """
    fig, ax = plt.subplots(figsize=(7.0, 4.8))
    for k, (g, sub) in enumerate(curves.groupby("group", sort=True)):
        colour = PALETTE[k % len(PALETTE)]
        first = sub.iloc[0]
        ax.step(sub["time"], sub["observed"], where="post", color=colour, lw=1.6,
                label=f"group {g} ({first['lp_range']}; n = {first['n']}, "
                      f"{first['events']} events)")
        ax.fill_between(sub["time"], sub["observed_lower"], sub["observed_upper"], step="post",
                        color=colour, alpha=0.12, lw=0)
        ax.plot(sub["time"], sub["predicted"], color=colour, lw=1.4, ls="--")
    ax.plot([], [], color="#4d4d4d", ls="--", label="predicted by the model (mean)")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, float(curves["time"].max()))
    ax.set_xlabel(f"Time ({time_unit})")
    ax.set_ylabel("Survival probability")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(0.0, -0.13), ncol=2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_title(f"{title}: observed (Kaplan-Meier) and predicted survival by prognostic group",
                 loc="left", fontsize=10)
    fig.tight_layout()
    return fig


def empty_figure(message: str) -> plt.Figure:
    """A placeholder figure stating why an analysis was not done."""
    import textwrap

    lines = textwrap.wrap(message, 90)
    fig, ax = plt.subplots(figsize=(6.5, 0.6 + 0.22 * len(lines)))
    ax.axis("off")
    ax.text(0.0, 0.5, "\n".join(lines), fontsize=9, va="center")
    return fig


def sample_size_figure(summary: pd.DataFrame, title: str) -> plt.Figure:
    """Mean 95% CI width against validation sample size, one panel per measure.

    One line per event fraction; the dashed line is the target width (Riley et
    al., Stat Med 2022). Cells whose event fraction the model cannot reach are
    left out (the table says so).
    """
    from ..validation.sample_size import MEASURE_LABELS, MEASURES

    ok = summary[~summary["status"].astype(str).str.startswith("infeasible")]
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(3.6 * len(MEASURES), 3.6), squeeze=False)
    for ax, measure in zip(axes.ravel(), MEASURES):
        sub = ok[ok["measure"] == measure]
        for k, (fraction, line) in enumerate(sub.groupby("event_fraction", sort=True)):
            line = line.sort_values("n")
            ax.plot(line["n"], line["width_mean"], "o-", color=PALETTE[k % len(PALETTE)], ms=4,
                    lw=1.4, label=f"{fraction:g} of patients with an event")
        target = summary.loc[summary["measure"] == measure, "target_width"]
        if len(target):
            ax.axhline(float(target.iloc[0]), color="#999999", ls="--", lw=1, label="target width")
        ax.set_xscale("log")
        ax.set_xlabel("Validation cohort size (patients)")
        ax.set_ylabel("Mean 95% CI width")
        ax.set_title(MEASURE_LABELS[measure], loc="left", fontsize=10)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes.ravel()[0].legend(fontsize=7, frameon=False)
    fig.suptitle(f"{title}: precision of an external validation by its size (simulation)", x=0.01,
                 ha="left", fontsize=11)
    fig.tight_layout()
    return fig
