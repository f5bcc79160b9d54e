"""The PDF report: typeset by WeasyPrint from the print copy of the HTML.

Page size, running header, "page N of M", contents with page numbers, numbered
captions, headings repeated across pages, figures as vectors, every font embedded,
the same bytes on every run, and one readable message when a page cannot be typeset.
``pdftotext``, ``pdffonts`` and ``pdfimages`` (poppler-utils) read the PDFs back.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from netpet_stats.report import pdf
from netpet_stats.report.document import _template, gt_table

IN_CI = os.environ.get("CI") == "true"


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if IN_CI:
            pytest.fail(f"{tool} (poppler-utils) is required in CI (.ci/run installs it)")
        pytest.skip(f"{tool} (poppler-utils) not installed")
    return path


def _pages_text(path) -> list[str]:
    text = subprocess.run([_poppler("pdftotext"), "-layout", str(path), "-"],
                          capture_output=True, text=True, check=True).stdout
    return text.split("\f")[:-1]


def _print_page(body: str, config: dict | None = None, title: str = "A report") -> str:
    """A page with the report's print stylesheet (templates/_print.css.j2)."""
    settings = pdf.print_settings(config or {})
    css = _template("_print.css.j2").render(print=settings)
    return pdf.for_paged_media(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<meta name='dcterms.created' content='{settings['iso_date']}'>"
        f"<style>{css}</style></head><body><header><h1>{title}</h1>"
        f"<p class='report-date'>{settings['date']}</p></header>{body}</body></html>")


def _flow(n: int) -> pd.DataFrame:
    return pd.DataFrame({"Analysis": [f"os:model_{i // 5}" for i in range(n)],
                         "Step": ["excluded"] * n, "n": range(100, 100 + n),
                         "Reason": ["missing Ki-67"] * n})


def test_a_long_table_runs_across_pages_with_its_headings_repeated(tmp_path):
    """150 rows: split across pages (xhtml2pdf shrank it, or stopped with a 'Splitting
    error'), its title and column headings on every page, every row's number in the text."""
    body = "<p>text</p>" * 10 + str(gt_table(_flow(150), "flow", "Patient flow"))
    pdf.write_pdf(_print_page(body), tmp_path / "long.pdf")
    pages = _pages_text(tmp_path / "long.pdf")
    assert len(pages) >= 3
    for page in pages:
        assert "Table S1. Patient flow" in page and re.search(r"Step\s+n\s+Reason", page)
    numbers = set(re.findall(r"\b\d{3}\b", "".join(pages)))
    assert {str(k) for k in range(100, 250)} <= numbers
    # the analysis is a row spanning the table above its five rows, not a column
    assert "Analysis" not in "".join(pages)
    assert "".join(pages).count("os:model_3") == 1


def test_page_size_running_header_page_numbers_and_contents(tmp_path):
    body = ("<nav class='toc'><strong>Contents</strong><a href='#one'>1. One</a>"
            "<a href='#two'>2. Two</a></nav><section id='one'><h2>1. One</h2><p>x</p></section>"
            "<section id='two' class='appendix'><h2>2. Two</h2><p>y</p></section>")
    config = {"report": {"paper": "a4", "date": "2025-03-07"}}
    pdf.write_pdf(_print_page(body, config), tmp_path / "a4.pdf")
    pages = _pages_text(tmp_path / "a4.pdf")
    assert len(pages) == 2                                  # "Two" starts a page of its own
    contents = pages[0][pages[0].index("Contents"):]
    assert re.search(r"1\. One[ .]+1\b", contents) and re.search(r"2\. Two[ .]+2\b", contents)
    assert "Page 1 of 2" in pages[0] and "Page 2 of 2" in pages[1]
    # the running header on every page but the first: the title and the date
    assert re.search(r"A report\s+7 March 2025", pages[1])
    info = subprocess.run([_poppler("pdfinfo"), str(tmp_path / "a4.pdf")], capture_output=True,
                          text=True, check=True).stdout
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info)
    assert "CreationDate:    Fri Mar  7 00:00:00 2025" in info
    letter = {"report": {"paper": "letter", "date": "2025-03-07"}}
    pdf.write_pdf(_print_page(body, letter), tmp_path / "letter.pdf")
    info = subprocess.run(["pdfinfo", str(tmp_path / "letter.pdf")], capture_output=True,
                          text=True, check=True).stdout
    assert re.search(r"Page size:\s+612 x 792 pts \(letter\)", info)


def test_the_date_is_the_configurations_or_the_data_cutoff_or_the_release_never_the_clock():
    from netpet_stats import __release_date__

    assert pdf.report_date({"report": {"date": "2024-02-29"}}) == dt.date(2024, 2, 29)
    dated = {"cohort": {"times": "dates", "dates": {"data_cutoff": "2023-12-31"}}}
    assert pdf.report_date(dated) == dt.date(2023, 12, 31)
    assert pdf.report_date({**dated, "report": {"date": "2024-02-29"}}) == dt.date(2024, 2, 29)
    assert pdf.report_date({}) == dt.date.fromisoformat(__release_date__)
    assert pdf.print_settings({"report": {"date": "2024-02-29"}})["date"] == "29 February 2024"


def _figure_files(tmp_path):
    import matplotlib.pyplot as plt

    from netpet_stats.report import figures

    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot([0, 12, 24, 36], [1, 0.8, 0.55, 0.4], drawstyle="steps-post")
    ax.set_xlabel("Time (months)")
    ax.set_ylabel("Survival probability")
    figures.save(fig, [tmp_path / "km.png", tmp_path / "km.svg"], dpi=100)
    return tmp_path / "km.png", tmp_path / "km.svg"


