"""Shared machinery of MaxHerding and UHerding: RBF kernels and greedy (weighted) coverage.

Generalized coverage (Bae, Noh & Sutherland, ECCV 2024) of a set S together with the labeled set L,
over a coverage set X, with the RBF kernel ``k(x, y) = exp(−γ‖x − y‖²)`` on L2-normalised
features::

    GCov(S) = mean_{x ∈ X} u(x) · max_{s ∈ S ∪ L} k(x, s)

(``u ≡ 1`` for MaxHerding, an uncertainty for UHerding). It is maximised greedily: keep
``m(x) = max_{s ∈ S ∪ L} k(x, s)`` (0 when ``S ∪ L`` is empty) and add

- ``gain="paper"`` (the papers and the original code ``BorealisAI/uherding``):
  ``c* = argmax_c mean_{x ∈ X} u(x) · max(k(x, c) − m(x), 0)``, the exact increase of GCov;
- ``gain="published"`` (**[DAL]**, ``dal-toolbox`` ``strategies/herding.py``, used for the Refine
  paper's numbers): the running maximum is stored as a column and the mean is taken over the other
  axis, so candidate ``i`` is scored ``u(i) · mean_{j ∈ X} max(k(i, j) − m(i), 0)`` — its own
  uncertainty times the kernel mass above its *own* coverage (docs/protocol.md §5, docs/protocol.md §5).

then update ``m ← max(m, k(·, c*))``.

The coverage set is the candidate set (X = C), as in dal-toolbox. The original code covers
``L ∪ C`` instead, but that changes nothing: a labeled point x has ``m(x) = k(x, x) = 1`` from the
start, so its term ``max(k(x, c) − 1, 0)`` is always 0 (and UHerding's original sets ``u = 0`` on
L anyway); only the constant denominator of the mean differs, which does not move the argmax.

Cost and memory. The kernel is ``n × n`` for ``n`` candidates. When it fits into 80 % of
``memory_budget_mb`` (float32; n ≤ 10 000 at the 512 MB default) it is computed once (one
symmetric product, BLAS syrk) and kept. Otherwise it is never held: the initial gains come from
the blocks on and above its diagonal (each block serves two sets of candidates), and later rows
are recomputed on request, with 80 % of the budget caching the rows of the candidates with the
largest gains (n = 50 000 would need 10 GB). The greedy loop is a *lazy greedy* (Minoux 1978):
both gain forms only decrease as m grows (the paper form is a weighted facility-location
function, monotone submodular; the published score of i is non-increasing in m(i)), so a gain
computed at an earlier step bounds the current one from above. Candidates sit in a heap keyed by
their last computed gain; the top is re-evaluated (in small batches) until the top is up to date,
which is then the exact argmax. A step costs the few kernel rows re-evaluated (O(n) each when the
kernel is kept), instead of the O(n²) of recomputing ``max(K − m, 0)`` (the authors' code,
``method="recompute"``) or the O(|Δ|·n) of updating every gain for the points Δ whose coverage
rose (``method="incremental"``). For the published form the staleness is exact (the score of i
changes only when m(i) does), so only those candidates are re-evaluated. The three methods give
the same picks (tests); measured on this 2-core machine (D = 384, synthetic mixture, whole call
including the kernel): n = 5000, |L| = 1000, b = 200: lazy 0.12–0.23 s, incremental 0.11–0.21 s,
recompute 4.6–4.9 s; n = 10 000, |L| = 100, b = 100: lazy 1.1 s, incremental 2.5–2.7 s;
n = 20 000 (kernel not kept), b = 20: lazy 4.2–5.1 s, incremental 10.5–12.7 s. Hence lazy is the
default everywhere, for the dense γ = 1 kernel of MaxHerding and the narrow one of UHerding alike.

Ties are broken towards the lower candidate position (``argmax``'s first maximum) by every method.
When every remaining gain is 0 (e.g. all remaining candidates duplicate selected or labeled
points), the rest of the batch is drawn uniformly at random from the remaining candidates.

References
----------
W. Bae, J. Noh, D. J. Sutherland. Generalized coverage for more robust low-budget active
learning. ECCV 2024. W. Bae, D. J. Sutherland, G. L. Oliveira. Uncertainty herding: one active
learning method for all label budgets. ICLR 2025. Original code ``BorealisAI/uherding`` (copy:
``wkgong/uncertainty_herding`` @620ff74, ``deep-al/pycls/al/herding.py``, ``uherding.py``).
M. Minoux. Accelerated greedy algorithms for maximizing submodular set functions. 1978.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np

from refine.errors import ConfigError, unknown_choice
from refine.strategies._distances import min_sq_distances, rows_per_block

GAINS = ("paper", "published")
METHODS = ("lazy", "incremental", "recompute")
#: Squared distances below this count as 0 (distance 1e-3 on unit vectors). The float32 Gram
#: expansion ``‖a‖² + ‖b‖² − 2⟨a, b⟩`` of unit vectors is only accurate to a few 1e-7, so exact
#: duplicates come out as ±1e-7 instead of 0; snapping makes their kernel value exactly 1 (a
#: duplicate of a labeled or selected point then has gain exactly 0) and makes "d_min = 0" mean
#: "duplicates" in UHerding's bandwidth rule.
ZERO_SQ_DISTANCE = 1e-6
#: MaxHerding's and UHerding's default ``large_pool``: above it they score a subsample
#: (:mod:`refine.strategies._large_pool`); the exact lazy greedy takes ≈ 5 s at n = 20 000 here.
HERDING_LARGE_POOL = 20_000
#: Share of the memory budget the kept kernel may use (the rest is for row blocks).
_STORED_SHARE = 0.8
#: Candidates re-evaluated together in one lazy-greedy refresh (stored / recomputed kernel rows).
_LAZY_BATCH_STORED = 16
_LAZY_BATCH_COMPUTED = 64
#: Rows per in-place pass over a kept kernel (a few MB: stays in cache between passes).
_CACHE_ROWS = 128
#: Rows per GEMM when a kept kernel is built (large enough for BLAS threads to pay off).
_GRAM_ROWS = 1024
#: Side of the tiles in which the upper triangle of the Gram matrix is mirrored.
_MIRROR_TILE = 256


def check_gamma(gamma: object, allow_auto: bool = False) -> float | str:
    """The RBF ``gamma`` as a positive float (or ``"auto"`` where allowed)."""
    if allow_auto and gamma == "auto":
        return "auto"
    allowed = "'auto' or a number > 0" if allow_auto else "a number > 0"
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)):
        raise ConfigError(f"gamma must be {allowed}, got {gamma!r}")
    if not math.isfinite(gamma) or gamma <= 0:
        raise ConfigError(f"gamma must be {allowed}, got {gamma!r}")
    return float(gamma)


def check_choice(param: str, value: object, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else :class:`ConfigError` listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise unknown_choice(param, value, allowed)
    return value


# ---------------------------------------------------------------------- kernels and distances
def sq_norms(F: np.ndarray) -> np.ndarray:
    """Squared row norms (float32)."""
    return np.einsum("ij,ij->i", F, F)


def rbf_block(
    A: np.ndarray, a_sq: np.ndarray, B: np.ndarray, b_sq: np.ndarray, gamma: float
) -> np.ndarray:
    """``exp(−γ‖a − b‖²)`` for all rows of A and B (float32, one GEMM, in place).

    The squared distance uses ``‖a‖² + ‖b‖² − 2⟨a, b⟩`` clipped at 0, like scikit-learn's
    ``rbf_kernel`` but in float32 (absolute error ~1e-7 on the squared distance of unit vectors).
    """
    K = A @ B.T
    _exponent_in_place(K, a_sq, b_sq, gamma)
    np.exp(K, out=K)
    return K


def _exponent_in_place(G: np.ndarray, a_sq: np.ndarray, b_sq: np.ndarray, gamma: float) -> None:
    """Turn the Gram block ``⟨a, b⟩`` into ``−γ‖a − b‖² = 2γ⟨a, b⟩ − γ‖a‖² − γ‖b‖²`` (≤ 0)."""
    G *= np.float32(2.0 * gamma)
    G -= np.float32(gamma) * a_sq[:, None]
    G -= np.float32(gamma) * b_sq[None, :]
    np.copyto(G, np.float32(0.0), where=G > np.float32(-gamma * ZERO_SQ_DISTANCE))


def labeled_coverage(
    F: np.ndarray, F_labeled: np.ndarray, gamma: float, memory_budget_mb: float = 512.0
) -> np.ndarray:
    """Initial coverage ``m(x) = max_{l ∈ L} k(x, l)`` of the rows of F (zeros when L is empty).

    Uses ``max_l exp(−γ d²(x, l)) = exp(−γ min_l d²(x, l))``, so no ``n × |L|`` kernel is formed.
    """
    if F_labeled.shape[0] == 0:
        return np.zeros(F.shape[0], dtype=np.float32)
    d2 = min_sq_distances(np.asarray(F, dtype=np.float32), F_labeled, None, memory_budget_mb)
    d2[d2 < ZERO_SQ_DISTANCE] = 0.0
    d2 *= np.float32(-gamma)
    return np.exp(d2, out=d2)


def min_pairwise_distance(
    F: np.ndarray, exclude_zeros: bool, memory_budget_mb: float = 512.0
) -> float:
    """Smallest Euclidean distance between two different rows of F (float64).

    Parameters
    ----------
    F : ndarray of shape (n, d)
    exclude_zeros : bool
        Skip pairs at distance 0 (duplicated rows), as the original UHerding code does
        (``dist[dist > 0].min()``). Distances with ``d² < ZERO_SQ_DISTANCE`` count as 0 either way.
    memory_budget_mb : float
        Bound on one block of the (float64) distance matrix.

    Returns
    -------
    float
        The distance; ``inf`` when F has fewer than two rows or every pair was excluded.
    """
    n = F.shape[0]
    if n < 2:
        return math.inf
    F64 = np.asarray(F, dtype=np.float64)
    sq = np.einsum("ij,ij->i", F64, F64)
    best = math.inf
    rows = rows_per_block(n, memory_budget_mb * 2**20, bytes_per_entry=16)
    for s in range(0, n, rows):
        e = min(n, s + rows)
        d2 = sq[s:e, None] + sq[None, :] - 2.0 * (F64[s:e] @ F64.T)
        d2[d2 < ZERO_SQ_DISTANCE] = 0.0
        d2[np.arange(e - s), np.arange(s, e)] = np.inf  # a row and itself is not a pair
        if exclude_zeros:
            d2[d2 == 0.0] = np.inf
        best = min(best, float(d2.min()))
    return math.sqrt(best) if math.isfinite(best) else math.inf


class RBFKernel:
    """Rows of the square RBF kernel of the candidates, kept or recomputed within a budget.

    Parameters
    ----------
    F : ndarray of shape (n, d)
        Candidate features (L2-normalised by the callers).
    gamma : float
        RBF parameter γ.
    memory_budget_mb : float
        The kernel (float32) is kept when it fits in 80 % of the budget. Otherwise rows are
        recomputed on request (one GEMM per block of rows), and 80 % of the budget holds a cache
        of computed rows; when it is full, the rows of the candidates with the lowest
        :attr:`priority` (the lazy greedy's gain bounds) make room.

    Attributes
    ----------
    stored : bool
        Whether the whole kernel is kept.
    priority : ndarray of shape (n,) or None
        Cache priorities (set by the caller; no caching while None).
    """

    def __init__(
        self,
        F: np.ndarray,
        gamma: float,
        memory_budget_mb: float = 512.0,
        on_rows: Callable[[slice, np.ndarray], None] | None = None,
    ):
        self.F = np.ascontiguousarray(F, dtype=np.float32)
        self.sq = sq_norms(self.F)
        self.gamma = float(gamma)
        self.n = self.F.shape[0]
        self.budget = memory_budget_mb * 2**20
        self.stored = 4.0 * self.n * self.n <= _STORED_SHARE * self.budget
        # a block of rows is one float32 array (plus GEMM workspace): 8 bytes per entry is safe
        self.block_rows = rows_per_block(self.n, (1.0 - _STORED_SHARE) * self.budget)
        self.K: np.ndarray | None = None
        self.priority: np.ndarray | None = None
        self._cache: np.ndarray | None = None
        if self.stored:
            self.K = self._stored_kernel(on_rows)

    def _stored_kernel(self, on_rows) -> np.ndarray:
        """The whole kernel, built in one pass over cache-sized row blocks.

        The Gram matrix is formed block row by block row, each block row only from its diagonal
        block rightwards (half the GEMM flops), and mirrored into the lower triangle. Where BLAS sums every entry in the same order whatever the
        product's shape (OpenBLAS on the Intel machines of sessions 9–11) the kernel is the full
        product's bit for bit; OpenBLAS on session 12's AMD EPYC chooses its code path by shape,
        and there about 1 % of the entries differ from the full product's in the last bit.
        Then each row block of ``_CACHE_ROWS`` rows gets its exponent and exp while it is in
        cache, and ``on_rows(rows, block)`` is called with the finished rows, so that a caller
        (the initial gains) reads them before they leave the cache.
        """
        n, F = self.n, self.F
        K = np.empty((n, n), dtype=np.float32)
        for s in range(0, n, _GRAM_ROWS):
            e = min(n, s + _GRAM_ROWS)
            np.matmul(F[s:e], F[s:].T, out=K[s:e, s:])
        # mirror tile by tile (a strided copy of whole strips leaves the cache at every row)
        for s in range(0, n, _MIRROR_TILE):
            for t in range(s + _MIRROR_TILE, n, _MIRROR_TILE):
                K[t : t + _MIRROR_TILE, s : s + _MIRROR_TILE] = K[
                    s : s + _MIRROR_TILE, t : t + _MIRROR_TILE
                ].T
        for s in range(0, n, _CACHE_ROWS):
            e = min(n, s + _CACHE_ROWS)
            blk = K[s:e]
            _exponent_in_place(blk, self.sq[s:e], self.sq, self.gamma)
            np.exp(blk, out=blk)
            i = np.arange(s, e)
            blk[i - s, i] = 1.0  # k(x, x) = 1 exactly (the Gram expansion rounds)
            if on_rows is not None:
                on_rows(slice(s, e), blk)
        return K

    def block(self, rows: slice, cols: slice) -> np.ndarray:
        """The kernel block ``K[rows, cols]`` (computed; exact 1 where a row meets itself)."""
        B = rbf_block(self.F[rows], self.sq[rows], self.F[cols], self.sq[cols], self.gamma)
        r0, r1, _ = rows.indices(self.n)
        c0, c1, _ = cols.indices(self.n)
        lo, hi = max(r0, c0), min(r1, c1)
        if lo < hi:
            i = np.arange(lo, hi)
            B[i - r0, i - c0] = 1.0
        return B

    def _compute(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((idx.size, self.n), dtype=np.float32)
        for s in range(0, idx.size, self.block_rows):
            part = idx[s : s + self.block_rows]
            out[s : s + part.size] = rbf_block(
                self.F[part], self.sq[part], self.F, self.sq, self.gamma
            )
        out[np.arange(idx.size), idx] = 1.0  # k(x, x) = 1 exactly (the Gram expansion rounds)
        return out

    def rows(self, idx: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``K[idx]`` as an array the caller may modify (written into ``out`` when given)."""
        idx = np.asarray(idx, dtype=np.int64)
        if self.K is not None:
            if out is None:
                return self.K[idx]
            return np.take(self.K, idx, axis=0, out=out[: idx.size])
        if self.priority is None:
            return self._compute(idx)
        return self._cached_rows(idx)

    def _cached_rows(self, idx: np.ndarray) -> np.ndarray:
        if self._cache is None:
            cap = int(_STORED_SHARE * self.budget // (4 * self.n))
            self._cache = np.empty((cap, self.n), dtype=np.float32)
            self._slot = np.full(self.n, -1, dtype=np.int64)  # candidate → cache slot
            self._owner = np.full(cap, -1, dtype=np.int64)  # cache slot → candidate
        slot = self._slot[idx]
        hit = slot >= 0
        out = np.empty((idx.size, self.n), dtype=np.float32)
        out[hit] = self._cache[slot[hit]]
        miss = idx[~hit]
        if miss.size:
            fresh = self._compute(miss)
            out[~hit] = fresh
            self._insert(miss, fresh)
        return out

    def _insert(self, idx: np.ndarray, R: np.ndarray) -> None:
        cap = self._cache.shape[0]
        if cap == 0:
            return
        idx, R = idx[:cap], R[:cap]
        free = np.flatnonzero(self._owner < 0)
        if free.size < idx.size:
            # evict the rows of the candidates least likely to be evaluated again
            used = np.flatnonzero(self._owner >= 0)
            prio = self.priority[self._owner[used]]
            k = idx.size - free.size
            drop = used[np.argpartition(prio, k - 1)[:k]] if k < used.size else used
            self._slot[self._owner[drop]] = -1
            self._owner[drop] = -1
            free = np.concatenate([free, drop])
        slots = free[: idx.size]
        self._cache[slots] = R
        self._owner[slots] = idx
        self._slot[idx] = slots

    def row(self, i: int) -> np.ndarray:
        """``K[i]`` (read-only use)."""
        if self.K is not None:
            return self.K[i]
        return self.rows(np.array([i], dtype=np.int64))[0]


# ---------------------------------------------------------------------- the greedy selection
class _Gains:
    """Evaluates the greedy score of candidates for the current coverage m."""

    def __init__(self, u: np.ndarray, gain: str, kernel: RBFKernel | None = None):
        self.kernel = kernel  # set by the caller once built (the gains may be built first)
        self.u = u
        self.u64 = u.astype(np.float64)
        self.gain = gain
        self.n = u.shape[0]
        self.inv_n = 1.0 / self.n
        self._buf: np.ndarray | None = None  # reused row buffer when the kernel is kept

    def _buffer(self, rows: int) -> np.ndarray:
        if self._buf is None or self._buf.shape[0] < rows:
            self._buf = np.empty((max(rows, _CACHE_ROWS), self.n), np.float32)
        return self._buf[:rows]

    def __call__(self, idx: np.ndarray, m: np.ndarray) -> np.ndarray:
        if self.kernel.stored:
            R = self.kernel.rows(idx, out=self._buffer(idx.size))
        else:
            R = self.kernel.rows(idx)
        return self.of_rows(R, idx, m)

    def of_rows(
        self, R: np.ndarray, idx: np.ndarray | slice, m: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The gains of candidates ``idx`` whose kernel rows are ``R``.

        ``R`` is overwritten, unless ``out`` (same shape) is given to hold the temporaries.
        """
        T = R if out is None else out
        if self.gain == "paper":
            # Σ_x u(x)·max(k(c, x) − m(x), 0): row c of the (symmetric) kernel against m over X.
            np.subtract(R, m[None, :], out=T)
            np.maximum(T, 0.0, out=T)
            T *= self.u[None, :]
            # Row sums in float64: the result of a row does not depend on the other rows of the
            # block, so a candidate's gain is the same whichever batch evaluates it.
            return T.sum(axis=1, dtype=np.float64) * self.inv_n
        # [DAL] u(i) · mean_j max(k(i, j) − m(i), 0): the candidate's own coverage m(i).
        np.subtract(R, m[idx][:, None], out=T)
        np.maximum(T, 0.0, out=T)
        return self.u64[idx] * (T.sum(axis=1, dtype=np.float64) * self.inv_n)

    def all(self, m: np.ndarray) -> np.ndarray:
        """The gains of all candidates."""
        k = self.kernel
        if k.stored:
            out = np.empty(k.n, dtype=np.float64)
            for s in range(0, k.n, _CACHE_ROWS):
                rows = slice(s, min(k.n, s + _CACHE_ROWS))
                out[rows] = self.of_rows(k.K[rows], rows, m, out=self._buffer(rows.stop - s))
            return out
        return self._all_symmetric(m)

    def _all_symmetric(self, m: np.ndarray) -> np.ndarray:
        """All gains from the blocks on and above the diagonal of the (symmetric) kernel.

        Block ``(I, J)`` serves the candidates I (covering J) and, transposed, the candidates J
        (covering I): half the GEMM and exp work of computing every row. Blocks are square and
        sized so that one block and its two temporaries fit in the budget.
        """
        k = self.kernel
        n, u, out = k.n, self.u, np.zeros(k.n, dtype=np.float64)
        r = max(1, int(math.sqrt(k.budget / 16.0)))
        paper = self.gain == "paper"
        for s in range(0, n, r):
            ri = slice(s, min(n, s + r))
            for t in range(s, n, r):
                cj = slice(t, min(n, t + r))
                B = k.block(ri, cj)
                # candidates ri against coverage points cj
                T = B - (m[cj][None, :] if paper else m[ri][:, None])
                np.maximum(T, 0.0, out=T)
                if paper:
                    T *= u[cj][None, :]
                out[ri] += T.sum(axis=1, dtype=np.float64)
                if t != s:  # candidates cj against coverage points ri
                    np.subtract(B, m[ri][:, None] if paper else m[cj][None, :], out=T)
                    np.maximum(T, 0.0, out=T)
                    if paper:
                        T *= u[ri][:, None]
                    out[cj] += T.sum(axis=0, dtype=np.float64)
        out *= self.inv_n
        if not paper:
            out *= self.u64
        return out


def herding_greedy(
    F: np.ndarray,
    batch_size: int,
    *,
    gamma: float,
    u: np.ndarray | None = None,
    m0: np.ndarray | None = None,
    gain: str = "paper",
    method: str = "lazy",
    memory_budget_mb: float = 512.0,
    rng: np.random.Generator | None = None,
    trace: list | None = None,
) -> np.ndarray:
    """Greedy (uncertainty-weighted) coverage maximisation over the rows of F.

    Parameters
    ----------
    F : ndarray of shape (n, d)
        Candidate features, L2-normalised; they are also the coverage set.
    batch_size : int
        Number of candidates to pick (``<= n``).
    gamma : float
        RBF parameter γ of ``k(x, y) = exp(−γ‖x − y‖²)``.
    u : ndarray of shape (n,), optional
        Non-negative weights (UHerding's uncertainties); all ones when omitted (MaxHerding).
    m0 : ndarray of shape (n,), optional
        Initial coverage ``max_{l ∈ L} k(x, l)`` (see :func:`labeled_coverage`); zeros if omitted.
    gain : {"paper", "published"}
        Greedy score (module docstring).
    method : {"lazy", "incremental", "recompute"}
        ``"lazy"``: lazy greedy (default, fastest). ``"incremental"``: keep every gain and, after
        each pick, subtract the change of the points whose coverage increased (paper form), or
        re-score the candidates whose own coverage changed (published form). ``"recompute"``:
        all gains from scratch at every step. All three give the same picks up to floating-point
        round-off in near-exact ties.
    memory_budget_mb : float
        Memory bound of the kernel (see :class:`RBFKernel`).
    rng : numpy.random.Generator, optional
        Used only to fill the batch at random once every remaining gain is 0.
    trace : list, optional
        When given, receives one ``(position, gain)`` pair per greedy pick (random fills are
        recorded with gain ``nan``).

    Returns
    -------
    ndarray of int64
        Row positions of the picks, in greedy order.
    """
    F = np.ascontiguousarray(F, dtype=np.float32)
    n = F.shape[0]
    if not 0 < batch_size <= n:
        raise ConfigError(f"batch_size must lie in [1, {n}], got {batch_size}")
    check_choice("gain", gain, GAINS)
    check_choice("method", method, METHODS)
    u = np.ones(n, dtype=np.float32) if u is None else np.asarray(u, dtype=np.float32)
    m = np.zeros(n, dtype=np.float32) if m0 is None else np.array(m0, dtype=np.float32)
    if u.shape != (n,) or m.shape != (n,):
        raise ConfigError("u and m0 must have one entry per candidate")
    gains = _Gains(u, gain)
    g0 = np.empty(n, dtype=np.float64)

    def initial_gains(rows: slice, block: np.ndarray) -> None:
        # the gains at m0 from each finished block of a kept kernel, while it is in cache
        g0[rows] = gains.of_rows(block, rows, m, out=gains._buffer(rows.stop - rows.start))

    kernel = RBFKernel(F, gamma, memory_budget_mb, on_rows=initial_gains)
    gains.kernel = kernel
    if not kernel.stored:
        g0 = gains.all(m)
    if method == "lazy":
        picks = _lazy(kernel, gains, m, g0, batch_size, trace)
    else:
        picks = _dense(kernel, gains, m, g0, batch_size, method, trace)
    return fill_zero_gains(picks, n, batch_size, rng, trace)


def fill_zero_gains(
    picks: list[int], n: int, batch_size: int, rng: np.random.Generator | None, trace: list | None
) -> np.ndarray:
    """``picks`` completed to ``batch_size`` uniformly from the other candidates (0 .. n − 1).

    The greedy stops early only when every remaining gain is 0 (nothing left to cover); the
    numpy and torch greedy loops both end here, with gain NaN in ``trace`` for the filled rows.
    """
    if len(picks) < batch_size:
        if rng is None:
            raise ConfigError("rng is required to fill the batch once all gains are zero")
        rest = np.setdiff1d(np.arange(n), np.asarray(picks, dtype=np.int64))
        fill = rng.choice(rest, size=batch_size - len(picks), replace=False)
        picks.extend(int(i) for i in fill)
        if trace is not None:
            trace.extend((int(i), math.nan) for i in fill)
    return np.asarray(picks, dtype=np.int64)


def _take(kernel: RBFKernel, m: np.ndarray, c: int) -> np.ndarray:
    """Add c: ``m ← max(m, k(·, c))``; returns the mask of points whose coverage increased."""
    krow = kernel.row(c)
    changed = krow > m
    np.maximum(m, krow, out=m)
    return changed


def _lazy(kernel, gains, m, g0, batch_size, trace) -> list[int]:
    """Lazy greedy from the initial gains ``g0`` (overwritten with the latest bounds)."""
    n = kernel.n
    batch = _LAZY_BATCH_STORED if kernel.stored else _LAZY_BATCH_COMPUTED
    # heap of (−gain, position): the smallest key is the largest gain, ties → lower position
    heap = list(zip((-g0).tolist(), range(n), strict=True))
    kernel.priority = g0  # the latest bound of each candidate decides what stays cached
    heapq.heapify(heap)
    stale = np.zeros(n, dtype=bool)
    picks: list[int] = []
    while len(picks) < batch_size and heap:
        while stale[heap[0][1]]:
            todo = []
            while heap and stale[heap[0][1]] and len(todo) < batch:
                todo.append(heapq.heappop(heap)[1])
            todo_idx = np.asarray(todo, dtype=np.int64)
            fresh = gains(todo_idx, m)
            stale[todo_idx] = False
            g0[todo_idx] = fresh
            for g, i in zip(fresh.tolist(), todo, strict=True):
                heapq.heappush(heap, (-g, i))
        neg, c = heapq.heappop(heap)
        if -neg <= 0.0:
            break
        picks.append(c)
        if trace is not None:
            trace.append((c, -neg))
        changed = _take(kernel, m, c)
        g0[c] = -np.inf  # its cached row is no longer needed
        if gains.gain == "paper":
            stale[:] = True  # any gain may have dropped; bounds stay valid
        else:
            stale |= changed  # the published score of i depends on m(i) only
    return picks


def _dense(kernel, gains, m, g0, batch_size, method, trace) -> list[int]:
    g = g0
    taken = np.zeros(kernel.n, dtype=bool)
    picks: list[int] = []
    for _ in range(batch_size):
        masked = np.where(taken, -np.inf, g)
        c = int(np.argmax(masked))
        if masked[c] <= 0.0:
            break
        picks.append(c)
        taken[c] = True
        if trace is not None:
            trace.append((c, float(masked[c])))
        m_old = m.copy()
        changed = np.flatnonzero(_take(kernel, m, c))
        if method == "recompute":
            g = gains.all(m)
        elif gains.gain == "published":
            if changed.size:
                g[changed] = gains(changed, m)
        else:
            # Only points x whose coverage rose change the gains: their term drops from
            # u(x)·max(k − m_old, 0) to u(x)·max(k − m_new, 0), a difference of
            # u(x)·clip(k − m_old, 0, m_new − m_old), summed over x for every candidate.
            step = kernel.block_rows
            for s in range(0, changed.size, step):
                x = changed[s : s + step]
                R = kernel.rows(x)  # k(x, ·) over candidates (the kernel is symmetric)
                R -= m_old[x][:, None]
                np.clip(R, 0.0, (m[x] - m_old[x])[:, None], out=R)
                g -= (gains.u64[x] @ R.astype(np.float64)) * gains.inv_n
    return picks
