"""NETPET score normalisation, lesion-level derivation and grouping."""

import pandas as pd
import pytest

from netpet_stats.netpet import scoring as netpet


@pytest.mark.parametrize("raw, expected", [
    ("P4b", "P4b"), ("p4B", "P4b"), ("4b", "P4b"), ("4", "P4"), (4, "P4"), (4.0, "P4"),
    ("NETPET 3", "P3"), ("netpet score: P2", "P2"), (" P1 ", "P1"), ("P0", "P0"),
    ("5", "P5"), ("P4 a", "P4a"), (None, None), ("", None), ("NA", None),
    (float("nan"), None),
])
def test_normalise_score_spellings(raw, expected):
    assert netpet.normalise_score(raw) == expected


@pytest.mark.parametrize("raw", ["P6", "P2a", "high", "4c", "P-1", "3.5"])
def test_normalise_score_rejects(raw):
    with pytest.raises(ValueError):
        netpet.normalise_score(raw)


def _lesions(rows):
    return pd.DataFrame(rows, columns=["patient_id", "sstr_positive", "fdg_positive", "fdg_vs_sstr"])


def test_worst_pattern_rule_and_p4_subtypes():
    les = _lesions([
        # p1: all SSTR+/FDG-  -> P1
        ("p1", 1, 0, None), ("p1", 1, 0, None),
        # p2: one lower, one SSTR only -> P2
        ("p2", 1, 1, "lower"), ("p2", 1, 0, None),
        # p3: equal beats lower -> P3
        ("p3", 1, 1, "lower"), ("p3", 1, 1, "equal"),
        # p4a: two "higher" lesions -> P4a
        ("p4a", 1, 1, "higher"), ("p4a", 1, 1, "higher"), ("p4a", 1, 1, "equal"),
        # p4b: three "higher" lesions -> P4b
        ("p4b", 1, 1, "higher"), ("p4b", 1, 1, "higher"), ("p4b", 1, 1, "higher"),
        # p5: any FDG+/SSTR- lesion makes P5, whatever else is present
        ("p5", 1, 1, "higher"), ("p5", 0, 1, None), ("p5", 1, 0, None),
        # p0: nothing avid
        ("p0", 0, 0, None),
    ])
    got = netpet.score_from_lesions(les).to_dict()
    assert got == {"p0": "P0", "p1": "P1", "p2": "P2", "p3": "P3", "p4a": "P4a",
                   "p4b": "P4b", "p5": "P5"}


def test_both_positive_lesion_needs_avidity():
    with pytest.raises(ValueError):
        netpet.lesion_rank(True, True, None)


def test_published_and_full_groupings():
    scores = pd.Series(["P0", "P1", "P2", "P3", "P4", "P4a", "P4b", "P5", None])
    pub = netpet.assign_groups(scores, netpet.resolve_grouping("published"))
    assert list(pub.astype(object).where(pub.notna(), None)) == [
        None, "P1", "P2-4", "P2-4", "P2-4", "P2-4", "P2-4", "P5", None]
    assert list(pub.cat.categories) == ["P1", "P2-4", "P5"]
    full = netpet.assign_groups(scores, netpet.resolve_grouping("full"))
    assert list(full.astype(object).where(full.notna(), None)) == [
        None, "P1", "P2", "P3", "P4", "P4", "P4", "P5", None]


def test_custom_grouping_validation():
    g = netpet.resolve_grouping({"low": ["P1", "2"], "high": ["P3", "P4", "P5"]})
    assert g == {"low": ["P1", "P2"], "high": ["P3", "P4", "P5"]}
    with pytest.raises(ValueError, match="both group"):
        netpet.resolve_grouping({"a": ["P1", "P4a"], "b": ["P4"]})
    with pytest.raises(ValueError, match="unknown NETPET grouping"):
        netpet.resolve_grouping("nonsense")
