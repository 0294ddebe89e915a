"""The one strategy contract every query strategy, filter and ensemble implements.

A strategy is a scikit-learn-style estimator: construction only stores parameters (so
``get_params``, ``set_params`` and :func:`sklearn.base.clone` work), and one call,
:meth:`Strategy.select`, returns the batch. :meth:`Strategy.select` validates its inputs and its
subclass's output, so each subclass implements only :meth:`Strategy._select` for the regular case
(more candidates than the batch size).

A subclass's ``_select`` returns a :class:`Selection` (the indices and a small JSON-able trace of
how they were chosen) or, when it has nothing to record, the indices alone.
:meth:`Strategy.select_with_trace` returns the record; :meth:`Strategy.select` the indices. Both
set :attr:`Strategy.trace_` to the record's trace, the same way for every strategy: early returns
(no more candidates than the batch) included, where the trace is ``{"all_candidates": True}`` plus
what the strategy's :meth:`Strategy._early_trace` adds.

Guarantees of :meth:`Strategy.select` (checked, not assumed):
- indices into the pool (rows of ``ctx.X``), unique, all among ``candidates`` and so disjoint from
  the labeled set;
- exactly ``batch_size`` of them, or all candidates with a :class:`SmallPoolWarning` when fewer
  candidates exist;
- deterministic given ``rng`` (strategies draw randomness only from ``rng`` and
  ``ctx.rng_for``).
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from refine.context import SelectionContext
from refine.errors import ConfigError, PoolExhaustedError, RefineError, check_positive_int

#: What a strategy may declare in :attr:`Strategy.requires`.
REQUIREMENTS = frozenset({"probas", "head", "labels", "features", "normalized_features"})


class SmallPoolWarning(UserWarning):
    """Fewer candidates than the batch size: all candidates are returned."""


class StrategyOutputError(RefineError):
    """A strategy returned indices that break the contract (a bug in that strategy)."""


@dataclass(frozen=True)
class Selection:
    """A strategy's batch and what it recorded about choosing it (the loop stores ``trace``)."""

    indices: np.ndarray
    trace: dict = field(default_factory=dict)


