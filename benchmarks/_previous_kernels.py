"""The previous implementations of kernels that were rewritten for speed, kept for benchmarks.

``bench_strategies.py --vs-previous`` times each rewritten kernel against its predecessor in the
same process, alternating, and checks that both give identical results (the rewrites must not
change any selection). Nothing in ``refine/`` imports this module.
"""

from __future__ import annotations

import numpy as np


def near_ties_before_blocking(Z: np.ndarray, A: np.ndarray, tol: float, n_bins: int = 4096):
    """All (row i, anchor a, coordinate j) with |A[a, j] − Z[i, j]| <= tol.

    A coarse filter first: each column's value range is cut into at most ``n_bins`` bins of
    width >= 4·tol, the bins touched by some ``[A[a, j] − tol, A[a, j] + tol]`` are marked, and
    only values Z[i, j] falling in a marked bin can be tied (binning is monotone, so no tie is
    missed). Those few values are then located exactly in their sorted anchor column; to search
    all columns at once, column j is shifted by j·span, span exceeding every value's range.
    """
    n, D = Z.shape
    m = A.shape[0]
    low = np.minimum(A.min(axis=0), Z.min(axis=0)) - 2 * tol
    width = np.maximum((np.maximum(A.max(axis=0), Z.max(axis=0)) + 2 * tol - low) / n_bins, 4 * tol)
    marked = np.zeros((D, n_bins + 2), dtype=bool)
    cols = np.broadcast_to(np.arange(D), A.shape)
    b_lo = np.floor((A - tol - low) / width).astype(np.int64)
    b_hi = np.floor((A + tol - low) / width).astype(np.int64)
    for off in range(3):  # an interval of width 2·tol <= width/2 spans at most two bins
        marked[cols, np.clip(np.minimum(b_lo + off, b_hi), 0, n_bins + 1)] = True
    bins = np.floor((Z - low) / width).astype(np.int64)
    np.clip(bins, 0, n_bins + 1, out=bins)
    i_q, j_q = np.nonzero(marked[np.arange(D)[None, :], bins])
    if i_q.size == 0:
        return None
    order = np.argsort(A, axis=0, kind="stable")
    AsT = np.take_along_axis(A, order, axis=0).T  # (D, m), rows sorted
    span = 2.0 * max(float(np.abs(A).max()), float(np.abs(Z).max())) + 4.0 * tol + 1.0
    keys = (AsT + span * np.arange(D)[:, None]).ravel()
    z = Z[i_q, j_q] + span * j_q
    lo = np.searchsorted(keys, z - tol, side="left")
    count = np.searchsorted(keys, z + tol, side="right") - lo
    total = int(count.sum())
    if total == 0:
        return None
    run_start = np.cumsum(count) - count
    pos = np.repeat(lo - j_q * m, count) + (np.arange(total) - np.repeat(run_start, count))
    j = np.repeat(j_q, count)
    i = np.repeat(i_q, count)
    return i, order[pos, j], j


def kmeans_plusplus_before_in_place(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ seeding with a fresh array per operation (before the in-place step)."""
    from refine.strategies._clustering import _ZERO_D2

    n = X.shape[0]
    k = min(int(k), n)
    sq_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64).astype(X.dtype)
    zero = _ZERO_D2 * max(float(sq_norms.max()), np.finfo(np.float32).tiny)
    n_trials = 2 + int(np.log(k))

    def sq_dist_to(rows: np.ndarray) -> np.ndarray:
        d2 = sq_norms[rows, None] + sq_norms[None, :] - 2.0 * (X @ X[rows].T).T
        d2[d2 < zero] = 0.0
        return d2

    first = int(rng.integers(n))
    seeds = [first]
    closest = sq_dist_to(np.array([first]))[0]
    potential = float(closest.sum(dtype=np.float64))
    while len(seeds) < k and potential > 0.0:
        cum = np.cumsum(closest, dtype=np.float64)
        draws = rng.random(n_trials) * cum[-1]
        trials = np.minimum(np.searchsorted(cum, draws), n - 1)
        cand_d2 = np.minimum(closest[None, :], sq_dist_to(trials))
        pots = cand_d2.sum(axis=1, dtype=np.float64)
        pots[closest[trials] <= 0.0] = np.inf
        best = int(np.argmin(pots))
        if not np.isfinite(pots[best]):
            continue
        seeds.append(int(trials[best]))
        closest = cand_d2[best]
        potential = float(pots[best])
    return np.asarray(seeds, dtype=np.int64)


def lloyd_via_estimator(X: np.ndarray, init: np.ndarray, max_iter: int = 300):
    """Lloyd through scikit-learn's ``KMeans`` estimator (before ``_clustering.lloyd``)."""
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    est = KMeans(n_clusters=init.shape[0], init=init, n_init=1, max_iter=max_iter, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    return est.cluster_centers_.astype(X.dtype, copy=False), est.labels_.astype(np.int64)
