"""The PDF copy of the report: long tables flow across pages instead of breaking the run."""

from __future__ import annotations

import re

import pandas as pd

from netpet_stats.report.document import gt_table, write_pdf


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_a_table_longer_than_a_page_splits_across_pages(tmp_path):
    """A patient-flow table of 150 rows after some text: ReportLab's 'Splitting error' before."""
    frame = pd.DataFrame({"Analysis": [f"os:model_{i}" for i in range(150)],
                          "Step": ["excluded"] * 150, "n": range(150),
                          "Reason": ["missing Ki-67"] * 150})
    page = ("<html><head><style>@page { size: a4; margin: 1.6cm; } "
            "table { font-size: 7.5pt; }</style></head><body>"
            "<h1>Report</h1>" + "<p>text</p>" * 40
            + gt_table(frame, "flow", "Patient flow") + "</body></html>")
    path = tmp_path / "report.pdf"
    write_pdf(page, path)
    pdf = path.read_bytes()
    # 150 rows of ~14 pt do not fit on one A4 page at full size: at least 3 pages, i.e.
    # the table was not shrunk into one frame
    assert _pages(pdf) >= 3


def test_the_report_and_figure_pdfs_embed_truetype_fonts(tmp_path):
    import matplotlib.pyplot as plt

    from netpet_stats.report import figures

    page = ("<html><head><style>@font-face { font-family: 'DejaVu Sans'; "
            "src: url('%s'); } body { font-family: 'DejaVu Sans'; }</style></head>"
            "<body><h2 id='a'>Cox</h2><p>Hazard ratio 2.68 (1.66-4.31)</p>"
            "<table><tr><th>HR</th></tr><tr><td>2.68</td></tr></table></body></html>"
            % __import__("netpet_stats.report.document", fromlist=["pdf_fonts"]).pdf_fonts()[
                "regular"])
    write_pdf(page, tmp_path / "r.pdf")
    report = (tmp_path / "r.pdf").read_bytes()
    assert b"/FontFile2" in report                                  # embedded TrueType
    # no standard-14 font (ReportLab's page and table-cell default is Helvetica), which
    # would be referenced without being embedded
    assert re.findall(rb"/BaseFont /(\w[\w-]*)", report) and not re.findall(
        rb"/Subtype /Type1", report)
    fig, ax = plt.subplots()
    ax.set_xlabel("Time (months)")
    figures.save(fig, [tmp_path / "f.pdf"])
    pdf = (tmp_path / "f.pdf").read_bytes()
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf           # not Type 3 glyphs


def test_tiff_figures_are_lzw_compressed_and_reproducible(tmp_path):
    import matplotlib.pyplot as plt
    from PIL import Image

    from netpet_stats.report import figures

    def draw(path):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1, 2], [1, 0.5, 0.2])
        figures.save(fig, [path], dpi=600)

    draw(tmp_path / "a.tiff")
    draw(tmp_path / "b.tiff")
    assert (tmp_path / "a.tiff").read_bytes() == (tmp_path / "b.tiff").read_bytes()
    with Image.open(tmp_path / "a.tiff") as image:
        assert image.info.get("compression") == "tiff_lzw"
        assert round(image.info["dpi"][0]) == 600


def test_km_median_lines_reach_each_reached_median_only():
    from netpet_stats import km_quantiles, km_table, logrank_tests
    from netpet_stats.report import figures

    t = [1, 2, 2, 3, 4, 4, 5, 6, 7, 8, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
    e = [1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    g = ["a"] * 10 + ["b"] * 10
    curves, summary = [], []
    for grp in ("a", "b"):
        idx = [i for i, x in enumerate(g) if x == grp]
        km = km_table([t[i] for i in idx], [e[i] for i in idx]).assign(group=grp)
        curves.append(km)
        q = km_quantiles(km).iloc[0]
        summary.append({"group": grp, "median": q["quantile"]})
    curves = pd.concat(curves)
    risk = pd.DataFrame({"group": ["a", "b"] * 2, "time": [0, 0, 10, 10], "n_risk": [10, 10, 0, 4]})
    tests = logrank_tests(t, e, g, ["a", "b"])
    fig = figures.km_figure(curves, risk, pd.DataFrame(summary), tests, "t", "months", "95% CI",
                            median_lines=True)
    lines = [ln for ln in fig.axes[0].lines if ln.get_gid() == "median-line"]
    assert len(lines) == 1                        # group b never reaches 0.5
    assert list(lines[0].get_xdata()) == [0, 4.0, 4.0]   # group a: median 4 (R quantile)
