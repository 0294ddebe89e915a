"""Theorems 1-2 against the library's real ``refine.strategies.filtering.ProgressiveFilter``.

Huseljic et al., arXiv 2511.22344, Theorems 1-2, in the paper's setting (``variant="paper"``)
and the published code's (``variant="published"``: 5000 first subsample, random pool cap).
Round-1 intervals are Chernoff (KL) intervals at failure probability 1e-6 on counts pooled over
instances and trials (valid: one round's survival indicators are negatively associated).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from refine.seeding import child_rng
from theory.bounds import theorem1_exact_np
from theory.realfilter import (
    BernoulliStrategy,
    NoisyTopBStrategy,
    RealFilterResult,
    default_scenarios,
    make_scenario,
    run_real_filter,
)
from theory.simulate import estimate_topb_inclusion
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


def test_group_fractions_are_the_members_of_each_group_in_the_filtered_pool():
    """run_real_filter's bookkeeping, recomputed by calling the filter directly with the stream
    it documents (``child_rng(seed, "trial", t)``): the fraction of each group's slice of pool
    indices found in P_1 and in P_R, and the trace arrays."""
    from refine.context import SelectionContext

    sc = make_scenario("t-book", "published", 8000, rounds=2, group_size=100, background=0.01)
    res = run_real_filter(sc, 2, seed=3)
    ctx = SelectionContext.from_arrays(np.zeros((sc.n_pool, 1), np.float32), n_classes=2, seed=3)
    starts = {"valuable": 0, "eps=0.001": 100, "eps=0.02": 200}
    for t in range(2):
        cand = np.arange(sc.n_pool)
        p1, _ = sc.make_filter(rounds=1).filter(ctx, cand, sc.b, child_rng(3, "trial", t))
        pr, tr = sc.make_filter().filter(ctx, cand, sc.b, child_rng(3, "trial", t))
        for g, a in starts.items():
            assert res.round1[g][t] == np.isin(np.arange(a, a + 100), p1).mean(), g
            assert res.final[g][t] == np.isin(np.arange(a, a + 100), pr).mean(), g
        assert list(res.pool_sizes[t]) == tr.pool_sizes
        assert list(res.union_sizes[t]) == tr.union_sizes
    # the groups really differ (a bookkeeping error that mixed them up would blur this)
    assert np.mean(res.round1["valuable"]) > 0.3 > np.mean(res.round1["eps=0.001"])


def test_derived_quantities_of_a_result_worked_by_hand():
    """q_r, the cap factor and the bounds of a RealFilterResult built from known traces."""
    sc = make_scenario("t-hand", "published", 20_000, b=10, rounds=2, m=3, n_a=2, group_size=10)
    res = RealFilterResult(
        scenario=sc,
        round1={g.name: np.zeros(2) for g in sc.groups},
        final={g.name: np.zeros(2) for g in sc.groups},
        subsample_sizes=np.array([[5000, 400], [5000, 300]]),
        union_sizes=np.array([[12_500, 900], [8000, 700]]),
        pool_sizes=np.array([[10_000, 900], [8000, 700]]),
        seconds=0.0,
    )
    # q_r = s_r / |P_(r-1)| with |P_0| = |U| = 20 000
    assert res.q_rounds() == pytest.approx(np.array([[0.25, 0.04], [0.25, 0.0375]]))
    # the published cap keeps min(1, 10 000 / |union|)
    assert res.cap_keep() == pytest.approx(np.array([[0.8, 1.0], [1.0, 1.0]]))
    # valuable: p = (0.5, 0.01); Theorem 1 with the smallest q_r per round: 0.25 and 0.0375
    t1 = (1 - (1 - 0.25 * 0.5) ** 3) * (1 - (1 - 0.0375 * 0.5) ** 3)
    assert res.theorem1_final("valuable") == pytest.approx(t1, rel=1e-12)
    assert res.theorem1_round1("valuable") == pytest.approx(1 - (1 - 0.25 * 0.5) ** 3)
    # eps = 0.02 for both strategies: Theorem 2 with the largest q_r: 0.25 and 0.04, n_A m = 6
    t2 = (1 - (1 - 0.25 * 0.02) ** 6) * (1 - (1 - 0.04 * 0.02) ** 6)
    assert res.theorem2_final("eps=0.02") == pytest.approx(t2, rel=1e-12)

    def exact(q):
        return 1 - (1 - q * 0.5) ** 3 * (1 - q * 0.01) ** 3

    # exact round 1 times the mean cap factor (0.8 + 1) / 2
    assert res.exact_round1_no_cap("valuable") == pytest.approx(exact(0.25), rel=1e-12)
    assert res.predicted_round1("valuable") == pytest.approx(exact(0.25) * 0.9, rel=1e-12)
    # R rounds: per trial prod_r exact(q_r) * cap_r, averaged over the two trials
    pred = (exact(0.25) * 0.8 * exact(0.04) + exact(0.25) * exact(0.0375)) / 2
    assert res.predicted_final("valuable") == pytest.approx(pred, rel=1e-12)
    # the paper variant has no cap, whatever the union sizes say
    paper = RealFilterResult(**{**res.__dict__, "scenario": replace(sc, variant="paper")})
    assert np.all(paper.cap_keep() == 1)


def test_bernoulli_strategy_includes_each_candidate_with_its_own_probability():
    """Selection frequencies over many calls equal probs[x] for each candidate x (Clopper-Pearson
    at failure probability 1e-6, Bonferroni over candidates) and are zero off the candidates."""
    from refine.context import SelectionContext

    n, calls = 60, 4000
    probs = np.linspace(0, 1, n)
    s = BernoulliStrategy(probs)
    ctx = SelectionContext.from_arrays(np.zeros((n, 1), np.float32), n_classes=2, seed=0)
    cand = np.arange(10, 50)[::-1]  # not sorted, not starting at 0
    counts = np.zeros(n, dtype=np.int64)
    rng = child_rng(5, "bernoulli")
    for _ in range(calls):
        counts[s.select(ctx, cand, 5, rng)] += 1
    lo, hi = clopper_pearson(counts[cand], calls, DELTA / cand.size)
    assert np.all((lo <= probs[cand]) & (probs[cand] <= hi))
    assert counts[:10].sum() == 0 and counts[50:].sum() == 0


def test_default_scenarios_describe_the_three_report_settings():
    scenarios = {s.name: s for s in default_scenarios()}
    assert list(scenarios) == ["paper", "published", "published-cap"]
    # q_1 = floor(0.4 * 50 000) / 50 000, 5000 / 50 000, 5000 / 100 000
    assert [s.q1() for s in scenarios.values()] == pytest.approx([0.4, 0.1, 0.05])
    cap = scenarios["published-cap"]
    assert (cap.n_pool, cap.b, cap.background) == (100_000, 200, 200 / 5000)
    # the probability matrix puts each group on its own block of pool indices
    p = cap.probs()
    assert p.shape == (9, 100_000)
    assert np.all(p[0, :1000] == 0.5) and np.all(p[1:, :1000] == 0.01)
    assert np.all(p[:, 1000:2000] == 1e-3) and np.all(p[:, 2000:3000] == 2e-2)
    assert np.all(p[:, 3000:] == 200 / 5000)
