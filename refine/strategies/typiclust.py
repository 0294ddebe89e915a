"""TypiClust (Hacohen, Dekel & Weinshall, ICML 2022) and inverse TypiClust (SelectAL's surrogate).

TypiClust clusters the labeled and candidate points together and, from clusters not yet covered by
labels, queries the most *typical* point: the one with the smallest mean distance to its nearest
neighbours inside the cluster. Inverse TypiClust mirrors it (smallest uncovered cluster, least
typical point) and is the high-budget surrogate of SelectAL (docs/ensembles.md).

References
----------
G. Hacohen, A. Dekel, D. Weinshall. Active learning on a budget: opposite strategies suit high and
low budgets. ICML 2022. Code: ``avihu111/TypiClust`` @4097a71, ``deep-al/pycls/al/typiclust.py``.

The published Refine code: ``dhuseljic/dal-toolbox`` @e9bf05ca,
``dal_toolbox/active_learning/strategies/typiclust.py`` (``TypiClust``, ``InverseTypiClust``).
"""

from __future__ import annotations

import numpy as np

from refine.errors import check_memory_budget, check_positive_int, unknown_choice
from refine.strategies._clustering import (
    fill_at_random,
    kmeans,
    kmeans_from_seeds,
    kmeans_plusplus_many,
)
from refine.strategies._large_pool import (
    LARGE_POOL,
    POOL_SAMPLE,
    check_large_pool,
    large_pool_subsample,
)
from refine.strategies.base import Selection, Strategy
from refine.strategies.registry import register_strategy

_VARIANTS = ("dal", "original")
_METRICS = ("sqeuclidean", "euclidean")
#: The original code drops clusters with at most this many points (L ∪ U); dal-toolbox does not.
_MIN_CLUSTER_SIZE = 5
#: The original code switches from KMeans to MiniBatchKMeans above this many clusters.
_MINIBATCH_ABOVE = 50
#: Largest stack of a round's point sets (MB) whose k-means++ seedings run side by side. Each
#: step of the stacked loop reads every set, so above the cache the sets are streamed from memory
#: once per step; one seeding at a time keeps its set cached. Measured here (one thread, 11 draws,
#: 2026-12-01; the same seeds either way): 11 × 1000 × 384 (17 MB) stacked 0.94 s against one by
#: one 1.08 s; 11 × 2000 × 384 (34 MB) 2.24 against 1.97 s; 11 × 5000 × 384 (84 MB) 0.96 against
#: 0.64 s; 11 × 7000 × 384 (118 MB, the million-instance Refine query) 12.6–13.4 against
#: 7.1–7.5 s. Digits' sets (11 × 1800 × 64, 5 MB) stay stacked, where the shared loop saves the
#: per-call overhead of small pools.
STACKED_SEEDING_MAX_MB = 24.0


