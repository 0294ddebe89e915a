"""Torch form of the clustering and distance kernels: k-means++, Lloyd, BADGE, Coreset, typicality.

Each function mirrors a numpy one and takes the same random draws from the caller's generator,
so on pools without near-ties the torch path (any device) returns what the numpy path returns:

- :func:`kmeans_plusplus` — :func:`refine.strategies._clustering.kmeans_plusplus` (greedy
  k-means++, ``2 + ⌊ln k⌋`` local trials; the same ``rng.integers`` / ``rng.random`` calls);
- :func:`kmeans` — :func:`refine.strategies._clustering.kmeans`: Lloyd's algorithm as
  scikit-learn's ``KMeans(init=seeds, n_init=1)`` runs it (data centred on its mean, tolerance
  ``1e-4 · mean feature variance`` on the summed squared centre shift, strict convergence when
  the labels repeat, empty clusters relocated to the points farthest from their centres, a final
  E-step when stopped by the tolerance); the integer seed scikit-learn would get is still drawn,
  so the generator's later draws match. Mini-batch k-means (TypiClust ``variant="original"``
  above 50 clusters) stays scikit-learn's, seeded by the torch k-means++;
- :func:`nearest_to_centres` (ALFA-Mix, DropQuery), :func:`typicality` (TypiClust),
  :func:`badge_seeding` (:func:`refine.strategies.badge.kmeanspp_seeding`, float64),
  :func:`k_center_greedy` (:func:`refine.strategies.coreset.k_center_greedy`, float64).

Centre sums are one-hot GEMMs, not ``index_add_`` (whose CUDA atomics make the summation order,
and so the last bits, vary from run to run). One known difference: when several clusters are
empty in the same Lloyd iteration, scikit-learn pairs them with the farthest points in
``argpartition`` order, this code in decreasing distance (k-means++ seeding makes empty
clusters rare; duplicates stop the seeding instead, :mod:`refine.strategies._clustering`).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.cluster import MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning

from refine.strategies._clustering import _ZERO_D2, _one_openmp_thread, seed_int
from refine.strategies._torch_common import (
    as_device,
    float64_device,
    index_tensor,
    min_sq_distances,
    pool_rows,
    pool_rows64,
    sq_norms,
    to_numpy,
    to_tensor,
)

#: Rows per one-hot block of the centre sums (bounds the ``rows × k`` one-hot matrix).
_ONEHOT_ROWS = 8192
#: Rows per distance block of the assignment step.
_ASSIGN_ROWS = 16384


def _float_tensor(X: Any, device: Any) -> torch.Tensor:
    """X on the device in its own float dtype (float32 arrays stay float32, others float64)."""
    dev = as_device(device)
    if isinstance(X, torch.Tensor):
        return X.to(dev)
    dtype = torch.float32 if np.asarray(X).dtype == np.float32 else torch.float64
    return to_tensor(X, dev, dtype)


# ---------------------------------------------------------------------- k-means++ (greedy)
def kmeans_plusplus(X: Any, k: int, rng: np.random.Generator, device: Any = "cpu") -> np.ndarray:
    """Greedy k-means++ seeds (row indices), as :func:`._clustering.kmeans_plusplus`."""
    return to_numpy(_kmeans_plusplus(_float_tensor(X, device), k, rng))


def _kmeans_plusplus(X: torch.Tensor, k: int, rng: np.random.Generator) -> torch.Tensor:
    n = X.shape[0]
    dev = X.device
    k = min(int(k), n)
    sq = torch.einsum("ij,ij->i", X.double(), X.double()).to(X.dtype)
    zero = _ZERO_D2 * max(float(sq.max()), float(np.finfo(np.float32).tiny))
    n_trials = 2 + int(np.log(k))

    def sq_dist_to(rows: torch.Tensor) -> torch.Tensor:
        d2 = sq[rows, None] + sq[None, :] - 2.0 * (X[rows] @ X.T)
        d2.masked_fill_(d2 < zero, 0.0)
        return d2

    first = int(rng.integers(n))
    seeds = [first]
    closest = sq_dist_to(torch.tensor([first], device=dev))[0]
    potential = float(closest.sum(dtype=torch.float64))
    while len(seeds) < k and potential > 0.0:
        cum = torch.cumsum(closest, dim=0, dtype=torch.float64)
        # the numpy path's draws, scaled on the device (the same float64 product)
        draws = torch.as_tensor(rng.random(n_trials), device=dev) * cum[-1]
        trials = torch.searchsorted(cum, draws).clamp_(max=n - 1)
        cand_d2 = torch.minimum(closest[None, :], sq_dist_to(trials))
        pots = cand_d2.sum(dim=1, dtype=torch.float64)
        # a draw of exactly 0 can land on a covered point (D² = 0): never take it as a seed
        pots.masked_fill_(closest[trials] <= 0.0, math.inf)
        best = torch.argmin(pots)
        pot, seed = torch.stack([pots[best], trials[best].to(torch.float64)]).tolist()
        if not math.isfinite(pot):
            continue
        seeds.append(int(seed))
        closest = cand_d2[best]
        potential = pot
    return torch.tensor(seeds, dtype=torch.int64, device=dev)


# ---------------------------------------------------------------------- Lloyd (scikit-learn's)
def _assign(X: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Nearest centre of every row (first on ties), by ``‖c‖² − 2⟨x, c⟩`` as scikit-learn."""
    c_sq = sq_norms(centres)
    if X.shape[0] <= _ASSIGN_ROWS:  # one block: four device kernels
        return torch.argmin((X @ centres.T).mul_(-2.0).add_(c_sq[None, :]), dim=1)
    out = torch.empty(X.shape[0], dtype=torch.int64, device=X.device)
    for s in range(0, X.shape[0], _ASSIGN_ROWS):
        d = X[s : s + _ASSIGN_ROWS] @ centres.T
        d.mul_(-2.0).add_(c_sq[None, :])
        out[s : s + _ASSIGN_ROWS] = torch.argmin(d, dim=1)
    return out


