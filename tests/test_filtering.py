"""Progressive filtering (Algorithm 1) and Refine: invariants, variants, statistics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from refine.context import SelectionContext
from refine.errors import ConfigError
from refine.strategies import Strategy, make_strategy
from refine.strategies.filtering import ProgressiveFilter
from tests.conftest import make_context

CHEAP = ("random", "margin")


class Bernoulli(Strategy):
    """Includes each subsample member independently with a known probability ``probs[x]``."""

    name = "test-bernoulli"
    exact_batch = False
    label_free = True

    def __init__(self, probs=None):
        self.probs = probs

    def _select(self, ctx, candidates, batch_size, rng):
        return candidates[rng.random(candidates.size) < np.asarray(self.probs)[candidates]]


class FirstB(Strategy):
    """Deterministic: the b candidates with the smallest index."""

    name = "test-first-b"
    label_free = True

    def _select(self, ctx, candidates, batch_size, rng):
        return np.sort(candidates)[:batch_size]


def run_filter(ctx, cand, b=10, seed=0, **kw):
    kw.setdefault("strategies", CHEAP)
    pf = ProgressiveFilter(**kw)
    return pf.filter(ctx, cand, b, np.random.default_rng(seed))


@pytest.mark.parametrize("variant", ["published", "paper"])
def test_invariants_nested_pools_sizes_and_cap(variant):
    ctx, cand = make_context(n=2000, d=6, k=3, seed=0)
    pool, trace = run_filter(
        ctx,
        cand,
        b=10,
        variant=variant,
        rounds=4,
        draws_per_strategy=30,
        first_subsample=900,
        max_pool=150,
        sample_ratio=0.5,
    )
    assert np.isin(pool, cand).all() and np.unique(pool).size == pool.size
    sizes = trace.pool_sizes
    assert all(s >= 10 for s in sizes)
    assert all(a >= b for a, b in zip([cand.size] + sizes, sizes, strict=False))
    if variant == "published":
        assert max(sizes) <= 150 and max(trace.union_sizes) > 150  # the cap did bind
    else:
        assert sizes == trace.union_sizes  # no cap in the paper variant
    # nested: every final member was nominated in every round (it survived them all)
    for x, rounds in trace.nominators.items():
        assert np.isin(x, cand) and all(rounds[str(r)] for r in range(1, 5))


def test_pools_are_nested_round_by_round():
    ctx, cand = make_context(n=1500, d=6, k=3, seed=1)
    pools = []
    prev = cand
    for r in range(1, 4):
        # rerun with rounds=r and the same seed: the first r rounds are the same computation
        pool, _ = run_filter(ctx, cand, rounds=r, seed=5, draws_per_strategy=20)
        assert np.isin(pool, prev).all()
        pools.append(pool)
        prev = pool
    assert len(pools[0]) >= len(pools[1]) >= len(pools[2])


def test_same_seed_same_trace_serial_or_parallel():
    ctx, cand = make_context(n=1500, d=6, k=3, seed=2)
    p1, t1 = run_filter(ctx, cand, seed=9, draws_per_strategy=5)
    p2, t2 = run_filter(ctx, cand, seed=9, draws_per_strategy=5)
    p3, t3 = run_filter(ctx, cand, seed=9, draws_per_strategy=5, n_jobs=2)
    for p, t in ((p2, t2), (p3, t3)):
        np.testing.assert_array_equal(p1, p)
        d1, d = t1.to_dict(), t.to_dict()
        d1.pop("seconds"), d.pop("seconds")
        assert d1 == d
    p4, _ = run_filter(ctx, cand, seed=10, draws_per_strategy=5)
    assert not np.array_equal(p1, p4)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_refine_batch_same_serial_and_parallel(n_jobs):
    ctx, cand = make_context(n=800, d=6, k=3, seed=3)
    s = make_strategy(
        "refine", strategies=CHEAP, final="margin", draws_per_strategy=4, n_jobs=n_jobs
    )
    batch = s.select(ctx, cand, 10, np.random.default_rng(4))
    ref = make_strategy("refine", strategies=CHEAP, final="margin", draws_per_strategy=4)
    np.testing.assert_array_equal(batch, ref.select(ctx, cand, 10, np.random.default_rng(4)))
    assert not ctx.labeled_mask[batch].any() and np.unique(batch).size == 10
    assert set(s.trace_["batch_nominators"]) == {str(x) for x in batch}
    json.dumps(s.trace_)  # the trace is JSON-serialisable (it is stored with the results)


def test_one_deterministic_strategy_alpha1_m1_equals_its_batch():
    ctx, cand = make_context(n=600, d=6, k=3, seed=4)
    margin = make_strategy("margin")
    direct = margin.select(ctx, cand, 10, np.random.default_rng(0))
    s = make_strategy(
        "refine",
        strategies=("margin",),
        final="margin",
        sample_ratio=1.0,
        draws_per_strategy=1,
        variant="paper",
        rounds=3,
    )
    assert sorted(s.select(ctx, cand, 10, np.random.default_rng(1)).tolist()) == sorted(
        direct.tolist()
    )
    assert s.trace_["pool_sizes"] == [10, 10, 10]


def test_subsample_sizes_on_a_pool_of_50000():
    X = np.zeros((50000, 2), np.float32)
    ctx = SelectionContext.from_arrays(X)
    cand = np.arange(50000)
    kw = dict(strategies=[FirstB()], rounds=3, draws_per_strategy=200, sample_ratio=0.4)
    _, pub = run_filter(ctx, cand, b=10, variant="published", **kw)
    _, pap = run_filter(ctx, cand, b=10, variant="paper", **kw)
    # published: 5000 in round 1, then floor(0.4 |P|), with |P| ≤ 10 000 after the cap
    assert pub.subsample_sizes[0] == 5000
    assert pap.subsample_sizes[0] == 20000  # paper: floor(0.4 · 50 000)
    for t in (pub, pap):
        for r in (1, 2):
            assert t.subsample_sizes[r] == max(10, math.floor(0.4 * t.pool_sizes[r - 1]))
    pf = ProgressiveFilter(variant="published")
    assert pf.subsample_size(1, 3000, 3000, 10) == 3000  # never more than the pool
    assert pf.subsample_size(2, 12, 50000, 10) == 10  # max(b, floor(α|P|)) = max(10, 4)


def test_survival_frequencies_match_theorem1():
    """One round: P(x ∈ P_1) = 1 − Π_a (1 − q p_a(x))^m, q = s/|P| (Theorem 1, exact).

    Each replication gives, per probability group, the fraction of the group that survived; the
    fractions of independent replications are averaged and compared with the formula using
    Hoeffding's bound at failure probability 1e-6 per check (cannot flake in practice). The bound
    is tight enough to reject the formula without the subsampling factor q.
    """
    n, alpha, m, reps = 240, 0.4, 3, 600
    groups = np.repeat([0.05, 0.3, 0.8], n // 3)
    p_a = groups
    p_b = groups[::-1].copy()  # a second strategy that values the other end
    X = np.zeros((n, 2), np.float32)
    ctx = SelectionContext.from_arrays(X)
    q = math.floor(alpha * n) / n
    expected = 1 - (1 - q * p_a) ** m * (1 - q * p_b) ** m
    wrong = 1 - (1 - p_a) ** m * (1 - p_b) ** m
    pf = ProgressiveFilter(
        strategies=[Bernoulli(p_a), Bernoulli(p_b)],
        rounds=1,
        draws_per_strategy=m,
        sample_ratio=alpha,
        variant="paper",
    )
    keys = np.unique(np.stack([p_a, p_b], 1), axis=0, return_inverse=True)[1].ravel()
    freq = np.zeros(keys.max() + 1)
    for r in range(reps):
        pool, _ = pf.filter(ctx, np.arange(n), 1, np.random.default_rng(r))
        alive = np.zeros(n, bool)
        alive[pool] = True
        freq += np.bincount(keys, weights=alive, minlength=freq.size) / np.bincount(keys)
    freq /= reps
    tol = math.sqrt(math.log(2 / 1e-6) / (2 * reps))
    for g in range(freq.size):
        idx = np.flatnonzero(keys == g)[0]
        assert abs(freq[g] - expected[idx]) <= tol, (g, freq[g], expected[idx])
        if abs(wrong[idx] - expected[idx]) > 2 * tol:
            assert abs(freq[g] - wrong[idx]) > tol


def test_filtered_strategy_spec_and_bad_params():
    f = make_strategy("filtered:margin", strategies=CHEAP, draws_per_strategy=2)
    assert f.strategy == "margin" and f.manages_pool
    ctx, cand = make_context(n=700, seed=5)
    batch = f.select(ctx, cand, 10, np.random.default_rng(0))
    assert np.unique(batch).size == 10
    assert f.trace_["final_strategy"] == "margin"
    with pytest.raises(ConfigError, match="unknown strategy"):
        make_strategy("filtered:psychic")
    with pytest.raises(ConfigError, match="variant"):
        run_filter(ctx, cand, variant="fancy")
    with pytest.raises(ConfigError, match="sample_ratio"):
        run_filter(ctx, cand, sample_ratio=0)
    with pytest.raises(ConfigError, match="rounds"):
        run_filter(ctx, cand, rounds=0)


def test_trace_describes_the_last_call_only():
    # a call that hands back every candidate runs no filtering: it must not keep the old trace
    ctx, cand = make_context(n=400, d=6, k=3, seed=6)
    s = make_strategy("refine", strategies=CHEAP, final="margin", draws_per_strategy=2)
    s.select(ctx, cand, 10, np.random.default_rng(0))
    assert s.trace_["pool_sizes"]
    batch = s.select(ctx, cand[:10], 10, np.random.default_rng(1))
    assert sorted(batch.tolist()) == sorted(cand[:10].tolist())
    assert s.trace_ == {"all_candidates": True}


def test_first_subsample_below_b_is_raised_to_b():
    pf = ProgressiveFilter(variant="published", first_subsample=5)
    assert pf.subsample_size(1, 1000, 1000, 20) == 20
    assert pf.subsample_size(1, 12, 12, 20) == 12  # never more than the pool


# ------------------------------------------------------- reused draws on a whole-pool subsample
#: Candidate counts of CountingFirstB's calls (module-level: the filter clones its members).
CALLS: list[int] = []


class CountingFirstB(FirstB):
    """FirstB that declares direct_rng and records each call's number of candidates."""

    name = "test-counting-first-b"
    direct_rng = True

    def _select(self, ctx, candidates, batch_size, rng):
        CALLS.append(candidates.size)
        return super()._select(ctx, candidates, batch_size, rng)


