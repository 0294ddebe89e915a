"""AutoAL's networks and scoring pieces (private helpers of :mod:`refine.strategies.autoal`).

- :class:`Linear` — a linear layer initialised like ``torch.nn.Linear`` (U(−1/√fan_in, 1/√fan_in)
  for weight and bias) but from an explicit :class:`torch.Generator`: ``nn.Linear`` draws its
  initial weights from torch's global RNG, which this package never touches.
- SearchNet (a :class:`Linear` with one output per candidate strategy), FitNet (a :class:`Linear`
  classifier) and :class:`LossNet` (feature dim → 128 → 1, the "tiny" loss-prediction module the
  Refine authors use for linear heads on frozen features).
- :func:`gmm_threshold`, :func:`relaxed_scores`, :func:`size_penalty` and
  :func:`loss_prediction_loss`: the scoring and the losses of the bilevel search.
- :func:`pack` / :func:`unpack`: exact, JSON-safe (base64 float32) copies of tensors for
  ``state_dict``.

References
----------
Y. Wang, X. Zhan, S. Huang. AutoAL: Automated Active Learning with Differentiable Query Strategy
Search. ICML 2025, arXiv 2410.13853. Code: ``haizailache999/AutoAL`` (``nets.py``,
``AL_model.py``).

D. Yoo, I. S. Kweon. Learning Loss for Active Learning. CVPR 2019 (the loss-prediction loss).

D. Huseljic et al. Cleaning the Pool (CVPR 2026); code ``dhuseljic/dal-toolbox`` @e9bf05ca,
``publications/cleaning_the_pool/strategies.py`` (``AutoALOriginal``, ``AutoAL``,
``TinyLossNet``).
"""

from __future__ import annotations

import base64
import math
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

try:  # the steps of GaussianMixture.fit without its validation (see _fit_mixture)
    from sklearn.cluster._kmeans import _kmeans_plusplus, _kmeans_single_lloyd, _tolerance
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    from sklearn.utils.extmath import row_norms
except ImportError:  # pragma: no cover - a scikit-learn without them uses the estimator
    _kmeans_plusplus = None
from torch import nn
from torch.nn import functional as F


class Linear(nn.Module):
    """``y = x Wᵀ + b`` with ``nn.Linear``'s initial distribution drawn from ``generator``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        generator: torch.Generator,
        dtype: torch.dtype = torch.float32,
    ):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        w = (
            torch.rand(out_features, in_features, generator=generator, dtype=dtype) * 2 - 1
        ) * bound
        b = (torch.rand(out_features, generator=generator, dtype=dtype) * 2 - 1) * bound
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class LossNet(nn.Module):
    """Loss prediction for a linear head: ``Linear(D, hidden) → ReLU → Linear(hidden, 1)``."""

    def __init__(self, in_features: int, hidden: int, generator: torch.Generator):
        super().__init__()
        self.fc = Linear(in_features, hidden, generator)
        self.out = Linear(hidden, 1, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.fc(x))).view(-1)


def gmm_threshold(
    scores: np.ndarray,
    ratio: float,
    seed: int,
    n_components: int = 5,
    n_draws: int = 10_000,
) -> float:
    """The selection threshold of AutoAL's relaxation: a high percentile of a fitted mixture.

    A Gaussian mixture of ``min(n_components, n)`` components is fitted to the ``n`` scores, and
    ``n_draws`` values are drawn from it; the threshold is their ``100·(1 − ratio)``-th percentile
    (the 98th for ``ratio = 0.02``), as in both published codes.

    Parameters
    ----------
    scores : ndarray of shape (n,)
        The softmax scores of a batch.
    ratio : float in (0, 1)
        Fraction of the batch meant to lie above the threshold.
    seed : int
        Seeds the mixture's initialisation and its draws (``random_state``).

    Returns
    -------
    float
        The threshold; for a single score, that score.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1, 1)
    if scores.shape[0] < 2:
        # a mixture needs two scores (the published code fails here): one instance is its own
        # threshold, so its relaxed score is 1/2
        return float(scores[0, 0])
    # 1-D data: a diagonal covariance is the full one (same fit, same draws), and cheaper
    gm = GaussianMixture(
        n_components=min(int(n_components), scores.shape[0]),
        covariance_type="diag",
        random_state=seed,
    )
    if _kmeans_plusplus is not None:
        _fit_mixture(gm, scores)
    else:  # pragma: no cover - see the imports
        with warnings.catch_warnings():
            # tied scores leave fewer distinct clusters than components: still defined
            warnings.simplefilter("ignore", ConvergenceWarning)
            gm.fit(scores)
    draws = gm.sample(int(n_draws))[0]
    return float(np.percentile(draws, 100.0 - 100.0 * float(ratio)))


