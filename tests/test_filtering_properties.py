"""Hypothesis properties of progressive filtering and Refine over random configurations.

Cheap label-free strategies (uniform random, and a deterministic score order) keep each example
fast, so the invariants of Algorithm 1 are checked over many pool sizes, batch sizes, rounds,
draws, ratios, caps and both variants rather than on a handful of hand-picked settings.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refine.context import SelectionContext
from refine.strategies import Strategy, make_strategy
from refine.strategies.filtering import ProgressiveFilter

# a draw never sees fewer candidates than b (the subsample is at least b, the pool too)
pytestmark = pytest.mark.filterwarnings("error::refine.strategies.base.SmallPoolWarning")


class LowestScore(Strategy):
    """Deterministic: the b candidates with the lowest fixed score (ties by index)."""

    name = "test-lowest-score"
    label_free = True

    def _select(self, ctx, candidates, batch_size, rng):
        score = np.sin(candidates * 12.9898) % 1.0  # a fixed pseudo-random score per instance
        order = np.lexsort((candidates, score))
        return candidates[order[:batch_size]]


configs = st.fixed_dictionaries(
    {
        "n": st.integers(1, 400),
        "n_labeled": st.integers(0, 30),
        "b": st.integers(1, 25),
        "rounds": st.integers(1, 4),
        "m": st.integers(1, 4),
        "alpha": st.floats(0.05, 1.0),
        "first": st.integers(1, 500),
        "cap": st.one_of(st.none(), st.integers(1, 300)),
        "variant": st.sampled_from(["published", "paper"]),
        "deterministic": st.booleans(),
        "seed": st.integers(0, 2**32 - 1),
    }
)


def setup(c):
    n_total = c["n"] + c["n_labeled"]
    X = np.random.default_rng(0).standard_normal((n_total, 3)).astype(np.float32)
    labeled = np.arange(c["n"], n_total)
    ctx = SelectionContext.from_arrays(X, labeled, np.zeros(labeled.size, dtype=np.int64), 2)
    cand = np.arange(c["n"])
    b = min(c["b"], c["n"])
    strategies = [LowestScore(), "random"] if c["deterministic"] else ["random"]
    pf = ProgressiveFilter(
        strategies=strategies,
        rounds=c["rounds"],
        draws_per_strategy=c["m"],
        sample_ratio=c["alpha"],
        first_subsample=c["first"],
        max_pool=max(c["cap"], b) if c["cap"] is not None else None,
        variant=c["variant"],
    )
    return ctx, cand, b, pf


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_filter_invariants(c):
    ctx, cand, b, pf = setup(c)
    pool, trace = pf.filter(ctx, cand, b, np.random.default_rng(c["seed"]))
    n_strat = len(pf.strategies)
    assert np.isin(pool, cand).all() and np.unique(pool).size == pool.size
    prev = cand.size
    for r, (s, u, p) in enumerate(
        zip(trace.subsample_sizes, trace.union_sizes, trace.pool_sizes, strict=True), start=1
    ):
        # the subsample rule of the variant, never more than the pool
        if r == 1 and c["variant"] == "published":
            expected = min(max(b, c["first"]), prev)
        else:
            base = cand.size if r == 1 else prev
            expected = min(max(b, math.floor(c["alpha"] * base)), prev)
        assert s == expected
        # every draw selects b distinct instances of the subsample: b <= union <= draws · b
        assert b <= u <= min(prev, n_strat * c["m"] * b)
        # the cap binds only in the published variant; the pool never drops below b
        cap = pf.max_pool if c["variant"] == "published" and pf.max_pool is not None else None
        assert p == (min(u, cap) if cap is not None else u)
        assert b <= p <= prev
        prev = p
    # nested pools: each final member was nominated in every round
    for rounds in trace.nominators.values():
        assert all(rounds[str(r)] for r in range(1, len(trace.pool_sizes) + 1))
    # same seed, same pool
    again, _ = pf.filter(ctx, cand, b, np.random.default_rng(c["seed"]))
    np.testing.assert_array_equal(pool, again)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configs)
def test_refine_batch_invariants(c):
    ctx, cand, b, pf = setup(c)
    s = make_strategy(
        "refine",
        strategies=pf.strategies,
        final="random",
        rounds=pf.rounds,
        draws_per_strategy=pf.draws_per_strategy,
        sample_ratio=pf.sample_ratio,
        first_subsample=pf.first_subsample,
        max_pool=pf.max_pool,
        variant=pf.variant,
    )
    if cand.size <= b:  # every candidate is the batch; nothing is filtered
        s.select(ctx, cand, b, np.random.default_rng(c["seed"]))
        assert s.trace_ == {"all_candidates": True}
        return
    # Refine's own output (Strategy.select's checks bypassed)
    selection = s._select(ctx, cand, b, np.random.default_rng(c["seed"]))
    batch, trace = selection.indices, selection.trace
    assert batch.size == b and np.unique(batch).size == b
    assert np.isin(batch, cand).all() and not ctx.labeled_mask[batch].any()
    # the batch comes from the refined pool: every member survived every round
    for x in batch:
        rounds = trace["batch_nominators"][str(int(x))]
        assert len(rounds) == len(trace["pool_sizes"]) and all(rounds.values())
