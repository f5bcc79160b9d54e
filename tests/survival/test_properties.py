"""Property-based checks against brute-force definitions (hypothesis)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from netpet_stats.survival import concordance
from netpet_stats.netpet import scoring as netpet


def brute_force_counts(time, event, x, strata, ymax):
    """Pairs by definition (R concordance, reverse = TRUE): O(n^2)."""
    conc = disc = tied = 0
    n = len(time)
    for i in range(n):
        if not event[i] or time[i] > ymax:
            continue
        for j in range(n):
            if i == j or strata[i] != strata[j]:
                continue
            later = time[j] > time[i] or (time[j] == time[i] and not event[j])
            if not later:
                continue
            if x[i] > x[j]:
                conc += 1
            elif x[i] < x[j]:
                disc += 1
            else:
                tied += 1
    return conc, disc, tied


survival_data = st.integers(min_value=2, max_value=40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(1, 8), min_size=n, max_size=n),        # heavy time ties
    st.lists(st.integers(0, 1), min_size=n, max_size=n),
    st.lists(st.integers(0, 4), min_size=n, max_size=n),        # heavy predictor ties
    st.lists(st.integers(0, 2), min_size=n, max_size=n),
    st.sampled_from([None, 3.0, 6.0]),
))


@settings(max_examples=150, deadline=None)
@given(survival_data)
def test_harrell_counts_equal_brute_force(data):
    time, event, x, strata, ymax = data
    res = concordance.harrell_c(time, event, x, strata=strata, reverse=True, ymax=ymax)
    c, d, t = brute_force_counts(time, event, x, strata, np.inf if ymax is None else ymax)
    assert (res["concordant"], res["discordant"], res["tied_x"]) == (c, d, t)
    if c + d + t:
        assert np.isclose(res["estimate"], (c + t / 2) / (c + d + t))


@given(st.text(max_size=12))
def test_score_normaliser_never_crashes_unexpectedly(text):
    try:
        out = netpet.normalise_score(text)
    except ValueError:
        return
    assert out is None or out in {"P0", "P1", "P2", "P3", "P4", "P4a", "P4b", "P5"}
