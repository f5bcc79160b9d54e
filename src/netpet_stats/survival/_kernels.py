"""Compiled inner loops: Efron risk-set sums and concordance pair counts.

Loops that numpy cannot express without either O(n p^2) memory or a
Python-level loop over subjects, compiled with numba (``cache=True``: compiled
once per machine, then loaded from ``__pycache__``):

* :func:`efron_stratum` - one pass over a stratum sorted by time, latest
  first, accumulating the risk-set sums S0, S1, S2 and the tied-event sums
  D0, D1, D2 of each event time, and Efron's log likelihood, score and
  information (Therneau & Grambsch 2000, ch. 3; the loop of R ``coxph``'s
  ``coxfit6.c``, which also runs backwards in time). Memory O(n p).
* :func:`exact_stratum` - the exact partial likelihood of tied deaths (R ``coxph(ties =
  "exact")``) by the recursion over each tied time's risk set. Only compiled: the
  recursion runs subject by subject.
* :func:`counting_stratum` - the same sums with delayed entry (counting-process risk
  sets, R ``coxph(Surv(entry, time, event) ~ .)``, ``agfit4.c``) and case weights (R
  ``weights =``), for the three tie methods. Only compiled.
* :func:`pair_counts` - per-subject concordant, discordant and predictor-tied
  pair counts in O(n log n) with a Fenwick (binary indexed) tree over predictor
  ranks, the algorithm of R ``survival::concordance`` (its ``concordance3.c``
  uses a balanced tree for the same counts); :func:`pair_totals` their totals alone
  (an estimate without its standard error, half the work).

Why compiled: the previous numpy formulation of the Efron sums costs ~100 numpy
calls per evaluation (dominant at n = 300, where bootstrap loops run thousands
of fits), and the Fenwick tree in pure Python was 3-5 times slower than R at
n = 10^5. Both loops are checked against R fixtures through
:mod:`netpet_stats.cox` and :mod:`netpet_stats.concordance`, and against their
sums written out risk set by risk set and pair by pair (tests/test_kernels.py).

Importing this module imports numba (~0.3 s); the modules that use it import
it on first use, so workflow jobs that fit nothing do not pay for it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _add_products(x, r, w, v1, v2):
    """``v1 += w x_r`` and the lower triangle of ``v2 += w x_r x_r'``."""
    for j in range(x.shape[1]):
        wx = w * x[r, j]
        v1[j] += wx
        for m in range(j + 1):
            v2[j, m] += wx * x[r, m]


@njit(cache=True, nogil=True, inline="always")
def _zero(v1, v2):
    """Zero ``v1`` and the lower triangle of ``v2``."""
    for j in range(v1.size):
        v1[j] = 0.0
        for m in range(j + 1):
            v2[j, m] = 0.0


