"""Normal and chi-square tail and quantile functions without importing scipy.

Every Snakemake job that reports a p-value or a confidence interval needs the
normal quantile, the normal upper tail or the chi-square upper tail, and
importing ``scipy.special`` for them costs 0.15-0.2 s per job (its array-API
layer imports ``numpy.f2py`` and ``numpy.testing``), more than many jobs' work.
So they are computed here from the standard library's special functions and
textbook formulas, each to within a few units in the last place of
``scipy.special`` (tests/survival/test_distributions.py checks them against R's
``qnorm``, ``pnorm`` and ``pchisq``, and against scipy):

* :func:`norm_ppf`: Wichura's algorithm AS 241 (PPND16, Applied Statistics
  1988;37:477-484), relative error about 1e-16; the algorithm of R's ``qnorm``
  and of Python's ``statistics.NormalDist.inv_cdf``, vectorised here.
* :func:`norm_sf`: ``erfc(x / sqrt 2) / 2`` with the C library's ``erfc``, as
  R's ``pnorm(lower.tail = FALSE)`` and ``scipy.special.ndtr`` define it.
* :func:`chi2_sf` for whole degrees of freedom: the finite series of the
  regularised upper incomplete gamma function at half-integer shape
  (Abramowitz & Stegun 26.4.4 and 26.4.5), summed in positive terms.

A fractional chi-square df and the t quantile (used only by the
random-effects prediction interval) call ``scipy.special`` on first use.
"""

from __future__ import annotations

import functools
import math

import numpy as np

# AS 241 (PPND16) coefficients: numerator a, denominator b of the central region
# |q - 0.5| <= 0.425; c/d for r = sqrt(-log(min(q, 1 - q))) <= 5; e/f beyond.
_A = (3.387132872796366608, 133.14166789178437745, 1971.5909503065514427,
      13731.693765509461125, 45921.953931549871457, 67265.770927008700853,
      33430.575583588128105, 2509.0809287301226727)
_B = (1.0, 42.313330701600911252, 687.1870074920579083, 5394.1960214247511077,
      21213.794301586595867, 39307.89580009271061, 28729.085735721942674,
      5226.495278852545925)
_C = (1.42343711074968357734, 4.6303378461565452959, 5.7694972214606914055,
      3.64784832476320460504, 1.27045825245236838258, 0.24178072517745061177,
      0.0227238449892691845833, 7.7454501427834140764e-4)
_D = (1.0, 2.05319162663775882187, 1.6763848301838038494, 0.68976733498510000455,
      0.14810397642748007459, 0.0151986665636164571966, 5.475938084995344946e-4,
      1.05075007164441684324e-9)
_E = (6.6579046435011037772, 5.4637849111641143699, 1.7848265399172913358,
      0.29656057182850489123, 0.026532189526576123093, 0.0012426609473880784386,
      2.71155556874348757815e-5, 2.01033439929228813265e-7)
_F = (1.0, 0.59983220655588793769, 0.13692988092273580531, 0.0148753612908506148525,
      7.868691311456132591e-4, 1.8463183175100546818e-5, 1.4215117583164458887e-7,
      2.04426310338993978564e-15)


def _poly(coefs, x):
    """coefs[0] + coefs[1] x + ... by Horner's rule (floats or arrays)."""
    out = coefs[-1]
    for c in coefs[-2::-1]:
        out = out * x + c
    return out


@functools.lru_cache(maxsize=64)
def _ppf(q: float) -> float:
    """AS 241 for one probability, in Python floats (the common case: a CI's z, asked
    for the same few levels by every table: remembered)."""
    if not 0.0 < q < 1.0:
        return -math.inf if q == 0.0 else math.inf if q == 1.0 else math.nan
    dq = q - 0.5
    if abs(dq) <= 0.425:
        r = 0.180625 - dq * dq
        return dq * _poly(_A, r) / _poly(_B, r)
    r = math.sqrt(-math.log(min(q, 1.0 - q)))
    val = (_poly(_C, r - 1.6) / _poly(_D, r - 1.6) if r <= 5.0
           else _poly(_E, r - 5.0) / _poly(_F, r - 5.0))
    return -val if dq < 0 else val


