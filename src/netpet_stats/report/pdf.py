"""The PDF report: the HTML report typeset for print, the appendix a journal publishes.

The PDF is the same HTML page as ``report.html``, rendered with a print stylesheet
(``templates/_print.css.j2``) and typeset by WeasyPrint, an engine of CSS Paged
Media: the page size (A4, or US Letter by ``report.paper``), a running header with
the title and the report's date, "page N of M" from ``@page`` counters, a table of
contents whose page numbers come from ``target-counter()``, numbered captions, table
headers repeated on every page a table runs across, figures embedded as SVG (kept
as vectors) and every font embedded (a subset of each). WeasyPrint is a pip package
that lays text out with the system's Pango, so the PDF needs no browser.

It is typeset in two steps, each its own rule. The report rule writes the *print
copy*, the page as it is to be printed (:func:`write_print_copy`: the SVG of each
figure instead of its PNG, the page size, the date, great-tables' screen styling
and scrolling wrappers taken out); the PDF rule typesets it (:func:`typeset`). A
page that cannot be typeset then costs the PDF alone, with one message
(:class:`PdfRenderError`): Snakemake removes the outputs of the failing job only,
and the tables and the HTML report are other jobs' outputs.

Nothing depends on the clock: the date is the configuration's (``report.date``),
or the data cut-off, or the release date of the package (:func:`report_date`), and
it is also the PDF's creation and modification date, so two runs give the same
bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
from pathlib import Path

from .. import __release_date__, __version__

log = logging.getLogger(__name__)

#: ``report.paper`` -> the CSS page size.
PAGE_SIZES = {"a4": "A4", "letter": "letter"}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


class PdfRenderError(RuntimeError):
    """The print copy could not be typeset; the message says what to do."""


class EmbeddedFigure(str):
    """A figure as the HTML report embeds it (its PNG as a data URI), knowing its file.

    It is the string the page embeds; :func:`vector_figures` swaps it for the SVG
    drawn beside the PNG when the print copy is made.
    """

    path: Path

    def __new__(cls, path: str | Path):
        path = Path(path)
        uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
        figure = super().__new__(cls, uri)
        figure.path = path
        return figure


def report_date(config: dict) -> dt.date:
    """The date of the report: never the clock, so that reruns are byte-identical.

    ``report.date`` if the configuration gives one; otherwise the data cut-off
    (``cohort.dates.data_cutoff``) when times come from dates and it is set;
    otherwise the release date of this version of netpet-stats.
    """
    chosen = (config.get("report") or {}).get("date")
    cohort = config.get("cohort") or {}
    if not chosen and cohort.get("times") == "dates":
        chosen = (cohort.get("dates") or {}).get("data_cutoff")
    return dt.date.fromisoformat(str(chosen or __release_date__))


def print_settings(config: dict) -> dict:
    """What the print stylesheet and the page's head need: page size and date."""
    date = report_date(config)
    paper = (config.get("report") or {}).get("paper", "a4")
    return {"paper": PAGE_SIZES[paper], "paper_key": paper, "iso_date": date.isoformat(),
            "date": f"{date.day} {_MONTHS[date.month - 1]} {date.year}",
            "generator": f"netpet-stats {__version__}"}


