"""DropQuery: the candidate rule on constructed counts and pools, dropout scaling, k-means picks."""

from __future__ import annotations

import numpy as np
import pytest

from refine.context import SelectionContext
from refine.errors import ConfigError
from refine.head import HeadTrainer, LinearHead
from refine.strategies import make_strategy
from refine.strategies._clustering import fill_at_random, kmeans_plusplus, nearest_to_centres
from refine.strategies.dropquery import DropQuery
from tests.conftest import make_context


def fixed_head_context(X, W, b, labeled=(0,), labels=(0,)):
    X = np.asarray(X, dtype=np.float32)
    W = np.asarray(W, dtype=np.float32)
    trainer = HeadTrainer(X.shape[1], W.shape[0])
    return SelectionContext(
        X, np.asarray(labeled), np.asarray(labels), W.shape[0], trainer, head=LinearHead(W, b)
    )


# ---------------------------------------------------------------------- candidate rule
def test_threshold_starts_at_half_of_the_passes():
    counts = np.array([3] * 20 + [2] * 10 + [1] * 40 + [0] * 30)
    # 30 points with c > 1 >= 25·b for b = 1: the threshold stays at ⌊3/2⌋ = 1
    assert DropQuery().candidate_mask(counts, 1).sum() == 30


def test_threshold_is_lowered_to_zero_when_too_few_qualify():
    counts = np.array([3] * 2 + [2] * 1 + [1] * 10 + [0] * 50)
    mask = DropQuery().candidate_mask(counts, 1)  # 3 < 25 → c > 0
    np.testing.assert_array_equal(mask, counts > 0)
    # never below c > 0, even if that is still short of 25·b
    assert DropQuery().candidate_mask(np.array([0, 0, 1]), 4).tolist() == [False, False, True]
    # with candidate_factor = 0 the threshold is never lowered
    np.testing.assert_array_equal(
        DropQuery(candidate_factor=0).candidate_mask(counts, 1), counts > 1
    )
    # T = 5: ⌊5/2⌋ = 2, then 1, then 0
    c5 = np.array([5, 4, 3, 2, 2, 1, 0])
    np.testing.assert_array_equal(DropQuery(n_passes=5).candidate_mask(c5, 1), c5 > 0)
    assert DropQuery(n_passes=5, candidate_factor=1).candidate_mask(c5, 1).sum() == 3


# ---------------------------------------------------------------------- dropout semantics
def test_dropout_rescales_kept_features_and_p_is_the_drop_rate():
    # logits (x, 2x − 3): x = 2 gives (2, 1) → class 0; kept & rescaled x = 8 gives (8, 13) →
    # class 1; dropped x = 0 gives (0, −3) → class 0. So c = number of *kept* passes ~ Bin(3, 0.25);
    # without the 1/(1 − p) rescaling c would always be 0.
    X = np.full((400, 1), 2.0)
    ctx = fixed_head_context(X, [[1.0], [2.0]], np.array([0.0, -3.0]))
    counts = DropQuery().disagreements(ctx, np.arange(1, 400), np.random.default_rng(0))
    assert 0.6 < counts.mean() < 0.9  # E = 3 · 0.25
    assert counts.max() <= 3


def test_masks_do_not_depend_on_the_memory_budget():
    ctx, cand = make_context(n=300, d=16, k=5, n_labeled=20, seed=2, epochs=20)
    a = DropQuery().disagreements(ctx, cand, np.random.default_rng(4))
    b = DropQuery(memory_budget_mb=0.01).disagreements(ctx, cand, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)


def _switch_pool(n_flip, n_stable, extra=None):
    """Points with x0 = 10 (ŷ = 0, flip to 1 when x0 is dropped) or x0 = −10 (never flip).

    Logits (x0, −x0 + 0.5): dropping x0 gives (0, 0.5) → class 1.
    """
    x0 = np.r_[[-10.0], np.full(n_flip, 10.0), np.full(n_stable, -10.0)]
    X = x0[:, None] if extra is None else np.column_stack([x0, extra])
    W = np.zeros((2, X.shape[1]))
    W[0, 0], W[1, 0] = 1.0, -1.0
    return fixed_head_context(X, W, np.array([0.0, 0.5]), labeled=(0,), labels=(1,))


