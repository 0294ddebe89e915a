"""SelectAL (Hacohen & Weinshall, 2023): choose the budget regime by a removal-based derivative test.

Whether typical (low-budget) or atypical/uncertain (high-budget) instances help most is decided
each cycle by the opposite experiment on the labeled set: remove a small set of each kind from L,
retrain, and see which removal hurts validation accuracy most. The regime whose removal hurts most
is the one whose additions are expected to help most, and its strategy queries the batch.

Behaviour follows the Refine authors' reimplementation (dal-toolbox ``strategies.py::SelectAL``,
docs/ensembles.md), which the published comparison ran with its class defaults: 5% of L removed per
surrogate (random ×5, TypiClust, inverse TypiClust), 5 validation repeats on a 5% split, 50
training epochs, and Random / TypiClust / BADGE as the strategies of the three regimes.

References
----------
G. Hacohen, D. Weinshall. How to Select Which Active Learning Strategy is Best Suited for Your
Specific Problem and Budget. NeurIPS 2023, arXiv 2306.03543.

D. Huseljic et al. Cleaning the Pool: Progressive Filtering of Unlabeled Pools in Deep Active
Learning. arXiv 2511.22344 (SelectAL as an ensemble baseline).
"""

from __future__ import annotations

import copy
import dataclasses
import numbers

import numpy as np
from sklearn.base import clone

from refine.context import SelectionContext
from refine.errors import ConfigError, check_positive_int
from refine.seeding import child_rng, child_seed, rng_seed_sequence
from refine.strategies.base import Selection, Strategy
from refine.strategies.registry import make_strategy, register_strategy

#: The three regimes, in the order of the derivative test (ties are broken at random).
REGIMES = ("random", "low", "high")


def _build(spec: str | Strategy, strategy_params: dict | None) -> Strategy:
    """A fresh strategy from a registry name (with its ``strategy_params`` entry) or an instance."""
    if isinstance(spec, Strategy):
        return clone(spec)
    return make_strategy(spec, **((strategy_params or {}).get(spec) or {}))


def _spec_name(spec: str | Strategy) -> str:
    return spec if isinstance(spec, str) else (spec.name or type(spec).__name__)


