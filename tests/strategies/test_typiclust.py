"""TypiClust and inverse TypiClust on pools whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from refine.context import SelectionContext
from refine.errors import ConfigError
from refine.strategies import make_strategy
from refine.strategies.typiclust import typicality

DIM = 50


def blob(centre_axis: int, n_sphere: int, rng, radius: float = 1.0, scale: float = 100.0):
    """A centre point plus ``n_sphere`` points on a sphere of ``radius`` around it (D = 50).

    In 50 dimensions the sphere points are ≈ radius·√2 apart, so the centre (at distance
    ``radius`` from all of them) is the unique most typical point of the blob.
    """
    c = np.zeros(DIM)
    c[centre_axis] = scale
    u = rng.normal(size=(n_sphere, DIM))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return np.vstack([c, c + radius * u])


def pool(sizes, rng, outlier_in=()):
    """Blobs on axes 0, 1, ...; returns X, the index of each blob's centre and its members.

    Blobs listed in ``outlier_in`` get one extra point at 3× the radius: their least typical point.
    """
    parts, centres, members, outliers = [], [], [], {}
    start = 0
    for k, n in enumerate(sizes):
        pts = blob(k, n - 1, rng)
        if k in outlier_in:
            far = pts[0].copy()
            far[(k + 1) % DIM] += 3.0
            pts = np.vstack([pts, far])
            outliers[k] = start + pts.shape[0] - 1
        parts.append(pts)
        centres.append(start)
        members.append(np.arange(start, start + pts.shape[0]))
        start += pts.shape[0]
    return np.vstack(parts).astype(np.float32), np.array(centres), members, outliers


def context(X, labeled=(), labels=(), k=2):
    return SelectionContext.from_arrays(X, np.asarray(labeled, int), np.asarray(labels, int), k)


# ---------------------------------------------------------------------- typicality
def test_typicality_by_hand():
    F = np.array([[0.0], [1.0], [3.0]], dtype=np.float32)
    # k = 1: squared distance to the nearest other point is 1, 1, 4
    np.testing.assert_allclose(typicality(F, 1), 1 / (np.array([1, 1, 4]) + 1e-5), rtol=1e-6)
    np.testing.assert_allclose(
        typicality(F, 1, "euclidean"), 1 / (np.array([1, 1, 2]) + 1e-5), rtol=1e-6
    )
    # k = 2: means of {1, 9}, {1, 4}, {4, 9}
    np.testing.assert_allclose(typicality(F, 2), 1 / (np.array([5, 2.5, 6.5]) + 1e-5), rtol=1e-6)
    assert np.isinf(typicality(F[:1], 0)).all()  # a single point: k = 0 → +inf
    dup = np.array([[1.0, 2.0], [1.0, 2.0], [5.0, 5.0]], dtype=np.float32)
    t = typicality(dup, 1)
    assert np.isfinite(t).all() and t[0] == pytest.approx(1e5, rel=1e-3)  # no division by zero


def test_typicality_matches_brute_force_and_chunking():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(60, 7)).astype(np.float32)
    d2 = ((F[:, None, :].astype(np.float64) - F[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    for k in (1, 4, 20):
        for metric, d in (("sqeuclidean", d2), ("euclidean", np.sqrt(d2))):
            expect = 1 / (np.sort(d, axis=1)[:, :k].mean(axis=1) + 1e-5)
            np.testing.assert_allclose(typicality(F, k, metric), expect, rtol=1e-4)
            tiny = typicality(F, k, metric, memory_budget_mb=1e-4)  # one row per block
            np.testing.assert_allclose(tiny, typicality(F, k, metric), rtol=1e-6)


# ---------------------------------------------------------------------- TypiClust
@pytest.mark.parametrize("variant", ["dal", "original"])
@pytest.mark.parametrize("metric", ["sqeuclidean", "euclidean"])
def test_picks_the_centre_of_each_blob(variant, metric):
    X, centres, _, _ = pool([16, 16, 16, 16], np.random.default_rng(1))
    ctx = context(X)
    strat = make_strategy("typiclust", variant=variant, metric=metric)
    chosen = strat.select(ctx, np.arange(X.shape[0]), 4, np.random.default_rng(0))
    assert sorted(chosen.tolist()) == sorted(centres.tolist())


def test_dal_skips_covered_clusters_and_takes_largest_first():
    X, centres, members, _ = pool([16, 12, 20, 9], np.random.default_rng(2))
    labeled = [members[0][3]]  # blob 0 is covered
    ctx = context(X, labeled, [0])
    cand = ctx.unlabeled()
    # C = |L| + b = 4 clusters = the 4 blobs; uncovered: blob 2 (20) > blob 1 (12) > blob 3 (9)
    chosen = make_strategy("typiclust").select(ctx, cand, 3, np.random.default_rng(0))
    assert chosen.tolist() == [centres[2], centres[1], centres[3]]


def test_duplicates_give_fewer_clusters_and_a_random_fill():
    # scikit-activeml #451: 3 distinct rows, each 6 times; b = 4 asks for 4 clusters
    rng = np.random.default_rng(3)
    base = rng.normal(size=(3, 5)) * 10
    X = np.repeat(base, 6, axis=0).astype(np.float32)
    ctx = context(X)
    chosen = make_strategy("typiclust").select(ctx, np.arange(18), 4, np.random.default_rng(1))
    assert np.unique(chosen).size == 4
    assert {int(i) // 6 for i in chosen[:3]} == {0, 1, 2}  # one pick per distinct row first


def test_original_round_robin_versus_dal_one_per_cluster():
    # one big blob and two tiny ones (3 points each, below the original's size filter of > 5)
    X, centres, members, _ = pool([20, 3, 3], np.random.default_rng(4))
    ctx = context(X)
    cand = np.arange(X.shape[0])
    dal = make_strategy("typiclust").select(ctx, cand, 3, np.random.default_rng(0))
    assert [int(np.searchsorted([0, 20, 23], i, side="right")) - 1 for i in dal] == [0, 1, 2]
    assert dal[0] == centres[0]
    orig = make_strategy("typiclust", variant="original").select(
        ctx, cand, 3, np.random.default_rng(0)
    )
    assert np.isin(orig, members[0]).all()  # tiny clusters dropped: all three from the big blob
    assert orig[0] == centres[0]  # the most typical first, then the next most typical


def test_original_orders_clusters_by_labeled_count():
    X, centres, members, _ = pool([16, 16, 12], np.random.default_rng(5))
    labeled = [members[0][5]]  # blob 0 holds a labeled point: visited after the others
    ctx = context(X, labeled, [0])
    chosen = make_strategy("typiclust", variant="original").select(
        ctx, ctx.unlabeled(), 3, np.random.default_rng(0)
    )
    # C = 1 + 3 = 4 clusters over 3 blobs; the uncovered blobs come first, largest first
    assert chosen[0] == centres[1]
    assert chosen[1] == centres[2]


# ---------------------------------------------------------------------- inverse TypiClust
def test_inverse_picks_least_typical_point_of_smallest_uncovered_cluster():
    X, centres, members, outliers = pool([20, 10, 7], np.random.default_rng(6), outlier_in=(1, 2))
    labeled = [members[0][4]]  # largest blob covered
    ctx = context(X, labeled, [0])
    cand = ctx.unlabeled()
    inv = make_strategy("inv_typiclust").select(ctx, cand, 2, np.random.default_rng(0))
    # C = 3 clusters = blobs; uncovered: blob 2 (8 points) then blob 1 (11 points)
    assert inv.tolist() == [outliers[2], outliers[1]]
    typ = make_strategy("typiclust").select(ctx, cand, 2, np.random.default_rng(0))
    assert typ.tolist() == [centres[1], centres[2]]


def test_inverse_works_without_labels_and_is_deterministic():
    X, _, _, _ = pool([10, 10, 10], np.random.default_rng(7))
    ctx = context(X)
    cand = np.arange(X.shape[0])
    a = make_strategy("inv_typiclust").select(ctx, cand, 5, np.random.default_rng(3))
    b = make_strategy("inv_typiclust").select(ctx, cand, 5, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert np.unique(a).size == 5


# ---------------------------------------------------------------------- parameters, baseline
@pytest.mark.parametrize(
    "params",
    [
        {"variant": "published"},
        {"metric": "cosine"},
        {"n_neighbors": 0},
        {"max_clusters": -1},
        {"memory_budget_mb": 0},
    ],
)
def test_bad_parameters_raise_config_error(params):
    X, _, _, _ = pool([8, 8], np.random.default_rng(8))
    with pytest.raises(ConfigError):
        make_strategy("typiclust", **params).select(
            context(X), np.arange(X.shape[0]), 2, np.random.default_rng(0)
        )


def test_scikit_activeml_agrees_on_separated_blobs():
    """Where both algorithms must agree (one centre per well-separated blob), they do."""
    from benchmarks._skal_typiclust_dropquery import BASELINES

    X, centres, _, _ = pool([16, 16, 16], np.random.default_rng(9))
    cand = np.arange(X.shape[0])
    probas = np.full((X.shape[0], 2), 0.5)
    theirs = BASELINES["typiclust"](X, probas, np.array([], int), np.array([]), cand, 3, 0)
    ours = make_strategy("typiclust").select(context(X), cand, 3, np.random.default_rng(0))
    assert sorted(theirs.tolist()) == sorted(ours.tolist()) == sorted(centres.tolist())
