"""``max_candidates`` of MaxHerding, UHerding and BAIT: the published subsample made explicit."""

from __future__ import annotations

import numpy as np
import pytest

from refine.errors import ConfigError
from refine.strategies import make_strategy
from tests.conftest import make_context

CAPPED = ("maxherding", "uherding", "bait")


@pytest.fixture(scope="module")
def problem():
    return make_context(n=260, d=6, k=3, n_labeled=12, seed=3)


@pytest.mark.parametrize("name", CAPPED)
def test_above_the_cap_the_strategy_scores_the_documented_subsample(problem, name):
    ctx, cand = problem
    cap, b = 60, 5
    capped = make_strategy(name, max_candidates=cap)
    sel = capped.select_with_trace(ctx, cand, b, np.random.default_rng(9))
    assert sel.trace["subsampled"] == {"from": cand.size, "to": cap}
    # the same call written out: the sorted uniform subsample from the call's generator, then
    # the uncapped strategy on it with the generator's remaining stream
    rng = np.random.default_rng(9)
    sub = np.sort(rng.choice(cand, size=cap, replace=False))
    expect = make_strategy(name, max_candidates=None).select(ctx, sub, b, rng)
    np.testing.assert_array_equal(sel.indices, expect)
    assert np.isin(sel.indices, sub).all() and np.unique(sel.indices).size == b
    again = make_strategy(name, max_candidates=cap).select(ctx, cand, b, np.random.default_rng(9))
    np.testing.assert_array_equal(again, sel.indices)


@pytest.mark.parametrize("name", CAPPED)
def test_at_or_below_the_cap_nothing_changes_and_no_draw_is_made(problem, name):
    ctx, cand = problem
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    a = make_strategy(name, max_candidates=cand.size).select_with_trace(ctx, cand, 5, rng_a)
    b = make_strategy(name, max_candidates=None).select_with_trace(ctx, cand, 5, rng_b)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert "subsampled" not in a.trace
    assert rng_a.bit_generator.state == rng_b.bit_generator.state


@pytest.mark.parametrize("name", CAPPED)
@pytest.mark.parametrize("bad", [0, -3, 2.5, "many"])
def test_bad_cap_is_refused_naming_the_parameter(name, bad):
    with pytest.raises(ConfigError, match="max_candidates"):
        make_strategy(name, max_candidates=bad).check_params()


def test_a_cap_below_the_batch_size_keeps_the_batch_size(problem):
    ctx, cand = problem
    sel = make_strategy("maxherding", max_candidates=3).select_with_trace(
        ctx, cand, 8, np.random.default_rng(0)
    )
    assert sel.indices.size == 8 and sel.trace["subsampled"]["to"] == 8