def test_figures_are_vectors_with_numbered_captions_and_every_font_embedded(tmp_path):
    png, svg = _figure_files(tmp_path)
    figure = pdf.EmbeddedFigure(png)
    assert figure.startswith("data:image/png;base64,")          # what the HTML embeds
    context = pdf.vector_figures({"km": [{"figure": figure}]}, {png.resolve(), svg.resolve()})
    src = context["km"][0]["figure"]
    assert src.startswith("data:image/svg+xml;base64,")
    # an SVG the rule does not declare is not read: the PNG stays
    assert pdf.vector_figures(figure, {png.resolve()}) is figure
    body = (f"<figure><img class='figure' src='{src}'><figcaption>Overall survival."
            f"</figcaption></figure>" + str(gt_table(_flow(3), "t", "Flow", "A note.")))
    pdf.write_pdf(_print_page(body), tmp_path / "figure.pdf")
    (page,) = _pages_text(tmp_path / "figure.pdf")
    assert "Figure S1. Overall survival." in page and "Table S1. Flow" in page
    # the figure's own text is text (SVG text set in the embedded font), not pixels
    assert "Time (months)" in page
    images = subprocess.run([_poppler("pdfimages"), "-list", str(tmp_path / "figure.pdf")],
                            capture_output=True, text=True, check=True).stdout
    assert len(images.strip().splitlines()) == 2                # the list's header: no image
    fonts = subprocess.run([_poppler("pdffonts"), str(tmp_path / "figure.pdf")],
                           capture_output=True, text=True, check=True).stdout
    rows = fonts.strip().splitlines()[2:]
    assert rows and all(re.search(r"\byes\s+yes\s+yes\b", row) for row in rows), fonts
    # every glyph, the figure's included, from the DejaVu files the package embeds (the
    # family named apart), not from whatever DejaVu the system's fontconfig has: before,
    # the @font-face rules were ignored and the system's fonts were set
    assert all(re.match(r"[A-Z]{6}\+NETPET-DejaVu-Sans", row) for row in rows), fonts


def test_the_fonts_are_matplotlibs_dejavu_files():
    # found without importing matplotlib: the same files as matplotlib's own data path
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    fonts = pdf.pdf_fonts()
    assert fonts["regular"] == (folder / "DejaVuSans.ttf").as_posix()
    assert fonts["bolditalic"] == (folder / "DejaVuSans-BoldOblique.ttf").as_posix()
    assert fonts["monobold"] == (folder / "DejaVuSansMono-Bold.ttf").as_posix()
    assert all(Path(path).is_file() for path in fonts.values())


def test_the_same_page_gives_the_same_bytes(tmp_path):
    png, svg = _figure_files(tmp_path)
    src = pdf.vector_figures(pdf.EmbeddedFigure(png))
    page = _print_page(f"<figure><img class='figure' src='{src}'></figure>"
                       + str(gt_table(_flow(40), "flow", "Flow")))
    (tmp_path / "print.html").write_text(page, encoding="utf-8")
    pdf.typeset(tmp_path / "print.html", tmp_path / "a.pdf")
    pdf.typeset(tmp_path / "print.html", tmp_path / "b.pdf")
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_a_page_that_cannot_be_typeset_is_one_message_and_no_pdf(tmp_path, monkeypatch):
    import weasyprint

    def broken(*args, **kwargs):
        raise ValueError("flowable given negative availWidth")

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", broken)
    (tmp_path / "print.html").write_text(_print_page("<p>x</p>"), encoding="utf-8")
    with pytest.raises(pdf.PdfRenderError) as err:
        pdf.typeset(tmp_path / "print.html", tmp_path / "report.pdf")
    message = str(err.value)
    assert "report.pdf could not be typeset (ValueError: flowable given negative availWidth)" \
        in message and "tables and the HTML report" in message
    assert not (tmp_path / "report.pdf").exists()


def test_number_cells_do_not_break_but_text_cells_do():
    page = pdf.for_paged_media(
        gt_table(pd.DataFrame({"Term": ["WHO grade: G2 vs G1"], "HR": ["2.68 (1.66–4.31)"],
                               "p": ["< 0.001"], "Note": ["missing Ki-67 in 41"]}), "t"))
    assert ">2.68\u00a0(1.66–4.31)</td>" in page and ">&lt;\u00a00.001</td>" in page
    assert ">WHO grade: G2 vs G1</td>" in page and ">missing Ki-67 in 41</td>" in page
    # a level keeps its indentation under its characteristic (HTML collapses the spaces)
    indented = pdf.for_paged_media(gt_table(pd.DataFrame(
        {"Characteristic": ["WHO grade", "    G1 (reference)"], "HR": ["", "1"]}), "t"))
    assert ">\u00a0\u00a0\u00a0\u00a0G1 (reference)</td>" in indented
    assert "<style>" not in page and "overflow-x" not in page   # great-tables' screen CSS


def test_figure_pdfs_embed_truetype_fonts(tmp_path):
    import matplotlib.pyplot as plt

    from netpet_stats.report import figures

    fig, ax = plt.subplots()
    ax.set_xlabel("Time (months)")
    figures.save(fig, [tmp_path / "f.pdf"])
    pdf_bytes = (tmp_path / "f.pdf").read_bytes()
    assert b"/FontFile2" in pdf_bytes and b"/Type3" not in pdf_bytes   # not Type 3 glyphs


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
