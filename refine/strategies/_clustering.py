"""Shared k-means helpers of the clustering-based strategies (TypiClust, ALFA-Mix, DropQuery).

The published Refine code (dal-toolbox, docs/protocol.md §5) clusters with scikit-learn's
``KMeans(n_init='auto')``: one run of *greedy* k-means++ seeding (Arthur & Vassilvitskii 2007, with
``2 + ⌊ln k⌋`` local trials per centre, as in scikit-learn) followed by Lloyd iterations. The
algorithm here is the same; only the seeding is rewritten, because scikit-learn's
:func:`~sklearn.cluster.kmeans_plusplus` validates its inputs and calls ``euclidean_distances``
once per centre, which costs ≈ 1 s for 500 centres on 5 400 × 384 points (TypiClust's
``min(|L| + b, 500)`` clusters) while the Lloyd iterations that follow take ≈ 0.05 s. The rewrite
scores all local trials of one step with a single matrix product (≈ 0.1 s for 500 centres). Lloyd
itself stays scikit-learn's (``KMeans(init=seeds, n_init=1)``: tolerance-based stopping, empty
cluster relocation), run in one OpenMP thread so that clusters do not depend on the machine's
core count or on parallel filtering draws (:func:`_one_openmp_thread`).

:func:`lloyd` calls scikit-learn's own Lloyd routine with the inputs ``KMeans.fit`` prepares for
it, without the estimator's input validation: on the small pools of the later filtering rounds
(a few hundred points) that validation cost 1.1 of the 1.7 ms of a fit, and three strategies fit
k-means in every draw. The routine is private, so its results are checked against
``KMeans.fit`` bit for bit in the tests, and an installation without it falls back to the
estimator.

:func:`kmeans_plusplus_many` runs the seedings of several point sets of one size side by side
(TypiClust's draws of a filtering round, ``Strategy.select_draws``), with the seeds of one call
per set.

Duplicates (scikit-activeml issue #451): once every distinct point is a centre the seeding
potential is zero; we stop there instead of adding duplicate centres, so k-means runs with fewer
clusters than requested and callers see ``n_clusters < k`` rather than empty clusters.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning

try:  # scikit-learn's Lloyd iterations and tolerance rule (private: see lloyd())
    from sklearn.cluster._kmeans import _kmeans_single_lloyd, _tolerance
except ImportError:  # pragma: no cover - a scikit-learn without them uses KMeans.fit
    _kmeans_single_lloyd = None

#: Squared distances below this fraction of the largest squared norm are rounding noise of the
#: Gram-matrix formula ‖x‖² + ‖c‖² − 2x·c in float32 (relative error ≈ 1e-7) and count as zero,
#: so exact duplicates of a centre get zero seeding probability.
_ZERO_D2 = 1e-6


_CONTROLLER = None


def _one_openmp_thread():
    """Run scikit-learn's k-means in one OpenMP thread (of the calling thread).

    Its Lloyd and mini-batch updates sum the centres per thread, so the clusters depend on the
    number of OpenMP threads, i.e. on the machine and on whether filtering draws run in parallel.
    With one thread, a seed gives the same clusters everywhere and for every ``n_jobs``; Lloyd is
    a small part of the cost here (the seeding and the strategies' own products dominate).
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()  # scanning the loaded libraries once (ms)
    return _CONTROLLER.limit(limits=1, user_api="openmp")


def seed_int(rng: np.random.Generator) -> int:
    """An integer seed for a library that takes one (scikit-learn, torch), drawn from ``rng``."""
    return int(rng.integers(2**31 - 1))


def kmeans_plusplus(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ seeding; returns the row indices of up to ``k`` distinct seeds.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Points (float32 or float64).
    k : int
        Number of seeds wanted (``1 <= k <= n``).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray of int64
        Indices into ``X``; fewer than ``k`` when ``X`` has fewer than ``k`` distinct rows (up to
        rounding, see :data:`_ZERO_D2`).

    Notes
    -----
    Each step draws ``2 + ⌊ln k⌋`` candidates with probability ∝ D(x)² (the squared distance to
    the nearest chosen seed) and keeps the one that minimises the resulting potential ΣD², as
    scikit-learn's ``kmeans_plusplus`` does.
    """
    n = X.shape[0]
    k = min(int(k), n)
    sq_norms = np.einsum("ij,ij->i", X, X, dtype=np.float64).astype(X.dtype)
    zero = _ZERO_D2 * max(float(sq_norms.max()), np.finfo(np.float32).tiny)
    n_trials = 2 + int(np.log(k))

    row = sq_norms[None, :]

    def sq_dist_to(rows: np.ndarray) -> np.ndarray:
        # (len(rows), n) squared distances, clipped at zero and with rounding noise zeroed;
        # X @ X[rows].T streams X once per step (the (rows, n) orientation is 3x slower in BLAS).
        # X[rows] @ (a transposed copy of X) is 1.3-1.6x faster on small sets, but it sums the
        # same products in another order: last-bit changes move the D² sampling's boundaries,
        # and a from-scratch claims ledger with it diverged in 61 of its 180 filtered trials
        # (2026-12-02). Any change to this product must leave every bit of it unchanged.
        # In place where the values allow it (2·G is exact, a − 2G the same subtraction): the
        # loop is dominated by per-call overhead on small pools.
        G = X @ X[rows].T
        G *= 2.0
        d2 = sq_norms[rows, None] + row
        d2 -= G.T
        np.copyto(d2, 0.0, where=d2 < zero)
        return d2

    first = int(rng.integers(n))
    seeds = [first]
    closest = sq_dist_to(np.array([first]))[0]
    potential = float(closest.sum(dtype=np.float64))
    while len(seeds) < k and potential > 0.0:
        cum = np.cumsum(closest, dtype=np.float64)
        draws = rng.random(n_trials)
        draws *= cum[-1]
        trials = cum.searchsorted(draws)
        np.minimum(trials, n - 1, out=trials)
        cand_d2 = sq_dist_to(trials)
        np.minimum(closest, cand_d2, out=cand_d2)
        pots = cand_d2.sum(axis=1, dtype=np.float64)
        # a draw of exactly 0 can land on a covered point (D² = 0): never take it as a seed
        pots[closest[trials] <= 0.0] = np.inf
        best = int(pots.argmin())
        if not math.isfinite(pots[best]):
            continue
        seeds.append(int(trials[best]))
        closest = cand_d2[best]
        potential = float(pots[best])
    return np.asarray(seeds, dtype=np.int64)


def kmeans_plusplus_many(
    Xs: np.ndarray, k: int, rngs: list[np.random.Generator]
) -> list[np.ndarray]:
    """:func:`kmeans_plusplus` of every ``Xs[j]`` with ``rngs[j]``, all in one loop.

    The seedings of a filtering round's draws (TypiClust: m draws on point sets of one size) run
    step by step side by side: one stacked matrix product and one set of array operations per
    step serve all of them, where the single seeding spends most of its time in per-call
    overhead on small pools. Each draw's arithmetic is the single call's, element for element
    (numpy's stacked matmul runs the same BLAS product per draw, and the reductions run along
    the same rows), and each generator is drawn from in the same order, so the seeds are those
    of ``[kmeans_plusplus(X, k, r) for X, r in zip(Xs, rngs)]`` (tests) and the generators are
    left in the same states.

    Parameters
    ----------
    Xs : ndarray of shape (m, n, d)
        The m point sets.
    k : int
        Number of seeds wanted per set (``1 <= k <= n``).
    rngs : list of m numpy.random.Generator

    Returns
    -------
    list of m ndarray of int64
    """
    m, n, _ = Xs.shape
    k = min(int(k), n)
    # per set, as the single call computes them (einsum's sums along d, per row)
    sq = np.stack([np.einsum("ij,ij->i", X, X, dtype=np.float64).astype(Xs.dtype) for X in Xs])
    zero = np.array(
        [_ZERO_D2 * max(float(s.max()), np.finfo(np.float32).tiny) for s in sq], dtype=np.float64
    ).astype(Xs.dtype)[:, None, None]
    n_trials = 2 + int(np.log(k))
    sets = np.arange(m)[:, None]

    def sq_dist_to(rows: np.ndarray) -> np.ndarray:
        # (m, len(rows[j]), n): the single call's sq_dist_to for every set at once
        G = np.matmul(Xs, Xs[sets, rows].transpose(0, 2, 1))
        G *= 2.0
        d2 = sq[sets, rows][:, :, None] + sq[:, None, :]
        d2 -= G.transpose(0, 2, 1)
        np.copyto(d2, 0.0, where=d2 < zero)
        return d2

    first = np.array([int(r.integers(n)) for r in rngs], dtype=np.int64)
    seeds = [[int(f)] for f in first]
    closest = sq_dist_to(first[:, None])[:, 0, :].copy()
    potential = closest.sum(axis=1, dtype=np.float64)
    live = [j for j in range(m) if len(seeds[j]) < k and potential[j] > 0.0]
    trials = np.zeros((m, n_trials), dtype=np.int64)  # finished sets keep dummy rows
    while live:
        cum = np.cumsum(closest, axis=1, dtype=np.float64)
        for j in live:
            draws = rngs[j].random(n_trials)
            draws *= cum[j, -1]
            trials[j] = cum[j].searchsorted(draws)
        np.minimum(trials, n - 1, out=trials)
        cand_d2 = sq_dist_to(trials)
        np.minimum(closest[:, None, :], cand_d2, out=cand_d2)
        pots = cand_d2.sum(axis=2, dtype=np.float64)
        pots[np.take_along_axis(closest, trials, axis=1) <= 0.0] = np.inf
        best = pots.argmin(axis=1)
        still = []
        for j in live:
            b = int(best[j])
            if math.isfinite(pots[j, b]):
                seeds[j].append(int(trials[j, b]))
                closest[j] = cand_d2[j, b]
                potential[j] = pots[j, b]
            if len(seeds[j]) < k and potential[j] > 0.0:
                still.append(j)
        live = still
    return [np.asarray(s_, dtype=np.int64) for s_ in seeds]


def kmeans(
    X: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    minibatch: bool = False,
    max_iter: int = 300,
) -> tuple[np.ndarray, np.ndarray]:
    """k-means with greedy k-means++ seeding and scikit-learn's Lloyd (or mini-batch) updates.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Points.
    k : int
        Requested number of clusters.
    rng : numpy.random.Generator
        Source of randomness (seeding, and the integer seed handed to scikit-learn).
    minibatch : bool
        Use :class:`~sklearn.cluster.MiniBatchKMeans` with batches of 5000 (the original TypiClust
        code for more than 50 clusters) instead of Lloyd's algorithm.
    max_iter : int
        Iteration cap of scikit-learn's estimator.

    Returns
    -------
    centres : ndarray of shape (k', d)
        Final centres; ``k' <= k`` (fewer when ``X`` has fewer than ``k`` distinct rows).
    labels : ndarray of shape (n,)
        Cluster index of each point in ``[0, k')``.
    """
    return kmeans_from_seeds(
        X, kmeans_plusplus(X, k, rng), rng, minibatch=minibatch, max_iter=max_iter
    )


def kmeans_from_seeds(
    X: np.ndarray,
    seeds: np.ndarray,
    rng: np.random.Generator,
    *,
    minibatch: bool = False,
    max_iter: int = 300,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`kmeans` after its seeding: Lloyd (or mini-batch) from the rows ``seeds`` of X.

    ``seeds`` come from :func:`kmeans_plusplus` (or :func:`kmeans_plusplus_many`) with the same
    ``rng``, which then gives the estimator's integer seed; returns as :func:`kmeans`.
    """
    init = X[seeds]
    k_eff = init.shape[0]
    if k_eff == 1:
        return X[seeds].astype(X.dtype, copy=True), np.zeros(X.shape[0], dtype=np.int64)
    seed = seed_int(rng)  # drawn on every path, so that the generator's stream is the same
    if not minibatch and _kmeans_single_lloyd is not None:
        with _one_openmp_thread():
            return lloyd(X, init, max_iter)
    if minibatch:
        est = MiniBatchKMeans(
            n_clusters=k_eff,
            init=init,
            n_init=1,
            batch_size=5000,
            max_iter=max_iter,
            random_state=seed,
        )
    else:
        est = KMeans(n_clusters=k_eff, init=init, n_init=1, max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings(), _one_openmp_thread():
        # fewer distinct clusters than seeds can only come from near-duplicates; callers cope
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    return est.cluster_centers_.astype(X.dtype, copy=False), est.labels_.astype(np.int64)


def lloyd(X: np.ndarray, init: np.ndarray, max_iter: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """``KMeans(init=init, n_init=1, max_iter=max_iter).fit(X)`` without the estimator around it.

    The steps of scikit-learn's ``KMeans.fit`` for a dense float array and array ``init``, in its
    order: a C-ordered copy of X, the tolerance ``1e-4 · mean(var(X, axis=0))`` of the uncentred
    copy, centring of X and init on X's mean, unit sample weights, its Lloyd routine (one thread:
    the caller holds :func:`_one_openmp_thread`), and the mean added back to the centres. The
    centres and labels equal the estimator's bit for bit (tests).

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64
    init : ndarray of shape (k, d)
        Initial centres (``k >= 2``).
    max_iter : int
        Iteration cap.

    Returns
    -------
    centres : ndarray of shape (k, d), X's dtype
    labels : ndarray of shape (n,), int64
    """
    Xc = np.array(X, order="C", copy=True)
    if Xc.dtype not in (np.float32, np.float64):
        Xc = Xc.astype(np.float64)
    tol = _tolerance(Xc, 1e-4)
    mean = Xc.mean(axis=0)
    Xc -= mean
    centres = np.array(init, dtype=Xc.dtype, order="C", copy=True)
    centres -= mean
    weights = np.ones(Xc.shape[0], dtype=Xc.dtype)
    labels, _, centres, _ = _kmeans_single_lloyd(
        Xc, weights, centres, max_iter=max_iter, verbose=False, tol=tol, n_threads=1
    )
    centres += mean
    return centres, labels.astype(np.int64)


def nearest_to_centres(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means with ``k`` clusters on ``X``; the row nearest each centre, one per cluster.

    This is the selection step of ALFA-Mix and DropQuery (docs/protocol.md §5): cluster the
    (already L2-normalised) candidate embeddings and take, in each cluster, the member closest to
    its centre. Picks are unique because every point belongs to exactly one cluster.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Points (callers pass L2-normalised embeddings).
    k : int
        Number of clusters (``<= n``).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray of int64
        Row indices into ``X`` in cluster order; fewer than ``k`` when clusters come out empty
        (duplicates), and callers fill the shortfall.
    """
    centres, labels = kmeans(X, k, rng)
    diff = X - centres[labels]
    d2 = np.einsum("ij,ij->i", diff, diff)
    # sort by (cluster, distance, index): the first row of each cluster is its nearest member
    order = np.lexsort((np.arange(X.shape[0]), d2, labels))
    first = np.ones(order.size, dtype=bool)
    first[1:] = labels[order[1:]] != labels[order[:-1]]
    return order[first].astype(np.int64)


def fill_at_random(
    chosen: np.ndarray, pools: list[np.ndarray], size: int, rng: np.random.Generator
) -> np.ndarray:
    """Extend ``chosen`` to ``size`` unique entries, drawing without replacement from ``pools``.

    The pools are used in order (e.g. first the remaining candidates of a filter, then the rest of
    the unlabeled points); entries already chosen are skipped. Used for every random fallback, so
    no strategy of this group can return a duplicate (the original ALFA-Mix fills *with*
    replacement, docs/protocol.md §5).
    """
    chosen = np.asarray(chosen, dtype=np.int64)
    parts = [chosen]
    taken = set(chosen.tolist())
    missing = size - chosen.size
    for pool in pools:
        if missing <= 0:
            break
        pool = np.asarray(pool, dtype=np.int64)
        avail = pool[~np.isin(pool, np.fromiter(taken, dtype=np.int64, count=len(taken)))]
        if avail.size == 0:
            continue
        draw = rng.choice(avail, size=min(missing, avail.size), replace=False)
        parts.append(draw)
        taken.update(draw.tolist())
        missing -= draw.size
    return np.concatenate(parts)
