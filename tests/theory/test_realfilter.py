"""Theorems 1-2 against the library's real ``refine.strategies.filtering.ProgressiveFilter``.

Huseljic et al., arXiv 2511.22344, Theorems 1-2, in the paper's setting (``variant="paper"``)
and the published code's (``variant="published"``: 5000 first subsample, random pool cap).
Round-1 intervals are Chernoff (KL) intervals at failure probability 1e-6 on counts pooled over
instances and trials (valid: one round's survival indicators are negatively associated).
"""

from __future__ import annotations

import numpy as np
import pytest

from refine.seeding import child_rng
from theory.bounds import theorem1_exact_np
from theory.realfilter import (
    BernoulliStrategy,
    NoisyTopBStrategy,
    default_scenarios,
    make_scenario,
    run_real_filter,
)
from theory.simulate import estimate_topb_inclusion, simulate_real_filter
from theory.stats import clopper_pearson

DELTA = 1e-6


@pytest.fixture(scope="module")
def paper_small():
    sc = make_scenario("t-paper", "paper", 3000, rounds=3, group_size=300, background=0.01)
    return run_real_filter(sc, 16, seed=11)


@pytest.fixture(scope="module")
def published_small():
    sc = make_scenario("t-pub", "published", 20_000, rounds=2, group_size=1000)
    return run_real_filter(sc, 8, seed=12)


def test_paper_setting_round1_matches_theorem1_exactly(paper_small):
    res = paper_small
    assert res.scenario.q1() == pytest.approx(0.4)
    assert np.all(res.union_sizes[:, 0] == res.pool_sizes[:, 0])  # no cap in the paper variant
    for g in res.round1:
        lo, hi = res.interval("round1", g, DELTA)
        assert lo <= res.exact_round1_no_cap(g) <= hi, g
    lo, hi = res.interval("round1", "valuable", DELTA)
    assert hi >= res.theorem1_round1("valuable")


def test_paper_setting_multi_round_bounds(paper_small):
    res = paper_small
    lo, hi = res.interval("final", "valuable", DELTA)
    assert hi >= res.theorem1_final("valuable")
    lo, hi = res.interval("final", "eps=0.02", DELTA)
    assert lo <= res.theorem2_final("eps=0.02")
    # Survival is resolved (not a vacuous check): the valuable group keeps most of its members
    # and the uninformative one loses most of its own.
    assert np.mean(res.final["valuable"]) > 0.5 > np.mean(res.final["eps=0.02"])


def test_published_setting_uses_5000_over_U_not_alpha(published_small):
    res = published_small
    assert res.scenario.q1() == pytest.approx(5000 / 20_000)
    assert np.all(res.subsample_sizes[:, 0] == 5000)
    assert np.all(res.union_sizes[:, 0] <= 10_000)  # the cap does not bind here
    for g in res.round1:
        lo, hi = res.interval("round1", g, DELTA)
        assert lo <= res.exact_round1_no_cap(g) <= hi, g
    # The idealised q = alpha would predict a clearly different survival.
    p = res.group_probs("valuable")
    lo, hi = res.interval("round1", "valuable", DELTA)
    assert hi < theorem1_exact_np(p, 0.4, res.scenario.m)
    assert hi >= res.theorem1_round1("valuable")


def test_published_cap_removes_survivors_and_can_break_theorem1():
    """When the union of round-1 batches exceeds the cap, survival is the exact formula times
    ~cap/|union|, below Theorem 1's bound."""
    sc = make_scenario(
        "t-cap", "published", 20_000, rounds=1, group_size=1000, background=0.05, max_pool=2000
    )
    res = run_real_filter(sc, 6, seed=13, final=False)
    keep = res.cap_keep()[:, 0]
    assert np.all(keep < 0.6)  # the cap binds strongly
    lo, hi = res.interval("round1", "valuable", DELTA)
    assert hi < res.theorem1_round1("valuable")  # Theorem 1 fails in this setting
    # The cap-corrected prediction matches (tolerance for the conditioning on |union|).
    assert lo - 0.02 <= res.predicted_round1("valuable") <= hi + 0.02


def test_noisy_topb_through_the_real_filter_matches_estimated_theorem1():
    """Deterministic-plus-noise top-b strategies in the real filter (round 1, paper variant):
    each instance's survival equals 1 - prod_a (1 - q p_{x,a})^m with p estimated separately."""
    from refine.context import SelectionContext
    from refine.strategies.filtering import ProgressiveFilter

    n, b, m, noise, trials = 200, 4, 5, 0.7, 400
    x = np.linspace(0, 1, n)
    scores = np.stack([3 * x, 3 * (1 - x) ** 2])
    pf = ProgressiveFilter(
        [NoisyTopBStrategy(s, noise) for s in scores],
        rounds=1,
        draws_per_strategy=m,
        sample_ratio=0.4,
        variant="paper",
    )
    ctx = SelectionContext.from_arrays(np.zeros((n, 1), np.float32), n_classes=2, seed=0)
    s = pf.subsample_size(1, n, n, b)
    counts = np.zeros(n, dtype=np.int64)
    for t in range(trials):
        pool, _ = pf.filter(ctx, np.arange(n), b, child_rng(14, "trial", t))
        counts[pool] += 1
    est = [
        estimate_topb_inclusion(
            scores[a], noise, s, b, 40_000, child_rng(14, "est", a), DELTA / (2 * n)
        )
        for a in range(2)
    ]
    pi_lo = 1 - np.prod([(1 - e.theta_lo) ** m for e in est], axis=0)
    pi_hi = 1 - np.prod([(1 - e.theta_hi) ** m for e in est], axis=0)
    lo, hi = clopper_pearson(counts, trials, DELTA / n)
    assert np.all((hi >= pi_lo) & (lo <= pi_hi))
    # Not vacuous: survival varies widely across the pool.
    assert counts.min() / trials < 0.05 and (counts.max() - counts.min()) / trials > 0.5


def test_real_filter_runs_are_deterministic():
    sc = make_scenario("t-det", "published", 8000, rounds=2, group_size=100)
    a = run_real_filter(sc, 2, seed=3)
    b = simulate_real_filter(sc, 2, seed=3)  # the simulate module's second mode: same code path
    assert np.array_equal(a.pool_sizes, b.pool_sizes)
    for g in a.round1:
        assert np.array_equal(a.round1[g], b.round1[g])


def test_bernoulli_strategy_is_sklearn_clonable_and_returns_a_subset():
    from sklearn.base import clone

    from refine.context import SelectionContext

    probs = np.linspace(0, 1, 50)
    s = clone(BernoulliStrategy(probs))
    ctx = SelectionContext.from_arrays(np.zeros((50, 1), np.float32), n_classes=2, seed=0)
    cand = np.arange(10, 40)
    out = s.select(ctx, cand, 5, np.random.default_rng(0))
    assert np.isin(out, cand).all() and np.unique(out).size == out.size


def test_default_scenarios_describe_the_three_report_settings():
    names = [s.name for s in default_scenarios()]
    assert names == ["paper", "published", "published-cap"]
    qs = [s.q1() for s in default_scenarios()]
    assert qs == pytest.approx([0.4, 0.1, 0.05])
