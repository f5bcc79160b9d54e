"""A progress bar for resampling loops (bootstrap, cross-validation, simulation)."""

from __future__ import annotations

import sys


def progress(iterable, total: int, desc: str, enabled: bool):
    """A tqdm progress bar on stderr (the terminal under Snakemake), or nothing."""
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, mininterval=1.0,
                ascii=True, dynamic_ncols=False, ncols=80)


def ordered_map(fn, tasks, threads: int = 1):
    """``fn`` over ``tasks`` on up to ``threads`` threads, results in task order.

    The tasks are drawn lazily, one window of ``2 * threads`` at a time, so that a
    generator of bootstrap indices is neither materialised at once nor drawn in
    another order: with the same tasks the results are identical for any number of
    threads. Threads (not processes) suffice because the compiled Efron and
    concordance loops release the GIL (numba ``nogil``).
    """
    if threads <= 1:
        for task in tasks:
            yield fn(task)
        return
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        window = deque()
        for task in tasks:
            window.append(pool.submit(fn, task))
            if len(window) >= 2 * threads:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
