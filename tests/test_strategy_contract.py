"""The one contract every registered strategy must honour (README, Architecture).

Parametrised over the registry, so each strategy added to :mod:`refine.strategies` is checked
the same way: unique indices, disjoint from L, exactly b, same seed → same batch, and the
degenerate pools that break strategies in other libraries (duplicated rows, a class absent from L,
a single labeled instance, K = 2 and K = 200, fewer candidates than b).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from refine.strategies import SmallPoolWarning, available_strategies, make_strategy
from tests.conftest import make_context

STRATEGIES = available_strategies()


def check_batch(ctx, candidates, chosen, b):
    assert chosen.dtype == np.int64
    assert chosen.size == b
    assert np.unique(chosen).size == b
    assert np.isin(chosen, candidates).all()
    assert not ctx.labeled_mask[chosen].any()


@pytest.mark.parametrize("name", STRATEGIES)
def test_basic_contract_and_determinism(name):
    ctx, cand = make_context(seed=1)
    strat = make_strategy(name)
    a = strat.select(ctx, cand, 10, np.random.default_rng(5))
    check_batch(ctx, cand, a, 10)
    b = clone(strat).select(ctx, cand, 10, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    # a fresh context with the same seed gives the same batch (nothing cached across contexts)
    ctx2, cand2 = make_context(seed=1)
    c = make_strategy(name).select(ctx2, cand2, 10, np.random.default_rng(5))
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("name", STRATEGIES)
def test_subset_of_candidates(name):
    ctx, cand = make_context(seed=2)
    sub = cand[::3]
    chosen = make_strategy(name).select(ctx, sub, 7, np.random.default_rng(0))
    check_batch(ctx, sub, chosen, 7)


@pytest.mark.parametrize("name", STRATEGIES)
def test_fewer_candidates_than_batch(name):
    ctx, cand = make_context(seed=3)
    few = cand[:4]
    with pytest.warns(SmallPoolWarning):
        chosen = make_strategy(name).select(ctx, few, 10, np.random.default_rng(0))
    assert sorted(chosen.tolist()) == sorted(few.tolist())


@pytest.mark.parametrize("name", STRATEGIES)
def test_exactly_as_many_candidates_as_batch(name):
    ctx, cand = make_context(seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallPoolWarning)
        chosen = make_strategy(name).select(ctx, cand[:10], 10, np.random.default_rng(0))
    assert sorted(chosen.tolist()) == sorted(cand[:10].tolist())


@pytest.mark.parametrize("name", STRATEGIES)
def test_duplicated_feature_rows(name):
    ctx, cand = make_context(seed=4, duplicates=True)
    chosen = make_strategy(name).select(ctx, cand, 12, np.random.default_rng(1))
    check_batch(ctx, cand, chosen, 12)


@pytest.mark.parametrize("name", STRATEGIES)
def test_class_absent_from_labeled_set(name):
    ctx, cand = make_context(seed=5, missing_class=True)
    assert (ctx.labels != 3).all()
    chosen = make_strategy(name).select(ctx, cand, 10, np.random.default_rng(2))
    check_batch(ctx, cand, chosen, 10)


@pytest.mark.parametrize("name", STRATEGIES)
def test_single_labeled_instance(name):
    ctx, cand = make_context(seed=6, n_labeled=1)
    chosen = make_strategy(name).select(ctx, cand, 5, np.random.default_rng(3))
    check_batch(ctx, cand, chosen, 5)


@pytest.mark.parametrize("name", STRATEGIES)
def test_two_classes(name):
    ctx, cand = make_context(seed=7, k=2)
    chosen = make_strategy(name).select(ctx, cand, 10, np.random.default_rng(4))
    check_batch(ctx, cand, chosen, 10)


@pytest.mark.parametrize("name", STRATEGIES)
def test_two_hundred_classes(name):
    ctx, cand = make_context(seed=8, n=1200, d=16, k=200, n_labeled=300, epochs=20)
    chosen = make_strategy(name).select(ctx, cand, 200, np.random.default_rng(5))
    check_batch(ctx, cand, chosen, 200)


@pytest.mark.parametrize("name", [s for s in STRATEGIES if make_strategy(s).label_free])
def test_label_free_strategies_work_without_labels(name):
    ctx, cand = make_context(seed=9, n_labeled=0)
    chosen = make_strategy(name).select(ctx, cand, 10, np.random.default_rng(6))
    check_batch(ctx, cand, chosen, 10)


@pytest.mark.parametrize("name", STRATEGIES)
def test_rank_returns_unique_candidates(name):
    ctx, cand = make_context(seed=10)
    ranked = make_strategy(name).rank(ctx, cand, 15, np.random.default_rng(7))
    assert 0 < ranked.size <= 15
    assert np.unique(ranked).size == ranked.size
    assert np.isin(ranked, cand).all()


@pytest.mark.parametrize("name", STRATEGIES)
def test_params_roundtrip(name):
    strat = make_strategy(name)
    assert clone(strat).get_params() == strat.get_params()