def test_fewer_candidates_than_batch_are_padded_at_random():
    ctx = _switch_pool(n_flip=2, n_stable=40)
    cand = ctx.unlabeled()
    counts = DropQuery().disagreements(ctx, cand, np.random.default_rng(1))
    flagged = cand[counts > 0]
    assert 1 <= flagged.size <= 2 and np.isin(flagged, [1, 2]).all()
    assert (counts[2:] == 0).all()  # stable points never disagree
    chosen = make_strategy("dropquery").select(ctx, cand, 5, np.random.default_rng(1))
    assert set(flagged.tolist()) <= set(chosen.tolist()) and np.unique(chosen).size == 5


def test_kmeans_takes_one_candidate_per_direction_cluster():
    rng = np.random.default_rng(3)
    angles = np.repeat([0.0, 2.1, 4.2], 20)  # three well-separated directions in (x1, x2)
    extra = 30 * np.column_stack([np.cos(angles), np.sin(angles)]) + rng.normal(0, 0.1, (60, 2))
    extra = np.vstack([np.zeros((1, 2)), extra, np.zeros((5, 2))])
    ctx = _switch_pool(n_flip=60, n_stable=5, extra=extra)
    cand = ctx.unlabeled()
    chosen = make_strategy("dropquery").select(ctx, cand, 3, np.random.default_rng(0))
    assert sorted(((chosen - 1) // 20).tolist()) == [0, 1, 2]


# ---------------------------------------------------------------------- shared k-means helper
def test_nearest_to_centres_picks_each_blob_centre():
    rng = np.random.default_rng(5)
    offsets = np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]], dtype=float)
    centres = rng.uniform(-100, 100, size=(6, 2))
    X = np.vstack([c + offsets for c in centres]).astype(np.float32)
    picks = nearest_to_centres(X, 6, np.random.default_rng(0))
    # each blob's mean is its centre point (symmetric offsets), which is the nearest member
    assert sorted(picks.tolist()) == list(range(0, 30, 5))


def test_kmeans_plusplus_stops_at_distinct_points_and_fill_is_unique():
    X = np.repeat(np.eye(3, dtype=np.float32), 4, axis=0)
    seeds = kmeans_plusplus(X, 5, np.random.default_rng(0))
    assert sorted(X[seeds].argmax(axis=1).tolist()) == [0, 1, 2]
    assert nearest_to_centres(X, 5, np.random.default_rng(0)).size == 3
    filled = fill_at_random(
        np.array([0, 4]), [np.array([0, 1, 2]), np.arange(12)], 6, np.random.default_rng(0)
    )
    assert np.unique(filled).size == 6 and {0, 1, 2, 4} <= set(filled.tolist())


# ---------------------------------------------------------------------- parameters, baseline
@pytest.mark.parametrize(
    "params",
    [
        {"n_passes": 0},
        {"p_drop": 1.0},
        {"p_drop": 0},
        {"candidate_factor": -1},
        {"memory_budget_mb": 0},
    ],
)
def test_bad_parameters_raise_config_error(params):
    ctx, cand = make_context(n=60, d=4, k=3, n_labeled=6, seed=0, epochs=5)
    with pytest.raises(ConfigError):
        make_strategy("dropquery", **params).select(ctx, cand, 3, np.random.default_rng(0))


def test_scikit_activeml_baseline_runs_and_head_recovery_keeps_the_argmax():
    from benchmarks._skal_typiclust_dropquery import BASELINES, head_from_probas

    ctx, cand = make_context(n=200, d=6, k=4, n_labeled=20, seed=1, epochs=20)
    probas = ctx.probas()
    W, b = head_from_probas(ctx.X, probas, np.arange(ctx.n_pool))
    np.testing.assert_array_equal((ctx.X @ W.T + b).argmax(1), probas.argmax(1))
    chosen = BASELINES["dropquery"](ctx.X, probas, ctx.labeled, ctx.labels, cand, 8, 0)
    assert np.unique(chosen).size == 8 and np.isin(chosen, cand).all()