class RandomDeclaredDirect(Strategy):
    """Declares direct_rng but draws: its draws must never be reused."""

    name = "test-random-direct"
    label_free = True
    direct_rng = True

    def _select(self, ctx, candidates, batch_size, rng):
        return rng.choice(candidates, size=batch_size, replace=False)


def _without_reuse(monkeypatch, *classes):
    for cls in classes:
        monkeypatch.setattr(cls, "direct_rng", False)


def _same(a, b):
    (pa, ta), (pb, tb) = a, b
    np.testing.assert_array_equal(pa, pb)
    da, db = ta.to_dict(), tb.to_dict()
    da.pop("seconds"), db.pop("seconds")
    assert da == db


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_reused_draws_give_the_batches_of_m_computations(monkeypatch, n_jobs):
    # threads: the calls are counted in this process (forked workers' counts stay in them;
    # test_parallel_backends_give_the_serial_pools_and_traces covers processes)
    """Round 1 on a pool below 5000 gives every draw the whole pool: a direct_rng strategy that
    drew nothing is computed once there (not m times) and the pools and traces stay those of m
    computations; a direct_rng strategy that does draw is computed m times."""
    from refine.strategies import bait, margin, maxherding, uherding

    ctx, cand = make_context(n=700, d=6, k=3, seed=5)
    calls = CALLS
    calls.clear()
    members = [CountingFirstB(), RandomDeclaredDirect(), "margin", "uherding", "bait"]
    kw = dict(strategies=members, draws_per_strategy=4, rounds=3, n_jobs=n_jobs)
    kw["parallel_backend"] = "threads"
    reused = run_filter(ctx, cand, seed=3, **kw)
    assert calls[:1] == [cand.size] and calls.count(cand.size) == 1  # round 1: once, not 4 times
    assert len(calls) == 1 + 4 * 2  # rounds 2 and 3 subsample: every draw computed
    calls.clear()
    classes = (CountingFirstB, RandomDeclaredDirect, margin.MarginSampling, uherding.UHerding)
    _without_reuse(monkeypatch, *classes, bait.Bait)
    computed = run_filter(ctx, cand, seed=3, **kw)
    assert calls.count(cand.size) == 4
    _same(reused, computed)
    assert maxherding.MaxHerding.direct_rng  # declared by the four rng-free strategies