def typicality(
    F: np.ndarray, k: int, metric: str = "sqeuclidean", memory_budget_mb: float = 256.0
) -> np.ndarray:
    """``t(x) = 1 / (mean distance of x to its k nearest other rows of F + 1e-5)``.

    Parameters
    ----------
    F : ndarray of shape (n, d)
        The points of one cluster (its still-unlabeled members).
    k : int
        Number of neighbours, ``min(20, n // 2)`` in both codes. ``k = 0`` (a single point) gives
        ``+inf``: the point is the only choice in its cluster, and dal-toolbox uses the same value.
    metric : {"sqeuclidean", "euclidean"}
        Distance averaged over the neighbours. Both codes use squared L2 (faiss ``IndexFlatL2``
        in the original, scikit-learn ``metric='sqeuclidean'`` in dal-toolbox); the paper's formula
        writes the plain L2 norm.
    memory_budget_mb : float
        Bound on the block of the distance matrix held at once (rows are processed in chunks).

    Returns
    -------
    ndarray of shape (n,)
        Typicality of each row (float64).

    Notes
    -----
    The row itself is excluded as a neighbour by setting its diagonal entry to +inf. With exact
    duplicates this gives the same multiset of distances as the codes' "drop the first
    neighbour" (one zero is dropped either way), and the +1e-5 keeps the value finite
    (scikit-activeml issue #451: division by zero on duplicates).
    """
    n = F.shape[0]
    if n == 0:
        return np.empty(0)
    k = min(int(k), n - 1)
    if k <= 0:
        return np.full(n, np.inf)
    F = np.ascontiguousarray(F, dtype=np.float32)
    sq = np.einsum("ij,ij->i", F, F)
    rows = max(1, int(memory_budget_mb * 2**20) // (4 * n))
    mean_dist = np.empty(n, dtype=np.float64)
    for s in range(0, n, rows):
        e = min(n, s + rows)
        d2 = sq[s:e, None] + sq[None, :] - 2.0 * (F[s:e] @ F.T)
        np.maximum(d2, 0.0, out=d2)
        d2[np.arange(e - s), np.arange(s, e)] = np.inf
        near = np.partition(d2, k - 1, axis=1)[:, :k]
        if metric == "euclidean":
            np.sqrt(near, out=near)
        mean_dist[s:e] = near.mean(axis=1, dtype=np.float64)
    return 1.0 / (mean_dist + 1e-5)


@register_strategy
class TypiClust(Strategy):
    """TypiClust: the most typical point of the largest clusters not covered by labels.

    Clustering: k-means with ``C = min(|L| + b, max_clusters)`` clusters on the features of
    L ∪ candidates. Typicality: :func:`typicality` with ``k = min(n_neighbors, n_c // 2)`` among
    the cluster's unlabeled points.

    Parameters
    ----------
    variant : {"dal", "original"}, default="dal"
        Selection rule.

        ``"dal"`` (default): the published Refine code (dal-toolbox), which the paper's results
        used. Clusters containing a labeled point are skipped; the largest remaining cluster is
        taken, each cluster at most once; when none is left the rest of the batch is random.
        Raw (unnormalised) features, k-means (k-means++ seeding + Lloyd) for every C, no
        minimum cluster size.

        ``"original"``: the authors' TypiClust code. Features are L2-normalised; clusters with at
        most 5 points (L ∪ U) are dropped; clusters are sorted by (number of labeled points
        ascending, size descending) and visited round-robin (pick ``i`` comes from cluster
        ``i mod #clusters``), so a cluster can give several points; typicality is recomputed
        among the cluster's remaining points at each visit; mini-batch k-means (batches of 5000)
        when C > 50. Two guards the original lacks (it would crash): clusters with no points left
        are skipped in the round-robin, and when no cluster has more than 5 points all non-empty
        clusters are used.
    metric : {"sqeuclidean", "euclidean"}, default="sqeuclidean"
        Neighbour distance in the typicality. Both codes use squared L2; ``"euclidean"`` is the
        paper's formula.
    n_neighbors : int, default=20
        The cap ``K_NN`` on the number of neighbours.
    max_clusters : int, default=500
        The cap ``MAX_NUM_CLUSTERS`` on C.
    memory_budget_mb : float, default=256
        Bound on the distance block of the typicality computation (large clusters at large N).
    large_pool : int or None, default=100000
        Above this many candidates, cluster L together with a uniform random subsample of
        ``pool_sample`` candidates instead of all of them (the published subsample semantics,
        :mod:`refine.strategies._large_pool`; recorded in ``trace_["large_pool"]``). None: never.
        The paper's pools (5000-instance subsamples) are far below it.
    pool_sample : int, default=10000
        Size of that subsample (at most ``large_pool``).

    Notes
    -----
    k-means is scikit-learn's ``KMeans(n_init='auto')`` algorithm (greedy k-means++ seeding, then
    Lloyd), with the seeding rewritten for speed (:mod:`refine.strategies._clustering`); for
    ``variant="original"`` with C > 50, ``MiniBatchKMeans(batch_size=5000)`` starts from the same
    seeding (the original seeds on a subsample of ``3·batch_size`` points, i.e. on all points for
    pools up to 15 000). Clusters differ from dal-toolbox's run to run only through the random
    streams, as theirs differ between runs.

    Duplicated rows (scikit-activeml #451) cannot make clusters empty: the seeding stops at the
    number of distinct points (:mod:`refine.strategies._clustering`), and empty clusters, if
    Lloyd produced any, have size 0 and are never visited. A cluster of one point has typicality
    +inf (k = 0 neighbours), i.e. that point is picked.

    Cost: k-means O((|L| + N)·C·D) per Lloyd iteration plus the seeding (C steps of one matrix
    product each), and O(n_c²·D) for the typicality of each visited cluster. No N×N matrix.
    At N = 10⁶ this is about 20 minutes here, hence the large-pool rule: with the default
    subsample k-means runs on |L| + 10 000 points (its k-means++ seeding, C passes over them,
    dominates: ≈ 10 s here on a busy machine).
    """

    name = "typiclust"
    requires = frozenset({"features"})
    label_free = True
    batched_draws = True
    #: inverse TypiClust flips the cluster order and the typicality order
    _inverse = False

    def __init__(
        self,
        variant: str = "dal",
        metric: str = "sqeuclidean",
        n_neighbors: int = 20,
        max_clusters: int = 500,
        memory_budget_mb: float = 256.0,
        large_pool: int | None = LARGE_POOL,
        pool_sample: int = POOL_SAMPLE,
    ):
        self.variant = variant
        self.metric = metric
        self.n_neighbors = n_neighbors
        self.max_clusters = max_clusters
        self.memory_budget_mb = memory_budget_mb
        self.large_pool = large_pool
        self.pool_sample = pool_sample

    def _validate_params(self) -> None:
        if self.variant not in _VARIANTS:
            raise unknown_choice("variant", self.variant, _VARIANTS)
        if self.metric not in _METRICS:
            raise unknown_choice("metric", self.metric, _METRICS)
        check_positive_int("n_neighbors", self.n_neighbors)
        check_positive_int("max_clusters", self.max_clusters)
        check_memory_budget(self.memory_budget_mb)
        check_large_pool(self.large_pool, self.pool_sample)

    # ------------------------------------------------------------------ selection
    def _select(self, ctx, candidates, batch_size, rng):
        self._validate_params()
        scored, trace = large_pool_subsample(candidates, self.large_pool, self.pool_sample, rng)
        idx, F, n_clusters, minibatch = self._points(ctx, scored, batch_size)
        if ctx.kernel_device is not None:  # torch kernels (refine/strategies/_torch_clustering.py)
            from refine.strategies._torch_clustering import kmeans_of

            kw = dict(normalized=self.variant == "original", minibatch=minibatch)
            F, labels = kmeans_of(ctx, idx, n_clusters, rng, **kw)
        else:
            _, labels = kmeans(F, n_clusters, rng, minibatch=minibatch)
        return self._batch(ctx, candidates, scored, trace, F, labels, batch_size, rng)

    def _points(self, ctx, scored: np.ndarray, batch_size: int):
        """The clustered points L ∪ scored: indices, features, number of clusters, mini-batch."""
        idx = np.concatenate([ctx.labeled, scored])
        F = ctx.normalized_features(idx) if self.variant == "original" else ctx.X[idx]
        n_clusters = min(ctx.n_labeled + batch_size, int(self.max_clusters))
        minibatch = self.variant == "original" and n_clusters > _MINIBATCH_ABOVE
        return idx, F, n_clusters, minibatch

    def select_draws(self, ctx, subsets, batch_size, rngs):
        """The draws of a filtering round together: their k-means++ seedings in one loop.

        Same batches and generator states as one :meth:`select` per draw (tests). Draws that
        need no clustering, a torch device, the large-pool rule, candidate sets of different
        sizes, or a stack of their points above ``memory_budget_mb`` or
        :data:`STACKED_SEEDING_MAX_MB` (where one seeding at a time is faster) go one by one.
        """
        self._validate_params()
        sizes = {np.asarray(c).size for c in subsets}
        n_points = ctx.n_labeled + max(sizes, default=0)
        stack_mb = len(subsets) * n_points * ctx.n_features * 4 / 2**20
        if (
            not self.batched_draws
            or len(subsets) < 2
            or len(sizes) != 1
            or ctx.kernel_device is not None
            or (self.large_pool is not None and n_points - ctx.n_labeled > self.large_pool)
            or stack_mb > min(self.memory_budget_mb, STACKED_SEEDING_MAX_MB)
        ):
            return super().select_draws(ctx, subsets, batch_size, rngs)
        checked = [
            self._checked_inputs(ctx, c, batch_size, r) for c, r in zip(subsets, rngs, strict=True)
        ]
        if any(early is not None for *_, early in checked):
            return super().select_draws(ctx, subsets, batch_size, rngs)
        batch_size = checked[0][0]
        first = checked[0][1]
        if all(np.array_equal(cand, first) for _, cand, _ in checked[1:]):
            # one point set for every draw (a round whose subsample is its whole pool): the
            # draws differ only in their generators, so the stack is a read-only view of one
            # copy, each step's products read the same points (from cache on small pools:
            # 1.6× faster seedings on digits), and every product is the single call's
            _, F, n_clusters, minibatch = self._points(ctx, first, batch_size)
            Fs = np.broadcast_to(F, (len(checked), *F.shape))
        else:
            points = [self._points(ctx, cand, batch_size) for _, cand, _ in checked]
            n_clusters, minibatch = points[0][2], points[0][3]
            Fs = np.stack([F for _, F, _, _ in points])
        all_seeds = kmeans_plusplus_many(Fs, n_clusters, rngs)  # capped at n, as kmeans()
        out = []
        for (_, cand, _), F, seeds, rng in zip(checked, Fs, all_seeds, rngs, strict=True):
            _, labels = kmeans_from_seeds(F, seeds, rng, minibatch=minibatch)
            batch = self._batch(ctx, cand, cand, {}, F, labels, batch_size, rng)
            out.append(self._finished(batch, cand, batch_size).indices)
        return out

    def _batch(self, ctx, candidates, scored, trace, F, labels, batch_size, rng):
        """The selection rule on the clustering of L ∪ scored, filled up to b at random."""
        n_lab = ctx.n_labeled
        if self.variant == "dal":
            picked = self._select_dal(F, labels, n_lab, batch_size)
        else:
            picked = self._select_original(F, labels, n_lab, batch_size)
        chosen = scored[np.asarray(picked, dtype=np.int64)]
        if not trace:
            return fill_at_random(chosen, [candidates], batch_size, rng)
        return Selection(fill_at_random(chosen, [scored, candidates], batch_size, rng), trace)

    def _typicality(self, F: np.ndarray) -> np.ndarray:
        k = min(int(self.n_neighbors), F.shape[0] // 2)
        if not isinstance(F, np.ndarray):  # a tensor: the torch path's device rows
            from refine.strategies._torch_clustering import typicality as torch_typicality

            return torch_typicality(F, k, self.metric, float(self.memory_budget_mb), F.device)
        return typicality(F, k, self.metric, float(self.memory_budget_mb))

    def _pick(self, t: np.ndarray) -> int:
        return int(np.argmin(t) if self._inverse else np.argmax(t))

    def _select_dal(self, F, labels, n_lab, batch_size) -> list[int]:
        """dal-toolbox rule; returns positions among the candidates (rows ``n_lab + pos`` of F)."""
        cand_labels = labels[n_lab:]
        n_clusters = int(labels.max()) + 1
        sizes = np.bincount(cand_labels, minlength=n_clusters)
        sizes[np.unique(labels[:n_lab])] = 0  # covered clusters are skipped
        open_clusters = np.flatnonzero(sizes > 0)
        # dal-toolbox takes argmax(sizes) repeatedly (first index on ties): a stable sort by size
        key = sizes[open_clusters] if self._inverse else -sizes[open_clusters]
        visit = open_clusters[np.argsort(key, kind="stable")][:batch_size]
        members = _group(cand_labels, n_clusters)
        picked = []
        for c in visit:
            pos = members[c]
            picked.append(int(pos[self._pick(self._typicality(F[n_lab + pos]))]))
        return picked

    def _select_original(self, F, labels, n_lab, batch_size) -> list[int]:
        """Original TypiClust rule (round-robin over filtered, sorted clusters)."""
        cand_labels = labels[n_lab:]
        n_clusters = int(labels.max()) + 1
        sizes = np.bincount(labels, minlength=n_clusters)
        n_labeled_in = np.bincount(labels[:n_lab], minlength=n_clusters)
        eligible = np.flatnonzero(sizes > _MIN_CLUSTER_SIZE)
        if eligible.size == 0:  # the original would divide by zero here
            eligible = np.flatnonzero(sizes > 0)
        size_key = sizes[eligible] if self._inverse else -sizes[eligible]
        order = eligible[np.lexsort((size_key, n_labeled_in[eligible]))]
        members = _group(cand_labels, n_clusters)
        remaining = {int(c): members[c] for c in order}
        picked: list[int] = []
        pointer = 0
        while len(picked) < batch_size:
            for step in range(order.size):  # next cluster in round-robin order with points left
                c = int(order[(pointer + step) % order.size])
                if remaining[c].size:
                    break
            else:
                break  # every eligible cluster exhausted: the caller fills at random
            pointer = (pointer + step + 1) % order.size
            pos = remaining[c]
            j = self._pick(self._typicality(F[n_lab + pos]))
            picked.append(int(pos[j]))
            remaining[c] = np.delete(pos, j)
        return picked


@register_strategy
class InverseTypiClust(TypiClust):
    """Inverse TypiClust: the least typical point of the smallest clusters not covered by labels.

    The surrogate of a high-budget strategy in SelectAL (Hacohen & Weinshall, NeurIPS 2023;
    docs/ensembles.md): it mirrors :class:`TypiClust`, visiting uncovered clusters from the smallest
    up and taking the point with the *lowest* typicality in each. Parameters as
    :class:`TypiClust`; with ``variant="original"`` the round-robin order is (number of labeled
    points ascending, size ascending).

    Notes
    -----
    dal-toolbox's ``InverseTypiClust`` marks covered clusters with size 0 and then takes the
    *argmin* of the sizes, so it visits covered (and empty) clusters first and can return labeled
    points; this implementation follows the stated intent (smallest *uncovered* non-empty
    cluster), like the docstring of SelectAL's reference implementation describes it.
    """

    name = "inv_typiclust"
    _inverse = True


def _group(labels: np.ndarray, n_clusters: int) -> list[np.ndarray]:
    """Positions of each cluster's members (ascending), for clusters ``0..n_clusters-1``."""
    order = np.argsort(labels, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=n_clusters))])
    return [order[bounds[c] : bounds[c + 1]] for c in range(n_clusters)]
