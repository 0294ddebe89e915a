"""TAILOR (Zhang et al., 2023): Thompson sampling over AL strategies with a class-balance reward.

Every strategy of an ensemble is an *arm*. For each instance of a batch, TAILOR draws one
plausible class distribution per arm from a Dirichlet posterior over the labels that arm has
produced, and lets the arm whose draw promises the most class-balancing label propose the next
instance. After the batch the revealed labels update the posterior, with a discount that lets it
follow a changing best arm.

The Refine comparison (dal-toolbox ``strategies.py::TAILOR``, docs/ensembles.md) uses the nine
strategies of Refine's ensemble as arms, the "div" reward, a +1 Dirichlet prior and a 0.9
discount, as the original TAILOR code does.

References
----------
J. Zhang, S. Shao, S. Verma, R. Nowak. Algorithm Selection for Deep Active Learning with
Imbalanced Datasets. NeurIPS 2023, arXiv 2302.07317. Code: ``jifanz/TAILOR``
(``strategy/meta/thompson_meta.py``).

D. Huseljic et al. Cleaning the Pool: Progressive Filtering of Unlabeled Pools in Deep Active
Learning. arXiv 2511.22344 (TAILOR as an ensemble baseline).
"""

from __future__ import annotations

import numbers

import numpy as np

from refine.errors import ConfigError, unknown_choice
from refine.seeding import child_rng, rng_seed_sequence
from refine.strategies._large_pool import (
    LARGE_POOL,
    POOL_SAMPLE,
    check_large_pool,
    large_pool_subsample,
)
from refine.strategies.base import Selection, Strategy
from refine.strategies.filtering import DEFAULT_ENSEMBLE
from refine.strategies.registry import make_strategy, register_strategy

_MODES = ("ranked", "per_pick")


