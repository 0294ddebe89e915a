"""UHerding (Bae, Sutherland & Oliveira, ICLR 2025): uncertainty-weighted kernel coverage.

Refine's final coverage selector (docs/protocol.md §1) and a member of its ensemble. The per-cycle
quantities — the temperature T (one head retrained on 80 % of L), the RBF bandwidth from L and the
uncertainties of the pool — are computed once per cycle through ``ctx.memo`` and shared by the ~55
draws of progressive filtering and the final selection.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.model_selection import train_test_split

from refine.errors import ConfigError, check_fraction, check_memory_budget, check_positive_int
from refine.head import softmax
from refine.strategies._herding import (
    GAINS,
    HERDING_LARGE_POOL,
    check_choice,
    check_gamma,
    herding_greedy,
    labeled_coverage,
    min_pairwise_distance,
)
from refine.strategies._large_pool import POOL_SAMPLE, check_large_pool, large_pool_subsample
from refine.strategies.base import Selection, Strategy
from refine.strategies.registry import register_strategy

UNCERTAINTIES = ("margin", "least_confidence", "entropy")
SPLITS = ("stratified", "random")
ZERO_DISTANCES = ("fallback", "exclude")
TEMPERATURE_SCOPES = ("shared", "own")
#: T ∈ {1.0, 1.1, …, 19.9}: the grid of the original code (``np.arange(1.0, 20, 0.1)``) and of
#: dal-toolbox.
DEFAULT_TEMPERATURES = tuple(np.arange(10, 200) / 10.0)


# ---------------------------------------------------------------------- calibration
def expected_calibration_error(probas: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error of the top-label confidence, equal-width bins.

    ``ECE = Σ_b (n_b / n) · |acc_b − conf_b|`` over the bins of ``conf = max_k p_k``. Bin b holds
    the confidences in ``[b/B, (b+1)/B)``; a confidence of exactly 1.0 gets a bin of its own. This
    is dal-toolbox's ``ExpectedCalibrationError`` (``torch.bucketize(conf, upper_edges,
    right=True)`` with the upper edges ``linspace(0, 1, B+1)[1:]``), without its +eps in the bin
    counts.

    Parameters
    ----------
    probas : ndarray of shape (n, K)
    labels : ndarray of shape (n,)
    n_bins : int
        Number of equal-width bins B (15 in dal-toolbox; the original code uses K).

    Returns
    -------
    float
    """
    probas = np.asarray(probas, dtype=np.float64)
    labels = np.asarray(labels)
    n = probas.shape[0]
    if n == 0:
        return 0.0
    conf = probas.max(axis=1)
    correct = (probas.argmax(axis=1) == labels).astype(np.float64)
    upper = np.linspace(0.0, 1.0, n_bins + 1)[1:]
    bins = np.searchsorted(upper, conf, side="right")
    conf_sum = np.bincount(bins, weights=conf, minlength=n_bins + 1)
    acc_sum = np.bincount(bins, weights=correct, minlength=n_bins + 1)
    # Σ_b (n_b/n)·|acc_b − conf_b| = Σ_b |Σ correct − Σ conf| / n
    return float(np.abs(acc_sum - conf_sum).sum() / n)


def select_temperature(
    logits: np.ndarray,
    labels: np.ndarray,
    temperatures=DEFAULT_TEMPERATURES,
    n_bins: int = 15,
) -> tuple[float, np.ndarray]:
    """The temperature of the grid with the smallest ECE of ``softmax(logits / T)``.

    Ties go to the first (smallest) temperature, as in the published code (strict ``<``).

    Returns
    -------
    (float, ndarray)
        The chosen T and the ECE of every grid value.
    """
    logits = np.asarray(logits, dtype=np.float64)
    eces = np.array(
        [expected_calibration_error(softmax(logits / t), labels, n_bins) for t in temperatures]
    )
    return float(temperatures[int(np.argmin(eces))]), eces