# error_model="numpy": a risk set whose weights all underflow gives an infinite
# or NaN log likelihood (which makes Newton-Raphson halve its step), not an exception.
@njit(cache=True, nogil=True, error_model="numpy")
def efron_stratum(x, dead, t, beta, n_times, per_time, efron=True):
    """Efron (or Breslow) log likelihood, score and information of one stratum.

    Parameters
    ----------
    x : (n, p) float64, rows sorted by ``t`` descending
    dead : (n,) bool, event indicator in the same order
    t : (n,) float64, times, descending
    beta : (p,) float64
    n_times : int, number of distinct event times (rows of the per-time output)
    per_time : bool, also return each event time's score and information
    efron : bool, Efron's approximation for tied deaths; False gives Breslow's, whose
        sums are Efron's without the tied-death correction (every step ``l`` uses the
        whole risk set: the fraction ``l/d`` is 0)

    Returns
    -------
    loglik, score (p,), info (p, p), score_t (T, p), info_t (T, p, p)
        ``score_t``/``info_t`` have T = ``n_times`` rows when ``per_time``,
        else none; event times in the order met (latest first).
    """
    n, p = x.shape
    lp = np.zeros(n)
    for r in range(n):
        s = 0.0
        for j in range(p):
            s += x[r, j] * beta[j]
        lp[r] = s
    shift = lp.max() if n > 0 else 0.0
    s0 = 0.0
    s1 = np.zeros(p)
    s2 = np.zeros((p, p))
    c1 = np.zeros(p)
    c2 = np.zeros((p, p))
    d1 = np.zeros(p)
    d2 = np.zeros((p, p))
    xsum = np.zeros(p)
    mean = np.zeros(p)
    loglik = 0.0
    score = np.zeros(p)
    info = np.zeros((p, p))
    rows_t = n_times if per_time else 0
    score_t = np.zeros((rows_t, p))
    info_t = np.zeros((rows_t, p, p))
    k = 0
    i = 0
    while i < n:
        # rows i .. end-1 share one time: all join the risk set before its events count
        end = i
        while end < n and t[end] == t[i]:
            end += 1
        d = 0
        d0 = 0.0
        if end == i + 1:
            # one row: straight into the risk-set sums (the same doubles as through
            # block sums started at 0, up to the sign of a zero)
            w = np.exp(lp[i] - shift)
            s0 += w
            _add_products(x, i, w, s1, s2)
            if dead[i]:
                d = 1
                d0 = w
                loglik += lp[i]
                _zero(d1, d2)
                _add_products(x, i, w, d1, d2)
                for j in range(p):
                    xsum[j] = x[i, j]
        else:
            # the time's censored rows and its deaths summed apart (each row's products
            # formed once), then both added to the risk-set sums
            c0 = 0.0
            _zero(c1, c2)
            _zero(d1, d2)
            xsum[:] = 0.0
            for r in range(i, end):
                w = np.exp(lp[r] - shift)
                if dead[r]:
                    d += 1
                    d0 += w
                    loglik += lp[r]
                    _add_products(x, r, w, d1, d2)
                    for j in range(p):
                        xsum[j] += x[r, j]
                else:
                    c0 += w
                    _add_products(x, r, w, c1, c2)
            s0 += c0 + d0
            for j in range(p):
                s1[j] += c1[j] + d1[j]
                for m in range(j + 1):
                    s2[j, m] += c2[j, m] + d2[j, m]
        if d == 1:
            # one death: the risk set's mean and variance directly
            den = s0
            loglik -= np.log(den) + shift
            for j in range(p):
                mean[j] = s1[j] / den
                score[j] += xsum[j]
                score[j] -= mean[j]
                if per_time:
                    score_t[k, j] = xsum[j] - mean[j]
            for j in range(p):
                for m in range(j + 1):
                    v = (s2[j, m] - 0.0 * d2[j, m]) / den - mean[j] * mean[m]
                    info[j, m] += v
                    if per_time:
                        info_t[k, j, m] = v
            k += 1
        elif d > 1:
            # Efron's steps l = 0 .. d-1, den_l = S0 - f_l D0 with f_l = l/d, enter the
            # score and information only through five sums over the steps:
            #   sum_l mean_l = S1 a - D1 b,
            #   sum_l [(S2 - f_l D2)/den_l - mean_l mean_l'] = S2 a - D2 b
            #       - (S1 S1' c - (S1 D1' + D1 S1') e + D1 D1' g),
            # a = sum 1/den, b = sum f/den, c = sum 1/den^2, e = sum f/den^2,
            # g = sum f^2/den^2: O(d + p^2) per time instead of O(d p^2), and
            # as accurate (checked against long-double sums).
            a = 0.0
            b = 0.0
            c = 0.0
            e = 0.0
            g = 0.0
            for step in range(d):
                f = step / d if efron else 0.0
                den = s0 - f * d0
                loglik -= np.log(den) + shift
                inv = 1.0 / den
                a += inv
                b += f * inv
                c += inv * inv
                e += f * inv * inv
                g += f * f * inv * inv
            for j in range(p):
                u = xsum[j] - (s1[j] * a - d1[j] * b)
                score[j] += u
                if per_time:
                    score_t[k, j] = u
                for m in range(j + 1):
                    v = (s2[j, m] * a - d2[j, m] * b
                         - (s1[j] * s1[m] * c - (s1[j] * d1[m] + d1[j] * s1[m]) * e
                            + d1[j] * d1[m] * g))
                    info[j, m] += v
                    if per_time:
                        info_t[k, j, m] = v
            k += 1
        i = end
    for j in range(p):
        for m in range(j):
            info[m, j] = info[j, m]
            if per_time:
                for q in range(rows_t):
                    info_t[q, m, j] = info_t[q, j, m]
    return loglik, score, info, score_t, info_t


