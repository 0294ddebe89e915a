"""Confidence intervals that let the Monte Carlo checks fail with a known, tiny probability.

Every comparison of a simulated frequency with a bound in the ``theory`` package goes through one
of these intervals, so a check "fails" only if the interval (at failure probability ``delta``,
typically ``1e-6``) excludes the bound -- never because of an arbitrary tolerance.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "clopper_pearson",
    "empirical_bernstein",
    "hoeffding_halfwidth",
    "kl_interval",
    "normal_interval",
]


def clopper_pearson(
    k: int | np.ndarray, n: int | np.ndarray, delta: float = 1e-6
) -> tuple[np.ndarray, np.ndarray]:
    """Exact two-sided Clopper-Pearson interval for a binomial proportion.

    Parameters
    ----------
    k, n
        Successes and trials (broadcastable arrays).
    delta
        Total failure probability (``delta / 2`` on each side).

    Returns
    -------
    (lo, hi)
        ``P(lo <= p <= hi) >= 1 - delta`` for ``k ~ Binomial(n, p)``.
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        lo = np.where(k > 0, stats.beta.ppf(delta / 2, k, n - k + 1), 0.0)
        hi = np.where(k < n, stats.beta.ppf(1 - delta / 2, k + 1, n - k), 1.0)
    return np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=1.0)


def hoeffding_halfwidth(n: int, delta: float = 1e-6, width: float = 1.0) -> float:
    """Two-sided Hoeffding half-width for the mean of ``n`` i.i.d. variables in an interval of
    length ``width``: ``width * sqrt(log(2/delta) / (2 n))``."""
    return float(width * np.sqrt(np.log(2.0 / delta) / (2.0 * n)))


def empirical_bernstein(x: np.ndarray, delta: float = 1e-6) -> tuple[float, float]:
    """Two-sided empirical Bernstein interval for the mean of i.i.d. ``x in [0, 1]``.

    Maurer & Pontil (2009), Theorem 4, applied on each side with ``delta / 2``:
    ``|mean - mu| <= sqrt(2 V log(4/delta) / n) + 7 log(4/delta) / (3 (n - 1))`` with ``V`` the
    unbiased sample variance. Used for per-trial *fractions* of a group of exchangeable
    instances: their expectation is the per-instance survival probability (linearity), they are
    i.i.d. across trials, and their variance is small, so the interval is much tighter than
    Hoeffding's while remaining valid despite the dependence between instances of one trial.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    if n < 2:
        return 0.0, 1.0
    var = float(np.var(x, ddof=1))
    log_term = np.log(4.0 / delta)
    half = np.sqrt(2.0 * var * log_term / n) + 7.0 * log_term / (3.0 * (n - 1))
    mean = float(np.mean(x))
    return max(0.0, mean - half), min(1.0, mean + half)


def _kl_bernoulli(p: float, q: float) -> float:
    p = min(max(p, 0.0), 1.0)
    q = min(max(q, 1e-300), 1 - 1e-16)
    out = 0.0
    if p > 0:
        out += p * np.log(p / q)
    if p < 1:
        out += (1 - p) * np.log((1 - p) / (1 - q))
    return out


def kl_interval(k: int, n: int, delta: float = 1e-6) -> tuple[float, float]:
    """Chernoff-Hoeffding (relative-entropy) interval for a proportion.

    ``{p : n KL(k/n || p) <= log(2/delta)}``. Valid, like Clopper-Pearson, for a sum of
    independent Bernoulli variables, and -- unlike Clopper-Pearson -- also for a sum of
    *negatively associated* indicators with a common mean (Dubhashi & Ranjan 1998, "Balls and
    bins: a study in negative dependence": the Chernoff bounds carry over). The survival
    indicators of different instances in one filtering round are negatively associated: each
    draw's subsample indicators are a permutation distribution, which is negatively associated
    (Joag-Dev & Proschan 1983), the selections are independent coins, and an instance's survival
    is a non-decreasing function of its own, disjoint, group of these variables. Counts pooled
    over exchangeable instances and independent trials can therefore be used without a
    clustering correction.
    """
    if n <= 0:
        return 0.0, 1.0
    phat = k / n
    level = np.log(2.0 / delta) / n

    def solve(lo: float, hi: float, upper: bool) -> float:
        for _ in range(100):
            mid = 0.5 * (lo + hi)
            inside = _kl_bernoulli(phat, mid) <= level
            if upper:
                lo, hi = (mid, hi) if inside else (lo, mid)
            else:
                lo, hi = (lo, mid) if inside else (mid, hi)
        return hi if upper else lo

    lower = 0.0 if phat <= 0 else solve(0.0, phat, upper=False)
    upper = 1.0 if phat >= 1 else solve(phat, 1.0, upper=True)
    return float(lower), float(upper)


def normal_interval(x: np.ndarray, delta: float = 1e-6) -> tuple[float, float]:
    """*Approximate* interval ``mean +- z sd / sqrt(n)`` (``z`` the normal ``1 - delta/2``
    quantile). Used only where no exact interval applies (multi-round survival through the real
    filter, whose per-trial fractions are i.i.d. but whose within-trial dependence is not
    controlled); the report labels these numbers as approximate."""
    x = np.asarray(x, dtype=float)
    if x.size < 2:
        return 0.0, 1.0
    z = float(stats.norm.isf(delta / 2))
    half = z * float(np.std(x, ddof=1)) / np.sqrt(x.size)
    return max(0.0, float(x.mean()) - half), min(1.0, float(x.mean()) + half)
