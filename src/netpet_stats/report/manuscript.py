"""Manuscript tables: hazard ratios side by side, and an editable Word document.

Journals ask authors to upload tables as editable documents. The tables here are
laid out as a paper prints them: one row per characteristic with its levels
indented below it, the reference level shown as such, univariable and
multivariable hazard ratios side by side with the patients and events of each
univariable model, p-values as journals print them, "NR" (not reached) and "—"
(not estimable) kept apart and explained in the footnote. The layout is that of
a gtsummary table printed by flextable. The Word document is written with
python-docx on the PDF report's paper (A4 or Letter): each table numbered and
titled, in three horizontal rules, its heading rows repeated on every page, its
levels indented by paragraph indentation, its notes below; it holds the same
text as the CSV and Markdown copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .tables import fmt_p

NOT_ESTIMABLE = "—"
#: Leading spaces that mark an indented row (a level under its characteristic) in the
#: CSV and Markdown copies; the Word table indents the paragraph instead.
INDENT = "    "
ABBREVIATIONS = "HR, hazard ratio; CI, confidence interval; n, patients in the model."
UNIVARIABLE_NOTE = ("Univariable: each characteristic alone, in a Cox model of its own; n and "
                    "Events are that model's patients (those with a value) and events.")
NOT_ESTIMABLE_NOTE = (f"{NOT_ESTIMABLE}: not estimable (e.g. a coefficient that may be "
                      "infinite, a level without events); a blank cell: the characteristic is "
                      "not in that model.")
FOOTNOTE = ("HR, hazard ratio; CI, confidence interval. Univariable: each characteristic "
            "alone (n and Events: its model's patients and events); multivariable: the "
            f"primary model, all its characteristics together. {NOT_ESTIMABLE}: not "
            "estimable (e.g. a coefficient that may be infinite, a level without events); a "
            "blank cell: the characteristic is not in that model.")


def _hr(row) -> str:
    if row is None:
        return ""
    note = row.get("note", "")
    if (isinstance(note, str) and note.startswith("coefficient may be infinite")) or not (
            np.isfinite(row["hr_lower"]) and np.isfinite(row["hr_upper"])):
        return NOT_ESTIMABLE
    return f"{row['hr']:.2f} ({row['hr_lower']:.2f}–{row['hr_upper']:.2f})"


def _p(row) -> str:
    if row is None:
        return ""
    return NOT_ESTIMABLE if not np.isfinite(row["p"]) else fmt_p(row["p"])


def hazard_ratio_table(coefs: pd.DataFrame, primary_model: str,
                       conf_level: float = 0.95) -> pd.DataFrame:
    """Univariable and multivariable hazard ratios side by side, as a paper prints them.

    The layout of R's ``gtsummary::tbl_merge`` of a ``tbl_uvregression`` (with
    ``add_nevent``) and a ``tbl_regression`` of the multivariable model: a row per
    characteristic, its levels indented below it with the reference level marked,
    and beside each univariable hazard ratio the patients and events of its model.

    Parameters
    ----------
    coefs
        The ``cox_coefficients`` table of one endpoint (columns ``model``,
        ``analysis``, ``term``, ``term_label``, ``level``, ``reference``, ``hr``,
        ``hr_lower``, ``hr_upper``, ``p``, ``n``, ``events``, ``note``).
    primary_model
        The model shown as multivariable; its patients and events are one number
        for the whole model (:func:`hazard_ratio_notes` states them).

    Returns
    -------
    pandas.DataFrame
        ``Characteristic``, ``n``, ``Events`` (of the univariable model), ``Univariable
        HR (95% CI)``, ``p``, ``Multivariable HR (95% CI)``, ``p (multivariable)``: a
        row per characteristic (its label), then its levels indented by four spaces
        (paragraph indentation in the Word table), the reference level marked
        "(reference)".

    Examples
    --------
    >>> import pandas as pd
    >>> coefs = pd.DataFrame({
    ...     "model": ["univariable_grade", "primary"], "analysis": ["univariable", "multivariable"],
    ...     "term": ["grade", "grade"], "term_label": ["WHO grade"] * 2, "level": ["G2", "G2"],
    ...     "reference": ["G1", "G1"], "hr": [2.0, 1.5], "hr_lower": [1.2, 0.9],
    ...     "hr_upper": [3.3, 2.5], "p": [0.0071, 0.12], "n": [90, 80], "events": [40, 35],
    ...     "note": ["", ""]})
    >>> hazard_ratio_table(coefs, "primary").values.tolist()
    [['WHO grade', '90', '40', '', '', '', ''], ['    G1 (reference)', '', '', '1', '', '1', ''], ['    G2', '', '', '2.00 (1.20–3.30)', '0.0071', '1.50 (0.90–2.50)', '0.12']]
    """
    level_pct = int(round(100 * conf_level))
    uni = coefs[coefs["analysis"] == "univariable"]
    multi = coefs[coefs["model"] == primary_model]
    terms = list(dict.fromkeys([*multi["term"], *uni["term"]]))
    rows = []

    def pick(frame, term, level):
        hit = frame[(frame["term"] == term) & (frame["level"].fillna("") == level)]
        return None if hit.empty else hit.iloc[0]

    def counts(term):  # patients and events of the term's univariable model
        hit = uni[uni["term"] == term]
        if hit.empty or "n" not in hit:
            return ["", ""]
        return [f"{int(hit['n'].iloc[0])}", f"{int(hit['events'].iloc[0])}"]

    for term in terms:
        both = pd.concat([multi[multi["term"] == term], uni[uni["term"] == term]])
        label = both["term_label"].iloc[0]
        levels = [lv for lv in dict.fromkeys(both["level"].fillna("")) if lv != ""]
        in_uni, in_multi = (term in set(uni["term"])), (term in set(multi["term"]))
        if not levels:   # continuous or binary: one row
            u, m = pick(uni, term, ""), pick(multi, term, "")
            rows.append([label, *counts(term), _hr(u), _p(u), _hr(m), _p(m)])
            continue
        rows.append([label, *counts(term), "", "", "", ""])
        reference = both["reference"].iloc[0]
        rows.append([f"{INDENT}{reference} (reference)", "", "", "1" if in_uni else "", "",
                     "1" if in_multi else "", ""])
        for level in levels:
            u, m = pick(uni, term, level), pick(multi, term, level)
            rows.append([f"{INDENT}{level}", "", "", _hr(u), _p(u), _hr(m), _p(m)])
    return pd.DataFrame(rows, columns=[
        "Characteristic", "n", "Events", f"Univariable HR ({level_pct}% CI)", "p",
        f"Multivariable HR ({level_pct}% CI)", "p (multivariable)"])


def _in_sentence(label: str) -> str:
    """'WHO grade' stays, 'Age (per 10 years)' -> 'age (per 10 years)'."""
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _joined(labels: list[str]) -> str:
    labels = [_in_sentence(x) for x in labels]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def hazard_ratio_notes(coefs: pd.DataFrame, primary_model: str, covariates: list[str],
                       strata: list[str] | None = None) -> list[str]:
    """The footnotes of a hazard-ratio table: abbreviations, the models, n and events.

    ``covariates`` and ``strata`` are the labels of the multivariable model's
    covariates and strata: a stratified model has a baseline hazard per stratum and
    no hazard ratio for it, which a reader must be told.

    Examples
    --------
    >>> import pandas as pd
    >>> coefs = pd.DataFrame({"model": ["primary"], "n": [303], "events": [168]})
    >>> hazard_ratio_notes(coefs, "primary", ["NETPET group", "Age (per 10 years)"],
    ...                    ["Centre"])[1]
    'Multivariable: the primary model, NETPET group and age (per 10 years) together, stratified by centre (a baseline hazard for each centre, so no hazard ratio for centre); n = 303 patients, 168 events.'
    """
    multi = coefs[coefs["model"] == primary_model]
    size = (f"; n = {int(multi['n'].iloc[0])} patients, {int(multi['events'].iloc[0])} events"
            if len(multi) and "n" in multi else "")
    stratified = ""
    if strata:
        names = _joined(strata)
        stratified = (f", stratified by {names} (a baseline hazard for each {names}, so no "
                      f"hazard ratio for {names})")
    return [ABBREVIATIONS,
            f"Multivariable: the primary model, {_joined(covariates)} together{stratified}"
            f"{size}.",
            UNIVARIABLE_NOTE,
            NOT_ESTIMABLE_NOTE]


def table1_layout(table1: pd.DataFrame) -> pd.DataFrame:
    """Table 1 as papers print it: a row per characteristic, its levels indented below.

    From the ``table_one`` layout (``variable, level, Missing, Overall, <groups>``):
    a continuous characteristic keeps one row; a categorical one gets a heading row
    (with its missing count) and one indented row per level.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"variable": ["n", "Sex, n (%)", "Sex, n (%)"], "level": ["", "F", "M"],
    ...                   "Missing": ["", "0", ""], "Overall": [5, "3 (60.0)", "2 (40.0)"]})
    >>> table1_layout(t).values.tolist()
    [['n', '', 5], ['Sex, n (%)', '0', ''], ['    F', '', '3 (60.0)'], ['    M', '', '2 (40.0)']]
    """
    value_cols = [c for c in table1.columns if c not in ("variable", "level", "Missing")]
    rows = []
    for variable, block in table1.groupby("variable", sort=False):
        levels = block["level"].fillna("").astype(str)
        missing = str(block["Missing"].fillna("").iloc[0])
        if len(block) == 1 and levels.iloc[0] == "":
            rows.append([variable, missing, *block[value_cols].iloc[0].tolist()])
            continue
        rows.append([variable, missing, *[""] * len(value_cols)])
        for (_, r), level in zip(block.iterrows(), levels):
            rows.append([f"{INDENT}{level}", "", *r[value_cols].tolist()])
    return pd.DataFrame(rows, columns=["Characteristic", "Missing", *value_cols])


def methods_markdown(methods: dict) -> str:
    """The methods paragraphs and their numbered references as Markdown."""
    refs = [f"{i}. {r}" for i, r in enumerate(methods["references"], start=1)]
    return "\n\n".join(["# Methods", *methods["paragraphs"], "## References",
                         "\n".join(refs)]) + "\n"


@dataclass
class WordTable:
    """One table of the Word document, numbered in order ("Table 2."), with its notes.

    ``frame`` holds the cells as text; leading indents (:data:`INDENT`) in the first column
    mark an indented row. ``spanners`` label groups of columns in a header row above
    the column labels (label, first column, last column, counted from 0), as
    gtsummary's ``tbl_merge`` does for "Univariable" and "Multivariable".
    """

    title: str
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    spanners: list[tuple[str, int, int]] = field(default_factory=list)
    columns: list[str] | None = None


#: ``report.paper`` -> page width and height (mm).
PAPER_MM = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
#: Rule widths in eighths of a point (Word's unit): the table's top and bottom rules,
#: and the rule under the column headings.
HEAVY_RULE, LIGHT_RULE = 8, 4
#: Indentation of a level under its characteristic.
INDENT_CM = 0.4


def _set_borders(parent, tag: str, edges: dict, before: tuple[str, ...]) -> None:
    """``w:tblBorders`` or ``w:tcBorders``: ``edges`` maps an edge to a rule width or None."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    old = parent.find(qn(tag))
    if old is not None:
        parent.remove(old)
    borders = OxmlElement(tag)
    for edge, size in edges.items():
        element = OxmlElement(f"w:{edge}")
        if size is None:
            element.set(qn("w:val"), "nil")
        else:
            for key, value in (("val", "single"), ("sz", str(size)), ("space", "0"),
                               ("color", "000000")):
                element.set(qn(f"w:{key}"), value)
        borders.append(element)
    parent.insert_element_before(borders, *before)