@njit(cache=True, nogil=True, error_model="numpy")
def exact_stratum(x, dead, t, beta, n_times, per_time):
    """Exact (conditional logistic) log likelihood, score and information of one stratum.

    Same arguments and returns as :func:`efron_stratum`. At an event time with ``d``
    tied deaths among the ``n`` subjects at risk the likelihood term is
    ``exp(sum_deaths x'beta) / D`` with ``D`` the sum of ``exp(sum_S x'beta)`` over all
    subsets ``S`` of ``d`` subjects of the risk set (Kalbfleisch & Prentice 2002,
    sec. 4.2.3; R ``coxph(ties = "exact")``). ``D``, its gradient and its Hessian are
    built by the recursion over the risk set, one subject at a time,
    ``D(k, j) = D(k - 1, j) + r_k D(k - 1, j - 1)`` (Gail, Lubin & Rubinstein 1981; the
    method of R's ``coxexact.c``). The risk sets are nested (rows by time descending),
    so the recursion is carried from one tied time to the next instead of restarted:
    each row is added once, for subset sizes up to the most tied deaths at any later
    time, in ``O(n d_max p^2)`` operations rather than ``O(n d p^2)`` per tied time
    (R restarts it). The weights ``r_k`` are scaled by the largest risk score of the
    risk set so far (the tables rescaled by ``exp(-c j)`` when it grows), so that
    ``D <= choose(n, d)``. A time with one death is Breslow's (and Efron's) term.
    """
    n, p = x.shape
    lp = np.zeros(n)
    for r in range(n):
        s = 0.0
        for j in range(p):
            s += x[r, j] * beta[j]
        lp[r] = s
    shift = lp.max() if n > 0 else 0.0
    s0 = 0.0
    s1 = np.zeros(p)
    s2 = np.zeros((p, p))
    xsum = np.zeros(p)
    mean = np.zeros(p)
    v = np.zeros((p, p))
    loglik = 0.0
    score = np.zeros(p)
    info = np.zeros((p, p))
    rows_t = n_times if per_time else 0
    score_t = np.zeros((rows_t, p))
    info_t = np.zeros((rows_t, p, p))
    top = -np.inf      # largest linear predictor of the risk set so far
    # the most tied deaths at this or any later (earlier in time) event time, per time
    # block: the subset sizes the carried recursion still needs
    blocks = 0
    i = 0
    while i < n:
        end = i
        while end < n and t[end] == t[i]:
            end += 1
        blocks += 1
        i = end
    need = np.zeros(blocks, np.int64)
    i = 0
    b = 0
    while i < n:
        end = i
        while end < n and t[end] == t[i]:
            end += 1
        for r in range(i, end):
            if dead[r]:
                need[b] += 1
        b += 1
        i = end
    for b in range(blocks - 2, -1, -1):
        need[b] = max(need[b], need[b + 1])
    dmax = need[0] if blocks > 0 else 0
    dd = np.zeros(dmax + 1)
    d1 = np.zeros((dmax + 1, p))
    d2 = np.zeros((dmax + 1, p, p))
    dd[0] = 1.0
    added = 0
    b = 0
    k = 0
    i = 0
    while i < n:
        end = i
        while end < n and t[end] == t[i]:
            end += 1
        d = 0
        for j in range(p):
            xsum[j] = 0.0
        for r in range(i, end):
            w = np.exp(lp[r] - shift)
            s0 += w
            if need[b] > 1:
                # carry D(k, j), its gradient and Hessian, j = 1..need[b], over row r
                jtop = min(added, need[b])
                if lp[r] > top and added > 0:
                    f = np.exp(-(lp[r] - top))
                    scale = 1.0
                    for j in range(1, jtop + 1):
                        scale *= f
                        dd[j] *= scale
                        for a in range(p):
                            d1[j, a] *= scale
                            for c in range(a + 1):
                                d2[j, a, c] *= scale
                if lp[r] > top:
                    top = lp[r]
                wr = np.exp(lp[r] - top)
                for j in range(min(added + 1, need[b]), 0, -1):
                    dj = dd[j - 1]
                    for a in range(p):
                        xa = x[r, a]
                        da = d1[j - 1, a]
                        for c in range(a + 1):
                            d2[j, a, c] += wr * (d2[j - 1, a, c] + xa * d1[j - 1, c]
                                                 + da * x[r, c] + xa * x[r, c] * dj)
                    for a in range(p):
                        d1[j, a] += wr * (d1[j - 1, a] + x[r, a] * dj)
                    dd[j] += wr * dj
                added += 1
            elif lp[r] > top:
                top = lp[r]
            for j in range(p):
                wx = w * x[r, j]
                s1[j] += wx
                for m in range(j + 1):
                    s2[j, m] += wx * x[r, m]
            if dead[r]:
                d += 1
                loglik += lp[r]
                for j in range(p):
                    xsum[j] += x[r, j]
        if d == 1:
            loglik -= np.log(s0) + shift
            for j in range(p):
                mean[j] = s1[j] / s0
            for j in range(p):
                for m in range(j + 1):
                    v[j, m] = s2[j, m] / s0 - mean[j] * mean[m]
        elif d > 1:
            # D over subsets of size d of the risk set, carried to here
            loglik -= np.log(dd[d]) + d * top
            for j in range(p):
                mean[j] = d1[d, j] / dd[d]
            for j in range(p):
                for m in range(j + 1):
                    v[j, m] = d2[d, j, m] / dd[d] - mean[j] * mean[m]
        if d > 0:
            for j in range(p):
                score[j] += xsum[j] - mean[j]
                if per_time:
                    score_t[k, j] = xsum[j] - mean[j]
                for m in range(j + 1):
                    info[j, m] += v[j, m]
                    if per_time:
                        info_t[k, j, m] = v[j, m]
            k += 1
        b += 1
        i = end
    for j in range(p):
        for m in range(j):
            info[m, j] = info[j, m]
            if per_time:
                for q in range(rows_t):
                    info_t[q, m, j] = info_t[q, j, m]
    return loglik, score, info, score_t, info_t


