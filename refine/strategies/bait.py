r"""BAIT: greedy Fisher-trace minimisation (Ash et al., NeurIPS 2021) and its Fast-Fishing variants.

Objective (docs/protocol.md §5). Every instance x has a Fisher embedding ``V(x)`` (``k×P`` with
``P`` the number of head parameters it touches) and sample Fisher ``I(x) = V(x)ᵀV(x)``. With the
pool Fisher ``F`` (a weighted mean of ``I`` over candidates ∪ L), the labeled Fisher ``F_L``
(over L), ``α = n_L/(n_L+b)`` and ``ρ = b/(n_L+b)``, BAIT picks the batch S (``|S| = b``) that
minimises

    tr((M₀ + ρ Σ_{x∈S} I(x))⁻¹ F),        M₀ = λI + α F_L,

greedily: ``⌊oversampling·b⌋`` forward steps add the candidate that lowers the trace most, then
backward steps remove the selected point whose removal raises it least, until b are left.

Incremental scores (this module). Let ``M`` be the current matrix, ``A = M⁻¹FM⁻¹`` and, for
every candidate, the ``k×k`` matrices ``S_x = ρ V_x M⁻¹ V_xᵀ`` and ``T_x = ρ V_x A V_xᵀ``.
Woodbury gives the change of the trace when x is added or removed:

    add x:     tr(M'⁻¹F) = tr(M⁻¹F) − tr(T_x (I + S_x)⁻¹)
    remove x:  tr(M'⁻¹F) = tr(M⁻¹F) + tr(T_x (I − S_x)⁻¹)

so the forward step takes ``argmax tr(T(I+S)⁻¹)`` and the backward step removes
``argmin tr(T(I−S)⁻¹)`` (exactly the two scores of the reference code, which forms
``V M⁻¹FM⁻¹ Vᵀ (±I + V M⁻¹Vᵀ)⁻¹`` for every candidate from scratch at every step). After
adding (σ = +1) or removing (σ = −1) the point ``x*`` with scaled embedding ``U = √ρ V_{x*}``:

    Y = M⁻¹Uᵀ,  C = σ (I + σ U Y)⁻¹,  M'⁻¹ = M⁻¹ − Y C Yᵀ                (Woodbury)
    Z = M⁻¹FY,  E = YᵀFY
    A' = A − Z C Yᵀ − Y C Zᵀ + Y C E C Yᵀ

and with ``a_x = √ρ V_x Y`` and ``z_x = √ρ V_x Z`` (``k×k``; one product of the candidates'
features with the ``k`` columns of Y and of Z):

    S_x' = S_x − a_x C a_xᵀ
    T_x' = T_x − z_x C a_xᵀ − a_x C z_xᵀ + a_x C E C a_xᵀ.

So one greedy step costs O(N·P_h·k) for the candidates plus O(P²·k) for M⁻¹, instead of the
O(N·k·P²) of re-scoring every candidate against the full matrices.

Binary approximation (Fast Fishing, the default). With ``p̂ = max_c p_c`` the two rows of the
embedding are ``√p̂(1−p̂)·h`` and ``−√(1−p̂)·p̂·h``: ``V_x = u_x h_xᵀ`` is rank one, and
``V_xᵀV_x = p̂(1−p̂)·h hᵀ``. Every quantity above then depends on x only through
``w_x = ‖u_x‖² = p̂(1−p̂)``, ``s_x = h_xᵀM⁻¹h_x`` and ``t_x = h_xᵀM⁻¹FM⁻¹h_x``: with
``ω = ρw``, ``tr(T(I+S)⁻¹) = ωt/(1+ωs)`` and ``tr(T(I−S)⁻¹) = ωt/(1−ωs)``, so the 2×D
embedding is equivalent to the single row ``√w·h`` (k = 1, P = D) — the update is Sherman–Morrison
(rank one in M⁻¹, rank two in M⁻¹FM⁻¹) and a step costs O(N·D + D²).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from refine.errors import ConfigError, check_memory_budget, check_positive_int, unknown_choice
from refine.strategies._large_pool import (
    LARGE_POOL,
    POOL_SAMPLE,
    check_large_pool,
    large_pool_subsample,
)
from refine.strategies.base import Selection, Strategy
from refine.strategies.registry import register_strategy

GRAD_LIKELIHOODS = ("binary_cross_entropy", "cross_entropy")
FISHER_SCALINGS = ("mean", "dal")
PRECISIONS = ("auto", "float64", "float32")
#: ``precision="auto"`` streams the candidates' rows in float32 from this many entries (n·D) on:
#: 2²⁰ entries are 8 MiB of float64 rows, beyond this machine's 2 MB of L2 cache per core, where
#: each greedy step's two matrix-vector products are bound by memory traffic (5000 × 384: 1.41 ms
#: per step in float64, 0.73 ms in float32). Smaller problems (digits, the cpu presets' pools)
#: keep the float64 arithmetic.
FLOAT32_ROWS_FROM = 2**20


def row_dtype(precision: str, n_rows: int, n_features: int) -> type:
    """The dtype in which BAIT's greedy steps read the candidates' features.

    ``"float64"`` and ``"float32"`` as named; ``"auto"``: float32 when ``n_rows·n_features`` is at
    least :data:`FLOAT32_ROWS_FROM`, else float64.
    """
    if precision == "float32" or (precision == "auto" and n_rows * n_features >= FLOAT32_ROWS_FROM):
        return np.float32
    return np.float64


# ---------------------------------------------------------------------------------- embeddings
def fisher_factors(
    probas: np.ndarray,
    grad_likelihood: str = "binary_cross_entropy",
    expectation_topk: int | None = None,
    normalize_top_probas: bool = True,
) -> np.ndarray:
    """The class factor ``R_x`` of the Fisher embedding ``V_x = R_x ⊗ h_xᵀ``.

    Parameters
    ----------
    probas : ndarray of shape (n, K)
    grad_likelihood : {"binary_cross_entropy", "cross_entropy"}
        ``"binary_cross_entropy"``: one row ``√(p̂(1−p̂))`` (``K' = 1``, see the module
        docstring); ``"cross_entropy"``: rows ``√p̃_c (e_c − p)ᵀ`` for the top-k classes c
        (``K' = K``).
    expectation_topk : int, optional
        Number k of top classes the expectation runs over (all K when None).
    normalize_top_probas : bool
        Renormalise the top-k probabilities to sum to one (``p̃``), as the reference code does.

    Returns
    -------
    ndarray of shape (n, k, K'), float64
    """
    p = np.asarray(probas, dtype=np.float64)
    n, K = p.shape
    if grad_likelihood == "binary_cross_entropy":
        top = p.max(axis=1)
        return np.sqrt(np.clip(top * (1.0 - top), 0.0, None))[:, None, None]
    k = K if expectation_topk is None else int(expectation_topk)
    # Top-k classes by probability (stable: ties go to the lower class index).
    order = np.argsort(-p, axis=1, kind="stable")[:, :k]
    weights = np.take_along_axis(p, order, axis=1)
    if normalize_top_probas:
        weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), np.finfo(float).tiny)
    R = np.repeat(-p[:, None, :], k, axis=1)
    R[np.arange(n)[:, None], np.arange(k)[None, :], order] += 1.0
    R *= np.sqrt(weights)[:, :, None]
    return R


def row_weights(n_rows: int, fisher_scaling: str, fisher_batch_size: int) -> np.ndarray:
    """Weights of the rows in a Fisher average.

    ``"mean"``: ``1/n`` (the paper's mean). ``"dal"``: the reference code sums the mean of each
    consecutive chunk of ``fisher_batch_size`` rows, i.e. weight ``1/|chunk|`` per row (``≈ n/32``
    times the mean, with the last, partial chunk weighted more).
    """
    if n_rows == 0:
        return np.zeros(0)
    if fisher_scaling == "mean":
        return np.full(n_rows, 1.0 / n_rows)
    sizes = np.minimum(fisher_batch_size, n_rows - np.arange(0, n_rows, fisher_batch_size))
    return np.repeat(1.0 / sizes, sizes)


def fisher_matrix(H: np.ndarray, R: np.ndarray, weights: np.ndarray, max_rows: int) -> np.ndarray:
    """``Σ_j weights_j (R_jᵀR_j) ⊗ (h_j h_jᵀ)`` (a ``K'D×K'D`` float64 matrix).

    Built from the ``K'×K'`` class weights ``W_j = R_jᵀR_j``: block ``(c, c')`` is
    ``Hᵀ diag(W_{·cc'}) H``. Only the blocks ``c' ≥ c`` are computed (the matrix is symmetric),
    which costs O(n·K'(K'+1)/2·D²) whatever k is, in chunks of at most ``max_rows`` rows.
    """
    n, D = H.shape
    Kp = R.shape[2]
    if n == 0:
        return np.zeros((Kp * D, Kp * D))
    if Kp == 1:
        # Σ_j w_j h_j h_jᵀ with w_j >= 0: a symmetric rank-n update (BLAS syrk, half a GEMM).
        G = H * np.sqrt(weights * R[:, 0, 0] ** 2)[:, None]
        # numpy runs ``G.T @ G`` as BLAS syrk and mirrors the triangle itself (the same upper
        # triangle as scipy's dsyrk, bit for bit, measured faster than dsyrk + np.triu here)
        return G.T @ G
    out = np.zeros((Kp * D, Kp * D))
    for s in range(0, n, max_rows):
        h = H[s : s + max_rows]
        r = R[s : s + max_rows]
        W = (r.transpose(0, 2, 1) @ r) * weights[s : s + max_rows, None, None]
        for c in range(Kp):
            w = W[:, c, c:]
            right = (w[:, :, None] * h[:, None, :]).reshape(h.shape[0], (Kp - c) * D)
            out[c * D : (c + 1) * D, c * D :] += h.T @ right
    for c in range(1, Kp):  # mirror the upper block triangle
        out[c * D : (c + 1) * D, : c * D] = out[: c * D, c * D : (c + 1) * D].T
    return out


def quad_forms(
    H: np.ndarray, R: np.ndarray, mat: np.ndarray, scale: float, max_rows: int
) -> np.ndarray:
    """``scale · V_x mat V_xᵀ`` (``k×k``) for every row, with ``V_x = R_x ⊗ h_xᵀ``.

    Uses ``V_x mat V_xᵀ = R_x B_x R_xᵀ`` with ``B_x[c,c'] = h_xᵀ mat_{cc'} h_x`` (``mat_{cc'}`` the
    D×D blocks; ``mat`` symmetric, so only ``c' ≥ c`` is computed): the embeddings are never
    built, O(n·K'(K'+1)/2·D²) time, chunks of ``max_rows`` rows.
    """
    n, D = H.shape
    k, Kp = R.shape[1], R.shape[2]
    out = np.empty((n, k, k))
    for s in range(0, n, max_rows):
        h = H[s : s + max_rows]
        m = h.shape[0]
        B = np.empty((m, Kp, Kp))
        for c in range(Kp):
            # U[x, c', d'] = Σ_d h_xd mat[(c,d),(c',d')] for c' >= c: one GEMM per block row.
            U = (h @ mat[c * D : (c + 1) * D, c * D :]).reshape(m, Kp - c, D)
            B[:, c, c:] = np.einsum("xed,xd->xe", U, h)
            B[:, c:, c] = B[:, c, c:]
        r = R[s : s + max_rows]
        out[s : s + max_rows] = r @ B @ r.transpose(0, 2, 1)
    out *= scale
    return out


def binary_quad_forms(
    H: np.ndarray, r: np.ndarray, mats: tuple[np.ndarray, ...], scale: float, max_rows: int
) -> tuple[np.ndarray, ...]:
    """``scale · r_x² · h_xᵀ M h_x`` (as ``n×1×1`` arrays) for each symmetric D×D ``M`` in ``mats``.

    The binary approximation's :func:`quad_forms` (``K' = k = 1``): the features are multiplied
    with all matrices side by side in one GEMM per chunk of rows, so they are read once.
    """
    n, D = H.shape
    W = np.hstack(mats)
    outs = tuple(np.empty((n, 1, 1)) for _ in mats)
    step = max(1, max_rows // len(mats))
    for s in range(0, n, step):
        h = H[s : s + step]
        U = h @ W
        rr = r[s : s + step]
        for j, out in enumerate(outs):
            q = np.einsum("xd,xd->x", U[:, j * D : (j + 1) * D], h)
            out[s : s + step, 0, 0] = (rr * q) * rr * scale
    return outs


def embed_products(H: np.ndarray, R: np.ndarray, cols: np.ndarray, scale: float) -> np.ndarray:
    """``√scale · V_x cols`` for every row (``cols``: ``K'D × m``), shape (n, k, m)."""
    Kp = R.shape[2]
    D = H.shape[1]
    m = cols.shape[1]
    # (V_x y) = R_x (Y h_x) with Y = y reshaped K'×D: one GEMM of the features with all columns.
    T = (H @ cols.T.reshape(m * Kp, D).T).reshape(H.shape[0], m, Kp)
    out = np.einsum("xic,xjc->xij", R, T)
    out *= math.sqrt(scale)
    return out


# ---------------------------------------------------------------------------------- greedy engine
#: Rows of ``M⁻¹`` per in-place block of :func:`_subtract_outer` (64 × 384 float64 = 192 KB).
_OUTER_ROWS = 64


def _subtract_outer(A: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    """``A −= x yᵀ`` in place, by blocks of rows.

    Each entry is the single product ``x_i·y_j`` subtracted once, exactly as in
    ``A -= (x[:, None] @ y[None, :])`` (a GEMM with an inner dimension of 1 adds no sums), so the
    result is bit for bit the same; but the D×D product is never materialised: 0.18 instead of
    0.32 ms per step at D = 384 here (one read and one write of A instead of three passes).
    """
    for s in range(0, A.shape[0], _OUTER_ROWS):
        A[s : s + _OUTER_ROWS] -= x[s : s + _OUTER_ROWS, None] * y[None, :]


class FisherGreedy:
    """Incremental forward/backward greedy on ``tr((M₀ + ρ Σ_S I(x))⁻¹ F)``.

    See the module docstring for the algebra. ``S`` and ``T`` hold ``S_x`` and ``T_x`` for all
    candidates (``n×k×k``); ``Minv`` is the current ``M⁻¹``.

    Parameters
    ----------
    H : ndarray of shape (n, D), float64
        Candidate features.
    R : ndarray of shape (n, k, K'), float64
        Class factors (:func:`fisher_factors`).
    F : ndarray of shape (K'D, K'D)
        Pool Fisher.
    Minv0 : ndarray of shape (K'D, K'D)
        ``M₀⁻¹``.
    rho : float
        Rescaling ``b/(n_L+b)`` of the candidates' Fisher.
    max_rows : int
        Chunk size for the initial quadratic forms.
    rows_dtype : {numpy.float64, numpy.float32}
        Dtype of the copy of H that each greedy step multiplies with ``M⁻¹``'s new columns
        (:func:`row_dtype`). With float32 each product is a single-precision dot product
        (error at most ``(D+2)·2⁻²⁴·Σ_d|h_d y_d|``); S, T, ``M⁻¹`` and the initial quadratic forms
        stay float64, and S, T and the scores then agree with float64 to about 1e-7 of their
        largest entries (tests).
    """

    def __init__(self, H, R, F, Minv0, rho, max_rows, rows_dtype=np.float64):
        self.H, self.R, self.F, self.rho = H, R, F, float(rho)
        # the rows every step streams (a float32 copy halves that traffic); H itself stays
        # float64 for the added point's own embedding
        self.H_rows = H if rows_dtype == np.float64 else np.ascontiguousarray(H, dtype=rows_dtype)
        self.k = R.shape[1]
        self.binary = R.shape[1:] == (1, 1)
        A0 = Minv0 @ F @ Minv0
        if self.binary:
            # both quadratic forms from one product of the features with [M₀⁻¹ | A₀]
            self.S, self.T = binary_quad_forms(H, R[:, 0, 0], (Minv0, A0), self.rho, max_rows)
        else:
            self.S = quad_forms(H, R, Minv0, self.rho, max_rows)
            self.T = quad_forms(H, R, A0, self.rho, max_rows)
        del A0  # free it before the working copy of M⁻¹ (one fewer (K'D)² matrix at the peak)
        self.Minv = Minv0.copy()

    def scores(self, sign: float, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """``tr(T_x (I + sign·S_x)⁻¹)`` for the given rows."""
        S, T = self.S[rows], self.T[rows]
        if self.k == 1:
            return T[:, 0, 0] / (1.0 + sign * S[:, 0, 0])
        eye = np.eye(self.k)
        # tr(T (I ± S)⁻¹) = tr((I ± S)⁻¹ T): a batched k×k solve, no inverse.
        X = np.linalg.solve(eye + sign * S, T)
        return np.trace(X, axis1=1, axis2=2)

    def update(self, i: int, sign: float, rows: np.ndarray | slice = slice(None)) -> None:
        """Add (``sign=+1``) or remove (``sign=−1``) candidate ``i``; update ``rows``' S and T."""
        Vi = self._embedding(i)  # k × K'D, already scaled by √ρ
        Y = self.Minv @ Vi.T  # K'D × k
        FY = self.F @ Y
        Z = self.Minv @ FY
        if self.binary:
            # k = K' = 1 (the binary approximation): scalar Sherman–Morrison updates; two
            # matrix-vector products over the candidates are the whole O(N·D) cost of a step
            # (measured: faster than one product with the two columns side by side, which
            # OpenBLAS runs as a GEMM with N = 2). The 1×1 solve and symmetrisations of the
            # general case are plain scalars here: LAPACK's solve of [[u]] x = [[1]] is 1/u
            # and (x + x)/2 is x, so c and e are the same numbers (tests), without the
            # per-step overhead of small-array calls that dominates BAIT on small pools.
            u = 1.0 + sign * float((Vi @ Y)[0, 0])
            if u == 0.0:  # what the solve raised
                raise np.linalg.LinAlgError("Singular matrix")
            c = sign * (1.0 / u)
            e = float((Y.T @ FY)[0, 0])
            H = self.H_rows[rows]
            r = self.R[rows, 0, 0] * math.sqrt(self.rho)
            # r is float64, so the products come back to float64 before anything accumulates
            a = r * (H @ Y[:, 0].astype(H.dtype, copy=False))
            z = r * (H @ Z[:, 0].astype(H.dtype, copy=False))
            self.S[rows, 0, 0] -= c * a * a
            self.T[rows, 0, 0] += (c * c * e) * (a * a) - (2.0 * c) * (z * a)
            _subtract_outer(self.Minv, Y[:, 0] * c, Y[:, 0])
            return
        inner = np.eye(self.k) + sign * (Vi @ Y)
        C = sign * np.linalg.solve(inner, np.eye(self.k))
        C = (C + C.T) / 2
        E = Y.T @ FY
        E = (E + E.T) / 2
        H = self.H_rows[rows]
        both = embed_products(
            H, self.R[rows], np.hstack([Y, Z]).astype(H.dtype, copy=False), self.rho
        )
        a, z = both[:, :, : self.k], both[:, :, self.k :]
        aC = a @ C
        cross = (z @ C) @ a.transpose(0, 2, 1)
        self.S[rows] -= aC @ a.transpose(0, 2, 1)
        self.T[rows] += aC @ E @ aC.transpose(0, 2, 1) - cross - cross.transpose(0, 2, 1)
        # Symmetric up to round-off; no explicit symmetrisation (a transposed copy of a (K'D)²
        # matrix per step costs more than the update itself and the drift is negligible).
        self.Minv -= (Y @ C) @ Y.T

    def _embedding(self, i: int) -> np.ndarray:
        """``√ρ V_i`` as an explicit ``k × K'D`` matrix."""
        R, h = self.R[i], self.H[i]
        return math.sqrt(self.rho) * (R[:, :, None] * h[None, None, :]).reshape(R.shape[0], -1)

    def run(self, batch_size: int, n_forward: int) -> np.ndarray:
        """Forward ``n_forward`` additions, then backward removals down to ``batch_size``.

        Returns the kept candidate rows in the order they were added.
        """
        n = self.H.shape[0]
        selected: list[int] = []
        taken = np.zeros(n, dtype=bool)
        for step in range(n_forward):
            sc = self.scores(+1.0)
            sc[taken] = -np.inf
            i = int(np.argmax(sc))  # first maximum: ties broken by candidate order
            selected.append(i)
            taken[i] = True
            if step + 1 < n_forward or n_forward > batch_size:
                self.update(i, +1.0)
        kept = np.array(selected, dtype=np.int64)
        while kept.size > batch_size:
            j = int(np.argmin(self.scores(-1.0, kept)))
            i = int(kept[j])
            kept = np.delete(kept, j)
            if kept.size > batch_size:
                self.update(i, -1.0, kept)
        return kept


# ---------------------------------------------------------------------------------- strategy
@register_strategy
class Bait(Strategy):
    """BAIT: pick the batch that minimises the trace of the inverse-Fisher-weighted pool Fisher.

    See the module docstring for the objective and the incremental algorithm. The default is the
    configuration of Refine's published code: the Fast-Fishing binary approximation
    (``grad_likelihood="binary_cross_entropy"``), ``lmb = 1`` and 2× oversampling (forward
    greedy to ``2b``, backward pruning to ``b``).

    Sets and scaling (checked in ``dal-toolbox`` ``strategies/bait.py`` @0501948 and @7a10d52; the
    chunked Fisher sum below is identical at 55570442 and at the Refine commit e9bf05ca): the pool
    Fisher F
    averages over the candidates (the subsample the strategy is handed)
    plus L; the labeled Fisher ``F_L`` averages over L; both use the model's *expected* Fisher
    (probability-weighted over labels), not L's true labels. The matrix is
    ``λI + n_L/(n_L+b)·F_L`` and the candidates' Fisher is scaled by ``b/(n_L+b)``.

    Parameters
    ----------
    lmb : float, default=1.0
        Ridge λ of ``M₀ = λI + α F_L`` (1 in Refine's code; the original ``run.py`` uses 1e-2
        for CIFAR).
    grad_likelihood : {"binary_cross_entropy", "cross_entropy"}, default="binary_cross_entropy"
        ``"binary_cross_entropy"``: Fast Fishing's binary approximation (predicted class vs the
        rest); F is D×D, one selection costs O((n+n_L)·D² + D³ + oversampling·b·(n·D + D²)).
        ``"cross_entropy"``: the multiclass expected Fisher over the top ``expectation_topk``
        classes (all K when None: the original BAIT); ``F_L``, F, M₀⁻¹, M⁻¹ and M⁻¹FM⁻¹ are
        (KD)×(KD), so memory peaks at about ``5·(KD)²·8`` bytes (590 MB at K = 10, D = 384:
        raise ``memory_budget_mb``) and the setup costs O((n+n_L)·K²·D² + (KD)³) — several
        seconds at K = 10, D = 384; use it for small K·D only.
    expectation_topk : int, optional
        With ``grad_likelihood="cross_entropy"``: number of top classes of the expectation
        (Fast Fishing's first approximation). Must be None for the binary approximation.
    normalize_top_probas : bool, default=True
        Renormalise the top-k probabilities (as the reference code does).
    oversampling : float, default=2.0
        Forward steps ``⌊oversampling·b⌋`` (capped at the number of candidates); 1 gives pure
        forward greedy.
    fisher_scaling : {"mean", "dal"}, default="mean"
        ``"mean"``: F and ``F_L`` are means, as in the paper and the original code. ``"dal"``:
        **[DAL]** the published code sums the means of consecutive chunks of
        ``fisher_batch_size`` rows (a DataLoader loop), so ``F_L`` is about ``n_L/32`` times the
        mean once ``n_L > 32``, which strengthens the labeled term relative to λ and the batch.
        (The scale of F itself does not change the selection.) This is the Refine commit's
        behaviour (e9bf05ca, as at 55570442) and the ``published`` profile's
        (:mod:`refine.profiles`); not the default because it reads as an accident of batching.
    fisher_batch_size : int, default=32
        Chunk size of ``fisher_scaling="dal"`` (ignored otherwise).
    memory_budget_mb : float, default=512
        Upper bound for the (KD)² matrices of the ``"cross_entropy"`` variant (a ConfigError
        names the need when exceeded) and for the chunks of the initial scores.
    large_pool : int or None, default=100000
        Above this many candidates, score a uniform random subsample of ``pool_sample`` of them
        (the published subsample semantics, :mod:`refine.strategies._large_pool`; recorded in
        ``trace_["large_pool"]``): every greedy step reads all candidates' features,
        ``oversampling·b`` times. None = always all candidates.
    pool_sample : int, default=10000
        Size of that subsample (at most ``large_pool``; raised to b when smaller).
    precision : {"auto", "float64", "float32"}, default="auto"
        Dtype in which each greedy step reads the candidates' features (its two products with
        the new columns of ``M⁻¹`` and ``M⁻¹FM⁻¹``, the whole O(n·D) cost of a step).
        ``"float64"``: float64 arithmetic throughout. ``"float32"``: a float32 copy of the rows
        (half the memory traffic; single-precision products, accumulated into float64: the
        scores agree with float64 to about 1e-7 of the largest, so only near-ties can flip). ``"auto"``: float32 from
        :data:`FLOAT32_ROWS_FROM` = 2²⁰ candidate entries (n·D) on, float64 below (so the
        digits and cpu-preset pools are computed exactly as before). The published code runs
        BAIT wholly in torch's default float32. Paired AULC study of float32 against float64:
        ``python -m reproduce bait_precision`` (REPRODUCING.md). Recorded as
        ``trace_["precision"]`` when float32 is used.

    Notes
    -----
    **[DAL]** deviations of the published code, and what we do: (1) it re-scores all candidates
    from scratch at each step (O(n·k·P²) per step); we update incrementally (same scores up to
    round-off). (2) When there are fewer than ``2b`` candidates its forward loop re-adds the last
    index once every candidate is taken (duplicates); we cap the forward steps at the number of
    candidates. (3) Its F and ``F_L`` scaling, see ``fisher_scaling``. Ties are broken by candidate
    order (first maximum / minimum).

    References
    ----------
    J. T. Ash, S. Goel, A. Krishnamurthy, S. Kakade. Gone fishing: neural active learning with
    Fisher embeddings. NeurIPS 2021. Code: ``JordanAsh/badge`` @a2d18ac,
    ``query_strategies/bait_sampling.py``.
    D. Huseljic, P. Hahn, M. Herde, L. Rauch, B. Sick. Fast Fishing: approximating BAIT for
    efficient and scalable deep active image classification. ECML-PKDD 2024, arXiv 2404.08981.
    Code: ``dhuseljic/dal-toolbox`` ``dal_toolbox/active_learning/strategies/bait.py``.
    """

    name = "bait"
    direct_rng = True  # draws (fill, large-pool subsample) come from rng itself
    requires = frozenset({"probas", "features"})

    def __init__(
        self,
        lmb: float = 1.0,
        grad_likelihood: str = "binary_cross_entropy",
        expectation_topk: int | None = None,
        normalize_top_probas: bool = True,
        oversampling: float = 2.0,
        fisher_scaling: str = "mean",
        fisher_batch_size: int = 32,
        memory_budget_mb: float = 512.0,
        large_pool: int | None = LARGE_POOL,
        pool_sample: int = POOL_SAMPLE,
        precision: str = "auto",
    ):
        self.lmb = lmb
        self.grad_likelihood = grad_likelihood
        self.expectation_topk = expectation_topk
        self.normalize_top_probas = normalize_top_probas
        self.oversampling = oversampling
        self.fisher_scaling = fisher_scaling
        self.fisher_batch_size = fisher_batch_size
        self.memory_budget_mb = memory_budget_mb
        self.large_pool = large_pool
        self.pool_sample = pool_sample
        self.precision = precision

    # ------------------------------------------------------------------ validation
    def check_params(self) -> None:
        # the value checks need no data; the smallest problem (K = 2, D = 1) passes the size ones
        self._validate_params(2, 1)

    def _validate_params(self, n_classes: int, n_features: int, n_rows: int = 0) -> None:
        def positive_number(name: str, value: object, minimum: float, strict: bool) -> float:
            ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(
                value, bool
            )
            ok = ok and math.isfinite(value) and (value > minimum if strict else value >= minimum)
            if not ok:
                rel = ">" if strict else ">="
                raise ConfigError(f"{name} must be a finite number {rel} {minimum}, got {value!r}")
            return float(value)

        positive_number("lmb", self.lmb, 0.0, True)
        positive_number("oversampling", self.oversampling, 1.0, False)
        check_memory_budget(self.memory_budget_mb)
        check_large_pool(self.large_pool, self.pool_sample)
        if self.grad_likelihood not in GRAD_LIKELIHOODS:
            raise unknown_choice("grad_likelihood", self.grad_likelihood, GRAD_LIKELIHOODS)
        if self.fisher_scaling not in FISHER_SCALINGS:
            raise unknown_choice("fisher_scaling", self.fisher_scaling, FISHER_SCALINGS)
        if self.precision not in PRECISIONS:
            raise unknown_choice("precision", self.precision, PRECISIONS)
        check_positive_int("fisher_batch_size", self.fisher_batch_size)
        if not isinstance(self.normalize_top_probas, (bool, np.bool_)):
            raise ConfigError(
                f"normalize_top_probas must be True or False, got {self.normalize_top_probas!r}"
            )
        if self.grad_likelihood == "binary_cross_entropy":
            if self.expectation_topk is not None:
                raise ConfigError(
                    "expectation_topk must be None with grad_likelihood='binary_cross_entropy' "
                    f"(got {self.expectation_topk!r}); use grad_likelihood='cross_entropy'"
                )
            return
        if self.expectation_topk is not None:
            k = check_positive_int("expectation_topk", self.expectation_topk)
            if k > n_classes:
                raise ConfigError(
                    f"expectation_topk must be an integer in [1, {n_classes}] (the number of "
                    f"classes) or None, got {k}"
                )
        # five (KD)² matrices (F_L, F, M₀⁻¹, M⁻¹FM⁻¹ or M⁻¹, a product temporary) and the
        # class factors R (n×k×K) of candidates and L
        k = n_classes if self.expectation_topk is None else int(self.expectation_topk)
        need_mb = (5 * (n_classes * n_features) ** 2 + n_rows * k * n_classes) * 8 / 2**20
        if need_mb > self.memory_budget_mb:
            raise ConfigError(
                f"bait with grad_likelihood='cross_entropy' needs about {need_mb:.0f} MB for its "
                f"(K·D)² = ({n_classes}·{n_features})² matrices, above memory_budget_mb="
                f"{self.memory_budget_mb}; use grad_likelihood='binary_cross_entropy' or raise "
                "memory_budget_mb"
            )

    # ------------------------------------------------------------------ pieces
    def _factors(self, probas: np.ndarray) -> np.ndarray:
        return fisher_factors(
            probas, self.grad_likelihood, self.expectation_topk, self.normalize_top_probas
        )

    def _max_rows(self, k_prime: int, n_features: int) -> int:
        # float64 blocks of one row: U in quad_forms / the right factor in fisher_matrix (K'·D)
        # plus B (K'²), twice for temporaries.
        per_row = 8 * (k_prime * n_features + k_prime * k_prime) * 2
        return max(1, int(self.memory_budget_mb * 2**20 // per_row))

    def _variant_key(self) -> tuple:
        return (
            "bait",
            self.grad_likelihood,
            self.expectation_topk,
            bool(self.normalize_top_probas),
            self.fisher_scaling,
            int(self.fisher_batch_size),
        )

    def _labeled_fisher(self, ctx) -> np.ndarray:
        """``F_L`` (memoised per cycle: it does not depend on the candidates)."""

        def compute() -> np.ndarray:
            HL = np.asarray(ctx.X[ctx.labeled], dtype=np.float64)
            RL = self._factors(ctx.probas(ctx.labeled))
            Kp = RL.shape[2]
            w = row_weights(ctx.n_labeled, self.fisher_scaling, int(self.fisher_batch_size))
            return fisher_matrix(HL, RL, w, self._max_rows(Kp, ctx.n_features))

        return ctx.memo(self._variant_key() + ("F_L",), compute)

    def _m0_inverse(self, ctx, batch_size: int) -> np.ndarray:
        """``M₀⁻¹ = (λI + α F_L)⁻¹`` via Cholesky (memoised per cycle and batch size)."""

        def compute() -> np.ndarray:
            FL = self._labeled_fisher(ctx)
            alpha = ctx.n_labeled / (ctx.n_labeled + batch_size)
            M0 = alpha * FL
            M0[np.diag_indices_from(M0)] += float(self.lmb)
            # Cholesky factor, then the inverse from it (LAPACK potrf + potri): M₀ is SPD and
            # well conditioned (λ > 0), and the greedy updates need M⁻¹ explicitly.
            chol, info = scipy.linalg.lapack.dpotrf(M0, lower=1)
            if info != 0:
                raise np.linalg.LinAlgError(
                    f"bait: M0 is not positive definite (potrf info={info})"
                )
            Minv, info = scipy.linalg.lapack.dpotri(chol, lower=1)
            if info != 0:
                raise np.linalg.LinAlgError(f"bait: inverting M0 failed (potri info={info})")
            Minv = np.tril(Minv)
            return Minv + np.tril(Minv, -1).T

        return ctx.memo(self._variant_key() + ("M0inv", float(self.lmb), int(batch_size)), compute)

    def _pool_fisher(self, ctx, H: np.ndarray, R: np.ndarray) -> np.ndarray:
        """F over candidates ∪ L (candidates first, then L in labeling order, as the reference)."""
        n, nL = H.shape[0], ctx.n_labeled
        max_rows = self._max_rows(R.shape[2], H.shape[1])
        if self.fisher_scaling == "mean":
            # Reuse the memoised labeled part: F = (Σ_cand I + n_L·F_L) / (n + n_L).
            F = fisher_matrix(H, R, np.ones(n), max_rows)
            if nL:
                F += nL * self._labeled_fisher(ctx)
            F /= n + nL
            return F
        w = row_weights(n + nL, "dal", int(self.fisher_batch_size))
        F = fisher_matrix(H, R, w[:n], max_rows)
        if nL:
            HL = np.asarray(ctx.X[ctx.labeled], dtype=np.float64)
            F += fisher_matrix(HL, self._factors(ctx.probas(ctx.labeled)), w[n:], max_rows)
        return F

    def _engine(self, ctx, candidates, batch_size) -> FisherGreedy:
        self._validate_params(ctx.n_classes, ctx.n_features, len(candidates) + ctx.n_labeled)
        H = np.asarray(ctx.X[candidates], dtype=np.float64)
        R = self._factors(ctx.probas(candidates))
        F = self._pool_fisher(ctx, H, R)
        Minv0 = self._m0_inverse(ctx, batch_size)
        rho = batch_size / (ctx.n_labeled + batch_size)
        rows = row_dtype(self.precision, *H.shape)
        return FisherGreedy(H, R, F, Minv0, rho, self._max_rows(R.shape[2], H.shape[1]), rows)

    # ------------------------------------------------------------------ selection
    def _select(self, ctx, candidates, batch_size, rng):
        self._validate_params(ctx.n_classes, ctx.n_features)
        candidates, note = large_pool_subsample(
            candidates, self.large_pool, max(self.pool_sample, batch_size), rng
        )
        if row_dtype(self.precision, candidates.size, ctx.n_features) == np.float32:
            note = {**note, "precision": "float32"}
        if ctx.kernel_device is not None:  # torch kernels (refine/strategies/_torch_bait.py)
            from refine.strategies._torch_bait import bait_select

            picks = bait_select(self, ctx, candidates, batch_size, row_weights, row_dtype)
            return Selection(candidates[picks], note)
        engine = self._engine(ctx, candidates, batch_size)
        n_forward = min(candidates.size, max(batch_size, int(self.oversampling * batch_size)))
        return Selection(candidates[engine.run(batch_size, n_forward)], note)