def vector_figures(value, declared: set[Path] | None = None):
    """``value`` (a report's context) with every figure's PNG replaced by its SVG.

    The SVG beside the PNG is embedded when it is one of the ``declared`` files (the
    rule's inputs; all files when None), so that the PDF holds the figures as vectors.
    A figure without one keeps its PNG, with a warning naming the file.
    """
    if isinstance(value, EmbeddedFigure):
        svg = value.path.with_suffix(".svg")
        known = declared is None or svg.resolve() in declared
        if known and svg.is_file():
            return "data:image/svg+xml;base64," + base64.b64encode(
                _embedded_font(svg.read_bytes())).decode("ascii")
        log.warning("%s: no SVG beside it among the report's inputs; the PDF embeds the "
                    "PNG (a raster image)", value.path)
        return value
    if isinstance(value, dict):
        return {k: vector_figures(v, declared) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(vector_figures(v, declared) for v in value)
    return value


def _embedded_font(svg: bytes) -> bytes:
    """A figure's SVG with its DejaVu Sans text set in the PDF's embedded DejaVu
    (:data:`EMBEDDED_SANS`), the system's as the fallback. Another font family a
    user chose for the figures is left as it is."""
    return svg.replace(b"font-family: 'DejaVu Sans'",
                       f"font-family: '{EMBEDDED_SANS}', 'DejaVu Sans'".encode("ascii"))


_GT_STYLE = re.compile(r"<style>\s*#[\w-]+ table \{.*?</style>", re.S)
_GT_WRAPPER = re.compile(r'<div id="([\w-]+)" style="[^"]*overflow-x:auto;overflow-y:auto;'
                         r'width:auto;height:auto;">')


_NUMBER_CELL = re.compile(r'(<td [^>]*class="gt_row[^"]*"[^>]*>)([<>≥≤—–]|&lt;|&gt;|\d)([^<]{0,40})</td>')


_INDENTED_CELL = re.compile(r'(<td [^>]*class="gt_row[^"]*"[^>]*>)((?:    )+)(?=\S)')


def _indent(match: re.Match) -> str:
    return match.group(1) + "\u00a0" * len(match.group(2))


def _unbreakable(match: re.Match) -> str:
    return match.group(1) + match.group(2) + match.group(3).replace(" ", "\u00a0") + "</td>"


def for_paged_media(page: str) -> str:
    """great-tables' screen styling taken out of a page, for the print stylesheet.

    great-tables scopes a copy of ~50 rules to each table's id (colours, 13-px type,
    a rule under every row); the print stylesheet sets the tables in the journal's
    three rules instead. Its wrapper ``div`` scrolls a wide table on screen, which
    on paper only keeps the table from running across pages. A cell that is a number
    ("2.68 (1.66–4.31)", "< 0.001") is kept on one line: its spaces do not break; a
    level indented under its characteristic keeps its indentation.
    """
    page = _GT_STYLE.sub("", page)
    page = _NUMBER_CELL.sub(_unbreakable, page)
    page = _INDENTED_CELL.sub(_indent, page)
    return _GT_WRAPPER.sub(r'<div id="\1" class="gt-wrapper">', page)


def print_copy(template, context: dict, config: dict, files=None) -> str:
    """The report's page as it is printed: vector figures, page size and date.

    ``template`` is the report's Jinja template, rendered with ``for_pdf`` set
    (the print stylesheet); ``files`` are the report rule's inputs, among which the
    SVG of each figure is taken.
    """
    declared = None if files is None else {Path(p).resolve() for p in files}
    page = template.render(**vector_figures(context, declared), for_pdf=True,
                           print=print_settings(config))
    return for_paged_media(page)


def write_print_copy(template, context: dict, config: dict, files=None,
                     print_path: str | Path | None = None,
                     pdf_path: str | Path | None = None) -> None:
    """Write the print copy (for the PDF rule) and/or typeset it to ``pdf_path``."""
    page = print_copy(template, context, config, files)
    if print_path:
        Path(print_path).parent.mkdir(parents=True, exist_ok=True)
        Path(print_path).write_text(page, encoding="utf-8")
    if pdf_path:
        write_pdf(page, pdf_path)


def pdf_fonts() -> dict:
    """DejaVu Sans and DejaVu Sans Mono (shipped with matplotlib), embedded in the PDF.

    The same fonts on every machine, whatever fontconfig knows: the PDF does not
    depend on the fonts installed, and every glyph it sets is embedded (subset).
    The folder is found beside matplotlib's code (where ``matplotlib.get_data_path()``
    points) without importing matplotlib, which would cost the PDF rule 0.1-0.2 s.
    """
    import importlib.util

    package = Path(importlib.util.find_spec("matplotlib").origin).parent
    folder = package / "mpl-data" / "fonts" / "ttf"
    return {style: (folder / f"DejaVuSans{suffix}.ttf").as_posix()
            for style, suffix in (("regular", ""), ("bold", "-Bold"), ("italic", "-Oblique"),
                                  ("bolditalic", "-BoldOblique"), ("mono", "Mono"),
                                  ("monobold", "Mono-Bold"))}


#: The families of :func:`font_faces`: named apart from the system's "DejaVu Sans",
#: which fontconfig would otherwise prefer over the @font-face files (and which a
#: machine may not have, or have in another version).
EMBEDDED_SANS = "NETPET DejaVu Sans"
EMBEDDED_MONO = "NETPET DejaVu Sans Mono"


def font_faces() -> str:
    """``@font-face`` rules for :func:`pdf_fonts` (the engine's stylesheet)."""
    fonts = pdf_fonts()
    faces = [(EMBEDDED_SANS, "regular", "normal", "normal"),
             (EMBEDDED_SANS, "bold", "bold", "normal"),
             (EMBEDDED_SANS, "italic", "normal", "italic"),
             (EMBEDDED_SANS, "bolditalic", "bold", "italic"),
             (EMBEDDED_MONO, "mono", "normal", "normal"),
             (EMBEDDED_MONO, "monobold", "bold", "normal")]
    return "\n".join(
        f'@font-face {{ font-family: "{family}"; src: url("{Path(fonts[key]).as_uri()}"); '
        f"font-weight: {weight}; font-style: {style}; }}"
        for family, key, weight, style in faces)


def write_pdf(page: str, pdf_path: str | Path) -> None:
    """Typeset a print copy (HTML) to PDF with WeasyPrint, reproducibly.

    The creation and modification dates are the page's ``dcterms.created`` and
    ``dcterms.modified`` (the report's date), so that two runs give the same bytes;
    only ``file:`` and ``data:`` URLs are read, so that typesetting requests nothing
    from any other host.

    Raises
    ------
    PdfRenderError
        When WeasyPrint (or the Pango library under it) cannot typeset the page.
    """
    try:
        import weasyprint
        from weasyprint.text.fonts import FontConfiguration
    except (ImportError, OSError) as exc:     # OSError: Pango missing from the system
        raise PdfRenderError(
            f"WeasyPrint cannot be loaded ({exc}); install it with the package "
            "(pip install -e . -c constraints.txt), and Pango from the system's packages "
            "(Debian: libpango-1.0-0 libpangoft2-1.0-0)") from None
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    fetcher = weasyprint.URLFetcher(allowed_protocols={"file", "data"})
    try:
        # the @font-face rules take effect only through a font configuration shared by
        # the stylesheet and the rendering; without one WeasyPrint ignores them and
        # sets the text in whatever "DejaVu Sans" the system's fontconfig finds
        fonts = FontConfiguration()
        document = weasyprint.HTML(string=page, base_url=str(Path(pdf_path).parent),
                                   url_fetcher=fetcher)
        faces = weasyprint.CSS(string=font_faces(), font_config=fonts, url_fetcher=fetcher)
        pdf = document.write_pdf(stylesheets=[faces], font_config=fonts,
                                 pdf_identifier=True, uncompressed_pdf=False)
    except Exception as exc:                  # any failure of the engine, with its cause
        raise PdfRenderError(f"{type(exc).__name__}: {exc}") from exc
    Path(pdf_path).write_bytes(pdf)


def typeset(print_html: str | Path, pdf_path: str | Path) -> None:
    """The PDF rule: typeset the print copy the report rule wrote.

    Raises
    ------
    PdfRenderError
        With a message naming the PDF, the cause, and what is unaffected.
    """
    try:
        write_pdf(Path(print_html).read_text(encoding="utf-8"), pdf_path)
    except PdfRenderError as exc:
        raise PdfRenderError(
            f"{pdf_path} could not be typeset ({exc}). The tables and the HTML report "
            "are written by other rules and stay in place; the print copy is "
            f"{print_html}.") from None