@njit(cache=True, nogil=True, error_model="numpy")
def counting_stratum(x, dead, t, entry, wt, by_entry, beta, n_times, per_time, method):
    """Log likelihood, score and information of one stratum with delayed entry and case
    weights (R ``coxph(Surv(entry, time, event) ~ ., weights = w)``).

    Parameters
    ----------
    x, dead, t, beta, n_times, per_time
        As :func:`efron_stratum`: rows sorted by exit time ``t`` descending, events first
        within a time.
    entry : (n,) float64, entry time of each row (``-inf`` without delayed entry)
    wt : (n,) float64, case weight of each row (R's ``weights``; 1 without)
    by_entry : (m,) int64, the rows with a finite entry, by entry time descending
    method : int, 0 Breslow, 1 Efron, 2 exact (with unit weights)

    A row is in the risk set of event time ``s`` when ``entry < s <= t`` (R ``agfit4``).
    The sums run backwards in time as R's: at each event time, first the rows whose entry
    is at or after it leave the risk set (all sums set to 0 when the last one leaves, so
    that no rounding residue remains), then the rows with exit times from it up to the
    previous event time join. With ``d`` tied deaths of total weight ``W``, Efron's
    step ``l`` uses ``den_l = S0 - (l/d) D0`` (S0, D0 sums of ``w exp(x'beta)``) and
    every step counts with the deaths' mean weight ``W / d``; Breslow's ``W log S0``.
    The exact method runs :func:`exact_stratum`'s recursion over the risk set's rows.
    """
    n, p = x.shape
    lp = np.zeros(n)
    for r in range(n):
        s = 0.0
        for j in range(p):
            s += x[r, j] * beta[j]
        lp[r] = s
    shift = lp.max() if n > 0 else 0.0
    s0 = 0.0
    s1 = np.zeros(p)
    s2 = np.zeros((p, p))
    d1 = np.zeros(p)
    d2 = np.zeros((p, p))
    xsum = np.zeros(p)
    mean = np.zeros(p)
    v = np.zeros((p, p))
    loglik = 0.0
    score = np.zeros(p)
    info = np.zeros((p, p))
    rows_t = n_times if per_time else 0
    score_t = np.zeros((rows_t, p))
    info_t = np.zeros((rows_t, p, p))
    nrisk = 0
    added = 0       # rows 0 .. added-1 have joined the risk set
    left = 0        # by_entry[0 .. left-1] have left it
    m = by_entry.size
    k = 0
    i = 0
    while i < n:
        end = i
        while end < n and t[end] == t[i]:
            end += 1
        if not dead[i]:         # events come first at a time: none here
            i = end
            continue
        now = t[i]
        # leave: entry at or after this event time
        while left < m and entry[by_entry[left]] >= now:
            r = by_entry[left]
            left += 1
            nrisk -= 1
            if nrisk == 0:
                s0 = 0.0
                for j in range(p):
                    s1[j] = 0.0
                    for q in range(j + 1):
                        s2[j, q] = 0.0
            else:
                w = np.exp(lp[r] - shift) * wt[r]
                s0 -= w
                for j in range(p):
                    wx = w * x[r, j]
                    s1[j] -= wx
                    for q in range(j + 1):
                        s2[j, q] -= wx * x[r, q]
        # join: every row with an exit time from this event time on
        d = 0
        deadwt = 0.0
        d0 = 0.0
        for j in range(p):
            d1[j] = 0.0
            xsum[j] = 0.0
            for q in range(j + 1):
                d2[j, q] = 0.0
        for r in range(added, end):
            nrisk += 1
            w = np.exp(lp[r] - shift) * wt[r]
            s0 += w
            for j in range(p):
                wx = w * x[r, j]
                s1[j] += wx
                for q in range(j + 1):
                    s2[j, q] += wx * x[r, q]
            if dead[r] and r >= i:
                d += 1
                deadwt += wt[r]
                d0 += w
                loglik += wt[r] * lp[r]
                for j in range(p):
                    wx = w * x[r, j]
                    d1[j] += wx
                    xsum[j] += wt[r] * x[r, j]
                    for q in range(j + 1):
                        d2[j, q] += wx * x[r, q]
        added = end
        for j in range(p):
            score[j] += xsum[j]
            if per_time:
                score_t[k, j] += xsum[j]
        if method == 2 and d > 1:
            # the exact likelihood: subsets of d of the risk set's rows
            top = -np.inf
            for r in range(end):
                if entry[r] < now and lp[r] > top:
                    top = lp[r]
            dd = np.zeros(d + 1)
            e1 = np.zeros((d + 1, p))
            e2 = np.zeros((d + 1, p, p))
            dd[0] = 1.0
            seen = 0
            for r in range(end):
                if entry[r] >= now:
                    continue
                seen += 1
                w = np.exp(lp[r] - top)
                for jj in range(min(seen, d), 0, -1):
                    for a in range(p):
                        for b in range(a + 1):
                            e2[jj, a, b] += w * (e2[jj - 1, a, b] + x[r, a] * e1[jj - 1, b]
                                                 + e1[jj - 1, a] * x[r, b]
                                                 + x[r, a] * x[r, b] * dd[jj - 1])
                    for a in range(p):
                        e1[jj, a] += w * (e1[jj - 1, a] + x[r, a] * dd[jj - 1])
                    dd[jj] += w * dd[jj - 1]
            loglik -= np.log(dd[d]) + d * top
            for j in range(p):
                mean[j] = e1[d, j] / dd[d]
                score[j] -= mean[j]
                if per_time:
                    score_t[k, j] -= mean[j]
            for j in range(p):
                for q in range(j + 1):
                    v[j, q] = e2[d, j, q] / dd[d] - mean[j] * mean[q]
                    info[j, q] += v[j, q]
                    if per_time:
                        info_t[k, j, q] += v[j, q]
        else:
            efron = method == 1 and d > 1
            steps = d if efron else 1
            each = deadwt / d if efron else deadwt
            for step in range(steps):
                f = step / d if efron else 0.0
                den = s0 - f * d0
                loglik -= each * (np.log(den) + shift)
                for j in range(p):
                    mean[j] = (s1[j] - f * d1[j]) / den
                    score[j] -= each * mean[j]
                    if per_time:
                        score_t[k, j] -= each * mean[j]
                for j in range(p):
                    for q in range(j + 1):
                        vv = each * ((s2[j, q] - f * d2[j, q]) / den - mean[j] * mean[q])
                        info[j, q] += vv
                        if per_time:
                            info_t[k, j, q] += vv
        k += 1
        i = end
    for j in range(p):
        for q in range(j):
            info[q, j] = info[j, q]
            if per_time:
                for r in range(rows_t):
                    info_t[r, q, j] = info_t[r, j, q]
    return loglik, score, info, score_t, info_t


