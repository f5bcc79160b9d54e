"""The compiled loops of :mod:`._kernels` in numpy, for short processes.

Why a second implementation: the compiled loops are the fast ones from a few
hundred rows up, but importing numba and loading its cache costs about 0.6 s per
process, which is most of a workflow job on a cohort of a few hundred patients
(the Cox job's own fits take about 0.15 s). So a process starts with these numpy
formulations and moves to the compiled loops once it has spent part of that
start-up cost here (:func:`usable`), or at once for a large problem.

* :func:`efron_sums` gives the same doubles as :func:`._kernels.efron_stratum`,
  not merely close ones, so which one ran never shows in a result: every sum is
  accumulated in the order the loop accumulates it (``np.cumsum`` adds left to
  right, as the loop does; ``np.sum`` would add pairwise), each product and
  quotient is formed from the same operands, and ``exp``/``log`` are the C
  library's (``math.exp``/``math.log``, which the compiled loop also calls;
  numpy's vectorised ``exp`` may differ in the last bit).
* :func:`pair_counts` gives the same doubles as :func:`._kernels.pair_counts`.
  As the earlier member of a pair, an event's later subjects are counted
  directly (O(n^2) memory and time, so only for small strata) and the whole
  count multiplied by its weight, as the loop does. As the later member, a
  subject's counts are sums of the weights of earlier events, which the loop
  reads from a Fenwick (binary indexed) tree: each node of the tree holds the
  weights added to it so far, summed in the order they arrived, and a query adds
  up to log n nodes from the highest index down. With weights 0 and 1
  (Harrell's C) every such sum is a whole number, exact in any order, and is
  counted directly. Other weights (Uno's C) are sums of fractions whose last bit
  depends on the order of addition, so :func:`_tree_sums` replays the tree:
  every node's running sums in arrival order (``np.cumsum``), and every query's
  nodes added in the loop's order.

tests/survival/test_kernels.py compares the two bit for bit on tied, stratified
and degenerate data.
"""

from __future__ import annotations

import math
import time as _time

import numpy as np

#: Largest stratum, and largest number of deaths at one time, whose Efron sums
#: are evaluated here; beyond them the compiled loop is always the faster.
MAX_ROWS = 2000
MAX_TIED_DEATHS = 64
#: Largest stratum whose pairs are counted here (Harrell's and Uno's C).
MAX_PAIRS_ROWS = 2000
#: Seconds a process spends in these formulations before it loads the compiled
#: loops. Loading numba, its cached loops and the BLAS check it makes took 1.2-1.4 s
#: per process on a 2-core machine (2026-12-07); with 0.8 s here each Cox job of the
#: bundled cohort (about 1,000 evaluations of the Efron sums) ends before the switch
#: and took 0.8 s less CPU than with 0.3 s, while a long job pays at most 0.8 s more
#: before it moves to the loops (a bootstrap moves at once: :func:`prefer_compiled`).
BUDGET_SECONDS = 0.8

_spent = 0.0


def _log(v: float) -> float:
    # the compiled loop's log (error_model="numpy"): -inf at 0 and NaN below, no exception
    if v > 0:
        return math.log(v)
    return -math.inf if v == 0 else math.nan


def _structure(dead, t):
    """Per stratum, once: the times' blocks of rows, the event times among them, and each
    death's and censored row's position among its time's deaths or censored rows."""
    n = t.size
    starts = np.flatnonzero(np.r_[True, t[1:] != t[:-1]])
    size = np.diff(np.r_[starts, n])
    block = np.repeat(np.arange(starts.size), size)
    dead_rows = np.flatnonzero(dead)
    group_of = block[dead_rows]
    event_groups, first, d = np.unique(group_of, return_index=True, return_counts=True)
    level = np.arange(dead_rows.size) - np.repeat(first, d)  # 0 .. d-1 within its time
    cens_rows = np.flatnonzero(~dead)
    cens_block = block[cens_rows]
    cens_first = np.searchsorted(cens_block, np.arange(starts.size))
    cens_level = np.arange(cens_rows.size) - cens_first[cens_block]
    return {
        "blocks": starts.size,
        "event_block": event_groups,       # the block of event time k
        "d": d,
        "dead_rows": dead_rows,
        "group": np.repeat(np.arange(d.size), d),
        "level": level,
        "max_d": int(d.max()) if d.size else 0,
        "cens_rows": cens_rows,
        "cens_block": cens_block,
        "cens_level": cens_level,
        "max_c": int(cens_level.max()) + 1 if cens_rows.size else 0,
    }


