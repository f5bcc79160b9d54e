"""NETPET score: normalisation, derivation from lesions, and analysis grouping.

The NETPET score summarises paired [68Ga]DOTATATE (SSTR) and [18F]FDG PET/CT per
patient (Chan et al., Theranostics 2017;7:1149-1158; validated in Chan et al.,
Br J Cancer 2023;128:549-555):

====  =======================================================================
P0    every lesion SSTR-negative and FDG-negative
P1    SSTR-positive, FDG-negative
P2    SSTR+ and FDG+, FDG avidity lower than SSTR
P3    SSTR+ and FDG+, FDG avidity equal to SSTR
P4    SSTR+ and FDG+, FDG avidity higher than SSTR; P4a with 1-2 such
      lesions, P4b with 3 or more
P5    any significant FDG-positive / SSTR-negative (discordant) disease
====  =======================================================================

A patient is scored by the worst pattern present among their lesions.

This module knows nothing about survival; the generic analysis core receives only
the group labels produced here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Canonical NETPET scores in increasing order of severity.
SCORES: tuple[str, ...] = ("P0", "P1", "P2", "P3", "P4a", "P4b", "P5")

#: Severity rank of each canonical score (P4 without subtype ranks with P4a/P4b).
_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3, "P4": 4, "P4a": 4, "P4b": 4, "P5": 5}

#: Grouping used by the 2023 multicentre validation (Chan et al. 2023).
PUBLISHED_GROUPING: dict[str, list[str]] = {
    "P1": ["P1"],
    "P2-4": ["P2", "P3", "P4"],
    "P5": ["P5"],
}

#: The full five-level grouping (P0 is never analysed: no tracer-avid disease).
FULL_GROUPING: dict[str, list[str]] = {
    "P1": ["P1"],
    "P2": ["P2"],
    "P3": ["P3"],
    "P4": ["P4"],
    "P5": ["P5"],
}

GROUPINGS = {"published": PUBLISHED_GROUPING, "full": FULL_GROUPING}

_SCORE_RE = re.compile(
    r"""^\s*
        (?:netpet(?:\s*score)?|grade)?   # optional prefix: "NETPET", "NETPET score"
        [\s:_\-]*
        p?\s*                             # optional P
        (?P<num>[0-5])
        \s*(?P<sub>[ab])?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def normalise_score(value: object) -> str | None:
    """Return the canonical spelling of one NETPET score, or ``None`` if missing.

    Accepts ``P4b``, ``p4B``, ``4b``, ``4``, ``4.0``, ``NETPET 3``, ``NETPET score: P2``
    and similar. A P4 without a subtype stays ``"P4"``; the subtype is only
    needed for the full descriptive distribution, not for the analysis groups.

    Parameters
    ----------
    value
        Raw cell content.

    Returns
    -------
    str or None
        One of ``P0, P1, P2, P3, P4, P4a, P4b, P5``; ``None`` for an empty cell.

    Raises
    ------
    ValueError
        If the value is present but is not a recognisable NETPET score (for
        example ``P6`` or ``P2a``: only P4 has subtypes).
    """
    if value is None:
        return None
    if isinstance(value, float):
        if np.isnan(value):
            return None
        if value.is_integer():
            value = int(value)
    text = str(value).strip()
    if text == "" or text.lower() in {"na", "nan", "none", "missing", "."}:
        return None
    match = _SCORE_RE.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a NETPET score (expected P0-P5, P4a or P4b)")
    num, sub = match.group("num"), match.group("sub")
    if sub and num != "4":
        raise ValueError(f"{value!r}: only P4 has subtypes (P4a, P4b)")
    return f"P{num}" + (sub.lower() if sub else "")


def score_rank(score: str) -> int:
    """Severity rank 0-5 of a canonical score (P4, P4a and P4b all rank 4)."""
    return _RANK[score]


def base_score(score: str) -> str:
    """Drop the P4 subtype: ``P4a``/``P4b`` become ``P4``."""
    return "P4" if score.startswith("P4") else score


# --------------------------------------------------------------------------------------
# Lesion-level derivation
# --------------------------------------------------------------------------------------

#: Accepted spellings of FDG-versus-SSTR avidity, mapped to canonical values.
AVIDITY_SPELLINGS = {
    "lower": "lower", "less": "lower", "<": "lower", "fdg<sstr": "lower",
    "equal": "equal", "same": "equal", "=": "equal", "fdg=sstr": "equal",
    "higher": "higher", "greater": "higher", "more": "higher", ">": "higher",
    "fdg>sstr": "higher",
}


@dataclass(frozen=True)
class LesionPattern:
    """Severity of a single lesion on the NETPET scale (0 = P0 ... 5 = P5)."""

    rank: int
    fdg_higher: bool


def lesion_rank(sstr_positive: bool, fdg_positive: bool, avidity: str | None) -> int:
    """NETPET severity of one lesion.

    Parameters
    ----------
    sstr_positive, fdg_positive
        Uptake above background on each tracer (modified Krenning score 2-4).
    avidity
        ``"lower"``, ``"equal"`` or ``"higher"``: FDG avidity relative to SSTR,
        required only when the lesion is positive on both tracers.

    Returns
    -------
    int
        0 (SSTR-/FDG-), 1 (SSTR+/FDG-), 2/3/4 (both positive; FDG lower/equal/
        higher than SSTR) or 5 (FDG+/SSTR-, discordant).
    """
    if fdg_positive and not sstr_positive:
        return 5
    if not fdg_positive:
        return 1 if sstr_positive else 0
    if avidity not in ("lower", "equal", "higher"):
        raise ValueError("a lesion positive on both tracers needs FDG-vs-SSTR avidity")
    return {"lower": 2, "equal": 3, "higher": 4}[avidity]