@njit(cache=True, nogil=True)
def _add(tree, rank, weight):
    i = rank + 1
    size = tree.size
    while i < size:
        tree[i] += weight
        i += i & -i


@njit(cache=True, nogil=True)
def _below(tree, rank):
    """Total weight inserted at ranks < ``rank``."""
    s = 0.0
    i = rank
    while i > 0:
        s += tree[i]
        i -= i & -i
    return s


@njit(cache=True, nogil=True, inline="always")
def _against_later(order, block_starts, is_event, rank, weight, tree, conc, disc, tied):
    """Add to each event its weighted pairs with the subjects after it (later times, and
    those censored at its time), sweeping the times from the last (pass A of
    :func:`pair_counts`): each comparable pair once, from its earlier member."""
    total = 0.0
    for b in range(block_starts.size - 2, -1, -1):
        lo = block_starts[b]
        hi = block_starts[b + 1]
        for q in range(lo, hi):
            j = order[q]
            if not is_event[j]:
                _add(tree, rank[j], 1.0)
                total += 1.0
        for q in range(lo, hi):
            i = order[q]
            w = weight[i]
            if is_event[i] and w > 0:
                lt = _below(tree, rank[i])
                le = _below(tree, rank[i] + 1)
                conc[i] += w * (total - le)
                disc[i] += w * lt
                tied[i] += w * (le - lt)
        for q in range(lo, hi):
            j = order[q]
            if is_event[j]:
                _add(tree, rank[j], 1.0)
                total += 1.0


