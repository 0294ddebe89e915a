"""Refine (progressive filtering + coverage-based selection) and filtering before any strategy."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from refine.ensemble import DEFAULT_ENSEMBLE
from refine.seeding import child_rng, rng_seed_sequence
from refine.strategies.base import Strategy
from refine.strategies.registry import make_strategy, register_prefix, register_strategy


def _resolve(strategy: str | Strategy, params: dict | None) -> Strategy:
    """A registered name (built with ``params``) or a user's Strategy instance (cloned)."""
    if isinstance(strategy, Strategy):
        return clone(strategy)
    return make_strategy(strategy, **(params or {}))


class _FilteredBase(Strategy):
    """Shared machinery: filter the pool, then let a final strategy select from it."""

    manages_pool = True
    requires = frozenset({"probas", "features"})

    def _filter(self):
        from refine.filtering import ProgressiveFilter  # filtering imports the strategy package

        return ProgressiveFilter(
            strategies=tuple(self.strategies),
            rounds=self.rounds,
            draws_per_strategy=self.draws_per_strategy,
            sample_ratio=self.sample_ratio,
            first_subsample=self.first_subsample,
            max_pool=self.max_pool,
            variant=self.variant,
            strategy_params=self.strategy_params,
            n_jobs=self.n_jobs,
        )

    def _final(self) -> Strategy:
        raise NotImplementedError

    def _select(self, ctx, candidates, batch_size, rng):
        root = rng_seed_sequence(rng)
        pool, trace = self._filter().filter(ctx, candidates, batch_size, child_rng(root, "filter"))
        final = self._final()
        batch = final.select(ctx, pool, batch_size, child_rng(root, "final"))
        out = trace.to_dict()
        nominators = out.pop("nominators")
        out["final_strategy"] = final.name
        out["batch_nominators"] = {str(int(x)): nominators.get(str(int(x)), {}) for x in batch}
        self.trace_ = out
        return batch

    def filter_pool(self, ctx, candidates, batch_size, rng) -> tuple[np.ndarray, dict]:
        """Only the filtering stage: the refined pool and its trace (for inspection)."""
        pool, trace = self._filter().filter(ctx, np.asarray(candidates), batch_size, rng)
        return pool, trace.to_dict()


@register_strategy
class Refine(_FilteredBase):
    """Refine: progressive filtering by an ensemble, then coverage-based selection.

    Parameters
    ----------
    strategies : sequence of str
        The ensemble A (default: random, margin, badge, bait, typiclust, alfamix, dropquery,
        maxherding, uherding — the published code's nine).
    rounds, draws_per_strategy, sample_ratio, first_subsample, max_pool, variant, n_jobs
        Progressive filtering (see :class:`refine.filtering.ProgressiveFilter`); defaults are the
        published code's R = 5, m = 11, α = 0.4, 5000, 10 000, ``"published"``.
    final : str or Strategy
        Coverage strategy selecting the batch from the refined pool (``"uherding"``; any
        registered strategy or Strategy instance is allowed).
    final_params : dict, optional
        Parameters of the final strategy.
    strategy_params : dict, optional
        ``{name: {param: value}}`` for ensemble members.

    Attributes
    ----------
    trace_ : dict
        The last call's pool trace (pool sizes, contributions, overlaps, seconds, and for each
        selected instance the strategies that nominated it in each round).

    References
    ----------
    D. Huseljic, P. Herde, L. Rauch, P. Hahn, B. Sick. Cleaning the Pool: Progressive Filtering of
    Unlabeled Pools in Deep Active Learning. arXiv 2511.22344.
    """

    name = "refine"

    def __init__(
        self,
        strategies=DEFAULT_ENSEMBLE,
        rounds: int = 5,
        draws_per_strategy: int = 11,
        sample_ratio: float = 0.4,
        first_subsample: int = 5000,
        max_pool: int | None = 10000,
        variant: str = "published",
        final: str = "uherding",
        final_params: dict | None = None,
        strategy_params: dict | None = None,
        n_jobs: int = 1,
    ):
        self.strategies = strategies
        self.rounds = rounds
        self.draws_per_strategy = draws_per_strategy
        self.sample_ratio = sample_ratio
        self.first_subsample = first_subsample
        self.max_pool = max_pool
        self.variant = variant
        self.final = final
        self.final_params = final_params
        self.strategy_params = strategy_params
        self.n_jobs = n_jobs

    def _final(self) -> Strategy:
        return _resolve(self.final, self.final_params)


class Filtered(_FilteredBase):
    """Any strategy applied to the progressively filtered pool (``filtered:<strategy>``).

    The paper's "filtered pool + strategy X" (e.g. ``random+filter`` = ``filtered:random``):
    progressive filtering as a preprocessing step, then ``strategy`` selects the batch from P_R.

    Parameters
    ----------
    strategy : str or Strategy
        The registered strategy (or a Strategy instance) that selects from the refined pool.
    strategy_kwargs : dict, optional
        Its parameters.
    strategies, rounds, draws_per_strategy, sample_ratio, first_subsample, max_pool, variant,
    strategy_params, n_jobs
        As for :class:`Refine`.
    """

    name = "filtered"

    def __init__(
        self,
        strategy: str = "random",
        strategy_kwargs: dict | None = None,
        strategies=DEFAULT_ENSEMBLE,
        rounds: int = 5,
        draws_per_strategy: int = 11,
        sample_ratio: float = 0.4,
        first_subsample: int = 5000,
        max_pool: int | None = 10000,
        variant: str = "published",
        strategy_params: dict | None = None,
        n_jobs: int = 1,
    ):
        self.strategy = strategy
        self.strategy_kwargs = strategy_kwargs
        self.strategies = strategies
        self.rounds = rounds
        self.draws_per_strategy = draws_per_strategy
        self.sample_ratio = sample_ratio
        self.first_subsample = first_subsample
        self.max_pool = max_pool
        self.variant = variant
        self.strategy_params = strategy_params
        self.n_jobs = n_jobs

    def _final(self) -> Strategy:
        return _resolve(self.strategy, self.strategy_kwargs)


def _make_filtered(inner: str, **params) -> Filtered:
    return Filtered(strategy=inner, **params)


register_prefix("filtered", _make_filtered)