@register_strategy
class SelectAL(Strategy):
    """SelectAL: pick Random, the low-budget or the high-budget strategy by a removal test.

    One cycle (docs/ensembles.md):

    1. ``K`` = number of classes present in L, ``e = int(epsilon·|L|)`` (or ``epsilon`` itself
       when it is an absolute count), ``c = clip(e // K, 1, smallest class count)``.
    2. For each surrogate ``s`` in (random repeated ``num_random_reps`` times, ``surrogate_low``,
       ``surrogate_high``): for every class ``k``, ``s`` selects ``c`` instances from ``L_k`` as if
       ``L_k`` were the unlabeled pool and nothing were labeled; their union ``R_s`` is removed
       from L, one by one in that order, as long as more than 2 instances remain. Then
       ``num_val_reps`` times: hold out a random ``max(1, int(val_split·|L'|))`` of the remaining
       ``L'``, train a fresh head (the run's initial weights) for ``train_epochs`` epochs on the
       rest and measure its accuracy on the held-out part. ``acc_s`` is the mean over all runs.
    3. The regime with the smallest ``acc_s`` (ties at random) wins: random → ``random_strategy``,
       low → ``low_strategy``, high → ``high_strategy``, which then selects the batch from the
       candidates (the AL loop has already subsampled them, as the published baseline's
       ``subset_size`` did).

    Cost per cycle: ``(num_random_reps + 2)·num_val_reps`` head trainings of ``train_epochs``
    epochs on at most |L| instances (35 × 50 epochs by default) plus the surrogates on L.

    Parameters
    ----------
    epsilon : float, default=0.05
        Size of each removal: a fraction of |L| when in (0, 1), otherwise an absolute number of
        instances (an integer >= 1, smaller than |L|).
    low_strategy, high_strategy, random_strategy : str or Strategy, defaults "typiclust", "badge",
        "random"
        Strategies of the three regimes (registry names or instances, which are cloned).
    surrogate_low, surrogate_high : str or Strategy, defaults "typiclust", "inv_typiclust"
        Surrogates that choose what to remove from L for the low- and high-budget regimes.
        Inverse TypiClust stands in for BADGE because uncertainty cannot be measured fairly on
        instances the head was trained on. The random surrogate is always ``"random"``.
    num_random_reps : int, default=5
        Repetitions of the random removal (its accuracy is the mean over them).
    val_split : float in (0, 1), default=0.05
        Fraction of the reduced labeled set held out for validation (at least one instance).
    num_val_reps : int, default=5
        Validation repeats per removal.
    train_epochs : int, default=50
        Epochs of every retraining (the rest of the head protocol is the run's).
    schedule_epochs : int, optional
        Length T of the retrainings' cosine schedule. None (default): T = ``train_epochs``, the
        learning rate anneals to 0 over the 50 epochs. 200 is the published code's (its
        Lightning trainer stops after ``train_epochs`` = 50 epochs of the model's cosine schedule
        with T_max = 200, so the rate only falls to ≈ 0.0085); the ``published`` profile
        (:mod:`refine.profiles`) sets it.
    strategy_params : dict, optional
        ``{name: {param: value}}`` for the strategies and surrogates given by name.

    Attributes
    ----------
    trace_ : dict
        The last cycle's decision: ``selectal_regime`` (random/low/high), ``selectal_choice``
        (the strategy that queried), ``accuracies`` (``acc_s`` per regime),
        ``random_rep_accuracies`` (one per random repetition), ``removed_per_class`` (c),
        ``n_removed`` (per regime; the last random repetition for random) and ``n_labeled``.

    Notes
    -----
    - With |L| = b = K (one label per class, e.g. 10 on CIFAR-10) every removal takes a whole
      class, the 2-instance floor stops it after |L| − 2 removals and the validation set is one
      instance: the test is then close to noise, which fits the Refine paper's remark that
      SelectAL "yields inconsistent performance". This is the published behaviour; it is kept.
    - dal-toolbox guards with ``epsilon >= |L|`` on the raw fraction, which never fires; here an
      absolute ``epsilon`` of at least |L| is a :class:`ConfigError`, as the guard intends.
    - With an empty labeled set the test cannot run; the low-budget strategy queries (the
      derivative test's answer in the limit of no labels) and the trace says why.
    - Unlike dal-toolbox, which hands the last retrained validation head to the chosen strategy,
      the chosen strategy sees the cycle's head trained on all of L (``ctx.head``).

    References
    ----------
    G. Hacohen, D. Weinshall. How to Select Which Active Learning Strategy is Best Suited for Your
    Specific Problem and Budget. NeurIPS 2023, arXiv 2306.03543.
    """

    name = "selectal"
    requires = frozenset({"features", "head", "labels"})

    def __init__(
        self,
        epsilon: float = 0.05,
        low_strategy: str | Strategy = "typiclust",
        high_strategy: str | Strategy = "badge",
        random_strategy: str | Strategy = "random",
        surrogate_low: str | Strategy = "typiclust",
        surrogate_high: str | Strategy = "inv_typiclust",
        num_random_reps: int = 5,
        val_split: float = 0.05,
        num_val_reps: int = 5,
        train_epochs: int = 50,
        strategy_params: dict | None = None,
        schedule_epochs: int | None = None,
    ):
        self.epsilon = epsilon
        self.low_strategy = low_strategy
        self.high_strategy = high_strategy
        self.random_strategy = random_strategy
        self.surrogate_low = surrogate_low
        self.surrogate_high = surrogate_high
        self.num_random_reps = num_random_reps
        self.val_split = val_split
        self.num_val_reps = num_val_reps
        self.train_epochs = train_epochs
        self.strategy_params = strategy_params
        self.schedule_epochs = schedule_epochs

    def requirements(self) -> frozenset[str]:
        """The removal test's needs (features, labels, retraining) and the three regimes'."""
        self._validate_params()
        specs = (self.random_strategy, self.low_strategy, self.high_strategy)
        own = frozenset({"features", "head", "labels"})
        return own.union(*(_build(s, self.strategy_params).requirements() for s in specs))

    # ------------------------------------------------------------------ validation
    def _validate_params(self) -> None:
        eps = self.epsilon
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not np.isfinite(eps):
            raise ConfigError(f"epsilon must be a number in (0, 1) or an integer >= 1, got {eps!r}")
        if eps <= 0 or (eps >= 1 and float(eps) != int(eps)):
            raise ConfigError(
                f"epsilon must be a fraction in (0, 1) or an integer count >= 1, got {eps!r}"
            )
        for param in (
            "low_strategy",
            "high_strategy",
            "random_strategy",
            "surrogate_low",
            "surrogate_high",
        ):
            value = getattr(self, param)
            if not isinstance(value, (str, Strategy)):
                raise ConfigError(
                    f"{param} must be a registered strategy name or a Strategy, got {value!r}"
                )
        check_positive_int("num_random_reps", self.num_random_reps)
        check_positive_int("num_val_reps", self.num_val_reps)
        check_positive_int("train_epochs", self.train_epochs)
        if self.schedule_epochs is not None:
            check_positive_int("schedule_epochs", self.schedule_epochs)
        vs = self.val_split
        if isinstance(vs, bool) or not isinstance(vs, numbers.Real) or not 0 < vs < 1:
            raise ConfigError(f"val_split must be a number in (0, 1), got {vs!r}")
        if self.strategy_params is not None and not isinstance(self.strategy_params, dict):
            raise ConfigError(
                f"strategy_params must be a dict {{name: {{param: value}}}}, got "
                f"{self.strategy_params!r}"
            )

    def _removal_size(self, n_labeled: int) -> int:
        """``e``: instances to remove per surrogate in total (before the per-class split)."""
        eps = self.epsilon
        if 0 < eps < 1:
            return int(eps * n_labeled)
        if int(eps) >= n_labeled:
            raise ConfigError(
                f"epsilon={int(eps)} instances must be smaller than the labeled set "
                f"(|L| = {n_labeled}); use a fraction in (0, 1) or a smaller count"
            )
        return int(eps)

    # ------------------------------------------------------------------ the derivative test
    def decide(self, ctx: SelectionContext, rng: np.random.Generator) -> tuple[str, dict]:
        """Run the removal test on ``ctx``'s labeled set.

        Parameters
        ----------
        ctx : SelectionContext
            This cycle's context (its labeled set and head trainer are used).
        rng : numpy.random.Generator
            Source of every random choice of the test (named children of its SeedSequence).

        Returns
        -------
        regime : {"random", "low", "high"}
            The regime whose removal hurt validation accuracy most.
        trace : dict
            The accuracies behind the decision (see :attr:`trace_`).
        """
        self._validate_params()
        root = rng_seed_sequence(rng)
        n_lab = ctx.n_labeled
        if n_lab == 0:
            return "low", {"n_labeled": 0, "reason": "empty labeled set: no removal test"}
        e = self._removal_size(n_lab)
        classes, counts = np.unique(ctx.labels, return_counts=True)
        c = int(min(max(e // classes.size, 1), counts.min()))

        # Model-free surrogates (random, TypiClust, inverse TypiClust) treat L_k as the unlabeled
        # pool with nothing labeled; one shared sub-context lets them share memoised features.
        surrogates = [
            _build("random", self.strategy_params),
            _build(self.surrogate_low, self.strategy_params),
            _build(self.surrogate_high, self.strategy_params),
        ]
        needs_model = any(s.requires & {"probas", "head"} for s in surrogates)
        sub = SelectionContext(
            ctx.X,
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.int64),
            ctx.n_classes,
            ctx.trainer,
            head=ctx.head if needs_model else None,
            seed=child_seed(root, "surrogate-context"),
            cycle=ctx.cycle,
            kernel_device=ctx.kernel_device,
        )
        # Retrainings: the run's initial weights and protocol, only the epochs changed.
        trainer = copy.copy(ctx.trainer)
        trainer.config = dataclasses.replace(
            ctx.trainer.config,
            epochs=int(self.train_epochs),
            schedule_epochs=None if self.schedule_epochs is None else int(self.schedule_epochs),
        )
        # Positions in ctx.labeled of every labeled pool index (surrogates return pool indices).
        order = np.argsort(ctx.labeled, kind="stable")
        sorted_labeled = ctx.labeled[order]

        def positions(idx: np.ndarray) -> np.ndarray:
            return order[np.searchsorted(sorted_labeled, idx)]

        accuracies: dict[str, float] = {}
        rep_accuracies: list[float] = []
        n_removed: dict[str, int] = {}
        for regime, surrogate in zip(REGIMES, surrogates, strict=True):
            reps = int(self.num_random_reps) if regime == "random" else 1
            accs = []
            for rep in range(reps):
                removed = []
                for k in classes:
                    members = ctx.labeled[ctx.labels == k]
                    pick_rng = child_rng(root, "surrogate", regime, rep, "class", int(k))
                    removed.append(surrogate.select(sub, members, c, pick_rng))
                keep = np.ones(n_lab, dtype=bool)
                n_keep = n_lab
                for pos in positions(np.concatenate(removed)):
                    if n_keep > 2:  # at least two remain: one to train on, one to validate
                        keep[pos] = False
                        n_keep -= 1
                n_removed[regime] = n_lab - n_keep
                kept = np.flatnonzero(keep)
                n_val = max(1, int(kept.size * float(self.val_split)))
                for v in range(int(self.num_val_reps)):
                    split_rng = child_rng(root, "validation", regime, rep, v)
                    val = np.sort(split_rng.choice(kept, size=n_val, replace=False))
                    train = np.setdiff1d(kept, val)
                    seed = int(child_rng(root, "train", regime, rep, v).integers(0, 2**63 - 1))
                    head = trainer.fit(ctx.X[ctx.labeled[train]], ctx.labels[train], seed=seed)
                    accs.append(head.accuracy(ctx.X[ctx.labeled[val]], ctx.labels[val]))
                if regime == "random":
                    rep_accuracies.append(float(np.mean(accs[-int(self.num_val_reps) :])))
            accuracies[regime] = float(np.mean(accs))
        values = np.array([accuracies[r] for r in REGIMES])
        tied = np.flatnonzero(values == values.min())
        regime = REGIMES[int(child_rng(root, "tie-break").choice(tied))]
        trace = {
            "n_labeled": n_lab,
            "removed_per_class": c,
            "n_removed": n_removed,
            "accuracies": accuracies,
            "random_rep_accuracies": rep_accuracies,
        }
        return regime, trace

    def _regime_spec(self, regime: str) -> str | Strategy:
        return {
            "random": self.random_strategy,
            "low": self.low_strategy,
            "high": self.high_strategy,
        }[regime]

    # ------------------------------------------------------------------ selection
    def _early_trace(self, ctx, batch_size):
        # every candidate is returned: the removal test would decide nothing
        return {"selectal_regime": None, "reason": "no more candidates than batch_size"}

    def _select(self, ctx, candidates, batch_size, rng):
        regime, trace = self.decide(ctx, rng)
        spec = self._regime_spec(regime)
        strategy = _build(spec, self.strategy_params)
        batch = strategy.select(
            ctx, candidates, batch_size, child_rng(rng_seed_sequence(rng), "query")
        )
        return Selection(
            batch, {"selectal_regime": regime, "selectal_choice": _spec_name(spec), **trace}
        )