def uncertainty_scores(logits: np.ndarray, temperature: float, measure: str) -> np.ndarray:
    """Uncertainty of ``softmax(logits / T)`` per row (float32).

    ``"margin"``: ``1 − (p_(1) − p_(2))`` (UHerding's ``uherding_margin``, the published code's
    default); ``"least_confidence"``: ``1 − p_(1)``; ``"entropy"``: ``−Σ p log p``.
    """
    p = softmax(np.asarray(logits, dtype=np.float32) / np.float32(temperature))
    if measure == "margin":
        top2 = np.partition(p, p.shape[1] - 2, axis=1)[:, -2:]
        return (1.0 - (top2[:, 1] - top2[:, 0])).astype(np.float32)
    if measure == "least_confidence":
        return (1.0 - p.max(axis=1)).astype(np.float32)
    return (-(p * np.log(np.maximum(p, np.finfo(np.float32).tiny))).sum(axis=1)).astype(np.float32)


def holdout_split(
    labels: np.ndarray, val_fraction: float, split: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training and held-out parts of L.

    ``split="stratified"`` keeps the class proportions when scikit-learn can (every class at least
    twice, both parts at least one instance per class) and falls back to a uniform random split
    otherwise; ``split="random"`` is the published code's ``train_test_split`` without
    stratification. The held-out part has ``ceil(val_fraction · |L|)`` instances.
    """
    pos = np.arange(labels.size)
    if split == "stratified":
        try:
            tr, va = train_test_split(
                pos, test_size=val_fraction, stratify=labels, random_state=seed
            )
            return np.sort(tr), np.sort(va)
        except ValueError:
            pass  # a class too small to stratify: random split
    tr, va = train_test_split(pos, test_size=val_fraction, random_state=seed)
    return np.sort(tr), np.sort(va)


@register_strategy
class UHerding(Strategy):
    """Uncertainty Herding: greedy uncertainty-weighted kernel coverage.

    Each step adds ``c* = argmax_c mean_{x ∈ C} u(x) · max(k(x, c) − m(x), 0)`` over the
    candidates C, with ``k(x, y) = exp(−γ‖x − y‖²)`` on L2-normalised features,
    ``m(x) = max_{s ∈ S ∪ L} k(x, s)`` (0 when S ∪ L is empty), then sets ``m ← max(m, k(·, c*))``.
    The uncertainty u weights the *covered* points x, not the candidate. The coverage set is the
    candidate set, as in the published code; the original covers L ∪ C with ``u = 0`` on L, which
    selects the same points (labeled points are fully covered from the start).

    Per-cycle quantities (computed once per cycle through ``ctx.memo``, reused by every draw):

    - **Temperature** T: L is split into 80 % / 20 % (``ctx.rng_for("uherding-temperature")``);
      a head is retrained from the run's initial weights on the 80 % (``ctx.fit_head``, the
      paper's protocol, 200 epochs) and T is the value of {1.0, 1.1, …, 19.9} with the smallest
      15-bin ECE of its held-out probabilities (:func:`expected_calibration_error`). With fewer than
      ``min_labeled_temperature`` labeled instances T = 1: the held-out part would be a single
      instance (dal-toolbox fails outright with one labeled instance, whose 80 % is empty).
    - **Bandwidth**: ``γ = 1/d_min²`` with d_min the smallest pairwise distance within L
      (normalised features). With fewer than two labeled instances γ = 1.
    - **Uncertainty** ``u(x) = 1 − (p_(1) − p_(2))`` of ``softmax(logits / T)`` of the head
      trained on all of L, for the whole pool. With an empty L, ``u ≡ 1`` (UHerding is then
      MaxHerding with γ = 1), as in the original; when every candidate has u = 0 (saturated
      probabilities), ``u ≡ 1`` as well (scikit-activeml's fallback), since all gains would be 0.

    Deviations between the original, the published Refine code (dal-toolbox, **[DAL]**) and this
    implementation, and the defaults:

    - ``gain="paper"`` (default): the papers' and the original's gain above.
      ``gain="published"`` reproduces dal-toolbox, which scores candidate i as
      ``u(i) · mean_j max(k(i, j) − m(i), 0)`` (running maximum stored as a column; docs/protocol.md §5).
    - Temperature: original holds out the last 30 % of L with ``n_bins = K``; **[DAL]** a random
      20 % with 15 bins (default here). ``temperature_split="random"`` (default, published) splits
      at random; ``"stratified"`` stratifies the 20 % by class when every class has at least two
      labeled instances and falls back to the random split otherwise.
    - Bandwidth: the original takes the smallest *non-zero* labeled distance; **[DAL]** takes the
      smallest distance including zeros and falls back to γ = 1 when it is 0 (duplicated labeled
      features). ``zero_distances="fallback"`` (default, published) or ``"exclude"`` (original).
      Distances below 1e-3 (unit vectors; below the float32 resolution of the kernel) count as
      zero. dal-toolbox fails on an empty L and, with a single labeled instance, gets
      d_min = ∞ and γ = 0 (a constant kernel); here both give γ = 1.
    - dal-toolbox can pick a candidate twice once every score is 0; here picks are unique and,
      once every remaining gain is 0, the batch is filled uniformly at random.

    Scale: see :class:`~refine.strategies.maxherding.MaxHerding` (same kernel machinery). The
    per-cycle work is one head fit on 80 % of L (the temperature) plus an O(|L|²·D) bandwidth
    pass; every further call of the cycle only indexes the memoised T, γ and u. Measured on this
    2-core machine, D = 384, K = 200, |L| = 1000, n = 5000, b = 200: 0.2–0.5 s per call once the
    cycle's quantities are memoised.

    Parameters
    ----------
    gain : {"paper", "published"}, default="paper"
        Greedy score (see above).
    uncertainty : {"margin", "least_confidence", "entropy"}, default="margin"
        Uncertainty measure u of the temperature-scaled probabilities.
    temperature : "ece" or float, default="ece"
        ``"ece"`` chooses T per cycle as described; a number fixes T (no retraining).
    temperature_grid : sequence of float, optional
        Candidate temperatures (default {1.0, 1.1, …, 19.9}).
    val_fraction : float, default=0.2
        Held-out share of L for choosing T.
    ece_bins : int, default=15
        Number of ECE bins.
    temperature_split : {"random", "stratified"}, default="random"
        How L is split for choosing T.
    min_labeled_temperature : int, default=5
        Below this many labeled instances T = 1.
    gamma : "auto" or float, default="auto"
        ``"auto"``: γ = 1/d_min² from L (with the fallbacks above); a number fixes γ.
    zero_distances : {"fallback", "exclude"}, default="fallback"
        Treatment of zero labeled distances in d_min (published fallback to γ = 1, or the
        original's exclusion).
    temperature_scope : {"shared", "own"}, default="shared"
        ``"shared"``: T is fitted once per cycle and shared by every UHerding of the cycle (the
        ensemble members' draws and Refine's final selection). ``"own"``: this instance refits T
        at every call on its own random 80/20 split of L (``ctx.rng_for("uherding-temperature",
        "own")``, a stream independent of the shared one), as the published Refine's final
        UHerding does: it is a separate instance without the members' per-cycle cache. The
        ``published`` profile (:mod:`refine.profiles`) sets it for Refine's final step.
    memory_budget_mb : float, default=512
        Bound on the memory of the kernel and of each block of kernel rows.
    large_pool : int or None, default=20000
        Above this many candidates, score and cover a uniform random subsample of
        ``pool_sample`` of them (the published subsample semantics,
        :mod:`refine.strategies._large_pool`; recorded in ``trace_["large_pool"]``): the kernel
        is n × n, so the cost grows as n². None = always all candidates.
    pool_sample : int, default=10000
        Size of that subsample (at most ``large_pool``; raised to b when smaller). 10 000
        candidates keep the whole kernel within the default memory budget.

    References
    ----------
    W. Bae, D. J. Sutherland, G. L. Oliveira. Uncertainty herding: one active learning method for
    all label budgets. ICLR 2025. Original code: ``BorealisAI/uherding`` (copy
    ``wkgong/uncertainty_herding`` @620ff74, ``deep-al/pycls/al/uherding.py``,
    ``calibration/temperature_scaling.py``). Published Refine code: ``dhuseljic/dal-toolbox``
    @e9bf05ca, ``dal_toolbox/active_learning/strategies/herding.py`` (``UncertaintyHerding``).
    C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger. On calibration of modern neural networks.
    ICML 2017 (temperature scaling, ECE).
    """

    name = "uherding"
    direct_rng = True  # draws (fill, large-pool subsample) come from rng itself
    requires = frozenset({"probas", "head", "labels", "features", "normalized_features"})
    label_free = True

    def __init__(
        self,
        gain: str = "paper",
        uncertainty: str = "margin",
        temperature="ece",
        temperature_grid=None,
        val_fraction: float = 0.2,
        ece_bins: int = 15,
        temperature_split: str = "random",
        min_labeled_temperature: int = 5,
        gamma="auto",
        zero_distances: str = "fallback",
        memory_budget_mb: float = 512.0,
        temperature_scope: str = "shared",
        large_pool: int | None = HERDING_LARGE_POOL,
        pool_sample: int = POOL_SAMPLE,
    ):
        self.gain = gain
        self.uncertainty = uncertainty
        self.temperature = temperature
        self.temperature_grid = temperature_grid
        self.val_fraction = val_fraction
        self.ece_bins = ece_bins
        self.temperature_split = temperature_split
        self.min_labeled_temperature = min_labeled_temperature
        self.gamma = gamma
        self.zero_distances = zero_distances
        self.memory_budget_mb = memory_budget_mb
        self.temperature_scope = temperature_scope
        self.large_pool = large_pool
        self.pool_sample = pool_sample

    # ------------------------------------------------------------------ parameters
    def _validate_params(self) -> dict:
        p = {
            "gain": check_choice("gain", self.gain, GAINS),
            "uncertainty": check_choice("uncertainty", self.uncertainty, UNCERTAINTIES),
            "split": check_choice("temperature_split", self.temperature_split, SPLITS),
            "zero_distances": check_choice("zero_distances", self.zero_distances, ZERO_DISTANCES),
            "scope": check_choice("temperature_scope", self.temperature_scope, TEMPERATURE_SCOPES),
            "gamma": check_gamma(self.gamma, allow_auto=True),
            "budget": check_memory_budget(self.memory_budget_mb),
            "large_pool": check_large_pool(self.large_pool, self.pool_sample),
            "val_fraction": check_fraction("val_fraction", self.val_fraction, high_closed=False),
            "ece_bins": check_positive_int("ece_bins", self.ece_bins),
            "min_labeled": check_positive_int(
                "min_labeled_temperature", self.min_labeled_temperature, minimum=2
            ),
        }
        t = self.temperature
        if t != "ece" and (
            isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0
        ):
            raise ConfigError(f"temperature must be 'ece' or a number > 0, got {t!r}")
        p["temperature"] = t if t == "ece" else float(t)
        grid = DEFAULT_TEMPERATURES if self.temperature_grid is None else self.temperature_grid
        try:
            grid = tuple(float(v) for v in grid)
        except (TypeError, ValueError):
            raise ConfigError(
                f"temperature_grid must be a sequence of numbers > 0, got {grid!r}"
            ) from None
        if not grid or not all(math.isfinite(v) and v > 0 for v in grid):
            raise ConfigError("temperature_grid must be a non-empty sequence of numbers > 0")
        p["grid"] = grid
        return p

    # ------------------------------------------------------------------ per-cycle quantities
    def cycle_temperature(self, ctx, p: dict | None = None) -> float:
        """The temperature of this cycle (memoised in ``ctx``)."""
        p = self._validate_params() if p is None else p
        if p["temperature"] != "ece":
            return p["temperature"]
        if p["scope"] == "own":  # no cache: a fresh fit on this instance's own split
            return self._fit_temperature(ctx, p, scope=("own",))
        key = (
            "uherding-temperature",
            p["val_fraction"],
            p["ece_bins"],
            p["split"],
            p["min_labeled"],
            p["grid"],
        )
        return ctx.memo(key, lambda: self._fit_temperature(ctx, p))

    @staticmethod
    def _fit_temperature(ctx, p: dict, scope: tuple = ()) -> float:
        if ctx.n_labeled < p["min_labeled"]:
            return 1.0
        seed = int(ctx.rng_for("uherding-temperature", *scope).integers(2**31 - 1))
        tr, va = holdout_split(ctx.labels, p["val_fraction"], p["split"], seed)
        if tr.size == 0 or va.size == 0:
            return 1.0
        key = "-".join(("uherding-temperature", *scope))
        head = ctx.fit_head(ctx.labeled[tr], ctx.labels[tr], key=key)
        logits = head.logits(ctx.X[ctx.labeled[va]])
        return select_temperature(logits, ctx.labels[va], p["grid"], p["ece_bins"])[0]

    def cycle_gamma(self, ctx, p: dict | None = None) -> float:
        """The RBF γ of this cycle (memoised in ``ctx``)."""
        p = self._validate_params() if p is None else p
        if p["gamma"] != "auto":
            return p["gamma"]

        def compute() -> float:
            d = min_pairwise_distance(
                ctx.normalized_features(ctx.labeled),
                exclude_zeros=p["zero_distances"] == "exclude",
                memory_budget_mb=p["budget"],
            )
            # no pair (|L| < 2), or d_min = 0 under the published rule: γ = 1
            return 1.0 / (d * d) if 0.0 < d < math.inf else 1.0

        return ctx.memo(("uherding-gamma", p["zero_distances"]), compute)

    def pool_uncertainty(self, ctx, p: dict | None = None) -> np.ndarray:
        """u over the whole pool for this cycle (memoised; all ones when L is empty)."""
        p = self._validate_params() if p is None else p
        if ctx.n_labeled == 0:
            return np.ones(ctx.n_pool, dtype=np.float32)
        t = self.cycle_temperature(ctx, p)
        return ctx.memo(
            ("uherding-u", p["uncertainty"], t),
            lambda: uncertainty_scores(ctx.logits(), t, p["uncertainty"]),
        )

    # ------------------------------------------------------------------ selection
    def _select(self, ctx, candidates, batch_size, rng):
        p = self._validate_params()
        limit, sample = p["large_pool"]
        candidates, note = large_pool_subsample(candidates, limit, max(sample, batch_size), rng)
        u = self.pool_uncertainty(ctx, p)[candidates]
        if not (u > 0).any():
            u = np.ones_like(u)
        gamma = self.cycle_gamma(ctx, p)
        if ctx.kernel_device is not None:  # torch kernels (refine/strategies/_torch_herding.py)
            from refine.strategies._torch_herding import herding_select

            kw = dict(gamma=gamma, u=u, gain=p["gain"], memory_budget_mb=p["budget"], rng=rng)
            return Selection(candidates[herding_select(ctx, candidates, batch_size, **kw)], note)
        F = ctx.normalized_features(candidates)
        m0 = labeled_coverage(F, ctx.normalized_features(ctx.labeled), gamma, p["budget"])
        picks = herding_greedy(
            F,
            batch_size,
            gamma=gamma,
            u=u,
            m0=m0,
            gain=p["gain"],
            memory_budget_mb=p["budget"],
            rng=rng,
        )
        return Selection(candidates[picks], note)
