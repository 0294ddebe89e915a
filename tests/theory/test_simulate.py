"""Monte Carlo of progressive filtering against Theorems 1-2 (Huseljic et al., arXiv 2511.22344).

Every comparison uses an exact confidence interval at failure probability 1e-6, and the seeds
are fixed (hypothesis runs derandomized), so the tests are deterministic and a failure means the
bound or the simulator is wrong -- not bad luck.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refine.seeding import child_rng
from theory import bounds as B
from theory.simulate import (
    estimate_topb_inclusion,
    simulate_focal,
    simulate_pool_round,
    simulate_topb_round,
)
from theory.stats import clopper_pearson, empirical_bernstein, kl_interval

DELTA = 1e-6
TRIALS = 4_000


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    q=st.floats(min_value=0.01, max_value=1.0),
    p=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=12),
    m=st.integers(min_value=1, max_value=30),
    R=st.integers(min_value=1, max_value=10),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_simulated_survival_is_bracketed_by_theorems_1_and_2(q, p, m, R, seed):
    """Theorem 1 (with p* = max p) <= simulated survival <= Theorem 2 (with eps = max p), and the
    exact product formula lies inside the interval, after every round r = 1..R."""
    p = np.asarray(p)
    res = simulate_focal(p, q, m, R, TRIALS, child_rng(seed, "focal"))
    lo, hi = res.interval(DELTA)
    r = np.arange(R + 1)
    t1 = B.theorem1_lower_np(p.max(), q, m) ** r
    t2 = B.theorem2_round_np(p.max(), q, m, p.size) ** r
    exact = B.theorem1_exact_np(p, q, m) ** r
    assert np.all(hi >= t1 - 1e-12), (hi, t1)
    assert np.all(lo <= t2 + 1e-12), (lo, t2)
    assert np.all((lo <= exact + 1e-12) & (exact - 1e-12 <= hi)), (lo, exact, hi)


def test_simulation_has_power_to_reject_wrong_formulas():
    """The checks above are not vacuous: the intervals exclude formulas that are wrong."""
    p, q, m, R = np.array([0.5, 0.5]), 0.5, 3, 2
    res = simulate_focal(p, q, m, R, 20_000, child_rng(0, "power"))
    lo, hi = res.interval(DELTA)
    exact = B.theorem1_exact_np(p, q, m)
    assert lo[1] <= exact <= hi[1]
    # Theorem 1's bound is strictly below the simulation (it ignores the second strategy) ...
    assert lo[1] > B.theorem1_exact_np(p[:1], q, m)
    # ... a survival that forgets the subsample (q = 1) is strictly above it ...
    assert hi[1] < B.theorem1_exact_np(p, 1.0, m)
    # ... and after two rounds the survival is the square, clearly below the one-round value.
    assert lo[2] <= exact**2 <= hi[2]
    assert hi[2] < exact


def test_per_round_q_is_used_round_by_round():
    """A per-round q (the published code's q_1 = 5000/|U|, then alpha) enters round by round."""
    p, m = np.array([0.5] + [0.01] * 8), 11
    q = np.array([0.1, 0.4, 0.4])
    res = simulate_focal(p, q, m, 3, 100_000, child_rng(0, "per-round"))
    lo, hi = res.interval(DELTA)
    exact = np.concatenate([[1.0], np.cumprod(B.theorem1_exact_np(p, q, m))])
    assert np.all((lo <= exact) & (exact <= hi))
    assert hi[1] < B.theorem1_exact_np(p, 0.4, m)  # clearly not the idealised alpha


def test_pool_round_without_replacement_matches_theorem1_exactly():
    """A finite pool, real uniform subsamples without replacement, Bernoulli strategies: every
    instance's survival equals 1 - prod_a (1 - (s/N) p_a)^m."""
    n, s, m, trials = 40, 16, 4, 20_000
    probs = child_rng(1, "probs").random((3, n)) ** 2
    survived = simulate_pool_round(probs, s, m, trials, child_rng(1, "pool"))
    lo, hi = clopper_pearson(survived.sum(0), trials, DELTA / n)  # Bonferroni over instances
    exact = B.theorem1_exact_np(probs.T, s / n, m)
    assert np.all((lo <= exact) & (exact <= hi))


def test_noisy_topb_strategies_follow_theorem1_with_estimated_probabilities():
    """Top-b strategies (p_x depends on the competitors in the subsample): estimate p_x from
    independent draws, then check the exact formula and Theorem 1's bound per instance."""
    n, s, b, m, noise = 60, 24, 3, 5, 0.7
    x = np.linspace(0, 1, n)
    scores = np.stack([3 * x, 3 * (1 - x) ** 2])
    trials, draws = 20_000, 60_000
    counts = simulate_topb_round(scores, noise, s, b, m, trials, child_rng(2, "run"))
    est = [
        estimate_topb_inclusion(
            scores[a], noise, s, b, draws, child_rng(2, "est", a), DELTA / (2 * n)
        )
        for a in range(2)
    ]
    pi_lo = 1 - np.prod([(1 - e.theta_lo) ** m for e in est], axis=0)
    pi_hi = 1 - np.prod([(1 - e.theta_hi) ** m for e in est], axis=0)
    lo, hi = clopper_pearson(counts, trials, DELTA / n)
    assert np.all((hi >= pi_lo) & (lo <= pi_hi))
    # The p_x really vary (otherwise the check would be a Bernoulli check in disguise).
    p_hat = np.stack([e.p_hat for e in est])
    assert p_hat.max() > 0.5 and p_hat.min() < 0.05
    # Theorem 1's bound with the smallest plausible p* is respected.
    theta_star_lo = np.max([e.theta_lo for e in est], axis=0)
    assert np.all(hi >= 1 - (1 - theta_star_lo) ** m)


def test_topb_inclusion_estimate_is_unbiased_on_a_known_case():
    """Without noise and with b = s the strategy keeps the whole subsample: p_x = 1 for all x."""
    est = estimate_topb_inclusion(np.arange(10.0), 0.0, 4, 4, 5_000, child_rng(3, "x"))
    assert np.allclose(est.p_hat.mean(), 1.0, atol=0.03)
    assert est.q == 0.4


@pytest.mark.parametrize("k,n", [(0, 100), (50, 100), (100, 100), (3, 10_000)])
def test_intervals_contain_the_point_estimate_and_kl_is_no_tighter_than_cp(k, n):
    lo, hi = clopper_pearson(k, n, DELTA)
    klo, khi = kl_interval(k, n, DELTA)
    assert lo <= k / n <= hi and klo <= k / n <= khi
    assert klo <= lo + 1e-9 or khi >= hi - 1e-9


def test_empirical_bernstein_covers_a_known_mean():
    x = child_rng(4, "eb").random(5_000)
    lo, hi = empirical_bernstein(x, DELTA)
    assert lo <= 0.5 <= hi and hi - lo < 0.1
