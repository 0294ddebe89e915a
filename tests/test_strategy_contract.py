"""The one contract every registered strategy must honour (README, Architecture).

Parametrised over the registry, so each strategy added to :mod:`refine.strategies` is checked
the same way: unique indices, disjoint from L, exactly b, same seed → same batch, and the
degenerate pools that break strategies in other libraries (duplicated rows, a class absent from L,
a single labeled instance, K = 2 and K = 200, one candidate more than b).

The batch checks run on each strategy's own ``_select`` output (:func:`tests.conftest.raw_batch`):
``Strategy.select`` enforces them and would raise first, so checking its output would only test
the base class. The base class's own guarantees (its output checks, its early return when there
are no more candidates than b) are tested once, with probe strategies, at the end.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from refine.strategies import SmallPoolWarning, available_strategies, make_strategy
from refine.strategies.base import Selection, Strategy, StrategyOutputError
from tests.conftest import build, make_context, raw_batch

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
    strat = build(name)
    a = raw_batch(strat, ctx, cand, 10, np.random.default_rng(5))
    check_batch(ctx, cand, a, 10)
    b = clone(strat).select(ctx, cand, 10, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    # a fresh context with the same seed gives the same batch (nothing cached across contexts)
    ctx2, cand2 = make_context(seed=1)
    c = build(name).select(ctx2, cand2, 10, np.random.default_rng(5))
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("name", STRATEGIES)
def test_subset_of_candidates(name):
    ctx, cand = make_context(seed=2)
    sub = cand[::3]
    chosen = raw_batch(build(name), ctx, sub, 7, np.random.default_rng(0))
    check_batch(ctx, sub, chosen, 7)


@pytest.mark.parametrize("name", STRATEGIES)
def test_one_candidate_more_than_batch(name):
    # the smallest pool on which the strategy itself runs (the base class returns smaller ones)
    ctx, cand = make_context(seed=3)
    chosen = raw_batch(build(name), ctx, cand[:11], 10, np.random.default_rng(0))
    check_batch(ctx, cand[:11], chosen, 10)


@pytest.mark.parametrize("name", STRATEGIES)
def test_duplicated_feature_rows(name):
    ctx, cand = make_context(seed=4, duplicates=True)
    chosen = raw_batch(build(name), ctx, cand, 12, np.random.default_rng(1))
    check_batch(ctx, cand, chosen, 12)


@pytest.mark.parametrize("name", STRATEGIES)
def test_class_absent_from_labeled_set(name):
    ctx, cand = make_context(seed=5, missing_class=True)
    chosen = raw_batch(build(name), ctx, cand, 10, np.random.default_rng(2))
    check_batch(ctx, cand, chosen, 10)


@pytest.mark.parametrize("name", STRATEGIES)
def test_single_labeled_instance(name):
    ctx, cand = make_context(seed=6, n_labeled=1)
    chosen = raw_batch(build(name), ctx, cand, 5, np.random.default_rng(3))
    check_batch(ctx, cand, chosen, 5)


@pytest.mark.parametrize("name", STRATEGIES)
def test_two_classes(name):
    ctx, cand = make_context(seed=7, k=2)
    chosen = raw_batch(build(name), ctx, cand, 10, np.random.default_rng(4))
    check_batch(ctx, cand, chosen, 10)


@pytest.mark.parametrize("name", STRATEGIES)
def test_two_hundred_classes(name):
    ctx, cand = make_context(seed=8, n=1200, d=16, k=200, n_labeled=300, epochs=20)
    chosen = raw_batch(build(name), ctx, cand, 200, np.random.default_rng(5))
    check_batch(ctx, cand, chosen, 200)


@pytest.mark.parametrize("name", [s for s in STRATEGIES if make_strategy(s).label_free])
def test_label_free_strategies_work_without_labels(name):
    ctx, cand = make_context(seed=9, n_labeled=0)
    chosen = raw_batch(build(name), ctx, cand, 10, np.random.default_rng(6))
    check_batch(ctx, cand, chosen, 10)


@pytest.mark.parametrize("name", STRATEGIES)
def test_rank_returns_unique_candidates(name):
    ctx, cand = make_context(seed=10)
    ranked = build(name).rank(ctx, cand, 15, np.random.default_rng(7))
    assert 0 < ranked.size <= 15
    assert np.unique(ranked).size == ranked.size
    assert np.isin(ranked, cand).all()


def test_nested_parameters_never_touch_the_shared_default_filter():
    from refine.strategies.refine import DEFAULT_FILTER

    before = DEFAULT_FILTER.get_params()
    a = make_strategy("refine", rounds=2)
    b = make_strategy("refine")
    b.set_params(filter__sample_ratio=0.2)
    assert a.filter.rounds == 2 and b.filter.sample_ratio == 0.2
    assert DEFAULT_FILTER.get_params() == before
    assert make_strategy("refine").filter.rounds == 5
    assert clone(a).filter.rounds == 2


# ---------------------------------------------------------------------- the base class itself
class _Probe(Strategy):
    """Returns what it is told to (to test the base class's checks); counts its calls."""

    name = "probe"

    def __init__(self, output="first"):
        self.output = output

    def _select(self, ctx, candidates, batch_size, rng):
        self.calls_ = getattr(self, "calls_", 0) + 1
        if self.output == "first":
            return Selection(candidates[:batch_size], {"probe": True})
        if self.output == "duplicate":
            return np.repeat(candidates[:1], batch_size)
        if self.output == "short":
            return candidates[: batch_size - 1]
        if self.output == "labeled":
            return np.concatenate([[int(ctx.labeled[0])], candidates[: batch_size - 1]])
        others = np.setdiff1d(np.flatnonzero(~ctx.labeled_mask), candidates)
        if self.output == "gap":  # an unlabeled instance between two candidates
            inside = others[(others > candidates.min()) & (others < candidates.max())]
            return np.concatenate([inside[:1], candidates[: batch_size - 1]])
        if self.output == "beyond":  # an unlabeled instance after the last candidate
            return np.concatenate([others[others > candidates.max()][:1], candidates[1:batch_size]])
        raise AssertionError(self.output)


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
@pytest.mark.parametrize("output", ["duplicate", "short", "labeled", "gap", "beyond"])
def test_base_class_rejects_a_broken_batch(output, order):
    ctx, cand = make_context(seed=12)
    # every other unlabeled instance, so that some lie between and after the candidates
    cand = np.sort(cand)[:-3:2]
    if order == "shuffled":  # the check's np.isin path (candidates not increasing)
        cand = np.random.default_rng(1).permutation(cand)
    with pytest.raises(StrategyOutputError):
        _Probe(output).select(ctx, cand, 5, np.random.default_rng(0))
    # the same candidates pass with a valid batch
    assert _Probe().select(ctx, cand, 5, np.random.default_rng(0)).size == 5


def test_base_class_returns_every_candidate_without_running_the_strategy():
    ctx, cand = make_context(seed=13)
    probe = _Probe()
    with pytest.warns(SmallPoolWarning):
        few = probe.select_with_trace(ctx, cand[:4], 10, np.random.default_rng(0))
    assert sorted(few.indices.tolist()) == sorted(cand[:4].tolist())
    assert few.trace == probe.trace_ == {"all_candidates": True}
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallPoolWarning)
        exact = probe.select(ctx, cand[:10], 10, np.random.default_rng(0))
    assert sorted(exact.tolist()) == sorted(cand[:10].tolist())
    assert not hasattr(probe, "calls_")
    # one candidate more: the strategy runs, and its trace replaces the early return's
    ran = probe.select_with_trace(ctx, cand[:11], 10, np.random.default_rng(0))
    assert probe.calls_ == 1 and ran.trace == probe.trace_ == {"probe": True}
