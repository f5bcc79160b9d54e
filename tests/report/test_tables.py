"""Markdown copies of the result tables: the same text whichever path lays them out.

A long table of plain cells is laid out by ``_pipe_table`` (a registry's exclusion
ledger has a row per excluded patient and analysis); every other table by tabulate's
pipe format. Here both lay out the same cells, and ``to_markdown`` is compared with
tabulate on the cells the old per-row formatting gave.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tabulate import tabulate

from netpet_stats.report import tables


def _tabulate(headers, columns):
    return tabulate(list(zip(*columns)), headers=headers, tablefmt="pipe",
                    disable_numparse=True)


def _random_text(rng, size):
    alphabet = list("abcXYZ019 .,:;()<>=+-_/|%#")
    return ["".join(rng.choice(alphabet, rng.integers(0, 14))) for _ in range(size)]


def test_plain_layout_equals_tabulate():
    rng = np.random.default_rng(2)
    for trial in range(40):
        n_cols, n_rows = int(rng.integers(1, 6)), int(rng.integers(0, 30))
        headers = [h for h in _random_text(rng, n_cols)]
        if trial % 4 == 0:
            headers[0] = "a header longer than every cell of its column"
        columns = [_random_text(rng, n_rows) for _ in range(n_cols)]
        if trial % 5 == 0 and n_rows:
            columns[0][0] = "  padded both sides  "      # tabulate strips cells
            columns[-1] = [""] * n_rows                   # an empty column
        if not n_rows:
            continue                                      # (the plain path needs rows)
        assert tables._pipe_table(headers, columns) == _tabulate(headers, columns), trial


def test_long_tables_are_the_markdown_tabulate_gives():
    rng = np.random.default_rng(4)
    n = tables.PLAIN_LAYOUT_ROWS + 37
    frame = pd.DataFrame({
        "file": rng.choice(["registry.csv", "centre_b.xlsx"], n),
        "row": rng.integers(2, 10**6, n),
        "analysis": rng.choice(["all", "os:grade_ki67", "ttp:netpet | grade"], n),
        "hr": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(0, 2, n)),
        "p": rng.random(n) ** 4,
        "flag": rng.random(n) < 0.5,
    })
    expected_cells = [[tables.fmt_p(v) if p and isinstance(v, (int, float, np.number))
                       and not isinstance(v, bool) else tables._fmt(v)
                       for v, p in zip(row, [False, False, False, False, True, False])]
                      for row in frame.itertuples(index=False)]
    expected = tabulate(expected_cells, headers=list(frame.columns), tablefmt="pipe",
                        disable_numparse=True)
    assert tables.to_markdown(frame) == expected
    assert "ttp:netpet \\| grade" in expected


@pytest.mark.parametrize("cell", ["Δ C", "a\nb", "tab\there", "\x1b[1mbold\x1b[0m"])
def test_cells_tabulate_measures_otherwise_go_to_tabulate(cell):
    n = tables.PLAIN_LAYOUT_ROWS
    frame = pd.DataFrame({"name": ["x"] * (n - 1) + [cell], "n": range(n)})
    cells = [[tables._fmt(v) for v in row] for row in frame.itertuples(index=False)]
    assert tables.to_markdown(frame) == tabulate(cells, headers=["name", "n"],
                                                 tablefmt="pipe", disable_numparse=True)


def test_the_report_module_does_not_load_scipy():
    """The report reads the labels and methods of the validation modules; importing them
    for it loads no scipy (0.3-0.5 s of the report job)."""
    from fresh_process import modules_loaded

    code = ("from netpet_stats.report import document\n"
            "from netpet_stats.validation.sample_size import MEASURE_LABELS, METHOD\n"
            "from netpet_stats.validation.case_mix import METHOD\n")
    assert modules_loaded(code, ["scipy"]) == []
