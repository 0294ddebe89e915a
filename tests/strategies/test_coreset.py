"""Coreset (greedy k-center): hand-worked toy cases and agreement with scikit-activeml."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks._skal_badge_bait_coreset import skal_coreset
from refine.context import SelectionContext
from refine.errors import ConfigError
from refine.strategies.coreset import CoreSet, min_sq_distances


def line_context(points, labeled):
    X = np.asarray(points, dtype=np.float32)[:, None]
    labeled = np.asarray(labeled, dtype=np.int64)
    return SelectionContext.from_arrays(X, labeled, np.zeros(labeled.size, np.int64), n_classes=2)


def test_one_dimensional_toy_picks_the_farthest_points_in_order():
    # x = 0 is labeled. d = |x|: 10 is farthest; then d = (1, 2.5, 4) (4 is 6 from 10, 4 from 0);
    # then d(1) = 1, d(2.5) = min(2.5, 1.5) = 1.5, so 2.5.
    ctx = line_context([0.0, 1.0, 2.5, 4.0, 10.0], labeled=[0])
    chosen = CoreSet().select(ctx, np.array([1, 2, 3, 4]), 3, np.random.default_rng(0))
    assert chosen.tolist() == [4, 3, 2]


def test_labeled_points_shape_the_first_pick():
    # Labeled at 0 and 10: the candidate farthest from both is 5 (d = 5), not the extreme 9.
    ctx = line_context([0.0, 10.0, 2.0, 5.0, 9.0], labeled=[0, 1])
    chosen = CoreSet().select(ctx, np.array([2, 3, 4]), 1, np.random.default_rng(0))
    assert chosen.tolist() == [3]


def test_cold_start_draws_the_first_centre_from_rng_then_goes_farthest_first():
    ctx = line_context([0.0, 1.0, 3.0, 7.0, 12.0], labeled=[])
    cand = np.arange(5)
    first = int(np.random.default_rng(11).integers(5))
    chosen = CoreSet().select(ctx, cand, 3, np.random.default_rng(11))
    assert chosen[0] == first
    # hand-check the two farthest-first steps from that centre
    x = np.array([0.0, 1.0, 3.0, 7.0, 12.0])
    d = np.abs(x - x[first])
    second = int(np.argmax(d))
    d = np.minimum(d, np.abs(x - x[second]))
    d[[first, second]] = -1
    assert chosen.tolist() == [first, second, int(np.argmax(d))]


def test_duplicates_are_not_picked_while_distinct_points_remain():
    X = np.repeat(np.arange(6, dtype=np.float32)[:, None] * 3.0, 3, axis=0)  # 6 points × 3 copies
    ctx = SelectionContext.from_arrays(X, np.array([0]), np.array([0]), n_classes=2)
    chosen = CoreSet().select(ctx, np.arange(1, 18), 5, np.random.default_rng(0))
    assert sorted(X[chosen, 0].tolist()) == [3.0, 6.0, 9.0, 12.0, 15.0]


def test_blocked_min_distances_equal_the_full_matrix():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(257, 7)), rng.normal(size=(33, 7))
    full = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1).min(1)
    tiny_budget = 8 * 33 * 10 / 2**20  # 10 rows per block
    np.testing.assert_allclose(min_sq_distances(A, B, memory_budget_mb=tiny_budget), full)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_identical_to_scikit_activeml_with_labels(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 12)).astype(np.float32)
    labeled = rng.choice(400, 25, replace=False)
    labels = rng.integers(0, 3, 25)
    ctx = SelectionContext.from_arrays(X, labeled, labels, n_classes=3)
    cand = rng.permutation(ctx.unlabeled())[:250]
    ours = CoreSet().select(ctx, cand, 20, np.random.default_rng(seed))
    theirs = skal_coreset(X, None, labeled, labels, cand, 20, seed)
    np.testing.assert_array_equal(ours, theirs)


def test_cold_start_equivalent_to_scikit_activeml_seeded_with_our_first_centre():
    """With empty L both pick the first centre at random (different generators); from there the
    greedy is the same: our picks 2..b+1 equal scikit-activeml's picks with L = {our first}."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    ctx = SelectionContext.from_arrays(X, np.array([], np.int64), np.array([], np.int64), 2)
    cand = np.arange(300)
    ours = CoreSet().select(ctx, cand, 21, np.random.default_rng(5))
    first = ours[:1]
    rest = np.setdiff1d(cand, first)
    theirs = skal_coreset(X, None, first, np.zeros(1, np.int64), rest, 20, 0)
    np.testing.assert_array_equal(ours[1:], theirs)


def test_bad_memory_budget_raises():
    ctx = line_context([0.0, 1.0, 2.0, 3.0], labeled=[0])
    with pytest.raises(ConfigError, match="memory_budget_mb"):
        CoreSet(memory_budget_mb=0).select(ctx, np.array([1, 2, 3]), 2, np.random.default_rng(0))