def class_balance_reward(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """TAILOR's "div" reward vector ``v`` over the K classes.

    ``w_k = max(1, n_k)`` with ``n_k`` the number of labeled instances of class ``k``; the sign
    of ``w_k`` is flipped where ``w_k / |L| > 0.5``; ``v_k = 1 / w_k``. Rare classes earn a large
    positive reward, a class holding the majority of L a negative one.

    Parameters
    ----------
    labels : ndarray of int
        Labels of the labeled set.
    n_classes : int
        Number of classes K.

    Returns
    -------
    ndarray of shape (K,)
        The reward of a label of each class (float64).

    Notes
    -----
    The majority test uses the *clipped* counts, as both the original code (``get_v``) and
    dal-toolbox do. This matters only for |L| = 1, where every class then counts as a majority
    and all rewards are −1. For an empty labeled set (undefined in both codes) every class gets
    reward 1.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size == 0:
        return np.ones(n_classes)
    w = np.maximum(np.bincount(labels, minlength=n_classes).astype(np.float64), 1.0)
    w[w / labels.size > 0.5] *= -1.0
    return 1.0 / w


@register_strategy
class TAILOR(Strategy):
    """TAILOR: per-instance Thompson sampling over strategy arms, class-balance reward.

    For each of the ``b`` picks of a batch: draw ``θ_i ~ Dirichlet(α_i + 1)`` for every arm
    ``i``, let the arm ``i* = argmax_i θ_i · v`` (first arm on ties) propose its next instance not
    chosen yet. The reward ``v`` (:func:`class_balance_reward`) and ``α`` stay fixed during the
    batch. After the labels of the batch are revealed (:meth:`observe`),
    ``α ← discount · α + Δα`` where ``Δα_{i,k}`` counts the picks of arm ``i`` whose label is
    ``k`` (labels are "revealed only at the end of the batch", as in the original code).

    Arms are *ranked proposers*: in ``mode="ranked"`` (default) an arm, when first pulled in a
    cycle, ranks the candidates once (``Strategy.rank`` with ``n = batch_size``) and each pull
    hands out its best-ranked instance that no arm has chosen yet. An arm whose ranking is used
    up (possible only for strategies that rank fewer than ``n``) ranks the remaining candidates
    again; if it still has nothing, a random remaining candidate is taken. Arms are not re-run
    after other arms' picks (the original code notifies incremental arms; the nine default arms
    have no incremental update). ``mode="per_pick"`` is the published Refine code's behaviour:
    every pull runs the arm's selection for one instance on the remaining candidates, i.e. up to
    ``b`` runs per arm and cycle.

    Parameters
    ----------
    strategies : sequence of str, default: Refine's nine
        The arms (random, margin, badge, bait, typiclust, alfamix, dropquery, maxherding,
        uherding), registry names, unique.
    strategy_params : dict, optional
        ``{name: {param: value}}`` for the arms.
    discount : float in (0, 1], default=0.9
        Factor applied to ``α`` after every batch.
    init_alpha : float > 0, default=1.0
        Initial value of every entry of ``α`` (both codes initialise with ones).
    mode : {"ranked", "per_pick"}, default="ranked"
        How an arm proposes its instance (see above).
    large_pool : int or None, default=100000
        Above this many candidates, every arm works on one uniform random subsample of
        ``pool_sample`` of them, drawn first (the published subsample semantics, as the
        published ensemble baselines score ``subset_size`` candidates;
        :mod:`refine.strategies._large_pool`; recorded in ``trace_["large_pool"]``): some arms
        (BAIT, the herding family) take minutes on a million candidates. None: never.
    pool_sample : int, default=10000
        Size of that subsample (at most ``large_pool``).

    Attributes
    ----------
    alpha_ : ndarray of shape (M, K) or None
        The posterior counts (None until the first cycle; K is taken from the context). Part of
        :meth:`state_dict`, so a resumed run continues with the same posterior.
    trace_ : dict
        The last batch: ``tailor_arms`` (names), ``tailor_picks`` (arm index of each pick, in
        pick order), ``tailor_arm_counts`` ({name: picks}), ``tailor_reward`` (v).

    Notes
    -----
    Only the multi-class form is implemented: the Beta posterior and the "pos" reward of the
    original code serve multi-label data. The reward uses the true labels of the picks (the
    simulated oracle of both codes), which the AL loop passes to :meth:`observe`.

    References
    ----------
    J. Zhang, S. Shao, S. Verma, R. Nowak. Algorithm Selection for Deep Active Learning with
    Imbalanced Datasets. NeurIPS 2023, arXiv 2302.07317.
    """

    name = "tailor"
    requires = frozenset({"labels"})

    def __init__(
        self,
        strategies=DEFAULT_ENSEMBLE,
        strategy_params: dict | None = None,
        discount: float = 0.9,
        init_alpha: float = 1.0,
        mode: str = "ranked",
        large_pool: int | None = LARGE_POOL,
        pool_sample: int = POOL_SAMPLE,
    ):
        self.strategies = strategies
        self.strategy_params = strategy_params
        self.discount = discount
        self.init_alpha = init_alpha
        self.mode = mode
        self.large_pool = large_pool
        self.pool_sample = pool_sample

    def requirements(self) -> frozenset[str]:
        """The arms' needs and the labels of the class-balance reward."""
        arms = [
            make_strategy(n, **((self.strategy_params or {}).get(n) or {}))
            for n in self._arm_names()
        ]
        return frozenset({"labels"}).union(*(a.requirements() for a in arms))

    # ------------------------------------------------------------------ parameters and state
    def _arm_names(self) -> tuple[str, ...]:
        names = (self.strategies,) if isinstance(self.strategies, str) else self.strategies
        try:
            names = tuple(names)
        except TypeError:
            raise ConfigError(
                f"strategies must be a sequence of strategy names, got {self.strategies!r}"
            ) from None
        if not names or not all(isinstance(n, str) for n in names):
            raise ConfigError(
                f"strategies must be a non-empty sequence of strategy names, got {names!r}"
            )
        if len(set(names)) != len(names):
            raise ConfigError(f"strategies must be unique, got {list(names)}")
        return names

    def _validate_params(self) -> tuple[str, ...]:
        names = self._arm_names()
        d = self.discount
        if isinstance(d, bool) or not isinstance(d, numbers.Real) or not 0 < d <= 1:
            raise ConfigError(f"discount must be a number in (0, 1], got {d!r}")
        a = self.init_alpha
        if isinstance(a, bool) or not isinstance(a, numbers.Real) or not (np.isfinite(a) and a > 0):
            raise ConfigError(f"init_alpha must be a finite number > 0, got {a!r}")
        if self.mode not in _MODES:
            raise unknown_choice("mode", self.mode, _MODES)
        if self.strategy_params is not None and not isinstance(self.strategy_params, dict):
            raise ConfigError(
                f"strategy_params must be a dict {{name: {{param: value}}}}, got "
                f"{self.strategy_params!r}"
            )
        check_large_pool(self.large_pool, self.pool_sample)
        return names

    def _alpha(self, n_arms: int, n_classes: int) -> np.ndarray:
        """``alpha_``, created lazily (K is known only once a context is seen)."""
        alpha = getattr(self, "alpha_", None)
        if alpha is None:
            alpha = np.full((n_arms, n_classes), float(self.init_alpha))
            self.alpha_ = alpha
        elif alpha.shape != (n_arms, n_classes):
            raise ConfigError(
                f"TAILOR's posterior has shape {alpha.shape} but this run has {n_arms} arms and "
                f"{n_classes} classes; build a new strategy for a different run"
            )
        return alpha

    def state_dict(self) -> dict:
        alpha = getattr(self, "alpha_", None)
        return {
            "arms": list(self._arm_names()),
            "alpha": None if alpha is None else alpha.tolist(),
        }

    def load_state_dict(self, state: dict) -> None:
        if not state:
            self.alpha_ = None
            return
        names = list(self._arm_names())
        if state.get("arms") != names:
            raise ConfigError(
                f"saved TAILOR state has arms {state.get('arms')}, this strategy has {names}"
            )
        alpha = state.get("alpha")
        self.alpha_ = None if alpha is None else np.asarray(alpha, dtype=np.float64)

    # ------------------------------------------------------------------ selection
    def _early_trace(self, ctx, batch_size):
        # picks made without arms are attributed to no arm: drop what a previous batch left
        self._pending = {}
        return {"tailor_arms": list(self._arm_names()), "tailor_picks": []}

    def _select(self, ctx, candidates, batch_size, rng):
        names = self._validate_params()
        # the arms need at least a batch to choose from
        sample = max(int(self.pool_sample), batch_size)
        candidates, large = large_pool_subsample(candidates, self.large_pool, sample, rng)
        arms = [make_strategy(n, **((self.strategy_params or {}).get(n) or {})) for n in names]
        alpha = self._alpha(len(arms), ctx.n_classes)
        v = class_balance_reward(ctx.labels, ctx.n_classes)
        root = rng_seed_sequence(rng)
        thompson = child_rng(root, "thompson")

        chosen: list[int] = []
        taken = np.zeros(ctx.n_pool, dtype=bool)
        picks: list[int] = []
        rankings: list[list[int] | None] = [None] * len(arms)
        pointers = [0] * len(arms)
        refills = [0] * len(arms)

        def remaining() -> np.ndarray:
            return candidates[~taken[candidates]]

        def next_ranked(i: int) -> int:
            if rankings[i] is None:  # rank once per cycle, on first pull
                r = arms[i].rank(ctx, candidates, batch_size, child_rng(root, "arm", names[i]))
                rankings[i] = [int(x) for x in r]
            while True:
                ranking = rankings[i]
                while pointers[i] < len(ranking) and taken[ranking[pointers[i]]]:
                    pointers[i] += 1
                if pointers[i] < len(ranking):
                    return ranking[pointers[i]]
                if refills[i] > 0:  # ranked the remaining candidates already: give up
                    break
                refills[i] += 1
                rest = remaining()
                more = arms[i].rank(
                    ctx,
                    rest,
                    batch_size - len(chosen),
                    child_rng(root, "arm", names[i], "refill"),
                )
                ranking.extend(int(x) for x in more)
            rest = remaining()
            return int(child_rng(root, "fallback", len(chosen)).choice(rest))

        def next_per_pick(i: int) -> int:
            rest = remaining()
            pick_rng = child_rng(root, "arm", names[i], "pick", len(chosen))
            return int(arms[i].select(ctx, rest, 1, pick_rng)[0])

        propose = next_ranked if self.mode == "ranked" else next_per_pick
        for _ in range(batch_size):
            # One posterior draw per arm and pick; α is fixed during the batch.
            theta = np.stack([thompson.dirichlet(alpha[i] + 1.0) for i in range(len(arms))])
            i = int(np.argmax(theta @ v))
            idx = propose(i)
            chosen.append(idx)
            taken[idx] = True
            picks.append(i)

        self._pending = dict(zip(chosen, picks, strict=True))
        counts = np.bincount(picks, minlength=len(arms))
        trace = {
            "tailor_arms": list(names),
            "tailor_picks": picks,
            "tailor_arm_counts": {n: int(c) for n, c in zip(names, counts, strict=True)},
            "tailor_reward": v.tolist(),
            **large,
        }
        return Selection(np.asarray(chosen, dtype=np.int64), trace)

    def observe(self, indices, labels, ctx) -> None:
        """Reveal the batch's labels: ``α ← discount·α + Δα`` (Δα from each pick's arm)."""
        names = self._validate_params()
        alpha = self._alpha(len(names), ctx.n_classes)
        pending = getattr(self, "_pending", None) or {}
        delta = np.zeros_like(alpha)
        for idx, y in zip(np.asarray(indices).tolist(), np.asarray(labels).tolist(), strict=True):
            arm = pending.get(int(idx))
            if arm is not None:
                delta[arm, int(y)] += 1.0
        self.alpha_ = float(self.discount) * alpha + delta
        self._pending = {}
