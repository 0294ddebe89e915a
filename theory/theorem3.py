"""Theorem 3 (concentration of expected value): identity, counterexample, corrected condition.

Reference: Huseljic et al., arXiv 2511.22344, Theorem 3 and its proof in Appendix A.

The paper defines the expected value of the next pool as the survival-weighted average

    E_r = sum_x pi_r(x) v(x) / sum_x pi_r(x),     pi_r(x) = 1 - prod_a (1 - q p_{x,a})^m,

and claims ``E_r >= Vbar(P_{r-1})`` whenever every strategy's selection probability is
*positively correlated* with the value ``v``. The identity

    E_r - Vbar = Cov_emp(pi, v) / mean(pi)

(proven in :func:`theory.bounds.theorem3_identity`) shows the claim holds exactly when ``pi`` and
``v`` have non-negative empirical covariance. Two results follow, both computed here:

* **Counterexample.** ``pi`` is a concave, saturating function of the ``p``'s, so positive
  correlation of every ``p_{.,a}`` with ``v`` does *not* carry over to ``pi`` (Jensen):
  :func:`construct_counterexample` gives an explicit pool, :func:`search_counterexamples` shows
  such pools are common among random ones.
* **Corrected sufficient condition.** If every ``p_{.,a}`` is *similarly ordered* with ``v``
  (``v(x) > v(x') => p_{x,a} >= p_{x',a}`` for all ``a``), then ``pi`` is similarly ordered with
  ``v`` (``pi`` is non-decreasing in each ``p_{x,a}``) and Chebyshev's sum inequality gives
  ``n sum(pi v) >= sum(pi) sum(v)``, i.e. ``E_r >= Vbar``. :func:`similarly_ordered` draws such
  pools; the tests check the inequality on them.

Finally ``E_r`` is a ratio of expectations, not the expected mean value of the next pool,
``E[Vbar(P_r)]``; :func:`pool_mean_gap` measures the difference on small pools.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from theory.bounds import theorem1_exact_np
from theory.simulate import simulate_pool_round
from theory.stats import empirical_bernstein

__all__ = [
    "CounterexampleSearch",
    "PoolGap",
    "PoolSummary",
    "construct_counterexample",
    "expected_pool_mean_independent",
    "pool_mean_gap",
    "search_counterexamples",
    "similarly_ordered",
    "summarize_pool",
]


@dataclass(frozen=True)
class PoolSummary:
    """Everything Theorem 3 says about one pool.

    Attributes
    ----------
    v, probs
        Values ``(n,)`` and selection probabilities ``(n_A, n)``.
    pi
        Survival probabilities ``(n,)``.
    e_r, v_bar
        Survival-weighted and plain mean value.
    cov_pi_v
        Empirical covariance of ``pi`` and ``v`` (population normalisation, ``1/n``).
    corr_p_v
        Pearson correlation of each strategy's ``p_{.,a}`` with ``v``.
    identity_residual
        ``(E_r - Vbar) - Cov_emp(pi, v) / mean(pi)`` (zero up to rounding).
    """

    v: np.ndarray
    probs: np.ndarray
    pi: np.ndarray
    e_r: float
    v_bar: float
    cov_pi_v: float
    corr_p_v: np.ndarray
    identity_residual: float

    @property
    def gap(self) -> float:
        """``E_r - Vbar``; negative means Theorem 3's conclusion fails on this pool."""
        return self.e_r - self.v_bar


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with ``b`` (0 when a row is constant)."""
    a = np.atleast_2d(a)
    ac = a - a.mean(axis=-1, keepdims=True)
    bc = b - b.mean()
    den = np.sqrt((ac**2).sum(-1) * (bc**2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ac * bc).sum(-1) / den, 0.0)


def summarize_pool(v: np.ndarray, probs: np.ndarray, q: float, m: int) -> PoolSummary:
    """Evaluate Theorem 3's quantities for a pool with known values and probabilities.

    ``E_r`` (and the identity residual) are NaN when every survival probability is 0.
    """
    v = np.asarray(v, dtype=float)
    probs = np.atleast_2d(np.asarray(probs, dtype=float))
    pi = theorem1_exact_np(probs.T, q, m)
    v_bar = float(v.mean())
    cov = float(np.mean(pi * v) - pi.mean() * v.mean())
    if pi.sum() > 0:
        e_r = float(np.sum(pi * v) / np.sum(pi))
        resid = (e_r - v_bar) - cov / float(pi.mean())
    else:  # the next pool is surely empty: E_r is undefined
        e_r = resid = float("nan")
    return PoolSummary(v, probs, pi, e_r, v_bar, cov, _corr(probs, v), float(resid))


def construct_counterexample(q: float = 0.4, m: int = 11, n_a: int = 2) -> PoolSummary:
    """A three-instance pool where every ``p_{.,a}`` correlates positively with ``v`` but
    ``E_r < Vbar``.

    Construction (why it works): one low-value instance that every strategy selects with a
    moderate probability (0.3), and two high-value instances, one that every strategy selects
    almost surely (0.9) and one that every strategy almost ignores (0.05). Each ``p_{.,a}`` has
    positive covariance with ``v`` (the mean ``p`` of the high-value pair, 0.475, exceeds 0.3),
    but with ``m`` draws the 0.3 and 0.9 instances both saturate near survival 1 while the 0.05
    instance stays low, so the *survival* of the high-value pair averages below that of the
    low-value instance. Concavity of ``p -> 1 - (1 - q p)^m`` is all that is needed: the
    counterexample works for ``n_A = 1`` as soon as ``m >= 2`` (see the report's table).
    """
    v = np.array([0.0, 1.0, 1.0])
    p = np.array([0.3, 0.9, 0.05])
    return summarize_pool(v, np.tile(p, (n_a, 1)), q, m)


@dataclass(frozen=True)
class CounterexampleSearch:
    """Result of a random search for Theorem 3 counterexamples.

    Attributes
    ----------
    n_tried
        Random pools drawn.
    n_eligible
        Pools meeting the paper's assumption (every ``corr(p_a, v) > 0``).
    n_violations
        Eligible pools with ``E_r < Vbar``.
    worst
        The eligible pool with the most negative ``(E_r - Vbar) / std(v)``, or ``None``.
    n_similarly_ordered_violations
        Violations after re-sorting every ``p_{.,a}`` to be similarly ordered with ``v`` (must be
        0: Chebyshev's sum inequality).
    """

    n_tried: int
    n_eligible: int
    n_violations: int
    worst: PoolSummary | None
    n_similarly_ordered_violations: int

    @property
    def violation_rate(self) -> float:
        return self.n_violations / max(self.n_eligible, 1)


def similarly_ordered(v: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Re-order every row of ``probs`` so that it is similarly ordered with ``v``.

    The multiset of each strategy's probabilities is kept; only their assignment to instances
    changes (the largest ``p`` goes to the largest ``v``).
    """
    order = np.argsort(v, kind="stable")
    out = np.empty_like(np.atleast_2d(probs), dtype=float)
    for a, row in enumerate(np.atleast_2d(probs)):
        out[a, order] = np.sort(row)
    return out


def search_counterexamples(
    rng: np.random.Generator,
    n_tries: int = 20_000,
    n_a: int = 2,
    q: float = 0.4,
    m: int = 11,
    n_range: tuple[int, int] = (3, 8),
) -> CounterexampleSearch:
    """Draw random small pools and count violations of Theorem 3 under its stated assumption.

    Values are i.i.d. uniform; each strategy's probabilities are ``U^3`` (skewed towards small
    values, as for real strategies that pick ``b`` of ``s``). The search is vectorised by pool
    size.
    """
    n_lo, n_hi = n_range
    sizes = rng.integers(n_lo, n_hi + 1, size=n_tries)
    n_eligible = n_viol = n_sim_viol = 0
    worst: PoolSummary | None = None
    worst_score = 0.0
    for n in np.unique(sizes):
        t = int(np.sum(sizes == n))
        v = rng.random((t, n))
        probs = rng.random((t, n_a, n)) ** 3
        vc = v - v.mean(-1, keepdims=True)
        pc = probs - probs.mean(-1, keepdims=True)
        cov_pv = np.einsum("tan,tn->ta", pc, vc)
        eligible = np.all(cov_pv > 1e-12, axis=-1)
        pi = theorem1_exact_np(np.swapaxes(probs, 1, 2), q, m)  # (t, n)
        cov_pi = np.mean(pi * vc, axis=-1)
        score = cov_pi / pi.mean(-1) / v.std(-1)
        viol = eligible & (cov_pi < -1e-12)
        n_eligible += int(eligible.sum())
        n_viol += int(viol.sum())
        if viol.any():
            i = int(np.argmin(np.where(viol, score, np.inf)))
            if score[i] < worst_score:
                worst_score = float(score[i])
                worst = summarize_pool(v[i], probs[i], q, m)
        # Corrected condition: same probabilities, re-assigned to be similarly ordered with v.
        order = np.argsort(v, axis=-1, kind="stable")
        sorted_p = np.sort(probs, axis=-1)
        so = np.empty_like(probs)
        np.put_along_axis(so, np.broadcast_to(order[:, None, :], probs.shape), sorted_p, axis=-1)
        pi_so = theorem1_exact_np(np.swapaxes(so, 1, 2), q, m)
        n_sim_viol += int(np.sum(np.mean(pi_so * vc, axis=-1) < -1e-12))
    return CounterexampleSearch(int(n_tries), n_eligible, n_viol, worst, n_sim_viol)


# --------------------------------------------------------------------------------------------
# E_r (ratio of expectations) versus E[Vbar(P_r)] (expectation of the next pool's mean value)
# --------------------------------------------------------------------------------------------
def expected_pool_mean_independent(v: np.ndarray, pi: np.ndarray) -> tuple[float, float]:
    """``E[Vbar(P) | P non-empty]`` and ``P(P empty)`` when instances survive independently.

    Exact enumeration over the ``2^n`` subsets (``n <= 18``). Under independence the survival
    events are not the real filter's (subsamples are drawn without replacement) but the
    calculation isolates the ratio-of-expectations effect from the dependence effect.
    """
    v = np.asarray(v, dtype=float)
    pi = np.asarray(pi, dtype=float)
    n = v.size
    if n > 18:
        raise ValueError("enumeration is limited to n <= 18")
    masks = np.array(list(itertools.product([0, 1], repeat=n)), dtype=bool)
    probs = np.prod(np.where(masks, pi, 1 - pi), axis=1)
    sizes = masks.sum(1)
    nonempty = sizes > 0
    means = np.where(nonempty, (masks @ v) / np.maximum(sizes, 1), 0.0)
    p_nonempty = probs[nonempty].sum()
    return float((probs * means)[nonempty].sum() / p_nonempty), float(1 - p_nonempty)


@dataclass(frozen=True)
class PoolGap:
    """``E_r`` versus ``E[Vbar(P_r) | P_r non-empty]`` for one small pool.

    Attributes
    ----------
    n
        Pool size.
    v_bar, e_r
        Current mean value and the paper's survival-weighted average.
    mc_mean, mc_lo, mc_hi
        Monte Carlo ``E[Vbar(P_r) | P_r != empty]`` of the real round (subsamples without
        replacement) with an empirical-Bernstein interval at failure probability ``delta``.
    indep_mean
        The same expectation when instances survive independently with ``pi`` (exact).
    p_empty
        Monte Carlo probability that the round leaves an empty pool.
    """

    n: int
    v_bar: float
    e_r: float
    mc_mean: float
    mc_lo: float
    mc_hi: float
    indep_mean: float
    p_empty: float

    @property
    def gap(self) -> float:
        """``E[Vbar(P_r)] - E_r`` (Monte Carlo)."""
        return self.mc_mean - self.e_r


def pool_mean_gap(
    v: np.ndarray,
    probs: np.ndarray,
    alpha: float,
    m: int,
    n_trials: int,
    rng: np.random.Generator,
    delta: float = 1e-6,
) -> PoolGap:
    """Measure ``E[Vbar(P_r)] - E_r`` for one round on a small pool.

    The round follows Algorithm 1 with the paper's subsample size ``s = max(1, floor(alpha n))``
    and Bernoulli strategies ``probs`` (shape ``(n_A, n)``); ``E_r`` uses the same
    ``q = s / n``.
    """
    v = np.asarray(v, dtype=float)
    probs = np.atleast_2d(np.asarray(probs, dtype=float))
    n = v.size
    s = max(1, int(np.floor(alpha * n)))
    q = s / n
    summary = summarize_pool(v, probs, q, m)
    survived = simulate_pool_round(probs, s, m, n_trials, rng)
    sizes = survived.sum(1)
    nonempty = sizes > 0
    means = (survived[nonempty] @ v) / sizes[nonempty]
    lo_v, hi_v = float(v.min()), float(v.max())
    scale = hi_v - lo_v if hi_v > lo_v else 1.0
    lo, hi = empirical_bernstein((means - lo_v) / scale, delta)
    indep = expected_pool_mean_independent(v, summary.pi)[0] if n <= 18 else float("nan")
    return PoolGap(
        n=n,
        v_bar=summary.v_bar,
        e_r=summary.e_r,
        mc_mean=float(means.mean()),
        mc_lo=lo_v + scale * lo,
        mc_hi=lo_v + scale * hi,
        indep_mean=indep,
        p_empty=float(1 - nonempty.mean()),
    )
