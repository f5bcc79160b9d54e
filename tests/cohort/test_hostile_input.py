"""Hostile and broken tables end in a correct analysis or the validation report.

Property-based (hypothesis): random damage to a valid table never crashes the
preparation step with anything but a ``CohortValidationError``, and when it
succeeds every input row is accounted for (analysed or in the ledger).
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netpet_stats.cohort.problems import CohortValidationError
from netpet_stats.cohort.prepare import prepare_cohort

JUNK = st.one_of(
    st.sampled_from(["", " ", "NA", "nan", "inf", "-inf", "-1", "0", "1e309", "G4", "P9",
                     "1,5", "  2 ", "ü", "日本", "\t", "yes", "None", "1.0", "3.3", "x" * 60]),
    st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


def _base(config, n=8):
    cohort = pd.read_csv(config["cohort"]["table"], dtype=str, keep_default_na=False)
    return cohort.iloc[:n].reset_index(drop=True)


def _check(config, path):
    cfg = copy.deepcopy(config)
    cfg["cohort"].update({"table": str(path), "lesions": None})
    try:
        prepared = prepare_cohort(cfg)
    except CohortValidationError as exc:
        assert exc.problems and "Traceback" not in str(exc)
        return None
    data, ledger = prepared.data, prepared.exclusions
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(data) == len(rows)                       # no row silently dropped
    analysed = data["netpet_group"].notna()
    assert set(ledger.loc[ledger["analysis"] == "all", "row"]) == set(data.loc[~analysed, "row"])
    return prepared


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_damage_never_crashes(tmp_path_factory, base_config, data):
    frame = _base(base_config)
    n_edits = data.draw(st.integers(0, 6))
    for _ in range(n_edits):
        r = data.draw(st.integers(0, len(frame) - 1))
        c = data.draw(st.sampled_from(list(frame.columns)))
        frame.loc[r, c] = data.draw(JUNK)
    if data.draw(st.booleans()):
        frame = frame.drop(columns=[data.draw(st.sampled_from(list(frame.columns)))])
    if data.draw(st.booleans()) and "patient_id" in frame:
        frame.loc[1, "patient_id"] = frame.loc[0, "patient_id"]
    if data.draw(st.booleans()) and len(frame.columns) > 1:
        dup = data.draw(st.sampled_from(list(frame.columns)))
        frame.columns = [dup if i == 1 else c for i, c in enumerate(frame.columns)]
    path = tmp_path_factory.mktemp("hostile") / "cohort.csv"
    frame.to_csv(path, index=False)
    _check(base_config, path)


@pytest.mark.parametrize("content", ["", "\n", "patient_id,centre\n", "a;b;c\n1;2;3\n",
                                     "\ufeffpatient_id,centre,netpet\n", "\x00\x01binary"])
def test_degenerate_files(tmp_path, base_config, content):
    path = tmp_path / "cohort.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CohortValidationError):
        prepare_cohort({**base_config, "cohort": {**base_config["cohort"], "table": str(path),
                                                  "lesions": None}})


def test_unicode_and_whitespace_in_names_and_codes(tmp_path, base_config):
    frame = _base(base_config, 20)
    frame["centre"] = frame["centre"].map({"A": " Zürich ", "B": "東京", "C": "São Paulo"})
    frame["sex"] = frame["sex"].map(lambda s: f"  {s.lower()} ")
    frame["who_grade"] = frame["who_grade"].map(lambda g: f" {g} " if g else g)
    path = tmp_path / "cohort.csv"
    frame.to_csv(path, index=False)
    prepared = _check(base_config, path)
    assert prepared is not None
    assert set(prepared.data["centre"]) <= {"Zürich", "東京", "São Paulo"}


def test_one_hundred_thousand_rows(tmp_path, base_config):
    from netpet_stats.netpet.synthetic import generate_cohort

    cohort, _ = generate_cohort(seed=3, centre_sizes=(47000, 33000, 20000), with_lesions=False)
    path = tmp_path / "big.csv"
    cohort.to_csv(path, index=False)
    prepared = _check(base_config, path)
    assert prepared is not None and len(prepared.data) == 100_000