@njit(cache=True, nogil=True)
def pair_counts(order, block_starts, is_event, rank, n_ranks, weight):
    """Weighted concordant, discordant and predictor-tied counts of each subject.

    Parameters
    ----------
    order : (n,) int64, subjects sorted by time ascending
    block_starts : (B + 1,) int64, start of each run of equal times in ``order``
        (last entry n)
    is_event : (n,) bool
    rank : (n,) int64, dense rank of the predictor (0 .. n_ranks - 1)
    n_ranks : int
    weight : (n,) float64, time weight of each subject as the earlier member
        of a pair (1 for Harrell, 1/G(t-)^2 for Uno, 0 past ``ymax``)

    Orientation as R's ``reverse = FALSE``: a pair is concordant when the
    subject with the earlier event has the smaller predictor. A censored time
    equal to an event time counts as later; tied event times are not compared.
    Each comparable pair is counted once for each of its two members.
    """
    n = order.size
    conc = np.zeros(n)
    disc = np.zeros(n)
    tied = np.zeros(n)
    tree = np.zeros(n_ranks + 1)
    n_blocks = block_starts.size - 1
    # Pass A: each event against the subjects after it (and those censored at its time).
    _against_later(order, block_starts, is_event, rank, weight, tree, conc, disc, tied)
    # Pass B: each subject against the (weighted) events before it; the events
    # of a time meet those before them, its censored subjects also the events at it.
    tree[:] = 0.0
    total = 0.0
    for b in range(n_blocks):
        lo = block_starts[b]
        hi = block_starts[b + 1]
        _against_earlier(order, lo, hi, is_event, True, rank, tree, total, conc, disc, tied)
        for q in range(lo, hi):
            i = order[q]
            if is_event[i] and weight[i] > 0:
                _add(tree, rank[i], weight[i])
                total += weight[i]
        _against_earlier(order, lo, hi, is_event, False, rank, tree, total, conc, disc, tied)
    return conc, disc, tied


@njit(cache=True, nogil=True)
def pair_totals(order, block_starts, is_event, rank, n_ranks, weight):
    """Total weighted concordant, discordant and predictor-tied pairs of one stratum.

    The pairs of :func:`pair_counts` (same arguments) counted once each, from their
    earlier member: its pass A alone (half its work), without the counts each later
    member needs for its influence. With weights 0 and 1 (Harrell's C, ``ymax``) every sum is an integer, so
    the totals equal :func:`pair_counts`' column sums halved, exactly.
    """
    n = order.size
    conc = np.zeros(n)
    disc = np.zeros(n)
    tied = np.zeros(n)
    _against_later(order, block_starts, is_event, rank, weight, np.zeros(n_ranks + 1),
                   conc, disc, tied)
    return conc.sum(), disc.sum(), tied.sum()


@njit(cache=True, nogil=True, inline="always")
def _against_earlier(order, lo, hi, is_event, events, rank, tree, total, conc, disc, tied):
    """Add to each of ``order[lo:hi]`` (events or censored, as ``events`` says) its pairs
    with the subjects in the tree."""
    for q in range(lo, hi):
        j = order[q]
        if is_event[j] == events:
            lt = _below(tree, rank[j])
            le = _below(tree, rank[j] + 1)
            conc[j] += lt
            disc[j] += total - le
            tied[j] += le - lt