def _cluster_sums(
    X: torch.Tensor, labels: torch.Tensor, cols: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per cluster ``cols``: the sum of its rows and its size (one-hot GEMMs, deterministic on
    CUDA, unlike ``index_add_``)."""
    if X.shape[0] <= _ONEHOT_ROWS:
        onehot = (labels[:, None] == cols[None, :]).to(X.dtype)
        return onehot.T @ X, onehot.sum(dim=0)
    k = cols.numel()
    sums = torch.zeros((k, X.shape[1]), dtype=X.dtype, device=X.device)
    counts = torch.zeros(k, dtype=X.dtype, device=X.device)
    for s in range(0, X.shape[0], _ONEHOT_ROWS):
        onehot = (labels[s : s + _ONEHOT_ROWS, None] == cols[None, :]).to(X.dtype)
        sums += onehot.T @ X[s : s + _ONEHOT_ROWS]
        counts += onehot.sum(dim=0)
    return sums, counts


def lloyd(
    X: torch.Tensor, init: torch.Tensor, max_iter: int = 300, tol: float = 1e-4
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's algorithm from ``init`` as scikit-learn's ``KMeans(init=init, n_init=1)``.

    Returns the centres (in X's coordinates) and the labels.
    """
    k = init.shape[0]
    mean = X.mean(dim=0)
    tol_abs = float(X.var(dim=0, unbiased=False).mean()) * tol
    Xc = X - mean
    centres = init.to(X.dtype) - mean
    labels_old = torch.full((X.shape[0],), -1, dtype=torch.int64, device=X.device)
    cols = torch.arange(k, device=X.device)
    strict = False
    for _ in range(int(max_iter)):
        labels = _assign(Xc, centres)
        sums, counts = _cluster_sums(Xc, labels, cols)
        new_centres = sums / counts.clamp(min=1.0)[:, None]
        shift = (torch.linalg.vector_norm(centres - new_centres, dim=1) ** 2).sum()
        # one read from the device per iteration: empty clusters, centre shift, label change
        n_empty, shift_tot, same = torch.stack(
            [
                (counts == 0).sum().to(shift.dtype),
                shift,
                (labels == labels_old).all().to(shift.dtype),
            ]
        ).tolist()
        if n_empty:  # rare: redo the update with scikit-learn's relocation
            dist = ((Xc - centres[labels]) ** 2).sum(dim=1)
            if float(dist.max()) > 0.0:
                empty = torch.nonzero(counts == 0).flatten()
                far = torch.topk(dist, empty.numel()).indices
                for new, f in zip(empty.tolist(), far.tolist(), strict=True):
                    old = int(labels[f])
                    sums[old] -= Xc[f]
                    sums[new] = Xc[f]
                    counts[new] = 1.0
                    counts[old] -= 1.0
            # clusters still empty (duplicates only) keep a zero sum: the centre lands on the mean
            new_centres = torch.where(
                counts[:, None] > 0, sums / counts.clamp(min=1.0)[:, None], sums
            )
            shift_tot = float((torch.linalg.vector_norm(centres - new_centres, dim=1) ** 2).sum())
        centres = new_centres
        if same:
            strict = True
            break
        if shift_tot <= tol_abs:
            break
        labels_old = labels
    if not strict:
        labels = _assign(Xc, centres)
    return centres + mean, labels


def kmeans(
    X: Any,
    k: int,
    rng: np.random.Generator,
    *,
    minibatch: bool = False,
    max_iter: int = 300,
    device: Any = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """k-means as :func:`refine.strategies._clustering.kmeans` (centres and labels as arrays)."""
    centres, labels = _kmeans(_float_tensor(X, device), k, rng, minibatch, max_iter)
    return to_numpy(centres), to_numpy(labels)


def _kmeans(X, k, rng, minibatch=False, max_iter=300) -> tuple[torch.Tensor, torch.Tensor]:
    seeds = _kmeans_plusplus(X, k, rng)
    init = X[seeds]
    if init.shape[0] == 1:
        return init.clone(), torch.zeros(X.shape[0], dtype=torch.int64, device=X.device)
    seed = seed_int(rng)  # drawn as in the numpy path (scikit-learn's random_state)
    if minibatch:
        Xn = to_numpy(X)
        est = MiniBatchKMeans(
            n_clusters=init.shape[0],
            init=to_numpy(init),
            n_init=1,
            batch_size=5000,
            max_iter=max_iter,
            random_state=seed,
        )
        with warnings.catch_warnings(), _one_openmp_thread():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(Xn)
        centres = torch.as_tensor(est.cluster_centers_.astype(Xn.dtype), device=X.device)
        return centres, torch.as_tensor(est.labels_.astype(np.int64), device=X.device)
    return lloyd(X, init, max_iter=max_iter)


def nearest_to_centres(X: Any, k: int, rng: np.random.Generator, device: Any = "cpu") -> np.ndarray:
    """The row nearest each k-means centre: :func:`._clustering.nearest_to_centres`."""
    X = _float_tensor(X, device)
    centres, labels = _kmeans(X, k, rng)
    d2 = to_numpy(((X - centres[labels]) ** 2).sum(dim=1))
    labels = to_numpy(labels)
    order = np.lexsort((np.arange(X.shape[0]), d2, labels))
    first = np.ones(order.size, dtype=bool)
    first[1:] = labels[order[1:]] != labels[order[:-1]]
    return order[first].astype(np.int64)


# ---------------------------------------------------------------------- TypiClust
def typicality(
    F: Any,
    k: int,
    metric: str = "sqeuclidean",
    memory_budget_mb: float = 256.0,
    device: Any = "cpu",
) -> np.ndarray:
    """``1 / (mean distance to the k nearest other rows + 1e-5)``: :func:`.typiclust.typicality`."""
    dev = as_device(device)
    F = to_tensor(F, dev, torch.float32)
    n = F.shape[0]
    if n == 0:
        return np.empty(0)
    k = min(int(k), n - 1)
    if k <= 0:
        return np.full(n, np.inf)
    sq = sq_norms(F)
    rows = max(1, int(memory_budget_mb * 2**20) // (4 * n))
    mean_dist = torch.empty(n, dtype=torch.float64, device=dev)
    for s in range(0, n, rows):
        e = min(n, s + rows)
        d2 = sq[s:e, None] + sq[None, :] - 2.0 * (F[s:e] @ F.T)
        d2.clamp_(min=0.0)
        r = torch.arange(e - s, device=dev)
        d2[r, r + s] = math.inf
        near = torch.topk(d2, k, dim=1, largest=False).values
        if metric == "euclidean":
            near = near.sqrt()
        mean_dist[s:e] = near.to(torch.float64).mean(dim=1)
    return 1.0 / (to_numpy(mean_dist) + 1e-5)


# ---------------------------------------------------------------------- BADGE
#: as :data:`refine.strategies.badge.ROUNDOFF_TOL`
_BADGE_ROUNDOFF = 1e-10


def badge_seeding(
    Q: Any, H: Any, n_centers: int, rng: np.random.Generator, device: Any = "cpu"
) -> np.ndarray:
    """BADGE's k-means++ on implicit gradient embeddings (float64): :func:`.badge.kmeanspp_seeding`."""
    dev = as_device(device)
    Q = to_tensor(Q, dev, torch.float64)
    H = to_tensor(H, dev, torch.float64)
    n = Q.shape[0]
    g_sq = sq_norms(Q) * sq_norms(H)

    def dist(c: torch.Tensor) -> torch.Tensor:  # c: a one-element index tensor
        scale = g_sq + g_sq[c]
        d2 = (Q @ Q[c][0]) * (H @ H[c][0])
        d2.mul_(-2.0).add_(scale)
        d2.masked_fill_(d2 <= _BADGE_ROUNDOFF * scale, 0.0)
        return d2

    pos = torch.arange(n, device=dev)
    is_chosen = torch.zeros(n, dtype=torch.bool, device=dev)
    c = torch.argmax(g_sq).view(1)
    chosen = [c]
    is_chosen[c] = True
    d2 = dist(c)
    d2[c] = 0.0
    for step in range(1, n_centers):
        cum = torch.cumsum(d2, dim=0)
        total = float(cum[-1])  # the one read per step: it decides which draw the rng makes
        if total > 0:
            draw = torch.tensor([rng.random() * total], dtype=torch.float64, device=dev)
            # side="right" never lands on a zero-width (D² = 0) entry; the last positive entry
            # guards float round-off at the right end (as the numpy path), without a read
            c = torch.searchsorted(cum, draw, right=True).clamp_(max=n - 1)
            last = torch.where(d2 > 0, pos, -1).max().view(1)
            c = torch.where(d2[c] > 0, c, last)
        else:
            # [DAL] fallback: every D² is 0, sample uniformly among the unchosen points
            unchosen = np.flatnonzero(~to_numpy(is_chosen))
            c = torch.tensor([int(rng.choice(unchosen))], device=dev)
        chosen.append(c)
        is_chosen[c] = True
        if step + 1 < n_centers:
            torch.minimum(d2, dist(c), out=d2)
            d2[c] = 0.0
    return to_numpy(torch.cat(chosen))


# ---------------------------------------------------------------------- Coreset
def k_center_greedy(
    X: Any,
    batch_size: int,
    d2: Any,
    first: int | None = None,
    x_sq: Any | None = None,
    device: Any = "cpu",
) -> np.ndarray:
    """Farthest-first traversal (float64): :func:`refine.strategies.coreset.k_center_greedy`."""
    dev = as_device(device)
    X = to_tensor(X, dev, torch.float64)
    d2 = to_tensor(d2, dev, torch.float64).clone()
    x_sq = sq_norms(X) if x_sq is None else to_tensor(x_sq, dev, torch.float64)
    chosen = []
    for step in range(batch_size):
        # argmax returns the first maximum: ties go to the lower position; nothing is read
        # back from the device inside the loop
        if step > 0 or first is None:
            i = torch.argmax(d2).view(1)
        else:
            i = torch.tensor([int(first)], device=dev)
        chosen.append(i)
        if step + 1 == batch_size:
            break
        new = X @ X[i][0]
        new.mul_(-2.0).add_(x_sq).add_(x_sq[i])
        torch.minimum(d2, new, out=d2)
        d2[i] = -math.inf
    return to_numpy(torch.cat(chosen))


# ---------------------------------------------------------------------- strategy entry points
def kmeans_of(
    ctx, rows: np.ndarray, k: int, rng: np.random.Generator, *, normalized: bool, minibatch: bool
) -> tuple[torch.Tensor, np.ndarray]:
    """k-means of pool ``rows`` on ``ctx.kernel_device``: the rows' features and the labels."""
    F = pool_rows(ctx, rows, normalized=normalized)
    _, labels = _kmeans(F, k, rng, minibatch)
    return F, to_numpy(labels)


def nearest_centres_of(ctx, rows: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """:func:`nearest_to_centres` of the normalised features of pool ``rows`` (ALFA-Mix,
    DropQuery), on ``ctx.kernel_device``; positions among ``rows``."""
    return nearest_to_centres(pool_rows(ctx, rows, normalized=True), k, rng, ctx.kernel_device)


def badge_select(ctx, candidates: np.ndarray, Q: np.ndarray, batch_size: int, rng) -> np.ndarray:
    """BADGE's selection on ``ctx.kernel_device`` (positions among ``candidates``).

    ``Q`` is the class factor ``e_ŷ − p`` of the candidates (n × K, float64); the feature factor
    is gathered from the context's device copy of the pool.
    """
    dev = float64_device(ctx.kernel_device)
    H = pool_rows64(ctx, candidates)
    return badge_seeding(Q, H, batch_size, rng, dev)


def coreset_select(ctx, candidates: np.ndarray, batch_size: int, rng, budget: float) -> np.ndarray:
    """Coreset's greedy k-center on ``ctx.kernel_device`` (positions among ``candidates``)."""
    dev = float64_device(ctx.kernel_device)
    X = pool_rows64(ctx, candidates)
    x_sq = sq_norms(X)
    if ctx.n_labeled:
        XL = pool_rows64(ctx, ctx.labeled)
        d2 = min_sq_distances(X, XL, x_sq, budget, dev, torch.float64)
        first = None
    else:
        d2 = torch.full((X.shape[0],), math.inf, dtype=torch.float64, device=dev)
        first = int(rng.integers(X.shape[0]))
    return k_center_greedy(X, batch_size, d2, first=first, x_sq=x_sq, device=dev)


__all__ = [
    "badge_seeding",
    "badge_select",
    "coreset_select",
    "kmeans_of",
    "nearest_centres_of",
    "index_tensor",
    "k_center_greedy",
    "kmeans",
    "kmeans_plusplus",
    "lloyd",
    "nearest_to_centres",
    "typicality",
]