def test_direct_rng_strategies_draw_nothing_below_their_thresholds_and_ignore_rng():
    """The declaration's premise: Margin, BAIT, MaxHerding and UHerding leave the generator
    untouched on a small pool, and two generators give the same batch then."""
    from refine.strategies import strategy_class

    ctx, cand = make_context(n=400, d=6, k=3, seed=6)
    declared = [
        n
        for n in ("margin", "bait", "maxherding", "uherding", "badge", "typiclust")
        if strategy_class(n).direct_rng
    ]
    assert declared == ["margin", "bait", "maxherding", "uherding"]
    for name in declared:
        rngs = [np.random.default_rng(s) for s in (1, 2)]
        before = [r.bit_generator.state for r in rngs]
        batches = [make_strategy(name).select(ctx, cand, 10, r) for r in rngs]
        assert [r.bit_generator.state for r in rngs] == before, name
        np.testing.assert_array_equal(batches[0], batches[1])


def _spy_on_stacked_seedings(monkeypatch) -> list:
    """Record the point stacks TypiClust hands to the stacked k-means++ seeding."""
    from refine.strategies import _clustering, typiclust

    seen = []
    real = _clustering.kmeans_plusplus_many

    def spy(Xs, k, rngs):
        seen.append(Xs)
        return real(Xs, k, rngs)

    monkeypatch.setattr(_clustering, "kmeans_plusplus_many", spy)
    monkeypatch.setattr(typiclust, "kmeans_plusplus_many", spy)
    return seen


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_batched_draws_give_the_batches_of_one_call_per_draw(monkeypatch, n_jobs):
    """Serially, TypiClust gets all its draws of a round in one select_draws call (its k-means++
    seedings in one loop); pools and traces are those of one select per draw, for both rules and
    inverse TypiClust, in the whole-pool round 1 and the subsampled rounds after it."""
    from refine.strategies.typiclust import TypiClust

    ctx, cand = make_context(n=700, d=6, k=3, seed=7)
    members = ["typiclust", TypiClust(variant="original"), "inv_typiclust", "margin"]
    kw = dict(strategies=members, draws_per_strategy=4, rounds=3, n_jobs=n_jobs)
    kw["parallel_backend"] = "threads"  # the spy sees this process's calls only
    seen = _spy_on_stacked_seedings(monkeypatch)
    together = run_filter(ctx, cand, seed=4, **kw)
    # serial: three TypiClust members × three rounds, four draws each; threads: one per draw
    assert [Xs.shape[0] for Xs in seen] == ([4] * 9 if n_jobs == 1 else [])
    # stacks above the cache-sized limit are seeded one draw at a time (same pools)
    monkeypatch.setattr("refine.strategies.typiclust.STACKED_SEEDING_MAX_MB", 1e-3)
    seen.clear()
    _same(together, run_filter(ctx, cand, seed=4, **kw))
    assert seen == []
    monkeypatch.setattr(TypiClust, "batched_draws", False)
    _same(together, run_filter(ctx, cand, seed=4, **kw))