@njit(cache=True, nogil=True)
def pair_counts_counting(order, block_starts, time, is_event, rank, n_ranks, timewt, casewt,
                         entry_order, entry):
    """:func:`pair_counts` with case weights and delayed entry (R ``concordance`` on
    ``Surv(entry, time, event)`` with ``weights =``).

    Parameters as :func:`pair_counts`, with ``timewt`` the time weight of each
    subject as the earlier member of a pair (its ``weight`` there), and

    time : (n,) float64, exit time
    casewt : (n,) float64, case weight of each subject
    entry_order : (n,) int64, subjects sorted by entry time ascending
    entry : (n,) float64, entry time (at risk on ``(entry, time]``); -inf for a
        subject at risk from the start

    An event ``i`` at ``t`` and a subject ``j`` form a pair when ``j`` is at risk
    at ``t`` (``entry_j < t <= time_j``) and ``j``'s time is later, or equal with
    ``j`` censored; the pair weighs ``timewt_i * casewt_i * casewt_j``. Returns
    each subject's counts with its own case weight left out (R's per-subject
    ``influence`` columns): ``i`` gets ``timewt_i * casewt_j``, ``j`` gets
    ``timewt_i * casewt_i``; so the pair totals are ``sum(casewt * counts) / 2``.
    With unit case weights and no entry this is :func:`pair_counts`.

    The subjects at risk at ``t`` are those whose time is later (the sweep of
    :func:`pair_counts`) less those who have not entered by ``t`` (entry >= t),
    kept in a second Fenwick tree; the events that ``j`` meets as the later
    member are those before its exit less those at or before its entry, the same
    tree queried when the sweep passes ``j``'s entry.
    """
    n = order.size
    conc = np.zeros(n)
    disc = np.zeros(n)
    tied = np.zeros(n)
    tree = np.zeros(n_ranks + 1)
    late = np.zeros(n_ranks + 1)  # subjects whose entry is at or after the current time
    total = 0.0
    total_late = 0.0
    n_blocks = block_starts.size - 1
    # Pass A: each event against the subjects at risk after it.
    p = n - 1  # position in entry_order, descending
    for b in range(n_blocks - 1, -1, -1):
        lo = block_starts[b]
        hi = block_starts[b + 1]
        t = time[order[lo]]
        for q in range(lo, hi):
            j = order[q]
            if not is_event[j]:
                _add(tree, rank[j], casewt[j])
                total += casewt[j]
        while p >= 0 and entry[entry_order[p]] >= t:
            j = entry_order[p]
            _add(late, rank[j], casewt[j])
            total_late += casewt[j]
            p -= 1
        for q in range(lo, hi):
            i = order[q]
            if is_event[i] and timewt[i] * casewt[i] > 0:
                lt = _below(tree, rank[i]) - _below(late, rank[i])
                le = _below(tree, rank[i] + 1) - _below(late, rank[i] + 1)
                conc[i] += timewt[i] * ((total - total_late) - le)
                disc[i] += timewt[i] * lt
                tied[i] += timewt[i] * (le - lt)
        for q in range(lo, hi):
            j = order[q]
            if is_event[j]:
                _add(tree, rank[j], casewt[j])
                total += casewt[j]
    # Pass B: each subject against the weighted events before its exit and after
    # its entry: the events before it (as pair_counts) less those it meets at entry.
    tree[:] = 0.0
    total = 0.0
    p = 0
    for b in range(n_blocks):
        lo = block_starts[b]
        hi = block_starts[b + 1]
        t = time[order[lo]]
        # the tree holds the events before t, i.e. at or before these entries
        while p < n and entry[entry_order[p]] < t:
            j = entry_order[p]
            lt = _below(tree, rank[j])
            le = _below(tree, rank[j] + 1)
            conc[j] -= lt
            disc[j] -= total - le
            tied[j] -= le - lt
            p += 1
        _against_earlier(order, lo, hi, is_event, True, rank, tree, total, conc, disc, tied)
        for q in range(lo, hi):
            i = order[q]
            w = timewt[i] * casewt[i]
            if is_event[i] and w > 0:
                _add(tree, rank[i], w)
                total += w
        _against_earlier(order, lo, hi, is_event, False, rank, tree, total, conc, disc, tied)
    return conc, disc, tied