def _row_flags(row, header: bool) -> None:
    """A row never split across pages; a header row repeated on every page (w:tblHeader)."""
    from docx.oxml import OxmlElement

    tr_pr = row._tr.get_or_add_trPr()
    tr_pr.append(OxmlElement("w:cantSplit"))
    if header:
        tr_pr.append(OxmlElement("w:tblHeader"))


def _cell_text(cell, text: str, bold: bool = False, align: str = "left") -> None:
    """Text in a cell; leading indents become the paragraph's left indentation."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    level = 0
    while text.startswith(INDENT):
        text, level = text[len(INDENT):], level + 1
    paragraph = cell.paragraphs[0]
    run = paragraph.add_run(text.strip())
    run.bold = bold
    fmt = paragraph.paragraph_format
    fmt.space_before, fmt.space_after = Pt(1), Pt(1)
    if level:
        fmt.left_indent = Cm(INDENT_CM * level)
    fmt.alignment = {"left": WD_ALIGN_PARAGRAPH.LEFT,
                     "center": WD_ALIGN_PARAGRAPH.CENTER}[align]


_TBL_BORDERS_BEFORE = ("w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption",
                       "w:tblDescription", "w:tblPrChange")
_TC_BORDERS_BEFORE = ("w:shd", "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText",
                      "w:vAlign", "w:hideMark", "w:headers", "w:cellIns", "w:cellDel",
                      "w:cellMerge", "w:tcPrChange")


def _column_widths(table, text_width) -> None:
    """The characteristic's column a third of the text width, the others sharing the rest."""
    from docx.shared import Emu

    n = len(table.columns)
    first = int(text_width * (0.34 if n > 2 else 0.5))
    widths = [first] + [int((text_width - first) / (n - 1))] * (n - 1) if n > 1 else [text_width]
    for column, width in zip(table.columns, widths):
        column.width = Emu(width)
        for cell in column.cells:
            cell.width = Emu(width)


