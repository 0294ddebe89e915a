"""ALFA-Mix: the candidate rule by hand, the factorisation against a direct loop, the anchors."""

from __future__ import annotations

import numpy as np
import pytest

from refine.context import SelectionContext
from refine.errors import ConfigError
from refine.head import HeadConfig, HeadTrainer, LinearHead
from refine.strategies import make_strategy
from refine.strategies.alfamix import AlfaMix, _anchors
from tests.conftest import make_context


def fixed_head_context(X, labeled, labels, W, b, n_classes=2):
    """A context whose head is given (not trained)."""
    X = np.asarray(X, dtype=np.float32)
    trainer = HeadTrainer(X.shape[1], n_classes)
    return SelectionContext(
        X, np.asarray(labeled), np.asarray(labels), n_classes, trainer, head=LinearHead(W, b)
    )


def direct_mix_prediction(z, anchor, W, b, cap=0.2):
    """The original closed form, written out for one point and one anchor."""
    logits = W @ z + b
    y = int(np.argmax(logits))
    p = np.exp(logits - logits.max())
    p /= p.sum()
    g = W.T @ (p - np.eye(len(p))[y])
    eps = cap / np.sqrt(len(z))
    d = anchor - z
    alpha = eps * np.linalg.norm(d) / np.linalg.norm(g) * g / (d + 1e-8)
    mix = (1 - alpha) * z + alpha * anchor
    return y, int(np.argmax(W @ mix + b))


def test_boundary_point_is_candidate_deep_point_is_not():
    # logits (x1, −x1): class 0 iff x1 > 0. Anchors: class 0 at (5, 0), class 1 at (−5, 0).
    W = np.array([[1.0, 0.0], [-1.0, 0.0]])
    b = np.zeros(2)
    X = [[5.0, 0.0], [-5.0, 0.0], [0.05, 0.0], [4.0, 0.3]]
    ctx = fixed_head_context(X, [0, 1], [0, 1], W, b)
    cand = np.array([2, 3])
    mask = AlfaMix().candidate_mask(ctx, cand, 1)
    assert mask.tolist() == [True, False]
    # by hand: the near point's mix towards the class-1 anchor crosses x1 = 0, the deep one's not
    y, y_mix = direct_mix_prediction(np.array(X[2]), np.array(X[1]), W, b)
    assert (y, y_mix) == (0, 1)
    y, y_mix = direct_mix_prediction(np.array(X[3]), np.array(X[1]), W, b)
    assert (y, y_mix) == (0, 0)
    # the step in feature space has length ε‖z* − z‖ = 0.2/√2 · 9.005 ≈ 1.27 < 4: not enough
    assert 0.2 / np.sqrt(2) * np.linalg.norm(np.array(X[3]) - X[1]) < 4.0
    # a larger cap reaches the deep point too (1.0/√2 · 9.005 ≈ 6.4 > 4)
    assert AlfaMix(alpha_cap=1.0).candidate_mask(ctx, cand, 1).tolist() == [True, True]


def _sparse_context(seed, k):
    ctx, _ = make_context(n=300, d=10, k=k, n_labeled=25, seed=seed, epochs=30)
    X = np.maximum(ctx.X, 0.0)  # ReLU-like: many exact zeros, shared by anchors and points
    X[:, :2] = 0.0
    ctx = SelectionContext.from_arrays(
        X, ctx.labeled, ctx.labels, k, seed=seed, head_config=HeadConfig(epochs=30)
    )
    return ctx, ctx.unlabeled()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("anchor_mode", ["all_classes", "published"])
def test_factorized_equals_direct_per_anchor_loop(seed, sparse, anchor_mode):
    k = 6
    if sparse:
        ctx, cand = _sparse_context(seed, k)
    else:
        ctx, cand = make_context(n=300, d=10, k=k, n_labeled=25, seed=seed, epochs=30)
    for cap in (0.2, 0.6, 1.0):
        fact = AlfaMix(alpha_cap=cap, anchor_mode=anchor_mode).candidate_mask(ctx, cand, 10)
        direct = AlfaMix(alpha_cap=cap, anchor_mode=anchor_mode, mix_method="direct")
        np.testing.assert_array_equal(fact, direct.candidate_mask(ctx, cand, 10))


def test_tied_coordinates_matter_and_are_handled():
    """With exact zeros the guard 1e-8 changes candidates; ignoring it would be wrong."""
    import refine.strategies.alfamix as mod

    ctx, cand = _sparse_context(0, 6)
    exact = AlfaMix(alpha_cap=0.5, mix_method="direct").candidate_mask(ctx, cand, 10)
    original = mod._near_ties
    try:
        mod._near_ties = lambda *a: None  # pretend there are no ties
        naive = AlfaMix(alpha_cap=0.5).candidate_mask(
            SelectionContext(ctx.X, ctx.labeled, ctx.labels, 6, ctx.trainer, head=ctx.head),
            cand,
            10,
        )
    finally:
        mod._near_ties = original
    assert (naive != exact).any()
    np.testing.assert_array_equal(AlfaMix(alpha_cap=0.5).candidate_mask(ctx, cand, 10), exact)


