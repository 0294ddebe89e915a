"""k-means gives the same clusters whatever the OpenMP thread count of the caller.

scikit-learn sums the centres per thread; without the one-thread limit of
:mod:`refine.strategies._clustering` the centres of 2 threads differ from those of 1 in the last
bits (checked before the fix), which made filtering results depend on the machine and ``n_jobs``.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from refine.strategies import _clustering
from refine.strategies._clustering import kmeans


@pytest.mark.parametrize("minibatch", [False, True])
def test_kmeans_independent_of_openmp_threads(minibatch):
    X = np.random.default_rng(0).standard_normal((3000, 16)).astype(np.float32)
    runs = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            runs.append(kmeans(X, 20, np.random.default_rng(0), minibatch=minibatch))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])  # bitwise equal centres
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def _estimator_fit(X, init):
    """What kmeans() did before lloyd(): the scikit-learn estimator, as the published code."""
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    est = KMeans(n_clusters=init.shape[0], init=init, n_init=1, max_iter=300, random_state=0)
    with warnings.catch_warnings(), _clustering._one_openmp_thread():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    return est.cluster_centers_, est.labels_


@pytest.mark.parametrize("case", range(40))
def test_lloyd_equals_the_kmeans_estimator_bit_for_bit(case):
    # random shapes and dtypes, with duplicated rows (empty-cluster relocation) and rounded
    # values (ties in the assignment) among them
    rng = np.random.default_rng(case)
    n = int(rng.integers(5, 800))
    d = int(rng.choice([2, 8, 64, 384]))
    X = rng.standard_normal((n, d)).astype(np.float32 if case % 2 else np.float64)
    if case % 5 == 0:
        X[n // 2 :] = X[: n - n // 2]
    if case % 7 == 0:
        X = np.round(X)
    seeds = _clustering.kmeans_plusplus(X, int(rng.integers(2, min(n, 120) + 1)), rng)
    if seeds.size < 2:
        seeds = np.array([0, n - 1])
    init = X[seeds]
    with _clustering._one_openmp_thread():
        centres, labels = _clustering.lloyd(X, init)
    ref_centres, ref_labels = _estimator_fit(X, init)
    assert centres.dtype == ref_centres.dtype == X.dtype
    np.testing.assert_array_equal(centres, ref_centres)
    np.testing.assert_array_equal(labels, ref_labels)
    assert labels.dtype == np.int64


def test_kmeans_without_the_private_routine_falls_back_to_the_same_clusters(monkeypatch):
    X = np.random.default_rng(1).standard_normal((500, 16)).astype(np.float32)
    fast = kmeans(X, 30, np.random.default_rng(2))
    monkeypatch.setattr(_clustering, "_kmeans_single_lloyd", None)
    slow = kmeans(X, 30, np.random.default_rng(2))
    np.testing.assert_array_equal(fast[0], slow[0])
    np.testing.assert_array_equal(fast[1], slow[1])


@pytest.mark.parametrize("case", range(30))
def test_kmeans_plusplus_many_equals_one_call_per_set(case):
    # the seeds of each set and the generators' states afterwards, bit for bit, also with
    # duplicated rows (early stop, retried steps), ties, one set repeated, and k up to n
    rng = np.random.default_rng(100 + case)
    m, n = int(rng.integers(1, 12)), int(rng.integers(2, 600))
    d = int(rng.choice([2, 8, 64, 384]))
    k = int(rng.integers(1, n + 1)) if case % 3 == 0 else int(rng.integers(1, min(n, 80) + 1))
    Xs = rng.standard_normal((m, n, d)).astype(np.float32 if case % 2 else np.float64)
    if case % 4 == 0:
        Xs[:, n // 2 :] = Xs[:, : n - n // 2]
    if case % 5 == 0:
        Xs = np.round(Xs)
    if case % 6 == 0:
        Xs[:] = Xs[0]
    one = [np.random.default_rng([case, j]) for j in range(m)]
    many = [np.random.default_rng([case, j]) for j in range(m)]
    expected = [_clustering.kmeans_plusplus(Xs[j], k, one[j]) for j in range(m)]
    got = _clustering.kmeans_plusplus_many(Xs, k, many)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(e, g)
    assert [g.bit_generator.state for g in one] == [g.bit_generator.state for g in many]
