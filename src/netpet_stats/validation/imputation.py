"""Multiple imputation of missing predictors by chained equations (MICE).

Each incomplete variable is imputed in turn from all the others by its own model,
the imputations cycling ``iterations`` times (van Buuren & Groothuis-Oudshoorn 2011;
White, Royston & Wood 2011):

* continuous: predictive mean matching (R ``mice.impute.pmm``), on the scale the
  analysis model uses (log2 for a log2-transformed predictor): a Bayesian linear
  regression draw, then one of the 5 observed values whose fitted values (at the
  least-squares estimate, "type 1 matching") are nearest the missing row's prediction
  (at the drawn parameters); the imputed value is the donor's own, so it always is a
  value that was observed;
* binary: logistic regression (``mice.impute.logreg``);
* nominal: multinomial logistic regression (``mice.impute.polyreg``);
* ordered categories (e.g. WHO grade): proportional-odds logistic regression
  (``mice.impute.polr``).

The categorical models draw their parameters from the normal approximation to their
posterior and are fitted with the White, Daniel & Royston (2010) augmentation mice
uses (``mice:::augment``: ``2 p k`` pseudo-records of total weight ``p + 1`` at each
predictor's mean +/- sd/2), which keeps a draw finite under perfect prediction. Time
to event enters every imputation model as the event indicator and the Nelson-Aalen
cumulative hazard at the subject's own time, with the hazard's products with the complete
predictors (:func:`hazard_interactions`; White & Royston 2009); complete
categorical predictors (a centre, a score group) enter as fixed effects.

Where statsmodels is reused and where not: statsmodels' ``MICEData`` drives chained
equations for numeric columns only, and each of its imputations is a predictive mean
match whose donors and recipients are both predicted at the same perturbed parameters
("type 2" matching, which van Buuren 2018 sec. 3.4.2 advises against for few
predictors) from NumPy's global random state, so imputations cannot run in parallel
processes from seeds of their own; it has no logistic, multinomial or
proportional-odds imputation. The chain is therefore written here. The linear and
logistic models are statsmodels' (``OLS``, whose pseudo-inverse least squares is
repeated here in NumPy to spare each process the import; ``GLM`` binomial with the
augmentation as ``var_weights``, as R's ``glm(weights = )``); its ``MNLogit`` and ``OrderedModel`` take
no case weights (and the latter differentiates numerically, 0.5 s a fit), so the
multinomial and cumulative-logit likelihoods are maximised here by Newton-Raphson with
their analytic derivatives.

Each imputation draws from its own ``numpy.random.Generator`` seeded by
``SeedSequence(seed).spawn(m)``: imputation ``i`` is the same whatever the number of
worker processes and whichever process runs it, so reruns are byte-identical.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..survival.kaplan_meier import _km_counts

METHODS = ("pmm", "logreg", "polyreg", "polr")
DONORS = 5  # mice's default number of donors for predictive mean matching

IMPUTATION_METHOD = (
    "multiple imputation by chained equations (van Buuren & Groothuis-Oudshoorn 2011; "
    "White, Royston & Wood 2011): predictive mean matching (5 donors, type 1 matching) for "
    "continuous predictors on the model's scale, logistic regression for binary, "
    "multinomial logistic for nominal and proportional-odds logistic for ordered ones "
    "(augmented as White, Daniel & Royston 2010); each endpoint's event indicator, "
    "Nelson-Aalen cumulative hazard and the hazard's interactions with the complete "
    "predictors as predictors (White & Royston 2009)")


@dataclass
class Target:
    """An incomplete variable and how it is imputed.

    ``method`` is one of :data:`METHODS` (R mice's names); ``levels`` the categories of
    a categorical variable in order (the first is the reference when it predicts
    another; for ``polr`` the order of the scale); ``transform`` ``"log2"`` imputes a
    continuous variable on the log2 scale of ``log2(max(x, floor))`` (as the model
    uses it); the imputed value is an observed donor's own value.
    """

    method: str
    levels: list[str] = field(default_factory=list)
    transform: str | None = None
    floor: float = 1.0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"imputation method {self.method!r}: expected one of {METHODS}")


def target_from_covariate(spec: dict, ordered: bool = False) -> Target:
    """The imputation model of a covariate coded as :func:`survival.cox.design_matrix` does.

    ``continuous`` -> pmm (on the log2 scale when ``transform: log2``), ``binary`` ->
    logreg, ``categorical`` -> polr when ``ordered`` else polyreg.
    """
    kind = spec.get("type", "continuous")
    if kind == "continuous":
        return Target("pmm", transform=spec.get("transform") if spec.get("transform") == "log2"
                      else None, floor=float(spec.get("floor", 1.0)))
    levels = [str(v) for v in spec.get("levels", [])]
    if kind == "binary":
        return Target("logreg", levels=levels)
    return Target("polr" if ordered else "polyreg", levels=levels)


def default_m(fraction_incomplete: float) -> int:
    """Number of imputations: at least 20, else 100 x the fraction of incomplete rows.

    White, Royston & Wood (2011) sec. 7.3: ``m`` at least the percentage of incomplete
    cases, so that the Monte Carlo error of a pooled estimate stays about a tenth of its
    SE. Halves are rounded up (R ``round`` would round 22.5 to 22).
    """
    return max(20, int(math.floor(100 * float(fraction_incomplete) + 0.5)))


def nelson_aalen(time, event) -> np.ndarray:
    """Nelson-Aalen cumulative hazard at each subject's own time.

    ``H(t) = sum over event times s <= t of d(s) / n(s)`` (tied events all counted at
    their time, R ``survfit(ctype = 1)``); White & Royston (2009) show it, with the
    event indicator, is the outcome to put in the imputation model of a Cox analysis.
    """
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    times, n_risk, n_event = _km_counts(time, event)[:3]
    cum = np.cumsum(n_event / n_risk)
    return cum[np.searchsorted(times, time, side="left")]


def hazard_interactions(data: pd.DataFrame, hazards: list[str], numeric: list[str] = (),
                        factors: list[str] = ()) -> pd.DataFrame:
    """The products of each cumulative hazard with each complete predictor.

    Under a Cox model ``h(t | x, z) = h0(t) exp(b x + g'z)`` the density of an incomplete
    ``x`` given the outcome and complete ``z`` is, up to a constant, ``p(x | z) exp(D b x
    - H0(T) exp(b x + g'z))``: the cumulative hazard enters multiplied by ``exp(g'z)``.
    White & Royston (2009, sec. 3-4) therefore put ``D``, ``H0(T)`` and, when the complete
    covariates affect the hazard, their interactions ``z x H0(T)`` in the imputation
    model. Each column of the result is one hazard (e.g. :func:`nelson_aalen`) times
    one complete numeric predictor, or times the indicator of one non-reference level
    of a complete categorical one (the levels as :func:`impute` codes them), named
    ``"<hazard>:<predictor>"`` or ``"<hazard>:<factor>[<level>]"``.

    Examples
    --------
    >>> d = pd.DataFrame({"H": [0.1, 0.2, 0.4], "age": [50.0, 60.0, 70.0],
    ...                   "centre": ["A", "B", "A"]})
    >>> hazard_interactions(d, ["H"], ["age"], ["centre"]).round(6).to_dict("list")
    {'H:age': [5.0, 12.0, 28.0], 'H:centre[B]': [0.0, 0.2, 0.0]}
    """
    columns = {}
    for h in hazards:
        hv = data[h].to_numpy(float)
        for name in numeric:
            columns[f"{h}:{name}"] = hv * data[name].to_numpy(float)
        for name in factors:
            lv = _levels(data[name], [str(c) for c in data[name].cat.categories]
                         if isinstance(data[name].dtype, pd.CategoricalDtype) else [])
            for key, ind in _dummies(data[name], lv, name).items():
                columns[f"{h}:{key}"] = hv * ind
    return pd.DataFrame(columns, index=data.index)


# --------------------------------------------------------------------------------------
# Design of each conditional model
# --------------------------------------------------------------------------------------


def _dummies(values: pd.Series, levels: list[str], name: str) -> dict[str, np.ndarray]:
    text = values.astype(str).to_numpy()
    return {f"{name}[{lv}]": (text == lv).astype(float) for lv in levels[1:]}


def _levels(values: pd.Series, declared: list[str]) -> list[str]:
    present = set(values.dropna().astype(str))
    if declared:
        return [lv for lv in declared if lv in present]
    return sorted(present)


def _independent(X: np.ndarray) -> np.ndarray:
    """Columns of ``X`` kept so that none is a linear combination of the others.

    As mice's ``remove.lindep`` in spirit (R drops them before each conditional fit): a
    pivoted QR keeps the columns in the order the pivoting ranks them, up to the rank
    (the diagonal of R above ``1e-7`` times its first element), after the constant
    columns are dropped and the others standardised.

    The QR is needed only when some column may go. Every ``|r_jj|`` is at least the
    smallest singular value of the standardised columns, ``sqrt(n l)`` with ``l`` the
    smallest eigenvalue of their correlation matrix, and ``|r_11|``, the largest column
    norm, is ``sqrt(n)``; so ``l > 1e-6`` means every ``|r_jj| > 1e-3 |r_11|``, far
    above the QR's ``1e-7`` and the rounding of either computation, and every column
    is kept without the QR. The correlation matrix is a ``p x p`` product (the
    imputation models' predictors have ``l`` near 0.007 on the registry benchmark);
    the pivoted QR, and SciPy's import, only when it is below.
    """
    if X.shape[1] == 0:
        return np.zeros(0, int)
    sd = X.std(axis=0)
    keep = np.nonzero(sd > 1e-12)[0]  # a constant column carries nothing beyond the intercept
    if len(keep) == 0:
        return keep
    sub = X[:, keep]
    sub = (sub - sub.mean(axis=0)) / sub.std(axis=0)
    if np.linalg.eigvalsh(sub.T @ sub / len(sub))[0] > 1e-6:
        return keep
    from scipy.linalg import qr

    _, r, piv = qr(sub, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > 1e-7 * diag[0])) if len(diag) else 0
    return np.sort(keep[piv[:rank]])


def _augment(X: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """White, Daniel & Royston (2010) pseudo-records, as R ``mice:::augment``.

    ``X`` has no intercept column; ``y`` holds codes ``0..k-1``. Returns the augmented
    predictors, outcome codes and weights (1 for real rows, ``(p + 1) / (2 p k)`` for
    the pseudo-records).
    """
    n, p = X.shape
    if p == 0:
        return X, y, np.ones(n)
    mean, sd = X.mean(axis=0), X.std(axis=0, ddof=1)
    nr = 2 * p * k
    d = np.repeat(mean[None, :], nr, axis=0)
    for j in range(p):  # block j: predictor j at mean +/- sd/2, every category twice
        rows = slice(2 * k * j, 2 * k * (j + 1))
        d[rows, j] += np.tile([0.5, -0.5], k) * sd[j]
    d = np.clip(d, X.min(axis=0), X.max(axis=0))
    e = np.tile(np.repeat(np.arange(k), 2), p)
    return (np.vstack([X, d]), np.concatenate([y, e]),
            np.concatenate([np.ones(n), np.full(nr, (p + 1) / nr)]))


def _draw_normal(rng: np.random.Generator, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """One draw from N(mean, cov) by the (symmetrised, jittered if needed) Cholesky factor."""
    cov = (cov + cov.T) / 2
    jitter = 0.0
    for _ in range(8):
        try:
            chol = np.linalg.cholesky(cov + jitter * np.eye(len(mean)))
            break
        except np.linalg.LinAlgError:
            jitter = max(jitter * 10, 1e-10 * float(np.mean(np.abs(np.diag(cov)))) or 1e-10)
    else:
        raise np.linalg.LinAlgError("covariance of the imputation model is not positive "
                                    "definite")
    return mean + chol @ rng.standard_normal(len(mean))


# --------------------------------------------------------------------------------------
# The four imputation models
# --------------------------------------------------------------------------------------


def _least_squares(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Ordinary least squares by the pseudo-inverse, exactly as statsmodels ``OLS().fit()``.

    The same operations as statsmodels 0.14's ``pinv_extended`` (singular values below
    ``1e-15`` times the largest set to zero), so the same doubles, without importing
    statsmodels (1.5-2 s a process, most of an imputation job on a few hundred
    patients). Returns the coefficients (``params``), ``(X'X)^-1`` as ``pinv(X)
    pinv(X)'`` (``normalized_cov_params``) and the residual sum of squares (``ssr``).
    """
    u, s, vt = np.linalg.svd(X, False)
    cutoff = 1e-15 * np.maximum.reduce(s)
    inv = np.where(s > cutoff, 1.0 / np.where(s > cutoff, s, 1.0), 0.0)
    pinv = np.dot(np.transpose(vt), np.multiply(inv[:, np.newaxis], np.transpose(u)))
    beta = np.dot(pinv, y)
    resid = y - np.dot(X, beta)
    return beta, np.dot(pinv, np.transpose(pinv)), float(np.dot(resid, resid))


def _impute_pmm(rng, y_obs, X_obs, X_mis, donors_values):
    """Predictive mean matching with a Bayesian linear regression draw (mice .norm.draw)."""
    Xo = np.column_stack([np.ones(len(X_obs)), X_obs])
    Xm = np.column_stack([np.ones(len(X_mis)), X_mis])
    params, normalized_cov, ssr = _least_squares(np.asarray(y_obs, float), Xo)
    df = max(len(y_obs) - Xo.shape[1], 1)
    sigma = math.sqrt(ssr / rng.chisquare(df))
    beta = _draw_normal(rng, params, normalized_cov * sigma ** 2)
    yhat_obs = Xo @ params
    yhat_mis = Xm @ beta
    k = min(DONORS, len(y_obs))
    order = np.argsort(yhat_obs, kind="stable")
    nearest = _nearest_all(yhat_obs, order, yhat_obs[order], yhat_mis, k)
    # one scalar draw a recipient, in their order, as mice's loop (and as before): an
    # array draw of rng.integers takes other bits of the stream
    pick = np.array([rng.integers(k) for _ in range(len(yhat_mis))], dtype=int)
    return donors_values[nearest[np.arange(len(yhat_mis)), pick]]


def _nearest(values: np.ndarray, order: np.ndarray, sorted_values: np.ndarray, target: float,
             k: int) -> np.ndarray:
    """The ``k`` rows whose ``values`` are nearest ``target``, nearest first, equal
    distances in row order: ``np.argsort(np.abs(values - target), kind="stable")[:k]``.

    Found among the ``k`` sorted values on each side of ``target`` (``order`` sorts
    ``values`` into ``sorted_values``), widened over values as far as the ``k``-th distance (ties), so in
    O(k + log n) instead of sorting every row's distance for each recipient (a 10^5
    cohort with a quarter missing spent hours on it).
    """
    n = len(order)
    if n <= 4 * k + 8:
        return np.argsort(np.abs(values - target), kind="stable")[:k]
    pos = int(np.searchsorted(sorted_values, target, side="left"))
    lo, hi = max(pos - k, 0), min(pos + k, n)
    kth = np.sort(np.abs(sorted_values[lo:hi] - target))[k - 1]
    # every row outside [lo, hi) is at least as far as the k-th distance: the distance
    # falls (left of target) or grows (right of it) monotonically along the sorted values
    while lo > 0 and abs(sorted_values[lo - 1] - target) <= kth:
        lo -= 1
    while hi < n and abs(sorted_values[hi] - target) <= kth:
        hi += 1
    rows = order[lo:hi]
    distance = np.abs(values[rows] - target)
    return rows[np.lexsort((rows, distance))[:k]]


def _nearest_all(values: np.ndarray, order: np.ndarray, sorted_values: np.ndarray,
                 targets: np.ndarray, k: int) -> np.ndarray:
    """:func:`_nearest` for every one of ``targets`` at once: one row of ``k`` donors each.

    The ``k`` nearest values are a run of the sorted values beside ``target``'s place
    among them, so the ``2 k`` sorted values around it (shifted inwards at either end)
    hold them; their ``k``-th distance bounds the others. Unless a value just outside
    that window is as near as it (a tie with the ``k``-th, when many donors share a
    prediction; those recipients go to :func:`_nearest`), nothing outside can be among
    the nearest, and sorting the window by distance, then row, gives
    ``np.argsort(np.abs(values - target), kind="stable")[:k]``: the same donors as
    :func:`_nearest` recipient by recipient, without a Python call for each (most of
    predictive mean matching's time on 10^4 recipients).
    """
    n, m = len(order), len(targets)
    if n <= 4 * k + 8 or m == 0:
        return np.array([_nearest(values, order, sorted_values, t, k) for t in targets],
                        dtype=int).reshape(m, k)
    pos = np.searchsorted(sorted_values, targets, side="left")
    lo = np.clip(pos - k, 0, n - 2 * k)
    window = lo[:, None] + np.arange(2 * k)
    distance = np.abs(sorted_values[window] - targets[:, None])
    rows = order[window]
    kth = np.sort(distance, axis=1)[:, k - 1]
    # distances fall towards target and grow away from it along the sorted values, so
    # only the two values just outside the window can tie with (or beat) the k-th
    left = np.where(lo > 0, np.abs(sorted_values[np.maximum(lo - 1, 0)] - targets), np.inf)
    right_at = lo + 2 * k
    right = np.where(right_at < n,
                     np.abs(sorted_values[np.minimum(right_at, n - 1)] - targets), np.inf)
    nearest = np.take_along_axis(rows, np.lexsort((rows, distance), axis=1)[:, :k], axis=1)
    for i in np.nonzero((left <= kth) | (right <= kth))[0]:
        nearest[i] = _nearest(values, order, sorted_values, targets[i], k)
    return nearest


def _impute_logreg(rng, codes_obs, X_obs, X_mis):
    import statsmodels.api as sm

    Xa, ya, wa = _augment(X_obs, codes_obs, 2)
    Xa = np.column_stack([np.ones(len(Xa)), Xa])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(ya.astype(float), Xa, family=sm.families.Binomial(), var_weights=wa).fit()
    beta = _draw_normal(rng, fit.params, fit.cov_params())
    eta = np.column_stack([np.ones(len(X_mis)), X_mis]) @ beta
    prob = 1 / (1 + np.exp(-eta))
    return (rng.random(len(X_mis)) <= prob).astype(int)


def _newton(loglik, theta, max_iter: int = 50, tol: float = 1e-9):
    """Maximise a concave log likelihood by Newton-Raphson with step halving.

    ``loglik(theta, lazy=True)`` returns the log likelihood and a function of no
    arguments giving its gradient and Hessian there (:func:`_ordinal_derivs`,
    :func:`_multinomial_derivs`). The derivatives are computed only at the points the
    iteration accepts: a trial step that is halved (in a nearly separated
    proportional-odds fit, 9 in 10 of them: the log likelihood is -inf where a row's
    probability underflows to 0) needs only its log likelihood, one O(n p) product
    and a few O(n) passes instead of the O(n p^2) Hessian. The iterates are the same
    as evaluating everything at every trial point. Returns the estimate and the
    inverse of the negative Hessian there (the covariance of the normal approximation
    to the posterior that the imputations draw from).
    """
    ll, derivatives = loglik(theta, lazy=True)
    grad, hess = derivatives()
    for _ in range(max_iter):
        step = np.linalg.solve(-hess, grad)
        for _ in range(30):
            new = theta + step
            ll_new, derivatives = loglik(new, lazy=True)
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12:
                break
            step = step / 2
        else:
            break
        done = abs(ll_new - ll) < tol * (abs(ll) + tol)
        theta, ll = new, ll_new
        grad, hess = derivatives()
        if done:
            break
    return theta, np.linalg.inv(-hess)


def _multinomial_derivs(X, Y, w):
    """Weighted multinomial logistic log likelihood (first category the reference)."""
    n, p = X.shape
    k = Y.shape[1]

    def loglik(theta, lazy=False):
        """``(ll, grad, hess)``; with ``lazy``, ``(ll, derivatives)`` (:func:`_newton`)."""
        B = theta.reshape(k - 1, p)
        eta = np.column_stack([np.zeros(n), X @ B.T])
        eta -= eta.max(axis=1, keepdims=True)
        logp = eta - np.log(np.exp(eta).sum(axis=1, keepdims=True))
        ll = float(np.sum(w * np.sum(Y * logp, axis=1)))

        def derivatives():
            P = np.exp(logp)[:, 1:]
            grad = ((Y[:, 1:] - P) * w[:, None]).T @ X
            hess = np.zeros((k - 1, p, k - 1, p))
            for a in range(k - 1):
                for b in range(k - 1):
                    c = P[:, a] * ((a == b) - P[:, b]) * w
                    hess[a, :, b, :] = -(X * c[:, None]).T @ X
            return grad.ravel(), hess.reshape((k - 1) * p, (k - 1) * p)

        return (ll, derivatives) if lazy else (ll, *derivatives())

    return loglik


def _impute_polyreg(rng, codes_obs, X_obs, X_mis, k):
    # statsmodels' MNLogit takes no case weights, which the augmentation needs: the
    # weighted multinomial likelihood is maximised here with its analytic derivatives.
    Xa, ya, wa = _augment(X_obs, codes_obs, k)
    Xa = np.column_stack([np.ones(len(Xa)), Xa])
    Y = np.eye(k)[ya]
    theta, cov = _newton(_multinomial_derivs(Xa, Y, wa), np.zeros((k - 1) * Xa.shape[1]))
    draw = _draw_normal(rng, theta, cov).reshape(k - 1, Xa.shape[1])
    eta = np.column_stack([np.zeros(len(X_mis)),
                           np.column_stack([np.ones(len(X_mis)), X_mis]) @ draw.T])
    prob = np.exp(eta - eta.max(axis=1, keepdims=True))
    return _sample_categories(rng, prob / prob.sum(axis=1, keepdims=True))


def _logistic(z):
    return 1 / (1 + np.exp(-z))


_CROSS_ROWS = 1024  # rows of X a block of _cross_weighted: 1024 x (p + k) doubles in cache


def _cross_weighted(X: np.ndarray, s: np.ndarray, V: np.ndarray, block: np.ndarray) -> np.ndarray:
    """``X' [diag(s) X, V]``: ``p x (p + q)``, summed over blocks of rows.

    Each block of ``X`` times its weights is written into ``block`` (reused) and
    multiplied while it is in cache, instead of forming the ``n x p`` matrix
    ``diag(s) X`` in memory, which at 10^5 rows made the product twice as slow; the
    right-hand columns ``V`` (the gradient's weights, the cut-point indicators) go in
    the same product. The same sums, in blocks.
    """
    n, p = X.shape
    q = V.shape[1]
    out = np.zeros((p, p + q))
    rows = block.shape[0]
    for start in range(0, n, rows):
        Xb = X[start:start + rows]
        b = block[:len(Xb)]
        np.multiply(Xb, s[start:start + rows, None], out=b[:, :p])
        b[:, p:] = V[start:start + rows]
        out += Xb.T @ b
    return out


def _ordinal_derivs(X, y, w, k):
    """Weighted proportional-odds (cumulative logit) log likelihood, as R ``MASS::polr``.

    ``P(Y <= j) = F(a_j - x'b)``; parameters ``(b, a_0 .. a_{k-2})``. With ``u = a_y -
    x'b`` and ``l = a_{y-1} - x'b`` each row's probability ``P = F(u) - F(l)``, whose
    derivatives in the parameters are ``f(u) du - f(l) dl`` and ``f'(u) du du' - f'(l)
    dl dl'`` (``du = (-x, e_y)``, ``dl = (-x, e_{y-1})``, ``f = F (1 - F)``, ``f' = f
    (1 - 2F)``; ``du = 0`` in the top category, ``dl = 0`` in the bottom one). The log
    likelihood's gradient is ``sum w g`` with ``g = (f(u) du - f(l) dl) / P`` and its
    Hessian ``sum w [(f'(u) du du' - f'(l) dl dl') / P - g g']``.

    Every ``du`` and ``dl`` is ``-x`` beside an indicator, so the Hessian is summed in
    blocks rather than over dense ``n x (p + k - 1)`` rows: ``X' diag(s) X`` for the
    slopes, ``X' E`` (``E``: ``n x (k - 1)``, one or two weights a row) between slopes
    and cut-points, and per-category sums for the tridiagonal cut-point block; about
    ``n p^2`` operations instead of ``3 n (p + k - 1)^2``, and no ``n x (p + k - 1)``
    temporaries. The same sums as the dense formulation, in another order (equal to
    rounding; the tests check one against the other).
    """
    n, p = X.shape
    upper = y < k - 1             # rows whose u is finite (du != 0)
    lower = y > 0                 # rows whose l is finite (dl != 0)
    both = upper & lower
    cut_u, cut_l = y[upper], y[lower] - 1   # the cut-point of u, of l
    rows_u, rows_l = np.nonzero(upper)[0], np.nonzero(lower)[0]
    pair = y[both] - 1            # a row with both has a_{y-1} and a_y: the pair (j, j+1)
    # Rows whose probability has come out 0 at some trial point. In a nearly separated
    # fit (grade given log2 Ki-67) it is nearly always the same row, a pseudo-record of
    # the augmentation in a category the data make impossible: F(u) - F(l) with F(l)
    # rounded to 1, the step halving pressing l towards 53 log 2 = 36.74, where it
    # stops rounding. Those few rows are looked at first, and a point where one of
    # them has l > 53 log 2 (F(l) = F(u) = 1 in doubles: exp(-l) < 2^-53, half the
    # spacing of doubles at 1, and 1 + exp(-l) rounds to 1) or u < -709.79 (F(u) =
    # F(l) = 0: exp(-u) overflows) is rejected without the n rows' eta = X b (at 10^5
    # rows, streaming X from memory) and their logistic functions. These rows' eta is
    # computed apart from the others' (another BLAS call, possibly another order of
    # summation), so the bounds are widened by 4 times the rounding error bound of a
    # dot product of p terms, (p + 2) eps sum |x_j b_j| (and of the cut-point):
    # beyond them both computations give a zero probability, and the full one would
    # reject the point too. The iterates are the same.
    edge_one = 53 * math.log(2)
    edge_zero = -math.log(np.finfo(float).max)
    watch = np.zeros(0, dtype=int)
    X_watch = X[watch]
    block = np.empty((min(n, _CROSS_ROWS), p + k))   # _cross_weighted's, for every point

    def loglik(theta, lazy=False):
        """``(ll, grad, hess)``; with ``lazy``, ``(ll, derivatives)`` (:func:`_newton`).

        ``ll`` is ``-inf`` (no derivatives) where the cut-points are not increasing or
        a row's probability is 0.
        """
        nonlocal watch, X_watch
        b, a = theta[:p], theta[p:]
        if np.any(np.diff(a) <= 0):
            return (-np.inf, None) if lazy else (-np.inf, None, None)
        cuts = np.concatenate([[-np.inf], a, [np.inf]])
        if len(watch):
            seen, code = X_watch @ b, y[watch]
            slack = 4 * (p + 2) * np.finfo(float).eps * (np.abs(X_watch) @ np.abs(b)
                                                          + np.abs(a).max())
            if np.any((cuts[code] - seen - slack > edge_one)
                      | (cuts[code + 1] - seen + slack < edge_zero)):
                return (-np.inf, None) if lazy else (-np.inf, None, None)
        eta = X @ b
        Fu = _logistic(cuts[y + 1] - eta)
        Fl = _logistic(cuts[y] - eta)
        prob = Fu - Fl
        # a trial step that overshoots can leave a row's probability at 0 (its log
        # likelihood -inf): _newton rejects such a step and halves it, so the
        # division warnings it would print (in a large cohort's log) say nothing
        with np.errstate(divide="ignore", invalid="ignore"):
            ll = float(np.sum(w * np.log(prob)))
        if ll == -np.inf:
            if len(watch) < 64:
                watch = np.union1d(watch, np.nonzero(prob == 0)[0])[:64]
                X_watch = X[watch]
            return (-np.inf, None) if lazy else (-np.inf, None, None)

        def derivatives():
            # f and f' are 0 where F is 0 or 1 (u = +inf, l = -inf): those rows add
            # nothing to the terms of the missing du or dl
            fu, fl = Fu * (1 - Fu), Fl * (1 - Fl)
            gu, gl = fu / prob, fl / prob                       # g = gu du - gl dl
            cu, cl = w * (fu * (1 - 2 * Fu)) / prob, w * (fl * (1 - 2 * Fl)) / prob
            wd = w * (gu - gl)                                  # g's slope part is -x (gu - gl)
            # the columns X is multiplied by: x (cu - cl - w (gu - gl)^2) for the slopes'
            # block; w (gu - gl) for their gradient; and for the slopes x cut-points
            # block, -x e_y' (cu - w (gu - gl) gu) + x e_{y-1}' (cl - w (gu - gl) gl)
            s = cu - cl - wd * (gu - gl)
            E = np.zeros((n, k - 1))
            E[rows_u, cut_u] = (cu - wd * gu)[upper]
            E[rows_l, cut_l] = -(cl - wd * gl)[lower]
            cross = _cross_weighted(X, s, np.column_stack([wd, E]), block)
            grad = np.empty(p + k - 1)
            grad[:p] = -cross[:, p]
            grad[p:] = (np.bincount(cut_u, (w * gu)[upper], k - 1)
                        - np.bincount(cut_l, (w * gl)[lower], k - 1))
            hess = np.empty((p + k - 1, p + k - 1))
            hess[:p, :p] = cross[:, :p]
            hess[:p, p:] = -cross[:, p + 1:]
            hess[p:, :p] = hess[:p, p:].T
            # cut-points: e_y e_y' (cu - w gu^2) - e_{y-1} e_{y-1}' (cl + w gl^2)
            # + (e_y e_{y-1}' + e_{y-1} e_y') w gu gl
            aa = np.diag(np.bincount(cut_u, (cu - w * gu * gu)[upper], k - 1)
                         - np.bincount(cut_l, (cl + w * gl * gl)[lower], k - 1))
            off = np.bincount(pair, (w * gu * gl)[both], k - 2)
            aa[np.arange(k - 2), np.arange(1, k - 1)] = off
            aa[np.arange(1, k - 1), np.arange(k - 2)] = off
            hess[p:, p:] = aa
            return grad, hess

        return (ll, derivatives) if lazy else (ll, *derivatives())

    return loglik


def _impute_polr(rng, codes_obs, X_obs, X_mis, k):
    # statsmodels' OrderedModel takes no case weights and differentiates its likelihood
    # numerically (0.5 s a fit here, 20 imputations x 10 cycles of them): the weighted
    # cumulative-logit likelihood is maximised here with its analytic derivatives.
    Xa, ya, wa = _augment(X_obs, codes_obs, k)
    freq = np.array([wa[ya == j].sum() for j in range(k)]) / wa.sum()
    cum = np.clip(np.cumsum(freq)[:-1], 1e-6, 1 - 1e-6)
    start = np.concatenate([np.zeros(Xa.shape[1]), np.log(cum / (1 - cum))])
    theta, cov = _newton(_ordinal_derivs(Xa, ya.astype(int), wa, k), start)
    draw = _draw_normal(rng, theta, cov)
    p = Xa.shape[1]
    cuts = np.concatenate([[-np.inf], np.sort(draw[p:]), [np.inf]])
    cdf = _logistic(cuts[None, :] - (X_mis @ draw[:p])[:, None])
    return _sample_categories(rng, np.clip(np.diff(cdf, axis=1), 0, None))


def _sample_categories(rng, prob: np.ndarray) -> np.ndarray:
    """One category per row from its probabilities (mice: the first whose cumulative
    probability exceeds a uniform draw)."""
    cum = np.cumsum(prob / prob.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(prob))
    return np.minimum((u[:, None] > cum).sum(axis=1), prob.shape[1] - 1)


# --------------------------------------------------------------------------------------
# The chain
# --------------------------------------------------------------------------------------


@dataclass
class _Problem:
    data: pd.DataFrame
    targets: dict[str, Target]
    fixed: np.ndarray          # complete predictors, coded
    iterations: int


def _model_scale(values: np.ndarray, target: Target) -> np.ndarray:
    if target.transform == "log2":
        return np.log2(np.maximum(values, target.floor))
    return values


def _one_imputation(problem: _Problem, seed_seq: np.random.SeedSequence) -> pd.DataFrame:
    return _completed(problem, _draws(problem, seed_seq))


def _draws(problem: _Problem, seed_seq: np.random.SeedSequence) -> dict:
    """One imputation's values of the targets (numbers, or level codes with their
    levels): what a worker process sends back, instead of the whole completed frame
    (at 10^5 patients, every predictor column and its text pickled 20 times)."""
    rng = np.random.default_rng(seed_seq)
    data = problem.data
    missing = {name: data[name].isna().to_numpy() for name in problem.targets}
    # current values: continuous as raw numbers, categorical as level codes
    current, levels = {}, {}
    for name, target in problem.targets.items():
        col = data[name]
        if target.method == "pmm":
            current[name] = col.to_numpy(float).copy()
        else:
            levels[name] = _levels(col, target.levels)
            codes = np.full(len(col), -1)
            obs = ~missing[name]
            codes[obs] = [levels[name].index(v) for v in col[obs].astype(str)]
            current[name] = codes
        obs_values = current[name][~missing[name]]
        # mice's start: a random draw from the observed values
        current[name][missing[name]] = obs_values[rng.integers(len(obs_values),
                                                               size=missing[name].sum())]

    def coded(name):
        target = problem.targets[name]
        if target.method == "pmm":
            return _model_scale(current[name], target)[:, None]
        k = len(levels[name])
        return np.column_stack([(current[name] == j).astype(float) for j in range(1, k)]
                               or [np.zeros(len(data))])

    for _ in range(problem.iterations):
        for name, target in problem.targets.items():
            mis = missing[name]
            if not mis.any():
                continue
            others = [coded(o) for o in problem.targets if o != name]
            X = np.column_stack([problem.fixed, *others]) if others else problem.fixed
            obs = ~mis
            X_obs, X_mis = X[obs], X[mis]
            keep = _independent(X_obs)
            if len(keep) < X.shape[1]:  # else X_obs and X_mis are already the columns kept
                X_obs, X_mis = X_obs[:, keep], X_mis[:, keep]
            try:
                if target.method == "pmm":
                    raw = current[name][obs]
                    current[name][mis] = _impute_pmm(rng, _model_scale(raw, target), X_obs,
                                                     X_mis, raw)
                else:
                    k = len(levels[name])
                    y = current[name][obs]
                    if target.method == "logreg" or k == 2:
                        current[name][mis] = _impute_logreg(rng, y, X_obs, X_mis)
                    elif target.method == "polyreg":
                        current[name][mis] = _impute_polyreg(rng, y, X_obs, X_mis, k)
                    else:
                        current[name][mis] = _impute_polr(rng, y, X_obs, X_mis, k)
            except (np.linalg.LinAlgError, ValueError) as exc:
                raise ImputationError(
                    f"{name!r} ({target.method}, {int(obs.sum())} observed, {int(mis.sum())} "
                    f"missing): its imputation model could not be fitted ({exc})") from None
    return {name: (current[name], levels.get(name)) for name in problem.targets}


def _completed(problem: _Problem, draws: dict) -> pd.DataFrame:
    """The data with the targets' values of one imputation (:func:`_draws`)."""
    data = problem.data
    out = data.copy()
    for name, target in problem.targets.items():
        values, levels = draws[name]
        if target.method == "pmm":
            out[name] = values
        else:
            out[name] = pd.Series(np.asarray(levels, dtype=object)[values], index=data.index)
    return out


class ImputationError(ValueError):
    """An imputation model that cannot be fitted (named by variable, never by row)."""


_PROBLEM: _Problem | None = None  # the problem forked workers read (inherited, not pickled)


def _worker(seed_seq):
    return _draws(_PROBLEM, seed_seq)


def impute(data: pd.DataFrame, targets: dict[str, Target], predictors: list[str] = (),
           factors: list[str] = (), m: int = 20, iterations: int = 10, seed: int = 1,
           workers: int = 1) -> list[pd.DataFrame]:
    """``m`` completed copies of ``data`` by chained equations (R ``mice::mice``).

    Parameters
    ----------
    data
        One row per subject. Columns named in ``targets`` may be missing; every column
        in ``predictors`` and ``factors`` must be complete.
    targets
        The variables to impute (in the order they are visited) and their models
        (:class:`Target`; :func:`target_from_covariate`). Each target predicts the
        others, on its model scale (categories as indicators).
    predictors
        Complete numeric predictors of every imputation model (e.g. an endpoint's event
        indicator and :func:`nelson_aalen` hazard, age).
    factors
        Complete categorical predictors entered as fixed effects (one indicator per
        non-reference level), e.g. a centre and a score group, never imputed.
    m, iterations
        Number of imputations and cycles of the chain (R ``m``, ``maxit``).
    seed
        Seed of :class:`numpy.random.SeedSequence`; imputation ``i`` draws from its
        ``i``-th spawned child, whatever ``workers`` is.
    workers
        Processes to run the imputations on (forked; 1: here).

    Returns
    -------
    list of pandas.DataFrame
        ``m`` copies of ``data``, the targets filled in: continuous ones with observed
        donors' values, categorical ones with their levels as text.
    """
    global _PROBLEM
    problems = []
    for name in [*predictors, *factors]:
        if data[name].isna().any():
            problems.append(f"{name!r}: {int(data[name].isna().sum())} missing value(s), but "
                            "it is a complete predictor of the imputation models")
    for name, target in targets.items():
        if name in predictors or name in factors:
            problems.append(f"{name!r} is both imputed and a complete predictor")
        n_obs = int(data[name].notna().sum())
        if n_obs < 2:
            problems.append(f"{name!r}: {n_obs} observed value(s); at least 2 are needed "
                            "to impute it")
    if m < 2:
        problems.append(f"m = {m}: at least 2 imputations are needed")
    if problems:
        raise ImputationError("; ".join(problems))
    fixed = [np.ones((len(data), 0))]
    for name in predictors:
        fixed.append(data[name].to_numpy(float)[:, None])
    for name in factors:
        lv = _levels(data[name], [str(c) for c in data[name].cat.categories]
                     if isinstance(data[name].dtype, pd.CategoricalDtype) else [])
        d = _dummies(data[name], lv, name)
        if d:
            fixed.append(np.column_stack(list(d.values())))
    problem = _Problem(data, dict(targets), np.column_stack(fixed), int(iterations))
    seeds = np.random.SeedSequence(int(seed)).spawn(int(m))
    if workers <= 1 or m == 1:
        return [_one_imputation(problem, s) for s in seeds]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform: one process
        return [_one_imputation(problem, s) for s in seeds]
    previous, _PROBLEM = _PROBLEM, problem
    try:
        with ProcessPoolExecutor(max_workers=int(workers), mp_context=context) as pool:
            draws = list(pool.map(_worker, seeds))
    finally:
        _PROBLEM = previous
    return [_completed(problem, d) for d in draws]


# --------------------------------------------------------------------------------------
# What is missing
# --------------------------------------------------------------------------------------


def missing_pattern(data: pd.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Missing values per variable and per pattern, as R ``mice::md.pattern``.

    Returns
    -------
    by_variable, patterns : pandas.DataFrame
        ``by_variable``: ``variable``, ``missing``, ``patients``, ``percent``, in the
        order of ``columns``. ``patterns``: one row per combination of observed (1)
        and missing (0) values that occurs, with the number of ``patients`` and of
        ``variables_missing``; the complete pattern first, then by the number of
        variables missing and, within it, the most frequent first (ties: the pattern
        observed in the earlier column first); md.pattern's rows without its margin
        row, which ``by_variable`` gives.

    Examples
    --------
    >>> import numpy as np
    >>> d = pd.DataFrame({"a": [1, np.nan, 3, np.nan], "b": [1, 2, np.nan, np.nan],
    ...                   "c": [1, 2, 3, 4]})
    >>> by_var, pat = missing_pattern(d, ["a", "b", "c"])
    >>> by_var["missing"].tolist()
    [2, 2, 0]
    >>> pat.values.tolist()
    [[1, 1, 1, 1, 0], [1, 0, 1, 1, 1], [0, 1, 1, 1, 1], [0, 0, 1, 1, 2]]
    """
    observed = data[list(columns)].notna().astype(int)
    n = len(observed)
    by_variable = pd.DataFrame({"variable": list(columns),
                                "missing": [int(n - observed[c].sum()) for c in columns],
                                "patients": n})
    by_variable["percent"] = 100 * by_variable["missing"] / n if n else np.nan
    if n == 0:
        return by_variable, pd.DataFrame(columns=[*columns, "patients", "variables_missing"])
    patterns = (observed.value_counts(sort=False).rename("patients").reset_index())
    patterns["variables_missing"] = len(columns) - patterns[list(columns)].sum(axis=1)
    key = patterns[list(columns)].astype(str).agg("".join, axis=1)
    patterns = (patterns.assign(__key=key)
                .sort_values(["variables_missing", "patients", "__key"],
                             ascending=[True, False, False], kind="stable")
                .drop(columns="__key").reset_index(drop=True))
    patterns["patients"] = patterns["patients"].astype(int)
    return by_variable, patterns[[*columns, "patients", "variables_missing"]]


# --------------------------------------------------------------------------------------
# A prediction model developed on the imputed data sets
# --------------------------------------------------------------------------------------

BASELINE_POOLING = (
    "baseline survival S0(h) at x = 0 pooled as the mean over imputations of log(-log "
    "S0_i(h)) (the complementary log-log scale, on which the Cox model is additive; "
    "Rubin's point estimate on a scale where the estimate is closer to normal, Marshall "
    "et al. 2009; Wood, Royston & White 2015)")


def pool_frozen(models: list[dict]) -> dict:
    """One frozen model from the same model frozen on each of ``m`` imputed data sets.

    The coefficients are Rubin's point estimates (the mean over imputations, R
    ``mice::pool(fit)$pooled$estimate``); the baseline survival at each stored horizon
    and stratum is pooled on the complementary log-log scale (:data:`BASELINE_POOLING`),
    ``S0 = exp(-exp(mean_i log(-log S0_i)))``; a stored baseline curve is pooled the same
    way. Everything else (coding, strata, horizons) must be the same in every model and
    is taken from the first; the development summary is left to the caller (it depends
    on the data sets, not the per-imputation models).

    Parameters
    ----------
    models
        :func:`netpet_stats.validation.frozen_model.freeze` of the same model on each
        imputed data set, in the order of the imputations.

    Returns
    -------
    dict
        A frozen model in the same format, with ``developed_on`` saying how it was made.

    Examples
    --------
    >>> a = {"coefficients": {"x": 0.2}, "covariates": {}, "strata": None,
    ...      "baseline_survival": {"horizons": [5.0], "survival": {"all": [0.9]}}}
    >>> b = {"coefficients": {"x": 0.4}, "covariates": {}, "strata": None,
    ...      "baseline_survival": {"horizons": [5.0], "survival": {"all": [0.8]}}}
    >>> p = pool_frozen([a, b])
    >>> round(p["coefficients"]["x"], 6), round(p["baseline_survival"]["survival"]["all"][0], 6)
    (0.3, 0.857845)

    By hand (R): ``exp(-exp((log(-log(0.9)) + log(-log(0.8))) / 2))`` = 0.857845.
    """
    import copy

    models = list(models)
    m = len(models)
    if m < 2:
        raise ValueError(f"pooling needs at least 2 imputed models, got {m}")
    first = models[0]
    for i, model in enumerate(models[1:], start=2):
        for key in ("covariates", "strata"):
            if model.get(key) != first.get(key):
                raise ValueError(f"imputation {i}: the model's {key} differ from imputation "
                                 "1's; the models cannot be pooled")
        if list(model["coefficients"]) != list(first["coefficients"]):
            raise ValueError(f"imputation {i} codes the model with columns "
                             f"{list(model['coefficients'])}, imputation 1 with "
                             f"{list(first['coefficients'])}")

    def cloglog_mean(values):
        s = np.asarray(values, float)
        with np.errstate(divide="ignore"):
            y = np.log(-np.log(s))
        return np.exp(-np.exp(y.mean(axis=0)))

    pooled = copy.deepcopy(first)
    pooled["coefficients"] = {c: float(np.mean([mod["coefficients"][c] for mod in models]))
                              for c in first["coefficients"]}
    base = pooled["baseline_survival"]
    base["survival"] = {s: [float(v) for v in cloglog_mean(
        [mod["baseline_survival"]["survival"][s] for mod in models])] for s in base["survival"]}
    if base.get("curve"):
        base["curve"]["survival"] = {s: [float(v) for v in cloglog_mean(
            [mod["baseline_survival"]["curve"]["survival"][s] for mod in models])]
            for s in base["curve"]["survival"]}
    pooled["developed_on"] = {
        "imputations": m,
        "coefficients": "Rubin's rules point estimate: the mean over the imputations "
                        "(Rubin 1987; R mice::pool)",
        "baseline_survival": BASELINE_POOLING}
    return pooled


# --------------------------------------------------------------------------------------
# External validation on an imputed validation cohort
# --------------------------------------------------------------------------------------

#: measures :func:`netpet_stats.validation.external.centre_measures` gives with a SE on
#: a pooling scale, and the transformation back from it
_BACK = {"Harrell's C": lambda x: 1 / (1 + np.exp(-x)), "Uno's C": lambda x: 1 / (1 + np.exp(-x)),
         "Royston's D": lambda x: x, "calibration slope": lambda x: x, "O/E": np.exp}


def pool_centre_imputations(frames: list[pd.DataFrame], conf_level: float = 0.95) -> pd.DataFrame:
    """Each centre's performance measures pooled over imputations by Rubin's rules.

    ``frames`` are :func:`netpet_stats.validation.external.centre_measures` of the same
    frozen model on each imputed data set of the validation cohort. A measure with a SE
    on its pooling scale (logit C, log O/E, slope and D as they are; Debray et al. 2017)
    is pooled on that scale (Rubin 1987, large-sample Barnard-Rubin df; Marshall et al.
    2009) and transformed back; the pooled ``scale_estimate`` and ``scale_se`` (the
    square root of the total variance) are what the random-effects pooling across
    centres then takes (:func:`netpet_stats.validation.external.pool_centre_measures`),
    so that centres are pooled after imputations, as recommended. A measure without a
    SE (AUC, Brier, IPA) gets the mean over imputations, without an interval. A measure
    not estimable in some imputation is not pooled (the reason in ``note``).
    """
    from ..survival import rubin

    m = len(frames)
    if m < 2:
        raise ValueError(f"pooling needs at least 2 imputations, got {m}")
    keys = ["centre", "measure"]
    base = frames[0][keys + ["n", "events"]].copy()
    stacked = pd.concat([f.assign(imputation=i) for i, f in enumerate(frames)],
                        ignore_index=True)
    rows = []
    for (centre, measure), g in stacked.groupby(keys, sort=False):
        est = g["estimate"].to_numpy(float)
        first = g.iloc[0]
        row = {"centre": centre, "measure": measure, "n": int(first["n"]),
               "events": int(first["events"]), "m": m, "estimate": np.nan, "lower": np.nan,
               "upper": np.nan, "scale_estimate": np.nan, "scale_se": np.nan,
               "fmi": np.nan, "note": ""}
        notes = [n for n in g["note"].fillna("") if n]
        if measure in _BACK:
            y = g["scale_estimate"].to_numpy(float)
            s = g["scale_se"].to_numpy(float)
            if np.isfinite(y).all() and np.isfinite(s).all() and (s > 0).all():
                res = rubin.pool(y, s ** 2, np.inf, conf_level).iloc[0]
                f = _BACK[measure]
                row.update({"estimate": float(f(res["estimate"])),
                            "lower": float(f(res["lower"])), "upper": float(f(res["upper"])),
                            "scale_estimate": float(res["estimate"]),
                            "scale_se": float(res["se"]), "fmi": float(res["fmi"])})
            else:
                k = int((~(np.isfinite(y) & np.isfinite(s) & (s > 0))).sum())
                row["note"] = (f"not pooled over imputations: not on the pooling scale in {k} "
                               f"of {m}" + (f" ({notes[0]})" if notes else ""))
        elif np.isfinite(est).all():
            row.update({"estimate": float(est.mean()),
                        "note": f"mean over {m} imputations; no interval"})
        else:
            row["note"] = (f"not estimable in {int((~np.isfinite(est)).sum())} of {m} "
                           "imputations" + (f" ({notes[0]})" if notes else ""))
        rows.append(row)
    out = pd.DataFrame(rows)
    return base.drop(columns=["n", "events"]).merge(out, on=keys, how="left")