def test_chunking_does_not_change_candidates():
    ctx, cand = _sparse_context(1, 5)
    big = AlfaMix().candidate_mask(ctx, cand, 10)
    small = AlfaMix(memory_budget_mb=0.05).candidate_mask(ctx, cand, 10)  # several row chunks
    np.testing.assert_array_equal(big, small)


def test_anchors_all_classes_and_published_bug():
    X = np.array([[0.0, 0], [2, 0], [0, 4], [10, 10], [7, 7]], dtype=np.float32)
    W, b = np.eye(3, 2), np.zeros(3)
    ctx = fixed_head_context(X, [0, 1, 2], [0, 0, 2], W, b, n_classes=3)
    full = _anchors(ctx, "all_classes")
    np.testing.assert_allclose(full[0], [1, 0])
    np.testing.assert_allclose(full[1], X[:3].mean(axis=0))  # class 1 absent: mean of L
    np.testing.assert_allclose(full[2], [0, 4])
    pub = _anchors(ctx, "published")  # range(#seen classes = 2): classes 0 and 1
    assert pub.shape == (2, 2)
    np.testing.assert_allclose(pub[0], [1, 0])
    assert np.isnan(pub[1]).all()  # mean over no points; class 2 gets no anchor


def test_published_nan_anchor_makes_every_nonzero_prediction_a_candidate():
    ctx, cand = make_context(n=200, d=6, k=4, n_labeled=20, seed=3, missing_class=True, epochs=30)
    # relabel so that the seen labels are {0, 1, 3}: range(3) hits the absent class 2
    labels = np.where(ctx.labels == 2, 3, ctx.labels)
    ctx = SelectionContext(ctx.X, ctx.labeled, labels, 4, ctx.trainer, head=ctx.head)
    y_hat = ctx.logits(cand).argmax(axis=1)
    mask = AlfaMix(anchor_mode="published").candidate_mask(ctx, cand, 5)
    assert mask[y_hat != 0].all()
    assert AlfaMix().candidate_mask(ctx, cand, 5).sum() < mask.sum()