def _add_table(doc, number: int, spec: WordTable, text_width) -> None:
    """Title above, three rules (no vertical lines), repeated headings, notes below."""
    from docx.shared import Pt

    title = doc.add_paragraph()
    title.add_run(f"Table {number}.").bold = True
    title.add_run(f" {spec.title}")
    title.paragraph_format.keep_with_next = True
    title.paragraph_format.space_after = Pt(4)
    columns = spec.columns or [str(c) for c in spec.frame.columns]
    n_header = 2 if spec.spanners else 1
    table = doc.add_table(rows=n_header, cols=len(columns))
    table.autofit = True
    _set_borders(table._tbl.tblPr, "w:tblBorders",
                 {"top": HEAVY_RULE, "left": None, "bottom": HEAVY_RULE, "right": None,
                  "insideH": None, "insideV": None}, _TBL_BORDERS_BEFORE)
    if spec.spanners:
        for label, first, last in spec.spanners:
            cell = table.cell(0, first).merge(table.cell(0, last)) if last > first                 else table.cell(0, first)
            _cell_text(cell, label, bold=True, align="center")
    for j, name in enumerate(columns):
        _cell_text(table.cell(n_header - 1, j), name, bold=True,
                   align="left" if j == 0 else "center")
    for row in table.rows[:n_header]:
        _row_flags(row, header=True)
    for cell in table.rows[n_header - 1].cells:           # the rule under the headings
        _set_borders(cell._tc.get_or_add_tcPr(), "w:tcBorders", {"bottom": LIGHT_RULE},
                     _TC_BORDERS_BEFORE)
    for values in spec.frame.itertuples(index=False):
        row = table.add_row()
        _row_flags(row, header=False)
        for j, (cell, value) in enumerate(zip(row.cells, values)):
            text = "" if value is None or (isinstance(value, float) and np.isnan(value)) \
                else str(value)
            _cell_text(cell, text, align="left" if j == 0 else "center")
    _column_widths(table, text_width)
    for note in spec.notes:
        paragraph = doc.add_paragraph()
        paragraph.add_run(note).font.size = Pt(8)
        paragraph.paragraph_format.space_after = Pt(0)