def _fit_mixture(gm: GaussianMixture, X: np.ndarray) -> GaussianMixture:
    """``gm.fit(X)`` for a float64 C-ordered ``X`` of shape (n, 1), without the validation.

    AutoAL fits ≈ 750 small mixtures per trial, and ``GaussianMixture.fit`` spent half of each
    fit validating its input and building a ``KMeans`` estimator for its initial
    responsibilities (twice validated again). These are the fit's own steps, in its order and
    with its functions, for ``n_init=1``, ``init_params="kmeans"`` and no warm start: the
    k-means labels as ``KMeans(n_clusters, n_init=1, random_state=rs).fit(X).labels_`` computes
    them (a C-ordered copy, the tolerance of the uncentred copy, centring, unit weights,
    scikit-learn's greedy k-means++ on ``rs`` and its Lloyd iterations with the estimator's
    thread count), one-hot responsibilities, then EM until the lower bound changes by less than
    ``tol``. The fitted parameters equal the estimator's bit for bit (tests); like the caller
    before, it does not warn when EM stops at ``max_iter``.
    """
    n, k = X.shape[0], gm.n_components
    rs = np.random.RandomState(gm.random_state)  # check_random_state(int) of fit_predict
    Xk = np.array(X, order="C", copy=True)
    tol = _tolerance(Xk, 1e-4)
    weights = np.ones(n, dtype=Xk.dtype)
    Xk -= Xk.mean(axis=0)
    centres, _ = _kmeans_plusplus(
        Xk, k, random_state=rs, x_squared_norms=row_norms(Xk, squared=True), sample_weight=weights
    )
    labels, *_ = _kmeans_single_lloyd(
        Xk,
        weights,
        centres,
        max_iter=300,
        verbose=False,
        tol=tol,
        n_threads=_openmp_effective_n_threads(),
    )
    resp = np.zeros((n, k), dtype=X.dtype)
    resp[np.arange(n), labels] = 1
    gm._initialize(X, resp)
    lower_bound = -np.inf
    gm.converged_ = False
    for n_iter in range(1, gm.max_iter + 1):
        gm.n_iter_ = n_iter
        previous = lower_bound
        log_prob_norm, log_resp = gm._e_step(X)
        gm._m_step(X, log_resp)
        lower_bound = gm._compute_lower_bound(log_resp, log_prob_norm)
        if abs(lower_bound - previous) < gm.tol:
            gm.converged_ = True
            break
    gm._set_parameters(gm._get_parameters())
    gm.lower_bound_ = lower_bound
    return gm


def relaxed_scores(scores: torch.Tensor, threshold: float, steepness: float) -> torch.Tensor:
    """``sigmoid(steepness · (scores − threshold))``: a differentiable "is selected" indicator.

    With the published steepness 1e11 the sigmoid is a step in floating point: its derivative is
    exactly zero unless a score lies within ~1e-8 of the threshold, so no gradient reaches the
    SearchNet through it (see docs/ensembles.md, AutoAL).
    """
    return torch.sigmoid(float(steepness) * (scores - float(threshold)))


def size_penalty(n_selected: int, target: int) -> float:
    """The published codes' ``add_loss``: ``2·(σ(0.5·|n − target|) − 0.5)`` as a plain number.

    Both codes compute it from the count of relaxed scores above 0.5, i.e. outside the autograd
    graph, so it shifts the reported loss but contributes no gradient.
    """
    return (1.0 / (1.0 + math.exp(-0.5 * abs(n_selected - target))) - 0.5) * 2.0


def loss_prediction_loss(pred: torch.Tensor, target: torch.Tensor, margin: float = 1.0):
    """Yoo & Kweon's pairwise ranking loss, pairing instance ``i`` with instance ``n−1−i``.

    ``mean(max(0, margin − sign_ij · (p_i − p_j)))`` over all ``n`` ordered pairs, with
    ``sign_ij = +1`` where ``ℓ_i > ℓ_j`` and −1 otherwise, as in the published codes (which take
    every pair twice, once in each order). ``n`` must be even.
    """
    if pred.shape[0] % 2:
        raise ValueError("the loss-prediction loss needs an even batch")
    diff = pred - pred.flip(0)
    target = (target - target.flip(0)).detach()
    one = 2 * torch.sign(torch.clamp(target, min=0)) - 1
    return torch.clamp(margin - one * diff, min=0).sum() / diff.shape[0]


# ---------------------------------------------------------------------- exact serialisation
def pack(t: torch.Tensor) -> dict:
    """A JSON-safe, bit-exact copy of a float tensor (base64 of its little-endian bytes)."""
    a = t.detach().to("cpu").contiguous().numpy()
    return {
        "dtype": str(a.dtype),
        "shape": list(a.shape),
        "data": base64.b64encode(a.astype(a.dtype.newbyteorder("<")).tobytes()).decode("ascii"),
    }


def unpack(d: dict, device: torch.device) -> torch.Tensor:
    """Inverse of :func:`pack`."""
    dtype = np.dtype(d["dtype"]).newbyteorder("<")
    a = np.frombuffer(base64.b64decode(d["data"]), dtype=dtype).reshape(d["shape"])
    return torch.from_numpy(a.astype(a.dtype.newbyteorder("="))).to(device)


def pack_module(module: nn.Module) -> dict:
    return {name: pack(p) for name, p in module.state_dict().items()}


def load_module(module: nn.Module, state: dict, device: torch.device) -> None:
    own = module.state_dict()
    if set(state) != set(own):
        raise KeyError(f"parameters {sorted(state)} do not match {sorted(own)}")
    loaded = {}
    for name, d in state.items():
        t = unpack(d, device)
        if tuple(t.shape) != tuple(own[name].shape):
            raise ValueError(
                f"parameter {name} has shape {tuple(t.shape)}, expected {own[name].shape}"
            )
        loaded[name] = t
    module.load_state_dict(loaded)