def test_growth_loop_caps_and_union():
    assert AlfaMix(alpha_growth=True)._caps() == [0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
    ctx, cand = make_context(n=300, d=8, k=4, n_labeled=20, seed=4, epochs=30)
    base = AlfaMix().candidate_mask(ctx, cand, 10)
    grown = AlfaMix(alpha_growth=True).candidate_mask(ctx, cand, base.sum() + 5)
    assert grown.sum() > base.sum() + 5 and (grown | base == grown).all()
    top = AlfaMix(alpha_cap=1.0).candidate_mask(ctx, cand, 10)
    assert (grown <= top).all()  # the union of caps up to 1.0 is the cap-1.0 set (monotone)


def test_few_candidates_are_all_taken_and_fill_is_unique():
    W = np.array([[1.0, 0.0], [-1.0, 0.0]])
    rng = np.random.default_rng(0)
    deep = np.column_stack([rng.uniform(3, 6, 40), rng.normal(size=40)])
    near = np.array([[0.05, 0.0], [-0.04, 1.0]])
    X = np.vstack([[[5.0, 0.0], [-5.0, 0.0]], near, deep])
    ctx = fixed_head_context(X, [0, 1], [0, 1], W, np.zeros(2))
    cand = ctx.unlabeled()
    chosen = make_strategy("alfamix").select(ctx, cand, 6, np.random.default_rng(1))
    assert {2, 3} <= set(chosen.tolist()) and np.unique(chosen).size == 6


def test_more_candidates_than_batch_one_per_direction_cluster():
    # every point sits on the boundary x1 ≈ 0 (all candidates); they form 3 direction clusters
    W = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    rng = np.random.default_rng(2)
    dirs = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, -1.0]])
    pts = np.vstack([10 * d + rng.normal(0, 0.05, size=(15, 3)) for d in dirs])
    pts[:, 0] = 0.01
    X = np.vstack([[[5.0, 0.0, 0.0], [-5.0, 0.0, 0.0]], pts])
    ctx = fixed_head_context(X, [0, 1], [0, 1], W, np.zeros(2))
    cand = ctx.unlabeled()
    assert AlfaMix().candidate_mask(ctx, cand, 3).all()
    chosen = make_strategy("alfamix").select(ctx, cand, 3, np.random.default_rng(0))
    assert sorted((chosen - 2) // 15) == [0, 1, 2]


def test_saturated_point_is_not_a_candidate_and_empty_labeled_set_is_random():
    W = np.array([[1000.0, 0.0], [-1000.0, 0.0]])  # logit gap 2000: p is exactly one-hot
    X = [[1.0, 0.0], [-1.0, 0.0], [0.9, 0.0], [0.5, 1.0]]
    ctx = fixed_head_context(X, [0, 1], [0, 1], W, np.zeros(2))
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        assert not AlfaMix().candidate_mask(ctx, np.array([2, 3]), 1).any()
    ctx0, cand0 = make_context(n=100, d=5, k=3, n_labeled=0, seed=1)
    chosen = make_strategy("alfamix").select(ctx0, cand0, 7, np.random.default_rng(0))
    assert np.unique(chosen).size == 7


@pytest.mark.parametrize(
    "params",
    [
        {"alpha_cap": 0},
        {"alpha_cap": 1.5},
        {"alpha_growth": "yes"},
        {"anchor_mode": "seen"},
        {"mix_method": "torch"},
        {"memory_budget_mb": -1},
    ],
)
def test_bad_parameters_raise_config_error(params):
    ctx, cand = make_context(n=60, d=4, k=3, n_labeled=6, seed=0, epochs=5)
    with pytest.raises(ConfigError):
        make_strategy("alfamix", **params).select(ctx, cand, 3, np.random.default_rng(0))


def test_near_tie_search_matches_brute_force():
    from refine.strategies.alfamix import _near_ties

    rng = np.random.default_rng(11)
    A = rng.normal(size=(7, 9))
    Z = rng.normal(size=(40, 9))
    Z[3, 2] = A[5, 2]  # exact tie
    Z[7, 4] = A[1, 4] + 5e-7  # near ties on both sides
    Z[8, 4] = A[1, 4] - 9e-7
    Z[9, 0] = A[2, 0] + 2e-6  # outside the tolerance
    A[6, 2] = A[5, 2]  # two anchors share the value: both pairs are ties
    Z[:, 8] = 0.0
    A[[0, 3], 8] = 0.0  # ReLU-like exact zeros
    got = _near_ties(Z, A, 1e-6)
    expect = np.argwhere(np.abs(A[None, :, :] - Z[:, None, :]) <= 1e-6)  # (i, a, j)
    assert sorted(map(tuple, np.column_stack(got).tolist())) == sorted(map(tuple, expect.tolist()))
    assert len(expect) == 2 + 2 + 2 * 40


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_flags_are_computed_once_per_cycle_in_blocks_and_equal_the_per_call_flags(
    monkeypatch, n_jobs
):
    """Each pool row's flag is computed once per context (in fixed blocks of rows, here 7 blocks
    through a small memory budget), whatever the calls' candidates and threads, and equals the
    flags computed for each call's candidates alone (the uncached evaluation)."""
    from concurrent.futures import ThreadPoolExecutor

    from refine.strategies import alfamix as am

    ctx, cand = make_context(n=900, d=40, k=5, n_labeled=30, seed=11)
    s = AlfaMix(memory_budget_mb=0.25, alpha_growth=True)
    D = ctx.n_features
    budget = int(0.25 * 2**20)
    anchors = _anchors(ctx, s.anchor_mode)
    rows = max(1, budget // (8 * max(anchors.shape[0], D) * 6))
    assert -(-ctx.n_pool // rows) == 7
    stats = am._row_stats(ctx)
    rng = np.random.default_rng(0)
    subsets = [
        np.sort(rng.choice(cand, size=int(rng.integers(20, 400)), replace=False)) for _ in range(12)
    ]
    computed: list[int] = []
    real = am._factorized_flips

    def counting(ctx_, chunk, *a, **k):
        computed.append(chunk.size)
        return real(ctx_, chunk, *a, **k)

    monkeypatch.setattr(am, "_factorized_flips", counting)
    with ThreadPoolExecutor(n_jobs) as ex:
        masks = list(ex.map(lambda sub: s.candidate_mask(ctx, sub, 10), subsets))
    monkeypatch.setattr(am, "_factorized_flips", real)
    assert sum(computed) <= ctx.n_pool * len(s._caps())  # each row at most once per cap
    for sub, mask in zip(subsets, masks, strict=True):
        want = np.zeros(sub.size, dtype=bool)
        for cap in s._caps():
            want |= real(ctx, sub, anchors, cap / np.sqrt(D), stats, budget).any(axis=1)
            if want.sum() > 10:
                break
        np.testing.assert_array_equal(mask, want)