def usable(n_rows: int) -> bool:
    """Whether this process still evaluates a stratum of ``n_rows`` rows here."""
    return _spent < BUDGET_SECONDS and n_rows <= MAX_ROWS


def efron_structure(stratum: dict) -> dict | None:
    """The numpy structure of a sorted stratum (``x``, ``dead``, ``t``; cached in it),
    or None when its Efron sums go to the compiled loop: the budget is spent, the
    stratum is large, or it has more than :data:`MAX_TIED_DEATHS` deaths, or censored
    rows, at one time."""
    if not usable(stratum["t"].size):
        return None
    if "numpy" not in stratum:
        stratum["numpy"] = _structure(stratum["dead"], stratum["t"])
    st = stratum["numpy"]
    return st if max(st["max_d"], st["max_c"]) <= MAX_TIED_DEATHS else None


def prefer_compiled() -> None:
    """Use the compiled loops from now on in this process.

    For a loop that repeats one computation many times (a bootstrap, a
    cross-validation): its first task then loads numba once, in the process that
    forks the workers, which inherit it instead of each spending the budget here
    and loading numba again.
    """
    global _spent
    _spent = max(_spent, BUDGET_SECONDS)


def pairs_here(n_rows: int) -> bool:
    """Whether this process still counts the pairs of a stratum of ``n_rows`` rows here."""
    return _spent < BUDGET_SECONDS and n_rows <= MAX_PAIRS_ROWS


def _timed(fn, *args):
    global _spent
    start = _time.perf_counter()
    # the compiled loop divides by an underflowed risk set silently (NaN, then
    # Newton-Raphson halves its step); so does this
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = fn(*args)
    _spent += _time.perf_counter() - start
    return out


def efron_sums(x, dead, t, beta, n_times, per_time, structure, efron=True):
    """Same arguments and returns as :func:`._kernels.efron_stratum` (plus its structure;
    ``efron`` False gives Breslow's sums, every step's fraction ``l/d`` being 0)."""
    return _timed(_efron, x, dead, t, beta, n_times, per_time, structure, efron)


def pair_counts(time, is_event, rank, weight, order=None):
    """Each subject's weighted concordant, discordant and predictor-tied counts.

    The pairs, orientation and doubles of :func:`._kernels.pair_counts`: an
    event ``i`` with weight ``w_i > 0`` is the earlier member of a pair with
    every ``j`` whose time is later, or equal when ``j`` is censored; the pair
    weighs ``w_i`` and is concordant when ``rank[i] < rank[j]``. Each pair counts
    once for each of its members. ``order`` is the stable argsort of ``time``
    (the loop's order; computed here when not given).
    """
    return _timed(_pairs, np.asarray(time, float), np.asarray(is_event, bool),
                  np.asarray(rank, np.int64), np.asarray(weight, float), order)


def _pairs(t, is_event, rank, weight, order):
    n = t.size
    conc, disc, tied = np.zeros(n), np.zeros(n), np.zeros(n)
    counted = is_event & (weight > 0)
    ev = np.flatnonzero(counted)
    if ev.size == 0:
        return conc, disc, tied
    later = (t[None, :] > t[ev, None]) | ((t[None, :] == t[ev, None]) & ~is_event[None, :])
    diff = rank[None, :] - rank[ev, None]
    above, below, same = later & (diff > 0), later & (diff < 0), later & (diff == 0)
    # as the earlier member: its weight times the later subjects above, below, level
    w = weight[ev]
    conc[ev] = w * np.count_nonzero(above, axis=1)
    disc[ev] = w * np.count_nonzero(below, axis=1)
    tied[ev] = w * np.count_nonzero(same, axis=1)
    # as the later member: the weights of the earlier events below, above and level
    if np.all(w == 1):
        return (conc + np.count_nonzero(above, axis=0), disc + np.count_nonzero(below, axis=0),
                tied + np.count_nonzero(same, axis=0))
    # The loop visits the times in increasing order; at each it first queries its
    # events, then adds them to the tree, then queries its censored subjects. So a
    # subject meets the events added before its own time (an event), or up to and
    # including it (a censored subject).
    if order is None:
        order = np.argsort(t, kind="stable")
    ts = t[order]
    block = np.empty(n, np.int64)
    block[order] = np.cumsum(np.r_[True, ts[1:] != ts[:-1]]) - 1
    added = order[counted[order]]           # the events in the order the loop adds them
    added_block = block[added]
    seen = np.where(is_event, np.searchsorted(added_block, block, side="left"),
                    np.searchsorted(added_block, block, side="right"))
    size = int(rank.max()) + 2
    # the weight below each subject's rank (lt) and below or at it (le)
    both = _tree_sums(rank[added], weight[added], size, np.r_[rank, rank + 1],
                      np.r_[seen, seen])
    lt, le = both[:n], both[n:]
    total = np.r_[0.0, np.cumsum(weight[added])][seen]
    return conc + lt, disc + (total - le), tied + (le - lt)


