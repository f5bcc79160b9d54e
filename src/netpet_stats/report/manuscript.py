"""Manuscript tables: hazard ratios side by side, and an editable Word document.

Journals ask authors to upload tables as editable documents. The tables here are
laid out as a paper prints them: one row per characteristic with its levels
indented below it, the reference level shown as such, univariable and
multivariable hazard ratios side by side, p-values as journals print them, "NR"
(not reached) and "—" (not estimable) kept apart and explained in the footnote.
The Word document is written with python-docx; it holds the same text as the
CSV and Markdown copies.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .tables import fmt_p

NOT_ESTIMABLE = "—"
FOOTNOTE = ("HR, hazard ratio; CI, confidence interval. Univariable: each characteristic "
            "alone; multivariable: the primary model, all its characteristics together. "
            f"{NOT_ESTIMABLE}: not estimable (e.g. a coefficient that may be infinite, a level "
            "without events); a blank cell: the characteristic is not in that model.")


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

    Parameters
    ----------
    coefs
        The ``cox_coefficients`` table of one endpoint (columns ``model``,
        ``analysis``, ``term``, ``term_label``, ``level``, ``reference``, ``hr``,
        ``hr_lower``, ``hr_upper``, ``p``, ``note``).
    primary_model
        The model shown as multivariable.

    Returns
    -------
    pandas.DataFrame
        ``Characteristic``, ``Univariable HR (95% CI)``, ``p``, ``Multivariable HR
        (95% CI)``, ``p (multivariable)``: a row per characteristic (its label), then
        its levels indented, the reference level marked "(reference)".

    Examples
    --------
    >>> import pandas as pd
    >>> coefs = pd.DataFrame({
    ...     "model": ["univariable_grade", "primary"], "analysis": ["univariable", "multivariable"],
    ...     "term": ["grade", "grade"], "term_label": ["WHO grade"] * 2, "level": ["G2", "G2"],
    ...     "reference": ["G1", "G1"], "hr": [2.0, 1.5], "hr_lower": [1.2, 0.9],
    ...     "hr_upper": [3.3, 2.5], "p": [0.0071, 0.12], "note": ["", ""]})
    >>> hazard_ratio_table(coefs, "primary").values.tolist()
    [['WHO grade', '', '', '', ''], ['    G1 (reference)', '1', '', '1', ''], ['    G2', '2.00 (1.20–3.30)', '0.0071', '1.50 (0.90–2.50)', '0.12']]
    """
    level_pct = int(round(100 * conf_level))
    uni = coefs[coefs["analysis"] == "univariable"]
    multi = coefs[coefs["model"] == primary_model]
    terms = list(dict.fromkeys([*multi["term"], *uni["term"]]))
    rows = []

    def pick(frame, term, level):
        hit = frame[(frame["term"] == term) & (frame["level"].fillna("") == level)]
        return None if hit.empty else hit.iloc[0]

    for term in terms:
        both = pd.concat([multi[multi["term"] == term], uni[uni["term"] == term]])
        label = both["term_label"].iloc[0]
        levels = [lv for lv in dict.fromkeys(both["level"].fillna("")) if lv != ""]
        in_uni, in_multi = (term in set(uni["term"])), (term in set(multi["term"]))
        if not levels:   # continuous or binary: one row
            u, m = pick(uni, term, ""), pick(multi, term, "")
            rows.append([label, _hr(u), _p(u), _hr(m), _p(m)])
            continue
        rows.append([label, "", "", "", ""])
        reference = both["reference"].iloc[0]
        rows.append([f"    {reference} (reference)", "1" if in_uni else "", "",
                     "1" if in_multi else "", ""])
        for level in levels:
            u, m = pick(uni, term, level), pick(multi, term, level)
            rows.append([f"    {level}", _hr(u), _p(u), _hr(m), _p(m)])
    return pd.DataFrame(rows, columns=[
        "Characteristic", f"Univariable HR ({level_pct}% CI)", "p",
        f"Multivariable HR ({level_pct}% CI)", "p (multivariable)"])


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
            rows.append([f"    {level}", "", *r[value_cols].tolist()])
    return pd.DataFrame(rows, columns=["Characteristic", "Missing", *value_cols])


def methods_markdown(methods: dict) -> str:
    """The methods paragraphs and their numbered references as Markdown."""
    refs = [f"{i}. {r}" for i, r in enumerate(methods["references"], start=1)]
    return "\n\n".join(["# Methods", *methods["paragraphs"], "## References",
                         "\n".join(refs)]) + "\n"


def write_docx(tables: list[tuple[str, pd.DataFrame, str | None]], path: str | Path,
               methods: dict | None = None) -> None:
    """An editable Word document: the methods (if given), then one titled table each.

    ``methods`` is :func:`netpet_stats.report.document.methods_text`'s result:
    paragraphs and numbered references. Core properties (dates, author, revision)
    are fixed, so that the same content gives the same file.
    """
    import datetime as dt

    from docx import Document
    from docx.shared import Pt

    doc = Document()
    props = doc.core_properties
    fixed = dt.datetime(2000, 1, 1)
    props.author, props.last_modified_by = "netpet-stats", "netpet-stats"
    props.created = props.modified = fixed
    props.last_printed = fixed
    props.revision = 1
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
    for i, (title, frame, note) in enumerate(tables):
        if i or methods:
            doc.add_page_break()
        doc.add_heading(title, level=2)
        table = doc.add_table(rows=1, cols=len(frame.columns))
        table.style = "Table Grid"
        for cell, name in zip(table.rows[0].cells, frame.columns):
            cell.text = str(name)
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for values in frame.itertuples(index=False):
            cells = table.add_row().cells
            for cell, value in zip(cells, values):
                cell.text = "" if value is None or (isinstance(value, float) and np.isnan(value)) \
                    else str(value)
        if note:
            doc.add_paragraph(note).runs[0].italic = True
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
