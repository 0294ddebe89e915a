"""ALFA-Mix (Parvaneh et al., CVPR 2022): candidates whose prediction flips under feature mixing.

For each unlabeled point ``z`` with predicted class ŷ and each anchor ``z*`` (the mean embedding of
a class's labeled points), ALFA-Mix interpolates ``z_mix = (1 − α) ⊙ z + α ⊙ z*`` with the
closed-form per-dimension weight

    α = (ε ‖z* − z‖ / ‖g‖) · g ⊘ (z* − z + 1e-8),   g = ∇_z CE(head(z), ŷ),   ε = cap / √D,

and calls ``z`` a candidate when ``argmax head(z_mix) ≠ ŷ`` for *any* anchor. The batch is the
point nearest each centre of a k-means clustering (k = b) of the L2-normalised candidates.

References
----------
A. Parvaneh, E. Abbasnejad, D. Teney, R. Haffari, A. van den Hengel, J. Q. Shi. Active learning by
feature mixing. CVPR 2022. Code: ``AminParvaneh/alpha_mix_active_learning`` @b79d954,
``query_strategies/alpha_mix_sampling.py`` (closed form ``--alpha_closed_form_approx
--alpha_cap 0.2``, the README's recommendation; its issue #5 confirms 0.2).

Foundation-model versions, which fix ε = 0.2/√D without the growth loop: ``sanketx/AL-foundation-
models`` @aa015d2 ``ALFM/src/query_strategies/alfamix.py`` and the published Refine code
``dhuseljic/dal-toolbox`` @e9bf05ca ``dal_toolbox/active_learning/strategies/alfamix.py``.
"""

from __future__ import annotations

import threading

import numpy as np
import scipy.sparse as sp

from refine.errors import ConfigError, check_memory_budget, unknown_choice
from refine.strategies._flagged_batch import batch_from_flagged
from refine.strategies._large_pool import (
    LARGE_POOL,
    POOL_SAMPLE,
    check_large_pool,
    large_pool_subsample,
)
from refine.strategies.base import Selection, Strategy
from refine.strategies.registry import register_strategy

_ANCHOR_MODES = ("all_classes", "published")
_MIX_METHODS = ("factorized", "direct")
#: The guard of the closed form's denominator (original code).
_GUARD = 1e-8
#: Coordinates with |z*_j − z_j| at most this are evaluated with the exact guarded formula; for
#: the others ``d/(d + 1e-8)`` differs from 1 by less than 1e-2 (see Notes of AlfaMix).
_TIE_TOL = 1e-6