def test_typiclust_select_draws_equals_select_per_draw_also_when_it_falls_back(monkeypatch):

    ctx, cand = make_context(n=500, d=6, k=3, seed=8)
    st = make_strategy("typiclust")
    rng = np.random.default_rng(0)
    same_size = [np.sort(rng.choice(cand, 120, replace=False)) for _ in range(3)]
    mixed = [*same_size[:2], np.sort(rng.choice(cand, 90, replace=False))]
    tiny = [*same_size[:2], cand[:10]]  # b candidates: returned as they are
    identical = [cand.copy() for _ in range(3)]  # a whole-pool round: one point set, a view
    seen = _spy_on_stacked_seedings(monkeypatch)
    for subsets in (same_size, mixed, tiny, identical):
        got = st.select_draws(ctx, subsets, 10, [np.random.default_rng(s) for s in range(3)])
        want = [st.select(ctx, c, 10, np.random.default_rng(s)) for s, c in enumerate(subsets)]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
    # stacked copies for the same-size draws, one broadcast set for the identical ones
    stacks = [Xs.strides[0] for Xs in seen]
    assert len(stacks) == 2 and stacks[0] > 0 and stacks[1] == 0


def test_trace_to_dict_is_asdict_with_string_keyed_nominators():
    # the hand-built copy must hold every field, as dataclasses.asdict would
    from dataclasses import asdict

    ctx, cand = make_context(n=600, d=6, k=3, seed=9)
    _, trace = run_filter(ctx, cand, seed=2, draws_per_strategy=3)
    expected = asdict(trace)
    expected["nominators"] = {str(k): v for k, v in trace.nominators.items()}
    got = trace.to_dict()
    assert got == expected and list(got) == list(expected)
    assert trace.nominators and json.dumps(got)
    # a copy: changing it leaves the trace as it was
    got["pool_sizes"].append(-1)
    key, rounds = next(iter(trace.nominators.items()))
    first_round = next(iter(rounds))
    got["nominators"][str(key)][first_round].append("x")
    assert -1 not in trace.pool_sizes and "x" not in trace.nominators[key][first_round]


def test_duplicate_candidates_are_refused_sorted_or_not():
    ctx, cand = make_context(n=200, d=4, k=3, seed=1)
    st = make_strategy("margin")
    for bad in (np.array([cand[0], cand[0], cand[1]]), np.array([cand[2], cand[1], cand[2]])):
        with pytest.raises(ConfigError, match="unique"):
            st.select(ctx, bad, 1, np.random.default_rng(0))
    assert st.select(ctx, cand[::-1].copy(), 3, np.random.default_rng(0)).size == 3