def norm_ppf(q):
    """Standard normal quantile (R ``qnorm``; ``scipy.stats.norm.ppf``).

    Wichura's AS 241. ``q`` of 0 and 1 give -inf and inf; outside [0, 1], NaN.
    A scalar is computed in Python floats, an array by the same formulas in numpy
    (whose ``log`` may differ from the C library's in the last bit).

    Examples
    --------
    >>> print(f"{norm_ppf(0.975):.12f}")
    1.959963984540
    """
    if np.ndim(q) == 0:
        return np.float64(_ppf(float(q)))
    q = np.asarray(q, dtype=float)
    dq = q - 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        rc = 0.180625 - dq * dq
        central = dq * _poly(_A, rc) / _poly(_B, rc)
        r = np.sqrt(-np.log(np.minimum(q, 1.0 - q)))
        tail = np.where(r <= 5.0, _poly(_C, r - 1.6) / _poly(_D, r - 1.6),
                        _poly(_E, r - 5.0) / _poly(_F, r - 5.0))
    out = np.where(np.abs(dq) <= 0.425, central, np.copysign(tail, dq))
    out = np.where((q > 0) & (q < 1), out, np.nan)
    out[q == 0] = -np.inf
    out[q == 1] = np.inf
    return out


_erfc = np.frompyfunc(math.erfc, 1, 1)


def norm_sf(x):
    """Standard normal upper tail P(Z > x) (R ``pnorm(lower.tail = FALSE)``).

    Examples
    --------
    >>> round(float(2 * norm_sf(1.959963984540054)), 12)
    0.05
    """
    if np.ndim(x) == 0:
        return np.float64(0.5 * math.erfc(float(x) / math.sqrt(2.0)))
    x = np.asarray(x, dtype=float)
    return 0.5 * np.asarray(_erfc(x / math.sqrt(2.0)), dtype=float)


def _chi2_sf_whole(x: float, k: int) -> float:
    """P(X > x), X chi-square on ``k`` (whole) degrees of freedom.

    Q(k/2, x/2) = exp(-x/2) sum_{j<k/2} (x/2)^j / j!                  (k even)
                = erfc(sqrt(x/2)) + exp(-x/2) sum_{j<(k-1)/2} (x/2)^(j+1/2) / Gamma(j+3/2)
                                                                         (k odd)
    Beyond x/2 = 700 the terms are taken in logs so that exp(-x/2) does not underflow
    before the sum has grown.
    """
    if math.isnan(x):
        return math.nan
    if x <= 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    h = x / 2.0
    odd = k % 2 == 1
    n_terms = (k - 1) // 2 if odd else k // 2
    head = math.erfc(math.sqrt(h)) if odd else 0.0
    if n_terms == 0:
        return head
    if h <= 700.0:
        term = math.sqrt(h) / math.gamma(1.5) if odd else 1.0
        total = term
        for j in range(1, n_terms):
            term *= h / (j + 0.5 if odd else j)
            total += term
        return head + math.exp(-h) * total
    log_h = math.log(h)
    shift = 0.5 if odd else 0.0
    total = math.fsum(math.exp(-h + (j + shift) * log_h - math.lgamma(j + shift + 1.0))
                      for j in range(n_terms))
    return head + total


def chi2_sf(x, df):
    """Chi-square upper tail P(X > x) on ``df`` degrees of freedom (R ``pchisq(lower.tail = FALSE)``).

    Whole ``df`` by the finite series of the incomplete gamma function; a
    fractional ``df`` by ``scipy.special.chdtrc``.

    Examples
    --------
    >>> round(float(chi2_sf(3.841458820694124, 1)), 12)
    0.05
    >>> round(float(chi2_sf(5.991464547107979, 2)), 12)
    0.05
    """
    if np.ndim(x) == 0 and np.ndim(df) == 0:
        d = float(df)
        if 1 <= d < 1e6 and d == round(d):  # (a NaN df fails the comparisons)
            return np.float64(_chi2_sf_whole(float(x), int(d)))
    x_arr = np.asarray(x, dtype=float)
    df_arr = np.asarray(df, dtype=float)
    xb, dfb = np.broadcast_arrays(x_arr, df_arr)
    whole = (dfb == np.round(dfb)) & (dfb >= 1) & (dfb < 1e6)
    if not whole.all():
        from scipy import special  # fractional df only

        out = np.asarray(special.chdtrc(dfb, xb), dtype=float)
    else:
        out = np.empty(xb.shape)
    for idx in zip(*np.nonzero(whole)) if xb.ndim else ([()] if whole else []):
        out[idx] = _chi2_sf_whole(float(xb[idx]), int(dfb[idx]))
    return out[()] if xb.ndim == 0 else out


def t_ppf(q, df):
    """Student t quantile on ``df`` degrees of freedom (``scipy.stats.t.ppf``; R ``qt``)."""
    from scipy import special  # the one caller is the random-effects prediction interval

    return special.stdtrit(df, q)