@register_strategy
class AlfaMix(Strategy):
    """ALFA-Mix with the closed-form α (Parvaneh et al., CVPR 2022).

    Parameters
    ----------
    alpha_cap : float, default=0.2
        The cap behind ε = cap/√D (the README's and the published Refine code's 0.2).
    alpha_growth : bool, default=False
        False (default): one ε = alpha_cap/√D, as the foundation-model versions (ALFM and the
        published Refine code [DAL]) do. True: the original's growth loop, caps alpha_cap,
        2·alpha_cap, … while below 1.0 (0.2, 0.4, …, 1.0), taking the union of the candidates
        and stopping once there are more than b.
    anchor_mode : {"all_classes", "published"}, default="all_classes"
        ``"all_classes"`` (default, the original): one anchor per class 0..K−1, the mean embedding
        of its labeled points, or the mean of all of L when the class has none.
        ``"published"``: the anchor bug of ALFM and [DAL]: anchors for ``i in range(#distinct
        labels in L)``, each the mean of the labeled points with label ``i``. When the labels seen
        are not exactly 0..m−1 an anchor averages an empty set and is NaN; its mixes give NaN
        logits, whose argmax is class 0 (torch and numpy), so every point predicted as a class
        other than 0 becomes a candidate; the highest seen classes get no anchor. Kept to measure
        the bug's effect.
    mix_method : {"factorized", "direct"}, default="factorized"
        How the mixes are evaluated; both give the same candidates (see Notes). ``"direct"``
        builds every mix and its logits, anchor by anchor (O(N·A·D·K) time, the reference).
    memory_budget_mb : float, default=256
        Bound on the per-chunk working memory (candidates are processed in row chunks).
    large_pool : int or None, default=100000
        Above this many candidates, score a uniform random subsample of ``pool_sample`` of them
        (the published subsample semantics, :mod:`refine.strategies._large_pool`; recorded in
        ``trace_["large_pool"]``): flagging all of a million candidates, in row chunks, takes
        minutes here. On a pool of more than this many instances the per-row gradient terms
        are computed for the candidates of each call instead of once for the whole pool (Refine
        scores 5000-subsamples of it). None: never.
    pool_sample : int, default=10000
        Size of that subsample (at most ``large_pool``).

    Notes
    -----
    **Factorisation.** Write d = z* − z and s = ε‖d‖/‖g‖. Then α ⊙ d = s · g ⊙ r with
    r_j = d_j/(d_j + 1e-8), so the mix's logits are ``l + s · W(g ⊙ r)`` (l the logits of z, W the
    head's weight). Wherever r = 1 this is ``l + s·h`` with h = W g: the mix moves every point
    along its own gradient direction, and the anchor enters only through the step length s. The
    prediction along the ray l + s·h leaves ŷ exactly when s exceeds

        t = min over classes c with h_c > h_ŷ of (l_ŷ − l_c) / (h_c − h_ŷ),

    so a point is a candidate iff ε · max over anchors ‖z* − z‖ > t‖g‖: one N×A distance matrix
    instead of N·A mixes of dimension D passed through the head (N = 5000, A = K = 200, D = 384
    would be 384 M floats and 154 GFLOP). The exceptions are coordinates where d_j is tiny or
    zero (features with exact zeros, e.g. after a ReLU): there r_j is visibly below 1 (r_j = 0 at
    d_j = 0), so every (point, anchor, coordinate) triple with |d_j| ≤ 1e-6 is found by a sorted
    search per coordinate and its exact contribution subtracted: logits = l + s(h − W(g ⊙ e))
    with e_j = 1e-8/(d_j + 1e-8) on those coordinates. Elsewhere the neglected e_j is below 1e-2
    (below 1e-4 once |d_j| > 1e-4) on one coordinate's share of the logit change; it is also
    smaller than the rounding error of the original's own float32 evaluation of
    ``(1 − α)z + αz*`` (≈ |α_j z_j|·6e-8 = s|g_j z_j|·6e-8/|d_j| against s|g_j|·1e-8/|d_j|)
    whenever |z_j| > 0.17. When the triples are too many for the memory budget the chunk falls
    back to the direct evaluation (float32). Tests check that both methods give identical
    candidates, including on sparse features with exact zeros.

    **Gradient.** For the linear head, g = Wᵀ(p − e_ŷ) (the original obtains it by autograd of
    the mean cross-entropy; its scale cancels in α).

    **Guards (deviations, documented).** When ‖g‖ = 0 (p is exactly one-hot in floating point)
    the original divides 0 by 0 and the NaN mix is predicted as class 0; here the point is not a
    candidate (no direction to move in). With an empty labeled set there are no anchors and the
    batch is random.

    **Selection.** scikit-learn-style k-means (greedy k-means++ seeding, Lloyd) with
    ``min(b, #candidates)`` clusters on the L2-normalised candidate embeddings, the point nearest
    each centre. When there are at most b candidates all are taken. Any shortfall (fewer
    candidates than b, or clusters emptied by duplicates) is filled at random *without*
    replacement, first from the remaining flagged candidates, then from the other points; the
    original fills with replacement and can return duplicates.

    Cost (factorised): O(N·K·D) for the gradients (whole pool, once per cycle), O(N·A·D) for the
    distances, plus k-means on the candidates; memory O(N·A) per chunk. The non-closed-form
    variant (``--alpha_opt``, Adam on α) is not implemented.
    """

    name = "alfamix"
    requires = frozenset({"probas", "head", "labels", "features", "normalized_features"})

    def __init__(
        self,
        alpha_cap: float = 0.2,
        alpha_growth: bool = False,
        anchor_mode: str = "all_classes",
        mix_method: str = "factorized",
        memory_budget_mb: float = 256.0,
        large_pool: int | None = LARGE_POOL,
        pool_sample: int = POOL_SAMPLE,
    ):
        self.alpha_cap = alpha_cap
        self.alpha_growth = alpha_growth
        self.anchor_mode = anchor_mode
        self.mix_method = mix_method
        self.memory_budget_mb = memory_budget_mb
        self.large_pool = large_pool
        self.pool_sample = pool_sample

    def _validate_params(self) -> None:
        cap = self.alpha_cap
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not 0 < cap <= 1:
            raise ConfigError(f"alpha_cap must be a number in (0, 1], got {cap!r}")
        if not isinstance(self.alpha_growth, (bool, np.bool_)):
            raise ConfigError(f"alpha_growth must be True or False, got {self.alpha_growth!r}")
        if self.anchor_mode not in _ANCHOR_MODES:
            raise unknown_choice("anchor_mode", self.anchor_mode, _ANCHOR_MODES)
        if self.mix_method not in _MIX_METHODS:
            raise unknown_choice("mix_method", self.mix_method, _MIX_METHODS)
        check_memory_budget(self.memory_budget_mb)
        check_large_pool(self.large_pool, self.pool_sample)

    def _caps(self) -> list[float]:
        if not self.alpha_growth:
            return [float(self.alpha_cap)]
        caps, c = [], 0.0
        while c < 1.0:  # the original's accumulation: 0.2, 0.4, 0.6000000000000001, 0.8, 1.0
            c += float(self.alpha_cap)
            caps.append(c)
        return caps

    # ------------------------------------------------------------------ selection
    def _select(self, ctx, candidates, batch_size, rng):
        self._validate_params()
        scored, trace = large_pool_subsample(candidates, self.large_pool, self.pool_sample, rng)
        flagged = self.candidate_mask(ctx, scored, batch_size)
        pos = np.flatnonzero(flagged)
        # at most b flagged points: all taken, no clustering
        batch = batch_from_flagged(
            ctx, candidates, scored, pos, batch_size, rng, batch_size, subsampled=bool(trace)
        )
        return Selection(batch, trace) if trace else batch

    def candidate_mask(self, ctx, candidates: np.ndarray, batch_size: int) -> np.ndarray:
        """Boolean mask over ``candidates``: True where some anchor's mix flips the prediction.

        With ``alpha_growth`` the masks of the growing caps are OR-ed until more than
        ``batch_size`` points are flagged (the original's stopping rule).
        """
        self._validate_params()
        candidates = np.asarray(candidates, dtype=np.int64)
        anchors = ctx.memo(
            ("alfamix", "anchors", self.anchor_mode), lambda: _anchors(ctx, self.anchor_mode)
        )
        flagged = np.zeros(candidates.size, dtype=bool)
        if anchors.shape[0] == 0:
            return flagged
        budget = int(float(self.memory_budget_mb) * 2**20)
        n_anchor = anchors.shape[0]
        D = ctx.n_features
        rows = max(1, budget // (8 * max(n_anchor, D) * 6))

        def flags_of(chunk: np.ndarray, eps: float, stats: dict) -> np.ndarray:
            if self.mix_method == "direct":
                flips = _direct_flips(ctx, chunk, anchors, eps, stats)
            else:
                flips = _factorized_flips(ctx, chunk, anchors, eps, stats, budget)
            return flips.any(axis=1)

        if self.large_pool is not None and ctx.n_pool > int(self.large_pool):
            # a large pool: the per-row quantities of these candidates only (Refine's draws
            # score 5000-subsamples of it), not a whole-pool pass per cycle
            stats = _row_stats(ctx, rows=candidates)
            for cap in self._caps():
                eps = cap / np.sqrt(D)
                for s in range(0, candidates.size, rows):
                    flagged[s : s + rows] |= flags_of(candidates[s : s + rows], eps, stats)
                if flagged.sum() > batch_size:
                    break
            return flagged
        stats = ctx.memo(("alfamix", "row_stats"), lambda: _row_stats(ctx))
        # A point's flag depends on the point, the anchors, ε and the head only, so it is
        # computed once per cycle: in fixed blocks of pool rows, each block when a call first
        # needs one of its rows. Refine's draws then share it (55 calls on subsamples of one
        # pool), and a row's flag never depends on which call computed it, or in which thread.
        key = ("alfamix", "flags", self.anchor_mode, self.mix_method, budget)
        cache = ctx.memo(key, lambda: _FlagCache(ctx.n_pool, rows))
        for cap in self._caps():
            eps = cap / np.sqrt(D)
            flagged |= cache.flags(cap, candidates, lambda chunk, e=eps: flags_of(chunk, e, stats))
            if flagged.sum() > batch_size:
                break
        return flagged


class _FlagCache:
    """Per-row ALFA-Mix flags of one cycle, filled block by block (thread-safe)."""

    def __init__(self, n_pool: int, block_rows: int):
        self.n_pool = int(n_pool)
        self.block_rows = int(block_rows)
        self.n_blocks = -(-self.n_pool // self.block_rows)
        self._lock = threading.Lock()
        self._caps: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    def flags(self, cap: float, rows: np.ndarray, compute) -> np.ndarray:
        """The flags of pool ``rows`` under ``cap``; ``compute(chunk)`` evaluates a block."""
        with self._lock:
            done, values = self._caps.setdefault(
                cap, (np.zeros(self.n_blocks, dtype=bool), np.zeros(self.n_pool, dtype=bool))
            )
            for blk in np.unique(rows // self.block_rows):
                if not done[blk]:
                    chunk = np.arange(
                        blk * self.block_rows, min((blk + 1) * self.block_rows, self.n_pool)
                    )
                    values[chunk] = compute(chunk)
                    done[blk] = True
            return values[rows]


# ---------------------------------------------------------------------- per-cycle quantities
def _anchors(ctx, mode: str) -> np.ndarray:
    """Anchor embeddings (A×D, float64); rows may be NaN in the published mode."""
    if ctx.n_labeled == 0:
        return np.empty((0, ctx.n_features))
    XL = ctx.X[ctx.labeled].astype(np.float64)
    y = ctx.labels
    if mode == "published":
        n_anchor = np.unique(y).size
        classes = np.arange(n_anchor)
    else:
        classes = np.arange(ctx.n_classes)
    counts = np.bincount(y, minlength=max(ctx.n_classes, classes.size))[classes]
    sums = np.zeros((classes.size, XL.shape[1]))
    seen = y < classes.size
    np.add.at(sums, y[seen], XL[seen])
    with np.errstate(invalid="ignore", divide="ignore"):
        anchors = sums / counts[:, None]  # 0/0 = NaN for empty classes (published semantics)
    if mode == "all_classes":
        anchors[counts == 0] = XL.mean(axis=0)
    return anchors


def _row_stats(ctx, chunk: int = 16384, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per pool row: ŷ, ‖g‖ and the flip threshold t of the ray l + s·h (see AlfaMix Notes).

    ``rows`` (default: every pool row) limits the computation to those rows; the arrays are
    indexed by pool row either way (entries of other rows are undefined).
    """
    n = ctx.n_pool
    y = np.full(n, -1, dtype=np.int64)
    gnorm = np.full(n, np.nan)
    thresh = np.full(n, np.nan)
    todo = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    for s in range(0, todo.size, chunk):
        idx = todo[s : s + chunk]
        logits, G, H, yy = _grad_terms(ctx, idx)
        y[idx] = yy
        gnorm[idx] = np.linalg.norm(G, axis=1)
        rows = np.arange(idx.size)
        gap = logits[rows, yy][:, None] - logits  # >= 0
        slope = H - H[rows, yy][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(slope > 0, gap / slope, np.inf)
        thresh[idx] = ratio.min(axis=1)
    return {"y": y, "gnorm": gnorm, "thresh": thresh}


def _grad_terms(ctx, idx: np.ndarray):
    """float64 logits l, gradients g = Wᵀ(p − e_ŷ), h = W g and ŷ for pool rows ``idx``."""
    W = ctx.head.weight.astype(np.float64)
    logits = ctx.logits(idx).astype(np.float64)
    yy = logits.argmax(axis=1)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(idx.size), yy] -= 1.0
    G = p @ W
    H = G @ W.T
    return logits, G, H, yy


# ---------------------------------------------------------------------- two evaluations
def _direct_flips(ctx, chunk, anchors, eps, stats, dtype=np.float64) -> np.ndarray:
    """Reference: build each mix and pass it through the head, one anchor at a time."""
    Z = ctx.X[chunk].astype(dtype)
    _, G, _, y = _grad_terms(ctx, chunk)
    G = G.astype(dtype)
    gnorm = np.linalg.norm(G, axis=1)
    W = ctx.head.weight.astype(dtype)
    bias = ctx.head.bias.astype(dtype)
    flips = np.zeros((chunk.size, anchors.shape[0]), dtype=bool)
    for a in range(anchors.shape[0]):
        anchor = anchors[a].astype(dtype)
        d = anchor - Z
        with np.errstate(divide="ignore", invalid="ignore"):
            # guard (deviation): no direction when ‖g‖ = 0, instead of the original's 0/0
            step = np.where(gnorm > 0, eps * np.linalg.norm(d, axis=1) / gnorm, 0.0)
            alpha = step[:, None] * G / (d + _GUARD)
            mix = (1 - alpha) * Z + alpha * anchor
            logits = mix @ W.T + bias
        flips[:, a] = np.argmax(logits, axis=1) != y  # a NaN row's argmax is 0, as in torch
    return flips


def _factorized_flips(ctx, chunk, anchors, eps, stats, budget) -> np.ndarray:
    """Candidates via the ray threshold, with exact terms for near-tied coordinates."""
    Z = ctx.X[chunk].astype(np.float64)
    y = stats["y"][chunk]
    gnorm = stats["gnorm"][chunk]
    thresh = stats["thresh"][chunk]
    valid = ~np.isnan(anchors).any(axis=1)
    flips = np.zeros((chunk.size, anchors.shape[0]), dtype=bool)
    if not valid.all():
        flips[:, ~valid] = (y != 0)[:, None]  # NaN logits → argmax 0 (published-mode bug)
    A = anchors[valid]
    vid = np.flatnonzero(valid)
    if A.shape[0] == 0:
        return flips
    sq = np.einsum("ij,ij->i", Z, Z)
    dist = np.sqrt(np.maximum(sq[:, None] + np.einsum("ij,ij->i", A, A)[None, :] - 2 * Z @ A.T, 0))
    with np.errstate(invalid="ignore", over="ignore"):
        limit = np.where(gnorm > 0, thresh * gnorm / eps, np.inf)  # s > t ⇔ ‖d‖ > t‖g‖/ε
    sub = dist > limit[:, None]
    ties = _near_ties(Z, A, _TIE_TOL)
    if ties is not None and ties[0].size * 48 > budget:
        # too many tied coordinates (e.g. features with many exact zeros): evaluate directly
        sub = _direct_flips(ctx, chunk, A, eps, stats, dtype=np.float32)
    elif ties is not None:
        _tied_pair_flips(ctx, chunk, Z, A, eps, stats, ties, sub, budget)
    flips[:, vid] = sub
    return flips


def _tied_pair_flips(ctx, chunk, Z, A, eps, stats, ties, sub, budget) -> None:
    """Overwrite ``sub[i, a]`` for the pairs with tied coordinates by the exact guarded logits."""
    i, a, j = ties
    n_anchor = A.shape[0]
    pair, inv = np.unique(i * n_anchor + a, return_inverse=True)
    pi, pa = pair // n_anchor, pair % n_anchor
    rows, row_of_pair = np.unique(pi, return_inverse=True)
    logits, G, H, _ = _grad_terms(ctx, chunk[rows])
    d = A[a, j] - Z[i, j]
    # the part of α ⊙ d = s·g ⊙ d/(d + 1e-8) that the ray l + s·h leaves out: s·g ⊙ e
    e = _GUARD / (d + _GUARD)
    vals = G[np.searchsorted(rows, i), j] * e
    E = sp.csr_matrix((vals, (inv, j)), shape=(pair.size, Z.shape[1]))
    W_t = ctx.head.weight.astype(np.float64).T
    y = stats["y"][chunk]
    gnorm = stats["gnorm"][chunk]
    step_rows = max(1, budget // (8 * W_t.shape[1] * 4))
    for s in range(0, pair.size, step_rows):
        sl = slice(s, s + step_rows)
        corr = np.asarray(E[sl] @ W_t)
        p_i, p_a, r = pi[sl], pa[sl], row_of_pair[sl]
        dn = np.linalg.norm(A[p_a] - Z[p_i], axis=1)  # exact ‖d‖, no Gram shortcut
        gn = gnorm[p_i]
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(gn > 0, eps * dn / gn, 0.0)
        mixed = logits[r] + step[:, None] * (H[r] - corr)
        sub[p_i, p_a] = mixed.argmax(axis=1) != y[p_i]


def _near_ties(
    Z: np.ndarray, A: np.ndarray, tol: float, n_bins: int = 4096, block_rows: int = 1024
):
    """All (row i, anchor a, coordinate j) with |A[a, j] − Z[i, j]| <= tol.

    A coarse filter first: each column's value range is cut into at most ``n_bins`` bins of
    width >= 4·tol, the bins touched by some ``[A[a, j] − tol, A[a, j] + tol]`` are marked, and
    only values Z[i, j] falling in a marked bin can be tied (binning is monotone, so no tie is
    missed). Those few values are then located exactly in their sorted anchor column; to search
    all columns at once, column j is shifted by j·span, span exceeding every value's range.

    The filter runs over ``block_rows`` rows at a time, in place, so that its temporaries stay in
    cache (it reads every entry of Z, the memory-bound part at large N); the bins, and so the
    result, do not depend on the block size.
    """
    n, D = Z.shape
    m = A.shape[0]
    z_min, z_max = Z.min(axis=0), Z.max(axis=0)
    low = np.minimum(A.min(axis=0), z_min) - 2 * tol
    width = np.maximum((np.maximum(A.max(axis=0), z_max) + 2 * tol - low) / n_bins, 4 * tol)
    marked = np.zeros((D, n_bins + 2), dtype=bool)
    cols = np.broadcast_to(np.arange(D), A.shape)
    b_lo = np.floor((A - tol - low) / width).astype(np.int64)
    b_hi = np.floor((A + tol - low) / width).astype(np.int64)
    for off in range(3):  # an interval of width 2·tol <= width/2 spans at most two bins
        marked[cols, np.clip(np.minimum(b_lo + off, b_hi), 0, n_bins + 1)] = True
    flat = marked.ravel()
    # bin b of column j is entry j·(n_bins + 2) + b of ``flat``; the sum is exact in float64
    col_offset = np.arange(D, dtype=np.float64) * (n_bins + 2)
    buf = np.empty((min(block_rows, n), D))
    hits_i, hits_j = [], []
    for s in range(0, n, block_rows):
        t = buf[: min(block_rows, n - s)]
        np.subtract(Z[s : s + block_rows], low, out=t)
        np.divide(t, width, out=t)
        np.floor(t, out=t)
        # clipping the (finite, integral) floats before the cast equals clipping the integers
        np.clip(t, 0, n_bins + 1, out=t)
        t += col_offset
        ii, jj = np.nonzero(flat[t.astype(np.intp)])
        if ii.size:
            hits_i.append(ii + s)
            hits_j.append(jj)
    if not hits_i:
        return None
    i_q, j_q = np.concatenate(hits_i), np.concatenate(hits_j)
    order = np.argsort(A, axis=0, kind="stable")
    AsT = np.take_along_axis(A, order, axis=0).T  # (D, m), rows sorted
    z_abs = max(-float(z_min.min()), float(z_max.max()))  # max |Z|, exactly
    span = 2.0 * max(float(np.abs(A).max()), z_abs) + 4.0 * tol + 1.0
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
