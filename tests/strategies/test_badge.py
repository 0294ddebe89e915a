"""BADGE: factorised distances, k-means++ seeding rules, duplicates, and scikit-activeml."""

from __future__ import annotations

import numpy as np

from benchmarks._skal_badge_bait_coreset import skal_badge
from refine.context import SelectionContext
from refine.head import LinearHead
from refine.strategies.badge import (
    Badge,
    factorised_sq_distances,
    gradient_factors,
    kmeanspp_seeding,
)


def random_problem(n=40, d=5, k=4, seed=0):
    rng = np.random.default_rng(seed)
    H = rng.normal(size=(n, d))
    logits = rng.normal(scale=2.0, size=(n, k))
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True), H


def explicit_embedding(p, H):
    """The N×KD gradient embedding ``(e_ŷ − p) ⊗ h`` built explicitly."""
    q = np.eye(p.shape[1])[p.argmax(1)] - p
    return (q[:, :, None] * H[:, None, :]).reshape(len(p), -1)


def context_with_probas(X, probas, labeled=(0,)):
    """A context whose head reproduces ``probas`` exactly on ``X`` (probas are memoised)."""
    labeled = np.asarray(labeled, dtype=np.int64)
    ctx = SelectionContext.from_arrays(
        X.astype(np.float32), labeled, np.zeros(labeled.size, np.int64), probas.shape[1]
    )
    ctx._head = LinearHead(np.zeros((probas.shape[1], X.shape[1])), np.zeros(probas.shape[1]))
    ctx._memo["probas"] = probas.astype(np.float32)
    return ctx


def test_factorised_distances_equal_explicit_embedding_distances():
    p, H = random_problem()
    G = explicit_embedding(p, H)
    Q, H64 = gradient_factors(p, H)
    g_sq = np.einsum("ij,ij->i", Q, Q) * np.einsum("ij,ij->i", H64, H64)
    np.testing.assert_allclose(g_sq, (G**2).sum(1), rtol=1e-12)
    for c in [0, 7, 39]:
        explicit = ((G - G[c]) ** 2).sum(1)
        np.testing.assert_allclose(
            factorised_sq_distances(Q, H64, g_sq, c), explicit, rtol=1e-9, atol=1e-12
        )


def test_first_centre_is_the_largest_gradient_norm():
    p, H = random_problem(seed=1)
    G = explicit_embedding(p, H)
    Q, H64 = gradient_factors(p, H)
    for seed in range(5):  # deterministic: independent of the generator
        chosen = kmeanspp_seeding(Q, H64, 3, np.random.default_rng(seed))
        assert chosen[0] == np.argmax(np.linalg.norm(G, axis=1))


def test_next_centre_is_drawn_proportionally_to_squared_distance():
    p, H = random_problem(n=5, seed=2)
    G = explicit_embedding(p, H)
    Q, H64 = gradient_factors(p, H)
    first = int(np.argmax((G**2).sum(1)))
    d2 = ((G - G[first]) ** 2).sum(1)
    expected = d2 / d2.sum()
    rng = np.random.default_rng(0)
    draws = np.array([kmeanspp_seeding(Q, H64, 2, rng)[1] for _ in range(4000)])
    freq = np.bincount(draws, minlength=5) / 4000
    assert freq[first] == 0
    np.testing.assert_allclose(freq, expected, atol=4 * np.sqrt(0.25 / 4000))


def test_duplicates_are_never_chosen_twice():
    # 8 distinct rows, each 3 times: the first 8 centres cover each distinct row exactly once.
    p, H = random_problem(n=8, seed=3)
    P, X = np.tile(p, (3, 1)), np.tile(H, (3, 1))
    Q, H64 = gradient_factors(P, X)
    for seed in range(10):
        chosen = kmeanspp_seeding(Q, H64, 8, np.random.default_rng(seed))
        assert sorted(chosen % 8) == list(range(8))
        # asking for more than the distinct rows: uniform fallback over the unchosen copies
        more = kmeanspp_seeding(Q, H64, 12, np.random.default_rng(seed))
        assert np.unique(more).size == 12
        assert sorted(more[:8] % 8) == list(range(8))


def test_all_zero_gradients_fall_back_to_uniform_without_repeats():
    p = np.eye(3)[np.arange(30) % 3]  # one-hot probabilities: every gradient is 0
    H = np.random.default_rng(0).normal(size=(30, 4))
    Q, H64 = gradient_factors(p, H)
    chosen = kmeanspp_seeding(Q, H64, 10, np.random.default_rng(1))
    assert chosen[0] == 0  # all norms tie at 0: the first index
    assert np.unique(chosen).size == 10
    again = kmeanspp_seeding(Q, H64, 10, np.random.default_rng(1))
    np.testing.assert_array_equal(chosen, again)


def test_strategy_on_a_context_uses_candidates_probas_and_features():
    p, H = random_problem(n=60, seed=4)
    ctx = context_with_probas(H, p, labeled=[0, 1])
    cand = np.arange(2, 60)
    chosen = Badge().select(ctx, cand, 6, np.random.default_rng(3))
    Q, H64 = gradient_factors(p[cand].astype(np.float32), H[cand].astype(np.float32))
    np.testing.assert_array_equal(
        chosen, cand[kmeanspp_seeding(Q, H64, 6, np.random.default_rng(3))]
    )


def test_differs_from_scikit_activeml_only_by_the_origin_centre():
    """scikit-activeml 1.0.1 samples with its own RandomState and still keeps the origin as a
    permanent centre (its D starts at ``‖g‖``, issue #588): same first centre, and its second-step
    probabilities are ``min(‖g‖², D²)`` normalised where ours are ``D²`` normalised."""
    from skactiveml.pool import Badge as SkBadge

    from benchmarks._skal_badge_bait_coreset import _GivenOutputs, _partial_labels

    p, H = random_problem(n=50, seed=5)
    labeled, labels = np.array([0, 1, 2]), np.array([0, 1, 2])
    cand = np.arange(3, 50)
    ctx = context_with_probas(H, p, labeled=labeled)
    ours = Badge().select(ctx, cand, 2, np.random.default_rng(0))
    theirs = skal_badge(ctx.X, ctx.probas(), labeled, labels, cand, 2, 0)
    assert ours[0] == theirs[0]
    clf = _GivenOutputs(probas=ctx.probas(), features=ctx.X, classes=np.arange(4))
    _, util = SkBadge(clf_embedding_flag_name="return_embeddings", random_state=0).query(
        np.arange(50, dtype=float)[:, None],
        _partial_labels(50, labeled, labels),
        clf,
        fit_clf=False,
        candidates=cand,
        batch_size=2,
        return_utilities=True,
    )
    Q, H64 = gradient_factors(ctx.probas(cand), ctx.X[cand])
    g_sq = np.einsum("ij,ij->i", Q, Q) * np.einsum("ij,ij->i", H64, H64)
    first = int(np.argmax(g_sq))
    d2 = factorised_sq_distances(Q, H64, g_sq, first)
    d2[first] = 0
    with_origin = np.minimum(d2, g_sq)
    theirs_p = np.nan_to_num(util[1][cand])
    np.testing.assert_allclose(with_origin / with_origin.sum(), theirs_p, rtol=1e-6, atol=1e-12)
    assert np.abs(d2 / d2.sum() - theirs_p).max() > 1e-3  # the distributions do differ
