"""Restricted (natural) cubic spline basis, Harrell's parametrisation."""

from __future__ import annotations

import numpy as np


def rcs_basis(x, knots) -> np.ndarray:
    """Restricted cubic spline basis without intercept, as ``rms::rcspline.eval``.

    Columns: ``x`` and, for each of the first ``k - 2`` knots, Harrell's truncated
    cubic term scaled by the squared knot span. It spans the natural cubic splines
    with these knots (linear beyond the outer ones), the space of R's
    ``splines::ns`` with the same boundary and interior knots.

    Examples
    --------
    >>> rcs_basis(np.array([0.0, 1.0, 2.0, 3.0]), [0.0, 1.0, 3.0]).round(4).tolist()
    [[0.0, 0.0], [1.0, 0.1111], [2.0, 0.7222], [3.0, 1.6667]]
    """
    x = np.asarray(x, float)
    k = np.asarray(knots, float)
    norm = (k[-1] - k[0]) ** 2 or 1.0
    cols = [x]
    for j in range(len(k) - 2):
        term = (np.maximum(x - k[j], 0) ** 3
                - np.maximum(x - k[-2], 0) ** 3 * (k[-1] - k[j]) / (k[-1] - k[-2])
                + np.maximum(x - k[-1], 0) ** 3 * (k[-2] - k[j]) / (k[-1] - k[-2]))
        cols.append(term / norm)
    return np.column_stack(cols)
