"""DropQuery (Gupte et al., TMLR 2024): dropout disagreement, then k-means for diversity.

Each candidate's features go through the head ``T`` times with dropout on the *input features*;
the number of passes whose prediction differs from the clean prediction ŷ is its disagreement
``c(x)``. Points with ``c > ⌊T/2⌋`` are candidates, the threshold being lowered (down to ``c > 0``)
while fewer than ``25·b`` qualify; the batch is the point nearest each centre of a k-means
clustering (k = b) of the L2-normalised candidates.

References
----------
S. R. Gupte, J. Aklilu, J. J. Nirschl, S. Yeung-Levy. Revisiting active learning in the era of
vision foundation models. TMLR 2024. Code: ``sanketx/AL-foundation-models`` @aa015d2,
``ALFM/src/query_strategies/dropout.py``, ``clustering/kmeans.py``, ``conf/al_train.yaml``
(``dropout_p: 0.75``), ``conf/query_strategy/dropout.yaml`` (3 passes).

The published Refine code: ``dhuseljic/dal-toolbox`` @e9bf05ca,
``dal_toolbox/active_learning/strategies/dropquery.py`` [DAL], which follows ALFM.
"""

from __future__ import annotations

import numpy as np

from refine.errors import ConfigError, check_memory_budget, check_positive_int
from refine.strategies._flagged_batch import batch_from_flagged
from refine.strategies._large_pool import (
    LARGE_POOL,
    POOL_SAMPLE,
    check_large_pool,
    large_pool_subsample,
)
from refine.strategies.base import Selection, Strategy
from refine.strategies.registry import register_strategy


@register_strategy
class DropQuery(Strategy):
    """DropQuery: k-means over the points whose prediction dropout changes most often.

    Parameters
    ----------
    n_passes : int, default=3
        Number T of dropout forward passes (ALFM and [DAL]: 3).
    p_drop : float, default=0.75
        Dropout probability on the input features. Kept features are scaled by ``1/(1 − p)``, as
        ``torch.nn.Dropout`` does (scikit-activeml does not rescale).
    candidate_factor : int, default=25
        The threshold on ``c`` starts at ``⌊T/2⌋`` and is lowered while fewer than
        ``candidate_factor · b`` points exceed it, stopping at ``c > 0``.
    memory_budget_mb : float, default=256
        Bound on the dropped-out feature block processed at once.
    large_pool : int or None, default=100000
        Above this many candidates, score a uniform random subsample of ``pool_sample`` of them
        (the published subsample semantics, :mod:`refine.strategies._large_pool`; recorded in
        ``trace_["large_pool"]``): the dropout passes over all of a million candidates, in row
        chunks, take a minute here. None: never.
    pool_sample : int, default=10000
        Size of that subsample (at most ``large_pool``).

    Notes
    -----
    Rule (ALFM, [DAL]): candidates are the points with ``c > thresh``; if fewer than b remain
    even at ``c > 0``, all of them are taken and the batch is filled with random other points.
    Otherwise k-means (greedy k-means++ seeding and Lloyd, as scikit-learn's ``KMeans`` in [DAL];
    ALFM uses faiss with 100 iterations) with k = b on the L2-normalised candidate features, and
    the candidate nearest each centre; clusters emptied by duplicated rows are made up at random
    from the remaining candidates.

    Dropout is applied only at query time ([DAL]; in ALFM the same dropout layer also acts while
    the head trains). Each pass draws its masks from its own generator seeded from ``rng``, so the
    batch does not depend on the memory budget. Cost: O(T·N·D·K) for the passes plus k-means on the candidates.
    """

    name = "dropquery"
    requires = frozenset({"probas", "head", "features", "normalized_features"})

    def __init__(
        self,
        n_passes: int = 3,
        p_drop: float = 0.75,
        candidate_factor: int = 25,
        memory_budget_mb: float = 256.0,
        large_pool: int | None = LARGE_POOL,
        pool_sample: int = POOL_SAMPLE,
    ):
        self.n_passes = n_passes
        self.p_drop = p_drop
        self.candidate_factor = candidate_factor
        self.memory_budget_mb = memory_budget_mb
        self.large_pool = large_pool
        self.pool_sample = pool_sample

    def _validate_params(self) -> None:
        check_positive_int("n_passes", self.n_passes)
        p = self.p_drop
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p < 1:
            raise ConfigError(f"p_drop must be a number in (0, 1), got {p!r}")
        check_positive_int("candidate_factor", self.candidate_factor, minimum=0)
        check_memory_budget(self.memory_budget_mb)
        check_large_pool(self.large_pool, self.pool_sample)

    def disagreements(self, ctx, candidates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``c(x)``: number of dropout passes whose prediction differs from ŷ, per candidate."""
        self._validate_params()
        candidates = np.asarray(candidates, dtype=np.int64)
        y_hat = ctx.logits(candidates).argmax(axis=1)
        W_t = np.ascontiguousarray(ctx.head.weight.T)
        bias = ctx.head.bias
        keep_scale = np.float32(1.0 / (1.0 - float(self.p_drop)))
        n, D = candidates.size, ctx.n_features
        rows = max(1, int(float(self.memory_budget_mb) * 2**20) // (4 * 4 * D))
        # one generator per pass, each consumed chunk after chunk: the masks of pass t are the
        # same whatever the chunking, and each chunk's features are gathered only once
        seeds = rng.integers(2**63 - 1, size=int(self.n_passes))
        gens = [np.random.default_rng(int(seed)) for seed in seeds]
        p = np.float32(self.p_drop)
        counts = np.zeros(n, dtype=np.int64)
        for s in range(0, n, rows):
            Xc = ctx.X[candidates[s : s + rows]]
            for gen in gens:
                keep = gen.random(Xc.shape, dtype=np.float32) >= p
                # (x ⊙ m / (1 − p)) W^T + b, with the scalar 1/(1 − p) applied after the product
                logits = (Xc * keep) @ W_t
                logits *= keep_scale
                logits += bias
                counts[s : s + rows] += logits.argmax(axis=1) != y_hat[s : s + rows]
        return counts

    def candidate_mask(self, counts: np.ndarray, batch_size: int) -> np.ndarray:
        """Points above the (possibly lowered) disagreement threshold."""
        thresh = int(self.n_passes) // 2
        need = int(self.candidate_factor) * batch_size
        while (counts > thresh).sum() < need and thresh > 0:
            thresh -= 1
        return counts > thresh

    def _select(self, ctx, candidates, batch_size, rng):
        self._validate_params()
        scored, trace = large_pool_subsample(candidates, self.large_pool, self.pool_sample, rng)
        counts = self.disagreements(ctx, scored, rng)
        pos = np.flatnonzero(self.candidate_mask(counts, batch_size))
        # fewer than b flagged points: all taken, no clustering
        batch = batch_from_flagged(
            ctx, candidates, scored, pos, batch_size, rng, batch_size - 1, subsampled=bool(trace)
        )
        return Selection(batch, trace) if trace else batch