def score_from_lesions(lesions: pd.DataFrame) -> pd.Series:
    """Derive the patient-level NETPET score from a lesion-level table.

    Worst-pattern rule (Chan et al. 2017, as tabulated in Cancer Imaging 2022,
    Table 1): the patient takes the most severe lesion pattern present. A P4
    patient is P4a with 1-2 lesions whose FDG avidity exceeds SSTR, P4b with 3
    or more.

    Parameters
    ----------
    lesions
        Canonical columns ``patient_id``, ``sstr_positive`` (bool),
        ``fdg_positive`` (bool) and ``fdg_vs_sstr`` (``lower``/``equal``/
        ``higher`` or missing), already validated.

    Returns
    -------
    pandas.Series
        Canonical score per ``patient_id`` (index), sorted by patient id.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats import score_from_lesions
    >>> lesions = pd.DataFrame({
    ...     "patient_id": ["p1", "p2", "p2", "p3", "p3", "p3", "p4", "p4"],
    ...     "sstr_positive": [True, True, True, True, True, True, True, False],
    ...     "fdg_positive": [False, True, True, True, True, True, True, True],
    ...     "fdg_vs_sstr": [None, "lower", "equal", "higher", "higher", "higher", "lower", None]})
    >>> score_from_lesions(lesions).to_dict()  # worst lesion; 3 higher -> P4b; FDG+/SSTR- -> P5
    {'p1': 'P1', 'p2': 'P3', 'p3': 'P4b', 'p4': 'P5'}
    """
    ranks = [
        lesion_rank(bool(s), bool(f), a if isinstance(a, str) else None)
        for s, f, a in zip(
            lesions["sstr_positive"], lesions["fdg_positive"], lesions["fdg_vs_sstr"]
        )
    ]
    frame = pd.DataFrame({"patient_id": lesions["patient_id"].to_numpy(), "rank": ranks})
    frame["higher"] = frame["rank"] == 4
    per_patient = frame.groupby("patient_id", sort=True).agg(
        worst=("rank", "max"), n_higher=("higher", "sum"))
    names = {0: "P0", 1: "P1", 2: "P2", 3: "P3", 5: "P5"}
    scores = [
        ("P4a" if n_higher <= 2 else "P4b") if rank == 4 else names[rank]
        for rank, n_higher in zip(per_patient["worst"], per_patient["n_higher"])
    ]
    return pd.Series(scores, index=per_patient.index, name="netpet", dtype="object")


# --------------------------------------------------------------------------------------
# Analysis grouping
# --------------------------------------------------------------------------------------


def resolve_grouping(spec: str | dict[str, list[str]]) -> dict[str, list[str]]:
    """Return an ordered mapping ``group label -> list of scores``.

    Parameters
    ----------
    spec
        ``"published"`` (P1 / P2-4 / P5, Chan et al. 2023), ``"full"``
        (P1 ... P5), or an explicit mapping from group label to the scores it
        contains (``P4`` covers P4a and P4b). Groups are ordered from least to
        most severe as listed; this order defines the reference group (first)
        and the scores 1..k of the log-rank test for trend.
    """
    if isinstance(spec, str):
        try:
            grouping = GROUPINGS[spec]
        except KeyError:
            raise ValueError(
                f"unknown NETPET grouping {spec!r}; use one of {sorted(GROUPINGS)} "
                "or a mapping of group -> scores"
            ) from None
    else:
        grouping = {str(k): [normalise_score(s) for s in v] for k, v in spec.items()}
    seen: dict[str, str] = {}
    for label, members in grouping.items():
        for member in members:
            if member is None:
                raise ValueError(f"group {label!r} lists an empty score")
            for covered in _covered(member):
                if covered in seen:
                    raise ValueError(
                        f"score {covered} is in both group {seen[covered]!r} and {label!r}"
                    )
                seen[covered] = label
    return {k: list(v) for k, v in grouping.items()}


def _covered(member: str) -> list[str]:
    return ["P4", "P4a", "P4b"] if member == "P4" else [member]


def assign_groups(scores: pd.Series, grouping: dict[str, list[str]]) -> pd.Series:
    """Map canonical scores to analysis groups.

    Scores not in any group (P0 under both built-in groupings) map to missing;
    the caller records them as exclusions.

    Returns
    -------
    pandas.Series
        Ordered categorical with the groups in the order given.

    Examples
    --------
    >>> import pandas as pd
    >>> from netpet_stats import assign_groups
    >>> published = {"P1": ["P1"], "P2-4": ["P2", "P3", "P4"], "P5": ["P5"]}
    >>> assign_groups(pd.Series(["P0", "P1", "P3", "P4b", "P5"]), published).tolist()
    [nan, 'P1', 'P2-4', 'P2-4', 'P5']
    """
    lookup = {}
    for label, members in grouping.items():
        for member in members:
            for covered in _covered(member):
                lookup[covered] = label
    # A bare "P4" is covered only if the grouping does not split P4a from P4b.
    labels = scores.map(lambda s: lookup.get(s) if isinstance(s, str) else None)
    return pd.Series(
        pd.Categorical(labels, categories=list(grouping), ordered=True),
        index=scores.index,
        name="netpet_group",
    )
