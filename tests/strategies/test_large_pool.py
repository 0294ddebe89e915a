"""The large-pool rule: above ``large_pool`` candidates a uniform subsample is scored, on record.

The pools are made large cheaply by lowering the threshold (``large_pool=1000``) on a 3000-point
pool, so the large-pool path runs here exactly as it does at a million candidates.
"""

from __future__ import annotations

import numpy as np
import pytest

from refine.errors import ConfigError
from refine.strategies import make_strategy
from refine.strategies._large_pool import large_pool_subsample
from tests.conftest import make_context

#: Strategies with the rule (the exact path then runs on the subsample).
SUBSAMPLING = ["typiclust", "inv_typiclust", "badge", "coreset", "alfamix", "dropquery"]
LOW = dict(large_pool=1000, pool_sample=400)


@pytest.fixture(scope="module")
def big():
    return make_context(n=3000, d=8, k=4, n_labeled=30, seed=3, epochs=30)


@pytest.mark.parametrize("name", SUBSAMPLING)
def test_invariants_on_the_large_pool_path(big, name):
    ctx, cand = big
    strat = make_strategy(name, **LOW)
    a = strat.select(ctx, cand, 25, np.random.default_rng(5))
    trace = strat.trace_
    b = make_strategy(name, **LOW).select(ctx, cand, 25, np.random.default_rng(5))
    assert a.size == 25 and np.unique(a).size == 25
    assert not ctx.labeled_mask[a].any() and np.isin(a, cand).all()
    np.testing.assert_array_equal(a, b)  # same seed, same batch
    rec = trace["large_pool"]
    assert rec["threshold"] == 1000 and rec["sample"] == 400
    assert rec["n"] == cand.size and rec["of"] == "candidates"


@pytest.mark.parametrize("name", SUBSAMPLING)
def test_large_pool_path_is_the_exact_strategy_on_a_uniform_subsample_drawn_first(big, name):
    ctx, cand = big
    rng = np.random.default_rng(11)
    got = make_strategy(name, **LOW).select(ctx, cand, 25, rng)
    # replay: the subsample is the first draw of the stream, then the exact path runs on it
    replay = np.random.default_rng(11)
    sub = np.sort(replay.choice(cand, size=400, replace=False))
    exact = make_strategy(name, large_pool=None).select(ctx, sub, 25, replay)
    np.testing.assert_array_equal(got, exact)
    assert np.isin(got, sub).all()


@pytest.mark.parametrize("name", SUBSAMPLING)
def test_below_the_threshold_nothing_changes(context_factory, name):
    ctx, cand = context_factory(n=400, d=8, k=4, n_labeled=20, seed=1, epochs=30)
    default = make_strategy(name)
    a = default.select(ctx, cand, 10, np.random.default_rng(4))
    off = make_strategy(name, large_pool=None)
    b = off.select(ctx, cand, 10, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert "large_pool" not in default.trace_


def test_subsample_helper_draws_nothing_below_the_threshold():
    rng = np.random.default_rng(0)
    cand = np.arange(50)
    out, trace = large_pool_subsample(cand, 50, 10, rng)
    assert out is not None and np.array_equal(out, cand) and trace == {}
    assert rng.integers(1 << 30) == np.random.default_rng(0).integers(1 << 30)
    out, trace = large_pool_subsample(cand, 49, 10, rng)
    assert out.size == 10 and np.all(np.diff(out) > 0) and trace["large_pool"]["n"] == 50


@pytest.mark.parametrize("name", [*SUBSAMPLING, "tailor", "autoal", "autoal-original"])
@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(large_pool=100, pool_sample=200), "pool_sample .* must not exceed large_pool"),
        (dict(large_pool=0), "large_pool"),
        (dict(pool_sample=0), "pool_sample"),
    ],
)
def test_bad_large_pool_parameters_are_refused_before_any_work(name, params, match):
    with pytest.raises(ConfigError, match=match):
        make_strategy(name, **params).check_params()