def write_docx(tables: list, path: str | Path, methods: dict | None = None,
               paper: str = "a4") -> None:
    """An editable Word document: the methods (if given), then one numbered table a page.

    Each table is laid out as a journal sets it (the layout of a gtsummary table
    printed by flextable): "Table N." and its title above; three horizontal rules
    (above and below the column headings, under the last row) and no vertical ones;
    the heading rows repeated on every page; levels indented by paragraph
    indentation; the notes (abbreviations, models, n and events) below.

    Parameters
    ----------
    tables
        The tables (:class:`WordTable`), numbered in this order (or ``(title, frame, note)``
        tuples).
    methods
        :func:`netpet_stats.report.document.methods_text`'s result: paragraphs and
        numbered references.
    paper
        ``"a4"`` or ``"letter"`` (``report.paper``), the PDF report's page size.

    Core properties (dates, author, revision) are fixed, so that the same content
    gives the same file.
    """
    import datetime as dt

    from docx import Document
    from docx.shared import Cm, Mm, Pt

    doc = Document()
    props = doc.core_properties
    fixed = dt.datetime(2000, 1, 1)
    props.author, props.last_modified_by = "netpet-stats", "netpet-stats"
    props.created = props.modified = fixed
    props.last_printed = fixed
    props.revision = 1
    width, height = PAPER_MM[paper]
    for section in doc.sections:
        section.page_width, section.page_height = Mm(width), Mm(height)
        section.left_margin = section.right_margin = Cm(2.5)
        section.top_margin = section.bottom_margin = Cm(2.5)
    section = doc.sections[0]
    text_width = section.page_width - section.left_margin - section.right_margin
    style = doc.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(9)
    if methods:
        doc.add_heading("Methods", level=2)
        for paragraph in methods["paragraphs"]:
            doc.add_paragraph(paragraph)
        doc.add_heading("References", level=3)
        for i, reference in enumerate(methods["references"], start=1):
            doc.add_paragraph(f"{i}. {reference}")
    for number, spec in enumerate(tables, start=1):
        if not isinstance(spec, WordTable):
            title, frame, note = spec
            spec = WordTable(title, frame, [note] if note else [])
        if number > 1 or methods:
            doc.add_page_break()
        _add_table(doc, number, spec, text_width)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    _fix_zip_times(path)


def _fix_zip_times(path: str | Path) -> None:
    """Rewrite the .docx (a zip) with fixed member times, for byte-identical reruns."""
    import zipfile

    path = Path(path)
    with zipfile.ZipFile(path) as src:
        members = [(info, src.read(info.filename)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in members:
            fixed = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, data)


def read_docx_tables(path: str | Path) -> list[list[list[str]]]:
    """The text of every table in a Word document, row by row (to check a written file)."""
    from docx import Document

    return [[[cell.text for cell in row.cells] for row in table.rows]
            for table in Document(str(path)).tables]