def _tree_sums(added_rank, added_weight, size, query_rank, query_seen):
    """The Fenwick tree's prefix sums as :func:`._kernels.pair_counts` reads them.

    The tree has nodes 1 .. ``size - 1``; adding at rank r adds the weight to
    node r + 1 and on up (k += k & -k); the sum below rank r adds nodes r, then
    k -= k & -k, to 0.0. Returns, for each query, the sum below
    ``query_rank`` once the first ``query_seen`` weights have been added, each
    node's value and each query's total added up in the loop's order.
    """
    m = added_rank.size
    if m == 0:
        return np.zeros(query_rank.size)
    # every node each added weight goes to: (node, arrival), sorted node by node
    nodes, arrivals = [], []
    k, g = added_rank + 1, np.arange(m)
    while k.size:
        keep = k < size
        k, g = k[keep], g[keep]
        nodes.append(k)
        arrivals.append(g)
        k = k + (k & -k)
    node, g = np.concatenate(nodes), np.concatenate(arrivals)
    key = node * (m + 1) + g
    o = np.argsort(key)
    key, node, w = key[o], node[o], added_weight[g[o]]
    # each node's value after each of its arrivals: a running sum along one row per
    # node. Nodes of one level (k & -k) cover as many ranks, so their rows have
    # similar lengths and are padded together.
    first = np.flatnonzero(np.r_[True, node[1:] != node[:-1]])
    length = np.diff(np.r_[first, node.size])
    pos = np.arange(node.size) - np.repeat(first, length)
    level = np.repeat(node[first] & -node[first], length)
    by_level = np.argsort(level, kind="stable")
    cuts = np.flatnonzero(np.r_[True, np.diff(level[by_level]) != 0, True])
    value = np.empty(node.size)
    for a, b in zip(cuts[:-1], cuts[1:]):
        idx = by_level[a:b]
        p = pos[idx]
        row = np.cumsum(p == 0) - 1
        grid = np.zeros((row[-1] + 1, int(p.max()) + 1))
        grid[row, p] = w[idx]
        value[idx] = np.cumsum(grid, axis=1)[row, p]
    # each query: s = 0.0, then s += (node i's value after its last arrival before
    # query_seen, or 0.0), i -= i & -i, while i > 0
    s = np.zeros(query_rank.size)
    i = query_rank.astype(np.int64)
    live = np.flatnonzero(i > 0)
    while live.size:
        k = i[live]
        last = np.searchsorted(key, k * (m + 1) + query_seen[live]) - 1
        at = np.maximum(last, 0)
        s[live] = s[live] + np.where((last >= 0) & (node[at] == k), value[at], 0.0)
        k = k - (k & -k)
        i[live] = k
        live = live[k > 0]
    return s


def _levels(values, group, level, n_groups, max_d):
    """Sum of ``values`` within each group, added in row order starting from 0."""
    acc = np.zeros((n_groups,) + values.shape[1:])
    for lev in range(max_d):
        at = level == lev
        acc[group[at]] = acc[group[at]] + values[at]
    return acc