def blobs(n_blobs=10, n=6000, d=16, seed=0):
    """Well separated Gaussian blobs of unequal sizes; features, blob ids and the centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 25.0, size=(n_blobs, d))
    weights = np.linspace(1.0, 2.0, n_blobs)
    y = rng.choice(n_blobs, size=n, p=weights / weights.sum())
    X = centres[y] + rng.normal(size=(n, d))
    return X.astype(np.float32), y, centres


@pytest.mark.parametrize("seed", range(5))
def test_large_pool_typiclust_agrees_with_the_exact_path_on_separated_blobs(seed):
    """Statistical check of the subsample semantics against the whole-pool algorithm.

    Ten separated blobs, cold start, b = 10: k-means recovers the blobs and both paths must
    query one point from every blob, and their picks must be central. Tolerance: a pick's
    distance to its blob centre is below the 0.25-quantile of all members' distances in that
    blob, for both paths (the most typical point of a 16-d Gaussian sits near its mode; a
    uniformly random member would pass with probability 0.25 per blob, so passing for all ten
    blobs by chance has probability 0.25¹⁰ ≈ 1e-6). Seeds 0–4.
    """
    from refine.context import SelectionContext

    X, y, centres = blobs(seed=seed)
    ctx = SelectionContext.from_arrays(X, n_classes=10, seed=seed)
    cand = np.arange(X.shape[0])
    dist = np.linalg.norm(X - centres[y], axis=1)
    q25 = np.array([np.quantile(dist[y == c], 0.25) for c in range(10)])
    for params in (dict(large_pool=None), dict(large_pool=2000, pool_sample=1000)):
        strat = make_strategy("typiclust", **params)
        picked = strat.select(ctx, cand, 10, np.random.default_rng(seed))
        assert sorted(y[picked]) == list(range(10)), params
        assert np.all(dist[picked] < q25[y[picked]]), params
        assert ("large_pool" in strat.trace_) == (params["large_pool"] is not None)


def test_alfamix_row_terms_of_the_candidates_only_flag_the_same_points():
    """On a pool above ``large_pool`` the gradient terms are computed per call, for the
    candidates only (not once for the whole pool): the flags must be the same."""
    from refine.strategies.alfamix import AlfaMix

    ctx, cand = make_context(n=3000, d=8, k=4, n_labeled=30, seed=3, epochs=30)
    sub = np.sort(np.random.default_rng(0).choice(cand, 700, replace=False))
    lazy = AlfaMix(large_pool=1000, pool_sample=400).candidate_mask(ctx, sub, 10)
    assert ("alfamix", "row_stats") not in ctx._memo  # the whole-pool pass did not run
    whole = AlfaMix(large_pool=None).candidate_mask(ctx, sub, 10)
    assert ("alfamix", "row_stats") in ctx._memo
    assert lazy.sum() > 0
    np.testing.assert_array_equal(lazy, whole)


def test_tailor_arms_work_on_one_subsample_of_a_large_pool(big):
    ctx, cand = big
    arms = ("random", "margin", "coreset")
    strat = make_strategy("tailor", strategies=arms, **LOW)
    got = strat.select(ctx, cand, 25, np.random.default_rng(8))
    again = make_strategy("tailor", strategies=arms, **LOW).select(
        ctx, cand, 25, np.random.default_rng(8)
    )
    np.testing.assert_array_equal(got, again)
    assert got.size == 25 and np.unique(got).size == 25 and not ctx.labeled_mask[got].any()
    sub = np.sort(np.random.default_rng(8).choice(cand, size=400, replace=False))
    assert np.isin(got, sub).all()
    assert strat.trace_["large_pool"]["sample"] == 400
    assert sum(strat.trace_["tailor_arm_counts"].values()) == 25
    whole = make_strategy("tailor", strategies=arms, large_pool=None)
    whole.select(ctx, cand, 25, np.random.default_rng(8))
    assert "large_pool" not in whole.trace_


def test_tailor_subsample_holds_at_least_a_batch(big):
    ctx, cand = big
    strat = make_strategy(
        "tailor", strategies=("random", "margin"), large_pool=1000, pool_sample=10
    )
    got = strat.select(ctx, cand, 25, np.random.default_rng(1))
    assert got.size == 25 and strat.trace_["large_pool"]["sample"] == 25


@pytest.mark.parametrize("name", ["autoal", "autoal-original"])
def test_autoal_scores_one_subsample_of_a_large_pool(big, name):
    from tests.conftest import CHEAP_PARAMS

    ctx, cand = big
    params = dict(CHEAP_PARAMS[name], strategies=("random", "margin"), **LOW)
    strat = make_strategy(name, **params)
    got = strat.select(ctx, cand, 10, np.random.default_rng(6))
    sub = np.sort(np.random.default_rng(6).choice(cand, size=400, replace=False))
    assert got.size == 10 and np.unique(got).size == 10 and np.isin(got, sub).all()
    assert strat.trace_["large_pool"]["n"] == cand.size
    again = make_strategy(name, **params).select(ctx, cand, 10, np.random.default_rng(6))
    np.testing.assert_array_equal(got, again)
