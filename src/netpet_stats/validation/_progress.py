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