def _efron(x, dead, t, beta, n_times, per_time, st, efron=True):
    n, p = x.shape
    lp = np.zeros(n)
    for j in range(p):  # the loop's dot product, column by column: no BLAS reordering
        lp = lp + x[:, j] * beta[j]
    shift = lp.max() if n > 0 else 0.0
    w = np.fromiter(map(math.exp, (lp - shift).tolist()), float, n)
    wx = w[:, None] * x
    wxx = wx[:, :, None] * x[:, None, :]
    sums = np.hstack([w[:, None], wx, wxx.reshape(n, p * p)])
    B = st["blocks"]
    rows, group, level, d, max_d = st["dead_rows"], st["group"], st["level"], st["d"], st["max_d"]
    K = d.size
    # each time's censored rows and deaths summed apart, in row order from 0, then both
    # added to the risk-set sums time after time (the loop's order; a time of one row
    # goes straight in there, the same doubles up to the sign of a zero)
    cens = _levels(sums[st["cens_rows"]], st["cens_block"], st["cens_level"], B, st["max_c"])
    tied_block = np.zeros((B, sums.shape[1]))
    tied_block[st["event_block"]] = _levels(sums[rows], group, level, K, max_d)
    risk = np.cumsum(cens + tied_block, axis=0)[st["event_block"]]
    s0, s1, s2 = risk[:, 0], risk[:, 1:1 + p], risk[:, 1 + p:].reshape(K, p, p)
    tied = tied_block[st["event_block"]]
    d0, d1, d2 = tied[:, 0], tied[:, 1:1 + p], tied[:, 1 + p:].reshape(K, p, p)
    xsum = _levels(x[rows], group, level, K, max_d)

    # Efron's steps l = 0 .. d-1 of every event time, in the loop's order, and the
    # loop's five sums over them (a, b, c, e, g)
    k_of = np.repeat(np.arange(K), d)
    step = np.arange(k_of.size) - np.repeat(np.cumsum(d) - d, d)
    f = step / d[k_of] if efron else np.zeros(step.size)
    den = s0[k_of] - f * d0[k_of]
    log_term = np.fromiter(map(_log, den.tolist()), float, den.size) + shift
    inv = 1.0 / den
    a, b, c, e, g = _levels(np.column_stack([inv, f * inv, inv * inv, f * inv * inv,
                                             f * f * inv * inv]),
                            k_of, step, K, max_d).T

    # Each event time adds its deaths' terms, then subtracts one term per step:
    # laid out in that order, a running sum reproduces the loop's accumulator.
    first_of_k = np.cumsum(d) - d           # index of step 0 of time k among the steps
    pos_dead = 2 * first_of_k[group] + level  # time k occupies 2 d_k slots: deaths, then steps
    pos_step = 2 * first_of_k[k_of] + d[k_of] + step
    seq = np.empty(2 * k_of.size)
    seq[pos_dead] = lp[rows]
    seq[pos_step] = -log_term
    loglik = float(np.cumsum(seq)[-1]) if seq.size else 0.0

    # one death at a time: its risk set's mean and variance directly (the loop adds
    # sum x, then subtracts the mean); more: the closed form in the five sums
    one = d == 1
    u = xsum - (s1 * a[:, None] - d1 * b[:, None])
    outer = lambda y, z: y[:, :, None] * z[:, None, :]   # noqa: E731 (y_j z_m, as the loop)
    v = (s2 * a[:, None, None] - d2 * b[:, None, None]
         - (outer(s1, s1) * c[:, None, None] - (outer(s1, d1) + outer(d1, s1)) * e[:, None, None]
            + outer(d1, d1) * g[:, None, None]))
    mean1 = s1[one] / s0[one, None]
    u[one] = xsum[one] - mean1
    v[one] = (s2[one] - 0.0 * d2[one]) / s0[one, None, None] - outer(mean1, mean1)
    slots = np.where(one, 2, 1)                      # the score's additions per time
    at = np.cumsum(slots) - slots
    seq = np.empty((int(slots.sum()), p))
    seq[at[~one]] = u[~one]
    seq[at[one]] = xsum[one]
    seq[at[one] + 1] = -mean1
    score = np.cumsum(seq, axis=0)[-1] if K else np.zeros(p)
    info = np.cumsum(v, axis=0)[-1] if K else np.zeros((p, p))
    lower = np.tril_indices(p, -1)
    info[lower[1], lower[0]] = info[lower]

    rows_t = n_times if per_time else 0
    score_t = np.zeros((rows_t, p))
    info_t = np.zeros((rows_t, p, p))
    if per_time and K:
        score_t = u
        info_t = v
        info_t[:, lower[1], lower[0]] = info_t[:, lower[0], lower[1]]
    return loglik, score, info, score_t, info_t