class Strategy(BaseEstimator):
    """Base class of all query strategies.

    Class attributes
    ----------------
    name : str
        Registry name (``refine run --strategy NAME``).
    requires : frozenset of str
        Model outputs the strategy reads (subset of :data:`REQUIREMENTS`), so callers can
        precompute them once per cycle: ``"probas"`` (``ctx.probas``/``ctx.logits``),
        ``"head"`` (``ctx.head``, ``ctx.fit_head``, ``ctx.trainer``), ``"labels"``
        (``ctx.labels``), ``"features"`` (``ctx.X``), ``"normalized_features"``. Composite
        strategies add their members' needs in :meth:`requirements`. A registry-wide test runs
        every strategy on a recording context and fails on any undeclared read.
    label_free : bool
        True when the strategy works with an empty labeled set (cold start).
    exact_batch : bool
        True (all real strategies): exactly ``batch_size`` indices. Synthetic strategies of the
        theory module set False to return batches of random size.
    manages_pool : bool
        True for strategies that subsample the pool themselves (Refine, filtered strategies): the
        AL loop then hands them the whole unlabeled pool instead of a random subsample.
    direct_rng : bool
        True when every random number of a selection is drawn from ``rng`` itself (``choice``,
        ``random``, ``integers``, ...), never from streams derived from its seed sequence
        (:func:`refine.seeding.rng_seed_sequence`). A selection that leaves such a generator's
        state untouched used no randomness, so its batch is a function of the context, the
        candidates and b; the progressive filter then reuses it for the other draws of the
        round that see the same candidates (:mod:`refine.strategies.filtering`).
    batched_draws : bool
        True when :meth:`select_draws` does better than one :meth:`select` per draw (TypiClust:
        the k-means++ seedings of a round's draws in one loop); the serial progressive filter
        then hands it all draws of the strategy in a round at once.
    """

    name: ClassVar[str] = ""
    requires: ClassVar[frozenset[str]] = frozenset()
    label_free: ClassVar[bool] = False
    exact_batch: ClassVar[bool] = True
    manages_pool: ClassVar[bool] = False
    direct_rng: ClassVar[bool] = False
    batched_draws: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        unknown = set(cls.requires) - REQUIREMENTS
        if unknown:
            raise TypeError(f"{cls.__name__}.requires has unknown entries {sorted(unknown)}")

    def check_params(self) -> None:
        """Raise :class:`ConfigError` for invalid parameter values, before any work is done.

        The AL loop calls it before writing anything, so a bad ``--param`` fails at once rather
        than after the initial pool was recorded. The default runs the strategy's data-free
        ``_validate_params()`` when it has one; composites check their members too.
        """
        # a strategy's own _validate_params, not scikit-learn's method of the same name
        owner = next(
            (c for c in type(self).__mro__ if "_validate_params" in vars(c)), BaseEstimator
        )
        if not issubclass(owner, Strategy):
            return
        validate = self._validate_params
        required = [
            p
            for p in inspect.signature(validate).parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if not required:
            validate()

    def requirements(self) -> frozenset[str]:
        """What this instance reads from the context: :attr:`requires` (composites add their
        members')."""
        return frozenset(self.requires)

    # ------------------------------------------------------------------ the one call
    def select(
        self,
        ctx: SelectionContext,
        candidates: np.ndarray,
        batch_size: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Choose ``batch_size`` instances among ``candidates``.

        Parameters
        ----------
        ctx : SelectionContext
            Pool features, labeled set, head and memoised model outputs of this cycle.
        candidates : ndarray of int
            Pool indices the strategy may choose from (unlabeled, unique).
        batch_size : int
            Number of instances to select (b).
        rng : numpy.random.Generator
            The only source of randomness of this call.

        Returns
        -------
        ndarray of int64
            Selected pool indices (see the module docstring for the guarantees).
        """
        return self.select_with_trace(ctx, candidates, batch_size, rng).indices

    def select_with_trace(
        self,
        ctx: SelectionContext,
        candidates: np.ndarray,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection:
        """:meth:`select`, returning the batch together with the strategy's trace of this call.

        Parameters and guarantees are those of :meth:`select`; :attr:`trace_` is set to the
        returned trace.
        """
        batch_size, candidates, early = self._checked_inputs(ctx, candidates, batch_size, rng)
        if early is not None:
            return self._record(early)
        out = self._select(ctx, candidates, batch_size, rng)
        return self._finished(out, candidates, batch_size)

    def select_draws(
        self,
        ctx: SelectionContext,
        subsets: list[np.ndarray],
        batch_size: int,
        rngs: list[np.random.Generator],
    ) -> list[np.ndarray]:
        """The batches of independent draws: ``[select(ctx, c, b, r) for c, r in ...]``.

        Strategies with :attr:`batched_draws` compute them together (same batches, same
        generator states afterwards); :attr:`trace_` is then the last draw's trace.
        """
        return [self.select(ctx, c, batch_size, r) for c, r in zip(subsets, rngs, strict=True)]

    def _finished(self, out, candidates: np.ndarray, batch_size: int) -> Selection:
        """The checked and recorded :class:`Selection` of what :meth:`_select` returned."""
        selection = out if isinstance(out, Selection) else Selection(out)
        chosen = np.asarray(selection.indices, dtype=np.int64).ravel()
        self._check_output(chosen, candidates, batch_size)
        return self._record(Selection(chosen, dict(selection.trace)))

    def _checked_inputs(
        self, ctx: SelectionContext, candidates, batch_size, rng
    ) -> tuple[int, np.ndarray, Selection | None]:
        """Validated (batch size, candidates) and, when no selection is needed, its result."""
        batch_size = check_positive_int("batch_size", batch_size)
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        candidates = np.asarray(candidates, dtype=np.int64).ravel()
        if candidates.size == 0:
            raise PoolExhaustedError(
                "no candidates left to select from (the unlabeled pool is empty)"
            )
        if candidates.min() < 0 or candidates.max() >= ctx.n_pool:
            raise ConfigError(f"candidates must be pool indices in [0, {ctx.n_pool})")
        if ctx.labeled_mask[candidates].any():
            raise ConfigError("candidates must not contain labeled instances")
        # strictly increasing (the loop's and the filter's sorted candidates) is unique: an O(n)
        # check instead of np.unique's sort, 0.3 s on a million candidates
        increasing = candidates.size < 2 or bool((candidates[1:] > candidates[:-1]).all())
        if not increasing and np.unique(candidates).size != candidates.size:
            raise ConfigError("candidates must be unique")
        if candidates.size <= batch_size:
            if candidates.size < batch_size:
                warnings.warn(
                    f"{self.name or type(self).__name__}: only {candidates.size} candidates for a "
                    f"batch of {batch_size}; returning all of them",
                    SmallPoolWarning,
                    stacklevel=4,
                )
            if self.exact_batch:
                trace = {"all_candidates": True, **self._early_trace(ctx, batch_size)}
                return batch_size, candidates, Selection(candidates.copy(), trace)
        return batch_size, candidates, None

    def _record(self, selection: Selection) -> Selection:
        self.trace_ = selection.trace
        return selection

    def _select(
        self,
        ctx: SelectionContext,
        candidates: np.ndarray,
        batch_size: int,
        rng: np.random.Generator,
    ) -> Selection | np.ndarray:
        """Select exactly ``batch_size`` of ``candidates`` (``len(candidates) > batch_size``).

        Returns a :class:`Selection` (indices and trace) or the indices alone (empty trace).
        """
        raise NotImplementedError

    def _early_trace(self, ctx: SelectionContext, batch_size: int) -> dict:
        """What the trace records when every candidate is returned without calling ``_select``.

        Strategies that keep per-call state reset it here too (TAILOR's pending picks).
        """
        return {}

    def _check_output(self, chosen: np.ndarray, candidates: np.ndarray, batch_size: int) -> None:
        who = self.name or type(self).__name__
        # O(b log n) on the sorted batch; the loop's and the filter's candidates are strictly
        # increasing, so membership is a binary search (np.isin sorts the candidates: it was
        # 5 % of a filtered digits trial, ~9000 calls on pools of ~1800)
        picked = np.sort(chosen)
        if picked.size > 1 and bool((picked[1:] == picked[:-1]).any()):
            raise StrategyOutputError(f"{who} returned duplicate indices")
        if candidates.size > 1 and not bool((candidates[1:] > candidates[:-1]).all()):
            inside = bool(np.isin(picked, candidates).all())
        else:
            pos = np.searchsorted(candidates, picked)
            inside = bool((pos < candidates.size).all()) and bool(
                (candidates[np.minimum(pos, candidates.size - 1)] == picked).all()
            )
        if not inside:
            raise StrategyOutputError(f"{who} returned indices outside the candidates")
        if self.exact_batch and chosen.size != min(batch_size, candidates.size):
            raise StrategyOutputError(
                f"{who} returned {chosen.size} indices for a batch of {batch_size}"
            )

    # ------------------------------------------------------------------ optional hooks
    def rank(
        self,
        ctx: SelectionContext,
        candidates: np.ndarray,
        n: int,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """An ordered list of up to ``n`` proposals, best first (TAILOR's ranked-proposer arms).

        The default is the batch of :meth:`select` in the order the strategy produced it; greedy
        strategies produce their picks in greedy order, which is their natural ranking.
        """
        return self.select(ctx, candidates, min(n, np.asarray(candidates).size), rng)

    def observe(self, indices: np.ndarray, labels: np.ndarray, ctx: SelectionContext) -> None:
        """Called by the loop after the labels of a selected batch are revealed (default: no-op)."""

    def state_dict(self) -> dict:
        """JSON-serialisable state carried across cycles (empty for stateless strategies)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore the state saved by :meth:`state_dict` (resume after a kill)."""
        if state:
            raise ConfigError(f"{type(self).__name__} is stateless but got state {sorted(state)}")
